/*
 * secure_serving.c - delegated authentication and authorization in front
 * of a program's HTTPS handler (see kube/secure_serving.h).
 *
 * The filter (struct ksecure_auth) is usable on its own: the kubelet puts
 * it in front of its port 10250 with its own client for the reviews,
 * resource attributes (nodes/proxy, nodes/log...) and upstream's plain
 * text 401/403 bodies.  struct ksecure is the filter plus its HTTPS
 * server and review clients, for the scheduler and controller-manager.
 *
 * A request that needs the API server's word becomes a `struct pend`
 * that lives until it is answered or its client goes away (on_close then
 * cancels the review in flight).  Reviews are asynchronous REST calls on
 * the program's own loop; their answers go into two caches (token ->
 * user, user+attributes -> allowed) that expire after their TTLs (ten
 * seconds unless the owner sets them).
 */
#define _GNU_SOURCE
#include "kube/secure_serving.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>

#include <kube/flags.h>
#include <kube/hmap.h>
#include <kube/kubeconfig.h>
#include <kube/json.h>
#include <kube/log.h>
#include <kube/restclient.h>
#include <kube/status.h>
#include <kube/timeutil.h>
#include <kube/tls.h>
#include <kube/xalloc.h>

#define DEFAULT_TTL_MS 10000
#define CACHE_MAX 4096

struct cached {
  int64_t expires_us;
  json_t *user; /* token cache: the UserInfo, or NULL for a rejected token */
  bool allowed; /* authorization cache */
};

struct pend;

struct ksecure_auth {
  struct ksecure_auth_opts o;
  char **allow;
  size_t nallow;
  struct khmap tokens, decisions;
  struct pend *pending; /* doubly linked */
};

struct ksecure {
  struct http_server *http;
  void *tls;
  struct rest_client *authn, *authz; /* owned */
  struct ksecure_auth *auth;
  int port;
};

struct pend {
  struct ksecure_auth *s;
  struct http_request *req;
  struct rest_request *rr;
  json_t *user; /* UserInfo */
  char *token;
  char *path;
  struct ksecure_attrs attrs; /* strings borrowed from the attrs callback (static) */
  struct pend *prev, *next;
};

/* ---------- caches ---------- */

static void cached_free(void *p)
{
  struct cached *c = p;
  json_decref(c->user);
  free(c);
}

static const struct cached *cache_get(struct khmap *m, const char *key)
{
  struct cached *c = khmap_get(m, key);
  if (c && c->expires_us < ktime_now_us()) {
    cached_free(khmap_del(m, key));
    c = NULL;
  }
  return c;
}

static void cache_put(struct khmap *m, const char *key, json_t *user, bool allowed, int64_t ttl_ms)
{
  if (m->n >= CACHE_MAX) khmap_clear(m, cached_free);
  struct cached *c = xcalloc(1, sizeof(*c));
  c->expires_us = ktime_now_us() + (ttl_ms > 0 ? ttl_ms : DEFAULT_TTL_MS) * 1000;
  c->user = json_incref(user);
  c->allowed = allowed;
  struct cached *old = khmap_put(m, key, c);
  if (old) cached_free(old);
}

/* ---------- requests in flight ---------- */

static void pend_free(struct pend *p)
{
  if (p->rr) rest_cancel(p->rr);
  if (p->prev) p->prev->next = p->next;
  else p->s->pending = p->next;
  if (p->next) p->next->prev = p->prev;
  json_decref(p->user);
  free(p->token);
  free(p->path);
  free(p);
}

static void on_close(struct http_request *r, void *arg)
{
  (void)r;
  struct pend *p = arg;
  p->req = NULL;
  pend_free(p);
}

/* Answers with a Status, or its message as plain text for plain_errors
 * (upstream's kubelet), and ends p. */
static void finish_status(struct pend *p, json_t *status)
{
  if (p->req) {
    http_req_on_close(p->req, NULL, NULL);
    int code = (int)json_integer_value(json_object_get(status, "code"));
    if (p->s->o.plain_errors) {
      const char *msg = json_string_value(json_object_get(status, "message"));
      http_reply(p->req, code ? code : 500, "text/plain; charset=utf-8", msg ? msg : "", msg ? strlen(msg) : 0);
    } else {
      http_reply_json(p->req, code ? code : 500, status);
    }
  }
  json_decref(status);
  pend_free(p);
}

/* Hands the request to the program's handler and ends p. */
static void finish_allowed(struct pend *p)
{
  struct http_request *r = p->req;
  struct ksecure_auth *s = p->s;
  p->req = NULL;
  http_req_on_close(r, NULL, NULL);
  pend_free(p);
  s->o.handler(r, s->o.arg);
}

static json_t *forbidden(const struct pend *p, const char *reason)
{
  const char *name = json_string_value(json_object_get(p->user, "username"));
  if (p->attrs.resource)
    return kstatus_new(403, "Forbidden", "Forbidden (user=%s, verb=%s, resource=%s, subresource=%s)", name ? name : "",
                       p->attrs.verb, p->attrs.resource, p->attrs.subresource ? p->attrs.subresource : "");
  return kstatus_new(403, "Forbidden", "forbidden: User \"%s\" cannot %s path \"%s\"%s%s", name ? name : "",
                     p->attrs.verb, p->path, reason && *reason ? ": " : "", reason && *reason ? reason : "");
}

/* ---------- authorization ---------- */

/* The review could not be made: upstream's kubelet names the attributes. */
static json_t *authorization_error(const struct pend *p)
{
  const char *name = json_string_value(json_object_get(p->user, "username"));
  if (p->attrs.resource)
    return kstatus_new(500, "InternalError", "Authorization error (user=%s, verb=%s, resource=%s, subresource=%s)",
                       name ? name : "", p->attrs.verb, p->attrs.resource,
                       p->attrs.subresource ? p->attrs.subresource : "");
  return kstatus_new(500, "InternalError", "Internal error occurred: authorization failed");
}

static void decision_key(const struct pend *p, char *key, size_t len)
{
  char *u = kj_dumps_flags(p->user, JSON_COMPACT | JSON_SORT_KEYS);
  const struct ksecure_attrs *a = &p->attrs;
  if (a->resource)
    snprintf(key, len, "%s\x01%s\x01%s/%s/%s", u ? u : "", a->verb, a->resource, a->subresource ? a->subresource : "",
             a->name ? a->name : "");
  else snprintf(key, len, "%s\x01%s\x01%s", u ? u : "", a->verb, p->path);
  free(u);
}

static void sar_done(void *arg, int code, json_t *body, const struct rest_status *err)
{
  struct pend *p = arg;
  p->rr = NULL;
  if (err || code / 100 != 2) {
    KLOG_W("SubjectAccessReview for %s failed: %s", p->path, err && err->message ? err->message : "no answer");
    finish_status(p, authorization_error(p));
    return;
  }
  bool allowed = json_is_true(kj_get(body, "status.allowed"));
  char key[2048];
  decision_key(p, key, sizeof key);
  cache_put(&p->s->decisions, key, NULL, allowed, allowed ? p->s->o.allowed_ttl_ms : p->s->o.denied_ttl_ms);
  if (allowed) finish_allowed(p);
  else finish_status(p, forbidden(p, json_string_value(kj_get(body, "status.reason"))));
}

/* The SubjectAccessReview's spec for p (new). */
static json_t *sar_spec(const struct pend *p)
{
  const struct ksecure_attrs *a = &p->attrs;
  json_t *spec = json_pack("{s:O}", "groups", json_object_get(p->user, "groups") ?: json_array());
  if (a->resource)
    json_object_set_new(spec, "resourceAttributes",
                        json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "verb", a->verb, "group", "", "version",
                                  a->api_version ? a->api_version : "v1", "resource", a->resource, "subresource",
                                  a->subresource ? a->subresource : "", "name", a->name ? a->name : ""));
  else json_object_set_new(spec, "nonResourceAttributes", json_pack("{s:s,s:s}", "path", p->path, "verb", a->verb));
  json_object_set(spec, "user", json_object_get(p->user, "username"));
  if (json_object_get(p->user, "uid")) json_object_set(spec, "uid", json_object_get(p->user, "uid"));
  if (json_object_get(p->user, "extra")) json_object_set(spec, "extra", json_object_get(p->user, "extra"));
  return spec;
}

static void authorize(struct pend *p)
{
  if (p->s->o.always_allow) {
    finish_allowed(p);
    return;
  }
  char key[2048];
  decision_key(p, key, sizeof key);
  const struct cached *c = cache_get(&p->s->decisions, key);
  if (c) {
    if (c->allowed) finish_allowed(p);
    else finish_status(p, forbidden(p, NULL));
    return;
  }
  if (!p->s->o.authz) {
    finish_status(p, forbidden(p, "no authorization-kubeconfig was given"));
    return;
  }
  json_t *sar = json_pack("{s:s,s:s,s:o}", "apiVersion", "authorization.k8s.io/v1", "kind", "SubjectAccessReview",
                          "spec", sar_spec(p));
  p->rr = rest_request(p->s->o.authz, "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", sar, sar_done, p);
  json_decref(sar);
  if (!p->rr) finish_status(p, authorization_error(p));
}

/* ---------- authentication ---------- */

static json_t *unauthorized(void) { return kstatus_new(401, "Unauthorized", "Unauthorized"); }

static void tr_done(void *arg, int code, json_t *body, const struct rest_status *err)
{
  struct pend *p = arg;
  p->rr = NULL;
  if (err || code / 100 != 2) {
    KLOG_W("TokenReview failed: %s", err && err->message ? err->message : "no answer");
    finish_status(p, unauthorized());
    return;
  }
  json_t *user = json_is_true(kj_get(body, "status.authenticated")) ? kj_get(body, "status.user") : NULL;
  cache_put(&p->s->tokens, p->token, user, false, p->s->o.token_ttl_ms);
  if (!user) {
    finish_status(p, unauthorized());
    return;
  }
  p->user = json_incref(user);
  authorize(p);
}

static void authenticate_token(struct pend *p, const char *token)
{
  const struct cached *c = cache_get(&p->s->tokens, token);
  if (c) {
    if (!c->user) {
      finish_status(p, unauthorized());
      return;
    }
    p->user = json_incref(c->user);
    authorize(p);
    return;
  }
  if (!p->s->o.authn) {
    finish_status(p, unauthorized());
    return;
  }
  p->token = xstrdup(token);
  json_t *tr = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "authentication.k8s.io/v1", "kind", "TokenReview", "spec",
                         "token", token);
  p->rr = rest_request(p->s->o.authn, "POST", "/apis/authentication.k8s.io/v1/tokenreviews", tr, tr_done, p);
  json_decref(tr);
  if (!p->rr) finish_status(p, unauthorized());
}

/* The user of a verified client certificate, or NULL; *bad when one was
 * presented and does not verify. */
static json_t *cert_user(struct http_request *r, bool *bad)
{
  char cn[512], orgs[2048], err[256];
  int rc = ktls_peer_identity(http_req_ssl(r), cn, sizeof cn, orgs, sizeof orgs, err, sizeof err);
  *bad = rc < 0 || (rc > 0 && !cn[0]);
  if (rc <= 0 || !cn[0]) return NULL;
  json_t *groups = json_array();
  char *save = NULL;
  for (char *g = strtok_r(orgs, "\n", &save); g; g = strtok_r(NULL, "\n", &save))
    json_array_append_new(groups, json_string(g));
  json_array_append_new(groups, json_string("system:authenticated"));
  return json_pack("{s:s,s:o}", "username", cn, "groups", groups);
}

/* ---------- the front handler ---------- */

static bool always_allowed(const struct ksecure_auth *s, const char *path)
{
  for (size_t i = 0; i < s->nallow; i++) {
    size_t l = strlen(s->allow[i]);
    if (!strcmp(s->allow[i], path) || (l && s->allow[i][l - 1] == '*' && !strncmp(s->allow[i], path, l - 1)))
      return true;
  }
  return false;
}

const char *ksecure_resource_verb(const char *method)
{
  static const char *const map[][2] = {
      {"POST", "create"}, {"GET", "get"}, {"PUT", "update"}, {"PATCH", "patch"}, {"DELETE", "delete"}};
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (!strcmp(map[i][0], method)) return map[i][1];
  return "";
}

/* Non-resource attributes: the lower-cased method, HEAD as get. */
static void path_attrs(const char *m, struct ksecure_attrs *a)
{
  size_t i;
  for (i = 0; m[i] && i + 1 < sizeof a->verb; i++) a->verb[i] = (char)(m[i] >= 'A' && m[i] <= 'Z' ? m[i] + 32 : m[i]);
  a->verb[i] = 0;
  if (!strcmp(a->verb, "head")) snprintf(a->verb, sizeof a->verb, "get");
}

void ksecure_auth_serve(struct http_request *r, void *arg)
{
  struct ksecure_auth *s = arg;
  const char *path = http_req_path(r);
  if (always_allowed(s, path)) {
    s->o.handler(r, s->o.arg);
    return;
  }
  struct pend *p = xcalloc(1, sizeof(*p));
  p->s = s;
  p->req = r;
  p->path = xstrdup(path);
  if (s->o.attrs) s->o.attrs(s->o.attrs_arg, http_req_method(r), path, &p->attrs);
  else path_attrs(http_req_method(r), &p->attrs);
  p->next = s->pending;
  if (s->pending) s->pending->prev = p;
  s->pending = p;
  http_req_on_close(r, on_close, p);
  bool bad = false;
  json_t *cu = s->o.client_certs ? cert_user(r, &bad) : NULL;
  const char *auth = http_req_header(r, "Authorization");
  if (cu) {
    p->user = cu;
    authorize(p);
  } else if (auth && !strncasecmp(auth, "Bearer ", 7) && auth[7]) {
    authenticate_token(p, auth + 7);
  } else if (bad || !s->o.anonymous) {
    finish_status(p, unauthorized());
  } else {
    p->user = json_pack("{s:s,s:[s]}", "username", "system:anonymous", "groups", "system:unauthenticated");
    authorize(p);
  }
}

static void split_paths(struct ksecure_auth *s, const char *list)
{
  char *copy = xstrdup(list ? list : ""), *save = NULL;
  for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    s->allow = xrealloc(s->allow, (s->nallow + 1) * sizeof(char *));
    s->allow[s->nallow++] = xstrdup(t);
  }
  free(copy);
}

struct ksecure_auth *ksecure_auth_new(const struct ksecure_auth_opts *o)
{
  struct ksecure_auth *s = xcalloc(1, sizeof(*s));
  s->o = *o;
  s->o.always_allow_paths = NULL; /* copied below */
  split_paths(s, o->always_allow_paths);
  return s;
}

void ksecure_auth_free(struct ksecure_auth *s)
{
  if (!s) return;
  while (s->pending) pend_free(s->pending);
  khmap_clear(&s->tokens, cached_free);
  khmap_clear(&s->decisions, cached_free);
  for (size_t i = 0; i < s->nallow; i++) free(s->allow[i]);
  free(s->allow);
  free(s);
}

static struct rest_client *review_client(struct event_base *base, const char *kubeconfig, const char *flag, char *err,
                                         size_t errlen)
{
  if (!kubeconfig || !*kubeconfig) return NULL;
  struct rest_config rc;
  char e[400];
  if (kubeconfig_load(kubeconfig, "", "", &rc, e, sizeof e) < 0) {
    snprintf(err, errlen, "--%s: %s", flag, e);
    return NULL;
  }
  if (!rc.user_agent) rc.user_agent = rest_default_user_agent("secure-serving");
  struct rest_client *c = rest_client_new(base, &rc);
  rest_config_free(&rc);
  return c;
}

int ksecure_check(const struct ksecure_flags *f, char *err, size_t errlen)
{
  char e[400];
  struct in6_addr a6;
  if (inet_pton(AF_INET, f->bind_address, &a6) != 1 && inet_pton(AF_INET6, f->bind_address, &a6) != 1)
    snprintf(err, errlen, "invalid argument \"%s\" for \"--bind-address\" flag: not a valid IP address", f->bind_address);
  else if (f->port < 0 || f->port > 65535)
    snprintf(err, errlen, "invalid argument \"%d\" for \"--secure-port\" flag: must be between 0 and 65535", f->port);
  else if (!*f->cert_file != !*f->key_file)
    snprintf(err, errlen, "--tls-cert-file and --tls-private-key-file must be given together");
  else if (ktls_check_min_version(f->min_version, e, sizeof e) < 0)
    snprintf(err, errlen, "invalid argument \"%s\" for \"--tls-min-version\" flag: %s", f->min_version, e);
  else if (ktls_check_cipher_suites(f->cipher_suites, e, sizeof e) < 0)
    snprintf(err, errlen, "invalid argument \"%s\" for \"--tls-cipher-suites\" flag: %s", f->cipher_suites, e);
  else return 0;
  return -1;
}

struct ksecure *ksecure_new(struct event_base *base, const struct ksecure_flags *f, const char *pair_name,
                            http_handler_fn handler, void *arg, char *err, size_t errlen)
{
  err[0] = 0;
  struct ksecure *s = xcalloc(1, sizeof(*s));
  s->authn = review_client(base, f->authentication_kubeconfig, "authentication-kubeconfig", err, errlen);
  if (!err[0]) s->authz = review_client(base, f->authorization_kubeconfig, "authorization-kubeconfig", err, errlen);
  if (err[0]) {
    ksecure_free(s);
    return NULL;
  }
  if (!s->authz) KLOG_W("No authorization-kubeconfig provided, so SubjectAccessReview of authorization tokens won't work.");
  struct ksecure_auth_opts ao = {.authn = s->authn,
                                 .authz = s->authz,
                                 .client_certs = *f->client_ca_file,
                                 .anonymous = true,
                                 .always_allow_paths = f->always_allow_paths,
                                 .handler = handler,
                                 .arg = arg};
  s->auth = ksecure_auth_new(&ao);
  struct ktls_server_opts to = {.cert_file = f->cert_file,
                                .key_file = f->key_file,
                                .cert_dir = f->cert_dir,
                                .pair_name = pair_name,
                                .cn = "localhost",
                                .sans = "DNS:localhost,IP:127.0.0.1",
                                .min_version = f->min_version,
                                .cipher_suites = f->cipher_suites,
                                .client_ca_file = f->client_ca_file};
  s->tls = ktls_server_ctx(&to, err, errlen);
  struct http_server_opts ho = {.ssl_ctx = s->tls};
  s->http = s->tls ? http_server_new(base, &ho, ksecure_auth_serve, s->auth) : NULL;
  s->port = s->http ? http_server_listen(s->http, f->bind_address, f->port) : -1;
  if (s->port < 0) {
    if (s->http) snprintf(err, errlen, "failed to listen on %s:%d", f->bind_address, f->port);
    ksecure_free(s);
    return NULL;
  }
  return s;
}

int ksecure_port(const struct ksecure *s) { return s->port; }

void ksecure_free(struct ksecure *s)
{
  if (!s) return;
  if (s->http) http_server_free(s->http); /* on_close frees what is pending */
  ksecure_auth_free(s->auth);
  ktls_ctx_free(s->tls);
  if (s->authn) rest_client_free(s->authn);
  if (s->authz) rest_client_free(s->authz);
  free(s);
}
