/*
 * openapi_pb.c - the Swagger 2.0 document in protobuf, as gnostic's
 * openapi_v2.Document (github.com/google/gnostic-models, OpenAPIv2.proto).
 *
 * kubectl asks for /openapi/v2 only as
 * application/com.github.proto-openapi.spec.v2@v1.0+protobuf, so the JSON
 * document openapi.c builds is written again in that form.  Each JSON
 * object maps to one message; the encoder below knows the messages the
 * document uses and their field numbers, and writes fields in number
 * order as protobuf's own marshalers do.  The shapes gnostic gives JSON
 * constructs:
 *   - maps (paths, definitions, properties, responses) are repeated
 *     Named* messages {1: name, 2: value};
 *   - `type` is a TypeItem {1: repeated string}, `items` an ItemsItem
 *     {1: repeated Schema}, `additionalProperties` an
 *     AdditionalPropertiesItem {1: schema | 2: boolean};
 *   - a parameter is a ParametersItem {1: Parameter}, a Parameter either a
 *     BodyParameter (1) or a NonBodyParameter (2) holding a query (3) or
 *     path (4) sub-schema; a response a ResponseValue {1: Response} whose
 *     schema is a SchemaItem {1: Schema};
 *   - every "x-..." key is a vendor extension NamedAny {1: name, 2: Any
 *     {2: yaml}}: the value's JSON text, which is valid YAML and is what
 *     kube-openapi reads back.
 * Keys the encoder does not know are left out.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>

#include "schema/schema.h"
#include <kube/xalloc.h>

struct pbw {
  unsigned char *b;
  size_t len, cap;
};

static void pb_grow(struct pbw *w, size_t n)
{
  if (w->len + n <= w->cap) return;
  size_t cap = w->cap ? w->cap : 256;
  while (cap < w->len + n) cap *= 2;
  unsigned char *nb = xrealloc(w->b, cap);
  if (!nb) abort();
  w->b = nb;
  w->cap = cap;
}

static void pb_varint(struct pbw *w, uint64_t v)
{
  pb_grow(w, 10);
  do {
    unsigned char c = v & 0x7f;
    v >>= 7;
    w->b[w->len++] = c | (v ? 0x80 : 0);
  } while (v);
}

static void pb_bytes(struct pbw *w, unsigned field, const void *data, size_t len)
{
  pb_varint(w, (uint64_t)field << 3 | 2);
  pb_varint(w, len);
  pb_grow(w, len);
  memcpy(w->b + w->len, data, len);
  w->len += len;
}

/* A nested message: child's bytes under field (freed). */
static void pb_msg(struct pbw *w, unsigned field, struct pbw *child)
{
  pb_bytes(w, field, child->b ? child->b : (const unsigned char *)"", child->len);
  free(child->b);
  memset(child, 0, sizeof *child);
}

static void pb_str(struct pbw *w, unsigned field, const json_t *v)
{
  if (json_is_string(v) && json_string_length(v)) pb_bytes(w, field, json_string_value(v), json_string_length(v));
}

static void pb_strs(struct pbw *w, unsigned field, const json_t *arr)
{
  size_t i;
  json_t *v;
  json_array_foreach (arr, i, v)
    if (json_is_string(v)) pb_bytes(w, field, json_string_value(v), json_string_length(v));
}

static void pb_bool(struct pbw *w, unsigned field, const json_t *v)
{
  if (json_is_true(v)) {
    pb_varint(w, (uint64_t)field << 3);
    pb_varint(w, 1);
  }
}

/* ---- messages ---- */

/* Every "x-..." member of o as repeated NamedAny under field. */
static void vendor_ext(struct pbw *w, unsigned field, const json_t *o)
{
  const char *k;
  json_t *v;
  json_object_foreach ((json_t *)o, k, v) {
    if (strncmp(k, "x-", 2) != 0) continue;
    char *yaml = kj_dumps(v);
    struct pbw any = {0}, named = {0};
    if (yaml) pb_bytes(&any, 2, yaml, strlen(yaml));
    free(yaml);
    pb_bytes(&named, 1, k, strlen(k));
    pb_msg(&named, 2, &any);
    pb_msg(w, field, &named);
  }
}

static void schema_msg(struct pbw *w, const json_t *s);

/* Schema under field. */
static void put_schema(struct pbw *w, unsigned field, const json_t *s)
{
  struct pbw m = {0};
  schema_msg(&m, s);
  pb_msg(w, field, &m);
}

/* A JSON map of schemas as repeated NamedSchema under field. */
static void named_schemas(struct pbw *w, unsigned field, const json_t *map)
{
  const char *k;
  json_t *v;
  json_object_foreach ((json_t *)map, k, v) {
    struct pbw named = {0};
    pb_bytes(&named, 1, k, strlen(k));
    put_schema(&named, 2, v);
    pb_msg(w, field, &named);
  }
}

static void schema_msg(struct pbw *w, const json_t *s)
{
  pb_str(w, 1, json_object_get(s, "$ref"));
  pb_str(w, 2, json_object_get(s, "format"));
  pb_str(w, 3, json_object_get(s, "title"));
  pb_str(w, 4, json_object_get(s, "description"));
  pb_strs(w, 19, json_object_get(s, "required"));
  json_t *ap = json_object_get(s, "additionalProperties");
  if (json_is_object(ap) || json_is_boolean(ap)) {
    struct pbw m = {0};
    if (json_is_object(ap)) put_schema(&m, 1, ap);
    else pb_bool(&m, 2, ap);
    pb_msg(w, 21, &m);
  }
  json_t *type = json_object_get(s, "type");
  if (json_is_string(type)) {
    struct pbw m = {0};
    pb_str(&m, 1, type);
    pb_msg(w, 22, &m);
  }
  json_t *items = json_object_get(s, "items");
  if (json_is_object(items)) {
    struct pbw m = {0};
    put_schema(&m, 1, items);
    pb_msg(w, 23, &m);
  }
  size_t i;
  json_t *v;
  json_array_foreach (json_object_get(s, "allOf"), i, v) put_schema(w, 24, v);
  json_t *props = json_object_get(s, "properties");
  if (json_is_object(props)) {
    struct pbw m = {0};
    named_schemas(&m, 1, props);
    pb_msg(w, 25, &m);
  }
  vendor_ext(w, 31, s);
}

/* One ParametersItem: a body parameter, or a query or path parameter's
 * sub-schema (the two messages number their fields alike up to `type`,
 * which the query one shifts by one: it has allow_empty_value at 5). */
static void parameter_item(struct pbw *item, const json_t *p)
{
  struct pbw param = {0};
  const char *in = kj_get_str(p, "in");
  if (in && strcmp(in, "body") == 0) {
    struct pbw body = {0};
    pb_str(&body, 1, json_object_get(p, "description"));
    pb_str(&body, 2, json_object_get(p, "name"));
    pb_str(&body, 3, json_object_get(p, "in"));
    pb_bool(&body, 4, json_object_get(p, "required"));
    if (json_is_object(json_object_get(p, "schema"))) put_schema(&body, 5, json_object_get(p, "schema"));
    vendor_ext(&body, 6, p);
    pb_msg(&param, 1, &body);
  } else {
    bool query = !in || strcmp(in, "path") != 0;
    struct pbw sub = {0}, nonbody = {0};
    unsigned shift = query ? 1 : 0;
    pb_bool(&sub, 1, json_object_get(p, "required"));
    pb_str(&sub, 2, json_object_get(p, "in"));
    pb_str(&sub, 3, json_object_get(p, "description"));
    pb_str(&sub, 4, json_object_get(p, "name"));
    pb_str(&sub, 5 + shift, json_object_get(p, "type"));
    pb_str(&sub, 6 + shift, json_object_get(p, "format"));
    pb_bool(&sub, 19 + shift, json_object_get(p, "uniqueItems"));
    vendor_ext(&sub, 22 + shift, p);
    pb_msg(&nonbody, query ? 3 : 4, &sub);
    pb_msg(&param, 2, &nonbody);
  }
  pb_msg(item, 1, &param);
}

static void parameters(struct pbw *w, unsigned field, const json_t *arr)
{
  size_t i;
  json_t *p;
  json_array_foreach (arr, i, p) {
    struct pbw item = {0};
    parameter_item(&item, p);
    pb_msg(w, field, &item);
  }
}

static void responses(struct pbw *w, unsigned field, const json_t *rs)
{
  struct pbw m = {0};
  const char *code;
  json_t *r;
  json_object_foreach ((json_t *)rs, code, r) {
    if (strncmp(code, "x-", 2) == 0) continue;
    struct pbw resp = {0}, value = {0}, named = {0};
    pb_str(&resp, 1, json_object_get(r, "description"));
    if (json_is_object(json_object_get(r, "schema"))) {
      struct pbw item = {0};
      put_schema(&item, 1, json_object_get(r, "schema"));
      pb_msg(&resp, 2, &item);
    }
    pb_msg(&value, 1, &resp);
    pb_bytes(&named, 1, code, strlen(code));
    pb_msg(&named, 2, &value);
    pb_msg(&m, 1, &named);
  }
  vendor_ext(&m, 2, rs);
  pb_msg(w, field, &m);
}

static void operation(struct pbw *w, unsigned field, const json_t *op)
{
  struct pbw m = {0};
  pb_strs(&m, 1, json_object_get(op, "tags"));
  pb_str(&m, 2, json_object_get(op, "summary"));
  pb_str(&m, 3, json_object_get(op, "description"));
  pb_str(&m, 5, json_object_get(op, "operationId"));
  pb_strs(&m, 6, json_object_get(op, "produces"));
  pb_strs(&m, 7, json_object_get(op, "consumes"));
  parameters(&m, 8, json_object_get(op, "parameters"));
  if (json_is_object(json_object_get(op, "responses"))) responses(&m, 9, json_object_get(op, "responses"));
  pb_strs(&m, 10, json_object_get(op, "schemes"));
  pb_bool(&m, 11, json_object_get(op, "deprecated"));
  vendor_ext(&m, 13, op);
  pb_msg(w, field, &m);
}

static void path_item(struct pbw *w, const json_t *pi)
{
  static const char *const verbs[] = {"get", "put", "post", "delete", "options", "head", "patch"};
  for (unsigned i = 0; i < 7; i++) {
    json_t *op = json_object_get(pi, verbs[i]);
    if (json_is_object(op)) operation(w, 2 + i, op);
  }
  parameters(w, 9, json_object_get(pi, "parameters"));
  vendor_ext(w, 10, pi);
}

static void paths(struct pbw *w, unsigned field, const json_t *ps)
{
  struct pbw m = {0};
  vendor_ext(&m, 1, ps);
  const char *k;
  json_t *v;
  json_object_foreach ((json_t *)ps, k, v) {
    if (strncmp(k, "x-", 2) == 0) continue;
    struct pbw named = {0}, item = {0};
    pb_bytes(&named, 1, k, strlen(k));
    path_item(&item, v);
    pb_msg(&named, 2, &item);
    pb_msg(&m, 2, &named);
  }
  pb_msg(w, field, &m);
}

static void security(struct pbw *w, const json_t *doc)
{
  size_t i;
  json_t *req;
  json_array_foreach (json_object_get(doc, "security"), i, req) {
    struct pbw m = {0};
    const char *k;
    json_t *v;
    json_object_foreach (req, k, v) {
      struct pbw named = {0}, arr = {0};
      pb_bytes(&named, 1, k, strlen(k));
      pb_strs(&arr, 1, v);
      pb_msg(&named, 2, &arr);
      pb_msg(&m, 1, &named);
    }
    pb_msg(w, 12, &m);
  }
  json_t *defs = json_object_get(doc, "securityDefinitions");
  if (!json_is_object(defs)) return;
  struct pbw m = {0};
  const char *k;
  json_t *v;
  json_object_foreach (defs, k, v) {
    struct pbw named = {0}, item = {0}, key = {0};
    pb_str(&key, 1, json_object_get(v, "type"));
    pb_str(&key, 2, json_object_get(v, "name"));
    pb_str(&key, 3, json_object_get(v, "in"));
    pb_str(&key, 4, json_object_get(v, "description"));
    pb_msg(&item, 2, &key); /* api_key_security */
    pb_bytes(&named, 1, k, strlen(k));
    pb_msg(&named, 2, &item);
    pb_msg(&m, 1, &named);
  }
  pb_msg(w, 13, &m);
}

int schema_openapi_v2_protobuf(const json_t *doc, unsigned char **out, size_t *len)
{
  if (!json_is_object(doc)) return -EINVAL;
  struct pbw w = {0};
  pb_str(&w, 1, json_object_get(doc, "swagger"));
  json_t *info = json_object_get(doc, "info");
  if (json_is_object(info)) {
    struct pbw m = {0};
    pb_str(&m, 1, json_object_get(info, "title"));
    pb_str(&m, 2, json_object_get(info, "version"));
    pb_str(&m, 3, json_object_get(info, "description"));
    pb_msg(&w, 2, &m);
  }
  if (json_is_object(json_object_get(doc, "paths"))) paths(&w, 8, json_object_get(doc, "paths"));
  if (json_is_object(json_object_get(doc, "definitions"))) {
    struct pbw m = {0};
    named_schemas(&m, 1, json_object_get(doc, "definitions"));
    pb_msg(&w, 9, &m);
  }
  security(&w, doc);
  vendor_ext(&w, 16, doc);
  *out = w.b ? w.b : calloc(1, 1);
  *len = w.len;
  return *out ? 0 : -ENOMEM;
}
