/*
 * cm_test_volume_protection.c - pvc-protection and pv-protection: which
 * pods keep a claim, when the finalizers are added and removed, and that
 * a claim the cache sees unused is released only after a live list.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "controller_utils.h"
#include "controllers/volume_protection.h"
#include "controllers/volume_util.h"
#include "kube/json.h"

static json_t *pvc(const char *name, bool deleting, bool finalizer)
{
  json_t *c = json_pack("{s:{s:s,s:s,s:s,s:[s]}}", "metadata", "name", name, "namespace", "ns", "resourceVersion", "7",
                        "finalizers", "example.com/keep");
  if (finalizer) json_array_append_new(kj_get(c, "metadata.finalizers"), json_string(PVC_PROTECTION_FINALIZER));
  if (deleting) kj_set_str(c, "metadata.deletionTimestamp", "2024-01-01T00:00:00Z");
  return c;
}

static json_t *pod(const char *name, const char *node, const char *claim, bool ephemeral, const char *uid)
{
  json_t *p = json_pack("{s:{s:s,s:s,s:s},s:{s:[{s:s}]}}", "metadata", "name", name, "namespace", "ns", "uid", uid,
                        "spec", "volumes", "name", "data");
  if (node) kj_set_str(p, "spec.nodeName", node);
  json_t *v = kj_get(p, "spec.volumes[0]");
  if (ephemeral) json_object_set_new(v, "ephemeral", json_pack("{s:{}}", "volumeClaimTemplate"));
  else json_object_set_new(v, "persistentVolumeClaim", json_pack("{s:s}", "claimName", claim));
  return p;
}

static void test_pod_uses(void **state)
{
  json_t *c = pvc("data", true, true);
  json_t *p = pod("a", "n1", "data", false, "u1");
  assert_true(pvc_protection_pod_uses(p, c));
  json_decref(p);
  /* Not scheduled: the kubelet will never start it with a deleting claim. */
  p = pod("a", NULL, "data", false, "u1");
  assert_false(pvc_protection_pod_uses(p, c));
  json_decref(p);
  p = pod("a", "n1", "other", false, "u1");
  assert_false(pvc_protection_pod_uses(p, c));
  json_decref(p);
  /* Ephemeral: claim "web-data" of pod "web", only when the pod owns it. */
  json_t *ec = pvc("web-data", true, true);
  p = pod("web", "n1", NULL, true, "uid-web");
  assert_false(pvc_protection_pod_uses(p, ec));
  kj_set(ec, "metadata.ownerReferences",
         json_pack("[{s:s,s:s,s:s,s:s,s:b}]", "apiVersion", "v1", "kind", "Pod", "name", "web", "uid", "uid-web",
                   "controller", 1));
  assert_true(pvc_protection_pod_uses(p, ec));
  /* ...and not once the pod is shut down (deleted with grace 0). */
  kj_set_str(p, "metadata.deletionTimestamp", "2024-01-01T00:00:00Z");
  kj_set_int(p, "metadata.deletionGracePeriodSeconds", 0);
  assert_false(pvc_protection_pod_uses(p, ec));
  json_decref(p);
  /* A shut-down pod naming the claim directly still counts. */
  p = pod("a", "n1", "data", false, "u1");
  kj_set_str(p, "metadata.deletionTimestamp", "2024-01-01T00:00:00Z");
  kj_set_int(p, "metadata.deletionGracePeriodSeconds", 0);
  assert_true(pvc_protection_pod_uses(p, c));
  json_decref(p);
  json_decref(ec);
  json_decref(c);
}

static void test_pvc_finalizer(void **state)
{
  struct cm_actions acts;
  cm_actions_init(&acts);
  json_t *pods = json_array();
  /* Added to a claim without it, other finalizers kept. */
  json_t *c = pvc("data", false, false);
  assert_int_equal(pvc_protection_compute(c, pods, false, &acts), PVC_PROTECTION_WRITE);
  struct cm_action *a = cm_actions_find(&acts, CM_PUT, "/api/v1/namespaces/ns/persistentvolumeclaims/data");
  assert_non_null(a);
  assert_string_equal(kj_get_str(a->body, "metadata.finalizers[0]"), "example.com/keep");
  assert_string_equal(kj_get_str(a->body, "metadata.finalizers[1]"), PVC_PROTECTION_FINALIZER);
  assert_string_equal(kj_get_str(a->body, "metadata.resourceVersion"), "7");
  cm_actions_clear(&acts);
  json_decref(c);
  /* Present and not deleting: nothing. */
  c = pvc("data", false, true);
  assert_int_equal(pvc_protection_compute(c, pods, false, &acts), PVC_PROTECTION_KEEP);
  assert_int_equal(acts.n, 0);
  json_decref(c);
  /* Deleting and used: kept. */
  c = pvc("data", true, true);
  json_array_append_new(pods, pod("a", "n1", "data", false, "u1"));
  assert_int_equal(pvc_protection_compute(c, pods, false, &acts), PVC_PROTECTION_KEEP);
  assert_int_equal(acts.n, 0);
  /* The pod is gone from the cache: a live list first. */
  json_array_clear(pods);
  assert_int_equal(pvc_protection_compute(c, pods, false, &acts), PVC_PROTECTION_LIST_PODS);
  assert_int_equal(acts.n, 0);
  /* The live list still has a pod using it. */
  json_array_append_new(pods, pod("b", "n2", "data", false, "u2"));
  assert_int_equal(pvc_protection_compute(c, pods, true, &acts), PVC_PROTECTION_KEEP);
  /* It has none: the finalizer goes, the others stay. */
  json_array_clear(pods);
  json_array_append_new(pods, pod("c", "n2", "other", false, "u3"));
  assert_int_equal(pvc_protection_compute(c, pods, true, &acts), PVC_PROTECTION_WRITE);
  a = cm_actions_find(&acts, CM_PUT, "/api/v1/namespaces/ns/persistentvolumeclaims/data");
  assert_non_null(a);
  assert_int_equal(json_array_size(kj_get(a->body, "metadata.finalizers")), 1);
  assert_string_equal(kj_get_str(a->body, "metadata.finalizers[0]"), "example.com/keep");
  cm_actions_clear(&acts);
  json_decref(c);
  json_decref(pods);
}

static void test_pv_finalizer(void **state)
{
  struct cm_actions acts;
  cm_actions_init(&acts);
  json_t *pv = json_pack("{s:{s:s},s:{s:s}}", "metadata", "name", "v", "status", "phase", "Bound");
  pv_protection_compute(pv, &acts);
  struct cm_action *a = cm_actions_find(&acts, CM_PUT, "/api/v1/persistentvolumes/v");
  assert_non_null(a);
  assert_string_equal(kj_get_str(a->body, "metadata.finalizers[0]"), PV_PROTECTION_FINALIZER);
  cm_actions_clear(&acts);
  kj_set(pv, "metadata.finalizers", json_pack("[s]", PV_PROTECTION_FINALIZER));
  kj_set_str(pv, "metadata.deletionTimestamp", "2024-01-01T00:00:00Z");
  pv_protection_compute(pv, &acts);
  assert_int_equal(acts.n, 0); /* Bound: kept */
  kj_set_str(pv, "status.phase", "Released");
  pv_protection_compute(pv, &acts);
  a = cm_actions_find(&acts, CM_PUT, "/api/v1/persistentvolumes/v");
  assert_non_null(a);
  assert_null(kj_get(a->body, "metadata.finalizers"));
  cm_actions_clear(&acts);
  json_decref(pv);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pod_uses),
      cmocka_unit_test(test_pvc_finalizer),
      cmocka_unit_test(test_pv_finalizer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
