/*
 * expand.c - the "persistentvolume-expander" controller (upstream
 * pkg/controller/volume/expand): a bound claim whose storage request grew
 * past its status capacity gets a bigger volume.
 *
 * Only the built-in local-path provisioner's volumes are expanded here:
 * a directory has no size of its own, so expanding one means recording
 * the new size -- the claim is marked Resizing by the resizer
 * kube.local/local-path (annotation volume.kubernetes.io/storage-resizer
 * and a Resizing condition), the volume's capacity is raised, then the
 * claim's status.capacity follows and the condition goes, with upstream's
 * VolumeResizeSuccessful Event.  No filesystem resize is needed on the
 * node.  Any other volume waits for an external resizer
 * (ExternalExpanding).  Whether the claim's class allows expansion is the
 * API server's check when the request is raised, as upstream.
 *
 * Each sync writes one step; the informer event of that write brings the
 * claim back for the next.
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller_utils.h"
#include "controllers/persistentvolume.h"
#include "controllers/volume_util.h"
#include "kube/informer.h"
#include "kube/json.h"
#include "kube/quantity.h"

static int storage_cmp(const json_t *a, const json_t *b)
{
  struct quantity qa, qb;
  quantity_set_int(&qa, 0, QF_BINARY_SI);
  quantity_set_int(&qb, 0, QF_BINARY_SI);
  if (a) quantity_from_json(a, &qa);
  if (b) quantity_from_json(b, &qb);
  return quantity_cmp(&qa, &qb);
}

/* The request is larger than what the claim has (upstream's trigger). */
bool expand_needed(const json_t *pvc)
{
  const char *phase = kj_get_str(pvc, "status.phase");
  return phase && !strcmp(phase, "Bound") &&
         storage_cmp(kj_get(pvc, "spec.resources.requests.storage"), kj_get(pvc, "status.capacity.storage")) > 0;
}

static json_t *copy_of(const json_t *obj, const char *kind)
{
  json_t *c = kj_deep_copy(obj);
  json_object_set_new(c, "apiVersion", json_string("v1"));
  json_object_set_new(c, "kind", json_string(kind));
  return c;
}

static char *pvc_path(const json_t *pvc, const char *sub, char *out, size_t len)
{
  return cm_path(out, len, "/api/v1", kj_get_str(pvc, "metadata.namespace"), "persistentvolumeclaims",
                 kj_get_str(pvc, "metadata.name"), sub);
}

/* One step of expanding a local-path volume. */
static void expand_local_path(const json_t *pvc, const json_t *pv, const json_t *ref, int64_t now,
                              struct cm_actions *acts)
{
  char path[700];
  const json_t *want = kj_get(pvc, "spec.resources.requests.storage");
  const char *resizer = vol_annotation(pvc, ANN_STORAGE_RESIZER);
  if (!resizer || strcmp(resizer, LOCAL_PATH_PROVISIONER)) {
    json_t *c = copy_of(pvc, "PersistentVolumeClaim");
    json_object_set_new(kj_obj(c, "metadata.annotations"), ANN_STORAGE_RESIZER, json_string(LOCAL_PATH_PROVISIONER));
    cm_act(acts, CM_PUT, pvc_path(pvc, NULL, path, sizeof path), c);
    return;
  }
  if (storage_cmp(kj_get(pv, "spec.capacity.storage"), want) < 0) {
    json_t *c = cm_get_condition(pvc, "status.conditions", "Resizing");
    if (!c || strcmp(kj_get_str(c, "status") ?: "", "True")) {
      json_t *st = copy_of(pvc, "PersistentVolumeClaim");
      cm_set_condition(st, "status.conditions", "Resizing", "True", NULL, NULL, now, false);
      cm_act(acts, CM_PUT, pvc_path(pvc, "status", path, sizeof path), st);
      return;
    }
    json_t *v = copy_of(pv, "PersistentVolume");
    kj_set(v, "spec.capacity.storage", json_incref((json_t *)want));
    cm_path(path, sizeof path, "/api/v1", NULL, "persistentvolumes", kj_get_str(pv, "metadata.name"), NULL);
    cm_act(acts, CM_PUT, path, v);
    return;
  }
  /* MarkResizeFinished. */
  json_t *st = copy_of(pvc, "PersistentVolumeClaim");
  kj_set(st, "status.capacity.storage", json_incref(kj_get(pv, "spec.capacity.storage")));
  cm_remove_condition(st, "status.conditions", "Resizing");
  cm_remove_condition(st, "status.conditions", "FileSystemResizePending");
  if (!json_array_size(kj_get(st, "status.conditions"))) kj_del(st, "status.conditions");
  struct cm_action *act = cm_act(acts, CM_PUT, pvc_path(pvc, "status", path, sizeof path), st);
  char msg[600];
  snprintf(msg, sizeof msg, "ExpandVolume succeeded for volume %s/%s", kj_get_str(pvc, "metadata.namespace") ?: "",
           kj_get_str(pvc, "metadata.name") ?: "");
  cm_act_events(act, ref, "VolumeResizeSuccessful", msg, NULL, NULL);
}

void expand_compute(const json_t *pvc, const json_t *pv, int64_t now, struct cm_actions *acts)
{
  if (!pvc || !pv || !expand_needed(pvc)) return;
  const json_t *ref = kj_get(pv, "spec.claimRef");
  if (!ref || strcmp(kj_get_str(ref, "uid") ?: "", kj_get_str(pvc, "metadata.uid") ?: "") ||
      strcmp(kj_get_str(ref, "namespace") ?: "", kj_get_str(pvc, "metadata.namespace") ?: ""))
    return; /* not (yet) bound to this claim */
  json_t *cref = cm_object_ref(pvc, "v1", "PersistentVolumeClaim");
  if (local_path_owns(pv)) expand_local_path(pvc, pv, cref, now, acts);
  else cm_act_event(acts, cref, "Normal", "ExternalExpanding", "waiting for an external controller to expand this PVC");
  json_decref(cref);
}

/* ---- the controller ---- */

struct expand_ctl {
  struct cm_base base;
  struct informer *pvc_inf, *pv_inf;
};

static void expand_sync(struct cm_base *b, const char *key)
{
  struct expand_ctl *c = (struct expand_ctl *)b;
  json_t *pvc = informer_store_get_obj(c->pvc_inf, key);
  const char *vn = kj_get_str(pvc, "spec.volumeName");
  json_t *pv = vn && *vn ? informer_store_get_obj(c->pv_inf, vn) : NULL;
  struct cm_actions acts;
  cm_actions_init(&acts);
  expand_compute(pvc, pv, cm_now(), &acts);
  json_decref(pv);
  json_decref(pvc);
  cm_base_exec(b, key, &acts, NULL, -1);
  cm_actions_clear(&acts);
}

static void pvc_changed(void *arg, const json_t *o, const json_t *n)
{
  if (expand_needed(n)) cm_base_enqueue(arg, n);
}
static void pvc_added(void *arg, const json_t *obj) { pvc_changed(arg, NULL, obj); }

static void pv_changed(void *arg, const json_t *o, const json_t *n)
{
  const char *ns = kj_get_str(n, "spec.claimRef.namespace"), *name = kj_get_str(n, "spec.claimRef.name");
  if (!name || !local_path_owns(n)) return;
  char key[600];
  snprintf(key, sizeof key, "%s/%s", ns ? ns : "", name);
  cm_base_enqueue_key(arg, key);
}

static int expand_init(struct cm_base *b)
{
  struct expand_ctl *c = (struct expand_ctl *)b;
  c->pvc_inf = informer_factory_get(b->ctx->informers, CM_PVCS);
  c->pv_inf = informer_factory_get(b->ctx->informers, CM_PVS);
  struct informer_handlers ch = {pvc_added, pvc_changed, NULL, c};
  struct informer_handlers vh = {NULL, pv_changed, NULL, c};
  informer_add_handlers(c->pvc_inf, &ch);
  informer_add_handlers(c->pv_inf, &vh);
  return 0;
}

const struct controller_def ctrl_persistentvolume_expander = {
    .name = "persistentvolume-expander",
    .service_account = "expand-controller",
    .enabled_by_default = true,
    .size = sizeof(struct expand_ctl),
    .queue = "volume_expand",
    .component = "volume_expand",
    .workers = 10,
    .sync = expand_sync,
    .init = expand_init,
};
