/*
 * dups.c - every duplicate key of a JSON document, with its path.
 *
 * Upstream's strict decoding reports each repeated key of a request body
 * (`duplicate field "spec.replicas"`, `duplicate field
 * "spec.containers[0].name"`), while jansson stops at the first one.  When
 * jansson has found a duplicate, this scanner walks the document's bytes
 * once more and lists them all.  It runs only on documents jansson has
 * already parsed with duplicates allowed, so the input is well-formed JSON
 * and the scanner only has to follow the nesting: strings are skipped
 * with their escapes, scalars up to the next delimiter.  Keys with escapes
 * are unescaped by jansson before they are compared.
 */
#define _GNU_SOURCE
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>
#include <kube/xalloc.h>

#define DUPS_MAX_DEPTH 512

struct dscan {
  const char *p, *end;
  char *path;
  size_t len, cap;
  json_t *out;
};

static void ws(struct dscan *d)
{
  while (d->p < d->end && (*d->p == ' ' || *d->p == '\t' || *d->p == '\n' || *d->p == '\r')) d->p++;
}

static void path_push(struct dscan *d, const char *fmt, const char *s, size_t n)
{
  size_t need = d->len + n + 32;
  if (need > d->cap) {
    d->cap = need * 2;
    d->path = xrealloc(d->path, d->cap);
    if (!d->path) abort();
  }
  d->len += (size_t)snprintf(d->path + d->len, d->cap - d->len, fmt, (int)n, s);
}

/* Skips a string at d->p (on the opening quote); returns its raw span. */
static const char *skip_string(struct dscan *d, size_t *rawlen)
{
  const char *start = ++d->p;
  while (d->p < d->end && *d->p != '"') d->p += *d->p == '\\' ? 2 : 1;
  *rawlen = (size_t)(d->p - start);
  if (d->p < d->end) d->p++;
  return start;
}

/* New string: the key's value, unescaped when it has escapes. */
static json_t *key_value(const char *raw, size_t n)
{
  if (!memchr(raw, '\\', n)) return json_stringn(raw, n);
  json_t *k = kj_loadb(raw - 1, n + 2, false, NULL, 0);
  if (!json_is_string(k)) {
    json_decref(k);
    return json_stringn(raw, n);
  }
  return k;
}

static void scan_value(struct dscan *d, int depth);

static void scan_object(struct dscan *d, int depth)
{
  json_t *seen = json_object();
  size_t mark = d->len;
  d->p++;
  for (;;) {
    ws(d);
    if (d->p >= d->end || *d->p == '}') break;
    if (*d->p == ',') {
      d->p++;
      continue;
    }
    if (*d->p != '"') break;
    size_t n;
    const char *raw = skip_string(d, &n);
    json_t *k = key_value(raw, n);
    const char *ks = json_string_value(k);
    if (mark) path_push(d, ".%.*s", ks, json_string_length(k));
    else path_push(d, "%.*s", ks, json_string_length(k));
    if (json_object_get(seen, ks)) json_array_append_new(d->out, json_string(d->path));
    else json_object_set_new(seen, ks, json_true());
    json_decref(k);
    ws(d);
    if (d->p < d->end && *d->p == ':') d->p++;
    scan_value(d, depth + 1);
    d->len = mark;
    d->path[mark] = '\0';
  }
  if (d->p < d->end) d->p++;
  json_decref(seen);
}

static void scan_array(struct dscan *d, int depth)
{
  size_t mark = d->len, i = 0;
  d->p++;
  for (;;) {
    ws(d);
    if (d->p >= d->end || *d->p == ']') break;
    if (*d->p == ',') {
      d->p++;
      continue;
    }
    char idx[32];
    int l = snprintf(idx, sizeof idx, "%zu", i++);
    path_push(d, "[%.*s]", idx, (size_t)l);
    scan_value(d, depth + 1);
    d->len = mark;
    d->path[mark] = '\0';
  }
  if (d->p < d->end) d->p++;
}

static void scan_value(struct dscan *d, int depth)
{
  ws(d);
  if (d->p >= d->end) return;
  if (depth > DUPS_MAX_DEPTH) {
    d->p = d->end;
    return;
  }
  size_t n;
  switch (*d->p) {
  case '{': scan_object(d, depth); return;
  case '[': scan_array(d, depth); return;
  case '"': skip_string(d, &n); return;
  default:
    while (d->p < d->end && !strchr(",}] \t\r\n", *d->p)) d->p++;
  }
}

json_t *api_json_duplicates(const char *buf, size_t len)
{
  struct dscan d = {.p = buf, .end = buf + len, .cap = 256, .out = json_array()};
  d.path = xmalloc(d.cap);
  if (!d.path) abort();
  d.path[0] = '\0';
  scan_value(&d, 0);
  free(d.path);
  return d.out;
}
