/*
 * patch.c - JSON merge patch (RFC 7386) and JSON patch (RFC 6902).
 *
 * Both work on a deep copy of the original document, so a failed patch
 * leaves the caller's tree untouched and a successful one hands back a new
 * reference; the caller swaps it in.  Merge patch is the small recursive
 * definition of the RFC: an object patch merges key by key (null deletes),
 * anything else replaces.  JSON patch resolves each operation's JSON pointer
 * (RFC 6901: "/"-separated tokens, "~1" for "/", "~0" for "~", "-" for the
 * end of an array) to a parent container plus a final token, then applies
 * the operation there.  Operations run in order; the first failure aborts
 * the whole patch with a message naming the operation and the path, the
 * way kubectl shows it to users.
 *
 * Strategic merge patch lives in patch_strategic.c.
 */
#include "kube/json.h"
#include "kube/patch.h"
#include "kube/xalloc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- equality ---------------------------------------------------------- */

bool patch_value_equal(const json_t *a, const json_t *b)
{
  if (a == b) return true;
  if (!a || !b) return false;
  if (json_is_number(a) && json_is_number(b)) {
    if (json_is_integer(a) && json_is_integer(b)) return json_integer_value(a) == json_integer_value(b);
    return json_number_value(a) == json_number_value(b);
  }
  if (json_typeof(a) != json_typeof(b)) return false;
  switch (json_typeof(a)) {
  case JSON_OBJECT: {
    if (json_object_size(a) != json_object_size(b)) return false;
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)a, k, v) {
      if (!patch_value_equal(v, json_object_get(b, k))) return false;
    }
    return true;
  }
  case JSON_ARRAY: {
    size_t n = json_array_size(a);
    if (n != json_array_size(b)) return false;
    for (size_t i = 0; i < n; i++)
      if (!patch_value_equal(json_array_get(a, i), json_array_get(b, i))) return false;
    return true;
  }
  case JSON_STRING:
    return json_string_length(a) == json_string_length(b) &&
           memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
  default: /* true, false, null: same type means same value */ return true;
  }
}

/* ---- RFC 7386 ---------------------------------------------------------- */

/* Steals target (may be NULL); returns a new reference. */
static json_t *merge_into(json_t *target, const json_t *patch)
{
  if (!json_is_object(patch)) {
    json_decref(target);
    return kj_deep_copy(patch);
  }
  if (!json_is_object(target)) {
    json_decref(target);
    target = json_object();
    if (!target) return NULL;
  }
  const char *k;
  json_t *pv;
  json_object_foreach ((json_t *)patch, k, pv) {
    if (json_is_null(pv)) {
      json_object_del(target, k);
      continue;
    }
    json_t *cur = json_object_get(target, k);
    json_incref(cur);
    json_t *merged = merge_into(cur, pv);
    if (!merged || json_object_set_new(target, k, merged) < 0) {
      json_decref(target);
      return NULL;
    }
  }
  return target;
}

json_t *patch_merge(const json_t *orig, const json_t *patch)
{
  if (!patch) return orig ? kj_deep_copy(orig) : json_null();
  json_t *target = orig ? kj_deep_copy(orig) : NULL;
  return merge_into(target, patch);
}

/* ---- RFC 6901 pointers ------------------------------------------------- */

/* Decode one reference token (between slashes) into a fresh string. */
static char *ptr_token(const char *s, size_t len, bool *bad)
{
  char *out = xmalloc(len + 1);
  if (!out) return NULL;
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '~') {
      if (i + 1 < len && s[i + 1] == '0') out[o++] = '~';
      else if (i + 1 < len && s[i + 1] == '1') out[o++] = '/';
      else {
        *bad = true;
        free(out);
        return NULL;
      }
      i++;
    } else {
      out[o++] = s[i];
    }
  }
  out[o] = '\0';
  return out;
}

/* Array index per RFC 6901: "0" or digits without a leading zero. */
static int ptr_index(const char *tok, size_t *idx)
{
  if (!*tok || (tok[0] == '0' && tok[1]) || strlen(tok) > 18) return -1;
  size_t v = 0;
  for (const char *p = tok; *p; p++) {
    if (*p < '0' || *p > '9') return -1;
    v = v * 10 + (size_t)(*p - '0');
  }
  *idx = v;
  return 0;
}

/* A resolved pointer: the container holding the target and the last token.
 * For the empty pointer (the whole document) parent is NULL. */
struct jp_loc {
  json_t *parent; /* borrowed */
  char *last;     /* owned, decoded */
};

enum { JP_OK = 0, JP_BADPTR = -1, JP_NOTFOUND = -2, JP_NOMEM = -3 };

static int jp_resolve(json_t *doc, const char *ptr, struct jp_loc *loc)
{
  loc->parent = NULL;
  loc->last = NULL;
  if (!*ptr) return JP_OK;
  if (ptr[0] != '/') return JP_BADPTR;
  json_t *cur = doc;
  const char *p = ptr + 1;
  for (;;) {
    const char *slash = strchr(p, '/');
    size_t len = slash ? (size_t)(slash - p) : strlen(p);
    bool bad = false;
    char *tok = ptr_token(p, len, &bad);
    if (!tok) return bad ? JP_BADPTR : JP_NOMEM;
    if (!slash) {
      loc->parent = cur;
      loc->last = tok;
      return JP_OK;
    }
    json_t *next = NULL;
    if (json_is_object(cur)) {
      next = json_object_get(cur, tok);
    } else if (json_is_array(cur)) {
      size_t i;
      if (ptr_index(tok, &i) == 0) next = json_array_get(cur, i);
    }
    free(tok);
    if (!next) return JP_NOTFOUND;
    cur = next;
    p = slash + 1;
  }
}

/* Borrowed value at the location, or NULL. */
static json_t *jp_get(json_t *doc, const struct jp_loc *loc)
{
  if (!loc->parent) return doc;
  if (json_is_object(loc->parent)) return json_object_get(loc->parent, loc->last);
  if (json_is_array(loc->parent)) {
    size_t i;
    if (ptr_index(loc->last, &i) == 0) return json_array_get(loc->parent, i);
  }
  return NULL;
}

/* ---- RFC 6902 ---------------------------------------------------------- */

/* Bytes (compact JSON) that the "copy" operations of one patch may add, as
 * upstream's JSONPatchMaxCopyBytes: without a bound, each copy of a value
 * onto itself doubles it, and a few hundred bytes of operations would ask
 * for terabytes. */
#define PATCH_JSON_MAX_COPY_BYTES ((size_t)3 << 20)

struct jp_state {
  json_t *doc; /* owned working copy */
  char *err;
  size_t errlen;
  size_t opno;
  size_t copied; /* bytes added by "copy" operations so far */
};

__attribute__((format(printf, 2, 3))) static void jp_err(struct jp_state *st, const char *fmt, ...)
{
  if (!st->err || !st->errlen) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(st->err, st->errlen, fmt, ap);
  va_end(ap);
}

static int jp_resolve_or_err(struct jp_state *st, const char *op, const char *ptr, struct jp_loc *loc)
{
  int rc = jp_resolve(st->doc, ptr, loc);
  if (rc == JP_BADPTR) jp_err(st, "%s operation: invalid JSON pointer \"%s\"", op, ptr);
  else if (rc == JP_NOTFOUND) jp_err(st, "%s operation does not apply: path %s not found", op, ptr);
  else if (rc == JP_NOMEM) jp_err(st, "%s operation: out of memory", op);
  return rc;
}

/* Insert or set value (stolen) at loc. */
static int jp_put(struct jp_state *st, const char *op, const char *ptr, struct jp_loc *loc, json_t *value)
{
  if (!loc->parent) {
    json_decref(st->doc);
    st->doc = value;
    return 0;
  }
  if (json_is_object(loc->parent)) {
    if (json_object_set_new(loc->parent, loc->last, value) < 0) {
      jp_err(st, "%s operation: cannot set %s", op, ptr);
      return -EINVAL;
    }
    return 0;
  }
  if (json_is_array(loc->parent)) {
    size_t n = json_array_size(loc->parent), i;
    if (strcmp(loc->last, "-") == 0) i = n;
    else if (ptr_index(loc->last, &i) < 0 || i > n) {
      json_decref(value);
      jp_err(st, "%s operation does not apply: index out of range in path %s", op, ptr);
      return -ENOENT;
    }
    if (json_array_insert_new(loc->parent, i, value) < 0) {
      jp_err(st, "%s operation: cannot insert at %s", op, ptr);
      return -ENOMEM;
    }
    return 0;
  }
  json_decref(value);
  jp_err(st, "%s operation does not apply: parent of %s is not an object or array", op, ptr);
  return -ENOENT;
}

/* Remove the target at loc; *out receives it as a new reference if wanted. */
static int jp_take(struct jp_state *st, const char *op, const char *ptr, struct jp_loc *loc, json_t **out)
{
  json_t *v = jp_get(st->doc, loc);
  if (!v) {
    jp_err(st, "%s operation does not apply: path %s not found", op, ptr);
    return -ENOENT;
  }
  if (!loc->parent) {
    jp_err(st, "%s operation: cannot remove the whole document (path \"%s\")", op, ptr);
    return -EINVAL;
  }
  if (out) *out = json_incref(v);
  if (json_is_object(loc->parent)) {
    json_object_del(loc->parent, loc->last);
  } else {
    size_t i = 0;
    ptr_index(loc->last, &i);
    json_array_remove(loc->parent, i);
  }
  return 0;
}

static const char *op_str_member(const json_t *op, const char *name)
{
  return json_string_value(json_object_get(op, name));
}

static int jp_apply_one(struct jp_state *st, const json_t *op)
{
  char opname[64];
  snprintf(opname, sizeof opname, "%zu", st->opno);
  if (!json_is_object(op)) {
    jp_err(st, "invalid JSON patch: operation %s is not an object", opname);
    return -EINVAL;
  }
  const char *kind = op_str_member(op, "op");
  const char *path = op_str_member(op, "path");
  if (!kind) {
    jp_err(st, "invalid JSON patch: operation %s has no \"op\"", opname);
    return -EINVAL;
  }
  if (!path) {
    jp_err(st, "invalid JSON patch: %s operation has no \"path\"", kind);
    return -EINVAL;
  }
  const json_t *value = json_object_get(op, "value");
  const char *from = op_str_member(op, "from");
  struct jp_loc loc = {0}, floc = {0};
  int rc = -EINVAL;

  bool needs_value = !strcmp(kind, "add") || !strcmp(kind, "replace") || !strcmp(kind, "test");
  bool needs_from = !strcmp(kind, "move") || !strcmp(kind, "copy");
  if (!needs_value && !needs_from && strcmp(kind, "remove") != 0) {
    jp_err(st, "invalid JSON patch: unknown operation \"%s\"", kind);
    return -EINVAL;
  }
  if (needs_value && !value) {
    jp_err(st, "invalid JSON patch: %s operation on %s has no \"value\"", kind, path);
    return -EINVAL;
  }
  if (needs_from && !from) {
    jp_err(st, "invalid JSON patch: %s operation on %s has no \"from\"", kind, path);
    return -EINVAL;
  }
  if ((rc = jp_resolve_or_err(st, kind, path, &loc)) != 0) {
    rc = rc == JP_NOTFOUND ? -ENOENT : -EINVAL;
    goto out;
  }

  if (!strcmp(kind, "add")) {
    json_t *copy = kj_deep_copy(value);
    rc = copy ? jp_put(st, kind, path, &loc, copy) : -ENOMEM;
  } else if (!strcmp(kind, "remove")) {
    rc = jp_take(st, kind, path, &loc, NULL);
  } else if (!strcmp(kind, "replace")) {
    if (!jp_get(st->doc, &loc)) {
      jp_err(st, "replace operation does not apply: path %s not found", path);
      rc = -ENOENT;
    } else if (!loc.parent) {
      json_decref(st->doc);
      st->doc = kj_deep_copy(value);
      rc = st->doc ? 0 : -ENOMEM;
    } else if (json_is_object(loc.parent)) {
      rc = json_object_set_new(loc.parent, loc.last, kj_deep_copy(value)) ? -ENOMEM : 0;
    } else {
      size_t i = 0;
      ptr_index(loc.last, &i);
      rc = json_array_set_new(loc.parent, i, kj_deep_copy(value)) ? -ENOMEM : 0;
    }
  } else if (!strcmp(kind, "test")) {
    json_t *cur = jp_get(st->doc, &loc);
    if (!cur) {
      jp_err(st, "test operation failed: path %s not found", path);
      rc = -ENOENT;
    } else if (!patch_value_equal(cur, value)) {
      jp_err(st, "test operation failed: value at %s does not match", path);
      rc = -EINVAL;
    } else {
      rc = 0;
    }
  } else { /* move, copy */
    if ((rc = jp_resolve_or_err(st, kind, from, &floc)) != 0) {
      rc = rc == JP_NOTFOUND ? -ENOENT : -EINVAL;
      goto out;
    }
    size_t flen = strlen(from);
    if (!strcmp(kind, "move") && strncmp(path, from, flen) == 0 && path[flen] == '/') {
      jp_err(st, "move operation: cannot move %s into its own child %s", from, path);
      rc = -EINVAL;
      goto out;
    }
    json_t *v = NULL;
    if (!strcmp(kind, "move")) {
      if (!strcmp(from, path) && jp_get(st->doc, &floc)) {
        rc = 0;
        goto out;
      }
      rc = jp_take(st, kind, from, &floc, &v);
      if (rc == 0) {
        /* Removing "from" may have shifted array indexes: resolve again. */
        free(loc.last);
        rc = jp_resolve_or_err(st, kind, path, &loc);
        if (rc != 0) {
          json_decref(v);
          rc = rc == JP_NOTFOUND ? -ENOENT : -EINVAL;
          goto out;
        }
      }
    } else {
      json_t *src = jp_get(st->doc, &floc);
      if (!src) {
        jp_err(st, "copy operation does not apply: from path %s not found", from);
        rc = -ENOENT;
      } else {
        /* json_dumpb without a buffer measures without writing. */
        st->copied += json_dumpb(src, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
        if (st->copied > PATCH_JSON_MAX_COPY_BYTES) {
          jp_err(st, "Unable to complete the copy, the accumulated size increase of copy is %zu, exceeding the limit %zu",
                 st->copied, PATCH_JSON_MAX_COPY_BYTES);
          rc = -E2BIG;
        } else {
          v = kj_deep_copy(src);
          rc = v ? 0 : -ENOMEM;
        }
      }
    }
    if (rc == 0) rc = jp_put(st, kind, path, &loc, v);
  }
out:
  free(loc.last);
  free(floc.last);
  return rc;
}

json_t *patch_json(const json_t *orig, const json_t *ops, char *err, size_t errlen)
{
  struct jp_state st = {.err = err, .errlen = errlen};
  if (err && errlen) err[0] = '\0';
  if (!json_is_array(ops)) {
    jp_err(&st, "invalid JSON patch: expected an array of operations");
    return NULL;
  }
  st.doc = orig ? kj_deep_copy(orig) : json_null();
  if (!st.doc) {
    jp_err(&st, "out of memory");
    return NULL;
  }
  size_t i;
  const json_t *op;
  json_array_foreach (ops, i, op) {
    st.opno = i;
    if (jp_apply_one(&st, op) != 0) {
      json_decref(st.doc);
      return NULL;
    }
  }
  return st.doc;
}
