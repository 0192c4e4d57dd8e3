/*
 * framework.c - the controller base (workqueue, workers, metrics,
 * periodic timer) and the executor of runs, the writes of one sync (see
 * framework.h for the rules).
 *
 * A run holds one reference for the sync itself, dropped by
 * cm_run_end(), plus one per request in flight; slow-start actions wait
 * in run->slow until the batch before them fully succeeded.  It finishes
 * when the sync has ended, nothing is in flight and no slow-start action
 * waits: the done callback hears the outcome, then the key is marked done
 * in the workqueue (forgotten, or requeued rate limited when an action
 * was not done) and requeued after the delay asked for.
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "framework.h"
#include "sa_clients.h"
#include "kube/informer.h"
#include "kube/json.h"
#include "kube/log.h"
#include "kube/metrics.h"
#include "kube/recorder.h"
#include "kube/restclient.h"
#include "kube/timeutil.h"
#include "kube/workqueue.h"
#include "kube/xalloc.h"

void cm_action_release(struct cm_action *act); /* actions.c */

int64_t cm_now(void) { return ktime_now_us() / 1000000; }

/* ---- the base ---- */

static void queue_metrics(struct cm_base *b)
{
  if (!b->ctx->metrics) return;
  char labels[128];
  snprintf(labels, sizeof labels, "name=\"%s\"", b->name);
  metrics_gauge_set(b->ctx->metrics, "workqueue_depth", "Current depth of workqueue", labels,
                    (double)workqueue_len(b->q));
}

static void process_cb(void *arg, struct workqueue *q, const char *key)
{
  struct cm_base *b = arg;
  if (b->started) json_object_set_new(b->started, key, json_integer(ktime_mono_ms()));
  queue_metrics(b);
  b->sync(b, key);
}

int cm_base_init(struct cm_base *b, struct cm_ctx *ctx, const char *name, int workers, cm_sync_fn sync)
{
  b->ctx = ctx;
  b->client = ctx->client;
  b->name = name;
  b->workers = workers > 0 ? workers : 1;
  b->sync = sync;
  b->q = workqueue_new(ctx->base, name);
  b->started = json_object();
  return b->q && b->started ? 0 : -12;
}

void cm_base_set_component(struct cm_base *b, const char *component)
{
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  if (b->recorder) recorder_free(b->recorder);
  b->recorder = b->client ? recorder_new(b->ctx->base, b->client, component, host) : NULL;
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
  struct cm_base *b = arg;
  b->on_tick(b);
}

void cm_base_periodic(struct cm_base *b, int64_t period_ms, void (*fn)(struct cm_base *b))
{
  if (b->tick) event_free(b->tick);
  b->on_tick = fn;
  b->tick = event_new(b->ctx->base, -1, EV_PERSIST, tick_cb, b);
  struct timeval tv = {period_ms / 1000, (period_ms % 1000) * 1000};
  if (b->tick) event_add(b->tick, &tv);
}

void cm_base_run(struct cm_base *b) { workqueue_run(b->q, b->workers, process_cb, b); }

static void run_cancel(struct cm_run *r);

void cm_base_stop(struct cm_base *b)
{
  while (b->runs) run_cancel(b->runs);
  if (b->tick) event_free(b->tick);
  b->tick = NULL;
  if (b->q) workqueue_free(b->q);
  b->q = NULL;
  if (b->recorder) recorder_free(b->recorder);
  b->recorder = NULL;
  json_decref(b->started);
  b->started = NULL;
}

/* ---- the life of a controller ---- */

static int def_workers(const struct controller_def *d, const struct cm_config *cfg)
{
  int n = d->workers_flag ? *(const int *)((const char *)cfg + d->workers_flag) : 0;
  return n > 0 ? n : d->workers;
}

struct cm_base *cm_controller_start(const struct controller_def *d, struct cm_ctx *ctx, int *err)
{
  struct cm_base *b = xcalloc(1, d->size);
  *err = cm_base_init(b, ctx, d->queue, def_workers(d, &ctx->cfg), d->sync);
  b->def = d;
  if (ctx->sa_clients && d->service_account) b->client = cm_sa_client(ctx->sa_clients, d->service_account);
  if (*err == 0 && d->component) cm_base_set_component(b, d->component);
  if (*err == 0 && d->init) *err = d->init(b);
  if (*err < 0) {
    cm_controller_stop(b);
    return NULL;
  }
  return b;
}

void cm_controller_run(struct cm_base *b)
{
  if (b->def && b->def->run) b->def->run(b);
  cm_base_run(b);
}

void cm_controller_stop(struct cm_base *b)
{
  if (!b) return;
  cm_base_stop(b);
  if (b->def && b->def->fini) b->def->fini(b);
  free(b);
}

void cm_base_enqueue_key(struct cm_base *b, const char *key)
{
  if (b->q && key) workqueue_add(b->q, key);
}

void cm_base_enqueue(struct cm_base *b, const json_t *obj)
{
  char key[512];
  if (informer_key(obj, key, sizeof key)) cm_base_enqueue_key(b, key);
}

void cm_on_add_enqueue(void *arg, const json_t *obj) { cm_base_enqueue(arg, obj); }
void cm_on_update_enqueue(void *arg, const json_t *o, const json_t *n) { cm_base_enqueue(arg, n); }
void cm_on_delete_enqueue(void *arg, const json_t *obj, bool unknown) { cm_base_enqueue(arg, obj); }

void cm_base_finish(struct cm_base *b, const char *key, bool failed, int64_t delay_ms)
{
  if (failed) workqueue_add_rate_limited(b->q, key);
  else workqueue_forget(b->q, key);
  if (delay_ms >= 0) workqueue_add_after(b->q, key, delay_ms);
  json_t *t0 = b->started ? json_object_get(b->started, key) : NULL;
  if (t0 && b->ctx->metrics) {
    char labels[128];
    snprintf(labels, sizeof labels, "name=\"%s\"", b->name);
    metrics_histogram_observe(b->ctx->metrics, "workqueue_work_duration_seconds",
                              "How long in seconds processing an item from workqueue takes.", labels, NULL, 0,
                              (double)(ktime_mono_ms() - json_integer_value(t0)) / 1000.0);
    if (failed)
      metrics_counter_add(b->ctx->metrics, "workqueue_retries_total", "Total number of retries handled by workqueue",
                          labels, 1);
  }
  if (t0) json_object_del(b->started, key);
  workqueue_done(b->q, key);
}

/* ---- runs ---- */

struct cm_req {
  struct cm_run *run;
  struct cm_action act; /* taken over from the list */
  bool slow;
  struct rest_request *r;
  struct cm_req *prev, *next; /* the run's requests in flight */
};

struct cm_run {
  struct cm_base *b;
  struct cm_expectations *exp;
  cm_done_fn done;
  struct cm_actions slow; /* slow-start actions not yet sent, from slow_next */
  size_t slow_next, batch;
  int inflight, slow_inflight, slow_failed;
  bool ended;
  int64_t requeue_ms;
  int failed;
  char *error, *expect_error;
  enum cm_verb expect_error_verb;
  void *att;
  void (*att_free)(void *);
  struct cm_req *reqs;
  struct cm_run *prev, *next; /* the base's runs */
  char key[];
};

static struct event_recorder *run_recorder(const struct cm_run *r)
{
  return r->b->recorder ? r->b->recorder : r->b->ctx->recorder;
}

static void record_ok(struct cm_run *r, const struct cm_action *act, const json_t *body)
{
  struct event_recorder *rec = run_recorder(r);
  if (!rec || !act->evobj || !act->ok_reason) return;
  const char *name = act->ok_append_name && body ? kj_get_str(body, "metadata.name") : NULL;
  recorder_eventf(rec, act->evobj, act->ok_type, act->ok_reason, "%s%s", act->ok_message, name ? name : "");
}

static void record_fail(struct cm_run *r, const struct cm_action *act, const char *err)
{
  struct event_recorder *rec = run_recorder(r);
  if (!rec || !act->evobj || !act->fail_reason) return;
  recorder_eventf(rec, act->evobj, RECORDER_EVENT_WARNING, act->fail_reason, "%s: %s", act->fail_message, err);
}

/* An action that did not reach its desired state (refused or skipped). */
static void run_not_done(struct cm_run *r, const struct cm_action *act, const char *err)
{
  r->failed++;
  if (!r->error) r->error = xstrdup(err);
  if (act && act->expect != CM_EXPECT_NONE) {
    if (r->exp && act->expect == CM_EXPECT_CREATE) cm_creation_observed(r->exp, r->key);
    if (r->exp && act->expect == CM_EXPECT_DELETE) cm_deletion_observed(r->exp, r->key);
    if (!r->expect_error) {
      r->expect_error = xstrdup(err);
      r->expect_error_verb = act->verb;
    }
  }
}

static void run_unlink(struct cm_run *r)
{
  if (r->prev) r->prev->next = r->next;
  else r->b->runs = r->next;
  if (r->next) r->next->prev = r->prev;
}

static void run_free(struct cm_run *r)
{
  cm_actions_clear(&r->slow);
  if (r->att_free) r->att_free(r->att);
  free(r->error);
  free(r->expect_error);
  free(r);
}

static void run_finish(struct cm_run *r)
{
  run_unlink(r);
  if (r->done) {
    struct cm_outcome o = {r->failed, r->error, r->expect_error, r->expect_error_verb};
    r->done(r->b, r->key, &o);
  }
  cm_base_finish(r->b, r->key, r->failed > 0, r->requeue_ms);
  run_free(r);
}

static void maybe_finish(struct cm_run *r)
{
  if (r->ended && r->inflight == 0 && r->slow_next >= r->slow.n) run_finish(r);
}

static void req_unlink(struct cm_req *q)
{
  if (q->prev) q->prev->next = q->next;
  else q->run->reqs = q->next;
  if (q->next) q->next->prev = q->prev;
}

static void send_slow_batch(struct cm_run *r);

static void req_done(void *arg, int code, json_t *body, const struct rest_status *err)
{
  struct cm_req *q = arg;
  struct cm_run *r = q->run;
  req_unlink(q);
  if (cm_answer_done(&q->act, code, err)) {
    if (!err) record_ok(r, &q->act, body);
  } else {
    const char *msg = err && err->message ? err->message : "error";
    KLOG_V(2, "%s %s: %d %s %s", cm_verb_name(q->act.verb), q->act.path, code, err && err->reason ? err->reason : "",
           msg);
    record_fail(r, &q->act, msg);
    run_not_done(r, &q->act, msg);
    if (q->slow) r->slow_failed++;
  }
  /* Counted in flight until here, so actions the callback adds cannot
   * let the run finish under it. */
  if (q->act.on_answer) q->act.on_answer(q->act.answer_arg, r, code, body, err);
  cm_action_release(&q->act);
  r->inflight--;
  if (q->slow && --r->slow_inflight == 0) send_slow_batch(r);
  free(q);
  maybe_finish(r);
}

static const char *content_type(const struct cm_action *act)
{
  if (act->verb != CM_PATCH) return NULL;
  return act->patch == CM_PATCH_MERGE ? "application/merge-patch+json" : "application/strategic-merge-patch+json";
}

static struct rest_request *transport_request(struct cm_run *r, struct cm_req *q)
{
  const struct cm_transport *t = r->b->ctx->transport;
  const char *method = cm_verb_name(q->act.verb);
  if (t) return t->request(t->arg, method, q->act.path, content_type(&q->act), q->act.body, req_done, q);
  return rest_request_ct(r->b->client, method, q->act.path, content_type(&q->act), q->act.body, req_done, q);
}

static void transport_cancel(struct cm_run *r, struct rest_request *rq)
{
  const struct cm_transport *t = r->b->ctx->transport;
  if (t) t->cancel(t->arg, rq);
  else rest_cancel(rq);
}

/* Takes act over (it is emptied) and sends it. */
static void send_one(struct cm_run *r, struct cm_action *act, bool slow)
{
  if (act->verb == CM_EVENT) {
    record_ok(r, act, NULL);
    cm_action_release(act);
    return;
  }
  struct cm_req *q = xcalloc(1, sizeof *q);
  q->run = r;
  q->act = *act;
  memset(act, 0, sizeof *act);
  q->slow = slow;
  q->r = transport_request(r, q);
  if (!q->r) {
    run_not_done(r, &q->act, "the request could not be started");
    if (slow) r->slow_failed++;
    cm_action_release(&q->act);
    free(q);
    return;
  }
  r->inflight++;
  if (slow) r->slow_inflight++;
  q->next = r->reqs;
  if (r->reqs) r->reqs->prev = q;
  r->reqs = q;
}

static void send_slow_batch(struct cm_run *r)
{
  size_t n = r->slow.n;
  if (r->slow_inflight > 0 || r->slow_next >= n) return;
  if (r->slow_failed) {
    /* Skipped: their expectations will never be observed. */
    for (size_t i = r->slow_next; i < n; i++) {
      run_not_done(r, &r->slow.v[i], "skipped after a failed creation");
      cm_action_release(&r->slow.v[i]);
    }
    r->slow_next = n;
    return;
  }
  size_t end = r->slow_next + r->batch < n ? r->slow_next + r->batch : n;
  size_t start = r->slow_next;
  r->slow_next = end;
  r->batch *= 2;
  for (size_t i = start; i < end; i++) send_one(r, &r->slow.v[i], true);
}

struct cm_run *cm_run_begin(struct cm_base *b, const char *key, struct cm_expectations *exp, cm_done_fn done)
{
  size_t l = strlen(key);
  struct cm_run *r = xcalloc(1, sizeof *r + l + 1);
  memcpy(r->key, key, l + 1);
  r->b = b;
  r->exp = exp;
  r->done = done;
  r->batch = 1;
  r->requeue_ms = -1;
  r->next = b->runs;
  if (b->runs) b->runs->prev = r;
  b->runs = r;
  return r;
}

void cm_run_add(struct cm_run *r, struct cm_actions *acts)
{
  for (size_t i = 0; i < acts->n; i++) {
    struct cm_action *act = &acts->v[i];
    if (!act->slow_start) {
      send_one(r, act, false);
      continue;
    }
    struct cm_action *s = cm_act(&r->slow, CM_EVENT, "", NULL);
    free(s->path);
    *s = *act;
    memset(act, 0, sizeof *act);
  }
  acts->n = 0;
  send_slow_batch(r);
}

void cm_run_requeue_after(struct cm_run *r, int64_t ms)
{
  if (ms < 0) ms = 0;
  if (r->requeue_ms < 0 || ms < r->requeue_ms) r->requeue_ms = ms;
}

void cm_run_fail(struct cm_run *r, const char *why) { run_not_done(r, NULL, why ? why : "failed"); }

void cm_run_attach(struct cm_run *r, void *ptr, void (*free_fn)(void *))
{
  if (r->att_free) r->att_free(r->att);
  r->att = ptr;
  r->att_free = free_fn;
}

struct cm_base *cm_run_base(const struct cm_run *r) { return r->b; }
const char *cm_run_key(const struct cm_run *r) { return r->key; }

void cm_run_end(struct cm_run *r)
{
  r->ended = true;
  maybe_finish(r);
}

/* At shutdown: requests cancelled, nothing reported, the key left alone
 * (the workqueue goes too). */
static void run_cancel(struct cm_run *r)
{
  while (r->reqs) {
    struct cm_req *q = r->reqs;
    r->reqs = q->next;
    transport_cancel(r, q->r);
    cm_action_release(&q->act);
    free(q);
  }
  run_unlink(r);
  run_free(r);
}

void cm_base_exec_cb(struct cm_base *b, const char *key, struct cm_actions *acts, struct cm_expectations *exp,
                     int64_t requeue_ms, cm_done_fn done)
{
  struct cm_run *r = cm_run_begin(b, key, exp, done);
  cm_run_add(r, acts);
  if (requeue_ms >= 0) cm_run_requeue_after(r, requeue_ms);
  cm_run_end(r);
}

void cm_base_exec(struct cm_base *b, const char *key, struct cm_actions *acts, struct cm_expectations *exp,
                  int64_t requeue_ms)
{
  cm_base_exec_cb(b, key, acts, exp, requeue_ms, NULL);
}
