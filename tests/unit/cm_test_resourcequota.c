/*
 * cm_test_resourcequota.c - quota usage: only the resources named in
 * spec.hard are reported; counts exclude terminal pods; CPU and memory
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
  json_t *objs = J(
      "{\"pods\":["
      "{\"spec\":{\"containers\":[{\"resources\":{\"requests\":{\"cpu\":\"250m\",\"memory\":\"256Mi\"},"
      "\"limits\":{\"cpu\":\"500m\",\"memory\":\"512Mi\"}}},{\"resources\":{\"requests\":{\"cpu\":\"250m\",\"memory\":\"256Mi\"}}}]},"
      "\"status\":{\"phase\":\"Running\"}},"
      "{\"spec\":{\"initContainers\":[{\"resources\":{\"requests\":{\"cpu\":\"2\"}}}],"
      "\"containers\":[{\"resources\":{\"requests\":{\"cpu\":\"100m\",\"memory\":\"1Gi\"}}}]},\"status\":{\"phase\":\"Pending\"}},"
      "{\"spec\":{\"containers\":[{\"resources\":{\"requests\":{\"cpu\":\"7\"}}}]},\"status\":{\"phase\":\"Succeeded\"}}],"
      "\"services\":[{\"spec\":{\"type\":\"NodePort\",\"ports\":[{\"port\":1},{\"port\":2}]}},{\"spec\":{}}],"
      "\"configmaps\":[{},{}],"
      "\"count/deployments.apps\":[{}],"
      "\"persistentvolumeclaims\":[{\"spec\":{\"resources\":{\"requests\":{\"storage\":\"1Gi\"}}}},"
      "{\"spec\":{\"resources\":{\"requests\":{\"storage\":\"512Mi\"}}}}]}");
  json_t *used = resourcequota_usage(hard, objs);
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
    if (!got || strcmp(got, cases[i].want)) fail_msg("%s: got %s want %s", cases[i].name, got ? got : "(none)", cases[i].want);
  }
  assert_int_equal(json_object_size(used), json_object_size(hard));
  json_decref(used);
  json_decref(hard);
  json_decref(objs);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_usage),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
