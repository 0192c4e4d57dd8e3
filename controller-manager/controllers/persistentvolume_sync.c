/*
 * persistentvolume_sync.c - the binder's decisions, step by step
 * (upstream's syncClaim and syncVolume; see persistentvolume.h).
 *
 * The binding protocol, as upstream: a claim and a volume point at each
 * other through claim.spec.volumeName and volume.spec.claimRef.  Binding
 * writes the volume first (claimRef, then phase Bound), then the claim
 * (volumeName with pv.kubernetes.io/bind-completed, then status Bound
 * with the volume's access modes and capacity).  bound-by-controller
 * marks a pointer the controller set (as opposed to one a user set to
 * pre-bind), which decides whether it may later be taken back.
 *
 * Claims without a volume are provisioned through their StorageClass:
 * the built-in local-path provisioner directly (once the scheduler chose
 * a node for WaitForFirstConsumer classes), any other provisioner by
 * annotating the claim and waiting for it.  A volume whose claim is gone
 * is Released and reclaimed: Retain keeps it, Delete deletes it through
 * the provisioner that made it, Recycle is refused (no recycler exists).
 *
 * Every step writes at most one object; status writes are PUTs of the
 * whole object with its resourceVersion, so a stale view ends in a
 * Conflict and a recomputation, never in a lost write.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller_utils.h"
#include "controllers/persistentvolume.h"
#include "controllers/volume_util.h"
#include "kube/json.h"
#include "kube/selector.h"
#include "kube/xalloc.h"

#define PV_PREFIX "/api/v1"

/* One step's context. */
struct step {
  const struct pvb_world *w;
  struct cm_actions *acts;
  struct pvb_result *res;
};

static json_t *claim_ref(const json_t *claim) { return cm_object_ref(claim, "v1", "PersistentVolumeClaim"); }
static json_t *volume_ref(const json_t *pv) { return cm_object_ref(pv, "v1", "PersistentVolume"); }

static void event(struct step *s, const json_t *obj, bool claim, const char *type, const char *reason, const char *msg)
{
  json_t *ref = claim ? claim_ref(obj) : volume_ref(obj);
  cm_act_event(s->acts, ref, type, reason, "%s", msg);
  json_decref(ref);
}

static char *claim_path(const json_t *claim, const char *sub, char *out, size_t len)
{
  return cm_path(out, len, PV_PREFIX, kj_get_str(claim, "metadata.namespace"), "persistentvolumeclaims",
                 kj_get_str(claim, "metadata.name"), sub);
}

static char *volume_path(const json_t *pv, const char *sub, char *out, size_t len)
{
  return cm_path(out, len, PV_PREFIX, NULL, "persistentvolumes", kj_get_str(pv, "metadata.name"), sub);
}

/* A copy of obj to PUT (apiVersion and kind filled in).  New reference. */
static json_t *for_put(const json_t *obj, const char *kind)
{
  json_t *c = kj_deep_copy(obj);
  json_object_set_new(c, "apiVersion", json_string("v1"));
  json_object_set_new(c, "kind", json_string(kind));
  return c;
}

static struct cm_action *put_claim(struct step *s, json_t *body, const char *sub)
{
  char path[700];
  return cm_act(s->acts, CM_PUT, claim_path(body, sub, path, sizeof path), body);
}

static struct cm_action *put_volume(struct step *s, json_t *body, const char *sub)
{
  char path[700];
  return cm_act(s->acts, CM_PUT, volume_path(body, sub, path, sizeof path), body);
}

static const char *phase_of(const json_t *obj) { return kj_get_str(obj, "status.phase") ?: ""; }

/* ---- status writes ---- */

/* updateClaimStatus: phase, and the volume's access modes and (when the
 * claim becomes bound) capacity; nothing when all is as wanted.  Returns
 * true when it wrote. */
static bool update_claim_status(struct step *s, const json_t *claim, const char *phase, const json_t *pv)
{
  json_t *c = for_put(claim, "PersistentVolumeClaim");
  json_t *st = kj_obj(c, "status");
  bool dirty = false, becoming = strcmp(phase_of(claim), phase) != 0;
  if (becoming) {
    json_object_set_new(st, "phase", json_string(phase));
    dirty = true;
  }
  if (!pv) {
    if (json_object_get(st, "accessModes")) dirty = !json_object_del(st, "accessModes") || dirty;
    if (json_object_get(st, "capacity")) dirty = !json_object_del(st, "capacity") || dirty;
  } else {
    const json_t *modes = kj_get(pv, "spec.accessModes");
    if (!cm_json_eq(json_object_get(st, "accessModes"), modes)) {
      json_object_set_new(st, "accessModes", kj_deep_copy(modes));
      dirty = true;
    }
    /* Capacity only as the claim becomes bound: a difference later may be
     * deliberate (a filesystem smaller than its block device). */
    const char *pre = vol_annotation(pv, ANN_PRE_RESIZE_CAPACITY);
    if (becoming && pre) {
      json_object_set_new(st, "capacity", json_pack("{s:s}", "storage", pre));
      dirty = true;
    } else if (becoming && !cm_json_eq(json_object_get(st, "capacity"), kj_get(pv, "spec.capacity"))) {
      json_object_set_new(st, "capacity", kj_deep_copy(kj_get(pv, "spec.capacity")));
      dirty = true;
    }
  }
  if (!dirty) {
    json_decref(c);
    return false;
  }
  put_claim(s, c, "status");
  return true;
}

/* updateClaimStatusWithEvent: the event only with a phase change. */
static bool claim_status_event(struct step *s, const json_t *claim, const char *phase, const char *type,
                               const char *reason, const char *msg)
{
  if (!strcmp(phase_of(claim), phase)) return false;
  update_claim_status(s, claim, phase, NULL);
  event(s, claim, true, type, reason, msg);
  return true;
}

static bool update_volume_phase(struct step *s, const json_t *pv, const char *phase, const char *message)
{
  if (!strcmp(phase_of(pv), phase)) return false;
  json_t *c = for_put(pv, "PersistentVolume");
  json_t *st = kj_obj(c, "status");
  json_object_set_new(st, "phase", json_string(phase));
  if (message && *message) json_object_set_new(st, "message", json_string(message));
  else json_object_del(st, "message");
  put_volume(s, c, "status");
  return true;
}

static bool volume_phase_event(struct step *s, const json_t *pv, const char *phase, const char *type,
                               const char *reason, const char *msg)
{
  if (!update_volume_phase(s, pv, phase, msg)) return false;
  event(s, pv, false, type, reason, msg);
  return true;
}

/* ---- binding ---- */

static void set_annotation(json_t *obj, const char *key, const char *value)
{
  json_object_set_new(kj_obj(obj, "metadata.annotations"), key, json_string(value));
}

/* bind: the volume's claimRef, its phase, the claim's volumeName and
 * annotations, its status; the first that is not yet right is written. */
static void bind(struct step *s, const json_t *pv, const json_t *claim)
{
  const json_t *ref = kj_get(pv, "spec.claimRef");
  bool bound_to = vol_is_bound_to_claim(pv, claim);
  const char *ruid = kj_get_str(ref, "uid");
  bool same = bound_to && ruid && !strcmp(ruid, kj_get_str(claim, "metadata.uid") ?: "");
  if (!same) {
    json_t *c = for_put(pv, "PersistentVolume");
    kj_set(c, "spec.claimRef", claim_ref(claim));
    if (!bound_to && !vol_has_annotation(pv, ANN_BOUND_BY_CONTROLLER))
      set_annotation(c, ANN_BOUND_BY_CONTROLLER, "yes");
    put_volume(s, c, NULL);
    return;
  }
  if (update_volume_phase(s, pv, "Bound", "")) return;
  const char *pvname = kj_get_str(pv, "metadata.name") ?: "";
  const char *vn = kj_get_str(claim, "spec.volumeName");
  bool should_bind = !vn || strcmp(vn, pvname);
  if (should_bind || !vol_has_annotation(claim, ANN_BIND_COMPLETED)) {
    json_t *c = for_put(claim, "PersistentVolumeClaim");
    if (should_bind) {
      kj_set_str(c, "spec.volumeName", pvname);
      if (!vol_has_annotation(claim, ANN_BOUND_BY_CONTROLLER)) set_annotation(c, ANN_BOUND_BY_CONTROLLER, "yes");
    }
    if (!vol_has_annotation(claim, ANN_BIND_COMPLETED)) set_annotation(c, ANN_BIND_COMPLETED, "yes");
    put_claim(s, c, NULL);
    return;
  }
  update_claim_status(s, claim, "Bound", pv);
}

/* unbindVolume: a controller-made claimRef goes, a user's loses its uid. */
static void unbind_volume(struct step *s, const json_t *pv)
{
  if (kj_get(pv, "spec.claimRef") &&
      (vol_has_annotation(pv, ANN_BOUND_BY_CONTROLLER) || kj_get_str(pv, "spec.claimRef.uid"))) {
    json_t *c = for_put(pv, "PersistentVolume");
    if (vol_has_annotation(pv, ANN_BOUND_BY_CONTROLLER)) {
      kj_del(c, "spec.claimRef");
      json_object_del(kj_get(c, "metadata.annotations"), ANN_BOUND_BY_CONTROLLER);
      if (!json_object_size(kj_get(c, "metadata.annotations"))) kj_del(c, "metadata.annotations");
    } else {
      json_object_del(kj_get(c, "spec.claimRef"), "uid");
    }
    put_volume(s, c, NULL);
    return;
  }
  update_volume_phase(s, pv, "Available", "");
}

/* ---- matching ---- */

static bool claim_matches_volume_labels(const json_t *claim, const json_t *pv)
{
  const json_t *sel = kj_get(claim, "spec.selector");
  if (!sel) return true;
  char err[128];
  struct labelsel *ls = labelsel_from_json(sel, err, sizeof err);
  bool ok = ls && labelsel_matches(ls, kj_get(pv, "metadata.labels"));
  labelsel_free(ls);
  return ok;
}

/* FindMatchingVolume over one access-mode group. */
static const json_t *match_in_group(const json_t *claim, const json_t *vols, bool delay, bool *prebound)
{
  const json_t *best = NULL;
  int64_t best_cap = 0, req = vol_claim_request(claim);
  const char *cls = vol_claim_class(claim);
  size_t i;
  json_t *pv;
  *prebound = false;
  json_array_foreach (vols, i, pv) {
    if (vol_mode_mismatch(claim, pv) || obj_is_terminating(pv)) continue;
    int64_t cap = vol_pv_capacity(pv);
    if (vol_is_bound_to_claim(pv, claim)) {
      if (cap < req) continue;
      *prebound = true;
      return pv;
    }
    if (delay) continue;
    if (strcmp(phase_of(pv), "Available") || kj_get(pv, "spec.claimRef")) continue;
    if (!claim_matches_volume_labels(claim, pv) || strcmp(vol_pv_class(pv), cls)) continue;
    if (cap >= req && (!best || cap < best_cap)) {
      best = pv;
      best_cap = cap;
    }
  }
  return best;
}

static int mode_count(const json_t *pv) { return (int)json_array_size(kj_get(pv, "spec.accessModes")); }

const json_t *pvb_find_best_match(const json_t *claim, const json_t *volumes, bool delay_binding)
{
  /* Upstream indexes volumes by their access-mode set and searches the
   * sets that contain the claim's modes, fewest modes first. */
  for (int n = 1; n <= 4; n++) {
    json_t *group = json_array();
    size_t i;
    json_t *pv;
    json_array_foreach (volumes, i, pv) {
      if (mode_count(pv) == n && vol_access_modes_ok(claim, pv)) json_array_append(group, pv);
    }
    bool prebound;
    const json_t *m = match_in_group(claim, group, delay_binding, &prebound);
    json_decref(group);
    if (m) return m;
  }
  return NULL;
}

/* checkVolumeSatisfyClaim: NULL, or why the requested volume does not do. */
static const char *volume_satisfies(const json_t *pv, const json_t *claim, char *buf, size_t len)
{
  if (obj_is_terminating(pv)) {
    snprintf(buf, len, "the volume is marked for deletion \"%s\"", kj_get_str(pv, "metadata.name") ?: "");
    return buf;
  }
  if (vol_pv_capacity(pv) < vol_claim_request(claim)) return "requested PV is too small";
  if (strcmp(vol_pv_class(pv), vol_claim_class(claim))) return "storageClassName does not match";
  if (vol_mode_mismatch(claim, pv)) return "incompatible volumeMode";
  if (!vol_access_modes_ok(claim, pv)) return "incompatible accessMode";
  return NULL;
}

/* ---- provisioning ---- */

/* The claim carries the provisioner annotations (setClaimProvisioner);
 * false when it had to be written. */
static bool claim_provisioner_set(struct step *s, const json_t *claim, const char *prov)
{
  const char *cur = vol_annotation(claim, ANN_STORAGE_PROVISIONER);
  if (cur && !strcmp(cur, prov)) return true;
  json_t *c = for_put(claim, "PersistentVolumeClaim");
  set_annotation(c, ANN_BETA_STORAGE_PROVISIONER, prov);
  set_annotation(c, ANN_STORAGE_PROVISIONER, prov);
  put_claim(s, c, NULL);
  return false;
}

/* rescheduleProvisioning: the scheduler's choice of node is handed back. */
static bool reschedule_provisioning(struct step *s, const json_t *claim)
{
  if (!vol_has_annotation(claim, ANN_SELECTED_NODE)) return false;
  json_t *c = for_put(claim, "PersistentVolumeClaim");
  json_object_del(kj_get(c, "metadata.annotations"), ANN_SELECTED_NODE);
  put_claim(s, c, NULL);
  return true;
}

static void provision_local_path(struct step *s, const json_t *claim, const json_t *sc)
{
  const struct pvb_world *w = s->w;
  char msg[1024];
  const char *scname = kj_get_str(sc, "metadata.name") ?: "";
  if (kj_get(claim, "spec.dataSource")) {
    snprintf(msg, sizeof msg,
             "plugin \"%s\" is not a CSI plugin. Only CSI plugin can provision a claim with a datasource",
             LOCAL_PATH_PROVISIONER);
    event(s, claim, true, "Warning", "ProvisioningFailed", msg);
    return;
  }
  if (!claim_provisioner_set(s, claim, LOCAL_PATH_PROVISIONER)) return;
  if (w->provisioned) return; /* made already; the next claim sync binds it */
  const char *node = vol_annotation(claim, ANN_SELECTED_NODE);
  if (node && !w->node) {
    snprintf(msg, sizeof msg, "Failed to get target node: node \"%s\" not found", node);
    event(s, claim, true, "Warning", "ProvisioningFailed", msg);
    return;
  }
  char err[512];
  json_t *pv = local_path_volume(claim, sc, w->node, w->local_path_root, err, sizeof err);
  if (!pv) {
    reschedule_provisioning(s, claim);
    snprintf(msg, sizeof msg, "Failed to provision volume with StorageClass \"%s\": %s", scname, err);
    event(s, claim, true, "Warning", "ProvisioningFailed", msg);
    return;
  }
  kj_set(pv, "spec.claimRef", claim_ref(claim));
  set_annotation(pv, ANN_BOUND_BY_CONTROLLER, "yes");
  set_annotation(pv, ANN_DYNAMICALLY_PROVISIONED, LOCAL_PATH_PROVISIONER);
  kj_set_str(pv, "spec.storageClassName", vol_claim_class(claim));
  char ok[512], fail[512], key[600];
  snprintf(key, sizeof key, "%s/%s", kj_get_str(claim, "metadata.namespace") ?: "",
           kj_get_str(claim, "metadata.name") ?: "");
  snprintf(ok, sizeof ok, "Successfully provisioned volume %s using %s", kj_get_str(pv, "metadata.name"),
           LOCAL_PATH_PROVISIONER);
  snprintf(fail, sizeof fail, "Error creating provisioned PV object for claim %s", key);
  struct cm_action *act = cm_act(s->acts, CM_POST, PV_PREFIX "/persistentvolumes", pv);
  act->done_if = CM_DONE_IF_EXISTS;
  json_t *ref = claim_ref(claim);
  cm_act_events(act, ref, "ProvisioningSucceeded", ok, "ProvisioningFailed", fail);
  json_decref(ref);
}

/* provisionClaim. */
static void provision(struct step *s, const json_t *claim)
{
  if (s->w->provisioning_disabled) return;
  const char *cls = vol_claim_class(claim);
  const json_t *sc = vol_find_class(s->w->classes, cls);
  char msg[1024];
  if (!sc) {
    snprintf(msg, sizeof msg, "storageclass.storage.k8s.io \"%s\" not found", cls);
    event(s, claim, true, "Warning", "ProvisioningFailed", msg);
    return;
  }
  const char *prov = kj_get_str(sc, "provisioner") ?: "";
  if (!strcmp(prov, LOCAL_PATH_PROVISIONER)) {
    provision_local_path(s, claim, sc);
  } else if (!strncmp(prov, "kubernetes.io/", 14)) {
    /* No in-tree plugin is built in (kubernetes.io/no-provisioner
     * included: such claims wait for a volume made by hand). */
    snprintf(msg, sizeof msg, "no volume plugin matched name: %s", prov);
    event(s, claim, true, "Warning", "ProvisioningFailed", msg);
  } else if (claim_provisioner_set(s, claim, prov)) {
    snprintf(msg, sizeof msg,
             "Waiting for a volume to be created either by the external provisioner '%s' or manually by the system "
             "administrator. If volume creation is delayed, please verify that the provisioner is running and "
             "correctly registered.",
             prov);
    event(s, claim, true, "Normal", "ExternalProvisioning", msg);
  }
}

/* emitEventForUnboundDelayBindingClaim. */
static void wait_for_consumer_event(struct step *s, const json_t *claim)
{
  size_t i, n = 0, len = 0;
  json_t *p;
  json_array_foreach (s->w->pods, i, p) {
    if (pod_is_terminal(p) || kj_get_str(p, "spec.nodeName")) continue;
    n++;
    len += strlen(kj_get_str(p, "metadata.name") ?: "") + 1;
  }
  if (n == 0) {
    event(s, claim, true, "Normal", "WaitForFirstConsumer", "waiting for first consumer to be created before binding");
    return;
  }
  char *names = xcalloc(1, len + 1);
  json_array_foreach (s->w->pods, i, p) {
    if (pod_is_terminal(p) || kj_get_str(p, "spec.nodeName")) continue;
    if (*names) strcat(names, ",");
    strcat(names, kj_get_str(p, "metadata.name") ?: "");
  }
  char *msg = xasprintf(n > 1 ? "waiting for pods %s to be scheduled" : "waiting for pod %s to be scheduled", names);
  event(s, claim, true, "Normal", "WaitForPodScheduled", msg);
  free(msg);
  free(names);
}

/* ---- syncClaim ---- */

/* assignDefaultStorageClass; true when it wrote. */
static bool assign_default_class(struct step *s, const json_t *claim)
{
  if (vol_claim_has_class(claim)) return false;
  const json_t *dflt = vol_default_class(s->w->classes);
  if (!dflt) return false;
  json_t *c = for_put(claim, "PersistentVolumeClaim");
  kj_set_str(c, "spec.storageClassName", kj_get_str(dflt, "metadata.name"));
  put_claim(s, c, NULL);
  return true;
}

static void sync_unbound_without_volume(struct step *s, const json_t *claim)
{
  bool delay = vol_is_delay_binding(claim, s->w->classes);
  const json_t *pv = pvb_find_best_match(claim, s->w->volumes, delay);
  if (pv) {
    bind(s, pv, claim);
    return;
  }
  if (assign_default_class(s, claim)) return;
  if (delay && !vol_has_annotation(claim, ANN_SELECTED_NODE)) {
    wait_for_consumer_event(s, claim);
  } else if (*vol_claim_class(claim)) {
    provision(s, claim);
    return;
  } else {
    event(s, claim, true, "Normal", "FailedBinding",
          "no persistent volumes available for this claim and no storage class is set");
  }
  update_claim_status(s, claim, "Pending", NULL);
}

static void sync_unbound_with_volume(struct step *s, const json_t *claim)
{
  const json_t *pv = s->w->volume;
  char buf[512], msg[800];
  if (!pv) {
    update_claim_status(s, claim, "Pending", NULL); /* asked for a volume that does not exist (yet) */
    return;
  }
  const char *pvname = kj_get_str(pv, "metadata.name") ?: "";
  if (!kj_get(pv, "spec.claimRef")) {
    const char *why = volume_satisfies(pv, claim, buf, sizeof buf);
    if (why) {
      snprintf(msg, sizeof msg, "Cannot bind to requested volume \"%s\": %s", pvname, why);
      event(s, claim, true, "Warning", "VolumeMismatch", msg);
      update_claim_status(s, claim, "Pending", NULL);
    } else {
      bind(s, pv, claim);
    }
    return;
  }
  if (vol_is_bound_to_claim(pv, claim)) {
    bind(s, pv, claim);
    return;
  }
  snprintf(msg, sizeof msg, "volume \"%s\" already bound to a different claim.", pvname);
  event(s, claim, true, "Warning", "FailedBinding", msg);
  if (!vol_has_annotation(claim, ANN_BOUND_BY_CONTROLLER)) update_claim_status(s, claim, "Pending", NULL);
  else s->res->error = "volume already claimed by another claim";
}

static void sync_bound_claim(struct step *s, const json_t *claim)
{
  const char *vn = kj_get_str(claim, "spec.volumeName");
  const json_t *pv = s->w->volume;
  if (!vn || !*vn) {
    claim_status_event(s, claim, "Lost", "Warning", "ClaimLost",
                       "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!");
  } else if (!pv) {
    claim_status_event(s, claim, "Lost", "Warning", "ClaimLost",
                       "Bound claim has lost its PersistentVolume. Data on the volume is lost!");
  } else if (!kj_get(pv, "spec.claimRef") ||
             !strcmp(kj_get_str(pv, "spec.claimRef.uid") ?: "", kj_get_str(claim, "metadata.uid") ?: "")) {
    bind(s, pv, claim);
  } else {
    claim_status_event(s, claim, "Lost", "Warning", "ClaimMisbound",
                       "Two claims are bound to the same volume, this one is bound incorrectly");
  }
}

void pvb_sync_claim(const struct pvb_world *w, struct cm_actions *acts, struct pvb_result *res)
{
  struct step s = {w, acts, res};
  memset(res, 0, sizeof *res);
  const json_t *claim = w->claim;
  if (!claim) return;
  const char *vn = kj_get_str(claim, "spec.volumeName");
  if (vol_has_annotation(claim, ANN_BIND_COMPLETED)) sync_bound_claim(&s, claim);
  else if (!vn || !*vn) sync_unbound_without_volume(&s, claim);
  else sync_unbound_with_volume(&s, claim);
}

/* ---- reclaiming ---- */

/* isVolumeUsed: the running pods of the volume's claim ("ns/name,..."),
 * or NULL.  New string. */
static char *pods_using(const json_t *pods)
{
  char *out = NULL;
  size_t i;
  json_t *p;
  json_array_foreach (pods, i, p) {
    if (pod_is_terminal(p)) continue;
    char *n = xasprintf("%s%s%s/%s", out ? out : "", out ? "," : "", kj_get_str(p, "metadata.namespace") ?: "",
                        kj_get_str(p, "metadata.name") ?: "");
    free(out);
    out = n;
  }
  return out;
}

/* deleteVolumeOperation through the plugin that made the volume. */
static void delete_volume(struct step *s, const json_t *pv)
{
  char msg[800];
  const char *by = vol_annotation(pv, ANN_DYNAMICALLY_PROVISIONED);
  const char *name = kj_get_str(pv, "metadata.name") ?: "";
  if (by && *by) {
    if (!strcmp(by, LOCAL_PATH_PROVISIONER)) {
      /* The object goes now; the kubelet of its node removes the
       * directory and then the cleanup finalizer. */
      if (!obj_is_terminating(pv)) {
        char path[600];
        cm_act(s->acts, CM_DELETE, volume_path(pv, NULL, path, sizeof path), NULL);
      }
      return;
    }
    if (strncmp(by, "kubernetes.io/", 14)) return; /* an external deleter's */
    snprintf(msg, sizeof msg, "no volume plugin matched name: %s", by);
  } else {
    if (kj_get(pv, "spec.csi")) return; /* a CSI driver's */
    snprintf(msg, sizeof msg,
             "error getting deleter volume plugin for volume \"%s\": no deletable volume plugin matched", name);
  }
  volume_phase_event(s, pv, "Failed", "Warning", "VolumeFailedDelete", msg);
}

/* reclaimVolume of a released volume. */
static void reclaim(struct step *s, const json_t *pv, bool claim_cached)
{
  const char *policy = kj_get_str(pv, "spec.persistentVolumeReclaimPolicy") ?: "";
  if (!strcmp(policy, "Retain")) return;
  if (!strcmp(policy, "Delete")) {
    delete_volume(s, pv);
  } else if (!strcmp(policy, "Recycle")) {
    char *used = pods_using(s->w->pods);
    if (used && !claim_cached) {
      char *msg = xasprintf("Volume is used by pods: %s", used);
      event(s, pv, false, "Normal", "VolumeFailedRecycle", msg);
      free(msg);
    } else {
      volume_phase_event(s, pv, "Failed", "Warning", "VolumeFailedRecycle", "No recycler plugin found for the volume!");
    }
    free(used);
  } else {
    volume_phase_event(s, pv, "Failed", "Warning", "VolumeUnknownReclaimPolicy",
                       "Volume has unrecognized PersistentVolumeReclaimPolicy");
  }
}

static bool released_or_failed(const json_t *pv)
{
  return !strcmp(phase_of(pv), "Released") || !strcmp(phase_of(pv), "Failed");
}

/* The claim is gone: Released, then the reclaim policy. */
static void release(struct step *s, const json_t *pv, bool claim_cached)
{
  if (!released_or_failed(pv)) {
    update_volume_phase(s, pv, "Released", "");
    return;
  }
  reclaim(s, pv, claim_cached);
}

/* ---- the local-path volumes' cleanup finalizer ---- */

/* Kept on a local-path volume exactly while it reclaims with Delete and
 * is not being deleted; taken off a deleted one whose node no longer
 * exists (nothing is left to clean).  True when it wrote. */
static bool local_path_finalizer(struct step *s, const json_t *pv)
{
  if (!local_path_owns(pv)) return false;
  const char *policy = kj_get_str(pv, "spec.persistentVolumeReclaimPolicy") ?: "";
  bool has = vol_has_finalizer(pv, LOCAL_PATH_FINALIZER), deleting = obj_is_terminating(pv);
  bool want = deleting ? s->w->node != NULL : !strcmp(policy, "Delete");
  if (has == want || (deleting && !has)) return false;
  json_t *c = for_put(pv, "PersistentVolume");
  json_t *fin = kj_arr(c, "metadata.finalizers");
  if (want) {
    json_array_append_new(fin, json_string(LOCAL_PATH_FINALIZER));
  } else {
    for (size_t i = 0; i < json_array_size(fin); i++)
      if (!strcmp(json_string_value(json_array_get(fin, i)) ?: "", LOCAL_PATH_FINALIZER)) json_array_remove(fin, i--);
  }
  put_volume(s, c, NULL);
  return true;
}

/* ---- syncVolume ---- */

static void sync_volume_with_claim(struct step *s, const json_t *pv, const json_t *claim)
{
  const char *vn = kj_get_str(claim, "spec.volumeName");
  const char *name = kj_get_str(pv, "metadata.name") ?: "";
  char msg[800];
  if (!vn || !*vn) {
    if (vol_mode_mismatch(claim, pv)) {
      snprintf(msg, sizeof msg,
               "Cannot bind PersistentVolume to requested PersistentVolumeClaim \"%s\" due to incompatible volumeMode.",
               kj_get_str(claim, "metadata.name") ?: "");
      event(s, pv, false, "Warning", "VolumeMismatch", msg);
      snprintf(msg, sizeof msg,
               "Cannot bind PersistentVolume \"%s\" to requested PersistentVolumeClaim due to incompatible volumeMode.",
               name);
      event(s, claim, true, "Warning", "VolumeMismatch", msg);
      return;
    }
    s->res->enqueue_claim = true; /* the claim's sync completes the binding */
    return;
  }
  if (!strcmp(vn, name)) {
    update_volume_phase(s, pv, "Bound", "");
    return;
  }
  /* The claim is bound to another volume. */
  const char *policy = kj_get_str(pv, "spec.persistentVolumeReclaimPolicy") ?: "";
  if (vol_has_annotation(pv, ANN_DYNAMICALLY_PROVISIONED) && !strcmp(policy, "Delete")) release(s, pv, true);
  else unbind_volume(s, pv);
}

void pvb_sync_volume(const struct pvb_world *w, struct cm_actions *acts, struct pvb_result *res)
{
  struct step s = {w, acts, res};
  memset(res, 0, sizeof *res);
  const json_t *pv = w->volume;
  if (!pv || local_path_finalizer(&s, pv)) return;
  const json_t *ref = kj_get(pv, "spec.claimRef");
  const char *ruid = kj_get_str(ref, "uid");
  if (!ref || !ruid || !*ruid) {
    update_volume_phase(&s, pv, "Available", "");
    return;
  }
  const json_t *claim = w->claim;
  bool cached = claim != NULL;
  if (claim && strcmp(kj_get_str(claim, "metadata.uid") ?: "", ruid)) claim = NULL;
  if (!claim && !w->claim_live && (cached || !released_or_failed(pv))) {
    /* A claim missing from the cache (or replaced) may just not have
     * reached it yet: only the API server's answer releases a volume. */
    res->get_claim = true;
    return;
  }
  if (!claim) release(&s, pv, cached);
  else sync_volume_with_claim(&s, pv, claim);
}
