/*
 * workqueue.c - deduplicating, rate-limited work queue on one event loop.
 *
 * Three sets, as in client-go: `dirty` (keys that need processing),
 * `processing` (keys handed to a worker) and the FIFO `queue` (dirty keys
 * not processing).  add() marks a key dirty and queues it unless it is
 * processing; done() requeues a key that became dirty meanwhile.  That is
 * what guarantees one key is never worked on twice at the same time while
 * no update is lost.
 *
 * Sets are jansson objects (a string hash table we already link); values
 * that must point at C structs hold the pointer as an integer.  Delayed
 * keys each own a libevent timer.  Workers are not threads: a "kick" event
 * hands ready keys to the process callback while fewer than `workers` are
 * in flight.
 */
#include "kube/workqueue.h"

#include <event2/event.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube/timeutil.h"
#include "kube/xalloc.h"

#define WQ_DEFAULT_BASE_DELAY_MS 5
#define WQ_DEFAULT_MAX_DELAY_MS (1000LL * 1000)
#define WQ_DEFAULT_QPS 10.0
#define WQ_DEFAULT_BURST 100

struct wq_item {
  char *key;
  struct wq_item *next;
};

struct wq_wait {
  struct workqueue *q;
  char *key;
  int64_t ready_ms;
  struct event *ev;
  struct wq_wait *prev, *next;
};

struct workqueue {
  struct event_base *base;
  char *name;
  struct wq_item *head, *tail;
  size_t len;
  json_t *dirty;      /* key -> true */
  json_t *processing; /* key -> (char *) key copy handed out */
  json_t *waiting;    /* key -> (struct wq_wait *) */
  json_t *failures;   /* key -> count */
  struct wq_wait *waits;
  int64_t base_delay_ms, max_delay_ms;
  double qps, tokens;
  int burst;
  int64_t last_ms;
  int workers;
  workqueue_process_fn process;
  void *arg;
  struct event *kick;
  bool shutdown;
};

static json_t *ptr_json(void *p) { return json_integer((json_int_t)(intptr_t)p); }
static void *json_ptr(const json_t *v) { return v ? (void *)(intptr_t)json_integer_value(v) : NULL; }

static void kick_cb(evutil_socket_t fd, short what, void *arg);

struct workqueue *workqueue_new(struct event_base *base, const char *name)
{
  struct workqueue *q = xcalloc(1, sizeof *q);
  if (!q) return NULL;
  q->base = base;
  q->name = xstrdup(name ? name : "");
  q->dirty = json_object();
  q->processing = json_object();
  q->waiting = json_object();
  q->failures = json_object();
  q->kick = event_new(base, -1, 0, kick_cb, q);
  q->base_delay_ms = WQ_DEFAULT_BASE_DELAY_MS;
  q->max_delay_ms = WQ_DEFAULT_MAX_DELAY_MS;
  q->qps = WQ_DEFAULT_QPS;
  q->burst = WQ_DEFAULT_BURST;
  q->tokens = q->burst;
  q->last_ms = ktime_mono_ms();
  if (!q->name || !q->dirty || !q->processing || !q->waiting || !q->failures || !q->kick) {
    workqueue_free(q);
    return NULL;
  }
  return q;
}

void workqueue_set_rate_limits(struct workqueue *q, int64_t base_delay_ms, int64_t max_delay_ms, double qps, int burst)
{
  q->base_delay_ms = base_delay_ms > 0 ? base_delay_ms : 1;
  q->max_delay_ms = max_delay_ms > q->base_delay_ms ? max_delay_ms : q->base_delay_ms;
  q->qps = qps;
  q->burst = burst > 0 ? burst : 1;
  q->tokens = q->burst;
  q->last_ms = ktime_mono_ms();
}

static void wait_free(struct wq_wait *w)
{
  struct workqueue *q = w->q;
  if (w->prev) w->prev->next = w->next;
  else q->waits = w->next;
  if (w->next) w->next->prev = w->prev;
  if (w->ev) event_free(w->ev);
  free(w->key);
  free(w);
}

void workqueue_free(struct workqueue *q)
{
  if (!q) return;
  while (q->waits) wait_free(q->waits);
  while (q->head) {
    struct wq_item *it = q->head;
    q->head = it->next;
    free(it->key);
    free(it);
  }
  const char *k;
  json_t *v;
  json_object_foreach (q->processing, k, v) free(json_ptr(v));
  json_decref(q->dirty);
  json_decref(q->processing);
  json_decref(q->waiting);
  json_decref(q->failures);
  if (q->kick) event_free(q->kick);
  free(q->name);
  free(q);
}

static void maybe_kick(struct workqueue *q)
{
  if (q->process && q->head && (int)json_object_size(q->processing) < q->workers) event_active(q->kick, 0, 0);
}

static void push(struct workqueue *q, const char *key)
{
  struct wq_item *it = xmalloc(sizeof *it);
  if (!it) return;
  it->key = xstrdup(key);
  it->next = NULL;
  if (!it->key) {
    free(it);
    return;
  }
  if (q->tail) q->tail->next = it;
  else q->head = it;
  q->tail = it;
  q->len++;
}

void workqueue_add(struct workqueue *q, const char *key)
{
  if (q->shutdown || json_object_get(q->dirty, key)) return;
  json_object_set_new(q->dirty, key, json_true());
  if (json_object_get(q->processing, key)) return;
  push(q, key);
  maybe_kick(q);
}

static void wait_cb(evutil_socket_t fd, short what, void *arg)
{
  struct wq_wait *w = arg;
  struct workqueue *q = w->q;
  json_object_del(q->waiting, w->key);
  workqueue_add(q, w->key);
  wait_free(w);
}

void workqueue_add_after(struct workqueue *q, const char *key, int64_t delay_ms)
{
  if (q->shutdown) return;
  if (delay_ms <= 0) {
    workqueue_add(q, key);
    return;
  }
  int64_t ready = ktime_mono_ms() + delay_ms;
  struct wq_wait *w = json_ptr(json_object_get(q->waiting, key));
  if (w) {
    if (ready >= w->ready_ms) return;
  } else {
    w = xcalloc(1, sizeof *w);
    if (!w) return;
    w->q = q;
    w->key = xstrdup(key);
    w->ev = evtimer_new(q->base, wait_cb, w);
    w->next = q->waits;
    if (q->waits) q->waits->prev = w;
    q->waits = w;
    if (!w->key || !w->ev) {
      wait_free(w);
      return;
    }
    json_object_set_new(q->waiting, key, ptr_json(w));
  }
  w->ready_ms = ready;
  struct timeval tv = {delay_ms / 1000, (delay_ms % 1000) * 1000};
  evtimer_add(w->ev, &tv);
}

int64_t workqueue_when(struct workqueue *q, const char *key)
{
  json_int_t n = json_integer_value(json_object_get(q->failures, key));
  json_object_set_new(q->failures, key, json_integer(n + 1));
  int64_t exp = q->base_delay_ms;
  for (json_int_t i = 0; i < n && exp < q->max_delay_ms; i++) exp *= 2;
  if (exp > q->max_delay_ms) exp = q->max_delay_ms;

  int64_t bucket = 0;
  if (q->qps > 0) {
    int64_t now = ktime_mono_ms();
    q->tokens += (double)(now - q->last_ms) * q->qps / 1000.0;
    if (q->tokens > q->burst) q->tokens = q->burst;
    q->last_ms = now;
    q->tokens -= 1.0; /* a reservation: may go negative, later callers wait longer */
    if (q->tokens < 0) bucket = (int64_t)(-q->tokens * 1000.0 / q->qps + 0.999);
  }
  return exp > bucket ? exp : bucket;
}

void workqueue_add_rate_limited(struct workqueue *q, const char *key)
{
  workqueue_add_after(q, key, workqueue_when(q, key));
}

void workqueue_forget(struct workqueue *q, const char *key) { json_object_del(q->failures, key); }

int workqueue_num_requeues(struct workqueue *q, const char *key)
{
  return (int)json_integer_value(json_object_get(q->failures, key));
}

const char *workqueue_get(struct workqueue *q)
{
  struct wq_item *it = q->head;
  if (!it) return NULL;
  q->head = it->next;
  if (!q->head) q->tail = NULL;
  q->len--;
  char *key = it->key;
  free(it);
  json_object_set_new(q->processing, key, ptr_json(key));
  json_object_del(q->dirty, key);
  return key;
}

void workqueue_done(struct workqueue *q, const char *key)
{
  char *mine = json_ptr(json_object_get(q->processing, key));
  if (!mine) return;
  json_object_del(q->processing, mine);
  if (json_object_get(q->dirty, mine)) push(q, mine);
  free(mine);
  maybe_kick(q);
}

static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
  struct workqueue *q = arg;
  while (q->process && q->head && (int)json_object_size(q->processing) < q->workers) {
    const char *key = workqueue_get(q);
    q->process(q->arg, q, key);
  }
}

void workqueue_run(struct workqueue *q, int workers, workqueue_process_fn process, void *arg)
{
  q->workers = workers > 0 ? workers : 1;
  q->process = process;
  q->arg = arg;
  maybe_kick(q);
}

void workqueue_shutdown(struct workqueue *q)
{
  q->shutdown = true;
  while (q->waits) {
    json_object_del(q->waiting, q->waits->key);
    wait_free(q->waits);
  }
}

bool workqueue_shutting_down(const struct workqueue *q) { return q->shutdown; }
size_t workqueue_len(const struct workqueue *q) { return q->len; }
size_t workqueue_processing(const struct workqueue *q) { return json_object_size(q->processing); }
