/* Tests for the Pod strategy (apiserver/registry/pods.c, podspec.c):
 * defaulting, validation causes, QoS class, and the STATUS/RESTARTS
 * columns kubectl prints. */
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

static void test_pod_defaults(void **state)
{
  (void)state;
  struct {
    const char *in, *want;
  } cases[] = {
      {"{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"nginx\"}]}}",
       "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"nginx\","
       "\"imagePullPolicy\":\"Always\",\"terminationMessagePath\":\"/dev/termination-log\","
       "\"terminationMessagePolicy\":\"File\"}],\"dnsPolicy\":\"ClusterFirst\",\"restartPolicy\":\"Always\","
       "\"terminationGracePeriodSeconds\":30,\"securityContext\":{},\"schedulerName\":\"default-scheduler\","
       "\"enableServiceLinks\":true}}"},
      /* tagged image: IfNotPresent; ports get TCP; probes their defaults;
       * limits copied to requests; volumes default modes */
      {"{\"spec\":{\"restartPolicy\":\"Never\",\"containers\":[{\"name\":\"c\",\"image\":\"reg:5000/a/b:1.2\","
       "\"ports\":[{\"containerPort\":80}],\"readinessProbe\":{\"httpGet\":{\"port\":80}},"
       "\"resources\":{\"limits\":{\"cpu\":\"1\"}},\"volumeMounts\":[{\"name\":\"v\",\"mountPath\":\"/v\"}]}],"
       "\"volumes\":[{\"name\":\"v\",\"configMap\":{\"name\":\"cm\"}},{\"name\":\"e\"}]}}",
       "{\"spec\":{\"restartPolicy\":\"Never\",\"containers\":[{\"name\":\"c\",\"image\":\"reg:5000/a/b:1.2\","
       "\"imagePullPolicy\":\"IfNotPresent\",\"terminationMessagePath\":\"/dev/termination-log\","
       "\"terminationMessagePolicy\":\"File\",\"ports\":[{\"containerPort\":80,\"protocol\":\"TCP\"}],"
       "\"readinessProbe\":{\"httpGet\":{\"port\":80,\"path\":\"/\",\"scheme\":\"HTTP\"},\"timeoutSeconds\":1,"
       "\"periodSeconds\":10,\"successThreshold\":1,\"failureThreshold\":3},"
       "\"resources\":{\"limits\":{\"cpu\":\"1\"},\"requests\":{\"cpu\":\"1\"}},"
       "\"volumeMounts\":[{\"name\":\"v\",\"mountPath\":\"/v\"}]}],"
       "\"volumes\":[{\"name\":\"v\",\"configMap\":{\"name\":\"cm\",\"defaultMode\":420}},{\"name\":\"e\",\"emptyDir\":"
       "{}}],"
       "\"dnsPolicy\":\"ClusterFirst\",\"terminationGracePeriodSeconds\":30,\"securityContext\":{},"
       "\"schedulerName\":\"default-scheduler\",\"enableServiceLinks\":true}}"},
      /* a registry port is not a tag; a digest pins the image */
      {"{\"spec\":{\"hostNetwork\":true,\"containers\":[{\"name\":\"a\",\"image\":\"reg:5000/"
       "x\",\"ports\":[{\"containerPort\":53}]},"
       "{\"name\":\"b\",\"image\":\"x@sha256:abc\"}],\"dnsPolicy\":\"Default\",\"enableServiceLinks\":false}}",
       "{\"spec\":{\"hostNetwork\":true,\"containers\":[{\"name\":\"a\",\"image\":\"reg:5000/"
       "x\",\"imagePullPolicy\":\"Always\","
       "\"ports\":[{\"containerPort\":53,\"protocol\":\"TCP\",\"hostPort\":53}],"
       "\"terminationMessagePath\":\"/dev/termination-log\",\"terminationMessagePolicy\":\"File\"},"
       "{\"name\":\"b\",\"image\":\"x@sha256:abc\",\"imagePullPolicy\":\"IfNotPresent\","
       "\"terminationMessagePath\":\"/dev/termination-log\",\"terminationMessagePolicy\":\"File\"}],"
       "\"dnsPolicy\":\"Default\",\"enableServiceLinks\":false,\"restartPolicy\":\"Always\","
       "\"terminationGracePeriodSeconds\":30,\"securityContext\":{},\"schedulerName\":\"default-scheduler\"}}"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    json_t *obj = J(cases[i].in);
    reg_pods.defaults(obj);
    assert_json(obj, cases[i].want);
    /* defaulting is idempotent */
    reg_pods.defaults(obj);
    assert_json(obj, cases[i].want);
    json_decref(obj);
  }
}

static void test_pod_prepare(void **state)
{
  (void)state;
  json_t *obj =
      J("{\"metadata\":{\"name\":\"p\"},\"spec\":{\"nodeName\":\"n1\",\"containers\":[{\"name\":\"c\",\"image\":\"i\","
        "\"resources\":{\"requests\":{\"cpu\":\"100m\"}}}]},\"status\":{\"phase\":\"Running\",\"podIP\":\"1.2.3.4\"}}");
  struct reg_request rq = {.verb = "create"};
  reg_pods.prepare_create(&rq, obj);
  assert_json(json_object_get(obj, "status"), "{\"phase\":\"Pending\",\"qosClass\":\"Burstable\"}");
  assert_string_equal(kj_get_str(obj, "spec.nodeName"), "n1"); /* allowed at create */

  /* main update keeps status and nodeName; status update keeps spec */
  json_t *old = json_deep_copy(obj);
  kj_set_str(old, "status.phase", "Running");
  json_t *upd = json_deep_copy(obj);
  kj_set_str(upd, "spec.nodeName", "n2");
  kj_set_str(upd, "status.phase", "Failed");
  rq.verb = "update";
  reg_pods.prepare_update(&rq, upd, old);
  assert_string_equal(kj_get_str(upd, "spec.nodeName"), "n1");
  assert_string_equal(kj_get_str(upd, "status.phase"), "Running");
  json_decref(upd);

  upd = json_deep_copy(obj);
  kj_set_str(upd, "spec.containers[0].image", "other");
  kj_set_str(upd, "status.phase", "Succeeded");
  rq.subresource = "status";
  reg_pods.prepare_update(&rq, upd, old);
  assert_string_equal(kj_get_str(upd, "spec.containers[0].image"), "i");
  assert_string_equal(kj_get_str(upd, "status.phase"), "Succeeded");
  json_decref(upd);

  /* binding writes nodeName and the PodScheduled condition together */
  upd = json_deep_copy(old);
  kj_set_str(upd, "spec.nodeName", "n9");
  json_object_set_new(json_object_get(upd, "status"), "conditions",
                      J("[{\"type\":\"PodScheduled\",\"status\":\"True\"}]"));
  rq.subresource = "binding";
  reg_pods.prepare_update(&rq, upd, old);
  assert_string_equal(kj_get_str(upd, "spec.nodeName"), "n9");
  assert_string_equal(kj_get_str(upd, "status.conditions[0].type"), "PodScheduled");
  json_decref(upd);
  json_decref(old);
  json_decref(obj);
}

static void test_pod_qos(void **state)
{
  (void)state;
  struct {
    const char *spec, *want;
  } cases[] = {
      {"{\"containers\":[{\"name\":\"a\"}]}", "BestEffort"},
      {"{\"containers\":[{\"name\":\"a\",\"resources\":{\"requests\":{\"cpu\":\"0\"}}}]}", "BestEffort"},
      {"{\"containers\":[{\"name\":\"a\",\"resources\":{\"requests\":{\"cpu\":\"1\"}}}]}", "Burstable"},
      {"{\"containers\":[{\"name\":\"a\",\"resources\":{\"limits\":{\"cpu\":\"1\",\"memory\":\"1Gi\"},"
       "\"requests\":{\"cpu\":\"1000m\",\"memory\":\"1024Mi\"}}}]}",
       "Guaranteed"},
      {"{\"containers\":[{\"name\":\"a\",\"resources\":{\"limits\":{\"cpu\":\"1\",\"memory\":\"1Gi\"},"
       "\"requests\":{\"cpu\":\"500m\",\"memory\":\"1Gi\"}}}]}",
       "Burstable"},
      {"{\"containers\":[{\"name\":\"a\",\"resources\":{\"limits\":{\"cpu\":\"1\",\"memory\":\"1Gi\"},"
       "\"requests\":{\"cpu\":\"1\",\"memory\":\"1Gi\"}}},{\"name\":\"b\",\"resources\":{\"limits\":{\"cpu\":\"1\"},"
       "\"requests\":{\"cpu\":\"1\"}}}]}",
       "Burstable"},
  };
  /* the class a create records is podutil's (upstream's ComputePodQOS) */
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    json_t *pod = json_pack("{s:o}", "spec", J(cases[i].spec));
    struct reg_request rq = {.verb = "create"};
    reg_pods.prepare_create(&rq, pod);
    const char *got = kj_get_str(pod, "status.qosClass");
    if (!got || strcmp(got, cases[i].want))
      fail_msg("case %zu: got %s want %s", i, got ? got : "(none)", cases[i].want);
    json_decref(pod);
  }
}

#define META "\"metadata\":{\"name\":\"p\",\"namespace\":\"default\"}"

static void test_pod_validate(void **state)
{
  (void)state;
  struct {
    const char *obj, *old, *want;
  } cases[] = {
      {"{" META ",\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}", NULL, ""},
      {"{" META ",\"spec\":{}}", NULL, "spec.containers|FieldValueRequired|Required value"},
      {"{\"metadata\":{\"name\":\"Bad_Name\",\"namespace\":\"default\"},\"spec\":{\"containers\":[{\"name\":\"c\","
       "\"image\":\"i\"}]}}",
       NULL,
       "metadata.name|FieldValueInvalid|Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain must consist of "
       "lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. "
       "'example.com', regex used for validation is "
       "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"},
      {"{" META ",\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\"},{\"name\":\"c\"}]}}", NULL,
       "spec.containers[1].name|FieldValueDuplicate|Duplicate value: \"c\"\n"
       "spec.containers[1].image|FieldValueRequired|Required value"},
      {"{" META
       ",\"spec\":{\"containers\":[{\"image\":\"i\",\"ports\":[{\"containerPort\":70000,\"protocol\":\"tcp\"}]}]}}",
       NULL,
       "spec.containers[0].name|FieldValueRequired|Required value\n"
       "spec.containers[0].ports[0].containerPort|FieldValueInvalid|Invalid value: 70000: must be between 1 and 65535, "
       "inclusive\n"
       "spec.containers[0].ports[0].protocol|FieldValueNotSupported|Unsupported value: \"tcp\": supported values: "
       "\"SCTP\", \"TCP\", \"UDP\""},
      {"{" META ",\"spec\":{\"restartPolicy\":\"Sometimes\",\"containers\":[{\"name\":\"c\",\"image\":\"i\","
       "\"volumeMounts\":[{\"name\":\"missing\",\"mountPath\":\"/m\"}]}]}}",
       NULL,
       "spec.containers[0].volumeMounts[0].name|FieldValueNotFound|Not found: \"missing\"\n"
       "spec.restartPolicy|FieldValueNotSupported|Unsupported value: \"Sometimes\": supported values: \"Always\", "
       "\"OnFailure\", \"Never\""},
      {"{" META
       ",\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\",\"resources\":{\"requests\":{\"cpu\":\"2\"},"
       "\"limits\":{\"cpu\":\"1\"}}}]}}",
       NULL,
       "spec.containers[0].resources.requests|FieldValueInvalid|Invalid value: \"2\": must be less than or equal to "
       "cpu limit of 1"},
      /* negative amounts and fractional countable (extended) resources */
      {"{" META
       ",\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\",\"resources\":{\"requests\":{\"cpu\":\"-1\"},"
       "\"limits\":{\"example.com/gpu\":\"500m\"}}}]}}",
       NULL,
       "spec.containers[0].resources.limits[example.com/gpu]|FieldValueInvalid|Invalid value: \"500m\": must be an "
       "integer\n"
       "spec.containers[0].resources.requests[cpu]|FieldValueInvalid|Invalid value: \"-1\": must be greater than or "
       "equal to 0"},
      {"{" META ",\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\",\"resources\":{\"limits\":{"
       "\"ephemeral-storage\":\"1500m\",\"memory\":\"0\"}}}]}}",
       NULL, ""},
      {"{\"metadata\":{\"name\":\"p\",\"labels\":{\"a "
       "b\":\"x\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}",
       NULL,
       "metadata.namespace|FieldValueRequired|Required value\n"
       "metadata.labels|FieldValueInvalid|Invalid value: \"a b\": name part must consist of alphanumeric characters, "
       "'-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
       "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"},
      {"{" META ",\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\"}],\"tolerations\":["
       "{\"operator\":\"Exists\"},{\"key\":\"k\",\"operator\":\"Exists\",\"value\":\"v\"},"
       "{\"operator\":\"Equal\"},{\"key\":\"k\",\"effect\":\"NoSchedule\",\"tolerationSeconds\":5}]}}",
       NULL,
       "spec.tolerations[1].operator|FieldValueInvalid|Invalid value: \"v\": value must be empty when `operator` is "
       "'Exists'\n"
       "spec.tolerations[2].operator|FieldValueInvalid|Invalid value: \"Equal\": operator must be Exists when `key` is "
       "empty, which means \"match all values and all keys\"\n"
       "spec.tolerations[3].effect|FieldValueInvalid|Invalid value: \"NoSchedule\": effect must be 'NoExecute' when "
       "`tolerationSeconds` is set"},
      /* updates: image may change, other spec fields may not */
      {"{" META ",\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"j\"}]}}",
       "{" META ",\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}", ""},
      {"{" META ",\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\",\"args\":[\"x\"]}]}}",
       "{" META ",\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}",
       "spec|FieldValueForbidden|Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
       "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing "
       "tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    check_validate_sub(&reg_pods, NULL, cases[i].obj, cases[i].old, cases[i].want);
}

/* STATUS and READY columns: upstream printPod cases. */
static void test_pod_status_column(void **state)
{
  (void)state;
  struct {
    const char *pod, *ready, *status, *restarts;
  } cases[] = {
      {"{\"spec\":{\"containers\":[{\"name\":\"a\"}]},\"status\":{\"phase\":\"Pending\"}}", "0/1", "Pending", "0"},
      {"{\"spec\":{\"containers\":[{\"name\":\"a\"},{\"name\":\"b\"}]},\"status\":{\"phase\":\"Running\","
       "\"containerStatuses\":[{\"name\":\"a\",\"ready\":true,\"restartCount\":3,\"state\":{\"running\":{}}},"
       "{\"name\":\"b\",\"ready\":true,\"state\":{\"running\":{}}}]}}",
       "2/2", "Running", "3"},
      {"{\"spec\":{\"containers\":[{\"name\":\"a\"}]},\"status\":{\"phase\":\"Pending\","
       "\"containerStatuses\":[{\"name\":\"a\",\"state\":{\"waiting\":{\"reason\":\"ContainerCreating\"}}}]}}",
       "0/1", "ContainerCreating", "0"},
      {"{\"spec\":{\"containers\":[{\"name\":\"a\"}]},\"status\":{\"phase\":\"Running\","
       "\"containerStatuses\":[{\"name\":\"a\",\"restartCount\":5,\"state\":{\"waiting\":{\"reason\":"
       "\"CrashLoopBackOff\"}}}]}}",
       "0/1", "CrashLoopBackOff", "5"},
      {"{\"spec\":{\"containers\":[{\"name\":\"a\"}]},\"status\":{\"phase\":\"Succeeded\","
       "\"containerStatuses\":[{\"name\":\"a\",\"state\":{\"terminated\":{\"exitCode\":0,\"reason\":\"Completed\"}}}]}"
       "}",
       "0/1", "Completed", "0"},
      {"{\"spec\":{\"containers\":[{\"name\":\"a\"}]},\"status\":{\"phase\":\"Failed\","
       "\"containerStatuses\":[{\"name\":\"a\",\"state\":{\"terminated\":{\"exitCode\":2}}}]}}",
       "0/1", "ExitCode:2", "0"},
      {"{\"spec\":{\"containers\":[{\"name\":\"a\"}]},\"status\":{\"phase\":\"Failed\","
       "\"containerStatuses\":[{\"name\":\"a\",\"state\":{\"terminated\":{\"exitCode\":137,\"signal\":9}}}]}}",
       "0/1", "Signal:9", "0"},
      {"{\"spec\":{\"initContainers\":[{\"name\":\"i1\"},{\"name\":\"i2\"}],\"containers\":[{\"name\":\"a\"}]},"
       "\"status\":{\"phase\":\"Pending\",\"initContainerStatuses\":[{\"name\":\"i1\",\"state\":{\"terminated\":"
       "{\"exitCode\":0}}},{\"name\":\"i2\",\"state\":{\"running\":{}}}],\"containerStatuses\":[{\"name\":\"a\","
       "\"state\":{\"waiting\":{\"reason\":\"PodInitializing\"}}}]}}",
       "0/1", "Init:1/2", "0"},
      {"{\"spec\":{\"initContainers\":[{\"name\":\"i1\"}],\"containers\":[{\"name\":\"a\"}]},"
       "\"status\":{\"phase\":\"Pending\",\"initContainerStatuses\":[{\"name\":\"i1\",\"restartCount\":2,\"state\":"
       "{\"waiting\":{\"reason\":\"CrashLoopBackOff\"}}}]}}",
       "0/1", "Init:CrashLoopBackOff", "2"},
      {"{\"spec\":{\"initContainers\":[{\"name\":\"i1\"}],\"containers\":[{\"name\":\"a\"}]},"
       "\"status\":{\"phase\":\"Failed\",\"initContainerStatuses\":[{\"name\":\"i1\",\"state\":"
       "{\"terminated\":{\"exitCode\":1,\"reason\":\"Error\"}}}]}}",
       "0/1", "Init:Error", "0"},
      {"{\"spec\":{\"initContainers\":[{\"name\":\"i1\"}],\"containers\":[{\"name\":\"a\"}]},"
       "\"status\":{\"phase\":\"Pending\",\"initContainerStatuses\":[{\"name\":\"i1\",\"state\":"
       "{\"terminated\":{\"exitCode\":3}}}]}}",
       "0/1", "Init:ExitCode:3", "0"},
      /* sidecar (restartable init container) counts toward READY */
      {"{\"spec\":{\"initContainers\":[{\"name\":\"s\",\"restartPolicy\":\"Always\"}],\"containers\":[{\"name\":\"a\"}]"
       "},"
       "\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Initialized\",\"status\":\"True\"}],"
       "\"initContainerStatuses\":[{\"name\":\"s\",\"started\":true,\"ready\":true,\"state\":{\"running\":{}}}],"
       "\"containerStatuses\":[{\"name\":\"a\",\"ready\":true,\"state\":{\"running\":{}}}]}}",
       "2/2", "Running", "0"},
      {"{\"metadata\":{\"deletionTimestamp\":\"2024-01-01T00:00:00Z\"},\"spec\":{\"containers\":[{\"name\":\"a\"}]},"
       "\"status\":{\"phase\":\"Running\",\"containerStatuses\":[{\"name\":\"a\",\"ready\":true,\"state\":{\"running\":"
       "{}}}]}}",
       "1/1", "Terminating", "0"},
      {"{\"metadata\":{\"deletionTimestamp\":\"2024-01-01T00:00:00Z\"},\"spec\":{\"containers\":[{\"name\":\"a\"}]},"
       "\"status\":{\"phase\":\"Running\",\"reason\":\"NodeLost\"}}",
       "0/1", "Unknown", "0"},
      {"{\"metadata\":{\"deletionTimestamp\":\"2024-01-01T00:00:00Z\"},\"spec\":{\"containers\":[{\"name\":\"a\"}]},"
       "\"status\":{\"phase\":\"Succeeded\"}}",
       "0/1", "Succeeded", "0"},
      {"{\"spec\":{\"containers\":[{\"name\":\"a\"}]},\"status\":{\"phase\":\"Failed\",\"reason\":\"Evicted\"}}", "0/1",
       "Evicted", "0"},
      {"{\"spec\":{\"containers\":[{\"name\":\"a\"}]},\"status\":{\"phase\":\"Pending\",\"conditions\":[{\"type\":"
       "\"PodScheduled\",\"status\":\"False\",\"reason\":\"SchedulingGated\"}]}}",
       "0/1", "SchedulingGated", "0"},
      /* a completed container next to a running one: back to Running/NotReady */
      {"{\"spec\":{\"containers\":[{\"name\":\"a\"},{\"name\":\"b\"}]},\"status\":{\"phase\":\"Running\","
       "\"containerStatuses\":[{\"name\":\"a\",\"state\":{\"terminated\":{\"exitCode\":0,\"reason\":\"Completed\"}}},"
       "{\"name\":\"b\",\"ready\":true,\"state\":{\"running\":{}}}]}}",
       "1/2", "NotReady", "0"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    json_t *pod = J(cases[i].pod);
    json_t *row = reg_pods.cells(pod);
    assert_int_equal(json_array_size(row), 9);
    const char *ready = json_string_value(json_array_get(row, 1));
    const char *status = json_string_value(json_array_get(row, 2));
    const char *restarts = json_string_value(json_array_get(row, 3));
    if (strcmp(ready, cases[i].ready) || strcmp(status, cases[i].status) || strcmp(restarts, cases[i].restarts))
      fail_msg("case %zu: got %s %s %s, want %s %s %s", i, ready, status, restarts, cases[i].ready, cases[i].status,
               cases[i].restarts);
    json_decref(row);
    json_decref(pod);
  }
}

static void test_pod_wide_cells(void **state)
{
  (void)state;
  json_t *pod =
      J("{\"metadata\":{\"name\":\"p\",\"creationTimestamp\":\"2020-01-01T00:00:00Z\"},"
        "\"spec\":{\"nodeName\":\"n1\",\"readinessGates\":[{\"conditionType\":\"x\"},{\"conditionType\":\"y\"}],"
        "\"containers\":[{\"name\":\"a\"}]},\"status\":{\"phase\":\"Running\",\"podIPs\":[{\"ip\":\"10.1.0.5\"}],"
        "\"conditions\":[{\"type\":\"x\",\"status\":\"True\"}],\"containerStatuses\":[{\"name\":\"a\","
        "\"restartCount\":1,\"lastState\":{\"terminated\":{\"finishedAt\":\"2020-01-01T00:00:00Z\"}},"
        "\"state\":{\"running\":{}}}]}}");
  json_t *row = reg_pods.cells(pod);
  assert_string_equal(json_string_value(json_array_get(row, 0)), "p");
  /* "1 (Xy ago)": restarts with the time since the last one */
  const char *restarts = json_string_value(json_array_get(row, 3));
  assert_true(!strncmp(restarts, "1 (", 3) && strstr(restarts, " ago)"));
  assert_string_equal(json_string_value(json_array_get(row, 5)), "10.1.0.5");
  assert_string_equal(json_string_value(json_array_get(row, 6)), "n1");
  assert_string_equal(json_string_value(json_array_get(row, 7)), "<none>");
  assert_string_equal(json_string_value(json_array_get(row, 8)), "1/2");
  json_decref(row);
  json_decref(pod);

  /* columns and cells agree in length */
  size_t ncols = 0;
  while (reg_pods.columns[ncols].name) ncols++;
  assert_int_equal(ncols, 9);
}

static void test_pod_field_values(void **state)
{
  (void)state;
  json_t *pod = J("{\"spec\":{\"nodeName\":\"n1\",\"restartPolicy\":\"Never\"},\"status\":{\"phase\":\"Running\","
                  "\"podIPs\":[{\"ip\":\"10.0.0.9\"}]}}");
  char buf[64];
  assert_string_equal(reg_pods.field_value(pod, "spec.nodeName", buf, sizeof(buf)), "n1");
  assert_string_equal(reg_pods.field_value(pod, "status.phase", buf, sizeof(buf)), "Running");
  assert_string_equal(reg_pods.field_value(pod, "status.podIP", buf, sizeof(buf)), "10.0.0.9");
  assert_string_equal(reg_pods.field_value(pod, "spec.hostNetwork", buf, sizeof(buf)), "false");
  assert_string_equal(reg_pods.field_value(pod, "spec.schedulerName", buf, sizeof(buf)), "");
  assert_null(reg_pods.field_value(pod, "spec.bogus", buf, sizeof(buf)));
  json_decref(pod);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pod_defaults),      cmocka_unit_test(test_pod_prepare),
      cmocka_unit_test(test_pod_qos),           cmocka_unit_test(test_pod_validate),
      cmocka_unit_test(test_pod_status_column), cmocka_unit_test(test_pod_wide_cells),
      cmocka_unit_test(test_pod_field_values),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
