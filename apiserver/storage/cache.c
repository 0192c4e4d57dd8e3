/*
 * cache.c - the committed state in memory: current keys, the history
 * window, list at a revision, and watchers.
 *
 * Current state is an AVL map key -> kv.  History is a ring of events,
 * one per revision from compact_rev + 1 to rev (revisions have no gaps:
 * each write takes the next one and a failed batch gives its revisions
 * back), so the event of revision r is found by index.  Each event keeps
 * its value and the value it replaced; both are shared references, so a
 * create costs nothing extra in history and an update keeps the old bytes
 * alive only for as long as the window.
 *
 * List at an older revision R walks the current map and overlays, for each
 * key changed after R, the value it had at R: the prev of the key's first
 * event after R (NULL for ADDED, meaning the key did not exist at R).
 * Keys deleted since R only exist in the overlay, so the two sorted
 * sequences are merged.
 *
 * Watchers are grouped by prefix, so fan-out to a thousand watchers of the
 * same prefix tests each event's key once.  A watcher's pos is the last
 * revision it has seen.  A watcher created behind the current revision is
 * "lagging": a zero-timeout event replays history to it (a bounded number
 * of events per turn), after which it is live and gets each committed batch
 * right after the commit.  Callbacks may cancel any watcher or create new
 * ones during delivery: cancelled watchers are only marked then, and freed
 * once no delivery is on the stack; arrays are walked by index so appends
 * are safe.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "storage/storage_internal.h"
#include "kube/xalloc.h"

#define CATCHUP_EVENTS_PER_TURN 4096

struct wgroup {
  char *prefix;
  size_t plen;
  struct storage_watch **w;
  size_t n, cap;
};

struct storage_watch {
  struct storage *st;
  struct wgroup *g;
  storage_event_fn fn;
  void *arg;
  int64_t pos;
  bool lagging, cancelled;
};

static void catchup_cb(evutil_socket_t fd, short what, void *arg);

int cache_init(struct storage *st, struct event_base *base)
{
  st->catchup_ev = event_new(base, -1, 0, catchup_cb, st);
  return st->catchup_ev ? 0 : -ENOMEM;
}

static void unref_val(void *v) { kv_unref(v); }

void cache_free(struct storage *st)
{
  cache_watchers_free(st);
  cache_drop_oldest(st, st->hist.n);
  free(st->hist.v);
  st->hist.v = NULL;
  skmap_clear(&st->cur, unref_val);
  if (st->catchup_ev) event_free(st->catchup_ev);
  st->catchup_ev = NULL;
}

/* ---- history ---- */

struct hist_ent *cache_hist_at(struct storage *st, int64_t rev)
{
  if (rev <= st->compact_rev || rev > st->compact_rev + (int64_t)st->hist.n) return NULL;
  size_t i = (size_t)(rev - st->compact_rev - 1);
  return &st->hist.v[(st->hist.head + i) % st->hist.cap];
}

static int hist_push(struct history *h, const struct hist_ent *e)
{
  if (h->n == h->cap) {
    size_t ncap = h->cap ? h->cap * 2 : 1024;
    struct hist_ent *nv = xmalloc(ncap * sizeof(*nv));
    if (!nv) return -ENOMEM;
    for (size_t i = 0; i < h->n; i++) nv[i] = h->v[(h->head + i) % h->cap];
    free(h->v);
    h->v = nv;
    h->cap = ncap;
    h->head = 0;
  }
  h->v[(h->head + h->n) % h->cap] = *e;
  h->n++;
  return 0;
}

void cache_drop_oldest(struct storage *st, size_t n)
{
  struct history *h = &st->hist;
  for (size_t i = 0; i < n && h->n; i++) {
    struct hist_ent *e = &h->v[h->head];
    kv_unref(e->kv);
    kv_unref(e->prev);
    h->head = (h->head + 1) % h->cap;
    h->n--;
    st->compact_rev++;
  }
}

int cache_apply(struct storage *st, uint8_t type, struct kv *kv, struct kv *prev, int64_t ts_ms)
{
  struct hist_ent e = {kv, prev, ts_ms, type};
  if (hist_push(&st->hist, &e) < 0) return -ENOMEM;
  if (type == EV_DELETED) {
    struct kv *old = skmap_del(&st->cur, kv->key);
    if (old) {
      st->cur_bytes -= old->len;
      kv_unref(old);
    }
  } else {
    int err;
    kv_ref(kv);
    struct kv *old = skmap_put(&st->cur, kv->key, kv, &err);
    if (err) {
      kv_unref(kv);
      st->hist.n--;
      return -ENOMEM;
    }
    st->cur_bytes += kv->len;
    if (old) {
      st->cur_bytes -= old->len;
      kv_unref(old);
    }
  }
  st->rev++;
  return 0;
}

/* ---- reads ---- */

struct kv *storage_get(struct storage *st, const char *key) { return skmap_get(&st->cur, key); }

int64_t storage_rev(const struct storage *st) { return st->rev; }
int64_t cache_oldest(const struct storage *st)
{
  return st->compacting_to > st->compact_rev ? st->compacting_to : st->compact_rev;
}

int64_t storage_oldest_rev(const struct storage *st) { return cache_oldest(st); }

struct list_cur {
  storage_visit_fn fn;
  void *arg;
};

static int list_cur_visit(void *arg, const char *key, void *val)
{
  struct list_cur *lc = arg;
  return lc->fn(lc->arg, val) ? 1 : 0;
}

struct overlay {
  const char *key;
  int64_t rev;
  struct kv *val; /* value at the listed revision, NULL = absent */
};

static int overlay_cmp(const void *a, const void *b)
{
  const struct overlay *x = a, *y = b;
  int c = strcmp(x->key, y->key);
  if (c) return c;
  return x->rev < y->rev ? -1 : x->rev > y->rev;
}

struct list_old {
  storage_visit_fn fn;
  void *arg;
  struct overlay *ov;
  size_t n, i;
};

/* Emits overlay-only keys (deleted since) that sort before key. */
static int list_old_flush(struct list_old *lo, const char *key)
{
  while (lo->i < lo->n && (!key || strcmp(lo->ov[lo->i].key, key) < 0)) {
    struct kv *v = lo->ov[lo->i++].val;
    if (v && lo->fn(lo->arg, v)) return 1;
  }
  return 0;
}

static int list_old_visit(void *arg, const char *key, void *val)
{
  struct list_old *lo = arg;
  if (list_old_flush(lo, key)) return 1;
  struct kv *v = val;
  if (lo->i < lo->n && strcmp(lo->ov[lo->i].key, key) == 0) v = lo->ov[lo->i++].val;
  return v && lo->fn(lo->arg, v) ? 1 : 0;
}

int storage_list(struct storage *st, const char *prefix, int64_t rev, const char *start_after, storage_visit_fn fn,
                 void *arg)
{
  if (!prefix) prefix = "";
  if (rev <= 0 || rev >= st->rev) {
    struct list_cur lc = {fn, arg};
    skmap_walk(&st->cur, prefix, start_after, list_cur_visit, &lc);
    return 0;
  }
  if (rev < cache_oldest(st)) return STORAGE_EEXPIRED;
  size_t plen = strlen(prefix);
  struct list_old lo = {fn, arg, NULL, 0, 0};
  size_t cap = 0;
  for (int64_t r = rev + 1; r <= st->rev; r++) {
    struct hist_ent *e = cache_hist_at(st, r);
    const char *key = e->kv->key;
    if (strncmp(key, prefix, plen) != 0 || (start_after && strcmp(key, start_after) <= 0)) continue;
    if (lo.n == cap) {
      cap = cap ? cap * 2 : 64;
      struct overlay *nv = xrealloc(lo.ov, cap * sizeof(*nv));
      if (!nv) {
        free(lo.ov);
        return -ENOMEM;
      }
      lo.ov = nv;
    }
    lo.ov[lo.n++] = (struct overlay){key, r, e->type == EV_ADDED ? NULL : e->prev};
  }
  if (lo.n > 1) {
    qsort(lo.ov, lo.n, sizeof(*lo.ov), overlay_cmp);
    size_t k = 0; /* keep the first (oldest) event per key */
    for (size_t j = 0; j < lo.n; j++)
      if (k == 0 || strcmp(lo.ov[k - 1].key, lo.ov[j].key) != 0) lo.ov[k++] = lo.ov[j];
    lo.n = k;
  }
  if (!skmap_walk(&st->cur, prefix, start_after, list_old_visit, &lo)) list_old_flush(&lo, NULL);
  free(lo.ov);
  return 0;
}

static int count_visit(void *arg, const char *key, void *val)
{
  (*(size_t *)arg)++;
  return 0;
}

size_t storage_count(struct storage *st, const char *prefix)
{
  size_t n = 0;
  if (!prefix || !*prefix) return st->cur.count;
  skmap_walk(&st->cur, prefix, NULL, count_visit, &n);
  return n;
}

/* ---- watchers ---- */

static struct wgroup *group_get(struct storage *st, const char *prefix)
{
  for (size_t i = 0; i < st->ngroups; i++)
    if (strcmp(st->groups[i]->prefix, prefix) == 0) return st->groups[i];
  if (st->ngroups == st->capgroups) {
    size_t ncap = st->capgroups ? st->capgroups * 2 : 8;
    struct wgroup **ng = xrealloc(st->groups, ncap * sizeof(*ng));
    if (!ng) return NULL;
    st->groups = ng;
    st->capgroups = ncap;
  }
  struct wgroup *g = xcalloc(1, sizeof(*g));
  if (!g || !(g->prefix = xstrdup(prefix))) {
    free(g);
    return NULL;
  }
  g->plen = strlen(prefix);
  st->groups[st->ngroups++] = g;
  return g;
}

static void group_free(struct wgroup *g)
{
  free(g->w);
  free(g->prefix);
  free(g);
}

struct storage_watch *storage_watch(struct storage *st, const char *prefix, int64_t from_rev, storage_event_fn fn,
                                    void *arg, int *err)
{
  int dummy;
  if (!err) err = &dummy;
  *err = 0;
  if (!prefix) prefix = "";
  if (from_rev > 0 && from_rev < cache_oldest(st)) {
    *err = STORAGE_EEXPIRED;
    return NULL;
  }
  struct wgroup *g = group_get(st, prefix);
  struct storage_watch *w = g ? xcalloc(1, sizeof(*w)) : NULL;
  if (w && g->n == g->cap) {
    size_t ncap = g->cap ? g->cap * 2 : 4;
    struct storage_watch **nw = xrealloc(g->w, ncap * sizeof(*nw));
    if (nw) {
      g->w = nw;
      g->cap = ncap;
    } else {
      free(w);
      w = NULL;
    }
  }
  if (!w) {
    *err = -ENOMEM;
    return NULL; /* an empty group is swept with the dead watchers */
  }
  w->st = st;
  w->g = g;
  w->fn = fn;
  w->arg = arg;
  w->pos = from_rev > 0 ? from_rev : st->rev;
  g->w[g->n++] = w;
  if (w->pos < st->rev) {
    w->lagging = true;
    st->nlagging++;
    if (!st->catchup_scheduled) {
      st->catchup_scheduled = true;
      event_active(st->catchup_ev, EV_TIMEOUT, 1);
    }
  }
  return w;
}

/* Frees cancelled watchers and empty groups; only when nothing delivers. */
static void sweep(struct storage *st)
{
  if (st->deliver_depth > 0) return;
  size_t k = 0;
  for (size_t i = 0; i < st->ngroups; i++) {
    struct wgroup *g = st->groups[i];
    size_t m = 0;
    for (size_t j = 0; j < g->n; j++) {
      if (g->w[j]->cancelled) free(g->w[j]);
      else g->w[m++] = g->w[j];
    }
    g->n = m;
    if (m == 0) group_free(g);
    else st->groups[k++] = g;
  }
  st->ngroups = k;
  st->ndead = 0;
}

void storage_watch_cancel(struct storage_watch *w)
{
  if (!w || w->cancelled) return;
  struct storage *st = w->st;
  w->cancelled = true;
  w->fn = NULL;
  if (w->lagging) {
    w->lagging = false;
    st->nlagging--;
  }
  st->ndead++;
  sweep(st);
}

void cache_watchers_free(struct storage *st)
{
  for (size_t i = 0; i < st->ngroups; i++) {
    struct wgroup *g = st->groups[i];
    for (size_t j = 0; j < g->n; j++) free(g->w[j]);
    group_free(g);
  }
  free(st->groups);
  st->groups = NULL;
  st->ngroups = st->capgroups = 0;
  st->nlagging = st->ndead = 0;
}

int64_t cache_watch_floor(struct storage *st)
{
  int64_t floor = INT64_MAX;
  if (!st->nlagging) return floor;
  for (size_t i = 0; i < st->ngroups; i++)
    for (size_t j = 0; j < st->groups[i]->n; j++) {
      struct storage_watch *w = st->groups[i]->w[j];
      if (w->lagging && w->pos < floor) floor = w->pos;
    }
  return floor;
}

void cache_deliver(struct storage *st, int64_t first_rev)
{
  int64_t last = st->rev;
  st->deliver_depth++;
  for (size_t gi = 0; gi < st->ngroups; gi++) {
    struct wgroup *g = st->groups[gi];
    for (int64_t r = first_rev; r <= last; r++) {
      struct hist_ent *e = cache_hist_at(st, r);
      if (!e || strncmp(e->kv->key, g->prefix, g->plen) != 0) continue;
      for (size_t wi = 0; wi < g->n; wi++) {
        struct storage_watch *w = g->w[wi];
        if (w->cancelled || w->lagging || w->pos >= r) continue;
        w->pos = r;
        w->fn(w->arg, e->type, e->kv, e->prev);
      }
    }
    for (size_t wi = 0; wi < g->n; wi++) {
      struct storage_watch *w = g->w[wi];
      if (!w->cancelled && !w->lagging && w->pos < last) w->pos = last;
    }
  }
  st->deliver_depth--;
  if (st->ndead) sweep(st);
}

static void catchup_cb(evutil_socket_t fd, short what, void *arg)
{
  struct storage *st = arg;
  st->catchup_scheduled = false;
  st->deliver_depth++;
  for (size_t gi = 0; gi < st->ngroups; gi++) {
    struct wgroup *g = st->groups[gi];
    for (size_t wi = 0; wi < g->n; wi++) {
      struct storage_watch *w = g->w[wi];
      if (!w->lagging) continue;
      int budget = CATCHUP_EVENTS_PER_TURN;
      while (!w->cancelled && w->pos < st->rev && budget-- > 0) {
        struct hist_ent *e = cache_hist_at(st, ++w->pos);
        if (e && strncmp(e->kv->key, g->prefix, g->plen) == 0) w->fn(w->arg, e->type, e->kv, e->prev);
      }
      if (w->lagging && w->pos >= st->rev) {
        w->lagging = false;
        st->nlagging--;
      }
    }
  }
  st->deliver_depth--;
  if (st->ndead) sweep(st);
  if (st->nlagging && !st->catchup_scheduled) {
    st->catchup_scheduled = true;
    event_active(st->catchup_ev, EV_TIMEOUT, 1);
  }
}
