/*
 * cm_test_replicaset.c - the ReplicaSet core and the shared controller
 * helpers: deletion ranking, expectations, and the actions one sync
 * issues from a given cache (creates, deletes, adoption, status).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "controller_utils.h"
#include "controllers/replicaset.h"
#include "kube/json.h"

#define NOW 1700000000

static json_t *pod(const char *name, const char *node, const char *phase, bool ready, int restarts, const char *created,
                   const char *owner_uid)
{
  json_t *p =
      json_pack("{s:{s:s,s:s,s:s,s:s,s:{s:s}},s:{},s:{s:s,s:[{s:s,s:s,s:s}],s:[{s:i}]}}", "metadata", "name", name,
                "namespace", "ns", "uid", name, "creationTimestamp", created, "labels", "app", "web", "spec", "status",
                "phase", phase, "conditions", "type", "Ready", "status", ready ? "True" : "False", "lastTransitionTime",
                "2023-11-14T22:00:00Z", "containerStatuses", "restartCount", restarts);
  if (node) kj_set_str(p, "spec.nodeName", node);
  if (owner_uid)
    kj_set(p, "metadata.ownerReferences",
           json_pack("[{s:s,s:s,s:s,s:s,s:b}]", "apiVersion", "apps/v1", "kind", "ReplicaSet", "name", "web", "uid",
                     owner_uid, "controller", 1));
  return p;
}

static json_t *rs(int replicas)
{
  return json_pack("{s:{s:s,s:s,s:s,s:i},s:{s:i,s:{s:{s:s}},s:{s:{s:{s:s}},s:{s:[{s:s,s:s}]}}}}", "metadata", "name",
                   "web", "namespace", "ns", "uid", "rs-uid", "generation", 2, "spec", "replicas", replicas, "selector",
                   "matchLabels", "app", "web", "template", "metadata", "labels", "app", "web", "spec", "containers",
                   "name", "c", "image", "nginx");
}

static void test_rank_order(void **state)
{
  /* Expected deletion order, most deletable first. */
  json_t *pods = json_array();
  json_array_append_new(pods, pod("running-ready-old", "n1", "Running", true, 0, "2023-01-01T00:00:00Z", NULL));
  json_array_append_new(pods, pod("running-ready-new", "n1", "Running", true, 0, "2023-06-01T00:00:00Z", NULL));
  json_array_append_new(pods, pod("running-notready", "n1", "Running", false, 0, "2023-01-01T00:00:00Z", NULL));
  json_array_append_new(pods, pod("pending", "n1", "Pending", false, 0, "2023-01-01T00:00:00Z", NULL));
  json_array_append_new(pods, pod("unscheduled", NULL, "Pending", false, 0, "2023-01-01T00:00:00Z", NULL));
  json_array_append_new(pods, pod("restarty", "n1", "Running", true, 5, "2023-01-01T00:00:00Z", NULL));
  json_array_append_new(pods, pod("unknown", "n1", "Unknown", false, 0, "2023-01-01T00:00:00Z", NULL));
  cm_rank_pods_for_deletion(pods, NULL);
  const char *want[] = {"unscheduled", "pending",           "unknown",          "running-notready",
                        "restarty",    "running-ready-new", "running-ready-old"};
  for (size_t i = 0; i < 7; i++) assert_string_equal(kj_get_str(json_array_get(pods, i), "metadata.name"), want[i]);
  json_decref(pods);
}

static void test_rank_deletion_cost(void **state)
{
  json_t *a = pod("a", "n1", "Running", true, 0, "2023-06-01T00:00:00Z", NULL);
  json_t *b = pod("b", "n1", "Running", true, 0, "2023-01-01T00:00:00Z", NULL);
  /* Without costs the newer (a) goes first; a higher cost on a protects it. */
  assert_true(cm_pod_deletion_cmp(a, b, 0, 0) < 0);
  kj_set_str(a, "metadata.annotations[\"controller.kubernetes.io/pod-deletion-cost\"]", "100");
  assert_true(cm_pod_deletion_cmp(a, b, 0, 0) > 0);
  /* More pods of ours on the same node go first. */
  json_t *c = pod("c", "n1", "Running", true, 0, "2023-01-01T00:00:00Z", NULL);
  assert_true(cm_pod_deletion_cmp(c, b, 3, 1) < 0);
  json_decref(a);
  json_decref(b);
  json_decref(c);
}

static void test_expectations(void **state)
{
  struct cm_expectations *e = cm_expectations_new();
  assert_true(cm_expectations_satisfied(e, "ns/a", NOW));
  cm_expect_creations(e, "ns/a", 2, NOW);
  assert_false(cm_expectations_satisfied(e, "ns/a", NOW));
  cm_creation_observed(e, "ns/a");
  assert_false(cm_expectations_satisfied(e, "ns/a", NOW));
  cm_creation_observed(e, "ns/a");
  assert_true(cm_expectations_satisfied(e, "ns/a", NOW));
  /* Expired after the TTL even with writes unobserved. */
  cm_expect_creations(e, "ns/a", 5, NOW);
  assert_false(cm_expectations_satisfied(e, "ns/a", NOW + CM_EXPECTATIONS_TTL_S));
  assert_true(cm_expectations_satisfied(e, "ns/a", NOW + CM_EXPECTATIONS_TTL_S + 1));
  /* Deletions by uid: a second event for the same pod does not count twice. */
  json_t *uids = json_pack("[s,s]", "u1", "u2");
  cm_expect_deletion_uids(e, "ns/b", uids, NOW);
  cm_deletion_uid_observed(e, "ns/b", "u1");
  cm_deletion_uid_observed(e, "ns/b", "u1");
  int adds, dels;
  assert_true(cm_expectations_get(e, "ns/b", &adds, &dels));
  assert_int_equal(dels, 1);
  cm_deletion_uid_observed(e, "ns/b", "u2");
  assert_true(cm_expectations_satisfied(e, "ns/b", NOW));
  json_decref(uids);

  /* One sync's writes: 3 creates and 1 delete, each observed once. */
  json_t *one = json_pack("[s]", "u9");
  cm_expect_writes(e, "ns/c", 3, one, NOW);
  assert_true(cm_expectations_get(e, "ns/c", &adds, &dels));
  assert_int_equal(adds, 3);
  assert_int_equal(dels, 1);
  for (int i = 0; i < 3; i++) cm_creation_observed(e, "ns/c");
  assert_false(cm_expectations_satisfied(e, "ns/c", NOW));
  cm_deletion_uid_observed(e, "ns/c", "u9");
  assert_true(cm_expectations_satisfied(e, "ns/c", NOW));
  cm_expect_writes(e, "ns/d", 2, NULL, NOW);
  cm_creation_observed(e, "ns/d");
  cm_creation_observed(e, "ns/d");
  assert_true(cm_expectations_satisfied(e, "ns/d", NOW));
  json_decref(one);
  cm_expectations_free(e);
}

static void test_scale_up_creates_from_template(void **state)
{
  json_t *r = rs(3);
  json_t *pods = json_array();
  json_array_append_new(pods, pod("web-1", "n1", "Running", true, 0, "2023-01-01T00:00:00Z", "rs-uid"));
  struct cm_actions acts;
  cm_actions_init(&acts);
  struct rs_result res;
  rs_compute(&rs_kind_replicaset, r, pods, true, NULL, NOW, &acts, &res);
  assert_int_equal(res.adds, 2);
  assert_int_equal(cm_actions_count(&acts, CM_POST, "/api/v1/namespaces/ns/pods"), 2);
  struct cm_action *post = &acts.v[0];
  assert_true(post->slow_start);
  assert_int_equal(post->expect, CM_EXPECT_CREATE);
  assert_true(post->ok_append_name);
  assert_string_equal(post->ok_message, "Created pod: ");
  json_t *body = post->body;
  assert_string_equal(kj_get_str(body, "metadata.generateName"), "web-");
  assert_string_equal(kj_get_str(body, "metadata.labels.app"), "web");
  assert_string_equal(kj_get_str(body, "metadata.ownerReferences[0].uid"), "rs-uid");
  assert_true(kj_get_bool(body, "metadata.ownerReferences[0].controller", false));
  assert_true(kj_get_bool(body, "metadata.ownerReferences[0].blockOwnerDeletion", false));
  assert_string_equal(kj_get_str(body, "spec.containers[0].image"), "nginx");
  /* Status PUT reflects the cache, not the pods being created. */
  assert_int_equal(cm_actions_count(&acts, CM_PUT, "/apis/apps/v1/namespaces/ns/replicasets/web/status"), 1);
  assert_int_equal(kj_get_int(res.status, "replicas", -1), 1);
  assert_int_equal(kj_get_int(res.status, "readyReplicas", -1), 1);
  assert_int_equal(kj_get_int(res.status, "observedGeneration", -1), 2);
  rs_result_free(&res);
  cm_actions_clear(&acts);

  /* While expectations are pending, no further creates. */
  cm_actions_init(&acts);
  rs_compute(&rs_kind_replicaset, r, pods, false, NULL, NOW, &acts, &res);
  assert_int_equal(cm_actions_count(&acts, CM_POST, NULL), 0);
  rs_result_free(&res);
  cm_actions_clear(&acts);
  json_decref(pods);
  json_decref(r);
}

static void test_scale_down_deletes_ranked(void **state)
{
  json_t *r = rs(1);
  json_t *pods = json_array();
  json_array_append_new(pods, pod("old-ready", "n1", "Running", true, 0, "2023-01-01T00:00:00Z", "rs-uid"));
  json_array_append_new(pods, pod("pending", "n1", "Pending", false, 0, "2023-01-01T00:00:00Z", "rs-uid"));
  json_array_append_new(pods, pod("new-ready", "n2", "Running", true, 0, "2023-05-01T00:00:00Z", "rs-uid"));
  /* Someone else's pod and a finished pod are not counted. */
  json_array_append_new(pods, pod("other", "n1", "Running", true, 0, "2023-01-01T00:00:00Z", "other-uid"));
  json_array_append_new(pods, pod("done", "n1", "Succeeded", false, 0, "2023-01-01T00:00:00Z", "rs-uid"));
  struct cm_actions acts;
  cm_actions_init(&acts);
  struct rs_result res;
  rs_compute(&rs_kind_replicaset, r, pods, true, NULL, NOW, &acts, &res);
  assert_int_equal(cm_actions_count(&acts, CM_DELETE, NULL), 2);
  assert_int_equal(cm_actions_count(&acts, CM_DELETE, "/api/v1/namespaces/ns/pods/pending"), 1);
  /* old-ready and new-ready are both ready; new-ready goes first (newer)
   * although... n1 has two of ours, so old-ready (rank 2) goes first. */
  assert_int_equal(cm_actions_count(&acts, CM_DELETE, "/api/v1/namespaces/ns/pods/old-ready"), 1);
  assert_int_equal(json_array_size(res.del_uids), 2);
  assert_int_equal(kj_get_int(res.status, "replicas", -1), 3);
  rs_result_free(&res);
  cm_actions_clear(&acts);
  json_decref(pods);
  json_decref(r);
}

static void test_adopt_and_release(void **state)
{
  json_t *r = rs(2);
  json_t *pods = json_array();
  json_array_append_new(pods, pod("orphan", "n1", "Running", true, 0, "2023-01-01T00:00:00Z", NULL));
  json_t *relabeled = pod("relabeled", "n1", "Running", true, 0, "2023-01-01T00:00:00Z", "rs-uid");
  kj_set_str(relabeled, "metadata.labels.app", "debug");
  json_array_append_new(pods, relabeled);
  struct cm_actions acts;
  cm_actions_init(&acts);
  struct rs_result res;
  rs_compute(&rs_kind_replicaset, r, pods, true, NULL, NOW, &acts, &res);
  assert_int_equal(cm_actions_count(&acts, CM_PATCH, "/api/v1/namespaces/ns/pods/orphan"), 1);
  assert_int_equal(cm_actions_count(&acts, CM_PATCH, "/api/v1/namespaces/ns/pods/relabeled"), 1);
  struct cm_action *adopt = &acts.v[0];
  assert_string_equal(kj_get_str(adopt->body, "metadata.uid"), "orphan");
  assert_string_equal(kj_get_str(adopt->body, "metadata.ownerReferences[0].uid"), "rs-uid");
  struct cm_action *release = &acts.v[1];
  assert_string_equal(kj_get_str(release->body, "metadata.ownerReferences[0].$patch"), "delete");
  /* Releasing a pod that is gone is done; adopting one is not. */
  assert_int_equal(release->done_if, CM_DONE_IF_GONE);
  assert_int_equal(adopt->done_if, 0);
  /* One adopted, so one more to create. */
  assert_int_equal(res.adds, 1);
  rs_result_free(&res);
  cm_actions_clear(&acts);
  json_decref(pods);
  json_decref(r);
}

static void test_rc_map_selector_and_min_ready(void **state)
{
  json_t *rc = json_pack("{s:{s:s,s:s,s:s},s:{s:i,s:i,s:{s:s},s:{s:{s:{s:s}}}}}", "metadata", "name", "web",
                         "namespace", "ns", "uid", "rs-uid", "spec", "replicas", 1, "minReadySeconds", 30, "selector",
                         "app", "web", "template", "metadata", "labels", "app", "web");
  json_t *pods = json_array();
  json_t *p = pod("p", "n1", "Running", true, 0, "2023-01-01T00:00:00Z", "rs-uid");
  kj_set_str(p, "metadata.ownerReferences[0].kind", "ReplicationController");
  /* Ready 10 s ago: ready but not yet available. */
  kj_set(p, "status.conditions[0].lastTransitionTime", cm_time_json(NOW - 10));
  json_array_append_new(pods, p);
  struct cm_actions acts;
  cm_actions_init(&acts);
  struct rs_result res;
  rs_compute(&rs_kind_rc, rc, pods, true, NULL, NOW, &acts, &res);
  assert_int_equal(cm_actions_count(&acts, CM_POST, NULL), 0);
  assert_int_equal(kj_get_int(res.status, "readyReplicas", -1), 1);
  assert_int_equal(kj_get_int(res.status, "availableReplicas", -1), 0);
  assert_int_equal(res.requeue_after_s, 30);
  assert_int_equal(cm_actions_count(&acts, CM_PUT, "/api/v1/namespaces/ns/replicationcontrollers/web/status"), 1);
  rs_result_free(&res);
  cm_actions_clear(&acts);
  json_decref(pods);
  json_decref(rc);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rank_order),
      cmocka_unit_test(test_rank_deletion_cost),
      cmocka_unit_test(test_expectations),
      cmocka_unit_test(test_scale_up_creates_from_template),
      cmocka_unit_test(test_scale_down_deletes_ranked),
      cmocka_unit_test(test_adopt_and_release),
      cmocka_unit_test(test_rc_map_selector_and_min_ready),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
