/*
 * pv_protection.c - the "pv-protection" controller (upstream
 * pkg/controller/volume/pvprotection): a volume bound to a claim is not
 * removed while bound.
 *
 * Every volume carries the kubernetes.io/pv-protection finalizer (added
 * here when it lacks it); when a volume is being deleted, the finalizer
 * comes off once its phase is no longer Bound (the binder releases it
 * when its claim goes).
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "controller_utils.h"
#include "controllers/volume_util.h"
#include "controllers/volume_protection.h"
#include "kube/informer.h"
#include "kube/json.h"

void pv_protection_compute(const json_t *pv, struct cm_actions *acts)
{
  bool has = vol_has_finalizer(pv, PV_PROTECTION_FINALIZER), deleting = obj_is_terminating(pv);
  const char *phase = kj_get_str(pv, "status.phase") ?: "";
  bool remove = deleting && has && strcmp(phase, "Bound");
  if (!remove && (deleting || has)) return;
  json_t *c = kj_deep_copy(pv);
  json_object_set_new(c, "apiVersion", json_string("v1"));
  json_object_set_new(c, "kind", json_string("PersistentVolume"));
  json_t *fin = kj_arr(c, "metadata.finalizers");
  if (remove) {
    for (size_t i = 0; i < json_array_size(fin); i++)
      if (!strcmp(json_string_value(json_array_get(fin, i)) ?: "", PV_PROTECTION_FINALIZER))
        json_array_remove(fin, i--);
    if (!json_array_size(fin)) kj_del(c, "metadata.finalizers");
  } else {
    json_array_append_new(fin, json_string(PV_PROTECTION_FINALIZER));
  }
  char path[600];
  cm_path(path, sizeof path, "/api/v1", NULL, "persistentvolumes", kj_get_str(pv, "metadata.name"), NULL);
  cm_act(acts, CM_PUT, path, c);
}

struct pvp_ctl {
  struct cm_base base;
  struct informer *pv_inf;
};

static void pvp_sync(struct cm_base *b, const char *key)
{
  struct pvp_ctl *c = (struct pvp_ctl *)b;
  json_t *pv = informer_store_get_obj(c->pv_inf, key);
  struct cm_actions acts;
  cm_actions_init(&acts);
  if (pv) pv_protection_compute(pv, &acts);
  json_decref(pv);
  cm_base_exec(b, key, &acts, NULL, -1);
  cm_actions_clear(&acts);
}

static void pv_changed(void *arg, const json_t *o, const json_t *n)
{
  bool has = vol_has_finalizer(n, PV_PROTECTION_FINALIZER), deleting = obj_is_terminating(n);
  if (has == deleting) cm_base_enqueue(arg, n);
}
static void pv_added(void *arg, const json_t *obj) { pv_changed(arg, NULL, obj); }

static int pvp_init(struct cm_base *b)
{
  struct pvp_ctl *c = (struct pvp_ctl *)b;
  c->pv_inf = informer_factory_get(b->ctx->informers, CM_PVS);
  struct informer_handlers h = {pv_added, pv_changed, NULL, c};
  informer_add_handlers(c->pv_inf, &h);
  return 0;
}

const struct controller_def ctrl_pv_protection = {
    .name = "pv-protection",
    .service_account = "pv-protection-controller",
    .enabled_by_default = true,
    .size = sizeof(struct pvp_ctl),
    .queue = "pvprotection",
    .workers = 1,
    .sync = pvp_sync,
    .init = pvp_init,
};
