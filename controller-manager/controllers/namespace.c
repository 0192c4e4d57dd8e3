/*
 * namespace.c - the "namespace" controller: empties a namespace that is
 * being deleted, then removes its "kubernetes" finalizer.
 *
 * A namespace with a deletionTimestamp is processed in stages, all
 * asynchronous and chained through the one run of its sync (each stage
 * starts from the answers of the previous one): discovery (GET /api/v1,
 * GET /apis, then each group's preferred version) finds every namespaced
 * resource that can be listed and deleted; each one is deleted with one
 * DELETE on the collection (or per object when deletecollection is not
 * served), then listed again to count what remains and which finalizers
 * hold it.  The namespace's status conditions report the outcome as
 * upstream's do (NamespaceDeletionDiscoveryFailure,
 * NamespaceDeletionGroupVersionParsingFailure,
 * NamespaceDeletionContentFailure, NamespaceContentRemaining,
 * NamespaceFinalizersRemaining).  While anything remains the key is
 * requeued; once the namespace is empty, PUT /api/v1/namespaces/NAME/finalize
 * drops "kubernetes" from spec.finalizers and the API server deletes the
 * namespace.
 */
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
#include "kube/timeutil.h"
#include "kube/xalloc.h"

#define NS_REQUEUE_REMAINING_MS 2000
#define NS_FINALIZER "kubernetes"

struct ns_ctl {
  struct cm_base base;
  struct informer *ns_inf;
};

/* One deletion pass over one namespace, attached to its run. */
struct ns_op {
  struct ns_ctl *c;
  struct cm_run *run;
  char name[256];
  int pending;       /* requests of the current stage still out */
  json_t *resources; /* discovered [{prefix, resource, deletecollection}] */
  char *discovery_err;
  json_t *errors;     /* content deletion failures */
  json_t *remaining;  /* "resource.group" -> count */
  json_t *finalizers; /* finalizer -> count */
};

static bool ns_has_verb(const json_t *verbs, const char *v)
{
  size_t i;
  json_t *x;
  json_array_foreach (verbs, i, x)
    if (json_is_string(x) && !strcmp(json_string_value(x), v)) return true;
  return false;
}

void namespace_discovered_resources(const json_t *rl, json_t *out)
{
  const char *gv = kj_get_str(rl, "groupVersion");
  if (!gv) return;
  char prefix[300];
  if (!strchr(gv, '/')) snprintf(prefix, sizeof prefix, "/api/%s", gv);
  else snprintf(prefix, sizeof prefix, "/apis/%s", gv);
  size_t i;
  json_t *r;
  json_array_foreach (kj_get(rl, "resources"), i, r) {
    const char *name = kj_get_str(r, "name");
    if (!name || strchr(name, '/') || !kj_get_bool(r, "namespaced", false)) continue;
    json_t *verbs = kj_get(r, "verbs");
    bool dc = ns_has_verb(verbs, "deletecollection");
    if (!ns_has_verb(verbs, "list") || (!dc && !ns_has_verb(verbs, "delete"))) continue;
    json_array_append_new(out,
                          json_pack("{s:s, s:s, s:b}", "prefix", prefix, "resource", name, "deletecollection", dc));
  }
}

static json_t *ns_cond(const json_t *old, const char *type, bool failing, const char *ok_reason, const char *ok_msg,
                       const char *bad_reason, const char *bad_msg, const char *now)
{
  const char *status = failing ? "True" : "False";
  const char *ltt = now;
  size_t i;
  json_t *c;
  json_array_foreach (old, i, c) {
    if (!strcmp(kj_get_str(c, "type") ?: "", type) && !strcmp(kj_get_str(c, "status") ?: "", status) &&
        kj_get_str(c, "lastTransitionTime"))
      ltt = kj_get_str(c, "lastTransitionTime");
  }
  return json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", type, "status", status, "lastTransitionTime", ltt, "reason",
                   failing ? bad_reason : ok_reason, "message", failing ? bad_msg : ok_msg);
}

/* "a has 1 resource instances, b has 2 resource instances" in key order. */
static char *ns_join_counts(const json_t *counts, const char *fmt)
{
  size_t n = json_object_size(counts), i = 0;
  const char **keys = xcalloc(n ? n : 1, sizeof *keys);
  const char *k;
  json_t *v;
  json_object_foreach ((json_t *)counts, k, v) keys[i++] = k;
  for (size_t a = 1; a < n; a++)
    for (size_t b = a; b > 0 && strcmp(keys[b - 1], keys[b]) > 0; b--) {
      const char *t = keys[b];
      keys[b] = keys[b - 1];
      keys[b - 1] = t;
    }
  size_t cap = 64, len = 0;
  char *out = xcalloc(1, cap);
  for (i = 0; i < n; i++) {
    char part[600];
    snprintf(part, sizeof part, fmt, keys[i], (long long)json_integer_value(json_object_get(counts, keys[i])));
    size_t pl = strlen(part) + 2;
    while (len + pl + 1 > cap) out = xrealloc(out, cap *= 2);
    len += (size_t)sprintf(out + len, "%s%s", i ? ", " : "", part);
  }
  free(keys);
  return out;
}

json_t *namespace_deletion_conditions(const char *discovery_err, const json_t *errors, const json_t *remaining,
                                      const json_t *finalizers, const json_t *old, const char *now)
{
  json_t *conds = json_array();
  char msg[2048];
  snprintf(msg, sizeof msg, "Discovery failed for some groups: %s", discovery_err ? discovery_err : "");
  json_array_append_new(conds,
                        ns_cond(old, "NamespaceDeletionDiscoveryFailure", discovery_err != NULL, "ResourcesDiscovered",
                                "All resources successfully discovered", "DiscoveryFailed", msg, now));
  json_array_append_new(conds,
                        ns_cond(old, "NamespaceDeletionGroupVersionParsingFailure", false, "ParsedGroupVersions",
                                "All legacy kube types successfully parsed", "GroupVersionParsingFailed", "", now));
  size_t i;
  json_t *e;
  size_t ml = 0;
  msg[0] = 0;
  json_array_foreach (errors, i, e)
    ml +=
        (size_t)snprintf(msg + ml, ml < sizeof msg ? sizeof msg - ml : 0, "%s%s", i ? ", " : "", json_string_value(e));
  json_array_append_new(conds,
                        ns_cond(old, "NamespaceDeletionContentFailure", json_array_size(errors) > 0, "ContentDeleted",
                                "All content successfully deleted, may be waiting on finalization",
                                "ContentDeletionFailed", msg, now));
  char *rem = ns_join_counts(remaining, "%s has %lld resource instances");
  snprintf(msg, sizeof msg, "Some resources are remaining: %s", rem);
  free(rem);
  json_array_append_new(conds,
                        ns_cond(old, "NamespaceContentRemaining", json_object_size(remaining) > 0, "ContentRemoved",
                                "All content successfully removed", "SomeResourcesRemain", msg, now));
  char *fin = ns_join_counts(finalizers, "%s in %lld resource instances");
  snprintf(msg, sizeof msg, "Some content in the namespace has finalizers remaining: %s", fin);
  free(fin);
  json_array_append_new(conds, ns_cond(old, "NamespaceFinalizersRemaining", json_object_size(finalizers) > 0,
                                       "ContentHasNoFinalizers", "All content-preserving finalizers finished",
                                       "SomeFinalizersRemain", msg, now));
  return conds;
}

json_t *namespace_finalize_body(const json_t *ns)
{
  json_t *fins = kj_get(ns, "spec.finalizers");
  bool found = false;
  json_t *keep = json_array();
  size_t i;
  json_t *f;
  json_array_foreach (fins, i, f) {
    if (json_is_string(f) && !strcmp(json_string_value(f), NS_FINALIZER)) found = true;
    else json_array_append(keep, f);
  }
  if (!found) {
    json_decref(keep);
    return NULL;
  }
  json_t *body = kj_deep_copy(ns);
  json_object_set_new(body, "apiVersion", json_string("v1"));
  json_object_set_new(body, "kind", json_string("Namespace"));
  kj_set(body, "spec.finalizers", keep);
  return body;
}

static void ns_op_free(void *p)
{
  struct ns_op *op = p;
  json_decref(op->resources);
  json_decref(op->errors);
  json_decref(op->remaining);
  json_decref(op->finalizers);
  free(op->discovery_err);
  free(op);
}

static void ns_add_discovery_err(struct ns_op *op, const char *what, const struct rest_status *err)
{
  char buf[1024];
  snprintf(buf, sizeof buf, "%s%s%s: %s", op->discovery_err ? op->discovery_err : "", op->discovery_err ? ", " : "",
           what, err && err->message ? err->message : "error");
  free(op->discovery_err);
  op->discovery_err = xstrdup(buf);
}

/* Adds one action with an answer callback to the run of op. */
static void ns_send(struct ns_op *op, enum cm_verb verb, const char *path, json_t *body, cm_answer_fn fn, void *arg,
                    void (*arg_free)(void *))
{
  struct cm_actions acts;
  cm_actions_init(&acts);
  struct cm_action *act = cm_act(&acts, verb, path, body);
  act->patch = CM_PATCH_MERGE;
  if (fn) cm_act_on_answer(act, fn, arg, arg_free);
  cm_run_add(op->run, &acts);
  cm_actions_clear(&acts);
}

static void ns_put_finalize(struct ns_op *op, const json_t *ns)
{
  json_t *body = namespace_finalize_body(ns);
  if (!body) return;
  char path[512];
  cm_path(path, sizeof path, "/api/v1", NULL, "namespaces", op->name, "finalize");
  ns_send(op, CM_PUT, path, body, NULL, NULL, NULL);
}

/* The status write bumped the resourceVersion: finalize from its answer. */
static void ns_status_done(void *arg, struct cm_run *run, int code, json_t *body, const struct rest_status *err)
{
  if (!err && body) ns_put_finalize(arg, body);
}

/* The last stage: report, then finalize or come back later. */
static void ns_finish(struct ns_op *op)
{
  json_t *ns = informer_store_get_obj(op->c->ns_inf, op->name);
  char path[512], now[40];
  if (!ns) return;
  bool clean = !op->discovery_err && json_array_size(op->errors) == 0 && json_object_size(op->remaining) == 0;
  json_t *old = kj_get(ns, "status.conditions");
  json_t *conds = namespace_deletion_conditions(op->discovery_err, op->errors, op->remaining, op->finalizers, old,
                                                ktime_now_str(now));
  if (!old || !cm_json_eq(old, conds)) {
    cm_path(path, sizeof path, "/api/v1", NULL, "namespaces", op->name, "status");
    ns_send(op, CM_PATCH, path, json_pack("{s:{s:O}}", "status", "conditions", conds), clean ? ns_status_done : NULL,
            op, NULL);
  } else if (clean) {
    ns_put_finalize(op, ns);
  }
  json_decref(conds);
  if (clean) {
    /* finalize requested above */
  } else if (json_array_size(op->errors) || op->discovery_err) {
    cm_run_fail(op->run, "namespace content deletion failed");
  } else {
    cm_run_requeue_after(op->run, NS_REQUEUE_REMAINING_MS);
  }
  json_decref(ns);
}

static void ns_stage_done(struct ns_op *op, void (*next)(struct ns_op *))
{
  if (--op->pending == 0) next(op);
}

struct ns_res_req {
  struct ns_op *op;
  json_t *res; /* borrowed from op->resources */
};

static void ns_count_remaining(struct ns_op *op, const json_t *res, const json_t *items)
{
  size_t n = json_array_size(items);
  if (n == 0) return;
  const char *prefix = kj_get_str(res, "prefix");
  char key[400];
  /* "pods." for the core group, "deployments.apps" otherwise. */
  const char *group = "";
  char gbuf[256];
  if (!strncmp(prefix, "/apis/", 6)) {
    snprintf(gbuf, sizeof gbuf, "%s", prefix + 6);
    char *slash = strchr(gbuf, '/');
    if (slash) *slash = 0;
    group = gbuf;
  }
  snprintf(key, sizeof key, "%s.%s", kj_get_str(res, "resource"), group);
  json_object_set_new(op->remaining, key, json_integer((json_int_t)n));
  size_t i, j;
  json_t *it, *f;
  json_array_foreach (items, i, it)
    json_array_foreach (kj_get(it, "metadata.finalizers"), j, f) {
      const char *fs = json_string_value(f);
      if (!fs) continue;
      json_object_set_new(op->finalizers, fs,
                          json_integer(json_integer_value(json_object_get(op->finalizers, fs)) + 1));
    }
}

/* A refused list or delete of a resource (a 404 means it is gone:
 * nothing to report) goes into the ContentFailure condition. */
static bool ns_content_error(struct ns_res_req *rr, const char *verb, int code, const struct rest_status *err)
{
  if (!err || code == 404) return false;
  char buf[512];
  snprintf(buf, sizeof buf, "failed to %s %s: %s", verb, kj_get_str(rr->res, "resource"), err->message ?: "");
  json_array_append_new(rr->op->errors, json_string(buf));
  return true;
}

static void ns_list_done(void *arg, struct cm_run *run, int code, json_t *body, const struct rest_status *err)
{
  struct ns_res_req *rr = arg;
  struct ns_op *op = rr->op;
  if (!ns_content_error(rr, "list", code, err) && !err) {
    json_t *items = kj_get(body, "items");
    ns_count_remaining(op, rr->res, items);
    if (!kj_get_bool(rr->res, "deletecollection", false)) {
      size_t i;
      json_t *it;
      json_array_foreach (items, i, it) {
        if (kj_get(it, "metadata.deletionTimestamp")) continue;
        char path[900];
        snprintf(path, sizeof path, "%s/namespaces/%s/%s/%s", kj_get_str(rr->res, "prefix"), op->name,
                 kj_get_str(rr->res, "resource"), kj_get_str(it, "metadata.name") ?: "");
        ns_send(op, CM_DELETE, path, NULL, NULL, NULL, NULL);
      }
    }
  }
  ns_stage_done(op, ns_finish);
}

static void ns_start_list(struct ns_op *op, json_t *res)
{
  char path[700];
  snprintf(path, sizeof path, "%s/namespaces/%s/%s", kj_get_str(res, "prefix"), op->name, kj_get_str(res, "resource"));
  struct ns_res_req *rr = xcalloc(1, sizeof *rr);
  rr->op = op;
  rr->res = res;
  op->pending++;
  ns_send(op, CM_GET, path, NULL, ns_list_done, rr, free);
}

static void ns_delete_done(void *arg, struct cm_run *run, int code, json_t *body, const struct rest_status *err)
{
  struct ns_res_req *rr = arg;
  struct ns_op *op = rr->op;
  ns_content_error(rr, "delete", code, err);
  /* The list after the delete shows what is still there (graceful pods,
   * finalizers). */
  ns_start_list(op, rr->res);
  ns_stage_done(op, ns_finish);
}

static void ns_start_deletes(struct ns_op *op)
{
  size_t i;
  json_t *res;
  op->pending = 1;
  json_array_foreach (op->resources, i, res) {
    if (!kj_get_bool(res, "deletecollection", false)) {
      /* No collection delete: list now, delete each, list again next pass. */
      ns_start_list(op, res);
      continue;
    }
    char path[700];
    snprintf(path, sizeof path, "%s/namespaces/%s/%s", kj_get_str(res, "prefix"), op->name,
             kj_get_str(res, "resource"));
    struct ns_res_req *rr = xcalloc(1, sizeof *rr);
    rr->op = op;
    rr->res = res;
    op->pending++;
    ns_send(op, CM_DELETE, path, NULL, ns_delete_done, rr, free);
  }
  ns_stage_done(op, ns_finish);
}

static void ns_group_done(void *arg, struct cm_run *run, int code, json_t *body, const struct rest_status *err)
{
  struct ns_op *op = arg;
  if (err) ns_add_discovery_err(op, "group version", err);
  else namespace_discovered_resources(body, op->resources);
  ns_stage_done(op, ns_start_deletes);
}

static void ns_apis_done(void *arg, struct cm_run *run, int code, json_t *body, const struct rest_status *err)
{
  struct ns_op *op = arg;
  if (err) {
    ns_add_discovery_err(op, "/apis", err);
  } else {
    json_t *paths = json_array();
    cm_discovery_preferred(body, paths);
    size_t i;
    json_t *p;
    json_array_foreach (paths, i, p) {
      op->pending++;
      ns_send(op, CM_GET, json_string_value(p), NULL, ns_group_done, op, NULL);
    }
    json_decref(paths);
  }
  ns_stage_done(op, ns_start_deletes);
}

static void ns_sync(struct cm_base *b, const char *key)
{
  struct ns_ctl *c = (struct ns_ctl *)b;
  json_t *ns = informer_store_get_obj(c->ns_inf, key);
  json_t *body = ns && kj_get(ns, "metadata.deletionTimestamp") ? namespace_finalize_body(ns) : NULL;
  json_decref(ns);
  if (!body) {
    cm_base_finish(b, key, false, -1);
    return;
  }
  json_decref(body);
  struct ns_op *op = xcalloc(1, sizeof *op);
  op->c = c;
  snprintf(op->name, sizeof op->name, "%s", key);
  op->resources = json_array();
  op->errors = json_array();
  op->remaining = json_object();
  op->finalizers = json_object();
  op->run = cm_run_begin(b, key, NULL, NULL);
  cm_run_attach(op->run, op, ns_op_free);
  /* pending starts at three: the two top-level discovery requests plus a
   * hold released below, so no stage ends before both are sent. */
  op->pending = 3;
  ns_send(op, CM_GET, "/api/v1", NULL, ns_group_done, op, NULL);
  ns_send(op, CM_GET, "/apis", NULL, ns_apis_done, op, NULL);
  ns_stage_done(op, ns_start_deletes);
  cm_run_end(op->run);
}

static int ns_init(struct cm_base *b)
{
  struct ns_ctl *c = (struct ns_ctl *)b;
  c->ns_inf = informer_factory_get(b->ctx->informers, CM_NAMESPACES);
  struct informer_handlers h = {cm_on_add_enqueue, cm_on_update_enqueue, NULL, c};
  informer_add_handlers(c->ns_inf, &h);
  return 0;
}

const struct controller_def ctrl_namespace = {
    .name = "namespace",
    .service_account = "namespace-controller",
    .enabled_by_default = true,
    .size = sizeof(struct ns_ctl),
    .queue = "namespace",
    .workers_flag = offsetof(struct cm_config, concurrent_namespace_syncs),
    .workers = 10,
    .sync = ns_sync,
    .init = ns_init,
};
