/*
 * kl_test_reclaim.c - the decisions behind reclaiming node resources:
 * eviction thresholds (quantities and percentages), upstream's eviction
 * order, which dead containers and sandboxes container GC removes (the
 * newest exited instance of each container stays), which images image GC
 * removes (unused, old enough, never the sandbox image, oldest first, just
 * enough bytes), and the pod cgroup's resources from the pod's requests
 * and limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cgroups.h"
#include "eviction.h"
#include "gc.h"
#include "kube/json.h"

static json_t *J(const char *s)
{
  json_error_t e;
  json_t *v = json_loads(s, 0, &e);
  if (!v) fail_msg("bad JSON in test: %s: %s", e.text, s);
  return v;
}

static void test_thresholds(void **state)
{
  assert_int_equal(kl_eviction_threshold("100Mi", 1000), 100LL << 20);
  assert_int_equal(kl_eviction_threshold("10%", 1000), 100);
  assert_int_equal(kl_eviction_threshold("0.5%", 100000), 500);
  assert_int_equal(kl_eviction_threshold("1Gi", 0), 1LL << 30);
  assert_int_equal(kl_eviction_threshold("bogus", 1000), -1);
  assert_int_equal(kl_eviction_threshold(NULL, 1000), -1);
}

static void test_rank(void **state)
{
  struct kl_evict_candidate c[] = {
      {.name = "within-high-prio", .usage = 10, .request = 100, .priority = 1000},
      {.name = "over-small", .usage = 50, .request = 40, .priority = 0},
      {.name = "within-low-prio", .usage = 90, .request = 100, .priority = 0},
      {.name = "over-big", .usage = 500, .request = 0, .priority = 0},
      {.name = "over-high-prio", .usage = 900, .request = 0, .priority = 2000},
  };
  kl_eviction_rank(c, 5);
  const char *want[] = {"over-big", "over-small", "over-high-prio", "within-low-prio", "within-high-prio"};
  for (int i = 0; i < 5; i++) assert_string_equal(c[i].name, want[i]);
}

static void test_gc_containers(void **state)
{
  json_t *containers = J("["
                         "{\"status\":{\"id\":\"c4\",\"state\":\"CONTAINER_RUNNING\",\"podSandboxId\":\"s2\","
                         "\"labels\":{\"io.kubernetes.container.name\":\"a\"}}},"
                         "{\"status\":{\"id\":\"c3\",\"state\":\"CONTAINER_EXITED\",\"podSandboxId\":\"s2\",\"labels\":"
                         "{\"io.kubernetes.container.name\":\"a\"}}},"
                         "{\"status\":{\"id\":\"c2\",\"state\":\"CONTAINER_EXITED\",\"podSandboxId\":\"s1\",\"labels\":"
                         "{\"io.kubernetes.container.name\":\"a\"}}},"
                         "{\"status\":{\"id\":\"b1\",\"state\":\"CONTAINER_EXITED\",\"podSandboxId\":\"s0\",\"labels\":"
                         "{\"io.kubernetes.container.name\":\"b\"}}},"
                         "{\"status\":{\"id\":\"c1\",\"state\":\"CONTAINER_EXITED\",\"podSandboxId\":\"s0\",\"labels\":"
                         "{\"io.kubernetes.container.name\":\"a\"}}}]");
  json_t *sandboxes = J("["
                        "{\"status\":{\"id\":\"s2\",\"state\":\"SANDBOX_READY\"}},"
                        "{\"status\":{\"id\":\"s1\",\"state\":\"SANDBOX_NOTREADY\"}},"
                        "{\"status\":{\"id\":\"s0\",\"state\":\"SANDBOX_NOTREADY\"}}]");
  json_t *rm = kl_gc_pod_containers(containers, sandboxes);
  /* a: c4 runs, c3 is the one kept exited; c2, c1 go. b1 stays (b's newest).
   * s1 only had c2 (removed): goes; s0 still has b1: stays. */
  assert_int_equal(json_array_size(rm), 3);
  assert_string_equal(json_string_value(json_array_get(rm, 0)), "c2");
  assert_string_equal(json_string_value(json_array_get(rm, 1)), "c1");
  assert_string_equal(json_string_value(json_array_get(rm, 2)), "s1");
  json_decref(rm);
  json_decref(containers);
  json_decref(sandboxes);
}

static void test_gc_images(void **state)
{
  json_t *images =
      J("[{\"id\":\"old\",\"size\":100},{\"id\":\"used\",\"size\":1000},{\"id\":\"young\",\"size\":1000},"
        "{\"id\":\"pause\",\"size\":1000},{\"id\":\"older\",\"size\":300},{\"id\":\"oldest-big\",\"size\":5000}]");
  json_t *in_use = J("{\"used\":true}");
  json_t *seen = J("{\"old\":3000,\"used\":1000,\"young\":9500,\"pause\":1000,\"older\":2000,\"oldest-big\":1500}");
  json_t *ids = kl_gc_images(images, in_use, seen, 10000, 1000, "pause", 5200);
  /* eligible, oldest first: oldest-big (1500), older (2000), old (3000) */
  assert_int_equal(json_array_size(ids), 2); /* 5000 + 300 frees 5200 */
  assert_string_equal(json_string_value(json_array_get(ids, 0)), "oldest-big");
  assert_string_equal(json_string_value(json_array_get(ids, 1)), "older");
  json_decref(ids);
  ids = kl_gc_images(images, in_use, seen, 10000, 1000, "pause", 1000000);
  assert_int_equal(json_array_size(ids), 3); /* never used, young or the sandbox image */
  json_decref(ids);
  json_decref(images);
  json_decref(in_use);
  json_decref(seen);
}

static void test_pod_cgroup(void **state)
{
  struct kl_pod_cgroup pc;
  json_t *pod =
      J("{\"spec\":{\"containers\":[{\"name\":\"a\",\"resources\":{\"requests\":{\"cpu\":\"250m\",\"memory\":\"64Mi\"},"
        "\"limits\":{\"cpu\":\"500m\",\"memory\":\"128Mi\"}}},{\"name\":\"b\",\"resources\":{\"requests\":{\"cpu\":"
        "\"250m\"},"
        "\"limits\":{\"cpu\":\"500m\"}}}]}}");
  kl_pod_cgroup_config(pod, true, 100000, &pc);
  assert_int_equal(pc.cpu_shares, 512);
  assert_int_equal(pc.cpu_quota_us, 100000); /* both containers limit cpu */
  assert_int_equal(pc.cpu_period_us, 100000);
  assert_int_equal(pc.memory_limit, -1); /* b declares no memory limit */
  json_decref(pod);
  pod = J("{\"spec\":{\"containers\":[{\"name\":\"a\",\"resources\":{\"requests\":{\"cpu\":\"1\",\"memory\":\"1Gi\"},"
          "\"limits\":{\"cpu\":\"1\",\"memory\":\"1Gi\"}}}]}}");
  kl_pod_cgroup_config(pod, false, 100000, &pc);
  assert_int_equal(pc.cpu_shares, 1024);
  assert_int_equal(pc.cpu_quota_us, -1); /* cpuCFSQuota off */
  assert_int_equal(pc.memory_limit, 1LL << 30);
  json_decref(pod);
  pod = J("{\"spec\":{\"containers\":[{\"name\":\"a\"}]}}");
  kl_pod_cgroup_config(pod, true, 100000, &pc);
  assert_int_equal(pc.cpu_shares, 2); /* BestEffort */
  assert_int_equal(pc.memory_limit, -1);
  json_decref(pod);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_thresholds), cmocka_unit_test(test_rank),       cmocka_unit_test(test_gc_containers),
      cmocka_unit_test(test_gc_images),  cmocka_unit_test(test_pod_cgroup),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
