/*
 * statefulset.h - the StatefulSet controller's pure sync step and naming
 * helpers, for tests.
 */
#ifndef CM_STATEFULSET_H
#define CM_STATEFULSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct cm_actions;

#define STS_POD_NAME_LABEL "statefulset.kubernetes.io/pod-name"
#define STS_POD_INDEX_LABEL "apps.kubernetes.io/pod-index"
#define STS_REVISION_LABEL "controller-revision-hash"
#define STS_DEFAULT_HISTORY_LIMIT 10
/* How soon a pod held back by its claims is tried again. */
#define STS_CLAIM_WAIT_MS 1000

/* "SET-ORDINAL" into out. */
char *sts_pod_name(const char *set, int64_t ordinal, char *out, size_t len);
/* "TEMPLATE-SET-ORDINAL" into out. */
char *sts_pvc_name(const char *tmpl, const char *set, int64_t ordinal, char *out, size_t len);
/* Ordinal from a pod name "SET-N" of set, -1 if it is not one. */
int64_t sts_ordinal(const char *set, const char *pod_name);
/* ControllerRevision data for the set's template (new reference) and its
 * name "SET-HASH" (into out). */
json_t *sts_revision_data(const json_t *set);
char *sts_revision_name(const json_t *set, const json_t *data, char *out, size_t len);

/*
 * One sync: pods, pvcs and revisions are every object of those kinds in
 * the set's namespace (borrowed).  Appends the writes (ControllerRevision
 * and PVC creations, pod creations / deletions, status PUT) to acts.
 */
int sts_compute(const json_t *set, const json_t *pods, const json_t *pvcs, const json_t *revisions, int64_t now,
                struct cm_actions *acts, int64_t *requeue_ms);

/* ---- persistentVolumeClaimRetentionPolicy (statefulset_retention.c) ---- */

/* isClaimOwnerUpToDate: claim's owner references are what the set's
 * policy wants for pod (in_range: the pod's ordinal is one of the set's
 * replicas).  Also true for a claim an older set or pod of the same
 * name still owns (it is not touched). */
bool sts_claim_owner_up_to_date(const json_t *claim, const json_t *set, const json_t *pod, bool in_range);
/* updateClaimOwnerRefForSetAndPod: the claim's ownerReferences as they
 * should be (new reference). */
json_t *sts_claim_owner_refs(const json_t *claim, const json_t *set, const json_t *pod, bool in_range);
/* PodClaimIsStale: with whenScaled Delete, an older pod of pod's name (pod
 * may not exist yet, without uid) still owns the claim. */
bool sts_claim_is_stale(const json_t *claim, const json_t *set, const json_t *pod);

#endif
