/*
 * http_response.c - the answering side of the HTTP layer: plain replies,
 * chunked streams, the 101 hand-over, and the header block they share.
 *
 * A response head is built in one stack buffer (status line, Date,
 * Content-Type, Content-Length or Transfer-Encoding, Connection) and
 * appended to the connection's output evbuffer together with the extra
 * headers collected by http_add_header; bodies are appended after it, so
 * an answer costs one copy of the body into the evbuffer (none for
 * http_reply_evbuffer).  libevent writes the buffer out as the socket
 * accepts it; the socket has TCP_NODELAY set, so each stream chunk leaves
 * at once.
 *
 * Every answering function first checks that the request may still be
 * answered (not answered yet, connection still open) and otherwise does
 * nothing, so a late answer after a disconnect is harmless as long as the
 * caller did not keep the request past its on_close callback.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "http_internal.h"
#include "kube/log.h"
#include "kube/xalloc.h"

/* Go's net/http status texts, which clients print in error messages. */
const char *http_status_text(int status)
{
  switch (status) {
  case 100: return "Continue";
  case 101: return "Switching Protocols";
  case 200: return "OK";
  case 201: return "Created";
  case 202: return "Accepted";
  case 203: return "Non-Authoritative Information";
  case 204: return "No Content";
  case 205: return "Reset Content";
  case 206: return "Partial Content";
  case 300: return "Multiple Choices";
  case 301: return "Moved Permanently";
  case 302: return "Found";
  case 303: return "See Other";
  case 304: return "Not Modified";
  case 307: return "Temporary Redirect";
  case 308: return "Permanent Redirect";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 406: return "Not Acceptable";
  case 408: return "Request Timeout";
  case 409: return "Conflict";
  case 410: return "Gone";
  case 411: return "Length Required";
  case 412: return "Precondition Failed";
  case 413: return "Request Entity Too Large";
  case 414: return "Request URI Too Long";
  case 415: return "Unsupported Media Type";
  case 416: return "Requested Range Not Satisfiable";
  case 417: return "Expectation Failed";
  case 422: return "Unprocessable Entity";
  case 426: return "Upgrade Required";
  case 428: return "Precondition Required";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  case 505: return "HTTP Version Not Supported";
  default: return "Unknown";
  }
}

struct http_conn *http_req_live_conn(const struct http_request *r)
{
  if (!r || r->dead || r->state == HTTP_REQ_DONE || r->state == HTTP_REQ_READING) return NULL;
  struct http_conn *c = r->conn;
  if (c->closed || !c->bev) return NULL;
  return c;
}

/* A small appender over a fixed buffer; the head never exceeds it. */
struct head_buf {
  char b[512];
  size_t n;
};

static void hb_str(struct head_buf *h, const char *s)
{
  size_t l = strlen(s);
  if (l > sizeof(h->b) - h->n) l = sizeof(h->b) - h->n;
  memcpy(h->b + h->n, s, l);
  h->n += l;
}

static void hb_uint(struct head_buf *h, unsigned long long v)
{
  char tmp[24];
  int i = sizeof(tmp);
  do {
    tmp[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  size_t l = sizeof(tmp) - (size_t)i;
  if (l > sizeof(h->b) - h->n) l = sizeof(h->b) - h->n;
  memcpy(h->b + h->n, tmp + i, l);
  h->n += l;
}

static const char *server_date(struct http_server *s)
{
  time_t now = time(NULL);
  if (now != s->date_sec) {
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(s->date, sizeof(s->date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    s->date_sec = now;
  }
  return s->date;
}

static bool status_has_body(int status) { return !(status < 200 || status == 204 || status == 304); }

/* Appends the head of a response.  content_length < 0: none (streams). */
static void write_head(struct http_conn *c, int status, const char *ctype, long long content_length, bool chunked,
                       bool keep_alive, bool http10, const char *extra, size_t extra_len)
{
  struct head_buf h;
  h.n = 0;
  hb_str(&h, "HTTP/1.1 ");
  hb_uint(&h, (unsigned)status);
  hb_str(&h, " ");
  hb_str(&h, http_status_text(status));
  hb_str(&h, "\r\nDate: ");
  hb_str(&h, server_date(c->srv));
  hb_str(&h, "\r\n");
  if (ctype && *ctype && strlen(ctype) < 200) {
    hb_str(&h, "Content-Type: ");
    hb_str(&h, ctype);
    hb_str(&h, "\r\n");
  }
  if (content_length >= 0 && status_has_body(status)) {
    hb_str(&h, "Content-Length: ");
    hb_uint(&h, (unsigned long long)content_length);
    hb_str(&h, "\r\n");
  }
  if (chunked) hb_str(&h, "Transfer-Encoding: chunked\r\n");
  if (!keep_alive) hb_str(&h, "Connection: close\r\n");
  else if (http10) hb_str(&h, "Connection: keep-alive\r\n");
  struct evbuffer *out = bufferevent_get_output(c->bev);
  evbuffer_add(out, h.b, h.n);
  if (extra_len) evbuffer_add(out, extra, extra_len);
  evbuffer_add(out, "\r\n", 2);
}

void http_write_simple(struct http_conn *c, int status, bool keep_alive, const char *ctype, const char *body,
                       size_t len)
{
  if (!c->bev) return;
  write_head(c, status, ctype, (long long)len, false, keep_alive, false, NULL, 0);
  if (len) evbuffer_add(bufferevent_get_output(c->bev), body, len);
}

/* Go's textproto.CanonicalMIMEHeaderKey: "content-type" -> "Content-Type";
 * names with characters outside a token are left alone. */
static bool canonical_name(char *dst, const char *name, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)name[i];
    if (ch <= ' ' || ch >= 0x7f || strchr("()<>@,;:\\\"/[]?={}", ch)) {
      memcpy(dst, name, n);
      return false;
    }
  }
  bool upper = true;
  for (size_t i = 0; i < n; i++) {
    char ch = name[i];
    if (upper && ch >= 'a' && ch <= 'z') ch = (char)(ch - 'a' + 'A');
    else if (!upper && ch >= 'A' && ch <= 'Z') ch = (char)(ch - 'A' + 'a');
    dst[i] = ch;
    upper = ch == '-';
  }
  return true;
}

/* RFC 7230 token: what a header name may hold. */
static bool is_token(const char *s)
{
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch <= ' ' || ch >= 0x7f || strchr("()<>@,;:\\\"/[]?={}", ch)) return false;
  }
  return true;
}

/* RFC 7230 field-value: visible characters, spaces, tabs and obs-text;
 * no other control character (a CR or LF would split the head). */
static bool is_field_value(const char *s)
{
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if ((ch < ' ' && ch != '\t') || ch == 0x7f) return false;
  }
  return true;
}

void http_add_header(struct http_request *r, const char *name, const char *value)
{
  if (!http_req_live_conn(r) || r->state != HTTP_REQ_HANDLING || !name || !value || !*name) return;
  /* Values may come from the request (a query parameter, a header): like
   * Go's server, drop what cannot be written rather than corrupt the head. */
  if (!is_token(name) || !is_field_value(value)) {
    KLOG_V(2, "http: dropping response header %s: not a valid header name or value", name);
    return;
  }
  size_t nl = strlen(name), vl = strlen(value), need = nl + vl + 4;
  if (r->out_len + need > r->out_cap) {
    size_t cap = r->out_cap ? r->out_cap * 2 : 256;
    while (cap < r->out_len + need) cap *= 2;
    char *o = xrealloc(r->out_hdrs, cap);
    if (!o) return;
    r->out_hdrs = o;
    r->out_cap = cap;
  }
  char *o = r->out_hdrs + r->out_len;
  canonical_name(o, name, nl);
  o[nl] = ':';
  o[nl + 1] = ' ';
  memcpy(o + nl + 2, value, vl);
  o[nl + 2 + vl] = '\r';
  o[nl + 3 + vl] = '\n';
  r->out_len += need;
}

static void reply_common(struct http_request *r, int status, const char *ctype, const void *body, size_t len,
                         struct evbuffer *body_buf)
{
  struct http_conn *c = http_req_live_conn(r);
  if (!c || r->state != HTTP_REQ_HANDLING) return;
  http_conn_enter(c);
  write_head(c, status, ctype, (long long)len, false, r->keep_alive, r->http10, r->out_hdrs, r->out_len);
  if (!r->head && status_has_body(status) && len) {
    struct evbuffer *out = bufferevent_get_output(c->bev);
    if (body_buf) evbuffer_add_buffer(out, body_buf);
    else evbuffer_add(out, body, len);
  }
  http_conn_request_done(c, r);
  http_conn_leave(c);
}

void http_reply(struct http_request *r, int status, const char *content_type, const void *body, size_t len)
{
  reply_common(r, status, content_type, body, len, NULL);
}

void http_reply_evbuffer(struct http_request *r, int status, const char *content_type, struct evbuffer *body)
{
  size_t len = body ? evbuffer_get_length(body) : 0;
  reply_common(r, status, content_type, NULL, len, body);
}

/* Bodies up to this size are serialized on the stack. */
#define HTTP_JSON_STACK_BYTES 8192

void http_reply_json(struct http_request *r, int status, const json_t *v)
{
  char stack[HTTP_JSON_STACK_BYTES];
  size_t n = json_dumpb(v, stack, sizeof(stack) - 1, JSON_COMPACT);
  if (n == 0) {
    http_reply(r, 500, "text/plain; charset=utf-8", "cannot encode response\n", 23);
    return;
  }
  if (n < sizeof(stack)) {
    stack[n] = '\n';
    http_reply(r, status, "application/json", stack, n + 1);
    return;
  }
  char *buf = xmalloc(n + 1);
  if (!buf) {
    http_reply(r, 500, "text/plain; charset=utf-8", "out of memory\n", 14);
    return;
  }
  size_t m = json_dumpb(v, buf, n, JSON_COMPACT);
  buf[m] = '\n';
  http_reply(r, status, "application/json", buf, m + 1);
  free(buf);
}

int http_stream_begin(struct http_request *r, int status, const char *content_type)
{
  struct http_conn *c = http_req_live_conn(r);
  if (!c || r->state != HTTP_REQ_HANDLING) return -1;
  http_conn_enter(c);
  /* HTTP/1.0 has no chunked encoding: the body ends when the connection does. */
  if (r->http10) r->keep_alive = false;
  r->chunked_out = !r->http10 && !r->head && status_has_body(status);
  write_head(c, status, content_type, -1, r->chunked_out, r->keep_alive, r->http10, r->out_hdrs, r->out_len);
  r->state = HTTP_REQ_STREAMING;
  http_conn_leave(c);
  return 0;
}

int http_stream_write(struct http_request *r, const void *data, size_t len)
{
  struct http_conn *c = http_req_live_conn(r);
  if (!c || r->state != HTTP_REQ_STREAMING) return -1;
  if (len == 0 || r->head) return 0;
  int rc = 0;
  http_conn_enter(c);
  struct evbuffer *out = bufferevent_get_output(c->bev);
  if (r->chunked_out) {
    char hex[24];
    int n = snprintf(hex, sizeof(hex), "%zx\r\n", len);
    evbuffer_add(out, hex, (size_t)n);
    evbuffer_add(out, data, len);
    evbuffer_add(out, "\r\n", 2);
  } else {
    evbuffer_add(out, data, len);
  }
  size_t queued = evbuffer_get_length(out);
  if (queued > c->srv->opts.max_output_bytes) {
    KLOG_V(5, "http: closing connection from %s: %zu bytes of output queued (limit %zu)", c->peer, queued,
           c->srv->opts.max_output_bytes);
    /* Reset rather than close: a plain close would leave the queued bytes
     * in the kernel behind a zero window, kept alive by backed-off window
     * probes for a minute or more. */
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(bufferevent_getfd(c->bev), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    http_conn_close(c);
    rc = -1;
  }
  http_conn_leave(c);
  return rc;
}

size_t http_stream_pending(const struct http_request *r)
{
  const struct http_conn *c = http_req_live_conn(r);
  if (!c) return 0;
  return evbuffer_get_length(bufferevent_get_output(c->bev));
}

void http_stream_end(struct http_request *r)
{
  struct http_conn *c = http_req_live_conn(r);
  if (!c || r->state != HTTP_REQ_STREAMING) return;
  http_conn_enter(c);
  if (r->chunked_out) evbuffer_add(bufferevent_get_output(c->bev), "0\r\n\r\n", 5);
  http_conn_request_done(c, r);
  http_conn_leave(c);
}

struct bufferevent *http_upgrade(struct http_request *r, const char *const *headers)
{
  struct http_conn *c = http_req_live_conn(r);
  if (!c || r->state != HTTP_REQ_HANDLING) return NULL;
  http_conn_enter(c);
  struct bufferevent *bev = c->bev;
  struct evbuffer *out = bufferevent_get_output(bev);
  evbuffer_add(out, "HTTP/1.1 101 Switching Protocols\r\n", 34);
  for (size_t i = 0; headers && headers[i] && headers[i + 1]; i += 2) {
    if (!is_token(headers[i]) || !is_field_value(headers[i + 1])) continue;
    evbuffer_add_printf(out, "%s: %s\r\n", headers[i], headers[i + 1]);
  }
  if (r->out_len) evbuffer_add(out, r->out_hdrs, r->out_len);
  evbuffer_add(out, "\r\n", 2);

  /* The bytes after the request were never parsed: they are still in the
   * input buffer, in order, for the new protocol. */
  bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
  bufferevent_set_timeouts(bev, NULL, NULL);
  bufferevent_setwatermark(bev, EV_READ | EV_WRITE, 0, 0);
  bufferevent_enable(bev, EV_READ | EV_WRITE);
  c->bev = NULL;
  r->state = HTTP_REQ_DONE;
  http_conn_close(c);
  http_conn_leave(c);
  return bev;
}
