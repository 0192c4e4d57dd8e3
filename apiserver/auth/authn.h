/*
 * authn.h - the secure port's request path before the handlers:
 * authentication (authn.c, authn_sa.c), impersonation (impersonate.c),
 * the request's authorization attributes (requestinfo.c) and the
 * authorizer chain of --authorization-mode (authorize.c).  See auth.h.
 */
#ifndef APISERVER_AUTHN_H
#define APISERVER_AUTHN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "auth/auth.h"

struct apiserver;
struct api_req;
struct http_request;

/* The authorizers --authorization-mode names. */
enum authz_mode { AUTHZ_MODE_ALWAYS_ALLOW = 1, AUTHZ_MODE_ALWAYS_DENY, AUTHZ_MODE_NODE, AUTHZ_MODE_RBAC };
#define AUTHZ_MAX_MODES 4

/* ---------- request attributes (requestinfo.c) ----------
 * upstream's RequestInfoFactory: /api/v1/... and /apis/G/V/... are
 * resource requests (the deprecated /watch/ prefix included), everything
 * else non-resource.  Pure string work into fixed buffers. */
struct authz_request_info {
  bool resource_request;
  char verb[24];
  char api_group[128];
  char api_version[32];
  char ns[256];
  char resource[128];
  char sub[64];
  char name[256];
};
/* watch: the decoded ?watch= value (or NULL); field_selector: the decoded
 * ?fieldSelector= (or NULL; metadata.name=X names a list or watch). */
void authz_request_info_parse(const char *method, const char *path, const char *watch, const char *field_selector,
                              struct authz_request_info *ri);
/* attrs pointing into ri (and user, path). */
void authz_attrs_from_info(const struct authz_request_info *ri, const struct auth_user *user, const char *path,
                           struct authz_attrs *a);

/* The KEY of an Impersonate-Extra-KEY or X-Remote-Extra-KEY header:
 * lowercased (Go's canonical header form) and percent-unescaped, as
 * upstream reads it (impersonate.c). */
void auth_extra_key(const char *raw, char *key, size_t cap);

/* ---------- request-header authentication (authn_requestheader.c) ----------
 * upstream's front-proxy authenticator (--requestheader-*): a client
 * certificate verified against the request-header CA, whose CN is in
 * allowed_names (any CN when empty), vouches for the user named by the
 * first non-empty username header, the groups of every group header and
 * the extra of every prefixed header. */
struct requestheader_config {
  const char *client_ca_file;       /* --requestheader-client-ca-file */
  const char *allowed_names;        /* --requestheader-allowed-names, comma-separated */
  const char *username_headers;     /* --requestheader-username-headers, comma-separated */
  const char *group_headers;        /* --requestheader-group-headers */
  const char *extra_headers_prefix; /* --requestheader-extra-headers-prefix */
};
struct requestheader;
/* NULL with no CA file (off), or with a message naming the file in err
 * (*failed set). */
struct requestheader *requestheader_new(const struct requestheader_config *c, bool *failed, char *err, size_t errlen);
void requestheader_free(struct requestheader *rh);
/* 1 with *out (a new user) when the proxy vouches; 0 when this
 * authenticator does not apply (no proxy certificate, or no username
 * header); -1 when a certificate was presented to it and refused. */
int requestheader_user(const struct requestheader *rh, struct http_request *r, struct auth_user **out);

/* ---------- authentication (authn.c) ---------- */
struct authn_config {
  const char *client_ca_file;    /* --client-ca-file */
  const char *token_auth_file;   /* --token-auth-file */
  bool anonymous;                /* --anonymous-auth */
  bool bootstrap_tokens;         /* --enable-bootstrap-token-auth */
  bool service_account_lookup;   /* --service-account-lookup */
  const char *authorization_mode; /* --authorization-mode */
  struct requestheader_config requestheader;
};
/* Loads the token file; 0, or -1 with a message naming the file and line. */
int authn_setup(struct apiserver *srv, const struct authn_config *cfg, char *err, size_t errlen);
void authn_free(struct apiserver *srv);

enum authn_result { AUTHN_OK = 0, AUTHN_NONE, AUTHN_FAILED };
/* Authenticates r by its client certificate and bearer token, in
 * upstream's order; *out is a new user on AUTHN_OK (system:authenticated
 * added), the anonymous user on AUTHN_NONE when anonymous requests are
 * allowed (else NULL).  AUTHN_FAILED: a credential was presented and
 * none succeeded (401). */
enum authn_result authn_request(struct apiserver *srv, struct http_request *r, struct auth_user **out);
/* A bearer token alone (TokenReview): the user or NULL; audiences of the
 * review (NULL = the API's). */
struct auth_user *authn_token(struct apiserver *srv, const char *token, const json_t *audiences, char *err,
                              size_t errlen);

/* --service-account-lookup */
bool authn_service_account_lookup(const struct apiserver *srv);
/* The authorizers of --authorization-mode, in order. */
const enum authz_mode *authn_modes(const struct apiserver *srv, size_t *n);
/* A stored object by storage key (from the cache, no disk read); new
 * reference or NULL. */
json_t *authn_get_object(struct apiserver *srv, const char *key);

/* authn_reviews.c: fills a TokenReview's or SelfSubjectReview's status
 * (obj borrowed, kind and apiVersion already checked); NULL or a Status. */
json_t *authn_review(struct api_req *ar, json_t *obj);

/* ---------- service account tokens (authn_sa.c) ---------- */
/* The service account user of a verified JWT, its claims checked (issuer,
 * audiences, expiry, and with --service-account-lookup the service
 * account, pod, secret and node still exist with their uids); NULL with
 * the reason in err. */
struct auth_user *authn_sa_token(struct apiserver *srv, const char *jwt, const json_t *audiences, char *err,
                                 size_t errlen);

/* ---------- authorization (authorize.c) ---------- */
/* Parses --authorization-mode ("Node,RBAC") into out, in order; 0, or -1
 * with a message naming the bad mode. */
int authz_modes_parse(const char *modes, enum authz_mode out[AUTHZ_MAX_MODES], size_t *n, char *err, size_t errlen);
/* The chain: system:masters, then each mode in order; the first
 * decision wins.  NO_OPINION when no authorizer had one (the request
 * gate refuses anything but ALLOW; a SubjectAccessReview reports
 * neither allowed nor denied, as upstream's union authorizer). */
enum authz_decision authz_decide(const struct apiserver *srv, const struct authz_attrs *a, char *reason, size_t reasonlen);

/* ---------- the request hook (authorize.c) ----------
 * For a request on the secure port: authenticate, impersonate, authorize.
 * true when the request may go on (ar->user set); false when it was
 * answered (401, 403, 400). */
bool api_auth_request(struct api_req *ar);

/* impersonate.c: applies Impersonate-* headers to ar->user after checking
 * each with the impersonate verb; false when answered (403/400). */
bool api_impersonate(struct api_req *ar);

#endif
