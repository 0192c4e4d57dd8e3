/* Tests for kube/yaml.h: YAML 1.1 typing as kubectl applies it, streams,
 * anchors and merges, errors, and kubectl-style output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kube/json.h"
#include "kube/yaml.h"

static void test_scalar_typing(void **state)
{
  (void)state;
  struct {
    const char *yaml;
    const char *json;
  } cases[] = {
      {"v: true", "{\"v\":true}"},
      {"v: True", "{\"v\":true}"},
      {"v: TRUE", "{\"v\":true}"},
      {"v: yes", "{\"v\":true}"},
      {"v: On", "{\"v\":true}"},
      {"v: y", "{\"v\":true}"},
      {"v: no", "{\"v\":false}"},
      {"v: OFF", "{\"v\":false}"},
      {"v: False", "{\"v\":false}"},
      {"v: tRue", "{\"v\":\"tRue\"}"},
      {"v: null", "{\"v\":null}"},
      {"v: ~", "{\"v\":null}"},
      {"v:", "{\"v\":null}"},
      {"v: NULL", "{\"v\":null}"},
      {"v: 42", "{\"v\":42}"},
      {"v: -42", "{\"v\":-42}"},
      {"v: +7", "{\"v\":7}"},
      {"v: 0x1F", "{\"v\":31}"},
      {"v: 0o17", "{\"v\":15}"},
      {"v: 017", "{\"v\":15}"},
      {"v: 0b101", "{\"v\":5}"},
      {"v: 1_000", "{\"v\":1000}"},
      {"v: 09", "{\"v\":9}"},
      {"v: 1.5", "{\"v\":1.5}"},
      {"v: 1.0", "{\"v\":1}"},
      {"v: 1e3", "{\"v\":\"1e3\"}"},
      {"v: 1e+3", "{\"v\":1000}"},
      {"v: 2.5E-1", "{\"v\":0.25}"},
      {"v: .5e3", "{\"v\":500}"},
      {"v: 1.", "{\"v\":\"1.\"}"},
      {"v: 1_0.5", "{\"v\":10.5}"},
      {"v: +", "{\"v\":\"+\"}"},
      {"v: -x", "{\"v\":\"-x\"}"},
      {"v: 0xFFFFFFFFFFFFFFFF", "{\"v\":1.8446744073709552e19}"},
      {"v: -.5", "{\"v\":-0.5}"},
      {"v: .inf", "{\"v\":\".inf\"}"},
      /* beyond float64: Go's ParseFloat fails with ErrRange, so a string */
      {"v: .8e3333", "{\"v\":\".8e3333\"}"},
      {"v: 1.5e+3333", "{\"v\":\"1.5e+3333\"}"},
      {"v: 1.2.3", "{\"v\":\"1.2.3\"}"},
      {"v: 0x", "{\"v\":\"0x\"}"},
      {"v: 12Mi", "{\"v\":\"12Mi\"}"},
      {"v: 10.0.0.1", "{\"v\":\"10.0.0.1\"}"},
      {"v: 2001-12-14", "{\"v\":\"2001-12-14\"}"},
      {"v: \"true\"", "{\"v\":\"true\"}"},
      {"v: '42'", "{\"v\":\"42\"}"},
      {"v: ''", "{\"v\":\"\"}"},
      {"v: !!str 42", "{\"v\":\"42\"}"},
      {"v: !!int \"42\"", "{\"v\":42}"},
      {"v: !!float 1", "{\"v\":1}"},
      {"v: !!bool yes", "{\"v\":true}"},
      {"v: ! 42", "{\"v\":\"42\"}"},
      {"v: hello world", "{\"v\":\"hello world\"}"},
      {"v: |\n  a\n  b\n", "{\"v\":\"a\\nb\\n\"}"},
      {"v: >-\n  a\n  b\n", "{\"v\":\"a b\"}"},
      {"1: a\ntrue: b\n~: c\non: d\n1.5: e", "{\"1\":\"a\",\"true\":\"d\",\"null\":\"c\",\"1.5\":\"e\"}"},
      {"v: [1, \"2\", three, {a: b}]", "{\"v\":[1,\"2\",\"three\",{\"a\":\"b\"}]}"},
      {"- a\n- - b\n  - c\n", "[\"a\",[\"b\",\"c\"]]"},
      {"42", "42"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char err[256] = "";
    json_t *v = kyaml_load(cases[i].yaml, strlen(cases[i].yaml), err, sizeof err);
    if (!v) fail_msg("case %zu %s: %s", i, cases[i].yaml, err);
    char *s = kj_dumps(v);
    if (strcmp(s, cases[i].json) != 0) fail_msg("case %zu \"%s\": got %s want %s", i, cases[i].yaml, s, cases[i].json);
    free(s);
    json_decref(v);
  }
}

static void test_streams_anchors_merge(void **state)
{
  (void)state;
  const char *stream = "---\n"
                       "# only a comment\n"
                       "---\n"
                       "apiVersion: v1\n"
                       "kind: ConfigMap\n"
                       "metadata: {name: a}\n"
                       "---\n"
                       "---\n"
                       "base: &b\n"
                       "  image: nginx\n"
                       "  pull: Always\n"
                       "extra: &e {cpu: 1}\n"
                       "c1:\n"
                       "  <<: *b\n"
                       "  pull: Never\n"
                       "c2:\n"
                       "  <<: [*e, *b]\n"
                       "copy: *b\n"
                       "...\n"
                       "---\n"
                       "null\n";
  char err[256] = "";
  json_t *docs = kyaml_load_all(stream, strlen(stream), err, sizeof err);
  if (!docs) fail_msg("%s", err);
  char *s = kj_dumps(docs);
  assert_string_equal(s, "[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\"}},"
                         "{\"base\":{\"image\":\"nginx\",\"pull\":\"Always\"},\"extra\":{\"cpu\":1},"
                         "\"c1\":{\"pull\":\"Never\",\"image\":\"nginx\"},"
                         "\"c2\":{\"cpu\":1,\"image\":\"nginx\",\"pull\":\"Always\"},"
                         "\"copy\":{\"image\":\"nginx\",\"pull\":\"Always\"}}]");
  free(s);
  /* Aliases are copies: changing one leaves the anchor alone. */
  json_t *d = json_array_get(docs, 1);
  kj_set_str(d, "copy.image", "changed");
  assert_string_equal(kj_get_str(d, "base.image"), "nginx");
  json_decref(docs);

  json_t *empty = kyaml_load_all("", 0, err, sizeof err);
  assert_int_equal(json_array_size(empty), 0);
  json_decref(empty);
  assert_null(kyaml_load("# nothing\n", 10, err, sizeof err));
  assert_string_equal(err, "yaml: no document found");
}

static void test_errors(void **state)
{
  (void)state;
  struct {
    const char *yaml;
    const char *err;
  } cases[] = {
      {"a: b: c\n", "yaml: mapping values are not allowed in this context"},
      {"a: 1\nb:\n  - x\n c: d\n", "yaml: line 3: did not find expected key"},
      {"a: [1, 2\n", "yaml: line 1: did not find expected ',' or ']'"},
      {"a: *nope\n", "yaml: unknown anchor 'nope' referenced"},
      {"a: \"unterminated\n", "yaml: line 2: found unexpected end of stream"},
      {"a: !!int abc\n", "yaml: cannot decode !!str `abc` as a !!int"},
      {"a: !!bool 1\n", "yaml: cannot decode !!int `1` as a !!bool"},
      {"a:\n\tb: c\n", "yaml: line 2: found character that cannot start any token"},
      {"<<: 5\n", "yaml: map merge requires map or sequence of maps as the value"},
      {"{a: 1}: x\n", "yaml: invalid map key: a mapping cannot be a key"},
      {"? [1, 2]\n: x\n", "yaml: invalid map key: a sequence cannot be a key"},
      /* Nested complex keys are refused at the first, not stringified
       * level by level (each level would escape the text again). */
      {"{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}\n",
       "yaml: invalid map key: a mapping cannot be a key"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char err[256] = "";
    json_t *v = kyaml_load_all(cases[i].yaml, strlen(cases[i].yaml), err, sizeof err);
    if (v) fail_msg("case %zu accepted", i);
    assert_string_equal(err, cases[i].err);
  }
  /* A billion-laughs document is refused instead of exhausting memory. */
  char bomb[4096] = "a: &a [x,x,x,x,x,x,x,x,x,x]\n";
  for (char c = 'b'; c <= 'j'; c++) {
    char line[128];
    snprintf(line, sizeof line, "%c: &%c [*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c]\n", c, c, c - 1, c - 1, c - 1, c - 1,
             c - 1, c - 1, c - 1, c - 1, c - 1, c - 1);
    strcat(bomb, line);
  }
  char err[256];
  assert_null(kyaml_load_all(bomb, strlen(bomb), err, sizeof err));
  assert_string_equal(err, "yaml: document contains excessive aliasing");
}

static void test_dump(void **state)
{
  (void)state;
  json_t *v = json_loads("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"web\",\"labels\":"
                         "{\"app\":\"web\",\"version\":\"1.0\",\"enabled\":\"true\",\"count\":\"3\",\"empty\":\"\","
                         "\"nul\":\"null\",\"star\":\"*x\",\"colon\":\"a: b\",\"yes\":\"yes\"},\"annotations\":{}},"
                         "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"nginx\",\"args\":[\"-c\",\"x\"],"
                         "\"ports\":[{\"containerPort\":80}],\"env\":[]}],\"x\":1.5,\"big\":1e21,\"t\":true,"
                         "\"n\":null,\"script\":\"line1\\nline2\\n\",\"clock\":\"1:20\",\"day\":\"2001-12-14\","
                         "\"exp\":\"1e3\"}}",
                         0, NULL);
  assert_non_null(v);
  char *y = kyaml_dump(v);
  const char *want = "apiVersion: v1\n"
                     "kind: Pod\n"
                     "metadata:\n"
                     "  name: web\n"
                     "  labels:\n"
                     "    app: web\n"
                     "    version: \"1.0\"\n"
                     "    enabled: \"true\"\n"
                     "    count: \"3\"\n"
                     "    empty: \"\"\n"
                     "    nul: \"null\"\n"
                     "    star: '*x'\n"
                     "    colon: 'a: b'\n"
                     "    \"yes\": \"yes\"\n"
                     "  annotations: {}\n"
                     "spec:\n"
                     "  containers:\n"
                     "  - name: c\n"
                     "    image: nginx\n"
                     "    args:\n"
                     "    - -c\n"
                     "    - x\n"
                     "    ports:\n"
                     "    - containerPort: 80\n"
                     "    env: []\n"
                     "  x: 1.5\n"
                     "  big: 1e+21\n"
                     "  t: true\n"
                     "  \"n\": null\n"
                     "  script: |\n"
                     "    line1\n"
                     "    line2\n"
                     "  clock: \"1:20\"\n"
                     "  day: \"2001-12-14\"\n"
                     "  exp: 1e3\n";
  assert_string_equal(y, want);
  /* Round trip: the dump reads back to the same tree. */
  char err[256];
  json_t *back = kyaml_load(y, strlen(y), err, sizeof err);
  assert_non_null(back);
  assert_true(json_equal(back, v));
  json_decref(back);
  free(y);
  json_decref(v);
}

/* "<<" in plain style is the merge key: a key or value that is the string
 * "<<" is quoted on output (as go-yaml does), or reading the dump back
 * would try to merge it. */
static void test_dump_merge_key_string(void **state)
{
  (void)state;
  json_t *v = json_pack("{s:n,s:s}", "<<", "m", "<<");
  char *y = kyaml_dump(v);
  assert_string_equal(y, "\"<<\": null\nm: \"<<\"\n");
  char err[256] = "";
  json_t *back = kyaml_load(y, strlen(y), err, sizeof err);
  if (!back) fail_msg("%s", err);
  assert_true(json_equal(back, v));
  json_decref(back);
  free(y);
  json_decref(v);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_scalar_typing),
      cmocka_unit_test(test_streams_anchors_merge),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_dump),
      cmocka_unit_test(test_dump_merge_key_string),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
