/*
 * spdy_conn.c - SPDY sessions on raw or WebSocket-tunnelled connections
 * (see spdy_conn.h).
 */
#include "spdy_conn.h"
#include "stream_ws.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include "kube/xalloc.h"

struct kl_spdy_conn {
  struct kl_spdy *s;
  struct kl_ws *ws;        /* tunnel, or NULL */
  struct bufferevent *bev; /* raw, or NULL */
  struct kl_spdy_conn_callbacks cb;
  void *arg;
  struct event *kick;
  struct event *linger;
  int depth;
  bool closing, dead, had_pending;
  bool ws_gone; /* the tunnel's on_close already ran */
};

static void conn_finish(struct kl_spdy_conn *c)
{
  if (c->kick) event_free(c->kick);
  c->kick = NULL;
  if (c->linger) event_free(c->linger);
  c->linger = NULL;
  if (c->bev) bufferevent_free(c->bev);
  if (c->ws && !c->ws_gone) {
    /* Our own close: the tunnel's on_close comes back into tunnel_close. */
    c->dead = true;
    kl_ws_abort(c->ws);
    return;
  }
  void (*on_close)(struct kl_spdy_conn *, void *) = c->cb.on_close;
  void *arg = c->arg;
  kl_spdy_free(c->s);
  if (on_close) on_close(c, arg);
  free(c);
}

static bool conn_check(struct kl_spdy_conn *c)
{
  if (c->depth > 0) return false;
  if (c->dead || (c->closing && kl_spdy_conn_pending(c) == 0)) {
    conn_finish(c);
    return true;
  }
  return false;
}

static void schedule(struct kl_spdy_conn *c)
{
  if (c->kick) event_active(c->kick, EV_TIMEOUT, 0);
}

static int conn_send(const void *data, size_t len, void *arg)
{
  struct kl_spdy_conn *c = arg;
  if (c->dead) return -1;
  c->had_pending = true;
  if (c->ws) return kl_ws_send(c->ws, KL_WS_BINARY, data, len) < 0 ? -1 : 0;
  return evbuffer_add(bufferevent_get_output(c->bev), data, len) < 0 ? -1 : 0;
}

static void feed(struct kl_spdy_conn *c, const void *data, size_t len)
{
  c->depth++;
  if (kl_spdy_feed(c->s, data, len) < 0) c->closing = true; /* GOAWAY sent: flush and close */
  c->depth--;
}

static void drained(struct kl_spdy_conn *c)
{
  if (c->had_pending && kl_spdy_conn_pending(c) == 0) {
    c->had_pending = false;
    if (c->cb.on_drain) {
      c->depth++;
      c->cb.on_drain(c, c->arg);
      c->depth--;
    }
  }
}

/* --- raw transport --- */

static void raw_read(struct bufferevent *bev, void *arg)
{
  struct kl_spdy_conn *c = arg;
  struct evbuffer *in = bufferevent_get_input(bev);
  size_t n;
  while (!c->dead && (n = evbuffer_get_length(in)) > 0) {
    size_t chunk = evbuffer_get_contiguous_space(in);
    feed(c, evbuffer_pullup(in, (ev_ssize_t)chunk), chunk);
    evbuffer_drain(in, chunk);
  }
  conn_check(c);
}

static void raw_write(struct bufferevent *bev, void *arg)
{
  struct kl_spdy_conn *c = arg;
  if (conn_check(c)) return;
  drained(c);
  conn_check(c);
}

static void raw_event(struct bufferevent *bev, short what, void *arg)
{
  struct kl_spdy_conn *c = arg;
  if (what & BEV_EVENT_EOF) raw_read(bev, arg); /* frames that came with the FIN */
  if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) c->dead = true;
  conn_check(c);
}

/* --- WebSocket tunnel --- */

static void tunnel_message(struct kl_ws *ws, int opcode, const uint8_t *data, size_t len, void *arg)
{
  struct kl_spdy_conn *c = arg;
  if (opcode != KL_WS_BINARY) {
    c->dead = true; /* the tunnel carries binary messages only */
    kl_ws_abort(ws);
    return;
  }
  feed(c, data, len);
  if (c->closing && !c->dead) kl_ws_close(ws, 1000);
}

static void tunnel_drain(struct kl_ws *ws, void *arg)
{
  struct kl_spdy_conn *c = arg;
  drained(c);
  if (c->closing) kl_ws_close(ws, 1000);
}

static void tunnel_close(struct kl_ws *ws, void *arg)
{
  struct kl_spdy_conn *c = arg;
  c->ws_gone = true;
  c->dead = true;
  if (c->depth == 0) conn_finish(c);
}

static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
  struct kl_spdy_conn *c = arg;
  if (c->bev) {
    raw_read(c->bev, c);
    return;
  }
  if (c->dead) kl_ws_abort(c->ws);
  else if (c->closing) kl_ws_close(c->ws, 1000);
}

struct kl_spdy_conn *kl_spdy_conn_new(struct bufferevent *bev, bool websocket, bool server,
                                      const struct kl_spdy_conn_callbacks *cb, void *arg)
{
  struct kl_spdy_conn *c = xcalloc(1, sizeof *c);
  if (!c) goto fail;
  c->cb = *cb;
  c->arg = arg;
  /* The session's callbacks receive the caller's arg, its output comes here. */
  c->s = kl_spdy_new(server, &cb->spdy, arg);
  if (!c->s) goto fail;
  kl_spdy_set_sender(c->s, conn_send, c);
  c->kick = event_new(bufferevent_get_base(bev), -1, 0, kick_cb, c);
  if (!c->kick) goto fail;
  if (websocket) {
    struct kl_ws_callbacks wcb = {tunnel_message, tunnel_drain, tunnel_close};
    c->ws = kl_ws_new(bev, &wcb, c, 0);
    bev = NULL;
    if (!c->ws) goto fail;
  } else {
    c->bev = bev;
    bufferevent_setcb(bev, raw_read, raw_write, raw_event, c);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    schedule(c); /* bytes that came with the upgrade request */
  }
  return c;
fail:
  if (bev) bufferevent_free(bev);
  if (c) {
    if (c->kick) event_free(c->kick);
    kl_spdy_free(c->s);
    free(c);
  }
  return NULL;
}

struct kl_spdy *kl_spdy_conn_session(struct kl_spdy_conn *c) { return c->s; }

size_t kl_spdy_conn_pending(const struct kl_spdy_conn *c)
{
  if (c->ws) return c->ws_gone ? 0 : kl_ws_pending(c->ws);
  return evbuffer_get_length(bufferevent_get_output(c->bev));
}

void kl_spdy_conn_close(struct kl_spdy_conn *c)
{
  if (c->closing || c->dead) return;
  kl_spdy_goaway(c->s, 0);
  c->closing = true;
  schedule(c);
}

static void linger_expired(evutil_socket_t fd, short what, void *arg) { kl_spdy_conn_close(arg); }

void kl_spdy_conn_linger(struct kl_spdy_conn *c, int timeout_ms)
{
  if (c->closing || c->dead || c->linger) return;
  struct event_base *base = c->bev ? bufferevent_get_base(c->bev) : event_get_base(c->kick);
  c->linger = evtimer_new(base, linger_expired, c);
  struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  if (c->linger) evtimer_add(c->linger, &tv);
  else kl_spdy_conn_close(c);
}
