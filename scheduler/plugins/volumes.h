/*
 * volumes.h - the storage rules the volume plugins share (upstream's
 * component-helpers/storage/volume as the scheduler uses them): claim and
 * volume classes, binding state, delay binding, a volume's node affinity,
 * and FindMatchingVolume with the node and the volumes already chosen.
 * Every function only reads its json_t arguments; returned json_t are
 * borrowed.
 */
#ifndef SCHED_PLUGINS_VOLUMES_H
#define SCHED_PLUGINS_VOLUMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "../framework.h"

#define SCHED_ANN_BIND_COMPLETED "pv.kubernetes.io/bind-completed"
#define SCHED_ANN_BOUND_BY_CONTROLLER "pv.kubernetes.io/bound-by-controller"
#define SCHED_ANN_SELECTED_NODE "volume.kubernetes.io/selected-node"
#define SCHED_ANN_BETA_STORAGE_CLASS "volume.beta.kubernetes.io/storage-class"
#define SCHED_NOT_SUPPORTED_PROVISIONER "kubernetes.io/no-provisioner"

const char *sched_vol_annotation(const json_t *obj, const char *key);
/* The beta annotation, else spec.storageClassName, else "". */
const char *sched_vol_claim_class(const json_t *pvc);
const char *sched_vol_pv_class(const json_t *pv);
/* volumeName set and bind-completed: what the kubelet may mount. */
bool sched_vol_claim_fully_bound(const json_t *pvc);
/* IsDelayBindingMode: 1 when the claim's class says WaitForFirstConsumer,
 * 0 when not (no class, or a class that does not exist), -1 with a
 * message in err when the class has no volumeBindingMode. */
int sched_vol_delay_binding(const struct sched_snapshot *s, const json_t *pvc, char *err, size_t len);
/* CheckNodeAffinity: the volume has no required node affinity, or the
 * node matches one of its terms. */
bool sched_vol_node_affinity_ok(const json_t *pv, const json_t *node);
/* IsVolumeBoundToClaim. */
bool sched_vol_bound_to_claim(const json_t *pv, const json_t *pvc);
/* VolumeIsForPod: NULL, or upstream's message (into buf). */
const char *sched_vol_claim_for_pod(const json_t *pod, const json_t *pvc, char *buf, size_t len);
/* A storage quantity in bytes (0 when absent). */
int64_t sched_vol_bytes(const json_t *q);
int64_t sched_vol_claim_request(const json_t *pvc);
/* FindMatchingVolume on the scheduler's path (delay binding, a node):
 * a volume pre-bound to the claim that fits and suits the node, else the
 * smallest Available one of the claim's class, selector, volume mode and
 * access modes that suits the node, not in excluded (name -> anything). */
const json_t *sched_vol_find_matching(const json_t *pvc, const json_t *pvs, const json_t *node, const json_t *excluded);
/* A newer resourceVersion (numeric compare; unparsable: equal). */
int sched_vol_rv_cmp(const json_t *a, const json_t *b);

#endif
