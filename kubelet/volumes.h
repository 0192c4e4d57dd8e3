/*
 * volumes.h - a pod's volumes on this node.
 *
 * Each sync calls kl_volumes_setup(), which makes every volume of the pod
 * current: emptyDir (a directory, or tmpfs for medium Memory with its
 * sizeLimit), hostPath (with upstream's type checks), configMap, secret,
 * downwardAPI and projected volumes (written with the atomic writer, so a
 * changed ConfigMap or Secret reaches the mounted files by one rename of
 * the ..data symlink; secret and projected volumes live on tmpfs), and
 * persistentVolumeClaim bound to a hostPath or local PersistentVolume
 * (Filesystem mode only; a local-path volume's directory is created under
 * --local-path-root, see local_path.h; any other local volume's path must
 * exist).  A claim's readOnly and a volumeMount's subPath apply to the
 * bind mount as for any volume.
 * Projected serviceAccountToken sources come from the TokenRequest API
 * (expirationSeconds, audience, bound to the pod), refreshed after 80% of
 * their lifetime or 24 h.  Paths live under
 * ROOT/pods/UID/volumes/kubernetes.io~<plugin>/NAME as upstream.
 *
 * The payload builders and the atomic writer are pure file-system code
 * (volume_payload.c), unit-tested on a temporary directory.
 */
#ifndef KL_VOLUMES_H
#define KL_VOLUMES_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

struct kl_pod;
struct kubelet;
struct kl_tokens;

/* KL_ENV_OK (all volumes ready), KL_ENV_PENDING (waiting for objects or
 * tokens; the pod is requeued when they arrive) or KL_ENV_ERROR with the
 * FailedMount message (`MountVolume.SetUp failed for volume "v" : ...`). */
int kl_volumes_setup(struct kl_pod *p, char *err, size_t errlen);
/* Appends the CRI mounts of container c's volumeMounts (subPath and
 * subPathExpr resolved with vars, the container's environment). */
int kl_volume_mounts(struct kl_pod *p, const json_t *c, const json_t *vars, json_t *mounts, char *err, size_t errlen);
/* Unmounts and removes the pod's directory. */
int kl_volumes_teardown(struct kl_pod *p);

/* Service account tokens (TokenRequest), shared by the pods of a node. */
struct kl_tokens *kl_tokens_new(struct kubelet *k);
void kl_tokens_free(struct kl_tokens *t);
/* Forgets the tokens of a pod. */
void kl_tokens_release(struct kl_tokens *t, const char *pod_uid);

/* ---- volume_payload.c ---- */
/* A payload: object relative path -> {"content": string (bytes), "mode": int}. */
/* Upstream's AtomicWriter path rules; 0 or -1 with the message. */
int kl_payload_validate_path(const char *path, char *err, size_t errlen);
/* configMap / secret volume source over obj (NULL when missing).  New
 * payload, or NULL with the message in err. */
json_t *kl_payload_configmap(const json_t *obj, const json_t *source, bool secret, char *err, size_t errlen);
/* downwardAPI items over the pod. */
json_t *kl_payload_downward(const json_t *pod, const json_t *items, int default_mode, const json_t *node_alloc,
                            char *err, size_t errlen);
/* Writes payload into dir atomically (..data symlink swap).  Returns 1
 * when something changed, 0 when the files already matched, -1 with a
 * message.  fs_group >= 0 makes files group-owned and readable. */
int kl_atomic_write(const char *dir, const json_t *payload, int fs_group, char *err, size_t errlen);
/* "k=\"v\"\n" lines sorted by key (labels/annotations files). */
char *kl_format_map(const json_t *map);
/* rm -rf without following symlinks or crossing mounts. */
int kl_remove_tree(const char *path);

#endif
