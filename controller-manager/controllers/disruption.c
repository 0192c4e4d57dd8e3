/*
 * disruption.c - the "disruption" controller: keeps the status of every
 * PodDisruptionBudget.
 *
 * A PDB is enqueued when it changes and when a pod matching its selector
 * changes (and every 30 s while it tracks disrupted pods).  sync computes:
 * expectedPods, from the scale of the pods' controllers (a Deployment's
 * replicas for its ReplicaSets; StatefulSet, ReplicaSet and
 * ReplicationController replicas) when maxUnavailable or a percentage
 * minAvailable needs it, else the number of matching pods; desiredHealthy
 * (minAvailable, or expected - maxUnavailable, percentages rounded up);
 * currentHealthy (ready, not deleting, not recently disrupted pods);
 * disruptionsAllowed = max(0, current - desired); the DisruptionAllowed
 * condition (SufficientPods / InsufficientPods, SyncFailed when a pod's
 * controller cannot be found); observedGeneration.  The status is written
 * (PUT .../status) only when it changed.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "controller_utils.h"
#include "core_logic.h"
#include "kube/informer.h"
#include "kube/json.h"
#include "kube/selector.h"
#include "kube/timeutil.h"
#include "kube/xalloc.h"

#define PDB_DISRUPTED_TIMEOUT_US (120LL * 1000000)
#define PDB_RECHECK_MS 30000

static const json_t *pdb_find_uid(const json_t *arr, const char *uid)
{
  size_t i;
  json_t *o;
  json_array_foreach (arr, i, o)
    if (!strcmp(kj_get_str(o, "metadata.uid") ?: "", uid ?: "")) return o;
  return NULL;
}

/* Sum of the scales of the controllers of pods, each counted once; -1 with
 * a message when a pod has no controller we can scale. */
static int64_t pdb_expected_from_controllers(const json_t *pods, const json_t *controllers, char *msg, size_t len)
{
  json_t *seen = json_object();
  int64_t total = 0;
  size_t i;
  json_t *pod;
  json_array_foreach (pods, i, pod) {
    const json_t *ref = obj_controller_ref(pod);
    if (!ref) {
      snprintf(msg, len, "found no controller ref for pod \"%s\"", kj_get_str(pod, "metadata.name") ?: "");
      json_decref(seen);
      return -1;
    }
    const json_t *ctl = pdb_find_uid(controllers, kj_get_str(ref, "uid"));
    /* A ReplicaSet owned by a Deployment scales with the Deployment. */
    if (ctl && !strcmp(kj_get_str(ref, "kind") ?: "", "ReplicaSet")) {
      const json_t *up = obj_controller_ref(ctl);
      if (up && !strcmp(kj_get_str(up, "kind") ?: "", "Deployment"))
        ctl = pdb_find_uid(controllers, kj_get_str(up, "uid"));
    }
    if (!ctl) {
      snprintf(msg, len, "found no controllers for pod \"%s\"", kj_get_str(pod, "metadata.name") ?: "");
      json_decref(seen);
      return -1;
    }
    const char *uid = kj_get_str(ctl, "metadata.uid") ?: "";
    if (json_object_get(seen, uid)) continue;
    json_object_set_new(seen, uid, json_true());
    total += kj_get_int(ctl, "spec.replicas", 1);
  }
  json_decref(seen);
  return total;
}

json_t *disruption_compute_status(const json_t *pdb, const json_t *pods, const json_t *controllers, int64_t now_us)
{
  const char *ns = kj_get_str(pdb, "metadata.namespace") ?: "";
  char err[256];
  struct labelsel *sel = labelsel_from_json(kj_get(pdb, "spec.selector"), err, sizeof err);
  json_t *mine = json_array();
  size_t i;
  json_t *pod;
  json_array_foreach (pods, i, pod) {
    if (sel && !strcmp(kj_get_str(pod, "metadata.namespace") ?: "", ns) &&
        labelsel_matches(sel, kj_get(pod, "metadata.labels")))
      json_array_append(mine, pod);
  }
  labelsel_free(sel);

  /* disruptedPods still pending: the pod exists, is not deleting, and the
   * entry is younger than the timeout. */
  json_t *disrupted = json_object();
  const char *k;
  json_t *v;
  json_object_foreach (kj_get(pdb, "status.disruptedPods"), k, v) {
    int64_t t;
    if (!json_is_string(v) || ktime_parse(json_string_value(v), &t) < 0) continue;
    if (t + PDB_DISRUPTED_TIMEOUT_US < now_us) continue;
    json_t *p = NULL;
    json_array_foreach (mine, i, pod)
      if (!strcmp(kj_get_str(pod, "metadata.name") ?: "", k)) p = pod;
    if (!p || kj_get(p, "metadata.deletionTimestamp")) continue;
    json_object_set(disrupted, k, v);
  }

  int64_t current = 0;
  json_array_foreach (mine, i, pod) {
    if (kj_get(pod, "metadata.deletionTimestamp") || !pod_is_ready(pod)) continue;
    if (json_object_get(disrupted, kj_get_str(pod, "metadata.name") ?: "")) continue;
    current++;
  }

  json_t *minav = kj_get(pdb, "spec.minAvailable"), *maxun = kj_get(pdb, "spec.maxUnavailable");
  int64_t expected = (int64_t)json_array_size(mine), desired = 0;
  char msg[300] = "";
  bool failed = false;
  if (maxun || (json_is_string(minav) && strchr(json_string_value(minav), '%'))) {
    expected = pdb_expected_from_controllers(mine, controllers, msg, sizeof msg);
    if (expected < 0) {
      failed = true;
      expected = 0;
    }
  }
  if (!failed) {
    int64_t val = 0;
    if (maxun) {
      if (cm_int_or_percent(maxun, expected, true, &val) < 0) failed = true;
      desired = expected - val;
      if (desired < 0) desired = 0;
    } else if (minav) {
      if (cm_int_or_percent(minav, expected, true, &val) < 0) failed = true;
      desired = val;
    }
    if (failed) snprintf(msg, sizeof msg, "invalid minAvailable/maxUnavailable");
  }
  int64_t allowed = current - desired;
  if (failed || expected <= 0 || allowed < 0) allowed = 0;

  char now[40];
  ktime_format((time_t)(now_us / 1000000), now);
  const char *cstatus = allowed > 0 ? "True" : "False";
  const char *reason = failed ? "SyncFailed" : allowed > 0 ? "SufficientPods" : "InsufficientPods";
  const char *ltt = now;
  json_t *c;
  json_array_foreach (kj_get(pdb, "status.conditions"), i, c) {
    if (!strcmp(kj_get_str(c, "type") ?: "", "DisruptionAllowed") && !strcmp(kj_get_str(c, "status") ?: "", cstatus) &&
        kj_get_str(c, "lastTransitionTime"))
      ltt = kj_get_str(c, "lastTransitionTime");
  }
  json_t *st = json_pack(
      "{s:I, s:o, s:I, s:I, s:I, s:I, s:[{s:s, s:s, s:s, s:s, s:s, s:I}]}", "observedGeneration",
      (json_int_t)kj_get_int(pdb, "metadata.generation", 0), "disruptedPods", disrupted, "disruptionsAllowed",
      (json_int_t)allowed, "currentHealthy", (json_int_t)current, "desiredHealthy", (json_int_t)desired, "expectedPods",
      (json_int_t)expected, "conditions", "type", "DisruptionAllowed", "status", cstatus, "reason", reason, "message",
      msg, "lastTransitionTime", ltt, "observedGeneration", (json_int_t)kj_get_int(pdb, "metadata.generation", 0));
  json_decref(mine);
  return st;
}

/* ---- the controller ---- */

static const char *const pdb_controller_paths[] = {CM_REPLICASETS, CM_DEPLOYMENTS, CM_STATEFULSETS,
                                                   CM_REPLICATIONCONTROLLERS};
#define PDB_NCTL (sizeof pdb_controller_paths / sizeof pdb_controller_paths[0])

struct pdb_ctl {
  struct cm_base base;
  struct informer *pdb_inf, *pod_inf, *ctl_inf[PDB_NCTL];
};

static void pdb_enqueue_for_pod(struct pdb_ctl *c, const json_t *pod)
{
  const char *ns = kj_get_str(pod, "metadata.namespace");
  if (!ns) return;
  json_t *pdbs = informer_store_by_index(c->pdb_inf, INFORMER_INDEX_NAMESPACE, ns);
  size_t i;
  json_t *pdb;
  json_array_foreach (pdbs, i, pdb) {
    char err[200];
    struct labelsel *sel = labelsel_from_json(kj_get(pdb, "spec.selector"), err, sizeof err);
    if (sel && labelsel_matches(sel, kj_get(pod, "metadata.labels"))) cm_base_enqueue(&c->base, pdb);
    labelsel_free(sel);
  }
  json_decref(pdbs);
}

static void pdb_pod_add(void *arg, const json_t *p) { pdb_enqueue_for_pod(arg, p); }
static void pdb_pod_update(void *arg, const json_t *o, const json_t *n)
{
  if (o == n) return;
  pdb_enqueue_for_pod(arg, n);
  if (!cm_json_eq(kj_get(o, "metadata.labels"), kj_get(n, "metadata.labels"))) pdb_enqueue_for_pod(arg, o);
}
static void pdb_pod_delete(void *arg, const json_t *p, bool unknown) { pdb_enqueue_for_pod(arg, p); }

/* The status without what an empty map and an absent one both mean. */
static bool pdb_status_equal(const json_t *old, const json_t *st)
{
  json_t *a = kj_deep_copy(old ? old : json_object()), *b = kj_deep_copy(st);
  if (!json_object_size(json_object_get(a, "disruptedPods"))) json_object_del(a, "disruptedPods");
  if (!json_object_size(json_object_get(b, "disruptedPods"))) json_object_del(b, "disruptedPods");
  bool eq = cm_json_eq(a, b);
  json_decref(a);
  json_decref(b);
  return eq;
}

static void pdb_sync(struct cm_base *b, const char *key)
{
  struct pdb_ctl *c = (struct pdb_ctl *)b;
  struct cm_actions acts;
  cm_actions_init(&acts);
  int64_t requeue = -1;
  json_t *pdb = informer_store_get_obj(c->pdb_inf, key);
  if (pdb) {
    const char *ns = kj_get_str(pdb, "metadata.namespace") ?: "";
    json_t *pods = informer_store_by_index(c->pod_inf, INFORMER_INDEX_NAMESPACE, ns);
    json_t *ctls = json_array();
    for (size_t i = 0; i < PDB_NCTL; i++) {
      json_t *l = informer_store_by_index(c->ctl_inf[i], INFORMER_INDEX_NAMESPACE, ns);
      json_array_extend(ctls, l);
      json_decref(l);
    }
    json_t *st = disruption_compute_status(pdb, pods, ctls, ktime_now_us());
    if (!pdb_status_equal(kj_get(pdb, "status"), st)) {
      json_t *body = kj_deep_copy(pdb);
      json_object_set(body, "status", st);
      json_object_set_new(body, "apiVersion", json_string("policy/v1"));
      json_object_set_new(body, "kind", json_string("PodDisruptionBudget"));
      char path[700];
      cm_path(path, sizeof path, "/apis/policy/v1", ns, "poddisruptionbudgets", kj_get_str(pdb, "metadata.name"),
              "status");
      cm_act(&acts, CM_PUT, path, body);
    }
    if (json_object_size(json_object_get(st, "disruptedPods"))) requeue = PDB_RECHECK_MS;
    json_decref(st);
    json_decref(ctls);
    json_decref(pods);
    json_decref(pdb);
  }
  cm_base_exec(b, key, &acts, NULL, requeue);
  cm_actions_clear(&acts);
}

/* A controller's scale change re-syncs the budgets of its namespace. */
static void pdb_ctl_update(void *arg, const json_t *o, const json_t *n)
{
  struct pdb_ctl *c = arg;
  if (o == n || kj_get_int(o, "spec.replicas", 1) == kj_get_int(n, "spec.replicas", 1)) return;
  json_t *pdbs =
      informer_store_by_index(c->pdb_inf, INFORMER_INDEX_NAMESPACE, kj_get_str(n, "metadata.namespace") ?: "");
  size_t i;
  json_t *pdb;
  json_array_foreach (pdbs, i, pdb) cm_base_enqueue(&c->base, pdb);
  json_decref(pdbs);
}

static int pdb_init(struct cm_base *b)
{
  struct pdb_ctl *c = (struct pdb_ctl *)b;
  struct informer_factory *f = b->ctx->informers;
  c->pdb_inf = informer_factory_get(f, CM_PDBS);
  c->pod_inf = informer_factory_get(f, CM_PODS);
  informer_add_index(c->pdb_inf, INFORMER_INDEX_NAMESPACE, informer_index_namespace, NULL);
  informer_add_index(c->pod_inf, INFORMER_INDEX_NAMESPACE, informer_index_namespace, NULL);
  struct informer_handlers dh = {cm_on_add_enqueue, cm_on_update_enqueue, NULL, c};
  struct informer_handlers ph = {pdb_pod_add, pdb_pod_update, pdb_pod_delete, c};
  struct informer_handlers ch = {NULL, pdb_ctl_update, NULL, c};
  informer_add_handlers(c->pdb_inf, &dh);
  informer_add_handlers(c->pod_inf, &ph);
  for (size_t i = 0; i < PDB_NCTL; i++) {
    c->ctl_inf[i] = informer_factory_get(f, pdb_controller_paths[i]);
    informer_add_index(c->ctl_inf[i], INFORMER_INDEX_NAMESPACE, informer_index_namespace, NULL);
    informer_add_handlers(c->ctl_inf[i], &ch);
  }
  return 0;
}

const struct controller_def ctrl_disruption = {
    .name = "disruption",
    .service_account = "disruption-controller",
    .enabled_by_default = true,
    .size = sizeof(struct pdb_ctl),
    .queue = "disruption",
    .workers = 2,
    .sync = pdb_sync,
    .init = pdb_init,
};
