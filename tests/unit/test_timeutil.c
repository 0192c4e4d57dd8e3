/* Tests for kube/timeutil.h: RFC 3339, Go durations, kubectl ages. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kube/timeutil.h"

static void test_format(void **state)
{
  (void)state;
  char buf[32];
  assert_string_equal(ktime_format(0, buf), "1970-01-01T00:00:00Z");
  assert_string_equal(ktime_format(1700000000, buf), "2023-11-14T22:13:20Z");
  assert_string_equal(ktime_format_micro(1700000000123456LL, buf), "2023-11-14T22:13:20.123456Z");
  assert_string_equal(ktime_format_micro(5, buf), "1970-01-01T00:00:00.000005Z");
  assert_string_equal(ktime_format_micro(-1, buf), "1969-12-31T23:59:59.999999Z");
  int64_t a = ktime_now_us(), m = ktime_mono_ms();
  assert_true(a > 1700000000000000LL);
  assert_true(m >= 0);
  int64_t parsed;
  assert_int_equal(ktime_parse(ktime_now_str(buf), &parsed), 0);
  assert_true(parsed / 1000000 >= a / 1000000 && parsed / 1000000 <= a / 1000000 + 2);
  assert_int_equal(ktime_parse(ktime_now_micro_str(buf), &parsed), 0);
  assert_true(parsed >= a);
}

static void test_parse(void **state)
{
  (void)state;
  struct {
    const char *in;
    int rc;
    int64_t us;
  } cases[] = {
      {"1970-01-01T00:00:00Z", 0, 0},
      {"2023-11-14T22:13:20Z", 0, 1700000000000000LL},
      {"2023-11-14T22:13:20.5Z", 0, 1700000000500000LL},
      {"2023-11-14T22:13:20.123456789Z", 0, 1700000000123456LL},
      {"2023-11-14T23:13:20+01:00", 0, 1700000000000000LL},
      {"2023-11-14T20:43:20-01:30", 0, 1700000000000000LL},
      {"2024-02-29T00:00:00Z", 0, 1709164800000000LL},
      {"2023-02-29T00:00:00Z", -EINVAL, 0},
      {"2023-11-14 22:13:20Z", -EINVAL, 0},
      {"2023-11-14T22:13:20", -EINVAL, 0},
      {"2023-11-14T22:13Z", -EINVAL, 0},
      {"2023-13-14T22:13:20Z", -EINVAL, 0},
      {"2023-11-14T24:00:00Z", -EINVAL, 0},
      {"2023-11-14T22:13:20.Z", -EINVAL, 0},
      {"2023-11-14T22:13:20Zjunk", -EINVAL, 0},
      {"2023-11-14T22:13:20+0100", -EINVAL, 0},
      {"", -EINVAL, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int64_t us = -1;
    int rc = ktime_parse(cases[i].in, &us);
    if (rc != cases[i].rc) fail_msg("%s: rc %d", cases[i].in, rc);
    if (rc == 0 && us != cases[i].us) fail_msg("%s: got %lld", cases[i].in, (long long)us);
  }
}

static void test_duration(void **state)
{
  (void)state;
  struct {
    const char *in;
    int64_t ms;
    const char *err; /* NULL = valid */
  } cases[] = {
      {"0", 0, NULL},
      {"300ms", 300, NULL},
      {"1.5s", 1500, NULL},
      {"1h2m3.5s", 3723500, NULL},
      {"-1m", -60000, NULL},
      {"+2s", 2000, NULL},
      {"1500us", 1, NULL},
      {"999999ns", 0, NULL},
      {"2h45m", 9900000, NULL},
      {".5s", 500, NULL},
      {"1m1m", 120000, NULL},
      {"", 0, "time: invalid duration \"\""},
      {"abc", 0, "time: invalid duration \"abc\""},
      {"5", 0, "time: missing unit in duration \"5\""},
      {"5x", 0, "time: unknown unit \"x\" in duration \"5x\""},
      {"1d", 0, "time: unknown unit \"d\" in duration \"1d\""},
      {"s", 0, "time: invalid duration \"s\""},
      {"1.s", 1000, NULL},
      {"-", 0, "time: invalid duration \"-\""},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int64_t ms = -7;
    char err[128] = "";
    int rc = ktime_parse_duration_ms_err(cases[i].in, &ms, err, sizeof err);
    if (!cases[i].err) {
      if (rc != 0) fail_msg("%s: %s", cases[i].in, err);
      if (ms != cases[i].ms) fail_msg("%s: got %lld", cases[i].in, (long long)ms);
      assert_int_equal(ktime_parse_duration_ms(cases[i].in, &ms), 0);
    } else {
      assert_int_equal(rc, -EINVAL);
      assert_string_equal(err, cases[i].err);
      assert_int_equal(ktime_parse_duration_ms(cases[i].in, &ms), -EINVAL);
    }
  }
  struct {
    int64_t ms;
    const char *want;
  } fmt[] = {
      {0, "0s"},           {300, "300ms"},   {1000, "1s"}, {1500, "1.5s"}, {60000, "1m0s"}, {3723500, "1h2m3.5s"},
      {7200000, "2h0m0s"}, {-1500, "-1.5s"}, {10, "10ms"},
  };
  for (size_t i = 0; i < sizeof fmt / sizeof fmt[0]; i++) {
    char buf[48];
    assert_string_equal(ktime_format_duration_ms(fmt[i].ms, buf, sizeof buf), fmt[i].want);
  }
}

static void test_human_age(void **state)
{
  (void)state;
  const int64_t M = 60, H = 3600, D = 86400, Y = 365 * D;
  struct {
    int64_t s;
    const char *want;
  } cases[] = {
      {-5, "<invalid>"},
      {-1, "0s"},
      {0, "0s"},
      {45, "45s"},
      {119, "119s"},
      {120, "2m"},
      {125, "2m5s"},
      {9 * M + 59, "9m59s"},
      {10 * M, "10m"},
      {179 * M, "179m"},
      {3 * H, "3h"},
      {3 * H + 5 * M, "3h5m"},
      {8 * H, "8h"},
      {47 * H, "47h"},
      {2 * D, "2d"},
      {2 * D + 5 * H, "2d5h"},
      {8 * D, "8d"},
      {400 * D, "400d"},
      {2 * Y + 3 * D, "2y3d"},
      {3 * Y, "3y"},
      {9 * Y, "9y"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char buf[32];
    assert_string_equal(ktime_human_age(cases[i].s, buf, sizeof buf), cases[i].want);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_format),
      cmocka_unit_test(test_parse),
      cmocka_unit_test(test_duration),
      cmocka_unit_test(test_human_age),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
