/*
 * deployment.c - the Deployment controller (upstream
 * pkg/controller/deployment): one sync per Deployment key.
 *
 * The sync claims the ReplicaSets matching the selector, finds the "new"
 * one (the oldest whose template equals the Deployment's, ignoring the
 * pod-template-hash label; so a restart never rolls again), and then:
 * deleting -> status only; paused or a replicas change -> proportional
 * scaling (and history cleanup when paused); otherwise the strategy's
 * rollout (deployment_rolling.c).  A new ReplicaSet is named
 * DEPLOYMENT-HASH after the template hash; if that name is taken by a
 * ReplicaSet with another template, status.collisionCount grows and the
 * next sync hashes again.  The Progressing condition follows the rollout
 * (NewReplicaSetCreated, FoundNewReplicaSet, ReplicaSetUpdated,
 * NewReplicaSetAvailable, ProgressDeadlineExceeded) and the key is
 * requeued at the progress deadline.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm.h"
#include "controller_utils.h"
#include "controllers/deployment.h"
#include "kube/informer.h"
#include "kube/json.h"
#include "kube/log.h"
#include "kube/selector.h"
#include "kube/workqueue.h"
#include "kube/xalloc.h"

static int64_t collision_count(const json_t *d)
{
  json_t *c = kj_get(d, "status.collisionCount");
  return c && json_is_integer(c) ? json_integer_value(c) : -1;
}

static void create_new_rs(struct dep_sync *s, int64_t new_revision)
{
  const char *dname = kj_get_str(s->d, "metadata.name"), *ns = kj_get_str(s->d, "metadata.namespace");
  json_t *tmpl = kj_get(s->d, "spec.template");
  char hash[16], name[300];
  dep_compute_hash(tmpl, collision_count(s->d), hash);
  snprintf(name, sizeof name, "%s-%s", dname, hash);
  json_t *found = NULL;
  const json_t *clash = cm_find_named(s->ns_rss, name);
  if (!clash && s->lookup) clash = found = s->lookup(s->lookup_arg, ns ? ns : "", name);
  json_decref(found);
  if (clash) {
    /* Owned and same template would have been found as the new one: a collision. */
    int64_t cc = collision_count(s->d);
    kj_set_int(s->d, "status.collisionCount", cc < 0 ? 1 : cc + 1);
    KLOG_V(2, "Found a hash collision for deployment %s/%s - bumping collisionCount", ns, dname);
    return;
  }
  json_t *t = kj_deep_copy(tmpl);
  kj_set_str(t, "metadata.labels[\"" DEP_POD_TEMPLATE_HASH "\"]", hash);
  json_t *sel = kj_deep_copy(kj_get(s->d, "spec.selector"));
  if (!sel) sel = json_object();
  kj_set_str(sel, "matchLabels[\"" DEP_POD_TEMPLATE_HASH "\"]", hash);
  json_t *rs = json_pack("{s:s,s:s,s:{s:s,s:s,s:O,s:[o]},s:{s:i,s:I,s:o,s:o}}", "apiVersion", "apps/v1", "kind",
                         "ReplicaSet", "metadata", "name", name, "namespace", ns ? ns : "", "labels",
                         kj_get(t, "metadata.labels"), "ownerReferences",
                         cm_new_controller_ref(s->d, "apps/v1", "Deployment"), "spec", "replicas", 0, "minReadySeconds",
                         (json_int_t)kj_get_int(s->d, "spec.minReadySeconds", 0), "selector", sel, "template", t);
  int64_t replicas = dep_new_rs_new_replicas(s, 0);
  kj_set_int(rs, "spec.replicas", replicas);
  dep_set_new_rs_annotations(s->d, rs, new_revision, false);
  json_array_append_new(s->rss, rs);
  json_object_set_new(s->orig_rss, name, json_null());
  s->new_rs = rs;
  dep_set_deployment_revision(s->d, new_revision);
  if (dep_has_progress_deadline(s->d)) {
    char msg[400];
    snprintf(msg, sizeof msg, "Created new replica set \"%s\"", name);
    dep_set_condition(s->d, "Progressing", "True", DEP_REASON_NEW_RS_CREATED, msg, s->now);
  }
}

void dep_get_all_and_sync_revision(struct dep_sync *s, bool create)
{
  json_t *tmpl = kj_get(s->d, "spec.template");
  s->new_rs = NULL;
  size_t i;
  json_t *rs;
  json_array_foreach (s->rss, i, rs)
    if (dep_templates_equal(kj_get(rs, "spec.template"), tmpl)) {
      s->new_rs = rs;
      break;
    }
  int64_t max_old = 0;
  json_array_foreach (s->rss, i, rs)
    if (rs != s->new_rs && dep_revision(rs) > max_old) max_old = dep_revision(rs);
  if (s->new_rs) {
    dep_set_new_rs_annotations(s->d, s->new_rs, max_old + 1, true);
    int64_t mrs = kj_get_int(s->d, "spec.minReadySeconds", 0);
    if (kj_get_int(s->new_rs, "spec.minReadySeconds", 0) != mrs) kj_set_int(s->new_rs, "spec.minReadySeconds", mrs);
    dep_set_deployment_revision(s->d, dep_revision(s->new_rs));
    if (dep_has_progress_deadline(s->d) && !cm_get_condition(s->d, "status.conditions", "Progressing")) {
      char msg[400];
      snprintf(msg, sizeof msg, "Found new replica set \"%s\"", kj_get_str(s->new_rs, "metadata.name"));
      dep_set_condition(s->d, "Progressing", "True", DEP_REASON_FOUND_NEW_RS, msg, s->now);
    }
    return;
  }
  if (create) create_new_rs(s, max_old + 1);
}

static void set_status(struct dep_sync *s, json_t *st) { json_object_set_new(s->d, "status", st); }

void dep_sync_status(struct dep_sync *s) { set_status(s, dep_calculate_status(s)); }

void dep_sync_rollout_status(struct dep_sync *s)
{
  json_t *st = dep_calculate_status(s);
  json_t *holder = json_pack("{s:o}", "status", st);
  if (!dep_has_progress_deadline(s->d)) cm_remove_condition(holder, "status.conditions", "Progressing");
  json_t *cur = cm_get_condition(holder, "status.conditions", "Progressing");
  const char *cur_reason = cur ? kj_get_str(cur, "reason") : NULL;
  bool complete_before = kj_get_int(st, "replicas", 0) == kj_get_int(st, "updatedReplicas", 0) && cur_reason &&
                         !strcmp(cur_reason, DEP_REASON_NEW_RS_AVAILABLE);
  const char *rsname = s->new_rs ? kj_get_str(s->new_rs, "metadata.name") : NULL;
  char msg[400];
  if (dep_has_progress_deadline(s->d) && !complete_before) {
    if (dep_complete(s->d, st)) {
      snprintf(msg, sizeof msg, "ReplicaSet \"%s\" has successfully progressed.", rsname ? rsname : "");
      dep_set_condition(holder, "Progressing", "True", DEP_REASON_NEW_RS_AVAILABLE, msg, s->now);
    } else if (dep_progressing(s->d, st)) {
      if (rsname) snprintf(msg, sizeof msg, "ReplicaSet \"%s\" is progressing.", rsname);
      else snprintf(msg, sizeof msg, "%s", "");
      /* Progress refreshes lastUpdateTime even with the same reason. */
      json_t *keep = NULL;
      if (cur && kj_get_str(cur, "status") && !strcmp(kj_get_str(cur, "status"), "True"))
        keep = json_incref(json_object_get(cur, "lastTransitionTime"));
      cm_remove_condition(holder, "status.conditions", "Progressing");
      dep_set_condition(holder, "Progressing", "True", DEP_REASON_RS_UPDATED, msg, s->now);
      if (keep) {
        json_object_set_new(cm_get_condition(holder, "status.conditions", "Progressing"), "lastTransitionTime", keep);
      }
    } else if (dep_timed_out(s->d, st, s->now)) {
      snprintf(msg, sizeof msg, "ReplicaSet \"%s\" has timed out progressing.", rsname ? rsname : "");
      dep_set_condition(holder, "Progressing", "False", DEP_REASON_TIMED_OUT, msg, s->now);
    }
  }
  /* Surface a ReplicaSet's ReplicaFailure (the new one's first). */
  json_t *fail = NULL;
  if (s->new_rs) fail = cm_get_condition(s->new_rs, "status.conditions", "ReplicaFailure");
  size_t i;
  json_t *rs;
  json_array_foreach (s->rss, i, rs)
    if (!fail) fail = cm_get_condition(rs, "status.conditions", "ReplicaFailure");
  if (fail)
    dep_set_condition(holder, "ReplicaFailure", kj_get_str(fail, "status"), kj_get_str(fail, "reason"),
                      kj_get_str(fail, "message") ? kj_get_str(fail, "message") : "", s->now);
  else cm_remove_condition(holder, "status.conditions", "ReplicaFailure");
  set_status(s, json_incref(json_object_get(holder, "status")));
  json_decref(holder);

  /* requeueStuckDeployment: look again when the deadline passes. */
  json_t *pc = cm_get_condition(s->d, "status.conditions", "Progressing");
  const char *r = pc ? kj_get_str(pc, "reason") : NULL;
  if (pc && dep_has_progress_deadline(s->d) && r && strcmp(r, DEP_REASON_NEW_RS_AVAILABLE) &&
      strcmp(r, DEP_REASON_TIMED_OUT) && !dep_complete(s->d, kj_get(s->d, "status"))) {
    int64_t from = cm_time_at(pc, "lastUpdateTime");
    int64_t after = from + kj_get_int(s->d, "spec.progressDeadlineSeconds", DEP_DEFAULT_PROGRESS_DEADLINE_S) - s->now;
    if (from >= 0) s->requeue_s = after < 1 ? 1 : after + 1;
  }
}

static int by_revision(const void *pa, const void *pb)
{
  const json_t *a = *(json_t *const *)pa, *b = *(json_t *const *)pb;
  int64_t ra = dep_revision(a), rb = dep_revision(b);
  if (ra != rb) return ra < rb ? -1 : 1;
  int64_t ta = cm_time_at(a, "metadata.creationTimestamp"), tb = cm_time_at(b, "metadata.creationTimestamp");
  if (ta != tb) return ta < tb ? -1 : 1;
  return strcmp(kj_get_str(a, "metadata.name"), kj_get_str(b, "metadata.name"));
}

void dep_cleanup(struct dep_sync *s)
{
  int64_t limit = kj_get_int(s->d, "spec.revisionHistoryLimit", DEP_DEFAULT_REVISION_HISTORY_LIMIT);
  json_t **v = xmalloc((json_array_size(s->rss) + 1) * sizeof *v);
  size_t n = 0, i;
  json_t *rs;
  json_array_foreach (s->rss, i, rs) {
    if (rs == s->new_rs || obj_is_terminating(rs)) continue;
    v[n++] = rs;
  }
  if ((int64_t)n <= limit) {
    free(v);
    return;
  }
  qsort(v, n, sizeof(*v), by_revision);
  int64_t diff = (int64_t)n - limit;
  for (int64_t j = 0; j < diff; j++) {
    rs = v[j];
    if (kj_get_int(rs, "status.replicas", 0) != 0 || dep_rs_replicas(rs) != 0 ||
        kj_get_int(rs, "metadata.generation", 0) > kj_get_int(rs, "status.observedGeneration", 0))
      continue;
    json_array_append_new(s->deleted, json_string(kj_get_str(rs, "metadata.name")));
  }
  free(v);
}

/* pausedCondition / resumed, as upstream checkPausedConditions. */
static void check_paused_conditions(struct dep_sync *s)
{
  if (!dep_has_progress_deadline(s->d)) return;
  json_t *c = cm_get_condition(s->d, "status.conditions", "Progressing");
  const char *r = c ? kj_get_str(c, "reason") : NULL;
  if (r && !strcmp(r, DEP_REASON_TIMED_OUT)) return;
  bool paused = kj_get_bool(s->d, "spec.paused", false);
  bool paused_cond = r && !strcmp(r, DEP_REASON_PAUSED);
  if (paused && !paused_cond)
    dep_set_condition(s->d, "Progressing", "Unknown", DEP_REASON_PAUSED, "Deployment is paused", s->now);
  else if (!paused && paused_cond)
    dep_set_condition(s->d, "Progressing", "Unknown", DEP_REASON_RESUMED, "Deployment is resumed", s->now);
}

static bool rs_meta_changed(const json_t *a, const json_t *b)
{
  return dep_rs_replicas(a) != dep_rs_replicas(b) ||
         kj_get_int(a, "spec.minReadySeconds", 0) != kj_get_int(b, "spec.minReadySeconds", 0) ||
         !kj_equal(kj_get(a, "metadata.annotations"), kj_get(b, "metadata.annotations"));
}

static void flush(struct dep_sync *s)
{
  const char *ns = kj_get_str(s->d, "metadata.namespace");
  char path[512], msg[512];
  size_t i;
  json_t *rs;
  json_array_foreach (s->rss, i, rs) {
    const char *name = kj_get_str(rs, "metadata.name");
    json_t *orig = json_object_get(s->orig_rss, name);
    int64_t to = dep_rs_replicas(rs);
    bool deleting = false;
    size_t j;
    json_t *dn;
    json_array_foreach (s->deleted, j, dn)
      if (!strcmp(json_string_value(dn), name)) deleting = true;
    if (deleting) continue;
    if (json_is_null(orig)) {
      cm_path(path, sizeof path, "/apis/apps/v1", ns, "replicasets", NULL, NULL);
      struct cm_action *act = cm_act(s->acts, CM_POST, path, kj_deep_copy(rs));
      snprintf(msg, sizeof msg, "Scaled up replica set %s to %lld", name, (long long)to);
      cm_act_events(act, s->ref, "ScalingReplicaSet", to > 0 ? msg : NULL, NULL, NULL);
    } else if (orig && rs_meta_changed(orig, rs)) {
      cm_path(path, sizeof path, "/apis/apps/v1", ns, "replicasets", name, NULL);
      json_t *body = kj_deep_copy(rs);
      if (!kj_get_str(body, "kind")) json_object_set_new(body, "kind", json_string("ReplicaSet"));
      if (!kj_get_str(body, "apiVersion")) json_object_set_new(body, "apiVersion", json_string("apps/v1"));
      struct cm_action *act = cm_act(s->acts, CM_PUT, path, body);
      int64_t from = dep_rs_replicas(orig);
      if (from != to) {
        snprintf(msg, sizeof msg, "Scaled %s replica set %s to %lld from %lld", to > from ? "up" : "down", name,
                 (long long)to, (long long)from);
        cm_act_events(act, s->ref, "ScalingReplicaSet", msg, NULL, NULL);
      }
    }
  }
  json_t *dn;
  json_array_foreach (s->deleted, i, dn) {
    cm_path(path, sizeof path, "/apis/apps/v1", ns, "replicasets", json_string_value(dn), NULL);
    cm_act(s->acts, CM_DELETE, path, NULL);
  }
  if (!kj_equal(kj_get(s->d, "status"), kj_get(s->orig, "status")) ||
      !kj_equal(kj_get(s->d, "metadata.annotations"), kj_get(s->orig, "metadata.annotations"))) {
    cm_path(path, sizeof path, "/apis/apps/v1", ns, "deployments", kj_get_str(s->d, "metadata.name"), "status");
    json_t *body = kj_deep_copy(s->d);
    if (!kj_get_str(body, "kind")) json_object_set_new(body, "kind", json_string("Deployment"));
    if (!kj_get_str(body, "apiVersion")) json_object_set_new(body, "apiVersion", json_string("apps/v1"));
    cm_act(s->acts, CM_PUT, path, body);
  }
}

int dep_compute(const json_t *d, const json_t *rss, const json_t *pods, dep_rs_lookup_fn lookup, void *lookup_arg,
                int64_t now, struct cm_actions *acts, int64_t *requeue_s)
{
  struct dep_sync s = {0};
  s.orig = d;
  s.d = kj_deep_copy(d);
  s.acts = acts;
  s.now = now;
  s.pods = pods;
  s.ns_rss = rss;
  s.lookup = lookup;
  s.lookup_arg = lookup_arg;
  s.deleted = json_array();
  s.orig_rss = json_object();
  s.ref = cm_object_ref(d, "apps/v1", "Deployment");
  *requeue_s = 0;

  char err[256];
  json_t *selj = kj_get(d, "spec.selector");
  struct labelsel *sel = labelsel_from_json(selj, err, sizeof err);
  if (!sel || labelsel_is_empty(sel)) {
    /* Upstream refuses a selector that selects everything. */
    cm_act_event(acts, s.ref, "Warning", "SelectingAll",
                 "This deployment is selecting all pods. A non-empty selector is required.");
    if (kj_get_int(d, "status.observedGeneration", 0) < kj_get_int(d, "metadata.generation", 0)) {
      kj_set_int(s.d, "status.observedGeneration", kj_get_int(d, "metadata.generation", 0));
      flush(&s);
    }
    goto out;
  }
  s.rss = cm_claim_objects(d, "apps/v1", "Deployment", sel, rss, "/apis/apps/v1", "replicasets", acts);
  {
    /* Work on private copies so the claimed objects stay comparable. */
    json_t *copies = json_array();
    size_t i;
    json_t *rs;
    json_array_foreach (s.rss, i, rs) {
      json_object_set_new(s.orig_rss, kj_get_str(rs, "metadata.name"), kj_deep_copy(rs));
      json_array_append_new(copies, kj_deep_copy(rs));
    }
    json_decref(s.rss);
    s.rss = copies;
    dep_sort_by_creation(s.rss, false);
  }

  if (obj_is_terminating(d)) {
    dep_get_all_and_sync_revision(&s, false);
    dep_sync_status(&s);
  } else {
    check_paused_conditions(&s);
    bool paused = kj_get_bool(d, "spec.paused", false);
    if (paused || dep_is_scaling_event(&s)) {
      dep_get_all_and_sync_revision(&s, false);
      dep_scale(&s);
      if (paused) dep_cleanup(&s);
      dep_sync_status(&s);
    } else if (dep_is_rolling(d)) {
      dep_rollout_rolling(&s);
    } else {
      dep_rollout_recreate(&s);
    }
  }
  flush(&s);
  *requeue_s = s.requeue_s;
out:
  labelsel_free(sel);
  json_decref(s.rss);
  json_decref(s.d);
  json_decref(s.deleted);
  json_decref(s.orig_rss);
  json_decref(s.ref);
  return 0;
}

/* ---- the controller ---- */

struct dep_ctrl {
  struct cm_base base;
  struct informer *d_inf, *rs_inf, *pod_inf;
};

static json_t *rs_by_name(void *arg, const char *ns, const char *name)
{
  struct dep_ctrl *c = arg;
  char key[600];
  snprintf(key, sizeof key, "%s/%s", ns, name);
  return informer_store_get_obj(c->rs_inf, key);
}

static void dep_sync(struct cm_base *b, const char *key)
{
  struct dep_ctrl *c = (struct dep_ctrl *)b;
  json_t *d = informer_store_get_obj(c->d_inf, key);
  if (!d) {
    cm_base_finish(b, key, false, -1);
    return;
  }
  /* Its own ReplicaSets and the orphans it may adopt; those of other
   * controllers are never claimed. */
  json_t *rss = cm_claim_candidates(c->rs_inf, d);
  /* Only Recreate looks at pods (old ones still running), and only at
   * those of the Deployment's own ReplicaSets. */
  json_t *pods = json_array();
  if (!dep_is_rolling(d)) {
    const char *duid = kj_get_str(d, "metadata.uid");
    size_t i;
    json_t *rs;
    json_array_foreach (rss, i, rs) {
      if (!duid || !obj_is_controlled_by(rs, duid)) continue;
      json_t *owned =
          informer_store_by_index(c->pod_inf, INFORMER_INDEX_OWNER_UID, kj_get_str(rs, "metadata.uid") ?: "");
      json_array_extend(pods, owned);
      json_decref(owned);
    }
  }
  struct cm_actions acts;
  cm_actions_init(&acts);
  int64_t requeue_s = 0;
  dep_compute(d, rss, pods, rs_by_name, c, cm_now(), &acts, &requeue_s);
  json_decref(rss);
  json_decref(pods);
  json_decref(d);
  cm_base_exec(b, key, &acts, NULL, requeue_s > 0 ? requeue_s * 1000 : -1);
  cm_actions_clear(&acts);
}

static void enqueue_for_rs(struct dep_ctrl *c, const json_t *rs)
{
  char key[512];
  if (cm_owner_key(rs, "Deployment", key, sizeof key)) {
    cm_base_enqueue_key(&c->base, key);
    return;
  }
  if (obj_controller_ref(rs)) return;
  /* An orphan: every Deployment in its namespace that selects it. */
  const char *ns = kj_get_str(rs, "metadata.namespace");
  json_t *all = informer_store_list(c->d_inf);
  size_t i;
  json_t *d;
  char err[128];
  json_array_foreach (all, i, d) {
    const char *dns = kj_get_str(d, "metadata.namespace");
    if (!ns || !dns || strcmp(ns, dns)) continue;
    struct labelsel *sel = labelsel_from_json(kj_get(d, "spec.selector"), err, sizeof err);
    if (sel && !labelsel_is_empty(sel) && labelsel_matches(sel, kj_get(rs, "metadata.labels")))
      cm_base_enqueue(&c->base, d);
    labelsel_free(sel);
  }
  json_decref(all);
}

static void on_rs_add(void *arg, const json_t *rs) { enqueue_for_rs(arg, rs); }
static void on_rs_update(void *arg, const json_t *o, const json_t *n)
{
  struct dep_ctrl *c = arg;
  char ko[512], kn[512];
  bool ho = cm_owner_key(o, "Deployment", ko, sizeof ko), hn = cm_owner_key(n, "Deployment", kn, sizeof kn);
  if (ho && (!hn || strcmp(ko, kn))) cm_base_enqueue_key(&c->base, ko);
  enqueue_for_rs(c, n);
}
static void on_rs_delete(void *arg, const json_t *rs, bool unknown)
{
  struct dep_ctrl *c = arg;
  char key[512];
  if (cm_owner_key(rs, "Deployment", key, sizeof key)) cm_base_enqueue_key(&c->base, key);
}
/* Recreate waits for old pods to be gone. */
static void on_pod_delete(void *arg, const json_t *pod, bool unknown)
{
  struct dep_ctrl *c = arg;
  char rskey[512];
  if (!cm_owner_key(pod, "ReplicaSet", rskey, sizeof rskey)) return;
  json_t *rs = informer_store_get_obj(c->rs_inf, rskey);
  char key[512];
  if (rs && cm_owner_key(rs, "Deployment", key, sizeof key)) {
    json_t *d = informer_store_get_obj(c->d_inf, key);
    if (d && !dep_is_rolling(d)) cm_base_enqueue_key(&c->base, key);
    json_decref(d);
  }
  json_decref(rs);
}

static int dep_init(struct cm_base *b)
{
  struct dep_ctrl *c = (struct dep_ctrl *)b;
  struct informer_factory *f = b->ctx->informers;
  c->d_inf = informer_factory_get(f, CM_DEPLOYMENTS);
  c->rs_inf = informer_factory_get(f, CM_REPLICASETS);
  c->pod_inf = informer_factory_get(f, CM_PODS);
  informer_add_index(c->rs_inf, INFORMER_INDEX_NAMESPACE, informer_index_namespace, NULL);
  cm_add_claim_indexes(c->pod_inf);
  cm_add_claim_indexes(c->rs_inf);
  struct informer_handlers dh = {cm_on_add_enqueue, cm_on_update_enqueue, cm_on_delete_enqueue, c};
  struct informer_handlers rh = {on_rs_add, on_rs_update, on_rs_delete, c};
  struct informer_handlers ph = {NULL, NULL, on_pod_delete, c};
  informer_add_handlers(c->d_inf, &dh);
  informer_add_handlers(c->rs_inf, &rh);
  informer_add_handlers(c->pod_inf, &ph);
  return 0;
}

const struct controller_def ctrl_deployment = {
    .name = "deployment",
    .service_account = "deployment-controller",
    .enabled_by_default = true,
    .size = sizeof(struct dep_ctrl),
    .queue = "deployment",
    .component = "deployment-controller",
    .workers_flag = offsetof(struct cm_config, concurrent_deployment_syncs),
    .workers = 5,
    .sync = dep_sync,
    .init = dep_init,
};
