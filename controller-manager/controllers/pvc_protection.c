/*
 * pvc_protection.c - the "pvc-protection" controller (upstream
 * pkg/controller/volume/pvcprotection): a claim a pod uses is not
 * removed until no pod uses it.
 *
 * Every claim carries the kubernetes.io/pvc-protection finalizer (added
 * here when a claim lacks it).  When a claim is being deleted, the
 * finalizer comes off once no scheduled pod of its namespace names it --
 * directly, or as the claim of one of its generic ephemeral volumes (then
 * only while the pod is not shut down and owns the claim).  The informer
 * is asked first; when it knows no such pod, a live LIST of the
 * namespace's pods confirms it before the finalizer goes, since a pod
 * created a moment ago may not have reached the cache.  Pod events only
 * matter when they can free a claim: a deleted or terminated pod, or one
 * not yet scheduled.
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller_utils.h"
#include "controllers/volume_util.h"
#include "controllers/volume_protection.h"
#include "kube/informer.h"
#include "kube/json.h"
#include "kube/xalloc.h"

bool pvc_protection_pod_uses(const json_t *pod, const json_t *pvc)
{
  const char *node = kj_get_str(pod, "spec.nodeName");
  if (!node || !*node) return false; /* the kubelet will not start it with a deleting claim */
  const char *name = kj_get_str(pvc, "metadata.name") ?: "";
  /* podIsShutDown: deleted with a zero grace period (by the kubelet, or forced). */
  bool shut_down = obj_is_terminating(pod) && kj_get(pod, "metadata.deletionGracePeriodSeconds") &&
                   kj_get_int(pod, "metadata.deletionGracePeriodSeconds", -1) == 0;
  size_t i;
  json_t *v;
  json_array_foreach (kj_get(pod, "spec.volumes"), i, v) {
    const char *cn = kj_get_str(v, "persistentVolumeClaim.claimName");
    if (cn && !strcmp(cn, name)) return true;
    if (shut_down || !json_object_get(v, "ephemeral")) continue;
    char en[512], buf[512];
    if (!strcmp(vol_ephemeral_claim_name(pod, v, en, sizeof en), name) &&
        !vol_claim_is_for_pod(pod, pvc, buf, sizeof buf))
      return true;
  }
  return false;
}

static bool any_pod_uses(const json_t *pods, const json_t *pvc)
{
  size_t i;
  json_t *p;
  json_array_foreach (pods, i, p) {
    if (pvc_protection_pod_uses(p, pvc)) return true;
  }
  return false;
}

static json_t *with_finalizers(const json_t *pvc, bool add)
{
  json_t *c = kj_deep_copy(pvc);
  json_object_set_new(c, "apiVersion", json_string("v1"));
  json_object_set_new(c, "kind", json_string("PersistentVolumeClaim"));
  json_t *fin = kj_arr(c, "metadata.finalizers");
  if (add) {
    json_array_append_new(fin, json_string(PVC_PROTECTION_FINALIZER));
  } else {
    for (size_t i = 0; i < json_array_size(fin); i++)
      if (!strcmp(json_string_value(json_array_get(fin, i)) ?: "", PVC_PROTECTION_FINALIZER))
        json_array_remove(fin, i--);
    if (!json_array_size(fin)) kj_del(c, "metadata.finalizers");
  }
  return c;
}

enum pvc_protection_step pvc_protection_compute(const json_t *pvc, const json_t *pods, bool live,
                                                struct cm_actions *acts)
{
  bool has = vol_has_finalizer(pvc, PVC_PROTECTION_FINALIZER);
  char path[700];
  cm_path(path, sizeof path, "/api/v1", kj_get_str(pvc, "metadata.namespace"), "persistentvolumeclaims",
          kj_get_str(pvc, "metadata.name"), NULL);
  if (obj_is_terminating(pvc)) {
    if (!has || any_pod_uses(pods, pvc)) return PVC_PROTECTION_KEEP;
    if (!live) return PVC_PROTECTION_LIST_PODS;
    cm_act(acts, CM_PUT, path, with_finalizers(pvc, false));
    return PVC_PROTECTION_WRITE;
  }
  if (has) return PVC_PROTECTION_KEEP;
  cm_act(acts, CM_PUT, path, with_finalizers(pvc, true));
  return PVC_PROTECTION_WRITE;
}

/* ---- the controller ---- */

struct pvcp_ctl {
  struct cm_base base;
  struct informer *pvc_inf, *pod_inf;
};

/* The live LIST answered: decide again on its pods. */
struct pvcp_list {
  json_t *pvc;
};

static void pvcp_list_free(void *p)
{
  struct pvcp_list *l = p;
  json_decref(l->pvc);
  free(l);
}

static void on_pod_list(void *arg, struct cm_run *r, int code, json_t *body, const struct rest_status *err)
{
  struct pvcp_list *l = arg;
  if (err) return; /* not done: the framework retries the key */
  struct cm_actions acts;
  cm_actions_init(&acts);
  pvc_protection_compute(l->pvc, json_object_get(body, "items"), true, &acts);
  cm_run_add(r, &acts);
  cm_actions_clear(&acts);
}

static void pvcp_sync(struct cm_base *b, const char *key)
{
  struct pvcp_ctl *c = (struct pvcp_ctl *)b;
  json_t *pvc = informer_store_get_obj(c->pvc_inf, key);
  if (!pvc) {
    cm_base_finish(b, key, false, -1);
    return;
  }
  json_t *pods = informer_store_by_index(c->pod_inf, VOL_INDEX_POD_CLAIMS, key);
  struct cm_actions acts;
  cm_actions_init(&acts);
  if (pvc_protection_compute(pvc, pods, false, &acts) == PVC_PROTECTION_LIST_PODS) {
    char path[600];
    cm_path(path, sizeof path, "/api/v1", kj_get_str(pvc, "metadata.namespace"), "pods", NULL, NULL);
    struct cm_action *act = cm_act(&acts, CM_GET, path, NULL);
    struct pvcp_list *l = xcalloc(1, sizeof *l);
    l->pvc = json_incref(pvc);
    cm_act_on_answer(act, on_pod_list, l, pvcp_list_free);
  }
  json_decref(pods);
  json_decref(pvc);
  cm_base_exec(b, key, &acts, NULL, -1);
  cm_actions_clear(&acts);
}

static void pvc_changed(void *arg, const json_t *o, const json_t *n)
{
  bool has = vol_has_finalizer(n, PVC_PROTECTION_FINALIZER), deleting = obj_is_terminating(n);
  if (has == deleting) cm_base_enqueue(arg, n); /* needs the finalizer, or is a deletion candidate */
}
static void pvc_added(void *arg, const json_t *obj) { pvc_changed(arg, NULL, obj); }

/* Pods that cannot free a claim are not worth a sync. */
static void enqueue_pod_claims(struct pvcp_ctl *c, const json_t *pod, bool deleted)
{
  const char *node = kj_get_str(pod, "spec.nodeName");
  if (!deleted && !pod_is_terminal(pod) && node && *node) return;
  json_t *keys = json_array();
  vol_index_pod_claims(NULL, pod, keys);
  size_t i;
  json_t *k;
  json_array_foreach (keys, i, k) cm_base_enqueue_key(&c->base, json_string_value(k));
  json_decref(keys);
}

static void pod_added(void *arg, const json_t *pod) { enqueue_pod_claims(arg, pod, false); }
static void pod_deleted(void *arg, const json_t *pod, bool unknown) { enqueue_pod_claims(arg, pod, true); }
static void pod_updated(void *arg, const json_t *o, const json_t *n)
{
  enqueue_pod_claims(arg, n, false);
  /* An update may hide the deletion of one pod and the creation of
   * another of the same name. */
  if (strcmp(kj_get_str(o, "metadata.uid") ?: "", kj_get_str(n, "metadata.uid") ?: ""))
    enqueue_pod_claims(arg, o, true);
}

static int pvcp_init(struct cm_base *b)
{
  struct pvcp_ctl *c = (struct pvcp_ctl *)b;
  c->pvc_inf = informer_factory_get(b->ctx->informers, CM_PVCS);
  c->pod_inf = informer_factory_get(b->ctx->informers, CM_PODS);
  int rc = vol_add_pod_claim_index(c->pod_inf);
  if (rc < 0) return rc;
  struct informer_handlers ch = {pvc_added, pvc_changed, NULL, c};
  struct informer_handlers ph = {pod_added, pod_updated, pod_deleted, c};
  informer_add_handlers(c->pvc_inf, &ch);
  informer_add_handlers(c->pod_inf, &ph);
  return 0;
}

const struct controller_def ctrl_pvc_protection = {
    .name = "pvc-protection",
    .service_account = "pvc-protection-controller",
    .enabled_by_default = true,
    .size = sizeof(struct pvcp_ctl),
    .queue = "pvcprotection",
    .workers = 1,
    .sync = pvcp_sync,
    .init = pvcp_init,
};
