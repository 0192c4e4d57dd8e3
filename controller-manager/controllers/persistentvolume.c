/*
 * persistentvolume.c - the persistentvolume-binder controller: informers,
 * keys and the chain of steps of one sync (the decisions are in
 * persistentvolume_sync.c, the local-path provisioner in local_path.c).
 *
 * Keys are "pvc:NAMESPACE/NAME" for claims and "pv:NAME" for volumes, in
 * one queue with one worker, as upstream runs one worker per queue: two
 * syncs never bind the same volume or claim at once.  Claim and volume
 * events enqueue their own keys and each other's; every
 * --pvclaimbinder-sync-period every claim and volume is synced again, so
 * a sync that waited (for a volume to appear, for a node, for an external
 * provisioner) is retried without an event.
 *
 * A sync runs steps (persistentvolume.h) until one writes nothing.  The
 * answer to every write is the object's new state; it is kept in
 * `written` and read in preference to the informer's copy until the
 * informer has caught up (upstream's storeVolumeUpdate/storeClaimUpdate):
 * binding writes the volume, then the claim, and the step after a write
 * must see it.  Entries go when the informer delivers that version or a
 * newer one, when the object is deleted, or after WRITTEN_TTL_MS.
 *
 * A volume whose claim is missing from the cache is released only after
 * a GET of the claim says it is gone (upstream's live lookup): a claim
 * and the volume provisioned for it may reach the informers in any order.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm.h"
#include "controller_utils.h"
#include "controllers/persistentvolume.h"
#include "controllers/volume_util.h"
#include "kube/informer.h"
#include "kube/json.h"
#include "kube/log.h"
#include "kube/restclient.h"
#include "kube/status.h"
#include "kube/timeutil.h"
#include "kube/xalloc.h"

#define PVB_INDEX "pvb-candidates"
#define PVB_MAX_STEPS 12
#define WRITTEN_TTL_MS (10 * 60 * 1000)

struct pvb_ctl {
  struct cm_base base;
  struct informer *pvc_inf, *pv_inf, *sc_inf, *pod_inf, *node_inf;
  /* "pv:NAME" / "pvc:NS/NAME" -> {"obj": newest written state, "at": ms} */
  json_t *written;
};

/* ---- the view: the informers overlaid with our own writes ---- */

static json_t *view_get(struct pvb_ctl *c, struct informer *inf, const char *prefix, const char *key)
{
  char wk[700];
  snprintf(wk, sizeof wk, "%s%s", prefix, key);
  json_t *cached = informer_store_get_obj(inf, key);
  json_t *w = json_object_get(json_object_get(c->written, wk), "obj");
  if (w && (!cached || vol_rv_cmp(w, cached) > 0)) {
    json_decref(cached);
    return json_incref(w);
  }
  return cached;
}

static json_t *get_claim(struct pvb_ctl *c, const char *ns, const char *name)
{
  char key[600];
  snprintf(key, sizeof key, "%s/%s", ns ? ns : "", name ? name : "");
  return view_get(c, c->pvc_inf, "pvc:", key);
}

static json_t *get_volume(struct pvb_ctl *c, const char *name)
{
  return name && *name ? view_get(c, c->pv_inf, "pv:", name) : NULL;
}

/* Remembers obj (a PV or PVC the API server just answered with). */
static void remember(struct pvb_ctl *c, const json_t *obj)
{
  const char *kind = kj_get_str(obj, "kind");
  char k[700], key[600];
  if (!kind || !informer_key(obj, key, sizeof key)) return;
  if (!strcmp(kind, "PersistentVolume")) snprintf(k, sizeof k, "pv:%s", key);
  else if (!strcmp(kind, "PersistentVolumeClaim")) snprintf(k, sizeof k, "pvc:%s", key);
  else return;
  json_object_set_new(c->written, k, json_pack("{s:O,s:I}", "obj", obj, "at", (json_int_t)ktime_mono_ms()));
}

/* The informer delivered obj: a written copy no newer than it goes. */
static void caught_up(struct pvb_ctl *c, const char *prefix, const json_t *obj, bool deleted)
{
  char k[700], key[600];
  if (!informer_key(obj, key, sizeof key)) return;
  snprintf(k, sizeof k, "%s%s", prefix, key);
  json_t *w = json_object_get(json_object_get(c->written, k), "obj");
  if (w && (deleted || vol_rv_cmp(w, obj) <= 0)) json_object_del(c->written, k);
}

static void index_candidates(void *arg, const json_t *pv, json_t *out)
{
  const json_t *ref = kj_get(pv, "spec.claimRef");
  char v[700];
  if (ref) snprintf(v, sizeof v, "claim:%s/%s", kj_get_str(ref, "namespace") ?: "", kj_get_str(ref, "name") ?: "");
  else snprintf(v, sizeof v, "unbound:%s", vol_pv_class(pv));
  json_array_append_new(out, json_string(v));
}

/* The volumes a claim may bind: pre-bound to it, or unbound of its
 * class, as the view has them.  New reference. */
static json_t *candidate_volumes(struct pvb_ctl *c, const json_t *claim)
{
  char v1[700], v2[600];
  snprintf(v1, sizeof v1, "claim:%s/%s", kj_get_str(claim, "metadata.namespace") ?: "",
           kj_get_str(claim, "metadata.name") ?: "");
  snprintf(v2, sizeof v2, "unbound:%s", vol_claim_class(claim));
  json_t *keys = json_array(), *out = json_array();
  const char *vals[] = {v1, v2};
  for (int i = 0; i < 2; i++) {
    json_t *k = informer_store_index_keys(c->pv_inf, PVB_INDEX, vals[i]);
    json_array_extend(keys, k);
    json_decref(k);
  }
  /* Volumes as we wrote them: also those the informer has not seen yet
   * (just provisioned) or still holds under another index value. */
  const char *wk;
  json_t *e;
  json_object_foreach (c->written, wk, e) {
    if (strncmp(wk, "pv:", 3)) continue;
    json_t *vals2 = json_array();
    index_candidates(NULL, json_object_get(e, "obj"), vals2);
    const char *v = json_string_value(json_array_get(vals2, 0));
    if (v && (!strcmp(v, v1) || !strcmp(v, v2))) json_array_append_new(keys, json_string(wk + 3));
    json_decref(vals2);
  }
  json_t *seen = json_object();
  size_t i;
  json_t *k;
  json_array_foreach (keys, i, k) {
    const char *name = json_string_value(k);
    if (json_object_get(seen, name)) continue;
    json_object_set_new(seen, name, json_true());
    json_t *pv = get_volume(c, name);
    if (pv) json_array_append_new(out, pv);
  }
  json_decref(seen);
  json_decref(keys);
  return out;
}

static json_t *claim_pods(struct pvb_ctl *c, const char *ns, const char *name)
{
  char key[600];
  snprintf(key, sizeof key, "%s/%s", ns ? ns : "", name ? name : "");
  json_t *pods = informer_store_by_index(c->pod_inf, VOL_INDEX_POD_CLAIMS, key);
  return pods ? pods : json_array();
}

/* ---- one sync: a chain of steps ---- */

struct pvb_run {
  struct pvb_ctl *c;
  char *key;
  int steps, outstanding;
  bool failed;
  bool live;          /* the claim was read from the API server */
  json_t *live_claim; /* what that read returned (NULL: not found) */
};

struct pvb_answer {
  struct pvb_run *pr;
  enum cm_verb verb;
  unsigned done_if;
  bool claim_get;
};

static void run_free(void *p)
{
  struct pvb_run *pr = p;
  json_decref(pr->live_claim);
  free(pr->key);
  free(pr);
}

/* The world of one step, filled from the view; free with world_free. */
struct world_refs {
  json_t *claim, *volume, *volumes, *provisioned, *classes, *pods, *node;
};

static void world_free(struct world_refs *r)
{
  json_decref(r->claim);
  json_decref(r->volume);
  json_decref(r->volumes);
  json_decref(r->provisioned);
  json_decref(r->classes);
  json_decref(r->pods);
  json_decref(r->node);
}

static void claim_world(struct pvb_ctl *c, const char *key, struct pvb_world *w, struct world_refs *r)
{
  char buf[600];
  const char *ns, *name;
  if (cm_split_key(key, buf, sizeof buf, &ns, &name) < 0) return;
  r->claim = get_claim(c, ns, name);
  if (!r->claim) return;
  r->volume = get_volume(c, kj_get_str(r->claim, "spec.volumeName"));
  r->volumes = candidate_volumes(c, r->claim);
  char pvname[300];
  snprintf(pvname, sizeof pvname, "pvc-%s", kj_get_str(r->claim, "metadata.uid") ?: "");
  r->provisioned = get_volume(c, pvname);
  r->pods = claim_pods(c, ns, name);
  const char *node = vol_annotation(r->claim, ANN_SELECTED_NODE);
  r->node = node ? informer_store_get_obj(c->node_inf, node) : NULL;
  w->claim = r->claim;
  w->volume = r->volume;
  w->volumes = r->volumes;
  w->provisioned = r->provisioned;
  w->pods = r->pods;
  w->node = r->node;
}

static void volume_world(struct pvb_run *pr, const char *name, struct pvb_world *w, struct world_refs *r)
{
  struct pvb_ctl *c = pr->c;
  r->volume = get_volume(c, name);
  if (!r->volume) return;
  const json_t *ref = kj_get(r->volume, "spec.claimRef");
  if (ref) {
    const char *ns = kj_get_str(ref, "namespace"), *cn = kj_get_str(ref, "name");
    r->claim = pr->live ? json_incref(pr->live_claim) : get_claim(c, ns, cn);
    r->pods = claim_pods(c, ns, cn);
  }
  const char *node = local_path_node(r->volume);
  r->node = node ? informer_store_get_obj(c->node_inf, node) : NULL;
  w->volume = r->volume;
  w->claim = r->claim;
  w->pods = r->pods;
  w->node = r->node;
  w->claim_live = pr->live;
}

static void step(struct pvb_run *pr, struct cm_run *r);

static bool answer_done(const struct pvb_answer *a, int code, const struct rest_status *err)
{
  struct cm_action act = {.verb = a->verb, .done_if = a->done_if};
  return cm_answer_done(&act, code, err);
}

static void on_answer(void *arg, struct cm_run *r, int code, json_t *body, const struct rest_status *err)
{
  struct pvb_answer *a = arg;
  struct pvb_run *pr = a->pr;
  if (a->claim_get) {
    pr->live = answer_done(a, code, err);
    json_decref(pr->live_claim);
    pr->live_claim = !err && body ? json_incref(body) : NULL;
    if (pr->live_claim) remember(pr->c, body);
  } else if (!err && body && a->verb != CM_GET) {
    remember(pr->c, body);
  }
  if (!answer_done(a, code, err)) pr->failed = true;
  if (--pr->outstanding == 0 && !pr->failed) step(pr, r);
}

/* Sends acts; every object write answers into on_answer.  Returns the
 * number of requests. */
static int send(struct pvb_run *pr, struct cm_run *r, struct cm_actions *acts, bool claim_get)
{
  int n = 0;
  for (size_t i = 0; i < acts->n; i++) {
    struct cm_action *act = &acts->v[i];
    if (act->verb == CM_EVENT) continue;
    struct pvb_answer *a = xcalloc(1, sizeof *a);
    *a = (struct pvb_answer){pr, act->verb, act->done_if, claim_get};
    cm_act_on_answer(act, on_answer, a, free);
    n++;
  }
  pr->outstanding += n;
  cm_run_add(r, acts);
  return n;
}

static void get_live_claim(struct pvb_run *pr, struct cm_run *r, const json_t *pv)
{
  struct cm_actions acts;
  char path[700];
  cm_actions_init(&acts);
  cm_path(path, sizeof path, "/api/v1", kj_get_str(pv, "spec.claimRef.namespace"), "persistentvolumeclaims",
          kj_get_str(pv, "spec.claimRef.name"), NULL);
  cm_act(&acts, CM_GET, path, NULL);
  send(pr, r, &acts, true);
  cm_actions_clear(&acts);
}

static void step(struct pvb_run *pr, struct cm_run *r)
{
  struct pvb_ctl *c = pr->c;
  if (pr->steps++ >= PVB_MAX_STEPS) {
    cm_run_requeue_after(r, 0); /* a long chain: the rest in a later sync */
    return;
  }
  struct pvb_world w = {.local_path_root = c->base.ctx->cfg.local_path_root};
  struct world_refs refs = {0};
  refs.classes = informer_store_list(c->sc_inf);
  w.classes = refs.classes;
  bool is_claim = !strncmp(pr->key, "pvc:", 4);
  if (is_claim) claim_world(c, pr->key + 4, &w, &refs);
  else volume_world(pr, pr->key + 3, &w, &refs);
  w.provisioning_disabled = !c->base.ctx->cfg.enable_dynamic_provisioning;
  struct cm_actions acts;
  struct pvb_result res;
  cm_actions_init(&acts);
  if (is_claim) pvb_sync_claim(&w, &acts, &res);
  else pvb_sync_volume(&w, &acts, &res);
  if (res.get_claim) {
    get_live_claim(pr, r, refs.volume);
  } else {
    if (res.enqueue_claim && w.claim) {
      char k[700];
      snprintf(k, sizeof k, "pvc:%s/%s", kj_get_str(w.claim, "metadata.namespace") ?: "",
               kj_get_str(w.claim, "metadata.name") ?: "");
      cm_base_enqueue_key(&c->base, k);
    }
    if (res.error) cm_run_fail(r, res.error);
    send(pr, r, &acts, false);
  }
  cm_actions_clear(&acts);
  world_free(&refs);
}

static void pvb_sync(struct cm_base *b, const char *key)
{
  struct pvb_ctl *c = (struct pvb_ctl *)b;
  if (strncmp(key, "pvc:", 4) && strncmp(key, "pv:", 3)) {
    cm_base_finish(b, key, false, -1);
    return;
  }
  struct pvb_run *pr = xcalloc(1, sizeof *pr);
  pr->c = c;
  pr->key = xstrdup(key);
  struct cm_run *r = cm_run_begin(b, key, NULL, NULL);
  cm_run_attach(r, pr, run_free);
  step(pr, r);
  cm_run_end(r);
}

/* ---- handlers ---- */

static void enqueue_claim_of(struct pvb_ctl *c, const char *ns, const char *name)
{
  if (!name) return;
  char k[700];
  snprintf(k, sizeof k, "pvc:%s/%s", ns ? ns : "", name);
  cm_base_enqueue_key(&c->base, k);
}

static void enqueue_volume(struct pvb_ctl *c, const char *name)
{
  if (!name || !*name) return;
  char k[400];
  snprintf(k, sizeof k, "pv:%s", name);
  cm_base_enqueue_key(&c->base, k);
}

static void claim_upsert(void *arg, const json_t *o, const json_t *n)
{
  struct pvb_ctl *c = arg;
  caught_up(c, "pvc:", n, false);
  enqueue_claim_of(c, kj_get_str(n, "metadata.namespace"), kj_get_str(n, "metadata.name"));
}
static void claim_add(void *arg, const json_t *obj) { claim_upsert(arg, NULL, obj); }

static void claim_delete(void *arg, const json_t *obj, bool unknown)
{
  struct pvb_ctl *c = arg;
  caught_up(c, "pvc:", obj, true);
  enqueue_volume(c, kj_get_str(obj, "spec.volumeName"));
}

static void volume_upsert(void *arg, const json_t *o, const json_t *n)
{
  struct pvb_ctl *c = arg;
  caught_up(c, "pv:", n, false);
  enqueue_volume(c, kj_get_str(n, "metadata.name"));
  enqueue_claim_of(c, kj_get_str(n, "spec.claimRef.namespace"), kj_get_str(n, "spec.claimRef.name"));
}
static void volume_add(void *arg, const json_t *obj) { volume_upsert(arg, NULL, obj); }

static void volume_delete(void *arg, const json_t *obj, bool unknown)
{
  struct pvb_ctl *c = arg;
  caught_up(c, "pv:", obj, true);
  enqueue_claim_of(c, kj_get_str(obj, "spec.claimRef.namespace"), kj_get_str(obj, "spec.claimRef.name"));
}

static void enqueue_all(struct pvb_ctl *c, bool claims_only_unbound)
{
  json_t *keys = informer_store_keys(c->pvc_inf);
  size_t i;
  json_t *k;
  json_array_foreach (keys, i, k) {
    char buf[700];
    snprintf(buf, sizeof buf, "pvc:%s", json_string_value(k));
    cm_base_enqueue_key(&c->base, buf);
  }
  json_decref(keys);
  if (claims_only_unbound) return;
  keys = informer_store_keys(c->pv_inf);
  json_array_foreach (keys, i, k) enqueue_volume(c, json_string_value(k));
  json_decref(keys);
}

/* A new or changed class may let claims be provisioned (or get a default). */
static void class_upsert(void *arg, const json_t *o, const json_t *n) { enqueue_all(arg, true); }
static void class_add(void *arg, const json_t *obj) { class_upsert(arg, NULL, obj); }

static void resync(struct cm_base *b)
{
  struct pvb_ctl *c = (struct pvb_ctl *)b;
  enqueue_all(c, false);
  int64_t now = ktime_mono_ms();
  const char *k;
  json_t *e;
  void *tmp;
  json_object_foreach_safe (c->written, tmp, k, e) {
    if (now - kj_get_int(e, "at", 0) > WRITTEN_TTL_MS) json_object_del(c->written, k);
  }
}

static int pvb_init(struct cm_base *b)
{
  struct pvb_ctl *c = (struct pvb_ctl *)b;
  struct informer_factory *f = b->ctx->informers;
  c->written = json_object();
  c->pvc_inf = informer_factory_get(f, CM_PVCS);
  c->pv_inf = informer_factory_get(f, CM_PVS);
  c->sc_inf = informer_factory_get(f, CM_STORAGECLASSES);
  c->pod_inf = informer_factory_get(f, CM_PODS);
  c->node_inf = informer_factory_get(f, CM_NODES);
  int rc = informer_add_index(c->pv_inf, PVB_INDEX, index_candidates, NULL);
  if (rc < 0 && rc != -EEXIST) return rc;
  if ((rc = vol_add_pod_claim_index(c->pod_inf)) < 0) return rc;
  struct informer_handlers ch = {claim_add, claim_upsert, claim_delete, c};
  struct informer_handlers vh = {volume_add, volume_upsert, volume_delete, c};
  struct informer_handlers sh = {class_add, class_upsert, NULL, c};
  informer_add_handlers(c->pvc_inf, &ch);
  informer_add_handlers(c->pv_inf, &vh);
  informer_add_handlers(c->sc_inf, &sh);
  return 0;
}

static void pvb_run_periodic(struct cm_base *b)
{
  cm_base_periodic(b, b->ctx->cfg.pvclaimbinder_sync_period_ms, resync);
}

static void pvb_fini(struct cm_base *b)
{
  struct pvb_ctl *c = (struct pvb_ctl *)b;
  json_decref(c->written);
}

const struct controller_def ctrl_persistentvolume_binder = {
    .name = "persistentvolume-binder",
    .service_account = "persistent-volume-binder",
    .enabled_by_default = true,
    .size = sizeof(struct pvb_ctl),
    .queue = "volumes",
    .component = "persistentvolume-controller",
    .workers = 1,
    .sync = pvb_sync,
    .init = pvb_init,
    .run = pvb_run_periodic,
    .fini = pvb_fini,
};
