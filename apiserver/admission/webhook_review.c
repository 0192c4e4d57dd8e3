/*
 * webhook_review.c - the AdmissionReview a webhook receives and the checks
 * on its answer, as upstream's webhook/request (CreateV1AdmissionReview,
 * VerifyAdmissionResponse) and webhook/errors (ToStatusErr).
 *
 * The request carries uid, kind and resource (in the version the webhook
 * is called in), requestKind and requestResource (the version the client
 * wrote in),
 * subResource, name, namespace, operation, the authenticated user, object,
 * oldObject, dryRun and options.  v1beta1 differs only in apiVersion and
 * in not requiring the answer to name its kind.
 * The answer must be an AdmissionReview (admission.k8s.io/v1 for v1) with
 * a response carrying the uid sent; a patch needs patchType JSONPatch, is
 * allowed from mutating webhooks only, and is base64 of a JSON array of
 * operations (decoded here, applied by the caller).
 */
#define _GNU_SOURCE
#include "admission/webhook.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/base64.h>
#include <kube/json.h>
#include <kube/status.h>
#include <kube/xalloc.h>

#include "auth/auth.h"

#define REVIEW_GROUP "admission.k8s.io"

const char *webhook_review_version(const json_t *versions)
{
  size_t i;
  json_t *v;
  json_array_foreach (versions, i, v) {
    const char *s = json_string_value(v);
    if (s && (!strcmp(s, "v1") || !strcmp(s, "v1beta1"))) return !strcmp(s, "v1") ? "v1" : "v1beta1";
  }
  return NULL;
}

static json_t *gvk(const char *g, const char *v, const char *k) { return json_pack("{s:s,s:s,s:s}", "group", g, "version", v, "kind", k); }
static json_t *gvr(const char *g, const char *v, const char *r) { return json_pack("{s:s,s:s,s:s}", "group", g, "version", v, "resource", r); }

static json_t *user_info(const struct auth_user *u)
{
  if (u) return auth_user_info(u);
  /* the insecure port: every request acts as the cluster's administrator */
  return json_pack("{s:s,s:[s,s]}", "username", "system:admin", "groups", "system:masters", "system:authenticated");
}

json_t *webhook_review_new(const struct webhook_attrs *a, const char *review_version, const char *uid)
{
  json_t *rq = json_object();
  json_object_set_new(rq, "uid", json_string(uid));
  json_object_set_new(rq, "kind", gvk(a->group, a->version, a->kind));
  json_object_set_new(rq, "resource", gvr(a->group, a->version, a->resource));
  bool sub = a->subresource && *a->subresource;
  if (sub) json_object_set_new(rq, "subResource", json_string(a->subresource));
  const char *rv = a->request_version ? a->request_version : a->version;
  json_object_set_new(rq, "requestKind", gvk(a->group, rv, a->kind));
  json_object_set_new(rq, "requestResource", gvr(a->group, rv, a->resource));
  if (sub) json_object_set_new(rq, "requestSubResource", json_string(a->subresource));
  if (a->name && *a->name) json_object_set_new(rq, "name", json_string(a->name));
  if (a->namespace_ && *a->namespace_) json_object_set_new(rq, "namespace", json_string(a->namespace_));
  json_object_set_new(rq, "operation", json_string(a->operation));
  json_object_set_new(rq, "userInfo", user_info(a->user));
  json_object_set_new(rq, "object", a->object ? json_deep_copy(a->object) : json_null());
  json_object_set_new(rq, "oldObject", a->old_object ? json_deep_copy(a->old_object) : json_null());
  json_object_set_new(rq, "dryRun", json_boolean(a->dry_run));
  json_object_set_new(rq, "options", a->options ? json_deep_copy(a->options) : json_null());
  char api_version[64];
  snprintf(api_version, sizeof api_version, REVIEW_GROUP "/%s", review_version);
  return json_pack("{s:s,s:s,s:o}", "kind", "AdmissionReview", "apiVersion", api_version, "request", rq);
}

void webhook_result_clear(struct webhook_result *r)
{
  json_decref(r->status);
  json_decref(r->patch);
  json_decref(r->warnings);
  memset(r, 0, sizeof *r);
}

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return -1;
}

/* response.patch: base64 of a JSON array of operations. */
static int decode_patch(const char *b64, json_t **out, char *err, size_t errlen)
{
  unsigned char *raw = NULL;
  size_t n = 0, bad = 0;
  if (kb64_decode(b64, strlen(b64), KB64_STD, &raw, &n, &bad) < 0)
    return fail(err, errlen, "illegal base64 data at input byte %zu", bad);
  char perr[256];
  json_t *ops = kj_loadb((const char *)raw, n, false, perr, sizeof perr);
  free(raw);
  if (!ops) return fail(err, errlen, "%s", perr);
  if (!json_is_array(ops)) {
    fail(err, errlen, "json: cannot unmarshal %s into Go value of type jsonpatch.Patch", kj_kind_name(ops));
    json_decref(ops);
    return -1;
  }
  *out = ops;
  return 0;
}

static int check_identity(const json_t *body, const char *review_version, char *err, size_t errlen)
{
  const char *k = kj_get_str(body, "kind"), *av = kj_get_str(body, "apiVersion");
  if (strcmp(review_version, "v1") != 0) return 0;
  if (k && av && !strcmp(k, "AdmissionReview") && !strcmp(av, REVIEW_GROUP "/v1")) return 0;
  char got[512];
  const char *slash = av ? strchr(av, '/') : NULL;
  if (slash)
    snprintf(got, sizeof got, "%.*s/%s, Kind=%s", (int)(slash - av), av, slash + 1, k ? k : "");
  else
    snprintf(got, sizeof got, "/%s, Kind=%s", av ? av : "", k ? k : "");
  return fail(err, errlen, "expected webhook response of " REVIEW_GROUP "/v1, Kind=AdmissionReview, got %s", got);
}

int webhook_review_parse(const json_t *body, const char *review_version, const char *uid, bool mutating,
                         struct webhook_result *out, char *err, size_t errlen)
{
  memset(out, 0, sizeof *out);
  if (!json_is_object(body)) return fail(err, errlen, "the webhook answered no AdmissionReview object");
  const json_t *resp = json_object_get(body, "response");
  if (!json_is_object(resp)) return fail(err, errlen, "webhook response was absent");
  const char *ruid = kj_get_str(resp, "uid");
  if (!ruid || strcmp(ruid, uid) != 0)
    return fail(err, errlen, "expected response.uid=\"%s\", got \"%s\"", uid, ruid ? ruid : "");
  if (check_identity(body, review_version, err, errlen) < 0) return -1;
  const char *ptype = kj_get_str(resp, "patchType");
  const char *patch = kj_get_str(resp, "patch");
  bool has_patch = patch && *patch, has_type = ptype && *ptype;
  if (has_patch && !has_type) return fail(err, errlen, "webhook returned response.patch but not response.patchType");
  if (has_type && !mutating) return fail(err, errlen, "validating webhook may not return response.patchType");
  if (has_type && strcmp(ptype, "JSONPatch") != 0)
    return fail(err, errlen, "webhook returned invalid response.patchType of \"%s\"", ptype);
  json_t *allowed = json_object_get(resp, "allowed");
  if (allowed && !json_is_boolean(allowed)) return fail(err, errlen, "response.allowed is not a boolean");
  out->allowed = json_is_true(allowed);
  if (has_patch && mutating && decode_patch(patch, &out->patch, err, errlen) < 0) return -1;
  json_t *st = json_object_get(resp, "status");
  if (json_is_object(st)) out->status = json_incref(st);
  json_t *w = json_object_get(resp, "warnings");
  if (json_is_array(w)) {
    out->warnings = json_array();
    size_t i;
    json_t *m;
    json_array_foreach (w, i, m)
      if (json_is_string(m)) json_array_append(out->warnings, m);
  }
  return 0;
}

json_t *webhook_denied_status(const struct webhook_attrs *a, const char *webhook, const json_t *result)
{
  int code = (int)kj_get_int(result, "code", 0);
  if (code == 0) code = 403;
  const char *msg = kj_get_str(result, "message"), *reason = kj_get_str(result, "reason");
  char denied[1024];
  snprintf(denied, sizeof denied, "admission webhook \"%s\" denied the request", webhook);
  char *full;
  if (msg && *msg) full = xasprintf("%s: %s", denied, msg);
  else if (reason && *reason) full = xasprintf("%s: %s", denied, reason);
  else full = xasprintf("%s without explanation", denied);
  const char *name = a->name && *a->name ? a->name : "Unknown";
  json_t *st;
  if (code == 500) {
    st = kstatus_new(code, reason && *reason ? reason : "InternalError", "Internal error occurred: %s", full);
    if (!json_object_get(result, "details")) kstatus_add_cause(st, NULL, full, NULL);
  } else {
    char gr[512];
    if (*a->group) snprintf(gr, sizeof gr, "%s.%s", a->resource, a->group);
    else snprintf(gr, sizeof gr, "%s", a->resource);
    st = kstatus_new(code, reason && *reason ? reason : "Forbidden", "%s \"%s\" is forbidden: %s", gr, name,
                     full);
    if (!json_object_get(result, "details")) kstatus_set_details(st, name, a->group, a->resource);
  }
  json_t *details = json_object_get(result, "details");
  if (json_is_object(details)) json_object_set(st, "details", details);
  free(full);
  return st;
}

json_t *webhook_call_error_status(const char *webhook, const char *detail)
{
  char msg[2048];
  snprintf(msg, sizeof msg, "failed calling webhook \"%s\": %s", webhook, detail);
  json_t *st = kstatus_internal("Internal error occurred: %s", msg);
  kstatus_add_cause(st, NULL, msg, NULL);
  return st;
}
