/*
 * stream_ws.c - WebSocket connections with libwslay (see stream_ws.h).
 */
#include "stream_ws.h"

#include <ctype.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wslay/wslay.h>
#include <stdio.h>

#include "kube/base64.h"
#include "kube/xalloc.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

struct kl_ws {
  struct bufferevent *bev;
  wslay_event_context_ptr ctx;
  struct kl_ws_callbacks cb;
  void *arg;
  struct event *ping_timer;
  struct event *kick; /* runs deferred work outside callbacks */
  int depth;          /* > 0 while inside one of our callbacks */
  bool eof;           /* the peer's side of the socket is closed */
  bool closing;       /* kl_ws_close(): close when flushed */
  bool dead;          /* close now */
  bool had_pending;
};

static void ws_finish(struct kl_ws *ws)
{
  struct kl_ws_callbacks cb = ws->cb;
  void *arg = ws->arg;
  if (ws->ping_timer) event_free(ws->ping_timer);
  if (ws->kick) event_free(ws->kick);
  wslay_event_context_free(ws->ctx);
  bufferevent_free(ws->bev);
  ws->ctx = NULL;
  if (cb.on_close) cb.on_close(ws, arg);
  free(ws);
}

/* Decides, outside every callback, whether the connection is over. */
static bool ws_check(struct kl_ws *ws)
{
  if (ws->depth > 0) return false;
  size_t pending = evbuffer_get_length(bufferevent_get_output(ws->bev));
  bool wslay_done = !wslay_event_want_read(ws->ctx) && !wslay_event_want_write(ws->ctx);
  if (ws->dead || ((ws->closing || wslay_done || ws->eof) && pending == 0)) {
    ws_finish(ws);
    return true;
  }
  return false;
}

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user)
{
  struct kl_ws *ws = user;
  int n = evbuffer_remove(bufferevent_get_input(ws->bev), buf, len);
  if (n > 0) return n;
  wslay_event_set_error(ctx, ws->eof ? WSLAY_ERR_CALLBACK_FAILURE : WSLAY_ERR_WOULDBLOCK);
  return -1;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *user)
{
  struct kl_ws *ws = user;
  if (evbuffer_add(bufferevent_get_output(ws->bev), data, len) < 0) {
    wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
  }
  ws->had_pending = true;
  return (ssize_t)len;
}

static int genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *user)
{
  memset(buf, 0, len); /* only clients mask */
  return 0;
}

static void msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *m, void *user)
{
  struct kl_ws *ws = user;
  if ((m->opcode == WSLAY_TEXT_FRAME || m->opcode == WSLAY_BINARY_FRAME) && ws->cb.on_message && !ws->dead) {
    ws->depth++;
    ws->cb.on_message(ws, m->opcode, m->msg, m->msg_length, ws->arg);
    ws->depth--;
  }
}

static void ws_pump(struct kl_ws *ws)
{
  if (wslay_event_want_read(ws->ctx) && evbuffer_get_length(bufferevent_get_input(ws->bev)) > 0) {
    if (wslay_event_recv(ws->ctx) != 0) ws->dead = true;
  }
  if (!ws->dead && wslay_event_want_write(ws->ctx) && wslay_event_send(ws->ctx) != 0) ws->dead = true;
  if (!wslay_event_want_read(ws->ctx)) evbuffer_drain(bufferevent_get_input(ws->bev), SIZE_MAX);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
  struct kl_ws *ws = arg;
  ws_pump(ws);
  ws_check(ws);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
  struct kl_ws *ws = arg;
  if (ws_check(ws)) return;
  if (ws->had_pending && evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
    ws->had_pending = false;
    if (ws->cb.on_drain) {
      ws->depth++;
      ws->cb.on_drain(ws, ws->arg);
      ws->depth--;
      ws_check(ws);
    }
  }
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
  struct kl_ws *ws = arg;
  if (what & BEV_EVENT_EOF) {
    ws->eof = true;
    ws_pump(ws); /* frames that came with the FIN */
    ws->dead = true;
  }
  if (what & BEV_EVENT_ERROR) ws->dead = true;
  ws_check(ws);
}

static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
  struct kl_ws *ws = arg;
  ws_pump(ws);
  ws_check(ws);
}

static void ping_cb(evutil_socket_t fd, short what, void *arg)
{
  struct kl_ws *ws = arg;
  struct wslay_event_msg m = {WSLAY_PING, NULL, 0};
  if (!ws->closing && wslay_event_queue_msg(ws->ctx, &m) == 0) ws_pump(ws);
  ws_check(ws);
}

static void ws_schedule(struct kl_ws *ws)
{
  if (ws->kick) event_active(ws->kick, EV_TIMEOUT, 0);
}

struct kl_ws *kl_ws_new(struct bufferevent *bev, const struct kl_ws_callbacks *cb, void *arg, int ping_interval_ms)
{
  struct kl_ws *ws = xcalloc(1, sizeof *ws);
  struct wslay_event_callbacks wcb = {
      .recv_callback = recv_cb,
      .send_callback = send_cb,
      .genmask_callback = genmask_cb,
      .on_msg_recv_callback = msg_cb,
  };
  if (!ws || wslay_event_context_server_init(&ws->ctx, &wcb, ws) != 0) {
    free(ws);
    bufferevent_free(bev);
    return NULL;
  }
  wslay_event_config_set_max_recv_msg_length(ws->ctx, KL_WS_MAX_MESSAGE_BYTES);
  ws->bev = bev;
  ws->cb = *cb;
  ws->arg = arg;
  struct event_base *base = bufferevent_get_base(bev);
  ws->kick = event_new(base, -1, 0, kick_cb, ws);
  if (ping_interval_ms > 0) {
    ws->ping_timer = event_new(base, -1, EV_PERSIST, ping_cb, ws);
    struct timeval tv = {ping_interval_ms / 1000, (ping_interval_ms % 1000) * 1000};
    if (ws->ping_timer) event_add(ws->ping_timer, &tv);
  }
  bufferevent_setcb(bev, read_cb, write_cb, event_cb, ws);
  bufferevent_enable(bev, EV_READ | EV_WRITE);
  ws_schedule(ws); /* bytes that came with the upgrade request */
  return ws;
}

int kl_ws_send(struct kl_ws *ws, int opcode, const void *data, size_t len)
{
  if (ws->closing || ws->dead) return -EPIPE;
  struct wslay_event_msg m = {(uint8_t)opcode, data, len};
  if (wslay_event_queue_msg(ws->ctx, &m) != 0) return -EPIPE;
  if (wslay_event_send(ws->ctx) != 0) {
    ws->dead = true;
    ws_schedule(ws);
    return -EPIPE;
  }
  return 0;
}

int kl_ws_send_channel(struct kl_ws *ws, uint8_t channel, const void *data, size_t len)
{
  uint8_t small[4096];
  uint8_t *buf = len + 1 <= sizeof small ? small : xmalloc(len + 1);
  if (!buf) return -ENOMEM;
  buf[0] = channel;
  if (len) memcpy(buf + 1, data, len);
  int rc = kl_ws_send(ws, KL_WS_BINARY, buf, len + 1);
  if (buf != small) free(buf);
  return rc;
}

void kl_ws_close(struct kl_ws *ws, uint16_t code)
{
  if (ws->closing || ws->dead) return;
  wslay_event_queue_close(ws->ctx, code, NULL, 0);
  if (wslay_event_send(ws->ctx) != 0) ws->dead = true;
  ws->closing = true;
  if (evbuffer_get_length(bufferevent_get_output(ws->bev)) == 0) ws_schedule(ws);
}

void kl_ws_abort(struct kl_ws *ws)
{
  ws->dead = true;
  ws_schedule(ws);
}

size_t kl_ws_pending(const struct kl_ws *ws) { return evbuffer_get_length(bufferevent_get_output(ws->bev)); }

/* --- handshake --- */

int kl_ws_accept_key(const char *key, char out[29])
{
  if (!key) return -EINVAL;
  while (*key == ' ') key++;
  size_t klen = strlen(key);
  while (klen && key[klen - 1] == ' ') klen--;
  if (klen != 24 || key[22] != '=' || key[23] != '=') return -EINVAL;
  char buf[24 + sizeof WS_GUID];
  memcpy(buf, key, 24);
  memcpy(buf + 24, WS_GUID, sizeof WS_GUID);
  unsigned char sha[SHA_DIGEST_LENGTH];
  SHA1((const unsigned char *)buf, 24 + sizeof WS_GUID - 1, sha);
  char *b64 = kb64_encode(sha, SHA_DIGEST_LENGTH, KB64_STD);
  snprintf(out, 29, "%s", b64);
  free(b64);
  return 0;
}

const char *kl_ws_choose_protocol(const char *offered, const char *const *supported)
{
  if (!offered) return NULL;
  const char *p = offered;
  while (*p) {
    while (*p == ' ' || *p == ',' || *p == '\t') p++;
    const char *end = p;
    while (*end && *end != ',') end++;
    size_t n = (size_t)(end - p);
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
    for (size_t i = 0; n && supported[i]; i++)
      if (strlen(supported[i]) == n && strncmp(supported[i], p, n) == 0) return supported[i];
    p = end;
  }
  return NULL;
}

/* Does the comma-separated header contain `token` (case-insensitive)? */
static bool has_token(const char *h, const char *token)
{
  size_t tl = strlen(token);
  for (const char *p = h; p && *p;) {
    while (*p == ' ' || *p == ',') p++;
    const char *end = p;
    while (*end && *end != ',') end++;
    size_t n = (size_t)(end - p);
    while (n && p[n - 1] == ' ') n--;
    if (n == tl && strncasecmp(p, token, n) == 0) return true;
    p = end;
  }
  return false;
}

bool kl_ws_is_upgrade(const char *upgrade, const char *connection)
{
  return upgrade && connection && has_token(upgrade, "websocket") && has_token(connection, "upgrade");
}
