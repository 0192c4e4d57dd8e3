/*
 * typed.c - walks over objects typed by the schema table, the parts of
 * structured-merge-diff the field manager needs: the field set of an
 * object, the comparison of two versions, the structured merge of an
 * applied configuration into a live object, and the removal of fields an
 * applier gave up.
 *
 * Each node's shape comes from its type and the field holding it:
 *   scalar        one leaf;
 *   atomic        a struct or map with map=atomic / struct=atomic, a list
 *                 with list=atomic (or no list type): one leaf, replaced
 *                 whole by a merge;
 *   struct / map  granular: children by field name;
 *   list-map      items named by their list-map keys ("k:{...}"), merged
 *                 item by item (a list with strategy=merge and a merge key
 *                 but no list type counts as a list-map on that key, as
 *                 upstream's schema conversion does);
 *   set           items named by their value ("v:..."), unioned.
 * A part of the object the schema does not describe is "deduced": objects
 * are granular maps, arrays atomic, anything else a scalar.  A list-map key
 * missing from an item takes its schema default where upstream declares one
 * (protocol: TCP), so `ports: [{containerPort: 80}]` names the same item
 * as the defaulted live object.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/json.h"
#include "fieldmanager/fm_int.h"
#include "schema/schema_int.h"
#include "kube/xalloc.h"

enum shape { SH_SCALAR, SH_ATOMIC, SH_STRUCT, SH_MAP, SH_LIST_MAP, SH_LIST_SET };

/* Defaults of list-map key fields (upstream `+default` markers). */
static const struct {
  const char *field, *value;
} key_defaults[] = {
    {"protocol", "TCP"},
};

static bool attr_is(const char *attr, const char *want) { return attr && strcmp(attr, want) == 0; }

static enum shape type_shape(struct fm_type ty, const json_t *v)
{
  if (!ty.t) {
    if (json_is_object(v)) return SH_MAP;
    return json_is_array(v) ? SH_ATOMIC : SH_SCALAR;
  }
  const struct sfield *f = ty.f;
  switch (ty.t->kind) {
  case ST_STRUCT:
    if (attr_is(ty.t->struct_type, "atomic") || (f && attr_is(f->map_type, "atomic"))) return SH_ATOMIC;
    return SH_STRUCT;
  case ST_MAP: return f && attr_is(f->map_type, "atomic") ? SH_ATOMIC : SH_MAP;
  case ST_ARRAY:
    if (!f) return SH_ATOMIC;
    if (attr_is(f->list_type, "map") && (f->list_keys || f->merge_key)) return SH_LIST_MAP;
    if (attr_is(f->list_type, "set")) return SH_LIST_SET;
    if (!f->list_type && f->strategy && strstr(f->strategy, "merge")) return f->merge_key ? SH_LIST_MAP : SH_LIST_SET;
    return SH_ATOMIC;
  case ST_FREEFORM: return SH_ATOMIC;
  default: return SH_SCALAR;
  }
}

static bool shape_is_obj(enum shape sh) { return sh == SH_STRUCT || sh == SH_MAP; }

static bool shape_is_list(enum shape sh) { return sh == SH_LIST_MAP || sh == SH_LIST_SET; }

/* Does value v fit a container shape?  JSON null counts as an empty one. */
static bool fits(enum shape sh, const json_t *v)
{
  if (!v || json_is_null(v)) return true;
  if (shape_is_obj(sh)) return json_is_object(v);
  if (shape_is_list(sh)) return json_is_array(v);
  return true;
}

static size_t csize(const json_t *v)
{
  if (json_is_object(v)) return json_object_size(v);
  if (json_is_array(v)) return json_array_size(v);
  return 0;
}

static struct fm_type child_field(struct fm_type ty, enum shape sh, const char *key, bool *declared)
{
  struct fm_type c = {NULL, NULL};
  *declared = false;
  if (!ty.t) return c;
  if (sh == SH_STRUCT) {
    const struct sfield *f = schema_find_field(ty.t, key);
    if (f) {
      c.t = f->type;
      c.f = f;
      *declared = true;
    }
    return c;
  }
  c.t = ty.t->elem;
  return c;
}

static struct fm_type child_item(struct fm_type ty)
{
  struct fm_type c = {ty.t ? ty.t->elem : NULL, NULL};
  return c;
}

/* Path element of list item i; the caller releases it (fm_pe_release). */
static int item_pe(struct fm_type ty, enum shape sh, const json_t *item, size_t i, struct fm_pe *pe)
{
  memset(pe, 0, sizeof(*pe));
  if (sh == SH_LIST_SET) {
    pe->kind = FM_PE_VALUE;
    pe->str = kj_dumps_flags(item, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    pe->val = json_incref((json_t *)item);
    return pe->str ? 0 : -ENOMEM;
  }
  if (sh == SH_LIST_MAP && json_is_object(item)) {
    const char *keys = ty.f->list_keys ? ty.f->list_keys : ty.f->merge_key;
    json_t *k = json_object();
    char *dup = xstrdup(keys);
    if (!k || !dup) {
      json_decref(k);
      free(dup);
      return -ENOMEM;
    }
    char *save = NULL;
    for (char *name = strtok_r(dup, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
      json_t *v = json_object_get(item, name);
      if (v && !json_is_null(v)) {
        json_object_set(k, name, v);
        continue;
      }
      for (size_t d = 0; d < sizeof(key_defaults) / sizeof(key_defaults[0]); d++)
        if (strcmp(key_defaults[d].field, name) == 0) json_object_set_new(k, name, json_string(key_defaults[d].value));
    }
    free(dup);
    if (json_object_size(k) > 0) {
      pe->kind = FM_PE_KEY;
      pe->str = kj_dumps_flags(k, JSON_COMPACT | JSON_SORT_KEYS);
      json_decref(k);
      if (!pe->str) return -ENOMEM;
      /* Reparsed so the names are in sorted order for fm_pe_cmp. */
      pe->val = json_loads(pe->str, 0, NULL);
      return 0;
    }
    json_decref(k);
  }
  pe->kind = FM_PE_INDEX;
  pe->index = (long)i;
  return 0;
}

struct item {
  struct fm_pe pe;
  const json_t *v;
};

static void items_free(struct item *it, size_t n)
{
  for (size_t i = 0; i < n; i++) fm_pe_release(&it[i].pe);
  free(it);
}

static ssize_t items_find(const struct item *it, size_t n, const struct fm_pe *pe)
{
  for (size_t i = 0; i < n; i++)
    if (fm_pe_cmp(&it[i].pe, pe) == 0) return (ssize_t)i;
  return -1;
}

/* Items of a list with their path elements; later duplicates are dropped
 * as upstream does. */
static int items_index(struct fm_type ty, enum shape sh, const json_t *arr, struct item **out, size_t *nout)
{
  size_t len = json_is_array(arr) ? json_array_size(arr) : 0, n = 0;
  struct item *it = xcalloc(len ? len : 1, sizeof(*it));
  if (!it) return -ENOMEM;
  for (size_t i = 0; i < len; i++) {
    const json_t *v = json_array_get(arr, i);
    if (item_pe(ty, sh, v, i, &it[n].pe) < 0) {
      items_free(it, n);
      return -ENOMEM;
    }
    if (items_find(it, n, &it[n].pe) >= 0) {
      fm_pe_release(&it[n].pe);
      continue;
    }
    it[n++].v = v;
  }
  *out = it;
  *nout = n;
  return 0;
}

static bool path_push(struct fm_path *p, const struct fm_pe *pe)
{
  if (p->n >= FM_PATH_MAX) return false;
  p->el[p->n++] = pe;
  return true;
}

/* ---- field set of an object ---- */

static int to_set(struct fm_type ty, const json_t *v, struct fm_path *p, struct fm_set *out)
{
  enum shape sh = type_shape(ty, v);
  /* Past the path limit a deep value is owned whole. */
  if (!fits(sh, v) || json_is_null(v) || (!shape_is_obj(sh) && !shape_is_list(sh)) || p->n >= FM_PATH_MAX - 1)
    return p->n ? fm_set_insert(out, p) : 0;
  int rc = 0;
  if (shape_is_obj(sh)) {
    const char *key;
    json_t *cv;
    json_object_foreach ((json_t *)v, key, cv) {
      bool declared;
      struct fm_type ct = child_field(ty, sh, key, &declared);
      struct fm_pe pe = {FM_PE_FIELD, (char *)key, 0};
      if (!path_push(p, &pe)) return -E2BIG;
      rc = to_set(ct, cv, p, out);
      if (!rc && (json_is_null(cv) || (json_is_object(cv) && json_object_size(cv) == 0) || !declared))
        rc = fm_set_insert(out, p);
      p->n--;
      if (rc) return rc;
    }
    return 0;
  }
  struct item *it;
  size_t n;
  if ((rc = items_index(ty, sh, v, &it, &n)) < 0) return rc;
  struct fm_type ct = child_item(ty);
  for (size_t i = 0; i < n && !rc; i++) {
    if (!path_push(p, &it[i].pe)) {
      rc = -E2BIG;
      break;
    }
    rc = to_set(ct, it[i].v, p, out);
    if (!rc) rc = fm_set_insert(out, p);
    p->n--;
  }
  items_free(it, n);
  return rc;
}

int fm_typed_to_set(struct fm_type ty, const json_t *obj, struct fm_set *out)
{
  struct fm_path p = {.n = 0};
  return obj ? to_set(ty, obj, &p, out) : 0;
}

/* ---- comparison ---- */

struct cmp_ctx {
  struct fm_compare *c;
  bool creating;
};

static int compare(struct cmp_ctx *cx, struct fm_type ty, const json_t *lhs, const json_t *rhs, struct fm_path *p)
{
  enum shape sh = type_shape(ty, rhs ? rhs : lhs);
  bool container = shape_is_obj(sh) || shape_is_list(sh);
  if (container && (!fits(sh, lhs) || !fits(sh, rhs))) container = false;
  if (container && ((csize(lhs) == 0 && csize(rhs) == 0) || p->n >= FM_PATH_MAX - 1)) container = false;
  if (!container) {
    if (!p->n) return 0;
    if (!lhs) return fm_set_insert(cx->c->added, p);
    if (!rhs) return fm_set_insert(cx->c->removed, p);
    return json_equal(lhs, rhs) ? 0 : fm_set_insert(cx->c->modified, p);
  }
  int rc = 0;
  if (shape_is_obj(sh)) {
    const char *key;
    json_t *v;
    const json_t *lo = json_is_object(lhs) ? lhs : NULL, *ro = json_is_object(rhs) ? rhs : NULL;
    if (lo) {
      json_object_foreach ((json_t *)lo, key, v) {
        bool declared;
        struct fm_type ct = child_field(ty, sh, key, &declared);
        struct fm_pe pe = {FM_PE_FIELD, (char *)key, 0};
        if (!path_push(p, &pe)) return -E2BIG;
        rc = compare(cx, ct, v, ro ? json_object_get(ro, key) : NULL, p);
        p->n--;
        if (rc) return rc;
      }
    }
    if (ro) {
      json_object_foreach ((json_t *)ro, key, v) {
        if (lo && json_object_get(lo, key)) continue;
        bool declared;
        struct fm_type ct = child_field(ty, sh, key, &declared);
        struct fm_pe pe = {FM_PE_FIELD, (char *)key, 0};
        if (!path_push(p, &pe)) return -E2BIG;
        rc = compare(cx, ct, NULL, v, p);
        p->n--;
        if (rc) return rc;
      }
    }
  } else {
    struct item *li = NULL, *ri = NULL;
    size_t ln = 0, rn = 0;
    if ((rc = items_index(ty, sh, lhs, &li, &ln)) < 0) return rc;
    if ((rc = items_index(ty, sh, rhs, &ri, &rn)) < 0) {
      items_free(li, ln);
      return rc;
    }
    struct fm_type ct = child_item(ty);
    for (size_t i = 0; i < ln && !rc; i++) {
      ssize_t j = items_find(ri, rn, &li[i].pe);
      if (!path_push(p, &li[i].pe)) {
        rc = -E2BIG;
        break;
      }
      rc = compare(cx, ct, li[i].v, j >= 0 ? ri[j].v : NULL, p);
      p->n--;
    }
    for (size_t j = 0; j < rn && !rc; j++) {
      if (items_find(li, ln, &ri[j].pe) >= 0) continue;
      if (!path_push(p, &ri[j].pe)) {
        rc = -E2BIG;
        break;
      }
      rc = compare(cx, ct, NULL, ri[j].v, p);
      p->n--;
    }
    items_free(li, ln);
    items_free(ri, rn);
    if (rc) return rc;
  }
  /* A container that appeared or vanished whole is itself a member. */
  if (!p->n) return 0;
  if (!lhs && !(cx->creating && ty.f && (sh == SH_STRUCT || ty.f->required))) return fm_set_insert(cx->c->added, p);
  if (!rhs) return fm_set_insert(cx->c->removed, p);
  return 0;
}

void fm_compare_clear(struct fm_compare *c)
{
  fm_set_free(c->added);
  fm_set_free(c->modified);
  fm_set_free(c->removed);
  c->added = c->modified = c->removed = NULL;
}

int fm_typed_compare(struct fm_type ty, const json_t *lhs, const json_t *rhs, bool creating, struct fm_compare *out)
{
  out->added = fm_set_new();
  out->modified = fm_set_new();
  out->removed = fm_set_new();
  if (!out->added || !out->modified || !out->removed) {
    fm_compare_clear(out);
    return -ENOMEM;
  }
  if (!lhs && !rhs) return 0;
  struct cmp_ctx cx = {out, creating};
  struct fm_path p = {.n = 0};
  int rc = compare(&cx, ty, lhs, rhs, &p);
  if (rc < 0) fm_compare_clear(out);
  return rc;
}

/* ---- structured merge ---- */

static json_t *merge(struct fm_type ty, const json_t *lhs, const json_t *rhs, int depth);

static json_t *merge_lists(struct fm_type ty, enum shape sh, const json_t *lhs, const json_t *rhs, int depth)
{
  struct item *li = NULL, *ri = NULL;
  size_t ln = 0, rn = 0;
  json_t *out = json_array();
  if (!out || items_index(ty, sh, lhs, &li, &ln) < 0 || items_index(ty, sh, rhs, &ri, &rn) < 0) {
    items_free(li, ln);
    json_decref(out);
    return NULL;
  }
  struct fm_type ct = child_item(ty);
  /* Upstream's order: the applied order for the items it names, live-only
   * items kept where they stood relative to the shared ones. */
  size_t *shared = xcalloc(rn ? rn : 1, sizeof(*shared)), ns = 0, next = 0;
  if (!shared) goto fail;
  for (size_t j = 0; j < rn; j++)
    if (items_find(li, ln, &ri[j].pe) >= 0) shared[ns++] = j;
  ssize_t want = ns ? (ssize_t)shared[next++] : -1;
  size_t l = 0, r = 0;
  while (l < ln || r < rn) {
    if (l < ln && r < rn) {
      if (fm_pe_cmp(&li[l].pe, &ri[r].pe) == 0) {
        json_t *m = merge(ct, li[l].v, ri[r].v, depth + 1);
        if (!m || json_array_append_new(out, m) < 0) goto fail;
        l++;
        r++;
        want = next < ns ? (ssize_t)shared[next++] : -1;
        continue;
      }
      if (items_find(ri, rn, &li[l].pe) >= 0 && want >= 0 && fm_pe_cmp(&ri[want].pe, &li[l].pe) != 0) {
        l++;
        continue;
      }
    }
    if (l < ln && items_find(ri, rn, &li[l].pe) < 0) {
      json_t *m = merge(ct, li[l].v, NULL, depth + 1);
      if (!m || json_array_append_new(out, m) < 0) goto fail;
      l++;
      continue;
    }
    if (r < rn) {
      ssize_t at = items_find(li, ln, &ri[r].pe);
      json_t *m = merge(ct, at >= 0 ? li[at].v : NULL, ri[r].v, depth + 1);
      if (!m || json_array_append_new(out, m) < 0) goto fail;
      if (want >= 0 && (size_t)want == r) want = next < ns ? (ssize_t)shared[next++] : -1;
      r++;
    } else {
      l++; /* a shared item already placed */
    }
  }
  free(shared);
  items_free(li, ln);
  items_free(ri, rn);
  return out;
fail:
  free(shared);
  items_free(li, ln);
  items_free(ri, rn);
  json_decref(out);
  return NULL;
}

static json_t *merge(struct fm_type ty, const json_t *lhs, const json_t *rhs, int depth)
{
  const json_t *rep = rhs ? rhs : lhs;
  if (!rep) return NULL;
  enum shape sh = type_shape(ty, rep);
  bool container = shape_is_obj(sh) || shape_is_list(sh);
  if (container && (!fits(sh, lhs) || !fits(sh, rhs) || json_is_null(rep))) container = false;
  if (depth >= FM_PATH_MAX - 1 || !container) return kj_deep_copy(rep);
  if (shape_is_list(sh)) return merge_lists(ty, sh, lhs, rhs, depth);
  json_t *out = json_object();
  const json_t *lo = json_is_object(lhs) ? lhs : NULL, *ro = json_is_object(rhs) ? rhs : NULL;
  const char *key;
  json_t *v;
  for (int pass = 0; pass < 2 && out; pass++) {
    const json_t *src = pass == 0 ? lo : ro;
    if (!src) continue;
    json_object_foreach ((json_t *)src, key, v) {
      if (pass == 1 && lo && json_object_get(lo, key)) continue;
      bool declared;
      struct fm_type ct = child_field(ty, sh, key, &declared);
      const json_t *lv = pass == 0 ? v : NULL;
      const json_t *rv = ro ? json_object_get(ro, key) : NULL;
      json_t *m = merge(ct, lv, rv, depth + 1);
      if (!m) {
        json_decref(out);
        return NULL;
      }
      /* A null in the result means "unset" once stored. */
      if (json_is_null(m)) json_decref(m);
      else json_object_set_new(out, key, m);
    }
  }
  return out;
}

json_t *fm_typed_merge(struct fm_type ty, const json_t *lhs, const json_t *rhs) { return merge(ty, lhs, rhs, 0); }

/* ---- pruning ---- */

static bool owned_covers(const struct fm_set *owned, const struct fm_path *p)
{
  const struct fm_node *n = fm_set_find(owned, p);
  return n && (n->member || fm_node_has_member_below(n));
}

static void prune(struct fm_type ty, json_t *obj, const struct fm_node *rm, const struct fm_set *owned,
                  struct fm_path *p)
{
  enum shape sh = type_shape(ty, obj);
  for (size_t i = 0; i < rm->nkids; i++) {
    const struct fm_node *k = rm->kids[i];
    json_t *child = NULL;
    struct fm_type ct = {NULL, NULL};
    ssize_t at = -1;
    if (k->pe.kind == FM_PE_FIELD) {
      if (!json_is_object(obj)) continue;
      bool declared;
      child = json_object_get(obj, k->pe.str);
      ct = child_field(ty, sh, k->pe.str, &declared);
    } else {
      if (!json_is_array(obj)) continue;
      for (size_t j = 0; j < json_array_size(obj) && at < 0; j++) {
        struct fm_pe pe;
        if (item_pe(ty, sh, json_array_get(obj, j), j, &pe) < 0) return;
        if (fm_pe_cmp(&pe, &k->pe) == 0) at = (ssize_t)j;
        fm_pe_release(&pe);
      }
      if (at >= 0) child = json_array_get(obj, (size_t)at);
      ct = child_item(ty);
    }
    if (!child || !path_push(p, &k->pe)) continue;
    if (k->member && !owned_covers(owned, p)) {
      if (k->pe.kind == FM_PE_FIELD) json_object_del(obj, k->pe.str);
      else json_array_remove(obj, (size_t)at);
    } else if (k->nkids && csize(child) > 0) {
      /* A container emptied by the removal goes too, as upstream's
       * RemoveItems leaves no empty list or map behind. */
      prune(ct, child, k, owned, p);
      if (csize(child) == 0) {
        if (k->pe.kind == FM_PE_FIELD) json_object_del(obj, k->pe.str);
        else json_array_remove(obj, (size_t)at);
      }
    }
    p->n--;
  }
}

void fm_typed_prune(struct fm_type ty, json_t *obj, const struct fm_set *remove, const struct fm_set *owned)
{
  struct fm_path p = {.n = 0};
  if (obj && remove) prune(ty, obj, &remove->root, owned, &p);
}

/* ---- validation of an applied configuration ---- */

struct verr {
  json_t *list; /* strings */
};

static void verr_add(struct verr *ve, const struct fm_path *p, const char *detail)
{
  char *path = fm_path_string(p), *line = NULL;
  if (asprintf(&line, "%s: %s", path && *path ? path : ".", detail) >= 0) {
    json_array_append_new(ve->list, json_string(line));
    free(line);
  }
  free(path);
}

static void validate(struct fm_type ty, const json_t *v, struct fm_path *p, struct verr *ve)
{
  enum shape sh = type_shape(ty, v);
  if (!fits(sh, v) || json_is_null(v) || p->n >= FM_PATH_MAX - 1) return;
  if (shape_is_obj(sh)) {
    const char *key;
    json_t *cv;
    json_object_foreach ((json_t *)v, key, cv) {
      bool declared;
      struct fm_type ct = child_field(ty, sh, key, &declared);
      struct fm_pe pe = {FM_PE_FIELD, (char *)key, 0, NULL};
      p->el[p->n++] = &pe;
      validate(ct, cv, p, ve);
      p->n--;
    }
    return;
  }
  if (!shape_is_list(sh)) return;
  struct fm_type ct = child_item(ty);
  size_t len = json_array_size(v);
  struct fm_pe *seen = xcalloc(len ? len : 1, sizeof(*seen));
  if (!seen) return;
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    const json_t *item = json_array_get(v, i);
    struct fm_pe pe;
    if (item_pe(ty, sh, item, i, &pe) < 0) break;
    if (sh == SH_LIST_MAP && pe.kind == FM_PE_INDEX) {
      const char *keys = ty.f->list_keys ? ty.f->list_keys : ty.f->merge_key;
      char *m = NULL;
      if (asprintf(&m,
                   "element %zu: associative list with keys has an element that omits key "
                   "field \"%.*s\" (and doesn't have default value)",
                   i, (int)strcspn(keys, ","), keys) >= 0) {
        verr_add(ve, p, m);
        free(m);
      }
      continue;
    }
    bool dup = false;
    for (size_t j = 0; j < n && !dup; j++) dup = fm_pe_cmp(&seen[j], &pe) == 0;
    if (dup) {
      struct fm_path one = {.el = {&pe}, .n = 1};
      char *ps = fm_path_string(&one), *m = NULL;
      if (ps && asprintf(&m, "duplicate entries for key %s", ps) >= 0) {
        verr_add(ve, p, m);
        free(m);
      }
      free(ps);
      fm_pe_release(&pe);
      continue;
    }
    p->el[p->n++] = &pe;
    validate(ct, item, p, ve);
    p->n--;
    seen[n++] = pe;
  }
  for (size_t j = 0; j < n; j++) fm_pe_release(&seen[j]);
  free(seen);
}

json_t *fm_typed_validate(struct fm_type ty, const json_t *obj)
{
  struct verr ve = {json_array()};
  struct fm_path p = {.n = 0};
  if (ve.list && obj) validate(ty, obj, &p, &ve);
  return ve.list;
}

struct fm_set *fm_object_fields(const struct stype *type, const json_t *obj)
{
  struct fm_set *s = fm_set_new();
  struct fm_type ty = {type, NULL};
  if (s && fm_typed_to_set(ty, obj, s) < 0) {
    fm_set_free(s);
    return NULL;
  }
  return s;
}
