/*
 * cm_test_ephemeral.c - the ephemeral-volume controller: one claim per
 * generic ephemeral volume, named POD-VOLUME, owned by the pod, made from
 * the template; a foreign claim of that name is reported, never adopted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "controller_utils.h"
#include "controllers/volume_protection.h"
#include "kube/json.h"

static json_t *pod(void)
{
  return json_pack("{s:{s:s,s:s,s:s},s:{s:[{s:s,s:{s:{s:{s:{s:s}},s:{s:[s],s:s,s:{s:{s:s}}}}}},{s:s,s:{}}]}}",
                   "metadata", "name", "web", "namespace", "ns", "uid", "pod-uid", "spec", "volumes", "name", "scratch",
                   "ephemeral", "volumeClaimTemplate", "metadata", "labels", "tier", "cache", "spec", "accessModes",
                   "ReadWriteOnce", "storageClassName", "local-path", "resources", "requests", "storage", "1Gi", "name",
                   "tmp", "emptyDir");
}

static void test_creates_owned_claim(void **state)
{
  json_t *p = pod();
  json_t *claims = json_array();
  struct cm_actions acts;
  cm_actions_init(&acts);
  assert_int_equal(ephemeral_compute(p, claims, &acts), 0);
  assert_int_equal(cm_actions_count(&acts, CM_POST, NULL), 1);
  struct cm_action *a = cm_actions_find(&acts, CM_POST, "/api/v1/namespaces/ns/persistentvolumeclaims");
  assert_non_null(a);
  json_t *c = a->body;
  assert_string_equal(kj_get_str(c, "metadata.name"), "web-scratch");
  assert_string_equal(kj_get_str(c, "metadata.namespace"), "ns");
  assert_string_equal(kj_get_str(c, "metadata.labels.tier"), "cache");
  assert_string_equal(kj_get_str(c, "spec.storageClassName"), "local-path");
  assert_string_equal(kj_get_str(c, "spec.resources.requests.storage"), "1Gi");
  assert_string_equal(kj_get_str(c, "metadata.ownerReferences[0].kind"), "Pod");
  assert_string_equal(kj_get_str(c, "metadata.ownerReferences[0].uid"), "pod-uid");
  assert_true(kj_get_bool(c, "metadata.ownerReferences[0].controller", false));
  assert_true(kj_get_bool(c, "metadata.ownerReferences[0].blockOwnerDeletion", false));
  assert_string_equal(a->fail_reason, "FailedBinding");
  json_t *owned = kj_deep_copy(c);
  cm_actions_clear(&acts);

  /* Created already: nothing more. */
  json_array_append_new(claims, json_pack("{s:{s:s,s:s,s:O}}", "metadata", "name", "web-scratch", "namespace", "ns",
                                          "ownerReferences", kj_get(owned, "metadata.ownerReferences")));
  json_decref(owned);
  assert_int_equal(ephemeral_compute(p, claims, &acts), 0);
  assert_int_equal(acts.n, 0);

  /* A pod being deleted is left alone. */
  json_array_clear(claims);
  kj_set_str(p, "metadata.deletionTimestamp", "2024-01-01T00:00:00Z");
  assert_int_equal(ephemeral_compute(p, claims, &acts), 0);
  assert_int_equal(acts.n, 0);
  json_decref(claims);
  json_decref(p);
}

static void test_foreign_claim(void **state)
{
  json_t *p = pod();
  json_t *claims = json_pack("[{s:{s:s,s:s}}]", "metadata", "name", "web-scratch", "namespace", "ns");
  struct cm_actions acts;
  cm_actions_init(&acts);
  assert_int_equal(ephemeral_compute(p, claims, &acts), 1);
  assert_int_equal(cm_actions_count(&acts, CM_POST, NULL), 0);
  struct cm_action *e = cm_actions_find(&acts, CM_EVENT, NULL);
  assert_non_null(e);
  assert_string_equal(e->ok_reason, "FailedBinding");
  assert_string_equal(e->ok_type, "Warning");
  assert_string_equal(e->ok_message,
                      "ephemeral volume scratch: PVC ns/web-scratch was not created for pod ns/web (pod is not owner)");
  cm_actions_clear(&acts);
  json_decref(claims);
  json_decref(p);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_creates_owned_claim),
      cmocka_unit_test(test_foreign_claim),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
