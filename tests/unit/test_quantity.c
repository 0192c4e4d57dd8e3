/* Tests for kube/quantity.h: parsing, rounding, canonical form, math. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "kube/quantity.h"

static void test_parse_and_format(void **state)
{
  (void)state;
  const int64_t Mi = 1024LL * 1024;
  struct {
    const char *in;
    int64_t milli;
    const char *canon;
  } cases[] = {
      {"0", 0, "0"},
      {"0Gi", 0, "0"},
      {"1", 1000, "1"},
      {"+2", 2000, "2"},
      {"100m", 100, "100m"},
      {"1.5", 1500, "1500m"},
      {"0.1", 100, "100m"},
      {".5", 500, "500m"},
      {"5.", 5000, "5"},
      {"-1.5", -1500, "-1500m"},
      {"1.5k", 1500000, "1500"},
      {"1000k", 1000000000, "1M"},
      {"1000M", 1000000000000LL, "1G"},
      {"1500M", 1500000000000LL, "1500M"},
      {"129M", 129000000000LL, "129M"},
      {"128974848", 128974848000LL, "128974848"},
      {"2P", 2000000000000000000LL, "2P"},
      {"1Ki", 1024000, "1Ki"},
      {"0.5Ki", 512000, "512"},
      {"1536Mi", 1536 * Mi * 1000, "1536Mi"},
      {"1024Mi", 1024 * Mi * 1000, "1Gi"},
      {"1.5Gi", 1536 * Mi * 1000, "1536Mi"},
      {"123Mi", 123 * Mi * 1000, "123Mi"},
      {"1025", 1025000, "1025"},
      {"2e3", 2000000, "2e3"},
      {"1E3", 1000000, "1e3"},
      {"12e0", 12000, "12"},
      {"1.5e3", 1500000, "1500"},
      {"129e6", 129000000000LL, "129e6"},
      {"1e-3", 1, "1e-3"},
      {"100n", 1, "1m"},        /* below a milli: rounded up */
      {"1.0001", 1001, "1001m"}, /* likewise */
      {"-0.0001", -1, "-1m"},
      {"1u", 1, "1m"},
      {"9223372036854775", 9223372036854775000LL, "9223372036854775"},
      {"0.000000000000000000000000000000000000000000001", 1, "1m"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct quantity q = {-1, QF_DECIMAL_SI};
    int rc = quantity_parse(cases[i].in, &q);
    if (rc != 0)
      fail_msg("\"%s\": rc %d", cases[i].in, rc);
    if (q.milli != cases[i].milli)
      fail_msg("\"%s\": milli %lld", cases[i].in, (long long)q.milli);
    char buf[64];
    assert_string_equal(quantity_format(&q, buf, sizeof buf), cases[i].canon);
    /* The canonical form reads back to the same value. */
    struct quantity back;
    assert_int_equal(quantity_parse(buf, &back), 0);
    assert_int_equal(back.milli, q.milli);
  }
}

static void test_parse_bad(void **state)
{
  (void)state;
  struct {
    const char *in;
    int rc;
  } cases[] = {
      {"", -EINVAL},     {"abc", -EINVAL},     {"1.2.3", -EINVAL}, {"1 Gi", -EINVAL},
      {"1Gb", -EINVAL},  {"1K", -EINVAL},      {"1e", -EINVAL},    {"1e1.5", -EINVAL},
      {"Mi", -EINVAL},   {".", -EINVAL},       {"-", -EINVAL},     {"1ki", -EINVAL},
      {"--1", -EINVAL},  {"1i", -EINVAL},      {" 1", -EINVAL},    {"1 ", -EINVAL},
      {"1e+", -EINVAL},  {"0x10", -EINVAL},
      {"8Ei", -ERANGE},  {"9223372036854775807", -ERANGE},         {"1e30", -ERANGE},
      {"99999999999999999999999999999999999999999999", -ERANGE},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct quantity q;
    int rc = quantity_parse(cases[i].in, &q);
    if (rc != cases[i].rc)
      fail_msg("\"%s\": rc %d, want %d", cases[i].in, rc, cases[i].rc);
  }
}

static struct quantity Q(const char *s)
{
  struct quantity q;
  assert_int_equal(quantity_parse(s, &q), 0);
  return q;
}

static void test_math(void **state)
{
  (void)state;
  char buf[64];
  struct quantity a = Q("100m"), b = Q("1.5");
  assert_int_equal(quantity_add(&a, &b), 0);
  assert_string_equal(quantity_format(&a, buf, sizeof buf), "1600m");
  a = Q("1Gi");
  b = Q("512Mi");
  assert_int_equal(quantity_add(&a, &b), 0);
  assert_string_equal(quantity_format(&a, buf, sizeof buf), "1536Mi");
  assert_int_equal(quantity_sub(&a, &b), 0);
  assert_int_equal(quantity_sub(&a, &b), 0);
  assert_string_equal(quantity_format(&a, buf, sizeof buf), "512Mi");
  struct quantity zero = {0, QF_DECIMAL_SI};
  b = Q("2Gi");
  assert_int_equal(quantity_add(&zero, &b), 0);
  assert_string_equal(quantity_format(&zero, buf, sizeof buf), "2Gi");
  struct quantity big = {INT64_MAX, QF_DECIMAL_SI}, one = Q("1m");
  assert_int_equal(quantity_add(&big, &one), -ERANGE);
  assert_int_equal(big.milli, INT64_MAX);
  struct quantity small = {INT64_MIN, QF_DECIMAL_SI};
  assert_int_equal(quantity_sub(&small, &one), -ERANGE);

  struct quantity x = Q("1"), y = Q("1000m"), z = Q("2");
  assert_int_equal(quantity_cmp(&x, &y), 0);
  assert_int_equal(quantity_cmp(&x, &z), -1);
  assert_int_equal(quantity_cmp(&z, &x), 1);

  x = Q("1.5");
  assert_int_equal(quantity_value(&x), 2);
  assert_int_equal(quantity_milli(&x), 1500);
  x = Q("100m");
  assert_int_equal(quantity_value(&x), 1);
  x = Q("128Mi");
  assert_int_equal(quantity_value(&x), 134217728);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_and_format),
      cmocka_unit_test(test_parse_bad),
      cmocka_unit_test(test_math),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
