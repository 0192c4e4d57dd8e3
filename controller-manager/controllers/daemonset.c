/*
 * daemonset.c - the DaemonSet controller (upstream
 * pkg/controller/daemon).
 *
 * For every node the sync decides whether a daemon pod should run there
 * (nodeSelector, required node affinity, and NoSchedule / NoExecute
 * taints against the template's tolerations plus the default ones the
 * DaemonSet adds: not-ready and unreachable NoExecute; disk-, memory-,
 * pid-pressure and unschedulable NoSchedule; network-unavailable for
 * hostNetwork pods) and whether an existing one may keep running (only
 * NoExecute taints evict).  Missing pods are created, pinned to their node
 * by a required node affinity term matchFields metadata.name In [node]
 * (the scheduler then binds them), in slow-start batches; failed pods,
 * extra pods and pods on nodes that no longer qualify are deleted.
 *
 * The template is recorded as a ControllerRevision DS-HASH; pods carry
 * controller-revision-hash=HASH.  RollingUpdate replaces old pods node by
 * node: without maxSurge, old pods are deleted while fewer than
 * maxUnavailable nodes are unavailable (unavailable old pods at once);
 * with maxSurge, a new pod starts next to the old one and the old one is
 * deleted when the new one is available.  OnDelete leaves old pods alone.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm.h"
#include "controller_utils.h"
#include "controllers/daemonset.h"
#include "controllers/deployment.h"
#include "controllers/statefulset.h"
#include "kube/informer.h"
#include "kube/json.h"
#include "kube/scheduling.h"
#include "kube/log.h"
#include "kube/selector.h"
#include "kube/xalloc.h"

json_t *ds_template_with_tolerations(const json_t *ds)
{
  json_t *t = kj_deep_copy(kj_get(ds, "spec.template"));
  if (!t) t = json_object();
  json_t *tols = kj_arr(t, "spec.tolerations");
  static const char *const defs[][2] = {
      {"node.kubernetes.io/not-ready", "NoExecute"},
      {"node.kubernetes.io/unreachable", "NoExecute"},
      {"node.kubernetes.io/disk-pressure", "NoSchedule"},
      {"node.kubernetes.io/memory-pressure", "NoSchedule"},
      {"node.kubernetes.io/pid-pressure", "NoSchedule"},
      {"node.kubernetes.io/unschedulable", "NoSchedule"},
      {"node.kubernetes.io/network-unavailable", "NoSchedule"},
  };
  size_t n = sizeof defs / sizeof defs[0];
  if (!kj_get_bool(t, "spec.hostNetwork", false)) n--;
  for (size_t i = 0; i < n; i++) {
    bool have = false;
    size_t k;
    json_t *tol;
    json_array_foreach (tols, k, tol) {
      const char *key = kj_get_str(tol, "key"), *eff = kj_get_str(tol, "effect");
      if (key && eff && !strcmp(key, defs[i][0]) && !strcmp(eff, defs[i][1])) have = true;
    }
    if (!have)
      json_array_append_new(tols,
                            json_pack("{s:s,s:s,s:s}", "key", defs[i][0], "operator", "Exists", "effect", defs[i][1]));
  }
  return t;
}

void ds_node_should_run(const json_t *ds, const json_t *node, bool *should_run, bool *should_continue)
{
  json_t *t = ds_template_with_tolerations(ds);
  *should_run = *should_continue = false;
  const char *want_node = kj_get_str(t, "spec.nodeName");
  const char *name = kj_get_str(node, "metadata.name");
  if (want_node && *want_node && (!name || strcmp(want_node, name))) goto out;
  const char *k;
  json_t *v;
  json_t *labels = kj_get(node, "metadata.labels");
  json_object_foreach (kj_get(t, "spec.nodeSelector"), k, v) {
    json_t *lv = json_object_get(labels, k);
    if (!lv || !json_equal(lv, v)) goto out;
  }
  json_t *req = kj_get(t, "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution");
  if (req && !node_selector_matches(req, node)) goto out;
  json_t *tols = kj_get(t, "spec.tolerations");
  bool fits = true, cont = true;
  size_t i;
  json_t *taint;
  json_array_foreach (kj_get(node, "spec.taints"), i, taint) {
    const char *eff = kj_get_str(taint, "effect");
    if (!eff || !strcmp(eff, "PreferNoSchedule")) continue;
    if (tolerations_tolerate_taint(tols, taint)) continue;
    fits = false;
    if (!strcmp(eff, "NoExecute")) cont = false;
  }
  *should_run = fits;
  *should_continue = cont;
out:
  json_decref(t);
}

void ds_pin_to_node(json_t *pod, const char *node)
{
  json_t *term =
      json_pack("[{s:[{s:s,s:s,s:[s]}]}]", "matchFields", "key", "metadata.name", "operator", "In", "values", node);
  kj_set(pod, "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms", term);
}

/* The node a daemon pod is for: spec.nodeName, else its pinning term. */
static const char *pod_target_node(const json_t *pod)
{
  const char *n = kj_get_str(pod, "spec.nodeName");
  if (n && *n) return n;
  json_t *terms =
      kj_get(pod, "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms");
  size_t i, k;
  json_t *t, *r;
  json_array_foreach (terms, i, t)
    json_array_foreach (json_object_get(t, "matchFields"), k, r) {
      const char *key = kj_get_str(r, "key"), *op = kj_get_str(r, "operator");
      if (key && op && !strcmp(key, "metadata.name") && !strcmp(op, "In") &&
          json_array_size(json_object_get(r, "values")) == 1)
        return json_string_value(json_array_get(json_object_get(r, "values"), 0));
    }
  return NULL;
}

/* One sync's state: the DaemonSet, its writes, and per node whether a
 * daemon pod should run there and which of its pods are bound or pinned
 * to it. */
struct ds_ctx {
  const json_t *ds;
  json_t *ref;
  struct cm_actions *acts;
  const char *ns, *name;
  char hash[16];
  int64_t now, min_ready;
  bool manage, rolling;
  int adds, dels;
  size_t nn;
  bool *run;
  json_t **node_pods;
  int64_t desired, current, misscheduled, ready, available, updated;
  int64_t collision_bump; /* 1 when the revision name is taken by other data */
};

static void create_on(struct ds_ctx *c, const char *node)
{
  json_t *t = ds_template_with_tolerations(c->ds);
  kj_set_str(t, "metadata.labels[\"controller-revision-hash\"]", c->hash);
  char gen[32];
  snprintf(gen, sizeof gen, "%lld", (long long)kj_get_int(c->ds, "metadata.generation", 0));
  kj_set_str(t, "metadata.labels[\"pod-template-generation\"]", gen);
  json_t *pod = cm_pod_from_template(t, c->ds, "apps/v1", "DaemonSet");
  json_decref(t);
  ds_pin_to_node(pod, node);
  char path[512];
  cm_path(path, sizeof path, "/api/v1", c->ns, "pods", NULL, NULL);
  struct cm_action *act = cm_act(c->acts, CM_POST, path, pod);
  act->slow_start = true;
  act->expect = CM_EXPECT_CREATE;
  cm_act_events(act, c->ref, "SuccessfulCreate", "Created pod: ", "FailedCreate", "Error creating");
  act->ok_append_name = true;
  c->adds++;
}

static void delete_pod(struct ds_ctx *c, const json_t *pod)
{
  if (obj_is_terminating(pod)) return;
  const char *name = kj_get_str(pod, "metadata.name");
  char path[512], msg[400];
  cm_path(path, sizeof path, "/api/v1", c->ns, "pods", name, NULL);
  struct cm_action *act = cm_act(c->acts, CM_DELETE, path, NULL);
  act->expect = CM_EXPECT_DELETE;
  snprintf(msg, sizeof msg, "Deleted pod: %s", name);
  cm_act_events(act, c->ref, "SuccessfulDelete", msg, "FailedDelete", "Error deleting");
  c->dels++;
}

static bool pod_updated(const struct ds_ctx *c, const json_t *pod)
{
  const char *h = kj_get_str(pod, "metadata.labels[\"controller-revision-hash\"]");
  return h && !strcmp(h, c->hash);
}

/* Step 1: the ControllerRevision of the current template, by data among
 * the claimed ones, else created as DS-HASH.  A name already taken by
 * other data (a hash collision, upstream's snapshot) bumps
 * status.collisionCount so the next sync hashes again; one taken by the
 * same data is the revision (it gets adopted once its labels match). */
static void ds_sync_revision(struct ds_ctx *c, const json_t *revs, const json_t *revs_ns)
{
  json_t *data = sts_revision_data(c->ds);
  int64_t maxrev = 0;
  const json_t *eq = NULL;
  size_t i;
  json_t *r;
  json_array_foreach (revs, i, r) {
    if (kj_get_int(r, "revision", 0) > maxrev) maxrev = kj_get_int(r, "revision", 0);
    if (!eq && dep_semantic_equal(json_object_get(r, "data"), data)) eq = r;
  }
  const char *h = eq ? kj_get_str(eq, "metadata.labels[\"controller-revision-hash\"]") : NULL;
  if (h) {
    snprintf(c->hash, sizeof c->hash, "%s", h);
    json_decref(data);
    return;
  }
  json_t *cc = kj_get(c->ds, "status.collisionCount");
  dep_compute_hash(data, json_is_integer(cc) ? json_integer_value(cc) : -1, c->hash);
  char name[300], path[512];
  snprintf(name, sizeof name, "%s-%s", c->name, c->hash);
  const json_t *taken = cm_find_named(revs_ns, name);
  if (taken) {
    if (!dep_semantic_equal(json_object_get(taken, "data"), data)) c->collision_bump = 1;
    json_decref(data);
    return;
  }
  json_t *labels = kj_deep_copy(kj_get(c->ds, "spec.template.metadata.labels"));
  if (!labels) labels = json_object();
  json_object_set_new(labels, "controller-revision-hash", json_string(c->hash));
  json_t *cr = json_pack("{s:s,s:s,s:{s:s,s:s,s:o,s:[o]},s:o,s:I}", "apiVersion", "apps/v1", "kind",
                         "ControllerRevision", "metadata", "name", name, "namespace", c->ns, "labels", labels,
                         "ownerReferences", cm_new_controller_ref(c->ds, "apps/v1", "DaemonSet"), "data", data,
                         "revision", (json_int_t)(maxrev + 1));
  cm_path(path, sizeof path, "/apis/apps/v1", c->ns, "controllerrevisions", NULL, NULL);
  cm_act(c->acts, CM_POST, path, cr);
}

/* The daemon pods of one node: its own or the ones pinned to it. */
static json_t *pods_of_node(const json_t *pods, const char *node)
{
  json_t *out = json_array();
  size_t k;
  json_t *p;
  json_array_foreach (pods, k, p) {
    const char *tn = pod_target_node(p);
    if (tn && node && !strcmp(tn, node)) json_array_append(out, p);
  }
  return out;
}

/* Status counts look at the newest pod on a node that should run one. */
static void count_node(struct ds_ctx *c, const json_t *np)
{
  json_t *best = NULL, *p;
  size_t k;
  json_array_foreach (np, k, p)
    if (!best || pod_updated(c, p)) best = p;
  if (pod_is_ready(best)) c->ready++;
  if (pod_is_available(best, c->min_ready, c->now)) c->available++;
  if (pod_updated(c, best)) c->updated++;
}

/* Extra pods on a node: keep the oldest (with surge, an old and a new
 * may coexist for a while). */
static void delete_extra(struct ds_ctx *c, const json_t *keep)
{
  json_t *olds = json_array(), *news = json_array(), *p;
  size_t k;
  json_array_foreach (keep, k, p) json_array_append(pod_updated(c, p) ? news : olds, p);
  dep_sort_by_creation(olds, false);
  dep_sort_by_creation(news, false);
  bool surge = c->rolling && json_array_size(olds) >= 1 && json_array_size(news) >= 1;
  json_array_foreach (olds, k, p)
    if (k > 0 || (!surge && json_array_size(news) > 0)) delete_pod(c, p);
  json_array_foreach (news, k, p)
    if (k > 0) delete_pod(c, p);
  json_decref(olds);
  json_decref(news);
}

/* A node that should run the daemon: a missing pod is created, failed
 * pods are deleted (and replaced once gone), extras removed. */
static void manage_running_node(struct ds_ctx *c, const char *node, const json_t *np)
{
  if (json_array_size(np) == 0) {
    create_on(c, node);
    return;
  }
  json_t *keep = json_array(), *p;
  size_t k;
  bool any_deleting = false;
  json_array_foreach (np, k, p) {
    if (obj_is_terminating(p)) {
      any_deleting = true;
      continue;
    }
    const char *ph = kj_get_str(p, "status.phase");
    if (ph && !strcmp(ph, "Failed")) {
      cm_act_event(c->acts, c->ref, "Warning", "FailedDaemonPod",
                   "Found failed daemon pod %s/%s on node %s, will try to kill it", c->ns,
                   kj_get_str(p, "metadata.name"), node);
      delete_pod(c, p);
      continue;
    }
    json_array_append(keep, p);
  }
  if (json_array_size(keep) == 0 && !any_deleting) create_on(c, node);
  if (json_array_size(keep) > 1) delete_extra(c, keep);
  json_decref(keep);
}

/* Step 2: every node: should it run a daemon pod, the status counts, and
 * (when the controller may manage) creations and deletions. */
static void ds_manage_nodes(struct ds_ctx *c, const json_t *nodes, const json_t *pods)
{
  size_t i;
  json_t *node;
  json_array_foreach (nodes, i, node) {
    bool sr, sc;
    ds_node_should_run(c->ds, node, &sr, &sc);
    const char *nname = kj_get_str(node, "metadata.name");
    json_t *np = c->node_pods[i] = pods_of_node(pods, nname);
    bool has = json_array_size(np) > 0;
    c->run[i] = sr;
    c->desired += sr;
    c->current += has && sr;
    c->misscheduled += has && !sr;
    if (has && sr) count_node(c, np);
    if (!c->manage) continue;
    if (sr) {
      manage_running_node(c, nname, np);
    } else if (!sc) {
      /* Only what the node no longer tolerates (or selects) evicts. */
      size_t k;
      json_t *p;
      json_array_foreach (np, k, p) delete_pod(c, p);
    }
  }
}

/* Step 3: RollingUpdate over nodes with exactly one live pod.  Without
 * maxSurge, old pods are deleted while fewer than maxUnavailable nodes
 * are unavailable (unavailable old pods at once); with maxSurge, a new
 * pod starts next to an old one and the old one goes once the new one
 * is available. */
static void ds_rolling_update(struct ds_ctx *c, const json_t *nodes)
{
  int64_t max_unavail = 1, max_surge = 0;
  json_t *mu = kj_get(c->ds, "spec.updateStrategy.rollingUpdate.maxUnavailable");
  json_t *ms = kj_get(c->ds, "spec.updateStrategy.rollingUpdate.maxSurge");
  if (mu) cm_int_or_percent(mu, c->desired, true, &max_unavail);
  if (ms) cm_int_or_percent(ms, c->desired, true, &max_surge);
  if (max_surge == 0 && max_unavail == 0) max_unavail = 1;
  int64_t unavailable = 0, surging = 0;
  json_t *to_delete = json_array(), *candidates = json_array(), *new_nodes = json_array(), *cand_nodes = json_array();
  size_t i;
  json_t *node;
  json_array_foreach (nodes, i, node) {
    if (!c->run[i]) continue;
    json_t *oldp = NULL, *newp = NULL, *p;
    size_t k;
    json_array_foreach (c->node_pods[i], k, p) {
      if (obj_is_terminating(p)) continue;
      if (pod_updated(c, p)) newp = p;
      else oldp = p;
    }
    bool old_av = oldp && pod_is_available(oldp, c->min_ready, c->now);
    bool new_av = newp && pod_is_available(newp, c->min_ready, c->now);
    const char *nname = kj_get_str(node, "metadata.name");
    if (!oldp) {
      if (!newp || !new_av) unavailable++;
    } else if (!newp) {
      if (max_surge == 0) json_array_append(old_av ? candidates : to_delete, oldp);
      else json_array_append_new(old_av ? cand_nodes : new_nodes, json_string(nname));
    } else if (max_surge > 0) {
      if (new_av) json_array_append(to_delete, oldp);
      else surging++;
    }
  }
  int64_t room = max_surge == 0 ? max_unavail - unavailable : max_surge - surging;
  json_t *from = max_surge == 0 ? candidates : cand_nodes, *into = max_surge == 0 ? to_delete : new_nodes;
  for (size_t k = 0; (int64_t)k < room && k < json_array_size(from); k++)
    json_array_append(into, json_array_get(from, k));
  json_t *p;
  json_array_foreach (to_delete, i, p) delete_pod(c, p);
  json_array_foreach (new_nodes, i, p) create_on(c, json_string_value(p));
  json_decref(to_delete);
  json_decref(candidates);
  json_decref(new_nodes);
  json_decref(cand_nodes);
}

/* Step 4: the status, written when it changed. */
static void ds_write_status(struct ds_ctx *c)
{
  json_t *st = kj_deep_copy(kj_get(c->ds, "status"));
  if (!st) st = json_object();
  json_object_set_new(st, "desiredNumberScheduled", json_integer(c->desired));
  json_object_set_new(st, "currentNumberScheduled", json_integer(c->current));
  json_object_set_new(st, "numberMisscheduled", json_integer(c->misscheduled));
  json_object_set_new(st, "numberReady", json_integer(c->ready));
  json_object_set_new(st, "numberAvailable", json_integer(c->available));
  json_object_set_new(st, "numberUnavailable", json_integer(c->desired - c->available));
  json_object_set_new(st, "updatedNumberScheduled", json_integer(c->updated));
  json_object_set_new(st, "observedGeneration", json_integer(kj_get_int(c->ds, "metadata.generation", 0)));
  if (c->available == 0) json_object_del(st, "numberAvailable");
  if (c->desired - c->available <= 0) json_object_del(st, "numberUnavailable");
  if (c->collision_bump)
    json_object_set_new(st, "collisionCount", json_integer(kj_get_int(c->ds, "status.collisionCount", 0) + 1));
  if (!kj_equal(st, kj_get(c->ds, "status"))) {
    char path[512];
    cm_path(path, sizeof path, "/apis/apps/v1", c->ns, "daemonsets", c->name, "status");
    json_t *body = kj_deep_copy(c->ds);
    json_object_set(body, "status", st);
    if (!kj_get_str(body, "kind")) json_object_set_new(body, "kind", json_string("DaemonSet"));
    if (!kj_get_str(body, "apiVersion")) json_object_set_new(body, "apiVersion", json_string("apps/v1"));
    cm_act(c->acts, CM_PUT, path, body);
  }
  json_decref(st);
}

int ds_compute(const json_t *ds, const json_t *nodes, const json_t *pods_ns, const json_t *revs_ns, bool may_manage,
               int64_t now, struct cm_actions *acts, int *adds, int *dels, int64_t *requeue_ms)
{
  *adds = *dels = 0;
  *requeue_ms = -1;
  char err[256];
  struct labelsel *sel = labelsel_from_json(kj_get(ds, "spec.selector"), err, sizeof err);
  if (!sel) return -EINVAL;
  struct ds_ctx c = {.ds = ds, .acts = acts, .now = now};
  c.ns = kj_get_str(ds, "metadata.namespace");
  c.name = kj_get_str(ds, "metadata.name");
  if (!c.ns) c.ns = "";
  if (!c.name) c.name = "";
  c.ref = cm_object_ref(ds, "apps/v1", "DaemonSet");
  c.min_ready = kj_get_int(ds, "spec.minReadySeconds", 0);
  const char *st_type = kj_get_str(ds, "spec.updateStrategy.type");
  c.rolling = !st_type || !strcmp(st_type, "RollingUpdate");
  json_t *pods = cm_claim_pods(ds, "apps/v1", "DaemonSet", sel, pods_ns, acts);
  json_t *revs =
      cm_claim_objects(ds, "apps/v1", "DaemonSet", sel, revs_ns, "/apis/apps/v1", "controllerrevisions", acts);
  ds_sync_revision(&c, revs, revs_ns);
  /* While the revision name collides, nothing is created under it. */
  c.manage = may_manage && !obj_is_terminating(ds) && !c.collision_bump;
  c.nn = json_array_size(nodes);
  c.run = xcalloc(c.nn + 1, sizeof *c.run);
  c.node_pods = xcalloc(c.nn + 1, sizeof *c.node_pods);
  ds_manage_nodes(&c, nodes, pods);
  if (c.manage && c.rolling && c.adds == 0 && c.dels == 0) ds_rolling_update(&c, nodes);
  ds_write_status(&c);
  if (c.min_ready > 0 && c.ready != c.available) *requeue_ms = c.min_ready * 1000;
  for (size_t i = 0; i < c.nn; i++) json_decref(c.node_pods[i]);
  free(c.node_pods);
  free(c.run);
  *adds = c.adds;
  *dels = c.dels;
  json_decref(revs);
  json_decref(pods);
  labelsel_free(sel);
  json_decref(c.ref);
  return 0;
}

/* ---- the controller ---- */

struct ds_ctrl {
  struct cm_base base;
  struct informer *ds_inf, *pod_inf, *node_inf, *rev_inf;
  struct cm_expectations *exp;
};

static void ds_sync(struct cm_base *b, const char *key)
{
  struct ds_ctrl *c = (struct ds_ctrl *)b;
  json_t *ds = informer_store_get_obj(c->ds_inf, key);
  if (!ds) {
    cm_expectations_delete(c->exp, key);
    cm_base_finish(b, key, false, -1);
    return;
  }
  int64_t now = cm_now();
  const char *ns = kj_get_str(ds, "metadata.namespace");
  json_t *pods = informer_store_by_index(c->pod_inf, INFORMER_INDEX_NAMESPACE, ns ? ns : "");
  json_t *revs = informer_store_by_index(c->rev_inf, INFORMER_INDEX_NAMESPACE, ns ? ns : "");
  json_t *nodes = informer_store_list(c->node_inf);
  if (!pods) pods = json_array();
  if (!revs) revs = json_array();
  struct cm_actions acts;
  cm_actions_init(&acts);
  int adds, dels;
  int64_t requeue;
  bool may = cm_expectations_satisfied(c->exp, key, now);
  ds_compute(ds, nodes, pods, revs, may, now, &acts, &adds, &dels, &requeue);
  if (adds || dels) cm_expect(c->exp, key, adds, dels, now);
  json_decref(pods);
  json_decref(revs);
  json_decref(nodes);
  json_decref(ds);
  cm_base_exec(b, key, &acts, c->exp, requeue);
  cm_actions_clear(&acts);
}

static void enqueue_all(struct ds_ctrl *c)
{
  json_t *keys = informer_store_keys(c->ds_inf);
  size_t i;
  json_t *k;
  json_array_foreach (keys, i, k) cm_base_enqueue_key(&c->base, json_string_value(k));
  json_decref(keys);
}

static void on_pod_add(void *arg, const json_t *p)
{
  struct ds_ctrl *c = arg;
  char key[512];
  if (!cm_owner_key(p, "DaemonSet", key, sizeof key)) return;
  cm_creation_observed(c->exp, key);
  cm_base_enqueue_key(&c->base, key);
}
static void on_pod_update(void *arg, const json_t *o, const json_t *n)
{
  struct ds_ctrl *c = arg;
  char key[512];
  if (!cm_owner_key(n, "DaemonSet", key, sizeof key)) return;
  if (obj_is_terminating(n) && !obj_is_terminating(o)) cm_deletion_observed(c->exp, key);
  cm_base_enqueue_key(&c->base, key);
}
static void on_pod_delete(void *arg, const json_t *p, bool unknown)
{
  struct ds_ctrl *c = arg;
  char key[512];
  if (!cm_owner_key(p, "DaemonSet", key, sizeof key)) return;
  if (!obj_is_terminating(p)) cm_deletion_observed(c->exp, key);
  cm_base_enqueue_key(&c->base, key);
}
static void on_node_add(void *arg, const json_t *n) { enqueue_all(arg); }
static void on_node_update(void *arg, const json_t *o, const json_t *n)
{
  if (!kj_equal(kj_get(o, "metadata.labels"), kj_get(n, "metadata.labels")) ||
      !kj_equal(kj_get(o, "spec.taints"), kj_get(n, "spec.taints")))
    enqueue_all(arg);
}
static void on_node_delete(void *arg, const json_t *n, bool unknown) { enqueue_all(arg); }

static int ds_init(struct cm_base *b)
{
  struct ds_ctrl *c = (struct ds_ctrl *)b;
  struct informer_factory *f = b->ctx->informers;
  c->exp = cm_expectations_new();
  c->ds_inf = informer_factory_get(f, CM_DAEMONSETS);
  c->pod_inf = informer_factory_get(f, CM_PODS);
  c->node_inf = informer_factory_get(f, CM_NODES);
  c->rev_inf = informer_factory_get(f, CM_CONTROLLERREVISIONS);
  informer_add_index(c->pod_inf, INFORMER_INDEX_NAMESPACE, informer_index_namespace, NULL);
  informer_add_index(c->rev_inf, INFORMER_INDEX_NAMESPACE, informer_index_namespace, NULL);
  struct informer_handlers dh = {cm_on_add_enqueue, cm_on_update_enqueue, NULL, c};
  struct informer_handlers ph = {on_pod_add, on_pod_update, on_pod_delete, c};
  struct informer_handlers nh = {on_node_add, on_node_update, on_node_delete, c};
  informer_add_handlers(c->ds_inf, &dh);
  informer_add_handlers(c->pod_inf, &ph);
  informer_add_handlers(c->node_inf, &nh);
  return 0;
}

static void ds_fini(struct cm_base *b) { cm_expectations_free(((struct ds_ctrl *)b)->exp); }

const struct controller_def ctrl_daemonset = {
    .name = "daemonset",
    .service_account = "daemon-set-controller",
    .enabled_by_default = true,
    .size = sizeof(struct ds_ctrl),
    .queue = "daemonset",
    .component = "daemonset-controller",
    .workers_flag = offsetof(struct cm_config, concurrent_daemonset_syncs),
    .workers = 2,
    .sync = ds_sync,
    .init = ds_init,
    .fini = ds_fini,
};
