/*
 * server.c - the kubelet's HTTP servers (see server.h): routing, the
 * small endpoints (/healthz, /metrics), the authentication and
 * authorization filter of the HTTPS port and its serving certificate.
 * Pods, logs, stats and the streaming endpoints live with the modules
 * that know them (server_*.c).
 *
 * Every request on the HTTPS port goes through ksecure_auth (kube/
 * secure_serving.h) first, /healthz included, as upstream: a client
 * certificate verified against authentication.x509.clientCAFile, else a
 * bearer token checked with a TokenReview when authentication.webhook is
 * enabled, else system:anonymous when authentication.anonymous is; then
 * authorization.mode Webhook asks a SubjectAccessReview for the node
 * resource with the request's subresource (kl_server_request_attrs).
 * The reviews go through the kubelet's own API client.
 *
 * The serving certificate: with serverTLSBootstrap (which wins over
 * tlsCertFile, as upstream) a certificate from the kubelet-serving signer kept
 * as CERT_DIR/kubelet-server-current.pem (the port opens once one is
 * issued, as upstream serves nothing before, and a rotated one is loaded
 * into the same TLS context for the connections that follow); else
 * tlsCertFile/tlsPrivateKeyFile; else a self-signed pair
 * CERT_DIR/kubelet.crt, kubelet.key.
 */
#define _GNU_SOURCE
#include "server.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>
#include <time.h>

#include "certificate.h"
#include "certmgr.h"
#include "kube/http.h"
#include "kube/log.h"
#include "kube/secure_serving.h"
#include "kube/metrics.h"
#include "kube/tls.h"
#include "kube/xalloc.h"
#include "kubelet.h"
#include "server_handlers.h"

struct kl_server {
  struct kubelet *k;
  struct http_server *main, *ro, *healthz;
  void *ssl_ctx;
  struct ksecure_auth *auth;
  struct kl_certmgr *serving; /* serverTLSBootstrap */
  int port;
};

static void reply_text(struct http_request *req, int code, const char *text)
{
  http_reply(req, code, "text/plain; charset=utf-8", text, strlen(text));
}

static void metrics(struct kubelet *k, struct http_request *req)
{
  size_t len = 0;
  char *txt = metrics_render(k->metrics, &len);
  http_reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", txt ? txt : "", txt ? len : 0);
  free(txt);
}

/* Routes shared by the HTTPS port and the read-only port. */
static bool route_read_only(struct kubelet *k, struct http_request *req, const char *path)
{
  if (!strcmp(path, "/healthz") || !strcmp(path, "/healthz/ping") || !strcmp(path, "/healthz/syncloop")) {
    reply_text(req, 200, "ok");
  } else if (!strcmp(path, "/metrics")) {
    metrics(k, req);
  } else if (!strcmp(path, "/pods") || !strcmp(path, "/pods/")) {
    kl_serve_pods(k, req, false);
  } else if (!strcmp(path, "/stats/summary") || !strcmp(path, "/stats/summary/")) {
    kl_serve_stats_summary(k, req);
  } else if (!strcmp(path, "/metrics/resource")) {
    kl_serve_metrics_resource(k, req);
  } else {
    return false;
  }
  return true;
}

static void main_handler(struct http_request *req, void *arg)
{
  struct kl_server *s = arg;
  const char *path = http_req_path(req);
  if (route_read_only(s->k, req, path)) return;
  if (!strncmp(path, "/containerLogs/", 15)) kl_serve_container_logs(s->k, req);
  else if (!strcmp(path, "/logs") || !strncmp(path, "/logs/", 6)) kl_serve_node_logs(s->k, req);
  else if (!strcmp(path, "/runningpods") || !strcmp(path, "/runningpods/")) kl_serve_pods(s->k, req, true);
  else if (!strncmp(path, "/exec/", 6) || !strncmp(path, "/attach/", 8) || !strncmp(path, "/portForward/", 13))
    kl_serve_stream(s->k, req);
  else reply_text(req, 404, "404 page not found\n");
}

static void ro_handler(struct http_request *req, void *arg)
{
  struct kl_server *s = arg;
  if (!route_read_only(s->k, req, http_req_path(req))) reply_text(req, 404, "404 page not found\n");
}

static void healthz_handler(struct http_request *req, void *arg)
{
  if (!strcmp(http_req_path(req), "/healthz")) reply_text(req, 200, "ok");
  else reply_text(req, 404, "404 page not found\n");
}

static bool is_subpath(const char *path, const char *sub)
{
  size_t n = strlen(sub);
  if (n && sub[n - 1] == '/') n--;
  return !strncmp(path, sub, n) && (path[n] == 0 || path[n] == '/');
}

void kl_server_request_attrs(const char *node_name, const char *method, const char *path, struct ksecure_attrs *out)
{
  memset(out, 0, sizeof *out);
  snprintf(out->verb, sizeof out->verb, "%s", ksecure_resource_verb(method));
  out->resource = "nodes";
  out->name = node_name;
  out->api_version = "v1";
  out->subresource = "proxy";
  if (is_subpath(path, "/stats/")) out->subresource = "stats";
  else if (is_subpath(path, "/metrics")) out->subresource = "metrics";
  else if (is_subpath(path, "/logs/")) out->subresource = "log";
  else if (is_subpath(path, "/spec/")) out->subresource = "spec";
}

static void request_attrs(void *arg, const char *method, const char *path, struct ksecure_attrs *out)
{
  struct kl_server *s = arg;
  kl_server_request_attrs(s->k->node_name, method, path, out);
}

static int listen_on(struct kubelet *k, struct http_server **out, const struct http_server_opts *o, http_handler_fn fn,
                     void *arg, const char *addr, int port, char *err, size_t errlen)
{
  *out = http_server_new(k->base, o, fn, arg);
  int rc = *out ? http_server_listen(*out, addr, port) : -ENOMEM;
  if (rc < 0) snprintf(err, errlen, "failed to listen on %s:%d: %s", addr, port, strerror(-rc));
  return rc;
}

static int listen_main(struct kl_server *s, const char *cert, const char *key, char *err, size_t errlen)
{
  struct kubelet *k = s->k;
  const struct kl_config *c = k->cfg;
  char sans[600];
  snprintf(sans, sizeof sans, "DNS:%s%s%s", k->node_name, *k->node_ip ? ",IP:" : "", *k->node_ip ? k->node_ip : "");
  struct ktls_server_opts to = {.cert_file = cert,
                                .key_file = key,
                                .cert_dir = c->cert_dir,
                                .pair_name = "kubelet",
                                .cn = k->node_name,
                                .sans = sans,
                                .client_ca_file = *c->client_ca_file ? c->client_ca_file : NULL};
  s->ssl_ctx = ktls_server_ctx(&to, err, errlen);
  struct http_server_opts tls = {.idle_timeout_s = 4 * 3600, .ssl_ctx = s->ssl_ctx};
  if (!s->ssl_ctx || (s->port = listen_on(k, &s->main, &tls, ksecure_auth_serve, s->auth, c->address, c->port, err,
                                          errlen)) < 0)
    return -1;
  KLOG_I("Starting to listen on %s:%d (HTTPS)", c->address, s->port);
  return 0;
}

/* A serving certificate was issued: open the port with it, or load it
 * into the open port's context for the connections that follow. */
static void serving_cert(void *arg, const char *pem_path, const char *cert_pem, const char *key_pem)
{
  (void)cert_pem, (void)key_pem;
  struct kl_server *s = arg;
  char err[600];
  if (!s->main) {
    if (listen_main(s, pem_path, pem_path, err, sizeof err) < 0) KLOG_E("Cannot serve the kubelet API: %s", err);
    return;
  }
  if (SSL_CTX_use_certificate_chain_file(s->ssl_ctx, pem_path) != 1 ||
      SSL_CTX_use_PrivateKey_file(s->ssl_ctx, pem_path, SSL_FILETYPE_PEM) != 1)
    KLOG_E("Cannot load the rotated serving certificate %s", pem_path);
}

static struct ksecure_auth *make_auth(struct kl_server *s)
{
  const struct kl_config *c = s->k->cfg;
  struct ksecure_auth_opts o = {.authn = c->webhook_authn ? s->k->client : NULL,
                                .authz = c->webhook_authz ? s->k->client : NULL,
                                .client_certs = *c->client_ca_file,
                                .anonymous = c->anonymous_auth,
                                .always_allow = !c->webhook_authz,
                                .token_ttl_ms = c->webhook_cache_ttl_ms,
                                .allowed_ttl_ms = c->authz_allowed_ttl_ms,
                                .denied_ttl_ms = c->authz_denied_ttl_ms,
                                .attrs = request_attrs,
                                .attrs_arg = s,
                                .plain_errors = true,
                                .handler = main_handler,
                                .arg = s};
  return ksecure_auth_new(&o);
}

/* The HTTPS port with its certificate (see the file comment). */
static int start_main(struct kl_server *s, char *err, size_t errlen)
{
  const struct kl_config *c = s->k->cfg;
  s->auth = make_auth(s);
  /* as upstream, serverTLSBootstrap's manager takes over from tlsCertFile */
  if (!c->server_tls_bootstrap) return listen_main(s, c->tls_cert_file, c->tls_private_key_file, err, errlen);
  char current[4400];
  kl_cert_current_path(c->cert_dir, "kubelet-server", current, sizeof current);
  s->serving = kl_certmgr_new(s->k, KL_CERT_SERVING, NULL, serving_cert, s);
  if (!s->serving) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  kl_certmgr_start(s->serving);
  if (kl_cert_file_usable(current, (int64_t)time(NULL))) return listen_main(s, current, current, err, errlen);
  KLOG_I("Waiting for a serving certificate (serverTLSBootstrap) before listening on port %d", c->port);
  return 0;
}

struct kl_server *kl_server_new(struct kubelet *k, char *err, size_t errlen)
{
  struct kl_server *s = xcalloc(1, sizeof *s);
  if (!s) return NULL;
  s->k = k;
  const struct kl_config *c = k->cfg;
  struct http_server_opts plain = {.idle_timeout_s = 120};
  if (c->enable_server && c->port > 0 && start_main(s, err, errlen) < 0) goto fail;
  if (c->enable_server && c->read_only_port > 0) {
    if (listen_on(k, &s->ro, &plain, ro_handler, s, c->address, c->read_only_port, err, errlen) < 0) goto fail;
    KLOG_I("Starting to listen read-only on %s:%d", c->address, c->read_only_port);
  }
  if (c->healthz_port > 0) {
    if (listen_on(k, &s->healthz, &plain, healthz_handler, s, c->healthz_bind_address, c->healthz_port, err, errlen) <
        0)
      goto fail;
  }
  return s;
fail:
  kl_server_free(s);
  return NULL;
}

void kl_server_free(struct kl_server *s)
{
  if (!s) return;
  if (s->main) http_server_free(s->main);
  ksecure_auth_free(s->auth);
  kl_certmgr_free(s->serving);
  if (s->ro) http_server_free(s->ro);
  if (s->healthz) http_server_free(s->healthz);
  if (s->ssl_ctx) ktls_ctx_free(s->ssl_ctx);
  free(s);
}

int kl_server_port(const struct kl_server *s) { return s ? s->port : 0; }
