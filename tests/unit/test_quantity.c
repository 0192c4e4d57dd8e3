/* Tests for kube/quantity.h: parsing, rounding, canonical form, kept input,
 * JSON decoding and math, with the outcomes of upstream's resource.Quantity. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "kube/quantity.h"

#define NANO ((__int128)1000000000)

static void check_canon(const char *in, const char *want)
{
  struct quantity q;
  char buf[QUANTITY_STRING_MAX];
  int rc = quantity_parse(in, &q);
  if (rc != 0) fail_msg("\"%s\": rc %d", in, rc);
  quantity_format(&q, buf, sizeof buf);
  if (strcmp(buf, want) != 0) fail_msg("\"%s\": got \"%s\", want \"%s\"", in, buf, want);
  /* What is written reads back to the same value. */
  struct quantity back;
  assert_int_equal(quantity_parse(buf, &back), 0);
  assert_int_equal(quantity_cmp(&back, &q), 0);
}

/* Serialized forms: canonical, or the input kept where upstream keeps it. */
static void test_serialized_form(void **state)
{
  (void)state;
  static const char *const cases[][2] = {
      {"0", "0"},
      {"0Gi", "0"},
      {"00", "0"},
      {"-0", "0"},
      {"1", "1"},
      {"+2", "+2"},
      {"01", "01"},
      {"100m", "100m"},
      {"1.5", "1500m"},
      {"0.1", "100m"},
      {".5", "500m"},
      {"5.", "5."},
      {"-1.5", "-1500m"},
      {"1.5k", "1500"},
      {"1000k", "1M"},
      {"1000M", "1G"},
      {"1500M", "1500M"},
      {"129M", "129M"},
      {"128974848", "128974848"},
      {"2P", "2P"},
      {"1Ki", "1Ki"},
      {"8Ki", "8Ki"},
      {"0.5Ki", "512"},
      {"1536Mi", "1536Mi"},
      {"1024Mi", "1Gi"},
      {"1.5Gi", "1536Mi"},
      {"123Mi", "123Mi"},
      {"1025", "1025"},
      {"2e3", "2e3"},
      {"1E3", "1E3"},
      {"12e0", "12e0"},
      {"1.5e3", "1500"},
      {"129e6", "129e6"},
      {"1e-3", "1e-3"},
      {"100n", "100n"},
      {"1n", "1n"},
      {"3.001n", "4n"},
      {"1.1E-9", "2e-9"},
      {"0.0000000001", "1n"},
      {"0.00000012345", "124n"},
      {"1.0001", "1000100u"},
      {"-0.0001", "-100u"},
      {"1u", "1u"},
      {"1.500", "1.500"},
      {"1.0", "1"},
      {"1.", "1."},
      {"1.G", "1.G"},
      {".", "0"},
      {"+", "0"},
      {"100.035k", "100.035k"},
      {"10.035M", "10.035M"},
      {".001Ki", "1024m"},
      {".000001Ki", "1024u"},
      {".000000001Ki", "1024n"},
      {".000000000001Ki", "2n"},
      {"9Ei", "9223372036854775807"},
      {"12E", "12E"},
      {"1000E", "1e21"},
      {"1e28", "10e27"},
      {"Mi", "0"},
      {"1.5e28", "1.5e28"},
      {"1.55e25", "15500e21"},
      {"5.444T", "5.444T"},
      {"0.0000000000000000000000000000000000000000000001", "1n"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_canon(cases[i][0], cases[i][1]);
}

static void test_values(void **state)
{
  (void)state;
  struct {
    const char *in;
    __int128 nano;
    enum quantity_format format;
  } cases[] = {
      {"1Ki", 1024 * NANO, QF_BINARY_SI},
      {"0.5Mi", 524288 * NANO, QF_BINARY_SI},
      {"5n", 5, QF_DECIMAL_SI},
      {"1E-3", 1000000, QF_DECIMAL_EXPONENT},
      {"0.5e-9", 1, QF_DECIMAL_EXPONENT},
      {"0.000000000001Ki", 2, QF_DECIMAL_SI}, /* rounds up, changes format */
      {"9223372036854775807Ki", (__int128)INT64_MAX * NANO, QF_BINARY_SI},
      {"-9Ei", -(__int128)INT64_MAX * NANO, QF_BINARY_SI},
      {"1.7E18", (__int128)1700000000000000000LL * NANO, QF_DECIMAL_EXPONENT},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct quantity q;
    assert_int_equal(quantity_parse(cases[i].in, &q), 0);
    if (q.nano != cases[i].nano || q.format != cases[i].format)
      fail_msg("\"%s\": nano %lld format %d", cases[i].in, (long long)q.nano, q.format);
  }
}

static void test_parse_bad(void **state)
{
  (void)state;
  struct {
    const char *in;
    int rc;
  } cases[] = {
      {"", QUANTITY_ERR_FORMAT},        {"abc", QUANTITY_ERR_FORMAT},
      {"1.2.3", QUANTITY_ERR_FORMAT},   {"1 Gi", QUANTITY_ERR_FORMAT},
      {"1.5.5", QUANTITY_ERR_FORMAT},   {"2x", QUANTITY_ERR_FORMAT},
      {"1.1.M", QUANTITY_ERR_FORMAT},   {"1+1.0M", QUANTITY_ERR_FORMAT},
      {"--1", QUANTITY_ERR_SUFFIX},     {" 1", QUANTITY_ERR_FORMAT},
      {"1 ", QUANTITY_ERR_FORMAT},      {"0x10", QUANTITY_ERR_FORMAT},
      {"1e1.5", QUANTITY_ERR_FORMAT},   {"1Gb", QUANTITY_ERR_FORMAT},
      {"1K", QUANTITY_ERR_SUFFIX},      {"1e", QUANTITY_ERR_SUFFIX},
      {"1ki", QUANTITY_ERR_SUFFIX},     {"1i", QUANTITY_ERR_SUFFIX},
      {"0.1mi", QUANTITY_ERR_SUFFIX},   {".5i", QUANTITY_ERR_SUFFIX},
      {"-3.01e-", QUANTITY_ERR_SUFFIX}, {"1e+", QUANTITY_ERR_SUFFIX},
      {"1e40", QUANTITY_ERR_RANGE},     {"99999999999999999999999999999999999999999999", QUANTITY_ERR_RANGE},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct quantity q;
    int rc = quantity_parse(cases[i].in, &q);
    if (rc != cases[i].rc) fail_msg("\"%s\": rc %d, want %d", cases[i].in, rc, cases[i].rc);
  }
  assert_string_equal(quantity_strerror(QUANTITY_ERR_FORMAT), "quantities must match the regular expression "
                                                              "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
  assert_string_equal(quantity_strerror(QUANTITY_ERR_SUFFIX), "unable to parse quantity's suffix");
}

static void test_from_json(void **state)
{
  (void)state;
  struct {
    const char *json;
    const char *want; /* NULL: error */
  } cases[] = {
      {"\" 1\"", "1"},  {"\"1 \"", "1"}, {"1", "1"},   {"-1", "-1"}, {"1.5", "1500m"},          {"null", "0"},
      {"\"2x\"", NULL}, {"true", NULL},  {"{}", NULL}, {"[]", NULL}, {"\"  512Mi \"", "512Mi"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    json_t *v = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);
    assert_non_null(v);
    struct quantity q;
    char buf[QUANTITY_STRING_MAX];
    int rc = quantity_from_json(v, &q);
    json_decref(v);
    if (!cases[i].want) {
      if (rc == 0) fail_msg("%s: parsed", cases[i].json);
      continue;
    }
    if (rc != 0) fail_msg("%s: rc %d", cases[i].json, rc);
    assert_string_equal(quantity_format(&q, buf, sizeof buf), cases[i].want);
  }
}

static struct quantity Q(const char *s) {
  struct quantity q;
  assert_int_equal(quantity_parse(s, &q), 0);
  return q;
}

static void
test_math(void **state)
{
  (void)state;
  char buf[QUANTITY_STRING_MAX];
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
  /* A zero takes the other's format, in both orders. */
  struct quantity zero = Q("0");
  b = Q("2Gi");
  assert_int_equal(quantity_add(&zero, &b), 0);
  assert_string_equal(quantity_format(&zero, buf, sizeof buf), "2Gi");
  a = Q("100m");
  zero = Q("0");
  assert_int_equal(quantity_add(&a, &zero), 0);
  assert_string_equal(quantity_format(&a, buf, sizeof buf), "100m");
  /* Arithmetic drops the kept input ("+2" + 0 prints canonically). */
  a = Q("+2");
  assert_int_equal(quantity_add(&a, &zero), 0);
  assert_string_equal(quantity_format(&a, buf, sizeof buf), "2");
  /* Nano precision survives sums. */
  a = Q("1n");
  b = Q("1n");
  assert_int_equal(quantity_add(&a, &b), 0);
  assert_string_equal(quantity_format(&a, buf, sizeof buf), "2n");
  a = Q("5e28");
  b = Q("5e28");
  assert_int_equal(quantity_add(&a, &b), -ERANGE);
  assert_string_equal(quantity_format(&a, buf, sizeof buf), "50e27");

  struct quantity x = Q("1"), y = Q("1000m"), z = Q("2");
  assert_int_equal(quantity_cmp(&x, &y), 0);
  assert_int_equal(quantity_cmp(&x, &z), -1);
  assert_int_equal(quantity_cmp(&z, &x), 1);
  x = Q("10000T");
  y = Q("100Gi");
  assert_int_equal(quantity_cmp(&x, &y), 1);

  x = Q("1.5");
  assert_int_equal(quantity_value(&x), 2);
  assert_int_equal(quantity_milli(&x), 1500);
  x = Q("-9.01");
  assert_int_equal(quantity_value(&x), -10);
  x = Q("1n");
  assert_int_equal(quantity_milli(&x), 1);
  x = Q("100m");
  assert_int_equal(quantity_value(&x), 1);
  x = Q("128Mi");
  assert_int_equal(quantity_value(&x), 134217728);
  x = Q("1e25");
  assert_int_equal(quantity_value(&x), INT64_MAX);
  assert_int_equal(quantity_sign(&x), 1);

  quantity_set_int(&x, 1024, QF_BINARY_SI);
  assert_string_equal(quantity_format(&x, buf, sizeof buf), "1Ki");
  quantity_set_int(&x, 1000000, QF_DECIMAL_EXPONENT);
  assert_string_equal(quantity_format(&x, buf, sizeof buf), "1e6");
  quantity_set_milli(&x, 1024, QF_BINARY_SI);
  assert_string_equal(quantity_format(&x, buf, sizeof buf), "1024m");
  quantity_set_milli(&x, 1234000, QF_DECIMAL_SI);
  assert_string_equal(quantity_format(&x, buf, sizeof buf), "1234");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_serialized_form), cmocka_unit_test(test_values), cmocka_unit_test(test_parse_bad),
      cmocka_unit_test(test_from_json),       cmocka_unit_test(test_math),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
