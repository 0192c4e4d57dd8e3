/*
 * persistentvolume_claim_resize.c - the PersistentVolumeClaimResize
 * admission plugin: a claim's storage request may grow only when the
 * claim is Bound and its StorageClass (unchanged by the update) says
 * allowVolumeExpansion: true; otherwise the update is refused (403) with
 * upstream's message.  A request that does not grow passes (validation
 * refuses shrinking on its own).
 */
#define _GNU_SOURCE
#include "admission/admission.h"

#include <stdio.h>
#include <string.h>

#include <kube/json.h>
#include <kube/quantity.h>

#include "registry/kinds_ext.h"
#include "registry/registry.h"

/* GetPersistentVolumeClaimClass: the beta annotation, else the field. */
static const char *claim_class(const json_t *pvc)
{
  const char *a = kj_get_str(pvc, "metadata.annotations[\"volume.beta.kubernetes.io/storage-class\"]");
  if (a) return a;
  const char *s = kj_get_str(pvc, "spec.storageClassName");
  return s ? s : "";
}

static int request_cmp(const json_t *a, const json_t *b)
{
  struct quantity qa, qb;
  quantity_set_int(&qa, 0, QF_BINARY_SI);
  quantity_set_int(&qb, 0, QF_BINARY_SI);
  json_t *x = kj_get(a, "spec.resources.requests.storage"), *y = kj_get(b, "spec.resources.requests.storage");
  if (x && quantity_from_json(x, &qa) != 0) return 0;
  if (y && quantity_from_json(y, &qb) != 0) return 0;
  return quantity_cmp(&qa, &qb);
}

static bool allow_resize(struct reg_request *rq, const json_t *pvc, const json_t *old)
{
  const char *cls = claim_class(pvc), *old_cls = claim_class(old);
  if (!*cls || !*old_cls || strcmp(cls, old_cls)) return false;
  char key[600];
  snprintf(key, sizeof(key), "/registry/storageclasses/%s", cls);
  json_t *sc = adm_get(rq->srv, key);
  bool ok = kj_get_bool(sc, "allowVolumeExpansion", false);
  json_decref(sc);
  return ok;
}

json_t *admission_pvc_resize(struct reg_request *rq, const struct resource *res, json_t *obj, const json_t *old)
{
  if (res != &reg_persistentvolumeclaims || !old || request_cmp(obj, old) <= 0) return NULL;
  const char *name = kj_get_str(obj, "metadata.name");
  const char *phase = kj_get_str(old, "status.phase");
  if (!phase || strcmp(phase, "Bound"))
    return adm_forbidden(res, name, "Only bound persistent volume claims can be expanded");
  if (!allow_resize(rq, obj, old))
    return adm_forbidden(res, name,
                         "only dynamically provisioned pvc can be resized and the storageclass that provisions the "
                         "pvc must support resize");
  return NULL;
}
