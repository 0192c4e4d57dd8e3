/*
 * leaderelection.h - leader election on a coordination.k8s.io/v1 Lease,
 * as upstream's --leader-elect for kube-scheduler and
 * kube-controller-manager.
 *
 * A candidate takes the lease when it is absent, free, or not renewed by
 * its holder for leaseDurationSeconds as observed on the candidate's own
 * clock; the leader renews it every retry period and gives up (calls
 * on_stopped_leading; the program should exit) when it could not renew
 * within the renew deadline.  Every write is a compare-and-swap on the
 * Lease's resourceVersion, so two candidates never both lead.
 */
#ifndef KUBE_LEADERELECTION_H
#define KUBE_LEADERELECTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct rest_client;
struct leader_elector;

#define LEADERELECTION_DEFAULT_NAMESPACE "kube-system"
#define LEADERELECTION_DEFAULT_LEASE_DURATION_MS 15000
#define LEADERELECTION_DEFAULT_RENEW_DEADLINE_MS 10000
#define LEADERELECTION_DEFAULT_RETRY_PERIOD_MS 2000

struct leaderelection_config {
  const char *namespace;     /* --leader-elect-resource-namespace; NULL: kube-system */
  const char *name;          /* --leader-elect-resource-name, e.g. "kube-scheduler" */
  const char *identity;      /* NULL: hostname_uuid */
  int64_t lease_duration_ms; /* --leader-elect-lease-duration; 0: 15 s (whole seconds on the wire) */
  int64_t renew_deadline_ms; /* --leader-elect-renew-deadline; 0: 10 s */
  int64_t retry_period_ms;   /* --leader-elect-retry-period; 0: 2 s */
  void (*on_started_leading)(void *arg);
  void (*on_stopped_leading)(void *arg);
  /* Called when the observed holder changes (including to ourselves). */
  void (*on_new_leader)(void *arg, const char *identity);
  void *arg;
};

/* Returns NULL if name is missing or on allocation failure. */
struct leader_elector *leaderelection_new(struct event_base *base, struct rest_client *client,
                                          const struct leaderelection_config *cfg);
/* Starts trying to acquire (first attempt from the loop, at once). */
int leaderelection_start(struct leader_elector *le);
bool leaderelection_is_leader(const struct leader_elector *le);
/* Holder last observed ("" if none); borrowed. */
const char *leaderelection_leader(const struct leader_elector *le);
const char *leaderelection_identity(const struct leader_elector *le);
/* Stops campaigning and, when leading, gives the lease up at once (holder
 * cleared, leaseDurationSeconds 1) so that another candidate need not wait
 * for it to expire (upstream's ReleaseOnCancel).  done(arg) runs from the
 * loop when the release finished or was not needed, and at the latest
 * LEADERELECTION_RELEASE_DEADLINE_MS after the call (an API server that is
 * gone must not hold a program's shutdown up); on_stopped_leading is not
 * called.  Free the elector afterwards. */
#define LEADERELECTION_RELEASE_DEADLINE_MS 1000
int leaderelection_release(struct leader_elector *le, void (*done)(void *arg), void *arg);
/* Stops without releasing the lease (the holder then expires). */
void leaderelection_free(struct leader_elector *le);

/* hostname + "_" + random UUID, upstream's default identity. */
char *leaderelection_default_identity(void);

#endif
