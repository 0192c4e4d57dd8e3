/* Tests for kube/selector.h: label and field selector grammar, errors,
 * canonical strings and matching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kube/json.h"
#include "kube/selector.h"

#define QNAME_MSG                                                                                                      \
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "                          \
  "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "                               \
  "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
#define VALUE_MSG                                                                                                      \
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "                          \
  "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "                                   \
  "'my_value',  or '12345', regex used for validation is "                                                             \
  "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
#define REQ "unable to parse requirement: "

static void test_label_parse_good(void **state)
{
  (void)state;
  struct {
    const char *in;
    const char *canon;
  } cases[] = {
      {"", ""},
      {"a=b", "a=b"},
      {"a==b", "a==b"},
      {" a = b , c != d ", "a=b,c!=d"},
      {"z,a", "a,z"},
      {"!a", "!a"},
      {"  !  a  ", "!a"},
      {"a in (y, x,x)", "a in (x,y)"},
      {"a notin(x)", "a notin (x)"},
      {"a in ()", "a in ()"},
      {"a in (,x)", "a in (,x)"},
      {"a=", "a="},
      {"a=,b", "a=,b"},
      {"in in (in,notin)", "in in (in,notin)"},
      {"a>1,b<2", "a>1,b<2"},
      {"a in (x,y),a=x", "a=x,a in (x,y)"},
      {"app.kubernetes.io/name=web,environment in (production, qa),tier notin (frontend)",
       "app.kubernetes.io/name=web,environment in (production,qa),tier notin (frontend)"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char err[512] = "";
    struct labelsel *s = labelsel_parse(cases[i].in, err, sizeof err);
    if (!s) fail_msg("\"%s\": %s", cases[i].in, err);
    char *str = labelsel_string(s);
    assert_string_equal(str, cases[i].canon);
    assert_false(labelsel_is_nothing(s));
    assert_int_equal(labelsel_is_empty(s), cases[i].in[0] == '\0');
    free(str);
    labelsel_free(s);
  }
}

static void test_label_parse_bad(void **state)
{
  (void)state;
  struct {
    const char *in;
    const char *err;
  } cases[] = {
      {"a=b,", "found '', expected: identifier after ','"},
      {"a=b,,c", "found ',', expected: identifier after ','"},
      {",a", "found ',', expected: !, identifier, or 'end of string'"},
      {"=b", "found '=', expected: !, identifier, or 'end of string'"},
      {"a=b c", "found 'c', expected: ',' or 'end of string'"},
      {"!a=b", "found '=', expected: ',' or 'end of string'"},
      {"a b", REQ "found 'b', expected: in, notin, =, ==, !=, gt, lt"},
      {"a in x", REQ "found 'x' expected: '('"},
      {"a in (x", REQ "found '', expected: ',' or ')'"},
      {"a in (x y)", REQ "found 'y', expected: ',' or ')'"},
      {"a in (=)", REQ "found '=', expected: ',', ')' or identifier"},
      {"a=(b)", REQ "found '(', expected: identifier"},
      {"!", REQ "found '', expected: identifier"},
      {"-a=b", REQ "<nil>: Invalid value: \"-a\": name part " QNAME_MSG},
      {"a=-b", REQ "values[0][a]: Invalid value: \"-b\": " VALUE_MSG},
      {"a>x", REQ "values[0]: Invalid value: \"x\": for 'Gt', 'Lt' operators, the value must "
                  "be an integer"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char err[1024] = "";
    struct labelsel *s = labelsel_parse(cases[i].in, err, sizeof err);
    if (s) fail_msg("\"%s\": accepted", cases[i].in);
    assert_string_equal(err, cases[i].err);
  }
  assert_null(labelsel_parse("a b", NULL, 0));
}

static void test_label_match(void **state)
{
  (void)state;
  char err[256];
  json_t *labels = json_pack("{s:s, s:s, s:s}", "app", "web", "tier", "fe", "n", "5");
  struct {
    const char *sel;
    bool want;
  } cases[] = {
      {"", true},
      {"app=web", true},
      {"app==web", true},
      {"app=db", false},
      {"app!=db", true},
      {"missing!=x", true},
      {"app", true},
      {"missing", false},
      {"!missing", true},
      {"!app", false},
      {"tier in (fe,be)", true},
      {"tier in (be)", false},
      {"missing in (x)", false},
      {"tier notin (be)", true},
      {"tier notin (fe)", false},
      {"missing notin (x)", true},
      {"app=web,tier=be", false},
      {"app=web,tier=fe", true},
      {"n>4", true},
      {"n>5", false},
      {"n<6", true},
      {"app>1", false},
      {"missing>1", false},
      {"app=", false},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct labelsel *s = labelsel_parse(cases[i].sel, err, sizeof err);
    assert_non_null(s);
    if (labelsel_matches(s, labels) != cases[i].want) fail_msg("\"%s\": expected %d", cases[i].sel, cases[i].want);
    labelsel_free(s);
  }
  /* No labels at all behaves like an empty set. */
  struct labelsel *s = labelsel_parse("!app", err, sizeof err);
  assert_true(labelsel_matches(s, NULL));
  labelsel_free(s);
  s = labelsel_parse("app", err, sizeof err);
  assert_false(labelsel_matches(s, NULL));
  labelsel_free(s);
  json_decref(labels);
}

static void test_label_from_json(void **state)
{
  (void)state;
  char err[1024];
  struct labelsel *s = labelsel_from_json(NULL, err, sizeof err);
  assert_true(labelsel_is_nothing(s));
  assert_false(labelsel_matches(s, NULL));
  labelsel_free(s);
  json_t *empty = json_object();
  s = labelsel_from_json(empty, err, sizeof err);
  assert_true(labelsel_is_empty(s));
  assert_true(labelsel_matches(s, NULL));
  labelsel_free(s);
  json_decref(empty);

  struct {
    const char *json;
    const char *canon; /* NULL when err applies */
    const char *err;
  } cases[] = {
      {"{\"matchLabels\":{\"tier\":\"fe\",\"app\":\"web\"},\"matchExpressions\":["
       "{\"key\":\"tier\",\"operator\":\"In\",\"values\":[\"fe\",\"be\"]},"
       "{\"key\":\"env\",\"operator\":\"DoesNotExist\"},"
       "{\"key\":\"zone\",\"operator\":\"Exists\",\"values\":[]},"
       "{\"key\":\"x\",\"operator\":\"NotIn\",\"values\":[\"1\"]}]}",
       "app=web,!env,tier=fe,tier in (be,fe),x notin (1),zone", NULL},
      {"{\"matchLabels\":null,\"matchExpressions\":null}", "", NULL},
      {"{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Foo\"}]}", NULL,
       "\"Foo\" is not a valid label selector operator"},
      {"{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\",\"values\":[]}]}", NULL,
       "values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be "
       "empty"},
      {"{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Exists\",\"values\":[\"x\",\"y\"]}]}", NULL,
       "values: Invalid value: []string{\"x\", \"y\"}: values set must be empty for exists and "
       "does not exist"},
      /* repeated values are dropped, the first of each kept in place */
      {"{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Exists\",\"values\":[\"y\",\"x\",\"y\",\"x\",\"z\"]}]}",
       NULL, "values: Invalid value: []string{\"y\", \"x\", \"z\"}: values set must be empty for exists and "
             "does not exist"},
      {"{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\",\"values\":[\"b\",\"a\",\"b\"]}]}", "a in (a,b)", NULL},
      {"{\"matchExpressions\":[{\"key\":\"a b\",\"operator\":\"Exists\"}]}", NULL,
       "key: Invalid value: \"a b\": name part " QNAME_MSG},
      {"{\"matchLabels\":{\"app\":\"-x\"}}", NULL, "values[0][app]: Invalid value: \"-x\": " VALUE_MSG},
      {"{\"matchExpressions\":[{\"key\":\"-k\",\"operator\":\"In\"}]}", NULL,
       "[key: Invalid value: \"-k\": name part " QNAME_MSG ", values: Invalid value: "
       "[]string{}: for 'in', 'notin' operators, values set can't be empty]"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    json_t *j = json_loads(cases[i].json, 0, NULL);
    assert_non_null(j);
    err[0] = '\0';
    s = labelsel_from_json(j, err, sizeof err);
    if (cases[i].canon) {
      if (!s) fail_msg("case %zu: %s", i, err);
      char *str = labelsel_string(s);
      assert_string_equal(str, cases[i].canon);
      free(str);
      labelsel_free(s);
    } else {
      if (s) fail_msg("case %zu: accepted", i);
      assert_string_equal(err, cases[i].err);
    }
    json_decref(j);
  }
}

/* A value list as long as a 1 MiB query allows: every value kept once,
 * sorted, whatever the repeats (this list took seconds while each value
 * was checked against all before it). */
static void test_label_many_values(void **state)
{
  (void)state;
  const int n = 60000;
  char *sel = malloc((size_t)n * 2 * 12 + 16), *p = sel;
  p += sprintf(p, "k in (");
  for (int r = 0; r < 2; r++)
    for (int i = n - 1; i >= 0; i--) p += sprintf(p, "%sv%05d", (r || i != n - 1) ? "," : "", i);
  strcpy(p, ")");
  char err[256] = "";
  struct labelsel *s = labelsel_parse(sel, err, sizeof err);
  if (!s) fail_msg("%s", err);
  char *str = labelsel_string(s);
  assert_int_equal(strlen(str), strlen("k in ()") + (size_t)n * 7 - 1);
  assert_true(strncmp(str, "k in (v00000,v00001,", 20) == 0);
  json_t *l = json_pack("{s:s}", "k", "v59999");
  assert_true(labelsel_matches(s, l));
  json_object_set_new(l, "k", json_string("v60000"));
  assert_false(labelsel_matches(s, l));
  json_decref(l);
  free(str);
  labelsel_free(s);
  free(sel);
}

static const char *fget(void *arg, const char *key)
{
  json_t *o = arg;
  return json_string_value(json_object_get(o, key));
}

static void test_field_selectors(void **state)
{
  (void)state;
  struct {
    const char *in;
    const char *terms; /* "field op value;" each, in upstream's (sorted) order */
    const char *err;
  } cases[] = {
      {"", "", NULL},
      {"metadata.name=x", "metadata.name = x;", NULL},
      {"spec.nodeName==n1,status.phase!=Running", "spec.nodeName = n1;status.phase != Running;", NULL},
      {"z=1,a=2", "a = 2;z = 1;", NULL},
      {"a=", "a = ;", NULL},
      {"a=x\\,y\\=z\\\\", "a = x,y=z\\;", NULL},
      {"a=1,,b=2", "a = 1;b = 2;", NULL},
      {"abc", NULL, "invalid selector: 'abc'; can't understand 'abc'"},
      {"a=1,b", NULL, "invalid selector: 'a=1,b'; can't understand 'b'"},
      {"a=b=c", NULL, "invalid field selector: unescaped character in value: 61"},
      {"a=x\\y", NULL, "invalid field selector: invalid escape sequence: \\y"},
      {"a=x\\", NULL, "invalid field selector: invalid escape sequence: \\"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char err[256] = "";
    struct fieldsel *s = fieldsel_parse(cases[i].in, err, sizeof err);
    if (!cases[i].terms) {
      if (s) fail_msg("\"%s\": accepted", cases[i].in);
      assert_string_equal(err, cases[i].err);
      continue;
    }
    if (!s) fail_msg("\"%s\": %s", cases[i].in, err);
    char buf[256] = "";
    for (size_t t = 0; t < fieldsel_count(s); t++) {
      const char *f, *op, *v;
      fieldsel_term(s, t, &f, &op, &v);
      snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s %s %s;", f, op, v);
    }
    assert_string_equal(buf, cases[i].terms);
    fieldsel_free(s);
  }

  json_t *obj = json_pack("{s:s, s:s}", "metadata.name", "web", "spec.nodeName", "");
  struct {
    const char *sel;
    bool want;
  } m[] = {
      {"", true},
      {"metadata.name=web", true},
      {"metadata.name==web", true},
      {"metadata.name=db", false},
      {"metadata.name!=db", true},
      {"spec.nodeName=", true}, /* unscheduled pods */
      {"status.phase=", true},  /* absent compares as "" */
      {"status.phase!=Running", true},
      {"metadata.name=web,spec.nodeName!=", false},
  };
  for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
    struct fieldsel *s = fieldsel_parse(m[i].sel, NULL, 0);
    assert_non_null(s);
    if (fieldsel_matches_fn(s, fget, obj) != m[i].want) fail_msg("\"%s\": expected %d", m[i].sel, m[i].want);
    fieldsel_free(s);
  }
  json_decref(obj);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_label_parse_good), cmocka_unit_test(test_label_parse_bad),
      cmocka_unit_test(test_label_match),      cmocka_unit_test(test_label_from_json),
      cmocka_unit_test(test_field_selectors),  cmocka_unit_test(test_label_many_values),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
