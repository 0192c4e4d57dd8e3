/*
 * ephemeral.c - the "ephemeral-volume" controller (upstream
 * pkg/controller/volume/ephemeral): a generic ephemeral volume
 * (spec.volumes[].ephemeral.volumeClaimTemplate) gets its claim, named
 * POD-VOLUME, created from the template with the pod as its controlling
 * owner, so the claim is deleted with the pod (garbage collector) and
 * held while the pod runs (pvc-protection).
 *
 * A claim of that name that the pod does not own is never taken over:
 * the pod gets a Warning FailedBinding Event and waits (the scheduler
 * refuses it too).  Pods being deleted are left alone; a deleted claim
 * brings its pods back, in case one still needs it.
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller_utils.h"
#include "controllers/volume_protection.h"
#include "controllers/volume_util.h"
#include "kube/informer.h"
#include "kube/json.h"

/* The claim for one ephemeral volume of pod (new reference). */
static json_t *claim_for(const json_t *pod, const json_t *vol, const char *name)
{
  const json_t *t = kj_get(vol, "ephemeral.volumeClaimTemplate");
  json_t *owner = json_pack("{s:s,s:s,s:s,s:s,s:b,s:b}", "apiVersion", "v1", "kind", "Pod", "name",
                            kj_get_str(pod, "metadata.name") ?: "", "uid", kj_get_str(pod, "metadata.uid") ?: "",
                            "controller", 1, "blockOwnerDeletion", 1);
  json_t *pvc = json_pack("{s:s,s:s,s:{s:s,s:s,s:[o]},s:O}", "apiVersion", "v1", "kind", "PersistentVolumeClaim",
                          "metadata", "name", name, "namespace", kj_get_str(pod, "metadata.namespace") ?: "",
                          "ownerReferences", owner, "spec", kj_get(t, "spec") ?: json_object());
  const char *keys[] = {"labels", "annotations"};
  for (int i = 0; i < 2; i++) {
    char p[64];
    snprintf(p, sizeof p, "metadata.%s", keys[i]);
    const json_t *m = kj_get(t, p);
    if (json_object_size(m)) kj_set(pvc, p, kj_deep_copy(m));
  }
  return pvc;
}

int ephemeral_compute(const json_t *pod, const json_t *claims, struct cm_actions *acts)
{
  if (obj_is_terminating(pod)) return 0;
  json_t *ref = cm_object_ref(pod, "v1", "Pod");
  size_t i;
  json_t *v;
  int problems = 0;
  json_array_foreach (kj_get(pod, "spec.volumes"), i, v) {
    if (!json_object_get(v, "ephemeral")) continue;
    char name[512], buf[768], path[600];
    vol_ephemeral_claim_name(pod, v, name, sizeof name);
    const json_t *pvc = cm_find_named(claims, name);
    if (pvc) {
      const char *why = vol_claim_is_for_pod(pod, pvc, buf, sizeof buf);
      if (why) {
        cm_act_event(acts, ref, "Warning", "FailedBinding", "ephemeral volume %s: %s", kj_get_str(v, "name") ?: "",
                     why);
        problems++;
      }
      continue;
    }
    cm_path(path, sizeof path, "/api/v1", kj_get_str(pod, "metadata.namespace"), "persistentvolumeclaims", NULL, NULL);
    struct cm_action *act = cm_act(acts, CM_POST, path, claim_for(pod, v, name));
    snprintf(buf, sizeof buf, "ephemeral volume %s: create PVC %s", kj_get_str(v, "name") ?: "", name);
    cm_act_events(act, ref, NULL, NULL, "FailedBinding", buf);
  }
  json_decref(ref);
  return problems;
}

/* ---- the controller ---- */

struct eph_ctl {
  struct cm_base base;
  struct informer *pod_inf, *pvc_inf;
};

static void eph_sync(struct cm_base *b, const char *key)
{
  struct eph_ctl *c = (struct eph_ctl *)b;
  json_t *pod = informer_store_get_obj(c->pod_inf, key);
  struct cm_actions acts;
  cm_actions_init(&acts);
  bool failed = false;
  if (pod) {
    json_t *claims =
        informer_store_by_index(c->pvc_inf, INFORMER_INDEX_NAMESPACE, kj_get_str(pod, "metadata.namespace") ?: "");
    failed = ephemeral_compute(pod, claims, &acts) > 0;
    json_decref(claims);
  }
  json_decref(pod);
  struct cm_run *r = cm_run_begin(b, key, NULL, NULL);
  cm_run_add(r, &acts);
  if (failed) cm_run_fail(r, "a claim of the pod's name is not the pod's");
  cm_run_end(r);
  cm_actions_clear(&acts);
}

static bool has_ephemeral(const json_t *pod)
{
  size_t i;
  json_t *v;
  json_array_foreach (kj_get(pod, "spec.volumes"), i, v) {
    if (json_object_get(v, "ephemeral")) return true;
  }
  return false;
}

static void pod_changed(void *arg, const json_t *o, const json_t *pod)
{
  if (!obj_is_terminating(pod) && has_ephemeral(pod)) cm_base_enqueue(arg, pod);
}
static void pod_added(void *arg, const json_t *pod) { pod_changed(arg, NULL, pod); }

static void pvc_deleted(void *arg, const json_t *pvc, bool unknown)
{
  struct eph_ctl *c = arg;
  char key[600];
  if (!informer_key(pvc, key, sizeof key)) return;
  json_t *keys = informer_store_index_keys(c->pod_inf, VOL_INDEX_POD_CLAIMS, key);
  size_t i;
  json_t *k;
  json_array_foreach (keys, i, k) cm_base_enqueue_key(&c->base, json_string_value(k));
  json_decref(keys);
}

static int eph_init(struct cm_base *b)
{
  struct eph_ctl *c = (struct eph_ctl *)b;
  c->pod_inf = informer_factory_get(b->ctx->informers, CM_PODS);
  c->pvc_inf = informer_factory_get(b->ctx->informers, CM_PVCS);
  int rc = vol_add_pod_claim_index(c->pod_inf);
  if (rc < 0) return rc;
  informer_add_index(c->pvc_inf, INFORMER_INDEX_NAMESPACE, informer_index_namespace, NULL);
  struct informer_handlers ph = {pod_added, pod_changed, NULL, c};
  struct informer_handlers ch = {NULL, NULL, pvc_deleted, c};
  informer_add_handlers(c->pod_inf, &ph);
  informer_add_handlers(c->pvc_inf, &ch);
  return 0;
}

const struct controller_def ctrl_ephemeral_volume = {
    .name = "ephemeral-volume",
    .service_account = "ephemeral-volume-controller",
    .enabled_by_default = true,
    .size = sizeof(struct eph_ctl),
    .queue = "ephemeral_volume",
    .component = "ephemeral_volume",
    .workers_flag = offsetof(struct cm_config, concurrent_ephemeralvolume_syncs),
    .workers = 5,
    .sync = eph_sync,
    .init = eph_init,
};
