/*
 * queue.h - the scheduling queue (upstream's PriorityQueue).
 *
 * Pods waiting for a node live in exactly one place:
 *   activeQ        a heap, highest spec.priority first, then the time the
 *                  pod entered the queue (FIFO within a priority);
 *   backoffQ       a heap ordered by backoff expiry; a pod that failed
 *                  waits initial*2^(attempts-1) (capped) before it may be
 *                  tried again;
 *   unschedulable  pods that did not fit; they leave it when a cluster
 *                  event that could make them fit arrives (move_all), or
 *                  after max_unschedulable_ms in it (flush);
 *   gated          pods with spec.schedulingGates, never tried until the
 *                  gates are gone;
 *   in flight      popped and being scheduled;
 *   assumed        placed on a node, binding in progress.
 * A pod that fails while a move event happened during its cycle goes to
 * backoff rather than unschedulable, so the event is not lost (upstream's
 * moveRequestCycle).  Time is passed in by the caller (milliseconds on any
 * monotonic clock), which keeps the queue deterministic under test.
 */
#ifndef SCHED_QUEUE_H
#define SCHED_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define SCHED_QUEUE_INITIAL_BACKOFF_MS 1000     /* podInitialBackoffSeconds */
#define SCHED_QUEUE_MAX_BACKOFF_MS 10000        /* podMaxBackoffSeconds */
#define SCHED_QUEUE_MAX_UNSCHEDULABLE_MS 300000 /* podMaxInUnschedulablePodsDuration */

enum sched_qstate {
  SQ_ACTIVE = 1,
  SQ_BACKOFF,
  SQ_UNSCHEDULABLE,
  SQ_GATED,
  SQ_INFLIGHT,
  SQ_ASSUMED,
};

struct sched_qpod {
  char *key;   /* namespace/name */
  json_t *pod; /* owned reference to the latest version */
  int64_t priority;
  int64_t timestamp_ms; /* when it last entered the queue */
  int64_t backoff_expiry_ms;
  int attempts; /* scheduling attempts so far */
  enum sched_qstate state;
  uint64_t pop_cycle;
  bool deleted; /* deleted while in flight or assumed */
  bool updated; /* updated while in flight */
  size_t heap_ix;
  struct sched_qpod *hnext;
};

struct sched_queue;

struct sched_queue *sched_queue_new(int64_t initial_backoff_ms, int64_t max_backoff_ms, int64_t max_unschedulable_ms);
void sched_queue_free(struct sched_queue *q);

/* Adds a pending pod, or records a new version of one already known
 * (pod is referenced, not copied).  A new pod goes to activeQ, or to gated
 * when it has schedulingGates.  An update of a pod in unschedulable whose
 * spec or labels changed moves it to backoff or active; an update that
 * removes the last gate activates a gated pod.  Returns the pod's state. */
enum sched_qstate sched_queue_upsert(struct sched_queue *q, json_t *pod, int64_t now_ms);
/* Forgets the pod (deleted, or now bound).  An in-flight or assumed entry
 * is only marked; sched_queue_done frees it. */
void sched_queue_delete(struct sched_queue *q, const char *key);
/* Borrowed, or NULL. */
struct sched_qpod *sched_queue_get(const struct sched_queue *q, const char *key);

/* Moves backoff pods whose time has come to activeQ, and pods that stayed
 * in unschedulable for max_unschedulable_ms to backoff/active. */
void sched_queue_flush(struct sched_queue *q, int64_t now_ms);
/* Highest-priority active pod, now in flight (attempts counted), or NULL. */
struct sched_qpod *sched_queue_pop(struct sched_queue *q, int64_t now_ms);

enum sched_outcome {
  SQ_OUT_ASSUMED,       /* placed on a node; binding started */
  SQ_OUT_BOUND,         /* binding succeeded: forget the pod */
  SQ_OUT_UNSCHEDULABLE, /* no node fits */
  SQ_OUT_ERROR,         /* internal error or failed binding: retry after backoff */
};
/* Reports the result for an in-flight (or, for BOUND/ERROR, an assumed)
 * pod.  The entry may be freed: do not use qp afterwards. */
void sched_queue_done(struct sched_queue *q, struct sched_qpod *qp, enum sched_outcome out, int64_t now_ms);

/* A cluster event that may make unschedulable pods fit: each of them for
 * which pred (NULL: all) says yes moves to backoff or active. */
void sched_queue_move_all(struct sched_queue *q, bool (*pred)(void *arg, const json_t *pod), void *arg, int64_t now_ms);

size_t sched_queue_len(const struct sched_queue *q, enum sched_qstate state);
/* Milliseconds until the earliest backoff expiry (-1: none). */
int64_t sched_queue_next_backoff_ms(const struct sched_queue *q, int64_t now_ms);
/* The backoff a pod gets after its attempts-th failed attempt. */
int64_t sched_queue_backoff_ms(const struct sched_queue *q, int attempts);
/* Calls fn for every pod the queue knows. */
void sched_queue_foreach(struct sched_queue *q, void (*fn)(void *arg, struct sched_qpod *qp), void *arg);

bool sched_pod_is_gated(const json_t *pod);
/* json_equal that also holds when both are absent (NULL). */
bool sched_json_eq(const json_t *a, const json_t *b);
int64_t sched_pod_priority(const json_t *pod);

#endif
