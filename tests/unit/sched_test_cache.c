/*
 * sched_test_cache.c - the pods informer's transform: what the scheduler
 * keeps of a pod (everything its plugins, preemption, events and queue
 * read) and what it drops to keep ten thousand cached pods small.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sched_test_util.h"
#include "scheduler.h"

static const char *full_pod =
    "{\"apiVersion\":\"v1\",\"kind\":\"Pod\","
    "\"metadata\":{\"name\":\"p\",\"namespace\":\"ns\",\"uid\":\"u1\",\"resourceVersion\":\"7\","
    "\"labels\":{\"app\":\"web\"},\"annotations\":{\"big\":\"xxxxxxxx\"},\"managedFields\":[{\"manager\":\"kubectl\"}],"
    "\"ownerReferences\":[{\"uid\":\"o\"}],\"creationTimestamp\":\"2024-01-01T00:00:00Z\"},"
    "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"nginx\",\"env\":[{\"name\":\"A\",\"value\":\"B\"}],"
    "\"command\":[\"x\"],\"ports\":[{\"containerPort\":80,\"hostPort\":8080}],"
    "\"resources\":{\"requests\":{\"cpu\":\"1\"},\"limits\":{\"cpu\":\"2\"}},\"volumeMounts\":[{\"name\":\"v\"}]}],"
    "\"initContainers\":[{\"name\":\"i\",\"image\":\"busybox\",\"restartPolicy\":\"Always\","
    "\"resources\":{\"requests\":{\"memory\":\"1Gi\"}}}],"
    "\"volumes\":[{\"name\":\"v\",\"emptyDir\":{}}],\"dnsPolicy\":\"ClusterFirst\",\"priority\":5,"
    "\"tolerations\":[{\"operator\":\"Exists\"}],\"nodeSelector\":{\"disk\":\"ssd\"},"
    "\"affinity\":{\"podAntiAffinity\":{}},\"topologySpreadConstraints\":[{\"maxSkew\":1}],"
    "\"schedulingGates\":[{\"name\":\"g\"}],\"overhead\":{\"cpu\":\"10m\"},\"schedulerName\":\"default-scheduler\"},"
    "\"status\":{\"phase\":\"Pending\",\"conditions\":[{\"type\":\"PodScheduled\"}],\"containerStatuses\":[{}],"
    "\"podIP\":\"10.0.0.1\",\"nominatedNodeName\":\"n1\",\"startTime\":\"2024-01-01T00:00:01Z\"}}";

static void test_transform_pending(void **state)
{
  json_t *p = tj(full_pod);
  json_t *before = json_deep_copy(p);
  sched_pod_transform(NULL, p);
  static const char *const kept[] = {"kind",
                                     "metadata.name",
                                     "metadata.namespace",
                                     "metadata.uid",
                                     "metadata.resourceVersion",
                                     "metadata.labels.app",
                                     "metadata.creationTimestamp",
                                     "spec.containers[0].image",
                                     "spec.containers[0].ports[0].hostPort",
                                     "spec.containers[0].resources.requests.cpu",
                                     "spec.initContainers[0].restartPolicy",
                                     "spec.initContainers[0].resources.requests.memory",
                                     "spec.priority",
                                     "spec.tolerations",
                                     "spec.nodeSelector",
                                     "spec.affinity",
                                     "spec.topologySpreadConstraints",
                                     "spec.schedulingGates",
                                     "spec.overhead",
                                     "spec.schedulerName",
                                     "status.phase",
                                     "status.conditions",
                                     "status.nominatedNodeName",
                                     "status.startTime",
                                     NULL};
  for (int i = 0; kept[i]; i++) {
    if (!kj_equal(kj_get(p, kept[i]), kj_get(before, kept[i]))) fail_msg("%s was not kept", kept[i]);
  }
  static const char *const dropped[] = {"metadata.annotations",
                                        "metadata.managedFields",
                                        "metadata.ownerReferences",
                                        "spec.containers[0].env",
                                        "spec.containers[0].command",
                                        "spec.containers[0].resources.limits",
                                        "spec.containers[0].volumeMounts",
                                        "spec.volumes",
                                        "spec.dnsPolicy",
                                        "status.containerStatuses",
                                        "status.podIP",
                                        NULL};
  for (int i = 0; dropped[i]; i++)
    if (kj_get(p, dropped[i])) fail_msg("%s was not dropped", dropped[i]);
  /* Requests come out the same as from the full pod. */
  struct sched_resource a = {0}, b = {0};
  sched_pod_requests(p, false, &a);
  sched_pod_requests(before, false, &b);
  assert_int_equal(a.milli_cpu, b.milli_cpu);
  assert_int_equal(a.memory, b.memory);
  json_decref(p);
  json_decref(before);
}

static void test_transform_bound_drops_conditions(void **state)
{
  json_t *p = tj(full_pod);
  kj_set_str(p, "spec.nodeName", "n1");
  sched_pod_transform(NULL, p);
  assert_null(kj_get(p, "status.conditions"));
  assert_string_equal(kj_get_str(p, "spec.nodeName"), "n1");
  assert_string_equal(kj_get_str(p, "status.startTime"), "2024-01-01T00:00:01Z");
  json_decref(p);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_transform_pending),
      cmocka_unit_test(test_transform_bound_drops_conditions),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
