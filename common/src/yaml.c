/*
 * yaml.c - YAML streams to json_t trees and back, with libyaml.
 *
 * Loading walks libyaml's event stream (not its document API, which
 * forgets whether a tag such as !!str was written explicitly) and builds
 * jansson values recursively.  Untagged plain scalars are typed with the
 * YAML 1.1 rules of go-yaml v2, which sigs.k8s.io/yaml and thus kubectl
 * apply: y/yes/on/true... are booleans, ~/null/"" is null, 0x1f, 0o17,
 * 017 and 1_000 are integers, "1.5e3" is a float, all else a string.
 * Quoted scalars are always strings.  Mapping keys of another type become
 * their string form, as upstream's JSON conversion does ("on:" becomes
 * "true").  Anchors hold a finished value; an alias is a deep copy of it,
 * with a cap on the total copied size against alias bombs.  The merge key
 * "<<" adds the keys of one mapping or a list of mappings that the
 * mapping does not set itself.
 *
 * Dumping emits events through libyaml's emitter with kubectl's choices:
 * block style, two-space indent, strings quoted (double) when they would
 * otherwise read back as another type, literal style for multi-line text.
 */
#define _GNU_SOURCE
#include "kube/json.h"
#include "kube/yaml.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "kube/strconv.h"
#include "kube/xalloc.h"

#define KYAML_MAX_DEPTH 1000
#define KYAML_MAX_ALIAS_NODES 1000000

struct anchor {
  char *name;
  json_t *value;
  size_t nodes;
};

struct kyaml_ctx {
  yaml_parser_t parser;
  struct anchor *anchors;
  size_t nanchors;
  size_t alias_nodes;
  char *err;
  size_t errlen;
  bool failed;
};

static void kyaml_fail(struct kyaml_ctx *c, const char *fmt, const char *arg)
{
  if (c->failed) return;
  c->failed = true;
  if (c->err && c->errlen) {
    char msg[512];
    snprintf(msg, sizeof msg, fmt, arg ? arg : "");
    snprintf(c->err, c->errlen, "yaml: %s", msg);
  }
}

/* go-yaml's line numbering: parser marks already point past the problem. */
static void kyaml_parser_fail(struct kyaml_ctx *c)
{
  yaml_parser_t *p = &c->parser;
  size_t line = 0;
  if (p->problem_mark.line != 0) {
    line = p->problem_mark.line;
    if (p->error == YAML_SCANNER_ERROR) line++;
  } else if (p->context_mark.line != 0) {
    line = p->context_mark.line;
  }
  c->failed = true;
  if (c->err && c->errlen) {
    const char *problem = p->problem ? p->problem : "unknown problem parsing YAML content";
    if (line) snprintf(c->err, c->errlen, "yaml: line %zu: %s", line, problem);
    else snprintf(c->err, c->errlen, "yaml: %s", problem);
  }
}

static bool next_event(struct kyaml_ctx *c, yaml_event_t *ev)
{
  if (!yaml_parser_parse(&c->parser, ev)) {
    kyaml_parser_fail(c);
    return false;
  }
  return true;
}

static size_t json_node_count(const json_t *v)
{
  size_t n = 1;
  if (json_is_object(v)) {
    const char *k;
    json_t *x;
    json_object_foreach ((json_t *)v, k, x) n += json_node_count(x);
  } else if (json_is_array(v)) {
    size_t i;
    json_t *x;
    json_array_foreach (v, i, x) n += json_node_count(x);
  }
  return n;
}

static void anchor_set(struct kyaml_ctx *c, const char *name, json_t *v)
{
  if (!name || !v) return;
  for (size_t i = 0; i < c->nanchors; i++) {
    if (strcmp(c->anchors[i].name, name) == 0) {
      /* YAML allows redefining an anchor; later aliases see the new one. */
      json_decref(c->anchors[i].value);
      c->anchors[i].value = json_incref(v);
      c->anchors[i].nodes = json_node_count(v);
      return;
    }
  }
  struct anchor *na = xrealloc(c->anchors, (c->nanchors + 1) * sizeof *na);
  if (!na) return;
  c->anchors = na;
  na[c->nanchors].name = xstrdup(name);
  na[c->nanchors].value = json_incref(v);
  na[c->nanchors].nodes = json_node_count(v);
  c->nanchors++;
}

/* ---- scalar typing ---- */

static bool in_list(const char *s, const char *const *list)
{
  for (; *list; list++)
    if (strcmp(s, *list) == 0) return true;
  return false;
}

static const char *const yaml_true[] = {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", NULL};
static const char *const yaml_false[] = {"n",     "N",     "no",  "No",  "NO",  "false",
                                         "False", "FALSE", "off", "Off", "OFF", NULL};
static const char *const yaml_null[] = {"", "~", "null", "Null", "NULL", NULL};

/* Integer forms Go's ParseInt(s, 0, 64) takes once '_' is removed. */
static bool parse_yaml_int(const char *s, json_t **out)
{
  char buf[128];
  size_t o = 0;
  for (const char *p = s; *p; p++) {
    if (*p == '_') continue;
    if (o + 1 >= sizeof buf) return false;
    buf[o++] = *p;
  }
  buf[o] = '\0';
  const char *p = buf;
  bool neg = false;
  if (*p == '+' || *p == '-') neg = *p++ == '-';
  int base = 10;
  if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) base = 16, p += 2;
  else if (p[0] == '0' && (p[1] == 'o' || p[1] == 'O')) base = 8, p += 2;
  else if (p[0] == '0' && (p[1] == 'b' || p[1] == 'B')) base = 2, p += 2;
  else if (p[0] == '0' && p[1]) base = 8, p += 1;
  if (!*p) return false;
  unsigned long long acc = 0;
  for (; *p; p++) {
    int d;
    if (*p >= '0' && *p <= '9') d = *p - '0';
    else if (*p >= 'a' && *p <= 'f') d = *p - 'a' + 10;
    else if (*p >= 'A' && *p <= 'F') d = *p - 'A' + 10;
    else return false;
    if (d >= base) return false;
    if (acc > (ULLONG_MAX - (unsigned)d) / (unsigned)base) return false;
    acc = acc * (unsigned)base + (unsigned)d;
  }
  if (neg) {
    if (acc > (unsigned long long)INT64_MAX + 1) return false;
    *out = json_integer(acc == (unsigned long long)INT64_MAX + 1 ? INT64_MIN : -(json_int_t)acc);
  } else if (acc > (unsigned long long)INT64_MAX) {
    *out = json_real((double)acc);
  } else {
    *out = json_integer((json_int_t)acc);
  }
  return true;
}

static bool all_digits(const char **p)
{
  const char *start = *p;
  while (**p >= '0' && **p <= '9') (*p)++;
  return *p > start;
}

/*
 * go-yaml's test for a plain float after integers failed:
 * ^[-+]?[0-9]*\.?[0-9]+([eE][-+][0-9]+)?$ (the exponent needs a sign, so
 * "1e3" stays a string while "1e+3" is 1000).
 */
static bool is_yaml_float(const char *s)
{
  const char *p = s;
  if (*p == '+' || *p == '-') p++;
  bool int_digits = all_digits(&p);
  if (*p == '.') {
    p++;
    if (!all_digits(&p)) return false;
  } else if (!int_digits) {
    return false;
  }
  if (*p == 'e' || *p == 'E') {
    p++;
    if (*p != '+' && *p != '-') return false;
    p++;
    if (!all_digits(&p)) return false;
  }
  return *p == '\0';
}

/* Go's ParseFloat syntax for scalars starting with '.', e.g. ".5e3". */
static bool is_dot_float(const char *s)
{
  const char *p = s + 1;
  if (!all_digits(&p)) return false;
  if (*p == 'e' || *p == 'E') {
    p++;
    if (*p == '+' || *p == '-') p++;
    if (!all_digits(&p)) return false;
  }
  return *p == '\0';
}

/* Integral floats become JSON integers, as Go's encoder prints 1.0 as 1. */
static json_t *json_number(double d)
{
  if (isfinite(d) && d == floor(d) && fabs(d) < 9007199254740992.0) return json_integer((json_int_t)d);
  return json_real(d);
}

static json_t *resolve_plain(const char *s)
{
  json_t *v = NULL;
  if (in_list(s, yaml_null)) return json_null();
  if (in_list(s, yaml_true)) return json_true();
  if (in_list(s, yaml_false)) return json_false();
  char c = s[0];
  if (c == '.') {
    /* Beyond float64 ParseFloat fails (ErrRange) and go-yaml keeps a string. */
    double d = is_dot_float(s) ? strtod(s, NULL) : NAN;
    if (isfinite(d)) return json_number(d);
  } else if ((c >= '0' && c <= '9') || c == '-' || c == '+') {
    if (parse_yaml_int(s, &v)) return v;
    char *plain = xstrdup(s);
    if (!plain) return NULL;
    char *w = plain;
    for (char *r = plain; *r; r++)
      if (*r != '_') *w++ = *r;
    *w = '\0';
    if (is_yaml_float(plain)) {
      double d = strtod(plain, NULL);
      if (isfinite(d)) v = json_number(d);
    }
    free(plain);
    if (v) return v;
  }
  return json_string(s);
}

#define TAG_PREFIX "tag:yaml.org,2002:"

static json_t *resolve_scalar(struct kyaml_ctx *c, const yaml_event_t *ev)
{
  const char *val = (const char *)ev->data.scalar.value;
  const char *tag = (const char *)ev->data.scalar.tag;
  bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
  if (tag && strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX)) == 0) {
    const char *t = tag + strlen(TAG_PREFIX);
    if (strcmp(t, "str") == 0 || strcmp(t, "binary") == 0 || strcmp(t, "timestamp") == 0) return json_string(val);
    json_t *v = resolve_plain(val);
    const char *got = json_is_null(v)      ? "null"
                      : json_is_boolean(v) ? "bool"
                      : json_is_integer(v) ? "int"
                      : json_is_real(v)    ? "float"
                                           : "str";
    /* A float written as an integer keeps JSON's integer form. */
    bool ok = strcmp(t, got) == 0 || (strcmp(t, "float") == 0 && strcmp(got, "int") == 0);
    if (strcmp(t, "null") != 0 && strcmp(t, "bool") != 0 && strcmp(t, "int") != 0 && strcmp(t, "float") != 0)
      ok = true; /* tags go-yaml does not resolve (!!seq on a scalar...) */
    if (!ok) {
      char msg[300];
      snprintf(msg, sizeof msg, "cannot decode !!%s `%.200s` as a !!%s", got, val, t);
      json_decref(v);
      kyaml_fail(c, "%s", msg);
      return NULL;
    }
    return v;
  }
  /* "!" and any other explicit tag, and all quoted scalars, stay strings. */
  if (!plain || (tag && *tag)) return json_string(val);
  return resolve_plain(val);
}

/* ---- tree building ---- */

static json_t *load_node(struct kyaml_ctx *c, yaml_event_t *ev, int depth);

/* A scalar key as its JSON object member name; NULL for a mapping or a
 * sequence, which upstream's decoder refuses ("invalid map key") rather
 * than stringifies (stringifying nested complex keys would also escape
 * each level again, doubling the text per level). */
static char *key_string(const json_t *k)
{
  char buf[64];
  if (json_is_string(k)) return xstrdup(json_string_value(k));
  if (json_is_null(k)) return xstrdup("null");
  if (json_is_boolean(k)) return xstrdup(json_is_true(k) ? "true" : "false");
  if (json_is_integer(k)) {
    snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(k));
    return xstrdup(buf);
  }
  if (json_is_real(k)) {
    return xstrdup(kstr_format_float(json_real_value(k), buf, sizeof buf));
  }
  return NULL;
}

static void merge_into(json_t *obj, json_t *src)
{
  const char *k;
  json_t *v;
  json_object_foreach (src, k, v) {
    if (!json_object_get(obj, k)) json_object_set(obj, k, v);
  }
}

static json_t *load_mapping(struct kyaml_ctx *c, int depth)
{
  json_t *obj = json_object();
  json_t *merges = json_array();
  yaml_event_t ev;
  for (;;) {
    if (!next_event(c, &ev)) goto fail;
    if (ev.type == YAML_MAPPING_END_EVENT) {
      yaml_event_delete(&ev);
      break;
    }
    bool is_merge = ev.type == YAML_SCALAR_EVENT && ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                    strcmp((const char *)ev.data.scalar.value, "<<") == 0 &&
                    (!ev.data.scalar.tag || strcmp((const char *)ev.data.scalar.tag, TAG_PREFIX "merge") == 0);
    json_t *key = load_node(c, &ev, depth + 1);
    if (!key) goto fail;
    if (!next_event(c, &ev)) {
      json_decref(key);
      goto fail;
    }
    json_t *val = load_node(c, &ev, depth + 1);
    if (!val) {
      json_decref(key);
      goto fail;
    }
    if (is_merge) {
      json_decref(key);
      if (json_is_object(val)) {
        json_array_append_new(merges, val);
      } else if (json_is_array(val)) {
        size_t i;
        json_t *m;
        json_array_foreach (val, i, m) {
          if (!json_is_object(m)) {
            json_decref(val);
            kyaml_fail(c, "%s", "map merge requires map or sequence of maps as the value");
            goto fail;
          }
          json_array_append(merges, m);
        }
        json_decref(val);
      } else {
        json_decref(val);
        kyaml_fail(c, "%s", "map merge requires map or sequence of maps as the value");
        goto fail;
      }
      continue;
    }
    char *ks = key_string(key);
    if (!ks) {
      kyaml_fail(c, "%s", json_is_object(key) ? "invalid map key: a mapping cannot be a key"
                                              : "invalid map key: a sequence cannot be a key");
      json_decref(key);
      json_decref(val);
      goto fail;
    }
    json_decref(key);
    json_object_set_new(obj, ks, val);
    free(ks);
  }
  /* Explicit keys win over merged ones; earlier merge sources over later. */
  size_t i;
  json_t *m;
  json_array_foreach (merges, i, m) merge_into(obj, m);
  json_decref(merges);
  return obj;
fail:
  json_decref(merges);
  json_decref(obj);
  return NULL;
}

static json_t *load_sequence(struct kyaml_ctx *c, int depth)
{
  json_t *arr = json_array();
  yaml_event_t ev;
  for (;;) {
    if (!next_event(c, &ev)) {
      json_decref(arr);
      return NULL;
    }
    if (ev.type == YAML_SEQUENCE_END_EVENT) {
      yaml_event_delete(&ev);
      return arr;
    }
    json_t *v = load_node(c, &ev, depth + 1);
    if (!v) {
      json_decref(arr);
      return NULL;
    }
    json_array_append_new(arr, v);
  }
}

/* Consumes (deletes) ev and everything the node spans.  New reference. */
static json_t *load_node(struct kyaml_ctx *c, yaml_event_t *ev, int depth)
{
  json_t *v = NULL;
  char *anchor = NULL;
  if (depth > KYAML_MAX_DEPTH) {
    yaml_event_delete(ev);
    kyaml_fail(c, "%s", "exceeded max depth of 1000");
    return NULL;
  }
  switch (ev->type) {
  case YAML_SCALAR_EVENT:
    v = resolve_scalar(c, ev);
    if (ev->data.scalar.anchor) anchor = xstrdup((const char *)ev->data.scalar.anchor);
    yaml_event_delete(ev);
    break;
  case YAML_ALIAS_EVENT: {
    const char *name = (const char *)ev->data.alias.anchor;
    for (size_t i = c->nanchors; i-- > 0;) {
      if (strcmp(c->anchors[i].name, name) == 0) {
        c->alias_nodes += c->anchors[i].nodes;
        if (c->alias_nodes > KYAML_MAX_ALIAS_NODES) {
          kyaml_fail(c, "%s", "document contains excessive aliasing");
        } else {
          v = kj_deep_copy(c->anchors[i].value);
        }
        break;
      }
    }
    if (!v && !c->failed) kyaml_fail(c, "unknown anchor '%s' referenced", name);
    yaml_event_delete(ev);
    break;
  }
  case YAML_SEQUENCE_START_EVENT:
    if (ev->data.sequence_start.anchor) anchor = xstrdup((const char *)ev->data.sequence_start.anchor);
    yaml_event_delete(ev);
    v = load_sequence(c, depth);
    break;
  case YAML_MAPPING_START_EVENT:
    if (ev->data.mapping_start.anchor) anchor = xstrdup((const char *)ev->data.mapping_start.anchor);
    yaml_event_delete(ev);
    v = load_mapping(c, depth);
    break;
  default:
    yaml_event_delete(ev);
    kyaml_fail(c, "%s", "unexpected event");
    break;
  }
  if (v && anchor) anchor_set(c, anchor, v);
  free(anchor);
  return v;
}

/* Returns the root of the next document in *out (NULL for an empty one);
 * 1 when a document was read, 0 at stream end, -1 on error. */
static int load_document(struct kyaml_ctx *c, json_t **out)
{
  yaml_event_t ev;
  *out = NULL;
  if (!next_event(c, &ev)) return -1;
  if (ev.type == YAML_STREAM_START_EVENT) {
    yaml_event_delete(&ev);
    if (!next_event(c, &ev)) return -1;
  }
  if (ev.type == YAML_STREAM_END_EVENT) {
    yaml_event_delete(&ev);
    return 0;
  }
  if (ev.type != YAML_DOCUMENT_START_EVENT) {
    yaml_event_delete(&ev);
    kyaml_fail(c, "%s", "expected document start");
    return -1;
  }
  yaml_event_delete(&ev);
  if (!next_event(c, &ev)) return -1;
  if (ev.type != YAML_DOCUMENT_END_EVENT) {
    *out = load_node(c, &ev, 0);
    if (!*out) return -1;
    if (!next_event(c, &ev)) goto fail;
    if (ev.type != YAML_DOCUMENT_END_EVENT) {
      yaml_event_delete(&ev);
      kyaml_fail(c, "%s", "expected document end");
      goto fail;
    }
  }
  yaml_event_delete(&ev);
  /* Anchors are scoped to their document. */
  for (size_t i = 0; i < c->nanchors; i++) {
    free(c->anchors[i].name);
    json_decref(c->anchors[i].value);
  }
  c->nanchors = 0;
  return 1;
fail:
  json_decref(*out);
  *out = NULL;
  return -1;
}

json_t *kyaml_load_all(const char *buf, size_t len, char *err, size_t errlen)
{
  struct kyaml_ctx c = {.err = err, .errlen = errlen};
  json_t *docs = json_array();
  if (err && errlen) err[0] = '\0';
  if (!docs || !yaml_parser_initialize(&c.parser)) {
    json_decref(docs);
    return NULL;
  }
  yaml_parser_set_input_string(&c.parser, (const unsigned char *)buf, len);
  for (;;) {
    json_t *doc;
    int rc = load_document(&c, &doc);
    if (rc < 0) {
      json_decref(docs);
      docs = NULL;
      break;
    }
    if (rc == 0) break;
    if (doc && !json_is_null(doc)) json_array_append_new(docs, doc);
    else json_decref(doc);
  }
  for (size_t i = 0; i < c.nanchors; i++) {
    free(c.anchors[i].name);
    json_decref(c.anchors[i].value);
  }
  free(c.anchors);
  yaml_parser_delete(&c.parser);
  return docs;
}

json_t *kyaml_load(const char *buf, size_t len, char *err, size_t errlen)
{
  json_t *docs = kyaml_load_all(buf, len, err, errlen);
  if (!docs) return NULL;
  json_t *first = json_incref(json_array_get(docs, 0));
  json_decref(docs);
  if (!first && err && errlen) snprintf(err, errlen, "yaml: no document found");
  return first;
}

/* ---- dumping ---- */

struct outbuf {
  char *data;
  size_t len, cap;
};

static int write_handler(void *data, unsigned char *buffer, size_t size)
{
  struct outbuf *o = data;
  if (o->len + size + 1 > o->cap) {
    size_t ncap = (o->cap ? o->cap * 2 : 1024);
    while (ncap < o->len + size + 1) ncap *= 2;
    char *nd = xrealloc(o->data, ncap);
    if (!nd) return 0;
    o->data = nd;
    o->cap = ncap;
  }
  memcpy(o->data + o->len, buffer, size);
  o->len += size;
  o->data[o->len] = '\0';
  return 1;
}

static bool emit_scalar(yaml_emitter_t *e, const char *s, yaml_scalar_style_t style)
{
  yaml_event_t ev;
  if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 1, style)) return false;
  return yaml_emitter_emit(e, &ev) != 0;
}

/* YAML 1.1 sexagesimal numbers ("1:20"); go-yaml quotes them on output so
 * that other parsers do not read a number. */
static bool is_base60_float(const char *s)
{
  const char *p = s;
  if (*p == '+' || *p == '-') p++;
  if (*p < '0' || *p > '9') return false;
  while ((*p >= '0' && *p <= '9') || *p == '_') p++;
  int groups = 0;
  while (*p == ':') {
    p++;
    int d = 0;
    while (*p >= '0' && *p <= '9' && d < 2) p++, d++;
    if (d == 0 || (d == 2 && p[-2] > '5')) return false;
    groups++;
  }
  if (groups == 0) return false;
  if (*p == '.') {
    p++;
    while ((*p >= '0' && *p <= '9') || *p == '_') p++;
  }
  return *p == '\0';
}

/* go-yaml v2 reads "2001-12-14" (and date-times) as timestamps, so it
 * quotes such strings on output; the test mirrors its YYYY- quick check. */
static bool looks_like_timestamp(const char *s)
{
  for (int i = 0; i < 4; i++)
    if (s[i] < '0' || s[i] > '9') return false;
  return s[4] == '-' && s[5] >= '0' && s[5] <= '9';
}

static bool emit_string(yaml_emitter_t *e, const char *s)
{
  yaml_scalar_style_t style = YAML_PLAIN_SCALAR_STYLE;
  if (strchr(s, '\n')) {
    style = YAML_LITERAL_SCALAR_STYLE;
  } else {
    json_t *typed = resolve_plain(s);
    /* Plain "<<" is the merge key, not a string: go-yaml quotes it too. */
    if (!json_is_string(typed) || is_base60_float(s) || looks_like_timestamp(s) || strcmp(s, "<<") == 0)
      style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
    json_decref(typed);
  }
  /* libyaml itself falls back to quoting when plain style cannot carry the
   * text (leading indicators, ": ", " #", surrounding spaces...). */
  return emit_scalar(e, s, style);
}

static bool emit_value(yaml_emitter_t *e, const json_t *v)
{
  yaml_event_t ev;
  char buf[64];
  switch (json_typeof(v)) {
  case JSON_OBJECT: {
    const char *k;
    json_t *x;
    if (!yaml_mapping_start_event_initialize(
            &ev, NULL, NULL, 1, json_object_size(v) ? YAML_BLOCK_MAPPING_STYLE : YAML_FLOW_MAPPING_STYLE) ||
        !yaml_emitter_emit(e, &ev))
      return false;
    json_object_foreach ((json_t *)v, k, x) {
      if (!emit_string(e, k) || !emit_value(e, x)) return false;
    }
    return yaml_mapping_end_event_initialize(&ev) && yaml_emitter_emit(e, &ev);
  }
  case JSON_ARRAY: {
    size_t i;
    json_t *x;
    if (!yaml_sequence_start_event_initialize(
            &ev, NULL, NULL, 1, json_array_size(v) ? YAML_BLOCK_SEQUENCE_STYLE : YAML_FLOW_SEQUENCE_STYLE) ||
        !yaml_emitter_emit(e, &ev))
      return false;
    json_array_foreach (v, i, x) {
      if (!emit_value(e, x)) return false;
    }
    return yaml_sequence_end_event_initialize(&ev) && yaml_emitter_emit(e, &ev);
  }
  case JSON_STRING: return emit_string(e, json_string_value(v));
  case JSON_INTEGER:
    snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
    return emit_scalar(e, buf, YAML_PLAIN_SCALAR_STYLE);
  case JSON_REAL:
    kstr_format_float(json_real_value(v), buf, sizeof buf);
    return emit_scalar(e, buf, YAML_PLAIN_SCALAR_STYLE);
  case JSON_TRUE: return emit_scalar(e, "true", YAML_PLAIN_SCALAR_STYLE);
  case JSON_FALSE: return emit_scalar(e, "false", YAML_PLAIN_SCALAR_STYLE);
  case JSON_NULL: return emit_scalar(e, "null", YAML_PLAIN_SCALAR_STYLE);
  }
  return false;
}

char *kyaml_dump(const json_t *v)
{
  yaml_emitter_t e;
  yaml_event_t ev;
  struct outbuf o = {0};
  bool ok;
  if (!v || !yaml_emitter_initialize(&e)) return NULL;
  yaml_emitter_set_output(&e, write_handler, &o);
  yaml_emitter_set_unicode(&e, 1);
  yaml_emitter_set_indent(&e, 2);
  ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) && yaml_emitter_emit(&e, &ev) &&
       yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) && yaml_emitter_emit(&e, &ev) &&
       emit_value(&e, v) && yaml_document_end_event_initialize(&ev, 1) && yaml_emitter_emit(&e, &ev) &&
       yaml_stream_end_event_initialize(&ev) && yaml_emitter_emit(&e, &ev) && yaml_emitter_flush(&e);
  yaml_emitter_delete(&e);
  if (!ok) {
    free(o.data);
    return NULL;
  }
  if (!o.data) o.data = xstrdup("");
  return o.data;
}
