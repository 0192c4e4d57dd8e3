/*
 * cm_test_cron.c - the cron parser and next-time computation: field
 * syntax (ranges, steps, lists, names, macros), errors, day-of-month /
 * day-of-week combination, and wall-clock stepping across DST changes in
 * real zones.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "controllers/cron.h"
#include "kube/timeutil.h"

static int64_t T(const char *s)
{
  int64_t us;
  assert_int_equal(ktime_parse(s, &us), 0);
  return us / 1000000;
}

static void expect_next(const char *spec, const char *zone, const char *from, const char *want)
{
  struct cron_schedule s;
  char err[256] = "";
  if (cron_parse(spec, &s, err, sizeof err) < 0) fail_msg("%s: %s", spec, err);
  struct cron_tz *tz = NULL;
  if (zone) {
    tz = cron_tz_load(zone, err, sizeof err);
    assert_non_null(tz);
  }
  int64_t got = cron_next(&s, tz, T(from));
  char buf[40];
  if (got != T(want))
    fail_msg("%s in %s from %s: got %s want %s", spec, zone ? zone : "UTC", from, ktime_format(got, buf), want);
  cron_tz_free(tz);
}

static void test_next_utc(void **state)
{
  static const char *const cases[][3] = {
      {"*/15 * * * *", "2024-01-01T00:07:00Z", "2024-01-01T00:15:00Z"},
      {"*/15 * * * *", "2024-01-01T00:15:00Z", "2024-01-01T00:30:00Z"}, /* strictly after */
      {"1-10/2 * * * *", "2024-01-01T00:09:30Z", "2024-01-01T01:01:00Z"},
      {"5/20 * * * *", "2024-01-01T00:26:00Z", "2024-01-01T00:45:00Z"},    /* N/step = N-max/step */
      {"0 9 * * MON-FRI", "2024-01-05T10:00:00Z", "2024-01-08T09:00:00Z"}, /* Friday -> Monday */
      {"0 0 1 jan,Jul *", "2024-02-01T00:00:00Z", "2024-07-01T00:00:00Z"},
      {"0 0 13 * 5", "2024-09-01T00:00:00Z", "2024-09-06T00:00:00Z"}, /* Friday the 6th: OR */
      {"0 0 13 * 5", "2024-09-07T00:00:00Z", "2024-09-13T00:00:00Z"},
      {"0 0 13 * *", "2024-09-01T00:00:00Z", "2024-09-13T00:00:00Z"},
      {"0 0 * * 5", "2024-09-07T00:00:00Z", "2024-09-13T00:00:00Z"},
      {"0 0 */2 * 1", "2024-09-02T01:00:00Z", "2024-09-03T00:00:00Z"}, /* dom step clears star: OR */
      {"0 0 31 * *", "2024-04-01T00:00:00Z", "2024-05-31T00:00:00Z"},
      {"0 0 29 2 *", "2023-03-01T00:00:00Z", "2024-02-29T00:00:00Z"},
      {"@hourly", "2024-01-01T00:00:00Z", "2024-01-01T01:00:00Z"},
      {"@daily", "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z"},
      {"@midnight", "2024-01-01T12:00:00Z", "2024-01-02T00:00:00Z"},
      {"@weekly", "2024-01-01T00:00:00Z", "2024-01-07T00:00:00Z"},
      {"@monthly", "2024-01-15T00:00:00Z", "2024-02-01T00:00:00Z"},
      {"@yearly", "2024-01-15T00:00:00Z", "2025-01-01T00:00:00Z"},
      {"@annually", "2024-01-15T00:00:00Z", "2025-01-01T00:00:00Z"},
      {"0 0 ? * sun", "2024-01-01T00:00:00Z", "2024-01-07T00:00:00Z"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) expect_next(cases[i][0], NULL, cases[i][1], cases[i][2]);
}

static void test_dst(void **state)
{
  /* New York springs forward 2024-03-10 02:00 EST -> 03:00 EDT: 02:30 does not exist that day. */
  expect_next("30 2 * * *", "America/New_York", "2024-03-10T05:00:00Z", "2024-03-11T06:30:00Z");
  expect_next("0 * * * *", "America/New_York", "2024-03-10T06:30:00Z", "2024-03-10T07:00:00Z");
  /* Falls back 2024-11-03 02:00 EDT -> 01:00 EST: 01:30 happens twice, and runs twice. */
  expect_next("30 1 * * *", "America/New_York", "2024-11-03T04:00:00Z", "2024-11-03T05:30:00Z");
  expect_next("30 1 * * *", "America/New_York", "2024-11-03T05:30:00Z", "2024-11-03T06:30:00Z");
  expect_next("30 1 * * *", "America/New_York", "2024-11-03T06:30:00Z", "2024-11-04T06:30:00Z");
  expect_next("0 9 * * *", "America/New_York", "2024-11-03T12:00:00Z", "2024-11-03T14:00:00Z");
  /* Berlin: 2024-03-31 02:00 CET -> 03:00 CEST. */
  expect_next("0 * * * *", "Europe/Berlin", "2024-03-31T00:30:00Z", "2024-03-31T01:00:00Z");
  expect_next("0 2 * * *", "Europe/Berlin", "2024-03-30T23:00:00Z", "2024-04-01T00:00:00Z");
  expect_next("0 3 * * *", "Europe/Berlin", "2024-03-30T23:00:00Z", "2024-03-31T01:00:00Z");
  /* 2024-10-27 03:00 CEST -> 02:00 CET. */
  expect_next("30 2 * * *", "Europe/Berlin", "2024-10-26T23:00:00Z", "2024-10-27T00:30:00Z");
  expect_next("30 2 * * *", "Europe/Berlin", "2024-10-27T00:30:00Z", "2024-10-27T01:30:00Z");
  expect_next("0 0 * * *", "Europe/Berlin", "2024-07-01T12:00:00Z", "2024-07-01T22:00:00Z");
  expect_next("0 0 * * *", "UTC", "2024-07-01T12:00:00Z", "2024-07-02T00:00:00Z");
}

static void test_errors(void **state)
{
  static const char *const bad[][2] = {
      {"* * * *", "expected exactly 5 fields, found 4: * * * *"},
      {"* * * * * *", "expected exactly 5 fields, found 6: * * * * * *"},
      {"60 * * * *", "end of range (60) above maximum (59): 60"},
      {"* 24 * * *", "end of range (24) above maximum (23): 24"},
      {"* * 0 * *", "beginning of range (0) below minimum (1): 0"},
      {"* * * 13 *", "end of range (13) above maximum (12): 13"},
      {"* * * * 7", "end of range (7) above maximum (6): 7"},
      {"5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"},
      {"*/0 * * * *", "step of range should be a positive number: */0"},
      {"a * * * *", "failed to parse int from a"},
      {"1-2-3 * * * *", "too many hyphens: 1-2-3"},
      {"*/2/3 * * * *", "too many slashes: */2/3"},
      {"@fortnightly", "unrecognized descriptor: @fortnightly"},
      {"TZ=UTC 0 * * * *", "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"},
      {"CRON_TZ=Europe/Berlin 0 * * * *", "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"},
      {"", "empty spec string"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct cron_schedule s;
    char err[256] = "";
    if (cron_parse(bad[i][0], &s, err, sizeof err) != -EINVAL) fail_msg("accepted %s", bad[i][0]);
    assert_string_equal(err, bad[i][1]);
  }
  char err[128];
  assert_null(cron_tz_load("Mars/Olympus", err, sizeof err));
  assert_string_equal(err, "unknown time zone Mars/Olympus");
  assert_null(cron_tz_load("../../etc/passwd", err, sizeof err));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_next_utc),
      cmocka_unit_test(test_dst),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
