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

#include <stddef.h>
#include <jansson.h>

struct kubelet;

/* The cgroup parent of a pod ("/kubepods/burstable/pod<uid>"). */
void kl_cgroup_pod_path(const struct kubelet *k, const char *qos, const char *uid, char *out, size_t len);
/* Creates the QoS levels and the pod's cgroup; 0 or -1 with a message. */
int kl_cgroups_ensure_pod(struct kubelet *k, const char *qos, const char *uid, char *parent, size_t len, char *err,
                          size_t errlen);
/* Removes the pod's cgroup from every controller (once its containers are
 * gone); missing directories are fine. */
void kl_cgroups_remove_pod(struct kubelet *k, const char *uid);

#endif
