/*
 * sched_test_scores.c - the scheduler's score plugins: nodes and existing
 * pods in, each node's normalized 0..100 score out, with the figures worked
 * out by hand from upstream's formulas.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sched_test_util.h"

static void expect_scores(const struct sched_plugin *p, const char *args, struct sched_snapshot *s, const json_t *pod,
                          const int64_t *want, const char *what)
{
  int64_t got[16];
  score_all(p, args, s, pod, got);
  for (size_t i = 0; i < s->nnodes; i++)
    if (got[i] != want[i])
      fail_msg("%s %s: node %s scored %lld, want %lld", p->name, what, s->nodes[i]->name, (long long)got[i],
               (long long)want[i]);
}

/* n1 empty, n2 half used: 4 cpu / 8Gi each. */
static struct sched_snapshot *two_nodes(void)
{
  struct sched_snapshot *s = sched_snapshot_new();
  json_t *nodes[] = {mk_node("n1", "4", "8Gi", 10, NULL), mk_node("n2", "4", "8Gi", 10, NULL)};
  add_nodes(s, nodes, 2);
  add_pod_on(s, mk_req_pod("e", "2", "4Gi"), "n2");
  return s;
}

static void test_fit_strategies(void **state)
{
  struct sched_snapshot *s = two_nodes();
  json_t *pod = mk_req_pod("p", "1", "2Gi");
  /* n1: (4-1)/4 = 75 for both; n2: (4-3)/4 = 25. */
  expect_scores(&sched_plugin_node_resources_fit, NULL, s, pod, (int64_t[]){75, 25}, "LeastAllocated");
  expect_scores(&sched_plugin_node_resources_fit, "{\"scoringStrategy\":{\"type\":\"MostAllocated\"}}", s, pod,
                (int64_t[]){25, 75}, "MostAllocated");
  /* Only cpu, weighted: same figures. */
  expect_scores(&sched_plugin_node_resources_fit,
                "{\"scoringStrategy\":{\"type\":\"LeastAllocated\",\"resources\":[{\"name\":\"cpu\",\"weight\":3}]}}",
                s, pod, (int64_t[]){75, 25}, "cpu only");
  /* Shape 0->0, 100->10: score = utilization. */
  expect_scores(&sched_plugin_node_resources_fit,
                "{\"scoringStrategy\":{\"type\":\"RequestedToCapacityRatio\",\"requestedToCapacityRatio\":"
                "{\"shape\":[{\"utilization\":0,\"score\":0},{\"utilization\":100,\"score\":10}]}}}",
                s, pod, (int64_t[]){25, 75}, "RequestedToCapacityRatio");
  /* Inverted shape, with a midpoint: 0->10, 50->5, 100->0; 25% -> 75, 75% -> 25. */
  expect_scores(&sched_plugin_node_resources_fit,
                "{\"scoringStrategy\":{\"type\":\"RequestedToCapacityRatio\",\"requestedToCapacityRatio\":"
                "{\"shape\":[{\"utilization\":0,\"score\":10},{\"utilization\":50,\"score\":5},{\"utilization\":100,"
                "\"score\":0}]}}}",
                s, pod, (int64_t[]){75, 25}, "RequestedToCapacityRatio inverted");
  json_decref(pod);
  /* A pod without requests is scored with 100m / 200Mi:
   * n1 cpu (4000-100)/4000 = 97, memory (8192-200)/8192 = 97.5 -> 97. */
  pod = mk_req_pod("q", NULL, NULL);
  expect_scores(&sched_plugin_node_resources_fit, NULL, s, pod, (int64_t[]){97, 47}, "defaults");
  json_decref(pod);
  sched_snapshot_free(s);
}

static void test_fit_args_validation(void **state)
{
  static const char *bad[] = {
      "{\"scoringStrategy\":{\"type\":\"Nope\"}}",
      "{\"scoringStrategy\":{\"resources\":[{\"name\":\"cpu\",\"weight\":0}]}}",
      "{\"scoringStrategy\":{\"type\":\"RequestedToCapacityRatio\"}}",
      "{\"scoringStrategy\":{\"type\":\"RequestedToCapacityRatio\",\"requestedToCapacityRatio\":{\"shape\":[{"
      "\"utilization\":50,\"score\":1},{\"utilization\":10,\"score\":2}]}}}",
      "{\"scoringStrategy\":{\"type\":\"RequestedToCapacityRatio\",\"requestedToCapacityRatio\":{\"shape\":[{"
      "\"utilization\":50,\"score\":11}]}}}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    json_t *a = tj(bad[i]);
    void *self = NULL;
    char err[256] = "";
    assert_int_not_equal(sched_plugin_node_resources_fit.init(a, &self, err, sizeof err), 0);
    assert_true(strlen(err) > 0);
    json_decref(a);
  }
}

static void test_balanced_allocation(void **state)
{
  struct sched_snapshot *s = sched_snapshot_new();
  json_t *nodes[] = {mk_node("n1", "4", "8Gi", 10, NULL), mk_node("n2", "4", "8Gi", 10, NULL)};
  add_nodes(s, nodes, 2);
  add_pod_on(s, mk_req_pod("e", "2", "1Gi"), "n2");
  json_t *pod = mk_req_pod("p", "1", "2Gi");
  /* n1: 0.25 / 0.25 -> 100; n2: 0.75 / 0.375 -> std 0.1875 -> 81. */
  expect_scores(&sched_plugin_node_resources_balanced_allocation, NULL, s, pod, (int64_t[]){100, 81}, "cpu+memory");
  json_decref(pod);
  /* A best-effort pod skips the plugin. */
  pod = mk_req_pod("q", NULL, NULL);
  expect_scores(&sched_plugin_node_resources_balanced_allocation, NULL, s, pod, (int64_t[]){0, 0}, "best effort");
  json_decref(pod);
  sched_snapshot_free(s);
}

static void test_taint_toleration_score(void **state)
{
  struct sched_snapshot *s = sched_snapshot_new();
  json_t *nodes[] = {
      mk_node("n1", "4", "8Gi", 10, NULL),
      mk_node("n2", "4", "8Gi", 10, "{\"spec\":{\"taints\":[{\"key\":\"a\",\"effect\":\"PreferNoSchedule\"}]}}"),
      mk_node("n3", "4", "8Gi", 10,
              "{\"spec\":{\"taints\":[{\"key\":\"a\",\"effect\":\"PreferNoSchedule\"},{\"key\":\"b\",\"effect\":"
              "\"PreferNoSchedule\"}]}}"),
  };
  add_nodes(s, nodes, 3);
  json_t *pod = mk_pod("{}");
  expect_scores(&sched_plugin_taint_toleration, NULL, s, pod, (int64_t[]){100, 50, 0}, "untolerated");
  json_decref(pod);
  pod =
      mk_pod("{\"spec\":{\"tolerations\":[{\"key\":\"a\",\"operator\":\"Exists\",\"effect\":\"PreferNoSchedule\"}]}}");
  expect_scores(&sched_plugin_taint_toleration, NULL, s, pod, (int64_t[]){100, 100, 0}, "tolerated a");
  json_decref(pod);
  /* A NoSchedule toleration does not count for PreferNoSchedule. */
  pod = mk_pod("{\"spec\":{\"tolerations\":[{\"key\":\"a\",\"operator\":\"Exists\",\"effect\":\"NoSchedule\"}]}}");
  expect_scores(&sched_plugin_taint_toleration, NULL, s, pod, (int64_t[]){100, 50, 0}, "wrong effect");
  json_decref(pod);
  sched_snapshot_free(s);
}

static void test_node_affinity_score(void **state)
{
  struct sched_snapshot *s = sched_snapshot_new();
  json_t *nodes[] = {
      mk_node("n1", "4", "8Gi", 10, "{\"metadata\":{\"labels\":{\"zone\":\"a\",\"disk\":\"ssd\"}}}"),
      mk_node("n2", "4", "8Gi", 10, "{\"metadata\":{\"labels\":{\"zone\":\"a\"}}}"),
      mk_node("n3", "4", "8Gi", 10, NULL),
  };
  add_nodes(s, nodes, 3);
  json_t *pod =
      mk_pod("{\"spec\":{\"affinity\":{\"nodeAffinity\":{\"preferredDuringSchedulingIgnoredDuringExecution\":["
             "{\"weight\":2,\"preference\":{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"In\",\"values\":["
             "\"a\"]}]}},"
             "{\"weight\":8,\"preference\":{\"matchExpressions\":[{\"key\":\"disk\",\"operator\":\"Exists\"}]}}]}}}}");
  expect_scores(&sched_plugin_node_affinity, NULL, s, pod, (int64_t[]){100, 20, 0}, "preferred");
  json_decref(pod);
  sched_snapshot_free(s);
}

static void test_image_locality(void **state)
{
  struct sched_snapshot *s = sched_snapshot_new();
  json_t *nodes[] = {
      mk_node("n1", "4", "8Gi", 10,
              "{\"status\":{\"images\":[{\"names\":[\"registry.local/app:v1\"],\"sizeBytes\":524288000},"
              "{\"names\":[\"busybox:latest\"],\"sizeBytes\":10485760}]}}"),
      mk_node("n2", "4", "8Gi", 10, "{\"status\":{\"images\":[{\"names\":[\"busybox\"],\"sizeBytes\":10485760}]}}"),
  };
  add_nodes(s, nodes, 2);
  /* 500MiB on one node of two: 250MiB; (250-23)/(1000-23) of 100 = 23. */
  json_t *pod = mk_pod("{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"registry.local/app:v1\"}]}}");
  expect_scores(&sched_plugin_image_locality, NULL, s, pod, (int64_t[]){23, 0}, "large image");
  json_decref(pod);
  /* Small images stay under the threshold; "busybox" is "busybox:latest". */
  pod = mk_pod("{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]}}");
  expect_scores(&sched_plugin_image_locality, NULL, s, pod, (int64_t[]){0, 0}, "small image");
  json_decref(pod);
  /* Images no node has count as containers only (250MiB against 2 x 1000MB:
   * 11); with none left every node scores 0 and the plugin skips itself. */
  pod = mk_pod("{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"nowhere/app:v2\"},"
               "{\"name\":\"d\",\"image\":\"registry.local/app:v1\"}]}}");
  expect_scores(&sched_plugin_image_locality, NULL, s, pod, (int64_t[]){11, 0}, "one image nowhere");
  json_decref(pod);
  pod = mk_pod("{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"nowhere/app:v2\"}]}}");
  expect_scores(&sched_plugin_image_locality, NULL, s, pod, (int64_t[]){0, 0}, "image nowhere");
  json_decref(pod);
  sched_snapshot_free(s);
}

static void test_inter_pod_affinity_score(void **state)
{
  struct sched_snapshot *s = sched_snapshot_new();
  json_t *nodes[] = {
      mk_node("n1", "4", "8Gi", 10, "{\"metadata\":{\"labels\":{\"zone\":\"a\"}}}"),
      mk_node("n2", "4", "8Gi", 10, "{\"metadata\":{\"labels\":{\"zone\":\"a\"}}}"),
      mk_node("n3", "4", "8Gi", 10, "{\"metadata\":{\"labels\":{\"zone\":\"b\"}}}"),
  };
  add_nodes(s, nodes, 3);
  add_pod_on(s, mk_pod("{\"metadata\":{\"name\":\"db\",\"labels\":{\"app\":\"db\"}}}"), "n1");
#define PREF(kind)                                                                                                     \
  "{\"spec\":{\"affinity\":{\"" kind                                                                                   \
  "\":{\"preferredDuringSchedulingIgnoredDuringExecution\":[{\"weight\":10,\"podAffinityTerm\":"                       \
  "{\"labelSelector\":{\"matchLabels\":{\"app\":\"db\"}},\"topologyKey\":\"zone\"}}]}}}}"
  json_t *pod = mk_pod(PREF("podAffinity"));
  expect_scores(&sched_plugin_inter_pod_affinity, NULL, s, pod, (int64_t[]){100, 100, 0}, "preferred affinity");
  json_decref(pod);
  pod = mk_pod(PREF("podAntiAffinity"));
  expect_scores(&sched_plugin_inter_pod_affinity, NULL, s, pod, (int64_t[]){0, 0, 100}, "preferred anti-affinity");
  json_decref(pod);
  /* An existing pod's required affinity to the incoming pod attracts it
   * (hardPodAffinityWeight), on the existing pod's host only. */
  add_pod_on(
      s,
      mk_pod(
          "{\"metadata\":{\"name\":\"cache\"},\"spec\":{\"affinity\":{\"podAffinity\":{"
          "\"requiredDuringSchedulingIgnoredDuringExecution\":"
          "[{\"labelSelector\":{\"matchLabels\":{\"app\":\"web\"}},\"topologyKey\":\"kubernetes.io/hostname\"}]}}}}"),
      "n2");
  pod = mk_pod("{\"metadata\":{\"labels\":{\"app\":\"web\"}}}");
  expect_scores(&sched_plugin_inter_pod_affinity, NULL, s, pod, (int64_t[]){0, 100, 0}, "existing required affinity");
  expect_scores(&sched_plugin_inter_pod_affinity, "{\"hardPodAffinityWeight\":0}", s, pod, (int64_t[]){0, 0, 0},
                "hard weight 0");
  json_decref(pod);
  sched_snapshot_free(s);
}

static void test_topology_spread_score(void **state)
{
  struct sched_snapshot *s = sched_snapshot_new();
  json_t *nodes[] = {
      mk_node("n1", "4", "8Gi", 10, "{\"metadata\":{\"labels\":{\"zone\":\"a\"}}}"),
      mk_node("n2", "4", "8Gi", 10, "{\"metadata\":{\"labels\":{\"zone\":\"a\"}}}"),
      mk_node("n3", "4", "8Gi", 10, "{\"metadata\":{\"labels\":{\"zone\":\"b\"}}}"),
      mk_node("n4", "4", "8Gi", 10, NULL),
  };
  add_nodes(s, nodes, 4);
  add_pod_on(s, mk_pod("{\"metadata\":{\"name\":\"w1\",\"labels\":{\"app\":\"web\"}}}"), "n1");
  add_pod_on(s, mk_pod("{\"metadata\":{\"name\":\"w2\",\"labels\":{\"app\":\"web\"}}}"), "n1");
  /* zone a: 2 pods * log(2+2) = 2.77 -> 3; zone b: 0.  Normalized
   * 100*(max+min-s)/max; n4 lacks the key and scores 0. */
  json_t *pod =
      mk_pod("{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"topologySpreadConstraints\":[{\"maxSkew\":1,"
             "\"topologyKey\":\"zone\",\"whenUnsatisfiable\":\"ScheduleAnyway\",\"labelSelector\":{\"matchLabels\":{"
             "\"app\":\"web\"}}}]}}");
  expect_scores(&sched_plugin_pod_topology_spread, NULL, s, pod, (int64_t[]){0, 0, 100, 0}, "zone");
  json_decref(pod);
  /* By hostname: n1 has 2 -> 2*log(3+2)=3.2 -> 3; n2, n3 0. */
  pod = mk_pod(
      "{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"topologySpreadConstraints\":[{\"maxSkew\":1,"
      "\"topologyKey\":\"kubernetes.io/"
      "hostname\",\"whenUnsatisfiable\":\"ScheduleAnyway\",\"labelSelector\":{\"matchLabels\":{\"app\":\"web\"}}}]}}");
  expect_scores(&sched_plugin_pod_topology_spread, NULL, s, pod, (int64_t[]){0, 100, 100, 100}, "hostname");
  json_decref(pod);
  sched_snapshot_free(s);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fit_strategies),           cmocka_unit_test(test_fit_args_validation),
      cmocka_unit_test(test_balanced_allocation),      cmocka_unit_test(test_taint_toleration_score),
      cmocka_unit_test(test_node_affinity_score),      cmocka_unit_test(test_image_locality),
      cmocka_unit_test(test_inter_pod_affinity_score), cmocka_unit_test(test_topology_spread_score),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
