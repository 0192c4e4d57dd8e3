/*
 * http_server.c - the HTTP/1.1 server layer shared by all five programs:
 * listeners, connections, request parsing and the lifetime rules that
 * make asynchronous answers safe.
 *
 * Why not evhttp: libevent's evhttp cannot hand a connection over after a
 * "101 Switching Protocols" answer (exec, attach and port-forward upgrade
 * to WebSocket and then relay raw bytes), and it gives no say over a slow
 * reader's output queue, which a watch server must bound.  So the layer
 * runs directly on bufferevents (socket or OpenSSL) and parses requests
 * with http-parser.
 *
 * How it works:
 *  - evconnlistener accepts; every connection gets a bufferevent with
 *    TCP_NODELAY, an idle (read) timeout that is on only while waiting for
 *    a request, and a write timeout that ends clients that stop reading.
 *  - The read callback feeds the input evbuffer to http-parser in place;
 *    the parser callbacks copy the URL and headers into the request's
 *    arena (http_request.c) and the body into one buffer.  On message
 *    complete the parser is paused, so exactly one request is taken out of
 *    the input; pipelined bytes after it stay buffered, unparsed, until
 *    that request is answered.  Then the handler runs.
 *  - A handler may answer at once or later.  While a request is pending,
 *    reading stays enabled (bounded by a high watermark) so that EOF from
 *    a vanished client is noticed; the request's on_close callback then
 *    fires exactly once.
 *  - Lifetime: `busy` counts this layer's frames on the stack for a
 *    connection.  Every entry point (libevent callback or public answering
 *    function) enters and leaves; closing only marks the connection and
 *    releases the socket, and the request and connection memory are freed
 *    when the last frame leaves.  So a handler may touch its request until
 *    it returns even if the connection died underneath it, and a request
 *    answered inside its handler is freed after the handler returns.
 *  - A late answer frees the request when the answering call returns and
 *    schedules `resume_ev` to parse any pipelined request that waited.
 *  - Errors found by the parser (malformed input 400, header block too
 *    large 431, body too large 413 as a metav1.Status) are answered by the
 *    layer itself with "Connection: close".  Closing after an answer is a
 *    lingering close: shut the write side, discard input briefly, so the
 *    client reads the answer instead of a reset.
 *  - http_upgrade writes the 101 head, clears the callbacks and gives the
 *    bufferevent away; bytes the client sent after the request are still
 *    in its input buffer because they were never parsed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <openssl/ssl.h>

#include "http_internal.h"
#include "kube/log.h"
#include "kube/xalloc.h"

#define HTTP_DEFAULT_MAX_BODY_BYTES ((size_t)3 << 20)
#define HTTP_DEFAULT_MAX_HEADER_BYTES ((size_t)1 << 20)
#define HTTP_DEFAULT_MAX_OUTPUT_BYTES ((size_t)16 << 20)
#define HTTP_DEFAULT_IDLE_TIMEOUT_S 120
/* Unparsed input kept while a request is pending; reading pauses beyond. */
#define HTTP_INPUT_HIGH_WATERMARK_BYTES ((size_t)256 << 10)
#define HTTP_LINGER_TIMEOUT_S 2
#define HTTP_LISTEN_BACKLOG 1024

static void conn_process(struct http_conn *c);

/* --- lifetime --- */

static void conn_destroy(struct http_conn *c)
{
  http_req_free(c->req);
  if (c->resume_ev) event_free(c->resume_ev);
  free(c);
}

static void conn_set_read_timeout(struct http_conn *c, bool on)
{
  if (!c->bev || c->read_timeout_off == !on) return;
  const struct timeval *idle = &c->srv->idle_tv;
  bufferevent_set_timeouts(c->bev, on ? idle : NULL, idle);
  c->read_timeout_off = !on;
}

/* Frees the answered request and gets ready for the next one. */
static void conn_finish_req(struct http_conn *c)
{
  struct http_request *r = c->req;
  c->req = NULL;
  /* An upgrade request answered normally: go on parsing HTTP. */
  if (c->parser.upgrade) c->parser.upgrade = 0;
  http_req_free(r);
  if (!c->closed && !c->close_after_write) conn_set_read_timeout(c, true);
}

static void conn_settle(struct http_conn *c)
{
  if (c->closed) {
    conn_destroy(c);
    return;
  }
  if (c->req && c->req->state == HTTP_REQ_DONE) {
    conn_finish_req(c);
    if (!c->close_after_write && c->bev && evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
      event_active(c->resume_ev, EV_TIMEOUT, 0);
  }
}

void http_conn_enter(struct http_conn *c) { c->busy++; }

void http_conn_leave(struct http_conn *c)
{
  if (--c->busy == 0) conn_settle(c);
}

/* Caller holds the connection (busy > 0); memory goes when it leaves. */
void http_conn_close(struct http_conn *c)
{
  if (c->closed) return;
  c->closed = true;
  struct http_server *s = c->srv;
  if (c->prev) c->prev->next = c->next;
  else if (s->conns == c) s->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  c->prev = c->next = NULL;
  s->nconns--;
  if (c->bev) {
    bufferevent_free(c->bev);
    c->bev = NULL;
  }
  struct http_request *r = c->req;
  if (r && (r->state == HTTP_REQ_HANDLING || r->state == HTTP_REQ_STREAMING) && !r->dead) {
    r->dead = true;
    if (r->on_close) r->on_close(r, r->on_close_arg);
  }
}

void http_conn_request_done(struct http_conn *c, struct http_request *r)
{
  r->state = HTTP_REQ_DONE;
  if (!r->keep_alive) c->close_after_write = true;
}

static void conn_start_linger(struct http_conn *c)
{
  if (c->is_ssl || c->eof) {
    http_conn_close(c);
    return;
  }
  c->lingering = true;
  shutdown(bufferevent_getfd(c->bev), SHUT_WR);
  struct evbuffer *in = bufferevent_get_input(c->bev);
  evbuffer_drain(in, evbuffer_get_length(in));
  struct timeval tv = {HTTP_LINGER_TIMEOUT_S, 0};
  bufferevent_set_timeouts(c->bev, &tv, NULL);
  bufferevent_enable(c->bev, EV_READ);
}

/* --- parser callbacks --- */

static int count_header_bytes(struct http_conn *c, size_t n)
{
  c->req->header_bytes += n;
  if (c->req->header_bytes > c->srv->opts.max_header_bytes) {
    c->err_status = 431;
    return -1;
  }
  return 0;
}

static int on_message_begin(http_parser *p)
{
  struct http_conn *c = p->data;
  if (!c->req) {
    c->req = http_req_new(c);
    if (!c->req) {
      c->err_status = 500;
      return -1;
    }
  }
  return 0;
}

static int on_piece(http_parser *p, int kind, const char *at, size_t n)
{
  struct http_conn *c = p->data;
  if (count_header_bytes(c, n) < 0) return -1;
  if (http_req_piece(c->req, kind, at, n) < 0) {
    c->err_status = 500;
    return -1;
  }
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t n) { return on_piece(p, HTTP_CB_URL, at, n); }
static int on_header_field(http_parser *p, const char *at, size_t n) { return on_piece(p, HTTP_CB_FIELD, at, n); }
static int on_header_value(http_parser *p, const char *at, size_t n) { return on_piece(p, HTTP_CB_VALUE, at, n); }

static int on_headers_complete(http_parser *p)
{
  struct http_conn *c = p->data;
  struct http_request *r = c->req;
  const struct http_server_opts *o = &c->srv->opts;
  if (http_req_finalize_head(r) < 0) {
    c->err_status = 500;
    return -1;
  }
  r->method = http_method_str((enum http_method)p->method);
  r->http10 = p->http_major < 1 || (p->http_major == 1 && p->http_minor == 0);
  r->keep_alive = http_should_keep_alive(p) != 0;
  r->head = p->method == HTTP_HEAD;
  bool has_len = (p->flags & F_CONTENTLENGTH) != 0;
  bool chunked = (p->flags & F_CHUNKED) != 0;
  if (has_len && p->content_length > o->max_body_bytes) {
    c->err_status = 413;
    return -1;
  }
  const char *expect = http_req_header(r, "Expect");
  if (expect) {
    if (strcasecmp(expect, "100-continue") != 0) {
      c->err_status = 417;
      return -1;
    }
    if (!r->http10 && ((has_len && p->content_length > 0) || chunked))
      evbuffer_add(bufferevent_get_output(c->bev), "HTTP/1.1 100 Continue\r\n\r\n", 25);
  }
  if (has_len && p->content_length > 0) {
    r->body_cap = (size_t)p->content_length + 1;
    r->body = xmalloc(r->body_cap);
    if (!r->body) {
      c->err_status = 500;
      return -1;
    }
  }
  return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
  struct http_conn *c = p->data;
  struct http_request *r = c->req;
  size_t max = c->srv->opts.max_body_bytes;
  if (r->body_len + n > max) {
    c->err_status = 413;
    return -1;
  }
  if (r->body_len + n + 1 > r->body_cap) {
    size_t cap = r->body_cap ? r->body_cap * 2 : 4096;
    while (cap < r->body_len + n + 1) cap *= 2;
    if (cap > max + 1) cap = max + 1;
    char *b = xrealloc(r->body, cap);
    if (!b) {
      c->err_status = 500;
      return -1;
    }
    r->body = b;
    r->body_cap = cap;
  }
  memcpy(r->body + r->body_len, at, n);
  r->body_len += n;
  return 0;
}

static int on_message_complete(http_parser *p)
{
  struct http_conn *c = p->data;
  struct http_request *r = c->req;
  if (r->body) r->body[r->body_len] = '\0';
  r->complete = true;
  /* One request at a time: the rest of the input waits for the answer. */
  http_parser_pause(p, 1);
  return 0;
}

/* --- request processing --- */

static void conn_fail(struct http_conn *c, enum http_errno e)
{
  int status = c->err_status;
  if (!status) status = e == HPE_HEADER_OVERFLOW ? 431 : 400;
  KLOG_V(5, "http: rejecting request from %s with %d: %s", c->peer, status,
         c->err_status ? "limit" : http_errno_description(e));
  if (status == 413) {
    char body[320];
    int n = snprintf(body, sizeof(body),
                     "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
                     "\"message\":\"Request entity too large: limit is %zu\","
                     "\"reason\":\"RequestEntityTooLarge\",\"code\":413}\n",
                     c->srv->opts.max_body_bytes);
    http_write_simple(c, status, false, "application/json", body, (size_t)n);
  } else {
    char body[80];
    int n = snprintf(body, sizeof(body), "%d %s", status, http_status_text(status));
    http_write_simple(c, status, false, "text/plain; charset=utf-8", body, (size_t)n);
  }
  if (c->req) c->req->state = HTTP_REQ_DONE;
  c->close_after_write = true;
}

static void conn_dispatch(struct http_conn *c)
{
  struct http_request *r = c->req;
  r->state = HTTP_REQ_HANDLING;
  KLOG_V(6, "http: %s %s from %s", r->method, r->raw_path, c->peer);
  c->srv->handler(r, c->srv->arg);
  if (c->closed) return;
  if (r->state == HTTP_REQ_DONE) {
    conn_finish_req(c);
    return;
  }
  /* Pending (async answer or stream): a watch may stay quiet for minutes. */
  conn_set_read_timeout(c, false);
}

static void conn_process(struct http_conn *c)
{
  while (!c->closed && c->bev && !c->close_after_write && !c->lingering) {
    if (c->req && c->req->state != HTTP_REQ_READING) break;
    struct evbuffer *in = bufferevent_get_input(c->bev);
    if (evbuffer_get_length(in) == 0) break;
    struct evbuffer_iovec v;
    if (evbuffer_peek(in, -1, NULL, &v, 1) < 1) break;
    size_t n = http_parser_execute(&c->parser, &c->srv->settings, v.iov_base, v.iov_len);
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    if (e == HPE_PAUSED) {
      http_parser_pause(&c->parser, 0);
    } else if (e != HPE_OK) {
      conn_fail(c, e);
      break;
    }
    evbuffer_drain(in, n);
    if (c->req && c->req->complete) conn_dispatch(c);
    else if (n == 0) break; /* nothing consumed and no error: wait for more input */
  }
}

/* --- libevent callbacks --- */

static void conn_read_cb(struct bufferevent *bev, void *arg)
{
  struct http_conn *c = arg;
  http_conn_enter(c);
  if (c->lingering) {
    struct evbuffer *in = bufferevent_get_input(bev);
    evbuffer_drain(in, evbuffer_get_length(in));
  } else {
    conn_process(c);
  }
  http_conn_leave(c);
}

static void conn_resume_cb(evutil_socket_t fd, short what, void *arg)
{
  struct http_conn *c = arg;
  http_conn_enter(c);
  conn_process(c);
  http_conn_leave(c);
}

static void conn_write_cb(struct bufferevent *bev, void *arg)
{
  struct http_conn *c = arg;
  if (!c->close_after_write || c->lingering) return;
  http_conn_enter(c);
  if (!c->closed && evbuffer_get_length(bufferevent_get_output(bev)) == 0) conn_start_linger(c);
  http_conn_leave(c);
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
  struct http_conn *c = arg;
  if (what & BEV_EVENT_CONNECTED) return;
  http_conn_enter(c);
  if (c->lingering || (what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))) {
    if (!c->lingering)
      KLOG_V(5, "http: connection from %s: %s", c->peer, (what & BEV_EVENT_TIMEOUT) ? "timeout" : "error");
    http_conn_close(c);
  } else if (what & BEV_EVENT_EOF) {
    c->eof = true;
    struct http_request *r = c->req;
    bool pending = r && (r->state == HTTP_REQ_HANDLING || r->state == HTTP_REQ_STREAMING);
    if (!pending && evbuffer_get_length(bufferevent_get_output(bev)) > 0)
      c->close_after_write = true; /* let the last answer drain */
    else http_conn_close(c);
  }
  http_conn_leave(c);
}

static void format_peer(char *out, size_t outlen, const struct sockaddr *sa)
{
  char host[INET6_ADDRSTRLEN] = "?";
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
    snprintf(out, outlen, "%s:%u", host, ntohs(in->sin_port));
  } else if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
    snprintf(out, outlen, "[%s]:%u", host, ntohs(in6->sin6_port));
  } else {
    snprintf(out, outlen, "@");
  }
}

/* Serves a connected socket: the new connection waits for its first
 * request.  The fd is the connection's (closed on failure too). */
static int conn_start(struct http_server *s, evutil_socket_t fd, const char *peer)
{
  struct http_conn *c = xcalloc(1, sizeof(*c));
  if (!c) {
    evutil_closesocket(fd);
    return -ENOMEM;
  }
  c->srv = s;
  snprintf(c->peer, sizeof(c->peer), "%s", peer);
  struct bufferevent *bev = NULL;
  if (s->opts.ssl_ctx) {
    SSL *ssl = SSL_new((SSL_CTX *)s->opts.ssl_ctx);
    if (ssl) {
      bev = bufferevent_openssl_socket_new(s->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
      if (bev) {
        bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
        c->ssl = ssl;
      } else {
        SSL_free(ssl);
      }
    }
    c->is_ssl = true;
  } else {
    bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
  }
  c->resume_ev = event_new(s->base, -1, 0, conn_resume_cb, c);
  if (!bev || !c->resume_ev) {
    if (bev) bufferevent_free(bev);
    else evutil_closesocket(fd);
    if (c->resume_ev) event_free(c->resume_ev);
    free(c);
    return -ENOMEM;
  }
  c->bev = bev;
  http_parser_init(&c->parser, HTTP_REQUEST);
  c->parser.data = c;
  bufferevent_setcb(bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
  bufferevent_set_timeouts(bev, &s->idle_tv, &s->idle_tv);
  bufferevent_setwatermark(bev, EV_READ, 0, HTTP_INPUT_HIGH_WATERMARK_BYTES);
  bufferevent_enable(bev, EV_READ | EV_WRITE);
  c->next = s->conns;
  if (s->conns) s->conns->prev = c;
  s->conns = c;
  s->nconns++;
  return 0;
}

static void accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
  struct http_server *s = arg;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  char peer[64];
  format_peer(peer, sizeof(peer), sa);
  conn_start(s, fd, peer);
}

int http_server_adopt(struct http_server *s, int fd, const char *peer)
{
  if (evutil_make_socket_nonblocking(fd) < 0) {
    evutil_closesocket(fd);
    return -EINVAL;
  }
  return conn_start(s, fd, peer && *peer ? peer : "@");
}

static void accept_error_cb(struct evconnlistener *lev, void *arg)
{
  int err = EVUTIL_SOCKET_ERROR();
  KLOG_W("http: accept failed: %s", evutil_socket_error_to_string(err));
}

/* --- server --- */

struct http_server *http_server_new(struct event_base *base, const struct http_server_opts *opts,
                                    http_handler_fn handler, void *arg)
{
  struct http_server *s = xcalloc(1, sizeof(*s));
  if (!s) return NULL;
  s->base = base;
  if (opts) s->opts = *opts;
  if (!s->opts.max_body_bytes) s->opts.max_body_bytes = HTTP_DEFAULT_MAX_BODY_BYTES;
  if (!s->opts.max_header_bytes) s->opts.max_header_bytes = HTTP_DEFAULT_MAX_HEADER_BYTES;
  if (!s->opts.max_output_bytes) s->opts.max_output_bytes = HTTP_DEFAULT_MAX_OUTPUT_BYTES;
  if (s->opts.idle_timeout_s <= 0) s->opts.idle_timeout_s = HTTP_DEFAULT_IDLE_TIMEOUT_S;
  s->idle_tv.tv_sec = s->opts.idle_timeout_s;
  s->handler = handler;
  s->arg = arg;
  http_parser_settings_init(&s->settings);
  s->settings.on_message_begin = on_message_begin;
  s->settings.on_url = on_url;
  s->settings.on_header_field = on_header_field;
  s->settings.on_header_value = on_header_value;
  s->settings.on_headers_complete = on_headers_complete;
  s->settings.on_body = on_body;
  s->settings.on_message_complete = on_message_complete;
  /* The header limit is enforced per server (max_header_bytes); lift the
   * parser's process-wide compile-time default of 80 KiB out of its way. */
  http_parser_set_max_header_size(0x7fffffff);
  /* A peer that resets while we write must not kill the process. */
  struct sigaction sa;
  if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) signal(SIGPIPE, SIG_IGN);
  return s;
}

int http_server_listen(struct http_server *s, const char *addr, int port)
{
  struct addrinfo hints, *ai = NULL;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
  char portstr[16];
  snprintf(portstr, sizeof(portstr), "%d", port);
  int rc = getaddrinfo(addr && *addr ? addr : "0.0.0.0", portstr, &hints, &ai);
  if (rc != 0 || !ai) return -EINVAL;
  struct evconnlistener **ls = xrealloc(s->listeners, (s->nlisteners + 1) * sizeof(*ls));
  if (!ls) {
    freeaddrinfo(ai);
    return -ENOMEM;
  }
  s->listeners = ls;
  errno = 0;
  struct evconnlistener *lev =
      evconnlistener_new_bind(s->base, accept_cb, s, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
                              HTTP_LISTEN_BACKLOG, ai->ai_addr, (int)ai->ai_addrlen);
  int err = errno ? errno : EADDRNOTAVAIL;
  freeaddrinfo(ai);
  if (!lev) return -err;
  evconnlistener_set_error_cb(lev, accept_error_cb);
  s->listeners[s->nlisteners++] = lev;
  struct sockaddr_storage ss;
  socklen_t sl = sizeof(ss);
  if (getsockname(evconnlistener_get_fd(lev), (struct sockaddr *)&ss, &sl) < 0) return -errno;
  if (ss.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

void http_server_free(struct http_server *s)
{
  if (!s) return;
  for (size_t i = 0; i < s->nlisteners; i++) evconnlistener_free(s->listeners[i]);
  free(s->listeners);
  while (s->conns) {
    struct http_conn *c = s->conns;
    http_conn_enter(c);
    http_conn_close(c);
    http_conn_leave(c);
  }
  free(s);
}

size_t http_server_connections(const struct http_server *s) { return s->nconns; }
