/*
 * fieldset.c - field sets: the trie of path elements that managedFields
 * entries own, its set algebra and its FieldsV1 JSON encoding.
 *
 * A FieldsV1 object names each child by its element ("f:NAME",
 * "k:{KEYS}", "v:VALUE", "i:N"); a child that is a member and has no
 * children encodes as {}, one that is a member and has children carries a
 * "." entry first.  The in-memory trie mirrors that shape: each node holds
 * a member flag and its children sorted in upstream's element order, so
 * union, difference and intersection walk two sorted arrays side by side.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/json.h"
#include "fieldmanager/fm_int.h"
#include "kube/xalloc.h"

static int str_cmp(const char *a, const char *b) { return strcmp(a ? a : "", b ? b : ""); }

static int json_rank(const json_t *v)
{
  if (json_is_number(v)) return 0;
  if (json_is_string(v)) return 1;
  if (json_is_boolean(v)) return 2;
  if (json_is_array(v)) return 3;
  if (json_is_object(v)) return 4;
  return 5;
}

static int json_cmp(const json_t *a, const json_t *b)
{
  int ra = json_rank(a), rb = json_rank(b);
  if (ra != rb) return ra < rb ? -1 : 1;
  switch (ra) {
  case 0: {
    if (json_is_integer(a) && json_is_integer(b)) {
      json_int_t x = json_integer_value(a), y = json_integer_value(b);
      return x < y ? -1 : x > y;
    }
    double x = json_number_value(a), y = json_number_value(b);
    return x < y ? -1 : x > y;
  }
  case 1: return strcmp(json_string_value(a), json_string_value(b));
  case 2: return json_is_true(a) - json_is_true(b);
  case 3: {
    size_t na = json_array_size(a), nb = json_array_size(b);
    for (size_t i = 0; i < na && i < nb; i++) {
      int c = json_cmp(json_array_get(a, i), json_array_get(b, i));
      if (c) return c;
    }
    return na < nb ? -1 : na > nb;
  }
  case 4: {
    /* Field lists: names in order, then values (key objects are built
     * and parsed with their names sorted). */
    void *ia = json_object_iter((json_t *)a), *ib = json_object_iter((json_t *)b);
    while (ia && ib) {
      int c = strcmp(json_object_iter_key(ia), json_object_iter_key(ib));
      if (!c) c = json_cmp(json_object_iter_value(ia), json_object_iter_value(ib));
      if (c) return c;
      ia = json_object_iter_next((json_t *)a, ia);
      ib = json_object_iter_next((json_t *)b, ib);
    }
    return ia ? 1 : ib ? -1 : 0;
  }
  default: return 0;
  }
}

int fm_pe_cmp(const struct fm_pe *a, const struct fm_pe *b)
{
  if (a->kind != b->kind) return a->kind < b->kind ? -1 : 1;
  if (a->kind == FM_PE_INDEX) return a->index < b->index ? -1 : a->index > b->index;
  int s = str_cmp(a->str, b->str);
  if (s == 0 || a->kind == FM_PE_FIELD || !a->val || !b->val) return s;
  int c = json_cmp(a->val, b->val);
  return c ? c : s;
}

void fm_pe_release(struct fm_pe *pe)
{
  free(pe->str);
  json_decref(pe->val);
  pe->str = NULL;
  pe->val = NULL;
}

static void node_clear(struct fm_node *n)
{
  for (size_t i = 0; i < n->nkids; i++) {
    node_clear(n->kids[i]);
    fm_pe_release(&n->kids[i]->pe);
    free(n->kids[i]);
  }
  free(n->kids);
  n->kids = NULL;
  n->nkids = n->capkids = 0;
}

static void node_free(struct fm_node *n)
{
  node_clear(n);
  fm_pe_release(&n->pe);
  free(n);
}

struct fm_set *fm_set_new(void) { return xcalloc(1, sizeof(struct fm_set)); }

void fm_set_free(struct fm_set *s)
{
  if (!s) return;
  node_clear(&s->root);
  free(s);
}

static bool node_empty(const struct fm_node *n) { return !n->member && n->nkids == 0; }

bool fm_set_empty(const struct fm_set *s) { return !s || node_empty(&s->root); }

/* Index of the child with element pe, or where it would go (*found false). */
static size_t kid_search(const struct fm_node *n, const struct fm_pe *pe, bool *found)
{
  size_t lo = 0, hi = n->nkids;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int c = fm_pe_cmp(&n->kids[mid]->pe, pe);
    if (c == 0) {
      *found = true;
      return mid;
    }
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  *found = false;
  return lo;
}

static struct fm_node *kid_get(struct fm_node *n, const struct fm_pe *pe, bool create)
{
  bool found;
  size_t at = kid_search(n, pe, &found);
  if (found) return n->kids[at];
  if (!create) return NULL;
  if (n->nkids == n->capkids) {
    size_t cap = n->capkids ? n->capkids * 2 : 4;
    struct fm_node **k = xrealloc(n->kids, cap * sizeof(*k));
    if (!k) return NULL;
    n->kids = k;
    n->capkids = cap;
  }
  struct fm_node *c = xcalloc(1, sizeof(*c));
  if (!c) return NULL;
  c->pe.kind = pe->kind;
  c->pe.index = pe->index;
  if (pe->str && !(c->pe.str = xstrdup(pe->str))) {
    free(c);
    return NULL;
  }
  c->pe.val = json_incref(pe->val);
  memmove(&n->kids[at + 1], &n->kids[at], (n->nkids - at) * sizeof(*n->kids));
  n->kids[at] = c;
  n->nkids++;
  return c;
}

static void kid_remove_at(struct fm_node *n, size_t at)
{
  node_free(n->kids[at]);
  memmove(&n->kids[at], &n->kids[at + 1], (n->nkids - at - 1) * sizeof(*n->kids));
  n->nkids--;
}

int fm_set_insert(struct fm_set *s, const struct fm_path *p)
{
  if (p->n == 0) return 0;
  struct fm_node *n = &s->root;
  for (size_t i = 0; i < p->n; i++) {
    n = kid_get(n, p->el[i], true);
    if (!n) return -ENOMEM;
  }
  n->member = true;
  return 0;
}

const struct fm_node *fm_set_find(const struct fm_set *s, const struct fm_path *p)
{
  const struct fm_node *n = &s->root;
  for (size_t i = 0; i < p->n && n; i++) n = kid_get((struct fm_node *)n, p->el[i], false);
  return n;
}

bool fm_set_has(const struct fm_set *s, const struct fm_path *p)
{
  const struct fm_node *n = fm_set_find(s, p);
  return n && p->n > 0 && n->member;
}

bool fm_node_has_member_below(const struct fm_node *n)
{
  for (size_t i = 0; i < n->nkids; i++)
    if (n->kids[i]->member || fm_node_has_member_below(n->kids[i])) return true;
  return false;
}

static int node_union(struct fm_node *dst, const struct fm_node *src)
{
  dst->member = dst->member || src->member;
  for (size_t i = 0; i < src->nkids; i++) {
    struct fm_node *d = kid_get(dst, &src->kids[i]->pe, true);
    if (!d || node_union(d, src->kids[i]) < 0) return -ENOMEM;
  }
  return 0;
}

int fm_set_union_into(struct fm_set *dst, const struct fm_set *src)
{
  return src ? node_union(&dst->root, &src->root) : 0;
}

struct fm_set *fm_set_dup(const struct fm_set *s)
{
  struct fm_set *d = fm_set_new();
  if (d && s && fm_set_union_into(d, s) < 0) {
    fm_set_free(d);
    return NULL;
  }
  return d;
}

static void node_subtract(struct fm_node *dst, const struct fm_node *src)
{
  if (src->member) dst->member = false;
  for (size_t i = 0; i < src->nkids; i++) {
    bool found;
    size_t at = kid_search(dst, &src->kids[i]->pe, &found);
    if (!found) continue;
    node_subtract(dst->kids[at], src->kids[i]);
    if (node_empty(dst->kids[at])) kid_remove_at(dst, at);
  }
}

void fm_set_subtract(struct fm_set *dst, const struct fm_set *src)
{
  if (src) node_subtract(&dst->root, &src->root);
}

static int node_intersect(struct fm_node *out, const struct fm_node *a, const struct fm_node *b)
{
  out->member = a->member && b->member;
  for (size_t i = 0; i < a->nkids; i++) {
    bool found;
    size_t at = kid_search(b, &a->kids[i]->pe, &found);
    if (!found) continue;
    struct fm_node *o = kid_get(out, &a->kids[i]->pe, true);
    if (!o || node_intersect(o, a->kids[i], b->kids[at]) < 0) return -ENOMEM;
    if (node_empty(o)) {
      bool f2;
      size_t oat = kid_search(out, &a->kids[i]->pe, &f2);
      kid_remove_at(out, oat);
    }
  }
  return 0;
}

struct fm_set *fm_set_intersect(const struct fm_set *a, const struct fm_set *b)
{
  struct fm_set *out = fm_set_new();
  if (!out) return NULL;
  if (a && b && node_intersect(&out->root, &a->root, &b->root) < 0) {
    fm_set_free(out);
    return NULL;
  }
  out->root.member = false;
  return out;
}

static void node_remove_member(struct fm_node *n, const struct fm_path *p, size_t depth)
{
  bool found;
  size_t at = kid_search(n, p->el[depth], &found);
  if (!found) return;
  struct fm_node *k = n->kids[at];
  if (depth + 1 == p->n) k->member = false;
  else node_remove_member(k, p, depth + 1);
  if (node_empty(k)) kid_remove_at(n, at);
}

void fm_set_remove_member(struct fm_set *s, const struct fm_path *p)
{
  if (p->n > 0) node_remove_member(&s->root, p, 0);
}

void fm_set_filter_top(struct fm_set *s, const char *name, bool keep)
{
  struct fm_node *root = &s->root;
  for (size_t i = root->nkids; i-- > 0;) {
    const struct fm_pe *pe = &root->kids[i]->pe;
    bool match = pe->kind == FM_PE_FIELD && strcmp(pe->str, name) == 0;
    if (match != keep) kid_remove_at(root, i);
  }
}

static int node_walk(const struct fm_node *n, struct fm_path *p, fm_path_fn fn, void *arg)
{
  if (p->n >= FM_PATH_MAX) return -E2BIG;
  for (size_t i = 0; i < n->nkids; i++) {
    if (!n->kids[i]->member) continue;
    p->el[p->n++] = &n->kids[i]->pe;
    int rc = fn(p, arg);
    p->n--;
    if (rc) return rc;
  }
  for (size_t i = 0; i < n->nkids; i++) {
    if (n->kids[i]->nkids == 0) continue;
    p->el[p->n++] = &n->kids[i]->pe;
    int rc = node_walk(n->kids[i], p, fn, arg);
    p->n--;
    if (rc) return rc;
  }
  return 0;
}

int fm_set_walk(const struct fm_set *s, fm_path_fn fn, void *arg)
{
  struct fm_path p = {.n = 0};
  return node_walk(&s->root, &p, fn, arg);
}

/* ---- printed paths ---- */

static void append_key_fields(FILE *f, const char *keyjson)
{
  json_t *k = json_loads(keyjson, JSON_DECODE_ANY, NULL);
  const char *name;
  json_t *v;
  bool first = true;
  if (json_is_object(k)) {
    json_object_foreach (k, name, v) {
      char *vs = kj_dumps_flags(v, JSON_COMPACT | JSON_ENCODE_ANY);
      fprintf(f, "%s%s=%s", first ? "" : ",", name, vs ? vs : "null");
      free(vs);
      first = false;
    }
  }
  json_decref(k);
}

char *fm_path_string(const struct fm_path *p)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) return NULL;
  for (size_t i = 0; i < p->n; i++) {
    const struct fm_pe *pe = p->el[i];
    switch (pe->kind) {
    case FM_PE_FIELD: fprintf(f, ".%s", pe->str); break;
    case FM_PE_KEY:
      fputc('[', f);
      append_key_fields(f, pe->str);
      fputc(']', f);
      break;
    case FM_PE_VALUE: fprintf(f, "[=%s]", pe->str); break;
    case FM_PE_INDEX: fprintf(f, "[%ld]", pe->index); break;
    }
  }
  if (fclose(f) != 0) {
    free(buf);
    return NULL;
  }
  return buf;
}

static int collect_path(const struct fm_path *p, void *arg)
{
  char *s = fm_path_string(p);
  if (!s) return -ENOMEM;
  json_array_append_new(arg, json_string(s));
  free(s);
  return 0;
}

json_t *fm_set_paths(const struct fm_set *s)
{
  json_t *out = json_array();
  if (out && s && fm_set_walk(s, collect_path, out) < 0) {
    json_decref(out);
    return NULL;
  }
  return out;
}

/* ---- FieldsV1 ---- */

static char *pe_encode(const struct fm_pe *pe)
{
  char *s = NULL;
  int rc = -1;
  switch (pe->kind) {
  case FM_PE_FIELD: rc = asprintf(&s, "f:%s", pe->str); break;
  case FM_PE_KEY: rc = asprintf(&s, "k:%s", pe->str); break;
  case FM_PE_VALUE: rc = asprintf(&s, "v:%s", pe->str); break;
  case FM_PE_INDEX: rc = asprintf(&s, "i:%ld", pe->index); break;
  }
  return rc < 0 ? NULL : s;
}

static json_t *node_encode(const struct fm_node *n)
{
  json_t *o = json_object();
  if (!o) return NULL;
  if (n->member && n->nkids > 0) json_object_set_new(o, ".", json_object());
  for (size_t i = 0; i < n->nkids; i++) {
    char *key = pe_encode(&n->kids[i]->pe);
    json_t *v = node_encode(n->kids[i]);
    if (!key || !v || json_object_set_new(o, key, v) < 0) {
      free(key);
      json_decref(o);
      return NULL;
    }
    free(key);
  }
  return o;
}

json_t *fm_set_to_fieldsv1(const struct fm_set *s)
{
  if (!s) return json_object();
  return node_encode(&s->root);
}

/* Canonical text of a JSON fragment: compact, keys sorted. */
static char *canonical_json(const char *text)
{
  json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
  if (!v) return NULL;
  char *out = kj_dumps_flags(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
  json_decref(v);
  return out;
}

static int pe_decode(const char *key, struct fm_pe *pe)
{
  memset(pe, 0, sizeof(*pe));
  if (strlen(key) < 2 || key[1] != ':') return -EINVAL;
  const char *rest = key + 2;
  switch (key[0]) {
  case 'f':
    pe->kind = FM_PE_FIELD;
    pe->str = xstrdup(rest);
    break;
  case 'k':
    pe->kind = FM_PE_KEY;
    pe->str = canonical_json(rest);
    if (pe->str && pe->str[0] != '{') {
      free(pe->str);
      return -EINVAL;
    }
    break;
  case 'v':
    pe->kind = FM_PE_VALUE;
    pe->str = canonical_json(rest);
    break;
  case 'i': {
    char *end;
    pe->kind = FM_PE_INDEX;
    pe->index = strtol(rest, &end, 10);
    if (!*rest || *end) return -EINVAL;
    return 0;
  }
  default: return -EINVAL;
  }
  if (!pe->str) return -EINVAL;
  if (pe->kind != FM_PE_FIELD) pe->val = json_loads(pe->str, JSON_DECODE_ANY, NULL);
  return 0;
}

static int node_decode(struct fm_node *n, const json_t *obj, int depth)
{
  if (!json_is_object(obj) || depth > FM_PATH_MAX) return -EINVAL;
  const char *key;
  json_t *v;
  json_object_foreach ((json_t *)obj, key, v) {
    if (strcmp(key, ".") == 0) {
      n->member = true;
      continue;
    }
    struct fm_pe pe;
    if (pe_decode(key, &pe) < 0) return -EINVAL;
    struct fm_node *k = kid_get(n, &pe, true);
    fm_pe_release(&pe);
    if (!k) return -ENOMEM;
    int rc = node_decode(k, v, depth + 1);
    if (rc < 0) return rc;
    if (k->nkids == 0) k->member = true;
  }
  return 0;
}

int fm_set_from_fieldsv1(const json_t *fields, struct fm_set **out)
{
  *out = NULL;
  struct fm_set *s = fm_set_new();
  if (!s) return -ENOMEM;
  int rc = node_decode(&s->root, fields, 0);
  if (rc < 0) {
    fm_set_free(s);
    return rc;
  }
  s->root.member = false;
  *out = s;
  return 0;
}
