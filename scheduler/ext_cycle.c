/*
 * ext_cycle.c - scheduling cycles that consult extenders (upstream's
 * findNodesThatPassExtenders and the extender part of prioritizeNodes),
 * run as a small state machine on the event loop.
 *
 * PreFilter and Filter run at once (sched_schedule_filter), with the
 * nominated pods in place as in any cycle.  Then the interested
 * extenders that filter are called one after the other, each with the
 * nodes the previous one kept; a node an extender drops gets the
 * extender's message as its status, so that the FitError counts it like
 * a plugin's reason.  When more than one node is left, the interested
 * prioritizers are called all at once and their weighted scores are
 * added to the plugins' totals (sched_schedule_finish, on the snapshot as
 * it is by then: nodes are named, not pointed at, across the calls).
 *
 * While a cycle waits for an extender, no other pod is scheduled (the
 * scheduling cycle is serial, as upstream's), but the loop keeps serving
 * informers, binds and timers.  A filter call that fails fails the
 * attempt with the extender's error (SchedulerError), unless the
 * extender is ignorable; a prioritize call that fails only loses its
 * scores.
 *
 * Preemption (upstream's callExtenders): when the pod fits nowhere and
 * extenders with a preemptVerb are interested, the candidates the dry
 * runs found (node -> victims) go to them one after the other, each
 * answering the nodes and victims it accepts; the best node left is
 * chosen as without extenders.  An extender's error ends the preemption
 * with "preemption: <error>" in the FitError (skipped when ignorable);
 * no node left gives "preemption: no candidate node for preemption".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extender.h"
#include "kube/log.h"
#include "kube/restclient.h"
#include "preemption.h"
#include "sched_internal.h"
#include "kube/xalloc.h"

struct ext_call {
  struct sched_ext_cycle *cy;
  size_t ix;                /* extender index */
  struct rest_request *req; /* outstanding, or NULL */
};

struct sched_ext_cycle {
  struct sched_server *s;
  struct sched_qpod *qp; /* in flight until the attempt completes */
  json_t *pod;           /* owned */
  int pix;
  int64_t t0;
  struct sched_partial part;
  struct sched_result res;
  json_t *scores;         /* node name -> extenders' weighted total */
  size_t next;            /* the next extender to ask to filter */
  size_t pending;         /* prioritize calls outstanding */
  json_t *candidates;     /* preemption: node -> victims (owned) */
  struct ext_call *calls; /* one slot per extender */
};

bool sched_ext_wanted(const struct sched_server *s, const json_t *pod)
{
  for (size_t i = 0; i < s->cfg->nextenders; i++) {
    const struct sched_extender *e = &s->cfg->extenders[i];
    if ((e->filter_verb || e->prioritize_verb) && sched_extender_interested(e, pod)) return true;
  }
  return false;
}

static void cycle_free(struct sched_ext_cycle *cy)
{
  for (size_t i = 0; cy->calls && i < cy->s->cfg->nextenders; i++)
    if (cy->calls[i].req) rest_cancel(cy->calls[i].req);
  free(cy->calls);
  sched_partial_clear(&cy->part);
  sched_result_clear(&cy->res);
  json_decref(cy->scores);
  json_decref(cy->candidates);
  json_decref(cy->pod);
  free(cy);
}

static void complete(struct sched_ext_cycle *cy, int rc)
{
  struct sched_server *s = cy->s;
  if (s->ext_cycle == cy) s->ext_cycle = NULL;
  sched_complete_attempt(s, cy->qp, cy->pod, cy->pix, rc, &cy->res, cy->t0);
  cycle_free(cy);
  sched_wake(s);
}

static void fail_with(struct sched_ext_cycle *cy, const char *msg)
{
  free(cy->res.message);
  cy->res.message = xstrdup(msg);
  complete(cy, -EIO);
}

static void finish(struct sched_ext_cycle *cy)
{
  struct sched_server *s = cy->s;
  int rc = sched_schedule_finish(s->cfg->profiles[cy->pix], s->snap, cy->pod, &cy->part, cy->scores, &cy->res);
  complete(cy, rc);
}

static void prioritize_done(void *arg, int code, json_t *body, const struct rest_status *err)
{
  struct ext_call *call = arg;
  struct sched_ext_cycle *cy = call->cy;
  struct sched_extender *e = &cy->s->cfg->extenders[call->ix];
  call->req = NULL;
  char msg[1024] = "the answer is not a HostPriorityList";
  if (sched_extender_reply(e, e->prioritize_verb, code, body, err, msg, sizeof msg) == 0 && json_is_array(body))
    sched_extender_add_priorities(e, body, cy->scores);
  else
    KLOG_V(5, "Failed to run extender's priority function. No score given by this extender. extender=%s pod=%s err=%s",
           sched_extender_name(e), cy->qp->key, msg);
  if (--cy->pending == 0) finish(cy);
}

static void prioritize(struct sched_ext_cycle *cy)
{
  struct sched_server *s = cy->s;
  if (json_array_size(cy->part.feasible) <= 1) {
    finish(cy); /* one node needs no scores (upstream: "only one node after predicate") */
    return;
  }
  json_t *args[2] = {NULL, NULL}; /* by nodeCacheCapable */
  for (size_t i = 0; i < s->cfg->nextenders; i++) {
    struct sched_extender *e = &s->cfg->extenders[i];
    if (!e->prioritize_verb || !sched_extender_interested(e, cy->pod)) continue;
    json_t **a = &args[e->node_cache_capable];
    if (!*a) *a = sched_extender_args(e, cy->pod, cy->part.feasible, s->snap);
    cy->calls[i].req = *a ? sched_extender_post(e, e->prioritize_verb, *a, prioritize_done, &cy->calls[i]) : NULL;
    if (cy->calls[i].req) cy->pending++;
    else KLOG_W("Cannot call extender %s to prioritize pod %s", sched_extender_name(e), cy->qp->key);
  }
  json_decref(args[0]);
  json_decref(args[1]);
  if (cy->pending == 0) finish(cy);
}

static void filter_next(struct sched_ext_cycle *cy);

static void filter_done(void *arg, int code, json_t *body, const struct rest_status *err)
{
  struct ext_call *call = arg;
  struct sched_ext_cycle *cy = call->cy;
  struct sched_extender *e = &cy->s->cfg->extenders[call->ix];
  call->req = NULL;
  char msg[1024];
  int rc = sched_extender_reply(e, e->filter_verb, code, body, err, msg, sizeof msg);
  if (rc == 0) rc = sched_extender_apply_filter(e, body, cy->part.feasible, cy->part.failed, msg, sizeof msg);
  if (rc < 0) {
    if (!e->ignorable) {
      KLOG_V(2, "Extender %s failed to filter pod %s: %s", sched_extender_name(e), cy->qp->key, msg);
      fail_with(cy, msg);
      return;
    }
    KLOG_I("Skipping extender as it returned error and has ignorable flag set extender=%s err=%s",
           sched_extender_name(e), msg);
  }
  cy->next++;
  filter_next(cy);
}

static void filter_next(struct sched_ext_cycle *cy)
{
  struct sched_server *s = cy->s;
  while (cy->next < s->cfg->nextenders && json_array_size(cy->part.feasible) > 0) {
    struct sched_extender *e = &s->cfg->extenders[cy->next];
    if (!e->filter_verb || !sched_extender_interested(e, cy->pod)) {
      cy->next++;
      continue;
    }
    json_t *args = sched_extender_args(e, cy->pod, cy->part.feasible, s->snap);
    struct ext_call *call = &cy->calls[cy->next];
    call->req = args ? sched_extender_post(e, e->filter_verb, args, filter_done, call) : NULL;
    json_decref(args);
    if (call->req) return; /* filter_done goes on */
    if (!e->ignorable) {
      fail_with(cy, "cannot start the request to the extender");
      return;
    }
    cy->next++;
  }
  prioritize(cy);
}

bool sched_ext_preempt_wanted(const struct sched_server *s, const json_t *pod)
{
  for (size_t i = 0; i < s->cfg->nextenders; i++) {
    const struct sched_extender *e = &s->cfg->extenders[i];
    if (e->preempt_verb && sched_extender_interested(e, pod)) return true;
  }
  return false;
}

static void preempt_end(struct sched_ext_cycle *cy, const char *error)
{
  struct sched_server *s = cy->s;
  char *post = NULL, *nominated = NULL;
  if (error) {
    if (asprintf(&post, "preemption: %s", error) < 0) post = NULL;
  } else {
    struct sched_preemption pr;
    if (sched_preemption_pick(cy->candidates, &pr) == 0) {
      nominated = sched_preempt_execute(s, cy->pix, cy->pod, cy->qp->key, &pr);
      post = xstrdup("");
    } else {
      post = xstrdup("preemption: no candidate node for preemption");
    }
    sched_preemption_clear(&pr);
  }
  if (s->ext_cycle == cy) s->ext_cycle = NULL;
  sched_attempt_done(s, cy->qp, cy->pod, cy->pix, -ENOSPC, &cy->res, nominated, post, cy->t0);
  cycle_free(cy);
  sched_wake(s);
}

static void preempt_next(struct sched_ext_cycle *cy);

static void preempt_done(void *arg, int code, json_t *body, const struct rest_status *err)
{
  struct ext_call *call = arg;
  struct sched_ext_cycle *cy = call->cy;
  struct sched_extender *e = &cy->s->cfg->extenders[call->ix];
  call->req = NULL;
  char msg[1024];
  int rc = sched_extender_reply(e, e->preempt_verb, code, body, err, msg, sizeof msg);
  if (rc == 0) rc = sched_extender_apply_preemption(e, body, cy->s->snap, &cy->candidates, msg, sizeof msg);
  if (rc < 0) {
    if (!e->ignorable) {
      preempt_end(cy, msg);
      return;
    }
    KLOG_I("Skipped extender as it returned error and has ignorable flag set extender=%s err=%s",
           sched_extender_name(e), msg);
  }
  cy->next++;
  preempt_next(cy);
}

static void preempt_next(struct sched_ext_cycle *cy)
{
  struct sched_server *s = cy->s;
  while (cy->next < s->cfg->nextenders && json_object_size(cy->candidates) > 0) {
    struct sched_extender *e = &s->cfg->extenders[cy->next];
    if (!e->preempt_verb || !sched_extender_interested(e, cy->pod)) {
      cy->next++;
      continue;
    }
    json_t *args = sched_extender_preemption_args(e, cy->pod, cy->candidates);
    struct ext_call *call = &cy->calls[cy->next];
    call->req = args ? sched_extender_post(e, e->preempt_verb, args, preempt_done, call) : NULL;
    json_decref(args);
    if (call->req) return; /* preempt_done goes on */
    if (!e->ignorable) {
      preempt_end(cy, "cannot start the request to the extender");
      return;
    }
    cy->next++;
  }
  preempt_end(cy, NULL);
}

static struct sched_ext_cycle *cycle_new(struct sched_server *s, struct sched_qpod *qp, json_t *pod, int pix,
                                         int64_t t0)
{
  struct sched_ext_cycle *cy = xcalloc(1, sizeof *cy);
  if (!cy) return NULL;
  cy->calls = xcalloc(s->cfg->nextenders ? s->cfg->nextenders : 1, sizeof *cy->calls);
  cy->scores = json_object();
  if (!cy->calls || !cy->scores) {
    free(cy->calls);
    json_decref(cy->scores);
    free(cy);
    return NULL;
  }
  cy->s = s;
  cy->qp = qp;
  cy->pod = json_incref(pod);
  cy->pix = pix;
  cy->t0 = t0;
  for (size_t i = 0; i < s->cfg->nextenders; i++) {
    cy->calls[i].cy = cy;
    cy->calls[i].ix = i;
  }
  return cy;
}

void sched_ext_preempt_start(struct sched_server *s, struct sched_qpod *qp, json_t *pod, int pix,
                             struct sched_result *res, json_t *candidates, int64_t t0)
{
  struct sched_ext_cycle *cy = cycle_new(s, qp, pod, pix, t0);
  if (!cy) {
    json_decref(candidates);
    sched_attempt_done(s, qp, pod, pix, -ENOSPC, res, NULL, NULL, t0);
    return;
  }
  cy->res = *res;
  memset(res, 0, sizeof *res);
  cy->candidates = candidates;
  s->ext_cycle = cy;
  preempt_next(cy);
}

void sched_ext_cycle_start(struct sched_server *s, struct sched_qpod *qp, json_t *pod, int pix, int64_t t0)
{
  struct sched_ext_cycle *cy = cycle_new(s, qp, pod, pix, t0);
  if (!cy) {
    struct sched_result res = {.message = xstrdup("out of memory")};
    sched_complete_attempt(s, qp, pod, pix, -ENOMEM, &res, t0);
    sched_result_clear(&res);
    return;
  }
  struct nominated_tmp *tmp = NULL;
  size_t ntmp = sched_nominated_add(s, pod, qp->key, &tmp);
  int rc = sched_schedule_filter(s->cfg->profiles[pix], s->snap, pod, &cy->part, &cy->res);
  sched_nominated_remove(s, tmp, ntmp);
  if (rc != 0) {
    complete(cy, rc);
    return;
  }
  s->ext_cycle = cy;
  filter_next(cy);
}

void sched_ext_cycle_cancel(struct sched_server *s)
{
  struct sched_ext_cycle *cy = s->ext_cycle;
  if (!cy) return;
  s->ext_cycle = NULL;
  cycle_free(cy);
}
