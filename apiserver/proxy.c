/*
 * proxy.c - the API server's connections to kubelets: pods/NAME/log,
 * pods/NAME/exec, pods/NAME/attach, pods/NAME/portforward and
 * nodes/NAME/proxy/PATH, as upstream's "location" subresources.
 *
 * The pod's spec.nodeName names the Node; the Node's InternalIP (else its
 * first address) and status.daemonEndpoints.kubeletEndpoint.Port (10250
 * when unset) locate the kubelet, reached over HTTPS with one client
 * context for all kubelets: it presents --kubelet-client-certificate/
 * --kubelet-client-key and, with --kubelet-certificate-authority, verifies
 * the kubelet's serving certificate against it (chain only: nodes are
 * dialed by IP and upstream checks no name either); without it the
 * kubelet is not verified, as upstream.  Paths map as upstream's kubelet
 * client does:
 *   pods/P/log?container=C&...     -> GET /containerLogs/NS/P/C?...
 *   pods/P/exec?container=C&...    -> /exec/NS/P/C?...
 *   pods/P/attach?container=C&...  -> /attach/NS/P/C?...
 *   pods/P/portforward?...         -> /portForward/NS/P?...
 *   nodes/N/proxy/PATH?...         -> /PATH?...
 * The request goes out as HTTP/1.1 with the client's method, the headers
 * that matter to the kubelet (upgrade negotiation, Accept, content type)
 * and the body.  The kubelet's answer comes back as it arrives: a 101
 * hands both connections over to a byte relay (WebSocket and SPDY alike,
 * nothing is parsed after the upgrade); anything else is streamed to the
 * client chunk by chunk (logs with follow=true never end), reading from the
 * kubelet only while the client's queue is under PROXY_HIGH_WATER_BYTES.
 * Errors are upstream's: a pod without a node, an unknown node, a node
 * without an address, a container that is not in the pod, a kubelet that
 * cannot be reached (503 ServiceUnavailable, as upstream's proxy).
 * Everything runs on the API server's event loop; the connect is
 * non-blocking (addresses are IPs, no name lookup).
 */
#define _GNU_SOURCE
#include "api.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kube/http.h"
#include "kube/json.h"
#include "kube/log.h"
#include "kube/podutil.h"
#include "kube/status.h"
#include "registry/registry.h"
#include "storage/storage.h"
#include "kube/xalloc.h"

#define KUBELET_DEFAULT_PORT 10250
#define PROXY_HIGH_WATER_BYTES (1u << 20)
#define PROXY_RESUME_POLL_MS 20
#define PROXY_MAX_HEADER_BYTES (64u * 1024u)
#define PROXY_CONNECT_TIMEOUT_S 10
#define PROXY_MAX_RESPONSE_HEADERS 32

enum proxy_state { P_HEADERS, P_BODY, P_RELAY };

struct proxy {
  struct api_req *ar;
  struct bufferevent *up;   /* the kubelet */
  struct bufferevent *down; /* the client, after an upgrade */
  enum proxy_state state;
  bool chunked, streaming, up_eof;
  int64_t remaining;  /* Content-Length left, -1: until the kubelet closes */
  int64_t chunk_left; /* chunked: bytes left in this chunk; -1: read a size line; -2: trailer */
  struct event *resume;
};

/* --- upstream's errors --- */

static json_t *pod_has_no_host(const char *name)
{
  return kstatus_bad_request("pod %s does not have a host assigned", name);
}

/* A new reference to the stored object, or NULL. */
static json_t *load(struct api_req *ar, const char *resource, const char *ns, const char *name)
{
  const struct resource *res = registry_find("", "v1", resource);
  char *key = res ? api_storage_key(res, ns, name) : NULL;
  struct kv *kv = key ? storage_get(ar->srv->storage, key) : NULL;
  free(key);
  if (!kv) return NULL;
  return kj_loadb(kv->bytes, kv->len, false, NULL, 0); /* kv is borrowed */
}

/* host:port of the node's kubelet into out; NULL or a Status (new). */
static json_t *kubelet_location(struct api_req *ar, const char *node_name, char *host, size_t hostlen, int *port)
{
  json_t *node = load(ar, "nodes", NULL, node_name);
  if (!node) {
    json_t *st = kstatus_not_found("", "nodes", node_name);
    return st;
  }
  json_t *addrs = kj_get(node, "status.addresses");
  const char *pick = NULL;
  size_t i;
  json_t *a;
  json_array_foreach (addrs, i, a) {
    const char *type = kj_get_str(a, "type"), *addr = kj_get_str(a, "address");
    if (!addr || !*addr) continue;
    if (type && strcmp(type, "InternalIP") == 0) {
      pick = addr;
      break;
    }
    if (!pick && type && (strcmp(type, "ExternalIP") == 0 || strcmp(type, "Hostname") == 0)) pick = addr;
  }
  json_t *st = NULL;
  struct in_addr in4;
  struct in6_addr in6;
  if (!pick) {
    st = kstatus_internal("no preferred addresses found; known addresses: []");
  } else if (inet_pton(AF_INET, pick, &in4) != 1 && inet_pton(AF_INET6, pick, &in6) != 1) {
    st = kstatus_internal("node %s address %s is not an IP address", node_name, pick);
  } else {
    snprintf(host, hostlen, "%s", pick);
    *port = (int)kj_get_int(node, "status.daemonEndpoints.kubeletEndpoint.Port", 0);
    if (*port <= 0 || *port > 65535) *port = KUBELET_DEFAULT_PORT;
  }
  json_decref(node);
  return st;
}

/* The container named by the query, or the pod's only one; NULL and *st. */
static const char *pick_container(struct api_req *ar, const json_t *pod, const char *name, json_t **st)
{
  const char *want = http_req_param(ar->http, "container");
  json_t *cs = kj_get(pod, "spec.containers");
  size_t i;
  json_t *c;
  if (want && *want) {
    json_t *found = pod_find_container(pod, want, POD_CONTAINER_ANY);
    if (found) return kj_get_str(found, "name");
    *st = kstatus_bad_request("container %s is not valid for pod %s", want, name);
    return NULL;
  }
  if (json_array_size(cs) == 1) return kj_get_str(json_array_get(cs, 0), "name");
  char names[1024] = "";
  size_t off = 0;
  json_array_foreach (cs, i, c) {
    off += (size_t)snprintf(names + off, off < sizeof names ? sizeof names - off : 0, "%s%s", i ? " " : "",
                            kj_get_str(c, "name") ?: "");
  }
  *st = kstatus_bad_request("a container name must be specified for pod %s, choose one of: [%s]", name, names);
  return NULL;
}

/* --- the connection to the kubelet --- */

static void proxy_free(struct proxy *p)
{
  if (p->up) bufferevent_free(p->up);
  if (p->down) bufferevent_free(p->down);
  if (p->resume) event_free(p->resume);
  struct api_req *ar = p->ar;
  free(p);
  if (ar) api_req_done(ar);
}

/* Ends the client's request: an error Status before any answer went out,
 * else the end of the stream. */
static void proxy_end(struct proxy *p, json_t *status)
{
  struct api_req *ar = p->ar;
  if (ar && ar->http) {
    if (!p->streaming) {
      api_reply_status(ar, status ? status : kstatus_internal("the kubelet closed the connection"));
      status = NULL;
    } else {
      struct http_request *r = ar->http;
      http_req_on_close(r, NULL, NULL);
      ar->http = NULL;
      http_stream_end(r);
    }
  }
  json_decref(status);
  proxy_free(p);
}

static void client_gone(struct http_request *r, void *arg)
{
  struct proxy *p = arg;
  p->ar->http = NULL;
  proxy_free(p);
}

/* --- after a 101: bytes both ways --- */

static void relay_read(struct bufferevent *from, void *arg)
{
  struct proxy *p = arg;
  struct bufferevent *to = from == p->up ? p->down : p->up;
  bufferevent_write_buffer(to, bufferevent_get_input(from));
}

static void relay_flushed(struct bufferevent *bev, void *arg) { proxy_free(arg); }
static void relay_flushed_event(struct bufferevent *bev, short what, void *arg) { proxy_free(arg); }

static void relay_event(struct bufferevent *bev, short what, void *arg)
{
  struct proxy *p = arg;
  if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))) return;
  relay_read(bev, arg);
  /* One side ended: let the other side's queue drain, then close both. */
  struct bufferevent *other = bev == p->up ? p->down : p->up;
  if (evbuffer_get_length(bufferevent_get_output(other)) == 0) {
    proxy_free(p);
    return;
  }
  bufferevent_disable(bev, EV_READ);
  bufferevent_setcb(other, NULL, relay_flushed, relay_flushed_event, p);
  bufferevent_setwatermark(other, EV_WRITE, 0, 0);
}

static void start_relay(struct proxy *p, const char *const *headers)
{
  struct api_req *ar = p->ar;
  http_req_on_close(ar->http, NULL, NULL);
  api_record(ar, 101);
  ar->closed = true;
  p->down = http_upgrade(ar->http, headers);
  ar->http = NULL;
  if (!p->down) {
    proxy_free(p);
    return;
  }
  p->state = P_RELAY;
  bufferevent_setcb(p->up, relay_read, NULL, relay_event, p);
  bufferevent_setcb(p->down, relay_read, NULL, relay_event, p);
  bufferevent_enable(p->down, EV_READ | EV_WRITE);
  bufferevent_enable(p->up, EV_READ | EV_WRITE);
  relay_read(p->up, p);   /* the kubelet's first frames came with its 101 */
  relay_read(p->down, p); /* the client's came with its request */
}

/* --- a plain answer, streamed --- */

static void check_resume(evutil_socket_t fd, short what, void *arg);

static bool client_full(struct proxy *p)
{
  return p->ar->http && http_stream_pending(p->ar->http) > PROXY_HIGH_WATER_BYTES;
}

static void pause_reading(struct proxy *p)
{
  bufferevent_disable(p->up, EV_READ);
  struct timeval tv = {0, PROXY_RESUME_POLL_MS * 1000};
  if (!p->resume) p->resume = evtimer_new(bufferevent_get_base(p->up), check_resume, p);
  if (p->resume) evtimer_add(p->resume, &tv);
}

/* Sends up to n body bytes to the client; false when the client is gone. */
static bool pass(struct proxy *p, struct evbuffer *in, size_t n)
{
  while (n > 0) {
    size_t chunk = evbuffer_get_contiguous_space(in);
    if (chunk > n) chunk = n;
    if (http_stream_write(p->ar->http, evbuffer_pullup(in, (ev_ssize_t)chunk), chunk) < 0) return false;
    evbuffer_drain(in, chunk);
    n -= chunk;
  }
  return true;
}

/* Moves what the body framing allows; 1 at the end of the body, 0 for
 * more to come, -1 on bad framing or a client gone. */
static int body_step(struct proxy *p)
{
  struct evbuffer *in = bufferevent_get_input(p->up);
  while (evbuffer_get_length(in) > 0 && !client_full(p)) {
    if (!p->chunked) {
      size_t n = evbuffer_get_length(in);
      if (p->remaining >= 0 && (int64_t)n > p->remaining) n = (size_t)p->remaining;
      if (!pass(p, in, n)) return -1;
      if (p->remaining >= 0 && (p->remaining -= (int64_t)n) == 0) return 1;
      continue;
    }
    if (p->chunk_left > 0) {
      size_t n = evbuffer_get_length(in);
      if ((int64_t)n > p->chunk_left) n = (size_t)p->chunk_left;
      if (!pass(p, in, n)) return -1;
      p->chunk_left -= (int64_t)n;
      continue;
    }
    size_t len;
    char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF);
    if (!line) return evbuffer_get_length(in) > 1024 ? -1 : 0;
    if (p->chunk_left == 0) { /* the CRLF after a chunk's data */
      bool ok = len == 0;
      free(line);
      if (!ok) return -1;
      p->chunk_left = -1;
      continue;
    }
    if (p->chunk_left == -2) { /* trailer lines until an empty one */
      bool end = len == 0;
      free(line);
      if (end) return 1;
      continue;
    }
    char *end;
    long long size = strtoll(line, &end, 16);
    bool ok = end != line && size >= 0 && (*end == '\0' || *end == ';');
    free(line);
    if (!ok) return -1;
    p->chunk_left = size == 0 ? -2 : size;
  }
  return p->up_eof && p->remaining < 0 && !p->chunked ? 1 : 0;
}

static void body_progress(struct proxy *p)
{
  int r = body_step(p);
  if (r != 0) {
    proxy_end(p, NULL);
    return;
  }
  if (client_full(p)) {
    pause_reading(p);
    return;
  }
  if (p->up_eof) proxy_end(p, NULL); /* the kubelet ended early: the client gets what came */
}

static void check_resume(evutil_socket_t fd, short what, void *arg)
{
  struct proxy *p = arg;
  if (client_full(p)) {
    pause_reading(p);
    return;
  }
  bufferevent_enable(p->up, EV_READ);
  body_progress(p);
}

/* --- the kubelet's answer --- */

struct response_head {
  int status;
  char *names[PROXY_MAX_RESPONSE_HEADERS], *values[PROXY_MAX_RESPONSE_HEADERS];
  size_t n;
  char *block;
};

static const char *head_get(const struct response_head *h, const char *name)
{
  for (size_t i = 0; i < h->n; i++)
    if (strcasecmp(h->names[i], name) == 0) return h->values[i];
  return NULL;
}

/* Parses "HTTP/1.1 NNN ...\r\nName: value\r\n...\r\n"; the block is
 * modified in place.  false on a malformed head. */
static bool parse_head(char *block, struct response_head *h)
{
  memset(h, 0, sizeof *h);
  h->block = block;
  char *save, *line = strtok_r(block, "\r\n", &save);
  if (!line || strncmp(line, "HTTP/1.", 7) != 0 || strlen(line) < 12) return false;
  h->status = atoi(line + 9);
  if (h->status < 100 || h->status > 599) return false;
  while ((line = strtok_r(NULL, "\r\n", &save))) {
    char *colon = strchr(line, ':');
    if (!colon || h->n == PROXY_MAX_RESPONSE_HEADERS) continue;
    *colon = '\0';
    char *v = colon + 1;
    while (*v == ' ' || *v == '\t') v++;
    h->names[h->n] = line;
    h->values[h->n++] = v;
  }
  return true;
}

static void begin_body(struct proxy *p, const struct response_head *h)
{
  const char *te = head_get(h, "Transfer-Encoding"), *cl = head_get(h, "Content-Length");
  p->chunked = te && strcasestr(te, "chunked");
  p->remaining = (!p->chunked && cl) ? strtoll(cl, NULL, 10) : -1;
  p->chunk_left = -1;
  if (h->status == 204 || h->status == 304) p->remaining = 0;
  const char *ct = head_get(h, "Content-Type");
  struct api_req *ar = p->ar;
  api_record(ar, h->status);
  ar->closed = true;
  if (http_stream_begin(ar->http, h->status, ct ? ct : "text/plain") < 0) {
    proxy_free(p);
    return;
  }
  p->streaming = true;
  p->state = P_BODY;
  if (p->remaining == 0) {
    proxy_end(p, NULL);
    return;
  }
  body_progress(p);
}

static void head_read(struct bufferevent *bev, void *arg)
{
  struct proxy *p = arg;
  struct evbuffer *in = bufferevent_get_input(bev);
  if (p->state == P_BODY) {
    body_progress(p);
    return;
  }
  struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
  if (end.pos < 0) {
    if (evbuffer_get_length(in) > PROXY_MAX_HEADER_BYTES)
      proxy_end(p, kstatus_internal("the kubelet's answer has no end of headers"));
    return;
  }
  size_t hlen = (size_t)end.pos + 4;
  char *block = xmalloc(hlen + 1);
  if (!block) {
    proxy_end(p, kstatus_internal("out of memory"));
    return;
  }
  evbuffer_remove(in, block, hlen);
  block[hlen] = '\0';
  struct response_head h;
  if (!parse_head(block, &h)) {
    free(block);
    proxy_end(p, kstatus_internal("the kubelet's answer is not HTTP"));
    return;
  }
  if (h.status == 101) {
    const char *pairs[2 * PROXY_MAX_RESPONSE_HEADERS + 1];
    size_t k = 0;
    for (size_t i = 0; i < h.n; i++) {
      if (strcasecmp(h.names[i], "Content-Length") == 0 || strcasecmp(h.names[i], "Date") == 0) continue;
      pairs[k++] = h.names[i];
      pairs[k++] = h.values[i];
    }
    pairs[k] = NULL;
    start_relay(p, pairs);
  } else {
    begin_body(p, &h);
  }
  free(block);
}

/* Why the handshake failed, in Go's words when the kubelet's certificate
 * did not verify against --kubelet-certificate-authority. */
static const char *tls_failure(struct bufferevent *bev, char *buf, size_t len)
{
  SSL *ssl = bufferevent_openssl_get_ssl(bev);
  long v = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
  switch (v) {
  case X509_V_OK: return "TLS handshake with the kubelet failed";
  case X509_V_ERR_CERT_HAS_EXPIRED:
  case X509_V_ERR_CERT_NOT_YET_VALID:
    return "tls: failed to verify certificate: x509: certificate has expired or is not yet valid";
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
  case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
  case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
  case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    return "tls: failed to verify certificate: x509: certificate signed by unknown authority";
  default:
    snprintf(buf, len, "tls: failed to verify certificate: x509: %s", X509_verify_cert_error_string(v));
    return buf;
  }
}

static void up_event(struct bufferevent *bev, short what, void *arg)
{
  struct proxy *p = arg;
  if (what & BEV_EVENT_CONNECTED) return;
  if (p->state == P_BODY && (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))) {
    p->up_eof = true;
    body_progress(p);
    return;
  }
  if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
    unsigned long ssl_err = bufferevent_get_openssl_error(bev);
    int sock_err = EVUTIL_SOCKET_ERROR();
    char why[300];
    json_t *st = kstatus_new(503, "ServiceUnavailable", "error trying to reach service: %s",
                             ssl_err                      ? tls_failure(bev, why, sizeof why)
                             : (what & BEV_EVENT_TIMEOUT) ? "dial timeout"
                             : sock_err                   ? strerror(sock_err)
                                                          : "connection closed");
    proxy_end(p, st);
  }
}

/* --- the request to the kubelet --- */

static const char *const FORWARDED_HEADERS[] = {"Upgrade",
                                                "Connection",
                                                "Sec-WebSocket-Key",
                                                "Sec-WebSocket-Version",
                                                "Sec-WebSocket-Protocol",
                                                "X-Stream-Protocol-Version",
                                                "Accept",
                                                "Content-Type",
                                                "User-Agent",
                                                NULL};

static void write_request(struct proxy *p, const char *host, int port, const char *path)
{
  struct http_request *r = p->ar->http;
  struct evbuffer *out = bufferevent_get_output(p->up);
  const char *q = http_req_query(r);
  bool v6 = strchr(host, ':') != NULL;
  evbuffer_add_printf(out, "%s %s%s%s HTTP/1.1\r\nHost: %s%s%s:%d\r\n", http_req_method(r), path, *q ? "?" : "", q,
                      v6 ? "[" : "", host, v6 ? "]" : "", port);
  bool upgrade = false;
  for (size_t i = 0; FORWARDED_HEADERS[i]; i++) {
    const char *v = http_req_header(r, FORWARDED_HEADERS[i]);
    if (!v || strpbrk(v, "\r\n")) continue;
    if (strcmp(FORWARDED_HEADERS[i], "Upgrade") == 0) upgrade = true;
    evbuffer_add_printf(out, "%s: %s\r\n", FORWARDED_HEADERS[i], v);
  }
  if (!upgrade) evbuffer_add_printf(out, "Connection: close\r\n");
  size_t blen = 0;
  const char *body = http_req_body(r, &blen);
  if (blen || strcmp(http_req_method(r), "POST") == 0 || strcmp(http_req_method(r), "PUT") == 0)
    evbuffer_add_printf(out, "Content-Length: %zu\r\n", blen);
  evbuffer_add(out, "\r\n", 2);
  if (blen) evbuffer_add(out, body, blen);
}

void *api_kubelet_tls_new(const struct apiserver_config *c, char *err, size_t errlen)
{
  const char *cert = c->kubelet_client_certificate ? c->kubelet_client_certificate : "";
  const char *key = c->kubelet_client_key ? c->kubelet_client_key : "";
  const char *ca = c->kubelet_certificate_authority ? c->kubelet_certificate_authority : "";
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  const char *bad = NULL;
  if (!*cert != !*key) bad = "--kubelet-client-certificate and --kubelet-client-key must be given together";
  else if (*cert && SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) bad = cert;
  else if (*key && SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) bad = key;
  else if (*key && SSL_CTX_check_private_key(ctx) != 1) bad = key;
  else if (*ca && SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) bad = ca;
  if (bad) {
    if (bad == cert || bad == key || bad == ca) snprintf(err, errlen, "unable to load kubelet client TLS file %s", bad);
    else snprintf(err, errlen, "%s", bad);
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return NULL;
  }
  SSL_CTX_set_verify(ctx, *ca ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
  return ctx;
}

/* Connects to the kubelet and sends the request; answers the client on failure. */
static void proxy_start(struct api_req *ar, const char *host, int port, const char *path)
{
  struct proxy *p = xcalloc(1, sizeof *p);
  struct event_base *base = ar->srv->base;
  char err[300] = "out of memory";
  if (!ar->srv->kubelet_tls) ar->srv->kubelet_tls = api_kubelet_tls_new(&ar->srv->cfg, err, sizeof err);
  SSL *ssl = ar->srv->kubelet_tls ? SSL_new(ar->srv->kubelet_tls) : NULL;
  if (!ssl) {
    free(p);
    api_reply_status(ar, kstatus_internal("%s", err));
    return;
  }
  p->ar = ar;
  p->up = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                         BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
  if (!p->up) {
    SSL_free(ssl);
    proxy_free(p);
    return;
  }
  bufferevent_openssl_set_allow_dirty_shutdown(p->up, 1);
  bufferevent_setcb(p->up, head_read, NULL, up_event, p);
  struct timeval tv = {PROXY_CONNECT_TIMEOUT_S, 0};
  bufferevent_set_timeouts(p->up, &tv, NULL);
  struct sockaddr_storage ss = {0};
  int sslen = sizeof ss;
  char target[128];
  snprintf(target, sizeof target, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
  if (evutil_parse_sockaddr_port(target, (struct sockaddr *)&ss, &sslen) < 0 ||
      bufferevent_socket_connect(p->up, (struct sockaddr *)&ss, sslen) < 0) {
    p->ar = NULL;
    proxy_free(p);
    api_reply_status(ar,
                     kstatus_new(503, "ServiceUnavailable", "error trying to reach service: dial %s failed", target));
    return;
  }
  ar->pending = true;
  http_req_on_close(ar->http, client_gone, p);
  write_request(p, host, port, path);
  bufferevent_enable(p->up, EV_READ | EV_WRITE);
}

/* Percent-encodes one path segment. */
static void seg_escape(const char *in, char *out, size_t cap)
{
  size_t o = 0;
  for (const unsigned char *c = (const unsigned char *)in; *c && o + 4 < cap; c++) {
    if (isalnum(*c) || strchr("-._~", *c)) out[o++] = (char)*c;
    else o += (size_t)snprintf(out + o, cap - o, "%%%02X", *c);
  }
  out[o] = '\0';
}

/* pods/NAME/{log,exec,attach,portforward} */
static void proxy_pod(struct api_req *ar, const char *ns, const char *name, const char *sub)
{
  bool is_log = strcmp(sub, "log") == 0, is_pf = strcmp(sub, "portforward") == 0;
  const char *m = http_req_method(ar->http);
  if (strcmp(m, "GET") != 0 && (is_log || strcmp(m, "POST") != 0)) {
    api_reply_status(ar, kstatus_method_not_allowed("the server does not allow this method on the requested resource"));
    return;
  }
  ar->verb = is_log ? "get" : "create";
  json_t *pod = load(ar, "pods", ns, name);
  if (!pod) {
    api_reply_status(ar, kstatus_not_found("", "pods", name));
    return;
  }
  json_t *st = NULL;
  const char *container = is_pf ? "" : pick_container(ar, pod, name, &st);
  const char *node = kj_get_str(pod, "spec.nodeName");
  char host[128], path[1024], ens[256], ename[512], ec[512];
  int port = 0;
  if (!st && (!node || !*node)) {
    if (is_log) { /* upstream answers an unscheduled pod's log with nothing */
      api_reply_raw(ar, 200, "text/plain", "", 0);
      json_decref(pod);
      return;
    }
    st = pod_has_no_host(name);
  }
  if (!st) st = kubelet_location(ar, node, host, sizeof host, &port);
  if (st) {
    json_decref(pod);
    api_reply_status(ar, st);
    return;
  }
  seg_escape(ns, ens, sizeof ens);
  seg_escape(name, ename, sizeof ename);
  seg_escape(container, ec, sizeof ec);
  if (is_log) snprintf(path, sizeof path, "/containerLogs/%s/%s/%s", ens, ename, ec);
  else if (is_pf) snprintf(path, sizeof path, "/portForward/%s/%s", ens, ename);
  else snprintf(path, sizeof path, "/%s/%s/%s/%s", sub, ens, ename, ec);
  json_decref(pod);
  proxy_start(ar, host, port, path);
}

/* nodes/NAME/proxy[/PATH] */
static void proxy_node(struct api_req *ar, const char *name, const char *rest)
{
  ar->verb = "proxy";
  char host[128];
  int port = 0;
  json_t *st = kubelet_location(ar, name, host, sizeof host, &port);
  if (st) {
    api_reply_status(ar, st);
    return;
  }
  char path[2048];
  snprintf(path, sizeof path, "/%s", rest);
  proxy_start(ar, host, port, path);
}

bool api_proxy_try(struct api_req *ar, const char *raw_path)
{
  /* /api/v1/namespaces/NS/pods/NAME/SUB or /api/v1/nodes/NAME/proxy[/...] */
  static const char pods_prefix[] = "/api/v1/namespaces/", nodes_prefix[] = "/api/v1/nodes/";
  char ns[256], name[256], sub[32];
  const char *path = http_req_path(ar->http);
  int used = 0;
  if (strncmp(path, pods_prefix, sizeof pods_prefix - 1) == 0 &&
      sscanf(path + sizeof pods_prefix - 1, "%255[^/]/pods/%255[^/]/%31[^/]%n", ns, name, sub, &used) == 3 &&
      path[sizeof pods_prefix - 1 + (size_t)used] == '\0' &&
      (strcmp(sub, "log") == 0 || strcmp(sub, "exec") == 0 || strcmp(sub, "attach") == 0 ||
       strcmp(sub, "portforward") == 0)) {
    proxy_pod(ar, ns, name, sub);
    return true;
  }
  if (strncmp(raw_path, nodes_prefix, sizeof nodes_prefix - 1) == 0 &&
      sscanf(raw_path + sizeof nodes_prefix - 1, "%255[^/]/proxy%n", name, &used) == 1) {
    const char *rest = raw_path + sizeof nodes_prefix - 1 + used;
    if (*rest == '\0' || *rest == '/') {
      proxy_node(ar, name, *rest ? rest + 1 : "");
      return true;
    }
  }
  return false;
}
