/*
 * handlers.c - probe and hook actions (see handlers.h).
 */
#define _GNU_SOURCE
#include "handlers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "kube/json.h"
#include "kube/strconv.h"
#include "kube/xalloc.h"
#include "pods_internal.h"
#include "runtime/docker_client.h"
#include "runtime/runtime.h"

#define PROBE_USER_AGENT "kube-probe/1.32"
#define GRPC_SERVING 1

struct kl_handlers {
  struct kubelet *k;
  struct dk_client *http;
  int inflight;
};

struct call {
  struct kl_handlers *h;
  kl_handler_done done;
  void *arg;
  char target[300]; /* host:port */
  int64_t timeout_s;
  struct event *timer;
  struct bufferevent *bev;
  char svc[300];
  char cmd[600];
};

static void call_finish(struct call *c, int result, const char *out)
{
  c->h->inflight--;
  if (c->timer) event_free(c->timer);
  if (c->bev) bufferevent_free(c->bev);
  kl_handler_done done = c->done;
  void *arg = c->arg;
  free(c);
  done(arg, result, out ? out : "");
}

static struct call *call_new(struct kl_handlers *h, kl_handler_done done, void *arg, int64_t timeout_s)
{
  struct call *c = xcalloc(1, sizeof *c);
  c->h = h;
  c->done = done;
  c->arg = arg;
  c->timeout_s = timeout_s > 0 ? timeout_s : 1;
  h->inflight++;
  return c;
}

int kl_handler_port(const json_t *container, const json_t *port)
{
  if (json_is_integer(port)) return (int)json_integer_value(port);
  const char *name = json_string_value(port);
  if (!name) return -1;
  int64_t n;
  if (kstr_parse_int64(name, &n) == 0) return (int)n;
  size_t i;
  json_t *p;
  json_array_foreach (kj_get(container, "ports"), i, p)
    if (!strcmp(kj_get_str(p, "name") ?: "", name)) return (int)kj_get_int(p, "containerPort", -1);
  return -1;
}

static const char *target_host(struct kl_pod *p, const json_t *action)
{
  const char *host = kj_get_str(action, "host");
  if (host && *host) return host;
  return p->pod_ip[0] ? p->pod_ip : p->mgr->k->node_ip;
}

/* ---- exec ---- */

static void exec_done(void *arg, int err, json_t *res, const char *msg)
{
  struct call *c = arg;
  if (err == -ETIMEDOUT) {
    char m[800];
    snprintf(m, sizeof m, "command \"%s\" timed out", c->cmd);
    call_finish(c, 1, m);
    return;
  }
  if (err) {
    call_finish(c, -1, msg);
    return;
  }
  char *out = NULL;
  out = xasprintf("%s%s", kj_get_str(res, "stdout") ?: "", kj_get_str(res, "stderr") ?: "");
  int code = (int)kj_get_int(res, "exitCode", -1);
  char m[1200];
  if (code != 0 && (!out || !*out)) snprintf(m, sizeof m, "command \"%s\" exited with %d", c->cmd, code);
  call_finish(c, code == 0 ? 0 : 1, code != 0 && (!out || !*out) ? m : out);
  free(out);
}

static void run_exec(struct call *c, const char *cid, const json_t *cmd)
{
  size_t i;
  json_t *a;
  json_array_foreach (cmd, i, a)
    snprintf(c->cmd + strlen(c->cmd), sizeof c->cmd - strlen(c->cmd), "%s%s", i ? " " : "", json_string_value(a) ?: "");
  struct kl_runtime *rt = c->h->k->rt;
  rt->ops->exec_sync(rt, cid, cmd, c->timeout_s, exec_done, c);
}

/* ---- httpGet and grpc ---- */

static void http_done(void *arg, const struct dk_response *r)
{
  struct call *c = arg;
  char m[700];
  if (r->error) {
    if (strstr(r->error, "imeout") || strstr(r->error, "timed out"))
      snprintf(m, sizeof m, "Get \"%s\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)",
               c->target);
    else snprintf(m, sizeof m, "Get \"%s\": dial tcp: %s", c->target, r->error);
    call_finish(c, 1, m);
    return;
  }
  if (r->code >= 200 && r->code < 400) {
    call_finish(c, 0, NULL);
    return;
  }
  snprintf(m, sizeof m, "HTTP probe failed with statuscode: %d", r->code);
  call_finish(c, 1, m);
}

static void run_http(struct call *c, struct kl_pod *p, const json_t *container, const json_t *g)
{
  int port = kl_handler_port(container, kj_get(g, "port"));
  if (port <= 0) {
    call_finish(c, 1, "unknown port");
    return;
  }
  const char *scheme = kj_get_str(g, "scheme") ?: "HTTP";
  const char *path = kj_get_str(g, "path") ?: "/";
  char url[1200];
  snprintf(url, sizeof url, "%s://%s:%d%s%s", !strcmp(scheme, "HTTPS") ? "https" : "http", target_host(p, g), port,
           *path == '/' ? "" : "/", path);
  snprintf(c->target, sizeof c->target, "%.299s", url);
  struct dk_req *r = dk_request(c->h->http, "GET", url, NULL, NULL, 0, http_done, c);
  if (!r) {
    call_finish(c, -1, "out of memory");
    return;
  }
  dk_req_options(r, c->timeout_s * 1000, true, false);
  dk_add_header(r, "User-Agent: " PROBE_USER_AGENT);
  dk_add_header(r, "Accept: */*");
  size_t i;
  json_t *h;
  json_array_foreach (kj_get(g, "httpHeaders"), i, h) {
    char line[1200];
    snprintf(line, sizeof line, "%s: %s", kj_get_str(h, "name") ?: "", kj_get_str(h, "value") ?: "");
    dk_add_header(r, line);
  }
}

static const char *grpc_status_name(int s)
{
  switch (s) {
  case 0: return "UNKNOWN";
  case 1: return "SERVING";
  case 2: return "NOT_SERVING";
  case 3: return "SERVICE_UNKNOWN";
  default: return "UNKNOWN";
  }
}

static void grpc_done(void *arg, const struct dk_response *r)
{
  struct call *c = arg;
  char m[700];
  if (r->error) {
    if (strstr(r->error, "imeout") || strstr(r->error, "timed out"))
      snprintf(m, sizeof m, "timeout: health rpc did not complete within %llds", (long long)c->timeout_s);
    else
      snprintf(m, sizeof m, "timeout: failed to connect service \"%s\" within %llds", c->target,
               (long long)c->timeout_s);
    call_finish(c, 1, m);
    return;
  }
  /* One message: flag, length, then HealthCheckResponse { status = 1 (varint) }. */
  const unsigned char *b = (const unsigned char *)r->body;
  int status = 0;
  if (r->code == 200 && r->len >= 5) {
    size_t mlen = ((size_t)b[1] << 24) | ((size_t)b[2] << 16) | ((size_t)b[3] << 8) | b[4];
    for (size_t i = 5; i + 1 < r->len && i < 5 + mlen; i++)
      if (b[i] == 0x08) {
        status = b[i + 1];
        break;
      }
  }
  if (status == GRPC_SERVING) {
    call_finish(c, 0, NULL);
    return;
  }
  if (r->code != 200 || r->len < 5)
    snprintf(m, sizeof m, "rpc error: code = Unknown desc = health check failed (HTTP %d)", r->code);
  else snprintf(m, sizeof m, "service unhealthy (responded with \"%s\")", grpc_status_name(status));
  call_finish(c, 1, m);
}

static void run_grpc(struct call *c, struct kl_pod *p, const json_t *g)
{
  int port = (int)kj_get_int(g, "port", -1);
  const char *svc = kj_get_str(g, "service") ?: "";
  size_t sl = strlen(svc);
  if (port <= 0 || sl > 120) {
    call_finish(c, 1, "invalid gRPC probe");
    return;
  }
  unsigned char body[140];
  size_t n = 5;
  if (sl) {
    body[n++] = 0x0a;
    body[n++] = (unsigned char)sl;
    memcpy(body + n, svc, sl);
    n += sl;
  }
  body[0] = 0;
  body[1] = body[2] = body[3] = 0;
  body[4] = (unsigned char)(n - 5);
  char url[400];
  snprintf(url, sizeof url, "http://%s:%d/grpc.health.v1.Health/Check", target_host(p, g), port);
  snprintf(c->target, sizeof c->target, "%s:%d", target_host(p, g), port);
  struct dk_req *r = dk_request(c->h->http, "POST", url, "application/grpc", body, n, grpc_done, c);
  if (!r) {
    call_finish(c, -1, "out of memory");
    return;
  }
  dk_req_options(r, c->timeout_s * 1000, true, true);
  dk_add_header(r, "TE: trailers");
  dk_add_header(r, "User-Agent: " PROBE_USER_AGENT);
}

/* ---- tcpSocket ---- */

static void tcp_event(struct bufferevent *bev, short what, void *arg)
{
  struct call *c = arg;
  char m[400];
  if (what & BEV_EVENT_CONNECTED) {
    call_finish(c, 0, NULL);
    return;
  }
  snprintf(m, sizeof m, "dial tcp %s: connect: %s", c->target, strerror(EVUTIL_SOCKET_ERROR()));
  call_finish(c, 1, m);
}

static void timeout_cb(evutil_socket_t fd, short what, void *arg)
{
  struct call *c = arg;
  char m[400];
  snprintf(m, sizeof m, "dial tcp %s: i/o timeout", c->target);
  call_finish(c, 1, m);
}

static void run_tcp(struct call *c, struct kl_pod *p, const json_t *container, const json_t *t)
{
  int port = kl_handler_port(container, kj_get(t, "port"));
  const char *host = target_host(p, t);
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  snprintf(c->target, sizeof c->target, "%s:%d", host, port);
  if (port <= 0 || inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
    call_finish(c, 1, "unknown port or host");
    return;
  }
  struct event_base *base = c->h->k->base;
  c->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
  c->timer = evtimer_new(base, timeout_cb, c);
  bufferevent_setcb(c->bev, NULL, NULL, tcp_event, c);
  struct timeval tv = {c->timeout_s, 0};
  evtimer_add(c->timer, &tv);
  if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&sin, sizeof sin) < 0) {
    char m[400];
    snprintf(m, sizeof m, "dial tcp %s: connect: %s", c->target, strerror(errno));
    call_finish(c, 1, m);
  }
}

/* ---- sleep ---- */

static void slept(evutil_socket_t fd, short what, void *arg) { call_finish(arg, 0, NULL); }

static void run_sleep(struct call *c, const json_t *s)
{
  c->timer = evtimer_new(c->h->k->base, slept, c);
  struct timeval tv = {kj_get_int(s, "seconds", 0), 0};
  evtimer_add(c->timer, &tv);
}

void kl_handler_run(struct kl_handlers *h, struct kl_pod *p, const json_t *container, const char *cid,
                    const json_t *handler, int64_t timeout_s, kl_handler_done done, void *arg)
{
  struct call *c = call_new(h, done, arg, timeout_s);
  if (kj_get(handler, "exec")) run_exec(c, cid, kj_get(handler, "exec.command"));
  else if (kj_get(handler, "httpGet")) run_http(c, p, container, kj_get(handler, "httpGet"));
  else if (kj_get(handler, "tcpSocket")) run_tcp(c, p, container, kj_get(handler, "tcpSocket"));
  else if (kj_get(handler, "grpc")) run_grpc(c, p, kj_get(handler, "grpc"));
  else if (kj_get(handler, "sleep")) run_sleep(c, kj_get(handler, "sleep"));
  else call_finish(c, -1, "no action in handler");
}

struct kl_handlers *kl_handlers_new(struct kubelet *k)
{
  struct kl_handlers *h = xcalloc(1, sizeof *h);
  if (!h) return NULL;
  h->k = k;
  h->http = dk_client_new(k->base, NULL, 0);
  if (!h->http) {
    free(h);
    return NULL;
  }
  return h;
}

int kl_handlers_inflight(const struct kl_handlers *h) { return h ? h->inflight : 0; }

void kl_handlers_free(struct kl_handlers *h)
{
  if (!h) return;
  dk_client_free(h->http);
  free(h);
}
