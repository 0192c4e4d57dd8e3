/*
 * cm_test_resourcequota.c - quota usage: only the resources named in
 * spec.hard are reported; counts exclude terminal pods and pods past
 * their deletion grace period; CPU and memory
 * requests/limits sum over containers with the largest init container
 * taking over when bigger; node ports and storage requests.
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

static void test_usage(void **state)
{
  json_t *hard = J("{\"pods\":\"10\",\"requests.cpu\":\"4\",\"requests.memory\":\"8Gi\",\"limits.cpu\":\"8\","
                   "\"limits.memory\":\"16Gi\",\"cpu\":\"4\",\"services\":\"5\",\"services.nodeports\":\"2\","
                   "\"configmaps\":\"3\",\"count/deployments.apps\":\"2\",\"requests.storage\":\"10Gi\","
                   "\"persistentvolumeclaims\":\"4\"}");
  json_t *objs =
      J("{\"pods\":["
        "{\"spec\":{\"containers\":[{\"resources\":{\"requests\":{\"cpu\":\"250m\",\"memory\":\"256Mi\"},"
        "\"limits\":{\"cpu\":\"500m\",\"memory\":\"512Mi\"}}},{\"resources\":{\"requests\":{\"cpu\":\"250m\","
        "\"memory\":\"256Mi\"}}}]},"
        "\"status\":{\"phase\":\"Running\"}},"
        "{\"spec\":{\"initContainers\":[{\"resources\":{\"requests\":{\"cpu\":\"2\"}}}],"
        "\"containers\":[{\"resources\":{\"requests\":{\"cpu\":\"100m\",\"memory\":\"1Gi\"}}}]},\"status\":{\"phase\":"
        "\"Pending\"}},"
        "{\"spec\":{\"containers\":[{\"resources\":{\"requests\":{\"cpu\":\"7\"}}}]},\"status\":{\"phase\":"
        "\"Succeeded\"}}],"
        "\"services\":[{\"spec\":{\"type\":\"NodePort\",\"ports\":[{\"port\":1},{\"port\":2}]}},{\"spec\":{}}],"
        "\"configmaps\":[{},{}],"
        "\"count/deployments.apps\":[{}],"
        "\"persistentvolumeclaims\":[{\"spec\":{\"resources\":{\"requests\":{\"storage\":\"1Gi\"}}}},"
        "{\"spec\":{\"resources\":{\"requests\":{\"storage\":\"512Mi\"}}}}]}");
  json_t *used = resourcequota_usage(hard, objs, 1700000000, NULL);
  static const struct {
    const char *name, *want;
  } cases[] = {
      {"pods", "2"},
      {"requests.cpu", "2500m"}, /* 500m + max(100m, 2) */
      {"cpu", "2500m"},
      {"requests.memory", "1536Mi"},
      {"limits.cpu", "500m"},
      {"limits.memory", "512Mi"},
      {"services", "2"},
      {"services.nodeports", "2"},
      {"configmaps", "2"},
      {"count/deployments.apps", "1"},
      {"requests.storage", "1536Mi"},
      {"persistentvolumeclaims", "2"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *got = json_string_value(json_object_get(used, cases[i].name));
    if (!got || strcmp(got, cases[i].want))
      fail_msg("%s: got %s want %s", cases[i].name, got ? got : "(none)", cases[i].want);
  }
  assert_int_equal(json_object_size(used), json_object_size(hard));
  json_decref(used);
  json_decref(hard);
  json_decref(objs);
}

/* Pods being deleted count until their grace period is over, then no
 * longer (a pod stuck terminating on a lost node is not charged), for
 * pods and compute alike; count/pods counts every pod in storage, as
 * upstream's evaluator.  The caller learns when the usage changes. */
static void test_terminating_pods(void **state)
{
  json_t *hard = J("{\"pods\":\"10\",\"count/pods\":\"10\",\"requests.cpu\":\"4\",\"limits.memory\":\"1Gi\"}");
  json_t *objs = J(
      "{\"pods\":["
      "{\"metadata\":{\"name\":\"live\"},\"spec\":{\"containers\":[{\"resources\":{\"requests\":{\"cpu\":\"1\"}}}]},"
      "\"status\":{\"phase\":\"Running\"}},"
      "{\"metadata\":{\"name\":\"stuck\",\"deletionTimestamp\":\"2023-11-14T22:00:00Z\",\"deletionGracePeriodSeconds\":"
      "30},"
      "\"spec\":{\"containers\":[{\"resources\":{\"requests\":{\"cpu\":\"2\"}}}]},\"status\":{\"phase\":\"Running\"}},"
      "{\"metadata\":{\"name\":\"going\",\"deletionTimestamp\":\"2023-11-14T22:13:00Z\",\"deletionGracePeriodSeconds\":"
      "60},"
      "\"spec\":{\"containers\":[{\"resources\":{\"requests\":{\"cpu\":\"500m\"}}}]},\"status\":{\"phase\":\"Running\"}"
      "}]}");
  /* 1700000000 is 2023-11-14T22:13:20Z: "stuck" ended at 22:00:30, "going"
   * ends at 22:14:00. */
  int64_t next = 0;
  json_t *used = resourcequota_usage(hard, objs, 1700000000, &next);
  assert_string_equal(json_string_value(json_object_get(used, "pods")), "2");
  assert_string_equal(json_string_value(json_object_get(used, "count/pods")), "3");
  assert_string_equal(json_string_value(json_object_get(used, "requests.cpu")), "1500m");
  assert_string_equal(json_string_value(json_object_get(used, "limits.memory")), "0");
  assert_int_equal(next, 1700000041);
  json_decref(used);
  /* Past the second deadline too. */
  used = resourcequota_usage(hard, objs, 1700000041, &next);
  assert_string_equal(json_string_value(json_object_get(used, "pods")), "1");
  assert_string_equal(json_string_value(json_object_get(used, "count/pods")), "3");
  assert_string_equal(json_string_value(json_object_get(used, "requests.cpu")), "1");
  assert_int_equal(next, -1);
  json_decref(used);
  json_decref(hard);
  json_decref(objs);
}

/* Requests as PodRequests: a restartable init container (sidecar) adds
 * to the app containers, and a large init container takes over. */
static void test_sidecar_requests(void **state)
{
  json_t *hard = J("{\"requests.cpu\":\"8\",\"requests.memory\":\"8Gi\"}");
  json_t *objs =
      J("{\"pods\":[{\"spec\":{\"initContainers\":["
        "{\"name\":\"side\",\"restartPolicy\":\"Always\",\"resources\":{\"requests\":{\"cpu\":\"1\",\"memory\":\"1Gi\"}"
        "}},"
        "{\"name\":\"setup\",\"resources\":{\"requests\":{\"memory\":\"3Gi\"}}}],"
        "\"containers\":[{\"name\":\"app\",\"resources\":{\"requests\":{\"cpu\":\"500m\",\"memory\":\"1Gi\"}}}]},"
        "\"status\":{\"phase\":\"Running\"}}]}");
  json_t *used = resourcequota_usage(hard, objs, 1700000000, NULL);
  /* cpu: app 500m + sidecar 1; memory: max(app 1Gi + sidecar 1Gi, setup 3Gi + sidecar 1Gi). */
  assert_string_equal(json_string_value(json_object_get(used, "requests.cpu")), "1500m");
  assert_string_equal(json_string_value(json_object_get(used, "requests.memory")), "4Gi");
  json_decref(used);
  json_decref(hard);
  json_decref(objs);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_usage),
      cmocka_unit_test(test_terminating_pods),
      cmocka_unit_test(test_sidecar_requests),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
