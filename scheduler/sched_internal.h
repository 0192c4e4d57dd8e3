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

#endif
