/*
 * stream.c - exec/attach sessions over the WebSocket channel protocol or
 * SPDY (see stream.h for the protocol and the lifetime).
 */
#include "stream.h"
#include "spdy_conn.h"
#include "stream_ws.h"

#include <ctype.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/bufferevent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kube/http.h"
#include "kube/json.h"
#include "kube/status.h"
#include "kube/xalloc.h"

#define PROTO_V5 "v5.channel.k8s.io"
#define PROTO_V4 "v4.channel.k8s.io"
#define CH_ERROR 3
#define CH_RESIZE 4
#define CH_CLOSE 255
#define RESIZE_MAX_BYTES 4096

enum { S_ERROR, S_STDIN, S_STDOUT, S_STDERR, S_RESIZE, S_COUNT };
static const char *const STREAM_TYPES[S_COUNT] = {"error", "stdin", "stdout", "stderr", "resize"};

struct kl_stream {
  struct kl_stream_opts o;
  struct kl_stream_callbacks cb;
  void *arg;
  const char *protocol;
  struct kl_ws *ws;
  struct kl_spdy_conn *conn;
  uint32_t sid[S_COUNT]; /* SPDY stream ids, 0 = not (yet) opened */
  struct event *ready_ev, *timeout_ev;
  bool ready, finished;
  char resize[RESIZE_MAX_BYTES];
  size_t resize_len;
};

/* --- query --- */

static int hexval(int c)
{
  if (c >= '0' && c <= '9') return c - '0';
  c = tolower(c);
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decodes [p, p+n) into out (NUL-terminated); '+' is a space. */
static size_t url_decode(const char *p, size_t n, char *out)
{
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    if (p[i] == '%' && i + 2 < n && hexval(p[i + 1]) >= 0 && hexval(p[i + 2]) >= 0) {
      out[o++] = (char)(hexval(p[i + 1]) * 16 + hexval(p[i + 2]));
      i += 2;
    } else {
      out[o++] = p[i] == '+' ? ' ' : p[i];
    }
  }
  out[o] = '\0';
  return o;
}

char **kl_stream_query_all(struct http_request *req, const char *key, size_t *n)
{
  const char *q = http_req_query(req);
  size_t klen = strlen(key), qlen = strlen(q), count = 0;
  for (const char *p = q; *p;) {
    const char *end = strchr(p, '&');
    if (!end) end = p + strlen(p);
    if ((size_t)(end - p) > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') count++;
    p = *end ? end + 1 : end;
  }
  *n = count;
  if (!count) return NULL;
  char **v = xmalloc((count + 1) * sizeof *v + qlen + count);
  if (!v) {
    *n = 0;
    return NULL;
  }
  char *store = (char *)(v + count + 1);
  size_t i = 0;
  for (const char *p = q; *p;) {
    const char *end = strchr(p, '&');
    if (!end) end = p + strlen(p);
    if ((size_t)(end - p) > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
      v[i++] = store;
      store += url_decode(p + klen + 1, (size_t)(end - p) - klen - 1, store) + 1;
    }
    p = *end ? end + 1 : end;
  }
  v[count] = NULL;
  return v;
}

static bool param_true(struct http_request *req, const char *key)
{
  const char *v = http_req_param(req, key);
  if (!v) return false;
  static const char *const yes[] = {"1", "t", "T", "true", "TRUE", "True"};
  for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
    if (strcmp(v, yes[i]) == 0) return true;
  return false;
}

int kl_stream_opts_from_request(struct http_request *req, struct kl_stream_opts *o, char *err, size_t errlen)
{
  o->stdin_ = param_true(req, "stdin");
  o->stdout_ = param_true(req, "stdout");
  o->stderr_ = param_true(req, "stderr");
  o->tty = param_true(req, "tty");
  if (o->tty && o->stderr_) o->stderr_ = false; /* a terminal has one output, as upstream */
  if (!o->stdin_ && !o->stdout_ && !o->stderr_) {
    snprintf(err, errlen, "you must specify at least 1 of stdin, stdout, stderr");
    return -EINVAL;
  }
  return 0;
}

/* --- common --- */

json_t *kl_stream_exit_status(int exit_code)
{
  if (exit_code == 0) return json_pack("{s:{},s:s}", "metadata", "status", "Success");
  char msg[160], code[16];
  snprintf(msg, sizeof msg, "command terminated with non-zero exit code: error executing command, exit code %d",
           exit_code);
  snprintf(code, sizeof code, "%d", exit_code);
  return json_pack("{s:{},s:s,s:s,s:s,s:{s:[{s:s,s:s}]}}", "metadata", "status", "Failure", "message", msg, "reason",
                   "NonZeroExitCode", "details", "causes", "reason", "ExitCode", "message", code);
}

static void fire_ready(evutil_socket_t fd, short what, void *arg)
{
  struct kl_stream *s = arg;
  if (s->ready || s->finished) return;
  s->ready = true;
  if (s->timeout_ev) event_del(s->timeout_ev);
  if (s->cb.on_ready) s->cb.on_ready(s, s->arg);
}

static void stream_closed(struct kl_stream *s)
{
  if (s->ready_ev) event_free(s->ready_ev);
  if (s->timeout_ev) event_free(s->timeout_ev);
  void (*on_close)(struct kl_stream *, void *) = s->cb.on_close;
  void *arg = s->arg;
  s->finished = true;
  if (on_close) on_close(s, arg);
  free(s);
}

/* Parses every complete {"Width":..,"Height":..} object in the buffer. */
static void resize_input(struct kl_stream *s, const void *data, size_t len)
{
  if (len > sizeof s->resize - s->resize_len) {
    s->resize_len = 0; /* garbage: drop it */
    return;
  }
  memcpy(s->resize + s->resize_len, data, len);
  s->resize_len += len;
  while (s->resize_len > 0) {
    json_error_t jerr;
    json_t *v = json_loadb(s->resize, s->resize_len, JSON_DISABLE_EOF_CHECK, &jerr);
    if (!v) {
      if (jerr.position >= (int)s->resize_len) return; /* incomplete: wait for more */
      s->resize_len = 0;
      return;
    }
    size_t used = (size_t)jerr.position;
    json_int_t w = json_integer_value(json_object_get(v, "Width"));
    json_int_t h = json_integer_value(json_object_get(v, "Height"));
    json_decref(v);
    memmove(s->resize, s->resize + used, s->resize_len - used);
    s->resize_len -= used;
    while (s->resize_len && isspace((unsigned char)s->resize[0])) memmove(s->resize, s->resize + 1, --s->resize_len);
    if (w > 0 && h > 0 && w <= 0xffff && h <= 0xffff && s->cb.on_resize)
      s->cb.on_resize(s, (unsigned)w, (unsigned)h, s->arg);
  }
}

/* --- WebSocket --- */

static void ws_message(struct kl_ws *ws, int opcode, const uint8_t *data, size_t len, void *arg)
{
  struct kl_stream *s = arg;
  if (len == 0 || s->finished) return;
  switch (data[0]) {
  case KL_STREAM_STDIN:
    if (s->o.stdin_ && len > 1 && s->cb.on_stdin) s->cb.on_stdin(s, data + 1, len - 1, s->arg);
    break;
  case CH_RESIZE:
    if (s->o.tty) {
      s->resize_len = 0; /* one object per message */
      resize_input(s, data + 1, len - 1);
    }
    break;
  case CH_CLOSE:
    if (strcmp(s->protocol, PROTO_V5) == 0 && len == 2 && data[1] == KL_STREAM_STDIN && s->o.stdin_ &&
        s->cb.on_stdin_close)
      s->cb.on_stdin_close(s, s->arg);
    break;
  default: break;
  }
}

static void ws_drain(struct kl_ws *ws, void *arg)
{
  struct kl_stream *s = arg;
  if (s->cb.on_drain && !s->finished) s->cb.on_drain(s, s->arg);
}

static void ws_close(struct kl_ws *ws, void *arg)
{
  struct kl_stream *s = arg;
  s->ws = NULL;
  stream_closed(s);
}

/* --- SPDY --- */

static void spdy_stream(struct kl_spdy *sp, uint32_t id, const struct kl_spdy_header *h, size_t n, bool fin, void *arg)
{
  struct kl_stream *s = arg;
  const char *type = kl_spdy_header_get(h, n, "streamtype");
  int which = -1;
  for (int i = 0; type && i < S_COUNT; i++)
    if (strcmp(type, STREAM_TYPES[i]) == 0) which = i;
  if (which < 0 || s->sid[which]) {
    kl_spdy_reset(sp, id, KL_SPDY_PROTOCOL_ERROR);
    return;
  }
  s->sid[which] = id;
  kl_spdy_reply(sp, id, NULL, 0, false);
  if (which == S_STDIN && fin && s->cb.on_stdin_close && s->ready) s->cb.on_stdin_close(s, s->arg);
  bool want[S_COUNT] = {true, s->o.stdin_, s->o.stdout_, s->o.stderr_, s->o.tty};
  for (int i = 0; i < S_COUNT; i++)
    if (want[i] && !s->sid[i]) return;
  fire_ready(-1, 0, s);
}

static void spdy_data(struct kl_spdy *sp, uint32_t id, const void *data, size_t len, void *arg)
{
  struct kl_stream *s = arg;
  if (s->finished) return;
  if (id == s->sid[S_STDIN] && s->cb.on_stdin) s->cb.on_stdin(s, data, len, s->arg);
  else if (id == s->sid[S_RESIZE]) resize_input(s, data, len);
}

static void spdy_fin(struct kl_spdy *sp, uint32_t id, void *arg)
{
  struct kl_stream *s = arg;
  if (id == s->sid[S_STDIN] && !s->finished && s->cb.on_stdin_close) s->cb.on_stdin_close(s, s->arg);
}

static void spdy_drain(struct kl_spdy_conn *c, void *arg) { ws_drain(NULL, arg); }

static void spdy_closed(struct kl_spdy_conn *c, void *arg)
{
  struct kl_stream *s = arg;
  s->conn = NULL;
  stream_closed(s);
}

static void create_timeout(evutil_socket_t fd, short what, void *arg)
{
  struct kl_stream *s = arg;
  if (!s->ready && s->conn) {
    s->finished = true;
    kl_spdy_conn_close(s->conn);
  }
}

/* --- accept --- */

static void reply_status(struct http_request *req, json_t *st)
{
  http_reply_json(req, kstatus_code(st), st);
  json_decref(st);
}

static struct kl_stream *accept_ws(struct http_request *req, struct kl_stream *s)
{
  static const char *const protos[] = {PROTO_V5, PROTO_V4, NULL};
  char accept[29];
  const char *proto = kl_ws_choose_protocol(http_req_header(req, "Sec-WebSocket-Protocol"), protos);
  if (kl_ws_accept_key(http_req_header(req, "Sec-WebSocket-Key"), accept) < 0) {
    reply_status(req, kstatus_bad_request("invalid Sec-WebSocket-Key"));
    return NULL;
  }
  if (!proto) {
    reply_status(req,
                 kstatus_bad_request("unable to upgrade: no supported protocol among %s; want %s or %s",
                                     http_req_header(req, "Sec-WebSocket-Protocol") ?: "(none)", PROTO_V5, PROTO_V4));
    return NULL;
  }
  s->protocol = proto;
  const char *hdr[] = {
      "Upgrade", "websocket", "Connection", "Upgrade", "Sec-WebSocket-Accept", accept, "Sec-WebSocket-Protocol",
      proto,     NULL};
  struct bufferevent *bev = http_upgrade(req, hdr);
  if (!bev) return NULL;
  struct kl_ws_callbacks wcb = {ws_message, ws_drain, ws_close};
  s->ws = kl_ws_new(bev, &wcb, s, KL_STREAM_PING_MS);
  if (!s->ws) return NULL;
  s->ready_ev = event_new(bufferevent_get_base(bev), -1, 0, fire_ready, s);
  if (s->ready_ev) event_active(s->ready_ev, EV_TIMEOUT, 0);
  return s;
}

static struct kl_stream *accept_spdy(struct http_request *req, struct kl_stream *s)
{
  static const char *const protos[] = {PROTO_V4, NULL};
  const char *proto = kl_ws_choose_protocol(http_req_header(req, "X-Stream-Protocol-Version"), protos);
  if (!proto) {
    reply_status(req, kstatus_forbidden("unable to upgrade: unable to negotiate protocol: client supports %s, "
                                        "server supports %s",
                                        http_req_header(req, "X-Stream-Protocol-Version") ?: "(none)", PROTO_V4));
    return NULL;
  }
  s->protocol = proto;
  const char *hdr[] = {"Connection", "Upgrade", "Upgrade", "SPDY/3.1", "X-Stream-Protocol-Version", proto, NULL};
  struct bufferevent *bev = http_upgrade(req, hdr);
  if (!bev) return NULL;
  struct event_base *base = bufferevent_get_base(bev);
  struct kl_spdy_conn_callbacks ccb = {
      .spdy = {.on_stream = spdy_stream, .on_data = spdy_data, .on_fin = spdy_fin},
      .on_drain = spdy_drain,
      .on_close = spdy_closed,
  };
  s->timeout_ev = evtimer_new(base, create_timeout, s);
  s->conn = kl_spdy_conn_new(bev, false, true, &ccb, s);
  if (!s->conn) return NULL;
  struct timeval tv = {KL_STREAM_CREATE_TIMEOUT_MS / 1000, 0};
  if (s->timeout_ev) evtimer_add(s->timeout_ev, &tv);
  return s;
}

struct kl_stream *kl_stream_accept(struct http_request *req, const struct kl_stream_opts *o,
                                   const struct kl_stream_callbacks *cb, void *arg)
{
  struct kl_stream *s = xcalloc(1, sizeof *s);
  if (!s) {
    reply_status(req, kstatus_internal("out of memory"));
    return NULL;
  }
  s->o = *o;
  s->cb = *cb;
  s->arg = arg;
  const char *upgrade = http_req_header(req, "Upgrade");
  struct kl_stream *r = NULL;
  if (kl_ws_is_upgrade(upgrade, http_req_header(req, "Connection"))) {
    r = accept_ws(req, s);
  } else if (upgrade && strncasecmp(upgrade, "SPDY/3.1", 8) == 0) {
    r = accept_spdy(req, s);
  } else {
    reply_status(req, kstatus_bad_request("Upgrade request required"));
  }
  if (!r) {
    if (s->ready_ev) event_free(s->ready_ev);
    if (s->timeout_ev) event_free(s->timeout_ev);
    free(s);
  }
  return r;
}

/* --- output --- */

int kl_stream_write(struct kl_stream *s, enum kl_stream_channel ch, const void *data, size_t len)
{
  if (s->finished || (ch != KL_STREAM_STDOUT && ch != KL_STREAM_STDERR)) return -EPIPE;
  if (len == 0) return 0;
  if (s->ws) return kl_ws_send_channel(s->ws, (uint8_t)ch, data, len);
  if (!s->conn) return -EPIPE;
  uint32_t id = s->sid[ch == KL_STREAM_STDOUT ? S_STDOUT : S_STDERR];
  if (!id) return 0; /* the client did not ask for it */
  return kl_spdy_data(kl_spdy_conn_session(s->conn), id, data, len, false) < 0 ? -EPIPE : 0;
}

size_t kl_stream_pending(const struct kl_stream *s)
{
  if (s->ws) return kl_ws_pending(s->ws);
  return s->conn ? kl_spdy_conn_pending(s->conn) : 0;
}

void kl_stream_finish_status(struct kl_stream *s, const json_t *status)
{
  if (s->finished) return;
  s->finished = true;
  char *body = kj_dumps(status); /* malloc'd: jansson's own output must not reach free() */
  size_t len = body ? strlen(body) : 0;
  if (s->ws) {
    kl_ws_send_channel(s->ws, CH_ERROR, body, len);
    kl_ws_close(s->ws, 1000);
  } else if (s->conn) {
    struct kl_spdy *sp = kl_spdy_conn_session(s->conn);
    if (s->sid[S_STDOUT]) kl_spdy_data(sp, s->sid[S_STDOUT], NULL, 0, true);
    if (s->sid[S_STDERR]) kl_spdy_data(sp, s->sid[S_STDERR], NULL, 0, true);
    if (s->sid[S_ERROR]) kl_spdy_data(sp, s->sid[S_ERROR], body, len, true);
    kl_spdy_conn_linger(s->conn, KL_STREAM_LINGER_MS);
  }
  free(body);
}

void kl_stream_finish(struct kl_stream *s, int exit_code)
{
  json_t *st = kl_stream_exit_status(exit_code);
  kl_stream_finish_status(s, st);
  json_decref(st);
}

const char *kl_stream_protocol(const struct kl_stream *s) { return s->protocol; }
bool kl_stream_is_spdy(const struct kl_stream *s) { return s->conn != NULL; }
