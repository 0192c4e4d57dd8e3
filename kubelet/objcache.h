/*
 * objcache.h - the ConfigMaps and Secrets pods reference (env, envFrom,
 * volumes, image pull secrets) and the claims and volumes they mount, watched one object at a time as
 * upstream's kubelet does (configMapAndSecretChangeDetectionStrategy
 * Watch): a LIST+WATCH with fieldSelector metadata.name=NAME in the pod's
 * namespace per referenced object, shared by every pod that references
 * it and stopped when the last one is gone.  A change of the object
 * requeues the pods that use it (so a mounted ConfigMap follows edits).
 */
#ifndef KL_OBJCACHE_H
#define KL_OBJCACHE_H

#include <jansson.h>

struct kubelet;
struct kl_pods;
struct kl_objcache;

struct kl_objcache *kl_objcache_new(struct kubelet *k, struct kl_pods *m);
void kl_objcache_free(struct kl_objcache *c);
/* kind "ConfigMap", "Secret", "PersistentVolumeClaim",
 * "PersistentVolume" (ns "") or "ServiceAccount".  0 with *out borrowed (valid until the
 * loop turn ends), -ENOENT when it does not exist, -EAGAIN while the
 * first list is in flight.  Registers pod_uid's interest. */
int kl_objcache_get(struct kl_objcache *c, const char *pod_uid, const char *kind, const char *ns, const char *name,
                    const json_t **out);
/* Drops every interest of pod_uid. */
void kl_objcache_release(struct kl_objcache *c, const char *pod_uid);

#endif
