/*
 * replicaset.c - the ReplicaSet controller (upstream
 * pkg/controller/replicaset), whose core also drives
 * ReplicationControllers (upstream pkg/controller/replication): both
 * controllers are defined at the end of this file.
 *
 * A sync keeps spec.replicas active pods matching the selector: it claims
 * pods (adopting matching orphans, releasing owned pods that stopped
 * matching), then creates the missing ones from the template in slow-start
 * batches or deletes the surplus in upstream's rank order, at most 500 per
 * sync.  Expectations record the creates and deletes in flight, so that a
 * sync never acts again on a cache that has not yet seen its own writes
 * (no over-creation); pod events from the informer lower them.  The status
 * (replicas, fullyLabeledReplicas, readyReplicas, availableReplicas,
 * observedGeneration, the ReplicaFailure condition) is written with PUT
 * .../status only when it changed.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm.h"
#include "controller_utils.h"
#include "controllers/replicaset.h"
#include "kube/informer.h"
#include "kube/json.h"
#include "kube/log.h"
#include "kube/selector.h"
#include "kube/workqueue.h"
#include "kube/xalloc.h"

const struct rs_kind rs_kind_replicaset = {"apps/v1",     "ReplicaSet",   "/apis/apps/v1",
                                           "replicasets", CM_REPLICASETS, false};
const struct rs_kind rs_kind_rc = {
    "v1", "ReplicationController", "/api/v1", "replicationcontrollers", CM_REPLICATIONCONTROLLERS, true};

static struct labelsel *rs_selector(const struct rs_kind *k, const json_t *rs)
{
  char err[256];
  json_t *sel = kj_get(rs, "spec.selector");
  if (k->selector_is_map) {
    if (!json_object_size(sel)) return NULL; /* an empty RC selector manages nothing */
    return cm_selector_from_map(sel);
  }
  return labelsel_from_json(sel, err, sizeof err);
}

static bool labels_superset(const json_t *labels, const json_t *want)
{
  const char *k;
  json_t *v;
  json_object_foreach ((json_t *)want, k, v) {
    json_t *have = json_object_get(labels, k);
    if (!have || !json_equal(have, v)) return false;
  }
  return true;
}

json_t *rs_calculate_status(const json_t *rs, const json_t *owned, const struct rs_manage_error *merr, int64_t now)
{
  int64_t min_ready = kj_get_int(rs, "spec.minReadySeconds", 0);
  json_t *tmpl_labels = kj_get(rs, "spec.template.metadata.labels");
  int64_t full = 0, ready = 0, avail = 0;
  size_t i;
  json_t *p;
  json_array_foreach (owned, i, p) {
    if (!tmpl_labels || labels_superset(kj_get(p, "metadata.labels"), tmpl_labels)) full++;
    if (pod_is_ready(p)) {
      ready++;
      if (pod_is_available(p, min_ready, now)) avail++;
    }
  }
  json_t *st = json_object();
  json_t *old_conds = kj_get(rs, "status.conditions");
  if (old_conds) json_object_set_new(st, "conditions", kj_deep_copy(old_conds));
  json_t *holder = json_pack("{s:O}", "status", st);
  if (merr && merr->message) {
    const char *reason = merr->deleting ? "FailedDelete" : "FailedCreate";
    if (!cm_get_condition(holder, "status.conditions", "ReplicaFailure"))
      cm_set_condition(holder, "status.conditions", "ReplicaFailure", "True", reason, merr->message, now, false);
  } else {
    cm_remove_condition(holder, "status.conditions", "ReplicaFailure");
  }
  json_decref(holder);
  json_t *conds = json_object_get(st, "conditions");
  if (conds && !json_array_size(conds)) json_object_del(st, "conditions");
  json_object_set_new(st, "replicas", json_integer((json_int_t)json_array_size(owned)));
  json_object_set_new(st, "fullyLabeledReplicas", json_integer(full));
  json_object_set_new(st, "readyReplicas", json_integer(ready));
  json_object_set_new(st, "availableReplicas", json_integer(avail));
  json_object_set_new(st, "observedGeneration", json_integer(kj_get_int(rs, "metadata.generation", 0)));
  return st;
}

/* Status fields compared for "changed" (absent integer counts as 0). */
static bool status_equal(const json_t *a, const json_t *b)
{
  const char *f[] = {"replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas", "observedGeneration"};
  for (size_t i = 0; i < 5; i++)
    if (kj_get_int(a, f[i], 0) != kj_get_int(b, f[i], 0)) return false;
  json_t *ca = json_object_get(a, "conditions"), *cb = json_object_get(b, "conditions");
  if (!ca || !json_array_size(ca)) return !cb || !json_array_size(cb);
  return cb && json_equal(ca, cb);
}

/* Rank of each pod for deletion: the number of owned active pods sharing its node. */
static json_t *colocation_ranks(const json_t *pods)
{
  json_t *per_node = json_object(), *ranks = json_object();
  size_t i;
  json_t *p;
  json_array_foreach (pods, i, p) {
    const char *n = kj_get_str(p, "spec.nodeName");
    if (!n || !*n) continue;
    json_object_set_new(per_node, n, json_integer(json_integer_value(json_object_get(per_node, n)) + 1));
  }
  json_array_foreach (pods, i, p) {
    const char *n = kj_get_str(p, "spec.nodeName"), *uid = kj_get_str(p, "metadata.uid");
    if (!uid) continue;
    json_object_set_new(ranks, uid, json_integer(n && *n ? json_integer_value(json_object_get(per_node, n)) : 0));
  }
  json_decref(per_node);
  return ranks;
}

int rs_compute(const struct rs_kind *k, const json_t *rs, const json_t *pods, bool may_manage,
               const struct rs_manage_error *merr, int64_t now, struct cm_actions *acts, struct rs_result *res)
{
  memset(res, 0, sizeof(*res));
  res->del_uids = json_array();
  const char *ns = kj_get_str(rs, "metadata.namespace");
  const char *name = kj_get_str(rs, "metadata.name");
  json_t *ref = cm_object_ref(rs, k->api_version, k->kind);
  struct labelsel *sel = rs_selector(k, rs);

  json_t *active = json_array();
  size_t i;
  json_t *p;
  json_array_foreach (pods, i, p)
    if (pod_is_active(p)) json_array_append(active, p);
  json_t *owned = sel ? cm_claim_pods(rs, k->api_version, k->kind, sel, active, acts) : json_array();
  json_decref(active);

  if (may_manage && sel && !obj_is_terminating(rs)) {
    int64_t want = kj_get_int(rs, "spec.replicas", 1);
    int64_t diff = (int64_t)json_array_size(owned) - want;
    char path[512];
    if (diff < 0) {
      int64_t n = -diff > RS_BURST_REPLICAS ? RS_BURST_REPLICAS : -diff;
      cm_path(path, sizeof path, "/api/v1", ns, "pods", NULL, NULL);
      for (int64_t j = 0; j < n; j++) {
        json_t *pod = cm_pod_from_template(kj_get(rs, "spec.template"), rs, k->api_version, k->kind);
        struct cm_action *act = cm_act(acts, CM_POST, path, pod);
        act->slow_start = true;
        act->expect = CM_EXPECT_CREATE;
        cm_act_events(act, ref, "SuccessfulCreate", "Created pod: ", "FailedCreate", "Error creating");
        act->ok_append_name = true;
      }
      res->adds = (int)n;
    } else if (diff > 0) {
      int64_t n = diff > RS_BURST_REPLICAS ? RS_BURST_REPLICAS : diff;
      json_t *ranks = colocation_ranks(owned);
      json_t *sorted = kj_deep_copy(owned);
      cm_rank_pods_for_deletion(sorted, ranks);
      for (int64_t j = 0; j < n; j++) {
        json_t *victim = json_array_get(sorted, (size_t)j);
        const char *pn = kj_get_str(victim, "metadata.name");
        cm_path(path, sizeof path, "/api/v1", ns, "pods", pn, NULL);
        struct cm_action *act = cm_act(acts, CM_DELETE, path, NULL);
        act->expect = CM_EXPECT_DELETE;
        char okmsg[512];
        snprintf(okmsg, sizeof okmsg, "Deleted pod: %s", pn ? pn : "");
        cm_act_events(act, ref, "SuccessfulDelete", okmsg, "FailedDelete", "Error deleting");
        const char *uid = kj_get_str(victim, "metadata.uid");
        if (uid) json_array_append_new(res->del_uids, json_string(uid));
      }
      json_decref(sorted);
      json_decref(ranks);
    }
  }

  res->status = rs_calculate_status(rs, owned, merr, now);
  json_t *old = kj_get(rs, "status");
  res->status_changed = !old || !status_equal(old, res->status);
  if (res->status_changed) {
    json_t *body = kj_deep_copy(rs);
    json_object_set(body, "status", res->status);
    if (!kj_get_str(body, "kind")) json_object_set_new(body, "kind", json_string(k->kind));
    if (!kj_get_str(body, "apiVersion")) json_object_set_new(body, "apiVersion", json_string(k->api_version));
    char path[512];
    cm_path(path, sizeof path, k->api_prefix, ns, k->coll, name, "status");
    cm_act(acts, CM_PUT, path, body);
  }
  int64_t min_ready = kj_get_int(rs, "spec.minReadySeconds", 0);
  if (min_ready > 0 && kj_get_int(res->status, "readyReplicas", 0) != kj_get_int(res->status, "availableReplicas", 0))
    res->requeue_after_s = min_ready;
  json_decref(owned);
  json_decref(ref);
  labelsel_free(sel);
  return 0;
}

void rs_result_free(struct rs_result *res)
{
  json_decref(res->del_uids);
  json_decref(res->status);
  memset(res, 0, sizeof(*res));
}

/* ---- the controller ---- */

struct rs_ctrl {
  struct cm_base base;
  const struct rs_kind *k;
  struct informer *rs_inf, *pod_inf;
  struct cm_expectations *exp;
  json_t *errors; /* key -> {message, deleting} of the last failed pod create/delete (ReplicaFailure) */
};

/* Only the pod creates and deletes (the writes carrying expectations)
 * make a ReplicaFailure; a status write that lost a race does not. */
static void rs_exec_done(struct cm_base *b, const char *key, const struct cm_outcome *o)
{
  struct rs_ctrl *c = (struct rs_ctrl *)b;
  if (o->expect_error)
    json_object_set_new(
        c->errors, key,
        json_pack("{s:s,s:b}", "message", o->expect_error, "deleting", o->expect_error_verb == CM_DELETE));
  else json_object_del(c->errors, key);
}

static void rs_sync(struct cm_base *b, const char *key)
{
  struct rs_ctrl *c = (struct rs_ctrl *)b;
  json_t *rs = informer_store_get_obj(c->rs_inf, key);
  if (!rs) {
    cm_expectations_delete(c->exp, key);
    json_object_del(c->errors, key);
    cm_base_finish(b, key, false, -1);
    return;
  }
  int64_t now = cm_now();
  bool may_manage = cm_expectations_satisfied(c->exp, key, now);
  json_t *pods = cm_claim_candidates(c->pod_inf, rs);
  struct cm_actions acts;
  cm_actions_init(&acts);
  struct rs_result res;
  json_t *e = json_object_get(c->errors, key);
  struct rs_manage_error merr = {kj_get_str(e, "message"), kj_get_bool(e, "deleting", false)};
  rs_compute(c->k, rs, pods, may_manage, e ? &merr : NULL, now, &acts, &res);
  cm_expect_writes(c->exp, key, res.adds, res.del_uids, now);
  int64_t requeue = res.requeue_after_s > 0 ? res.requeue_after_s * 1000 : -1;
  rs_result_free(&res);
  json_decref(pods);
  json_decref(rs);
  cm_base_exec_cb(b, key, &acts, c->exp, requeue, may_manage ? rs_exec_done : NULL);
  cm_actions_clear(&acts);
}

/* Every RS in the pod's namespace whose selector matches it (for orphans). */
static void enqueue_matching(struct rs_ctrl *c, const json_t *pod)
{
  const char *ns = kj_get_str(pod, "metadata.namespace");
  json_t *all = informer_store_list(c->rs_inf);
  size_t i;
  json_t *rs;
  json_array_foreach (all, i, rs) {
    const char *rns = kj_get_str(rs, "metadata.namespace");
    if (!ns || !rns || strcmp(ns, rns)) continue;
    struct labelsel *sel = rs_selector(c->k, rs);
    if (sel && labelsel_matches(sel, kj_get(pod, "metadata.labels"))) cm_base_enqueue(&c->base, rs);
    labelsel_free(sel);
  }
  json_decref(all);
}

static void on_pod_add(void *arg, const json_t *pod)
{
  struct rs_ctrl *c = arg;
  char key[512];
  if (cm_owner_key(pod, c->k->kind, key, sizeof key)) {
    if (obj_is_terminating(pod)) cm_deletion_uid_observed(c->exp, key, kj_get_str(pod, "metadata.uid"));
    else cm_creation_observed(c->exp, key);
    cm_base_enqueue_key(&c->base, key);
    return;
  }
  if (!obj_controller_ref(pod) && !obj_is_terminating(pod)) enqueue_matching(c, pod);
}

static void on_pod_update(void *arg, const json_t *old, const json_t *cur)
{
  struct rs_ctrl *c = arg;
  char okey[512], nkey[512];
  bool has_old = cm_owner_key(old, c->k->kind, okey, sizeof okey);
  bool has_new = cm_owner_key(cur, c->k->kind, nkey, sizeof nkey);
  if (obj_is_terminating(cur) && has_new) cm_deletion_uid_observed(c->exp, nkey, kj_get_str(cur, "metadata.uid"));
  if (has_old && (!has_new || strcmp(okey, nkey))) cm_base_enqueue_key(&c->base, okey);
  if (has_new) {
    cm_base_enqueue_key(&c->base, nkey);
    /* A pod that just became ready becomes available after minReadySeconds. */
    if (!pod_is_ready(old) && pod_is_ready(cur)) {
      json_t *rs = informer_store_get_obj(c->rs_inf, nkey);
      int64_t mrs = rs ? kj_get_int(rs, "spec.minReadySeconds", 0) : 0;
      if (mrs > 0) workqueue_add_after(c->base.q, nkey, mrs * 1000 + 1000);
      json_decref(rs);
    }
    return;
  }
  if (!kj_equal(kj_get(old, "metadata.labels"), kj_get(cur, "metadata.labels")) || has_old) enqueue_matching(c, cur);
}

static void on_pod_delete(void *arg, const json_t *pod, bool unknown)
{
  struct rs_ctrl *c = arg;
  char key[512];
  if (!cm_owner_key(pod, c->k->kind, key, sizeof key)) return;
  cm_deletion_uid_observed(c->exp, key, kj_get_str(pod, "metadata.uid"));
  cm_base_enqueue_key(&c->base, key);
}

static void on_rs_add(void *arg, const json_t *rs) { cm_base_enqueue(arg, rs); }
static void on_rs_update(void *arg, const json_t *old, const json_t *cur) { cm_base_enqueue(arg, cur); }
static void on_rs_delete(void *arg, const json_t *rs, bool unknown)
{
  struct rs_ctrl *c = arg;
  char key[512];
  if (informer_key(rs, key, sizeof key)) cm_expectations_delete(c->exp, key);
  cm_base_enqueue(arg, rs);
}

/* Informers and handlers of either kind (k set by the caller). */
static int rs_core_init(struct rs_ctrl *c, const struct rs_kind *k)
{
  struct cm_ctx *ctx = c->base.ctx;
  c->k = k;
  c->exp = cm_expectations_new();
  c->errors = json_object();
  c->rs_inf = informer_factory_get(ctx->informers, k->informer_path);
  c->pod_inf = informer_factory_get(ctx->informers, CM_PODS);
  informer_add_index(c->pod_inf, INFORMER_INDEX_NAMESPACE, informer_index_namespace, NULL);
  cm_add_claim_indexes(c->pod_inf);
  struct informer_handlers rh = {on_rs_add, on_rs_update, on_rs_delete, c};
  struct informer_handlers ph = {on_pod_add, on_pod_update, on_pod_delete, c};
  informer_add_handlers(c->rs_inf, &rh);
  informer_add_handlers(c->pod_inf, &ph);
  return 0;
}

static int rs_init(struct cm_base *b) { return rs_core_init((struct rs_ctrl *)b, &rs_kind_replicaset); }
static int rc_init(struct cm_base *b) { return rs_core_init((struct rs_ctrl *)b, &rs_kind_rc); }

static void rs_fini(struct cm_base *b)
{
  struct rs_ctrl *c = (struct rs_ctrl *)b;
  cm_expectations_free(c->exp);
  json_decref(c->errors);
}

const struct controller_def ctrl_replicaset = {
    .name = "replicaset",
    .service_account = "replicaset-controller",
    .enabled_by_default = true,
    .size = sizeof(struct rs_ctrl),
    .queue = "replicaset",
    .component = "replicaset-controller",
    .workers_flag = offsetof(struct cm_config, concurrent_replicaset_syncs),
    .workers = 5,
    .sync = rs_sync,
    .init = rs_init,
    .fini = rs_fini,
};

/* upstream pkg/controller/replication: the same core over v1
 * ReplicationControllers, whose selector is a plain label map. */
const struct controller_def ctrl_replicationcontroller = {
    .name = "replicationcontroller",
    .service_account = "replication-controller",
    .enabled_by_default = true,
    .size = sizeof(struct rs_ctrl),
    .queue = "replicationmanager",
    .component = "replication-controller",
    .workers_flag = offsetof(struct cm_config, concurrent_rc_syncs),
    .workers = 5,
    .sync = rs_sync,
    .init = rc_init,
    .fini = rs_fini,
};
