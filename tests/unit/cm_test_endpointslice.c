/*
 * cm_test_endpointslice.c - the endpointslice controller's reconcile:
 * slices of at most 100 endpoints (250 pods -> 3 slices), labels, owner
 * and generateName, conditions of terminating pods, zones from nodes, a
 * second pass over the written slices is a no-op, removed pods only
 * rewrite their slice, and a port change replaces the slices.
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
#include "cm_test_util.h"
#include "kube/json.h"

static json_t *reconcile(const json_t *svc, const json_t *pods, const json_t *nodes, const json_t *slices)
{
  struct cm_actions a;
  cm_actions_init(&a);
  endpointslice_reconcile(svc, pods, nodes, slices, 100, &a);
  return cm_actions_json(&a);
}

static json_t *J(const char *s)
{
  json_error_t e;
  json_t *v = json_loads(s, 0, &e);
  if (!v) fail_msg("bad fixture json: %s: %s", e.text, s);
  return v;
}

static json_t *mkpod(int i, bool ready)
{
  char buf[1024];
  snprintf(buf, sizeof buf,
           "{\"metadata\":{\"name\":\"p%03d\",\"namespace\":\"ns\",\"uid\":\"uid-%03d\",\"labels\":{\"app\":\"web\"}},"
           "\"spec\":{\"nodeName\":\"n%d\",\"containers\":[{\"name\":\"c\",\"ports\":[{\"name\":\"http\","
           "\"containerPort\":8080}]}]},"
           "\"status\":{\"phase\":\"Running\",\"podIP\":\"10.1.%d.%d\",\"conditions\":[{\"type\":\"Ready\",\"status\":"
           "\"%s\"}]}}",
           i, i, i % 2, i / 200, i % 200 + 1, ready ? "True" : "False");
  return J(buf);
}

static const char *SVC = "{\"metadata\":{\"name\":\"web\",\"namespace\":\"ns\",\"uid\":\"svc-uid\"},"
                         "\"spec\":{\"selector\":{\"app\":\"web\"},\"ports\":[{\"name\":\"http\",\"port\":80,"
                         "\"targetPort\":\"http\",\"protocol\":\"TCP\"}]}}";

static json_t *nodes(void)
{
  return J("[{\"metadata\":{\"name\":\"n0\",\"labels\":{\"topology.kubernetes.io/zone\":\"z0\"}}},"
           "{\"metadata\":{\"name\":\"n1\"}}]");
}

/* Turns POST actions into stored slices with names, as the server would. */
static void apply(json_t *slices, const json_t *acts)
{
  static int seq;
  size_t i;
  json_t *a;
  json_array_foreach (acts, i, a) {
    const char *verb = kj_get_str(a, "verb");
    if (!strcmp(verb, "POST")) {
      json_t *s = json_deep_copy(kj_get(a, "body"));
      char name[64];
      snprintf(name, sizeof name, "web-s%d", seq++);
      kj_set_str(s, "metadata.name", name);
      json_array_append_new(slices, s);
    } else {
      const char *path = kj_get_str(a, "path");
      const char *name = strrchr(path, '/') + 1;
      for (size_t j = 0; j < json_array_size(slices); j++) {
        if (strcmp(kj_get_str(json_array_get(slices, j), "metadata.name"), name)) continue;
        if (!strcmp(verb, "DELETE")) json_array_remove(slices, j);
        else json_array_set(slices, j, kj_get(a, "body"));
        break;
      }
    }
  }
}

static size_t count(const json_t *acts, const char *verb)
{
  size_t n = 0, i;
  json_t *a;
  json_array_foreach (acts, i, a) n += !strcmp(kj_get_str(a, "verb"), verb);
  return n;
}

static void test_250_pods_three_slices(void **state)
{
  json_t *svc = J(SVC), *pods = json_array(), *nd = nodes(), *slices = json_array();
  for (int i = 0; i < 250; i++) json_array_append_new(pods, mkpod(i, i % 10 != 0));
  json_t *acts = reconcile(svc, pods, nd, slices);
  assert_int_equal(json_array_size(acts), 3);
  assert_int_equal(count(acts, "POST"), 3);
  size_t total = 0;
  for (size_t i = 0; i < 3; i++) {
    json_t *s = kj_get(json_array_get(acts, i), "body");
    size_t n = json_array_size(kj_get(s, "endpoints"));
    assert_true(n <= 100);
    total += n;
    assert_string_equal(kj_get_str(s, "metadata.generateName"), "web-");
    assert_string_equal(kj_get_str(s, "metadata.labels[\"kubernetes.io/service-name\"]"), "web");
    assert_string_equal(kj_get_str(s, "metadata.labels[\"endpointslice.kubernetes.io/managed-by\"]"),
                        "endpointslice-controller.k8s.io");
    assert_string_equal(kj_get_str(s, "metadata.ownerReferences[0].uid"), "svc-uid");
    assert_string_equal(kj_get_str(s, "metadata.ownerReferences[0].kind"), "Service");
    assert_string_equal(kj_get_str(s, "addressType"), "IPv4");
    assert_int_equal(kj_get_int(s, "ports[0].port", 0), 8080);
    assert_string_equal(kj_get_str(s, "ports[0].name"), "http");
  }
  assert_int_equal(total, 250);
  json_t *first = kj_get(json_array_get(acts, 0), "body");
  json_t *e0 = kj_get(first, "endpoints[0]"); /* p000: not ready, node n0 in zone z0 */
  assert_string_equal(kj_get_str(e0, "targetRef.name"), "p000");
  assert_false(kj_get_bool(e0, "conditions.ready", true));
  assert_string_equal(kj_get_str(e0, "zone"), "z0");
  assert_null(kj_get(kj_get(first, "endpoints[1]"), "zone"));
  assert_true(kj_get_bool(kj_get(first, "endpoints[1]"), "conditions.ready", false));

  /* Second pass over what was written: nothing to do. */
  apply(slices, acts);
  json_decref(acts);
  acts = reconcile(svc, pods, nd, slices);
  assert_int_equal(json_array_size(acts), 0);
  json_decref(acts);

  /* Two pods of the first slice gone: only that slice is rewritten. */
  json_array_remove(pods, 5);
  json_array_remove(pods, 5);
  acts = reconcile(svc, pods, nd, slices);
  assert_int_equal(json_array_size(acts), 1);
  assert_string_equal(kj_get_str(json_array_get(acts, 0), "verb"), "PUT");
  assert_int_equal(json_array_size(kj_get(json_array_get(acts, 0), "body.endpoints")), 98);
  apply(slices, acts);
  json_decref(acts);

  /* Three new pods fill the free room first, then none is created. */
  for (int i = 300; i < 303; i++) json_array_append_new(pods, mkpod(i, true));
  acts = reconcile(svc, pods, nd, slices);
  assert_int_equal(count(acts, "POST"), 0);
  assert_true(count(acts, "PUT") >= 1);
  apply(slices, acts);
  json_decref(acts);
  total = 0;
  for (size_t i = 0; i < json_array_size(slices); i++) {
    size_t n = json_array_size(kj_get(json_array_get(slices, i), "endpoints"));
    assert_true(n <= 100);
    total += n;
  }
  assert_int_equal(total, 251);

  /* Target port renamed away: every slice replaced by one without ports. */
  kj_set_str(svc, "spec.ports[0].targetPort", "nope");
  acts = reconcile(svc, pods, nd, slices);
  assert_int_equal(count(acts, "DELETE"), 3);
  assert_int_equal(count(acts, "POST"), 3);
  json_decref(acts);
  json_decref(svc);
  json_decref(pods);
  json_decref(nd);
  json_decref(slices);
}

static void test_terminating_pod_conditions(void **state)
{
  json_t *svc = J(SVC), *pods = json_array(), *nd = nodes(), *slices = json_array();
  json_t *p = mkpod(1, true);
  kj_set_str(p, "metadata.deletionTimestamp", "2024-01-01T00:00:00Z");
  json_array_append_new(pods, p);
  json_t *other = mkpod(2, true);
  kj_set_str(other, "metadata.labels.app", "db");
  json_array_append_new(pods, other);
  json_t *acts = reconcile(svc, pods, nd, slices);
  assert_int_equal(json_array_size(acts), 1);
  json_t *e = kj_get(json_array_get(acts, 0), "body.endpoints[0]");
  assert_int_equal(json_array_size(kj_get(json_array_get(acts, 0), "body.endpoints")), 1);
  assert_false(kj_get_bool(e, "conditions.ready", true));
  assert_true(kj_get_bool(e, "conditions.serving", false));
  assert_true(kj_get_bool(e, "conditions.terminating", false));
  assert_string_equal(kj_get_str(e, "nodeName"), "n1");
  json_decref(acts);
  json_decref(svc);
  json_decref(pods);
  json_decref(nd);
  json_decref(slices);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_250_pods_three_slices),
      cmocka_unit_test(test_terminating_pod_conditions),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
