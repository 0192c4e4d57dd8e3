/*
 * skmap.c - ordered map from strings to pointers: an AVL tree.
 *
 * The storage keeps its committed keys here so list can walk a prefix in
 * key order starting after any key in O(log n + k), and point lookups,
 * inserts and removals are O(log n).  Keys are borrowed from the values
 * (the kv's own key string), so a node is four words and a height.
 * Recursion depth is bounded by the tree height (< 1.45 log2 n).
 */
#include <stdlib.h>
#include <string.h>

#include "storage/storage_internal.h"
#include "kube/xalloc.h"

struct skmap_node {
  struct skmap_node *l, *r;
  const char *key;
  void *val;
  int h;
};

static int ht(const struct skmap_node *n) { return n ? n->h : 0; }

static void fix(struct skmap_node *n)
{
  int a = ht(n->l), b = ht(n->r);
  n->h = (a > b ? a : b) + 1;
}

static struct skmap_node *rot_r(struct skmap_node *n)
{
  struct skmap_node *l = n->l;
  n->l = l->r;
  l->r = n;
  fix(n);
  fix(l);
  return l;
}

static struct skmap_node *rot_l(struct skmap_node *n)
{
  struct skmap_node *r = n->r;
  n->r = r->l;
  r->l = n;
  fix(n);
  fix(r);
  return r;
}

static struct skmap_node *balance(struct skmap_node *n)
{
  fix(n);
  int bf = ht(n->l) - ht(n->r);
  if (bf > 1) {
    if (ht(n->l->l) < ht(n->l->r)) n->l = rot_l(n->l);
    return rot_r(n);
  }
  if (bf < -1) {
    if (ht(n->r->r) < ht(n->r->l)) n->r = rot_r(n->r);
    return rot_l(n);
  }
  return n;
}

void *skmap_get(const struct skmap *m, const char *key)
{
  const struct skmap_node *n = m->root;
  while (n) {
    int c = strcmp(key, n->key);
    if (c == 0) return n->val;
    n = c < 0 ? n->l : n->r;
  }
  return NULL;
}

/* Replacement in place never changes the shape, so it is tried first and
 * the recursive insert only runs for new keys. */
static struct skmap_node *ins(struct skmap_node *n, struct skmap_node *nn)
{
  if (!n) return nn;
  if (strcmp(nn->key, n->key) < 0) n->l = ins(n->l, nn);
  else n->r = ins(n->r, nn);
  return balance(n);
}

void *skmap_put(struct skmap *m, const char *key, void *val, int *err)
{
  if (err) *err = 0;
  struct skmap_node *n = m->root;
  while (n) {
    int c = strcmp(key, n->key);
    if (c == 0) {
      void *old = n->val;
      n->val = val;
      n->key = key;
      return old;
    }
    n = c < 0 ? n->l : n->r;
  }
  struct skmap_node *nn = xcalloc(1, sizeof(*nn));
  if (!nn) {
    if (err) *err = -1;
    return NULL;
  }
  nn->key = key;
  nn->val = val;
  nn->h = 1;
  m->root = ins(m->root, nn);
  m->count++;
  return NULL;
}

static struct skmap_node *pop_min(struct skmap_node *n, struct skmap_node **min)
{
  if (!n->l) {
    *min = n;
    return n->r;
  }
  n->l = pop_min(n->l, min);
  return balance(n);
}

static struct skmap_node *del(struct skmap_node *n, const char *key, struct skmap_node **gone)
{
  if (!n) return NULL;
  int c = strcmp(key, n->key);
  if (c < 0) {
    n->l = del(n->l, key, gone);
  } else if (c > 0) {
    n->r = del(n->r, key, gone);
  } else {
    *gone = n;
    if (!n->r) return n->l;
    struct skmap_node *min;
    struct skmap_node *r = pop_min(n->r, &min);
    min->l = n->l;
    min->r = r;
    return balance(min);
  }
  return balance(n);
}

void *skmap_del(struct skmap *m, const char *key)
{
  struct skmap_node *gone = NULL;
  m->root = del(m->root, key, &gone);
  if (!gone) return NULL;
  void *v = gone->val;
  free(gone);
  m->count--;
  return v;
}

struct walk {
  const char *prefix, *after;
  size_t plen;
  skmap_visit_fn fn;
  void *arg;
};

/* Returns non-zero to stop; 2 means "past the prefix range". */
static int walk(const struct skmap_node *n, const struct walk *w)
{
  while (n) {
    if ((w->after && strcmp(n->key, w->after) <= 0) || strcmp(n->key, w->prefix) < 0) {
      n = n->r; /* everything on the left is out of range too */
      continue;
    }
    int rc = walk(n->l, w);
    if (rc) return rc;
    if (strncmp(n->key, w->prefix, w->plen) != 0) return 2;
    rc = w->fn(w->arg, n->key, n->val);
    if (rc) return rc;
    n = n->r;
  }
  return 0;
}

int skmap_walk(const struct skmap *m, const char *prefix, const char *after, skmap_visit_fn fn, void *arg)
{
  struct walk w = {prefix ? prefix : "", after, prefix ? strlen(prefix) : 0, fn, arg};
  int rc = walk(m->root, &w);
  return rc == 2 ? 0 : rc;
}

static void clear(struct skmap_node *n, void (*fn)(void *))
{
  while (n) {
    clear(n->l, fn);
    struct skmap_node *r = n->r;
    if (fn) fn(n->val);
    free(n);
    n = r;
  }
}

void skmap_clear(struct skmap *m, void (*fn)(void *val))
{
  clear(m->root, fn);
  m->root = NULL;
  m->count = 0;
}
