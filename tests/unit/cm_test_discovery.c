/*
 * cm_test_discovery.c - discovery's pure steps: the preferred version of
 * each group of an APIGroupList, and the resources of APIResourceLists
 * that allow a set of verbs (subresources and skipped ones left out),
 * with their collection paths for the core and named groups.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "discovery.h"
#include "kube/json.h"

static void test_preferred(void **state)
{
  (void)state;
  json_t *groups = json_loads("{\"groups\":[{\"name\":\"apps\",\"versions\":[{\"groupVersion\":\"apps/v1\"}],"
                              "\"preferredVersion\":{\"groupVersion\":\"apps/v1\"}},"
                              "{\"name\":\"stable.example.com\",\"versions\":[{\"groupVersion\":\"stable.example.com/v2\"},"
                              "{\"groupVersion\":\"stable.example.com/v1\"}]},{\"name\":\"broken\"}]}",
                              0, NULL);
  json_t *out = json_array();
  cm_discovery_preferred(groups, out);
  assert_int_equal(json_array_size(out), 2);
  assert_string_equal(json_string_value(json_array_get(out, 0)), "/apis/apps/v1");
  assert_string_equal(json_string_value(json_array_get(out, 1)), "/apis/stable.example.com/v2");
  json_decref(out);
  json_decref(groups);
}

static void test_resources(void **state)
{
  (void)state;
  json_t *lists = json_loads(
      "[{\"groupVersion\":\"v1\",\"resources\":["
      "{\"name\":\"pods\",\"kind\":\"Pod\",\"namespaced\":true,\"verbs\":[\"get\",\"list\",\"watch\",\"delete\"]},"
      "{\"name\":\"pods/status\",\"kind\":\"Pod\",\"namespaced\":true,\"verbs\":[\"get\",\"patch\"]},"
      "{\"name\":\"events\",\"kind\":\"Event\",\"namespaced\":true,\"verbs\":[\"get\",\"list\",\"watch\",\"delete\"]},"
      "{\"name\":\"bindings\",\"kind\":\"Binding\",\"namespaced\":true,\"verbs\":[\"create\"]}]},"
      "{\"groupVersion\":\"stable.example.com/v1\",\"resources\":["
      "{\"name\":\"crontabs\",\"kind\":\"CronTab\",\"namespaced\":true,\"verbs\":[\"delete\",\"get\",\"list\",\"watch\"]},"
      "{\"name\":\"clusterthings\",\"kind\":\"ClusterThing\",\"namespaced\":false,\"verbs\":[\"get\",\"list\"]}]}]",
      0, NULL);
  assert_non_null(lists);
  json_t *out = json_array();
  cm_discovery_resources(lists, "list,watch,delete", "events.,events.events.k8s.io", out);
  assert_int_equal(json_array_size(out), 2);
  assert_string_equal(kj_get_str(json_array_get(out, 0), "path"), "/api/v1/pods");
  assert_string_equal(kj_get_str(json_array_get(out, 0), "kind"), "Pod");
  assert_string_equal(kj_get_str(json_array_get(out, 1), "path"), "/apis/stable.example.com/v1/crontabs");
  assert_string_equal(kj_get_str(json_array_get(out, 1), "apiVersion"), "stable.example.com/v1");
  assert_true(kj_get_bool(json_array_get(out, 1), "namespaced", false));
  json_decref(out);
  /* "get" alone: every resource but the subresource and the create-only one */
  out = json_array();
  cm_discovery_resources(lists, "get", NULL, out);
  assert_int_equal(json_array_size(out), 4);
  assert_string_equal(kj_get_str(json_array_get(out, 3), "path"), "/apis/stable.example.com/v1/clusterthings");
  assert_false(kj_get_bool(json_array_get(out, 3), "namespaced", true));
  json_decref(out);
  json_decref(lists);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_preferred),
      cmocka_unit_test(test_resources),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
