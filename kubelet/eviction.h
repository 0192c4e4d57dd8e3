/*
 * eviction.h - node-pressure eviction (upstream's eviction manager, hard
 * thresholds).
 *
 * Every EVICTION_MONITOR_MS the signals are measured: memory.available
 * (MemAvailable), nodefs.available and nodefs.inodesFree (the root
 * directory's file system), imagefs.available (the runtime's).  A signal
 * below its evictionHard threshold (a quantity, or a percentage of
 * capacity) raises the matching node condition (MemoryPressure,
 * DiskPressure), which stays until the signal has been above for
 * evictionPressureTransitionPeriod.  While a threshold is met, disk
 * pressure first reclaims node-level resources (dead containers, unused
 * images), then one pod per cycle is evicted: ranked as upstream ranks
 * them (memory: pods whose usage exceeds their requests first, then by
 * priority, then by usage above requests; disk: the same with the pod's
 * local storage), killed at once, its status Failed with reason Evicted,
 * upstream's message, a DisruptionTarget condition and an Evicted event.
 * Under memory pressure new BestEffort pods are refused at admission
 * ("The node had condition: [MemoryPressure]. ").  Static pods are not
 * evicted.
 */
#ifndef KL_EVICTION_H
#define KL_EVICTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct kubelet;
struct kl_eviction;

struct kl_eviction *kl_eviction_new(struct kubelet *k);
void kl_eviction_start(struct kl_eviction *e);
void kl_eviction_stop(struct kl_eviction *e);
void kl_eviction_free(struct kl_eviction *e);
/* Admission of a new pod: true, or false with upstream's message. */
bool kl_eviction_admit(struct kl_eviction *e, const json_t *pod, char *msg, size_t len);

/* Pure helpers (unit-tested). */
/* The threshold in bytes (or inodes) for a capacity: "100Mi", "10%". */
int64_t kl_eviction_threshold(const char *value, int64_t capacity);
/* A candidate for ranking. */
struct kl_evict_candidate {
  const char *name; /* for messages and tests */
  int64_t usage;    /* bytes of the resource under pressure */
  int64_t request;  /* the pod's request of it (0 none) */
  int32_t priority;
  void *ref;
};
/* Sorts candidates in eviction order (the first goes first). */
void kl_eviction_rank(struct kl_evict_candidate *c, size_t n);

#endif
