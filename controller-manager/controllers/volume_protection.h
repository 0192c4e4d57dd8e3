/*
 * volume_protection.h - the decisions of the controllers that keep claims
 * and volumes alive exactly as long as needed (pvc-protection,
 * pv-protection, ephemeral-volume), for tests.
 */
#ifndef CM_VOLUME_PROTECTION_H
#define CM_VOLUME_PROTECTION_H

#include <stdbool.h>
#include <jansson.h>

struct cm_actions;

/* podUsesPVC: a scheduled pod that names the claim, or owns it as the
 * claim of a generic ephemeral volume and is not shut down. */
bool pvc_protection_pod_uses(const json_t *pod, const json_t *pvc);

enum pvc_protection_step {
  PVC_PROTECTION_KEEP,      /* nothing to write */
  PVC_PROTECTION_WRITE,     /* the finalizer is added or removed (in acts) */
  PVC_PROTECTION_LIST_PODS, /* no pod in the cache uses the deleted claim: confirm with a live list */
};
/* pods: the pods known to use the claim (informer), or the live list of
 * its namespace (live). */
enum pvc_protection_step pvc_protection_compute(const json_t *pvc, const json_t *pods, bool live,
                                                struct cm_actions *acts);

/* The finalizer added to a volume without it, removed from a deleted one
 * that is not Bound. */
void pv_protection_compute(const json_t *pv, struct cm_actions *acts);

/* ephemeral-volume (ephemeral.c): POSTs the missing claims of pod's
 * generic ephemeral volumes (claims: the namespace's claims); returns how
 * many volumes have a claim of their name the pod does not own (each
 * with a FailedBinding Event). */
int ephemeral_compute(const json_t *pod, const json_t *claims, struct cm_actions *acts);

#endif
