/*
 * pod_config.h - the CRI configs of a pod's sandbox and containers
 * (upstream's generatePodSandboxConfig / generateContainerConfig):
 * hostname, DNS, namespaces, cgroup parent, labels and annotations of the
 * sandbox; image, command and args with $(VAR) expansion, environment,
 * mounts (volumes, the managed /etc/hosts, the termination message file),
 * resources and the merged pod/container securityContext of a container.
 */
#ifndef KL_POD_CONFIG_H
#define KL_POD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct kl_pod;

/* New PodSandboxConfig. */
json_t *kl_sandbox_config(struct kl_pod *p, int64_t attempt, const char *cgroup_parent, const json_t *dns_config);
/* KL_ENV_OK with *out a new ContainerConfig, KL_ENV_PENDING (referenced
 * objects still loading), or KL_ENV_ERROR with upstream's message (the
 * container waits with CreateContainerConfigError). */
int kl_container_config(struct kl_pod *p, const json_t *container, int64_t attempt, const json_t *image, json_t **out,
                        char *err, size_t errlen);
/* Hash of a container spec (hex), to notice a changed spec. */
void kl_container_hash(const json_t *container, char *out, size_t len);
/* oom_score_adj of a container (upstream's policy). */
int kl_oom_score_adj(const json_t *pod, const json_t *container, int64_t memory_capacity);
/* CRI LinuxContainerResources of a container (new reference). */
json_t *kl_container_resources(const json_t *pod, const json_t *container, int64_t memory_capacity, bool cfs_quota,
                               int64_t cfs_period_us);

#endif
