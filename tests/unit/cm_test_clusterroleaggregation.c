/* Tests for the clusterrole-aggregation controller's step
 * (controller-manager/controllers/clusterroleaggregation.c): the union of
 * the selected roles' rules, in selector then name order, without
 * duplicates or the role itself, and a write only when it differs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <kube/json.h>

#include "cm_test_util.h"
#include "controllers/clusterroleaggregation.h"

static json_t *J(const char *text)
{
  json_error_t e;
  json_t *v = json_loads(text, 0, &e);
  if (!v) fail_msg("bad JSON in test: %s", e.text);
  return v;
}

static const char *ALL =
    "[{\"metadata\":{\"name\":\"view\",\"labels\":{\"rbac.authorization.k8s.io/aggregate-to-edit\":\"true\"}},"
    "  "
    "\"aggregationRule\":{\"clusterRoleSelectors\":[{\"matchLabels\":{\"rbac.authorization.k8s.io/aggregate-to-view\":"
    "\"true\"}}]},\"rules\":[]},"
    " {\"metadata\":{\"name\":\"edit\"},\"aggregationRule\":{\"clusterRoleSelectors\":[{\"matchLabels\":{"
    "\"rbac.authorization.k8s.io/aggregate-to-edit\":\"true\"}}]}},"
    " {\"metadata\":{\"name\":\"z-crd-view\",\"labels\":{\"rbac.authorization.k8s.io/aggregate-to-view\":\"true\"}},"
    "  \"rules\":[{\"verbs\":[\"get\"],\"apiGroups\":[\"example.com\"],\"resources\":[\"widgets\"]},"
    "            {\"verbs\":[\"get\",\"list\"],\"apiGroups\":[\"\"],\"resources\":[\"pods\"]}]},"
    " {\"metadata\":{\"name\":\"a-base-view\",\"labels\":{\"rbac.authorization.k8s.io/aggregate-to-view\":\"true\"}},"
    "  \"rules\":[{\"verbs\":[\"get\",\"list\"],\"apiGroups\":[\"\"],\"resources\":[\"pods\"]}]},"
    " {\"metadata\":{\"name\":\"other\",\"labels\":{\"x\":\"y\"}},"
    "  \"rules\":[{\"verbs\":[\"*\"],\"apiGroups\":[\"*\"],\"resources\":[\"*\"]}]}]";

static void test_union(void **state)
{
  (void)state;
  json_t *all = J(ALL);
  json_t *rules = cra_aggregate_rules(json_array_get(all, 0), all);
  /* a-base-view first (name order), its pods rule not repeated from z-crd-view */
  json_t *want = J("[{\"verbs\":[\"get\",\"list\"],\"apiGroups\":[\"\"],\"resources\":[\"pods\"]},"
                   "{\"verbs\":[\"get\"],\"apiGroups\":[\"example.com\"],\"resources\":[\"widgets\"]}]");
  assert_true(json_equal(rules, want));
  json_decref(rules);
  json_decref(want);
  /* a role without aggregationRule has nothing to compute */
  assert_null(cra_aggregate_rules(json_array_get(all, 4), all));
  /* edit selects view, whose rules are still empty in this snapshot */
  rules = cra_aggregate_rules(json_array_get(all, 1), all);
  assert_int_equal(json_array_size(rules), 0);
  json_decref(rules);
  json_decref(all);
}

static void test_writes_only_changes(void **state)
{
  (void)state;
  json_t *all = J(ALL);
  struct cm_actions acts;
  cm_actions_init(&acts);
  cra_compute(json_array_get(all, 0), all, &acts);
  json_t *got = cm_actions_json(&acts);
  assert_int_equal(json_array_size(got), 1);
  assert_string_equal(kj_get_str(json_array_get(got, 0), "verb"), "PUT");
  assert_string_equal(kj_get_str(json_array_get(got, 0), "path"),
                      "/apis/rbac.authorization.k8s.io/v1/clusterroles/view");
  json_t *body = json_object_get(json_array_get(got, 0), "body");
  assert_int_equal(json_array_size(json_object_get(body, "rules")), 2);
  /* labels and the aggregation rule are kept */
  assert_non_null(kj_get(body, "aggregationRule.clusterRoleSelectors"));
  assert_non_null(kj_get(body, "metadata.labels"));
  /* once written, the next sync has nothing to do; edit now picks view's rules */
  json_array_set(all, 0, body);
  cra_compute(json_array_get(all, 0), all, &acts);
  assert_int_equal(acts.n, 0);
  cra_compute(json_array_get(all, 1), all, &acts);
  assert_int_equal(acts.n, 1);
  cm_actions_clear(&acts);
  /* an empty union for a role without rules writes nothing */
  json_t *lonely = J("{\"metadata\":{\"name\":\"lonely\"},\"aggregationRule\":{\"clusterRoleSelectors\":[{"
                     "\"matchLabels\":{\"nothing\":\"true\"}}]}}");
  cra_compute(lonely, all, &acts);
  assert_int_equal(acts.n, 0);
  json_decref(lonely);
  json_decref(got);
  json_decref(all);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_union),
      cmocka_unit_test(test_writes_only_changes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
