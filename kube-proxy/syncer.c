/*
 * syncer.c - sync scheduling and the kernel worker (see syncer.h).
 */
#define _GNU_SOURCE
#include "kube/xalloc.h"
#include "syncer.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conntrack.h"
#include "kube/log.h"
#include "kube/metrics.h"
#include "kube/timeutil.h"

#define KP_FULL_SYNC_PERIOD_MS (3600 * 1000LL)

struct job {
  bool check;            /* only check that the kernel still has our last commit */
  struct kp_ruleset *rs; /* the worker frees it (kp_iptc_apply_consume) */
  bool full;
  bool stale; /* a check found the tables changed by someone */
  struct kp_ct_plan plan;
  struct kp_sync_report report;
  double started;
};

struct kp_syncer {
  struct event_base *base;
  struct kp_model *model;
  const struct kp_proxier_config *cfg;
  int64_t min_sync_ms, sync_period_ms;
  struct metrics *metrics;
  kp_sync_done_fn done;
  void *arg;
  struct event *timer, *period_timer, *result_ev;
  pthread_t worker;
  bool worker_started;
  int to_worker[2], from_worker[2];
  struct kp_iptc_state *iptc; /* the worker's */
  struct kp_ct_snapshot *ct_prev, *ct_pending;
  bool running, dirty, need_full, started;
  int64_t last_start_ms, last_full_ms;
  uint64_t count;
  /* what the last successful sync was computed from: while neither the
   * model nor the config moved, a periodic sync only checks the kernel */
  bool have_synced;
  uint64_t synced_version, job_version;
  struct kp_proxier_config synced_cfg;
};

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the worker thread ---- */

static void *worker_main(void *arg)
{
  struct kp_syncer *s = arg;
  struct job *j;
  while (read(s->to_worker[0], &j, sizeof j) == (ssize_t)sizeof j) {
    if (!j) break;
    if (j->check) { /* nothing changed on our side: has anyone touched the tables? */
      j->stale = !kp_iptc_untouched(s->iptc);
      j->report.ok = true;
      if (write(s->from_worker[1], &j, sizeof j) != (ssize_t)sizeof j) break;
      continue;
    }
    /* the worker owns the ruleset from here: freed before the nat commit */
    kp_iptc_apply_consume(s->iptc, j->rs, j->full, &j->report.iptc);
    j->rs = NULL;
    j->report.ok = j->report.iptc.rc == 0;
    if (j->report.ok && j->plan.n) {
      int n = kp_ct_execute(&j->plan);
      j->report.conntrack_deleted = n;
      if (n < 0) KLOG_E("Failed to delete stale UDP conntrack entries: %s", strerror(-n));
    }
    /* the commit's buffers are large: hand them back to the system */
    malloc_trim(0);
    if (write(s->from_worker[1], &j, sizeof j) != (ssize_t)sizeof j) break;
  }
  return NULL;
}

/* ---- the loop side ---- */

static void arm(struct kp_syncer *s, int64_t delay_ms)
{
  if (delay_ms < 0) delay_ms = 0;
  struct timeval tv = {delay_ms / 1000, (delay_ms % 1000) * 1000};
  evtimer_add(s->timer, &tv);
}

static void schedule(struct kp_syncer *s)
{
  if (!s->started || s->running) return;
  arm(s, s->last_start_ms + s->min_sync_ms - ktime_mono_ms());
}

static void record_metrics(struct kp_syncer *s, const struct kp_sync_report *r)
{
  struct metrics *m = s->metrics;
  if (!m) return;
  const char *fam = "ip_family=\"IPv4\"";
  if (!r->ok) {
    metrics_counter_add(m, "kubeproxy_sync_proxy_rules_iptables_restore_failures_total",
                        "[ALPHA] Cumulative proxy iptables restore failures", fam, 1);
    if (!r->full)
      metrics_counter_add(m, "kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total",
                          "[ALPHA] Cumulative proxy iptables partial restore failures", fam, 1);
    return;
  }
  metrics_histogram_observe(m, "kubeproxy_sync_proxy_rules_duration_seconds",
                            "[ALPHA] SyncProxyRules latency in seconds", fam, NULL, 0, r->total_s);
  metrics_histogram_observe(m,
                            r->full ? "kubeproxy_sync_full_proxy_rules_duration_seconds"
                                    : "kubeproxy_sync_partial_proxy_rules_duration_seconds",
                            r->full ? "[ALPHA] SyncProxyRules latency in seconds for full resyncs"
                                    : "[ALPHA] SyncProxyRules latency in seconds for partial resyncs",
                            fam, NULL, 0, r->total_s);
  metrics_gauge_set(m, "kubeproxy_sync_proxy_rules_last_timestamp_seconds",
                    "[ALPHA] The last time proxy rules were successfully synced", fam, (double)ktime_now_us() / 1e6);
  static const char *const labels[KP_NTABLES] = {
      "table=\"filter\",ip_family=\"IPv4\"", "table=\"nat\",ip_family=\"IPv4\"", "table=\"raw\",ip_family=\"IPv4\""};
  for (int t = 0; t < KP_NTABLES; t++) {
    metrics_gauge_set(m, "kubeproxy_sync_proxy_rules_iptables_total",
                      "[ALPHA] Total number of iptables rules owned by kube-proxy", labels[t], (double)r->rules[t]);
  }
  metrics_gauge_set(m, "kubeproxy_sync_proxy_rules_iptables_last",
                    "[ALPHA] Number of iptables rules written by kube-proxy in last sync", fam,
                    (double)r->iptc.rules_written);
  metrics_gauge_set(m, "kubeproxy_sync_proxy_rules_no_local_endpoints_total",
                    "[ALPHA] Number of services with a Local traffic policy and no endpoints",
                    "traffic_policy=\"internal\",ip_family=\"IPv4\"", (double)r->stats.no_local_internal);
  metrics_gauge_set(m, "kubeproxy_sync_proxy_rules_no_local_endpoints_total",
                    "[ALPHA] Number of services with a Local traffic policy and no endpoints",
                    "traffic_policy=\"external\",ip_family=\"IPv4\"", (double)r->stats.no_local_external);
  if (r->conntrack_deleted > 0)
    metrics_counter_add(m, "kubeproxy_conntrack_stale_udp_entries_deleted_total",
                        "Stale UDP conntrack entries deleted after endpoint changes", NULL, r->conntrack_deleted);
}

static void result_cb(evutil_socket_t fd, short what, void *arg)
{
  struct kp_syncer *s = arg;
  struct job *j;
  if (read(fd, &j, sizeof j) != (ssize_t)sizeof j) return;
  s->running = false;
  if (j->check) {
    if (j->stale) {
      KLOG_V(2, "the tables changed since our last commit: syncing");
      s->have_synced = false;
      s->dirty = true;
      schedule(s);
    } else {
      if (s->metrics)
        metrics_gauge_set(s->metrics, "kubeproxy_sync_proxy_rules_last_timestamp_seconds",
                          "[ALPHA] The last time proxy rules were successfully synced", "ip_family=\"IPv4\"",
                          (double)ktime_now_us() / 1e6);
      if (s->done) s->done(s->arg, &j->report);
    }
    free(j);
    if (s->dirty) schedule(s);
    return;
  }
  s->count++;
  j->report.total_s = now_s() - j->started;
  if (j->report.ok) {
    s->have_synced = true;
    s->synced_version = s->job_version;
    s->synced_cfg = *s->cfg;
    kp_ct_snapshot_free(s->ct_prev);
    s->ct_prev = s->ct_pending;
    if (j->full) s->last_full_ms = ktime_mono_ms();
    KLOG_V(2,
           "SyncProxyRules complete elapsed=%.3fs full=%d build=%.3fs lock=%.3fs read=%.3fs modify=%.3fs "
           "commit=%.3fs chains_written=%zu rules_written=%zu chains_deleted=%zu tables=%zuKiB",
           j->report.total_s, j->full, j->report.build_s, j->report.iptc.lock_s, j->report.iptc.read_s,
           j->report.iptc.build_s, j->report.iptc.commit_s, j->report.iptc.chains_written, j->report.iptc.rules_written,
           j->report.iptc.chains_deleted, j->report.iptc.table_bytes / 1024);
  } else {
    s->have_synced = false;
    kp_ct_snapshot_free(s->ct_pending);
    KLOG_E("Failed to execute iptables-restore (libiptc): %s; retrying", j->report.iptc.err);
    s->need_full = true;
    s->dirty = true;
  }
  s->ct_pending = NULL;
  record_metrics(s, &j->report);
  if (s->done) s->done(s->arg, &j->report);
  kp_ruleset_free(j->rs);
  kp_ct_plan_free(&j->plan);
  free(j);
  malloc_trim(0);
  if (s->dirty) schedule(s);
}

static void sync_cb(evutil_socket_t fd, short what, void *arg)
{
  struct kp_syncer *s = arg;
  if (s->running) return; /* result_cb reschedules */
  int64_t now = ktime_mono_ms();
  struct job *j = xcalloc(1, sizeof *j);
  if (!j) return;
  j->started = now_s();
  s->dirty = false;
  s->last_start_ms = now;
  j->full = s->need_full || now - s->last_full_ms > KP_FULL_SYNC_PERIOD_MS || s->last_full_ms == 0;
  if (!j->full && s->have_synced && s->model->version == s->synced_version &&
      !memcmp(&s->synced_cfg, s->cfg, sizeof s->synced_cfg)) {
    /* nothing of ours changed: the worker only checks the kernel */
    j->check = true;
    s->running = true;
    if (write(s->to_worker[1], &j, sizeof j) != (ssize_t)sizeof j) {
      s->running = false;
      free(j);
    }
    return;
  }
  s->need_full = false;
  s->job_version = s->model->version;
  j->rs = kp_proxier_build(s->model, s->cfg, &j->report.stats);
  if (!j->rs) {
    free(j);
    s->dirty = true;
    schedule(s);
    return;
  }
  for (int t = 0; t < KP_NTABLES; t++) j->report.rules[t] = j->rs->nrules[t];
  s->ct_pending = kp_ct_snapshot_build(s->model);
  kp_ct_plan_diff(s->ct_prev, s->ct_pending, &j->plan);
  j->report.full = j->full;
  j->report.build_s = now_s() - j->started;
  s->running = true;
  if (write(s->to_worker[1], &j, sizeof j) != (ssize_t)sizeof j) {
    KLOG_E("sync worker is gone");
    s->running = false;
  }
}

static void period_cb(evutil_socket_t fd, short what, void *arg)
{
  struct kp_syncer *s = arg;
  kp_syncer_request(s);
}

struct kp_syncer *kp_syncer_new(struct event_base *base, struct kp_model *model, const struct kp_proxier_config *cfg,
                                int64_t min_sync_ms, int64_t sync_period_ms, struct metrics *metrics,
                                kp_sync_done_fn done, void *arg)
{
  struct kp_syncer *s = xcalloc(1, sizeof *s);
  if (!s) return NULL;
  s->base = base;
  s->model = model;
  s->cfg = cfg;
  s->min_sync_ms = min_sync_ms;
  s->sync_period_ms = sync_period_ms;
  s->metrics = metrics;
  s->done = done;
  s->arg = arg;
  s->need_full = true;
  s->to_worker[0] = s->to_worker[1] = s->from_worker[0] = s->from_worker[1] = -1;
  s->iptc = kp_iptc_state_new();
  if (!s->iptc || pipe2(s->to_worker, O_CLOEXEC) < 0 || pipe2(s->from_worker, O_CLOEXEC) < 0) {
    kp_syncer_free(s);
    return NULL;
  }
  s->timer = evtimer_new(base, sync_cb, s);
  s->period_timer = event_new(base, -1, EV_PERSIST, period_cb, s);
  s->result_ev = event_new(base, s->from_worker[0], EV_READ | EV_PERSIST, result_cb, s);
  if (!s->timer || !s->period_timer || !s->result_ev || pthread_create(&s->worker, NULL, worker_main, s) != 0) {
    kp_syncer_free(s);
    return NULL;
  }
  s->worker_started = true;
  event_add(s->result_ev, NULL);
  return s;
}

void kp_syncer_start(struct kp_syncer *s)
{
  if (s->started) return;
  s->started = true;
  s->dirty = true;
  arm(s, 0);
  if (s->sync_period_ms > 0) {
    struct timeval tv = {s->sync_period_ms / 1000, (s->sync_period_ms % 1000) * 1000};
    evtimer_add(s->period_timer, &tv);
  }
}

void kp_syncer_request(struct kp_syncer *s)
{
  s->dirty = true;
  if (!evtimer_pending(s->timer, NULL)) schedule(s);
}

void kp_syncer_request_full(struct kp_syncer *s)
{
  s->need_full = true;
  kp_syncer_request(s);
}

bool kp_syncer_busy(const struct kp_syncer *s) { return s->running; }
uint64_t kp_syncer_count(const struct kp_syncer *s) { return s->count; }

void kp_syncer_free(struct kp_syncer *s)
{
  if (!s) return;
  if (s->worker_started) {
    if (s->running) { /* let the commit in flight finish */
      struct job *j;
      if (read(s->from_worker[0], &j, sizeof j) == (ssize_t)sizeof j) {
        kp_ruleset_free(j->rs);
        kp_ct_plan_free(&j->plan);
        free(j);
      }
    }
    struct job *stop = NULL;
    if (write(s->to_worker[1], &stop, sizeof stop) == (ssize_t)sizeof stop) pthread_join(s->worker, NULL);
  }
  if (s->timer) event_free(s->timer);
  if (s->period_timer) event_free(s->period_timer);
  if (s->result_ev) event_free(s->result_ev);
  for (int i = 0; i < 2; i++) {
    if (s->to_worker[i] >= 0) close(s->to_worker[i]);
    if (s->from_worker[i] >= 0) close(s->from_worker[i]);
  }
  kp_iptc_state_free(s->iptc);
  kp_ct_snapshot_free(s->ct_prev);
  kp_ct_snapshot_free(s->ct_pending);
  free(s);
}
