/*
 * pods.h - the pod manager: which pods this node should run (pods bound
 * to it in the API, static pods from the manifest directory), one worker
 * per pod that makes the runtime match, and the status written back.
 *
 * Level-triggered like upstream's kubelet: a pod's worker compares the
 * desired pod with the runtime's view of it (the PLEG's cache, relisted
 * every second and refreshed at once on runtime events) and takes the
 * next steps; every input (an API change, a runtime event, a probe result,
 * a back-off expiring, a referenced ConfigMap changing) only says which
 * pod to look at again.
 */
#ifndef KL_PODS_H
#define KL_PODS_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

struct kubelet;
struct kl_pods;

struct kl_pods *kl_pods_new(struct kubelet *k);
void kl_pods_start(struct kl_pods *p);
void kl_pods_free(struct kl_pods *p);
/* Shutdown: no new syncs, probes or relists; work in flight finishes. */
void kl_pods_stop(struct kl_pods *p);
/* No sync or probe in flight. */
bool kl_pods_idle(const struct kl_pods *p);

/* Pods the kubelet knows (desired pods with their current status), as a
 * v1 PodList (new reference): /pods. */
json_t *kl_pods_list(struct kl_pods *p);
/* The desired pod namespace/name (new reference) or NULL. */
json_t *kl_pods_find(struct kl_pods *p, const char *ns, const char *name);
/* The runtime's container of namespace/name/container: the current one,
 * or with previous, the one before it.  Writes its runtime id into id
 * and returns 0; -ENOENT (no such pod/container) or -EAGAIN (the
 * container has not been created yet: waiting_reason set). */
int kl_pods_container_id(struct kl_pods *p, const char *ns, const char *name, const char *container, bool previous,
                         char *id, size_t idlen, char *waiting_reason, size_t wrlen);
/* The init process of namespace/name's ready sandbox: its pid, or
 * -ENOENT (no such pod) or -EAGAIN (no ready sandbox). */
int kl_pods_sandbox_pid(struct kl_pods *p, const char *ns, const char *name);
/* Number of pods with running containers (metrics, tests). */
size_t kl_pods_running(const struct kl_pods *p);

#endif
