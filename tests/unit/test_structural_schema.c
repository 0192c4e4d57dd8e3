/*
 * test_structural_schema.c - structural schemas of custom resources
 * (apiserver/schema/structural.c): table tests of value validation with
 * kube-openapi's messages as apiextensions turns them into field errors,
 * pruning, defaulting, and the CRD-time checks with upstream's paths.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "kube/json.h"
#include "schema/structural.h"

static json_t *load(const char *text)
{
  json_error_t e;
  json_t *v = json_loads(text, 0, &e);
  if (!v) fail_msg("bad JSON in test: %s: %s", e.text, text);
  return v;
}

/* "field: message" of every cause, joined by "\n". */
static char *render(const json_t *causes)
{
  size_t cap = 4096, n = 0;
  char *out = calloc(1, cap);
  size_t i;
  json_t *c;
  json_array_foreach (causes, i, c) {
    n += (size_t)snprintf(out + n, cap - n, "%s%s: %s", i ? "\n" : "", json_string_value(json_object_get(c, "field")),
                          json_string_value(json_object_get(c, "message")));
  }
  return out;
}

static const char SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":\"object\",\"required\":[\"name\"],\"properties\":{"
    "\"name\":{\"type\":\"string\",\"minLength\":2,\"maxLength\":5,\"pattern\":\"^[a-z]+$\"},"
    "\"replicas\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":10,\"default\":1},"
    "\"ratio\":{\"type\":\"number\",\"exclusiveMinimum\":true,\"minimum\":0.5,\"multipleOf\":0.25},"
    "\"mode\":{\"type\":\"string\",\"enum\":[\"a\",\"b\"]},"
    "\"when\":{\"type\":\"string\",\"format\":\"date-time\"},"
    "\"addr\":{\"type\":\"string\",\"format\":\"ipv4\"},"
    "\"port\":{\"x-kubernetes-int-or-string\":true},"
    "\"opt\":{\"type\":\"string\",\"nullable\":true},"
    "\"tags\":{\"type\":\"array\",\"minItems\":1,\"maxItems\":2,\"items\":{\"type\":\"string\"}},"
    "\"labels\":{\"type\":\"object\",\"maxProperties\":1,\"additionalProperties\":{\"type\":\"string\"}},"
    "\"free\":{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true},"
    "\"emb\":{\"type\":\"object\",\"x-kubernetes-embedded-resource\":true,"
    "\"x-kubernetes-preserve-unknown-fields\":true},"
    "\"deep\":{\"type\":\"object\",\"default\":{},\"properties\":{\"x\":{\"type\":\"string\",\"default\":\"dx\"}}}"
    "}}}}";

struct vcase {
  const char *spec;
  const char *want; /* rendered causes, "" for none */
};

static const struct vcase VCASES[] = {
    {"{\"name\":\"ab\"}", ""},
    {"{}", "spec.name: Required value"},
    {"{\"name\":\"a\"}", "spec.name: Invalid value: \"a\": spec.name in body should be at least 2 chars long"},
    {"{\"name\":\"abcdef\"}", "spec.name: Too long: may not be more than 5 bytes"},
    {"{\"name\":\"AB\"}", "spec.name: Invalid value: \"AB\": spec.name in body should match '^[a-z]+$'"},
    {"{\"name\":\"ab\",\"replicas\":\"x\"}",
     "spec.replicas: Invalid value: \"string\": spec.replicas in body must be of type integer: \"string\""},
    {"{\"name\":\"ab\",\"replicas\":11}",
     "spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10"},
    {"{\"name\":\"ab\",\"replicas\":0}",
     "spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1"},
    {"{\"name\":\"ab\",\"replicas\":2.5}",
     "spec.replicas: Invalid value: \"number\": spec.replicas in body must be of type integer: \"number\""},
    {"{\"name\":\"ab\",\"ratio\":0.5}",
     "spec.ratio: Invalid value: 0.5: spec.ratio in body should be greater than 0.5"},
    {"{\"name\":\"ab\",\"ratio\":0.6}",
     "spec.ratio: Invalid value: 0.6: spec.ratio in body should be a multiple of 0.25"},
    {"{\"name\":\"ab\",\"mode\":\"c\"}", "spec.mode: Unsupported value: \"c\": supported values: \"a\", \"b\""},
    {"{\"name\":\"ab\",\"when\":\"noon\"}",
     "spec.when: Invalid value: \"noon\": spec.when in body must be of type date-time: \"noon\""},
    {"{\"name\":\"ab\",\"when\":\"2024-01-02T03:04:05Z\",\"addr\":\"10.0.0.1\"}", ""},
    {"{\"name\":\"ab\",\"addr\":\"10.0.0.300\"}",
     "spec.addr: Invalid value: \"10.0.0.300\": spec.addr in body must be of type ipv4: \"10.0.0.300\""},
    {"{\"name\":\"ab\",\"port\":80}", ""},
    {"{\"name\":\"ab\",\"port\":\"http\"}", ""},
    {"{\"name\":\"ab\",\"opt\":null}", ""},
    {"{\"name\":null}", "spec.name: Invalid value: \"null\": spec.name in body must be of type string: \"null\""},
    {"{\"name\":\"ab\",\"tags\":[]}", "spec.tags: Invalid value: 0: spec.tags in body should have at least 1 items"},
    {"{\"name\":\"ab\",\"tags\":[\"a\",\"b\",\"c\"]}", "spec.tags: Too many: 3: must have at most 2 items"},
    {"{\"name\":\"ab\",\"tags\":[\"a\",1]}",
     "spec.tags[1]: Invalid value: \"integer\": spec.tags[1] in body must be of type string: \"integer\""},
    {"{\"name\":\"ab\",\"labels\":{\"a\":\"1\",\"b\":\"2\"}}", "spec.labels: Too many: 2: must have at most 1 items"},
    {"{\"name\":\"ab\",\"labels\":{\"a\":1}}",
     "spec.labels.a: Invalid value: \"integer\": spec.labels.a in body must be of type string: \"integer\""},
    {"{\"name\":\"ab\",\"emb\":{\"apiVersion\":\"v1\"}}", "spec.emb.kind: Required value: must not be empty"},
};

static void test_validate_table(void **state)
{
  (void)state;
  struct structural *s = structural_new(load(SCHEMA));
  for (size_t i = 0; i < sizeof(VCASES) / sizeof(VCASES[0]); i++) {
    json_t *obj =
        json_pack("{s:s,s:s,s:o}", "apiVersion", "x.example.com/v1", "kind", "X", "spec", load(VCASES[i].spec));
    json_t *causes = json_array();
    structural_validate(s, obj, causes);
    char *got = render(causes);
    if (strcmp(got, VCASES[i].want) != 0)
      fail_msg("case %zu %s:\n got: %s\nwant: %s", i, VCASES[i].spec, got, VCASES[i].want);
    free(got);
    json_decref(causes);
    json_decref(obj);
  }
  structural_free(s);
}

static void test_prune_and_default(void **state)
{
  (void)state;
  struct structural *s = structural_new(load(SCHEMA));
  json_t *obj = load("{\"apiVersion\":\"x.example.com/v1\",\"kind\":\"X\",\"metadata\":{\"name\":\"n\"},"
                     "\"top\":1,\"spec\":{\"name\":\"ab\",\"junk\":{\"a\":1},\"free\":{\"k\":[1]},"
                     "\"tags\":[\"a\"],\"emb\":{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{},\"x\":1},"
                     "\"replicas\":null}}");
  json_t *unknown = json_array();
  structural_prune(s, obj, unknown);
  structural_default(s, obj);
  char *u = render(unknown); /* strings, not causes */
  json_t *want_unknown = load("[\"unknown field \\\"top\\\"\",\"unknown field \\\"spec.junk\\\"\"]");
  assert_true(json_equal(unknown, want_unknown));
  free(u);
  json_t *want = load("{\"apiVersion\":\"x.example.com/v1\",\"kind\":\"X\",\"metadata\":{\"name\":\"n\"},"
                      "\"spec\":{\"name\":\"ab\",\"free\":{\"k\":[1]},\"tags\":[\"a\"],"
                      "\"emb\":{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{},\"x\":1},"
                      "\"replicas\":1,\"deep\":{\"x\":\"dx\"}}}");
  if (!json_equal(obj, want)) {
    char *g = kj_dumps(obj);
    fail_msg("pruned+defaulted: %s", g);
  }
  json_decref(want);
  json_decref(want_unknown);
  json_decref(unknown);
  json_decref(obj);
  structural_free(s);
}

struct ccase {
  const char *schema;
  const char *want;
};

static const struct ccase CCASES[] = {
    {"{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":\"object\"}}}", ""},
    {"{\"type\":\"object\",\"properties\":{\"spec\":{\"properties\":{\"a\":{\"type\":\"string\"}}}}}",
     "P.properties[spec].type: Required value: must not be empty for specified object fields"},
    {"{\"type\":\"string\"}", "P.type: Invalid value: \"string\": must be object at the root"},
    {"{\"properties\":{}}", "P.type: Required value: must not be empty at the root"},
    {"{\"type\":\"object\",\"properties\":{\"l\":{\"type\":\"array\"}}}",
     "P.properties[l].items: Required value: must be specified"},
    {"{\"type\":\"object\",\"properties\":{\"l\":{\"type\":\"array\",\"items\":{}}}}",
     "P.properties[l].items.type: Required value: must not be empty for specified array items"},
    {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"strin\"}}}",
     "P.properties[a].type: Unsupported value: \"strin\": supported values: \"array\", \"boolean\", \"integer\", "
     "\"number\", \"object\", \"string\""},
    {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"pattern\":\"(\"}}}",
     "P.properties[a].pattern: Invalid value: \"(\": must be a valid regular expression, but isn't: "
     "error parsing regexp: missing closing parenthesis at offset 1: `(`"},
    {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"object\",\"anyOf\":[{\"type\":\"object\"}]}}}",
     "P.properties[a].anyOf[0].type: Forbidden: must be empty to be structural"},
    {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"array\",\"uniqueItems\":true,\"items\":"
     "{\"type\":\"string\"}}}}",
     "P.properties[a].uniqueItems: Forbidden: uniqueItems cannot be set to true since the runtime complexity "
     "becomes quadratic"},
    {"{\"type\":\"object\",\"properties\":{\"a\":{\"$ref\":\"#/x\",\"type\":\"string\"}}}",
     "P.properties[a].$ref: Forbidden: $ref is not supported"},
    {"{\"type\":\"object\",\"properties\":{\"metadata\":{\"type\":\"object\",\"properties\":{\"labels\":"
     "{\"type\":\"object\"}}}}}",
     "P.properties[metadata]: Forbidden: must not specify anything other than name and generateName, but metadata "
     "is implicitly specified"},
    {"{\"type\":\"object\",\"properties\":{\"r\":{\"type\":\"integer\",\"default\":\"x\"}}}",
     "P.properties[r].default: Invalid value: \"string\": P.properties[r].default in body must be of type integer: "
     "\"string\""},
    {"{\"type\":\"object\",\"nullable\":true}", "P.nullable: Forbidden: nullable cannot be true at the root"},
    {"{\"type\":\"object\",\"properties\":{\"e\":{\"type\":\"object\",\"x-kubernetes-embedded-resource\":true}}}",
     "P.properties[e].properties: Required value: must not be empty if x-kubernetes-embedded-resource is true "
     "without x-kubernetes-preserve-unknown-fields"},
};

static void test_check_table(void **state)
{
  (void)state;
  for (size_t i = 0; i < sizeof(CCASES) / sizeof(CCASES[0]); i++) {
    json_t *schema = load(CCASES[i].schema);
    json_t *causes = json_array();
    structural_check(schema, "P", false, causes);
    char *got = render(causes);
    if (strcmp(got, CCASES[i].want) != 0)
      fail_msg("case %zu %s:\n got: %s\nwant: %s", i, CCASES[i].schema, got, CCASES[i].want);
    free(got);
    json_decref(causes);
    json_decref(schema);
  }
}

static void test_value_strings(void **state)
{
  (void)state;
  static const struct {
    const char *json, *want;
  } cases[] = {
      {"10.0", "10"},   {"1.5", "1.5"}, {"1e21", "1e+21"}, {"0.0001", "0.0001"}, {"\"a\\\"b\"", "\"a\\\"b\""},
      {"true", "true"}, {"-3", "-3"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    json_t *v = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);
    char *s = structural_value_string(v);
    assert_string_equal(s, cases[i].want);
    free(s);
    json_decref(v);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_validate_table),
      cmocka_unit_test(test_prune_and_default),
      cmocka_unit_test(test_check_table),
      cmocka_unit_test(test_value_strings),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
