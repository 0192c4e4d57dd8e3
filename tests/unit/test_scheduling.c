/* Tests for kube/scheduling.h: upstream's ToleratesTaint table and
 * NodeSelector matching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "kube/scheduling.h"

static json_t *J(const char *s)
{
  json_error_t e;
  json_t *v = json_loads(s, 0, &e);
  if (!v) fail_msg("bad fixture: %s: %s", e.text, s);
  return v;
}

static void test_tolerations(void **state)
{
  (void)state;
  struct {
    const char *tol, *taint;
    bool want;
  } cases[] = {
      {"{\"key\":\"foo\",\"operator\":\"Exists\",\"effect\":\"NoSchedule\"}",
       "{\"key\":\"foo\",\"value\":\"bar\",\"effect\":\"NoSchedule\"}", true},
      {"{\"key\":\"foo\",\"operator\":\"Equal\",\"value\":\"bar\",\"effect\":\"NoSchedule\"}",
       "{\"key\":\"foo\",\"value\":\"bar\",\"effect\":\"NoSchedule\"}", true},
      {"{\"key\":\"foo\",\"value\":\"bar\",\"effect\":\"NoSchedule\"}", /* empty operator is Equal */
       "{\"key\":\"foo\",\"value\":\"bar\",\"effect\":\"NoSchedule\"}", true},
      {"{\"key\":\"foo\",\"operator\":\"Equal\",\"value\":\"bar\",\"effect\":\"NoSchedule\"}",
       "{\"key\":\"foo\",\"value\":\"baz\",\"effect\":\"NoSchedule\"}", false},
      {"{\"key\":\"foo\",\"operator\":\"Exists\"}", /* empty effect matches every effect */
       "{\"key\":\"foo\",\"effect\":\"NoExecute\"}", true},
      {"{\"key\":\"foo\",\"operator\":\"Exists\",\"effect\":\"NoSchedule\"}",
       "{\"key\":\"foo\",\"effect\":\"NoExecute\"}", false},
      {"{\"operator\":\"Exists\"}", "{\"key\":\"anything\",\"value\":\"x\",\"effect\":\"NoExecute\"}", true},
      {"{\"key\":\"other\",\"operator\":\"Exists\"}", "{\"key\":\"foo\",\"effect\":\"NoSchedule\"}", false},
      {"{\"key\":\"foo\",\"operator\":\"Lt\",\"value\":\"1\"}",
       "{\"key\":\"foo\",\"value\":\"0\",\"effect\":\"NoSchedule\"}", false},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    json_t *tols = json_pack("[o]", J(cases[i].tol)), *taint = J(cases[i].taint);
    if (tolerations_tolerate_taint(tols, taint) != cases[i].want) fail_msg("case %zu", i);
    json_decref(tols);
    json_decref(taint);
  }
}

static void test_node_selectors(void **state)
{
  (void)state;
  json_t *node = J("{\"metadata\":{\"name\":\"n1\",\"labels\":{\"zone\":\"a\",\"gen\":\"5\"}}}");
  struct {
    const char *terms;
    bool want;
  } cases[] = {
      {"[{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"In\",\"values\":[\"a\",\"b\"]}]}]", true},
      {"[{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"NotIn\",\"values\":[\"a\"]}]}]", false},
      {"[{\"matchExpressions\":[{\"key\":\"missing\",\"operator\":\"NotIn\",\"values\":[\"a\"]}]}]", true},
      {"[{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"Exists\"}]}]", true},
      {"[{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"DoesNotExist\"}]}]", false},
      {"[{\"matchExpressions\":[{\"key\":\"gen\",\"operator\":\"Gt\",\"values\":[\"4\"]}]}]", true},
      {"[{\"matchExpressions\":[{\"key\":\"gen\",\"operator\":\"Lt\",\"values\":[\"4\"]}]}]", false},
      {"[{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"Gt\",\"values\":[\"4\"]}]}]", false},
      {"[{\"matchFields\":[{\"key\":\"metadata.name\",\"operator\":\"In\",\"values\":[\"n1\"]}]}]", true},
      {"[{\"matchFields\":[{\"key\":\"metadata.uid\",\"operator\":\"In\",\"values\":[\"n1\"]}]}]", false},
      {"[{}]", false}, /* an empty term matches nothing */
      {"[{}, {\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"Exists\"}]}]", true}, /* terms ORed */
      {"[{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"Exists\"},{\"key\":\"gen\",\"operator\":\"In\","
       "\"values\":[\"4\"]}]}]",
       false}, /* requirements ANDed */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    json_t *sel = json_pack("{s:o}", "nodeSelectorTerms", J(cases[i].terms));
    if (node_selector_matches(sel, node) != cases[i].want) fail_msg("case %zu", i);
    json_decref(sel);
  }
  json_t *pod = J("{\"spec\":{\"nodeSelector\":{\"zone\":\"a\"},\"affinity\":{\"nodeAffinity\":{"
                  "\"requiredDuringSchedulingIgnoredDuringExecution\":{\"nodeSelectorTerms\":[{\"matchExpressions\":"
                  "[{\"key\":\"gen\",\"operator\":\"In\",\"values\":[\"5\"]}]}]}}}}}");
  assert_true(pod_matches_node_affinity(pod, node));
  json_object_set_new(json_object_get(json_object_get(pod, "spec"), "nodeSelector"), "zone", json_string("b"));
  assert_false(pod_matches_node_affinity(pod, node));
  json_decref(pod);
  json_decref(node);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tolerations),
      cmocka_unit_test(test_node_selectors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
