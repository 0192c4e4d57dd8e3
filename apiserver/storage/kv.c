/*
 * kv.c - stored values and their selector attributes.
 *
 * A struct kv is immutable once built and reference counted; the current
 * state and every history entry that mentions it share one copy.  It is a
 * single allocation: the header, then the key, the JSON bytes and the
 * attrs block, so a value costs its bytes plus a few dozen bytes.
 *
 * Attributes are the few fields list and watch filter on (labels "l:",
 * selectable fields "f:"), kept as "name=value\0...\0\0" so a selector
 * match is a scan over a short string instead of a JSON parse.
 */
#include <stdlib.h>
#include <string.h>

#include "storage/storage_internal.h"
#include "kube/xalloc.h"

size_t kv_attrs_len(const char *attrs)
{
  if (!attrs) return 0;
  const char *p = attrs;
  while (*p) p += strlen(p) + 1;
  return (size_t)(p - attrs) + 1;
}

struct kv *kv_new(const char *key, const char *bytes, size_t len, const char *attrs, int64_t mod_rev,
                  int64_t create_rev)
{
  size_t klen = strlen(key) + 1;
  size_t alen = kv_attrs_len(attrs);
  struct kv *kv = xmalloc(sizeof(*kv) + klen + len + 1 + (alen ? alen : 1));
  if (!kv) return NULL;
  char *p = (char *)(kv + 1);
  kv->refcnt = 1;
  kv->mod_rev = mod_rev;
  kv->create_rev = create_rev;
  kv->stale = false;
  kv->key = p;
  memcpy(p, key, klen);
  p += klen;
  kv->bytes = p;
  memcpy(p, bytes, len);
  p[len] = '\0';
  kv->len = len;
  p += len + 1;
  kv->attrs = p;
  if (alen) memcpy(p, attrs, alen);
  else p[0] = '\0';
  return kv;
}

void kv_ref(struct kv *kv)
{
  if (kv) kv->refcnt++;
}

void kv_unref(struct kv *kv)
{
  if (kv && --kv->refcnt == 0) free(kv);
}

static const char *kv_attr(const struct kv *kv, char kind, const char *name)
{
  if (!kv || !kv->attrs || !name) return NULL;
  size_t nlen = strlen(name);
  for (const char *p = kv->attrs; *p; p += strlen(p) + 1) {
    if (p[0] == kind && p[1] == ':' && strncmp(p + 2, name, nlen) == 0 && p[2 + nlen] == '=') return p + 3 + nlen;
  }
  return NULL;
}

const char *kv_label(void *kv, const char *key) { return kv_attr(kv, 'l', key); }

const char *kv_field(void *kv, const char *field) { return kv_attr(kv, 'f', field); }

/* Appends "<kind>:<name>=<value>\0" to the buffer, growing it. */
static int attrs_add(char **buf, size_t *len, size_t *cap, char kind, const char *name, const char *value)
{
  size_t nlen = strlen(name), vlen = strlen(value);
  size_t need = *len + nlen + vlen + 5;
  if (need > *cap) {
    size_t ncap = *cap ? *cap : 64;
    while (ncap < need) ncap *= 2;
    char *nb = xrealloc(*buf, ncap);
    if (!nb) return -1;
    *buf = nb;
    *cap = ncap;
  }
  char *p = *buf + *len;
  *p++ = kind;
  *p++ = ':';
  memcpy(p, name, nlen);
  p += nlen;
  *p++ = '=';
  memcpy(p, value, vlen);
  p += vlen;
  *p++ = '\0';
  *len = (size_t)(p - *buf);
  return 0;
}

char *storage_attrs_build(const json_t *labels, const char *const *fields)
{
  char *buf = NULL;
  size_t len = 0, cap = 0;
  if (json_is_object(labels)) {
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)labels, k, v) {
      const char *s = json_is_string(v) ? json_string_value(v) : "";
      if (attrs_add(&buf, &len, &cap, 'l', k, s) < 0) goto oom;
    }
  }
  for (size_t i = 0; fields && fields[i]; i += 2) {
    const char *val = fields[i + 1] ? fields[i + 1] : "";
    if (attrs_add(&buf, &len, &cap, 'f', fields[i], val) < 0) goto oom;
  }
  char *nb = xrealloc(buf, len + 1);
  if (!nb) goto oom;
  nb[len] = '\0';
  return nb;
oom:
  free(buf);
  return NULL;
}
