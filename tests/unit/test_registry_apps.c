/* Tests for the apps/v1 strategies (apiserver/registry/deployments.c,
 * replicasets.c, workloads.c): defaulting, generation, status split,
 * validation causes and table cells. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <kube/json.h>

#include "registry/reg_internal.h"
#include "registry/registry.h"
#include "registry_test_util.h"

#define TEMPLATE(labels)                                                                                               \
  "\"template\":{\"metadata\":{\"labels\":" labels                                                                     \
  "},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"nginx:1\"}]}}"
#define DEPLOY(spec) "{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},\"spec\":" spec "}"

static void test_deployment_defaults(void **state)
{
  (void)state;
  json_t *obj = J(DEPLOY("{\"selector\":{\"matchLabels\":{\"app\":\"web\"}}," TEMPLATE("{\"app\":\"web\"}") "}"));
  reg_deployments.defaults(obj);
  assert_json(
      json_object_get(obj, "spec"),
      "{\"replicas\":1,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},\"strategy\":{\"type\":\"RollingUpdate\","
      "\"rollingUpdate\":{\"maxUnavailable\":\"25%\",\"maxSurge\":\"25%\"}},\"revisionHistoryLimit\":10,"
      "\"progressDeadlineSeconds\":600,\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{"
      "\"containers\":[{\"name\":\"c\",\"image\":\"nginx:1\",\"imagePullPolicy\":\"IfNotPresent\","
      "\"terminationMessagePath\":\"/dev/termination-log\",\"terminationMessagePolicy\":\"File\"}],"
      "\"dnsPolicy\":\"ClusterFirst\",\"restartPolicy\":\"Always\",\"terminationGracePeriodSeconds\":30,"
      "\"securityContext\":{},\"schedulerName\":\"default-scheduler\"}}}");
  json_decref(obj);

  /* Recreate gets no rollingUpdate; explicit values are kept */
  obj = J(DEPLOY("{\"replicas\":0,\"strategy\":{\"type\":\"Recreate\"},\"revisionHistoryLimit\":2}"));
  reg_deployments.defaults(obj);
  assert_json(json_object_get(obj, "spec"), "{\"replicas\":0,\"strategy\":{\"type\":\"Recreate\"},"
                                            "\"revisionHistoryLimit\":2,\"progressDeadlineSeconds\":600}");
  json_decref(obj);

  obj = J("{\"spec\":{\"selector\":{\"matchLabels\":{\"a\":\"b\"}}}}");
  reg_replicasets.defaults(obj);
  assert_json(json_object_get(obj, "spec"), "{\"replicas\":1,\"selector\":{\"matchLabels\":{\"a\":\"b\"}}}");
  json_decref(obj);
}

static void test_generation_and_status(void **state)
{
  (void)state;
  const struct resource *kinds[] = {&reg_deployments, &reg_replicasets};
  for (size_t k = 0; k < 2; k++) {
    const struct resource *res = kinds[k];
    json_t *obj = J(DEPLOY("{\"replicas\":2}"));
    json_object_set_new(obj, "status", J("{\"replicas\":9}"));
    struct reg_request rq = {.verb = "create"};
    res->prepare_create(&rq, obj);
    assert_int_equal(kj_get_int(obj, "metadata.generation", 0), 1);
    assert_int_equal(kj_get_int(obj, "status.replicas", 0), 0); /* status cleared */

    json_t *old = json_deep_copy(obj);
    kj_set_int(old, "status.replicas", 2);
    /* metadata-only update: generation stays (labels are not spec) */
    json_t *upd = json_deep_copy(obj);
    kj_set_str(upd, "metadata.labels.x", "y");
    rq.verb = "update";
    res->prepare_update(&rq, upd, old);
    assert_int_equal(kj_get_int(upd, "metadata.generation", 0), 1);
    assert_int_equal(kj_get_int(upd, "status.replicas", 0), 2); /* status from old */
    json_decref(upd);

    upd = json_deep_copy(obj);
    kj_set_int(upd, "spec.replicas", 3);
    res->prepare_update(&rq, upd, old);
    assert_int_equal(kj_get_int(upd, "metadata.generation", 0), 2);
    json_decref(upd);

    /* status writes keep spec and generation */
    upd = json_deep_copy(old);
    kj_set_int(upd, "spec.replicas", 7);
    kj_set_int(upd, "status.replicas", 5);
    rq.subresource = "status";
    res->prepare_update(&rq, upd, old);
    assert_int_equal(kj_get_int(upd, "spec.replicas", 0), 2);
    assert_int_equal(kj_get_int(upd, "status.replicas", 0), 5);
    assert_int_equal(kj_get_int(upd, "metadata.generation", 0), 1);
    json_decref(upd);
    json_decref(old);
    json_decref(obj);
  }
}

static void test_deployment_validate(void **state)
{
  (void)state;
  const char *good = DEPLOY("{\"replicas\":1,\"selector\":{\"matchLabels\":{\"app\":\"web\"}}," TEMPLATE(
      "{\"app\":\"web\"}") ",\"strategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"maxSurge\":\"25%\","
                           "\"maxUnavailable\":\"25%\"}},"
                           "\"progressDeadlineSeconds\":600,\"template2\":{}}");
  struct {
    const char *obj, *old, *want;
  } cases[] = {
      {good, NULL, ""},
      {DEPLOY("{" TEMPLATE("{\"app\":\"web\"}") "}"), NULL, "spec.selector|FieldValueRequired|Required value"},
      {DEPLOY("{\"selector\":{\"matchLabels\":{\"app\":\"web\"}}," TEMPLATE("{\"app\":\"other\"}") "}"), NULL,
       "spec.template.metadata.labels|FieldValueInvalid|Invalid value: map[string]string{\"app\":\"other\"}: "
       "`selector` does not match template `labels`"},
      {DEPLOY("{\"selector\":{}," TEMPLATE("{\"app\":\"web\"}") "}"), NULL,
       "spec.selector|FieldValueInvalid|Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
       "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"},
      {DEPLOY("{\"replicas\":-1,\"selector\":{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"In\"}]}," TEMPLATE(
           "{\"app\":\"web\"}") "}"),
       NULL,
       "spec.replicas|FieldValueInvalid|Invalid value: -1: must be greater than or equal to 0\n"
       "spec.selector.matchExpressions[0].values|FieldValueRequired|Required value: must be specified when "
       "`operator` is 'In' or 'NotIn'\n"
       "spec.template.metadata.labels|FieldValueInvalid|Invalid value: map[string]string{\"app\":\"web\"}: "
       "`selector` does not match template `labels`"},
      {DEPLOY(
           "{\"selector\":{\"matchLabels\":{\"app\":\"web\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":"
           "\"web\"}},\"spec\":{\"restartPolicy\":\"Never\",\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}},"
           "\"strategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"maxSurge\":0,\"maxUnavailable\":\"0%\"}}}"),
       NULL,
       "spec.template.spec.restartPolicy|FieldValueNotSupported|Unsupported value: \"Never\": supported values: "
       "\"Always\"\n"
       "spec.strategy.rollingUpdate.maxUnavailable|FieldValueInvalid|Invalid value: \"0%\": may not be 0 when "
       "`maxSurge` is 0"},
      {DEPLOY("{\"selector\":{\"matchLabels\":{\"app\":\"web\"}}," TEMPLATE(
           "{\"app\":\"web\"}") ",\"strategy\":{\"type\":"
                                "\"Recreate\",\"rollingUpdate\":{}},\"minReadySeconds\":10,\"progressDeadlineSeconds\":"
                                "5}"),
       NULL,
       "spec.strategy.rollingUpdate|FieldValueForbidden|Forbidden: may not be specified when strategy `type` is "
       "'Recreate'\n"
       "spec.progressDeadlineSeconds|FieldValueInvalid|Invalid value: 5: must be greater than minReadySeconds"},
      /* selector is immutable in apps/v1 */
      {DEPLOY("{\"selector\":{\"matchLabels\":{\"app\":\"b\"}}," TEMPLATE("{\"app\":\"b\"}") "}"),
       DEPLOY("{\"selector\":{\"matchLabels\":{\"app\":\"web\"}}," TEMPLATE("{\"app\":\"web\"}") "}"),
       "spec.selector|FieldValueInvalid|Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"b\"}, "
       "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    check_validate_sub(&reg_deployments, NULL, cases[i].obj, cases[i].old, cases[i].want);

  check_validate_sub(
      &reg_replicasets, NULL,
      DEPLOY("{\"selector\":{\"matchLabels\":{\"app\":\"web\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":"
             "\"web\"}},\"spec\":{\"activeDeadlineSeconds\":5,\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}}"),
      NULL,
      "spec.template.spec.activeDeadlineSeconds|FieldValueInvalid|Invalid value: 5: activeDeadlineSeconds in "
      "ReplicaSet is not Supported");
  check_validate_sub(&reg_replicasets, "status", DEPLOY("{}"), DEPLOY("{}"), "");
}

static void test_cells(void **state)
{
  (void)state;
  json_t *d =
      J("{\"metadata\":{\"name\":\"web\"},\"spec\":{\"replicas\":3,\"selector\":{\"matchLabels\":{\"b\":\"2\","
        "\"a\":\"1\"},\"matchExpressions\":[{\"key\":\"tier\",\"operator\":\"In\",\"values\":[\"y\",\"x\"]},"
        "{\"key\":\"z\",\"operator\":\"DoesNotExist\"}]},\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\","
        "\"image\":\"ia\"},{\"name\":\"b\",\"image\":\"ib\"}]}}},\"status\":{\"readyReplicas\":2,"
        "\"updatedReplicas\":3,\"availableReplicas\":1}}");
  json_t *row = reg_deployments.cells(d);
  assert_json(row, "[\"web\",\"2/3\",3,1,\"<unknown>\",\"a,b\",\"ia,ib\",\"a=1,b=2,tier in (x,y),!z\"]");
  json_decref(row);
  row = reg_replicasets.cells(d);
  assert_json(row, "[\"web\",3,0,2,\"<unknown>\",\"a,b\",\"ia,ib\",\"a=1,b=2,tier in (x,y),!z\"]");
  json_decref(row);
  json_decref(d);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_deployment_defaults),
      cmocka_unit_test(test_generation_and_status),
      cmocka_unit_test(test_deployment_validate),
      cmocka_unit_test(test_cells),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
