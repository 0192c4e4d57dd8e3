/*
 * sched_internal.h - functions shared by scheduler.c (cache, queue, loop)
 * and sched_writes.c (API writes); not part of the scheduler's API.
 */
#ifndef SCHED_INTERNAL_H
#define SCHED_INTERNAL_H

#include "scheduler.h"

/* "namespace/name" in a new string, or NULL. */
char *sched_pod_key(const json_t *pod);
/* Drops the assumed pod key from the snapshot (binding failed). */
void sched_forget(struct sched_server *s, const char *key);
/* Asks for a scheduling turn soon. */
void sched_wake(struct sched_server *s);

/* Runs the PreBind plugins binding (owned; NULL: none) has work for,
 * then POSTs the Binding; the outcome reaches the cache and the queue.
 * -1 when nothing could be started (binding undone). */
int sched_bind(struct sched_server *s, const json_t *pod, const char *node, int profile_ix,
               struct sched_binding *binding);
/* PATCHes status.conditions[PodScheduled]=False with reason and message,
 * and status.nominatedNodeName when nominated_node is not NULL; skipped
 * when the pod already says so. */
/* Removes status.nominatedNodeName of a pod that lost its nomination. */
void sched_clear_nominated_node(struct sched_server *s, const json_t *pod);
void sched_update_pod_status(struct sched_server *s, const json_t *pod, const char *reason, const char *message,
                             const char *nominated_node);
/* Records the Preempted event and DELETEs the victim. */
void sched_delete_victim(struct sched_server *s, const json_t *victim, const json_t *preemptor, const char *node,
                         int profile_ix);
void sched_ops_cancel_all(struct sched_server *s);

/* Nominated pods of priority >= pod's, placed on their nominated nodes in
 * the snapshot for a cycle (tmp: owned, given back to _remove). */
struct nominated_tmp {
  json_t *pod;
  const char *node;
};
size_t sched_nominated_add(struct sched_server *s, const json_t *pod, const char *key, struct nominated_tmp **tmp);
void sched_nominated_remove(struct sched_server *s, struct nominated_tmp *tmp, size_t n);
/* Ends an attempt whose cycle ran elsewhere (ext_cycle.c): preemption if
 * rc is -ENOSPC, then what schedule_one does with a result (assume and
 * bind, or FailedScheduling).  qp is done afterwards; res is kept. */
void sched_complete_attempt(struct sched_server *s, struct sched_qpod *qp, json_t *pod, int pix, int rc,
                            struct sched_result *res, int64_t t0);

/* The outcome of an attempt: assume and bind (rc 0), or FailedScheduling
 * with post (the PostFilter's message, owned, may be NULL) and the
 * nomination (owned, may be NULL).  qp is done afterwards; res is kept. */
void sched_attempt_done(struct sched_server *s, struct sched_qpod *qp, json_t *pod, int pix, int rc,
                        struct sched_result *res, char *nominated, char *post, int64_t t0);
/* Carries out a chosen preemption (victims deleted, lower nominations on
 * the node cleared); returns the nominated node (moved out of pr). */
struct sched_preemption;
char *sched_preempt_execute(struct sched_server *s, int pix, json_t *pod, const char *key, struct sched_preemption *pr);

/* ext_cycle.c: cycles that consult extenders. */
/* Whether an extender with a preemptVerb is interested in the pod. */
bool sched_ext_preempt_wanted(const struct sched_server *s, const json_t *pod);
/* Hands preemption candidates (node -> victims, owned) to the extenders
 * with a preemptVerb, in order; then picks the best node left and
 * completes the unschedulable attempt.  res is moved (left empty). */
void sched_ext_preempt_start(struct sched_server *s, struct sched_qpod *qp, json_t *pod, int pix,
                             struct sched_result *res, json_t *candidates, int64_t t0);
/* Whether an extender filters or prioritizes for this pod. */
bool sched_ext_wanted(const struct sched_server *s, const json_t *pod);
/* Runs PreFilter/Filter now and the extenders asynchronously; the
 * attempt completes from their callbacks (s->ext_cycle meanwhile). */
void sched_ext_cycle_start(struct sched_server *s, struct sched_qpod *qp, json_t *pod, int pix, int64_t t0);
/* Abandons the cycle in progress, if any (shutdown). */
void sched_ext_cycle_cancel(struct sched_server *s);

#endif
