/* Tests for kube/podutil.h: requests and limits as upstream's
 * PodRequests/PodLimits compute them, QoS classes, quota usage, readiness,
 * availability, controller references and container lookups. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "kube/json.h"
#include "kube/podutil.h"

static json_t *J(const char *s)
{
  json_error_t e;
  json_t *v = json_loads(s, 0, &e);
  if (!v) fail_msg("bad fixture: %s: %s", e.text, s);
  return v;
}

/* The list as "name=value,..." in the list's order, for comparisons. */
static void dump(const struct kres_list *l, char *out, size_t len)
{
  out[0] = '\0';
  for (size_t i = 0; i < l->n; i++) {
    char q[QUANTITY_STRING_MAX];
    size_t used = strlen(out);
    snprintf(out + used, len - used, "%s%s=%s", i ? "," : "", l->items[i].name,
             quantity_format(&l->items[i].q, q, sizeof q));
  }
}

#define C(req, lim) "{\"name\":\"c\",\"resources\":{\"requests\":" req ",\"limits\":" lim "}}"
#define SIDECAR(req, lim)                                                                                              \
  "{\"name\":\"s\",\"restartPolicy\":\"Always\",\"resources\":{\"requests\":" req ",\"limits\":" lim "}}"

static void test_requests_and_limits(void **state)
{
  (void)state;
  struct {
    const char *spec;
    const char *requests, *limits, *requests_no_overhead;
  } cases[] = {
      /* app containers add up */
      {"{\"containers\":[" C("{\"cpu\":\"100m\",\"memory\":\"1Gi\"}",
                             "{\"cpu\":\"1\"}") "," C("{\"cpu\":\"200m\"}", "{\"cpu\":\"500m\"}") "]}",
       "cpu=300m,memory=1Gi", "cpu=1500m", "cpu=300m,memory=1Gi"},
      /* a larger init container wins per resource */
      {"{\"initContainers\":[" C("{\"cpu\":\"2\"}",
                                 "{}") "],\"containers\":[" C("{\"cpu\":\"100m\",\"memory\":\"64Mi\"}", "{}") "]}",
       "cpu=2,memory=64Mi", "", "cpu=2,memory=64Mi"},
      /* sidecars run with the app containers and next to later init containers */
      {"{\"initContainers\":[" SIDECAR("{\"cpu\":\"500m\"}", "{\"cpu\":\"1\"}") "," C(
           "{\"cpu\":\"1\"}", "{\"cpu\":\"1\"}") "],\"containers\":[" C("{\"cpu\":\"100m\"}", "{}") "]}",
       "cpu=1500m", "cpu=2", "cpu=1500m"},
      /* the same sidecar after the init container: the init container runs alone */
      {"{\"initContainers\":[" C("{\"cpu\":\"1\"}", "{}") "," SIDECAR(
           "{\"cpu\":\"500m\"}", "{}") "],"
                                       "\"containers\":[" C("{\"cpu\":\"100m\"}", "{}") "]}",
       "cpu=1", "", "cpu=1"},
      /* overhead: added to requests; to limits only where a limit exists */
      {"{\"overhead\":{\"cpu\":\"250m\",\"memory\":\"120Mi\"},\"containers\":[" C("{\"cpu\":\"1\"}",
                                                                                  "{\"cpu\":\"2\"}") "]}",
       "cpu=1250m,memory=120Mi", "cpu=2250m", "cpu=1"},
      /* nano precision survives the sum */
      {"{\"containers\":[" C("{\"cpu\":\"1n\"}", "{}") "," C("{\"cpu\":\"1n\"}", "{}") "]}", "cpu=2n", "", "cpu=2n"},
      {"{\"containers\":[{\"name\":\"c\"}]}", "", "", ""},
  };
  char got[512];
  struct pod_resource_opts no_overhead = {.exclude_overhead = true};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char buf[2048];
    snprintf(buf, sizeof buf, "{\"spec\":%s}", cases[i].spec);
    json_t *pod = J(buf);
    struct kres_list l = {0};
    pod_requests(pod, NULL, &l);
    dump(&l, got, sizeof got);
    if (strcmp(got, cases[i].requests)) fail_msg("case %zu requests: %s, want %s", i, got, cases[i].requests);
    kres_list_free(&l);
    pod_limits(pod, NULL, &l);
    dump(&l, got, sizeof got);
    if (strcmp(got, cases[i].limits)) fail_msg("case %zu limits: %s, want %s", i, got, cases[i].limits);
    kres_list_free(&l);
    pod_requests(pod, &no_overhead, &l);
    dump(&l, got, sizeof got);
    if (strcmp(got, cases[i].requests_no_overhead))
      fail_msg("case %zu requests without overhead: %s, want %s", i, got, cases[i].requests_no_overhead);
    kres_list_free(&l);
    json_decref(pod);
  }
}

static void test_non_missing_requests(void **state)
{
  (void)state;
  json_t *pod = J("{\"spec\":{\"containers\":[" C("{\"memory\":\"1Gi\"}", "{}") ",{\"name\":\"d\"}]}}");
  struct pod_resource_opts o = {.non_missing_milli_cpu = 100, .non_missing_memory = 200 * 1024 * 1024};
  struct kres_list l = {0};
  char got[256];
  pod_requests(pod, &o, &l);
  dump(&l, got, sizeof got);
  assert_string_equal(got, "memory=1224Mi,cpu=200m");
  kres_list_free(&l);
  json_decref(pod);
}

static void test_qos(void **state)
{
  (void)state;
  struct {
    const char *containers, *init;
    const char *want;
  } cases[] = {
      {"[{\"name\":\"a\"}]", "[]", "BestEffort"},
      {"[" C("{\"cpu\":\"0\"}", "{\"memory\":\"0\"}") "]", "[]", "BestEffort"},
      {"[" C("{\"cpu\":\"1\",\"memory\":\"1Gi\"}", "{\"cpu\":\"1\",\"memory\":\"1Gi\"}") "]", "[]", "Guaranteed"},
      {"[" C("{}", "{\"cpu\":\"1\",\"memory\":\"1Gi\"}") "]", "[]", "Burstable"}, /* requests not yet defaulted */
      {"[" C("{\"cpu\":\"1\",\"memory\":\"1Gi\"}", "{\"cpu\":\"2\",\"memory\":\"1Gi\"}") "]", "[]", "Burstable"},
      {"[" C("{\"cpu\":\"1\"}", "{\"cpu\":\"1\"}") "]", "[]", "Burstable"},
      /* an init container without limits spoils Guaranteed */
      {"[" C("{\"cpu\":\"1\",\"memory\":\"1Gi\"}", "{\"cpu\":\"1\",\"memory\":\"1Gi\"}") "]",
       "[" C("{\"cpu\":\"1\"}", "{}") "]", "Burstable"},
      {"[" C("{\"cpu\":\"1\",\"memory\":\"1Gi\"}", "{\"cpu\":\"1\",\"memory\":\"1Gi\"}") "]",
       "[" C("{\"cpu\":\"1\",\"memory\":\"1Gi\"}", "{\"cpu\":\"1\",\"memory\":\"1Gi\"}") "]", "Guaranteed"},
      /* only cpu and memory count */
      {"[" C("{\"ephemeral-storage\":\"1Gi\"}", "{\"nvidia.com/gpu\":\"1\"}") "]", "[]", "BestEffort"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char buf[2048];
    snprintf(buf, sizeof buf, "{\"spec\":{\"containers\":%s,\"initContainers\":%s}}", cases[i].containers,
             cases[i].init);
    json_t *pod = J(buf);
    if (strcmp(pod_qos_class(pod), cases[i].want))
      fail_msg("case %zu: %s, want %s", i, pod_qos_class(pod), cases[i].want);
    json_decref(pod);
  }
  json_t *pod = J("{\"spec\":{\"containers\":[{\"name\":\"a\"}]},\"status\":{\"qosClass\":\"Guaranteed\"}}");
  assert_string_equal(pod_qos_class(pod), "Guaranteed");
  assert_string_equal(pod_compute_qos_class(pod), "BestEffort");
  json_decref(pod);
}

static void test_quota_usage(void **state)
{
  (void)state;
  const int64_t now = 1700000000LL * 1000000; /* 2023-11-14T22:13:20Z */
  struct {
    const char *pod;
    const char *want;
  } cases[] = {
      {"{\"spec\":{\"containers\":[" C("{\"cpu\":\"100m\",\"memory\":\"1Gi\",\"example.com/foo\":\"2\","
                                       "\"hugepages-2Mi\":\"4Mi\"}",
                                       "{\"cpu\":\"1\"}") "]}}",
       "count/pods=1,pods=1,cpu=100m,requests.cpu=100m,limits.cpu=1,memory=1Gi,requests.memory=1Gi,"
       "requests.example.com/foo=2,hugepages-2Mi=4Mi,requests.hugepages-2Mi=4Mi"},
      {"{\"spec\":{\"containers\":[" C("{\"cpu\":\"1\"}", "{}") "]},\"status\":{\"phase\":\"Succeeded\"}}",
       "count/pods=1"},
      {"{\"spec\":{\"containers\":[" C("{\"cpu\":\"1\"}", "{}") "]},\"status\":{\"phase\":\"Failed\"}}",
       "count/pods=1"},
      /* terminating, past deletionTimestamp + grace: not charged */
      {"{\"metadata\":{\"deletionTimestamp\":\"2023-11-14T22:12:00Z\",\"deletionGracePeriodSeconds\":30},"
       "\"spec\":{\"containers\":[" C("{\"cpu\":\"1\"}", "{}") "]}}",
       "count/pods=1"},
      /* terminating within its grace period: still charged */
      {"{\"metadata\":{\"deletionTimestamp\":\"2023-11-14T22:13:00Z\",\"deletionGracePeriodSeconds\":30},"
       "\"spec\":{\"containers\":[" C("{\"cpu\":\"1\"}", "{}") "]}}",
       "count/pods=1,pods=1,cpu=1,requests.cpu=1"},
      /* kubernetes.io resources are native: no requests. form */
      {"{\"spec\":{\"containers\":[" C("{\"kubernetes.io/foo\":\"1\",\"x.kubernetes.io/bar\":\"1\","
                                       "\"notkubernetes.io/baz\":\"1\"}",
                                       "{}") "]}}",
       "count/pods=1,pods=1,requests.notkubernetes.io/baz=1"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    json_t *pod = J(cases[i].pod);
    struct kres_list l = {0};
    char got[1024];
    pod_quota_usage(pod, now, &l);
    dump(&l, got, sizeof got);
    if (strcmp(got, cases[i].want)) fail_msg("case %zu: %s\nwant %s", i, got, cases[i].want);
    kres_list_free(&l);
    json_decref(pod);
  }
}

static void test_conditions(void **state)
{
  (void)state;
  json_t *pod = J("{\"status\":{\"phase\":\"Running\",\"conditions\":["
                  "{\"type\":\"PodScheduled\",\"status\":\"True\"},"
                  "{\"type\":\"Ready\",\"status\":\"True\",\"lastTransitionTime\":\"2023-11-14T22:13:00Z\"}],"
                  "\"containerStatuses\":[{\"name\":\"a\",\"restartCount\":2},{\"name\":\"b\",\"restartCount\":3}]}}");
  assert_true(pod_is_ready(pod));
  assert_true(pod_condition_true(pod, "PodScheduled"));
  assert_false(pod_condition_true(pod, "Initialized"));
  assert_int_equal(pod_ready_since(pod), 1699999980);
  assert_true(pod_is_available(pod, 0, 1699999980));
  assert_false(pod_is_available(pod, 20, 1700000000)); /* ready exactly 20 s: not yet */
  assert_true(pod_is_available(pod, 19, 1700000000));
  assert_int_equal(pod_restart_count(pod), 5);
  assert_true(pod_is_active(pod));
  assert_false(pod_is_terminal(pod));
  json_decref(pod);

  pod = J("{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}");
  assert_int_equal(pod_ready_since(pod), 0);
  assert_true(pod_is_available(pod, 0, 100));
  assert_false(pod_is_available(pod, 10, 100)); /* no transition time: never available */
  json_decref(pod);

  pod = J("{\"metadata\":{\"deletionTimestamp\":\"2023-11-14T22:13:00Z\"},"
          "\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\"}]}}");
  assert_false(pod_is_ready(pod));
  assert_int_equal(pod_ready_since(pod), -1);
  assert_true(obj_is_terminating(pod));
  assert_false(pod_is_active(pod));
  json_decref(pod);
}

static void test_owners_and_containers(void **state)
{
  (void)state;
  json_t *pod = J("{\"metadata\":{\"ownerReferences\":[{\"uid\":\"u1\",\"kind\":\"Node\"},"
                  "{\"uid\":\"u2\",\"kind\":\"ReplicaSet\",\"controller\":true}]},"
                  "\"spec\":{\"containers\":[{\"name\":\"app\"}],\"initContainers\":[{\"name\":\"init\"}],"
                  "\"ephemeralContainers\":[{\"name\":\"debug\"}]},"
                  "\"status\":{\"initContainerStatuses\":[{\"name\":\"init\",\"ready\":false}]}}");
  assert_string_equal(json_string_value(json_object_get(obj_controller_ref(pod), "kind")), "ReplicaSet");
  assert_true(obj_is_controlled_by(pod, "u2"));
  assert_false(obj_is_controlled_by(pod, "u1"));
  assert_non_null(pod_find_container(pod, "app", POD_CONTAINER_ANY));
  assert_non_null(pod_find_container(pod, "init", POD_CONTAINER_ANY));
  assert_null(pod_find_container(pod, "init", POD_CONTAINER_APP));
  assert_non_null(pod_find_container(pod, "debug", POD_CONTAINER_EPHEMERAL));
  assert_null(pod_find_container(pod, "debug", POD_CONTAINER_APP | POD_CONTAINER_INIT));
  assert_non_null(pod_container_status(pod, "init"));
  assert_null(pod_container_status(pod, "app"));
  json_decref(pod);
  json_t *orphan = J("{\"metadata\":{}}");
  assert_null(obj_controller_ref(orphan));
  json_decref(orphan);
}

static void test_list_ops(void **state)
{
  (void)state;
  struct kres_list a = {0}, b = {0};
  json_t *ja = J("{\"cpu\":\"1\",\"memory\":\"1Gi\"}"), *jb = J("{\"cpu\":\"2\",\"pods\":\"3\"}");
  kres_add_json(&a, ja);
  kres_add_json(&b, jb);
  kres_max(&a, &b);
  json_t *out = kres_to_json(&a);
  char *s = kj_dumps_canonical(out);
  assert_string_equal(s, "{\"cpu\":\"2\",\"memory\":\"1Gi\",\"pods\":\"3\"}");
  free(s);
  json_decref(out);
  kres_list_clear(&a);
  assert_int_equal(a.n, 0);
  assert_null(kres_get(&a, "cpu"));
  kres_list_free(&a);
  kres_list_free(&b);
  json_decref(ja);
  json_decref(jb);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_requests_and_limits),
      cmocka_unit_test(test_non_missing_requests),
      cmocka_unit_test(test_qos),
      cmocka_unit_test(test_quota_usage),
      cmocka_unit_test(test_conditions),
      cmocka_unit_test(test_owners_and_containers),
      cmocka_unit_test(test_list_ops),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
