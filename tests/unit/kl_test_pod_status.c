/*
 * kl_test_pod_status.c - the status patch the kubelet sends: nothing when
 * the API shows what the kubelet reports (null and absent keys alike), a
 * Ready condition turning True drops its reason and message, conditions of
 * other writers and fields of other writers are left alone, pod IPs are
 * replaced rather than merged.  Each patch is applied with the strategic
 * merge code the API server uses (PodStatus' patch metadata) and must give
 * the kubelet's status.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kube/json.h"
#include "kube/patch.h"
#include "pods_internal.h"

static json_t *J(const char *s)
{
  json_error_t e;
  json_t *v = json_loads(s, 0, &e);
  if (!v) fail_msg("bad JSON in test: %s: %s", e.text, s);
  return v;
}

/* PodStatus' strategic merge metadata (upstream's types.go tags). */
static const char POD_STATUS[] = "PodStatus", CONDITION[] = "PodCondition", POD_IP[] = "PodIP";

static const void *lookup(void *arg, const void *type, const char *name, struct smp_field *out)
{
  memset(out, 0, sizeof *out);
  if (type != POD_STATUS) return NULL;
  if (!strcmp(name, "conditions")) {
    *out = (struct smp_field){.merge_key = "type", .strategy = "merge", .is_list = 1};
    return CONDITION;
  }
  if (!strcmp(name, "podIPs") || !strcmp(name, "hostIPs")) {
    *out = (struct smp_field){.merge_key = "ip", .strategy = "merge", .is_list = 1};
    return POD_IP;
  }
  if (strstr(name, "Statuses")) out->is_list = 1;
  return NULL;
}

/* Applies the patch as the API server would. */
static json_t *apply(const json_t *old, const json_t *patch)
{
  char err[256] = "";
  json_t *r = patch_strategic(old, patch, lookup, NULL, POD_STATUS, err, sizeof err);
  if (!r) fail_msg("patch failed: %s", err);
  return r;
}

static void drop_nulls(json_t *v)
{
  const char *k;
  json_t *x, *tmp;
  size_t i;
  if (json_is_object(v)) {
    json_object_foreach_safe (v, tmp, k, x) {
      if (json_is_null(x)) json_object_del(v, k);
      else drop_nulls(x);
    }
  } else if (json_is_array(v)) {
    json_array_foreach (v, i, x) drop_nulls(x);
  }
}

/* patch(old, st) applied to old equals st, apart from the fields listed
 * in `others` that other writers own (kept from old). */
static void check_roundtrip(const struct kl_pod *p, const json_t *old, const json_t *st, const char *expect_others)
{
  json_t *patch = kl_pod_status_patch(p, old, st);
  json_t *res = apply(old, patch);
  json_t *want = json_deep_copy(st), *others = J(expect_others);
  json_object_update(want, others);
  drop_nulls(want);
  drop_nulls(res);
  char *a = kj_dumps_flags(res, JSON_SORT_KEYS), *b = kj_dumps_flags(want, JSON_SORT_KEYS);
  if (!patch_value_equal(res, want)) fail_msg("after the patch:\n%s\nwanted:\n%s", a, b);
  free(a);
  free(b);
  json_t *again = kl_pod_status_patch(p, res, st);
  assert_int_equal(json_object_size(again), 0); /* nothing left to write */
  json_decref(again);
  json_decref(others);
  json_decref(want);
  json_decref(res);
  json_decref(patch);
}

static void test_nothing_to_write(void **state)
{
  struct kl_pod p = {0};
  json_t *old = J("{\"phase\":\"Running\",\"nominatedNodeName\":\"x\",\"observedGeneration\":3,"
                  "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"lastProbeTime\":null,"
                  "\"lastTransitionTime\":\"t1\"},{\"type\":\"Custom\",\"status\":\"False\"}],"
                  "\"containerStatuses\":[{\"name\":\"c\",\"ready\":true}]}");
  json_t *st = J("{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\","
                 "\"lastTransitionTime\":\"t1\"},{\"type\":\"Custom\",\"status\":\"True\"}],"
                 "\"containerStatuses\":[{\"name\":\"c\",\"ready\":true}]}");
  json_t *patch = kl_pod_status_patch(&p, old, st);
  assert_int_equal(json_object_size(patch), 0);
  json_decref(patch);
  json_decref(old);
  json_decref(st);
}

static void test_ready_drops_reason(void **state)
{
  struct kl_pod p = {0};
  json_t *old =
      J("{\"phase\":\"Pending\",\"hostIP\":\"10.0.0.1\",\"nominatedNodeName\":\"n\","
        "\"conditions\":[{\"type\":\"PodScheduled\",\"status\":\"True\",\"lastTransitionTime\":\"t0\"},"
        "{\"type\":\"Ready\",\"status\":\"False\",\"reason\":\"ContainersNotReady\","
        "\"message\":\"containers with unready status: [c]\",\"lastTransitionTime\":\"t0\"},"
        "{\"type\":\"example.com/gate\",\"status\":\"True\"}],"
        "\"containerStatuses\":[{\"name\":\"c\",\"state\":{\"waiting\":{\"reason\":\"ContainerCreating\"}}}]}");
  json_t *st = J("{\"phase\":\"Running\",\"hostIP\":\"10.0.0.1\",\"podIP\":\"10.244.0.5\","
                 "\"podIPs\":[{\"ip\":\"10.244.0.5\"}],"
                 "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"lastProbeTime\":null,"
                 "\"lastTransitionTime\":\"t1\"},{\"type\":\"PodScheduled\",\"status\":\"True\","
                 "\"lastTransitionTime\":\"t0\"},{\"type\":\"example.com/gate\",\"status\":\"True\"}],"
                 "\"containerStatuses\":[{\"name\":\"c\",\"state\":{\"running\":{\"startedAt\":\"t1\"}}}]}");
  json_t *patch = kl_pod_status_patch(&p, old, st);
  const json_t *conds = json_object_get(patch, "conditions");
  assert_int_equal(json_array_size(conds), 1); /* only Ready changed */
  const json_t *ready = json_array_get(conds, 0);
  assert_string_equal(kj_get_str(ready, "status"), "True");
  assert_true(json_is_null(json_object_get(ready, "reason")));
  assert_true(json_is_null(json_object_get(ready, "message")));
  assert_null(json_object_get(patch, "hostIP"));            /* unchanged */
  assert_null(json_object_get(patch, "nominatedNodeName")); /* not ours */
  assert_non_null(json_object_get(patch, "containerStatuses"));
  json_decref(patch);
  check_roundtrip(&p, old, st, "{\"nominatedNodeName\":\"n\"}");
  json_decref(old);
  json_decref(st);
}

static void test_ips_replaced_and_fields_dropped(void **state)
{
  struct kl_pod p = {0};
  json_t *old = J("{\"phase\":\"Running\",\"podIP\":\"10.244.0.5\",\"podIPs\":[{\"ip\":\"10.244.0.5\"}],"
                  "\"reason\":\"Old\",\"message\":\"old\",\"conditions\":[]}");
  json_t *st = J("{\"phase\":\"Running\",\"podIP\":\"10.244.0.9\",\"podIPs\":[{\"ip\":\"10.244.0.9\"}],"
                 "\"conditions\":[]}");
  json_t *patch = kl_pod_status_patch(&p, old, st);
  assert_true(json_is_null(json_object_get(patch, "reason")));
  assert_true(json_is_null(json_object_get(patch, "message")));
  json_decref(patch);
  check_roundtrip(&p, old, st, "{}");
  json_decref(old);
  json_decref(st);
}

static void test_disruption_target_only_when_evicted(void **state)
{
  struct kl_pod p = {0};
  json_t *old = J("{\"phase\":\"Running\",\"conditions\":[]}");
  json_t *st = J("{\"phase\":\"Failed\",\"reason\":\"Evicted\",\"message\":\"m\",\"conditions\":"
                 "[{\"type\":\"DisruptionTarget\",\"status\":\"True\",\"reason\":\"TerminationByKubelet\"}]}");
  json_t *patch = kl_pod_status_patch(&p, old, st);
  assert_null(json_object_get(patch, "conditions")); /* another writer's */
  json_decref(patch);
  p.evicted = true;
  patch = kl_pod_status_patch(&p, old, st);
  assert_int_equal(json_array_size(json_object_get(patch, "conditions")), 1);
  json_decref(patch);
  check_roundtrip(&p, old, st, "{}");
  json_decref(old);
  json_decref(st);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_nothing_to_write),
      cmocka_unit_test(test_ready_drops_reason),
      cmocka_unit_test(test_ips_replaced_and_fields_dropped),
      cmocka_unit_test(test_disruption_target_only_when_evicted),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
