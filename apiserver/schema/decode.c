/*
 * decode.c - typed decoding: a JSON object read as upstream's API server
 * reads it into its Go type and writes it back, driven by the schema table.
 *
 * Upstream decodes every request body into the Go struct of its kind and
 * stores that struct's JSON encoding, so what is stored is always what a Go
 * client can decode again.  schema_decode() walks an object along its
 * schema type and leaves it as that round trip would, in place:
 *
 *   decoding (encoding/json into the Go types, case-sensitive)
 *     - a value of the wrong JSON type for its field, a fraction or an
 *       out-of-range number for an integer, a malformed quantity, time or
 *       base64 string fails with Go's wording, e.g.
 *       `json: cannot unmarshal string into Go struct field
 *       DeploymentSpec.spec.replicas of type int32`; the first such error
 *       is reported, and one raised by a value's own decoder (Quantity,
 *       Time, IntOrString) stops the walk at once, as Go's decoder does;
 *     - a key the type does not declare is removed and reported as
 *       `unknown field "spec.template.spec.containers[0].foo"` (the caller
 *       decides per fieldValidation whether that fails the request);
 *     - quantities take their canonical form ("0.5" -> "500m", a JSON
 *       number becomes a string), times are written back as RFC 3339 in
 *       UTC (seconds for Time, microseconds for MicroTime), base64 is
 *       re-encoded when Go would print it differently;
 *     - null is Go's "leave the zero value": the key is dropped and the
 *       encoding below decides what is printed;
 *   encoding (encoding/json from the Go types)
 *     - a field whose JSON tag says omitempty disappears when empty ("",
 *       0, false, an empty list or map) unless it is a Go pointer, which
 *       is printed whenever set (replicas: 0);
 *     - a struct-valued field that is not a pointer is always printed,
 *       recursively filled with the zero values it encodes to (status: {},
 *       resources: {}, a template's creationTimestamp: null); a zero Time
 *       is null, a zero Quantity "0", a zero IntOrString 0;
 *     - a field without omitempty is always printed: its zero value, or
 *       null for an unset pointer, list or map.
 * The walk is idempotent: decoding its own output changes nothing and
 * reports nothing.  Free-form values (RawExtension, FieldsV1) are kept as
 * they are.  Keys are not reordered.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/base64.h>
#include <kube/json.h>
#include <kube/quantity.h>
#include <kube/strconv.h>
#include <kube/timeutil.h>

#include "schema/schema_int.h"
#include <kube/xalloc.h>

#define DECODE_MAX_DEPTH 200

struct strbuf {
  char *b;
  size_t len, cap;
};

struct dctx {
  json_t *unknown;      /* messages of unknown fields, or NULL */
  struct strbuf path;   /* strict path with indexes: spec.containers[0].name */
  struct strbuf gopath; /* Go's field stack, names only: spec.containers.name */
  char *err;
  size_t errlen;
  bool failed; /* an error has been recorded */
  bool stop;   /* a value's own decoder failed: end the walk */
  int depth;
};

static void sb_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct strbuf *sb, const char *fmt, ...)
{
  va_list ap;
  for (;;) {
    va_start(ap, fmt);
    int n = vsnprintf(sb->b + sb->len, sb->cap - sb->len, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (sb->len + (size_t)n < sb->cap) {
      sb->len += (size_t)n;
      return;
    }
    size_t cap = (sb->len + (size_t)n + 1) * 2;
    char *nb = xrealloc(sb->b, cap);
    if (!nb) abort();
    sb->b = nb;
    sb->cap = cap;
  }
}

static void sb_key(struct strbuf *sb, const char *key)
{
  if (sb->len) sb_printf(sb, ".%s", key);
  else sb_printf(sb, "%s", key);
}

static void sb_cut(struct strbuf *sb, size_t mark)
{
  sb->len = mark;
  sb->b[mark] = '\0';
}

/* ---- Go's names of types and values, for error messages ---- */

/* "v1.PodSpec" from io.k8s.api.core.v1.PodSpec: the package's last part
 * and the type name, as Go's reflect prints a named type. */
static void go_named(const char *full, char *out, size_t len)
{
  const char *type = strrchr(full, '.');
  if (!type) {
    snprintf(out, len, "%s", full);
    return;
  }
  const char *pkg = type;
  while (pkg > full && pkg[-1] != '.') pkg--;
  snprintf(out, len, "%.*s%s", (int)(type - pkg), pkg, type);
}

static void go_type_name(const struct stype *t, char *out, size_t len)
{
  char inner[256];
  switch (t->kind) {
  case ST_STRING: snprintf(out, len, "string"); return;
  case ST_BYTES: snprintf(out, len, "[]uint8"); return;
  case ST_BOOLEAN: snprintf(out, len, "bool"); return;
  case ST_INTEGER: snprintf(out, len, "%s", t->format && strcmp(t->format, "int32") == 0 ? "int32" : "int64"); return;
  case ST_NUMBER: snprintf(out, len, "float64"); return;
  case ST_INT_OR_STRING: snprintf(out, len, "intstr.IntOrString"); return;
  case ST_QUANTITY: snprintf(out, len, "resource.Quantity"); return;
  case ST_ARRAY:
    go_type_name(t->elem, inner, sizeof inner);
    snprintf(out, len, "[]%s", inner);
    return;
  case ST_MAP:
    go_type_name(t->elem, inner, sizeof inner);
    snprintf(out, len, "map[string]%s", inner);
    return;
  default:
    if (t->name) go_named(t->name, out, len);
    else snprintf(out, len, "interface {}");
  }
}

/* The literal text of a JSON number (a real keeps a fraction mark). */
static void number_text(const json_t *v, char *out, size_t len)
{
  if (json_is_integer(v)) {
    snprintf(out, len, "%lld", (long long)json_integer_value(v));
    return;
  }
  kstr_format_float(json_real_value(v), out, len);
  if (!strpbrk(out, ".eEnI")) strncat(out, ".0", len - strlen(out) - 1);
}

/* ---- errors ---- */

static void fail_msg(struct dctx *c, bool stop, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail_msg(struct dctx *c, bool stop, const char *fmt, ...)
{
  /* Go keeps the first type error but lets a decoder's own error
   * replace it, since that one ends the decoding */
  if (!c->failed || stop) {
    va_list ap;
    va_start(ap, fmt);
    if (c->err && c->errlen) vsnprintf(c->err, c->errlen, fmt, ap);
    va_end(ap);
  }
  c->failed = true;
  if (stop) c->stop = true;
}

/* json: cannot unmarshal VALUE into Go struct field STRUCT.PATH of type T */
static void type_error(struct dctx *c, const struct stype *owner, const char *value, const struct stype *t)
{
  char tn[256], on[256];
  go_type_name(t, tn, sizeof tn);
  if (owner && owner->name && c->gopath.len) {
    const char *dot = strrchr(owner->name, '.');
    snprintf(on, sizeof on, "%s", dot ? dot + 1 : owner->name);
    fail_msg(c, false, "json: cannot unmarshal %s into Go struct field %s.%s of type %s", value, on, c->gopath.b, tn);
  } else {
    fail_msg(c, false, "json: cannot unmarshal %s into Go value of type %s", value, tn);
  }
}

/* ---- scalars ---- */

static bool is_int32(const struct stype *t) { return t->format && strcmp(t->format, "int32") == 0; }

/* The scalar decoders return the value to keep: v itself, a new
 * reference replacing it, or NULL when decoding failed. */
static json_t *dec_integer(struct dctx *c, const struct stype *owner, const struct stype *t, json_t *v)
{
  char num[64], what[80];
  if (json_is_integer(v)) {
    json_int_t n = json_integer_value(v);
    if (!is_int32(t) || (n >= INT32_MIN && n <= INT32_MAX)) return v;
  } else if (!json_is_real(v)) {
    type_error(c, owner, kj_kind_name(v), t);
    return NULL;
  }
  number_text(v, num, sizeof num);
  snprintf(what, sizeof what, "number %s", num);
  type_error(c, owner, what, t);
  return NULL;
}

/* []byte: Go's base64.StdEncoding, re-encoded when Go would print the
 * decoded bytes differently (line breaks, non-zero trailing bits). */
static json_t *dec_bytes(struct dctx *c, const struct stype *owner, const struct stype *t, json_t *v)
{
  if (!json_is_string(v)) {
    type_error(c, owner, kj_kind_name(v), t);
    return NULL;
  }
  const char *s = json_string_value(v);
  size_t n = json_string_length(v), rawlen = 0, bad_at = 0;
  unsigned char *raw = NULL;
  if (kb64_decode(s, n, KB64_STD, &raw, &rawlen, &bad_at) != 0) {
    fail_msg(c, false, "illegal base64 data at input byte %zu", bad_at);
    return NULL;
  }
  char *again = kb64_encode(raw, rawlen, KB64_STD);
  free(raw);
  json_t *out = strcmp(again, s) == 0 ? v : json_string(again);
  free(again);
  return out;
}

/* Quantity.UnmarshalJSON: a string (trimmed) or a number's text through
 * ParseQuantity, stored in the form Quantity.MarshalJSON prints. */
static json_t *dec_quantity(struct dctx *c, json_t *v)
{
  struct quantity q;
  int rc = quantity_from_json(v, &q);
  if (rc != 0) {
    fail_msg(c, true, "%s", quantity_strerror(rc));
    return NULL;
  }
  char canon[QUANTITY_STRING_MAX];
  quantity_format(&q, canon, sizeof canon);
  if (json_is_string(v) && strcmp(canon, json_string_value(v)) == 0) return v;
  return json_string(canon);
}

static bool is_micro(const struct stype *t)
{
  size_t n = t->name ? strlen(t->name) : 0;
  return n >= 9 && strcmp(t->name + n - 9, "MicroTime") == 0;
}

/* metav1.Time / MicroTime UnmarshalJSON: a string in RFC 3339. */
static json_t *dec_time(struct dctx *c, const struct stype *t, json_t *v)
{
  if (!json_is_string(v)) {
    fail_msg(c, true, "json: cannot unmarshal %s into Go value of type string", kj_kind_name(v));
    return NULL;
  }
  const char *s = json_string_value(v);
  int64_t us;
  if (ktime_parse(s, &us) != 0) {
    const char *layout = is_micro(t) ? "2006-01-02T15:04:05.000000Z07:00" : "2006-01-02T15:04:05Z07:00";
    fail_msg(c, true, "parsing time \"%s\" as \"%s\": cannot parse \"%s\" as \"2006\"", s, layout, s);
    return NULL;
  }
  char out[48];
  if (is_micro(t)) ktime_format_micro(us, out);
  else ktime_format((time_t)(us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000)), out);
  return strcmp(out, s) == 0 ? v : json_string(out);
}

/* IntOrString.UnmarshalJSON: a string, else an int32 (Go's own decoder,
 * so the error has no field context). */
static json_t *dec_int_or_string(struct dctx *c, json_t *v)
{
  if (json_is_string(v)) return v;
  if (json_is_integer(v) && json_integer_value(v) >= INT32_MIN && json_integer_value(v) <= INT32_MAX) return v;
  char num[64];
  if (json_is_number(v)) {
    number_text(v, num, sizeof num);
    fail_msg(c, true, "json: cannot unmarshal number %s into Go value of type int32", num);
  } else {
    fail_msg(c, true, "json: cannot unmarshal %s into Go value of type int32", kj_kind_name(v));
  }
  return NULL;
}

/* ---- zero values and emptiness ---- */

static json_t *zero_struct(const struct stype *t);

/* The encoding of a field that holds its Go zero value, or NULL when
 * nothing is printed for it. */
static json_t *zero_field(const struct sfield *f);

/* The encoding of the zero value of a non-pointer t. */
static json_t *zero_of(const struct stype *t)
{
  switch (t->kind) {
  case ST_STRING: return json_string("");
  case ST_BOOLEAN: return json_false();
  case ST_INTEGER:
  case ST_INT_OR_STRING: return json_integer(0);
  case ST_NUMBER: return json_integer(0);
  case ST_QUANTITY: return json_string("0");
  case ST_STRUCT: return zero_struct(t);
  default: /* nil slices, maps, []byte; zero Time; empty RawExtension */ return json_null();
  }
}

/* Types Go never leaves out (structs and the struct-backed scalars). */
static bool always_printed(const struct stype *t)
{
  switch (t->kind) {
  case ST_STRUCT:
  case ST_TIME:
  case ST_QUANTITY:
  case ST_INT_OR_STRING:
  case ST_FREEFORM: return true;
  default: return false;
  }
}

static json_t *zero_field(const struct sfield *f)
{
  if (f->ptr) return f->noomit ? json_null() : NULL;
  if (always_printed(f->type) || f->noomit) return zero_of(f->type);
  return NULL;
}

static json_t *zero_struct(const struct stype *t)
{
  json_t *o = json_object();
  for (size_t i = 0; i < t->nfields; i++) {
    json_t *z = zero_field(&t->fields[i]);
    if (z) json_object_set_new(o, t->fields[i].name, z);
  }
  return o;
}

/* Go's omitempty test for a present, decoded value of t. */
static bool empty_value(const struct stype *t, const json_t *v)
{
  if (always_printed(t)) return false;
  switch (json_typeof(v)) {
  case JSON_STRING: return json_string_length(v) == 0;
  case JSON_INTEGER: return json_integer_value(v) == 0;
  case JSON_REAL: return json_real_value(v) == 0;
  case JSON_FALSE: return true;
  case JSON_ARRAY: return json_array_size(v) == 0;
  case JSON_OBJECT: return json_object_size(v) == 0;
  default: return false;
  }
}

/* ---- the walk ---- */

static json_t *dec_value(struct dctx *c, const struct stype *owner, const struct stype *t, json_t *v);

static void report_unknown(struct dctx *c)
{
  if (c->unknown) json_array_append_new(c->unknown, json_sprintf("unknown field \"%s\"", c->path.b));
}

/* Decodes the fields of obj (a JSON object of struct type t), then fills
 * in what Go prints for the fields left unset. */
static void dec_struct(struct dctx *c, const struct stype *t, json_t *obj)
{
  size_t mark = c->path.len, gomark = c->gopath.len;
  const char *key;
  json_t *v;
  void *it;
  json_object_foreach_safe (obj, it, key, v) {
    const struct sfield *f = schema_find_field(t, key);
    sb_key(&c->path, key);
    if (!f) {
      report_unknown(c);
      sb_cut(&c->path, mark);
      json_object_del(obj, key);
      continue;
    }
    json_t *nv = NULL;
    if (!json_is_null(v)) {
      sb_key(&c->gopath, key);
      nv = dec_value(c, t, f->type, v);
      sb_cut(&c->gopath, gomark);
    }
    sb_cut(&c->path, mark);
    if (c->stop) return;
    if (!nv || (!f->ptr && !f->noomit && empty_value(f->type, nv))) {
      if (nv && nv != v) json_decref(nv);
      json_object_del(obj, key);
    } else if (nv != v) {
      json_object_set_new(obj, key, nv);
    }
  }
  for (size_t i = 0; i < t->nfields; i++) {
    const struct sfield *f = &t->fields[i];
    if (json_object_get(obj, f->name)) continue;
    json_t *z = zero_field(f);
    if (z) json_object_set_new(obj, f->name, z);
  }
}

/* An item of a list or a value of a map: null is the element's zero. */
static json_t *dec_elem(struct dctx *c, const struct stype *owner, const struct stype *et, json_t *v)
{
  if (json_is_null(v)) return zero_of(et);
  return dec_value(c, owner, et, v);
}

static json_t *dec_array(struct dctx *c, const struct stype *owner, const struct stype *t, json_t *v)
{
  size_t mark = c->path.len, i;
  json_t *item;
  json_array_foreach (v, i, item) {
    sb_printf(&c->path, "[%zu]", i);
    json_t *nv = dec_elem(c, owner, t->elem, item);
    sb_cut(&c->path, mark);
    if (c->stop) return NULL;
    if (nv && nv != item) json_array_set_new(v, i, nv);
  }
  return v;
}

static json_t *dec_map(struct dctx *c, const struct stype *owner, const struct stype *t, json_t *v)
{
  size_t mark = c->path.len;
  const char *key;
  json_t *item;
  void *it;
  json_object_foreach_safe (v, it, key, item) {
    sb_key(&c->path, key);
    json_t *nv = dec_elem(c, owner, t->elem, item);
    sb_cut(&c->path, mark);
    if (c->stop) return NULL;
    if (nv && nv != item) json_object_set_new(v, key, nv);
  }
  return v;
}

/* Decodes one present, non-null value v of type t, a field of struct
 * owner.  Returns v (changed in place or not), a new reference that
 * replaces it, or NULL on error. */
static json_t *dec_value(struct dctx *c, const struct stype *owner, const struct stype *t, json_t *v)
{
  switch (t->kind) {
  case ST_STRING:
    if (json_is_string(v)) return v;
    type_error(c, owner, kj_kind_name(v), t);
    return NULL;
  case ST_BOOLEAN:
    if (json_is_boolean(v)) return v;
    type_error(c, owner, kj_kind_name(v), t);
    return NULL;
  case ST_INTEGER: return dec_integer(c, owner, t, v);
  case ST_NUMBER:
    if (json_is_number(v)) return v;
    type_error(c, owner, kj_kind_name(v), t);
    return NULL;
  case ST_BYTES: return dec_bytes(c, owner, t, v);
  case ST_QUANTITY: return dec_quantity(c, v);
  case ST_TIME: return dec_time(c, t, v);
  case ST_INT_OR_STRING: return dec_int_or_string(c, v);
  case ST_FREEFORM:
  case ST_REF: return v;
  case ST_ARRAY:
  case ST_MAP:
  case ST_STRUCT: break;
  }
  bool want_array = t->kind == ST_ARRAY;
  if (want_array ? !json_is_array(v) : !json_is_object(v)) {
    type_error(c, owner, kj_kind_name(v), t);
    return NULL;
  }
  if (c->depth >= DECODE_MAX_DEPTH) {
    fail_msg(c, true, "json: exceeded max depth");
    return NULL;
  }
  c->depth++;
  json_t *r = v;
  if (t->kind == ST_ARRAY) r = dec_array(c, owner, t, v);
  else if (t->kind == ST_MAP) r = dec_map(c, owner, t, v);
  else dec_struct(c, t, v);
  c->depth--;
  return c->stop ? NULL : r;
}

int schema_decode(const struct schema *s, const struct stype *t, json_t *obj, json_t *unknown, char *err, size_t errlen)
{
  (void)s;
  if (err && errlen) err[0] = '\0';
  if (!t || !json_is_object(obj) || t->kind != ST_STRUCT) return 0;
  struct dctx c = {.unknown = unknown, .err = err, .errlen = errlen};
  c.path.cap = c.gopath.cap = 128;
  c.path.b = xmalloc(c.path.cap);
  c.gopath.b = xmalloc(c.gopath.cap);
  if (!c.path.b || !c.gopath.b) abort();
  c.path.b[0] = c.gopath.b[0] = '\0';
  dec_struct(&c, t, obj);
  free(c.path.b);
  free(c.gopath.b);
  return c.failed ? -EINVAL : 0;
}
