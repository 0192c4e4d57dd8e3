/*
 * actions.c - the list of API writes a controller's compute step produced,
 * and its executor.
 *
 * The executor sends every ordinary action at once (the REST client queues
 * them behind its rate limiter), and the slow-start actions in batches of
 * 1, 2, 4, ... that each start only once the previous batch fully
 * succeeded (upstream slowStartBatch).  For every action it records the
 * action's success or failure Event and, for a failed or skipped write,
 * lowers the expectation the controller raised for it.  When the last
 * request answered, done(arg, failed) runs; the controller requeues the
 * key with backoff when failed > 0.
 */
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller_utils.h"
#include "kube/json.h"
#include "kube/log.h"
#include "kube/recorder.h"
#include "kube/restclient.h"

void cm_actions_init(struct cm_actions *a) { a->list = json_array(); }

void cm_actions_clear(struct cm_actions *a)
{
  json_decref(a->list);
  a->list = NULL;
}

size_t cm_actions_len(const struct cm_actions *a) { return json_array_size(a->list); }
json_t *cm_actions_at(const struct cm_actions *a, size_t i) { return json_array_get(a->list, i); }

json_t *cm_act(struct cm_actions *a, const char *verb, const char *path, json_t *body)
{
  json_t *act = json_pack("{s:s,s:s}", "verb", verb, "path", path ? path : "");
  if (body) json_object_set_new(act, "body", body);
  json_array_append_new(a->list, act);
  return act;
}

void cm_act_events(json_t *act, const json_t *evobj, const char *type, const char *reason,
                   const char *ok_msg, const char *fail_reason, const char *fail_msg)
{
  if (evobj) json_object_set_new(act, "obj", kj_deep_copy(evobj));
  if (reason && ok_msg)
    json_object_set_new(act, "ok_event", json_pack("{s:s,s:s,s:s}", "type", type, "reason", reason,
                                                   "message", ok_msg));
  if (fail_reason && fail_msg)
    json_object_set_new(act, "fail_event", json_pack("{s:s,s:s,s:s}", "type", "Warning", "reason",
                                                     fail_reason, "message", fail_msg));
}

void cm_act_event(struct cm_actions *a, const json_t *evobj, const char *type, const char *reason,
                  const char *fmt, ...)
{
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  json_t *act = cm_act(a, "EVENT", "", NULL);
  json_object_set_new(act, "obj", kj_deep_copy(evobj));
  json_object_set_new(act, "ok_event", json_pack("{s:s,s:s,s:s}", "type", type, "reason", reason,
                                                 "message", msg));
}

size_t cm_actions_count(const struct cm_actions *a, const char *verb, const char *path_prefix)
{
  size_t n = 0, i;
  json_t *act;
  json_array_foreach(a->list, i, act) {
    const char *v = kj_get_str(act, "verb"), *p = kj_get_str(act, "path");
    if (strcmp(v, verb)) continue;
    if (path_prefix && strncmp(p, path_prefix, strlen(path_prefix))) continue;
    n++;
  }
  return n;
}

/* ---- executor ---- */

struct exec_run {
  struct cm_ctx *ctx;
  struct event_recorder *rec;
  struct cm_expectations *exp;
  cm_actions_done_fn done;
  void *arg;
  json_t *slow;         /* slow-start actions not yet sent */
  size_t slow_next;     /* index of the next one */
  size_t batch;         /* size of the next batch */
  int inflight;
  int slow_inflight;
  int slow_failed;      /* failures in the current batch */
  int failed;
  char *first_error;
  struct event *kick;
  struct exec_req *reqs;   /* reports an empty run from the loop */
};

struct exec_req {
  struct exec_run *run;
  json_t *act;
  bool slow;
  struct rest_request *r;
  struct exec_req *prev, *next;   /* the run's requests in flight */
};

static void record(struct event_recorder *rec, const json_t *act, const char *field, const char *err,
                   const json_t *body)
{
  json_t *ev = json_object_get(act, field);
  json_t *obj = json_object_get(act, "obj");
  if (!ev || !obj || !rec) return;
  const char *msg = kj_get_str(ev, "message");
  const char *ph = strstr(msg, "{name}");
  if (ph && !err) {
    const char *n = body ? kj_get_str(body, "metadata.name") : NULL;
    recorder_eventf(rec, obj, kj_get_str(ev, "type"), kj_get_str(ev, "reason"), "%.*s%s%s",
                    (int)(ph - msg), msg, n ? n : "", ph + 6);
  } else if (err)
    recorder_eventf(rec, obj, kj_get_str(ev, "type"), kj_get_str(ev, "reason"), "%s: %s", msg, err);
  else
    recorder_eventf(rec, obj, kj_get_str(ev, "type"), kj_get_str(ev, "reason"), "%s", msg);
}

static void lower_expectation(struct exec_run *run, const json_t *act)
{
  const char *key = kj_get_str(act, "exp_key"), *kind = kj_get_str(act, "exp");
  if (!run->exp || !key || !kind) return;
  if (!strcmp(kind, "add"))
    cm_creation_observed(run->exp, key);
  else
    cm_deletion_observed(run->exp, key);
}

static void send_slow_batch(struct exec_run *run);

static void req_unlink(struct exec_req *rq)
{
  if (rq->prev) rq->prev->next = rq->next;
  else rq->run->reqs = rq->next;
  if (rq->next) rq->next->prev = rq->prev;
}
static void maybe_finish(struct exec_run *run);

static void req_done(void *arg, int code, json_t *body, const struct rest_status *err)
{
  struct exec_req *rq = arg;
  struct exec_run *run = rq->run;
  const char *verb = kj_get_str(rq->act, "verb");
  /* A delete of something already gone is what we wanted. */
  bool ok = !err || (code == 404 && verb && !strcmp(verb, "DELETE")) ||
            (code == 409 && json_is_true(json_object_get(rq->act, "ok_exists")) && err->reason &&
             !strcmp(err->reason, "AlreadyExists"));
  if (ok) {
    if (!err) record(run->rec, rq->act, "ok_event", NULL, body);
  } else {
    KLOG_V(2, "%s %s failed: %d %s", verb, kj_get_str(rq->act, "path"), code, err->message);
    record(run->rec, rq->act, "fail_event", err->message ? err->message : "error", NULL);
    if (!run->first_error) run->first_error = strdup(err->message ? err->message : "error");
    lower_expectation(run, rq->act);
    run->failed++;
    if (rq->slow) run->slow_failed++;
  }
  run->inflight--;
  if (rq->slow) {
    run->slow_inflight--;
    if (run->slow_inflight == 0) send_slow_batch(run);
  }
  req_unlink(rq);
  json_decref(rq->act);
  free(rq);
  maybe_finish(run);
}

static void send_one(struct exec_run *run, json_t *act, bool slow)
{
  const char *verb = kj_get_str(act, "verb");
  if (!strcmp(verb, "EVENT")) {
    record(run->rec, act, "ok_event", NULL, NULL);
    return;
  }
  struct exec_req *rq = calloc(1, sizeof(*rq));
  rq->run = run;
  rq->act = json_incref(act);
  rq->slow = slow;
  run->inflight++;
  if (slow) run->slow_inflight++;
  const char *ct = kj_get_str(act, "content_type");
  if (!ct && !strcmp(verb, "PATCH")) ct = "application/strategic-merge-patch+json";
  struct rest_request *r = rest_request_ct(run->ctx->client, verb, kj_get_str(act, "path"), ct,
                                           json_object_get(act, "body"), req_done, rq);
  if (r) {
    rq->r = r;
    rq->next = run->reqs;
    if (run->reqs) run->reqs->prev = rq;
    run->reqs = rq;
  } else {
    run->inflight--;
    if (slow) run->slow_inflight--;
    run->failed++;
    lower_expectation(run, act);
    json_decref(rq->act);
    free(rq);
  }
}

static void send_slow_batch(struct exec_run *run)
{
  size_t n = json_array_size(run->slow);
  if (run->slow_next >= n) return;
  if (run->slow_failed) {
    /* Abandon the rest: their expectations will never be observed. */
    for (size_t i = run->slow_next; i < n; i++) {
      lower_expectation(run, json_array_get(run->slow, i));
      run->failed++;
    }
    run->slow_next = n;
    return;
  }
  size_t end = run->slow_next + run->batch;
  if (end > n) end = n;
  size_t start = run->slow_next;
  run->slow_next = end;
  run->batch *= 2;
  for (size_t i = start; i < end; i++) send_one(run, json_array_get(run->slow, i), true);
}

static void run_free(struct exec_run *run)
{
  json_decref(run->slow);
  free(run->first_error);
  if (run->kick) event_free(run->kick);
  free(run);
}

static void finish(struct exec_run *run)
{
  cm_actions_done_fn done = run->done;
  void *arg = run->arg;
  int failed = run->failed;
  char *first_error = run->first_error;
  run->first_error = NULL;
  run_free(run);
  if (done) done(arg, failed, first_error);
  free(first_error);
}

static void maybe_finish(struct exec_run *run)
{
  if (run->inflight == 0 && run->slow_next >= json_array_size(run->slow)) finish(run);
}

static void kick_cb(evutil_socket_t fd, short what, void *arg) { maybe_finish(arg); }

struct cm_exec *cm_actions_exec(struct cm_ctx *ctx, struct cm_actions *acts, struct cm_expectations *exp,
                                cm_actions_done_fn done, void *arg)
{
  return cm_actions_exec_rec(ctx, NULL, acts, exp, done, arg);
}

void cm_actions_cancel(struct cm_exec *ex)
{
  struct exec_run *run = (struct exec_run *)ex;
  while (run->reqs) {
    struct exec_req *rq = run->reqs;
    run->reqs = rq->next;
    rest_cancel(rq->r);
    json_decref(rq->act);
    free(rq);
  }
  run_free(run);
}

struct cm_exec *cm_actions_exec_rec(struct cm_ctx *ctx, struct event_recorder *rec, struct cm_actions *acts,
                         struct cm_expectations *exp, cm_actions_done_fn done, void *arg)
{
  struct exec_run *run = calloc(1, sizeof(*run));
  run->ctx = ctx;
  run->rec = rec ? rec : ctx->recorder;
  run->exp = exp;
  run->done = done;
  run->arg = arg;
  run->slow = json_array();
  run->batch = 1;
  json_t *list = acts->list;
  acts->list = json_array();
  size_t i;
  json_t *act;
  json_array_foreach(list, i, act)
    if (json_is_true(json_object_get(act, "slow_start"))) json_array_append(run->slow, act);
  /* Count every request first so no early answer can finish the run. */
  run->inflight++;
  json_array_foreach(list, i, act)
    if (!json_is_true(json_object_get(act, "slow_start"))) send_one(run, act, false);
  send_slow_batch(run);
  run->inflight--;
  json_decref(list);
  /* Always report from the loop, never from inside this call. */
  run->kick = evtimer_new(ctx->base, kick_cb, run);
  if (run->inflight == 0 && run->slow_next >= json_array_size(run->slow)) {
    struct timeval tv = { 0, 0 };
    evtimer_add(run->kick, &tv);
  }
  return (struct cm_exec *)run;
}
