/*
 * volume_util.h - what the volume controllers share (upstream's
 * component-helpers/storage/volume and storage/ephemeral, and
 * pkg/controller/volume/common): the binding annotations, storage class
 * lookups, claim/volume matching rules, the names of generic ephemeral
 * claims and the pods-by-claim index.
 *
 * Every function only reads its json_t arguments; returned json_t are
 * borrowed from them unless a comment says otherwise.
 */
#ifndef CM_VOLUME_UTIL_H
#define CM_VOLUME_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct informer;

/* Annotations of the binding protocol (upstream's names). */
#define ANN_BIND_COMPLETED "pv.kubernetes.io/bind-completed"
#define ANN_BOUND_BY_CONTROLLER "pv.kubernetes.io/bound-by-controller"
#define ANN_SELECTED_NODE "volume.kubernetes.io/selected-node"
#define ANN_DYNAMICALLY_PROVISIONED "pv.kubernetes.io/provisioned-by"
#define ANN_STORAGE_PROVISIONER "volume.kubernetes.io/storage-provisioner"
#define ANN_BETA_STORAGE_PROVISIONER "volume.beta.kubernetes.io/storage-provisioner"
#define ANN_BETA_STORAGE_CLASS "volume.beta.kubernetes.io/storage-class"
#define ANN_STORAGE_RESIZER "volume.kubernetes.io/storage-resizer"
#define ANN_PRE_RESIZE_CAPACITY "volume.alpha.kubernetes.io/pre-resize-capacity"
#define ANN_DEFAULT_CLASS "storageclass.kubernetes.io/is-default-class"
#define ANN_BETA_DEFAULT_CLASS "storageclass.beta.kubernetes.io/is-default-class"
#define NOT_SUPPORTED_PROVISIONER "kubernetes.io/no-provisioner"

/* The protection finalizers. */
#define PVC_PROTECTION_FINALIZER "kubernetes.io/pvc-protection"
#define PV_PROTECTION_FINALIZER "kubernetes.io/pv-protection"

/* Index of pods by the claims their volumes use ("NS/CLAIM"), both
 * persistentVolumeClaim volumes and generic ephemeral ones (upstream's
 * PodPVCIndex).  Register with vol_add_pod_claim_index (repeat calls are
 * fine). */
#define VOL_INDEX_POD_CLAIMS "pvc"
int vol_add_pod_claim_index(struct informer *pod_inf);
void vol_index_pod_claims(void *arg, const json_t *pod, json_t *out);

/* GetPersistentVolumeClaimClass: the beta annotation, else
 * spec.storageClassName, else "". */
const char *vol_claim_class(const json_t *claim);
/* PersistentVolumeClaimHasClass: either of them is set (even to ""). */
bool vol_claim_has_class(const json_t *claim);
/* GetPersistentVolumeClass, the same for a volume. */
const char *vol_pv_class(const json_t *pv);
/* The class named name in classes (array), or NULL. */
const json_t *vol_find_class(const json_t *classes, const char *name);
/* The class marks itself default (GA or beta annotation "true"). */
bool vol_is_default_class(const json_t *sc);
/* GetDefaultClass: among the default classes, the newest, ties broken by
 * name; NULL when there is none. */
const json_t *vol_default_class(const json_t *classes);
/* IsDelayBindingMode: the claim's class exists and says
 * WaitForFirstConsumer. */
bool vol_is_delay_binding(const json_t *claim, const json_t *classes);

/* The storage request of a claim / capacity of a volume in bytes
 * (Value(), rounded up), 0 when absent. */
int64_t vol_claim_request(const json_t *claim);
int64_t vol_pv_capacity(const json_t *pv);
/* CheckAccessModes: every mode the claim asks for is one of the volume's. */
bool vol_access_modes_ok(const json_t *claim, const json_t *pv);
bool vol_modes_contain(const json_t *modes, const char *mode);
/* CheckVolumeModeMismatches (absent means Filesystem). */
bool vol_mode_mismatch(const json_t *claim, const json_t *pv);
/* IsVolumeBoundToClaim: claimRef names the claim, and its uid, if any, is
 * the claim's. */
bool vol_is_bound_to_claim(const json_t *pv, const json_t *claim);
/* A claim is fully bound when it has a volumeName and bind-completed. */
bool vol_claim_fully_bound(const json_t *claim);
bool vol_has_annotation(const json_t *obj, const char *key);
const char *vol_annotation(const json_t *obj, const char *key);
bool vol_has_finalizer(const json_t *obj, const char *finalizer);

/* Generic ephemeral volumes: the claim is named POD-VOLUME (into out). */
char *vol_ephemeral_claim_name(const json_t *pod, const json_t *volume, char *out, size_t len);
/* VolumeIsForPod: NULL when pvc is controlled by pod, else upstream's
 * message (into buf). */
const char *vol_claim_is_for_pod(const json_t *pod, const json_t *pvc, char *buf, size_t len);
/* The claim a pod volume uses (persistentVolumeClaim or ephemeral) into
 * out; NULL for other volumes.  *ephemeral tells which. */
const char *vol_pod_volume_claim(const json_t *pod, const json_t *volume, bool *ephemeral, char *out, size_t len);

/* A JSON resourceVersion comparison: positive when a is newer than b.
 * Unparsable versions compare equal. */
int vol_rv_cmp(const json_t *a, const json_t *b);

#endif
