/*
 * stats.h - resource usage of the node, its pods and containers (the
 * Summary API and /metrics/resource; the eviction manager's signals).
 */
#ifndef KL_STATS_H
#define KL_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

struct kubelet;
struct kl_stats;

/* Fields are -1 when unknown. */
struct kl_usage {
  bool ok;
  int64_t cpu_ns; /* cumulative CPU time */
  int64_t mem_usage;
  int64_t mem_working_set; /* usage minus inactive file pages */
  int64_t mem_rss;
  int64_t page_faults, major_faults;
};

struct kl_stats *kl_stats_new(struct kubelet *k);
void kl_stats_free(struct kl_stats *s);
/* The Summary API answer (new reference). */
json_t *kl_stats_summary(struct kl_stats *s);
/* A cgroup path ("/kubepods/burstable/podUID") of any controller. */
void kl_cgroup_usage(const char *cgroup, struct kl_usage *u);
/* The whole node (/proc/stat, /proc/meminfo). */
void kl_node_usage(struct kl_usage *u);

#endif
