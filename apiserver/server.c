/*
 * server.c - the HTTP front of kube-apiserver: one handler for every
 * request, dispatching non-resource paths (/healthz, /livez, /readyz,
 * /metrics, /version, /openapi) itself and resource paths to the REST
 * handlers.
 *
 * Every request is wrapped in a heap `struct api_req` that lives until the
 * answer is sent.  Synchronous handlers answer before returning and the
 * dispatcher frees the wrapper; a handler that goes asynchronous (a
 * storage write, a watch) sets `pending` and frees it itself through
 * api_req_done().  If the client disconnects first, on_close clears
 * `http` so the late answer is dropped.  Each answer is counted in
 * apiserver_request_total and the duration histogram, and logged at --v=3
 * like upstream's httplog.
 */
#define _GNU_SOURCE
#include "api.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include <kube/http.h>
#include <kube/json.h>
#include <kube/log.h>
#include <kube/metrics.h>
#include <kube/status.h>
#include <kube/strconv.h>
#include <kube/timeutil.h>
#include <kube/tls.h>
#include <kube/yaml.h>

#include "auth/authn.h"
#include "audit.h"
#include "protobuf.h"
#include "registry/registry.h"
#include "storage/storage.h"
#include <kube/xalloc.h>

const char *api_req_query(struct api_req *ar) { return ar->http ? http_req_query(ar->http) : ""; }

const char *api_req_accept(struct api_req *ar) { return ar->http ? http_req_header(ar->http, "Accept") : NULL; }

static const char *metric_verb(struct api_req *ar)
{
  static const struct {
    const char *v, *m;
  } map[] = {
      {"get", "GET"},    {"list", "LIST"},   {"watch", "WATCH"},   {"create", "POST"},
      {"update", "PUT"}, {"patch", "PATCH"}, {"delete", "DELETE"}, {"deletecollection", "DELETE"},
  };
  if (!ar->verb) return ar->http ? http_req_method(ar->http) : "GET";
  for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
    if (strcmp(map[i].v, ar->verb) == 0) return map[i].m;
  return ar->verb;
}

void api_record(struct api_req *ar, int code)
{
  struct apiserver *srv = ar->srv;
  audit_response_complete(ar, code, NULL, 0); /* a no-op when the reply already logged it */
  double secs = (double)(ktime_now_us() - ar->start_us) / 1e6;
  const char *verb = metric_verb(ar);
  const char *resource = ar->rt.kind == ROUTE_RESOURCE ? ar->rt.resource : "";
  char labels[512];
  snprintf(labels, sizeof(labels),
           "verb=\"%s\",group=\"%s\",version=\"%s\",resource=\"%s\",subresource=\"%s\",code=\"%d\"", verb, ar->rt.group,
           ar->rt.version, resource, ar->rt.sub, code);
  if (srv->metrics) {
    metrics_counter_add(srv->metrics, "apiserver_request_total",
                        "Counter of apiserver requests broken out for each verb, group, version, "
                        "resource, subresource and HTTP response code.",
                        labels, 1);
    snprintf(labels, sizeof(labels), "verb=\"%s\",group=\"%s\",version=\"%s\",resource=\"%s\",subresource=\"%s\"", verb,
             ar->rt.group, ar->rt.version, resource, ar->rt.sub);
    metrics_histogram_observe(srv->metrics, "apiserver_request_duration_seconds",
                              "Response latency distribution in seconds for each verb, group, "
                              "version, resource and subresource.",
                              labels, NULL, 0, secs);
  }
  if (ar->http && klog_v_level >= 3) {
    const char *q = http_req_query(ar->http);
    const char *ua = http_req_header(ar->http, "User-Agent");
    KLOG_V(3, "\"HTTP\" verb=\"%s\" URI=\"%s%s%s\" latency=\"%.6fs\" userAgent=\"%s\" srcIP=\"%s\" resp=%d", verb,
           http_req_raw_path(ar->http), *q ? "?" : "", q, secs, ua ? ua : "", http_req_peer(ar->http), code);
  }
}

void api_add_warning(struct api_req *ar, const char *msg)
{
  if (!ar->http) return;
  /* RFC 7234 warn-text is a quoted string: escape quotes and backslashes. */
  size_t n = strlen(msg);
  char *buf = xmalloc(n * 2 + 16);
  if (!buf) return;
  size_t o = 0;
  memcpy(buf, "299 - \"", 7);
  o = 7;
  for (size_t i = 0; i < n; i++) {
    if (msg[i] == '"' || msg[i] == '\\') buf[o++] = '\\';
    buf[o++] = msg[i];
  }
  buf[o++] = '"';
  buf[o] = '\0';
  http_add_header(ar->http, "Warning", buf);
  free(buf);
}

void api_reply_raw(struct api_req *ar, int code, const char *ctype, const char *body, size_t len)
{
  if (ar->closed) return;
  ar->closed = true;
  audit_response_complete(ar, code, body, len);
  api_record(ar, code);
  if (ar->http) {
    /* the request object is freed once answered */
    struct http_request *r = ar->http;
    ar->http = NULL;
    http_req_on_close(r, NULL, NULL);
    http_reply(r, code, ctype, body, len);
  }
}

void api_reply_evbuffer(struct api_req *ar, int code, const char *ctype, struct evbuffer *body)
{
  if (ar->closed) return;
  ar->closed = true;
  if (audit_wants_response(ar)) {
    size_t n = evbuffer_get_length(body);
    audit_response_complete(ar, code, (const char *)evbuffer_pullup(body, (ev_ssize_t)n), n);
  }
  api_record(ar, code);
  if (ar->http) {
    struct http_request *r = ar->http;
    ar->http = NULL;
    http_req_on_close(r, NULL, NULL);
    http_reply_evbuffer(r, code, ctype, body);
  }
}

static bool is_status(const json_t *obj)
{
  const char *k = kj_get_str(obj, "kind");
  return k && strcmp(k, "Status") == 0;
}

json_t *api_not_acceptable(const char *why)
{
  if (why) return kstatus_new(406, "NotAcceptable", "%s", why);
  return kstatus_new(406, "NotAcceptable",
                     "only the following media types are accepted: application/json, "
                     "application/yaml, application/vnd.kubernetes.protobuf");
}

static bool is_list(const json_t *obj)
{
  const char *kind = kj_get_str(obj, "kind");
  size_t n = kind ? strlen(kind) : 0;
  return n > 4 && strcmp(kind + n - 4, "List") == 0 && json_is_array(json_object_get(obj, "items"));
}

/* New reference: the Table of an object or a list (obj stolen). */
static json_t *as_table(struct api_req *ar, json_t *obj)
{
  json_t *t = api_table_new(ar->res, true);
  char *iv = ar->http ? kstr_query_get(api_req_query(ar), "includeObject") : NULL;
  enum api_include inc = api_include_parse(iv);
  free(iv);
  if (is_list(obj)) {
    size_t i;
    json_t *it;
    json_array_foreach (json_object_get(obj, "items"), i, it) api_table_add_row(t, ar->res, it, inc);
    json_t *meta = json_object_get(obj, "metadata");
    if (meta) json_object_set(t, "metadata", meta);
  } else {
    api_table_add_row(t, ar->res, obj, inc);
    const char *rv = kj_get_str(obj, "metadata.resourceVersion");
    if (rv) kj_set_str(t, "metadata.resourceVersion", rv);
  }
  json_decref(obj);
  return t;
}

/* New reference: PartialObjectMetadata(List) of obj (stolen), or a 406
 * Status when the client asked for the other of the two. */
static json_t *as_partial(const struct api_media *m, json_t *obj)
{
  json_t *out;
  bool list = is_list(obj);
  if (m->fmt == FMT_PARTIAL && list)
    out = api_not_acceptable("you requested PartialObjectMetadata, but the requested object is a list");
  else if (m->fmt == FMT_PARTIAL_LIST && !list)
    out = api_not_acceptable("you requested PartialObjectMetadataList, but the requested object is not a list");
  else out = list ? api_partial_list(obj, m->meta_gv) : api_partial_object(obj, m->meta_gv);
  json_decref(obj);
  return out;
}

void api_reply_obj(struct api_req *ar, int code, json_t *obj)
{
  if (!obj) obj = kstatus_internal("failed to build the response");
  struct api_media m;
  api_negotiate_media(api_req_accept(ar), &m);
  if (m.fmt != FMT_JSON && m.fmt != FMT_YAML && (is_status(obj) || !ar->res || code >= 300)) m.fmt = FMT_JSON;
  if (m.fmt == FMT_TABLE) {
    obj = as_table(ar, obj);
  } else if (m.fmt == FMT_PARTIAL || m.fmt == FMT_PARTIAL_LIST) {
    obj = as_partial(&m, obj);
    if (is_status(obj)) code = kstatus_code(obj);
  }
  if (m.fmt == FMT_YAML) {
    char *y = kyaml_dump(obj);
    json_decref(obj);
    if (y) {
      api_reply_raw(ar, code, "application/yaml", y, strlen(y));
      free(y);
      return;
    }
    obj = kstatus_internal("failed to serialize YAML");
    code = 500;
  }
  char *s = kj_dumps(obj);
  json_decref(obj);
  if (!s) {
    api_reply_raw(ar, 500, "application/json", "{}", 2);
    return;
  }
  api_reply_raw(ar, code, "application/json", s, strlen(s));
  free(s);
}

void api_reply_status(struct api_req *ar, json_t *status)
{
  int code = kstatus_code(status);
  if (code <= 0) code = 500;
  api_reply_obj(ar, code, status);
}

void api_reply_bytes(struct api_req *ar, int code, const char *bytes, size_t len)
{
  enum api_format fmt = api_negotiate(api_req_accept(ar));
  if (fmt == FMT_JSON) {
    api_reply_raw(ar, code, "application/json", bytes, len);
    return;
  }
  json_t *obj = kj_loadb(bytes, len, false, NULL, 0);
  api_reply_obj(ar, code, obj);
}

json_t *api_not_found(struct api_req *ar, const char *name)
{
  return kstatus_not_found(ar->res ? ar->res->group : ar->rt.group, ar->res ? ar->res->plural : ar->rt.resource, name);
}

static json_t *generic_not_found(void)
{
  json_t *st = kstatus_new(404, "NotFound", "the server could not find the requested resource");
  json_object_set_new(st, "details", json_object());
  return st;
}

json_t *api_decode_body(struct api_req *ar, json_t **status, json_t **dups)
{
  size_t len = 0;
  const char *body = ar->http ? http_req_body(ar->http, &len) : NULL;
  const char *ctype = ar->http ? http_req_header(ar->http, "Content-Type") : NULL;
  char err[512] = "";
  json_t *obj = NULL;
  *status = NULL;
  if (dups) *dups = NULL;
  if (!body || len == 0) {
    *status = kstatus_bad_request("the body of the request was empty");
    return NULL;
  }
  if (ctype && strncmp(ctype, "application/vnd.kubernetes.protobuf", 35) == 0 && ar->res && ar->res->custom) {
    *status = kstatus_unsupported_media_type("the body of the request was in an unknown format - accepted media "
                                             "types include: application/json, application/yaml");
    return NULL;
  } else if (ctype && strncmp(ctype, "application/vnd.kubernetes.protobuf", 35) == 0) {
    int code = 415;
    obj = protobuf_decode(ar->srv->schema, body, len, &code, err, sizeof(err));
    if (!obj) {
      *status = code == 400 ? kstatus_bad_request("%s", err) : kstatus_unsupported_media_type("%s", err);
      return NULL;
    }
  } else if (ctype && (strstr(ctype, "yaml") != NULL)) {
    obj = kyaml_load(body, len, err, sizeof(err));
    if (!obj) {
      *status = kstatus_bad_request("error converting YAML to JSON: %s", err);
      return NULL;
    }
  } else if (!ctype || strstr(ctype, "json") || strstr(ctype, "*/*") || !*ctype) {
    obj = kj_loadb(body, len, true, err, sizeof(err));
    if (!obj && strstr(err, "duplicate")) {
      obj = kj_loadb(body, len, false, err, sizeof(err));
      if (obj && dups) *dups = api_json_duplicates(body, len);
    }
    if (!obj) {
      *status = kstatus_bad_request("couldn't get version/kind; json parse error: %s", err);
      return NULL;
    }
  } else {
    *status = kstatus_unsupported_media_type("the body of the request was in an unknown format - "
                                             "accepted media types include: application/json, "
                                             "application/yaml");
    return NULL;
  }
  if (!json_is_object(obj)) {
    json_decref(obj);
    if (dups && *dups) {
      json_decref(*dups);
      *dups = NULL;
    }
    *status = kstatus_bad_request("the body of the request must be a JSON object");
    return NULL;
  }
  return obj;
}

/* ---- non-resource endpoints ---- */

static void reply_text(struct api_req *ar, int code, const char *text)
{
  api_reply_raw(ar, code, "text/plain; charset=utf-8", text, strlen(text));
}

static void handle_health(struct api_req *ar, const char *which)
{
  bool verbose = ar->http && http_req_param(ar->http, "verbose") != NULL;
  bool ready = ar->srv->ready;
  bool is_ready = strcmp(which, "readyz") == 0;
  bool ok = !is_ready || ready;
  if (!verbose) {
    reply_text(ar, ok ? 200 : 500,
               ok ? "ok" : "[-]poststarthook/bootstrap failed: not finished\nreadyz check failed\n");
    return;
  }
  char buf[1024];
  snprintf(buf, sizeof(buf), "[+]ping ok\n[+]log ok\n[+]etcd ok\n%s%s check %s\n",
           is_ready ? (ready ? "[+]poststarthook/bootstrap ok\n" : "[-]poststarthook/bootstrap failed: not finished\n")
                    : "",
           which, ok ? "passed" : "failed");
  reply_text(ar, ok ? 200 : 500, buf);
}

static void handle_metrics(struct api_req *ar)
{
  struct apiserver *srv = ar->srv;
  if (!srv->metrics) {
    reply_text(ar, 200, "");
    return;
  }
  if (srv->storage) {
    struct storage_stats s;
    storage_get_stats(srv->storage, &s);
    metrics_gauge_set(srv->metrics, "apiserver_storage_objects", "Number of stored objects.", NULL, (double)s.keys);
    metrics_gauge_set(srv->metrics, "apiserver_storage_size_bytes", "Size of the stored objects in bytes.", NULL,
                      (double)s.bytes);
    metrics_gauge_set(srv->metrics, "apiserver_storage_history_events", "Events kept for watch resumption.", NULL,
                      (double)s.history_events);
    metrics_gauge_set(srv->metrics, "apiserver_storage_commits_total", "Storage transactions committed.", NULL,
                      (double)s.batches);
    metrics_gauge_set(srv->metrics, "apiserver_storage_writes_total", "Storage writes.", NULL, (double)s.writes);
    metrics_gauge_set(srv->metrics, "apiserver_storage_fsyncs_total", "Storage fsync calls.", NULL, (double)s.fsyncs);
    metrics_gauge_set(srv->metrics, "apiserver_storage_revision", "Newest committed revision.", NULL,
                      (double)storage_rev(srv->storage));
  }
  if (srv->http)
    metrics_gauge_set(srv->metrics, "apiserver_open_connections", "Open HTTP connections.", NULL,
                      (double)http_server_connections(srv->http));
  size_t len = 0;
  char *text = metrics_render(srv->metrics, &len);
  api_reply_raw(ar, 200, "text/plain; version=0.0.4; charset=utf-8", text ? text : "", text ? len : 0);
  free(text);
}

static void handle_version(struct api_req *ar)
{
  json_t *v =
      json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "major", "1", "minor", "32", "gitVersion", "v1.32.0-kube",
                "gitCommit", "0000000000000000000000000000000000000000", "gitTreeState", "clean", "buildDate",
                "2026-01-01T00:00:00Z", "goVersion", "n/a", "compiler", "gcc", "platform", "linux/amd64");
  api_reply_obj(ar, 200, v);
}

static void on_close(struct http_request *r, void *arg)
{
  struct api_req *ar = arg;
  ar->http = NULL;
  if (ar->watch) api_watch_closed(ar);
}

/* Frees a request, its user, and drops its hold on a custom resource
 * descriptor. */
static void req_free(struct api_req *ar)
{
  registry_res_unref(ar->res);
  auth_user_free(ar->user);
  audit_req_free(ar);
  free(ar);
}

void api_req_done(struct api_req *ar)
{
  if (ar->http && !ar->closed) api_reply_status(ar, kstatus_internal("request ended without an answer"));
  if (ar->http) http_req_on_close(ar->http, NULL, NULL);
  req_free(ar);
}

static void on_request(struct http_request *r, void *arg)
{
  struct apiserver *srv = arg;
  struct api_req *ar = xcalloc(1, sizeof(*ar));
  if (!ar) {
    http_reply(r, 500, "text/plain", "out of memory", 13);
    return;
  }
  ar->srv = srv;
  ar->http = r;
  ar->start_us = ktime_now_us();
  const char *path = http_req_path(r);
  const char *method = http_req_method(r);
  bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;

  /* the secure port: authenticated and authorized first (auth/authn.h);
   * the insecure port's requests are audited as they come */
  if (!http_req_ssl(r)) audit_request_received(ar);
  if (http_req_ssl(r) && !api_auth_request(ar))
    ; /* answered: 401, 403 or 400 */
  else if (strncmp(path, "/healthz", 8) == 0 && get) handle_health(ar, "healthz");
  else if (strncmp(path, "/livez", 6) == 0 && get) handle_health(ar, "livez");
  else if (strncmp(path, "/readyz", 7) == 0 && get) handle_health(ar, "readyz");
  else if (strcmp(path, "/metrics") == 0 && get) handle_metrics(ar);
  else if ((strcmp(path, "/version") == 0 || strcmp(path, "/version/") == 0) && get) handle_version(ar);
  else if (strncmp(path, "/openapi/v3", 11) == 0 && get) api_handle_openapi(ar, path + 11);
  else if ((strcmp(path, "/openapi/v2") == 0 || strcmp(path, "/openapi/v2/") == 0) && get) api_handle_openapi_v2(ar);
  else if ((strcmp(path, "/openid/v1/jwks") == 0 || strcmp(path, "/.well-known/openid-configuration") == 0) && get)
    api_handle_oidc(ar, path);
  else if (api_proxy_try(ar, http_req_raw_path(r)))
    ; /* answered by the kubelet, or an error Status */
  else {
    enum api_route_kind k = api_route_parse(path, &ar->rt);
    if (k == ROUTE_RESOURCE) {
      http_req_on_close(r, on_close, ar);
      api_handle_resource(ar);
    } else if (k != ROUTE_NOT_FOUND && get) {
      api_handle_discovery(ar);
    } else if (k != ROUTE_NOT_FOUND) {
      api_reply_status(ar,
                       kstatus_method_not_allowed("the server does not allow this method on the requested resource"));
    } else {
      api_reply_status(ar, generic_not_found());
    }
  }
  if (ar->pending) return;
  if (ar->http && !ar->closed) api_reply_status(ar, kstatus_internal("request was not answered"));
  if (ar->http) http_req_on_close(ar->http, NULL, NULL);
  req_free(ar);
}

static void trim_cb(evutil_socket_t fd, short what, void *arg) { malloc_trim(0); }

/* A trim walks the whole heap (~80 ms after a 10,000-item list), so it
 * waits until big lists have stopped for a while: each one postpones it. */
#define TRIM_DELAY_SEC 2

static void trim_body_written(const void *data, size_t len, void *arg)
{
  struct apiserver *srv = arg;
  struct timeval tv = {TRIM_DELAY_SEC, 0};
  if (srv->api && srv->api->trim_ev) evtimer_add(srv->api->trim_ev, &tv);
}

int api_trim_after(struct apiserver *srv, struct evbuffer *body)
{
  if (!srv->api || !srv->base) return 0;
  if (!srv->api->trim_ev && !(srv->api->trim_ev = event_new(srv->base, -1, 0, trim_cb, NULL))) return -ENOMEM;
  /* an empty reference at the end: its cleanup runs once all before it is sent */
  static const char nothing[1];
  return evbuffer_add_reference(body, nothing, 0, trim_body_written, srv) == 0 ? 0 : -ENOMEM;
}

/* --bind-address:--secure-port with the serving certificate (given, or
 * self-signed in --cert-dir for localhost, the advertise address and the
 * service's names). */
static int serve_secure(struct apiserver *srv, char *err, size_t errlen)
{
  const struct apiserver_config *c = &srv->cfg;
  char sans[1024];
  snprintf(sans, sizeof sans,
           "DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,"
           "DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1%s%s",
           c->advertise_address && *c->advertise_address ? ",IP:" : "",
           c->advertise_address && *c->advertise_address ? c->advertise_address : "");
  struct ktls_server_opts to = {.cert_file = c->secure.tls_cert_file,
                                .key_file = c->secure.tls_private_key_file,
                                .cert_dir = c->secure.cert_dir,
                                .pair_name = "apiserver",
                                .cn = "localhost",
                                .sans = sans,
                                .min_version = c->secure.tls_min_version,
                                .cipher_suites = c->secure.tls_cipher_suites,
                                .client_ca_file = c->secure.client_ca_file,
                                .extra_client_ca_file = c->secure.requestheader.client_ca_file};
  if (!(srv->tls_ctx = ktls_server_ctx(&to, err, errlen))) return -EINVAL;
  struct http_server_opts o = {.ssl_ctx = srv->tls_ctx};
  if (!(srv->https = http_server_new(srv->base, &o, on_request, srv))) return -ENOMEM;
  int port = http_server_listen(srv->https, c->secure.bind_address ? c->secure.bind_address : "0.0.0.0",
                                c->secure.secure_port);
  if (port < 0)
    snprintf(err, errlen, "listening on %s:%d: %s", c->secure.bind_address, c->secure.secure_port, strerror(-port));
  else srv->secure_bound_port = port;
  return port < 0 ? port : 0;
}

int apiserver_serve(struct apiserver *srv, char *err, size_t errlen)
{
  if (!srv->api) srv->api = xcalloc(1, sizeof(*srv->api));
  if (!srv->kubelet_tls && !(srv->kubelet_tls = api_kubelet_tls_new(&srv->cfg, err, errlen))) return -EINVAL;
  if (srv->cfg.secure.secure_port > 0) {
    int rc = serve_secure(srv, err, errlen);
    if (rc < 0) return rc;
  }
  if (srv->cfg.insecure_port == 0) return 0;
  struct http_server_opts o = {0};
  srv->http = http_server_new(srv->base, &o, on_request, srv);
  if (!srv->http) return -ENOMEM;
  const char *addr = srv->cfg.insecure_bind_address ? srv->cfg.insecure_bind_address : "127.0.0.1";
  int port = http_server_listen(srv->http, addr, srv->cfg.insecure_port < 0 ? 0 : srv->cfg.insecure_port);
  if (port < 0) snprintf(err, errlen, "listening on %s:%d: %s", addr, srv->cfg.insecure_port, strerror(-port));
  else srv->insecure_bound_port = port;
  return port < 0 ? port : 0;
}

void apiserver_stop(struct apiserver *srv)
{
  if (srv->http) {
    http_server_free(srv->http);
    srv->http = NULL;
  }
  if (srv->https) {
    http_server_free(srv->https);
    srv->https = NULL;
  }
  ktls_ctx_free(srv->tls_ctx);
  srv->tls_ctx = NULL;
  ktls_ctx_free(srv->kubelet_tls); /* SSL_CTX_free; connections in flight hold their own reference */
  srv->kubelet_tls = NULL;
  api_discovery_free(srv);
  if (srv->api && srv->api->trim_ev) event_free(srv->api->trim_ev);
  free(srv->api);
  srv->api = NULL;
}
