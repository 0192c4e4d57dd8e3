/*
 * cm_test_expand.c - persistentvolume-expander: a local-path volume is
 * expanded step by step to the claim's new request (resizer annotation,
 * Resizing condition, volume capacity, claim capacity with
 * VolumeResizeSuccessful); other volumes wait for an external resizer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "controller_utils.h"
#include "controllers/persistentvolume.h"
#include "controllers/volume_util.h"
#include "kube/json.h"

#define NOW 1700000000

static json_t *claim(const char *req, const char *cap)
{
  return json_pack("{s:{s:s,s:s,s:s},s:{s:s,s:{s:{s:s}}},s:{s:s,s:{s:s}}}", "metadata", "name", "data", "namespace",
                   "ns", "uid", "c-uid", "spec", "volumeName", "pvc-c-uid", "resources", "requests", "storage", req,
                   "status", "phase", "Bound", "capacity", "storage", cap);
}

static json_t *volume(const char *cap, bool local_path)
{
  json_t *v = json_pack("{s:{s:s},s:{s:{s:s},s:{s:s,s:s,s:s}}}", "metadata", "name", "pvc-c-uid", "spec", "capacity",
                        "storage", cap, "claimRef", "namespace", "ns", "name", "data", "uid", "c-uid");
  if (local_path) kj_set_str(v, "metadata.annotations[\"" ANN_DYNAMICALLY_PROVISIONED "\"]", LOCAL_PATH_PROVISIONER);
  return v;
}

/* Applies the one write of a step to pvc / pv; returns the action count. */
static size_t step(json_t **pvc, json_t **pv, struct cm_actions *acts)
{
  expand_compute(*pvc, *pv, NOW, acts);
  size_t n = acts->n;
  for (size_t i = 0; i < acts->n; i++) {
    struct cm_action *a = &acts->v[i];
    if (a->verb != CM_PUT) continue;
    if (!strcmp(a->path, "/api/v1/persistentvolumes/pvc-c-uid")) {
      json_decref(*pv);
      *pv = json_incref(a->body);
    } else if (!strcmp(a->path, "/api/v1/namespaces/ns/persistentvolumeclaims/data/status")) {
      json_object_set(*pvc, "status", json_object_get(a->body, "status"));
    } else if (!strcmp(a->path, "/api/v1/namespaces/ns/persistentvolumeclaims/data")) {
      json_object_set(*pvc, "metadata", json_object_get(a->body, "metadata"));
    } else {
      fail_msg("unexpected %s", a->path);
    }
  }
  return n;
}

static void test_local_path_expansion(void **state)
{
  json_t *pvc = claim("3Gi", "1Gi"), *pv = volume("1Gi", true);
  struct cm_actions acts;
  cm_actions_init(&acts);
  assert_true(expand_needed(pvc));
  assert_int_equal(step(&pvc, &pv, &acts), 1);
  assert_string_equal(vol_annotation(pvc, ANN_STORAGE_RESIZER), LOCAL_PATH_PROVISIONER);
  cm_actions_clear(&acts);
  assert_int_equal(step(&pvc, &pv, &acts), 1);
  json_t *cond = cm_get_condition(pvc, "status.conditions", "Resizing");
  assert_non_null(cond);
  assert_string_equal(kj_get_str(cond, "status"), "True");
  cm_actions_clear(&acts);
  assert_int_equal(step(&pvc, &pv, &acts), 1);
  assert_string_equal(kj_get_str(pv, "spec.capacity.storage"), "3Gi");
  assert_string_equal(kj_get_str(pvc, "status.capacity.storage"), "1Gi"); /* not yet */
  cm_actions_clear(&acts);
  assert_int_equal(step(&pvc, &pv, &acts), 1);
  struct cm_action *a = cm_actions_find(&acts, CM_PUT, "/api/v1/namespaces/ns/persistentvolumeclaims/data/status");
  assert_string_equal(a->ok_reason, "VolumeResizeSuccessful");
  assert_string_equal(a->ok_message, "ExpandVolume succeeded for volume ns/data");
  cm_actions_clear(&acts);
  assert_string_equal(kj_get_str(pvc, "status.capacity.storage"), "3Gi");
  assert_null(kj_get(pvc, "status.conditions"));
  assert_false(expand_needed(pvc));
  assert_int_equal(step(&pvc, &pv, &acts), 0);
  json_decref(pvc);
  json_decref(pv);
}

static void test_other_volumes(void **state)
{
  struct cm_actions acts;
  cm_actions_init(&acts);
  json_t *pvc = claim("3Gi", "1Gi"), *pv = volume("1Gi", false);
  expand_compute(pvc, pv, NOW, &acts);
  assert_int_equal(acts.n, 1);
  assert_int_equal(acts.v[0].verb, CM_EVENT);
  assert_string_equal(acts.v[0].ok_reason, "ExternalExpanding");
  assert_string_equal(acts.v[0].ok_message, "waiting for an external controller to expand this PVC");
  cm_actions_clear(&acts);
  /* Not bound to this claim: nothing. */
  kj_set_str(pv, "spec.claimRef.uid", "someone-else");
  expand_compute(pvc, pv, NOW, &acts);
  assert_int_equal(acts.n, 0);
  /* Not grown: nothing. */
  json_decref(pvc);
  pvc = claim("1Gi", "1Gi");
  assert_false(expand_needed(pvc));
  json_decref(pvc);
  json_decref(pv);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_local_path_expansion),
      cmocka_unit_test(test_other_volumes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
