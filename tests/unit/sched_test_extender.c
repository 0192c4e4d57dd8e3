/*
 * sched_test_extender.c - KubeSchedulerConfiguration profiles and
 * extenders[]: decoding and validation with upstream's messages, which
 * pods an extender is interested in, the ExtenderArgs and
 * ExtenderBindingArgs sent, merging ExtenderFilterResult and
 * HostPriorityList answers, the call outcome messages, and a cycle cut in
 * two around the extenders (sched_schedule_filter / _finish).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "extender.h"
#include "preemption.h"
#include "sched_test_util.h"

static struct sched_config *cfg_from(const char *json)
{
  char err[512] = "";
  json_t *j = tj(json);
  struct sched_config *c = sched_config_parse(j, err, sizeof err);
  json_decref(j);
  if (!c) fail_msg("config: %s", err);
  return c;
}

#define EXT(x) "{\"extenders\":[" x "]}"

static void test_config_errors(void **state)
{
  static const struct {
    const char *cfg, *want; /* want ending in '*': a prefix */
  } cases[] = {
      {"{\"profiles\":[{\"schedulerName\":\"a\"},{}]}", "profiles[1].schedulerName: Required value"},
      {"{\"profiles\":[{\"schedulerName\":\"\"}]}", "profiles[0].schedulerName: Required value"},
      {"{\"profiles\":[{\"schedulerName\":\"a\"},{\"schedulerName\":\"a\"}]}",
       "profiles[1].schedulerName: Duplicate value: \"a\""},
      {"{\"profiles\":[{\"schedulerName\":7}]}",
       "json: cannot unmarshal number into Go struct field KubeSchedulerProfile.profiles.schedulerName of type string"},
      {"{\"profiles\":[{\"schedulerName\":\"a\",\"pluginConfig\":[{\"name\":\"NodeResourcesFit\",\"args\":{}},"
       "{\"name\":\"ImageLocality\"},{\"name\":\"NodeResourcesFit\",\"args\":{}}]}]}",
       "profiles[0].pluginConfig[2]: Duplicate value: \"NodeResourcesFit\""},
      {EXT("{\"urlPrefix\":\"http://x\",\"prioritizeVerb\":\"p\"}"),
       "extenders[0].weight: Invalid value: 0: must have a positive weight applied to it"},
      {EXT("{\"urlPrefix\":\"http://x\"},{\"urlPrefix\":\"http://y\",\"prioritizeVerb\":\"p\",\"weight\":-2}"),
       "extenders[1].weight: Invalid value: -2: must have a positive weight applied to it"},
      {EXT("{\"urlPrefix\":\"http://x\",\"bindVerb\":\"b\"},{\"urlPrefix\":\"http://y\",\"bindVerb\":\"b\"}"),
       "extenders: Invalid value: \"found 2 extenders implementing bind\": only one extender can implement bind"},
      {EXT("{\"urlPrefix\":\"http://x\",\"managedResources\":[{\"name\":\"cpu\"}]}"),
       "extenders[0].managedResources[0].name: Invalid value: \"cpu\": is an invalid extended resource name"},
      {EXT("{\"urlPrefix\":\"http://x\",\"managedResources\":[{\"name\":\"kubernetes.io/gpu\"}]}"),
       "extenders[0].managedResources[0].name: Invalid value: \"kubernetes.io/gpu\": is an invalid extended resource "
       "name"},
      {EXT("{\"urlPrefix\":\"http://x\",\"managedResources\":[{\"name\":\"example.com/a b\"}]}"),
       "extenders[0].managedResources[0].name: Invalid value: \"example.com/a b\": name part must consist of*"},
      {EXT("{\"urlPrefix\":\"http://x\",\"managedResources\":[{\"name\":\"example.com/a\"}]},"
           "{\"urlPrefix\":\"http://y\",\"managedResources\":[{\"name\":\"example.com/b\"},{\"name\":\"example.com/"
           "a\"}]}"),
       "extenders[1].managedResources[1].name: Invalid value: \"example.com/a\": duplicate extender managed resource "
       "name"},
      {EXT("{\"urlPrefix\":\"http://x\",\"bogus\":1}"), "strict decoding error: unknown field \"extenders[0].bogus\""},
      {EXT("{\"urlPrefix\":\"http://x\",\"tlsConfig\":{\"caPath\":\"/x\"}}"),
       "strict decoding error: unknown field \"extenders[0].tlsConfig.caPath\""},
      {EXT("{\"urlPrefix\":\"http://x\",\"weight\":\"5\"}"),
       "json: cannot unmarshal string into Go struct field Extender.extenders.weight of type int64"},
      {EXT("{\"urlPrefix\":\"http://x\",\"ignorable\":\"yes\"}"),
       "json: cannot unmarshal string into Go struct field Extender.extenders.ignorable of type bool"},
      {EXT("{\"urlPrefix\":\"http://x\",\"httpTimeout\":\"soon\"}"), "time: invalid duration \"soon\""},
      {EXT("{\"urlPrefix\":\"http://x\",\"tlsConfig\":{\"caData\":\"!!!\"}}"), "illegal base64 data at input byte 0"},
      {EXT("{\"filterVerb\":\"f\"}"), "extenders[0].urlPrefix: Required value"},
      {"{\"extenders\":{}}",
       "json: cannot unmarshal object into Go struct field KubeSchedulerConfiguration.extenders of type []v1.Extender"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char err[512] = "";
    json_t *j = tj(cases[i].cfg);
    struct sched_config *c = sched_config_parse(j, err, sizeof err);
    json_decref(j);
    if (c) {
      sched_config_free(c);
      fail_msg("accepted: %s", cases[i].cfg);
    }
    size_t n = strlen(cases[i].want);
    bool prefix = cases[i].want[n - 1] == '*';
    if (prefix ? strncmp(err, cases[i].want, n - 1) != 0 : strcmp(err, cases[i].want) != 0)
      fail_msg("%s:\n got  %s\n want %s", cases[i].cfg, err, cases[i].want);
  }
}

static void test_config_extenders(void **state)
{
  struct sched_config *c =
      cfg_from(EXT("{\"urlPrefix\":\"https://127.0.0.1:9/ext/\",\"filterVerb\":\"filter\",\"prioritizeVerb\":\"prio\","
                   "\"weight\":3,\"enableHTTPS\":true,\"nodeCacheCapable\":true,\"ignorable\":true},"
                   "{\"urlPrefix\":\"https://127.0.0.1:9\",\"bindVerb\":\"bind\",\"httpTimeout\":\"1500ms\","
                   "\"tlsConfig\":{\"caData\":\"LS0tLS1CRUdJTg==\",\"serverName\":\"ext.local\"},"
                   "\"managedResources\":[{\"name\":\"example.com/"
                   "gpu\",\"ignoredByScheduler\":true},{\"name\":\"example.com/fpga\"}]}"));
  assert_int_equal(c->nextenders, 2);
  struct sched_extender *a = &c->extenders[0], *b = &c->extenders[1];
  assert_string_equal(a->filter_verb, "filter");
  assert_string_equal(a->prioritize_verb, "prio");
  assert_null(a->bind_verb);
  assert_int_equal(a->weight, 3);
  assert_true(a->node_cache_capable && a->ignorable);
  assert_int_equal(a->http_timeout_ms, SCHED_EXTENDER_DEFAULT_TIMEOUT_MS);
  assert_true(a->conn.insecure); /* HTTPS without a CA is not verified, as upstream */
  assert_int_equal(a->conn.max_tries, 1);
  assert_int_equal(b->http_timeout_ms, 1500);
  assert_false(b->conn.insecure);
  assert_int_equal(b->conn.ca_len, 10);
  assert_memory_equal(b->conn.ca_data, "-----BEGIN", 10);
  assert_string_equal(b->conn.tls_server_name, "ext.local");
  assert_true(json_is_true(json_object_get(b->managed, "example.com/gpu")));
  assert_true(json_is_false(json_object_get(b->managed, "example.com/fpga")));
  assert_null(json_object_get(b->managed, "cpu"));
  assert_non_null(sched_config_profile(c, "default-scheduler"));
  sched_config_free(c);
}

/* ignoredByScheduler resources are the extender's business: the
 * profiles' NodeResourcesFit no longer checks them, in every profile. */
static void test_ignored_by_scheduler(void **state)
{
  struct sched_snapshot *s = sched_snapshot_new();
  json_t *nodes[] = {mk_node("a", "4", "8Gi", 110, NULL)};
  add_nodes(s, nodes, 1);
  json_t *pod =
      mk_pod("{\"spec\":{\"containers\":[{\"name\":\"c\",\"resources\":{\"requests\":{\"example.com/gpu\":\"1\"},"
             "\"limits\":{\"example.com/gpu\":\"1\"}}}]}}");
  static const char *const cfgs[] = {
      "{\"profiles\":[{\"schedulerName\":\"x\"},{\"schedulerName\":\"y\",\"pluginConfig\":[{\"name\":"
      "\"NodeResourcesFit\","
      "\"args\":{\"scoringStrategy\":{\"type\":\"MostAllocated\"}}}]}],"
      "\"extenders\":[{\"urlPrefix\":\"http://x\",\"filterVerb\":\"f\",\"managedResources\":"
      "[{\"name\":\"example.com/gpu\",\"ignoredByScheduler\":%s}]}]}",
  };
  for (int ignored = 0; ignored < 2; ignored++) {
    char buf[1024];
    snprintf(buf, sizeof buf, cfgs[0], ignored ? "true" : "false");
    struct sched_config *c = cfg_from(buf);
    const char *profiles[] = {"x", "y"};
    for (int p = 0; p < 2; p++) {
      struct sched_result r;
      int rc = sched_schedule_one(sched_config_profile(c, profiles[p]), s, pod, &r);
      if (ignored) {
        assert_int_equal(rc, 0);
      } else {
        assert_int_equal(rc, -ENOSPC);
        assert_non_null(strstr(r.message, "1 Insufficient example.com/gpu"));
      }
      sched_result_clear(&r);
    }
    sched_config_free(c);
  }
  json_decref(pod);
  sched_snapshot_free(s);
}

static struct sched_extender *one_extender(const char *spec)
{
  char buf[1024], err[256] = "";
  snprintf(buf, sizeof buf, "[%s]", spec);
  json_t *j = tj(buf);
  struct sched_extender *e = NULL;
  size_t n = 0;
  if (sched_extenders_parse(j, &e, &n, err, sizeof err) < 0 || n != 1) fail_msg("extender: %s", err);
  json_decref(j);
  return e;
}

static void test_interested(void **state)
{
  struct sched_extender *all = one_extender("{\"urlPrefix\":\"http://x\",\"filterVerb\":\"f\"}");
  struct sched_extender *gpu = one_extender(
      "{\"urlPrefix\":\"http://x\",\"filterVerb\":\"f\",\"managedResources\":[{\"name\":\"example.com/gpu\"}]}");
  json_t *plain = mk_req_pod("p", "1", NULL);
  json_t *req = mk_pod("{\"spec\":{\"containers\":[{\"name\":\"a\"},{\"name\":\"c\",\"resources\":{\"requests\":"
                       "{\"cpu\":\"1\",\"example.com/gpu\":\"1\"}}}]}}");
  json_t *init_lim = mk_pod("{\"spec\":{\"initContainers\":[{\"name\":\"i\",\"resources\":{\"limits\":"
                            "{\"example.com/gpu\":\"2\"}}}]}}");
  json_t *other = mk_pod("{\"spec\":{\"containers\":[{\"name\":\"c\",\"resources\":{\"requests\":"
                         "{\"example.com/fpga\":\"1\"}}}]}}");
  assert_true(sched_extender_interested(all, plain));
  assert_false(sched_extender_interested(gpu, plain));
  assert_true(sched_extender_interested(gpu, req));
  assert_true(sched_extender_interested(gpu, init_lim));
  assert_false(sched_extender_interested(gpu, other));
  json_decref(plain);
  json_decref(req);
  json_decref(init_lim);
  json_decref(other);
  sched_extenders_free(all, 1);
  sched_extenders_free(gpu, 1);
}

static struct sched_snapshot *three_nodes(void)
{
  struct sched_snapshot *s = sched_snapshot_new();
  json_t *nodes[] = {mk_node("a", "4", "8Gi", 110, NULL), mk_node("b", "4", "8Gi", 110, NULL),
                     mk_node("c", "4", "8Gi", 110, NULL)};
  add_nodes(s, nodes, 3);
  return s;
}

static void test_args(void **state)
{
  struct sched_snapshot *s = three_nodes();
  struct sched_extender *full = one_extender("{\"urlPrefix\":\"http://x\",\"filterVerb\":\"f\"}");
  struct sched_extender *cached =
      one_extender("{\"urlPrefix\":\"http://x\",\"filterVerb\":\"f\",\"nodeCacheCapable\":true}");
  json_t *pod = mk_req_pod("p", "1", NULL);
  json_t *names = tj("[\"c\",\"gone\",\"a\"]");
  json_t *args = sched_extender_args(full, pod, names, s);
  assert_ptr_equal(json_object_get(args, "pod"), pod); /* the pod itself, not a summary */
  assert_null(json_object_get(args, "nodenames"));
  json_t *items = kj_get(args, "nodes.items");
  assert_int_equal(json_array_size(items), 2);
  assert_ptr_equal(json_array_get(items, 0), sched_snapshot_node(s, "c")->node);
  assert_ptr_equal(json_array_get(items, 1), sched_snapshot_node(s, "a")->node);
  assert_true(json_is_object(kj_get(args, "nodes.metadata")));
  json_decref(args);
  args = sched_extender_args(cached, pod, names, s);
  assert_null(json_object_get(args, "nodes"));
  char *d = kj_dumps(json_object_get(args, "nodenames"));
  assert_string_equal(d, "[\"c\",\"a\"]");
  free(d);
  json_decref(args);
  kj_set_str(pod, "metadata.uid", "u-1");
  args = sched_extender_binding_args(pod, "b");
  d = kj_dumps_canonical(args);
  assert_string_equal(d, "{\"node\":\"b\",\"podName\":\"p\",\"podNamespace\":\"default\",\"podUID\":\"u-1\"}");
  free(d);
  json_decref(args);
  json_decref(names);
  json_decref(pod);
  sched_extenders_free(full, 1);
  sched_extenders_free(cached, 1);
  sched_snapshot_free(s);
}

static void expect_json(const json_t *v, const char *want)
{
  char *d = kj_dumps_canonical(v);
  json_t *w = tj(want);
  char *dw = kj_dumps_canonical(w);
  if (strcmp(d, dw) != 0) fail_msg("got  %s\nwant %s", d, dw);
  free(d);
  free(dw);
  json_decref(w);
}

static void test_apply_filter(void **state)
{
  struct sched_extender *full = one_extender("{\"urlPrefix\":\"http://x/\",\"filterVerb\":\"f\"}");
  struct sched_extender *cached =
      one_extender("{\"urlPrefix\":\"http://x\",\"filterVerb\":\"f\",\"nodeCacheCapable\":true}");
  char msg[512];
  json_t *feasible = tj("[\"a\",\"b\",\"c\",\"d\"]");
  json_t *failed = tj("{\"z\":{\"code\":2,\"reasons\":[\"Insufficient cpu\"]}}");
  /* NodeList answer; a node in both maps counts as unresolvable. */
  json_t *res = tj(
      "{\"nodes\":{\"items\":[{\"metadata\":{\"name\":\"b\"}},{\"metadata\":{\"name\":\"d\"}}]},"
      "\"failedNodes\":{\"a\":\"no disk\",\"c\":\"busy\"},\"failedAndUnresolvableNodes\":{\"c\":\"gone for good\"}}");
  assert_int_equal(sched_extender_apply_filter(full, res, feasible, failed, msg, sizeof msg), 0);
  expect_json(feasible, "[\"b\",\"d\"]");
  char want[512];
  snprintf(want, sizeof want,
           "{\"z\":{\"code\":2,\"reasons\":[\"Insufficient cpu\"]},\"a\":{\"code\":%d,\"reasons\":[\"no disk\"]},"
           "\"c\":{\"code\":%d,\"reasons\":[\"gone for good\"]}}",
           SCHED_UNSCHEDULABLE, SCHED_UNRESOLVABLE);
  expect_json(failed, want);
  json_decref(res);

  /* Names from a nodeCacheCapable extender. */
  res = tj("{\"nodenames\":[\"d\"],\"failedNodes\":{\"b\":\"nope\"}}");
  assert_int_equal(sched_extender_apply_filter(cached, res, feasible, failed, msg, sizeof msg), 0);
  expect_json(feasible, "[\"d\"]");
  json_decref(res);

  /* A node that was not offered, or the answer's error: refused, nothing changed. */
  res = tj("{\"nodenames\":[\"d\",\"q\"]}");
  assert_int_equal(sched_extender_apply_filter(cached, res, feasible, failed, msg, sizeof msg), -EINVAL);
  assert_string_equal(msg,
                      "extender \"http://x\" claims a filtered node \"q\" which is not found in the input node list");
  expect_json(feasible, "[\"d\"]");
  json_decref(res);
  res = tj("{\"nodes\":{\"items\":[{\"metadata\":{\"name\":\"q\"}}]}}");
  assert_int_equal(sched_extender_apply_filter(full, res, feasible, failed, msg, sizeof msg), -EINVAL);
  assert_string_equal(msg,
                      "extender \"http://x/\" claims a filtered node \"q\" which is not found in the input node list");
  json_decref(res);
  res = tj("{\"nodenames\":[],\"error\":\"disk service down\"}");
  assert_int_equal(sched_extender_apply_filter(cached, res, feasible, failed, msg, sizeof msg), -EINVAL);
  assert_string_equal(msg, "disk service down");
  expect_json(feasible, "[\"d\"]");
  json_decref(res);

  /* A nodeCacheCapable extender answering a NodeList is read as one;
   * an answer with neither keeps no node (as upstream). */
  res = tj("{\"nodes\":{\"items\":[{\"metadata\":{\"name\":\"d\"}}]}}");
  assert_int_equal(sched_extender_apply_filter(cached, res, feasible, failed, msg, sizeof msg), 0);
  expect_json(feasible, "[\"d\"]");
  json_decref(res);
  res = tj("{}");
  assert_int_equal(sched_extender_apply_filter(full, res, feasible, failed, msg, sizeof msg), 0);
  assert_int_equal(json_array_size(feasible), 0);
  json_decref(res);
  json_decref(feasible);
  json_decref(failed);
  sched_extenders_free(full, 1);
  sched_extenders_free(cached, 1);
}

static void test_priorities(void **state)
{
  struct sched_extender *a = one_extender("{\"urlPrefix\":\"http://a\",\"prioritizeVerb\":\"p\",\"weight\":2}");
  struct sched_extender *b = one_extender("{\"urlPrefix\":\"http://b\",\"prioritizeVerb\":\"p\",\"weight\":1}");
  json_t *scores = json_object();
  json_t *la = tj("[{\"host\":\"x\",\"score\":3},{\"host\":\"y\",\"score\":0},{\"score\":9}]");
  json_t *lb = tj("[{\"host\":\"x\",\"score\":1},{\"host\":\"y\",\"score\":10}]");
  sched_extender_add_priorities(a, la, scores);
  sched_extender_add_priorities(b, lb, scores);
  /* score * weight * (MaxNodeScore 100 / MaxExtenderPriority 10) */
  expect_json(scores, "{\"x\":70,\"y\":100}");
  json_decref(la);
  json_decref(lb);
  json_decref(scores);
  sched_extenders_free(a, 1);
  sched_extenders_free(b, 1);
}

static void test_reply(void **state)
{
  struct sched_extender *e = one_extender("{\"urlPrefix\":\"http://127.0.0.1:9/sched//\",\"filterVerb\":\"filter\"}");
  char msg[512];
  struct rest_status down = {.code = 0, .reason = "", .message = "Couldn't connect to server"};
  assert_int_equal(sched_extender_reply(e, "filter", 0, NULL, &down, msg, sizeof msg), -EIO);
  assert_string_equal(msg, "Post \"http://127.0.0.1:9/sched/filter\": Couldn't connect to server");
  struct rest_status five = {.code = 500, .reason = "InternalError", .message = "x"};
  assert_int_equal(sched_extender_reply(e, "filter", 500, NULL, &five, msg, sizeof msg), -EIO);
  assert_string_equal(msg, "failed filter with extender at URL http://127.0.0.1:9/sched/filter, code 500");
  /* Only 200 is success, as upstream. */
  json_t *obj = tj("{}");
  assert_int_equal(sched_extender_reply(e, "filter", 201, obj, NULL, msg, sizeof msg), -EIO);
  assert_string_equal(msg, "failed filter with extender at URL http://127.0.0.1:9/sched/filter, code 201");
  assert_int_equal(sched_extender_reply(e, "filter", 200, NULL, NULL, msg, sizeof msg), -EIO);
  assert_non_null(strstr(msg, "the answer is not JSON"));
  assert_int_equal(sched_extender_reply(e, "filter", 200, obj, NULL, msg, sizeof msg), 0);
  json_decref(obj);
  sched_extenders_free(e, 1);
}

/* The cycle cut in two: Filter, then what extenders did, then Score. */
static void test_two_phase_cycle(void **state)
{
  struct sched_config *c = cfg_from("{}");
  struct sched_profile *p = sched_config_profile(c, "default-scheduler");
  struct sched_snapshot *s = three_nodes();
  json_t *cp = mk_node("cp", "4", "8Gi", 110,
                       "{\"spec\":{\"taints\":[{\"key\":\"dedicated\",\"value\":\"x\",\"effect\":\"NoSchedule\"}]}}");
  sched_snapshot_set_node(s, cp);
  json_decref(cp);
  add_pod_on(s, mk_req_pod("busy", "3", NULL), "a");
  json_t *pod = mk_req_pod("p", "100m", NULL);
  struct sched_partial part;
  struct sched_result r;
  assert_int_equal(sched_schedule_filter(p, s, pod, &part, &r), 0);
  assert_int_equal(r.evaluated_nodes, 4);
  assert_int_equal(json_array_size(part.feasible), 3);
  assert_non_null(json_object_get(part.failed, "cp"));
  /* An extender drops b; plain scores would prefer c or b (a is busy),
   * but the extenders' scores favour a. */
  struct sched_extender *e =
      one_extender("{\"urlPrefix\":\"http://x\",\"filterVerb\":\"f\",\"nodeCacheCapable\":true}");
  char msg[256];
  json_t *ans = tj("{\"nodenames\":[\"a\",\"c\"],\"failedNodes\":{\"b\":\"b is out\"}}");
  assert_int_equal(sched_extender_apply_filter(e, ans, part.feasible, part.failed, msg, sizeof msg), 0);
  json_decref(ans);
  json_t *scores = tj("{\"a\":1000}");
  assert_int_equal(sched_schedule_finish(p, s, pod, &part, scores, &r), 0);
  assert_string_equal(r.node_name, "a");
  assert_int_equal(r.evaluated_nodes, 4);
  sched_result_clear(&r);
  assert_int_equal(sched_schedule_finish(p, s, pod, &part, NULL, &r), 0);
  assert_string_equal(r.node_name, "c");
  sched_result_clear(&r);
  /* A feasible node deleted while the extenders were asked is skipped. */
  sched_snapshot_remove_node(s, "c");
  json_decref(scores);
  scores = tj("{\"c\":1000}");
  assert_int_equal(sched_schedule_finish(p, s, pod, &part, scores, &r), 0);
  assert_string_equal(r.node_name, "a");
  sched_result_clear(&r);
  /* The last extender drops everything: its reasons join the FitError. */
  ans = tj("{\"nodenames\":[],\"failedNodes\":{\"a\":\"a is out\"}}");
  assert_int_equal(sched_extender_apply_filter(e, ans, part.feasible, part.failed, msg, sizeof msg), 0);
  json_decref(ans);
  assert_int_equal(sched_schedule_finish(p, s, pod, &part, scores, &r), -ENOSPC);
  assert_string_equal(
      r.message, "0/3 nodes are available: 1 a is out, 1 b is out, 1 node(s) had untolerated taint {dedicated: x}. "
                 "preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, "
                 "2 No preemption victims found for incoming pod..");
  assert_non_null(r.node_codes);
  sched_result_clear(&r);
  sched_partial_clear(&part);
  /* Rejected before any node is looked at: no partial. */
  sched_snapshot_free(s);
  s = sched_snapshot_new();
  assert_int_equal(sched_schedule_filter(p, s, pod, &part, &r), -ENOSPC);
  assert_string_equal(r.message, "no nodes available to schedule pods");
  assert_null(part.feasible);
  sched_result_clear(&r);
  json_decref(scores);
  json_decref(pod);
  sched_extenders_free(e, 1);
  sched_snapshot_free(s);
  sched_config_free(c);
}

static void test_preemption(void **state)
{
  struct sched_snapshot *s = three_nodes();
  json_t *v1 = mk_pod("{\"metadata\":{\"name\":\"v1\",\"uid\":\"u1\"},\"spec\":{\"priority\":5}}");
  json_t *v2 = mk_pod("{\"metadata\":{\"name\":\"v2\",\"uid\":\"u2\"},\"spec\":{\"priority\":1}}");
  json_t *v3 = mk_pod("{\"metadata\":{\"name\":\"v3\",\"uid\":\"u3\"},\"spec\":{\"priority\":1}}");
  sched_snapshot_add_pod(s, v1, "a", false);
  sched_snapshot_add_pod(s, v2, "b", false);
  sched_snapshot_add_pod(s, v3, "b", false);
  json_t *pod = mk_pod("{\"spec\":{\"priority\":10}}");
  json_t *cands = json_pack("{s:{s:[O],s:i},s:{s:[O,O],s:i}}", "a", "pods", v1, "numPDBViolations", 0, "b", "pods", v2,
                            v3, "numPDBViolations", 0);
  /* Without extenders: b (lower highest-victim priority) wins. */
  struct sched_preemption pr;
  assert_int_equal(sched_preemption_pick(cands, &pr), 0);
  assert_string_equal(pr.node_name, "b");
  assert_int_equal(json_array_size(pr.victims), 2);
  sched_preemption_clear(&pr);

  struct sched_extender *full = one_extender("{\"urlPrefix\":\"http://x\",\"preemptVerb\":\"p\"}");
  struct sched_extender *cached =
      one_extender("{\"urlPrefix\":\"http://x\",\"preemptVerb\":\"p\",\"nodeCacheCapable\":true}");
  json_t *args = sched_extender_preemption_args(full, pod, cands);
  assert_ptr_equal(kj_get(args, "nodeNameToVictims"), cands);
  json_decref(args);
  args = sched_extender_preemption_args(cached, pod, cands);
  expect_json(json_object_get(args, "nodeNameToMetaVictims"),
              "{\"a\":{\"pods\":[{\"uid\":\"u1\"}],\"numPDBViolations\":0},"
              "\"b\":{\"pods\":[{\"uid\":\"u2\"},{\"uid\":\"u3\"}],\"numPDBViolations\":0}}");
  json_decref(args);

  char msg[512];
  json_t *res = tj("{\"nodeNameToMetaVictims\":{\"a\":{\"pods\":[{\"uid\":\"u9\"}]}}}");
  assert_int_equal(sched_extender_apply_preemption(full, res, s, &cands, msg, sizeof msg), -EINVAL);
  assert_string_equal(
      msg, "extender: http://x claims to preempt pod (UID: u9) on node: a, but the pod is not found on that node");
  json_decref(res);
  res = tj("{\"nodeNameToMetaVictims\":{\"a\":{\"pods\":[]}}}");
  assert_int_equal(sched_extender_apply_preemption(full, res, s, &cands, msg, sizeof msg), -EINVAL);
  assert_string_equal(msg, "expected at least one victim pod on node \"a\"");
  json_decref(res);
  assert_int_equal(json_object_size(cands), 2); /* unchanged */
  /* The extender keeps only a: its choice wins. */
  res = tj("{\"nodeNameToMetaVictims\":{\"a\":{\"pods\":[{\"uid\":\"u1\"}],\"numPDBViolations\":1}}}");
  assert_int_equal(sched_extender_apply_preemption(full, res, s, &cands, msg, sizeof msg), 0);
  json_decref(res);
  assert_int_equal(sched_preemption_pick(cands, &pr), 0);
  assert_string_equal(pr.node_name, "a");
  assert_int_equal(pr.num_pdb_violations, 1);
  assert_ptr_equal(json_array_get(pr.victims, 0), sched_snapshot_node(s, "a")->pods[0].pod);
  sched_preemption_clear(&pr);
  json_decref(cands);
  cands = json_object();
  assert_int_equal(sched_preemption_pick(cands, &pr), -ENOENT);
  json_decref(cands);
  json_decref(v1);
  json_decref(v2);
  json_decref(v3);
  json_decref(pod);
  sched_extenders_free(full, 1);
  sched_extenders_free(cached, 1);
  sched_snapshot_free(s);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_config_errors),
      cmocka_unit_test(test_config_extenders),
      cmocka_unit_test(test_ignored_by_scheduler),
      cmocka_unit_test(test_interested),
      cmocka_unit_test(test_args),
      cmocka_unit_test(test_apply_filter),
      cmocka_unit_test(test_priorities),
      cmocka_unit_test(test_reply),
      cmocka_unit_test(test_two_phase_cycle),
      cmocka_unit_test(test_preemption),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
