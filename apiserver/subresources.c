/*
 * subresources.c - .../NAME/status, /scale, /binding, /finalize.
 *
 * Each one is the generic read-modify-write of handlers_write.c with its
 * own `mutate`:
 *   status    the body's status over the stored spec (spec_only_from_old);
 *   approval  (CertificateSigningRequests) as status; the strategy keeps
 *             only the conditions of the body;
 *   scale     an autoscaling/v1 Scale view of spec.replicas; PUT and PATCH
 *             act on the view and write the parent's spec.replicas;
 *   binding   POST Binding {target:{name:NODE}} sets spec.nodeName once
 *             (409 if already bound) and the PodScheduled condition;
 *   finalize  PUT Namespace replaces spec.finalizers only;
 *   eviction  POST Eviction: disruption budgets, then delete (eviction.c);
 *   token     POST TokenRequest: a service account token (token.c).
 */
#define _GNU_SOURCE
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/http.h>
#include <kube/json.h>
#include <kube/patch.h>
#include <kube/selector.h>
#include <kube/status.h>
#include <kube/timeutil.h>

#include "registry/registry.h"
#include "storage/storage.h"
#include <kube/xalloc.h>

static json_t *not_found_generic(void)
{
  json_t *st = kstatus_new(404, "NotFound", "the server could not find the requested resource");
  json_object_set_new(st, "details", json_object());
  return st;
}

/* ---- scale ---- */

/* New reference: the Scale view of a parent object. */
/* The scale paths of res (upstream's for built-in kinds, the CRD's
 * scale subresource for custom resources). */
static const char *spec_path(const struct resource *res)
{
  return res->scale_spec_path ? res->scale_spec_path : "spec.replicas";
}

static const char *status_path(const struct resource *res)
{
  return res->scale_status_path ? res->scale_status_path : "status.replicas";
}

static json_t *scale_of(const struct resource *res, const json_t *obj)
{
  json_t *meta = json_object();
  const char *keys[] = {"name", "namespace", "uid", "resourceVersion", "creationTimestamp"};
  for (size_t i = 0; i < 5; i++) {
    json_t *v = kj_get(obj, "metadata");
    v = json_object_get(v, keys[i]);
    if (v) json_object_set(meta, keys[i], v);
  }
  json_t *s = json_pack("{s:s,s:s,s:o,s:{s:I},s:{s:I}}", "kind", "Scale", "apiVersion", "autoscaling/v1", "metadata",
                        meta, "spec", "replicas", (json_int_t)kj_get_int(obj, spec_path(res), 0), "status", "replicas",
                        (json_int_t)kj_get_int(obj, status_path(res), 0));
  if (res->scale_selector_path) {
    /* a custom resource keeps its selector serialized */
    const char *str = *res->scale_selector_path ? kj_get_str(obj, res->scale_selector_path) : NULL;
    if (str && *str) kj_set_str(s, "status.selector", str);
    return s;
  }
  json_t *sel = kj_get(obj, "spec.selector");
  if (sel) {
    char *str = NULL;
    if (json_is_object(sel) && (json_object_get(sel, "matchLabels") || json_object_get(sel, "matchExpressions"))) {
      struct labelsel *ls = labelsel_from_json(sel, NULL, 0);
      str = ls ? labelsel_string(ls) : NULL;
      labelsel_free(ls);
    } else if (json_is_object(sel)) {
      /* ReplicationController-style map selector */
      const char *k;
      json_t *v;
      size_t total = 1;
      json_object_foreach (sel, k, v) total += strlen(k) + strlen(json_string_value(v) ? json_string_value(v) : "") + 2;
      str = xcalloc(1, total);
      json_object_foreach (sel, k, v) {
        if (*str) strcat(str, ",");
        strcat(str, k);
        strcat(str, "=");
        strcat(str, json_string_value(v) ? json_string_value(v) : "");
      }
    }
    if (str && *str) kj_set_str(s, "status.selector", str);
    free(str);
  }
  return s;
}

static json_t *respond_scale(struct api_write *w, const json_t *stored) { return scale_of(w->res, stored); }

static json_t *scale_apply(const struct resource *res, const json_t *old, const json_t *scale, json_t **status)
{
  json_t *r = json_object_get(json_object_get(scale, "spec"), "replicas");
  if (r && !json_is_integer(r)) {
    *status = kstatus_bad_request("spec.replicas must be an integer");
    return NULL;
  }
  json_t *obj = kj_deep_copy(old);
  kj_set_int(obj, spec_path(res), r ? json_integer_value(r) : 0);
  const char *rv = kj_get_str(scale, "metadata.resourceVersion");
  if (rv && *rv) kj_set_str(obj, "metadata.resourceVersion", rv);
  return obj;
}

static json_t *mutate_scale_put(struct api_write *w, const json_t *old, json_t **status)
{
  const char *k = kj_get_str(w->body, "kind");
  if (k && strcmp(k, "Scale") != 0) {
    *status = kstatus_bad_request("the kind in the data (%s) does not match the expected kind (Scale)", k);
    return NULL;
  }
  return scale_apply(w->res, old, w->body, status);
}

static json_t *mutate_scale_patch(struct api_write *w, const json_t *old, json_t **status)
{
  json_t *cur = scale_of(w->res, old);
  char err[256] = "";
  json_t *patched;
  if (strcmp(w->patch_type, "application/json-patch+json") == 0) patched = patch_json(cur, w->body, err, sizeof(err));
  else /* a Scale has no lists: strategic and merge patch agree */ patched = patch_merge(cur, w->body);
  json_decref(cur);
  if (!patched) {
    *status = kstatus_new(422, "Invalid", "the server rejected our request due to an error in our request: %s", err);
    return NULL;
  }
  json_t *obj = scale_apply(w->res, old, patched, status);
  json_decref(patched);
  return obj;
}

/* ---- status ---- */

static json_t *mutate_body(struct api_write *w, const json_t *old, json_t **status) { return kj_deep_copy(w->body); }

/* ---- binding ---- */

static json_t *mutate_binding(struct api_write *w, const json_t *old, json_t **status)
{
  const char *node = kj_get_str(w->body, "target.name");
  const char *name = kj_get_str(old, "metadata.name");
  if (!node || !*node) {
    json_t *causes = json_array();
    reg_cause_add(causes, "FieldValueRequired", "target.name", "Required value");
    *status = kstatus_invalid("", "Binding", name ? name : "", causes);
    return NULL;
  }
  const char *cur = kj_get_str(old, "spec.nodeName");
  if (cur && *cur) {
    char msg[512];
    snprintf(msg, sizeof(msg), "pod %s is already assigned to node \"%s\"", name ? name : "", cur);
    *status = kstatus_conflict("", "pods/binding", name ? name : "", msg);
    return NULL;
  }
  if (kj_get(old, "metadata.deletionTimestamp")) {
    *status =
        kstatus_conflict("", "pods/binding", name ? name : "", "pod is being deleted, cannot be assigned to a host");
    return NULL;
  }
  json_t *obj = kj_deep_copy(old);
  kj_set_str(obj, "spec.nodeName", node);
  json_t *ann = kj_get(w->body, "metadata.annotations");
  const char *k;
  json_t *v;
  json_object_foreach (ann, k, v) json_object_set(kj_obj(obj, "metadata.annotations"), k, v);
  json_t *conds = kj_arr(obj, "status.conditions");
  char now[40];
  ktime_now_str(now);
  json_t *pc = NULL;
  size_t i;
  json_array_foreach (conds, i, v) {
    const char *t = kj_get_str(v, "type");
    if (t && strcmp(t, "PodScheduled") == 0) pc = v;
  }
  if (!pc) {
    pc = json_object();
    json_array_append_new(conds, pc);
    json_object_set_new(pc, "type", json_string("PodScheduled"));
  }
  json_object_set_new(pc, "status", json_string("True"));
  json_object_set_new(pc, "lastProbeTime", json_null());
  json_object_set_new(pc, "lastTransitionTime", json_string(now));
  json_object_del(pc, "reason");
  json_object_del(pc, "message");
  return obj;
}

static json_t *respond_success(struct api_write *w, const json_t *stored)
{
  json_t *st = kstatus_success();
  json_object_set_new(st, "code", json_integer(201));
  return st;
}

/* ---- finalize ---- */

static json_t *mutate_finalize(struct api_write *w, const json_t *old, json_t **status)
{
  json_t *obj = kj_deep_copy(old);
  json_t *f = kj_get(w->body, "spec.finalizers");
  if (f) kj_set(obj, "spec.finalizers", kj_deep_copy(f));
  else kj_del(obj, "spec.finalizers");
  const char *rv = kj_get_str(w->body, "metadata.resourceVersion");
  if (rv && *rv) kj_set_str(obj, "metadata.resourceVersion", rv);
  return obj;
}

/* ---- dispatch ---- */

static bool read_body(struct api_write *w)
{
  json_t *st = NULL;
  w->body = api_decode_body(w->ar, &st, &w->dups);
  if (!w->body) {
    api_reply_status(w->ar, st);
    return false;
  }
  const char *rv = kj_get_str(w->body, "metadata.resourceVersion");
  w->user_rv = rv && *rv;
  return true;
}

static bool read_patch(struct api_write *w)
{
  json_t *st = api_is_apply_patch(w->ar) ? api_read_apply(w) : api_read_patch(w);
  if (st) {
    api_reply_status(w->ar, st);
    return false;
  }
  return true;
}

unsigned api_served_subresources(const struct resource *res)
{
  unsigned served = RES_SUB_STATUS | RES_SUB_APPROVAL | RES_SUB_SCALE | RES_SUB_BINDING | RES_SUB_FINALIZE | RES_SUB_EVICTION |
                    RES_SUB_LOG | RES_SUB_EXEC;   /* the last two through proxy.c */
  if (res == &reg_nodes) served |= RES_SUB_PROXY; /* nodes/NAME/proxy only, not pods' or services' */
  served |= RES_SUB_TOKEN;                        /* token.c */
  return res->subresources & served;
}

void api_handle_subresource(struct api_req *ar)
{
  const struct resource *res = ar->res;
  const char *sub = ar->rt.sub;
  const char *m = http_req_method(ar->http);
  bool get = strcmp(m, "GET") == 0;
  bool put = strcmp(m, "PUT") == 0, patch = strcmp(m, "PATCH") == 0, post = strcmp(m, "POST") == 0;
  unsigned bits = res->subresources;
  struct api_write *w = NULL;

  bool approval = strcmp(sub, "approval") == 0 && (bits & RES_SUB_APPROVAL);
  if ((strcmp(sub, "status") == 0 && (bits & RES_SUB_STATUS)) || approval) {
    if (get) {
      api_handle_get(ar);
      return;
    }
    if (!put && !patch) goto not_allowed;
    ar->verb = put ? "update" : "patch";
    if (!(w = api_write_new(ar))) goto oom;
    w->sub = approval ? "approval" : "status"; /* the strategy keeps what each may change */
    w->spec_only_from_old = true;
    w->check_fields = true;
    if (put ? !read_body(w) : !read_patch(w)) goto done_free;
    if (!w->apply) w->mutate = put ? mutate_body : api_apply_patch;
    api_write_update(w);
    return;
  }
  if (strcmp(sub, "scale") == 0 && (bits & RES_SUB_SCALE)) {
    char *key = api_storage_key(res, ar->rt.ns, ar->rt.name);
    if (get) {
      ar->verb = "get";
      struct kv *kv = key ? storage_get(ar->srv->storage, key) : NULL;
      free(key);
      json_t *o = kv ? kj_loadb(kv->bytes, kv->len, false, NULL, 0) : NULL;
      if (!o) {
        api_reply_status(ar, api_not_found(ar, ar->rt.name));
        return;
      }
      api_reply_obj(ar, 200, scale_of(res, o));
      json_decref(o);
      return;
    }
    free(key);
    if (!put && !patch) goto not_allowed;
    ar->verb = put ? "update" : "patch";
    if (!(w = api_write_new(ar))) goto oom;
    w->sub = "scale";
    w->respond = respond_scale;
    if (put ? !read_body(w) : !read_patch(w)) goto done_free;
    /* an applied Scale has no lists: it merges like a merge patch, and is
     * tracked as an ordinary write of spec.replicas */
    w->apply = false;
    w->mutate = put ? mutate_scale_put : mutate_scale_patch;
    api_write_update(w);
    return;
  }
  if (strcmp(sub, "binding") == 0 && (bits & RES_SUB_BINDING)) {
    if (!post) goto not_allowed;
    ar->verb = "create";
    if (!(w = api_write_new(ar))) goto oom;
    w->sub = "binding";
    w->no_managed_fields = true; /* upstream's binding writes the pod directly */
    w->respond = respond_success;
    w->respond_without_object = true;
    w->success_code = 201;
    if (!read_body(w)) goto done_free;
    w->user_rv = false;
    if (!*ar->rt.name) {
      const char *n = kj_get_str(w->body, "metadata.name");
      if (!n || !*n) {
        api_reply_status(ar, kstatus_bad_request("binding must name the pod in metadata.name"));
        goto done_free;
      }
      snprintf(ar->rt.name, sizeof(ar->rt.name), "%s", n);
    }
    w->mutate = mutate_binding;
    api_write_update(w);
    return;
  }
  if (strcmp(sub, "finalize") == 0 && (bits & RES_SUB_FINALIZE)) {
    if (!put) goto not_allowed;
    ar->verb = "update";
    if (!(w = api_write_new(ar))) goto oom;
    w->sub = "finalize";
    w->no_managed_fields = true;
    if (!read_body(w)) goto done_free;
    w->mutate = mutate_finalize;
    api_write_update(w);
    return;
  }
  if (strcmp(sub, "token") == 0 && (bits & RES_SUB_TOKEN)) {
    if (!post) goto not_allowed;
    api_handle_token_request(ar);
    return;
  }
  if (strcmp(sub, "eviction") == 0 && (bits & RES_SUB_EVICTION)) {
    if (!post) goto not_allowed;
    api_handle_eviction(ar);
    return;
  }
  api_reply_status(ar, not_found_generic());
  return;
not_allowed:
  api_reply_status(ar, kstatus_method_not_allowed("the server does not allow this method on the requested resource"));
  return;
oom:
  api_reply_status(ar, kstatus_internal("out of memory"));
  return;
done_free:
  api_write_free(w);
}
