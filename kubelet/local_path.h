/*
 * local_path.h - the node side of the built-in local-path provisioner
 * (kube.local/local-path, in the controller-manager's
 * persistentvolume-binder).
 *
 * The provisioner only writes API objects: a `local` PersistentVolume at
 * ROOT/pvc-UID_NAMESPACE_NAME with a required node affinity on the
 * kubernetes.io/hostname of the node the scheduler picked, and, when the
 * volume reclaims with Delete, the finalizer kube.local/local-path-cleanup.
 * The disk work belongs to the kubelet of that node:
 *
 *  - creating: when a pod first mounts the volume (volumes.c), the
 *    directory is made (parents too; the volume itself mode 0777, as
 *    k3s's provisioner does);
 *  - removing: a PersistentVolume informer (all volumes: a field selector
 *    cannot select on node affinity, so they are filtered here) queues
 *    every local-path volume of this node that is being deleted and still
 *    carries the cleanup finalizer.  Its directory is removed on a worker
 *    thread (a volume may hold many files), then the finalizer is taken
 *    off with a merge patch carrying the resourceVersion it was read at,
 *    so a concurrent change makes the patch fail with a Conflict and the
 *    volume is looked at again.  A failure records a Warning Event
 *    VolumeFailedDelete on the volume and is retried with the queue's
 *    backoff.  Level-triggered: the queue holds only names, each attempt
 *    reads the volume as the informer has it now.
 *
 * Safety: a directory is created or removed only when the volume's
 * spec.local.path is exactly ROOT/ENTRY, with ROOT this kubelet's
 * --local-path-root (which has no symbolic link in it) and ENTRY one path
 * component starting with the volume's own name and "_" (what the
 * provisioner makes).  The removal opens every directory relative to its
 * parent with O_NOFOLLOW, unlinks symbolic links instead of following
 * them, and never descends into another file system (a mount point inside
 * the volume makes the removal fail, with nothing outside touched).
 */
#ifndef KL_LOCAL_PATH_H
#define KL_LOCAL_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include <kube/localpath.h>

struct kubelet;
struct kl_local_path;

/* The provisioner's names (controller-manager/controllers/persistentvolume.h). */
#define KL_ANN_PROVISIONED_BY "pv.kubernetes.io/provisioned-by"

struct kl_local_path *kl_local_path_new(struct kubelet *k);
void kl_local_path_start(struct kl_local_path *l);
/* No new attempts; an attempt in flight finishes. */
void kl_local_path_stop(struct kl_local_path *l);
/* Waits for a removal in progress. */
void kl_local_path_free(struct kl_local_path *l);

/* ---- pure helpers (unit-tested) ---- */

/* The volume was made by the local-path provisioner. */
bool kl_local_path_owned(const json_t *pv);
/* The volume lives on node: its kube.local/local-path-node annotation
 * names node, or, without one, its required node affinity selects node
 * by the kubernetes.io/hostname label (which the kubelet sets to the
 * node name). */
bool kl_local_path_on_node(const json_t *pv, const char *node);
/* The volume is this node's and waits for the kubelet to clean it up:
 * owned, on node, deletionTimestamp set, the cleanup finalizer present. */
bool kl_local_path_needs_cleanup(const json_t *pv, const char *node);
/* The entry of the volume's directory inside root (see Safety above):
 * 0 with the name in entry, or -1 with the reason in err. */
int kl_local_path_entry(const json_t *pv, const char *root, char *entry, size_t len, char *err, size_t errlen);

/* ---- the file-system side (unit-tested on a temporary directory) ---- */

/* Creates root (with parents, 0755) and root/entry (0777) when missing;
 * an existing root/entry must be a directory (not a symbolic link).
 * 0, or -1 with the message. */
int kl_local_path_create(const char *root, const char *entry, char *err, size_t errlen);
/* Removes root/entry and everything below it (see Safety above); a
 * missing entry is success.  0, or -1 with the message. */
int kl_local_path_remove(const char *root, const char *entry, char *err, size_t errlen);

#endif
