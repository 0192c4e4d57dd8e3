/*
 * cm.h - program-level pieces of kube-controller-manager: the controller
 * table, configuration defaults, the program entry point, and cm_base, the
 * queue-and-worker scaffolding every workload controller embeds.
 *
 * A controller embeds struct cm_base first.  Informer handlers enqueue
 * keys; workers pop a key and call sync(base, key), which computes the
 * actions from the caches and either finishes at once (cm_base_finish) or
 * hands the actions to cm_base_exec, which finishes the key when every
 * write answered: failures requeue the key with backoff, success forgets
 * its failures.
 */
#ifndef CM_CM_H
#define CM_CM_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "controller.h"

struct workqueue;
struct cm_actions;
struct cm_expectations;

/* Every controller this build has, NULL-terminated (controllers/registry.c). */
extern const struct controller_def *const cm_all_controllers[];

void cm_config_defaults(struct cm_config *c);
int cm_main(int argc, char **argv);

struct cm_base;
struct cm_exec_arg;
typedef void (*cm_sync_fn)(struct cm_base *b, const char *key);

struct event_recorder;

struct cm_base {
  struct cm_ctx *ctx;
  struct event_recorder *recorder;  /* this controller's Events source, e.g. "deployment-controller" */
  struct workqueue *q;
  int workers;
  cm_sync_fn sync;
  const char *name;
  struct cm_exec_arg *runs;   /* writes in flight, cancelled by cm_base_stop */
  json_t *started;            /* key -> monotonic ms its sync began (work duration metric) */
};

int cm_base_init(struct cm_base *b, struct cm_ctx *ctx, const char *name, int workers, cm_sync_fn sync);
/* Events of this controller come from component (upstream's name, e.g.
 * "replicaset-controller") instead of the shared recorder's. */
void cm_base_set_component(struct cm_base *b, const char *component);
void cm_base_run(struct cm_base *b);
void cm_base_stop(struct cm_base *b);
/* Ends processing of key: failed requeues it rate limited. */
void cm_base_finish(struct cm_base *b, const char *key, bool failed);
/* Same, and requeues after delay_ms (>= 0) too. */
void cm_base_finish_after(struct cm_base *b, const char *key, bool failed, int64_t delay_ms);
/* Executes acts (emptied) and finishes key when all answered; requeue_ms
 * >= 0 also requeues the key after that delay.  on_done (may be NULL) is
 * told the outcome first (key borrowed). */
typedef void (*cm_exec_done_fn)(struct cm_base *b, const char *key, int failed, const char *first_error);
void cm_base_exec(struct cm_base *b, const char *key, struct cm_actions *acts,
                  struct cm_expectations *exp, int64_t requeue_ms);
void cm_base_exec_cb(struct cm_base *b, const char *key, struct cm_actions *acts,
                     struct cm_expectations *exp, int64_t requeue_ms, cm_exec_done_fn on_done);
/* Enqueues the "namespace/name" key of obj. */
void cm_base_enqueue(struct cm_base *b, const json_t *obj);
void cm_base_enqueue_key(struct cm_base *b, const char *key);
/* Seconds since the epoch (wall clock). */
int64_t cm_now(void);

#endif
