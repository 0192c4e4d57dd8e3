/*
 * syncer.h - when and how the rules are synced (upstream's
 * BoundedFrequencyRunner around syncProxyRules).
 *
 * Any change of the model requests a sync; syncs start at most once per
 * --iptables-min-sync-period (measured start to start), and at least once
 * per --iptables-sync-period.  The ruleset is computed on the event loop
 * from the model (a pure function, tens of ms for thousands of services);
 * the kernel work (libiptc read, rewrite and commit under the xtables
 * lock, then the stale conntrack cleanup) runs on one worker thread, so
 * the loop (DNS answers, health checks, watches) is never blocked by a
 * big table.  Hand-off is by pipes carrying job pointers: the loop owns a
 * job until it writes it to the worker, and again once it reads it back.
 * One job at a time; changes arriving meanwhile make the next one.
 *
 * The first sync, the hourly one and the one after any failure are full
 * (every chain of ours rewritten); the others rewrite only the chains
 * whose content changed.  A sync with neither the model nor the config
 * changed since the last success (the periodic one, mostly) computes
 * nothing: the worker only asks the kernel whether our tables are as we
 * left them, and a real sync follows if not.
 */
#ifndef KP_SYNCER_H
#define KP_SYNCER_H

#include <stdbool.h>
#include <stdint.h>

#include "iptc.h"
#include "proxier.h"

struct event_base;
struct kp_model;
struct metrics;
struct kp_syncer;

struct kp_sync_report {
  bool ok;
  bool full;
  double total_s, build_s; /* build: computing the ruleset on the loop */
  struct kp_iptc_result iptc;
  struct kp_proxier_stats stats;
  size_t rules[KP_NTABLES]; /* our rules per table */
  int conntrack_deleted;
};

typedef void (*kp_sync_done_fn)(void *arg, const struct kp_sync_report *r);

struct kp_syncer *kp_syncer_new(struct event_base *base, struct kp_model *model, const struct kp_proxier_config *cfg,
                                int64_t min_sync_ms, int64_t sync_period_ms, struct metrics *metrics,
                                kp_sync_done_fn done, void *arg);
/* Waits for a job in flight, then stops the worker. */
void kp_syncer_free(struct kp_syncer *s);
/* Starts syncing (the first sync at once). */
void kp_syncer_start(struct kp_syncer *s);
/* The model changed: sync soon, within the min sync period. */
void kp_syncer_request(struct kp_syncer *s);
/* Rewrite everything next time (the node's addresses changed...). */
void kp_syncer_request_full(struct kp_syncer *s);
bool kp_syncer_busy(const struct kp_syncer *s);
uint64_t kp_syncer_count(const struct kp_syncer *s); /* syncs finished */

#endif
