/*
 * workqueue.h - the controller work queue (client-go's
 * RateLimitingInterface), for one event loop.
 *
 * Keys are strings ("namespace/name").  A key is queued at most once; a
 * key added while it is being processed is queued again only after
 * workqueue_done(), so no key is ever processed twice at once.  Keys can
 * be added after a delay or rate limited: per-key exponential backoff
 * (5 ms doubling to 1000 s) combined with an overall token bucket
 * (10 qps, burst 100), upstream's default controller rate limiter.
 *
 * Workers: workqueue_run() pops keys from the loop and calls process(),
 * at most `workers` at a time; process may finish asynchronously and must
 * call workqueue_done(q, key) exactly once per key it was given.
 */
#ifndef KUBE_WORKQUEUE_H
#define KUBE_WORKQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct workqueue;

typedef void (*workqueue_process_fn)(void *arg, struct workqueue *q, const char *key);

struct workqueue *workqueue_new(struct event_base *base, const char *name);
/* Frees the queue, pending timers and keys (shuts it down first). */
void workqueue_free(struct workqueue *q);

/* Rate limiter parameters; defaults 5 ms, 1000 s, 10 qps, burst 100.
 * qps <= 0 disables the overall bucket. */
void workqueue_set_rate_limits(struct workqueue *q, int64_t base_delay_ms, int64_t max_delay_ms, double qps, int burst);

void workqueue_add(struct workqueue *q, const char *key);
/* Adds after delay_ms (<= 0: at once).  A key already waiting keeps the
 * earlier of its two ready times. */
void workqueue_add_after(struct workqueue *q, const char *key, int64_t delay_ms);
/* Adds after workqueue_when(q, key). */
void workqueue_add_rate_limited(struct workqueue *q, const char *key);
/* The rate limiter's next delay for key in ms, counting one more failure:
 * max(5ms * 2^failures capped at max, overall bucket wait). */
int64_t workqueue_when(struct workqueue *q, const char *key);
/* Forgets key's failures (call after a successful sync). */
void workqueue_forget(struct workqueue *q, const char *key);
int workqueue_num_requeues(struct workqueue *q, const char *key);

/* Pull interface: next key (borrowed, valid until workqueue_done) or NULL
 * if none is ready.  The key is marked processing. */
const char *workqueue_get(struct workqueue *q);
void workqueue_done(struct workqueue *q, const char *key);

/* Start calling process for ready keys, at most workers at once. */
void workqueue_run(struct workqueue *q, int workers, workqueue_process_fn process, void *arg);

/* No new keys are accepted; keys in flight may still call done. */
void workqueue_shutdown(struct workqueue *q);
bool workqueue_shutting_down(const struct workqueue *q);
/* Keys ready to be processed (not counting processing or waiting ones). */
size_t workqueue_len(const struct workqueue *q);
size_t workqueue_processing(const struct workqueue *q);

#endif
