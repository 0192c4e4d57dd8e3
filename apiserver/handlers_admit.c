/*
 * handlers_admit.c - the admission webhook stage of create, update and
 * patch (handlers_write.c), in upstream's order: after the built-in
 * admission chain, the mutating webhooks (admission/webhook.c) may change
 * the object; a changed object is decoded again as its Go type would be
 * (a patch that breaks it is a 500, as upstream's), the kind validates it,
 * and the validating webhooks see the result.  Each webhook step is
 * asynchronous when a webhook applies (the request goes pending; the
 * event loop keeps serving) and synchronous otherwise, so a cluster
 * without webhooks pays nothing.  The last step hands the object to the
 * caller's storing step.  Webhooks see the main resource and the status,
 * finalize and approval subresources (each carries its kind's object);
 * scale and binding carry other kinds (Scale, Binding) that are not built
 * here, so those writes are not sent to webhooks.
 */
#define _GNU_SOURCE
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>
#include <kube/status.h>
#include <kube/strconv.h>

#include "admission/webhook.h"
#include "registry/registry.h"

/* The options the write was made with, as upstream hands them to
 * webhooks.  New reference. */
static json_t *webhook_options(struct api_write *w)
{
  const char *kind = !strcmp(w->wh_rq.verb, "create") ? "CreateOptions"
                     : !strcmp(w->wh_rq.verb, "patch") ? "PatchOptions"
                                                       : "UpdateOptions";
  json_t *o = json_pack("{s:s,s:s}", "kind", kind, "apiVersion", "meta.k8s.io/v1");
  if (w->dry_run) json_object_set_new(o, "dryRun", json_pack("[s]", "All"));
  char *fm = kstr_query_get(api_req_query(w->ar), "fieldManager");
  if (fm && *fm) json_object_set_new(o, "fieldManager", json_string(fm));
  free(fm);
  if (w->apply && w->force) json_object_set_new(o, "force", json_true());
  return o;
}

/* See the head of the file. */
static bool webhooks_apply(const struct api_write *w)
{
  return !w->sub || !strcmp(w->sub, "status") || !strcmp(w->sub, "finalize") || !strcmp(w->sub, "approval");
}

/* Starts one webhook type on obj; false when none applies. */
static bool webhooks_start(struct api_write *w, bool mutating, json_t *obj, webhook_done_fn done)
{
  if (!webhooks_apply(w) || !webhook_configured(w->ar->srv, mutating)) return false;
  struct api_req *ar = w->ar;
  const struct resource *res = w->res;
  bool create = !strcmp(w->wh_rq.verb, "create");
  const char *name = create ? kj_get_str(obj, "metadata.name") : ar->rt.name;
  bool ns_obj = !*res->group && !strcmp(res->plural, "namespaces");
  json_t *opts = webhook_options(w);
  struct webhook_attrs a = {.operation = create ? "CREATE" : "UPDATE",
                            .group = res->group,
                            .version = res->version,
                            .resource = res->plural,
                            .subresource = w->sub,
                            .kind = res->kind,
                            .namespaced = res->namespaced,
                            .namespace_ = ns_obj ? name : res->namespaced ? ar->rt.ns : NULL,
                            .name = name,
                            .old_object = w->wh_old,
                            .options = opts,
                            .dry_run = w->dry_run,
                            .user = ar->user};
  bool started = webhook_admit(ar->srv, &a, mutating, obj, done, w);
  json_decref(opts);
  return started;
}

static void add_warnings(struct api_write *w, const json_t *warnings)
{
  size_t i;
  json_t *m;
  json_array_foreach (warnings, i, m) api_add_warning(w->ar, json_string_value(m));
}

static void after_validating(struct api_write *w, json_t *obj)
{
  w->wh_next(w, obj);
}

static void on_validated(void *arg, json_t *obj, json_t *status, const json_t *warnings)
{
  struct api_write *w = arg;
  add_warnings(w, warnings);
  if (status) {
    json_decref(obj);
    api_write_fail(w, status);
    return;
  }
  after_validating(w, obj);
}

/* After the mutating webhooks: a changed object is decoded again as its
 * type (a patch may have broken it), the kind validates it, then the
 * validating webhooks see it. */
static void after_mutating(struct api_write *w, json_t *obj)
{
  json_t *st = NULL;
  if (obj != w->wh_before && (st = api_write_decode(w, obj))) {
    const char *msg = kj_get_str(st, "message");
    json_t *ist = kstatus_internal("Internal error occurred: %s", msg ? msg : "");
    json_decref(st);
    st = ist;
  }
  if (!st) {
    w->wh_rq.name = !strcmp(w->wh_rq.verb, "create") ? kj_get_str(obj, "metadata.name") : w->ar->rt.name;
    st = api_write_validate(w, &w->wh_rq, obj, w->wh_old);
  }
  if (st) {
    json_decref(obj);
    api_write_fail(w, st);
    return;
  }
  if (webhooks_start(w, false, obj, on_validated)) {
    w->ar->pending = true;
    return;
  }
  after_validating(w, obj);
}

static void on_mutated(void *arg, json_t *obj, json_t *status, const json_t *warnings)
{
  struct api_write *w = arg;
  add_warnings(w, warnings);
  if (status) {
    json_decref(obj);
    api_write_fail(w, status);
    return;
  }
  after_mutating(w, obj);
}

/* The admission stage after the built-in plugins (upstream's order):
 * mutating webhooks, validation, validating webhooks, then next stores
 * the object.  rq is the hooks' request (copied); takes obj. */
void api_write_admit(struct api_write *w, const struct reg_request *rq, json_t *obj,
                     void (*next)(struct api_write *w, json_t *obj))
{
  w->wh_rq = *rq;
  w->wh_rq.warnings = NULL;
  w->wh_next = next;
  w->wh_before = obj;
  if (webhooks_start(w, true, obj, on_mutated)) {
    w->ar->pending = true;
    return;
  }
  after_mutating(w, obj);
}

