/*
 * cm_test_statefulset.c - the StatefulSet controller: ordinal and claim
 * naming, ordered and parallel creation, scale-down order, PVC retention,
 * revisions and the rolling update with a partition.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "controller_utils.h"
#include "controllers/statefulset.h"
#include "kube/json.h"

#define NOW 1700000000

static json_t *sts(int replicas, const char *image)
{
  return json_pack("{s:{s:s,s:s,s:s,s:i},s:{s:i,s:s,s:{s:{s:s}},s:{s:{s:{s:s}},s:{s:[{s:s,s:s}]}},"
                   "s:[{s:{s:s},s:{s:[s]}}]},s:{}}",
                   "metadata", "name", "web", "namespace", "ns", "uid", "sts-uid", "generation", 3, "spec", "replicas",
                   replicas, "serviceName", "nginx", "selector", "matchLabels", "app", "web", "template", "metadata",
                   "labels", "app", "web", "spec", "containers", "name", "c", "image", image, "volumeClaimTemplates",
                   "metadata", "name", "www", "spec", "accessModes", "ReadWriteOnce", "status");
}

static json_t *pod(const json_t *set, int ord, const char *rev, bool healthy)
{
  char name[32];
  sts_pod_name("web", ord, name, sizeof name);
  json_t *p = json_pack(
      "{s:{s:s,s:s,s:s,s:{s:s,s:s},s:[{s:s,s:s,s:s,s:s,s:b}]},s:{s:s,s:[{s:s,s:s}]}}", "metadata", "name", name,
      "namespace", "ns", "uid", name, "labels", "app", "web", "controller-revision-hash", rev, "ownerReferences",
      "apiVersion", "apps/v1", "kind", "StatefulSet", "name", "web", "uid", "sts-uid", "controller", 1, "status",
      "phase", healthy ? "Running" : "Pending", "conditions", "type", "Ready", "status", healthy ? "True" : "False");
  return p;
}

static json_t *revision(const json_t *set, int num)
{
  json_t *data = sts_revision_data(set);
  char name[64];
  sts_revision_name(set, data, name, sizeof name);
  return json_pack("{s:{s:s,s:s,s:{s:s},s:[{s:s,s:s,s:s,s:s,s:b}]},s:o,s:i}", "metadata", "name", name, "namespace",
                   "ns", "labels", "app", "web", "ownerReferences", "apiVersion", "apps/v1", "kind", "StatefulSet",
                   "name", "web", "uid", "sts-uid", "controller", 1, "data", data, "revision", num);
}

static struct cm_action *find(struct cm_actions *a, enum cm_verb verb, const char *path)
{
  for (size_t i = 0; i < cm_actions_len(a); i++) {
    struct cm_action *act = &a->v[i];
    if (act->verb == verb && !strcmp(act->path, path)) return act;
  }
  return NULL;
}

static void test_naming(void **state)
{
  char b[64];
  assert_string_equal(sts_pod_name("web", 12, b, sizeof b), "web-12");
  assert_string_equal(sts_pvc_name("www", "web", 0, b, sizeof b), "www-web-0");
  assert_int_equal(sts_ordinal("web", "web-3"), 3);
  assert_int_equal(sts_ordinal("web", "web-x"), -1);
  assert_int_equal(sts_ordinal("web", "webby-3"), -1);
  assert_int_equal(sts_ordinal("web", "web-"), -1);
  assert_int_equal(sts_ordinal("my-web", "my-web-10"), 10);
}

static void test_ordered_creation(void **state)
{
  json_t *set = sts(3, "nginx:1");
  json_t *pods = json_array(), *pvcs = json_array(), *revs = json_array();
  struct cm_actions acts;
  cm_actions_init(&acts);
  int64_t rq;
  sts_compute(set, pods, pvcs, revs, NOW, &acts, &rq);
  /* Only the first ordinal, with its claim and the revision. */
  assert_int_equal(cm_actions_count(&acts, CM_POST, "/api/v1/namespaces/ns/pods"), 1);
  assert_int_equal(cm_actions_count(&acts, CM_POST, "/api/v1/namespaces/ns/persistentvolumeclaims"), 1);
  assert_int_equal(cm_actions_count(&acts, CM_POST, "/apis/apps/v1/namespaces/ns/controllerrevisions"), 1);
  json_t *cr = find(&acts, CM_POST, "/apis/apps/v1/namespaces/ns/controllerrevisions")->body;
  assert_int_equal(kj_get_int(cr, "revision", -1), 1);
  json_t *p = find(&acts, CM_POST, "/api/v1/namespaces/ns/pods")->body;
  assert_string_equal(kj_get_str(p, "metadata.name"), "web-0");
  assert_string_equal(kj_get_str(p, "spec.hostname"), "web-0");
  assert_string_equal(kj_get_str(p, "spec.subdomain"), "nginx");
  assert_string_equal(kj_get_str(p, "metadata.labels[\"statefulset.kubernetes.io/pod-name\"]"), "web-0");
  assert_string_equal(kj_get_str(p, "metadata.labels[\"apps.kubernetes.io/pod-index\"]"), "0");
  assert_string_equal(kj_get_str(p, "metadata.labels[\"controller-revision-hash\"]"), kj_get_str(cr, "metadata.name"));
  assert_string_equal(kj_get_str(p, "spec.volumes[0].persistentVolumeClaim.claimName"), "www-web-0");
  json_t *pvc = find(&acts, CM_POST, "/api/v1/namespaces/ns/persistentvolumeclaims")->body;
  assert_string_equal(kj_get_str(pvc, "metadata.name"), "www-web-0");
  assert_string_equal(kj_get_str(pvc, "metadata.labels.app"), "web");
  assert_null(kj_get(pvc, "metadata.ownerReferences")); /* Retain by default */
  cm_actions_clear(&acts);

  /* web-0 exists but is not ready: wait. */
  json_t *rev = revision(set, 1);
  json_array_append_new(revs, rev);
  const char *rn = kj_get_str(rev, "metadata.name");
  json_array_append_new(pods, pod(set, 0, rn, false));
  json_array_append_new(pvcs, json_pack("{s:{s:s,s:s}}", "metadata", "name", "www-web-0", "namespace", "ns"));
  cm_actions_init(&acts);
  sts_compute(set, pods, pvcs, revs, NOW, &acts, &rq);
  assert_int_equal(cm_actions_count(&acts, CM_POST, NULL), 0);
  cm_actions_clear(&acts);

  /* Ready: web-1 next. */
  json_array_set_new(pods, 0, pod(set, 0, rn, true));
  cm_actions_init(&acts);
  sts_compute(set, pods, pvcs, revs, NOW, &acts, &rq);
  struct cm_action *post = find(&acts, CM_POST, "/api/v1/namespaces/ns/pods");
  assert_non_null(post);
  assert_string_equal(kj_get_str(post->body, "metadata.name"), "web-1");
  json_t *st = find(&acts, CM_PUT, "/apis/apps/v1/namespaces/ns/statefulsets/web/status")->body;
  assert_int_equal(kj_get_int(st, "status.replicas", -1), 1);
  assert_int_equal(kj_get_int(st, "status.readyReplicas", -1), 1);
  assert_string_equal(kj_get_str(st, "status.updateRevision"), rn);
  assert_int_equal(kj_get_int(st, "status.observedGeneration", -1), 3);
  cm_actions_clear(&acts);

  /* Parallel: all missing at once. */
  kj_set_str(set, "spec.podManagementPolicy", "Parallel");
  json_array_set_new(pods, 0, pod(set, 0, rn, false));
  cm_actions_init(&acts);
  sts_compute(set, pods, pvcs, revs, NOW, &acts, &rq);
  assert_int_equal(cm_actions_count(&acts, CM_POST, "/api/v1/namespaces/ns/pods"), 2);
  cm_actions_clear(&acts);
  json_decref(pods);
  json_decref(pvcs);
  json_decref(revs);
  json_decref(set);
}

/* Replaces the claim of that name in pvcs with the PUT's body. */
static void apply_claim_put(json_t *pvcs, const struct cm_action *put)
{
  for (size_t i = 0; i < json_array_size(pvcs); i++)
    if (!strcmp(kj_get_str(json_array_get(pvcs, i), "metadata.name"), kj_get_str(put->body, "metadata.name")))
      json_array_set(pvcs, i, put->body);
}

static void test_scale_down_and_retention(void **state)
{
  json_t *set = sts(1, "nginx:1");
  json_t *revs = json_array(), *pods = json_array(), *pvcs = json_array();
  json_t *rev = revision(set, 1);
  json_array_append_new(revs, rev);
  const char *rn = kj_get_str(rev, "metadata.name");
  for (int i = 0; i < 3; i++) {
    json_array_append_new(pods, pod(set, i, rn, true));
    char n[32];
    json_array_append_new(pvcs, json_pack("{s:{s:s,s:s}}", "metadata", "name",
                                          sts_pvc_name("www", "web", i, n, sizeof n), "namespace", "ns"));
  }
  struct cm_actions acts;
  cm_actions_init(&acts);
  int64_t rq;
  sts_compute(set, pods, pvcs, revs, NOW, &acts, &rq);
  assert_int_equal(cm_actions_count(&acts, CM_DELETE, NULL), 1);
  assert_non_null(find(&acts, CM_DELETE, "/api/v1/namespaces/ns/pods/web-2"));
  assert_int_equal(cm_actions_count(&acts, CM_PUT, "/api/v1/namespaces/ns/persistentvolumeclaims"), 0); /* retained */
  cm_actions_clear(&acts);

  /* whenScaled Delete: the condemned pod takes its claim over first... */
  kj_set(set, "spec.persistentVolumeClaimRetentionPolicy",
         json_pack("{s:s,s:s}", "whenScaled", "Delete", "whenDeleted", "Retain"));
  sts_compute(set, pods, pvcs, revs, NOW, &acts, &rq);
  struct cm_action *put = find(&acts, CM_PUT, "/api/v1/namespaces/ns/persistentvolumeclaims/www-web-2");
  assert_non_null(put);
  assert_int_equal(json_array_size(kj_get(put->body, "metadata.ownerReferences")), 1);
  assert_string_equal(kj_get_str(put->body, "metadata.ownerReferences[0].kind"), "Pod");
  assert_string_equal(kj_get_str(put->body, "metadata.ownerReferences[0].name"), "web-2");
  assert_string_equal(kj_get_str(put->body, "metadata.ownerReferences[0].uid"), "web-2");
  assert_true(kj_get_bool(put->body, "metadata.ownerReferences[0].controller", false));
  assert_null(find(&acts, CM_DELETE, "/api/v1/namespaces/ns/pods/web-2"));
  /* ...the in-range claim stays unowned. */
  assert_null(find(&acts, CM_PUT, "/api/v1/namespaces/ns/persistentvolumeclaims/www-web-0"));
  apply_claim_put(pvcs, put);
  cm_actions_clear(&acts);
  /* ...and only then is the pod deleted (the claim goes with it). */
  sts_compute(set, pods, pvcs, revs, NOW, &acts, &rq);
  assert_non_null(find(&acts, CM_DELETE, "/api/v1/namespaces/ns/pods/web-2"));
  assert_null(find(&acts, CM_PUT, "/api/v1/namespaces/ns/persistentvolumeclaims/www-web-2"));
  cm_actions_clear(&acts);

  /* whenDeleted Delete: the set takes the in-range claims of existing pods. */
  kj_set(set, "spec.persistentVolumeClaimRetentionPolicy",
         json_pack("{s:s,s:s}", "whenScaled", "Retain", "whenDeleted", "Delete"));
  sts_compute(set, pods, pvcs, revs, NOW, &acts, &rq);
  put = find(&acts, CM_PUT, "/api/v1/namespaces/ns/persistentvolumeclaims/www-web-0");
  assert_non_null(put);
  assert_string_equal(kj_get_str(put->body, "metadata.ownerReferences[0].kind"), "StatefulSet");
  assert_string_equal(kj_get_str(put->body, "metadata.ownerReferences[0].uid"), "sts-uid");
  apply_claim_put(pvcs, put);
  cm_actions_clear(&acts);

  /* Back to Retain: the set lets go again. */
  json_object_del(json_object_get(set, "spec"), "persistentVolumeClaimRetentionPolicy");
  sts_compute(set, pods, pvcs, revs, NOW, &acts, &rq);
  put = find(&acts, CM_PUT, "/api/v1/namespaces/ns/persistentvolumeclaims/www-web-0");
  assert_non_null(put);
  assert_null(kj_get(put->body, "metadata.ownerReferences"));
  cm_actions_clear(&acts);
  json_decref(pods);
  json_decref(pvcs);
  json_decref(revs);
  json_decref(set);
}

/* A pod is not created while its claim is being deleted, nor (whenScaled
 * Delete) while an older pod of its name still owns the claim. */
static void test_claims_hold_pod_creation(void **state)
{
  json_t *set = sts(2, "nginx:1");
  json_t *revs = json_array(), *pods = json_array(), *pvcs = json_array();
  json_t *rev = revision(set, 1);
  json_array_append_new(revs, rev);
  json_array_append_new(pods, pod(set, 0, kj_get_str(rev, "metadata.name"), true));
  json_array_append_new(pvcs, json_pack("{s:{s:s,s:s}}", "metadata", "name", "www-web-0", "namespace", "ns"));
  json_array_append_new(pvcs, json_pack("{s:{s:s,s:s,s:s}}", "metadata", "name", "www-web-1", "namespace", "ns",
                                        "deletionTimestamp", "2024-01-01T00:00:00Z"));
  struct cm_actions acts;
  cm_actions_init(&acts);
  int64_t rq;
  sts_compute(set, pods, pvcs, revs, NOW, &acts, &rq);
  assert_int_equal(cm_actions_count(&acts, CM_POST, "/api/v1/namespaces/ns/pods"), 0);
  assert_true(rq >= 0);
  cm_actions_clear(&acts);

  json_object_del(kj_get(json_array_get(pvcs, 1), "metadata"), "deletionTimestamp");
  kj_set(json_array_get(pvcs, 1), "metadata.ownerReferences",
         json_pack("[{s:s,s:s,s:s,s:s,s:b}]", "apiVersion", "v1", "kind", "Pod", "name", "web-1", "uid", "old-web-1",
                   "controller", 1));
  kj_set(set, "spec.persistentVolumeClaimRetentionPolicy", json_pack("{s:s}", "whenScaled", "Delete"));
  sts_compute(set, pods, pvcs, revs, NOW, &acts, &rq);
  assert_int_equal(cm_actions_count(&acts, CM_POST, "/api/v1/namespaces/ns/pods"), 0);
  cm_actions_clear(&acts);

  /* The old pod's claim is gone: web-1 and a fresh claim. */
  json_array_remove(pvcs, 1);
  sts_compute(set, pods, pvcs, revs, NOW, &acts, &rq);
  assert_non_null(find(&acts, CM_POST, "/api/v1/namespaces/ns/pods"));
  assert_non_null(find(&acts, CM_POST, "/api/v1/namespaces/ns/persistentvolumeclaims"));
  cm_actions_clear(&acts);
  json_decref(pods);
  json_decref(pvcs);
  json_decref(revs);
  json_decref(set);
}

static void test_rolling_update_partition(void **state)
{
  json_t *old = sts(3, "nginx:1");
  json_t *set = sts(3, "nginx:2");
  json_t *revs = json_array(), *pods = json_array(), *pvcs = json_array();
  json_t *r1 = revision(old, 1), *r2 = revision(set, 2);
  const char *n1 = kj_get_str(r1, "metadata.name"), *n2 = kj_get_str(r2, "metadata.name");
  assert_string_not_equal(n1, n2);
  json_array_append(revs, r1);
  json_array_append(revs, r2);
  kj_set_str(set, "status.currentRevision", n1);
  kj_set_int(set, "status.currentReplicas", 3);
  for (int i = 0; i < 3; i++) {
    json_array_append_new(pods, pod(set, i, n1, true));
    char n[32];
    json_array_append_new(pvcs, json_pack("{s:{s:s,s:s}}", "metadata", "name",
                                          sts_pvc_name("www", "web", i, n, sizeof n), "namespace", "ns"));
  }
  kj_set(set, "spec.updateStrategy",
         json_pack("{s:s,s:{s:i}}", "type", "RollingUpdate", "rollingUpdate", "partition", 2));
  struct cm_actions acts;
  cm_actions_init(&acts);
  int64_t rq;
  sts_compute(set, pods, pvcs, revs, NOW, &acts, &rq);
  assert_int_equal(cm_actions_count(&acts, CM_DELETE, NULL), 1);
  assert_non_null(find(&acts, CM_DELETE, "/api/v1/namespaces/ns/pods/web-2"));
  json_t *st = find(&acts, CM_PUT, "/apis/apps/v1/namespaces/ns/statefulsets/web/status")->body;
  assert_string_equal(kj_get_str(st, "status.currentRevision"), n1);
  assert_string_equal(kj_get_str(st, "status.updateRevision"), n2);
  cm_actions_clear(&acts);

  /* web-2 recreated at the new revision: the partition stops the rollout. */
  json_array_set_new(pods, 2, pod(set, 2, n2, true));
  cm_actions_init(&acts);
  sts_compute(set, pods, pvcs, revs, NOW, &acts, &rq);
  assert_int_equal(cm_actions_count(&acts, CM_DELETE, "/api/v1/namespaces/ns/pods/"), 0);
  cm_actions_clear(&acts);

  /* Missing web-0 below the partition comes back at the current revision. */
  json_array_remove(pods, 0);
  cm_actions_init(&acts);
  sts_compute(set, pods, pvcs, revs, NOW, &acts, &rq);
  struct cm_action *post = find(&acts, CM_POST, "/api/v1/namespaces/ns/pods");
  assert_non_null(post);
  assert_string_equal(kj_get_str(post->body, "metadata.labels[\"controller-revision-hash\"]"), n1);
  assert_string_equal(kj_get_str(post->body, "spec.containers[0].image"), "nginx:1");
  cm_actions_clear(&acts);

  /* OnDelete: nothing is replaced automatically. */
  json_array_insert_new(pods, 0, pod(set, 0, n1, true));
  kj_set(set, "spec.updateStrategy", json_pack("{s:s}", "type", "OnDelete"));
  cm_actions_init(&acts);
  sts_compute(set, pods, pvcs, revs, NOW, &acts, &rq);
  assert_int_equal(cm_actions_count(&acts, CM_DELETE, "/api/v1/namespaces/ns/pods/"), 0);
  cm_actions_clear(&acts);
  json_decref(r1);
  json_decref(r2);
  json_decref(pods);
  json_decref(pvcs);
  json_decref(revs);
  json_decref(old);
  json_decref(set);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_naming),
      cmocka_unit_test(test_ordered_creation),
      cmocka_unit_test(test_scale_down_and_retention),
      cmocka_unit_test(test_claims_hold_pod_creation),
      cmocka_unit_test(test_rolling_update_partition),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
