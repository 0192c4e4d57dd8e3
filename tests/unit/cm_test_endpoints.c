/*
 * cm_test_endpoints.c - the endpoints and serviceaccount controllers'
 * decisions: ready / not-ready split, named and numeric port resolution,
 * subsets grouped by port set, terminating and terminal pods,
 * publishNotReadyAddresses, no write when nothing changed; the default
 * ServiceAccount only in active namespaces.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controllers/core_logic.h"
#include "kube/json.h"

static json_t *J(const char *s)
{
  json_error_t e;
  json_t *v = json_loads(s, 0, &e);
  if (!v) fail_msg("bad fixture json: %s: %s", e.text, s);
  return v;
}

static json_t *mkpod(const char *name, const char *ip, bool ready, const char *extra_status)
{
  char buf[2048];
  snprintf(
      buf, sizeof buf,
      "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"ns\",\"uid\":\"u-%s\",\"labels\":{\"app\":\"web\"}},"
      "\"spec\":{\"nodeName\":\"n1\",\"containers\":[{\"name\":\"c\",\"ports\":[{\"name\":\"http\","
      "\"containerPort\":8080}]}]},"
      "\"status\":{\"phase\":\"Running\",\"podIP\":\"%s\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"%s\"}]%s}}",
      name, name, ip, ready ? "True" : "False", extra_status ? extra_status : "");
  return J(buf);
}

static const char *SVC =
    "{\"metadata\":{\"name\":\"web\",\"namespace\":\"ns\"},\"spec\":{\"selector\":{\"app\":\"web\"},"
    "\"ports\":[{\"name\":\"http\",\"port\":80,\"targetPort\":\"http\"},{\"name\":\"raw\",\"port\":81,\"targetPort\":"
    "9090}]}}";

static void test_ready_split_and_named_ports(void **state)
{
  json_t *svc = J(SVC);
  json_t *pods = json_array();
  json_array_append_new(pods, mkpod("b", "10.0.0.2", true, NULL));
  json_array_append_new(pods, mkpod("a", "10.0.0.1", true, NULL));
  json_array_append_new(pods, mkpod("c", "10.0.0.3", false, NULL));
  json_t *other = mkpod("x", "10.0.0.9", true, NULL);
  json_object_set_new(kj_get(other, "metadata"), "namespace", json_string("elsewhere"));
  json_array_append_new(pods, other);
  json_t *noip = mkpod("d", "", true, NULL);
  json_array_append_new(pods, noip);

  json_t *ss = endpoints_compute_subsets(svc, pods);
  assert_int_equal(json_array_size(ss), 1);
  json_t *s0 = json_array_get(ss, 0);
  assert_int_equal(json_array_size(kj_get(s0, "addresses")), 2);
  assert_string_equal(kj_get_str(s0, "addresses[0].ip"), "10.0.0.1"); /* sorted by IP */
  assert_string_equal(kj_get_str(s0, "addresses[0].targetRef.name"), "a");
  assert_string_equal(kj_get_str(s0, "addresses[0].nodeName"), "n1");
  assert_int_equal(json_array_size(kj_get(s0, "notReadyAddresses")), 1);
  assert_string_equal(kj_get_str(s0, "notReadyAddresses[0].ip"), "10.0.0.3");
  /* named targetPort resolved to the container port, numeric taken as is */
  json_t *ports = kj_get(s0, "ports");
  assert_int_equal(json_array_size(ports), 2);
  int seen = 0;
  for (size_t i = 0; i < 2; i++) {
    json_t *p = json_array_get(ports, i);
    if (!strcmp(kj_get_str(p, "name"), "http")) assert_int_equal(kj_get_int(p, "port", 0), 8080), seen++;
    if (!strcmp(kj_get_str(p, "name"), "raw")) assert_int_equal(kj_get_int(p, "port", 0), 9090), seen++;
    assert_string_equal(kj_get_str(p, "protocol"), "TCP");
  }
  assert_int_equal(seen, 2);
  json_decref(ss);
  json_decref(pods);
  json_decref(svc);
}

static void test_port_sets_group_subsets(void **state)
{
  /* A pod without the named port only gets the numeric port: two subsets. */
  json_t *svc = J(SVC);
  json_t *pods = json_array();
  json_array_append_new(pods, mkpod("a", "10.0.0.1", true, NULL));
  json_t *p2 = mkpod("b", "10.0.0.2", true, NULL);
  kj_set_str(p2, "spec.containers[0].ports[0].name", "other");
  json_array_append_new(pods, p2);
  json_t *ss = endpoints_compute_subsets(svc, pods);
  assert_int_equal(json_array_size(ss), 2);
  size_t total = 0;
  for (size_t i = 0; i < 2; i++) {
    json_t *s = json_array_get(ss, i);
    total += json_array_size(kj_get(s, "addresses"));
    if (!strcmp(kj_get_str(s, "addresses[0].ip"), "10.0.0.2")) {
      assert_int_equal(json_array_size(kj_get(s, "ports")), 1);
      assert_int_equal(kj_get_int(s, "ports[0].port", 0), 9090);
    }
  }
  assert_int_equal(total, 2);
  json_decref(ss);
  json_decref(pods);
  json_decref(svc);
}

static void test_terminating_and_publish_not_ready(void **state)
{
  json_t *svc = J(SVC);
  json_t *pods = json_array();
  json_t *t = mkpod("t", "10.0.0.5", true, NULL);
  kj_set_str(t, "metadata.deletionTimestamp", "2024-01-01T00:00:00Z");
  json_array_append_new(pods, t);
  json_t *done = mkpod("f", "10.0.0.6", false, NULL);
  kj_set_str(done, "status.phase", "Succeeded");
  json_array_append_new(pods, done);
  json_array_append_new(pods, mkpod("n", "10.0.0.7", false, NULL));

  json_t *ss = endpoints_compute_subsets(svc, pods);
  assert_int_equal(json_array_size(ss), 1);
  assert_null(kj_get(json_array_get(ss, 0), "addresses"));
  assert_int_equal(json_array_size(kj_get(json_array_get(ss, 0), "notReadyAddresses")), 1);
  json_decref(ss);

  /* publishNotReadyAddresses: terminating and not-ready pods are ready addresses. */
  kj_set(svc, "spec.publishNotReadyAddresses", json_true());
  ss = endpoints_compute_subsets(svc, pods);
  assert_int_equal(json_array_size(ss), 1);
  assert_int_equal(json_array_size(kj_get(json_array_get(ss, 0), "addresses")), 2);
  assert_null(kj_get(json_array_get(ss, 0), "notReadyAddresses"));
  json_decref(ss);
  json_decref(pods);
  json_decref(svc);
}

static void test_desired_only_on_change_and_headless(void **state)
{
  json_t *svc = J("{\"metadata\":{\"name\":\"h\",\"namespace\":\"ns\",\"labels\":{\"x\":\"y\"}},"
                  "\"spec\":{\"clusterIP\":\"None\",\"selector\":{\"app\":\"web\"}}}");
  json_t *pods = json_array();
  json_array_append_new(pods, mkpod("a", "10.0.0.1", true, NULL));
  json_t *ep = endpoints_desired(svc, pods, NULL);
  assert_non_null(ep);
  assert_string_equal(kj_get_str(ep, "metadata.name"), "h");
  assert_string_equal(kj_get_str(ep, "metadata.labels.x"), "y");
  assert_non_null(kj_get(ep, "metadata.labels[\"service.kubernetes.io/headless\"]"));
  /* headless without ports: an address-only subset */
  assert_int_equal(json_array_size(kj_get(ep, "subsets[0].addresses")), 1);
  assert_null(kj_get(ep, "subsets[0].ports"));
  json_t *again = endpoints_desired(svc, pods, ep);
  assert_null(again);
  /* pod becomes not ready: a write is needed */
  kj_set_str(json_array_get(pods, 0), "status.conditions[0].status", "False");
  again = endpoints_desired(svc, pods, ep);
  assert_non_null(again);
  assert_int_equal(json_array_size(kj_get(again, "subsets[0].notReadyAddresses")), 1);
  json_decref(again);
  json_decref(ep);
  json_decref(pods);
  json_decref(svc);
}

static void test_selectorless_service_has_no_subsets(void **state)
{
  json_t *svc = J("{\"metadata\":{\"name\":\"m\",\"namespace\":\"ns\"},\"spec\":{\"ports\":[{\"port\":80}]}}");
  json_t *pods = json_array();
  json_array_append_new(pods, mkpod("a", "10.0.0.1", true, NULL));
  json_t *ss = endpoints_compute_subsets(svc, pods);
  assert_int_equal(json_array_size(ss), 0);
  json_decref(ss);
  json_decref(pods);
  json_decref(svc);
}

static void test_serviceaccount_default(void **state)
{
  json_t *active = J("{\"metadata\":{\"name\":\"a\"},\"status\":{\"phase\":\"Active\"}}");
  json_t *term = J("{\"metadata\":{\"name\":\"t\",\"deletionTimestamp\":\"2024-01-01T00:00:00Z\"},"
                   "\"status\":{\"phase\":\"Terminating\"}}");
  json_t *sa = J("{\"metadata\":{\"name\":\"default\",\"namespace\":\"a\"}}");
  assert_true(serviceaccount_needs_default(active, NULL));
  assert_false(serviceaccount_needs_default(active, sa));
  assert_false(serviceaccount_needs_default(term, NULL));
  assert_false(serviceaccount_needs_default(NULL, NULL));
  json_decref(active);
  json_decref(term);
  json_decref(sa);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ready_split_and_named_ports),
      cmocka_unit_test(test_port_sets_group_subsets),
      cmocka_unit_test(test_terminating_and_publish_not_ready),
      cmocka_unit_test(test_desired_only_on_change_and_headless),
      cmocka_unit_test(test_selectorless_service_has_no_subsets),
      cmocka_unit_test(test_serviceaccount_default),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
