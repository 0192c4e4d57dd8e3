/*
 * test_schema_decode.c - typed decoding (apiserver/schema/decode.c) over
 * the built-in schema table.
 *
 * A property test over every kind of the table: a randomly generated valid
 * object keeps every value it was given, a second decoding changes
 * nothing, and each of its values replaced by one of the wrong JSON type
 * is refused with Go's wording.  Then table-driven cases with upstream's
 * exact messages, quantities and times in canonical form, base64 checks
 * with Go's error offsets, Go's omitempty encoding and unknown fields.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "kube/json.h"
#include "schema/schema.h"
#include "schema/schema_int.h"

static struct schema *sc;

static int load(void **state)
{
  char err[256] = "";
  sc = schema_load_builtin(err, sizeof err);
  if (!sc) fprintf(stderr, "schema: %s\n", err);
  return sc ? 0 : -1;
}

static int unload(void **state)
{
  schema_free(sc);
  return 0;
}

static json_t *J(const char *text)
{
  json_error_t e;
  json_t *v = json_loads(text, JSON_DECODE_ANY, &e);
  if (!v) fail_msg("bad JSON in test: %s: %s", e.text, text);
  return v;
}

/* ---- generator ---- */

#define GEN_MAX_DEPTH 7

static unsigned rnd(unsigned *seed)
{
  *seed = *seed * 1103515245u + 12345u;
  return (*seed >> 16) & 0x7fff;
}

static const char *const QUANTITIES[] = {"1", "500m", "1Gi", "2Ki", "100M", "3", "250m", "64Mi"};

static bool is_micro(const struct stype *t) { return t->name && strstr(t->name, "MicroTime") != NULL; }

static bool is_fields_v1(const struct stype *t) { return t->name && strstr(t->name, "FieldsV1") != NULL; }

/* A valid, non-empty value of t in the form decoding keeps; NULL when the
 * nesting is too deep to go on. */
static json_t *gen(const struct stype *t, int depth, unsigned *seed)
{
  char buf[64];
  switch (t->kind) {
  case ST_STRING: snprintf(buf, sizeof buf, "s%u", rnd(seed)); return json_string(buf);
  case ST_BYTES: return json_string(rnd(seed) % 2 ? "aGVsbG8=" : "YWJj");
  case ST_BOOLEAN: return json_true();
  case ST_INTEGER: return json_integer(1 + rnd(seed) % 1000);
  case ST_NUMBER: return json_real(0.5 + rnd(seed) % 10);
  case ST_INT_OR_STRING: return rnd(seed) % 2 ? json_integer(1 + rnd(seed) % 100) : json_string("25%");
  case ST_QUANTITY: return json_string(QUANTITIES[rnd(seed) % (sizeof QUANTITIES / sizeof *QUANTITIES)]);
  case ST_TIME:
    snprintf(buf, sizeof buf, is_micro(t) ? "2024-0%u-1%uT03:04:05.123456Z" : "2024-0%u-1%uT03:04:05Z",
             1 + rnd(seed) % 9, rnd(seed) % 10);
    return json_string(buf);
  case ST_FREEFORM: return is_fields_v1(t) ? J("{\"f:a\":{}}") : J("{\"x\":[1,\"y\"]}");
  case ST_ARRAY: {
    if (depth >= GEN_MAX_DEPTH) return NULL;
    json_t *a = json_array();
    for (unsigned i = 0, n = 1 + rnd(seed) % 2; i < n; i++) {
      json_t *v = gen(t->elem, depth + 1, seed);
      if (v) json_array_append_new(a, v);
    }
    if (!json_array_size(a)) {
      json_decref(a);
      return NULL;
    }
    return a;
  }
  case ST_MAP: {
    if (depth >= GEN_MAX_DEPTH) return NULL;
    json_t *m = json_object();
    for (unsigned i = 0, n = 1 + rnd(seed) % 2; i < n; i++) {
      json_t *v = gen(t->elem, depth + 1, seed);
      snprintf(buf, sizeof buf, "k%u", i);
      if (v) json_object_set_new(m, buf, v);
    }
    if (!json_object_size(m)) {
      json_decref(m);
      return NULL;
    }
    return m;
  }
  case ST_STRUCT: {
    if (depth >= GEN_MAX_DEPTH) return NULL;
    json_t *o = json_object();
    for (size_t i = 0; i < t->nfields; i++) {
      if (rnd(seed) % 2) continue;
      json_t *v = gen(t->fields[i].type, depth + 1, seed);
      if (v) json_object_set_new(o, t->fields[i].name, v);
    }
    return o;
  }
  default: return NULL;
  }
}

/* want ⊆ got: every value of want is in got, unchanged. */
static bool subset(const json_t *want, const json_t *got, char *where, size_t len)
{
  if (json_is_object(want)) {
    if (!json_is_object(got)) return snprintf(where, len, "object became %d", json_typeof(got)), false;
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)want, k, v) {
      if (!subset(v, json_object_get(got, k), where, len)) {
        size_t n = strlen(where);
        snprintf(where + n, len - n, " <- %s", k);
        return false;
      }
    }
    return true;
  }
  if (json_is_array(want)) {
    if (!json_is_array(got) || json_array_size(got) != json_array_size(want))
      return snprintf(where, len, "array changed"), false;
    for (size_t i = 0; i < json_array_size(want); i++)
      if (!subset(json_array_get(want, i), json_array_get(got, i), where, len)) {
        size_t n = strlen(where);
        snprintf(where + n, len - n, " <- [%zu]", i);
        return false;
      }
    return true;
  }
  if (!got || !json_equal(want, got)) {
    char *a = json_dumps(want, JSON_ENCODE_ANY), *b = got ? json_dumps(got, JSON_ENCODE_ANY) : NULL;
    snprintf(where, len, "%s became %s", a, b ? b : "(absent)");
    free(a);
    free(b);
    return false;
  }
  return true;
}

/* ---- wrong types ---- */

/* One value position of a generated object: the container and key (or
 * index), and the schema type the value has. */
struct spot {
  json_t *parent;
  const char *key;
  size_t index;
  const struct stype *type;
};

struct spots {
  struct spot *v;
  size_t n, cap;
};

static void spots_add(struct spots *s, json_t *parent, const char *key, size_t index, const struct stype *t)
{
  if (s->n == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 64;
    s->v = realloc(s->v, s->cap * sizeof *s->v);
  }
  s->v[s->n++] = (struct spot){parent, key, index, t};
}

static void collect(json_t *v, const struct stype *t, struct spots *s)
{
  if (t->kind == ST_STRUCT && json_is_object(v)) {
    const char *k;
    json_t *x;
    json_object_foreach (v, k, x) {
      const struct sfield *f = schema_find_field(t, k);
      if (!f) continue;
      spots_add(s, v, k, 0, f->type);
      collect(x, f->type, s);
    }
  } else if (t->kind == ST_ARRAY && json_is_array(v)) {
    for (size_t i = 0; i < json_array_size(v); i++) {
      spots_add(s, v, NULL, i, t->elem);
      collect(json_array_get(v, i), t->elem, s);
    }
  } else if (t->kind == ST_MAP && json_is_object(v)) {
    const char *k;
    json_t *x;
    json_object_foreach (v, k, x) {
      spots_add(s, v, k, 0, t->elem);
      collect(x, t->elem, s);
    }
  }
}

/* A value of the wrong type for t and the text Go's message then has;
 * NULL for types that take anything. */
static json_t *wrong_for(const struct stype *t, const char **expect)
{
  switch (t->kind) {
  case ST_STRING: *expect = "json: cannot unmarshal number into Go struct field "; return json_integer(7);
  case ST_BYTES: *expect = "illegal base64 data at input byte 0"; return json_string("!!!!");
  case ST_BOOLEAN: *expect = "json: cannot unmarshal string into Go struct field "; return json_string("yes");
  case ST_INTEGER: *expect = "json: cannot unmarshal string into Go struct field "; return json_string("1");
  case ST_NUMBER: *expect = "json: cannot unmarshal string into Go struct field "; return json_string("1");
  case ST_INT_OR_STRING: *expect = "json: cannot unmarshal bool into Go value of type int32"; return json_true();
  case ST_QUANTITY: *expect = "quantities must match the regular expression"; return json_string("2x");
  case ST_TIME: *expect = "parsing time \"yesterday\""; return json_string("yesterday");
  case ST_ARRAY: *expect = "json: cannot unmarshal object into Go struct field "; return json_object();
  case ST_MAP: *expect = "json: cannot unmarshal array into Go struct field "; return json_array();
  case ST_STRUCT: *expect = "json: cannot unmarshal string into Go struct field "; return json_string("x");
  default: return NULL;
  }
}

static size_t check_wrong_types(const struct skind *k, json_t *valid)
{
  struct spots s = {0};
  collect(valid, k->type, &s);
  size_t tried = 0;
  for (size_t i = 0; i < s.n; i++) {
    const char *expect = NULL;
    json_t *bad = wrong_for(s.v[i].type, &expect);
    if (!bad) continue;
    /* swap the value in, decode a copy, swap it back */
    json_t *keep;
    if (s.v[i].key) {
      keep = json_incref(json_object_get(s.v[i].parent, s.v[i].key));
      json_object_set_new(s.v[i].parent, s.v[i].key, bad);
    } else {
      keep = json_incref(json_array_get(s.v[i].parent, s.v[i].index));
      json_array_set_new(s.v[i].parent, s.v[i].index, bad);
    }
    json_t *copy = json_deep_copy(valid);
    char err[1024] = "";
    int rc = schema_decode(sc, k->type, copy, NULL, err, sizeof err);
    if (rc == 0 || !strstr(err, expect))
      fail_msg("%s: a wrong value at %s (type %d) gave rc %d \"%s\", want \"%s\"", k->kind,
               s.v[i].key ? s.v[i].key : "[i]", s.v[i].type->kind, rc, err, expect);
    json_decref(copy);
    if (s.v[i].key) json_object_set_new(s.v[i].parent, s.v[i].key, keep);
    else json_array_set_new(s.v[i].parent, s.v[i].index, keep);
    tried++;
  }
  free(s.v);
  return tried;
}

static void test_every_kind_round_trips(void **state)
{
  size_t kinds = 0, wrong = 0;
  for (size_t i = 0; i < sc->nkinds; i++) {
    const struct skind *k = &sc->kinds[i];
    size_t kl = strlen(k->kind);
    if (kl > 4 && strcmp(k->kind + kl - 4, "List") == 0) continue;
    for (unsigned round = 0; round < 8; round++) {
      unsigned seed = (unsigned)(i * 7919 + round * 104729 + 1);
      json_t *x = gen(k->type, 0, &seed);
      assert_non_null(x);
      json_t *orig = json_deep_copy(x);
      json_t *unknown = json_array();
      char err[1024] = "", where[1024] = "";
      if (schema_decode(sc, k->type, x, unknown, err, sizeof err) != 0)
        fail_msg("%s: a valid object was refused: %s", k->kind, err);
      assert_int_equal(json_array_size(unknown), 0);
      if (!subset(orig, x, where, sizeof where)) fail_msg("%s: a valid value changed: %s", k->kind, where);
      json_t *again = json_deep_copy(x);
      assert_int_equal(schema_decode(sc, k->type, again, unknown, err, sizeof err), 0);
      if (!json_equal(again, x)) {
        char *a = json_dumps(x, 0), *b = json_dumps(again, 0);
        fail_msg("%s: decoding is not idempotent:\n%s\n%s", k->kind, a, b);
      }
      wrong += check_wrong_types(k, orig);
      json_decref(again);
      json_decref(unknown);
      json_decref(orig);
      json_decref(x);
    }
    kinds++;
  }
  assert_true(kinds >= 35);
  assert_true(wrong > 1000);
}

/* ---- upstream's messages ---- */

static const struct stype *kind(const char *g, const char *v, const char *k)
{
  const struct stype *t = schema_kind(sc, g, v, k);
  assert_non_null(t);
  return t;
}

static void expect_error(const struct stype *t, const char *body, const char *want)
{
  json_t *o = J(body);
  char err[1024] = "";
  assert_int_equal(schema_decode(sc, t, o, NULL, err, sizeof err), -EINVAL);
  if (strcmp(err, want) != 0) fail_msg("%s\n got: %s\nwant: %s", body, err, want);
  json_decref(o);
}

static void test_upstream_messages(void **state)
{
  const struct stype *deploy = kind("apps", "v1", "Deployment");
  expect_error(deploy, "{\"spec\":{\"replicas\":\"3\"}}",
               "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32");
  expect_error(
      deploy,
      "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\",\"ports\":[{\"containerPort\":1.5}]}]}}}}",
      "json: cannot unmarshal number 1.5 into Go struct field "
      "ContainerPort.spec.template.spec.containers.ports.containerPort of type int32");
  expect_error(
      deploy, "{\"spec\":{\"replicas\":3000000000}}",
      "json: cannot unmarshal number 3000000000 into Go struct field DeploymentSpec.spec.replicas of type int32");
  expect_error(deploy, "{\"spec\":{\"template\":{\"spec\":{\"containers\":{}}}}}",
               "json: cannot unmarshal object into Go struct field PodSpec.spec.template.spec.containers of type "
               "[]v1.Container");
  expect_error(deploy, "{\"metadata\":\"x\"}",
               "json: cannot unmarshal string into Go struct field Deployment.metadata of type v1.ObjectMeta");
  expect_error(
      deploy, "{\"metadata\":{\"labels\":[]}}",
      "json: cannot unmarshal array into Go struct field ObjectMeta.metadata.labels of type map[string]string");
  expect_error(deploy, "{\"spec\":{\"strategy\":{\"rollingUpdate\":{\"maxSurge\":true}}}}",
               "json: cannot unmarshal bool into Go value of type int32");
  const struct stype *cm = kind("", "v1", "ConfigMap");
  expect_error(cm, "{\"data\":{\"a\":1}}",
               "json: cannot unmarshal number into Go struct field ConfigMap.data of type string");
  expect_error(cm, "{\"binaryData\":{\"a\":\"abc\"}}", "illegal base64 data at input byte 0");
  const struct stype *node = kind("", "v1", "Node");
  const char *re = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
  expect_error(node, "{\"status\":{\"capacity\":{\"cpu\":\"2x\"}}}", re);
  expect_error(node, "{\"status\":{\"capacity\":{\"cpu\":\"abc\"}}}", re);
  expect_error(node, "{\"status\":{\"capacity\":{\"cpu\":\"1.5.5\"}}}", re);
  expect_error(node, "{\"status\":{\"capacity\":{\"cpu\":true}}}", re);
  expect_error(kind("", "v1", "Event"), "{\"firstTimestamp\":\"yesterday\"}",
               "parsing time \"yesterday\" as \"2006-01-02T15:04:05Z07:00\": cannot parse \"yesterday\" as \"2006\"");
  /* a decoder's own error wins over a type error seen before it */
  expect_error(node, "{\"metadata\":{\"name\":5},\"status\":{\"capacity\":{\"cpu\":\"2x\"}}}", re);
}

/* ---- what is kept, and how ---- */

static void expect_decoded(const struct stype *t, const char *body, const char *path, const char *want_json)
{
  json_t *o = J(body);
  char err[1024] = "";
  if (schema_decode(sc, t, o, NULL, err, sizeof err) != 0) fail_msg("%s: %s", body, err);
  json_t *got = kj_get(o, path);
  json_t *want = want_json ? J(want_json) : NULL;
  if (want ? !got || !json_equal(got, want) : got != NULL) {
    char *g = got ? json_dumps(got, JSON_ENCODE_ANY) : strdup("(absent)");
    fail_msg("%s: %s is %s, want %s", body, path, g, want_json ? want_json : "(absent)");
  }
  json_decref(want);
  json_decref(o);
}

static void test_quantities_canonical(void **state)
{
  const struct stype *node = kind("", "v1", "Node");
  static const struct {
    const char *in, *out;
  } cases[] = {
      {"\"0.5\"", "\"500m\""},  {"\"1024Mi\"", "\"1Gi\""}, {"1073741824", "\"1073741824\""},
      {"\" 1Gi \"", "\"1Gi\""}, {"1.5", "\"1500m\""},      {"\"100m\"", "\"100m\""},
      {"\"1000M\"", "\"1G\""},  {"\"0\"", "\"0\""},        {"null", "\"0\""},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char body[256];
    snprintf(body, sizeof body, "{\"status\":{\"capacity\":{\"cpu\":%s}}}", cases[i].in);
    expect_decoded(node, body, "status.capacity.cpu", cases[i].out);
  }
}

static void test_times_and_bytes(void **state)
{
  const struct stype *ev = kind("", "v1", "Event");
  expect_decoded(ev, "{\"firstTimestamp\":\"2024-01-01T10:00:00+02:00\"}", "firstTimestamp",
                 "\"2024-01-01T08:00:00Z\"");
  expect_decoded(ev, "{\"firstTimestamp\":\"2024-01-01T10:00:00.75Z\"}", "firstTimestamp", "\"2024-01-01T10:00:00Z\"");
  /* a non-pointer Time that is unset prints as null; MicroTime keeps microseconds */
  expect_decoded(ev, "{}", "lastTimestamp", "null");
  expect_decoded(ev, "{\"eventTime\":\"2024-01-01T10:00:00.5Z\"}", "eventTime", "\"2024-01-01T10:00:00.500000Z\"");

  const struct stype *sec = kind("", "v1", "Secret");
  expect_decoded(sec, "{\"data\":{\"a\":\"YWJj\\n\"}}", "data.a", "\"YWJj\"");
  expect_decoded(sec, "{\"data\":{\"a\":\"QR==\"}}", "data.a", "\"QQ==\"");
  expect_decoded(sec, "{\"data\":{\"a\":\"\"}}", "data.a", "\"\"");
  static const struct {
    const char *in, *msg;
  } bad[] = {
      {"abc", "illegal base64 data at input byte 0"},   {"YWJjZA", "illegal base64 data at input byte 4"},
      {"YW=j", "illegal base64 data at input byte 2"},  {"Y===", "illegal base64 data at input byte 1"},
      {"YWJj!", "illegal base64 data at input byte 4"}, {"YQ==YQ==", "illegal base64 data at input byte 4"},
      {"YQ=", "illegal base64 data at input byte 3"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char body[128];
    snprintf(body, sizeof body, "{\"data\":{\"a\":\"%s\"}}", bad[i].in);
    expect_error(sec, body, bad[i].msg);
  }
}

static void test_go_encoding(void **state)
{
  const struct stype *deploy = kind("apps", "v1", "Deployment");
  const char *body =
      "{\"metadata\":{\"name\":\"d\",\"labels\":{},\"annotations\":{\"a\":null}},\"spec\":{\"replicas\":0,"
      "\"paused\":false,\"minReadySeconds\":0,\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\","
      "\"env\":[],\"stdin\":false}]}}}}";
  /* omitempty: empty maps and lists, false and 0 disappear ... */
  expect_decoded(deploy, body, "metadata.labels", NULL);
  expect_decoded(deploy, body, "spec.paused", NULL);
  expect_decoded(deploy, body, "spec.minReadySeconds", NULL);
  expect_decoded(deploy, body, "spec.template.spec.containers[0].env", NULL);
  expect_decoded(deploy, body, "spec.template.spec.containers[0].stdin", NULL);
  /* ... but a pointer keeps its zero, a null map value is "" ... */
  expect_decoded(deploy, body, "spec.replicas", "0");
  expect_decoded(deploy, body, "metadata.annotations", "{\"a\":\"\"}");
  /* ... and structs are always printed, filled with their zero values */
  expect_decoded(deploy, body, "status", "{}");
  expect_decoded(deploy, body, "spec.template.metadata", "{\"creationTimestamp\":null}");
  expect_decoded(deploy, body, "spec.template.spec.containers[0].resources", "{}");
  expect_decoded(deploy, body, "spec.strategy", "{}");
  /* fields without omitempty: their zero, or null */
  expect_decoded(kind("discovery.k8s.io", "v1", "EndpointSlice"), "{}", "endpoints", "null");
  expect_decoded(kind("", "v1", "Event"), "{}", "reportingComponent", "\"\"");
  expect_decoded(kind("", "v1", "Node"), "{}", "status.daemonEndpoints", "{\"kubeletEndpoint\":{\"Port\":0}}");
  /* a null item of a list is its zero value */
  expect_decoded(kind("", "v1", "Pod"), "{\"spec\":{\"containers\":[null]}}", "spec.containers[0]",
                 "{\"name\":\"\",\"resources\":{}}");
}

static void test_unknown_fields_removed(void **state)
{
  const struct stype *deploy = kind("apps", "v1", "Deployment");
  json_t *o = J("{\"metadata\":{\"name\":\"d\",\"nmae\":\"x\"},\"spec\":{\"Replicas\":2,\"template\":{\"spec\":{"
                "\"containers\":[{\"name\":\"c\",\"imagee\":\"x\"}]}}},\"extra\":{\"a\":1}}");
  json_t *unknown = json_array();
  char err[256];
  assert_int_equal(schema_decode(sc, deploy, o, unknown, err, sizeof err), 0);
  json_t *want =
      J("[\"unknown field \\\"metadata.nmae\\\"\",\"unknown field \\\"spec.Replicas\\\"\","
        "\"unknown field \\\"spec.template.spec.containers[0].imagee\\\"\",\"unknown field \\\"extra\\\"\"]");
  if (!json_equal(unknown, want)) {
    char *s = json_dumps(unknown, 0);
    fail_msg("unknown: %s", s);
  }
  assert_null(kj_get(o, "metadata.nmae"));
  assert_null(kj_get(o, "spec.Replicas"));
  assert_null(kj_get(o, "extra"));
  assert_null(kj_get(o, "spec.template.spec.containers[0].imagee"));
  assert_string_equal(kj_get_str(o, "spec.template.spec.containers[0].name"), "c");
  json_decref(want);
  json_decref(unknown);
  json_decref(o);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_kind_round_trips),
      cmocka_unit_test(test_upstream_messages),
      cmocka_unit_test(test_quantities_canonical),
      cmocka_unit_test(test_times_and_bytes),
      cmocka_unit_test(test_go_encoding),
      cmocka_unit_test(test_unknown_fields_removed),
  };
  return cmocka_run_group_tests(tests, load, unload);
}
