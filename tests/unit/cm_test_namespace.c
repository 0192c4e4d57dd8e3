/*
 * cm_test_namespace.c - the namespace controller's decisions: which
 * discovered resources are emptied, the deletion conditions while content
 * or finalizers remain and once everything is gone, and the finalize body
 * that drops only the "kubernetes" finalizer.
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

static json_t *J(const char *s)
{
  json_error_t e;
  json_t *v = json_loads(s, 0, &e);
  if (!v) fail_msg("bad fixture json: %s: %s", e.text, s);
  return v;
}

static void test_discovery_filter(void **state)
{
  json_t *core = J(
      "{\"groupVersion\":\"v1\",\"resources\":["
      "{\"name\":\"pods\",\"namespaced\":true,\"verbs\":[\"create\",\"delete\",\"deletecollection\",\"get\",\"list\"]},"
      "{\"name\":\"pods/status\",\"namespaced\":true,\"verbs\":[\"get\",\"patch\"]},"
      "{\"name\":\"nodes\",\"namespaced\":false,\"verbs\":[\"delete\",\"deletecollection\",\"list\"]},"
      "{\"name\":\"bindings\",\"namespaced\":true,\"verbs\":[\"create\"]},"
      "{\"name\":\"events\",\"namespaced\":true,\"verbs\":[\"delete\",\"list\"]}]}");
  json_t *apps =
      J("{\"groupVersion\":\"apps/v1\",\"resources\":["
        "{\"name\":\"deployments\",\"namespaced\":true,\"verbs\":[\"delete\",\"deletecollection\",\"list\"]}]}");
  json_t *out = json_array();
  namespace_discovered_resources(core, out);
  namespace_discovered_resources(apps, out);
  assert_int_equal(json_array_size(out), 3);
  assert_string_equal(kj_get_str(out, "[0].resource"), "pods");
  assert_string_equal(kj_get_str(out, "[0].prefix"), "/api/v1");
  assert_true(kj_get_bool(out, "[0].deletecollection", false));
  assert_string_equal(kj_get_str(out, "[1].resource"), "events");
  assert_false(kj_get_bool(out, "[1].deletecollection", true));
  assert_string_equal(kj_get_str(out, "[2].prefix"), "/apis/apps/v1");
  json_decref(out);
  json_decref(core);
  json_decref(apps);
}

static json_t *cond(json_t *conds, const char *type)
{
  for (size_t i = 0; i < json_array_size(conds); i++)
    if (!strcmp(kj_get_str(json_array_get(conds, i), "type"), type)) return json_array_get(conds, i);
  fail_msg("no condition %s", type);
  return NULL;
}

static void test_conditions_remaining_then_clean(void **state)
{
  json_t *errors = json_array();
  json_t *remaining = J("{\"pods.\":2,\"deployments.apps\":1}");
  json_t *fins = J("{\"example.com/hold\":1}");
  json_t *c = namespace_deletion_conditions(NULL, errors, remaining, fins, NULL, "2024-01-01T00:00:00Z");
  assert_int_equal(json_array_size(c), 5);
  json_t *r = cond(c, "NamespaceContentRemaining");
  assert_string_equal(kj_get_str(r, "status"), "True");
  assert_string_equal(kj_get_str(r, "reason"), "SomeResourcesRemain");
  assert_string_equal(
      kj_get_str(r, "message"),
      "Some resources are remaining: deployments.apps has 1 resource instances, pods. has 2 resource instances");
  json_t *f = cond(c, "NamespaceFinalizersRemaining");
  assert_string_equal(kj_get_str(f, "reason"), "SomeFinalizersRemain");
  assert_string_equal(
      kj_get_str(f, "message"),
      "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances");
  assert_string_equal(kj_get_str(cond(c, "NamespaceDeletionDiscoveryFailure"), "status"), "False");
  assert_string_equal(kj_get_str(cond(c, "NamespaceDeletionContentFailure"), "reason"), "ContentDeleted");

  json_t *empty = json_object();
  json_t *c2 = namespace_deletion_conditions(NULL, errors, empty, empty, c, "2024-01-01T00:01:00Z");
  r = cond(c2, "NamespaceContentRemaining");
  assert_string_equal(kj_get_str(r, "status"), "False");
  assert_string_equal(kj_get_str(r, "reason"), "ContentRemoved");
  assert_string_equal(kj_get_str(r, "lastTransitionTime"), "2024-01-01T00:01:00Z");
  /* unchanged status keeps its transition time */
  assert_string_equal(kj_get_str(cond(c2, "NamespaceDeletionDiscoveryFailure"), "lastTransitionTime"),
                      "2024-01-01T00:00:00Z");

  json_t *c3 = namespace_deletion_conditions("/apis: connection refused", errors, empty, empty, NULL, "t");
  assert_string_equal(kj_get_str(cond(c3, "NamespaceDeletionDiscoveryFailure"), "reason"), "DiscoveryFailed");
  json_decref(c);
  json_decref(c2);
  json_decref(c3);
  json_decref(errors);
  json_decref(remaining);
  json_decref(fins);
  json_decref(empty);
}

static void test_finalize_body(void **state)
{
  json_t *ns = J("{\"metadata\":{\"name\":\"x\",\"resourceVersion\":\"7\"},"
                 "\"spec\":{\"finalizers\":[\"example.com/other\",\"kubernetes\"]}}");
  json_t *b = namespace_finalize_body(ns);
  assert_non_null(b);
  assert_int_equal(json_array_size(kj_get(b, "spec.finalizers")), 1);
  assert_string_equal(kj_get_str(b, "spec.finalizers[0]"), "example.com/other");
  assert_string_equal(kj_get_str(b, "metadata.resourceVersion"), "7");
  assert_null(namespace_finalize_body(b)); /* nothing left to remove */
  json_decref(b);
  json_decref(ns);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_discovery_filter),
      cmocka_unit_test(test_conditions_remaining_then_clean),
      cmocka_unit_test(test_finalize_body),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
