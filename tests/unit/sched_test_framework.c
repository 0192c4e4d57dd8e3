/*
 * sched_test_framework.c - one scheduling cycle end to end with the
 * default profile and parsed configurations: the FailedScheduling message
 * for a mixed cluster, the adaptive percentageOfNodesToScore arithmetic,
 * the round-robin start of the feasibility search, random tie-breaking,
 * DaemonSet-style pinning, and KubeSchedulerConfiguration parsing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>

#include "sched_test_util.h"

static struct sched_config *cfg_from(const char *json)
{
  char err[256] = "";
  json_t *j = json ? tj(json) : NULL;
  struct sched_config *c = sched_config_parse(j, err, sizeof err);
  json_decref(j);
  if (!c) fail_msg("config: %s", err);
  return c;
}

static struct sched_profile *dflt(struct sched_config *c) { return sched_config_profile(c, "default-scheduler"); }

#define CP_TAINT                                                                                                       \
  "{\"spec\":{\"taints\":[{\"key\":\"node-role.kubernetes.io/control-plane\",\"effect\":\"NoSchedule\"}]}}"

/* Upstream's FitError text: per-reason node counts sorted as strings, then
 * the preemption post-filter's summary (which ends in its own period, so
 * the whole message ends in ".."). */
static void expect_unschedulable(struct sched_profile *p, struct sched_snapshot *s, json_t *pod, const char *want)
{
  struct sched_result r;
  assert_int_equal(sched_schedule_one(p, s, pod, &r), -ENOSPC);
  assert_null(r.node_name);
  assert_string_equal(r.message, want);
  sched_result_clear(&r);
}

static void test_failed_scheduling_message(void **state)
{
  struct sched_config *c = cfg_from(NULL);
  struct sched_snapshot *s = sched_snapshot_new();
  json_t *nodes[] = {mk_node("w1", "1", "4Gi", 110, NULL), mk_node("cp1", "8", "16Gi", 110, CP_TAINT),
                     mk_node("cp2", "8", "16Gi", 110, CP_TAINT)};
  add_nodes(s, nodes, 3);
  json_t *pod = mk_req_pod("big", "2", "1Gi");
  /* w1 is too small and holds no pod preemption could evict. */
  expect_unschedulable(dflt(c), s, pod,
                       "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint "
                       "{node-role.kubernetes.io/control-plane: }. preemption: 0/3 nodes are available: "
                       "1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling..");
  kj_set_str(pod, "spec.preemptionPolicy", "Never");
  expect_unschedulable(
      dflt(c), s, pod,
      "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint "
      "{node-role.kubernetes.io/control-plane: }. preemption: not eligible due to preemptionPolicy=Never..");
  json_decref(pod);

  /* No node can be helped by evicting anything. */
  pod = mk_req_pod("sel", "100m", NULL);
  kj_set(pod, "spec.nodeSelector", tj("{\"disk\":\"ssd\"}"));
  expect_unschedulable(dflt(c), s, pod,
                       "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 2 node(s) had "
                       "untolerated taint {node-role.kubernetes.io/control-plane: }. preemption: 0/3 nodes are "
                       "available: 3 Preemption is not helpful for scheduling..");
  json_decref(pod);

  /* A lower-priority pod exists on w2 but evicting it is not enough: the
   * node keeps its filter reason in the preemption summary. */
  sched_snapshot_remove_node(s, "w1");
  json_t *w2 = mk_node("w2", "4", "8Gi", 110, NULL);
  sched_snapshot_set_node(s, w2);
  json_decref(w2);
  add_pod_on(s, mk_req_pod("low", "3", "1Gi"), "w2");
  pod = mk_req_pod("huge", "5", "1Gi");
  kj_set_int(pod, "spec.priority", 1000);
  expect_unschedulable(dflt(c), s, pod,
                       "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint "
                       "{node-role.kubernetes.io/control-plane: }. preemption: 0/3 nodes are available: "
                       "1 Insufficient cpu, 2 Preemption is not helpful for scheduling..");
  /* Tolerating the taint lands on a control-plane node. */
  kj_set(pod, "spec.tolerations", tj("[{\"key\":\"node-role.kubernetes.io/control-plane\",\"operator\":\"Exists\"}]"));
  struct sched_result r;
  assert_int_equal(sched_schedule_one(dflt(c), s, pod, &r), 0);
  assert_int_equal(strncmp(r.node_name, "cp", 2), 0);
  assert_int_equal(r.feasible_nodes, 2);
  sched_result_clear(&r);
  json_decref(pod);

  sched_snapshot_free(s);
  s = sched_snapshot_new();
  pod = mk_req_pod("p", "1", NULL);
  assert_int_equal(sched_schedule_one(dflt(c), s, pod, &r), -ENOSPC);
  assert_string_equal(r.message, "no nodes available to schedule pods");
  sched_result_clear(&r);
  json_decref(pod);
  sched_snapshot_free(s);
  sched_config_free(c);
}

static void test_num_feasible_nodes(void **state)
{
  static const struct {
    int pct;
    size_t all, want;
  } cases[] = {
      {0, 0, 0},       {0, 50, 50},    {0, 99, 99},       {0, 100, 100},   {0, 200, 100},
      {0, 1000, 420},  {0, 5000, 500}, {0, 6000, 300},    {0, 10000, 500}, {0, 20000, 1000},
      {30, 1000, 300}, {5, 1000, 100}, {100, 5000, 5000}, {50, 150, 100},  {10, 99, 99},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    size_t got = sched_num_feasible_nodes_to_find(cases[i].pct, cases[i].all);
    if (got != cases[i].want)
      fail_msg("pct %d of %zu nodes: got %zu, want %zu", cases[i].pct, cases[i].all, got, cases[i].want);
  }
}

static struct sched_snapshot *many_nodes(size_t n)
{
  struct sched_snapshot *s = sched_snapshot_new();
  for (size_t i = 0; i < n; i++) {
    char name[32];
    snprintf(name, sizeof name, "node-%04zu", i);
    json_t *node = mk_node(name, "4", "8Gi", 110, NULL);
    sched_snapshot_set_node(s, node);
    json_decref(node);
  }
  return s;
}

static void test_round_robin_start(void **state)
{
  struct sched_config *c =
      cfg_from("{\"apiVersion\":\"kubescheduler.config.k8s.io/v1\",\"kind\":\"KubeSchedulerConfiguration\","
               "\"percentageOfNodesToScore\":50}");
  struct sched_profile *p = dflt(c);
  struct sched_snapshot *s = many_nodes(300); /* 50% of 300 = 150 per cycle */
  json_t *pod = mk_req_pod("p", "100m", "10Mi");
  struct sched_result r;
  for (int cycle = 0; cycle < 4; cycle++) {
    size_t start = p->next_start_node_index;
    assert_int_equal(start, (size_t)(cycle * 150) % 300);
    assert_int_equal(sched_schedule_one(p, s, pod, &r), 0);
    assert_int_equal(r.evaluated_nodes, 150);
    assert_int_equal(r.feasible_nodes, 150);
    /* The winner comes from this cycle's window. */
    int idx = atoi(r.node_name + 5);
    assert_true(idx >= (int)start && idx < (int)start + 150);
    sched_result_clear(&r);
  }
  /* Infeasible nodes are walked past and count as processed. */
  for (size_t i = 0; i < 10; i++) {
    char name[32];
    snprintf(name, sizeof name, "node-%04zu", i);
    add_pod_on(s, mk_req_pod("hog", "4", NULL), name);
  }
  p->next_start_node_index = 0;
  assert_int_equal(sched_schedule_one(p, s, pod, &r), 0);
  assert_int_equal(r.evaluated_nodes, 160);
  assert_int_equal(r.feasible_nodes, 150);
  assert_int_equal(p->next_start_node_index, 160);
  sched_result_clear(&r);
  json_decref(pod);
  sched_snapshot_free(s);
  sched_config_free(c);
}

static void test_tie_break_is_random(void **state)
{
  struct sched_config *c = cfg_from(NULL);
  struct sched_snapshot *s = many_nodes(4);
  json_t *pod = mk_req_pod("p", "100m", "10Mi");
  int hits[4] = {0};
  for (int i = 0; i < 200; i++) {
    struct sched_result r;
    assert_int_equal(sched_schedule_one(dflt(c), s, pod, &r), 0);
    hits[atoi(r.node_name + 5)]++;
    sched_result_clear(&r);
  }
  /* Uniform over 4 nodes: each far above 10 of 200. */
  for (int i = 0; i < 4; i++)
    if (hits[i] < 10) fail_msg("node %d chosen %d times of 200", i, hits[i]);
  json_decref(pod);
  sched_snapshot_free(s);
  sched_config_free(c);
}

static void test_scoring_picks_best(void **state)
{
  struct sched_config *c = cfg_from(NULL);
  struct sched_snapshot *s = many_nodes(3);
  add_pod_on(s, mk_req_pod("a", "3", "6Gi"), "node-0000");
  add_pod_on(s, mk_req_pod("b", "1", "2Gi"), "node-0001");
  json_t *pod = mk_req_pod("p", "500m", "1Gi");
  for (int i = 0; i < 5; i++) {
    struct sched_result r;
    assert_int_equal(sched_schedule_one(dflt(c), s, pod, &r), 0);
    assert_string_equal(r.node_name, "node-0002");
    sched_result_clear(&r);
  }
  /* MostAllocated packs onto the fullest node that still fits. */
  struct sched_config *packed =
      cfg_from("{\"profiles\":[{\"schedulerName\":\"packer\",\"pluginConfig\":[{\"name\":\"NodeResourcesFit\",\"args\":"
               "{\"scoringStrategy\":{\"type\":\"MostAllocated\"}}}],"
               "\"plugins\":{\"score\":{\"disabled\":[{\"name\":\"NodeResourcesBalancedAllocation\"}],"
               "\"enabled\":[{\"name\":\"NodeResourcesFit\",\"weight\":5}]}}}]}");
  assert_null(sched_config_profile(packed, "default-scheduler"));
  struct sched_result r;
  assert_int_equal(sched_schedule_one(sched_config_profile(packed, "packer"), s, pod, &r), 0);
  assert_string_equal(r.node_name, "node-0000");
  sched_result_clear(&r);
  json_decref(pod);
  sched_snapshot_free(s);
  sched_config_free(c);
  sched_config_free(packed);
}

static void test_daemonset_pinning(void **state)
{
  struct sched_config *c = cfg_from(NULL);
  struct sched_snapshot *s = many_nodes(300);
  json_t *pod = mk_pod("{\"spec\":{\"affinity\":{\"nodeAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":"
                       "{\"nodeSelectorTerms\":[{\"matchFields\":[{\"key\":\"metadata.name\",\"operator\":\"In\","
                       "\"values\":[\"node-0250\"]}]}]}}}}}");
  struct sched_result r;
  assert_int_equal(sched_schedule_one(dflt(c), s, pod, &r), 0);
  assert_string_equal(r.node_name, "node-0250");
  assert_int_equal(r.evaluated_nodes, 1);
  sched_result_clear(&r);
  json_decref(pod);
  sched_snapshot_free(s);

  /* The pinned node is full: the others are reported as excluded by
   * NodeAffinity's PreFilter, as upstream words it. */
  s = sched_snapshot_new();
  json_t *nodes[] = {mk_node("a", "4", "8Gi", 1, NULL), mk_node("b", "4", "8Gi", 110, NULL)};
  add_nodes(s, nodes, 2);
  add_pod_on(s, mk_req_pod("x", "100m", NULL), "a");
  pod = mk_pod("{\"spec\":{\"affinity\":{\"nodeAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":"
               "{\"nodeSelectorTerms\":[{\"matchFields\":[{\"key\":\"metadata.name\",\"operator\":\"In\",\"values\":["
               "\"a\"]}]}]}}}}}");
  expect_unschedulable(dflt(c), s, pod,
                       "0/2 nodes are available: 1 Too many pods, 1 node(s) didn't satisfy plugin(s) [NodeAffinity]. "
                       "preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, "
                       "1 Preemption is not helpful for scheduling..");
  json_decref(pod);
  sched_snapshot_free(s);
  sched_config_free(c);
}

static void test_config(void **state)
{
  struct sched_config *c = cfg_from(NULL);
  struct sched_profile *p = dflt(c);
  assert_non_null(p);
  static const struct {
    const char *name;
    int64_t weight;
  } want[] = {{"TaintToleration", 3},  {"NodeAffinity", 2},     {"PodTopologySpread", 2},
              {"InterPodAffinity", 2}, {"NodeResourcesFit", 1}, {"NodeResourcesBalancedAllocation", 1},
              {"ImageLocality", 1}};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    bool found = false;
    for (int j = 0; j < p->nplugins; j++)
      if (strcmp(p->plugins[j].p->name, want[i].name) == 0) {
        found = p->plugins[j].score;
        assert_int_equal(p->plugins[j].weight, want[i].weight);
      }
    if (!found) fail_msg("%s not a score plugin", want[i].name);
  }
  sched_config_free(c);

  c = cfg_from("{\"apiVersion\":\"kubescheduler.config.k8s.io/v1\",\"kind\":\"KubeSchedulerConfiguration\","
               "\"percentageOfNodesToScore\":20,\"profiles\":[{\"schedulerName\":\"a\"},"
               "{\"schedulerName\":\"b\",\"percentageOfNodesToScore\":70,\"plugins\":{\"score\":{\"disabled\":[{"
               "\"name\":\"*\"}],"
               "\"enabled\":[{\"name\":\"ImageLocality\",\"weight\":7}]},\"filter\":{\"disabled\":[{\"name\":"
               "\"TaintToleration\"}]}}}]}");
  assert_int_equal(c->nprofiles, 2);
  assert_int_equal(sched_config_profile(c, "a")->percentage_of_nodes_to_score, 20);
  p = sched_config_profile(c, "b");
  assert_int_equal(p->percentage_of_nodes_to_score, 70);
  for (int j = 0; j < p->nplugins; j++) {
    const char *n = p->plugins[j].p->name;
    assert_int_equal(p->plugins[j].score, strcmp(n, "ImageLocality") == 0);
    if (strcmp(n, "ImageLocality") == 0) assert_int_equal(p->plugins[j].weight, 7);
    if (strcmp(n, "TaintToleration") == 0) assert_false(p->plugins[j].filter);
    if (strcmp(n, "NodeResourcesFit") == 0) assert_true(p->plugins[j].filter);
  }
  /* With TaintToleration's filter off, the tainted node takes the pod. */
  struct sched_snapshot *s = sched_snapshot_new();
  json_t *cp = mk_node("cp", "2", "2Gi", 10, CP_TAINT);
  sched_snapshot_set_node(s, cp);
  json_decref(cp);
  json_t *pod = mk_req_pod("x", "1", NULL);
  struct sched_result r;
  assert_int_equal(sched_schedule_one(p, s, pod, &r), 0);
  sched_result_clear(&r);
  assert_int_equal(sched_schedule_one(sched_config_profile(c, "a"), s, pod, &r), -ENOSPC);
  sched_result_clear(&r);
  json_decref(pod);
  sched_snapshot_free(s);
  sched_config_free(c);

  static const char *bad[] = {
      "{\"apiVersion\":\"kubescheduler.config.k8s.io/v1beta1\"}",
      "{\"percentageOfNodesToScore\":101}",
      "{\"profiles\":[{\"percentageOfNodesToScore\":-1}]}",
      "{\"profiles\":[{\"plugins\":{\"filter\":{\"enabled\":[{\"name\":\"NoSuchPlugin\"}]}}}]}",
      "{\"profiles\":[{\"plugins\":{\"filter\":{\"enabled\":[{\"name\":\"ImageLocality\"}]}}}]}",
      "{\"profiles\":[{\"schedulerName\":\"x\"},{\"schedulerName\":\"x\"}]}",
      "{\"profiles\":[{\"pluginConfig\":[{\"name\":\"InterPodAffinity\",\"args\":{\"hardPodAffinityWeight\":101}}]}]}",
      "{\"profiles\":[{\"pluginConfig\":[{\"name\":\"NodeResourcesFit\",\"args\":{\"scoringStrategy\":{\"type\":"
      "\"Bogus\"}}}]}]}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char err[256] = "";
    json_t *j = tj(bad[i]);
    struct sched_config *bc = sched_config_parse(j, err, sizeof err);
    json_decref(j);
    if (bc) fail_msg("accepted: %s", bad[i]);
    assert_true(strlen(err) > 0);
  }
}

static void test_snapshot_accounting(void **state)
{
  struct sched_snapshot *s = many_nodes(3);
  add_pod_on(s, mk_req_pod("a", "1", "1Gi"), "node-0001");
  add_pod_on(s, mk_req_pod("a", "2", "1Gi"), "node-0001"); /* same pod updated: replaced, not added */
  struct sched_node_info *ni = sched_snapshot_node(s, "node-0001");
  assert_int_equal(ni->npods, 1);
  assert_int_equal(ni->requested.milli_cpu, 2000);
  assert_int_equal(ni->requested.memory, 1024LL * 1024 * 1024);
  assert_int_equal(ni->allocatable.milli_cpu, 4000);
  assert_int_equal(ni->allocatable.allowed_pods, 110);
  assert_int_equal(sched_snapshot_remove_node(s, "node-0000"), 0);
  assert_int_equal(s->nnodes, 2);
  assert_non_null(sched_snapshot_node(s, "node-0002"));
  assert_null(sched_snapshot_node(s, "node-0000"));
  assert_string_equal(sched_snapshot_node(s, "node-0002")->name, "node-0002");
  /* The last node moved into the hole and knows its new position. */
  assert_int_equal(sched_snapshot_node(s, "node-0002")->index, 0);
  assert_ptr_equal(s->nodes[0], sched_snapshot_node(s, "node-0002"));
  json_t *orphan = tj("{\"metadata\":{\"name\":\"z\"}}");
  assert_int_equal(sched_snapshot_add_pod(s, orphan, "node-0000", false), -ENOENT);
  json_decref(orphan);
  sched_snapshot_free(s);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_failed_scheduling_message),
      cmocka_unit_test(test_num_feasible_nodes),
      cmocka_unit_test(test_round_robin_start),
      cmocka_unit_test(test_tie_break_is_random),
      cmocka_unit_test(test_scoring_picks_best),
      cmocka_unit_test(test_daemonset_pinning),
      cmocka_unit_test(test_config),
      cmocka_unit_test(test_snapshot_accounting),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
