/*
 * cm_test_job.c - the Job controller: backoff delays, completed-index
 * intervals (any completions), and the writes one sync issues for creation, Indexed jobs, the
 * three-step finalizer counting, backoffLimit, podFailurePolicy, suspend
 * and activeDeadlineSeconds.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "controller_utils.h"
#include "controllers/job.h"
#include "controllers/ttl_after_finished.h"
#include "kube/json.h"

#define NOW 1700000000

static json_t *job(int completions, int parallelism, bool indexed)
{
  json_t *j =
      json_pack("{s:{s:s,s:s,s:s},s:{s:i,s:i,s:{s:{s:s}},s:{s:{s:{s:s,s:s}},s:{s:s,s:[{s:s,s:s}]}}},s:{}}", "metadata",
                "name", "pi", "namespace", "ns", "uid", "job-uid", "spec", "completions", completions, "parallelism",
                parallelism, "selector", "matchLabels", "batch.kubernetes.io/controller-uid", "job-uid", "template",
                "metadata", "labels", "batch.kubernetes.io/controller-uid", "job-uid", "job-name", "pi", "spec",
                "restartPolicy", "Never", "containers", "name", "c", "image", "busybox", "status");
  if (indexed) kj_set_str(j, "spec.completionMode", "Indexed");
  return j;
}

static json_t *pod(const char *uid, const char *phase, bool finalizer, int index)
{
  json_t *p = json_pack("{s:{s:s,s:s,s:s,s:{s:s},s:[{s:s,s:s,s:s,s:s,s:b}]},s:{s:s}}", "metadata", "name", uid,
                        "namespace", "ns", "uid", uid, "labels", "batch.kubernetes.io/controller-uid", "job-uid",
                        "ownerReferences", "apiVersion", "batch/v1", "kind", "Job", "name", "pi", "uid", "job-uid",
                        "controller", 1, "status", "phase", phase);
  if (finalizer) kj_set(p, "metadata.finalizers", json_pack("[s]", JOB_TRACKING_FINALIZER));
  if (index >= 0) {
    char b[16];
    snprintf(b, sizeof b, "%d", index);
    kj_set_str(p, "metadata.annotations[\"" JOB_COMPLETION_INDEX "\"]", b);
  }
  return p;
}

static json_t *status_put(struct cm_actions *a)
{
  for (size_t i = 0; i < cm_actions_len(a); i++) {
    if (a->v[i].verb == CM_PUT) return a->v[i].body;
  }
  return NULL;
}

static bool has_event(struct cm_actions *a, const char *reason)
{
  for (size_t i = 0; i < cm_actions_len(a); i++) {
    const char *r = a->v[i].ok_reason;
    if (r && !strcmp(r, reason)) return true;
  }
  return false;
}

static void test_backoff_and_indexes(void **state)
{
  static const int64_t want[][2] = {{0, 0},   {1, 10},  {2, 20},  {3, 40},   {4, 80},
                                    {5, 160}, {6, 320}, {7, 360}, {100, 360}};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
    assert_int_equal(job_backoff_delay_s(want[i][0]), want[i][1]);

  struct job_intervals x = {0};
  job_intervals_parse("1,3-5,7", 10, &x);
  assert_int_equal(job_intervals_total(&x), 5);
  char *s = job_intervals_format(&x);
  assert_string_equal(s, "1,3-5,7");
  free(s);
  job_intervals_add(&x, 2);
  job_intervals_add(&x, 6);
  assert_int_equal(x.n, 1);
  s = job_intervals_format(&x);
  assert_string_equal(s, "1-7");
  free(s);
  /* Two neighbours print as a list, as upstream. */
  job_intervals_parse("4,5,9", 10, &x);
  s = job_intervals_format(&x);
  assert_string_equal(s, "4,5,9");
  free(s);
  /* Corrupted pieces are skipped; indexes at or beyond completions dropped. */
  job_intervals_parse("0,3-1,a,5-12,20", 10, &x);
  s = job_intervals_format(&x);
  assert_string_equal(s, "0,5-9");
  free(s);
  assert_true(job_intervals_has(&x, 7));
  assert_false(job_intervals_has(&x, 3));
  assert_false(job_intervals_has(&x, 10));
  /* Pending: below completions, skipping completed and busy indexes. */
  int64_t busy[] = {1, 2}, out[8];
  size_t n = job_first_pending(&x, busy, 2, 14, 8, out);
  assert_int_equal(n, 6);
  int64_t want_pending[] = {3, 4, 10, 11, 12, 13};
  for (size_t k = 0; k < n; k++) assert_int_equal(out[k], want_pending[k]);
  job_intervals_free(&x);
  /* Far beyond any bitmap: the representation grows with the gaps only. */
  job_intervals_parse("0-1999999998", 2000000000, &x);
  job_intervals_add(&x, 1999999999);
  assert_int_equal(x.n, 1);
  assert_int_equal(job_intervals_total(&x), 2000000000);
  job_intervals_free(&x);
}

static void run(const json_t *j, const json_t *pods, bool may, struct job_backoff *bo, struct cm_actions *acts,
                struct job_result *res)
{
  cm_actions_init(acts);
  job_compute(j, pods, may, NULL, bo, NOW, acts, res);
}

static void test_creates_pods(void **state)
{
  json_t *j = job(3, 2, false), *pods = json_array();
  struct job_backoff bo = {0, 0};
  struct cm_actions acts;
  struct job_result res;
  run(j, pods, true, &bo, &acts, &res);
  assert_int_equal(res.adds, 2);
  assert_int_equal(cm_actions_count(&acts, CM_POST, "/api/v1/namespaces/ns/pods"), 2);
  json_t *body = acts.v[0].body;
  assert_string_equal(kj_get_str(body, "metadata.finalizers[0]"), JOB_TRACKING_FINALIZER);
  assert_string_equal(kj_get_str(body, "metadata.generateName"), "pi-");
  assert_string_equal(kj_get_str(body, "metadata.ownerReferences[0].kind"), "Job");
  json_t *st = status_put(&acts);
  assert_non_null(st);
  assert_non_null(kj_get(st, "status.startTime"));
  assert_int_equal(kj_get_int(st, "status.active", -1), 2);
  job_result_free(&res);
  cm_actions_clear(&acts);
  /* Expectations pending: no more creates. */
  run(j, pods, false, &bo, &acts, &res);
  assert_int_equal(cm_actions_count(&acts, CM_POST, NULL), 0);
  job_result_free(&res);
  cm_actions_clear(&acts);
  json_decref(pods);
  json_decref(j);
}

static void test_indexed(void **state)
{
  json_t *j = job(3, 3, true), *pods = json_array();
  json_array_append_new(pods, pod("u1", "Succeeded", true, 1));
  struct job_backoff bo = {0, 0};
  struct cm_actions acts;
  struct job_result res;
  run(j, pods, true, &bo, &acts, &res);
  assert_int_equal(res.adds, 2);
  json_t *b0 = acts.v[0].body;
  json_t *b2 = acts.v[1].body;
  assert_string_equal(kj_get_str(b0, "metadata.annotations[\"" JOB_COMPLETION_INDEX "\"]"), "0");
  assert_string_equal(kj_get_str(b0, "metadata.labels[\"" JOB_COMPLETION_INDEX "\"]"), "0");
  assert_string_equal(kj_get_str(b0, "spec.hostname"), "pi-0");
  assert_string_equal(kj_get_str(b0, "metadata.generateName"), "pi-0-");
  assert_string_equal(kj_get_str(b0, "spec.containers[0].env[0].name"), "JOB_COMPLETION_INDEX");
  assert_string_equal(kj_get_str(b2, "spec.hostname"), "pi-2");
  json_t *st = status_put(&acts);
  assert_string_equal(kj_get_str(st, "status.completedIndexes"), "1");
  assert_string_equal(kj_get_str(st, "status.uncountedTerminatedPods.succeeded[0]"), "u1");
  /* Not counted yet, and the finalizer stays until the status is stored. */
  /* Not counted yet: a zero count is omitted, as upstream's omitempty. */
  assert_null(kj_get(st, "status.succeeded"));
  assert_int_equal(cm_actions_count(&acts, CM_PATCH, NULL), 0);
  job_result_free(&res);
  cm_actions_clear(&acts);
  json_decref(pods);
  json_decref(j);
}

/* Indexed Jobs whose completions exceed any fixed bound: a succeeded pod
 * (here an orphan the Job adopts) with a large index is recorded, an
 * index at completions is ignored (finalizer removed, not counted), and
 * active pods with out-of-range indexes are deleted. */
static void test_indexed_large_completions(void **state)
{
  json_t *j = job(200000, 2, true), *pods = json_array();
  json_t *orphan = pod("u150000", "Succeeded", true, 150000);
  kj_del(orphan, "metadata.ownerReferences");
  json_array_append_new(pods, orphan);
  json_array_append_new(pods, pod("u200000", "Succeeded", true, 200000));
  json_array_append_new(pods, pod("r250000", "Running", true, 250000));
  struct job_backoff bo = {0, 0};
  struct cm_actions acts;
  struct job_result res;
  run(j, pods, true, &bo, &acts, &res);
  json_t *st = status_put(&acts);
  assert_non_null(st);
  assert_string_equal(kj_get_str(st, "status.completedIndexes"), "150000");
  assert_int_equal(json_array_size(kj_get(st, "status.uncountedTerminatedPods.succeeded")), 1);
  assert_string_equal(kj_get_str(st, "status.uncountedTerminatedPods.succeeded[0]"), "u150000");
  /* The index at completions only loses its finalizer; the out-of-range
   * active pod is deleted; indexes 0 and 1 are created. */
  assert_int_equal(cm_actions_count(&acts, CM_PATCH, "/api/v1/namespaces/ns/pods/u200000"), 1);
  assert_int_equal(cm_actions_count(&acts, CM_DELETE, "/api/v1/namespaces/ns/pods/r250000"), 1);
  assert_int_equal(res.adds, 2);
  job_result_free(&res);
  cm_actions_clear(&acts);

  /* Once recorded, later syncs keep the index and never count it twice. */
  kj_set_str(j, "status.completedIndexes", "150000");
  kj_set(j, "status.uncountedTerminatedPods", json_pack("{s:[s],s:[]}", "succeeded", "u150000", "failed"));
  json_array_set_new(pods, 0, pod("u150000", "Succeeded", true, 150000)); /* adopted by now */
  run(j, pods, true, &bo, &acts, &res);
  st = status_put(&acts);
  if (st) assert_string_equal(kj_get_str(st, "status.completedIndexes"), "150000");
  assert_int_equal(cm_actions_count(&acts, CM_PATCH, "/api/v1/namespaces/ns/pods/u150000"), 1);
  job_result_free(&res);
  cm_actions_clear(&acts);
  json_decref(pods);
  json_decref(j);
}

static void test_finalizer_counting(void **state)
{
  json_t *j = job(1, 1, false), *pods = json_array();
  kj_set(j, "status",
         json_pack("{s:{s:[s],s:[]},s:i,s:i}", "uncountedTerminatedPods", "succeeded", "u1", "failed", "succeeded", 0,
                   "failed", 0));
  kj_set_str(j, "status.startTime", "2023-11-14T22:00:00Z");
  json_t *p = pod("u1", "Succeeded", true, -1);
  json_array_append(pods, p);
  struct job_backoff bo = {0, 0};
  struct cm_actions acts;
  struct job_result res;
  /* Step 2: recorded, so the finalizer goes. */
  run(j, pods, true, &bo, &acts, &res);
  assert_int_equal(cm_actions_count(&acts, CM_PATCH, "/api/v1/namespaces/ns/pods/u1"), 1);
  assert_string_equal(kj_get_str(acts.v[0].body, "metadata[\"$deleteFromPrimitiveList/finalizers\"][0]"),
                      JOB_TRACKING_FINALIZER);
  assert_int_equal(cm_actions_count(&acts, CM_POST, NULL), 0);
  job_result_free(&res);
  cm_actions_clear(&acts);
  /* Step 3: released, so it is counted; the job has succeeded. */
  kj_del(p, "metadata.finalizers");
  run(j, pods, true, &bo, &acts, &res);
  json_t *st = status_put(&acts);
  assert_int_equal(kj_get_int(st, "status.succeeded", -1), 1);
  assert_int_equal(json_array_size(kj_get(st, "status.uncountedTerminatedPods.succeeded")), 0);
  /* A finished Job shows no active or failed count at all (kubectl's
   * jsonpath prints "" for them upstream), but ready/terminating 0. */
  assert_null(kj_get(st, "status.active"));
  assert_null(kj_get(st, "status.failed"));
  assert_int_equal(kj_get_int(st, "status.ready", -1), 0);
  assert_int_equal(kj_get_int(st, "status.terminating", -1), 0);
  json_t *c = cm_get_condition(st, "status.conditions", "SuccessCriteriaMet");
  assert_non_null(c);
  json_t *done = cm_get_condition(st, "status.conditions", "Complete");
  assert_non_null(done);
  assert_string_equal(kj_get_str(done, "reason"), "CompletionsReached");
  assert_non_null(kj_get(st, "status.completionTime"));
  assert_true(has_event(&acts, "Completed"));
  job_result_free(&res);
  cm_actions_clear(&acts);
  json_decref(p);
  json_decref(pods);
  json_decref(j);
}

static void test_backoff_limit(void **state)
{
  json_t *j = job(5, 2, false), *pods = json_array();
  kj_set_int(j, "spec.backoffLimit", 1);
  kj_set(j, "status", json_pack("{s:i,s:s}", "failed", 1, "startTime", "2023-11-14T22:00:00Z"));
  json_array_append_new(pods, pod("f2", "Failed", true, -1));
  json_array_append_new(pods, pod("r1", "Running", true, -1));
  struct job_backoff bo = {0, 0};
  struct cm_actions acts;
  struct job_result res;
  run(j, pods, true, &bo, &acts, &res);
  json_t *st = status_put(&acts);
  json_t *c = cm_get_condition(st, "status.conditions", "FailureTarget");
  assert_non_null(c);
  assert_string_equal(kj_get_str(c, "reason"), "BackoffLimitExceeded");
  assert_string_equal(kj_get_str(c, "message"), "Job has reached the specified backoff limit");
  assert_null(cm_get_condition(st, "status.conditions", "Failed")); /* pods still to count */
  assert_int_equal(cm_actions_count(&acts, CM_DELETE, "/api/v1/namespaces/ns/pods/r1"), 1);
  assert_int_equal(cm_actions_count(&acts, CM_POST, NULL), 0);
  assert_true(has_event(&acts, "BackoffLimitExceeded"));
  json_t *saved = json_deep_copy(kj_get(st, "status"));
  job_result_free(&res);
  cm_actions_clear(&acts);
  json_decref(pods);

  /* Everything counted and gone: Failed. */
  kj_set(j, "status", saved);
  kj_set(j, "status.uncountedTerminatedPods", json_pack("{s:[],s:[]}", "succeeded", "failed"));
  kj_set_int(j, "status.failed", 2);
  pods = json_array();
  run(j, pods, true, &bo, &acts, &res);
  st = status_put(&acts);
  c = cm_get_condition(st, "status.conditions", "Failed");
  assert_non_null(c);
  assert_string_equal(kj_get_str(c, "reason"), "BackoffLimitExceeded");
  job_result_free(&res);
  cm_actions_clear(&acts);
  json_decref(pods);
  json_decref(j);
}

static void test_pod_failure_policy(void **state)
{
  json_t *j = job(1, 1, false), *pods = json_array();
  kj_set_str(j, "status.startTime", "2023-11-14T22:00:00Z");
  kj_set(j, "spec.podFailurePolicy",
         json_pack("{s:[{s:s,s:{s:s,s:[i]}},{s:s,s:{s:s,s:[i]}}]}", "rules", "action", "Ignore", "onExitCodes",
                   "operator", "In", "values", 137, "action", "FailJob", "onExitCodes", "operator", "In", "values",
                   42));
  json_t *p = pod("f1", "Failed", true, -1);
  kj_set(p, "status.containerStatuses",
         json_pack("[{s:s,s:{s:{s:i}}}]", "name", "c", "state", "terminated", "exitCode", 137));
  json_array_append(pods, p);
  struct job_backoff bo = {0, 0};
  struct cm_actions acts;
  struct job_result res;
  run(j, pods, true, &bo, &acts, &res);
  /* Ignored: released without counting, and a replacement is created at once. */
  assert_int_equal(cm_actions_count(&acts, CM_PATCH, "/api/v1/namespaces/ns/pods/f1"), 1);
  assert_int_equal(cm_actions_count(&acts, CM_POST, NULL), 1);
  json_t *st = status_put(&acts);
  assert_int_equal(json_array_size(kj_get(st, "status.uncountedTerminatedPods.failed")), 0);
  job_result_free(&res);
  cm_actions_clear(&acts);

  kj_set_int(p, "status.containerStatuses[0].state.terminated.exitCode", 42);
  run(j, pods, true, &bo, &acts, &res);
  st = status_put(&acts);
  json_t *c = cm_get_condition(st, "status.conditions", "FailureTarget");
  assert_non_null(c);
  assert_string_equal(kj_get_str(c, "reason"), "PodFailurePolicy");
  assert_string_equal(kj_get_str(c, "message"),
                      "Container c for pod ns/f1 failed with exit code 42 matching FailJob rule at index 1");
  job_result_free(&res);
  cm_actions_clear(&acts);

  /* A disruption (condition rule) is ignored; a deleting pod is terminating. */
  kj_set(j, "spec.podFailurePolicy",
         json_pack("{s:[{s:s,s:[{s:s,s:s}]}]}", "rules", "action", "Ignore", "onPodConditions", "type",
                   "DisruptionTarget", "status", "True"));
  kj_set_int(p, "status.containerStatuses[0].state.terminated.exitCode", 1);
  kj_set(p, "status.conditions", json_pack("[{s:s,s:s}]", "type", "DisruptionTarget", "status", "True"));
  json_t *t = pod("t1", "Running", true, -1);
  kj_set_str(t, "metadata.deletionTimestamp", "2023-11-14T22:00:00Z");
  json_array_append_new(pods, t);
  bo.failures = 0; /* the FailJob run above recorded a failure */
  run(j, pods, true, &bo, &acts, &res);
  st = status_put(&acts);
  assert_null(cm_get_condition(st, "status.conditions", "FailureTarget"));
  /* With a podFailurePolicy a deleted pod counts only once it has failed. */
  assert_int_equal(json_array_size(kj_get(st, "status.uncountedTerminatedPods.failed")), 0);
  assert_int_equal(kj_get_int(st, "status.active", -1), 1); /* the replacement for f1 */
  assert_int_equal(kj_get_int(st, "status.terminating", -1), 1);
  assert_int_equal(cm_actions_count(&acts, CM_PATCH, "/api/v1/namespaces/ns/pods/f1"), 1);
  job_result_free(&res);
  cm_actions_clear(&acts);
  json_decref(p);
  json_decref(pods);
  json_decref(j);
}

static void test_backoff_suspend_deadline(void **state)
{
  json_t *j = job(2, 1, false), *pods = json_array();
  kj_set(j, "status", json_pack("{s:i,s:s}", "failed", 1, "startTime", "2023-11-14T22:00:00Z"));
  struct job_backoff bo = {1, NOW - 4};
  struct cm_actions acts;
  struct job_result res;
  run(j, pods, true, &bo, &acts, &res);
  assert_int_equal(cm_actions_count(&acts, CM_POST, NULL), 0); /* waiting out 10 s */
  assert_int_equal(res.requeue_ms, 6000);
  job_result_free(&res);
  cm_actions_clear(&acts);
  bo.last_failure = NOW - 11;
  run(j, pods, true, &bo, &acts, &res);
  assert_int_equal(cm_actions_count(&acts, CM_POST, NULL), 1);
  job_result_free(&res);
  cm_actions_clear(&acts);

  json_array_append_new(pods, pod("r1", "Running", true, -1));
  kj_set(j, "spec.suspend", json_true());
  run(j, pods, true, &bo, &acts, &res);
  assert_int_equal(cm_actions_count(&acts, CM_DELETE, "/api/v1/namespaces/ns/pods/r1"), 1);
  assert_int_equal(cm_actions_count(&acts, CM_PATCH, "/api/v1/namespaces/ns/pods/r1"), 1); /* released first */
  json_t *c = cm_get_condition(status_put(&acts), "status.conditions", "Suspended");
  assert_string_equal(kj_get_str(c, "reason"), "JobSuspended");
  assert_true(has_event(&acts, "Suspended"));
  job_result_free(&res);
  cm_actions_clear(&acts);

  kj_set(j, "spec.suspend", json_false());
  kj_set_int(j, "spec.activeDeadlineSeconds", 30);
  kj_set(j, "status.startTime", cm_time_json(NOW - 31));
  run(j, pods, true, &bo, &acts, &res);
  c = cm_get_condition(status_put(&acts), "status.conditions", "FailureTarget");
  assert_non_null(c);
  assert_string_equal(kj_get_str(c, "reason"), "DeadlineExceeded");
  assert_int_equal(cm_actions_count(&acts, CM_DELETE, "/api/v1/namespaces/ns/pods/r1"), 1);
  job_result_free(&res);
  cm_actions_clear(&acts);
  json_decref(pods);
  json_decref(j);
}

static void test_ttl_after_finished(void **state)
{
  json_t *j = job(1, 1, false);
  struct cm_actions acts;
  cm_actions_init(&acts);
  /* No TTL, or not finished: nothing. */
  assert_int_equal(ttl_compute(j, NOW, &acts), -1);
  kj_set_int(j, "spec.ttlSecondsAfterFinished", 100);
  assert_int_equal(ttl_compute(j, NOW, &acts), -1);
  kj_set(
      j, "status.conditions",
      json_pack("[{s:s,s:s,s:o}]", "type", "Complete", "status", "True", "lastTransitionTime", cm_time_json(NOW - 40)));
  assert_int_equal(ttl_compute(j, NOW, &acts), 60000);
  assert_int_equal(cm_actions_len(&acts), 0);
  assert_int_equal(ttl_compute(j, NOW + 60, &acts), -1);
  assert_int_equal(cm_actions_count(&acts, CM_DELETE, "/apis/batch/v1/namespaces/ns/jobs/pi"), 1);
  assert_string_equal(kj_get_str(acts.v[0].body, "propagationPolicy"), "Foreground");
  assert_string_equal(kj_get_str(acts.v[0].body, "preconditions.uid"), "job-uid");
  cm_actions_clear(&acts);
  json_decref(j);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_backoff_and_indexes),
      cmocka_unit_test(test_creates_pods),
      cmocka_unit_test(test_indexed),
      cmocka_unit_test(test_indexed_large_completions),
      cmocka_unit_test(test_finalizer_counting),
      cmocka_unit_test(test_backoff_limit),
      cmocka_unit_test(test_pod_failure_policy),
      cmocka_unit_test(test_backoff_suspend_deadline),
      cmocka_unit_test(test_ttl_after_finished),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
