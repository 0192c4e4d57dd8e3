/*
 * cm_test_cronjob.c - the CronJob controller's sync: which Job it creates
 * and when, concurrency policies, missed schedules, time zones, the
 * active list and history limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "controller_utils.h"
#include "controllers/cronjob.h"
#include "kube/json.h"
#include "kube/timeutil.h"

static int64_t T(const char *s)
{
  int64_t us;
  assert_int_equal(ktime_parse(s, &us), 0);
  return us / 1000000;
}

static json_t *cronjob(const char *schedule, const char *created)
{
  return json_pack("{s:{s:s,s:s,s:s,s:s},s:{s:s,s:{s:{s:{s:s}},s:{s:{s:{s:[{s:s,s:s}]}}}}},s:{}}", "metadata", "name",
                   "cj", "namespace", "ns", "uid", "cj-uid", "creationTimestamp", created, "spec", "schedule", schedule,
                   "jobTemplate", "metadata", "labels", "app", "cron", "spec", "template", "spec", "containers", "name",
                   "c", "image", "busybox", "status");
}

static json_t *job(const char *name, const char *uid, const char *finished, const char *start)
{
  json_t *j = json_pack("{s:{s:s,s:s,s:s,s:[{s:s,s:s,s:s,s:s,s:b}]},s:{s:s}}", "metadata", "name", name, "namespace",
                        "ns", "uid", uid, "ownerReferences", "apiVersion", "batch/v1", "kind", "CronJob", "name", "cj",
                        "uid", "cj-uid", "controller", 1, "status", "startTime", start);
  if (finished) {
    kj_set(j, "status.conditions", json_pack("[{s:s,s:s}]", "type", finished, "status", "True"));
    kj_set_str(j, "status.completionTime", start);
  }
  return j;
}

static bool has_event(struct cm_actions *a, const char *reason)
{
  for (size_t i = 0; i < cm_actions_len(a); i++) {
    const char *r = a->v[i].ok_reason;
    if (r && !strcmp(r, reason)) return true;
  }
  return false;
}

static void test_creates_job_at_schedule(void **state)
{
  json_t *cj = cronjob("*/5 * * * *", "2024-01-01T10:00:30Z");
  json_t *jobs = json_array();
  struct cm_actions acts;
  cm_actions_init(&acts);
  struct cj_result res;
  int64_t now = T("2024-01-01T10:05:10Z");
  cj_compute(cj, jobs, now, &acts, &res);
  assert_non_null(res.create_job);
  char want[64];
  snprintf(want, sizeof want, "cj-%lld", (long long)(T("2024-01-01T10:05:00Z") / 60));
  assert_string_equal(kj_get_str(res.create_job, "metadata.name"), want);
  assert_string_equal(
      kj_get_str(res.create_job, "metadata.annotations[\"batch.kubernetes.io/cronjob-scheduled-timestamp\"]"),
      "2024-01-01T10:05:00Z");
  assert_string_equal(kj_get_str(res.create_job, "metadata.labels.app"), "cron");
  assert_string_equal(kj_get_str(res.create_job, "metadata.ownerReferences[0].kind"), "CronJob");
  assert_string_equal(kj_get_str(res.create_job, "spec.template.spec.containers[0].image"), "busybox");
  assert_int_equal(res.scheduled_time, T("2024-01-01T10:05:00Z"));
  assert_int_equal(res.requeue_ms, 290 * 1000 + 100);
  cj_result_free(&res);
  cm_actions_clear(&acts);

  /* Before the first activation: nothing, requeue at it. */
  cm_actions_init(&acts);
  cj_compute(cj, jobs, T("2024-01-01T10:01:00Z"), &acts, &res);
  assert_null(res.create_job);
  assert_int_equal(res.requeue_ms, 240 * 1000 + 100);
  cj_result_free(&res);
  cm_actions_clear(&acts);

  /* Suspended: nothing. */
  kj_set(cj, "spec.suspend", json_true());
  cm_actions_init(&acts);
  cj_compute(cj, jobs, now, &acts, &res);
  assert_null(res.create_job);
  cj_result_free(&res);
  cm_actions_clear(&acts);
  json_decref(jobs);
  json_decref(cj);
}

static void test_concurrency_policies(void **state)
{
  json_t *cj = cronjob("*/5 * * * *", "2024-01-01T10:00:30Z");
  kj_set(cj, "status",
         json_pack("{s:[{s:s,s:s,s:s,s:s}],s:s}", "active", "kind", "Job", "name", "cj-old", "namespace", "ns", "uid",
                   "old-uid", "lastScheduleTime", "2024-01-01T10:00:00Z"));
  json_t *jobs = json_array();
  json_array_append_new(jobs, job("cj-old", "old-uid", NULL, "2024-01-01T10:00:00Z"));
  int64_t now = T("2024-01-01T10:05:10Z");
  struct cm_actions acts;
  struct cj_result res;

  kj_set_str(cj, "spec.concurrencyPolicy", "Forbid");
  cm_actions_init(&acts);
  cj_compute(cj, jobs, now, &acts, &res);
  assert_null(res.create_job);
  cj_result_free(&res);
  cm_actions_clear(&acts);

  kj_set_str(cj, "spec.concurrencyPolicy", "Replace");
  cm_actions_init(&acts);
  cj_compute(cj, jobs, now, &acts, &res);
  assert_non_null(res.create_job);
  assert_int_equal(cm_actions_count(&acts, CM_DELETE, "/apis/batch/v1/namespaces/ns/jobs/cj-old"), 1);
  assert_string_equal(kj_get_str(acts.v[0].body, "propagationPolicy"), "Background");
  assert_int_equal(json_array_size(json_object_get(res.status, "active")), 0);
  assert_true(res.status_changed);
  cj_result_free(&res);
  cm_actions_clear(&acts);

  kj_set_str(cj, "spec.concurrencyPolicy", "Allow");
  cm_actions_init(&acts);
  cj_compute(cj, jobs, now, &acts, &res);
  assert_non_null(res.create_job);
  assert_int_equal(cm_actions_count(&acts, CM_DELETE, NULL), 0);
  cj_result_free(&res);
  cm_actions_clear(&acts);
  json_decref(jobs);
  json_decref(cj);
}

static void test_missed_and_time_zone(void **state)
{
  /* Created 200 minutes ago, never scheduled: a warning, and only the latest runs. */
  json_t *cj = cronjob("* * * * *", "2024-01-01T00:00:00Z");
  json_t *jobs = json_array();
  struct cm_actions acts;
  struct cj_result res;
  cm_actions_init(&acts);
  cj_compute(cj, jobs, T("2024-01-01T03:20:30Z"), &acts, &res);
  assert_true(has_event(&acts, "TooManyMissedTimes"));
  assert_int_equal(res.scheduled_time, T("2024-01-01T03:20:00Z"));
  cj_result_free(&res);
  cm_actions_clear(&acts);
  json_decref(cj);

  cj = cronjob("0 9 * * *", "2024-03-01T00:00:00Z");
  kj_set_str(cj, "spec.timeZone", "America/New_York");
  kj_set_str(cj, "status.lastScheduleTime", "2024-03-09T14:00:00Z");
  cm_actions_init(&acts);
  cj_compute(cj, jobs, T("2024-03-10T13:00:30Z"), &acts, &res); /* 09:00 EDT after the change */
  assert_non_null(res.create_job);
  assert_string_equal(
      kj_get_str(res.create_job, "metadata.annotations[\"batch.kubernetes.io/cronjob-scheduled-timestamp\"]"),
      "2024-03-10T09:00:00-04:00");
  cj_result_free(&res);
  cm_actions_clear(&acts);

  kj_set_str(cj, "spec.timeZone", "Nowhere/Special");
  cm_actions_init(&acts);
  cj_compute(cj, jobs, T("2024-03-10T13:00:30Z"), &acts, &res);
  assert_null(res.create_job);
  assert_true(has_event(&acts, "UnknownTimeZone"));
  cj_result_free(&res);
  cm_actions_clear(&acts);

  kj_del(cj, "spec.timeZone");
  kj_set_str(cj, "spec.schedule", "0 9 * *");
  cm_actions_init(&acts);
  cj_compute(cj, jobs, T("2024-03-10T13:00:30Z"), &acts, &res);
  assert_true(has_event(&acts, "UnparseableSchedule"));
  cj_result_free(&res);
  cm_actions_clear(&acts);
  json_decref(jobs);
  json_decref(cj);
}

static void test_active_list_and_history(void **state)
{
  json_t *cj = cronjob("0 * * * *", "2024-01-01T00:00:00Z");
  kj_set(cj, "status",
         json_pack("{s:[{s:s,s:s,s:s},{s:s,s:s,s:s}],s:s}", "active", "name", "j3", "namespace", "ns", "uid", "u3",
                   "name", "gone", "namespace", "ns", "uid", "ugone", "lastScheduleTime", "2024-01-01T03:00:00Z"));
  kj_set_int(cj, "spec.successfulJobsHistoryLimit", 1);
  kj_set_int(cj, "spec.failedJobsHistoryLimit", 1);
  json_t *jobs = json_array();
  json_array_append_new(jobs, job("j1", "u1", "Complete", "2024-01-01T01:00:00Z"));
  json_array_append_new(jobs, job("j2", "u2", "Complete", "2024-01-01T02:00:00Z"));
  json_array_append_new(jobs, job("j3", "u3", "Complete", "2024-01-01T03:00:00Z"));
  json_array_append_new(jobs, job("f1", "uf1", "Failed", "2024-01-01T01:30:00Z"));
  struct cm_actions acts;
  struct cj_result res;
  cm_actions_init(&acts);
  cj_compute(cj, jobs, T("2024-01-01T03:30:00Z"), &acts, &res);
  assert_true(has_event(&acts, "SawCompletedJob"));
  assert_true(has_event(&acts, "MissingJob"));
  assert_true(res.status_changed);
  assert_int_equal(json_array_size(json_object_get(res.status, "active")), 0);
  assert_string_equal(kj_get_str(res.status, "lastSuccessfulTime"), "2024-01-01T03:00:00Z");
  assert_int_equal(cm_actions_count(&acts, CM_DELETE, "/apis/batch/v1/namespaces/ns/jobs/j1"), 1);
  assert_int_equal(cm_actions_count(&acts, CM_DELETE, "/apis/batch/v1/namespaces/ns/jobs/j2"), 1);
  assert_int_equal(cm_actions_count(&acts, CM_DELETE, "/apis/batch/v1/namespaces/ns/jobs/j3"), 0);
  assert_int_equal(cm_actions_count(&acts, CM_DELETE, "/apis/batch/v1/namespaces/ns/jobs/f1"), 0);
  assert_null(res.create_job);
  cj_result_free(&res);
  cm_actions_clear(&acts);
  json_decref(jobs);
  json_decref(cj);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_creates_job_at_schedule),
      cmocka_unit_test(test_concurrency_policies),
      cmocka_unit_test(test_missed_and_time_zone),
      cmocka_unit_test(test_active_list_and_history),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
