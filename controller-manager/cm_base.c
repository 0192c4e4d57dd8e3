/*
 * cm_base.c - the workqueue scaffolding shared by the controllers (see
 * cm.h): workers call the controller's sync; cm_base_exec runs the
 * computed actions and finishes the key when every write answered.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm.h"
#include "controller_utils.h"
#include <unistd.h>

#include "kube/informer.h"
#include "kube/metrics.h"
#include "kube/recorder.h"
#include "kube/timeutil.h"
#include "kube/workqueue.h"

int64_t cm_now(void) { return ktime_now_us() / 1000000; }

struct cm_exec_arg {
  struct cm_base *b;
  struct cm_exec *ex;
  struct cm_exec_arg *prev, *next;
  int64_t requeue_ms;
  cm_exec_done_fn on_done;
  char key[];
};

static void arg_unlink(struct cm_exec_arg *a)
{
  if (a->prev) a->prev->next = a->next;
  else a->b->runs = a->next;
  if (a->next) a->next->prev = a->prev;
}

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
  b->name = name;
  b->workers = workers > 0 ? workers : 1;
  b->sync = sync;
  b->q = workqueue_new(ctx->base, name);
  b->started = json_object();
  return b->q ? 0 : -12;
}

void cm_base_set_component(struct cm_base *b, const char *component)
{
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  if (b->recorder) recorder_free(b->recorder);
  b->recorder = recorder_new(b->ctx->base, b->ctx->client, component, host);
}

void cm_base_run(struct cm_base *b) { workqueue_run(b->q, b->workers, process_cb, b); }

void cm_base_stop(struct cm_base *b)
{
  while (b->runs) {
    struct cm_exec_arg *a = b->runs;
    b->runs = a->next;
    cm_actions_cancel(a->ex);
    free(a);
  }
  if (b->q) workqueue_free(b->q);
  b->q = NULL;
  if (b->recorder) recorder_free(b->recorder);
  b->recorder = NULL;
  json_decref(b->started);
  b->started = NULL;
}

void cm_base_finish_after(struct cm_base *b, const char *key, bool failed, int64_t delay_ms)
{
  if (failed)
    workqueue_add_rate_limited(b->q, key);
  else
    workqueue_forget(b->q, key);
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
    json_object_del(b->started, key);
  }
  workqueue_done(b->q, key);
}

void cm_base_finish(struct cm_base *b, const char *key, bool failed) { cm_base_finish_after(b, key, failed, -1); }


static void exec_done(void *arg, int failed, const char *first_error)
{
  struct cm_exec_arg *a = arg;
  arg_unlink(a);
  if (a->on_done) a->on_done(a->b, a->key, failed, first_error);
  cm_base_finish_after(a->b, a->key, failed > 0, a->requeue_ms);
  free(a);
}

void cm_base_exec(struct cm_base *b, const char *key, struct cm_actions *acts,
                  struct cm_expectations *exp, int64_t requeue_ms)
{
  cm_base_exec_cb(b, key, acts, exp, requeue_ms, NULL);
}

void cm_base_exec_cb(struct cm_base *b, const char *key, struct cm_actions *acts,
                     struct cm_expectations *exp, int64_t requeue_ms, cm_exec_done_fn on_done)
{
  size_t l = strlen(key);
  struct cm_exec_arg *a = malloc(sizeof(*a) + l + 1);
  a->b = b;
  a->on_done = on_done;
  a->requeue_ms = requeue_ms;
  memcpy(a->key, key, l + 1);
  a->prev = NULL;
  a->next = b->runs;
  if (b->runs) b->runs->prev = a;
  b->runs = a;
  a->ex = cm_actions_exec_rec(b->ctx, b->recorder, acts, exp, exec_done, a);
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
