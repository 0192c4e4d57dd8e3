/*
 * cm_test_nodelifecycle.c - node health and taints, and taint-based
 * eviction: a node goes stale exactly after the grace period counted from
 * the last observed heartbeat or lease renewal (startup grace for nodes
 * that never reported), conditions turn Unknown once, taints follow the
 * Ready condition (keeping timeAdded), and pods are evicted at once or
 * after tolerationSeconds from the taint's timeAdded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "controllers/core_logic.h"
#include "kube/json.h"
#include "kube/timeutil.h"

static json_t *J(const char *s)
{
  json_error_t e;
  json_t *v = json_loads(s, 0, &e);
  if (!v) fail_msg("bad fixture json: %s: %s", e.text, s);
  return v;
}

static json_t *node_with_ready(const char *status, const char *hb)
{
  char buf[1024];
  snprintf(buf, sizeof buf,
           "{\"metadata\":{\"name\":\"n1\",\"creationTimestamp\":\"2024-01-01T00:00:00Z\"},\"spec\":{},"
           "\"status\":{\"conditions\":[{\"type\":\"MemoryPressure\",\"status\":\"False\"},"
           "{\"type\":\"Ready\",\"status\":\"%s\",\"lastHeartbeatTime\":\"%s\"}]}}",
           status, hb);
  return J(buf);
}

static void test_grace_boundaries(void **state)
{
  const int64_t G = 50000, S = 60000, T0 = 1000000000000LL;
  json_t *health = json_object();
  json_t *node = node_with_ready("True", "2024-01-01T00:00:10Z");
  json_t *lease = J("{\"spec\":{\"renewTime\":\"2024-01-01T00:00:10.000000Z\"}}");
  assert_false(nodelifecycle_is_stale(health, node, lease, T0, G, S));
  assert_false(nodelifecycle_is_stale(health, node, lease, T0 + G, G, S));    /* exactly at grace */
  assert_true(nodelifecycle_is_stale(health, node, lease, T0 + G + 1, G, S)); /* just after */
  /* a lease renewal alone counts as a heartbeat */
  kj_set_str(lease, "spec.renewTime", "2024-01-01T00:01:00.000000Z");
  assert_false(nodelifecycle_is_stale(health, node, lease, T0 + G + 2, G, S));
  assert_true(nodelifecycle_is_stale(health, node, lease, T0 + 2 * G + 3, G, S));
  /* so does a new Ready heartbeat without a lease */
  kj_set_str(node, "status.conditions[1].lastHeartbeatTime", "2024-01-01T00:02:00Z");
  assert_false(nodelifecycle_is_stale(health, node, lease, T0 + 2 * G + 4, G, S));
  json_decref(node);

  /* A node that never posted Ready: startup grace from its creation. */
  json_t *fresh = J("{\"metadata\":{\"name\":\"n2\",\"creationTimestamp\":\"2024-01-01T00:00:00Z\"},\"status\":{}}");
  int64_t created;
  ktime_parse("2024-01-01T00:00:00Z", &created);
  created /= 1000;
  assert_false(nodelifecycle_is_stale(health, fresh, NULL, created + S, G, S));
  assert_true(nodelifecycle_is_stale(health, fresh, NULL, created + S + 1, G, S));
  json_decref(fresh);
  json_decref(lease);
  json_decref(health);
}

static void test_unknown_conditions(void **state)
{
  json_t *node = node_with_ready("True", "2024-01-01T00:00:10Z");
  json_t *conds = nodelifecycle_unknown_conditions(node, "2024-01-01T00:05:00Z");
  assert_non_null(conds);
  for (size_t i = 0; i < 2; i++) {
    json_t *c = json_array_get(conds, i);
    assert_string_equal(kj_get_str(c, "status"), "Unknown");
    assert_string_equal(kj_get_str(c, "reason"), "NodeStatusUnknown");
    assert_string_equal(kj_get_str(c, "message"), "Kubelet stopped posting node status.");
    assert_string_equal(kj_get_str(c, "lastTransitionTime"), "2024-01-01T00:05:00Z");
  }
  assert_string_equal(kj_get_str(conds, "[1].lastHeartbeatTime"), "2024-01-01T00:00:10Z");
  kj_set(node, "status.conditions", conds);
  assert_null(nodelifecycle_unknown_conditions(node, "2024-01-01T00:06:00Z"));
  json_decref(node);
  json_t *never = J("{\"metadata\":{\"name\":\"x\"}}");
  conds = nodelifecycle_unknown_conditions(never, "t");
  assert_string_equal(kj_get_str(conds, "[0].reason"), "NodeStatusNeverUpdated");
  json_decref(conds);
  json_decref(never);
}

static bool has_taint(const json_t *taints, const char *key, const char *effect)
{
  for (size_t i = 0; i < json_array_size(taints); i++) {
    json_t *t = json_array_get(taints, i);
    if (!strcmp(kj_get_str(t, "key"), key) && !strcmp(kj_get_str(t, "effect"), effect)) return true;
  }
  return false;
}

static void test_taints_follow_ready(void **state)
{
  json_t *node = node_with_ready("Unknown", "x");
  kj_set(node, "spec.taints", J("[{\"key\":\"dedicated\",\"value\":\"gpu\",\"effect\":\"NoSchedule\"}]"));
  json_t *t = nodelifecycle_desired_taints(node, "2024-01-01T00:00:00Z");
  assert_int_equal(json_array_size(t), 3);
  assert_true(has_taint(t, "dedicated", "NoSchedule"));
  assert_true(has_taint(t, TAINT_UNREACHABLE, "NoExecute"));
  assert_true(has_taint(t, TAINT_UNREACHABLE, "NoSchedule"));
  for (size_t i = 0; i < 3; i++) {
    json_t *ti = json_array_get(t, i);
    if (!strcmp(kj_get_str(ti, "effect"), "NoExecute"))
      assert_string_equal(kj_get_str(ti, "timeAdded"), "2024-01-01T00:00:00Z");
    else assert_null(kj_get(ti, "timeAdded"));
  }
  kj_set(node, "spec.taints", t);
  assert_null(nodelifecycle_desired_taints(node, "later"));

  /* Unknown -> False: unreachable replaced by not-ready */
  kj_set_str(node, "status.conditions[1].status", "False");
  t = nodelifecycle_desired_taints(node, "2024-01-01T00:01:00Z");
  assert_int_equal(json_array_size(t), 3);
  assert_true(has_taint(t, TAINT_NOT_READY, "NoExecute"));
  assert_false(has_taint(t, TAINT_UNREACHABLE, "NoExecute"));
  kj_set(node, "spec.taints", t);
  /* back to True: only the user's taint stays */
  kj_set_str(node, "status.conditions[1].status", "True");
  kj_set_str(node, "status.conditions[0].status", "True"); /* memory pressure */
  t = nodelifecycle_desired_taints(node, "x");
  assert_int_equal(json_array_size(t), 2);
  assert_true(has_taint(t, "dedicated", "NoSchedule"));
  assert_true(has_taint(t, "node.kubernetes.io/memory-pressure", "NoSchedule"));
  json_decref(t);
  json_decref(node);
}

static void test_eviction_timing(void **state)
{
  int64_t added;
  ktime_parse("2024-01-01T00:00:00Z", &added);
  added /= 1000;
  json_t *taints =
      J("[{\"key\":\"node.kubernetes.io/unreachable\",\"effect\":\"NoExecute\",\"timeAdded\":\"2024-01-01T00:00:00Z\"},"
        "{\"key\":\"x\",\"effect\":\"NoSchedule\"}]");
  json_t *plain = J("{\"spec\":{}}");
  assert_int_equal(taint_eviction_delay_ms(plain, taints, added), 0);
  json_t *tol300 = J("{\"spec\":{\"tolerations\":[{\"key\":\"node.kubernetes.io/unreachable\",\"operator\":\"Exists\","
                     "\"effect\":\"NoExecute\",\"tolerationSeconds\":300}]}}");
  assert_int_equal(taint_eviction_delay_ms(tol300, taints, added), 300000);
  assert_int_equal(taint_eviction_delay_ms(tol300, taints, added + 299999), 1);
  assert_int_equal(taint_eviction_delay_ms(tol300, taints, added + 300000), 0);
  json_t *forever = J("{\"spec\":{\"tolerations\":[{\"operator\":\"Exists\"}]}}");
  assert_int_equal(taint_eviction_delay_ms(forever, taints, added + 10000000), -1);
  json_t *wrongval = J("{\"spec\":{\"tolerations\":[{\"key\":\"node.kubernetes.io/unreachable\",\"value\":\"v\","
                       "\"effect\":\"NoExecute\"}]}}");
  assert_int_equal(taint_eviction_delay_ms(wrongval, taints, added), 0);
  json_t *none = J("[]");
  assert_int_equal(taint_eviction_delay_ms(plain, none, added), -1);
  json_decref(taints);
  json_decref(plain);
  json_decref(tol300);
  json_decref(forever);
  json_decref(wrongval);
  json_decref(none);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_grace_boundaries),
      cmocka_unit_test(test_unknown_conditions),
      cmocka_unit_test(test_taints_follow_ready),
      cmocka_unit_test(test_eviction_timing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
