/* Tests for the batch/v1 CronJob strategy (apiserver/registry/cronjobs.c):
 * the schedule parser, defaulting, validation and table cells. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <kube/json.h>
#include <kube/timeutil.h>

#include "registry/ext_internal.h"
#include "registry/kinds_ext.h"

#include "registry_ext_test_util.h"

static char *validate(const json_t *obj, const json_t *old)
{
  struct reg_request rq = {.verb = old ? "update" : "create"};
  json_t *causes = json_array();
  reg_cronjobs.validate(&rq, obj, old, causes);
  char *buf = NULL;
  size_t len = 0, i;
  FILE *f = open_memstream(&buf, &len);
  json_t *c;
  json_array_foreach (causes, i, c)
    fprintf(f, "%s%s: %s", i ? "\n" : "", kj_get_str(c, "field"), kj_get_str(c, "message"));
  fclose(f);
  json_decref(causes);
  return buf;
}

static void test_cron_parse(void **state)
{
  (void)state;
  struct {
    const char *sched;
    const char *err; /* NULL = valid */
  } cases[] = {
      {"*/1 * * * *", NULL},
      {"0 0 * * *", NULL},
      {"5,10-20/5 1-23/2 1,15 jan-jun mon-fri", NULL},
      {"0 0 ? * SUN", NULL},
      {"59 23 31 12 6", NULL},
      {"@hourly", NULL},
      {"@daily", NULL},
      {"@midnight", NULL},
      {"@weekly", NULL},
      {"@monthly", NULL},
      {"@yearly", NULL},
      {"@annually", NULL},
      {"@every 1h30m", NULL},
      {"bad", "expected exactly 5 fields, found 1: [bad]"},
      {"* * * *", "expected exactly 5 fields, found 4: [* * * *]"},
      {"* * * * * *", "expected exactly 5 fields, found 6: [* * * * * *]"},
      {"", "empty spec string"},
      {"60 * * * *", "end of range (60) above maximum (59): 60"},
      {"* 24 * * *", "end of range (24) above maximum (23): 24"},
      {"* * 0 * *", "beginning of range (0) below minimum (1): 0"},
      {"* * * 13 *", "end of range (13) above maximum (12): 13"},
      {"* * * * 7", "end of range (7) above maximum (6): 7"},
      {"5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"},
      {"*/0 * * * *", "step of range should be a positive number: */0"},
      {"1-2-3 * * * *", "too many hyphens: 1-2-3"},
      {"*/2/3 * * * *", "too many slashes: */2/3"},
      {"x * * * *", "failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax"},
      {"* * * foo *", "failed to parse int from foo: strconv.Atoi: parsing \"foo\": invalid syntax"},
      {"1,,2 * * * *", "failed to parse int from : strconv.Atoi: parsing \"\": invalid syntax"},
      {"@often", "unrecognized descriptor: @often"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char err[512] = "";
    int rc = ext_cron_parse(cases[i].sched, err, sizeof(err));
    if (!cases[i].err) {
      if (rc != 0) fail_msg("%s: unexpected error %s", cases[i].sched, err);
    } else {
      assert_int_not_equal(rc, 0);
      assert_string_equal(err, cases[i].err);
    }
  }
}

#define CJ(extra)                                                                                                      \
  "{'metadata':{'name':'hello','namespace':'default'},'spec':{" extra "'jobTemplate':{'spec':{'template':"             \
  "{'spec':{'restartPolicy':'OnFailure','containers':[{'name':'c','image':'busybox'}]}}}}}}"

static void test_cronjob_defaults(void **state)
{
  (void)state;
  json_t *cj = J(CJ("'schedule':'*/1 * * * *',"));
  reg_cronjobs.defaults(cj);
  json_t *want = J("{'schedule':'*/1 * * * *','concurrencyPolicy':'Allow','suspend':false,"
                   "'successfulJobsHistoryLimit':3,'failedJobsHistoryLimit':1}");
  const char *k;
  json_t *v;
  json_object_foreach (want, k, v) assert_true(json_equal(json_object_get(json_object_get(cj, "spec"), k), v));
  /* the job template's pod gets pod defaults, but not Job defaults */
  assert_string_equal(kj_get_str(cj, "spec.jobTemplate.spec.template.spec.dnsPolicy"), "ClusterFirst");
  assert_null(kj_get(cj, "spec.jobTemplate.spec.backoffLimit"));
  char *c = validate(cj, NULL);
  assert_string_equal(c, "");
  free(c);
  json_decref(want);
  json_decref(cj);
}

static void test_cronjob_validation(void **state)
{
  (void)state;
  struct {
    const char *src;
    const char *causes;
  } cases[] = {
      {CJ("'schedule':'bad',"), "spec.schedule: Invalid value: \"bad\": expected exactly 5 fields, found 1: [bad]"},
      {CJ(""), "spec.schedule: Required value"},
      {CJ("'schedule':'@daily','timeZone':'Mars/Olympus',"),
       "spec.timeZone: Invalid value: \"Mars/Olympus\": unknown time zone Mars/Olympus"},
      {CJ("'schedule':'@daily','timeZone':'Europe/Berlin',"), ""},
      {CJ("'schedule':'@daily','timeZone':'Local',"),
       "spec.timeZone: Invalid value: \"Local\": timeZone must be an explicit time zone as defined in "
       "https://www.iana.org/time-zones"},
      {CJ("'schedule':'CRON_TZ=UTC 0 0 * * *',"),
       "spec.schedule: Invalid value: \"CRON_TZ=UTC 0 0 * * *\": cannot use TZ or CRON_TZ in schedule, use timeZone "
       "field instead"},
      {CJ("'schedule':'@daily','concurrencyPolicy':'Sometimes','successfulJobsHistoryLimit':-1,"),
       "spec.concurrencyPolicy: Unsupported value: \"Sometimes\": supported values: \"Allow\", \"Forbid\", "
       "\"Replace\"\n"
       "spec.successfulJobsHistoryLimit: Invalid value: -1: must be greater than or equal to 0"},
      {"{'metadata':{'name':'hello','namespace':'default'},'spec':{'schedule':'@daily','jobTemplate':{'spec':{"
       "'template':{'spec':{'containers':[{'name':'c','image':'busybox'}]}}}}}}",
       "spec.jobTemplate.spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: "
       "\"OnFailure\", \"Never\""},
      {"{'metadata':{'name':'a-very-long-cronjob-name-that-is-longer-than-fifty-two','namespace':'default'},"
       "'spec':{'schedule':'@daily','jobTemplate':{'spec':{'template':{'spec':{'restartPolicy':'Never',"
       "'containers':[{'name':'c','image':'busybox'}]}}}}}}",
       "metadata.name: Invalid value: \"a-very-long-cronjob-name-that-is-longer-than-fifty-two\": must be no more "
       "than 52 characters"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    json_t *cj = J(cases[i].src);
    reg_cronjobs.defaults(cj);
    char *c = validate(cj, NULL);
    assert_string_equal(c, cases[i].causes);
    free(c);
    json_decref(cj);
  }
}

static void test_cronjob_cells(void **state)
{
  (void)state;
  char now[40], past[40];
  ktime_now_str(now);
  ktime_format((time_t)(ktime_now_us() / 1000000 - 330), past);
  struct {
    const char *spec_extra, *status;
    const char *tz, *suspend, *last;
    long long active;
  } cases[] = {
      {"'suspend':false,", "{}", "<none>", "False", "<none>", 0},
      {"'suspend':true,'timeZone':'Etc/UTC',", "{'active':[{'name':'a'},{'name':'b'}]}", "Etc/UTC", "True", "<none>",
       2},
      {"", "{'lastScheduleTime':'PAST'}", "<none>", "<unset>", "5m30s", 0},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char src[2048], status[256];
    snprintf(status, sizeof(status), "%s", cases[i].status);
    char *p = strstr(status, "PAST");
    if (p) {
      char tmp[256];
      snprintf(tmp, sizeof(tmp), "%.*s%s%s", (int)(p - status), status, past, p + 4);
      snprintf(status, sizeof(status), "%s", tmp);
    }
    snprintf(src, sizeof(src),
             "{'metadata':{'name':'cj','creationTimestamp':'%s'},'spec':{'schedule':'*/5 * * * *',%s"
             "'jobTemplate':{'spec':{'template':{'spec':{'containers':[{'name':'c','image':'busybox'}]}}}}},"
             "'status':%s}",
             now, cases[i].spec_extra, status);
    json_t *cj = J(src);
    json_t *cells = reg_cronjobs.cells(cj);
    assert_int_equal(json_array_size(cells), 10);
    assert_string_equal(json_string_value(json_array_get(cells, 0)), "cj");
    assert_string_equal(json_string_value(json_array_get(cells, 1)), "*/5 * * * *");
    assert_string_equal(json_string_value(json_array_get(cells, 2)), cases[i].tz);
    assert_string_equal(json_string_value(json_array_get(cells, 3)), cases[i].suspend);
    assert_int_equal(json_integer_value(json_array_get(cells, 4)), cases[i].active);
    assert_string_equal(json_string_value(json_array_get(cells, 5)), cases[i].last);
    assert_string_equal(json_string_value(json_array_get(cells, 7)), "c");
    assert_string_equal(json_string_value(json_array_get(cells, 9)), "<none>");
    json_decref(cells);
    json_decref(cj);
  }
  const char *want[] = {"Name", "Schedule", "Timezone", "Suspend", "Active", "Last Schedule", "Age"};
  for (size_t i = 0; i < 7; i++) assert_string_equal(reg_cronjobs.columns[i].name, want[i]);
}

static void test_cronjob_status_split(void **state)
{
  (void)state;
  json_t *old = J(CJ("'schedule':'@daily',"));
  reg_cronjobs.defaults(old);
  struct reg_request rq = {.verb = "create"};
  reg_cronjobs.prepare_create(&rq, old);
  assert_int_equal(kj_get_int(old, "metadata.generation", 0), 1);
  json_t *obj = json_deep_copy(old);
  kj_set_str(obj, "spec.schedule", "@hourly");
  kj_set_str(obj, "status.lastScheduleTime", "2024-01-01T00:00:00Z");
  struct reg_request up = {.verb = "update"};
  reg_cronjobs.prepare_update(&up, obj, old);
  assert_string_equal(kj_get_str(obj, "spec.schedule"), "@hourly");
  assert_null(kj_get(obj, "status.lastScheduleTime"));
  assert_int_equal(kj_get_int(obj, "metadata.generation", 0), 2);
  json_decref(obj);
  json_decref(old);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cron_parse),           cmocka_unit_test(test_cronjob_defaults),
      cmocka_unit_test(test_cronjob_validation),   cmocka_unit_test(test_cronjob_cells),
      cmocka_unit_test(test_cronjob_status_split),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
