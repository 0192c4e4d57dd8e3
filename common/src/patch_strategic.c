/*
 * patch_strategic.c - strategic merge patch, the apply side of upstream's
 * strategicpatch package (what the API server does with a PATCH of type
 * application/strategic-merge-patch+json, and what kubectl apply's
 * client-side three-way diff produces).
 *
 * The original is deep-copied once and merged in place, so an error leaves
 * the caller's document untouched.  Merging walks the patch object key by
 * key; for every field the schema callback (smp_lookup_fn) says whether it
 * is a list, its merge key and its patch strategy:
 *   - maps merge recursively; a null value deletes the key; strategy
 *     "replace" replaces the whole map;
 *   - lists with strategy "merge" and a merge key merge element by element
 *     (matching elements merge as maps, new ones are added); lists of
 *     primitives with strategy "merge" become the union of both;
 *   - every other list, and every field of an unknown type, is replaced.
 * Directives in the patch steer this and never reach the result:
 *   $patch: replace|delete|merge  on a map (replace it, delete it, default);
 *                                 in a list element: delete that element, or
 *                                 replace the whole list with the others;
 *   $retainKeys: [k...]           drop map keys not listed (after checking
 *                                 that the patch sets only listed keys);
 *   $setElementOrder/F: [...]     final order of merged list F;
 *   $deleteFromPrimitiveList/F    values to drop from primitive list F.
 * Order of a merged list follows upstream: items named in the patch keep the
 * patch's order, items only on the server keep theirs, and the two runs are
 * interleaved by the server's order where both sides are known to it.
 */
#include "kube/json.h"
#include "kube/patch.h"
#include "kube/xalloc.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SMP_PATCH "$patch"
#define SMP_RETAIN "$retainKeys"
#define SMP_ORDER "$setElementOrder"
#define SMP_DELPRIM "$deleteFromPrimitiveList"

struct smp_ctx {
  smp_lookup_fn lookup;
  void *arg;
  char *err;
  size_t errlen;
};

/* Patch metadata of one field, as this file uses it. */
struct smp_meta {
  const void *type; /* schema handle of the field (element type for lists) */
  const char *merge_key;
  bool merge;
  bool replace;
  bool retain;
};

__attribute__((format(printf, 2, 3))) static void smp_err(struct smp_ctx *c, const char *fmt, ...)
{
  if (!c->err || !c->errlen) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->err, c->errlen, fmt, ap);
  va_end(ap);
}

/* Compact text of a value for error messages; caller frees. */
static char *smp_show(const json_t *v)
{
  char *s = kj_dumps_flags(v, JSON_COMPACT | JSON_ENCODE_ANY);
  if (s && strlen(s) > 200) strcpy(s + 196, "...");
  return s ? s : xstrdup("?");
}

static void smp_meta_get(struct smp_ctx *c, const void *type, const char *name, struct smp_meta *m)
{
  memset(m, 0, sizeof *m);
  if (!type || !c->lookup) return;
  struct smp_field f = {0};
  m->type = c->lookup(c->arg, type, name, &f);
  m->merge_key = f.merge_key && *f.merge_key ? f.merge_key : NULL;
  const char *s = f.strategy;
  while (s && *s) {
    size_t n = strcspn(s, ",");
    if (n == 5 && !strncmp(s, "merge", 5)) m->merge = true;
    else if (n == 7 && !strncmp(s, "replace", 7)) m->replace = true;
    else if (n == 10 && !strncmp(s, "retainKeys", 10)) m->retain = true;
    s += n;
    if (*s == ',') s++;
  }
}

/* Field name after "$setElementOrder/" or "$deleteFromPrimitiveList/";
 * NULL if the key is malformed. */
static const char *smp_directive_field(const char *key, const char *prefix)
{
  size_t n = strlen(prefix);
  if (strncmp(key, prefix, n) != 0 || key[n] != '/' || !key[n + 1]) return NULL;
  return key + n + 1;
}

static bool smp_has_prefix(const char *key, const char *prefix) { return strncmp(key, prefix, strlen(prefix)) == 0; }

enum smp_kind { K_NULL, K_BOOL, K_NUM, K_STR, K_ARR, K_OBJ };

static enum smp_kind smp_kind(const json_t *v)
{
  switch (json_typeof(v)) {
  case JSON_OBJECT: return K_OBJ;
  case JSON_ARRAY: return K_ARR;
  case JSON_STRING: return K_STR;
  case JSON_INTEGER:
  case JSON_REAL: return K_NUM;
  case JSON_TRUE:
  case JSON_FALSE: return K_BOOL;
  default: return K_NULL;
  }
}

/* ---- list ordering ----------------------------------------------------- */

/* Position of item in list, matching by merge key (maps) or by value. */
static long smp_index(const json_t *list, const json_t *item, const char *merge_key)
{
  const json_t *iv = merge_key ? json_object_get(item, merge_key) : item;
  if (!iv) return -1;
  size_t i;
  const json_t *e;
  json_array_foreach (list, i, e) {
    const json_t *ev = merge_key ? json_object_get(e, merge_key) : e;
    if (ev && patch_value_equal(iv, ev)) return (long)i;
  }
  return -1;
}

struct smp_item {
  json_t *v; /* borrowed */
  long key;  /* index in the order list; LONG_MAX when absent */
};

/* Stable insertion sort: lists here are short and often nearly sorted. */
static void smp_sort(struct smp_item *a, size_t n)
{
  for (size_t i = 1; i < n; i++) {
    struct smp_item x = a[i];
    size_t j = i;
    while (j > 0 && a[j - 1].key > x.key) {
      a[j] = a[j - 1];
      j--;
    }
    a[j] = x;
  }
}

/* Reorder merged (borrowed) as upstream does: items present in patch_order
 * sorted by it, server-only items sorted by server_order, then the two runs
 * interleaved by server_order.  New reference, NULL on allocation failure. */
static json_t *smp_order(const json_t *merged, const json_t *patch_order, const json_t *server_order,
                         const char *merge_key)
{
  size_t n = json_array_size(merged), np = 0, ns = 0;
  struct smp_item *pi = xcalloc(n + 1, sizeof *pi), *si = xcalloc(n + 1, sizeof *si);
  json_t *out = json_array();
  if (!pi || !si || !out) goto fail;
  for (size_t i = 0; i < n; i++) {
    json_t *v = json_array_get(merged, i);
    long p = smp_index(patch_order, v, merge_key);
    if (p >= 0) {
      pi[np++] = (struct smp_item){v, p};
    } else {
      long s = smp_index(server_order, v, merge_key);
      si[ns++] = (struct smp_item){v, s >= 0 ? s : LONG_MAX};
    }
  }
  smp_sort(pi, np);
  smp_sort(si, ns);
  size_t a = 0, b = 0;
  while (a < ns || b < np) {
    json_t *take;
    if (b >= np) {
      take = si[a++].v;
    } else if (a >= ns) {
      take = pi[b++].v;
    } else {
      long ls = si[a].key;
      long rs = smp_index(server_order, pi[b].v, merge_key);
      if (ls != LONG_MAX && rs >= 0 && ls < rs) take = si[a++].v;
      else take = pi[b++].v;
    }
    if (json_array_append(out, take) < 0) goto fail;
  }
  free(pi);
  free(si);
  return out;
fail:
  free(pi);
  free(si);
  json_decref(out);
  return NULL;
}

/* ---- merging ----------------------------------------------------------- */

static json_t *smp_map(struct smp_ctx *c, json_t *orig, const json_t *patch, const void *type, bool *deleted);

/* Shallow copy of an array (elements shared). */
static json_t *smp_array_shallow(const json_t *a)
{
  json_t *out = json_array();
  size_t i;
  json_t *e;
  if (!out) return NULL;
  json_array_foreach (a, i, e) {
    if (json_array_append(out, e) < 0) {
      json_decref(out);
      return NULL;
    }
  }
  return out;
}

/* Checks that all elements of both lists are of one kind (maps, or
 * primitives) and returns it; -1 with an error otherwise.  An empty pair
 * reports K_NULL. */
static int smp_elem_kind(struct smp_ctx *c, const json_t *a, const json_t *b)
{
  int kind = -1;
  const json_t *lists[2] = {a, b};
  for (int l = 0; l < 2; l++) {
    size_t i;
    const json_t *e;
    json_array_foreach (lists[l], i, e) {
      int k = smp_kind(e);
      if (k == K_ARR) {
        smp_err(c, "lists of lists are not supported");
        return -1;
      }
      if (k != K_OBJ) k = K_STR; /* any primitive */
      if (kind >= 0 && k != kind) {
        char *sa = smp_show(a), *sb = smp_show(b);
        smp_err(c, "list element types are not identical: %s, %s", sa, sb);
        free(sa);
        free(sb);
        return -1;
      }
      kind = k;
    }
  }
  return kind < 0 ? K_NULL : kind;
}

static int smp_no_merge_key(struct smp_ctx *c, const json_t *elem, const char *merge_key)
{
  char *s = smp_show(elem);
  smp_err(c, "map: %s does not contain declared merge key: %s", s, merge_key);
  free(s);
  return -EINVAL;
}

/* Merge the patch list into orig (stolen; NULL = empty) for a field with
 * strategy "merge".  New reference, or NULL with an error. */
static json_t *smp_list(struct smp_ctx *c, json_t *orig, const json_t *patch, const void *elem_type,
                        const char *merge_key)
{
  json_t *plain = NULL, *server = NULL, *merged = NULL, *out = NULL;
  if (!orig && !(orig = json_array())) return NULL;
  if (json_array_size(orig) == 0 && json_array_size(patch) == 0) return orig;
  int kind = smp_elem_kind(c, orig, patch);
  if (kind < 0) goto done;

  if (kind != K_OBJ) {
    /* Union of primitives, duplicates dropped. */
    if (!(merged = json_array())) goto done;
    const json_t *both[2] = {orig, patch};
    for (int l = 0; l < 2; l++) {
      size_t i;
      json_t *e;
      json_array_foreach (both[l], i, e) {
        if (smp_index(merged, e, NULL) < 0 && json_array_append(merged, e) < 0) goto done;
      }
    }
    out = smp_order(merged, patch, orig, NULL);
    goto done;
  }

  if (!merge_key) {
    smp_err(c, "cannot merge lists without merge key");
    goto done;
  }

  /* Directive elements first: deletions, and whether to replace the list. */
  bool replace = false;
  if (!(plain = json_array())) goto done;
  size_t i;
  json_t *pe;
  json_array_foreach (patch, i, pe) {
    json_t *d = json_object_get(pe, SMP_PATCH);
    if (!d) {
      if (json_array_append(plain, pe) < 0) goto done;
      continue;
    }
    const char *ds = json_string_value(d);
    if (ds && !strcmp(ds, "delete")) {
      json_t *mk = json_object_get(pe, merge_key);
      if (!mk) {
        smp_no_merge_key(c, pe, merge_key);
        goto done;
      }
      for (size_t j = json_array_size(orig); j-- > 0;) {
        json_t *ov = json_object_get(json_array_get(orig, j), merge_key);
        if (ov && patch_value_equal(ov, mk)) json_array_remove(orig, j);
      }
    } else if (ds && !strcmp(ds, "replace")) {
      replace = true;
    } else if (ds && !strcmp(ds, "merge")) {
      smp_err(c, "merging lists cannot yet be specified in the patch");
      goto done;
    } else {
      char *s = smp_show(pe), *dv = smp_show(d);
      smp_err(c, "unknown patch type: %s in map: %s", dv, s);
      free(s);
      free(dv);
      goto done;
    }
  }

  if (replace) {
    /* The remaining elements are the whole new list. */
    if (!(out = json_array())) goto done;
    json_array_foreach (plain, i, pe) {
      bool del = false;
      json_t *nv = smp_map(c, NULL, pe, elem_type, &del);
      if (!nv || json_array_append_new(out, nv) < 0) {
        json_decref(out);
        out = NULL;
        goto done;
      }
    }
    goto done;
  }

  if (!(server = smp_array_shallow(orig))) goto done;
  json_array_foreach (plain, i, pe) {
    json_t *mk = json_object_get(pe, merge_key);
    if (!mk) {
      smp_no_merge_key(c, pe, merge_key);
      goto done;
    }
    long at = smp_index(orig, pe, merge_key);
    bool del = false;
    if (at >= 0) {
      json_t *ov = json_incref(json_array_get(orig, (size_t)at));
      json_t *nv = smp_map(c, ov, pe, elem_type, &del);
      if (!nv || json_array_set_new(orig, (size_t)at, nv) < 0) goto done;
    } else {
      json_t *nv = smp_map(c, NULL, pe, elem_type, &del);
      if (!nv || json_array_append_new(orig, nv) < 0) goto done;
    }
  }
  out = smp_order(orig, plain, server, merge_key);
done:
  json_decref(orig);
  json_decref(plain);
  json_decref(server);
  json_decref(merged);
  return out;
}

/* A list that replaces the original wholesale.  Its map elements are
 * cleaned like any new map (nulls dropped, nested directives resolved) and
 * elements that carry a $patch marker are dropped, so that no directive is
 * ever stored.  New reference or NULL. */
static json_t *smp_plain_list(struct smp_ctx *c, const json_t *pv, const void *elem_type)
{
  json_t *out = json_array();
  size_t i;
  json_t *e;
  if (!out) return NULL;
  json_array_foreach (pv, i, e) {
    json_t *nv;
    bool del = false;
    if (json_is_object(e)) {
      if (json_object_get(e, SMP_PATCH)) continue;
      nv = smp_map(c, NULL, e, elem_type, &del);
    } else {
      nv = kj_deep_copy(e);
    }
    if (!nv || json_array_append_new(out, nv) < 0) {
      json_decref(out);
      return NULL;
    }
  }
  return out;
}

/* The value a patch value becomes where the original has nothing usable:
 * directives resolved and nulls dropped.  New reference or NULL. */
static json_t *smp_fresh(struct smp_ctx *c, const json_t *pv, const struct smp_meta *m, bool *deleted)
{
  if (json_is_object(pv)) return smp_map(c, NULL, pv, m->type, deleted);
  if (json_is_array(pv))
    return m->merge ? smp_list(c, NULL, pv, m->type, m->merge_key) : smp_plain_list(c, pv, m->type);
  return kj_deep_copy(pv);
}

/* $setElementOrder/F must list the patch's own items of F in the same
 * relative order (deleted items aside). */
static int smp_check_order(struct smp_ctx *c, const json_t *plist, const json_t *order, const char *merge_key)
{
  size_t np = json_array_size(plist), no = json_array_size(order), p = 0, o = 0;
  while (p < np && o < no) {
    const json_t *pe = json_array_get(plist, p), *oe = json_array_get(order, o);
    if (json_is_object(pe) && json_object_get(pe, SMP_PATCH)) {
      p++;
      continue;
    }
    bool eq;
    if (merge_key) {
      const json_t *a = json_object_get(pe, merge_key), *b = json_object_get(oe, merge_key);
      if (!a) return smp_no_merge_key(c, pe, merge_key);
      if (!b) return smp_no_merge_key(c, oe, merge_key);
      eq = patch_value_equal(a, b);
    } else {
      eq = patch_value_equal(pe, oe);
    }
    if (eq) p++;
    o++;
  }
  while (p < np && json_is_object(json_array_get(plist, p)) && json_object_get(json_array_get(plist, p), SMP_PATCH))
    p++;
  if (p < np) {
    char *a = smp_show(plist), *b = smp_show(order);
    smp_err(c, "the order in patch list %s doesn't match " SMP_ORDER " list %s", a, b);
    free(a);
    free(b);
    return -EINVAL;
  }
  return 0;
}

/* Apply one $setElementOrder/F: merge F now, in the requested order, and
 * mark it done so the main loop leaves it alone. */
static int smp_set_order(struct smp_ctx *c, json_t *orig, const json_t *patch, const void *type, const char *field,
                         const json_t *order, json_t *done)
{
  struct smp_meta m;
  smp_meta_get(c, type, field, &m);
  if (!m.merge) return 0; /* not a merging list: the patch's value replaces it anyway */
  json_t *ov = json_object_get(orig, field);
  const json_t *pv = json_object_get(patch, field);
  if (json_is_null(pv)) return 0; /* the main loop deletes the field */
  if ((ov && !json_is_array(ov)) || (pv && !json_is_array(pv))) {
    smp_err(c, "%s: expected a list", field);
    return -EINVAL;
  }
  if (!ov && !pv) return 0;
  if (pv && smp_check_order(c, pv, order, m.merge_key) < 0) return -EINVAL;
  if (smp_elem_kind(c, order, ov ? ov : pv) < 0) return -EINVAL;
  if (m.merge_key) {
    size_t i;
    const json_t *e;
    json_array_foreach (order, i, e) {
      if (!json_object_get(e, m.merge_key)) return smp_no_merge_key(c, e, m.merge_key);
    }
  }
  json_t *server = ov ? smp_array_shallow(ov) : json_array();
  json_t *merged;
  if (!server) return -ENOMEM;
  if (!pv) merged = json_incref(ov);
  else merged = smp_list(c, json_incref(ov), pv, m.type, m.merge_key);
  if (!merged) {
    json_decref(server);
    return -EINVAL;
  }
  json_t *out = smp_order(merged, order, server, m.merge_key);
  json_decref(merged);
  json_decref(server);
  if (!out || json_object_set_new(orig, field, out) < 0 || json_object_set_new(done, field, json_true()) < 0)
    return -ENOMEM;
  return 0;
}

static int smp_retain_keys(struct smp_ctx *c, json_t *orig, const json_t *patch, const json_t *keys)
{
  if (!json_is_array(keys)) {
    smp_err(c, "invalid patch format of retainKeys");
    return -EINVAL;
  }
  const char *k;
  json_t *v, *tmp;
  json_object_foreach ((json_t *)patch, k, v) {
    if (json_is_null(v) || !strcmp(k, SMP_PATCH) || !strcmp(k, SMP_RETAIN) || smp_has_prefix(k, SMP_ORDER) ||
        smp_has_prefix(k, SMP_DELPRIM))
      continue;
    json_t *ks = json_string(k);
    long at = smp_index(keys, ks, NULL);
    json_decref(ks);
    if (at < 0) {
      smp_err(c, "invalid patch format of retainKeys: field %s is not listed in " SMP_RETAIN, k);
      return -EINVAL;
    }
  }
  json_object_foreach_safe (orig, tmp, k, v) {
    json_t *ks = json_string(k);
    long at = smp_index(keys, ks, NULL);
    json_decref(ks);
    if (at < 0) json_object_del(orig, k);
  }
  return 0;
}

static int smp_delete_primitives(struct smp_ctx *c, json_t *orig, const char *field, const json_t *values)
{
  if (!json_is_array(values)) {
    smp_err(c, "invalid patch format of primitive list");
    return -EINVAL;
  }
  json_t *list = json_object_get(orig, field);
  if (!json_is_array(list)) return 0;
  for (size_t j = json_array_size(list); j-- > 0;)
    if (smp_index(values, json_array_get(list, j), NULL) >= 0) json_array_remove(list, j);
  return 0;
}

/* Merge patch (an object) into orig (stolen; NULL or a non-object counts
 * as empty).  New reference or NULL with an error.  *deleted is set when
 * the patch says "$patch: delete" (the result is then an empty object). */
static json_t *smp_map(struct smp_ctx *c, json_t *orig, const json_t *patch, const void *type, bool *deleted)
{
  json_t *done = NULL;
  *deleted = false;
  json_t *d = json_object_get(patch, SMP_PATCH);
  if (d) {
    const char *ds = json_string_value(d);
    if (ds && !strcmp(ds, "delete")) {
      json_decref(orig);
      *deleted = true;
      return json_object();
    }
    if (ds && !strcmp(ds, "replace")) {
      json_decref(orig);
      orig = NULL;
    } else if (!ds || strcmp(ds, "merge") != 0) {
      char *s = smp_show(patch), *dv = smp_show(d);
      smp_err(c, "unknown patch type: %s in map: %s", dv, s);
      free(s);
      free(dv);
      json_decref(orig);
      return NULL;
    }
  }
  if (!json_is_object(orig)) {
    json_decref(orig);
    if (!(orig = json_object())) return NULL;
  }

  const json_t *rk = json_object_get(patch, SMP_RETAIN);
  if (rk && smp_retain_keys(c, orig, patch, rk) < 0) goto fail;

  if (!(done = json_object())) goto fail;
  const char *k;
  json_t *pv;
  json_object_foreach ((json_t *)patch, k, pv) {
    if (!smp_has_prefix(k, SMP_ORDER)) continue;
    const char *field = smp_directive_field(k, SMP_ORDER);
    if (!field || !json_is_array(pv)) {
      smp_err(c, "invalid patch format of setElementOrder list");
      goto fail;
    }
    if (smp_set_order(c, orig, patch, type, field, pv, done) < 0) goto fail;
  }

  json_object_foreach ((json_t *)patch, k, pv) {
    if (!strcmp(k, SMP_PATCH) || !strcmp(k, SMP_RETAIN) || smp_has_prefix(k, SMP_ORDER)) continue;
    if (smp_has_prefix(k, SMP_DELPRIM)) {
      const char *field = smp_directive_field(k, SMP_DELPRIM);
      if (!field) {
        smp_err(c, "invalid patch format of primitive list");
        goto fail;
      }
      if (smp_delete_primitives(c, orig, field, pv) < 0) goto fail;
      continue;
    }
    if (json_object_get(done, k)) continue;
    if (json_is_null(pv)) {
      json_object_del(orig, k);
      continue;
    }
    struct smp_meta m;
    smp_meta_get(c, type, k, &m);
    json_t *ov = json_object_get(orig, k);
    json_t *nv;
    bool del = false;
    if (!ov || smp_kind(ov) != smp_kind(pv) || (json_is_object(pv) && m.replace)) nv = smp_fresh(c, pv, &m, &del);
    else if (json_is_object(pv)) nv = smp_map(c, json_incref(ov), pv, m.type, &del);
    else if (json_is_array(pv) && m.merge) nv = smp_list(c, json_incref(ov), pv, m.type, m.merge_key);
    else if (json_is_array(pv)) nv = smp_plain_list(c, pv, m.type);
    else nv = kj_deep_copy(pv);
    if (!nv) goto fail;
    if (del) {
      json_decref(nv);
      json_object_del(orig, k);
    } else if (json_object_set_new(orig, k, nv) < 0) {
      goto fail;
    }
  }
  json_decref(done);
  return orig;
fail:
  json_decref(done);
  json_decref(orig);
  return NULL;
}

json_t *patch_strategic(const json_t *orig, const json_t *patch, smp_lookup_fn lookup, void *arg, const void *root_type,
                        char *err, size_t errlen)
{
  struct smp_ctx c = {.lookup = lookup, .arg = arg, .err = err, .errlen = errlen};
  if (err && errlen) err[0] = '\0';
  if (!json_is_object(patch) || (orig && !json_is_object(orig) && !json_is_null(orig))) {
    smp_err(&c, "invalid JSON document: a strategic merge patch and its target must be "
                "JSON objects");
    return NULL;
  }
  json_t *work = json_is_object(orig) ? kj_deep_copy(orig) : json_object();
  if (!work) {
    smp_err(&c, "out of memory");
    return NULL;
  }
  bool deleted = false;
  json_t *out = smp_map(&c, work, patch, root_type, &deleted);
  if (!out && err && errlen && !err[0]) smp_err(&c, "out of memory");
  return out;
}
