/*
 * auth.h - who is asking (authentication) and may they (authorization),
 * for the API server's secure port.
 *
 * Request path (server.c): a request on the secure port is authenticated
 * by the chain in authn.c, in upstream's order, the first credential that
 * succeeds wins (x509 client certificate, static token file, service
 * account JWT, bootstrap token); with none presented and
 * --anonymous-auth, the user is system:anonymous in system:unauthenticated.
 * A presented credential that fails is 401.  Impersonation headers are then
 * applied (each checked with the `impersonate` verb).  The request is
 * turned into `struct authz_attrs` and asked of the authorizers of
 * --authorization-mode in order (Node, RBAC); the first that allows or
 * denies decides, no opinion from all is 403 with upstream's message.
 * The insecure port (loopback only) skips both: every request there is
 * the user "system:unsecured" in system:masters, allowed.
 *
 * Ownership: a struct auth_user owns all its strings and its extra
 * object; authz_attrs only borrows.
 */
#ifndef APISERVER_AUTH_H
#define APISERVER_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

struct apiserver;

struct auth_user {
  char *name;    /* "jane", "system:serviceaccount:ns:sa", "system:node:n1" */
  char *uid;     /* "" when unknown */
  char **groups; /* ngroups strings, system:authenticated included */
  size_t ngroups;
  json_t *extra; /* object: key -> array of strings; NULL when none */
};

void auth_user_free(struct auth_user *u);          /* frees members and u */
struct auth_user *auth_user_new(const char *name); /* no groups, uid "" */
void auth_user_add_group(struct auth_user *u, const char *group);
bool auth_user_in_group(const struct auth_user *u, const char *group);
/* authentication.k8s.io/v1 UserInfo {username, uid, groups, extra}; new reference. */
json_t *auth_user_info(const struct auth_user *u);

/* What a request asks to do, in upstream's authorizer.Attributes terms. */
struct authz_attrs {
  const struct auth_user *user;
  const char *verb; /* resource: get list watch create update patch delete deletecollection,
                       or impersonate, escalate, bind, approve, sign, use...; non-resource:
                       get post put patch delete (lowercased HTTP method) */
  bool resource_request;
  const char *api_group; /* "" = core */
  const char *api_version;
  const char *resource;    /* plural, "pods" */
  const char *subresource; /* "" or "status", "log", "scale" ... */
  const char *ns;          /* "" for cluster-scoped or all namespaces */
  const char *name;        /* "" for collections */
  const char *path;        /* the request path (non-resource requests) */
};

enum authz_decision { AUTHZ_NO_OPINION = 0, AUTHZ_ALLOW, AUTHZ_DENY };

/* ---------- RBAC (rbac.c) ----------
 * Indexes of every Role, ClusterRole, RoleBinding and ClusterRoleBinding,
 * kept current by a storage watch (no storage read per request). */
struct rbac;
/* Loads the four kinds from srv->storage and watches them; NULL on error. */
struct rbac *rbac_new(struct apiserver *srv);
void rbac_free(struct rbac *r);
/* ALLOW when a rule bound to the user (name or any group, or a service
 * account subject) covers a; NO_OPINION otherwise.  reason (may be NULL)
 * gets upstream's explanation, e.g. `RBAC: allowed by ClusterRoleBinding
 * "x" of ClusterRole "y" to User "z"`. */
enum authz_decision rbac_authorize(const struct rbac *r, const struct authz_attrs *a, char *reason, size_t reasonlen);

/* The 403 Status for a denied request, with upstream's message:
 * `pods is forbidden: User "jane" cannot create resource "pods" in API
 * group "" in the namespace "default"` (+ ": REASON" when reason is
 * non-empty).  New reference. */
json_t *authz_forbidden(const struct authz_attrs *a, const char *reason);

/* ---------- access reviews (reviews.c) ----------
 * authorization.k8s.io/v1 SubjectAccessReview, LocalSubjectAccessReview,
 * SelfSubjectAccessReview and SelfSubjectRulesReview: POST answers 201
 * with the status filled; nothing is stored.  Dispatched by handlers.c
 * for resources marked create_only. */
struct api_req;
void api_handle_review(struct api_req *ar);

/* ---------- bootstrap policy (bootstrap_policy.c) ----------
 * Creates upstream's bootstrap ClusterRoles and ClusterRoleBindings
 * absent from storage and reconciles those present (autoupdate
 * annotation); done(arg) once every write is durable (at once when
 * nothing is written).  0 or a negative error (done not called). */
int rbac_bootstrap_policy(struct apiserver *srv, void (*done)(void *arg), void *arg);

#endif
