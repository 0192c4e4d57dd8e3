/*
 * json.c - path access and serialization helpers over jansson.
 *
 * A path is compiled into a short list of steps before it is walked: a step
 * is either an object key or an array index.  Keys are separated by dots;
 * "[N]" indexes an array; ["key"] names a key that contains dots, slashes
 * or brackets (label keys such as app.kubernetes.io/name), with \" and \\
 * escapes inside the quotes.  Readers return borrowed references and never
 * allocate beyond the step list; writers create intermediate objects (never
 * arrays) and treat an explicit JSON null like an absent member, because
 * clients routinely send "labels": null.
 */
#include "kube/json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kj_step {
  char *key;    /* NULL for an index step */
  size_t index;
};

struct kj_path {
  struct kj_step *steps;
  size_t n;
};

static void kj_path_free(struct kj_path *p)
{
  for (size_t i = 0; i < p->n; i++)
    free(p->steps[i].key);
  free(p->steps);
  p->steps = NULL;
  p->n = 0;
}

static int kj_path_push(struct kj_path *p, char *key, size_t index)
{
  struct kj_step *s = realloc(p->steps, (p->n + 1) * sizeof *s);
  if (!s) {
    free(key);
    return -ENOMEM;
  }
  p->steps = s;
  s[p->n].key = key;
  s[p->n].index = index;
  p->n++;
  return 0;
}

/* Returns 0 or -EINVAL for a malformed path (empty segment, bad index,
 * unterminated quote). */
static int kj_path_compile(const char *path, struct kj_path *out)
{
  const char *p = path;
  out->steps = NULL;
  out->n = 0;
  if (!path || !*path)
    return -EINVAL;
  for (;;) {
    if (*p == '[') {
      p++;
      if (*p == '"') {
        p++;
        size_t cap = strlen(p) + 1, o = 0;
        char *key = malloc(cap);
        if (!key)
          goto nomem;
        while (*p && *p != '"') {
          if (*p == '\\' && p[1])
            p++;
          key[o++] = *p++;
        }
        key[o] = '\0';
        if (p[0] != '"' || p[1] != ']') {
          free(key);
          goto bad;
        }
        p += 2;
        if (kj_path_push(out, key, 0) < 0)
          goto nomem;
      } else {
        if (*p < '0' || *p > '9')
          goto bad;
        size_t idx = 0;
        while (*p >= '0' && *p <= '9') {
          if (idx > (SIZE_MAX - 9) / 10)
            goto bad;
          idx = idx * 10 + (size_t)(*p++ - '0');
        }
        if (*p++ != ']')
          goto bad;
        if (kj_path_push(out, NULL, idx) < 0)
          goto nomem;
      }
    } else {
      size_t len = strcspn(p, ".[");
      if (len == 0)
        goto bad;
      char *key = strndup(p, len);
      if (!key || kj_path_push(out, key, 0) < 0)
        goto nomem;
      p += len;
    }
    if (*p == '\0')
      return 0;
    if (*p == '.') {
      p++;
      if (*p == '\0' || *p == '.')
        goto bad;
    } else if (*p != '[') {
      goto bad;
    }
  }
bad:
  kj_path_free(out);
  return -EINVAL;
nomem:
  kj_path_free(out);
  return -ENOMEM;
}

static json_t *kj_step_get(const json_t *cur, const struct kj_step *s)
{
  if (s->key)
    return json_is_object(cur) ? json_object_get(cur, s->key) : NULL;
  return json_is_array(cur) ? json_array_get(cur, s->index) : NULL;
}

json_t *kj_get(const json_t *root, const char *path)
{
  struct kj_path p;
  if (!root || kj_path_compile(path, &p) < 0)
    return NULL;
  json_t *cur = (json_t *)root;
  for (size_t i = 0; i < p.n && cur; i++)
    cur = kj_step_get(cur, &p.steps[i]);
  kj_path_free(&p);
  return cur;
}

const char *kj_get_str(const json_t *root, const char *path)
{
  json_t *v = kj_get(root, path);
  return json_is_string(v) ? json_string_value(v) : NULL;
}

int64_t kj_get_int(const json_t *root, const char *path, int64_t dflt)
{
  json_t *v = kj_get(root, path);
  if (json_is_integer(v))
    return (int64_t)json_integer_value(v);
  if (json_is_real(v)) {
    double d = json_real_value(v);
    if (d >= -9.2e18 && d <= 9.2e18 && d == (double)(int64_t)d)
      return (int64_t)d;
  }
  return dflt;
}

bool kj_get_bool(const json_t *root, const char *path, bool dflt)
{
  json_t *v = kj_get(root, path);
  return json_is_boolean(v) ? json_is_true(v) : dflt;
}

/*
 * Walks to the container holding the last step, creating objects on the
 * way.  Returns the parent (borrowed) or NULL with *rc set.
 */
static json_t *kj_walk_parent(json_t *root, const struct kj_path *p, int *rc)
{
  json_t *cur = root;
  for (size_t i = 0; i + 1 < p->n; i++) {
    const struct kj_step *s = &p->steps[i];
    json_t *next;
    if (s->key) {
      if (!json_is_object(cur)) {
        *rc = -EINVAL;
        return NULL;
      }
      next = json_object_get(cur, s->key);
      if (!next || json_is_null(next)) {
        /* The next step decides what we would need to create; only objects
         * can be made up, since an index into a fresh array is out of range. */
        if (!p->steps[i + 1].key) {
          *rc = -ENOENT;
          return NULL;
        }
        next = json_object();
        if (!next || json_object_set_new(cur, s->key, next) < 0) {
          *rc = -ENOMEM;
          return NULL;
        }
      }
    } else {
      if (!json_is_array(cur)) {
        *rc = -EINVAL;
        return NULL;
      }
      next = json_array_get(cur, s->index);
      if (!next) {
        *rc = -ENOENT;
        return NULL;
      }
    }
    cur = next;
  }
  return cur;
}

/* Stores value (stolen on every path) as the last step under parent. */
static int kj_put(json_t *parent, const struct kj_step *last, json_t *value)
{
  if (last->key) {
    if (!json_is_object(parent)) {
      json_decref(value);
      return -EINVAL;
    }
    return json_object_set_new(parent, last->key, value) < 0 ? -ENOMEM : 0;
  }
  if (!json_is_array(parent)) {
    json_decref(value);
    return -EINVAL;
  }
  size_t size = json_array_size(parent);
  if (last->index < size)
    return json_array_set_new(parent, last->index, value) < 0 ? -ENOMEM : 0;
  if (last->index == size)
    return json_array_append_new(parent, value) < 0 ? -ENOMEM : 0;
  json_decref(value);
  return -ENOENT;
}

int kj_set(json_t *root, const char *path, json_t *value)
{
  struct kj_path p;
  int rc = 0;
  if (!value)
    return -EINVAL;
  if (!root || (rc = kj_path_compile(path, &p)) < 0) {
    json_decref(value);
    return rc < 0 ? rc : -EINVAL;
  }
  json_t *parent = kj_walk_parent(root, &p, &rc);
  if (!parent) {
    json_decref(value);
    kj_path_free(&p);
    return rc;
  }
  rc = kj_put(parent, &p.steps[p.n - 1], value);
  kj_path_free(&p);
  return rc;
}

int kj_set_str(json_t *root, const char *path, const char *s)
{
  return kj_set(root, path, s ? json_string(s) : json_null());
}

int kj_set_int(json_t *root, const char *path, int64_t v)
{
  return kj_set(root, path, json_integer((json_int_t)v));
}

int kj_default(json_t *root, const char *path, json_t *value)
{
  json_t *cur = kj_get(root, path);
  if (cur && !json_is_null(cur)) {
    json_decref(value);
    return 0;
  }
  int rc = kj_set(root, path, value);
  return rc < 0 ? rc : 1;
}

int kj_del(json_t *root, const char *path)
{
  struct kj_path p;
  int rc;
  if (!root || (rc = kj_path_compile(path, &p)) < 0)
    return -EINVAL;
  json_t *parent = root;
  for (size_t i = 0; i + 1 < p.n && parent; i++)
    parent = kj_step_get(parent, &p.steps[i]);
  const struct kj_step *last = &p.steps[p.n - 1];
  rc = -ENOENT;
  if (parent && last->key && json_is_object(parent))
    rc = json_object_del(parent, last->key) == 0 ? 0 : -ENOENT;
  else if (parent && !last->key && json_is_array(parent))
    rc = json_array_remove(parent, last->index) == 0 ? 0 : -ENOENT;
  kj_path_free(&p);
  return rc;
}

static json_t *kj_container(json_t *root, const char *path, bool want_object)
{
  json_t *cur = kj_get(root, path);
  if (cur && !json_is_null(cur)) {
    if (want_object ? json_is_object(cur) : json_is_array(cur))
      return cur;
    return NULL;
  }
  json_t *fresh = want_object ? json_object() : json_array();
  if (!fresh)
    return NULL;
  json_incref(fresh);
  if (kj_set(root, path, fresh) < 0) {
    json_decref(fresh);
    return NULL;
  }
  /* The tree now owns it; drop our extra hold and hand out a borrowed one. */
  json_decref(fresh);
  return fresh;
}

json_t *kj_obj(json_t *root, const char *path) { return kj_container(root, path, true); }

json_t *kj_arr(json_t *root, const char *path) { return kj_container(root, path, false); }

char *kj_dumps(const json_t *v)
{
  return v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
}

char *kj_dumps_canonical(const json_t *v)
{
  return v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
}

bool kj_equal(const json_t *a, const json_t *b)
{
  return json_equal(a, b) != 0;
}

json_t *kj_loadb(const char *buf, size_t len, bool reject_duplicates, char *err, size_t errlen)
{
  json_error_t je;
  size_t flags = JSON_DECODE_ANY;
  if (reject_duplicates)
    flags |= JSON_REJECT_DUPLICATES;
  json_t *v = json_loadb(buf, len, flags, &je);
  if (!v && err && errlen)
    snprintf(err, errlen, "line %d column %d: %s", je.line, je.column, je.text);
  return v;
}
