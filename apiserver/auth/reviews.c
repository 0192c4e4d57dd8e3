/*
 * reviews.c - authorization.k8s.io/v1 access reviews (upstream
 * pkg/registry/authorization): SubjectAccessReview,
 * LocalSubjectAccessReview, SelfSubjectAccessReview and
 * SelfSubjectRulesReview.  Each is create-only and never stored: a POST
 * asks the authorizer and answers 201 with the object and its status,
 * which is what `kubectl auth can-i` (a SelfSubjectAccessReview) and
 * `kubectl auth can-i --list` (a SelfSubjectRulesReview) read.
 *
 * Who is asked about: the spec's user/groups/uid/extra for
 * (Local)SubjectAccessReview; the requester for the Self* kinds, which
 * on the insecure port (no authenticated user) is "system:unsecured" in
 * system:masters.  Decisions are the authorizer chain's (authz_decide:
 * system:masters, then the modes of --authorization-mode); no opinion
 * from all of them is neither allowed nor denied, as upstream.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/http.h>
#include <kube/json.h>
#include <kube/status.h>

#include "api.h"
#include "auth/auth.h"
#include "auth/authn.h"
#include "auth/authn.h"
#include "auth/rbac_internal.h"
#include "registry/registry.h"

#define AUTHZ_GROUP "authorization.k8s.io"
#define UNSECURED_USER "system:unsecured"

enum review_kind { SAR, LSAR, SSAR, SSRR };

static enum review_kind kind_of(const struct resource *res)
{
  if (strcmp(res->plural, "localsubjectaccessreviews") == 0) return LSAR;
  if (strcmp(res->plural, "selfsubjectaccessreviews") == 0) return SSAR;
  if (strcmp(res->plural, "selfsubjectrulesreviews") == 0) return SSRR;
  return SAR;
}

/* The requester, or the unsecured admin; new. */
static struct auth_user *self_user(const struct api_req *ar)
{
  const struct auth_user *u = ar->user;
  struct auth_user *c = auth_user_new(u ? u->name : UNSECURED_USER);
  if (!u) {
    auth_user_add_group(c, SYSTEM_MASTERS);
    auth_user_add_group(c, "system:authenticated");
    return c;
  }
  free(c->uid);
  c->uid = strdup(u->uid ? u->uid : "");
  for (size_t i = 0; i < u->ngroups; i++) auth_user_add_group(c, u->groups[i]);
  if (u->extra) c->extra = json_deep_copy(u->extra);
  return c;
}

/* The user a (Local)SubjectAccessReview names; new. */
static struct auth_user *spec_user(const json_t *spec)
{
  struct auth_user *u = auth_user_new(kj_get_str(spec, "user"));
  const char *uid = kj_get_str(spec, "uid");
  if (uid) {
    free(u->uid);
    u->uid = strdup(uid);
  }
  size_t i;
  json_t *g;
  json_array_foreach (json_object_get(spec, "groups"), i, g)
    if (json_is_string(g)) auth_user_add_group(u, json_string_value(g));
  json_t *extra = json_object_get(spec, "extra");
  if (json_is_object(extra) && json_object_size(extra)) u->extra = json_deep_copy(extra);
  return u;
}

static const char *s_or(const json_t *o, const char *key)
{
  const char *s = kj_get_str(o, key);
  return s ? s : "";
}

/* The API server's own authorizer chain (auth/authorize.c). */
static enum authz_decision review_authorize(const struct apiserver *srv, const struct authz_attrs *a, char *reason,
                                            size_t len)
{
  reason[0] = '\0';
  return authz_decide(srv, a, reason, len);
}

/* Spec checks of upstream's validation; causes appended. */
static void validate_access_spec(enum review_kind k, const json_t *obj, const json_t *spec, json_t *causes)
{
  json_t *ra = json_object_get(spec, "resourceAttributes"), *nra = json_object_get(spec, "nonResourceAttributes");
  bool has_ra = json_is_object(ra), has_nra = json_is_object(nra);
  if (has_ra == has_nra)
    reg_cause_add(causes, "FieldValueInvalid", "spec.resourceAttributes",
                  "Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be "
                  "specified");
  if ((k == SAR || k == LSAR) && !*s_or(spec, "user") && json_array_size(json_object_get(spec, "groups")) == 0)
    reg_cause_add(causes, "FieldValueInvalid", "spec.user",
                  "Invalid value: \"\": at least one of user or group must be specified");
  if (k == LSAR && has_nra)
    reg_cause_add(causes, "FieldValueInvalid", "spec.nonResourceAttributes",
                  "Invalid value: \"object\": disallowed on this kind of request");
  (void)obj;
}

static json_t *access_review(struct api_req *ar, enum review_kind k, json_t *obj)
{
  json_t *spec = json_object_get(obj, "spec");
  json_t *causes = json_array();
  validate_access_spec(k, obj, spec, causes);
  if (json_array_size(causes)) return kstatus_invalid(AUTHZ_GROUP, ar->res->kind, "", causes);
  json_decref(causes);
  json_t *ra = json_object_get(spec, "resourceAttributes"), *nra = json_object_get(spec, "nonResourceAttributes");
  if (k == LSAR && strcmp(s_or(ra, "namespace"), ar->rt.ns) != 0)
    return kstatus_bad_request("spec.resourceAttributes.namespace must match namespace: %s", ar->rt.ns);
  struct auth_user *u = k == SSAR ? self_user(ar) : spec_user(spec);
  struct authz_attrs a = {.user = u};
  if (ra) {
    a.resource_request = true;
    a.verb = s_or(ra, "verb");
    a.api_group = s_or(ra, "group");
    a.api_version = s_or(ra, "version");
    a.resource = s_or(ra, "resource");
    a.subresource = s_or(ra, "subresource");
    a.ns = s_or(ra, "namespace");
    a.name = s_or(ra, "name");
  } else {
    a.verb = s_or(nra, "verb");
    a.path = s_or(nra, "path");
  }
  char reason[2048];
  enum authz_decision d = review_authorize(ar->srv, &a, reason, sizeof(reason));
  json_t *status = json_pack("{s:b}", "allowed", d == AUTHZ_ALLOW);
  if (d == AUTHZ_DENY) json_object_set_new(status, "denied", json_true());
  if (*reason) json_object_set_new(status, "reason", json_string(reason));
  json_object_set_new(obj, "status", status);
  auth_user_free(u);
  return NULL;
}

struct rules_acc {
  json_t *res_rules, *url_rules;
  json_t *errs;
};

static json_t *strv_json(const struct rbac_strv *s)
{
  json_t *a = json_array();
  for (size_t i = 0; i < s->n; i++) json_array_append_new(a, json_string(s->v[i]));
  return a;
}

static bool collect_rule(void *arg, const struct rbac_source *src, const struct rbac_rule *rule, const char *err)
{
  (void)src;
  struct rules_acc *acc = arg;
  if (err) json_array_append_new(acc->errs, json_string(err));
  if (!rule) return true;
  if (rule->resources.n) {
    json_t *o = json_pack("{s:o}", "verbs", strv_json(&rule->verbs));
    if (rule->groups.n) json_object_set_new(o, "apiGroups", strv_json(&rule->groups));
    json_object_set_new(o, "resources", strv_json(&rule->resources));
    if (rule->names.n) json_object_set_new(o, "resourceNames", strv_json(&rule->names));
    json_array_append_new(acc->res_rules, o);
  }
  if (rule->urls.n)
    json_array_append_new(acc->url_rules, json_pack("{s:o,s:o}", "verbs", strv_json(&rule->verbs), "nonResourceURLs",
                                                    strv_json(&rule->urls)));
  return true;
}

static json_t *rules_review(struct api_req *ar, json_t *obj)
{
  const char *ns = s_or(json_object_get(obj, "spec"), "namespace");
  if (!*ns) return kstatus_bad_request("no namespace on request");
  struct auth_user *u = self_user(ar);
  struct rules_acc acc = {json_array(), json_array(), json_array()};
  rbac_visit_rules_for(ar->srv->rbac, u, ns, collect_rule, &acc);
  json_t *status = json_pack("{s:o,s:o,s:b}", "resourceRules", acc.res_rules, "nonResourceRules", acc.url_rules,
                             "incomplete", false);
  if (json_array_size(acc.errs)) {
    /* utilerrors.Aggregate's text */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    size_t n = json_array_size(acc.errs), i;
    json_t *e;
    if (n > 1) fputc('[', f);
    json_array_foreach (acc.errs, i, e) fprintf(f, "%s%s", i ? ", " : "", json_string_value(e));
    if (n > 1) fputc(']', f);
    fclose(f);
    json_object_set_new(status, "evaluationError", json_string(text));
    free(text);
  }
  json_decref(acc.errs);
  json_object_set_new(obj, "status", status);
  auth_user_free(u);
  return NULL;
}

/* kind and apiVersion of the body, defaulted and checked. */
static json_t *check_type(const struct resource *res, json_t *obj)
{
  char gv[128];
  snprintf(gv, sizeof(gv), "%s/%s", res->group, res->version);
  const char *k = kj_get_str(obj, "kind"), *av = kj_get_str(obj, "apiVersion");
  if (k && *k && strcmp(k, res->kind) != 0)
    return kstatus_bad_request("the kind in the data (%s) does not match the expected kind (%s)", k, res->kind);
  if (av && *av && strcmp(av, gv) != 0)
    return kstatus_bad_request("the API version in the data (%s) does not match the expected API version (%s)", av, gv);
  json_object_set_new(obj, "kind", json_string(res->kind));
  json_object_set_new(obj, "apiVersion", json_string(gv));
  if (!json_is_object(json_object_get(obj, "spec"))) json_object_set_new(obj, "spec", json_object());
  if (!json_is_object(json_object_get(obj, "metadata"))) json_object_set_new(obj, "metadata", json_object());
  json_object_set_new(json_object_get(obj, "metadata"), "creationTimestamp", json_null());
  return NULL;
}

void api_handle_review(struct api_req *ar)
{
  ar->verb = "create";
  const char *m = http_req_method(ar->http);
  if (strcmp(m, "POST") != 0 || *ar->rt.name) {
    api_reply_status(ar, kstatus_method_not_allowed("the server does not allow this method on the requested resource"));
    return;
  }
  json_t *st = NULL, *dups = NULL;
  json_t *obj = api_decode_body(ar, &st, &dups);
  json_decref(dups);
  if (!obj) {
    api_reply_status(ar, st);
    return;
  }
  if (!json_is_object(obj)) st = kstatus_bad_request("the body of the request must be an object");
  if (!st) st = check_type(ar->res, obj);
  enum review_kind k = kind_of(ar->res);
  bool authn = !strcmp(ar->res->group, "authentication.k8s.io");
  if (!st && authn) st = authn_review(ar, obj); /* auth/authn_reviews.c */
  else if (!st && !ar->srv->rbac) st = kstatus_internal("the authorizer is not ready");
  else if (!st) st = k == SSRR ? rules_review(ar, obj) : access_review(ar, k, obj);
  if (st) {
    json_decref(obj);
    api_reply_status(ar, st);
    return;
  }
  api_reply_obj(ar, 201, obj);
}

/* ---- the resources ---- */

#define REVIEW(var, plural_, singular_, kind_, namespaced_)                                                            \
  const struct resource var = {                                                                                        \
      .group = AUTHZ_GROUP,                                                                                            \
      .version = "v1",                                                                                                 \
      .plural = plural_,                                                                                               \
      .singular = singular_,                                                                                           \
      .kind = kind_,                                                                                                   \
      .namespaced = namespaced_,                                                                                       \
      .short_names = {NULL},                                                                                           \
      .categories = {NULL},                                                                                            \
      .create_only = true,                                                                                             \
  }

REVIEW(reg_localsubjectaccessreviews, "localsubjectaccessreviews", "localsubjectaccessreview",
       "LocalSubjectAccessReview", true);
REVIEW(reg_selfsubjectaccessreviews, "selfsubjectaccessreviews", "selfsubjectaccessreview", "SelfSubjectAccessReview",
       false);
REVIEW(reg_selfsubjectrulesreviews, "selfsubjectrulesreviews", "selfsubjectrulesreview", "SelfSubjectRulesReview",
       false);
REVIEW(reg_subjectaccessreviews, "subjectaccessreviews", "subjectaccessreview", "SubjectAccessReview", false);
