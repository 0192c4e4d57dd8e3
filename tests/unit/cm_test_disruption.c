/*
 * cm_test_disruption.c - PodDisruptionBudget status arithmetic:
 * minAvailable as a count or a percentage of the controllers' scale
 * (rounded up), maxUnavailable against a Deployment's replicas through its
 * ReplicaSet, not-ready and deleting pods not healthy, SyncFailed for
 * pods without a controller, and the disruptedPods cleanup.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "controller_utils.h"
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

static json_t *pods(int n, int ready, const char *owner_uid)
{
  json_t *a = json_array();
  for (int i = 0; i < n; i++) {
    char buf[600];
    snprintf(buf, sizeof buf,
             "{\"metadata\":{\"name\":\"p%d\",\"namespace\":\"ns\",\"labels\":{\"app\":\"x\"}%s%s%s},"
             "\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"%s\"}]}}",
             i, owner_uid ? ",\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"controller\":true,\"uid\":\"" : "",
             owner_uid ? owner_uid : "", owner_uid ? "\"}]" : "", i < ready ? "True" : "False");
    json_array_append_new(a, J(buf));
  }
  return a;
}

static json_t *pdb(const char *spec_extra)
{
  char buf[600];
  snprintf(buf, sizeof buf,
           "{\"metadata\":{\"name\":\"b\",\"namespace\":\"ns\",\"generation\":3},"
           "\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"x\"}},%s}}",
           spec_extra);
  return J(buf);
}

static void test_scaled_value_rounds_up(void **state)
{
  static const struct {
    const char *v;
    int64_t total, want;
  } cases[] = {{"\"50%\"", 5, 3},  {"\"10%\"", 1, 1},  {"\"0%\"", 7, 0},
               {"\"100%\"", 3, 3}, {"\"33%\"", 10, 4}, {"2", 10, 2}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    json_t *v = json_loads(cases[i].v, JSON_DECODE_ANY, NULL);
    int64_t out = -1;
    assert_int_equal(cm_int_or_percent(v, cases[i].total, true, &out), 0);
    assert_int_equal(out, cases[i].want);
    json_decref(v);
  }
  json_t *bad = json_string("abc%");
  int64_t out;
  assert_int_equal(cm_int_or_percent(bad, 3, true, &out), -22);
  json_decref(bad);
}

static void test_min_available_count(void **state)
{
  json_t *p = pdb("\"minAvailable\":2"), *ps = pods(4, 3, NULL), *ctls = json_array();
  json_t *st = disruption_compute_status(p, ps, ctls, ktime_now_us());
  assert_int_equal(kj_get_int(st, "expectedPods", -1), 4);
  assert_int_equal(kj_get_int(st, "currentHealthy", -1), 3);
  assert_int_equal(kj_get_int(st, "desiredHealthy", -1), 2);
  assert_int_equal(kj_get_int(st, "disruptionsAllowed", -1), 1);
  assert_int_equal(kj_get_int(st, "observedGeneration", -1), 3);
  assert_string_equal(kj_get_str(st, "conditions[0].reason"), "SufficientPods");
  assert_string_equal(kj_get_str(st, "conditions[0].status"), "True");
  json_decref(st);
  /* one more pod deleting: no disruption left */
  kj_set_str(json_array_get(ps, 0), "metadata.deletionTimestamp", "2024-01-01T00:00:00Z");
  kj_set_str(json_array_get(ps, 1), "metadata.deletionTimestamp", "2024-01-01T00:00:00Z");
  st = disruption_compute_status(p, ps, ctls, ktime_now_us());
  assert_int_equal(kj_get_int(st, "currentHealthy", -1), 1);
  assert_int_equal(kj_get_int(st, "disruptionsAllowed", -1), 0);
  assert_string_equal(kj_get_str(st, "conditions[0].reason"), "InsufficientPods");
  json_decref(st);
  json_decref(p);
  json_decref(ps);
  json_decref(ctls);
}

static void test_percent_and_max_unavailable_use_scale(void **state)
{
  /* 3 pods exist but the Deployment wants 5 */
  json_t *ctls =
      J("[{\"metadata\":{\"uid\":\"rs\",\"ownerReferences\":[{\"kind\":\"Deployment\",\"controller\":true,"
        "\"uid\":\"dep\"}]},\"spec\":{\"replicas\":5}},{\"metadata\":{\"uid\":\"dep\"},\"spec\":{\"replicas\":5}}]");
  json_t *ps = pods(3, 3, "rs");
  json_t *p = pdb("\"minAvailable\":\"50%\"");
  json_t *st = disruption_compute_status(p, ps, ctls, ktime_now_us());
  assert_int_equal(kj_get_int(st, "expectedPods", -1), 5);
  assert_int_equal(kj_get_int(st, "desiredHealthy", -1), 3); /* 2.5 rounded up */
  assert_int_equal(kj_get_int(st, "disruptionsAllowed", -1), 0);
  json_decref(st);
  json_decref(p);
  p = pdb("\"maxUnavailable\":\"30%\"");
  st = disruption_compute_status(p, ps, ctls, ktime_now_us());
  assert_int_equal(kj_get_int(st, "desiredHealthy", -1), 3); /* 5 - ceil(1.5) */
  json_decref(st);
  json_decref(p);
  p = pdb("\"maxUnavailable\":1");
  st = disruption_compute_status(p, ps, ctls, ktime_now_us());
  assert_int_equal(kj_get_int(st, "desiredHealthy", -1), 4);
  assert_int_equal(kj_get_int(st, "disruptionsAllowed", -1), 0);
  json_decref(st);
  /* a pod without a controller: SyncFailed */
  json_t *orphans = pods(2, 2, NULL);
  st = disruption_compute_status(p, orphans, ctls, ktime_now_us());
  assert_string_equal(kj_get_str(st, "conditions[0].reason"), "SyncFailed");
  assert_int_equal(kj_get_int(st, "disruptionsAllowed", -1), 0);
  json_decref(st);
  json_decref(orphans);
  json_decref(p);
  json_decref(ps);
  json_decref(ctls);
}

static void test_disrupted_pods_cleanup(void **state)
{
  int64_t now = ktime_now_us();
  char recent[40], old[40];
  ktime_format((time_t)(now / 1000000 - 10), recent);
  ktime_format((time_t)(now / 1000000 - 300), old);
  char extra[300];
  snprintf(extra, sizeof extra,
           "\"minAvailable\":1}, \"status\":{\"disruptedPods\":{\"p0\":\"%s\",\"p1\":\"%s\",\"gone\":\"%s\"}", recent,
           old, recent);
  json_t *p = pdb(extra);
  json_t *ps = pods(3, 3, NULL);
  json_t *ctls = json_array();
  json_t *st = disruption_compute_status(p, ps, ctls, now);
  json_t *dp = kj_get(st, "disruptedPods");
  assert_int_equal(json_object_size(dp), 1);
  assert_non_null(json_object_get(dp, "p0"));
  assert_int_equal(kj_get_int(st, "currentHealthy", -1), 2); /* p0 is counted as disrupted */
  json_decref(st);
  json_decref(p);
  json_decref(ps);
  json_decref(ctls);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_scaled_value_rounds_up),
      cmocka_unit_test(test_min_available_count),
      cmocka_unit_test(test_percent_and_max_unavailable_use_scale),
      cmocka_unit_test(test_disrupted_pods_cleanup),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
