/*
 * stream_portforward.c - port-forward over SPDY or SPDY-in-WebSocket
 * (see stream_portforward.h).
 */
#include "stream_portforward.h"
#include "spdy_conn.h"
#include "stream_ws.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kube/http.h"
#include "kube/status.h"
#include "kube/xalloc.h"

struct pair {
  struct pair *next;
  struct kl_portforward *pf;
  char request_id[64];
  uint16_t port;
  uint32_t data_id, error_id;
  struct bufferevent *tcp;
  bool client_fin; /* shut the socket's write side once its queue is sent */
};

struct kl_portforward {
  struct kl_portforward_callbacks cb;
  void *arg;
  struct kl_spdy_conn *conn;
  struct event_base *base;
  bool websocket;
  bool paused;
  struct pair *pairs;
};

static struct pair *pair_find(struct kl_portforward *pf, const char *rid)
{
  for (struct pair *p = pf->pairs; p; p = p->next)
    if (strcmp(p->request_id, rid) == 0) return p;
  return NULL;
}

static struct pair *pair_by_stream(struct kl_portforward *pf, uint32_t id)
{
  for (struct pair *p = pf->pairs; p; p = p->next)
    if (p->data_id == id || p->error_id == id) return p;
  return NULL;
}

static void pair_free(struct pair *p)
{
  struct kl_portforward *pf = p->pf;
  for (struct pair **pp = &pf->pairs; *pp; pp = &(*pp)->next) {
    if (*pp == p) {
      *pp = p->next;
      break;
    }
  }
  if (p->tcp) bufferevent_free(p->tcp);
  free(p);
}

size_t kl_portforward_active(const struct kl_portforward *pf)
{
  size_t n = 0;
  for (struct pair *p = pf->pairs; p; p = p->next) n++;
  return n;
}

const char *kl_portforward_transport(const struct kl_portforward *pf) { return pf->websocket ? "websocket" : "spdy"; }

static struct kl_spdy *session(struct kl_portforward *pf) { return kl_spdy_conn_session(pf->conn); }

/* Ends both streams (FIN) and forgets the pair. */
static void pair_end(struct pair *p)
{
  struct kl_spdy *s = session(p->pf);
  if (p->data_id) kl_spdy_data(s, p->data_id, NULL, 0, true);
  if (p->error_id) kl_spdy_data(s, p->error_id, NULL, 0, true);
  pair_free(p);
}

static void set_paused(struct kl_portforward *pf, bool paused)
{
  if (pf->paused == paused) return;
  pf->paused = paused;
  for (struct pair *p = pf->pairs; p; p = p->next) {
    if (!p->tcp) continue;
    if (paused) bufferevent_disable(p->tcp, EV_READ);
    else bufferevent_enable(p->tcp, EV_READ);
  }
}

/* --- the pod side --- */

static void tcp_read(struct bufferevent *bev, void *arg)
{
  struct pair *p = arg;
  struct evbuffer *in = bufferevent_get_input(bev);
  size_t n;
  while ((n = evbuffer_get_length(in)) > 0) {
    size_t chunk = evbuffer_get_contiguous_space(in);
    if (kl_spdy_data(session(p->pf), p->data_id, evbuffer_pullup(in, (ev_ssize_t)chunk), chunk, false) < 0) {
      evbuffer_drain(in, n); /* the client closed or reset the stream */
      break;
    }
    evbuffer_drain(in, chunk);
  }
  if (kl_spdy_conn_pending(p->pf->conn) > KL_PF_HIGH_WATER_BYTES) set_paused(p->pf, true);
}

static void tcp_write(struct bufferevent *bev, void *arg)
{
  struct pair *p = arg;
  if (p->client_fin && evbuffer_get_length(bufferevent_get_output(bev)) == 0) shutdown(bufferevent_getfd(bev), SHUT_WR);
}

static void tcp_event(struct bufferevent *bev, short what, void *arg)
{
  struct pair *p = arg;
  if (what & BEV_EVENT_CONNECTED) return;
  if (what & BEV_EVENT_EOF) tcp_read(bev, arg);
  if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) pair_end(p);
}

static void pair_start(struct pair *p)
{
  struct kl_portforward *pf = p->pf;
  char err[512] = "";
  int fd = pf->cb.dial(p->port, err, sizeof err, pf->arg);
  if (fd < 0) {
    if (!err[0]) snprintf(err, sizeof err, "error forwarding port %u: %s", p->port, strerror(-fd));
    kl_spdy_data(session(pf), p->error_id, err, strlen(err), true);
    p->error_id = 0;
    pair_end(p);
    return;
  }
  p->tcp = bufferevent_socket_new(pf->base, fd, BEV_OPT_CLOSE_ON_FREE);
  if (!p->tcp) {
    close(fd);
    pair_end(p);
    return;
  }
  bufferevent_setcb(p->tcp, tcp_read, tcp_write, tcp_event, p);
  bufferevent_enable(p->tcp, pf->paused ? EV_WRITE : EV_READ | EV_WRITE);
}

/* --- the client side --- */

static bool parse_port(const char *v, uint16_t *port)
{
  if (!v || !*v) return false;
  char *end;
  long n = strtol(v, &end, 10);
  if (*end || n <= 0 || n > 65535) return false;
  *port = (uint16_t)n;
  return true;
}

static void on_stream(struct kl_spdy *s, uint32_t id, const struct kl_spdy_header *h, size_t n, bool fin, void *arg)
{
  struct kl_portforward *pf = arg;
  const char *type = kl_spdy_header_get(h, n, "streamtype");
  bool is_data = type && strcmp(type, "data") == 0, is_error = type && strcmp(type, "error") == 0;
  uint16_t port;
  if ((!is_data && !is_error) || !parse_port(kl_spdy_header_get(h, n, "port"), &port)) {
    kl_spdy_reset(s, id, KL_SPDY_PROTOCOL_ERROR);
    return;
  }
  char rid[64];
  const char *given = kl_spdy_header_get(h, n, "requestid");
  if (given) snprintf(rid, sizeof rid, "%s", given);
  else snprintf(rid, sizeof rid, "stream-%u", is_error ? id + 2 : id); /* error first, then data */
  kl_spdy_reply(s, id, NULL, 0, false);
  struct pair *p = pair_find(pf, rid);
  if (!p) {
    p = xcalloc(1, sizeof *p);
    if (!p) {
      kl_spdy_reset(s, id, KL_SPDY_INTERNAL_ERROR);
      return;
    }
    p->pf = pf;
    snprintf(p->request_id, sizeof p->request_id, "%s", rid);
    p->port = port;
    p->next = pf->pairs;
    pf->pairs = p;
  }
  uint32_t *slot = is_data ? &p->data_id : &p->error_id;
  if (*slot || p->port != port) {
    kl_spdy_reset(s, id, KL_SPDY_PROTOCOL_ERROR);
    return;
  }
  *slot = id;
  if (p->data_id && p->error_id && !p->tcp) pair_start(p);
}

static void on_data(struct kl_spdy *s, uint32_t id, const void *data, size_t len, void *arg)
{
  struct pair *p = pair_by_stream(arg, id);
  if (p && p->tcp && id == p->data_id) bufferevent_write(p->tcp, data, len);
}

static void on_fin(struct kl_spdy *s, uint32_t id, void *arg)
{
  struct pair *p = pair_by_stream(arg, id);
  if (!p || id != p->data_id || !p->tcp) return;
  p->client_fin = true;
  tcp_write(p->tcp, p);
}

static void on_reset(struct kl_spdy *s, uint32_t id, uint32_t status, void *arg)
{
  struct pair *p = pair_by_stream(arg, id);
  if (!p) return;
  if (id == p->data_id) p->data_id = 0;
  if (id == p->error_id) p->error_id = 0;
  if (!p->data_id || p->tcp) pair_end(p);
}

static void on_drain(struct kl_spdy_conn *c, void *arg) { set_paused(arg, false); }

static void on_closed(struct kl_spdy_conn *c, void *arg)
{
  struct kl_portforward *pf = arg;
  while (pf->pairs) pair_free(pf->pairs);
  if (pf->cb.on_close) pf->cb.on_close(pf, pf->arg);
  free(pf);
}

/* --- accept --- */

static void reply_status(struct http_request *req, json_t *st)
{
  http_reply_json(req, kstatus_code(st), st);
  json_decref(st);
}

struct kl_portforward *kl_portforward_accept(struct http_request *req, const struct kl_portforward_callbacks *cb,
                                             void *arg)
{
  static const char *const ws_protos[] = {KL_PF_WS_PROTOCOL, NULL};
  static const char *const spdy_protos[] = {KL_PF_PROTOCOL, NULL};
  const char *upgrade = http_req_header(req, "Upgrade");
  bool websocket = kl_ws_is_upgrade(upgrade, http_req_header(req, "Connection"));
  const char *hdr[12];
  char accept[29];
  if (websocket) {
    const char *offered = http_req_header(req, "Sec-WebSocket-Protocol");
    const char *proto = kl_ws_choose_protocol(offered, ws_protos);
    if (kl_ws_accept_key(http_req_header(req, "Sec-WebSocket-Key"), accept) < 0) {
      reply_status(req, kstatus_bad_request("invalid Sec-WebSocket-Key"));
      return NULL;
    }
    if (!proto) {
      reply_status(req, kstatus_bad_request("unable to upgrade: no supported protocol among %s; want %s",
                                            offered ? offered : "(none)", KL_PF_WS_PROTOCOL));
      return NULL;
    }
    const char *h[] = {
        "Upgrade", "websocket", "Connection", "Upgrade", "Sec-WebSocket-Accept", accept, "Sec-WebSocket-Protocol",
        proto,     NULL};
    memcpy(hdr, h, sizeof h);
  } else if (upgrade && strncasecmp(upgrade, "SPDY/3.1", 8) == 0) {
    const char *offered = http_req_header(req, "X-Stream-Protocol-Version");
    if (!kl_ws_choose_protocol(offered, spdy_protos)) {
      reply_status(req, kstatus_forbidden("unable to upgrade: unable to negotiate protocol: client supports %s, "
                                          "server supports %s",
                                          offered ? offered : "(none)", KL_PF_PROTOCOL));
      return NULL;
    }
    const char *h[] = {"Connection",   "Upgrade", "Upgrade", "SPDY/3.1", "X-Stream-Protocol-Version",
                       KL_PF_PROTOCOL, NULL};
    memcpy(hdr, h, sizeof h);
  } else {
    reply_status(req, kstatus_bad_request("Upgrade request required"));
    return NULL;
  }
  struct kl_portforward *pf = xcalloc(1, sizeof *pf);
  if (!pf) {
    reply_status(req, kstatus_internal("out of memory"));
    return NULL;
  }
  pf->cb = *cb;
  pf->arg = arg;
  pf->websocket = websocket;
  struct bufferevent *bev = http_upgrade(req, hdr);
  if (!bev) {
    free(pf);
    return NULL;
  }
  pf->base = bufferevent_get_base(bev);
  struct kl_spdy_conn_callbacks ccb = {
      .spdy = {.on_stream = on_stream, .on_data = on_data, .on_fin = on_fin, .on_reset = on_reset},
      .on_drain = on_drain,
      .on_close = on_closed,
  };
  pf->conn = kl_spdy_conn_new(bev, websocket, true, &ccb, pf);
  if (!pf->conn) {
    free(pf);
    return NULL;
  }
  return pf;
}
