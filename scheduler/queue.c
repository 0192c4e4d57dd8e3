/*
 * queue.c - the scheduling queue: see queue.h for the states.
 *
 * Entries are found by key through a chained hash table; activeQ and
 * backoffQ are binary heaps over the same entries (an entry is in at most
 * one heap, so one heap_ix field serves both).  Unschedulable, gated,
 * in-flight and assumed entries are in no heap: move_all and flush walk
 * the hash table, which is cheap next to a scheduling cycle.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"
#include "kube/xalloc.h"

struct heap {
  struct sched_qpod **v;
  size_t n, cap;
  bool (*less)(const struct sched_qpod *a, const struct sched_qpod *b);
};

struct sched_queue {
  struct sched_qpod **buckets;
  size_t nbuckets, count;
  struct heap active, backoff;
  size_t counts[SQ_ASSUMED + 1];
  uint64_t cycle, move_cycle;
  int64_t initial_backoff_ms, max_backoff_ms, max_unsched_ms;
};

static bool active_less(const struct sched_qpod *a, const struct sched_qpod *b)
{
  if (a->priority != b->priority) return a->priority > b->priority;
  return a->timestamp_ms < b->timestamp_ms;
}

static bool backoff_less(const struct sched_qpod *a, const struct sched_qpod *b)
{
  return a->backoff_expiry_ms < b->backoff_expiry_ms;
}

static void heap_swap(struct heap *h, size_t i, size_t j)
{
  struct sched_qpod *t = h->v[i];
  h->v[i] = h->v[j];
  h->v[j] = t;
  h->v[i]->heap_ix = i;
  h->v[j]->heap_ix = j;
}

static void heap_up(struct heap *h, size_t i)
{
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!h->less(h->v[i], h->v[p])) break;
    heap_swap(h, i, p);
    i = p;
  }
}

static void heap_down(struct heap *h, size_t i)
{
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < h->n && h->less(h->v[l], h->v[m])) m = l;
    if (r < h->n && h->less(h->v[r], h->v[m])) m = r;
    if (m == i) return;
    heap_swap(h, i, m);
    i = m;
  }
}

static int heap_push(struct heap *h, struct sched_qpod *e)
{
  if (h->n == h->cap) {
    size_t cap = h->cap ? h->cap * 2 : 64;
    void *p = xrealloc(h->v, cap * sizeof *h->v);
    if (!p) return -ENOMEM;
    h->v = p;
    h->cap = cap;
  }
  e->heap_ix = h->n;
  h->v[h->n++] = e;
  heap_up(h, e->heap_ix);
  return 0;
}

static void heap_remove(struct heap *h, struct sched_qpod *e)
{
  size_t i = e->heap_ix;
  if (i >= h->n || h->v[i] != e) return;
  h->n--;
  if (i != h->n) {
    h->v[i] = h->v[h->n];
    h->v[i]->heap_ix = i;
    heap_down(h, i);
    heap_up(h, i);
  }
}

static void heap_fix(struct heap *h, struct sched_qpod *e)
{
  heap_down(h, e->heap_ix);
  heap_up(h, e->heap_ix);
}

/* ---- hash table ---- */

static size_t hash_str(const char *s)
{
  size_t h = 1469598103934665603ULL;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return h;
}

static struct sched_qpod **bucket_of(const struct sched_queue *q, const char *key)
{
  return &q->buckets[hash_str(key) & (q->nbuckets - 1)];
}

struct sched_qpod *sched_queue_get(const struct sched_queue *q, const char *key)
{
  for (struct sched_qpod *e = *bucket_of(q, key); e; e = e->hnext)
    if (strcmp(e->key, key) == 0) return e;
  return NULL;
}

static void table_grow(struct sched_queue *q)
{
  size_t n = q->nbuckets * 2;
  struct sched_qpod **b = xcalloc(n, sizeof *b);
  if (!b) return;
  for (size_t i = 0; i < q->nbuckets; i++) {
    struct sched_qpod *e = q->buckets[i], *next;
    for (; e; e = next) {
      next = e->hnext;
      size_t ix = hash_str(e->key) & (n - 1);
      e->hnext = b[ix];
      b[ix] = e;
    }
  }
  free(q->buckets);
  q->buckets = b;
  q->nbuckets = n;
}

static void table_remove(struct sched_queue *q, struct sched_qpod *e)
{
  for (struct sched_qpod **pp = bucket_of(q, e->key); *pp; pp = &(*pp)->hnext)
    if (*pp == e) {
      *pp = e->hnext;
      q->count--;
      return;
    }
}

/* ---- helpers ---- */

int64_t sched_pod_priority(const json_t *pod)
{
  return (int64_t)json_integer_value(json_object_get(json_object_get(pod, "spec"), "priority"));
}

bool sched_pod_is_gated(const json_t *pod)
{
  return json_array_size(json_object_get(json_object_get(pod, "spec"), "schedulingGates")) > 0;
}

static char *pod_key(const json_t *pod)
{
  const json_t *md = json_object_get(pod, "metadata");
  const char *ns = json_string_value(json_object_get(md, "namespace"));
  const char *name = json_string_value(json_object_get(md, "name"));
  if (!name) return NULL;
  size_t len = (ns ? strlen(ns) : 7) + strlen(name) + 2;
  char *k = xmalloc(len);
  if (k) snprintf(k, len, "%s/%s", ns ? ns : "default", name);
  return k;
}

int64_t sched_queue_backoff_ms(const struct sched_queue *q, int attempts)
{
  int64_t d = q->initial_backoff_ms;
  for (int i = 1; i < attempts; i++) {
    d *= 2;
    if (d >= q->max_backoff_ms) return q->max_backoff_ms;
  }
  return d < q->max_backoff_ms ? d : q->max_backoff_ms;
}

static void set_state(struct sched_queue *q, struct sched_qpod *e, enum sched_qstate st)
{
  if (e->state == SQ_ACTIVE) heap_remove(&q->active, e);
  else if (e->state == SQ_BACKOFF) heap_remove(&q->backoff, e);
  if (e->state) q->counts[e->state]--;
  e->state = st;
  q->counts[st]++;
  if (st == SQ_ACTIVE) heap_push(&q->active, e);
  else if (st == SQ_BACKOFF) heap_push(&q->backoff, e);
}

/* Backoff if the pod's backoff has not expired yet, else active. */
static void requeue(struct sched_queue *q, struct sched_qpod *e, int64_t now_ms)
{
  if (e->attempts > 0 && e->backoff_expiry_ms > now_ms) {
    set_state(q, e, SQ_BACKOFF);
  } else {
    e->timestamp_ms = now_ms;
    set_state(q, e, SQ_ACTIVE);
  }
}

static void entry_free(struct sched_queue *q, struct sched_qpod *e)
{
  if (e->state == SQ_ACTIVE) heap_remove(&q->active, e);
  else if (e->state == SQ_BACKOFF) heap_remove(&q->backoff, e);
  if (e->state) q->counts[e->state]--;
  table_remove(q, e);
  json_decref(e->pod);
  free(e->key);
  free(e);
}

/* ---- API ---- */

struct sched_queue *sched_queue_new(int64_t initial_backoff_ms, int64_t max_backoff_ms, int64_t max_unschedulable_ms)
{
  struct sched_queue *q = xcalloc(1, sizeof *q);
  if (!q) return NULL;
  q->nbuckets = 256;
  q->buckets = xcalloc(q->nbuckets, sizeof *q->buckets);
  if (!q->buckets) {
    free(q);
    return NULL;
  }
  q->active.less = active_less;
  q->backoff.less = backoff_less;
  q->initial_backoff_ms = initial_backoff_ms > 0 ? initial_backoff_ms : SCHED_QUEUE_INITIAL_BACKOFF_MS;
  q->max_backoff_ms = max_backoff_ms > 0 ? max_backoff_ms : SCHED_QUEUE_MAX_BACKOFF_MS;
  q->max_unsched_ms = max_unschedulable_ms > 0 ? max_unschedulable_ms : SCHED_QUEUE_MAX_UNSCHEDULABLE_MS;
  return q;
}

void sched_queue_free(struct sched_queue *q)
{
  if (!q) return;
  for (size_t i = 0; i < q->nbuckets; i++) {
    struct sched_qpod *e = q->buckets[i], *next;
    for (; e; e = next) {
      next = e->hnext;
      json_decref(e->pod);
      free(e->key);
      free(e);
    }
  }
  free(q->buckets);
  free(q->active.v);
  free(q->backoff.v);
  free(q);
}

bool sched_json_eq(const json_t *a, const json_t *b)
{
  if (!a || !b) return a == b;
  return json_equal(a, b);
}

/* Whether an update could change the scheduling outcome: anything but
 * metadata bookkeeping and status (upstream's isPodUpdated). */
static bool pod_spec_changed(const json_t *a, const json_t *b)
{
  if (!sched_json_eq(json_object_get(a, "spec"), json_object_get(b, "spec"))) return true;
  const json_t *ma = json_object_get(a, "metadata"), *mb = json_object_get(b, "metadata");
  return !sched_json_eq(json_object_get(ma, "labels"), json_object_get(mb, "labels")) ||
         !sched_json_eq(json_object_get(ma, "annotations"), json_object_get(mb, "annotations"));
}

enum sched_qstate sched_queue_upsert(struct sched_queue *q, json_t *pod, int64_t now_ms)
{
  char *key = pod_key(pod);
  if (!key) return 0;
  struct sched_qpod *e = sched_queue_get(q, key);
  if (e) {
    free(key);
    bool changed = pod_spec_changed(e->pod, pod);
    json_t *old = e->pod;
    e->pod = json_incref(pod);
    e->priority = sched_pod_priority(pod);
    json_decref(old);
    switch (e->state) {
    case SQ_ACTIVE: heap_fix(&q->active, e); break;
    case SQ_BACKOFF: break;
    case SQ_UNSCHEDULABLE:
      if (changed) requeue(q, e, now_ms);
      break;
    case SQ_GATED:
      if (!sched_pod_is_gated(pod)) requeue(q, e, now_ms);
      break;
    case SQ_INFLIGHT:
      if (changed) e->updated = true;
      break;
    case SQ_ASSUMED: break;
    }
    return e->state;
  }
  e = xcalloc(1, sizeof *e);
  if (!e) {
    free(key);
    return 0;
  }
  e->key = key;
  e->pod = json_incref(pod);
  e->priority = sched_pod_priority(pod);
  e->timestamp_ms = now_ms;
  struct sched_qpod **b = bucket_of(q, key);
  e->hnext = *b;
  *b = e;
  q->count++;
  set_state(q, e, sched_pod_is_gated(pod) ? SQ_GATED : SQ_ACTIVE);
  if (q->count > q->nbuckets) table_grow(q);
  return e->state;
}

void sched_queue_delete(struct sched_queue *q, const char *key)
{
  struct sched_qpod *e = sched_queue_get(q, key);
  if (!e) return;
  if (e->state == SQ_INFLIGHT || e->state == SQ_ASSUMED) {
    e->deleted = true;
    return;
  }
  entry_free(q, e);
}

void sched_queue_flush(struct sched_queue *q, int64_t now_ms)
{
  while (q->backoff.n > 0 && q->backoff.v[0]->backoff_expiry_ms <= now_ms) {
    struct sched_qpod *e = q->backoff.v[0];
    e->timestamp_ms = now_ms;
    set_state(q, e, SQ_ACTIVE);
  }
  if (q->counts[SQ_UNSCHEDULABLE] == 0) return;
  for (size_t i = 0; i < q->nbuckets; i++)
    for (struct sched_qpod *e = q->buckets[i]; e; e = e->hnext)
      if (e->state == SQ_UNSCHEDULABLE && now_ms - e->timestamp_ms >= q->max_unsched_ms) requeue(q, e, now_ms);
}

struct sched_qpod *sched_queue_pop(struct sched_queue *q, int64_t now_ms)
{
  if (q->active.n == 0) return NULL;
  struct sched_qpod *e = q->active.v[0];
  set_state(q, e, SQ_INFLIGHT);
  e->attempts++;
  e->pop_cycle = ++q->cycle;
  e->updated = false;
  return e;
}

void sched_queue_done(struct sched_queue *q, struct sched_qpod *e, enum sched_outcome out, int64_t now_ms)
{
  if (e->deleted && out != SQ_OUT_ASSUMED) {
    entry_free(q, e);
    return;
  }
  switch (out) {
  case SQ_OUT_ASSUMED: set_state(q, e, SQ_ASSUMED); break;
  case SQ_OUT_BOUND: entry_free(q, e); break;
  case SQ_OUT_UNSCHEDULABLE:
  case SQ_OUT_ERROR:
    e->timestamp_ms = now_ms;
    e->backoff_expiry_ms = now_ms + sched_queue_backoff_ms(q, e->attempts);
    if (out == SQ_OUT_ERROR || e->updated || q->move_cycle >= e->pop_cycle) set_state(q, e, SQ_BACKOFF);
    else set_state(q, e, SQ_UNSCHEDULABLE);
    e->updated = false;
    break;
  }
}

void sched_queue_move_all(struct sched_queue *q, bool (*pred)(void *arg, const json_t *pod), void *arg, int64_t now_ms)
{
  q->move_cycle = q->cycle;
  if (q->counts[SQ_UNSCHEDULABLE] == 0) return;
  for (size_t i = 0; i < q->nbuckets; i++)
    for (struct sched_qpod *e = q->buckets[i]; e; e = e->hnext)
      if (e->state == SQ_UNSCHEDULABLE && (!pred || pred(arg, e->pod))) requeue(q, e, now_ms);
}

size_t sched_queue_len(const struct sched_queue *q, enum sched_qstate state)
{
  return state >= SQ_ACTIVE && state <= SQ_ASSUMED ? q->counts[state] : 0;
}

int64_t sched_queue_next_backoff_ms(const struct sched_queue *q, int64_t now_ms)
{
  if (q->backoff.n == 0) return -1;
  int64_t d = q->backoff.v[0]->backoff_expiry_ms - now_ms;
  return d > 0 ? d : 0;
}

void sched_queue_foreach(struct sched_queue *q, void (*fn)(void *arg, struct sched_qpod *qp), void *arg)
{
  for (size_t i = 0; i < q->nbuckets; i++) {
    struct sched_qpod *e = q->buckets[i], *next;
    for (; e; e = next) {
      next = e->hnext;
      fn(arg, e);
    }
  }
}
