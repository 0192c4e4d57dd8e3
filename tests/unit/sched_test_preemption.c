/*
 * sched_test_preemption.c - DefaultPreemption's victim selection and node
 * choice, table-driven: each case lays out nodes and the pods on them
 * (priority, cpu, start time, labels), a preemptor, optional PDBs, and
 * expects the chosen node and exact victims, or no candidate.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "preemption.h"
#include "queue.h"
#include "sched_test_util.h"

struct tpod {
  const char *name, *node, *cpu;
  int prio;
  const char *start; /* status.startTime */
  const char *app;   /* label app=..., or NULL */
};

struct tcase {
  const char *desc;
  const char *nodes[4]; /* name:cpu */
  struct tpod pods[8];
  const char *preemptor_cpu;
  int preemptor_prio;
  const char *pdbs;         /* JSON array or NULL */
  const char *want_node;    /* NULL: no candidate */
  const char *want_victims; /* comma-separated, most important first */
};

static const struct tcase cases[] = {
    {"reprieves the earlier-started pod of equal priority",
     {"n1:2"},
     {{"old", "n1", "1", 10, "2024-01-01T00:00:00Z", NULL}, {"new", "n1", "1", 10, "2024-01-02T00:00:00Z", NULL}},
     "1",
     100,
     NULL,
     "n1",
     "new"},
    {"evicts only what is needed, lowest priority first",
     {"n1:3"},
     {{"a", "n1", "1", 5, NULL, NULL}, {"b", "n1", "1", 20, NULL, NULL}, {"c", "n1", "1", 10, NULL, NULL}},
     "2",
     100,
     NULL,
     "n1",
     "c,a"},
    {"prefers the node whose most important victim has the lower priority",
     {"n1:1", "n2:1"},
     {{"p50", "n1", "1", 50, NULL, NULL}, {"p10", "n2", "1", 10, NULL, NULL}},
     "1",
     100,
     NULL,
     "n2",
     "p10"},
    {"then the smaller sum of priorities",
     {"n1:2", "n2:2"},
     {{"a", "n1", "1", 10, NULL, NULL}, {"b", "n1", "1", 10, NULL, NULL}, {"c", "n2", "2", 10, NULL, NULL}},
     "2",
     100,
     NULL,
     "n2",
     "c"},
    {"then the latest start among the top victims",
     {"n1:1", "n2:1"},
     {{"older", "n1", "1", 10, "2024-01-01T00:00:00Z", NULL}, {"newer", "n2", "1", 10, "2024-03-01T00:00:00Z", NULL}},
     "1",
     100,
     NULL,
     "n2",
     "newer"},
    {"avoids PDB violations even at a higher priority",
     {"n1:1", "n2:1"},
     {{"guarded", "n1", "1", 10, NULL, "db"}, {"free", "n2", "1", 50, NULL, "web"}},
     "1",
     100,
     "[{\"metadata\":{\"name\":\"db\",\"namespace\":\"default\"},\"spec\":{\"selector\":{\"matchLabels\":{\"app\":"
     "\"db\"}}},"
     "\"status\":{\"disruptionsAllowed\":0}}]",
     "n2",
     "free"},
    {"a PDB with budget left is not violated",
     {"n1:1", "n2:1"},
     {{"guarded", "n1", "1", 10, NULL, "db"}, {"free", "n2", "1", 50, NULL, "web"}},
     "1",
     100,
     "[{\"metadata\":{\"name\":\"db\",\"namespace\":\"default\"},\"spec\":{\"selector\":{\"matchLabels\":{\"app\":"
     "\"db\"}}},"
     "\"status\":{\"disruptionsAllowed\":1}}]",
     "n1",
     "guarded"},
    {"pods of equal or higher priority are never victims",
     {"n1:1"},
     {{"same", "n1", "1", 100, NULL, NULL}},
     "1",
     100,
     NULL,
     NULL,
     NULL},
    {"no candidate when evicting everything still does not fit",
     {"n1:1"},
     {{"low", "n1", "1", 1, NULL, NULL}},
     "2",
     100,
     NULL,
     NULL,
     NULL},
};

static json_t *build_pod(const struct tpod *tp)
{
  json_t *p = mk_req_pod(tp->name, tp->cpu, NULL);
  kj_set_int(p, "spec.priority", tp->prio);
  if (tp->node) kj_set_str(p, "spec.nodeName", tp->node);
  if (tp->start) kj_set_str(p, "status.startTime", tp->start);
  if (tp->app) kj_set_str(p, "metadata.labels.app", tp->app);
  return p;
}

static void run_case(const struct tcase *tc)
{
  char err[256];
  struct sched_config *cfg = sched_config_parse(NULL, err, sizeof err);
  assert_non_null(cfg);
  struct sched_snapshot *snap = sched_snapshot_new();
  for (int i = 0; i < 4 && tc->nodes[i]; i++) {
    char name[32], cpu[16];
    const char *colon = strchr(tc->nodes[i], ':');
    snprintf(name, sizeof name, "%.*s", (int)(colon - tc->nodes[i]), tc->nodes[i]);
    snprintf(cpu, sizeof cpu, "%s", colon + 1);
    json_t *n = mk_node(name, cpu, "32Gi", 110, NULL);
    sched_snapshot_set_node(snap, n);
    json_decref(n);
  }
  size_t pods_before = 0;
  for (int i = 0; i < 8 && tc->pods[i].name; i++) {
    add_pod_on(snap, build_pod(&tc->pods[i]), tc->pods[i].node);
    pods_before++;
  }
  struct tpod pre = {"preemptor", NULL, tc->preemptor_cpu, tc->preemptor_prio, NULL, NULL};
  json_t *pod = build_pod(&pre);
  struct sched_result res;
  assert_int_equal(sched_schedule_one(cfg->profiles[0], snap, pod, &res), -ENOSPC);
  json_t *pdbs = tc->pdbs ? tj(tc->pdbs) : NULL;
  struct sched_preemption pr;
  int rc = sched_preemption_select(cfg->profiles[0], snap, pod, res.node_codes, pdbs, 0, &pr);
  if (!tc->want_node) {
    if (rc != -ENOENT) fail_msg("%s: expected no candidate, got %s", tc->desc, pr.node_name);
  } else {
    if (rc != 0) fail_msg("%s: no candidate", tc->desc);
    if (strcmp(pr.node_name, tc->want_node) != 0)
      fail_msg("%s: node %s, want %s", tc->desc, pr.node_name, tc->want_node);
    char got[256] = "";
    size_t i;
    json_t *v;
    json_array_foreach (pr.victims, i, v) {
      if (i) strcat(got, ",");
      strcat(got, json_string_value(json_object_get(json_object_get(v, "metadata"), "name")));
    }
    if (strcmp(got, tc->want_victims) != 0) fail_msg("%s: victims [%s], want [%s]", tc->desc, got, tc->want_victims);
  }
  /* The dry runs left the snapshot as it was. */
  size_t pods_after = 0;
  for (size_t i = 0; i < snap->nnodes; i++) pods_after += snap->nodes[i]->npods;
  assert_int_equal(pods_after, pods_before);
  sched_preemption_clear(&pr);
  json_decref(pdbs);
  sched_result_clear(&res);
  json_decref(pod);
  sched_snapshot_free(snap);
  sched_config_free(cfg);
}

static void test_victim_selection(void **state)
{
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(&cases[i]);
}

static void test_unresolvable_nodes_skipped(void **state)
{
  char err[256];
  struct sched_config *cfg = sched_config_parse(NULL, err, sizeof err);
  struct sched_snapshot *snap = sched_snapshot_new();
  json_t *n = mk_node("tainted", "1", "32Gi", 110,
                      "{\"spec\":{\"taints\":[{\"key\":\"k\",\"value\":\"v\",\"effect\":\"NoSchedule\"}]}}");
  sched_snapshot_set_node(snap, n);
  json_decref(n);
  struct tpod low = {"low", "tainted", "1", 1, NULL, NULL};
  add_pod_on(snap, build_pod(&low), "tainted");
  struct tpod pre = {"preemptor", NULL, "1", 100, NULL, NULL};
  json_t *pod = build_pod(&pre);
  struct sched_result res;
  assert_int_equal(sched_schedule_one(cfg->profiles[0], snap, pod, &res), -ENOSPC);
  assert_int_equal(res.node_codes[0], SCHED_UNRESOLVABLE);
  /* The FitError without its PostFilter part, which the scheduler
   * replaces by what preemption really said. */
  assert_int_equal(res.fit_len, strlen("0/1 nodes are available: 1 node(s) had untolerated taint {k: v}."));
  assert_memory_equal(
      res.message, "0/1 nodes are available: 1 node(s) had untolerated taint {k: v}. preemption: ", res.fit_len + 13);
  struct sched_preemption pr;
  assert_int_equal(sched_preemption_select(cfg->profiles[0], snap, pod, res.node_codes, NULL, 0, &pr), -ENOENT);
  sched_preemption_clear(&pr);
  sched_result_clear(&res);
  json_decref(pod);
  sched_snapshot_free(snap);
  sched_config_free(cfg);
}

static void test_eligibility(void **state)
{
  struct sched_snapshot *snap = sched_snapshot_new();
  json_t *n = mk_node("n1", "1", "32Gi", 110, NULL);
  sched_snapshot_set_node(snap, n);
  json_decref(n);
  const char *why = NULL;
  struct tpod pre = {"preemptor", NULL, "1", 100, NULL, NULL};
  json_t *pod = build_pod(&pre);
  assert_true(sched_preemption_eligible(snap, pod, &why));
  kj_set_str(pod, "spec.preemptionPolicy", "Never");
  assert_false(sched_preemption_eligible(snap, pod, &why));
  assert_string_equal(why, "not eligible due to preemptionPolicy=Never.");
  kj_del(pod, "spec.preemptionPolicy");
  /* A victim still terminating on the nominated node: wait, do not
   * preempt again. */
  struct tpod victim = {"victim", "n1", "1", 1, NULL, NULL};
  json_t *v = build_pod(&victim);
  kj_set_str(v, "metadata.deletionTimestamp", "2024-01-01T00:00:00Z");
  add_pod_on(snap, v, "n1");
  kj_set_str(pod, "status.nominatedNodeName", "n1");
  assert_false(sched_preemption_eligible(snap, pod, &why));
  json_decref(pod);
  sched_snapshot_free(snap);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_victim_selection),
      cmocka_unit_test(test_unresolvable_nodes_skipped),
      cmocka_unit_test(test_eligibility),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
