/*
 * cm_test_daemonset.c - the DaemonSet controller: default tolerations,
 * node eligibility (nodeSelector, node affinity, taints), pinning pods to
 * their node, creation and deletion per node, rolling updates with
 * maxUnavailable and maxSurge, and status counts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "controller_utils.h"
#include "controllers/daemonset.h"
#include "controllers/statefulset.h"
#include "controllers/deployment.h"
#include "kube/json.h"

#define NOW 1700000000

static json_t *ds(void)
{
  return json_pack("{s:{s:s,s:s,s:s,s:i},s:{s:{s:{s:s}},s:{s:{s:{s:s}},s:{s:[{s:s,s:s}]}}},s:{}}", "metadata", "name",
                   "agent", "namespace", "kube-system", "uid", "ds-uid", "generation", 2, "spec", "selector",
                   "matchLabels", "app", "agent", "template", "metadata", "labels", "app", "agent", "spec",
                   "containers", "name", "c", "image", "agent:1", "status");
}

static json_t *node(const char *name, const char *zone)
{
  json_t *n = json_pack("{s:{s:s,s:{s:s}},s:{}}", "metadata", "name", name, "labels", "zone", zone, "spec");
  return n;
}

static const char *hash_of(const json_t *d)
{
  static char h[16];
  json_t *data = sts_revision_data(d);
  dep_compute_hash(data, -1, h);
  json_decref(data);
  return h;
}

static json_t *pod(const json_t *d, const char *name, const char *node, const char *hash, bool ready)
{
  return json_pack("{s:{s:s,s:s,s:s,s:s,s:{s:s,s:s},s:[{s:s,s:s,s:s,s:s,s:b}]},s:{s:s},s:{s:s,s:[{s:s,s:s}]}}",
                   "metadata", "name", name, "namespace", "kube-system", "uid", name, "creationTimestamp",
                   "2023-01-01T00:00:00Z", "labels", "app", "agent", "controller-revision-hash", hash,
                   "ownerReferences", "apiVersion", "apps/v1", "kind", "DaemonSet", "name", "agent", "uid", "ds-uid",
                   "controller", 1, "spec", "nodeName", node, "status", "phase", "Running", "conditions", "type",
                   "Ready", "status", ready ? "True" : "False");
}

static void test_tolerations_and_eligibility(void **state)
{
  json_t *d = ds();
  json_t *t = ds_template_with_tolerations(d);
  assert_int_equal(json_array_size(kj_get(t, "spec.tolerations")), 6);
  json_decref(t);
  kj_set(d, "spec.template.spec.hostNetwork", json_true());
  t = ds_template_with_tolerations(d);
  assert_int_equal(json_array_size(kj_get(t, "spec.tolerations")), 7);
  json_decref(t);

  json_t *n = node("n1", "a");
  bool run, cont;
  ds_node_should_run(d, n, &run, &cont);
  assert_true(run);
  /* Default tolerations: not-ready NoExecute and unschedulable are fine. */
  kj_set(n, "spec.taints",
         json_pack("[{s:s,s:s},{s:s,s:s}]", "key", "node.kubernetes.io/not-ready", "effect", "NoExecute", "key",
                   "node.kubernetes.io/unschedulable", "effect", "NoSchedule"));
  ds_node_should_run(d, n, &run, &cont);
  assert_true(run);
  /* A foreign NoSchedule taint: no new pod, the existing one stays. */
  kj_set(n, "spec.taints", json_pack("[{s:s,s:s,s:s}]", "key", "dedicated", "value", "db", "effect", "NoSchedule"));
  ds_node_should_run(d, n, &run, &cont);
  assert_false(run);
  assert_true(cont);
  kj_set_str(n, "spec.taints[0].effect", "NoExecute");
  ds_node_should_run(d, n, &run, &cont);
  assert_false(run);
  assert_false(cont);
  kj_set(d, "spec.template.spec.tolerations",
         json_pack("[{s:s,s:s,s:s}]", "key", "dedicated", "operator", "Equal", "value", "db"));
  ds_node_should_run(d, n, &run, &cont);
  assert_true(run);
  kj_del(n, "spec.taints");
  /* nodeSelector and required affinity. */
  kj_set(d, "spec.template.spec.nodeSelector", json_pack("{s:s}", "zone", "b"));
  ds_node_should_run(d, n, &run, &cont);
  assert_false(run);
  assert_false(cont);
  kj_del(d, "spec.template.spec.nodeSelector");
  kj_set(d, "spec.template.spec.affinity",
         json_pack("{s:{s:{s:[{s:[{s:s,s:s,s:[s,s]}]}]}}}", "nodeAffinity",
                   "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms", "matchExpressions", "key",
                   "zone", "operator", "In", "values", "a", "c"));
  ds_node_should_run(d, n, &run, &cont);
  assert_true(run);
  kj_set_str(n, "metadata.labels.zone", "z");
  ds_node_should_run(d, n, &run, &cont);
  assert_false(run);
  json_decref(n);
  json_decref(d);
}

static void test_create_pinned_and_status(void **state)
{
  json_t *d = ds();
  kj_set(d, "spec.template.spec.affinity",
         json_pack("{s:{s:{s:[{s:[{s:s,s:s}]}]}}}", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution",
                   "nodeSelectorTerms", "matchExpressions", "key", "zone", "operator", "Exists"));
  json_t *nodes = json_array(), *pods = json_array(), *revs = json_array();
  json_array_append_new(nodes, node("n1", "a"));
  json_array_append_new(nodes, node("n2", "a"));
  json_array_append_new(pods, pod(d, "agent-x", "n1", hash_of(d), true));
  struct cm_actions acts;
  cm_actions_init(&acts);
  int adds, dels;
  int64_t rq;
  ds_compute(d, nodes, pods, revs, true, NOW, &acts, &adds, &dels, &rq);
  assert_int_equal(adds, 1);
  assert_int_equal(dels, 0);
  json_t *post = NULL, *cr = NULL, *st = NULL;
  for (size_t i = 0; i < cm_actions_len(&acts); i++) {
    struct cm_action *a = &acts.v[i];
    if (!strcmp(a->path, "/api/v1/namespaces/kube-system/pods")) post = a->body;
    if (!strcmp(a->path, "/apis/apps/v1/namespaces/kube-system/controllerrevisions")) cr = a->body;
    if (a->verb == CM_PUT) st = a->body;
  }
  assert_non_null(post);
  json_t *terms =
      kj_get(post, "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms");
  assert_int_equal(json_array_size(terms), 1);
  assert_null(kj_get(terms, "[0].matchExpressions"));
  assert_string_equal(kj_get_str(terms, "[0].matchFields[0].key"), "metadata.name");
  assert_string_equal(kj_get_str(terms, "[0].matchFields[0].values[0]"), "n2");
  assert_string_equal(kj_get_str(post, "metadata.labels[\"controller-revision-hash\"]"), hash_of(d));
  assert_string_equal(kj_get_str(post, "metadata.labels[\"pod-template-generation\"]"), "2");
  assert_int_equal(json_array_size(kj_get(post, "spec.tolerations")), 6);
  assert_non_null(cr);
  char want[64];
  snprintf(want, sizeof want, "agent-%s", hash_of(d));
  assert_string_equal(kj_get_str(cr, "metadata.name"), want);
  assert_non_null(st);
  assert_int_equal(kj_get_int(st, "status.desiredNumberScheduled", -1), 2);
  assert_int_equal(kj_get_int(st, "status.currentNumberScheduled", -1), 1);
  assert_int_equal(kj_get_int(st, "status.numberReady", -1), 1);
  assert_int_equal(kj_get_int(st, "status.updatedNumberScheduled", -1), 1);
  assert_int_equal(kj_get_int(st, "status.numberUnavailable", -1), 1);
  assert_int_equal(kj_get_int(st, "status.numberMisscheduled", -1), 0);
  cm_actions_clear(&acts);

  /* Not managing while expectations are pending. */
  cm_actions_init(&acts);
  ds_compute(d, nodes, pods, revs, false, NOW, &acts, &adds, &dels, &rq);
  assert_int_equal(adds, 0);
  cm_actions_clear(&acts);
  json_decref(nodes);
  json_decref(pods);
  json_decref(revs);
  json_decref(d);
}

static void test_rolling_update(void **state)
{
  json_t *d = ds();
  json_t *nodes = json_array(), *pods = json_array(), *revs = json_array();
  for (int i = 0; i < 3; i++) {
    char n[8], p[16];
    snprintf(n, sizeof n, "n%d", i);
    snprintf(p, sizeof p, "agent-%d", i);
    json_array_append_new(nodes, node(n, "a"));
    json_array_append_new(pods, pod(d, p, n, "oldhash", true));
  }
  struct cm_actions acts;
  int adds, dels;
  int64_t rq;
  cm_actions_init(&acts);
  ds_compute(d, nodes, pods, revs, true, NOW, &acts, &adds, &dels, &rq);
  assert_int_equal(dels, 1); /* maxUnavailable 1 */
  assert_int_equal(adds, 0);
  cm_actions_clear(&acts);

  kj_set(d, "spec.updateStrategy",
         json_pack("{s:s,s:{s:i,s:i}}", "type", "RollingUpdate", "rollingUpdate", "maxUnavailable", 0, "maxSurge", 1));
  cm_actions_init(&acts);
  ds_compute(d, nodes, pods, revs, true, NOW, &acts, &adds, &dels, &rq);
  assert_int_equal(dels, 0);
  assert_int_equal(adds, 1); /* surge one new pod next to an old one */
  cm_actions_clear(&acts);

  /* The surged pod is available: its old neighbour goes, no second surge. */
  json_array_append_new(pods, pod(d, "agent-new", "n0", hash_of(d), true));
  cm_actions_init(&acts);
  ds_compute(d, nodes, pods, revs, true, NOW, &acts, &adds, &dels, &rq);
  assert_int_equal(dels, 1);
  assert_int_equal(cm_actions_count(&acts, CM_DELETE, "/api/v1/namespaces/kube-system/pods/agent-0"), 1);
  cm_actions_clear(&acts);

  kj_set(d, "spec.updateStrategy", json_pack("{s:s}", "type", "OnDelete"));
  json_array_remove(pods, 3);
  cm_actions_init(&acts);
  ds_compute(d, nodes, pods, revs, true, NOW, &acts, &adds, &dels, &rq);
  assert_int_equal(adds + dels, 0);
  cm_actions_clear(&acts);
  json_decref(nodes);
  json_decref(pods);
  json_decref(revs);
  json_decref(d);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tolerations_and_eligibility),
      cmocka_unit_test(test_create_pinned_and_status),
      cmocka_unit_test(test_rolling_update),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
