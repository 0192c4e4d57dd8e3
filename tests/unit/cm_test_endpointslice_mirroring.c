/*
 * cm_test_endpointslice_mirroring.c - mirroring of user-managed Endpoints
 * of selector-less services: one slice per subset with ready and
 * not-ready endpoints, no rewrite when in step, deletion when the service
 * gains a selector or the Endpoints ask to be skipped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "controllers/core_logic.h"
#include "cm_test_util.h"
#include "kube/json.h"

static json_t *mirror(const char *ns, const char *name, const json_t *svc, const json_t *ep, const json_t *slices)
{
  struct cm_actions a;
  cm_actions_init(&a);
  endpointslice_mirror_reconcile(ns, name, svc, ep, slices, &a);
  return cm_actions_json(&a);
}

static json_t *J(const char *s)
{
  json_error_t e;
  json_t *v = json_loads(s, 0, &e);
  if (!v) fail_msg("bad fixture json: %s: %s", e.text, s);
  return v;
}

static void test_mirror(void **state)
{
  json_t *svc =
      J("{\"metadata\":{\"name\":\"ext\",\"namespace\":\"ns\",\"uid\":\"s\"},\"spec\":{\"ports\":[{\"port\":80}]}}");
  json_t *ep =
      J("{\"metadata\":{\"name\":\"ext\",\"namespace\":\"ns\",\"uid\":\"e\",\"labels\":{\"team\":\"a\"}},"
        "\"subsets\":[{\"addresses\":[{\"ip\":\"192.0.2.10\"}],\"notReadyAddresses\":[{\"ip\":\"192.0.2.11\"}],"
        "\"ports\":[{\"name\":\"http\",\"port\":8080,\"protocol\":\"TCP\"}]},"
        "{\"addresses\":[{\"ip\":\"192.0.2.20\"}],\"ports\":[{\"port\":9090}]}]}");
  json_t *slices = json_array();
  json_t *acts = mirror("ns", "ext", svc, ep, slices);
  assert_int_equal(json_array_size(acts), 2);
  json_t *s0 = kj_get(json_array_get(acts, 0), "body");
  assert_string_equal(kj_get_str(acts, "[0].verb"), "POST");
  assert_string_equal(kj_get_str(s0, "metadata.labels[\"endpointslice.kubernetes.io/managed-by\"]"),
                      "endpointslicemirroring-controller.k8s.io");
  assert_string_equal(kj_get_str(s0, "metadata.labels[\"kubernetes.io/service-name\"]"), "ext");
  assert_string_equal(kj_get_str(s0, "metadata.labels.team"), "a");
  assert_int_equal(json_array_size(kj_get(s0, "endpoints")), 2);
  assert_true(kj_get_bool(s0, "endpoints[0].conditions.ready", false));
  assert_false(kj_get_bool(s0, "endpoints[1].conditions.ready", true));
  assert_int_equal(kj_get_int(s0, "ports[0].port", 0), 8080);
  assert_string_equal(kj_get_str(s0, "metadata.ownerReferences[0].kind"), "Endpoints");
  /* written slices are in step */
  for (size_t i = 0; i < 2; i++) {
    json_t *s = json_deep_copy(kj_get(json_array_get(acts, i), "body"));
    char name[32];
    snprintf(name, sizeof name, "ext-%zu", i);
    kj_set_str(s, "metadata.name", name);
    json_array_append_new(slices, s);
  }
  json_decref(acts);
  acts = mirror("ns", "ext", svc, ep, slices);
  assert_int_equal(json_array_size(acts), 0);
  json_decref(acts);
  /* one subset fewer: the second slice goes */
  json_array_remove(kj_get(ep, "subsets"), 1);
  acts = mirror("ns", "ext", svc, ep, slices);
  assert_int_equal(json_array_size(acts), 1);
  assert_string_equal(kj_get_str(acts, "[0].verb"), "DELETE");
  json_decref(acts);
  /* skip-mirror: everything goes */
  kj_set_str(ep, "metadata.labels[\"endpointslice.kubernetes.io/skip-mirror\"]", "true");
  acts = mirror("ns", "ext", svc, ep, slices);
  assert_int_equal(json_array_size(acts), 2);
  json_decref(acts);
  /* a selector: not ours either */
  kj_del(ep, "metadata.labels[\"endpointslice.kubernetes.io/skip-mirror\"]");
  kj_set(svc, "spec.selector", J("{\"app\":\"x\"}"));
  acts = mirror("ns", "ext", svc, ep, slices);
  assert_int_equal(json_array_size(acts), 2);
  assert_string_equal(kj_get_str(acts, "[1].verb"), "DELETE");
  json_decref(acts);
  /* the Service is gone: its mirrored slices go */
  kj_del(svc, "spec.selector");
  acts = mirror("ns", "ext", NULL, ep, slices);
  assert_int_equal(json_array_size(acts), 2);
  assert_string_equal(kj_get_str(acts, "[0].verb"), "DELETE");
  json_decref(acts);
  json_decref(svc);
  json_decref(ep);
  json_decref(slices);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mirror),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
