/*
 * protobuf.c - decoding of request bodies sent as
 * application/vnd.kubernetes.protobuf.
 *
 * client-go's typed clients (every `kubectl create <generator>`, `kubectl
 * run`, `kubectl expose`, `kubectl create job --from`) encode bodies in the
 * Kubernetes protobuf envelope and never fall back to JSON.  The envelope is
 * the 4 magic bytes "k8s\0" then a runtime.Unknown message
 * {1: typeMeta {1: apiVersion, 2: kind}, 2: raw, 3: contentEncoding,
 * 4: contentType}; `raw` is the object's own message.
 *
 * The object is decoded through the schema table: every field carries its
 * upstream protobuf number (`proto=N`, or `proto=N.M` for fields Go embeds
 * inline from a struct that is itself field N), so each wire field maps to
 * a JSON name and a type.  The JSON built is what the Go server would hold
 * after decoding and what its JSON encoding would print:
 *   - Go's marshalers write every non-pointer field, zero or not, and the
 *     JSON tags of nearly all of them say omitempty: zero scalars ("" / 0 /
 *     false) and empty non-pointer messages are dropped, while fields
 *     marked `ptr` (Go pointers: replicas, automountServiceAccountToken,
 *     emptyDir) or `noomit` (no omitempty: PriorityClass value, ports)
 *     keep an explicit zero.  Map values and list items are kept whatever
 *     they hold.
 *   - Well-known messages become their JSON forms: Time / MicroTime
 *     {seconds, nanos} an RFC 3339 string (null for the zero time),
 *     Quantity {string} its string, IntOrString {type, intVal, strVal} a
 *     number or a string, RawExtension / FieldsV1 {raw} the JSON they carry,
 *     bytes base64.
 *   - Maps are repeated {1: key, 2: value} entries; repeated scalars may be
 *     packed.
 * A wire field the table has no number for is refused (400, naming the
 * number and the message) unless it carries a zero value, which Go writes
 * for every plain field and which therefore loses nothing.
 */
#define _GNU_SOURCE
#include "protobuf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/base64.h>
#include <kube/json.h>
#include <kube/timeutil.h>

#include "api.h"
#include "schema/schema_int.h"

/* Bodies nest a few levels (Deployment -> template -> spec -> containers
 * -> ports); the bound only stops hostile input from exhausting the stack. */
#define PB_MAX_DEPTH 64

enum { WT_VARINT = 0, WT_FIXED64 = 1, WT_LEN = 2, WT_FIXED32 = 5 };

struct pb_rd {
  const unsigned char *p, *end;
};

/* One wire field: for WT_LEN the payload is data/len, otherwise val. */
struct pb_field {
  unsigned num;
  int wt;
  uint64_t val;
  const unsigned char *data;
  size_t len;
};

struct pb_ctx {
  char *err;
  size_t errlen;
  int code;
  int depth;
};

static int pb_fail(struct pb_ctx *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int pb_fail(struct pb_ctx *c, int code, const char *fmt, ...)
{
  if (c->code) return -EINVAL; /* keep the first, innermost message */
  c->code = code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->err, c->errlen, fmt, ap);
  va_end(ap);
  return -EINVAL;
}

static int rd_varint(struct pb_rd *r, uint64_t *out)
{
  uint64_t v = 0;
  for (unsigned shift = 0; shift < 64; shift += 7) {
    if (r->p >= r->end) return -EINVAL;
    unsigned char b = *r->p++;
    v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *out = v;
      return 0;
    }
  }
  return -EINVAL;
}

/* 1 with a field read, 0 at the end, negative on malformed input. */
static int rd_field(struct pb_rd *r, struct pb_field *f)
{
  uint64_t tag;
  if (r->p >= r->end) return 0;
  if (rd_varint(r, &tag) < 0 || (tag >> 3) == 0 || (tag >> 3) >= (1u << 29)) return -EINVAL;
  f->num = (unsigned)(tag >> 3);
  f->wt = (int)(tag & 7);
  f->val = 0;
  f->data = NULL;
  f->len = 0;
  switch (f->wt) {
  case WT_VARINT: return rd_varint(r, &f->val) < 0 ? -EINVAL : 1;
  case WT_FIXED64:
  case WT_FIXED32: {
    size_t n = f->wt == WT_FIXED64 ? 8 : 4;
    if ((size_t)(r->end - r->p) < n) return -EINVAL;
    for (size_t i = 0; i < n; i++) f->val |= (uint64_t)r->p[i] << (8 * i);
    r->p += n;
    return 1;
  }
  case WT_LEN: {
    uint64_t l;
    if (rd_varint(r, &l) < 0 || l > (uint64_t)(r->end - r->p)) return -EINVAL;
    f->data = r->p;
    f->len = (size_t)l;
    r->p += l;
    return 1;
  }
  default: return -EINVAL;
  }
}

/* The protobuf package is the OpenAPI name with its first two parts
 * swapped: io.k8s.api.core.v1.Pod is k8s.io.api.core.v1.Pod. */
static const char *msg_name(const struct stype *t, char *buf, size_t len)
{
  const char *n = t && t->name ? t->name : "object";
  if (strncmp(n, "io.k8s.", 7) == 0) snprintf(buf, len, "k8s.io.%s", n + 7);
  else snprintf(buf, len, "%s", n);
  return buf;
}

static const char *wt_name(int wt)
{
  switch (wt) {
  case WT_VARINT: return "varint";
  case WT_FIXED64: return "fixed64";
  case WT_LEN: return "length-delimited";
  default: return "fixed32";
  }
}

static int wrong_wire(struct pb_ctx *c, const struct stype *owner, const struct pb_field *f, const char *what)
{
  char nb[160];
  return pb_fail(c, 400, "protobuf message %s: field %u has wire type %s, expected %s", msg_name(owner, nb, sizeof nb),
                 f->num, wt_name(f->wt), what);
}

static json_t *string_of(struct pb_ctx *c, const struct stype *owner, const struct pb_field *f)
{
  json_t *s = json_stringn((const char *)f->data, f->len);
  if (!s) {
    char nb[160];
    pb_fail(c, 400, "protobuf message %s: field %u is not valid UTF-8", msg_name(owner, nb, sizeof nb), f->num);
  }
  return s;
}

/* Reads every field of a small well-known message into vals[num] (numbers
 * 1..3), each with the wire type it must have. */
static int read_small(struct pb_ctx *c, const struct stype *t, const unsigned char *d, size_t len, const int *wts,
                      struct pb_field *vals)
{
  struct pb_rd r = {d, d + len};
  struct pb_field f;
  int rc;
  memset(vals, 0, 4 * sizeof *vals);
  while ((rc = rd_field(&r, &f)) > 0) {
    if (f.num > 3 || wts[f.num] < 0) {
      char nb[160];
      return pb_fail(c, 400, "protobuf message %s has unknown field %u", msg_name(t, nb, sizeof nb), f.num);
    }
    if (f.wt != wts[f.num]) return wrong_wire(c, t, &f, wt_name(wts[f.num]));
    vals[f.num] = f;
  }
  if (rc < 0) {
    char nb[160];
    return pb_fail(c, 400, "malformed protobuf message %s", msg_name(t, nb, sizeof nb));
  }
  return 0;
}

static bool is_micro_time(const struct stype *t)
{
  size_t n = t->name ? strlen(t->name) : 0;
  return n >= 9 && strcmp(t->name + n - 9, "MicroTime") == 0;
}

static json_t *decode_value(struct pb_ctx *c, const struct stype *owner, const struct stype *t,
                            const struct pb_field *f);

static int decode_struct(struct pb_ctx *c, const struct stype *t, const unsigned char *d, size_t len, json_t *obj,
                         const unsigned *prefix, unsigned plen);

/* A message value: new reference, json_null() for the zero time, NULL on
 * error. */
static json_t *decode_message(struct pb_ctx *c, const struct stype *t, const unsigned char *d, size_t len)
{
  static const int time_wts[4] = {-1, WT_VARINT, WT_VARINT, -1};
  static const int q_wts[4] = {-1, WT_LEN, -1, -1};
  static const int ios_wts[4] = {-1, WT_VARINT, WT_VARINT, WT_LEN};
  static const int raw_wts[4] = {-1, WT_LEN, -1, -1};
  struct pb_field v[4];
  switch (t->kind) {
  case ST_TIME: {
    if (read_small(c, t, d, len, time_wts, v) < 0) return NULL;
    int64_t secs = (int64_t)v[1].val;
    int32_t nanos = (int32_t)v[2].val;
    if (secs == 0 && nanos == 0) return json_null();
    /* years 1..9999, what RFC 3339 (and Go's encoder) can print */
    if (secs < -62135596800LL || secs > 253402300799LL || nanos < 0 || nanos > 999999999) {
      pb_fail(c, 400, "protobuf message Time: %lld.%09d seconds is out of range", (long long)secs, (int)nanos);
      return NULL;
    }
    char buf[48];
    if (is_micro_time(t)) return json_string(ktime_format_micro(secs * 1000000 + nanos / 1000, buf));
    return json_string(ktime_format((time_t)secs, buf));
  }
  case ST_QUANTITY:
    if (read_small(c, t, d, len, q_wts, v) < 0) return NULL;
    if (!v[1].data || v[1].len == 0) return json_string("0");
    return string_of(c, t, &v[1]);
  case ST_INT_OR_STRING:
    if (read_small(c, t, d, len, ios_wts, v) < 0) return NULL;
    if (v[1].val == 1) return v[3].data ? string_of(c, t, &v[3]) : json_string("");
    return json_integer((int32_t)v[2].val);
  case ST_FREEFORM: {
    /* RawExtension and FieldsV1 both carry JSON in field 1; other
     * free-form types have no protobuf form upstream. */
    if (!t->name || (!strstr(t->name, "RawExtension") && !strstr(t->name, "FieldsV1"))) {
      char nb[160];
      pb_fail(c, 415, "%s has no protobuf encoding; send application/json", msg_name(t, nb, sizeof nb));
      return NULL;
    }
    if (read_small(c, t, d, len, raw_wts, v) < 0) return NULL;
    if (!v[1].data || v[1].len == 0) return json_null();
    char jerr[160];
    json_t *j = kj_loadb((const char *)v[1].data, v[1].len, false, jerr, sizeof jerr);
    if (!j) {
      char nb[160];
      pb_fail(c, 400, "protobuf message %s: its raw bytes are not JSON: %s", msg_name(t, nb, sizeof nb), jerr);
    }
    return j;
  }
  case ST_STRUCT: {
    json_t *o = json_object();
    if (decode_struct(c, t, d, len, o, NULL, 0) < 0) {
      json_decref(o);
      return NULL;
    }
    return o;
  }
  case ST_ARRAY: {
    /* a list inside a map value (map[string][]string): Go wraps it in a
     * message whose field 1 repeats the items */
    json_t *a = json_array();
    struct pb_rd r = {d, d + len};
    struct pb_field f;
    int rc;
    while ((rc = rd_field(&r, &f)) > 0) {
      json_t *item = f.num == 1 ? decode_value(c, t, t->elem, &f) : NULL;
      if (!item) {
        if (f.num != 1) {
          char nb[160];
          pb_fail(c, 400, "protobuf list wrapper %s has unknown field %u", msg_name(t, nb, sizeof nb), f.num);
        }
        json_decref(a);
        return NULL;
      }
      json_array_append_new(a, item);
    }
    if (rc < 0) {
      pb_fail(c, 400, "malformed protobuf list");
      json_decref(a);
      return NULL;
    }
    return a;
  }
  default: {
    char nb[160];
    pb_fail(c, 415, "a value of %s has no protobuf encoding here", msg_name(t, nb, sizeof nb));
    return NULL;
  }
  }
}

/* One value of type t read from wire field f; new reference (json_null()
 * for the zero time or an empty raw extension), NULL on error. */
static json_t *decode_value(struct pb_ctx *c, const struct stype *owner, const struct stype *t,
                            const struct pb_field *f)
{
  switch (t->kind) {
  case ST_STRING:
    if (f->wt != WT_LEN) {
      wrong_wire(c, owner, f, "length-delimited (string)");
      return NULL;
    }
    return string_of(c, owner, f);
  case ST_BYTES: {
    if (f->wt != WT_LEN) {
      wrong_wire(c, owner, f, "length-delimited (bytes)");
      return NULL;
    }
    char *b = kb64_encode(f->data, f->len, KB64_STD);
    json_t *s = b ? json_string(b) : NULL;
    free(b);
    return s;
  }
  case ST_BOOLEAN:
    if (f->wt != WT_VARINT) {
      wrong_wire(c, owner, f, "varint (bool)");
      return NULL;
    }
    return json_boolean(f->val != 0);
  case ST_INTEGER:
    if (f->wt != WT_VARINT) {
      wrong_wire(c, owner, f, "varint (integer)");
      return NULL;
    }
    /* negative int32 values travel sign-extended to 64 bits */
    if (t->format && strcmp(t->format, "int32") == 0) return json_integer((int32_t)(uint32_t)f->val);
    return json_integer((json_int_t)(int64_t)f->val);
  case ST_NUMBER: {
    if (f->wt == WT_FIXED64) {
      double d;
      memcpy(&d, &f->val, sizeof d);
      return json_real(d);
    }
    if (f->wt == WT_FIXED32) {
      uint32_t u = (uint32_t)f->val;
      float fl;
      memcpy(&fl, &u, sizeof fl);
      return json_real(fl);
    }
    wrong_wire(c, owner, f, "fixed64 (double)");
    return NULL;
  }
  case ST_MAP: pb_fail(c, 415, "nested maps have no protobuf encoding here"); return NULL;
  default:
    if (f->wt != WT_LEN) {
      wrong_wire(c, owner, f, "length-delimited (message)");
      return NULL;
    }
    if (c->depth >= PB_MAX_DEPTH) {
      pb_fail(c, 400, "protobuf message nested too deeply");
      return NULL;
    }
    c->depth++;
    json_t *v = decode_message(c, t, f->data, f->len);
    c->depth--;
    return v;
  }
}

/* The zero value of t, for a map entry that leaves its value out. */
static json_t *zero_value(const struct stype *t)
{
  switch (t->kind) {
  case ST_STRING:
  case ST_BYTES: return json_string("");
  case ST_BOOLEAN: return json_false();
  case ST_INTEGER:
  case ST_INT_OR_STRING: return json_integer(0);
  case ST_NUMBER: return json_real(0);
  case ST_QUANTITY: return json_string("0");
  case ST_STRUCT:
  case ST_MAP: return json_object();
  case ST_ARRAY: return json_array();
  default: return json_null();
  }
}

static bool is_zero(const json_t *v)
{
  switch (json_typeof(v)) {
  case JSON_NULL:
  case JSON_FALSE: return true;
  case JSON_STRING: return json_string_length(v) == 0;
  case JSON_INTEGER: return json_integer_value(v) == 0;
  case JSON_REAL: return json_real_value(v) == 0;
  case JSON_OBJECT: return json_object_size(v) == 0;
  default: return false;
  }
}

static int decode_map_entry(struct pb_ctx *c, const struct stype *owner, const struct sfield *sf,
                            const struct pb_field *f, json_t *obj)
{
  char nb[160];
  if (f->wt != WT_LEN) return wrong_wire(c, owner, f, "length-delimited (map entry)");
  struct pb_rd r = {f->data, f->data + f->len};
  struct pb_field e;
  json_t *key = NULL, *val = NULL;
  int rc;
  while ((rc = rd_field(&r, &e)) > 0) {
    json_t **slot = e.num == 1 ? &key : e.num == 2 ? &val : NULL;
    if (!slot) {
      rc = pb_fail(c, 400, "protobuf map entry of %s.%s has unknown field %u", msg_name(owner, nb, sizeof nb), sf->name,
                   e.num);
      break;
    }
    json_t *v =
        e.num == 1 ? (e.wt == WT_LEN ? string_of(c, owner, &e) : NULL) : decode_value(c, owner, sf->type->elem, &e);
    if (!v) {
      rc = e.num == 1 && e.wt != WT_LEN ? wrong_wire(c, owner, &e, "length-delimited (map key)") : -EINVAL;
      break;
    }
    json_decref(*slot);
    *slot = v;
  }
  if (rc == 0 && !key) key = json_string("");
  if (rc < 0 || !key) {
    if (!c->code) pb_fail(c, 400, "malformed protobuf map entry in %s.%s", msg_name(owner, nb, sizeof nb), sf->name);
    json_decref(key);
    json_decref(val);
    return -EINVAL;
  }
  json_t *m = json_object_get(obj, sf->name);
  if (!json_is_object(m)) {
    m = json_object();
    json_object_set_new(obj, sf->name, m);
  }
  json_object_set_new(m, json_string_value(key), val ? val : zero_value(sf->type->elem));
  json_decref(key);
  return 0;
}

static bool is_packable(const struct stype *t)
{
  return t->kind == ST_INTEGER || t->kind == ST_BOOLEAN || t->kind == ST_NUMBER;
}

static int decode_list_item(struct pb_ctx *c, const struct stype *owner, const struct sfield *sf,
                            const struct pb_field *f, json_t *obj)
{
  const struct stype *et = sf->type->elem;
  json_t *a = json_object_get(obj, sf->name);
  if (!json_is_array(a)) {
    a = json_array();
    json_object_set_new(obj, sf->name, a);
  }
  if (f->wt == WT_LEN && is_packable(et)) {
    struct pb_rd r = {f->data, f->data + f->len};
    while (r.p < r.end) {
      struct pb_field item = {.num = f->num, .wt = et->kind == ST_NUMBER ? WT_FIXED64 : WT_VARINT};
      if (item.wt == WT_VARINT) {
        if (rd_varint(&r, &item.val) < 0) return pb_fail(c, 400, "malformed packed field %s", sf->name);
      } else {
        if (r.end - r.p < 8) return pb_fail(c, 400, "malformed packed field %s", sf->name);
        for (int i = 0; i < 8; i++) item.val |= (uint64_t)r.p[i] << (8 * i);
        r.p += 8;
      }
      json_t *v = decode_value(c, owner, et, &item);
      if (!v) return -EINVAL;
      json_array_append_new(a, v);
    }
    return 0;
  }
  json_t *v = decode_value(c, owner, et, f);
  if (!v) return -EINVAL;
  json_array_append_new(a, v);
  return 0;
}

/* The field of t that wire number num means at inline depth plen, with
 * *inline_group set when it is an embedded struct whose fields are inline. */
static const struct sfield *find_proto_field(const struct stype *t, const unsigned *prefix, unsigned plen, unsigned num,
                                             bool *inline_group)
{
  *inline_group = false;
  for (size_t i = 0; i < t->nfields; i++) {
    const struct sfield *f = &t->fields[i];
    if (f->nproto <= plen || f->proto[plen] != num) continue;
    if (plen && memcmp(f->proto, prefix, plen * sizeof *prefix) != 0) continue;
    *inline_group = f->nproto > plen + 1;
    return f;
  }
  return NULL;
}

static int decode_struct(struct pb_ctx *c, const struct stype *t, const unsigned char *d, size_t len, json_t *obj,
                         const unsigned *prefix, unsigned plen)
{
  char nb[160];
  struct pb_rd r = {d, d + len};
  struct pb_field f;
  int rc;
  while ((rc = rd_field(&r, &f)) > 0) {
    bool group;
    const struct sfield *sf = find_proto_field(t, prefix, plen, f.num, &group);
    if (!sf) {
      /* Go writes every plain field; a zero one loses nothing. */
      bool zero = f.wt == WT_LEN ? f.len == 0 : f.val == 0;
      if (zero) continue;
      return pb_fail(c, 400, "protobuf message %s has unknown field %u (wire type %s)", msg_name(t, nb, sizeof nb),
                     f.num, wt_name(f.wt));
    }
    if (group) {
      unsigned path[SCHEMA_PROTO_DEPTH];
      if (f.wt != WT_LEN) return wrong_wire(c, t, &f, "length-delimited (embedded message)");
      memcpy(path, sf->proto, (plen + 1) * sizeof *path);
      if (c->depth >= PB_MAX_DEPTH) return pb_fail(c, 400, "protobuf message nested too deeply");
      c->depth++;
      rc = decode_struct(c, t, f.data, f.len, obj, path, plen + 1);
      c->depth--;
      if (rc < 0) return rc;
      continue;
    }
    if (sf->type->kind == ST_MAP) {
      if (decode_map_entry(c, t, sf, &f, obj) < 0) return -EINVAL;
      continue;
    }
    if (sf->type->kind == ST_ARRAY) {
      if (decode_list_item(c, t, sf, &f, obj) < 0) return -EINVAL;
      continue;
    }
    json_t *v = decode_value(c, t, sf->type, &f);
    if (!v) return -EINVAL;
    /* omitempty: a zero non-pointer value is what Go writes for "unset";
     * a zero time is null in JSON either way */
    if (json_is_null(v) || (!sf->ptr && !sf->noomit && is_zero(v))) {
      json_object_del(obj, sf->name); /* the last occurrence wins */
      json_decref(v);
    } else {
      json_object_set_new(obj, sf->name, v);
    }
  }
  if (rc < 0) return pb_fail(c, 400, "malformed protobuf message %s", msg_name(t, nb, sizeof nb));
  return 0;
}

static int split_api_version(const char *av, char *group, char *version, size_t len)
{
  const char *slash = strchr(av, '/');
  size_t gl = slash ? (size_t)(slash - av) : 0;
  const char *v = slash ? slash + 1 : av;
  if (gl >= len || strlen(v) >= len) return -EINVAL;
  memcpy(group, av, gl);
  group[gl] = '\0';
  strcpy(version, v);
  return 0;
}

struct envelope {
  const unsigned char *raw;
  size_t rawlen;
  char api_version[128], kind[128];
};

/* Reads the "k8s\0" + runtime.Unknown envelope around an object. */
static int read_envelope(struct pb_ctx *c, const void *buf, size_t len, struct envelope *env)
{
  const unsigned char *d = buf;
  memset(env, 0, sizeof *env);
  if (len < 4 || memcmp(d, "k8s\0", 4) != 0)
    return pb_fail(c, 400, "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]");
  struct pb_rd r = {d + 4, d + len};
  struct pb_field f;
  bool encoded = false;
  int rc;
  while ((rc = rd_field(&r, &f)) > 0) {
    if (f.num == 1 && f.wt == WT_LEN) {
      struct pb_rd t = {f.data, f.data + f.len};
      struct pb_field g;
      int rc2;
      while ((rc2 = rd_field(&t, &g)) > 0) {
        char *dst = g.wt != WT_LEN ? NULL : g.num == 1 ? env->api_version : g.num == 2 ? env->kind : NULL;
        if (dst && g.len < sizeof env->api_version) {
          memcpy(dst, g.data, g.len);
          dst[g.len] = '\0';
        }
      }
      if (rc2 < 0) rc = rc2;
    } else if (f.num == 2 && f.wt == WT_LEN) {
      env->raw = f.data;
      env->rawlen = f.len;
    } else if (f.num == 3 && f.wt == WT_LEN && f.len) {
      encoded = true;
    }
    if (rc < 0) break;
  }
  if (rc < 0 || !env->raw) return pb_fail(c, 400, "malformed protobuf envelope");
  if (encoded) return pb_fail(c, 415, "protobuf bodies with a content encoding are not supported");
  return 0;
}

/* The object of an envelope decoded as type t, with kind and apiVersion
 * from the envelope when it names them. */
static json_t *decode_enveloped(struct pb_ctx *c, const struct stype *t, const struct envelope *env)
{
  json_t *obj = json_object();
  if (*env->kind) json_object_set_new(obj, "kind", json_string(env->kind));
  if (*env->api_version) json_object_set_new(obj, "apiVersion", json_string(env->api_version));
  if (decode_struct(c, t, env->raw, env->rawlen, obj, NULL, 0) < 0) {
    if (!c->code) pb_fail(c, 500, "out of memory");
    json_decref(obj);
    return NULL;
  }
  return obj;
}

json_t *protobuf_decode(const struct schema *s, const void *buf, size_t len, int *http_code, char *err, size_t errlen)
{
  struct pb_ctx c = {.err = err, .errlen = errlen};
  int dummy;
  if (!http_code) http_code = &dummy;
  *http_code = 0;
  struct envelope env;
  json_t *obj = NULL;
  if (read_envelope(&c, buf, len, &env) == 0) {
    char group[128], version[128];
    const struct stype *t = NULL;
    if (split_api_version(env.api_version, group, version, sizeof group) == 0)
      t = schema_kind(s, group, version, env.kind);
    if (!t)
      pb_fail(&c, 415, "the protobuf encoding of %s %s is not supported; send application/json", env.api_version,
              env.kind);
    else obj = decode_enveloped(&c, t, &env);
  }
  *http_code = c.code;
  return obj;
}

json_t *protobuf_decode_as(const struct stype *t, const void *buf, size_t len, int *http_code, char *err, size_t errlen)
{
  struct pb_ctx c = {.err = err, .errlen = errlen};
  struct envelope env;
  json_t *obj = read_envelope(&c, buf, len, &env) == 0 ? decode_enveloped(&c, t, &env) : NULL;
  if (http_code) *http_code = c.code;
  return obj;
}

/* The old entry point has no server context: it decodes through a table
 * parsed on first use and kept for the life of the process. */
json_t *api_protobuf_decode(const char *buf, size_t len, char *err, size_t errlen)
{
  static struct schema *builtin;
  if (!builtin) {
    builtin = schema_load_builtin(err, errlen);
    if (!builtin) return NULL;
  }
  return protobuf_decode(builtin, buf, len, NULL, err, errlen);
}
