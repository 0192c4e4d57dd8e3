/* Tests for ConfigMap and Secret strategies (apiserver/registry/
 * configmaps.c, secrets.c): key rules, immutability, stringData merge,
 * type defaults and required keys, table cells. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <kube/json.h>

#include "registry/reg_internal.h"
#include "registry/registry.h"
#include "registry_test_util.h"

#define META "\"metadata\":{\"name\":\"c\",\"namespace\":\"default\"}"

static void test_configmap_validate(void **state)
{
  (void)state;
  struct {
    const char *obj, *old, *want;
  } cases[] = {
      {"{" META ",\"data\":{\"a.b_c-D\":\"x\"},\"binaryData\":{\"bin\":\"AAE=\"}}", NULL, ""},
      {"{" META ",\"data\":{\"bad key\":\"x\",\"..\":\"y\"}}", NULL,
       "data[bad key]|FieldValueInvalid|Invalid value: \"bad key\": a valid config key must consist of alphanumeric "
       "characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
       "'[-._a-zA-Z0-9]+')\n"
       "data[..]|FieldValueInvalid|Invalid value: \"..\": must not be '..'"},
      {"{" META ",\"data\":{\"k\":\"x\"},\"binaryData\":{\"k\":\"AA==\"}}", NULL,
       "binaryData[k]|FieldValueDuplicate|Duplicate value: \"k\""},
      /* immutable: data frozen, and immutable cannot be unset */
      {"{" META ",\"immutable\":true,\"data\":{\"k\":\"y\"}}", "{" META ",\"immutable\":true,\"data\":{\"k\":\"x\"}}",
       "data|FieldValueForbidden|Forbidden: field is immutable when `immutable` is set"},
      {"{" META ",\"data\":{\"k\":\"x\"}}", "{" META ",\"immutable\":true,\"data\":{\"k\":\"x\"}}",
       "immutable|FieldValueForbidden|Forbidden: field is immutable when `immutable` is set"},
      {"{" META ",\"immutable\":true,\"data\":{\"k\":\"x\"},\"metadata\":{\"name\":\"c\",\"namespace\":\"default\","
       "\"labels\":{\"a\":\"b\"}}}",
       "{" META ",\"immutable\":true,\"data\":{\"k\":\"x\"}}", ""},
      {"{" META ",\"immutable\":true,\"data\":{\"k\":\"y\"}}", "{" META ",\"data\":{\"k\":\"x\"}}", ""},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    check_validate(&reg_configmaps, cases[i].obj, cases[i].old, cases[i].want);
}

static void test_secret_defaults(void **state)
{
  (void)state;
  json_t *s = J("{" META ",\"data\":{\"a\":\"eA==\",\"b\":\"eA==\"},\"stringData\":{\"b\":\"hello\",\"c\":\"\"}}");
  reg_secrets.defaults(s);
  assert_json(s, "{" META ",\"type\":\"Opaque\",\"data\":{\"a\":\"eA==\",\"b\":\"aGVsbG8=\",\"c\":\"\"}}");
  json_decref(s);
  s = J("{" META ",\"type\":\"kubernetes.io/tls\"}");
  reg_secrets.defaults(s);
  assert_string_equal(kj_get_str(s, "type"), "kubernetes.io/tls");
  json_decref(s);
}

static void test_secret_validate(void **state)
{
  (void)state;
  struct {
    const char *obj, *old, *want;
  } cases[] = {
      {"{" META ",\"type\":\"Opaque\",\"data\":{\"k\":\"aGVsbG8=\"}}", NULL, ""},
      {"{" META ",\"type\":\"Opaque\",\"data\":{\"k\":\"not base64!\"}}", NULL,
       "data[k]|FieldValueInvalid|Invalid value: \"<secret contents redacted>\": must be base64-encoded"},
      {"{" META ",\"type\":\"kubernetes.io/tls\",\"data\":{\"tls.crt\":\"\"}}", NULL,
       "data[tls.key]|FieldValueRequired|Required value"},
      {"{" META ",\"type\":\"kubernetes.io/dockerconfigjson\"}", NULL,
       "data[.dockerconfigjson]|FieldValueRequired|Required value"},
      {"{" META ",\"type\":\"kubernetes.io/service-account-token\"}", NULL,
       "metadata.annotations[kubernetes.io/service-account.name]|FieldValueRequired|Required value"},
      {"{" META ",\"type\":\"Other\"}", "{" META ",\"type\":\"Opaque\"}",
       "type|FieldValueInvalid|Invalid value: \"Other\": field is immutable"},
      {"{" META ",\"type\":\"Opaque\",\"immutable\":true,\"data\":{}}",
       "{" META ",\"type\":\"Opaque\",\"immutable\":true,\"data\":{\"k\":\"eA==\"}}",
       "data|FieldValueForbidden|Forbidden: field is immutable when `immutable` is set"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    check_validate(&reg_secrets, cases[i].obj, cases[i].old, cases[i].want);
}

static void test_cells(void **state)
{
  (void)state;
  json_t *cm = J("{\"metadata\":{\"name\":\"c\",\"creationTimestamp\":\"2020-01-01T00:00:00Z\"},\"data\":{\"a\":\"1\","
                 "\"b\":\"2\"},\"binaryData\":{\"c\":\"\"}}");
  json_t *row = reg_configmaps.cells(cm);
  assert_int_equal(json_array_size(row), 3);
  assert_string_equal(json_string_value(json_array_get(row, 0)), "c");
  assert_int_equal(json_integer_value(json_array_get(row, 1)), 3);
  /* a creation years back prints in years ("6y328d") */
  const char *age = json_string_value(json_array_get(row, 2));
  assert_true(age && strchr(age, 'y') && age[0] >= '1' && age[0] <= '9');
  json_decref(row);
  json_decref(cm);

  json_t *s = J("{\"metadata\":{\"name\":\"s\"},\"type\":\"Opaque\",\"data\":{\"a\":\"\"}}");
  row = reg_secrets.cells(s);
  assert_json(row, "[\"s\",\"Opaque\",1,\"<unknown>\"]");
  char buf[32];
  assert_string_equal(reg_secrets.field_value(s, "type", buf, sizeof(buf)), "Opaque");
  json_decref(row);
  json_decref(s);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_configmap_validate),
      cmocka_unit_test(test_secret_defaults),
      cmocka_unit_test(test_secret_validate),
      cmocka_unit_test(test_cells),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
