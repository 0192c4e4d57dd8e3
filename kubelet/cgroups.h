/*
 * cgroups.h - the pod cgroup hierarchy with the cgroupfs driver, as
 * upstream lays it out under --cgroup-root:
 *   ROOT/kubepods                      (node allocatable: cpu.shares, memory limit)
 *   ROOT/kubepods/pod<uid>             Guaranteed pods
 *   ROOT/kubepods/burstable/pod<uid>   Burstable pods
 *   ROOT/kubepods/besteffort/pod<uid>  BestEffort pods (cpu.shares 2)
 * created in the cpu, cpuacct, memory and pids controllers (the runtime
 * creates the others along the path when it places a container there).
 * The pod cgroup path is the containers' cgroup parent.
 */
#ifndef KL_CGROUPS_H
#define KL_CGROUPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct kubelet;

/* The cgroup parent of a pod ("/kubepods/burstable/pod<uid>"). */
void kl_cgroup_pod_path(const struct kubelet *k, const char *qos, const char *uid, char *out, size_t len);
/* Creates the QoS levels and the pod's cgroup with the pod's resources
 * (upstream's ResourceConfigForPod: cpu.shares from the pod's cpu
 * requests; a CFS quota and a memory limit from its limits when every
 * container declares one, always for Guaranteed pods; shares 2 for
 * BestEffort; the pids limit).  0 or -1 with a message. */
int kl_cgroups_ensure_pod(struct kubelet *k, const json_t *pod, const char *uid, char *parent, size_t len, char *err,
                          size_t errlen);
/* The pod cgroup's values (pure; unit-tested): -1 where nothing is set. */
struct kl_pod_cgroup {
  int64_t cpu_shares;
  int64_t cpu_quota_us, cpu_period_us;
  int64_t memory_limit;
};
void kl_pod_cgroup_config(const json_t *pod, bool cfs_quota, int64_t period_us, struct kl_pod_cgroup *out);
/* Removes the pod's cgroup from every controller (once its containers are
 * gone); missing directories are fine. */
void kl_cgroups_remove_pod(struct kubelet *k, const char *uid);

#endif
