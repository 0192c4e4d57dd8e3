/*
 * garbagecollector.c - the "garbagecollector" controller: deletes objects
 * whose owners are gone and runs the foreground and orphan deletion
 * protocols.
 *
 * The graph: informers over the resources feed an index of every object
 * by uid (uid -> resource, key) and a reverse index
 * owner uid -> dependent uids, kept current from add/update/delete events.
 * The work queue holds uids.  An event enqueues the object when it has
 * owners or is being deleted with one of our finalizers; a delete
 * enqueues its dependents (they may now be orphans) and its owners (one
 * may be waiting in the foreground for it); a changed ownerReferences list
 * enqueues the owners it no longer names.
 *
 * The resources: the built-in ones of gc_resources from the start (their
 * informers shared with the other controllers), then every other one
 * discovery finds deletable (list, watch, delete; Events left out, as
 * upstream), custom resources included, with informers of its own.
 * Discovery runs every 30 s, as upstream's GC Sync, and a second after a
 * CustomResourceDefinition changes, so a CRD's objects take part within
 * seconds of it being served; a resource no longer served (its CRD
 * deleted) has its informer freed and its objects dropped from the graph.
 * Kinds named by owner references resolve through the same discovery
 * (apiVersion + kind -> resource), the built-in table before the first.
 *
 * sync(uid):
 *  - owner with deletionTimestamp and "orphan": strip its reference from
 *    every dependent, then drop the finalizer (when the index shows no
 *    dependent left);
 *  - owner with deletionTimestamp and "foregroundDeletion" (upstream
 *    processDeletingDependentsItem): every dependent is queued to decide
 *    for itself; the finalizer goes once no dependent with
 *    blockOwnerDeletion is left;
 *  - dependent (upstream attemptToDeleteItem): classify each owner as
 *    solid (exists with the referenced uid), dangling (gone, or replaced
 *    by an object of another uid) or waiting (deleting its dependents in
 *    the foreground).  An owner in the cache is classified from it; one
 *    not in the cache is looked up with a live GET, so a stale or not yet
 *    synced cache never causes a deletion, and is dangling only on a 404
 *    naming it or an answer with another uid.  With a solid owner the
 *    dependent stays and the references to dangling and waiting owners
 *    are patched away; without one it is deleted (uid precondition): in
 *    the foreground when an owner waits and it has dependents itself,
 *    else with the policy of its own finalizers or in the background.  An
 *    owner of a kind not known, or a failed GET, decides nothing and the
 *    uid is retried with backoff.
 */
#include <ctype.h>
#include <event2/event.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "controller_utils.h"
#include "core_logic.h"
#include "discovery.h"
#include "kube/informer.h"
#include "kube/json.h"
#include "kube/log.h"
#include "kube/restclient.h"
#include "kube/xalloc.h"

#define GC_FIN_ORPHAN "orphan"
#define GC_FIN_FOREGROUND "foregroundDeletion"
#define GC_WAIT_REQUEUE_MS 5000

#define GC_CRDS "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"

static const char *const gc_resources[] = {
    CM_PODS,
    CM_REPLICASETS,
    CM_DEPLOYMENTS,
    CM_STATEFULSETS,
    CM_DAEMONSETS,
    CM_CONTROLLERREVISIONS,
    CM_JOBS,
    CM_CRONJOBS,
    CM_ENDPOINTSLICES,
    CM_SERVICES,
    CM_ENDPOINTS,
    CM_PVCS,
    CM_SERVICEACCOUNTS,
    CM_REPLICATIONCONTROLLERS,
    CM_PDBS,
    "/api/v1/configmaps",
    "/api/v1/secrets",
    "/apis/coordination.k8s.io/v1/leases",
    CM_NODES,
    CM_NAMESPACES,
    GC_CRDS,
};
#define GC_NRES (sizeof gc_resources / sizeof gc_resources[0])
#define GC_DISCOVERY_PERIOD_MS 30000 /* upstream's GC Sync period */
#define GC_DISCOVERY_SOON_MS 1000    /* after a CRD changed */
/* Deletable resources the collector does not watch (upstream's
 * DefaultIgnoredResources). */
#define GC_IGNORED "events.,events.events.k8s.io"

struct gc_ctl;
/* One watched resource.  Slots are never reused: a node's index stays
 * valid, and a resource that went keeps its slot with inf NULL. */
struct gc_res {
  struct gc_ctl *gc;
  size_t idx;
  char *path;           /* collection: "/apis/G/V/PLURAL" */
  struct informer *inf; /* NULL once the resource is gone */
  bool owned;           /* inf is ours (discovered), not the factory's */
};

struct gc_ctl {
  struct cm_base base; /* keys are uids */
  struct gc_res **res;
  size_t nres;
  json_t *nodes; /* uid -> [resource index, key] */
  json_t *deps;  /* owner uid -> {dependent uid: true} */
  json_t *kinds; /* "apiVersion/Kind" -> {path, namespaced}, from discovery */
  struct cm_discovery *disc; /* the pass in flight */
  struct event *disc_timer;
  struct informer *crds;
};

/* ---- kinds ---- */

static const struct {
  const char *kind, *plural;
  bool namespaced;
} gc_kinds[] = {
    {"Pod", "pods", true},
    {"ReplicaSet", "replicasets", true},
    {"Deployment", "deployments", true},
    {"StatefulSet", "statefulsets", true},
    {"DaemonSet", "daemonsets", true},
    {"Job", "jobs", true},
    {"CronJob", "cronjobs", true},
    {"ControllerRevision", "controllerrevisions", true},
    {"Service", "services", true},
    {"Endpoints", "endpoints", true},
    {"EndpointSlice", "endpointslices", true},
    {"ConfigMap", "configmaps", true},
    {"Secret", "secrets", true},
    {"PersistentVolumeClaim", "persistentvolumeclaims", true},
    {"ServiceAccount", "serviceaccounts", true},
    {"ReplicationController", "replicationcontrollers", true},
    {"PodDisruptionBudget", "poddisruptionbudgets", true},
    {"Lease", "leases", true},
    {"Ingress", "ingresses", true},
    {"NetworkPolicy", "networkpolicies", true},
    {"Role", "roles", true},
    {"RoleBinding", "rolebindings", true},
    {"Node", "nodes", false},
    {"Namespace", "namespaces", false},
    {"PersistentVolume", "persistentvolumes", false},
    {"ClusterRole", "clusterroles", false},
    {"ClusterRoleBinding", "clusterrolebindings", false},
    {"StorageClass", "storageclasses", false},
    {"CustomResourceDefinition", "customresourcedefinitions", false},
    {"PriorityClass", "priorityclasses", false},
    {"IngressClass", "ingressclasses", false},
};

bool gc_kind_resource(const char *api_version, const char *kind, char *prefix, size_t plen, char *plural, size_t rlen,
                      bool *namespaced)
{
  if (!api_version || !kind) return false;
  for (size_t i = 0; i < sizeof gc_kinds / sizeof gc_kinds[0]; i++) {
    if (strcmp(gc_kinds[i].kind, kind)) continue;
    snprintf(prefix, plen, strchr(api_version, '/') ? "/apis/%s" : "/api/%s", api_version);
    snprintf(plural, rlen, "%s", gc_kinds[i].plural);
    *namespaced = gc_kinds[i].namespaced;
    return true;
  }
  return false;
}

/* ---- decisions ---- */

static bool gc_has_finalizer(const json_t *obj, const char *f)
{
  size_t i;
  json_t *x;
  json_array_foreach (kj_get(obj, "metadata.finalizers"), i, x)
    if (!strcmp(json_string_value(x) ?: "", f)) return true;
  return false;
}

static json_t *gc_delete_body(const json_t *obj, const char *policy)
{
  return json_pack("{s:s, s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "DeleteOptions", "propagationPolicy", policy,
                   "preconditions", "uid", kj_get_str(obj, "metadata.uid") ?: "");
}

/* PATCHes here only take something away (a reference, a finalizer), as
 * JSON merge patches of the whole list; on an object that is gone they
 * are done. */
static void gc_patch(struct cm_actions *acts, const char *path, json_t *body)
{
  struct cm_action *act = cm_act(acts, CM_PATCH, path, body);
  act->patch = CM_PATCH_MERGE;
  act->done_if = CM_DONE_IF_GONE;
}

/* Merge patch replacing ownerReferences with those whose uid is not
 * `drop` (or, when states is given, whose owner is solid: dangling and
 * waiting references go). */
static json_t *gc_refs_patch(const json_t *obj, const char *drop, const int *states)
{
  json_t *keep = json_array();
  size_t i;
  json_t *r;
  json_array_foreach (kj_get(obj, "metadata.ownerReferences"), i, r) {
    if (drop && !strcmp(kj_get_str(r, "uid") ?: "", drop)) continue;
    if (states && (states[i] == GC_OWNER_ABSENT || states[i] == GC_OWNER_WAITING)) continue;
    json_array_append(keep, r);
  }
  /* null deletes the field, as a dependent without owners has none */
  if (!json_array_size(keep)) {
    json_decref(keep);
    keep = json_null();
  }
  return json_pack("{s:{s:o, s:s}}", "metadata", "ownerReferences", keep, "uid", kj_get_str(obj, "metadata.uid") ?: "");
}

int gc_classify_owner(const json_t *ref, const json_t *owner)
{
  if (!owner || strcmp(kj_get_str(owner, "metadata.uid") ?: "", kj_get_str(ref, "uid") ?: "")) return GC_OWNER_ABSENT;
  /* Waiting whatever the reference's blockOwnerDeletion says: the owner
   * is deleting its dependents, this one included. */
  if (kj_get(owner, "metadata.deletionTimestamp") && gc_has_finalizer(owner, GC_FIN_FOREGROUND))
    return GC_OWNER_WAITING;
  return GC_OWNER_PRESENT;
}

void gc_dependent_actions(const json_t *obj, const char *obj_path, const int *states, size_t n, bool has_dependents,
                          struct cm_actions *acts)
{
  if (n == 0 || kj_get(obj, "metadata.deletionTimestamp")) return;
  size_t solid = 0, dangling = 0, waiting = 0;
  for (size_t i = 0; i < n; i++) {
    if (states[i] == GC_OWNER_UNKNOWN) return; /* decide nothing on partial knowledge */
    solid += states[i] == GC_OWNER_PRESENT;
    dangling += states[i] == GC_OWNER_ABSENT;
    waiting += states[i] == GC_OWNER_WAITING;
  }
  if (solid) {
    /* A live owner keeps it; the references to owners that are gone or
     * deleting their dependents go, or those owners would wait forever. */
    if (dangling + waiting) gc_patch(acts, obj_path, gc_refs_patch(obj, NULL, states));
    return;
  }
  const char *policy = "Background";
  if (waiting && has_dependents) {
    /* Its own dependents go first, so that the waiting owner sees them
     * gone in order. */
    policy = "Foreground";
  } else if (gc_has_finalizer(obj, GC_FIN_ORPHAN)) {
    policy = "Orphan";
  } else if (gc_has_finalizer(obj, GC_FIN_FOREGROUND)) {
    policy = "Foreground";
  }
  cm_act(acts, CM_DELETE, obj_path, gc_delete_body(obj, policy));
}

static json_t *gc_finalizer_patch(const json_t *owner, const char *fin)
{
  json_t *keep = json_array();
  size_t i;
  json_t *f;
  json_array_foreach (kj_get(owner, "metadata.finalizers"), i, f)
    if (strcmp(json_string_value(f) ?: "", fin)) json_array_append(keep, f);
  return json_pack("{s:{s:o, s:s, s:s}}", "metadata", "finalizers", keep, "uid",
                   kj_get_str(owner, "metadata.uid") ?: "", "resourceVersion",
                   kj_get_str(owner, "metadata.resourceVersion") ?: "");
}

void gc_foreground_actions(const json_t *owner, const char *owner_path, const json_t *deps, struct cm_actions *acts)
{
  const char *uid = kj_get_str(owner, "metadata.uid") ?: "";
  size_t blocking = 0, i;
  json_t *d;
  json_array_foreach (deps, i, d) {
    const json_t *ref = cm_owner_ref_to(json_object_get(d, "obj"), uid);
    blocking += ref && kj_get_bool(ref, "blockOwnerDeletion", false);
  }
  if (blocking == 0) gc_patch(acts, owner_path, gc_finalizer_patch(owner, GC_FIN_FOREGROUND));
}

void gc_orphan_actions(const json_t *owner, const char *owner_path, const json_t *deps, struct cm_actions *acts)
{
  const char *uid = kj_get_str(owner, "metadata.uid") ?: "";
  size_t refs = 0, i;
  json_t *d;
  json_array_foreach (deps, i, d) {
    const json_t *obj = json_object_get(d, "obj");
    if (!cm_owner_ref_to(obj, uid)) continue;
    refs++;
    gc_patch(acts, kj_get_str(d, "path"), gc_refs_patch(obj, uid, NULL));
  }
  if (refs == 0) gc_patch(acts, owner_path, gc_finalizer_patch(owner, GC_FIN_ORPHAN));
}

/* ---- the graph ---- */

static void gc_obj_path(const struct gc_ctl *gc, size_t idx, const char *key, char *out, size_t len)
{
  const char *coll = gc->res[idx]->path;
  const char *slash = strrchr(coll, '/');
  char buf[512];
  const char *ns = "", *name = key;
  cm_split_key(key, buf, sizeof buf, &ns, &name);
  if (*ns) snprintf(out, len, "%.*s/namespaces/%s/%s/%s", (int)(slash - coll), coll, ns, slash + 1, name);
  else snprintf(out, len, "%s/%s", coll, name);
}

/* New reference to the cached object of uid, writing its path; NULL if none. */
static json_t *gc_lookup(const struct gc_ctl *gc, const char *uid, char *path, size_t plen)
{
  json_t *n = json_object_get(gc->nodes, uid);
  if (!n) return NULL;
  size_t idx = (size_t)json_integer_value(json_array_get(n, 0));
  const char *key = json_string_value(json_array_get(n, 1));
  if (idx >= gc->nres || !gc->res[idx]->inf) return NULL;
  json_t *obj = informer_store_get_obj(gc->res[idx]->inf, key);
  if (obj && strcmp(kj_get_str(obj, "metadata.uid") ?: "", uid)) {
    json_decref(obj);
    return NULL;
  }
  if (obj && path) gc_obj_path(gc, idx, key, path, plen);
  return obj;
}

static void gc_unlink(struct gc_ctl *gc, const json_t *obj, const char *uid, bool enqueue)
{
  size_t i;
  json_t *r;
  json_array_foreach (kj_get(obj, "metadata.ownerReferences"), i, r) {
    const char *ou = kj_get_str(r, "uid");
    json_t *set = ou ? json_object_get(gc->deps, ou) : NULL;
    if (!set) continue;
    json_object_del(set, uid);
    if (json_object_size(set) == 0) json_object_del(gc->deps, ou);
    if (enqueue) cm_base_enqueue_key(&gc->base, ou);
  }
}

static void gc_link(struct gc_ctl *gc, const json_t *obj, const char *uid)
{
  size_t i;
  json_t *r;
  json_array_foreach (kj_get(obj, "metadata.ownerReferences"), i, r) {
    const char *ou = kj_get_str(r, "uid");
    if (!ou) continue;
    json_t *set = json_object_get(gc->deps, ou);
    if (!set) json_object_set_new(gc->deps, ou, set = json_object());
    json_object_set_new(set, uid, json_true());
  }
}

static bool gc_interesting(const json_t *obj)
{
  if (json_array_size(kj_get(obj, "metadata.ownerReferences"))) return true;
  return kj_get(obj, "metadata.deletionTimestamp") &&
         (gc_has_finalizer(obj, GC_FIN_ORPHAN) || gc_has_finalizer(obj, GC_FIN_FOREGROUND));
}

static void gc_on_upsert(struct gc_res *r, const json_t *old, const json_t *obj)
{
  struct gc_ctl *gc = r->gc;
  const char *uid = kj_get_str(obj, "metadata.uid");
  char key[512];
  if (!uid || !informer_key(obj, key, sizeof key)) return;
  json_object_set_new(gc->nodes, uid, json_pack("[I, s]", (json_int_t)r->idx, key));
  bool refs_changed =
      !old || !cm_json_eq(kj_get(old, "metadata.ownerReferences"), kj_get(obj, "metadata.ownerReferences"));
  if (old && refs_changed) gc_unlink(gc, old, uid, true);
  if (refs_changed) gc_link(gc, obj, uid);
  /* An update matters when the references or the deletion state moved;
   * heartbeats of owned objects (leases) would otherwise keep us busy. */
  bool state_changed =
      !old || refs_changed ||
      !cm_json_eq(kj_get(old, "metadata.deletionTimestamp"), kj_get(obj, "metadata.deletionTimestamp")) ||
      !cm_json_eq(kj_get(old, "metadata.finalizers"), kj_get(obj, "metadata.finalizers"));
  if (state_changed && (gc_interesting(obj) || (old && gc_interesting(old)))) cm_base_enqueue_key(&gc->base, uid);
}

static void gc_on_add(void *arg, const json_t *obj) { gc_on_upsert(arg, NULL, obj); }
static void gc_on_update(void *arg, const json_t *o, const json_t *n)
{
  if (o == n) {
    /* resync: re-check objects with owners, level-triggered */
    struct gc_res *r = arg;
    const char *uid = kj_get_str(n, "metadata.uid");
    if (uid && gc_interesting(n)) cm_base_enqueue_key(&r->gc->base, uid);
    return;
  }
  gc_on_upsert(arg, o, n);
}

static void gc_on_delete(void *arg, const json_t *obj, bool unknown)
{
  struct gc_res *r = arg;
  struct gc_ctl *gc = r->gc;
  const char *uid = kj_get_str(obj, "metadata.uid");
  if (!uid) return;
  json_object_del(gc->nodes, uid);
  gc_unlink(gc, obj, uid, true);
  json_t *set = json_object_get(gc->deps, uid);
  const char *d;
  json_t *v;
  json_object_foreach (set, d, v) cm_base_enqueue_key(&gc->base, d);
}

/* New reference: [{obj, path}] of the cached dependents of uid. */
static json_t *gc_dependents(const struct gc_ctl *gc, const char *uid)
{
  json_t *out = json_array();
  const char *d;
  json_t *v;
  json_object_foreach (json_object_get(gc->deps, uid), d, v) {
    char path[900];
    json_t *obj = gc_lookup(gc, d, path, sizeof path);
    if (obj) json_array_append_new(out, json_pack("{s:o, s:s}", "obj", obj, "path", path));
  }
  return out;
}

/* ---- sync ---- */

/* A dependent's sync waiting for the GETs of its owners not in the cache. */
struct gc_op {
  struct gc_ctl *gc;
  struct cm_run *run;
  json_t *obj;
  char path[900];
  int *states;
  size_t n;
  int pending;
  bool has_dependents;
  bool unknown; /* an owner could not be looked up: decide nothing */
};

struct gc_get {
  struct gc_op *op;
  size_t i;
};

static void gc_op_decide(struct gc_op *op)
{
  if (op->unknown) return;
  struct cm_actions acts;
  cm_actions_init(&acts);
  gc_dependent_actions(op->obj, op->path, op->states, op->n, op->has_dependents, &acts);
  if (acts.n) KLOG_V(2, "garbagecollector: %s %s", cm_verb_name(acts.v[0].verb), op->path);
  cm_run_add(op->run, &acts);
  cm_actions_clear(&acts);
}

static void gc_op_free(void *p)
{
  struct gc_op *op = p;
  json_decref(op->obj);
  free(op->states);
  free(op);
}

/* A failed GET (not 404) decides nothing: the run is not done and the uid
 * comes back with backoff. */
static void gc_get_done(void *arg, struct cm_run *run, int code, json_t *body, const struct rest_status *err)
{
  struct gc_get *g = arg;
  struct gc_op *op = g->op;
  const json_t *ref = json_array_get(kj_get(op->obj, "metadata.ownerReferences"), g->i);
  if (!err) op->states[g->i] = gc_classify_owner(ref, body);
  else if (code == 404 && err->status &&
           !strcmp(kj_get_str(err->status, "details.name") ?: "", kj_get_str(ref, "name") ?: ""))
    op->states[g->i] = GC_OWNER_ABSENT;
  else op->unknown = true;
  if (--op->pending == 0) gc_op_decide(op);
}

/* The path of the owner a reference names, or false when its kind is not
 * known (retry later) or it cannot be (a namespaced owner of a
 * cluster-scoped object: never). */
/* The collection of apiVersion + kind: discovered, else the built-in
 * table; false when not known. */
static bool gc_resolve_kind(const struct gc_ctl *gc, const char *api_version, const char *kind, char *prefix,
                            size_t plen, char *plural, size_t rlen, bool *namespaced)
{
  char k[400];
  snprintf(k, sizeof k, "%s/%s", api_version ?: "", kind ?: "");
  json_t *e = json_object_get(gc->kinds, k);
  const char *path = kj_get_str(e, "path");
  const char *slash = path ? strrchr(path, '/') : NULL;
  if (!slash) return gc_kind_resource(api_version, kind, prefix, plen, plural, rlen, namespaced);
  snprintf(prefix, plen, "%.*s", (int)(slash - path), path);
  snprintf(plural, rlen, "%s", slash + 1);
  *namespaced = kj_get_bool(e, "namespaced", false);
  return true;
}

static bool gc_owner_path(const struct gc_ctl *gc, const json_t *ref, const char *ns, char *out, size_t len,
                          bool *retry)
{
  char prefix[300], plural[100];
  bool namespaced;
  *retry = false;
  if (!gc_resolve_kind(gc, kj_get_str(ref, "apiVersion"), kj_get_str(ref, "kind"), prefix, sizeof prefix, plural,
                       sizeof plural, &namespaced)) {
    *retry = true;
    return false;
  }
  if (namespaced && !ns) return false;
  if (namespaced) snprintf(out, len, "%s/namespaces/%s/%s/%s", prefix, ns, plural, kj_get_str(ref, "name") ?: "");
  else snprintf(out, len, "%s/%s/%s", prefix, plural, kj_get_str(ref, "name") ?: "");
  return true;
}

/* Classifies every owner of obj: from the cache when it holds the owner's
 * uid, else by a live GET; decides once all are known. */
static void gc_sync_dependent(struct gc_ctl *gc, struct cm_run *run, json_t *obj, const char *path)
{
  json_t *refs = kj_get(obj, "metadata.ownerReferences");
  struct gc_op *op = xcalloc(1, sizeof *op);
  op->gc = gc;
  op->run = run;
  op->obj = json_incref(obj);
  snprintf(op->path, sizeof op->path, "%s", path);
  op->n = json_array_size(refs);
  op->states = xcalloc(op->n ? op->n : 1, sizeof *op->states);
  op->pending = 1;
  op->has_dependents = json_object_size(json_object_get(gc->deps, kj_get_str(obj, "metadata.uid") ?: "")) > 0;
  cm_run_attach(run, op, gc_op_free);
  const char *ns = kj_get_str(obj, "metadata.namespace");
  struct cm_actions acts;
  cm_actions_init(&acts);
  size_t i;
  json_t *r;
  json_array_foreach (refs, i, r) {
    json_t *owner = gc_lookup(gc, kj_get_str(r, "uid") ?: "", NULL, 0);
    if (owner) {
      op->states[i] = gc_classify_owner(r, owner);
      json_decref(owner);
      continue;
    }
    char opath[900];
    bool retry;
    op->states[i] = GC_OWNER_UNKNOWN;
    if (!gc_owner_path(gc, r, ns, opath, sizeof opath, &retry)) {
      /* A kind not known (yet): retry later, deciding nothing, as upstream
       * does with a REST mapping error. */
      if (retry) cm_run_fail(run, "owner kind not known");
      continue;
    }
    struct gc_get *g = xcalloc(1, sizeof *g);
    g->op = op;
    g->i = i;
    op->pending++;
    cm_act_on_answer(cm_act(&acts, CM_GET, opath, NULL), gc_get_done, g, free);
  }
  cm_run_add(run, &acts);
  cm_actions_clear(&acts);
  if (--op->pending == 0) gc_op_decide(op);
}

/* An owner being deleted with the orphan or foregroundDeletion finalizer. */
static void gc_sync_owner(struct gc_ctl *gc, struct cm_run *run, json_t *obj, const char *path, const char *uid)
{
  json_t *deps = gc_dependents(gc, uid);
  bool orphan = gc_has_finalizer(obj, GC_FIN_ORPHAN);
  struct cm_actions acts;
  cm_actions_init(&acts);
  if (orphan) {
    gc_orphan_actions(obj, path, deps, &acts);
  } else {
    gc_foreground_actions(obj, path, deps, &acts);
    /* Every dependent decides for itself, with this owner waiting
     * (upstream attemptToDelete of the owner's dependents). */
    size_t i;
    json_t *d;
    json_array_foreach (deps, i, d) {
      const char *du = kj_get_str(json_object_get(d, "obj"), "metadata.uid");
      if (du && !kj_get(json_object_get(d, "obj"), "metadata.deletionTimestamp")) cm_base_enqueue_key(&gc->base, du);
    }
  }
  cm_run_add(run, &acts);
  cm_actions_clear(&acts);
  /* Until the finalizer goes, dependents' events bring us back; the
   * timer covers dependents of kinds no informer watches. */
  if (json_array_size(deps)) cm_run_requeue_after(run, GC_WAIT_REQUEUE_MS);
  json_decref(deps);
}

static void gc_sync(struct cm_base *b, const char *uid)
{
  struct gc_ctl *gc = (struct gc_ctl *)b;
  char path[900];
  json_t *obj = gc_lookup(gc, uid, path, sizeof path);
  struct cm_run *run = cm_run_begin(b, uid, NULL, NULL);
  if (obj && kj_get(obj, "metadata.deletionTimestamp") &&
      (gc_has_finalizer(obj, GC_FIN_ORPHAN) || gc_has_finalizer(obj, GC_FIN_FOREGROUND)))
    gc_sync_owner(gc, run, obj, path, uid);
  else if (obj && json_array_size(kj_get(obj, "metadata.ownerReferences")) &&
           !kj_get(obj, "metadata.deletionTimestamp"))
    gc_sync_dependent(gc, run, obj, path);
  json_decref(obj);
  cm_run_end(run);
}

/* ---- the resources ---- */

static struct gc_res *gc_add_res(struct gc_ctl *gc, const char *path, struct informer *inf, bool owned)
{
  struct gc_res *r = xcalloc(1, sizeof *r);
  r->gc = gc;
  r->idx = gc->nres;
  r->path = xstrdup(path);
  r->inf = inf;
  r->owned = owned;
  gc->res = xrealloc(gc->res, (gc->nres + 1) * sizeof *gc->res);
  gc->res[gc->nres++] = r;
  struct informer_handlers h = {gc_on_add, gc_on_update, gc_on_delete, r};
  informer_add_handlers(inf, &h);
  return r;
}

static struct gc_res *gc_find_res(const struct gc_ctl *gc, const char *path)
{
  for (size_t i = 0; i < gc->nres; i++)
    if (gc->res[i]->inf && !strcmp(gc->res[i]->path, path)) return gc->res[i];
  return NULL;
}

/* A resource no longer served: its informer goes, and its objects leave
 * the graph (their dependents are looked at again). */
static void gc_drop_res(struct gc_ctl *gc, struct gc_res *r)
{
  KLOG_I("garbage collector: no longer watching %s (not served any more)", r->path);
  informer_free(r->inf);
  r->inf = NULL;
  json_t *gone = json_array();
  const char *uid;
  json_t *n;
  json_object_foreach (gc->nodes, uid, n)
    if ((size_t)json_integer_value(json_array_get(n, 0)) == r->idx) json_array_append_new(gone, json_string(uid));
  size_t i;
  json_t *u;
  json_array_foreach (gone, i, u) {
    const char *us = json_string_value(u);
    json_object_del(gc->nodes, us);
    const char *owner;
    json_t *set, *tmp;
    json_object_foreach_safe (gc->deps, tmp, owner, set) {
      json_object_del(set, us);
      if (json_object_size(set) == 0) json_object_del(gc->deps, owner);
    }
    const char *dep;
    json_t *v;
    json_object_foreach (json_object_get(gc->deps, us), dep, v) cm_base_enqueue_key(&gc->base, dep);
  }
  json_decref(gone);
}

static void gc_watch_res(struct gc_ctl *gc, const char *path)
{
  struct informer_opts o = {.path = path, .drop_managed_fields = true};
  struct informer *inf = informer_new(gc->base.ctx->base, gc->base.ctx->client, &o);
  if (!inf) return;
  KLOG_I("garbage collector: watching %s", path);
  gc_add_res(gc, path, inf, true);
  informer_start(inf);
}

/* A discovery pass answered: kinds from everything served, informers for
 * every deletable resource not watched yet, and (when every group
 * answered) the informers of resources gone freed. */
static void gc_discovered(void *arg, json_t *lists, const char *failed)
{
  struct gc_ctl *gc = arg;
  gc->disc = NULL;
  if (failed) KLOG_W("garbage collector: discovery failed for some groups: %s", failed);
  json_t *all = json_array(), *deletable = json_array();
  cm_discovery_resources(lists, "get", NULL, all);
  cm_discovery_resources(lists, "list,watch,delete", GC_IGNORED, deletable);
  size_t i;
  json_t *r;
  json_array_foreach (all, i, r) {
    char k[400];
    snprintf(k, sizeof k, "%s/%s", kj_get_str(r, "apiVersion"), kj_get_str(r, "kind"));
    json_object_set(gc->kinds, k, r);
  }
  json_array_foreach (deletable, i, r)
    if (!gc_find_res(gc, kj_get_str(r, "path"))) gc_watch_res(gc, kj_get_str(r, "path"));
  for (size_t j = 0; j < gc->nres && !failed; j++) {
    struct gc_res *res = gc->res[j];
    if (!res->inf || !res->owned) continue;
    bool served = false;
    json_array_foreach (deletable, i, r)
      if (!strcmp(kj_get_str(r, "path"), res->path)) served = true;
    if (!served) gc_drop_res(gc, res);
  }
  json_decref(all);
  json_decref(deletable);
  json_decref(lists);
  struct timeval tv = {GC_DISCOVERY_PERIOD_MS / 1000, 0};
  evtimer_add(gc->disc_timer, &tv);
}

static void gc_disc_cb(evutil_socket_t fd, short what, void *arg)
{
  struct gc_ctl *gc = arg;
  if (gc->disc) return;
  gc->disc = cm_discovery_start(gc->base.ctx->client, gc_discovered, gc);
  if (!gc->disc) {
    struct timeval tv = {GC_DISCOVERY_PERIOD_MS / 1000, 0};
    evtimer_add(gc->disc_timer, &tv);
  }
}

/* A CRD changed: discover again soon rather than at the next period. */
static void gc_crd_changed(struct gc_ctl *gc)
{
  if (gc->disc) return;
  struct timeval tv = {GC_DISCOVERY_SOON_MS / 1000, (GC_DISCOVERY_SOON_MS % 1000) * 1000};
  evtimer_add(gc->disc_timer, &tv);
}
static void gc_crd_add(void *arg, const json_t *o) { gc_crd_changed(arg); }
static void gc_crd_update(void *arg, const json_t *o, const json_t *n)
{
  if (o != n && !cm_json_eq(kj_get(o, "status"), kj_get(n, "status"))) gc_crd_changed(arg);
}
static void gc_crd_delete(void *arg, const json_t *o, bool unknown) { gc_crd_changed(arg); }

static int gc_init(struct cm_base *b)
{
  struct gc_ctl *gc = (struct gc_ctl *)b;
  gc->nodes = json_object();
  gc->deps = json_object();
  gc->kinds = json_object();
  for (size_t i = 0; i < GC_NRES; i++)
    gc_add_res(gc, gc_resources[i], informer_factory_get(b->ctx->informers, gc_resources[i]), false);
  gc->crds = informer_factory_get(b->ctx->informers, GC_CRDS); /* one of the above */
  struct informer_handlers h = {gc_crd_add, gc_crd_update, gc_crd_delete, gc};
  informer_add_handlers(gc->crds, &h);
  gc->disc_timer = evtimer_new(b->ctx->base, gc_disc_cb, gc);
  return gc->disc_timer ? 0 : -ENOMEM;
}

/* Discovery starts with the workers, once the shared caches synced. */
static void gc_run(struct cm_base *b)
{
  struct gc_ctl *gc = (struct gc_ctl *)b;
  struct timeval tv = {0, 0};
  evtimer_add(gc->disc_timer, &tv);
}

static void gc_fini(struct cm_base *b)
{
  struct gc_ctl *gc = (struct gc_ctl *)b;
  cm_discovery_cancel(gc->disc);
  if (gc->disc_timer) event_free(gc->disc_timer);
  for (size_t i = 0; i < gc->nres; i++) {
    if (gc->res[i]->owned && gc->res[i]->inf) informer_free(gc->res[i]->inf);
    free(gc->res[i]->path);
    free(gc->res[i]);
  }
  free(gc->res);
  json_decref(gc->nodes);
  json_decref(gc->deps);
  json_decref(gc->kinds);
}

const struct controller_def ctrl_garbagecollector = {
    .name = "garbagecollector",
    .service_account = "generic-garbage-collector",
    .enabled_by_default = true,
    .size = sizeof(struct gc_ctl),
    .queue = "garbage_collector_attempt_to_delete",
    .workers_flag = offsetof(struct cm_config, concurrent_gc_syncs),
    .workers = 20,
    .sync = gc_sync,
    .init = gc_init,
    .run = gc_run,
    .fini = gc_fini,
};
