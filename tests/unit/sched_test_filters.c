/*
 * sched_test_filters.c - the scheduler's filter plugins, table-driven as
 * upstream's plugin tests are: a pod, nodes and existing pods in; for each
 * node the status code and the exact upstream failure reasons out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sched_test_util.h"

#define OK SCHED_SUCCESS
#define UNS SCHED_UNSCHEDULABLE
#define UNR SCHED_UNRESOLVABLE

struct fcase {
  const char *name;
  const char *pod;  /* pod JSON */
  const char *node; /* node to filter */
  enum sched_code code;
  const char *reasons;
};

static void check_case(const struct sched_plugin *p, const char *args, struct sched_snapshot *s, const struct fcase *tc)
{
  char out[512];
  json_t *pod = mk_pod(tc->pod);
  enum sched_code code = filter_one(p, args, s, pod, tc->node, out, sizeof out);
  if (code != tc->code || strcmp(out, tc->reasons) != 0)
    fail_msg("%s: %s: got code %d \"%s\", want %d \"%s\"", p->name, tc->name, code, out, tc->code, tc->reasons);
  json_decref(pod);
}

/* ---- NodeResourcesFit ---- */

static void test_node_resources_fit(void **state)
{
  static const struct fcase cases[] = {
      {"fits",
       "{\"spec\":{\"containers\":[{\"name\":\"c\",\"resources\":{\"requests\":{\"cpu\":\"500m\",\"memory\":\"1Gi\"}}}]"
       "}}",
       "n1", OK, ""},
      {"best effort fits", "{}", "n1", OK, ""},
      {"cpu short but node big enough",
       "{\"spec\":{\"containers\":[{\"name\":\"c\",\"resources\":{\"requests\":{\"cpu\":\"1500m\"}}}]}}", "n1", UNS,
       "Insufficient cpu"},
      {"cpu beyond allocatable",
       "{\"spec\":{\"containers\":[{\"name\":\"c\",\"resources\":{\"requests\":{\"cpu\":\"3\"}}}]}}", "n1", UNS,
       "Insufficient cpu"},
      {"cpu and memory",
       "{\"spec\":{\"containers\":[{\"name\":\"c\",\"resources\":{\"requests\":{\"cpu\":\"1500m\",\"memory\":\"4Gi\"}}}"
       "]}}",
       "n1", UNS, "Insufficient cpu, Insufficient memory"},
      {"init container max",
       "{\"spec\":{\"initContainers\":[{\"name\":\"i\",\"resources\":{\"requests\":{\"cpu\":\"1500m\"}}}],"
       "\"containers\":[{\"name\":\"c\",\"resources\":{\"requests\":{\"cpu\":\"500m\"}}}]}}",
       "n1", UNS, "Insufficient cpu"},
      {"init container below containers",
       "{\"spec\":{\"initContainers\":[{\"name\":\"i\",\"resources\":{\"requests\":{\"cpu\":\"900m\"}}}],"
       "\"containers\":[{\"name\":\"c\",\"resources\":{\"requests\":{\"cpu\":\"500m\"}}},{\"name\":\"d\",\"resources\":"
       "{\"requests\":{\"cpu\":\"500m\"}}}]}}",
       "n1", OK, ""},
      {"sidecar adds to containers",
       "{\"spec\":{\"initContainers\":[{\"name\":\"s\",\"restartPolicy\":\"Always\",\"resources\":{\"requests\":{"
       "\"cpu\":\"600m\"}}}],"
       "\"containers\":[{\"name\":\"c\",\"resources\":{\"requests\":{\"cpu\":\"500m\"}}}]}}",
       "n1", UNS, "Insufficient cpu"},
      {"overhead counted",
       "{\"spec\":{\"overhead\":{\"cpu\":\"600m\"},\"containers\":[{\"name\":\"c\",\"resources\":{\"requests\":{"
       "\"cpu\":\"500m\"}}}]}}",
       "n1", UNS, "Insufficient cpu"},
      {"extended resource missing",
       "{\"spec\":{\"containers\":[{\"name\":\"c\",\"resources\":{\"requests\":{\"example.com/gpu\":\"1\"}}}]}}", "n1",
       UNS, "Insufficient example.com/gpu"},
      {"extended resource present",
       "{\"spec\":{\"containers\":[{\"name\":\"c\",\"resources\":{\"requests\":{\"example.com/gpu\":\"2\"}}}]}}", "n2",
       OK, ""},
      {"extended resource used up",
       "{\"spec\":{\"containers\":[{\"name\":\"c\",\"resources\":{\"requests\":{\"example.com/gpu\":\"3\"}}}]}}", "n2",
       UNS, "Insufficient example.com/gpu"},
      {"too many pods", "{}", "n3", UNS, "Too many pods"},
      {"ephemeral storage",
       "{\"spec\":{\"containers\":[{\"name\":\"c\",\"resources\":{\"requests\":{\"ephemeral-storage\":\"200Gi\"}}}]}}",
       "n1", UNS, "Insufficient ephemeral-storage"},
  };
  struct sched_snapshot *s = sched_snapshot_new();
  json_t *nodes[] = {
      mk_node("n1", "2", "4Gi", 10, NULL),
      mk_node("n2", "2", "4Gi", 10, "{\"status\":{\"allocatable\":{\"example.com/gpu\":\"4\"}}}"),
      mk_node("n3", "2", "4Gi", 1, NULL),
  };
  add_nodes(s, nodes, 3);
  add_pod_on(s, mk_req_pod("e1", "1", "1Gi"), "n1");
  json_t *gpu = mk_pod("{\"metadata\":{\"name\":\"g\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"resources\":{"
                       "\"requests\":{\"example.com/gpu\":\"2\"}}}]}}");
  add_pod_on(s, gpu, "n2");
  add_pod_on(s, mk_req_pod("e3", NULL, NULL), "n3");
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    check_case(&sched_plugin_node_resources_fit, NULL, s, &cases[i]);
  /* ignoredResources: the extended resource no longer blocks. */
  static const struct fcase ign = {
      "ignored",
      "{\"spec\":{\"containers\":[{\"name\":\"c\",\"resources\":{\"requests\":{\"example.com/gpu\":\"1\"}}}]}}", "n1",
      OK, ""};
  check_case(&sched_plugin_node_resources_fit, "{\"ignoredResources\":[\"example.com/gpu\"]}", s, &ign);
  /* Removing the pod frees its resources. */
  assert_int_equal(sched_snapshot_remove_pod(s, "default", "e1", "n1"), 0);
  static const struct fcase freed = {
      "freed", "{\"spec\":{\"containers\":[{\"name\":\"c\",\"resources\":{\"requests\":{\"cpu\":\"1500m\"}}}]}}", "n1",
      OK, ""};
  check_case(&sched_plugin_node_resources_fit, NULL, s, &freed);
  sched_snapshot_free(s);
}

/* ---- NodeAffinity ---- */

#define AFF(terms)                                                                                                     \
  "{\"spec\":{\"affinity\":{\"nodeAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":{"                    \
  "\"nodeSelectorTerms\":" terms "}}}}}"

static void test_node_affinity(void **state)
{
  static const struct fcase cases[] = {
      {"no constraints", "{}", "n1", OK, ""},
      {"nodeSelector match", "{\"spec\":{\"nodeSelector\":{\"zone\":\"a\"}}}", "n1", OK, ""},
      {"nodeSelector mismatch", "{\"spec\":{\"nodeSelector\":{\"zone\":\"b\"}}}", "n1", UNR,
       "node(s) didn't match Pod's node affinity/selector"},
      {"In", AFF("[{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"In\",\"values\":[\"x\",\"a\"]}]}]"), "n1",
       OK, ""},
      {"NotIn", AFF("[{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"NotIn\",\"values\":[\"a\"]}]}]"), "n1",
       UNR, "node(s) didn't match Pod's node affinity/selector"},
      {"NotIn absent label",
       AFF("[{\"matchExpressions\":[{\"key\":\"gpu\",\"operator\":\"NotIn\",\"values\":[\"a\"]}]}]"), "n1", OK, ""},
      {"Exists", AFF("[{\"matchExpressions\":[{\"key\":\"gen\",\"operator\":\"Exists\"}]}]"), "n1", OK, ""},
      {"DoesNotExist", AFF("[{\"matchExpressions\":[{\"key\":\"gen\",\"operator\":\"DoesNotExist\"}]}]"), "n1", UNR,
       "node(s) didn't match Pod's node affinity/selector"},
      {"Gt", AFF("[{\"matchExpressions\":[{\"key\":\"gen\",\"operator\":\"Gt\",\"values\":[\"4\"]}]}]"), "n1", OK, ""},
      {"Gt equal", AFF("[{\"matchExpressions\":[{\"key\":\"gen\",\"operator\":\"Gt\",\"values\":[\"5\"]}]}]"), "n1",
       UNR, "node(s) didn't match Pod's node affinity/selector"},
      {"Lt", AFF("[{\"matchExpressions\":[{\"key\":\"gen\",\"operator\":\"Lt\",\"values\":[\"6\"]}]}]"), "n1", OK, ""},
      {"terms ORed",
       AFF("[{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"In\",\"values\":[\"q\"]}]},"
           "{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"In\",\"values\":[\"a\"]}]}]"),
       "n1", OK, ""},
      {"expressions ANDed",
       AFF("[{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"In\",\"values\":[\"a\"]},"
           "{\"key\":\"gen\",\"operator\":\"In\",\"values\":[\"4\"]}]}]"),
       "n1", UNR, "node(s) didn't match Pod's node affinity/selector"},
      {"empty term matches nothing", AFF("[{}]"), "n1", UNR, "node(s) didn't match Pod's node affinity/selector"},
      {"matchFields name",
       AFF("[{\"matchFields\":[{\"key\":\"metadata.name\",\"operator\":\"In\",\"values\":[\"n1\"]}]}]"), "n1", OK, ""},
      {"matchFields other node",
       AFF("[{\"matchFields\":[{\"key\":\"metadata.name\",\"operator\":\"In\",\"values\":[\"n1\"]}]}]"), "n2", UNR,
       "node(s) didn't match Pod's node affinity/selector"},
  };
  struct sched_snapshot *s = sched_snapshot_new();
  json_t *nodes[] = {
      mk_node("n1", "2", "4Gi", 10, "{\"metadata\":{\"labels\":{\"zone\":\"a\",\"gen\":\"5\"}}}"),
      mk_node("n2", "2", "4Gi", 10, "{\"metadata\":{\"labels\":{\"zone\":\"b\"}}}"),
  };
  add_nodes(s, nodes, 2);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    check_case(&sched_plugin_node_affinity, NULL, s, &cases[i]);
  sched_snapshot_free(s);
}

/* ---- TaintToleration, NodeUnschedulable, NodeName, NodePorts ---- */

static void test_taint_toleration(void **state)
{
  static const struct fcase cases[] = {
      {"untolerated", "{}", "cp", UNR, "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"},
      {"tolerated by key",
       "{\"spec\":{\"tolerations\":[{\"key\":\"node-role.kubernetes.io/"
       "control-plane\",\"operator\":\"Exists\",\"effect\":\"NoSchedule\"}]}}",
       "cp", OK, ""},
      {"Exists without key tolerates all", "{\"spec\":{\"tolerations\":[{\"operator\":\"Exists\"}]}}", "cp", OK, ""},
      {"wrong effect",
       "{\"spec\":{\"tolerations\":[{\"key\":\"node-role.kubernetes.io/"
       "control-plane\",\"operator\":\"Exists\",\"effect\":\"NoExecute\"}]}}",
       "cp", UNR, "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"},
      {"value mismatch",
       "{\"spec\":{\"tolerations\":[{\"key\":\"dedicated\",\"value\":\"db\",\"effect\":\"NoSchedule\"}]}}", "gpu", UNR,
       "node(s) had untolerated taint {dedicated: gpu}"},
      {"value match", "{\"spec\":{\"tolerations\":[{\"key\":\"dedicated\",\"operator\":\"Equal\",\"value\":\"gpu\"}]}}",
       "gpu", OK, ""},
      {"NoExecute", "{}", "noexec", UNR, "node(s) had untolerated taint {node.kubernetes.io/not-ready: }"},
      {"PreferNoSchedule ignored", "{}", "soft", OK, ""},
  };
  struct sched_snapshot *s = sched_snapshot_new();
  json_t *nodes[] = {
      mk_node(
          "cp", "2", "4Gi", 10,
          "{\"spec\":{\"taints\":[{\"key\":\"node-role.kubernetes.io/control-plane\",\"effect\":\"NoSchedule\"}]}}"),
      mk_node("gpu", "2", "4Gi", 10,
              "{\"spec\":{\"taints\":[{\"key\":\"dedicated\",\"value\":\"gpu\",\"effect\":\"NoSchedule\"}]}}"),
      mk_node("noexec", "2", "4Gi", 10,
              "{\"spec\":{\"taints\":[{\"key\":\"node.kubernetes.io/not-ready\",\"effect\":\"NoExecute\"}]}}"),
      mk_node("soft", "2", "4Gi", 10,
              "{\"spec\":{\"taints\":[{\"key\":\"x\",\"value\":\"y\",\"effect\":\"PreferNoSchedule\"}]}}"),
  };
  add_nodes(s, nodes, 4);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    check_case(&sched_plugin_taint_toleration, NULL, s, &cases[i]);
  sched_snapshot_free(s);
}

static void test_simple_filters(void **state)
{
  struct sched_snapshot *s = sched_snapshot_new();
  json_t *nodes[] = {
      mk_node("n1", "2", "4Gi", 10, "{\"spec\":{\"unschedulable\":true}}"),
      mk_node("n2", "2", "4Gi", 10, NULL),
  };
  add_nodes(s, nodes, 2);
  add_pod_on(
      s,
      mk_pod("{\"metadata\":{\"name\":\"web\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"ports\":[{\"containerPort\":"
             "80,\"hostPort\":80}]},"
             "{\"name\":\"d\",\"ports\":[{\"containerPort\":8080,\"hostPort\":8080,\"hostIP\":\"10.0.0.2\"}]}]}}"),
      "n2");
  static const struct fcase unsched[] = {
      {"cordoned", "{}", "n1", UNR, "node(s) were unschedulable"},
      {"cordoned tolerated",
       "{\"spec\":{\"tolerations\":[{\"key\":\"node.kubernetes.io/"
       "unschedulable\",\"operator\":\"Exists\",\"effect\":\"NoSchedule\"}]}}",
       "n1", OK, ""},
      {"schedulable", "{}", "n2", OK, ""},
  };
  for (size_t i = 0; i < 3; i++) check_case(&sched_plugin_node_unschedulable, NULL, s, &unsched[i]);
  static const struct fcase names[] = {
      {"no nodeName", "{}", "n1", OK, ""},
      {"same", "{\"spec\":{\"nodeName\":\"n2\"}}", "n2", OK, ""},
      {"other", "{\"spec\":{\"nodeName\":\"n2\"}}", "n1", UNR, "node(s) didn't match the requested node name"},
  };
  for (size_t i = 0; i < 3; i++) check_case(&sched_plugin_node_name, NULL, s, &names[i]);
#define PORT(p) "{\"spec\":{\"containers\":[{\"name\":\"c\",\"ports\":[" p "]}]}}"
  static const struct fcase ports[] = {
      {"same port", PORT("{\"containerPort\":80,\"hostPort\":80}"), "n2", UNS,
       "node(s) didn't have free ports for the requested pod ports"},
      {"other protocol", PORT("{\"containerPort\":80,\"hostPort\":80,\"protocol\":\"UDP\"}"), "n2", OK, ""},
      {"other port", PORT("{\"containerPort\":80,\"hostPort\":81}"), "n2", OK, ""},
      {"specific IP vs wildcard", PORT("{\"containerPort\":80,\"hostPort\":80,\"hostIP\":\"10.0.0.1\"}"), "n2", UNS,
       "node(s) didn't have free ports for the requested pod ports"},
      {"different IPs", PORT("{\"containerPort\":1,\"hostPort\":8080,\"hostIP\":\"10.0.0.1\"}"), "n2", OK, ""},
      {"wildcard vs specific", PORT("{\"containerPort\":1,\"hostPort\":8080}"), "n2", UNS,
       "node(s) didn't have free ports for the requested pod ports"},
      {"container port only", PORT("{\"containerPort\":80}"), "n2", OK, ""},
      {"free node", PORT("{\"containerPort\":80,\"hostPort\":80}"), "n1", OK, ""},
  };
  for (size_t i = 0; i < sizeof ports / sizeof ports[0]; i++) check_case(&sched_plugin_node_ports, NULL, s, &ports[i]);
  /* The port is released with the pod. */
  sched_snapshot_remove_pod(s, "default", "web", "n2");
  check_case(&sched_plugin_node_ports, NULL, s,
             &(struct fcase){"released", PORT("{\"containerPort\":80,\"hostPort\":80}"), "n2", OK, ""});
  sched_snapshot_free(s);
}

/* ---- InterPodAffinity ---- */

#define REQ_AFF(kind, sel, key)                                                                                        \
  "{\"affinity\":{\"" kind                                                                                             \
  "\":{\"requiredDuringSchedulingIgnoredDuringExecution\":[{\"labelSelector\":{\"matchLabels\":" sel                   \
  "},\"topologyKey\":\"" key "\"}]}}}"

static void test_inter_pod_affinity(void **state)
{
  static const struct fcase cases[] = {
      {"no terms", "{}", "n1", OK, ""},
      {"affinity same zone", "{\"spec\":" REQ_AFF("podAffinity", "{\"app\":\"db\"}", "zone") "}", "n2", OK, ""},
      {"affinity other zone", "{\"spec\":" REQ_AFF("podAffinity", "{\"app\":\"db\"}", "zone") "}", "n3", UNR,
       "node(s) didn't match pod affinity rules"},
      {"affinity missing key", "{\"spec\":" REQ_AFF("podAffinity", "{\"app\":\"db\"}", "zone") "}", "n4", UNR,
       "node(s) didn't match pod affinity rules"},
      {"affinity other namespace",
       "{\"metadata\":{\"namespace\":\"other\"},\"spec\":" REQ_AFF("podAffinity", "{\"app\":\"db\"}", "zone") "}", "n1",
       UNR, "node(s) didn't match pod affinity rules"},
      {"first of a group",
       "{\"metadata\":{\"labels\":{\"app\":\"new\"}},\"spec\":" REQ_AFF("podAffinity", "{\"app\":\"new\"}", "zone") "}",
       "n3", OK, ""},
      {"anti-affinity same zone", "{\"spec\":" REQ_AFF("podAntiAffinity", "{\"app\":\"db\"}", "zone") "}", "n2", UNS,
       "node(s) didn't match pod anti-affinity rules"},
      {"anti-affinity other zone", "{\"spec\":" REQ_AFF("podAntiAffinity", "{\"app\":\"db\"}", "zone") "}", "n3", OK,
       ""},
      {"existing pod's anti-affinity", "{\"metadata\":{\"labels\":{\"app\":\"x\"}}}", "n3", UNS,
       "node(s) didn't satisfy existing pods anti-affinity rules"},
      {"existing anti-affinity other host", "{\"metadata\":{\"labels\":{\"app\":\"x\"}}}", "n1", OK, ""},
  };
  struct sched_snapshot *s = sched_snapshot_new();
  json_t *nodes[] = {
      mk_node("n1", "2", "4Gi", 10, "{\"metadata\":{\"labels\":{\"zone\":\"a\"}}}"),
      mk_node("n2", "2", "4Gi", 10, "{\"metadata\":{\"labels\":{\"zone\":\"a\"}}}"),
      mk_node("n3", "2", "4Gi", 10, "{\"metadata\":{\"labels\":{\"zone\":\"b\"}}}"),
      mk_node("n4", "2", "4Gi", 10, NULL),
  };
  add_nodes(s, nodes, 4);
  add_pod_on(s, mk_pod("{\"metadata\":{\"name\":\"db\",\"labels\":{\"app\":\"db\"}}}"), "n1");
  add_pod_on(s,
             mk_pod("{\"metadata\":{\"name\":\"web\",\"labels\":{\"app\":\"web\"}},\"spec\":" REQ_AFF(
                 "podAntiAffinity", "{\"app\":\"x\"}", "kubernetes.io/hostname") "}"),
             "n3");
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    check_case(&sched_plugin_inter_pod_affinity, NULL, s, &cases[i]);
  sched_snapshot_free(s);
}

/* ---- PodTopologySpread ---- */

#define TSC(skew, key, extra)                                                                                          \
  "{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"topologySpreadConstraints\":[{\"maxSkew\":" skew           \
  ",\"topologyKey\":\"" key                                                                                            \
  "\",\"whenUnsatisfiable\":\"DoNotSchedule\",\"labelSelector\":{\"matchLabels\":{\"app\":\"web\"}}" extra "}]}}"

static void test_pod_topology_spread(void **state)
{
  static const struct fcase cases[] = {
      {"crowded zone", TSC("1", "zone", ""), "n1", UNS, "node(s) didn't match pod topology spread constraints"},
      {"crowded zone other node", TSC("1", "zone", ""), "n2", UNS,
       "node(s) didn't match pod topology spread constraints"},
      {"empty zone", TSC("1", "zone", ""), "n3", OK, ""},
      {"large skew", TSC("3", "zone", ""), "n1", OK, ""},
      {"missing label", TSC("1", "zone", ""), "n4", UNR,
       "node(s) didn't match pod topology spread constraints (missing required label)"},
      {"hostname", TSC("1", "kubernetes.io/hostname", ""), "n2", OK, ""},
      {"ScheduleAnyway is not a filter",
       "{\"spec\":{\"topologySpreadConstraints\":[{\"maxSkew\":1,\"topologyKey\":\"zone\",\"whenUnsatisfiable\":"
       "\"ScheduleAnyway\","
       "\"labelSelector\":{\"matchLabels\":{\"app\":\"web\"}}}]}}",
       "n1", OK, ""},
      /* zone a has 2, zone b 1: skew 2+1-1 = 2 fits maxSkew 2 ... */
      {"min from other zone", TSC("2", "zone", ""), "n1", OK, ""},
      /* ... but with minDomains 3 and only 2 zones the minimum counts as 0. */
      {"minDomains", TSC("2", "zone", ",\"minDomains\":3"), "n1", UNS,
       "node(s) didn't match pod topology spread constraints"},
      /* 2 - 1 = 1: fits only because the pod does not match its own selector. */
      {"self match counts", TSC("1", "zone", ""), "n1", UNS, "node(s) didn't match pod topology spread constraints"},
      {"selector not matching self",
       "{\"spec\":{\"topologySpreadConstraints\":[{\"maxSkew\":1,\"topologyKey\":\"zone\","
       "\"whenUnsatisfiable\":\"DoNotSchedule\",\"labelSelector\":{\"matchLabels\":{\"app\":\"web\"}}}]}}",
       "n1", OK, ""},
  };
  struct sched_snapshot *s = sched_snapshot_new();
  json_t *nodes[] = {
      mk_node("n1", "2", "4Gi", 10, "{\"metadata\":{\"labels\":{\"zone\":\"a\"}}}"),
      mk_node("n2", "2", "4Gi", 10, "{\"metadata\":{\"labels\":{\"zone\":\"a\"}}}"),
      mk_node("n3", "2", "4Gi", 10, "{\"metadata\":{\"labels\":{\"zone\":\"b\"}}}"),
      mk_node("n4", "2", "4Gi", 10, NULL),
  };
  add_nodes(s, nodes, 4);
  add_pod_on(s, mk_pod("{\"metadata\":{\"name\":\"w1\",\"labels\":{\"app\":\"web\"}}}"), "n1");
  add_pod_on(s, mk_pod("{\"metadata\":{\"name\":\"w2\",\"labels\":{\"app\":\"web\"}}}"), "n1");
  /* Neither a terminating pod nor one in another namespace counts. */
  add_pod_on(s,
             mk_pod("{\"metadata\":{\"name\":\"w3\",\"deletionTimestamp\":\"2024-01-01T00:00:00Z\",\"labels\":{\"app\":"
                    "\"web\"}}}"),
             "n3");
  add_pod_on(s, mk_pod("{\"metadata\":{\"name\":\"w4\",\"namespace\":\"other\",\"labels\":{\"app\":\"web\"}}}"), "n3");
  for (size_t i = 0; i < 7; i++) check_case(&sched_plugin_pod_topology_spread, NULL, s, &cases[i]);
  add_pod_on(s, mk_pod("{\"metadata\":{\"name\":\"w5\",\"labels\":{\"app\":\"web\"}}}"), "n3");
  for (size_t i = 7; i < sizeof cases / sizeof cases[0]; i++)
    check_case(&sched_plugin_pod_topology_spread, NULL, s, &cases[i]);
  sched_snapshot_free(s);
}

/* Which nodes count as domains: nodeTaintsPolicy and nodeAffinityPolicy. */
static void test_pod_topology_spread_policies(void **state)
{
  struct sched_snapshot *s = sched_snapshot_new();
  json_t *nodes[] = {
      mk_node("n1", "2", "4Gi", 10, "{\"metadata\":{\"labels\":{\"zone\":\"a\"}}}"),
      mk_node("n2", "2", "4Gi", 10,
              "{\"metadata\":{\"labels\":{\"zone\":\"b\"}},\"spec\":{\"taints\":[{\"key\":\"k\",\"effect\":"
              "\"NoSchedule\"}]}}"),
      mk_node("n3", "2", "4Gi", 10, "{\"metadata\":{\"labels\":{\"zone\":\"c\"}}}"),
  };
  add_nodes(s, nodes, 3);
  add_pod_on(s, mk_pod("{\"metadata\":{\"name\":\"w1\",\"labels\":{\"app\":\"web\"}}}"), "n1");
  add_pod_on(s, mk_pod("{\"metadata\":{\"name\":\"w2\",\"labels\":{\"app\":\"web\"}}}"), "n1");
  add_pod_on(s, mk_pod("{\"metadata\":{\"name\":\"w3\",\"labels\":{\"app\":\"web\"}}}"), "n3");
  /* Zone b (empty) counts by default, so the minimum is 0 and zone c is too full. */
  check_case(&sched_plugin_pod_topology_spread, NULL, s,
             &(struct fcase){"taints ignored", TSC("1", "zone", ""), "n3", UNS,
                             "node(s) didn't match pod topology spread constraints"});
  check_case(&sched_plugin_pod_topology_spread, NULL, s,
             &(struct fcase){"taints honored", TSC("1", "zone", ",\"nodeTaintsPolicy\":\"Honor\""), "n3", OK, ""});
#define SPREAD_AFF(policy)                                                                                             \
  "{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"nodeSelector\":{\"zone\":\"c\"},"                          \
  "\"topologySpreadConstraints\":[{\"maxSkew\":1,"                                                                     \
  "\"topologyKey\":\"zone\",\"whenUnsatisfiable\":\"DoNotSchedule\",\"labelSelector\":{\"matchLabels\":{\"app\":"      \
  "\"web\"}}" policy "}]}}"
  /* Only zone c matches the pod's nodeSelector: it is the only domain. */
  check_case(&sched_plugin_pod_topology_spread, NULL, s,
             &(struct fcase){"affinity honored", SPREAD_AFF(""), "n3", OK, ""});
  check_case(&sched_plugin_pod_topology_spread, NULL, s,
             &(struct fcase){"affinity ignored", SPREAD_AFF(",\"nodeAffinityPolicy\":\"Ignore\""), "n3", UNS,
                             "node(s) didn't match pod topology spread constraints"});
  /* matchLabelKeys narrows the selector to the pod's own value. */
  add_pod_on(s, mk_pod("{\"metadata\":{\"name\":\"v1\",\"labels\":{\"app\":\"web\",\"rev\":\"1\"}}}"), "n3");
  check_case(
      &sched_plugin_pod_topology_spread, NULL, s,
      &(struct fcase){"matchLabelKeys",
                      "{\"metadata\":{\"labels\":{\"app\":\"web\",\"rev\":\"2\"}},\"spec\":{"
                      "\"topologySpreadConstraints\":[{\"maxSkew\":1,"
                      "\"topologyKey\":\"zone\",\"whenUnsatisfiable\":\"DoNotSchedule\",\"matchLabelKeys\":[\"rev\"],"
                      "\"labelSelector\":{\"matchLabels\":{\"app\":\"web\"}}}]}}",
                      "n1", OK, ""});
  sched_snapshot_free(s);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_node_resources_fit),
      cmocka_unit_test(test_node_affinity),
      cmocka_unit_test(test_taint_toleration),
      cmocka_unit_test(test_simple_filters),
      cmocka_unit_test(test_inter_pod_affinity),
      cmocka_unit_test(test_pod_topology_spread),
      cmocka_unit_test(test_pod_topology_spread_policies),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
