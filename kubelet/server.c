/*
 * server.c - the kubelet's HTTP servers (see server.h): routing and the
 * small endpoints (/healthz, /metrics).  Pods, logs, stats and the
 * streaming endpoints live with the modules that know them (server_*.c).
 */
#define _GNU_SOURCE
#include "server.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/http.h"
#include "kube/log.h"
#include "kube/metrics.h"
#include "kube/tls.h"
#include "kube/xalloc.h"
#include "kubelet.h"
#include "server_handlers.h"

struct kl_server {
  struct kubelet *k;
  struct http_server *main, *ro, *healthz;
  void *ssl_ctx;
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

static int listen_on(struct kubelet *k, struct http_server **out, const struct http_server_opts *o, http_handler_fn fn,
                     void *arg, const char *addr, int port, char *err, size_t errlen)
{
  *out = http_server_new(k->base, o, fn, arg);
  int rc = *out ? http_server_listen(*out, addr, port) : -ENOMEM;
  if (rc < 0) snprintf(err, errlen, "failed to listen on %s:%d: %s", addr, port, strerror(-rc));
  return rc;
}

struct kl_server *kl_server_new(struct kubelet *k, char *err, size_t errlen)
{
  struct kl_server *s = xcalloc(1, sizeof *s);
  if (!s) return NULL;
  s->k = k;
  const struct kl_config *c = k->cfg;
  struct http_server_opts plain = {.idle_timeout_s = 120};
  if (c->enable_server && c->port > 0) {
    /* Without tlsCertFile, as upstream: a self-signed pair kept under
     * ROOT_DIR/pki (kubelet.crt, kubelet.key) for the hostname and node IP. */
    char dir[4096], sans[600];
    snprintf(dir, sizeof dir, "%s/pki", c->root_dir);
    snprintf(sans, sizeof sans, "DNS:%s%s%s", k->node_name, *k->node_ip ? ",IP:" : "",
             *k->node_ip ? k->node_ip : "");
    struct ktls_server_opts to = {.cert_file = c->tls_cert_file, .key_file = c->tls_private_key_file,
                                  .cert_dir = dir, .pair_name = "kubelet", .cn = k->node_name, .sans = sans};
    s->ssl_ctx = ktls_server_ctx(&to, err, errlen);
    struct http_server_opts tls = {.idle_timeout_s = 4 * 3600, .ssl_ctx = s->ssl_ctx};
    if (!s->ssl_ctx || (s->port = listen_on(k, &s->main, &tls, main_handler, s, c->address, c->port, err, errlen)) < 0)
      goto fail;
    KLOG_I("Starting to listen on %s:%d (HTTPS)", c->address, s->port);
  }
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
  if (s->ro) http_server_free(s->ro);
  if (s->healthz) http_server_free(s->healthz);
  if (s->ssl_ctx) ktls_ctx_free(s->ssl_ctx);
  free(s);
}

int kl_server_port(const struct kl_server *s) { return s ? s->port : 0; }
