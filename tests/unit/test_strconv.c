/* Tests for kube/strconv.h: Go's ParseBool/ParseInt rules, URL coding. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kube/strconv.h"

static void test_parse_bool(void **state)
{
  (void)state;
  struct {
    const char *in;
    int rc;
    bool want;
  } cases[] = {
      {"1", 0, true},        {"t", 0, true},      {"T", 0, true},      {"TRUE", 0, true},    {"true", 0, true},
      {"True", 0, true},     {"0", 0, false},     {"f", 0, false},     {"F", 0, false},      {"FALSE", 0, false},
      {"false", 0, false},   {"False", 0, false}, {"yes", -EINVAL, 0}, {"tRUE", -EINVAL, 0}, {"", -EINVAL, 0},
      {" true", -EINVAL, 0}, {"on", -EINVAL, 0},  {"2", -EINVAL, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    bool b = !cases[i].want;
    int rc = kstr_parse_bool(cases[i].in, &b);
    if (rc != cases[i].rc) fail_msg("\"%s\": rc %d", cases[i].in, rc);
    if (rc == 0 && b != cases[i].want) fail_msg("\"%s\": wrong value", cases[i].in);
  }
}

static void test_parse_int64(void **state)
{
  (void)state;
  struct {
    const char *in;
    int rc;
    int64_t want;
  } cases[] = {
      {"0", 0, 0},
      {"42", 0, 42},
      {"-42", 0, -42},
      {"+7", 0, 7},
      {"007", 0, 7},
      {"9223372036854775807", 0, INT64_MAX},
      {"-9223372036854775808", 0, INT64_MIN},
      {"9223372036854775808", -ERANGE, 0},
      {"-9223372036854775809", -ERANGE, 0},
      {"99999999999999999999999", -ERANGE, 0},
      {"", -EINVAL, 0},
      {"-", -EINVAL, 0},
      {"12a", -EINVAL, 0},
      {" 1", -EINVAL, 0},
      {"1.0", -EINVAL, 0},
      {"0x10", -EINVAL, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int64_t v = -1;
    int rc = kstr_parse_int64(cases[i].in, &v);
    if (rc != cases[i].rc) fail_msg("\"%s\": rc %d want %d", cases[i].in, rc, cases[i].rc);
    if (rc == 0 && v != cases[i].want) fail_msg("\"%s\": got %lld", cases[i].in, (long long)v);
  }
}

static void test_url(void **state)
{
  (void)state;
  struct {
    const char *in;
    bool plus;
    const char *want;
  } dec[] = {
      {"a%20b", false, "a b"}, {"a+b", true, "a b"},
      {"a+b", false, "a+b"},   {"app%3Dweb%2Ctier%21%3Dfe", true, "app=web,tier!=fe"},
      {"%zz", true, "%zz"},    {"100%", true, "100%"},
      {"%4", true, "%4"},      {"", true, ""},
  };
  for (size_t i = 0; i < sizeof dec / sizeof dec[0]; i++) {
    char *s = kstr_url_decode(dec[i].in, strlen(dec[i].in), dec[i].plus);
    assert_string_equal(s, dec[i].want);
    free(s);
  }
  char *e = kstr_url_encode("app in (a, b)/x=y~._-");
  assert_string_equal(e, "app+in+%28a%2C+b%29%2Fx%3Dy~._-");
  free(e);

  const char *q = "labelSelector=app%3Dweb&watch&limit=500&empty=&fieldSelector=a+b";
  struct {
    const char *key;
    const char *want;
  } get[] = {
      {"labelSelector", "app=web"}, {"watch", ""},     {"limit", "500"}, {"empty", ""},
      {"fieldSelector", "a b"},     {"missing", NULL}, {"lim", NULL},
  };
  for (size_t i = 0; i < sizeof get / sizeof get[0]; i++) {
    char *v = kstr_query_get(q, get[i].key);
    if (!get[i].want) {
      assert_null(v);
      continue;
    }
    assert_non_null(v);
    assert_string_equal(v, get[i].want);
    free(v);
  }
  assert_null(kstr_query_get("", "a"));
  assert_null(kstr_query_get(NULL, "a"));
}

static void test_format_float(void **state)
{
  (void)state;
  struct {
    double v;
    const char *want;
  } cases[] = {
      {0, "0"},           {1, "1"},
      {10, "10"},         {1.5, "1.5"},
      {-0.25, "-0.25"},   {100000, "100000"},
      {1e6, "1e+06"},     {1234567, "1.234567e+06"},
      {0.0001, "0.0001"}, {0.00001, "1e-05"},
      {0.1, "0.1"},       {1e21, "1e+21"},
      {103.65, "103.65"}, {1.0 / 3, "0.3333333333333333"},
      {INFINITY, "+Inf"}, {-INFINITY, "-Inf"},
      {NAN, "NaN"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char buf[40];
    assert_string_equal(kstr_format_float(cases[i].v, buf, sizeof buf), cases[i].want);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_bool),
      cmocka_unit_test(test_parse_int64),
      cmocka_unit_test(test_url),
      cmocka_unit_test(test_format_float),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
