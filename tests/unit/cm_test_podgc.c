/*
 * cm_test_podgc.c - pod garbage collection choices: terminated pods over
 * the threshold go oldest first (running and already-deleting pods never
 * count), threshold 0 disables, unscheduled terminating pods, and the
 * nodes that pods are bound to but that do not exist.
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

static json_t *pod(const char *name, const char *phase, const char *created, const char *node, bool deleting)
{
  json_t *p = json_pack("{s:{s:s, s:s, s:s}, s:{}, s:{s:s}}", "metadata", "name", name, "namespace", "ns",
                        "creationTimestamp", created, "spec", "status", "phase", phase);
  if (node) json_object_set_new(json_object_get(p, "spec"), "nodeName", json_string(node));
  if (deleting) json_object_set_new(json_object_get(p, "metadata"), "deletionTimestamp", json_string(created));
  return p;
}

static void test_threshold_oldest_first(void **state)
{
  json_t *pods = json_array();
  json_array_append_new(pods, pod("c", "Failed", "2024-01-03T00:00:00Z", "n1", false));
  json_array_append_new(pods, pod("a", "Succeeded", "2024-01-01T00:00:00Z", "n1", false));
  json_array_append_new(pods, pod("run", "Running", "2023-01-01T00:00:00Z", "n1", false));
  json_array_append_new(pods, pod("d", "Succeeded", "2024-01-04T00:00:00Z", "n1", false));
  json_array_append_new(pods, pod("b", "Failed", "2024-01-02T00:00:00Z", "n1", false));
  json_array_append_new(pods, pod("gone", "Failed", "2020-01-01T00:00:00Z", "n1", true));
  static const struct {
    int threshold;
    const char *expect;
  } cases[] = {{0, ""}, {4, ""}, {3, "a"}, {2, "a,b"}, {1, "a,b,c"}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    json_t *del = podgc_terminated_to_delete(pods, cases[i].threshold);
    char got[64] = "";
    for (size_t j = 0; j < json_array_size(del); j++) {
      if (j) strcat(got, ",");
      strcat(got, kj_get_str(json_array_get(del, j), "metadata.name"));
    }
    assert_string_equal(got, cases[i].expect);
    json_decref(del);
  }
  json_decref(pods);
}

static void test_unscheduled_and_missing_nodes(void **state)
{
  json_t *pods = json_array();
  json_array_append_new(pods, pod("u", "Pending", "2024-01-01T00:00:00Z", NULL, true));
  json_array_append_new(pods, pod("p", "Pending", "2024-01-01T00:00:00Z", NULL, false));
  json_array_append_new(pods, pod("x", "Running", "2024-01-01T00:00:00Z", "ghost", false));
  json_array_append_new(pods, pod("y", "Running", "2024-01-01T00:00:00Z", "n1", false));
  json_t *nodes = json_pack("[{s:{s:s}}]", "metadata", "name", "n1");
  json_t *u = podgc_unscheduled_terminating(pods);
  assert_int_equal(json_array_size(u), 1);
  assert_string_equal(kj_get_str(json_array_get(u, 0), "metadata.name"), "u");
  json_t *m = podgc_missing_nodes(pods, nodes);
  assert_int_equal(json_object_size(m), 1);
  assert_non_null(json_object_get(m, "ghost"));
  json_decref(u);
  json_decref(m);
  json_decref(nodes);
  json_decref(pods);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_threshold_oldest_first),
      cmocka_unit_test(test_unscheduled_and_missing_nodes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
