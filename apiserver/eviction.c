/*
 * eviction.c - POST pods/NAME/eviction (policy/v1 Eviction): a delete
 * that respects PodDisruptionBudgets, as upstream's eviction REST does.
 *
 * Pods that are not running yet or any more (Pending, Succeeded, Failed)
 * or already being deleted, and pods no budget selects, are deleted at
 * once.  A pod that is not Ready does not count toward its budget's
 * healthy pods, so it may go while the budget is satisfied.  Otherwise the
 * budget must allow a disruption: it is then spent first (the PDB status
 * is written with disruptionsAllowed decremented and the pod listed in
 * disruptedPods, a compare-and-swap retried from a fresh read on
 * conflict) and the pod deleted after.  A budget allowing none answers 429
 * TooManyRequests, which `kubectl drain` retries.
 */
#define _GNU_SOURCE
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>
#include <kube/podutil.h>
#include <kube/selector.h>
#include <kube/status.h>
#include <kube/timeutil.h>

#include "admission/admission.h"
#include "registry/registry.h"
#include "storage/storage.h"
#include <kube/xalloc.h>

#define EVICTION_MAX_RETRIES 5
/* Upstream's MaxDisruptedPodSize. */
#define EVICTION_MAX_DISRUPTED_PODS 2000

struct eviction {
  struct api_req *ar;
  json_t *body; /* the Eviction */
  char *pdb_key;
  int retries;
};

static void eviction_free(struct eviction *e)
{
  json_decref(e->body);
  free(e->pdb_key);
  free(e);
}

static json_t *budget_error(const char *cause)
{
  json_t *st = kstatus_too_many_requests("Cannot evict pod as it would violate the pod's disruption budget.");
  kstatus_add_cause(st, "DisruptionBudget", cause, NULL);
  return st;
}

static bool ignores_budgets(const json_t *pod)
{
  const char *p = kj_get_str(pod, "status.phase");
  return kj_get(pod, "metadata.deletionTimestamp") ||
         (p && (strcmp(p, "Succeeded") == 0 || strcmp(p, "Failed") == 0 || strcmp(p, "Pending") == 0));
}

/* Deletes the pod; ends the eviction (the delete path answers). */
static void evict_now(struct eviction *e)
{
  struct api_req *ar = e->ar;
  bool was_pending = ar->pending;
  ar->pending = false;
  api_evict_delete(ar, kj_get(e->body, "deleteOptions"));
  eviction_free(e);
  /* answered without going asynchronous: the request is ours to end */
  if (was_pending && !ar->pending) api_req_done(ar);
  else if (was_pending) ar->pending = true;
}

static void fail(struct eviction *e, json_t *st)
{
  struct api_req *ar = e->ar;
  bool pending = ar->pending;
  api_reply_status(ar, st);
  eviction_free(e);
  if (pending) api_req_done(ar);
}

static void attempt(struct eviction *e);

static void pdb_written(void *arg, int err, struct kv *kv, struct kv *prev)
{
  struct eviction *e = arg;
  if (err == STORAGE_ECONFLICT && e->retries++ < EVICTION_MAX_RETRIES) {
    attempt(e);
    return;
  }
  if (err) {
    fail(e, kstatus_internal("updating the disruption budget failed: %d", err));
    return;
  }
  evict_now(e);
}

/* Spends one disruption of the budget, or refuses. */
static void spend(struct eviction *e, json_t *pdb, struct kv *pdb_kv, const char *pod_name)
{
  struct api_req *ar = e->ar;
  const char *name = kj_get_str(pdb, "metadata.name");
  if (kj_get_int(pdb, "status.observedGeneration", 0) < kj_get_int(pdb, "metadata.generation", 0)) {
    char msg[512];
    snprintf(msg, sizeof(msg), "The disruption budget %s is still being processed by the server.", name);
    json_t *st = budget_error(msg);
    kj_set_int(st, "details.retryAfterSeconds", 10);
    fail(e, st);
    return;
  }
  int64_t allowed = kj_get_int(pdb, "status.disruptionsAllowed", 0);
  const struct resource *pdbr = registry_find("policy", "v1", "poddisruptionbudgets");
  if (allowed < 0) {
    fail(e, kstatus_forbidden("poddisruptionbudgets.policy \"%s\" is forbidden: pdb disruptions allowed is negative",
                              name));
    return;
  }
  if (json_object_size(kj_get(pdb, "status.disruptedPods")) > EVICTION_MAX_DISRUPTED_PODS) {
    fail(e, kstatus_forbidden("poddisruptionbudgets.policy \"%s\" is forbidden: DisruptedPods map too big - too "
                              "many evictions not confirmed by PDB controller",
                              name));
    return;
  }
  if (allowed == 0) {
    char msg[512];
    snprintf(msg, sizeof(msg), "The disruption budget %s needs %lld healthy pods and has %lld currently", name,
             (long long)kj_get_int(pdb, "status.desiredHealthy", 0),
             (long long)kj_get_int(pdb, "status.currentHealthy", 0));
    fail(e, budget_error(msg));
    return;
  }
  if (api_dry_run(ar) || !pdbr) {
    evict_now(e);
    return;
  }
  kj_set_int(pdb, "status.disruptionsAllowed", allowed - 1);
  if (allowed - 1 == 0) {
    /* upstream's UpdateDisruptionAllowedCondition */
    json_t *conds = kj_arr(pdb, "status.conditions");
    json_t *c = NULL, *v;
    size_t i;
    json_array_foreach (conds, i, v) {
      const char *t = kj_get_str(v, "type");
      if (t && strcmp(t, "DisruptionAllowed") == 0) c = v;
    }
    char now[40];
    ktime_now_str(now);
    if (!c) {
      c = json_object();
      json_array_append_new(conds, c);
      json_object_set_new(c, "type", json_string("DisruptionAllowed"));
    }
    const char *old = kj_get_str(c, "status");
    if (!old || strcmp(old, "False") != 0) json_object_set_new(c, "lastTransitionTime", json_string(now));
    json_object_set_new(c, "status", json_string("False"));
    json_object_set_new(c, "reason", json_string("InsufficientPods"));
    json_object_set_new(c, "message", json_string(""));
    json_object_set_new(c, "observedGeneration", json_integer(kj_get_int(pdb, "metadata.generation", 0)));
  }
  char now[40];
  json_object_set_new(kj_obj(pdb, "status.disruptedPods"), pod_name, json_string(ktime_now_str(now)));
  char *attrs = api_attrs_for(pdbr, pdb);
  int err = storage_update(ar->srv->storage, pdb_kv->key, pdb, attrs, pdb_kv->mod_rev, pdb_written, e);
  free(attrs);
  if (err) {
    fail(e, kstatus_internal("updating the disruption budget failed: %d", err));
    return;
  }
  ar->pending = true;
}

struct pdb_match {
  const json_t *labels;
  int n;
  json_t *pdb;   /* the first match, parsed */
  struct kv *kv; /* its stored value (borrowed: read in this turn) */
};

static int pdb_visit(void *arg, struct kv *kv)
{
  struct pdb_match *m = arg;
  json_t *pdb = kj_loadb(kv->bytes, kv->len, false, NULL, 0);
  json_t *sel = kj_get(pdb, "spec.selector");
  struct labelsel *ls = json_is_object(sel) ? labelsel_from_json(sel, NULL, 0) : NULL;
  bool match = ls && labelsel_matches(ls, m->labels);
  labelsel_free(ls);
  if (match && m->n++ == 0) {
    m->pdb = pdb;
    m->kv = kv;
    return 0;
  }
  json_decref(pdb);
  return 0;
}

static void attempt(struct eviction *e)
{
  struct api_req *ar = e->ar;
  char key[600];
  snprintf(key, sizeof(key), "/registry/pods/%s/%s", ar->rt.ns, ar->rt.name);
  struct kv *pkv = storage_get(ar->srv->storage, key);
  if (!pkv) {
    fail(e, api_not_found(ar, ar->rt.name));
    return;
  }
  json_t *pod = kj_loadb(pkv->bytes, pkv->len, false, NULL, 0);
  if (!pod) {
    fail(e, kstatus_internal("stored pod is not valid JSON"));
    return;
  }
  if (ignores_budgets(pod)) {
    json_decref(pod);
    evict_now(e);
    return;
  }
  /* the budgets that select the pod */
  char prefix[600];
  snprintf(prefix, sizeof(prefix), "/registry/poddisruptionbudgets/%s/", ar->rt.ns);
  struct pdb_match m = {.labels = kj_get(pod, "metadata.labels")};
  storage_list(ar->srv->storage, prefix, 0, NULL, pdb_visit, &m);
  if (m.n > 1) {
    json_decref(m.pdb);
    json_decref(pod);
    fail(e, kstatus_internal(
                "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."));
    return;
  }
  if (m.n == 0) {
    json_decref(pod);
    evict_now(e);
    return;
  }
  /* A pod that is not Ready is not one of the budget's healthy pods: it
   * may go as long as the budget is met without it. */
  const char *policy = kj_get_str(m.pdb, "spec.unhealthyPodEvictionPolicy");
  int64_t cur = kj_get_int(m.pdb, "status.currentHealthy", 0), want = kj_get_int(m.pdb, "status.desiredHealthy", 0);
  if (!pod_is_ready(pod) && ((policy && strcmp(policy, "AlwaysAllow") == 0) || (cur >= want && want > 0))) {
    json_decref(m.pdb);
    json_decref(pod);
    evict_now(e);
    return;
  }
  spend(e, m.pdb, m.kv, ar->rt.name);
  json_decref(m.pdb);
  json_decref(pod);
}

void api_handle_eviction(struct api_req *ar)
{
  ar->verb = "create";
  json_t *st = NULL;
  json_t *body = api_decode_body(ar, &st, NULL);
  if (!body) {
    api_reply_status(ar, st);
    return;
  }
  const char *n = kj_get_str(body, "metadata.name");
  if (n && *n && strcmp(n, ar->rt.name) != 0) {
    json_decref(body);
    api_reply_status(ar, kstatus_bad_request("name in URL does not match name in Eviction object"));
    return;
  }
  struct reg_request rq = {.srv = ar->srv,
                           .verb = "create",
                           .subresource = "eviction",
                           .namespace_ = ar->rt.ns,
                           .name = ar->rt.name,
                           .user = "system:admin",
                           .auth = ar->user,
                           .res = &reg_pods};
  if ((st = admission_node_restriction(&rq, &reg_pods, body, NULL))) {
    json_decref(body);
    api_reply_status(ar, st);
    return;
  }
  struct eviction *e = xcalloc(1, sizeof(*e));
  if (!e) {
    json_decref(body);
    api_reply_status(ar, kstatus_internal("out of memory"));
    return;
  }
  e->ar = ar;
  e->body = body;
  attempt(e);
}
