/*
 * scheduler.h - the kube-scheduler program's core: informers feeding the
 * node snapshot (the cache) and the scheduling queue, the scheduling loop,
 * assumed pods and asynchronous binding, events, pod conditions and
 * preemption.  app.c builds it from flags; sched_server_* are its API.
 */
#ifndef SCHED_SCHEDULER_H
#define SCHED_SCHEDULER_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "framework.h"
#include "queue.h"

struct event_base;
struct event;
struct rest_client;
struct metrics;
struct informer;
struct event_recorder;

/* Binds in flight at once; more wait in the queue (upstream binds in
 * goroutines without a cap, but the client's rate limiter serialises them
 * anyway, and a cap keeps assumed pods from piling up). */
#define SCHED_MAX_BINDS_IN_FLIGHT 512
/* A loop turn schedules pods for at most this long before letting the
 * event loop serve sockets and timers. */
#define SCHED_TURN_BUDGET_MS 20
#define SCHED_TICK_MS 1000                 /* backoffQ flush, metrics */
#define SCHED_UNSCHEDULABLE_FLUSH_MS 30000 /* unschedulable pods flush check */

struct sched_op;
struct sched_ext_cycle;

struct sched_server {
  struct event_base *base;
  struct rest_client *client; /* borrowed */
  struct metrics *metrics;    /* borrowed */
  struct sched_config *cfg;   /* borrowed */
  struct sched_snapshot *snap;
  struct sched_queue *queue;
  struct informer *pods, *nodes, *namespaces, *pdbs;
  struct informer *pvcs, *pvs, *classes; /* the volume plugins' view, in snap */
  struct sched_handle handle;            /* what plugins get (attach) */
  struct event_recorder **recorders;     /* one per profile */
  char *host;
  json_t *assumed;   /* pod key -> node name */
  json_t *nominated; /* pod key -> {"node": NAME, "pod": POD} */
  struct event *turn_ev, *tick_ev, *sync_ev, *backoff_ev;
  struct sched_op *ops;              /* outstanding API writes */
  struct sched_ext_cycle *ext_cycle; /* the cycle waiting for extenders */
  size_t binds_in_flight;
  bool synced, leading, running;
  bool busy_since_trim;
  int64_t last_unsched_flush_ms;
  uint64_t preempt_offset;
  /* Counters for tests and logs. */
  uint64_t scheduled, unschedulable, errors, preemptions;
};

/* Creates the informers (not started). */
struct sched_server *sched_server_new(struct event_base *base, struct rest_client *client, struct metrics *metrics,
                                      struct sched_config *cfg, const char *host);
/* Starts the informers; scheduling begins once they synced and
 * sched_server_set_leading(true) was called. */
int sched_server_start(struct sched_server *s);
void sched_server_set_leading(struct sched_server *s, bool leading);
bool sched_server_synced(const struct sched_server *s);
/* Outstanding writes are abandoned. */
void sched_server_free(struct sched_server *s);

/* The whole program (app.c): flags, client, leader election, loop. */
int sched_main(int argc, char **argv);

/* The informer transform: drops what the scheduler never reads. */
void sched_pod_transform(void *arg, json_t *pod);

#endif
