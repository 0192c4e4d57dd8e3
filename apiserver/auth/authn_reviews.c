/*
 * authn_reviews.c - authentication.k8s.io/v1 TokenReview and
 * SelfSubjectReview (upstream pkg/registry/authentication): create-only,
 * never stored, answered by api_handle_review (reviews.c).
 *
 * A TokenReview asks the authenticator about spec.token for
 * spec.audiences (the API's audiences when empty) and answers
 * status.authenticated with the user, the audiences, or the error; this
 * is what a kubelet or a webhook in front of the API server asks.  A
 * SelfSubjectReview answers who the requester is (`kubectl auth
 * whoami`); on the insecure port the unsecured admin.
 */
#define _GNU_SOURCE
#include "auth/authn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>
#include <kube/status.h>

#include "api.h"
#include "registry/registry.h"

/* The audiences a review is answered for: the spec's, else the API's
 * (--api-audiences); new reference. */
static json_t *review_audiences(const struct apiserver *srv, const json_t *spec_aud)
{
  if (json_array_size(spec_aud)) return json_deep_copy(spec_aud);
  json_t *out = json_array();
  const char *p = srv->cfg.api_audiences ? srv->cfg.api_audiences : "";
  while (*p) {
    size_t n = strcspn(p, ",");
    if (n) json_array_append_new(out, json_stringn(p, n));
    p += n;
    if (*p == ',') p++;
  }
  return out;
}

static json_t *token_review(struct api_req *ar, json_t *obj)
{
  json_t *spec = json_object_get(obj, "spec");
  const char *token = json_string_value(json_object_get(spec, "token"));
  if (!token || !*token) return kstatus_bad_request("token is required for TokenReview in authentication");
  json_t *aud = review_audiences(ar->srv, json_object_get(spec, "audiences"));
  char err[256] = "";
  struct auth_user *u = authn_token(ar->srv, token, json_array_size(json_object_get(spec, "audiences")) ? aud : NULL,
                                    err, sizeof err);
  json_t *status = json_object();
  json_object_set_new(status, "authenticated", json_boolean(u != NULL));
  if (u) {
    json_object_set_new(status, "user", auth_user_info(u));
    json_object_set_new(status, "audiences", aud);
  } else {
    json_object_set_new(status, "user", json_object());
    json_object_set_new(status, "error", json_string(err[0] ? err : "invalid bearer token"));
    json_decref(aud);
  }
  json_object_set_new(obj, "status", status);
  auth_user_free(u);
  return NULL;
}

static json_t *self_subject_review(struct api_req *ar, json_t *obj)
{
  struct auth_user *u = ar->user;
  struct auth_user *unsecured = NULL;
  if (!u) {
    u = unsecured = auth_user_new("system:unsecured");
    auth_user_add_group(u, "system:masters");
    auth_user_add_group(u, "system:authenticated");
  }
  json_object_del(obj, "spec");
  json_object_set_new(obj, "status", json_pack("{s:o}", "userInfo", auth_user_info(u)));
  auth_user_free(unsecured);
  return NULL;
}

json_t *authn_review(struct api_req *ar, json_t *obj)
{
  return !strcmp(ar->res->kind, "TokenReview") ? token_review(ar, obj) : self_subject_review(ar, obj);
}

#define AUTHN_REVIEW(var, plural_, singular_, kind_)                                                                  \
  const struct resource var = {                                                                                        \
      .group = "authentication.k8s.io",                                                                                \
      .version = "v1",                                                                                                 \
      .plural = plural_,                                                                                               \
      .singular = singular_,                                                                                           \
      .kind = kind_,                                                                                                   \
      .namespaced = false,                                                                                             \
      .short_names = {NULL},                                                                                           \
      .categories = {NULL},                                                                                            \
      .create_only = true,                                                                                             \
  }

AUTHN_REVIEW(reg_tokenreviews, "tokenreviews", "tokenreview", "TokenReview");
AUTHN_REVIEW(reg_selfsubjectreviews, "selfsubjectreviews", "selfsubjectreview", "SelfSubjectReview");
