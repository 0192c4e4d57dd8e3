/*
 * structural.c - checks, pruning, defaulting and validation of custom
 * resources against their CRD's structural schema (see structural.h).
 *
 * Everything walks the openAPIV3Schema JSON tree alongside the value.
 * Paths are built in one fixed buffer that each step extends and then
 * cuts back, so a walk allocates nothing but the causes it reports.
 *
 * Messages follow upstream: the CRD checks are those of
 * apiextensions-apiserver's validation.go and schema/validation.go
 * (`must not be empty for specified object fields`, `must be object at
 * the root`, ...); value validation errors are kube-openapi's, turned
 * into field errors as apiextensions does (`spec.replicas: Invalid
 * value: "string": spec.replicas in body must be of type integer:
 * "string"`, `Required value`, `Unsupported value: ...: supported
 * values: ...`, `Too long: may not be more than N bytes`, `Too many: N:
 * must have at most M items`).
 */
#define _GNU_SOURCE
#define PCRE2_CODE_UNIT_WIDTH 8
#include "schema/structural.h"

#include <ctype.h>
#include <math.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>
#include <kube/timeutil.h>
#include <kube/xalloc.h>

#define PATH_MAX_LEN 2048
#define WALK_MAX_DEPTH 64

struct path {
  char b[PATH_MAX_LEN];
  size_t n;
};

static size_t path_push(struct path *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static size_t path_push(struct path *p, const char *fmt, ...)
{
  size_t mark = p->n;
  va_list ap;
  va_start(ap, fmt);
  int r = vsnprintf(p->b + p->n, sizeof(p->b) - p->n, fmt, ap);
  va_end(ap);
  if (r > 0) p->n = p->n + (size_t)r < sizeof(p->b) ? p->n + (size_t)r : sizeof(p->b) - 1;
  return mark;
}

static void path_pop(struct path *p, size_t mark)
{
  p->n = mark;
  p->b[mark] = '\0';
}

/* A field of the value path: "a.b" ("b" at the root). */
static size_t path_child(struct path *p, const char *name)
{
  return p->n ? path_push(p, ".%s", name) : path_push(p, "%s", name);
}

static void cause(json_t *causes, const char *reason, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void cause(json_t *causes, const char *reason, const char *field, const char *fmt, ...)
{
  char *msg = NULL;
  va_list ap;
  va_start(ap, fmt);
  int r = vasprintf(&msg, fmt, ap);
  va_end(ap);
  if (r < 0) return;
  json_array_append_new(causes, json_pack("{s:s,s:s,s:s}", "reason", reason, "message", msg, "field", field));
  free(msg);
}

/* ---------- value printing ---------- */

static void go_number(double d, char *out, size_t len)
{
  /* Go's %v of a float64 (strconv 'g', shortest): plain digits unless the
   * exponent is below -4 or at least 21 */
  int prec = 1;
  for (; prec < 17; prec++) {
    snprintf(out, len, "%.*e", prec - 1, d);
    if (strtod(out, NULL) == d) break;
  }
  int exp = d == 0 ? 0 : (int)floor(log10(fabs(d)));
  if (exp >= -4 && exp < 21) {
    int decimals = prec - 1 - exp;
    snprintf(out, len, "%.*f", decimals > 0 ? decimals : 0, d);
    return;
  }
  snprintf(out, len, "%.*e", prec - 1, d);
  /* Go prints exponents with at least two digits: 1e+21 */
  char *e = strchr(out, 'e');
  if (e && e[2] && !e[3]) {
    memmove(e + 3, e + 2, strlen(e + 2) + 1);
    e[2] = '0';
  }
}

static char *go_quote(const char *s)
{
  size_t n = strlen(s);
  char *out = xmalloc(n * 4 + 3), *o = out;
  if (!out) return NULL;
  *o++ = '"';
  for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
    if (*c == '"' || *c == '\\') {
      *o++ = '\\';
      *o++ = (char)*c;
    } else if (*c == '\n') {
      *o++ = '\\';
      *o++ = 'n';
    } else if (*c == '\t') {
      *o++ = '\\';
      *o++ = 't';
    } else if (*c < 0x20 || *c == 0x7f) {
      o += sprintf(o, "\\x%02x", *c);
    } else {
      *o++ = (char)*c;
    }
  }
  *o++ = '"';
  *o = '\0';
  return out;
}

char *structural_value_string(const json_t *v)
{
  char buf[64];
  if (!v || json_is_null(v)) return xstrdup("\"null\"");
  if (json_is_string(v)) return go_quote(json_string_value(v));
  if (json_is_integer(v)) {
    snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
    return xstrdup(buf);
  }
  if (json_is_real(v)) {
    go_number(json_real_value(v), buf, sizeof buf);
    return xstrdup(buf);
  }
  if (json_is_boolean(v)) return xstrdup(json_is_true(v) ? "true" : "false");
  return kj_dumps(v);
}

/* ---------- schema accessors ---------- */

static const char *s_type(const json_t *s) { return json_string_value(json_object_get(s, "type")); }

static bool s_flag(const json_t *s, const char *key) { return json_is_true(json_object_get(s, key)); }

/* A schema object or NULL (items / additionalProperties may be a bool). */
static const json_t *s_sub(const json_t *s, const char *key)
{
  json_t *v = json_object_get(s, key);
  return json_is_object(v) ? v : NULL;
}

static bool has_key(const json_t *s, const char *key) { return json_object_get(s, key) != NULL; }

/* ---------- regular expressions ---------- */

struct regex_entry {
  char *pattern;
  pcre2_code *code; /* NULL when it does not compile */
};

struct structural {
  json_t *schema;
  struct regex_entry *re;
  size_t nre, capre;
  pcre2_match_data *md;
};

static pcre2_code *compile(const char *pattern, char *err, size_t errlen)
{
  int ec;
  PCRE2_SIZE off;
  pcre2_code *c = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &ec, &off, NULL);
  if (!c && err) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(ec, msg, sizeof msg);
    snprintf(err, errlen, "error parsing regexp: %s at offset %zu: `%s`", (const char *)msg, (size_t)off, pattern);
  }
  return c;
}

static pcre2_code *regex_get(struct structural *s, const char *pattern)
{
  for (size_t i = 0; i < s->nre; i++)
    if (strcmp(s->re[i].pattern, pattern) == 0) return s->re[i].code;
  if (s->nre == s->capre) {
    size_t nc = s->capre ? s->capre * 2 : 8;
    struct regex_entry *r = xrealloc(s->re, nc * sizeof(*r));
    if (!r) return NULL;
    s->re = r;
    s->capre = nc;
  }
  char *p = xstrdup(pattern);
  if (!p) return NULL;
  s->re[s->nre].pattern = p;
  s->re[s->nre].code = compile(pattern, NULL, 0);
  return s->re[s->nre++].code;
}

struct structural *structural_new(json_t *schema)
{
  struct structural *s = xcalloc(1, sizeof(*s));
  if (!s) {
    json_decref(schema);
    return NULL;
  }
  s->schema = schema;
  return s;
}

void structural_free(struct structural *s)
{
  if (!s) return;
  for (size_t i = 0; i < s->nre; i++) {
    free(s->re[i].pattern);
    pcre2_code_free(s->re[i].code);
  }
  free(s->re);
  if (s->md) pcre2_match_data_free(s->md);
  json_decref(s->schema);
  free(s);
}

const json_t *structural_schema(const struct structural *s) { return s ? s->schema : NULL; }

/* ---------- CRD-time checks ---------- */

static const char *const OPENAPI_TYPES[] = {"array", "boolean", "integer", "number", "object", "string", NULL};

static bool valid_type(const char *t)
{
  for (size_t i = 0; OPENAPI_TYPES[i]; i++)
    if (strcmp(OPENAPI_TYPES[i], t) == 0) return true;
  return false;
}

enum level { LVL_ROOT, LVL_FIELD, LVL_ITEMS };

/* Validation of one value at a given path (defaults at CRD time). */
void structural_validate_at(struct structural *s, const json_t *schema, const json_t *v, struct path *p,
                            json_t *causes);

static void check_node(const json_t *s, struct path *p, enum level lvl, bool in_value_validation, int depth,
                       json_t *causes);

static void check_forbidden(const json_t *s, struct path *p, json_t *causes)
{
  static const struct {
    const char *key, *msg;
  } unsupported[] = {
      {"id", "id is not supported"},
      {"additionalItems", "additionalItems is not supported"},
      {"patternProperties", "patternProperties is not supported"},
      {"definitions", "definitions is not supported"},
      {"dependencies", "dependencies is not supported"},
      {"$ref", "$ref is not supported"},
  };
  for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++) {
    json_t *v = json_object_get(s, unsupported[i].key);
    if (!v || json_is_null(v) || (json_is_string(v) && !*json_string_value(v)) ||
        (json_is_object(v) && !json_object_size(v)))
      continue;
    size_t m = path_push(p, ".%s", unsupported[i].key);
    cause(causes, "FieldValueForbidden", p->b, "Forbidden: %s", unsupported[i].msg);
    path_pop(p, m);
  }
  const char *t = s_type(s);
  if (t && strcmp(t, "null") == 0) {
    size_t m = path_push(p, ".type");
    cause(causes, "FieldValueForbidden", p->b, "Forbidden: type cannot be set to null, use nullable as an alternative");
    path_pop(p, m);
  }
  if (json_is_array(json_object_get(s, "items"))) {
    size_t m = path_push(p, ".items");
    cause(causes, "FieldValueForbidden", p->b, "Forbidden: items must be a schema object and not an array");
    path_pop(p, m);
  }
  if (s_flag(s, "uniqueItems")) {
    size_t m = path_push(p, ".uniqueItems");
    cause(causes, "FieldValueForbidden", p->b,
          "Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes quadratic");
    path_pop(p, m);
  }
  if (json_object_size(json_object_get(s, "properties")) && has_key(s, "additionalProperties")) {
    size_t m = path_push(p, ".additionalProperties");
    cause(causes, "FieldValueForbidden", p->b, "Forbidden: additionalProperties and properties are mutual exclusive");
    path_pop(p, m);
  }
}

/* Inside allOf/anyOf/oneOf/not only value validations may appear. */
static void check_value_validation_only(const json_t *s, struct path *p, bool int_or_string, json_t *causes)
{
  static const struct {
    const char *key, *msg;
  } keys[] = {
      {"type", "must be empty to be structural"},
      {"additionalProperties", "must be undefined to be structural"},
      {"default", "must be undefined to be structural"},
      {"title", "must be empty to be structural"},
      {"description", "must be empty to be structural"},
      {"nullable", "must be false to be structural"},
      {"x-kubernetes-preserve-unknown-fields", "must be false to be structural"},
      {"x-kubernetes-embedded-resource", "must be false to be structural"},
      {"x-kubernetes-int-or-string", "must be false to be structural"},
      {"x-kubernetes-list-map-keys", "must be empty to be structural"},
      {"x-kubernetes-list-type", "must be undefined to be structural"},
      {"x-kubernetes-map-type", "must be undefined to be structural"},
      {"x-kubernetes-validations", "must be empty to be structural"},
  };
  for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
    json_t *v = json_object_get(s, keys[i].key);
    if (!v || json_is_false(v) || (json_is_string(v) && !*json_string_value(v)) ||
        (json_is_array(v) && !json_array_size(v)))
      continue;
    /* int-or-string schemas may spell anyOf: [{type: integer}, {type: string}] */
    if (strcmp(keys[i].key, "type") == 0 && int_or_string) continue;
    size_t m = path_push(p, ".%s", keys[i].key);
    cause(causes, "FieldValueForbidden", p->b, "Forbidden: %s", keys[i].msg);
    path_pop(p, m);
  }
}

static void check_pattern(const json_t *s, struct path *p, json_t *causes)
{
  const char *pat = json_string_value(json_object_get(s, "pattern"));
  if (!pat || !*pat) return;
  char err[512];
  pcre2_code *c = compile(pat, err, sizeof err);
  if (c) {
    pcre2_code_free(c);
    return;
  }
  size_t m = path_push(p, ".pattern");
  char *q = go_quote(pat);
  cause(causes, "FieldValueInvalid", p->b, "Invalid value: %s: must be a valid regular expression, but isn't: %s",
        q ? q : "", err);
  free(q);
  path_pop(p, m);
}

static void check_type(const json_t *s, struct path *p, enum level lvl, json_t *causes)
{
  const char *t = s_type(s);
  bool int_or_string = s_flag(s, "x-kubernetes-int-or-string");
  bool preserve = s_flag(s, "x-kubernetes-preserve-unknown-fields");
  size_t m = path_push(p, ".type");
  if (t && *t && strcmp(t, "null") != 0 && !valid_type(t)) {
    char *q = go_quote(t);
    cause(causes, "FieldValueNotSupported", p->b,
          "Unsupported value: %s: supported values: \"array\", \"boolean\", \"integer\", \"number\", \"object\", "
          "\"string\"",
          q ? q : "");
    free(q);
  }
  if (s_flag(s, "x-kubernetes-embedded-resource")) {
    if (!t || !*t)
      cause(causes, "FieldValueRequired", p->b,
            "Required value: must be object if x-kubernetes-embedded-resource is true");
    else if (strcmp(t, "object") != 0)
      cause(causes, "FieldValueInvalid", p->b,
            "Invalid value: \"%s\": must be object if x-kubernetes-embedded-resource is true", t);
  } else if ((!t || !*t) && !int_or_string && !preserve) {
    const char *what = lvl == LVL_ROOT    ? "must not be empty at the root"
                       : lvl == LVL_ITEMS ? "must not be empty for specified array items"
                                          : "must not be empty for specified object fields";
    cause(causes, "FieldValueRequired", p->b, "Required value: %s", what);
  }
  if (lvl == LVL_ROOT && t && *t && strcmp(t, "object") != 0)
    cause(causes, "FieldValueInvalid", p->b, "Invalid value: \"%s\": must be object at the root", t);
  path_pop(p, m);
  if (t && strcmp(t, "array") == 0 && !s_sub(s, "items")) {
    m = path_push(p, ".items");
    cause(causes, "FieldValueRequired", p->b, "Required value: must be specified");
    path_pop(p, m);
  }
  json_t *pu = json_object_get(s, "x-kubernetes-preserve-unknown-fields");
  if (json_is_false(pu)) {
    m = path_push(p, ".x-kubernetes-preserve-unknown-fields");
    cause(causes, "FieldValueInvalid", p->b, "Invalid value: false: must be true or undefined");
    path_pop(p, m);
  }
  if (int_or_string && preserve) {
    m = path_push(p, ".x-kubernetes-preserve-unknown-fields");
    cause(causes, "FieldValueInvalid", p->b,
          "Invalid value: true: must be false if x-kubernetes-int-or-string is true");
    path_pop(p, m);
  }
  if (s_flag(s, "x-kubernetes-embedded-resource") && !preserve && !json_object_size(json_object_get(s, "properties"))) {
    m = path_push(p, ".properties");
    cause(causes, "FieldValueRequired", p->b,
          "Required value: must not be empty if x-kubernetes-embedded-resource is true without "
          "x-kubernetes-preserve-unknown-fields");
    path_pop(p, m);
  }
}

/* metadata at the root may only restrict name and generateName. */
static void check_root_metadata(const json_t *s, struct path *p, json_t *causes)
{
  const json_t *md = s_sub(json_object_get(s, "properties"), "metadata");
  if (!md) return;
  size_t m = path_push(p, ".properties[metadata]");
  const char *t = s_type(md);
  if (t && strcmp(t, "object") != 0) {
    size_t m2 = path_push(p, ".type");
    cause(causes, "FieldValueInvalid", p->b, "Invalid value: \"%s\": must be object", t);
    path_pop(p, m2);
  }
  const char *k;
  json_t *v;
  bool other = false;
  json_object_foreach ((json_t *)md, k, v) {
    if (strcmp(k, "type") && strcmp(k, "properties") && strcmp(k, "description")) other = true;
  }
  json_object_foreach (json_object_get(md, "properties"), k, v) {
    if (strcmp(k, "name") && strcmp(k, "generateName")) other = true;
  }
  if (other)
    cause(causes, "FieldValueForbidden", p->b,
          "Forbidden: must not specify anything other than name and generateName, but metadata is implicitly "
          "specified");
  path_pop(p, m);
}

static void check_children(const json_t *s, struct path *p, bool vv, int depth, json_t *causes)
{
  const char *k;
  json_t *v;
  json_object_foreach (json_object_get(s, "properties"), k, v) {
    size_t m = path_push(p, ".properties[%s]", k);
    check_node(v, p, LVL_FIELD, vv, depth + 1, causes);
    path_pop(p, m);
  }
  const json_t *items = s_sub(s, "items");
  if (items) {
    size_t m = path_push(p, ".items");
    check_node(items, p, LVL_ITEMS, vv, depth + 1, causes);
    path_pop(p, m);
  }
  const json_t *ap = s_sub(s, "additionalProperties");
  if (ap) {
    size_t m = path_push(p, ".additionalProperties");
    check_node(ap, p, LVL_FIELD, vv, depth + 1, causes);
    path_pop(p, m);
  }
  static const char *const comb[] = {"allOf", "anyOf", "oneOf"};
  for (size_t c = 0; c < 3; c++) {
    size_t i;
    json_array_foreach (json_object_get(s, comb[c]), i, v) {
      size_t m = path_push(p, ".%s[%zu]", comb[c], i);
      check_value_validation_only(v, p, s_flag(s, "x-kubernetes-int-or-string"), causes);
      check_node(v, p, LVL_FIELD, true, depth + 1, causes);
      path_pop(p, m);
    }
  }
  const json_t *not = s_sub(s, "not");
  if (not ) {
    size_t m = path_push(p, ".not");
    check_value_validation_only(not, p, false, causes);
    check_node(not, p, LVL_FIELD, true, depth + 1, causes);
    path_pop(p, m);
  }
}

static void check_node(const json_t *s, struct path *p, enum level lvl, bool vv, int depth, json_t *causes)
{
  if (!json_is_object(s) || depth > WALK_MAX_DEPTH) return;
  check_forbidden(s, p, causes);
  if (!vv) check_type(s, p, lvl, causes);
  check_pattern(s, p, causes);
  check_children(s, p, vv, depth, causes);
}

/* Defaults must validate against their own schema. */
static void check_defaults(const json_t *s, struct path *p, int depth, json_t *causes)
{
  if (!json_is_object(s) || depth > WALK_MAX_DEPTH) return;
  json_t *d = json_object_get(s, "default");
  if (d) {
    struct structural *tmp = structural_new(json_incref((json_t *)s));
    json_t *errs = json_array();
    if (tmp) {
      size_t m = path_push(p, ".default");
      struct path vp = {.n = 0};
      memcpy(vp.b, p->b, p->n + 1);
      vp.n = p->n;
      structural_validate_at(tmp, s, d, &vp, errs);
      path_pop(p, m);
      structural_free(tmp);
    }
    json_array_extend(causes, errs);
    json_decref(errs);
  }
  const char *k;
  json_t *v;
  json_object_foreach (json_object_get(s, "properties"), k, v) {
    size_t m = path_push(p, ".properties[%s]", k);
    check_defaults(v, p, depth + 1, causes);
    path_pop(p, m);
  }
  static const char *const subs[] = {"items", "additionalProperties"};
  for (size_t i = 0; i < 2; i++) {
    const json_t *c = s_sub(s, subs[i]);
    if (c) {
      size_t m = path_push(p, ".%s", subs[i]);
      check_defaults(c, p, depth + 1, causes);
      path_pop(p, m);
    }
  }
}

void structural_check(const json_t *schema, const char *path, bool status_sub, json_t *causes)
{
  struct path p = {.n = 0};
  path_push(&p, "%s", path);
  if (!json_is_object(schema)) return;
  if (s_flag(schema, "nullable")) {
    size_t m = path_push(&p, ".nullable");
    cause(causes, "FieldValueForbidden", p.b, "Forbidden: nullable cannot be true at the root");
    path_pop(&p, m);
  }
  if (status_sub && s_type(schema) && strcmp(s_type(schema), "object") != 0) {
    size_t m = path_push(&p, ".type");
    cause(causes, "FieldValueInvalid", p.b,
          "Invalid value: \"%s\": only \"object\" is allowed as the type at the root of the schema if the status "
          "subresource is enabled",
          s_type(schema));
    path_pop(&p, m);
  }
  if (has_key(schema, "additionalProperties")) {
    size_t m = path_push(&p, ".additionalProperties");
    cause(causes, "FieldValueForbidden", p.b, "Forbidden: must not be used at the root");
    path_pop(&p, m);
  }
  size_t before = json_array_size(causes);
  check_node(schema, &p, LVL_ROOT, false, 0, causes);
  check_root_metadata(schema, &p, causes);
  if (json_array_size(causes) == before) check_defaults(schema, &p, 0, causes);
}

static bool has_anywhere(const json_t *s, const char *key, int depth)
{
  if (!json_is_object(s) || depth > WALK_MAX_DEPTH) return false;
  if (json_object_get(s, key)) return true;
  const char *k;
  json_t *v;
  json_object_foreach (json_object_get(s, "properties"), k, v)
    if (has_anywhere(v, key, depth + 1)) return true;
  if (has_anywhere(s_sub(s, "items"), key, depth + 1) || has_anywhere(s_sub(s, "additionalProperties"), key, depth + 1))
    return true;
  static const char *const comb[] = {"allOf", "anyOf", "oneOf"};
  for (size_t c = 0; c < 3; c++) {
    size_t i;
    json_array_foreach (json_object_get(s, comb[c]), i, v)
      if (has_anywhere(v, key, depth + 1)) return true;
  }
  return false;
}

bool structural_has_validations(const json_t *schema) { return has_anywhere(schema, "x-kubernetes-validations", 0); }

bool structural_has_defaults(const json_t *schema) { return has_anywhere(schema, "default", 0); }

/* ---------- pruning ---------- */

static void prune_value(const json_t *s, json_t *v, struct path *p, bool embedded, json_t *unknown, int depth);

static bool is_meta_key(const char *k)
{
  return strcmp(k, "apiVersion") == 0 || strcmp(k, "kind") == 0 || strcmp(k, "metadata") == 0;
}

static void prune_object(const json_t *s, json_t *obj, struct path *p, bool embedded, json_t *unknown, int depth)
{
  const json_t *props = json_object_get(s, "properties");
  json_t *ap = json_object_get(s, "additionalProperties");
  bool preserve = s_flag(s, "x-kubernetes-preserve-unknown-fields");
  const char *k;
  json_t *v;
  void *tmp;
  json_object_foreach_safe (obj, tmp, k, v) {
    size_t m = path_child(p, k);
    const json_t *ps = s_sub(props, k);
    if (embedded && is_meta_key(k) && !ps) {
      /* apiVersion, kind and metadata of the object itself or of an
       * embedded resource: typed elsewhere */
    } else if (ps) {
      prune_value(ps, v, p, false, unknown, depth + 1);
    } else if (json_is_object(ap)) {
      prune_value(ap, v, p, false, unknown, depth + 1);
    } else if (json_is_true(ap) || preserve) {
      /* kept as it is */
    } else {
      if (unknown) {
        char *msg = NULL;
        if (asprintf(&msg, "unknown field \"%s\"", p->b) >= 0) {
          json_array_append_new(unknown, json_string(msg));
          free(msg);
        }
      }
      json_object_del(obj, k);
    }
    path_pop(p, m);
  }
  /* a null the schema does not allow is dropped, as upstream prunes it
   * before defaulting */
  json_object_foreach_safe (obj, tmp, k, v) {
    const json_t *ps = s_sub(props, k);
    if (json_is_null(v) && ps && !s_flag(ps, "nullable")) json_object_del(obj, k);
  }
}

static void prune_value(const json_t *s, json_t *v, struct path *p, bool embedded, json_t *unknown, int depth)
{
  if (!json_is_object(s) || depth > WALK_MAX_DEPTH) return;
  if (json_is_object(v)) {
    bool emb = embedded || s_flag(s, "x-kubernetes-embedded-resource");
    const char *t = s_type(s);
    if ((t && strcmp(t, "object") == 0) || json_object_get(s, "properties") || emb ||
        json_object_get(s, "additionalProperties"))
      prune_object(s, v, p, emb, unknown, depth);
  } else if (json_is_array(v)) {
    const json_t *items = s_sub(s, "items");
    size_t i;
    json_t *e;
    if (items)
      json_array_foreach (v, i, e) {
        size_t m = path_push(p, "[%zu]", i);
        prune_value(items, e, p, false, unknown, depth + 1);
        path_pop(p, m);
      }
  }
}

void structural_prune(const struct structural *s, json_t *obj, json_t *unknown)
{
  struct path p = {.n = 0};
  p.b[0] = '\0';
  if (!s || !json_is_object(s->schema)) {
    /* no schema: only apiVersion, kind and metadata survive, as upstream
     * prunes everything else (preserveUnknownFields=false is required) */
    return;
  }
  prune_object(s->schema, obj, &p, true, unknown, 0);
}

/* ---------- defaulting ---------- */

static void default_value(const json_t *s, json_t *v, int depth);

static void default_object(const json_t *s, json_t *obj, int depth)
{
  const char *k;
  json_t *ps;
  json_object_foreach (json_object_get(s, "properties"), k, ps) {
    json_t *d = json_object_get(ps, "default");
    json_t *cur = json_object_get(obj, k);
    if (d && (!cur || (json_is_null(cur) && !s_flag(ps, "nullable")))) json_object_set_new(obj, k, kj_deep_copy(d));
  }
  json_object_foreach (json_object_get(s, "properties"), k, ps) {
    json_t *cur = json_object_get(obj, k);
    if (cur) default_value(ps, cur, depth + 1);
  }
  const json_t *ap = s_sub(s, "additionalProperties");
  if (ap) {
    json_t *v;
    json_object_foreach (obj, k, v) {
      if (!json_object_get(json_object_get(s, "properties"), k)) default_value(ap, v, depth + 1);
    }
  }
}

static void default_value(const json_t *s, json_t *v, int depth)
{
  if (!json_is_object(s) || depth > WALK_MAX_DEPTH) return;
  if (json_is_object(v)) {
    default_object(s, v, depth);
  } else if (json_is_array(v)) {
    const json_t *items = s_sub(s, "items");
    size_t i;
    json_t *e;
    if (items) {
      json_t *d = json_object_get(items, "default");
      json_array_foreach (v, i, e) {
        if (json_is_null(e) && d && !s_flag(items, "nullable")) json_array_set_new(v, i, kj_deep_copy(d));
        default_value(items, json_array_get(v, i), depth + 1);
      }
    }
  }
}

void structural_default(const struct structural *s, json_t *obj)
{
  if (s && json_is_object(s->schema)) default_value(s->schema, obj, 0);
}

/* ---------- validation ---------- */

struct vctx {
  struct structural *s;
  json_t *causes;
};

static const char *json_type_name(const json_t *v)
{
  switch (json_typeof(v)) {
  case JSON_OBJECT: return "object";
  case JSON_ARRAY: return "array";
  case JSON_STRING: return "string";
  case JSON_INTEGER: return "integer";
  case JSON_REAL: return "number";
  case JSON_TRUE:
  case JSON_FALSE: return "boolean";
  default: return "null";
  }
}

/* "spec.x in body" as kube-openapi names the value. */
static const char *body_name(const struct path *p) { return p->n ? p->b : "body"; }

static void v_invalid(struct vctx *c, const struct path *p, const json_t *value, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void v_invalid(struct vctx *c, const struct path *p, const json_t *value, const char *fmt, ...)
{
  char *detail = NULL;
  va_list ap;
  va_start(ap, fmt);
  int r = vasprintf(&detail, fmt, ap);
  va_end(ap);
  if (r < 0) return;
  char *vs = value ? structural_value_string(value) : xstrdup("\"\"");
  cause(c->causes, "FieldValueInvalid", p->b, "Invalid value: %s: %s", vs ? vs : "", detail);
  free(vs);
  free(detail);
}

static void v_type(struct vctx *c, const struct path *p, const char *want, const json_t *value)
{
  const char *got = json_type_name(value);
  cause(c->causes, "FieldValueTypeInvalid", p->b, "Invalid value: \"%s\": %s in body must be of type %s: \"%s\"", got,
        p->n ? p->b : "body", want, got);
}

static bool type_matches(const char *t, const json_t *v)
{
  if (strcmp(t, "object") == 0) return json_is_object(v);
  if (strcmp(t, "array") == 0) return json_is_array(v);
  if (strcmp(t, "string") == 0) return json_is_string(v);
  if (strcmp(t, "boolean") == 0) return json_is_boolean(v);
  if (strcmp(t, "number") == 0) return json_is_number(v);
  if (strcmp(t, "integer") == 0)
    return json_is_integer(v) || (json_is_real(v) && floor(json_real_value(v)) == json_real_value(v));
  return true;
}

static size_t utf8_len(const char *s)
{
  size_t n = 0;
  for (; *s; s++)
    if (((unsigned char)*s & 0xc0) != 0x80) n++;
  return n;
}

static bool valid_ipv4(const char *s)
{
  int parts = 0;
  while (*s) {
    if (!isdigit((unsigned char)*s)) return false;
    int v = 0, digits = 0;
    while (isdigit((unsigned char)*s)) {
      v = v * 10 + (*s++ - '0');
      if (++digits > 3) return false;
    }
    if (v > 255) return false;
    parts++;
    if (*s == '.') {
      s++;
      if (!*s) return false;
    } else if (*s) {
      return false;
    }
  }
  return parts == 4;
}

#include <arpa/inet.h>

static bool valid_format(const char *fmt, const char *s)
{
  unsigned char buf[16];
  if (strcmp(fmt, "date-time") == 0 || strcmp(fmt, "datetime") == 0) {
    int64_t us;
    return ktime_parse(s, &us) == 0;
  }
  if (strcmp(fmt, "date") == 0) {
    int y, m, d;
    char rest;
    return sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &rest) == 3 && strlen(s) == 10 && m >= 1 && m <= 12 && d >= 1 &&
           d <= 31;
  }
  if (strcmp(fmt, "ipv4") == 0) return valid_ipv4(s);
  if (strcmp(fmt, "ipv6") == 0) return inet_pton(AF_INET6, s, buf) == 1;
  if (strcmp(fmt, "cidr") == 0) {
    const char *slash = strchr(s, '/');
    if (!slash || !slash[1]) return false;
    char ip[64];
    size_t n = (size_t)(slash - s);
    if (n >= sizeof ip) return false;
    memcpy(ip, s, n);
    ip[n] = '\0';
    char *end;
    long bits = strtol(slash + 1, &end, 10);
    if (*end) return false;
    if (valid_ipv4(ip)) return bits >= 0 && bits <= 32;
    return inet_pton(AF_INET6, ip, buf) == 1 && bits >= 0 && bits <= 128;
  }
  if (strcmp(fmt, "uuid") == 0) {
    if (strlen(s) != 36) return false;
    for (int i = 0; i < 36; i++) {
      bool dash = i == 8 || i == 13 || i == 18 || i == 23;
      if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i])) return false;
    }
    return true;
  }
  if (strcmp(fmt, "byte") == 0) {
    size_t n = strlen(s);
    if (n % 4) return false;
    for (size_t i = 0; i < n; i++) {
      char ch = s[i];
      if (!(isalnum((unsigned char)ch) || ch == '+' || ch == '/' || (ch == '=' && i >= n - 2))) return false;
    }
    return true;
  }
  if (strcmp(fmt, "hostname") == 0) {
    size_t n = strlen(s);
    if (!n || n > 253) return false;
    for (const char *q = s; *q; q++)
      if (!isalnum((unsigned char)*q) && *q != '-' && *q != '.') return false;
    return true;
  }
  if (strcmp(fmt, "email") == 0) {
    const char *at = strchr(s, '@');
    return at && at != s && strchr(at + 1, '.') && !strchr(at + 1, '@');
  }
  return true; /* formats upstream does not check */
}

static void validate_node(struct vctx *c, const json_t *s, const json_t *v, struct path *p, bool root, int depth);

static void validate_string(struct vctx *c, const json_t *s, const json_t *v, struct path *p)
{
  const char *str = json_string_value(v);
  const char *fmt = json_string_value(json_object_get(s, "format"));
  if (fmt && *fmt && !valid_format(fmt, str)) {
    char *q = go_quote(str);
    cause(c->causes, "FieldValueTypeInvalid", p->b, "Invalid value: %s: %s in body must be of type %s: %s", q ? q : "",
          body_name(p), fmt, q ? q : "");
    free(q);
  }
  json_t *maxl = json_object_get(s, "maxLength"), *minl = json_object_get(s, "minLength");
  size_t len = utf8_len(str);
  if (json_is_integer(maxl) && (json_int_t)len > json_integer_value(maxl))
    cause(c->causes, "FieldValueTooLong", p->b, "Too long: may not be more than %lld bytes",
          (long long)json_integer_value(maxl));
  if (json_is_integer(minl) && (json_int_t)len < json_integer_value(minl))
    v_invalid(c, p, v, "%s in body should be at least %lld chars long", body_name(p),
              (long long)json_integer_value(minl));
  const char *pat = json_string_value(json_object_get(s, "pattern"));
  if (pat && *pat) {
    pcre2_code *re = regex_get(c->s, pat);
    if (re) {
      if (!c->s->md) c->s->md = pcre2_match_data_create(4, NULL);
      int r = c->s->md ? pcre2_match(re, (PCRE2_SPTR)str, PCRE2_ZERO_TERMINATED, 0, 0, c->s->md, NULL) : 0;
      if (r < 0) v_invalid(c, p, v, "%s in body should match '%s'", body_name(p), pat);
    }
  }
}

static void validate_number(struct vctx *c, const json_t *s, const json_t *v, struct path *p)
{
  double d = json_number_value(v);
  char nb[64];
  json_t *max = json_object_get(s, "maximum"), *min = json_object_get(s, "minimum");
  json_t *mult = json_object_get(s, "multipleOf");
  if (json_is_number(max)) {
    double m = json_number_value(max);
    bool ex = s_flag(s, "exclusiveMaximum");
    go_number(m, nb, sizeof nb);
    if (ex ? d >= m : d > m)
      v_invalid(c, p, v, "%s in body should be less than %s%s", body_name(p), ex ? "" : "or equal to ", nb);
  }
  if (json_is_number(min)) {
    double m = json_number_value(min);
    bool ex = s_flag(s, "exclusiveMinimum");
    go_number(m, nb, sizeof nb);
    if (ex ? d <= m : d < m)
      v_invalid(c, p, v, "%s in body should be greater than %s%s", body_name(p), ex ? "" : "or equal to ", nb);
  }
  if (json_is_number(mult) && json_number_value(mult) > 0) {
    double q = d / json_number_value(mult);
    if (fabs(q - round(q)) > 1e-9) {
      go_number(json_number_value(mult), nb, sizeof nb);
      v_invalid(c, p, v, "%s in body should be a multiple of %s", body_name(p), nb);
    }
  }
}

static void validate_enum(struct vctx *c, const json_t *s, const json_t *v, struct path *p)
{
  json_t *en = json_object_get(s, "enum");
  if (!json_is_array(en)) return;
  size_t i;
  json_t *e;
  json_array_foreach (en, i, e)
    if (kj_equal(e, v)) return;
  size_t cap = 256;
  char *list = xmalloc(cap);
  if (!list) return;
  list[0] = '\0';
  json_array_foreach (en, i, e) {
    char *one = json_is_string(e) ? go_quote(json_string_value(e)) : NULL;
    if (!one) {
      /* non-strings are listed as their JSON, then quoted as strings */
      char *js = kj_dumps(e);
      one = go_quote(js ? js : "");
      free(js);
    }
    size_t need = strlen(list) + strlen(one) + 3;
    if (need > cap) {
      char *nl = xrealloc(list, need * 2);
      if (!nl) {
        free(one);
        break;
      }
      list = nl;
      cap = need * 2;
    }
    if (i) strcat(list, ", ");
    strcat(list, one);
    free(one);
  }
  char *vs = structural_value_string(v);
  cause(c->causes, "FieldValueNotSupported", p->b, "Unsupported value: %s: supported values: %s", vs ? vs : "", list);
  free(vs);
  free(list);
}

static void validate_object(struct vctx *c, const json_t *s, const json_t *v, struct path *p, bool root, int depth)
{
  bool embedded = s_flag(s, "x-kubernetes-embedded-resource");
  size_t i;
  json_t *r;
  json_array_foreach (json_object_get(s, "required"), i, r) {
    const char *k = json_string_value(r);
    if (k && !json_object_get(v, k)) {
      size_t m = path_child(p, k);
      cause(c->causes, "FieldValueRequired", p->b, "Required value");
      path_pop(p, m);
    }
  }
  json_t *maxp = json_object_get(s, "maxProperties"), *minp = json_object_get(s, "minProperties");
  size_t n = json_object_size(v);
  if (json_is_integer(maxp) && (json_int_t)n > json_integer_value(maxp))
    cause(c->causes, "FieldValueTooMany", p->b, "Too many: %zu: must have at most %lld items", n,
          (long long)json_integer_value(maxp));
  if (json_is_integer(minp) && (json_int_t)n < json_integer_value(minp)) {
    json_t *cnt = json_integer((json_int_t)n);
    v_invalid(c, p, cnt, "%s in body should have at least %lld properties", body_name(p),
              (long long)json_integer_value(minp));
    json_decref(cnt);
  }
  if (embedded) {
    static const char *const keys[] = {"apiVersion", "kind"};
    for (size_t k = 0; k < 2; k++) {
      json_t *kv = json_object_get(v, keys[k]);
      if (!json_is_string(kv) || !*json_string_value(kv)) {
        size_t m = path_child(p, keys[k]);
        cause(c->causes, "FieldValueRequired", p->b, "Required value: must not be empty");
        path_pop(p, m);
      }
    }
  }
  const json_t *props = json_object_get(s, "properties");
  const json_t *ap = s_sub(s, "additionalProperties");
  const char *k;
  json_t *fv;
  json_object_foreach ((json_t *)v, k, fv) {
    if ((root || embedded) && is_meta_key(k) && !json_object_get(props, k)) continue;
    if (root && is_meta_key(k)) continue;
    const json_t *ps = s_sub(props, k);
    if (!ps) ps = ap;
    if (!ps) continue;
    size_t m = path_child(p, k);
    validate_node(c, ps, fv, p, false, depth + 1);
    path_pop(p, m);
  }
}

static void validate_array(struct vctx *c, const json_t *s, const json_t *v, struct path *p, int depth)
{
  json_t *maxi = json_object_get(s, "maxItems"), *mini = json_object_get(s, "minItems");
  size_t n = json_array_size(v);
  if (json_is_integer(maxi) && (json_int_t)n > json_integer_value(maxi))
    cause(c->causes, "FieldValueTooMany", p->b, "Too many: %zu: must have at most %lld items", n,
          (long long)json_integer_value(maxi));
  if (json_is_integer(mini) && (json_int_t)n < json_integer_value(mini)) {
    json_t *cnt = json_integer((json_int_t)n);
    v_invalid(c, p, cnt, "%s in body should have at least %lld items", body_name(p),
              (long long)json_integer_value(mini));
    json_decref(cnt);
  }
  if (s_flag(s, "uniqueItems")) {
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j < i; j++)
        if (kj_equal(json_array_get(v, i), json_array_get(v, j))) {
          size_t m = path_push(p, "[%zu]", i);
          char *vs = structural_value_string(json_array_get(v, i));
          cause(c->causes, "FieldValueDuplicate", p->b, "Duplicate value: %s", vs ? vs : "");
          free(vs);
          path_pop(p, m);
          j = i;
        }
  }
  const json_t *items = s_sub(s, "items");
  size_t i;
  json_t *e;
  if (items)
    json_array_foreach (v, i, e) {
      size_t m = path_push(p, "[%zu]", i);
      validate_node(c, items, e, p, false, depth + 1);
      path_pop(p, m);
    }
}

/* allOf, anyOf, oneOf and not: value validations against the same value. */
static void validate_combinators(struct vctx *c, const json_t *s, const json_t *v, struct path *p, int depth)
{
  size_t i;
  json_t *sub;
  json_array_foreach (json_object_get(s, "allOf"), i, sub) validate_node(c, sub, v, p, false, depth + 1);
  static const char *const kinds[] = {"anyOf", "oneOf"};
  for (size_t k = 0; k < 2; k++) {
    json_t *arr = json_object_get(s, kinds[k]);
    if (!json_array_size(arr)) continue;
    size_t ok = 0;
    json_array_foreach (arr, i, sub) {
      struct vctx tmp = {.s = c->s, .causes = json_array()};
      validate_node(&tmp, sub, v, p, false, depth + 1);
      if (json_array_size(tmp.causes) == 0) ok++;
      json_decref(tmp.causes);
    }
    if (k == 0 && ok == 0) v_invalid(c, p, NULL, "\"%s\" must validate at least one schema (anyOf)", body_name(p));
    else if (k == 1 && ok != 1)
      v_invalid(c, p, NULL, "\"%s\" must validate one and only one schema (oneOf)", body_name(p));
  }
  const json_t *not = s_sub(s, "not");
  if (not ) {
    struct vctx tmp = {.s = c->s, .causes = json_array()};
    validate_node(&tmp, not, v, p, false, depth + 1);
    if (json_array_size(tmp.causes) == 0)
      v_invalid(c, p, NULL, "\"%s\" must not validate the schema (not)", body_name(p));
    json_decref(tmp.causes);
  }
}

static void validate_node(struct vctx *c, const json_t *s, const json_t *v, struct path *p, bool root, int depth)
{
  if (!json_is_object(s) || depth > WALK_MAX_DEPTH) return;
  const char *t = s_type(s);
  if (json_is_null(v)) {
    if (!s_flag(s, "nullable") && t && *t) v_type(c, p, t, v);
    return;
  }
  if (s_flag(s, "x-kubernetes-int-or-string")) {
    if (!json_is_integer(v) && !json_is_string(v)) {
      v_type(c, p, "integer,string", v);
      return;
    }
  } else if (t && *t && !type_matches(t, v)) {
    v_type(c, p, t, v);
    return;
  }
  if (json_is_string(v)) validate_string(c, s, v, p);
  else if (json_is_number(v)) validate_number(c, s, v, p);
  validate_enum(c, s, v, p);
  if (json_is_object(v)) validate_object(c, s, v, p, root, depth);
  else if (json_is_array(v)) validate_array(c, s, v, p, depth);
  validate_combinators(c, s, v, p, depth);
}

void structural_validate_at(struct structural *s, const json_t *schema, const json_t *v, struct path *p, json_t *causes)
{
  struct vctx c = {.s = s, .causes = causes};
  validate_node(&c, schema, v, p, false, 0);
}

void structural_validate(struct structural *s, const json_t *obj, json_t *causes)
{
  if (!s || !json_is_object(s->schema)) return;
  struct path p = {.n = 0};
  p.b[0] = '\0';
  struct vctx c = {.s = s, .causes = causes};
  validate_node(&c, s->schema, obj, &p, true, 0);
}
