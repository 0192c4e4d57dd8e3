/*
 * test_http_server.c - the HTTP/1.1 server layer seen from a client.
 *
 * Each test starts a server on 127.0.0.1 port 0 with its event loop in a
 * second thread and talks to it over plain sockets from the test thread,
 * byte for byte, so that framing (Content-Length, chunks, 100 Continue,
 * 101) is checked exactly as a client would see it.  The handler below
 * chooses its behaviour by path: /echo answers at once, /async after a
 * timer, /stream in timed chunks, /flood until the output cap trips,
 * /pending never, /upgrade hands the connection over to a raw echo.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "kube/http.h"

/* ---------------- server side (runs in the loop thread) ---------------- */

struct fx {
  struct event_base *base;
  struct http_server *srv;
  int port;
  pthread_t th;
  struct event *keepalive_ev;
  atomic_int handled;
  atomic_int pending_closed;
  atomic_int flood_closed;
  atomic_int flood_write_failed;
  atomic_int async_closed;
  struct bufferevent *upgraded;
};

struct timer_ctx {
  struct fx *fx;
  struct http_request *req;
  struct event *ev;
  int step, total;
};

static void timer_ctx_free(struct timer_ctx *t)
{
  event_free(t->ev);
  free(t);
}

static void echo_reply(struct http_request *r)
{
  size_t blen;
  const char *body = http_req_body(r, &blen);
  const char *q = http_req_param(r, "q");
  const char *id = http_req_param(r, "id");
  const char *xt = http_req_header(r, "x-test");
  json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s?, s:s?, s:i, s:s%}", "method", http_req_method(r), "path",
                        http_req_path(r), "raw_path", http_req_raw_path(r), "query", http_req_query(r), "q", q, "id",
                        id, "x_test", xt, "body_len", (int)blen, "body", body, blen);
  http_add_header(r, "x-echo-id", id ? id : "none");
  const char *hn = http_req_param(r, "hn"); /* a header name from the query */
  if (hn) http_add_header(r, hn, "v");
  http_reply_json(r, 200, j);
  json_decref(j);
}

static void async_on_close(struct http_request *r, void *arg)
{
  struct timer_ctx *t = arg;
  atomic_fetch_add(&t->fx->async_closed, 1);
  timer_ctx_free(t);
}

static void async_fire(evutil_socket_t fd, short what, void *arg)
{
  struct timer_ctx *t = arg;
  const char *id = http_req_param(t->req, "id");
  char body[64];
  int n = snprintf(body, sizeof(body), "async %s", id ? id : "-");
  http_reply(t->req, 200, "text/plain", body, (size_t)n);
  timer_ctx_free(t);
}

static void stream_on_close(struct http_request *r, void *arg) { timer_ctx_free(arg); }

static void stream_tick(evutil_socket_t fd, short what, void *arg)
{
  struct timer_ctx *t = arg;
  static const char *parts[] = {"a", "bb", "ccc"};
  if (t->step < 3) {
    http_stream_write(t->req, parts[t->step], strlen(parts[t->step]));
    t->step++;
    struct timeval tv = {0, 20 * 1000};
    event_add(t->ev, &tv);
    return;
  }
  http_stream_end(t->req);
  timer_ctx_free(t);
}

static void flood_on_close(struct http_request *r, void *arg)
{
  struct timer_ctx *t = arg;
  atomic_fetch_add(&t->fx->flood_closed, 1);
  /* The timer is freed by the tick that saw -1, or here if the close came
   * from elsewhere. */
  t->req = NULL;
}

static void flood_tick(evutil_socket_t fd, short what, void *arg)
{
  struct timer_ctx *t = arg;
  static char chunk[16384];
  memset(chunk, 'x', sizeof(chunk));
  if (!t->req || http_stream_write(t->req, chunk, sizeof(chunk)) < 0) {
    atomic_fetch_add(&t->fx->flood_write_failed, 1);
    timer_ctx_free(t);
    return;
  }
  struct timeval tv = {0, 1000};
  event_add(t->ev, &tv);
}

static void pending_on_close(struct http_request *r, void *arg)
{
  struct fx *fx = arg;
  atomic_fetch_add(&fx->pending_closed, 1);
}

static void up_read(struct bufferevent *bev, void *arg)
{
  struct evbuffer *in = bufferevent_get_input(bev);
  size_t n = evbuffer_get_length(in);
  char *buf = malloc(n + 1);
  evbuffer_remove(in, buf, n);
  for (size_t i = 0; i < n; i++)
    if (buf[i] >= 'a' && buf[i] <= 'z') buf[i] = (char)(buf[i] - 'a' + 'A');
  bufferevent_write(bev, buf, n);
  free(buf);
}

static void up_event(struct bufferevent *bev, short what, void *arg)
{
  struct fx *fx = arg;
  if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
    bufferevent_free(bev);
    fx->upgraded = NULL;
  }
}

static struct timer_ctx *timer_new(struct fx *fx, struct http_request *r, event_callback_fn fn)
{
  struct timer_ctx *t = calloc(1, sizeof(*t));
  t->fx = fx;
  t->req = r;
  t->ev = evtimer_new(fx->base, fn, t);
  return t;
}

static void handler(struct http_request *r, void *arg)
{
  struct fx *fx = arg;
  const char *path = http_req_path(r);
  atomic_fetch_add(&fx->handled, 1);
  if (strncmp(path, "/echo", 5) == 0) {
    echo_reply(r);
  } else if (strcmp(path, "/async") == 0) {
    struct timer_ctx *t = timer_new(fx, r, async_fire);
    const char *ms = http_req_param(r, "ms");
    struct timeval tv = {0, (ms ? atoi(ms) : 50) * 1000};
    http_req_on_close(r, async_on_close, t);
    event_add(t->ev, &tv);
  } else if (strcmp(path, "/stream") == 0) {
    struct timer_ctx *t = timer_new(fx, r, stream_tick);
    http_req_on_close(r, stream_on_close, t);
    http_stream_begin(r, 200, "text/plain");
    struct timeval tv = {0, 20 * 1000};
    event_add(t->ev, &tv);
  } else if (strcmp(path, "/flood") == 0) {
    struct timer_ctx *t = timer_new(fx, r, flood_tick);
    http_req_on_close(r, flood_on_close, t);
    http_stream_begin(r, 200, "application/json");
    struct timeval tv = {0, 1000};
    event_add(t->ev, &tv);
  } else if (strcmp(path, "/flood-sync") == 0) {
    /* The cap trips inside the handler: on_close runs at once, yet the
     * request stays readable until the handler returns. */
    http_req_on_close(r, pending_on_close, fx);
    http_stream_begin(r, 200, "text/plain");
    static char chunk[16384];
    int i = 0;
    while (i < 1000 && http_stream_write(r, chunk, sizeof(chunk)) == 0) i++;
    if (i < 1000 && http_stream_write(r, "x", 1) == -1 && strcmp(http_req_path(r), "/flood-sync") == 0)
      atomic_fetch_add(&fx->flood_write_failed, 1);
    http_stream_end(r); /* a no-op on a closed connection */
  } else if (strcmp(path, "/evbuf") == 0) {
    struct evbuffer *b = evbuffer_new();
    for (int i = 0; i < 500; i++) evbuffer_add(b, "0123456789", 10);
    http_reply_evbuffer(r, 200, "text/plain", b);
    evbuffer_free(b);
  } else if (strcmp(path, "/pending") == 0) {
    http_req_on_close(r, pending_on_close, fx);
  } else if (strcmp(path, "/conns") == 0) {
    char body[32];
    int n = snprintf(body, sizeof(body), "%zu", http_server_connections(fx->srv));
    http_reply(r, 200, "text/plain", body, (size_t)n);
  } else if (strcmp(path, "/upgrade") == 0) {
    const char *hdrs[] = {"Upgrade", "test", "Connection", "Upgrade", NULL};
    struct bufferevent *bev = http_upgrade(r, hdrs);
    if (!bev) return; /* the client sees no 101 and the test fails there */
    fx->upgraded = bev;
    bufferevent_setcb(bev, up_read, NULL, up_event, fx);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    if (evbuffer_get_length(bufferevent_get_input(bev)) > 0) up_read(bev, fx);
  } else {
    http_reply(r, 404, "text/plain", "not found", 9);
  }
}

static void *loop_main(void *arg)
{
  struct fx *fx = arg;
  event_base_loop(fx->base, EVLOOP_NO_EXIT_ON_EMPTY);
  return NULL;
}

static struct fx *fx_start(const struct http_server_opts *opts)
{
  struct fx *fx = calloc(1, sizeof(*fx));
  fx->base = event_base_new();
  assert_non_null(fx->base);
  fx->srv = http_server_new(fx->base, opts, handler, fx);
  assert_non_null(fx->srv);
  fx->port = http_server_listen(fx->srv, "127.0.0.1", 0);
  assert_true(fx->port > 0);
  assert_int_equal(pthread_create(&fx->th, NULL, loop_main, fx), 0);
  return fx;
}

static void fx_stop(struct fx *fx)
{
  event_base_loopbreak(fx->base);
  pthread_join(fx->th, NULL);
  http_server_free(fx->srv);
  if (fx->upgraded) bufferevent_free(fx->upgraded);
  event_base_free(fx->base);
  free(fx);
}

/* ---------------- client side (test thread) ---------------- */

struct client {
  int fd;
  SSL *ssl;
  char buf[1 << 16];
  size_t len;
};

struct resp {
  int status;
  char head[4096];
  char body[8192];
  size_t body_len;
  int chunk_sizes[16];
  int nchunks;
};

static void cl_connect(struct client *c, int port, int rcvbuf)
{
  memset(c, 0, sizeof(*c));
  c->fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(c->fd >= 0);
  if (rcvbuf) setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  struct timeval tv = {5, 0};
  setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  assert_int_equal(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
}

static void cl_close(struct client *c)
{
  if (c->ssl) {
    SSL_CTX *ctx = SSL_get_SSL_CTX(c->ssl);
    SSL_free(c->ssl);
    SSL_CTX_free(ctx);
  }
  close(c->fd);
}

static void cl_send(struct client *c, const char *s, size_t n)
{
  while (n) {
    ssize_t w = c->ssl ? SSL_write(c->ssl, s, (int)n) : send(c->fd, s, n, MSG_NOSIGNAL);
    assert_true(w > 0);
    s += w;
    n -= (size_t)w;
  }
}

static void cl_sends(struct client *c, const char *s) { cl_send(c, s, strlen(s)); }

/* Reads more; returns bytes read, 0 on EOF, -1 on error/timeout. */
static ssize_t cl_fill(struct client *c)
{
  if (c->len == sizeof(c->buf)) return -1;
  ssize_t n = c->ssl ? SSL_read(c->ssl, c->buf + c->len, (int)(sizeof(c->buf) - c->len))
                     : recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
  if (n > 0) c->len += (size_t)n;
  return n;
}

static void cl_consume(struct client *c, size_t n)
{
  memmove(c->buf, c->buf + n, c->len - n);
  c->len -= n;
}

static bool cl_need(struct client *c, size_t n)
{
  while (c->len < n)
    if (cl_fill(c) <= 0) return false;
  return true;
}

/* Index just past the next "\r\n" at or after `from`, waiting for it. */
static ssize_t cl_line_end(struct client *c, size_t from)
{
  for (;;) {
    for (size_t i = from; i + 1 < c->len; i++)
      if (c->buf[i] == '\r' && c->buf[i + 1] == '\n') return (ssize_t)(i + 2);
    if (cl_fill(c) <= 0) return -1;
  }
}

static const char *resp_header(struct resp *r, const char *name)
{
  static char val[512];
  size_t nl = strlen(name);
  const char *p = strstr(r->head, "\r\n");
  while (p && p[2] != '\0') {
    p += 2;
    if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
      const char *v = p + nl + 1;
      while (*v == ' ') v++;
      const char *e = strstr(v, "\r\n");
      size_t l = e ? (size_t)(e - v) : strlen(v);
      memcpy(val, v, l);
      val[l] = '\0';
      return val;
    }
    p = strstr(p, "\r\n");
  }
  return NULL;
}

/* Reads one response; false if the connection ended first. */
static bool cl_response(struct client *c, struct resp *r, bool head_request)
{
  memset(r, 0, sizeof(*r));
  size_t end = 0;
  for (;;) {
    char *p = memmem(c->buf, c->len, "\r\n\r\n", 4);
    if (p) {
      end = (size_t)(p - c->buf) + 4;
      break;
    }
    if (cl_fill(c) <= 0) return false;
  }
  assert_true(end < sizeof(r->head));
  memcpy(r->head, c->buf, end);
  r->head[end] = '\0';
  cl_consume(c, end);
  assert_int_equal(sscanf(r->head, "HTTP/1.1 %d", &r->status), 1);
  if (r->status < 200 || r->status == 204 || r->status == 304 || head_request) return true;
  const char *te = resp_header(r, "Transfer-Encoding");
  if (te && strcmp(te, "chunked") == 0) {
    for (;;) {
      ssize_t le = cl_line_end(c, 0);
      if (le < 0) return false;
      size_t sz = strtoul(c->buf, NULL, 16);
      cl_consume(c, (size_t)le);
      if (!cl_need(c, sz + 2)) return false;
      if (sz == 0) {
        cl_consume(c, 2);
        return true;
      }
      if (r->nchunks < 16) r->chunk_sizes[r->nchunks++] = (int)sz;
      size_t room = sizeof(r->body) - 1 - r->body_len;
      size_t cp = sz < room ? sz : room;
      memcpy(r->body + r->body_len, c->buf, cp);
      r->body_len += cp;
      cl_consume(c, sz + 2);
    }
  }
  const char *cl = resp_header(r, "Content-Length");
  assert_non_null(cl);
  size_t n = strtoul(cl, NULL, 10);
  assert_true(n < sizeof(r->body));
  if (!cl_need(c, n)) return false;
  memcpy(r->body, c->buf, n);
  r->body_len = n;
  r->body[n] = '\0';
  cl_consume(c, n);
  return true;
}

/* True if the server closed the connection (EOF or reset) within 5 s. */
static bool cl_closed_by_peer(struct client *c)
{
  char tmp[4096];
  for (;;) {
    ssize_t n = recv(c->fd, tmp, sizeof(tmp), 0);
    if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
    if (n < 0) return false;
  }
}

static json_t *resp_json(struct resp *r)
{
  json_error_t err;
  json_t *j = json_loadb(r->body, r->body_len, 0, &err);
  assert_non_null(j);
  return j;
}

static const char *jstr(json_t *j, const char *k)
{
  const char *s = json_string_value(json_object_get(j, k));
  return s ? s : "(null)";
}

static bool wait_atomic(atomic_int *v, int want)
{
  for (int i = 0; i < 1000; i++) {
    if (atomic_load(v) >= want) return true;
    usleep(10 * 1000);
  }
  return false;
}

/* ---------------- tests ---------------- */

static void test_keep_alive_two_requests(void **state)
{
  struct fx *fx = fx_start(NULL);
  struct client c;
  struct resp r;
  cl_connect(&c, fx->port, 0);
  cl_sends(&c, "GET /echo/one?id=1 HTTP/1.1\r\nHost: x\r\nX-Test: a\r\nX-Test: b\r\n\r\n");
  assert_true(cl_response(&c, &r, false));
  assert_int_equal(r.status, 200);
  assert_string_equal(resp_header(&r, "Content-Type"), "application/json");
  assert_non_null(resp_header(&r, "Date"));
  assert_string_equal(resp_header(&r, "X-Echo-Id"), "1"); /* canonical name */
  assert_non_null(strstr(r.head, "\r\nX-Echo-Id: 1\r\n"));
  assert_null(resp_header(&r, "Connection"));
  json_t *j = resp_json(&r);
  assert_string_equal(jstr(j, "path"), "/echo/one");
  assert_string_equal(jstr(j, "x_test"), "a, b");
  json_decref(j);

  cl_sends(&c, "POST /echo/two?id=2 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
  assert_true(cl_response(&c, &r, false));
  assert_int_equal(r.status, 200);
  j = resp_json(&r);
  assert_string_equal(jstr(j, "method"), "POST");
  assert_string_equal(jstr(j, "body"), "hello");
  json_decref(j);

  /* Connection: close is honoured: answer, then EOF. */
  cl_sends(&c, "GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  assert_true(cl_response(&c, &r, false));
  assert_string_equal(resp_header(&r, "Connection"), "close");
  assert_true(cl_closed_by_peer(&c));
  cl_close(&c);
  fx_stop(fx);
}

static void test_http10(void **state)
{
  struct fx *fx = fx_start(NULL);
  struct client c;
  struct resp r;
  /* 1.0 without keep-alive: closed after the answer. */
  cl_connect(&c, fx->port, 0);
  cl_sends(&c, "GET /echo HTTP/1.0\r\n\r\n");
  assert_true(cl_response(&c, &r, false));
  assert_int_equal(r.status, 200);
  assert_string_equal(resp_header(&r, "Connection"), "close");
  assert_true(cl_closed_by_peer(&c));
  cl_close(&c);
  /* 1.0 with keep-alive: two answers on one connection. */
  cl_connect(&c, fx->port, 0);
  for (int i = 0; i < 2; i++) {
    cl_sends(&c, "GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_true(cl_response(&c, &r, false));
    assert_int_equal(r.status, 200);
    assert_string_equal(resp_header(&r, "Connection"), "keep-alive");
  }
  cl_close(&c);
  fx_stop(fx);
}

static void test_pipelined_in_order(void **state)
{
  struct fx *fx = fx_start(NULL);
  struct client c;
  struct resp r;
  cl_connect(&c, fx->port, 0);
  /* The first answer comes late (timer); the second must still follow it. */
  cl_sends(&c, "GET /async?ms=80&id=1 HTTP/1.1\r\nHost: x\r\n\r\n"
               "GET /echo?id=2 HTTP/1.1\r\nHost: x\r\n\r\n"
               "POST /echo?id=3 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
               "GET /async?ms=10&id=4 HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_true(cl_response(&c, &r, false));
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "async 1");
  assert_true(cl_response(&c, &r, false));
  assert_string_equal(resp_header(&r, "X-Echo-Id"), "2");
  assert_true(cl_response(&c, &r, false));
  assert_string_equal(resp_header(&r, "X-Echo-Id"), "3");
  json_t *j = resp_json(&r);
  assert_string_equal(jstr(j, "body"), "abc");
  json_decref(j);
  assert_true(cl_response(&c, &r, false));
  assert_string_equal(r.body, "async 4");
  cl_close(&c);
  fx_stop(fx);
}

static void test_stream_one_chunk_per_write(void **state)
{
  struct fx *fx = fx_start(NULL);
  struct client c;
  struct resp r;
  cl_connect(&c, fx->port, 0);
  cl_sends(&c, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_true(cl_response(&c, &r, false));
  assert_int_equal(r.status, 200);
  assert_string_equal(resp_header(&r, "Transfer-Encoding"), "chunked");
  assert_null(resp_header(&r, "Content-Length"));
  assert_int_equal(r.nchunks, 3);
  assert_int_equal(r.chunk_sizes[0], 1);
  assert_int_equal(r.chunk_sizes[1], 2);
  assert_int_equal(r.chunk_sizes[2], 3);
  assert_string_equal(r.body, "abbccc");
  /* The connection is reusable after the last chunk. */
  cl_sends(&c, "GET /echo?id=after HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_true(cl_response(&c, &r, false));
  assert_string_equal(resp_header(&r, "X-Echo-Id"), "after");
  cl_close(&c);
  fx_stop(fx);
}

static void test_slow_reader_closed_at_cap(void **state)
{
  struct http_server_opts o = {.max_output_bytes = 64 * 1024};
  struct fx *fx = fx_start(&o);
  struct client c;
  cl_connect(&c, fx->port, 4096);
  cl_sends(&c, "GET /flood HTTP/1.1\r\nHost: x\r\n\r\n");
  /* Never read: the kernel buffers fill, then the server's queue passes 64 KiB. */
  assert_true(wait_atomic(&fx->flood_write_failed, 1));
  assert_int_equal(atomic_load(&fx->flood_closed), 1);
  usleep(50 * 1000);
  assert_int_equal(atomic_load(&fx->flood_closed), 1);
  assert_true(cl_closed_by_peer(&c));
  cl_close(&c);

  cl_connect(&c, fx->port, 4096);
  cl_sends(&c, "GET /flood-sync HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_true(wait_atomic(&fx->flood_write_failed, 2));
  assert_int_equal(atomic_load(&fx->pending_closed), 1);
  assert_true(cl_closed_by_peer(&c));
  cl_close(&c);
  fx_stop(fx);
}

static void test_body_too_large(void **state)
{
  struct http_server_opts o = {.max_body_bytes = 1024};
  struct fx *fx = fx_start(&o);
  struct client c;
  struct resp r;
  static char big[2000];
  memset(big, 'x', sizeof(big));
  struct {
    const char *head;
  } cases[] = {
      {"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n"},
      {"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\n"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    cl_connect(&c, fx->port, 0);
    cl_sends(&c, cases[i].head);
    cl_send(&c, big, sizeof(big));
    assert_true(cl_response(&c, &r, false));
    assert_int_equal(r.status, 413);
    assert_string_equal(resp_header(&r, "Connection"), "close");
    json_t *j = resp_json(&r);
    assert_string_equal(jstr(j, "kind"), "Status");
    assert_string_equal(jstr(j, "reason"), "RequestEntityTooLarge");
    assert_int_equal(json_integer_value(json_object_get(j, "code")), 413);
    json_decref(j);
    assert_true(cl_closed_by_peer(&c));
    cl_close(&c);
  }
  /* At the limit is fine. */
  cl_connect(&c, fx->port, 0);
  cl_sends(&c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1024\r\n\r\n");
  cl_send(&c, big, 1024);
  assert_true(cl_response(&c, &r, false));
  assert_int_equal(r.status, 200);
  cl_close(&c);
  assert_int_equal(atomic_load(&fx->handled), 1);
  fx_stop(fx);
}

static void test_malformed_requests(void **state)
{
  struct http_server_opts o = {.max_header_bytes = 4096};
  struct fx *fx = fx_start(&o);
  static char huge[8192];
  snprintf(huge, sizeof(huge), "GET / HTTP/1.1\r\nX-Big: %06000d\r\n\r\n", 1);
  struct {
    const char *req;
    int status;
  } cases[] = {
      {"GARBAGE\r\n\r\n", 400},
      {"GET\r\n\r\n", 400},
      {"GET / HTTP/9.Z\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nBad Header Line\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400},
      {"\x01\x02\x03\r\n\r\n", 400},
      {huge, 431},
      {"GET / HTTP/1.1\r\nExpect: something-else\r\n\r\n", 417},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct client c;
    struct resp r;
    cl_connect(&c, fx->port, 0);
    cl_sends(&c, cases[i].req);
    assert_true(cl_response(&c, &r, false));
    if (r.status != cases[i].status) fail_msg("case %zu: status %d, want %d", i, r.status, cases[i].status);
    assert_string_equal(resp_header(&r, "Connection"), "close");
    assert_true(cl_closed_by_peer(&c));
    cl_close(&c);
  }
  assert_int_equal(atomic_load(&fx->handled), 0);
  fx_stop(fx);
}

static void test_expect_continue(void **state)
{
  struct fx *fx = fx_start(NULL);
  struct client c;
  struct resp r;
  cl_connect(&c, fx->port, 0);
  cl_sends(&c, "PUT /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
  /* The interim answer comes before any body byte is sent. */
  assert_true(cl_response(&c, &r, false));
  assert_int_equal(r.status, 100);
  assert_string_equal(r.head, "HTTP/1.1 100 Continue\r\n\r\n");
  cl_sends(&c, "world");
  assert_true(cl_response(&c, &r, false));
  assert_int_equal(r.status, 200);
  json_t *j = resp_json(&r);
  assert_string_equal(jstr(j, "body"), "world");
  json_decref(j);
  cl_close(&c);
  fx_stop(fx);
}

static void test_async_reply(void **state)
{
  struct fx *fx = fx_start(NULL);
  struct client c;
  struct resp r;
  cl_connect(&c, fx->port, 0);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  cl_sends(&c, "GET /async?ms=100&id=x HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_true(cl_response(&c, &r, false));
  clock_gettime(CLOCK_MONOTONIC, &t1);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "async x");
  long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
  assert_true(ms >= 90);
  assert_int_equal(atomic_load(&fx->async_closed), 0);
  /* A disconnect before the timer fires cancels it through on_close. */
  struct client c2;
  cl_connect(&c2, fx->port, 0);
  cl_sends(&c2, "GET /async?ms=300 HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_true(wait_atomic(&fx->handled, 2));
  cl_close(&c2);
  assert_true(wait_atomic(&fx->async_closed, 1));
  cl_close(&c);
  fx_stop(fx);
}

static void test_disconnect_while_pending(void **state)
{
  struct fx *fx = fx_start(NULL);
  struct client c, probe;
  struct resp r;
  cl_connect(&c, fx->port, 0);
  /* Pipelined input behind the pending request stays unparsed. */
  cl_sends(&c, "GET /pending HTTP/1.1\r\nHost: x\r\n\r\nGET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_true(wait_atomic(&fx->handled, 1));
  cl_close(&c);
  assert_true(wait_atomic(&fx->pending_closed, 1));
  usleep(50 * 1000);
  assert_int_equal(atomic_load(&fx->pending_closed), 1);
  assert_int_equal(atomic_load(&fx->handled), 1);
  cl_connect(&probe, fx->port, 0);
  cl_sends(&probe, "GET /conns HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_true(cl_response(&probe, &r, false));
  assert_string_equal(r.body, "1"); /* only the probe is left */
  cl_close(&probe);
  /* A request still pending at shutdown gets its on_close too. */
  cl_connect(&c, fx->port, 0);
  cl_sends(&c, "GET /pending HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_true(wait_atomic(&fx->handled, 3));
  event_base_loopbreak(fx->base);
  pthread_join(fx->th, NULL);
  http_server_free(fx->srv);
  assert_int_equal(atomic_load(&fx->pending_closed), 2);
  event_base_free(fx->base);
  free(fx);
  cl_close(&c);
}

static void test_upgrade_raw_bytes(void **state)
{
  struct fx *fx = fx_start(NULL);
  struct client c;
  struct resp r;
  cl_connect(&c, fx->port, 0);
  cl_sends(&c, "GET /upgrade HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\nearly");
  assert_true(cl_response(&c, &r, false));
  assert_int_equal(r.status, 101);
  assert_string_equal(resp_header(&r, "Upgrade"), "test");
  assert_string_equal(resp_header(&r, "Connection"), "Upgrade");
  assert_true(cl_need(&c, 5));
  assert_memory_equal(c.buf, "EARLY", 5);
  cl_consume(&c, 5);
  /* Bytes that look like HTTP are not parsed any more. */
  cl_sends(&c, "get / http/1.1\r\n\r\n");
  assert_true(cl_need(&c, 18));
  assert_memory_equal(c.buf, "GET / HTTP/1.1\r\n\r\n", 18);
  cl_close(&c);
  fx_stop(fx);
}

static void test_path_query_head(void **state)
{
  struct fx *fx = fx_start(NULL);
  struct client c;
  struct resp r;
  cl_connect(&c, fx->port, 0);
  cl_sends(&c, "GET /echo/a%20b%2Fc?q=x+y%26z&empty=&id=%41 HTTP/1.1\r\nHost: x\r\n"
               "X-Empty:\r\nX-Test: v \r\n\r\n");
  assert_true(cl_response(&c, &r, false));
  json_t *j = resp_json(&r);
  assert_string_equal(jstr(j, "path"), "/echo/a b/c");
  assert_string_equal(jstr(j, "raw_path"), "/echo/a%20b%2Fc");
  assert_string_equal(jstr(j, "query"), "q=x+y%26z&empty=&id=%41");
  assert_string_equal(jstr(j, "q"), "x y&z");
  assert_string_equal(jstr(j, "id"), "A");
  assert_string_equal(jstr(j, "x_test"), "v"); /* not glued to the empty header before it */
  json_decref(j);
  /* HEAD: the length of the body that GET would send, and no body. */
  cl_sends(&c, "HEAD /echo HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_true(cl_response(&c, &r, true));
  assert_int_equal(r.status, 200);
  assert_true(atoi(resp_header(&r, "Content-Length")) > 0);
  cl_sends(&c, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_true(cl_response(&c, &r, false)); /* would misparse if HEAD had a body */
  assert_int_equal(r.status, 404);
  assert_string_equal(r.body, "not found");
  cl_sends(&c, "GET /evbuf HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_true(cl_response(&c, &r, false));
  assert_int_equal(r.body_len, 5000);
  assert_memory_equal(r.body + 4990, "0123456789", 10);
  /* A chunked request body arrives whole. */
  cl_sends(&c, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n");
  assert_true(cl_response(&c, &r, false));
  j = resp_json(&r);
  assert_string_equal(jstr(j, "body"), "abcdefg");
  json_decref(j);
  cl_close(&c);
  fx_stop(fx);
}

/* Response headers built from request data: a name that is not an HTTP
 * token or a value with a control character (other than a tab) would
 * corrupt the head, so the header is dropped and the answer stays valid. */
static void test_invalid_response_headers_dropped(void **state)
{
  struct fx *fx = fx_start(NULL);
  struct client c;
  struct resp r;
  cl_connect(&c, fx->port, 0);
  static const char *const dropped[] = {
      "/echo?id=a%01b", "/echo?id=a%0d%0aX-Evil:%201", "/echo?id=a%7fb", "/echo?id=%1b[0m",
  };
  for (size_t i = 0; i < sizeof dropped / sizeof dropped[0]; i++) {
    char req[256];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", dropped[i]);
    cl_sends(&c, req);
    assert_true(cl_response(&c, &r, false));
    assert_int_equal(r.status, 200);
    if (resp_header(&r, "X-Echo-Id")) fail_msg("%s: header kept", dropped[i]);
    assert_null(resp_header(&r, "X-Evil"));
  }
  cl_sends(&c, "GET /echo?id=a%09b%80 HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_true(cl_response(&c, &r, false));
  assert_non_null(strstr(r.head, "\r\nX-Echo-Id: a\tb\x80\r\n")); /* tab and obs-text are allowed */
  cl_sends(&c, "GET /echo?id=1&hn=a%20b HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_true(cl_response(&c, &r, false));
  assert_null(strstr(r.head, "a b"));
  assert_string_equal(resp_header(&r, "X-Echo-Id"), "1");
  cl_sends(&c, "GET /echo?id=1&hn=x-ok HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_true(cl_response(&c, &r, false));
  assert_string_equal(resp_header(&r, "X-Ok"), "v");
  cl_close(&c);
  fx_stop(fx);
}

static void adopt_handler(struct http_request *r, void *arg)
{
  char body[128];
  int n = snprintf(body, sizeof body, "%s %s from %s", http_req_method(r), http_req_path(r), http_req_peer(r));
  http_reply(r, 200, "text/plain", body, (size_t)n);
}

/* A connected socket handed to the server (one end of a socketpair) is
 * served like an accepted one, on the caller's own loop, and closed with
 * the server's connection when the client goes away. */
static void test_adopt_socketpair(void **state)
{
  struct event_base *base = event_base_new();
  struct http_server *srv = http_server_new(base, NULL, adopt_handler, NULL);
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  assert_int_equal(http_server_adopt(srv, sv[0], "pair"), 0);
  assert_int_equal(http_server_connections(srv), 1);
  const char *req = "GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
  assert_int_equal(write(sv[1], req, strlen(req)), (ssize_t)strlen(req));
  char out[1024];
  size_t len = 0;
  for (int turns = 0; turns < 10000 && http_server_connections(srv) > 0; turns++) {
    event_base_loop(base, EVLOOP_NONBLOCK);
    struct pollfd p = {.fd = sv[1], .events = POLLIN};
    if (poll(&p, 1, 0) == 1 && len < sizeof out - 1) {
      ssize_t n = read(sv[1], out + len, sizeof out - 1 - len);
      if (n > 0) len += (size_t)n;
      else if (n == 0) shutdown(sv[1], SHUT_WR); /* the server closed: answer its lingering close */
    }
  }
  out[len] = '\0';
  assert_int_equal(http_server_connections(srv), 0);
  assert_true(strncmp(out, "HTTP/1.1 200 OK\r\n", 17) == 0);
  assert_non_null(strstr(out, "\r\n\r\nGET /x from pair"));
  close(sv[1]);
  http_server_free(srv);
  event_base_free(base);
}

static void test_idle_timeout(void **state)
{
  struct http_server_opts o = {.idle_timeout_s = 1};
  struct fx *fx = fx_start(&o);
  struct client c;
  struct resp r;
  cl_connect(&c, fx->port, 0);
  cl_sends(&c, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_true(cl_response(&c, &r, false));
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  assert_true(cl_closed_by_peer(&c));
  clock_gettime(CLOCK_MONOTONIC, &t1);
  assert_true(t1.tv_sec - t0.tv_sec <= 3);
  cl_close(&c);
  /* A pending request is not idle: a 1.5 s answer still arrives. */
  cl_connect(&c, fx->port, 0);
  cl_sends(&c, "GET /async?ms=1500&id=slow HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_true(cl_response(&c, &r, false));
  assert_string_equal(r.body, "async slow");
  cl_close(&c);
  fx_stop(fx);
}

/* A throwaway self-signed P-256 certificate for 127.0.0.1. */
static SSL_CTX *test_server_ctx(void)
{
  EVP_PKEY *key = EVP_EC_gen("P-256");
  assert_non_null(key);
  X509 *x = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, key);
  X509_NAME *name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"test", -1, -1, 0);
  X509_set_issuer_name(x, name);
  assert_true(X509_sign(x, key, EVP_sha256()) > 0);
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  assert_int_equal(SSL_CTX_use_certificate(ctx, x), 1);
  assert_int_equal(SSL_CTX_use_PrivateKey(ctx, key), 1);
  X509_free(x);
  EVP_PKEY_free(key);
  return ctx;
}

static void test_tls(void **state)
{
  SSL_CTX *sctx = test_server_ctx();
  struct http_server_opts o = {.ssl_ctx = sctx};
  struct fx *fx = fx_start(&o);
  struct client c;
  struct resp r;
  cl_connect(&c, fx->port, 0);
  SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
  c.ssl = SSL_new(cctx);
  SSL_set_fd(c.ssl, c.fd);
  assert_int_equal(SSL_connect(c.ssl), 1);
  cl_sends(&c, "GET /echo?id=tls HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_true(cl_response(&c, &r, false));
  assert_string_equal(resp_header(&r, "X-Echo-Id"), "tls");
  cl_sends(&c, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_true(cl_response(&c, &r, false));
  assert_int_equal(r.nchunks, 3);
  assert_string_equal(r.body, "abbccc");
  cl_sends(&c, "GET /async?id=late HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  assert_true(cl_response(&c, &r, false));
  assert_string_equal(r.body, "async late");
  assert_true(cl_closed_by_peer(&c));
  cl_close(&c);
  fx_stop(fx);
  SSL_CTX_free(sctx);
}

int main(void)
{
  evthread_use_pthreads();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_keep_alive_two_requests),
      cmocka_unit_test(test_http10),
      cmocka_unit_test(test_pipelined_in_order),
      cmocka_unit_test(test_stream_one_chunk_per_write),
      cmocka_unit_test(test_slow_reader_closed_at_cap),
      cmocka_unit_test(test_body_too_large),
      cmocka_unit_test(test_malformed_requests),
      cmocka_unit_test(test_expect_continue),
      cmocka_unit_test(test_async_reply),
      cmocka_unit_test(test_disconnect_while_pending),
      cmocka_unit_test(test_upgrade_raw_bytes),
      cmocka_unit_test(test_path_query_head),
      cmocka_unit_test(test_invalid_response_headers_dropped),
      cmocka_unit_test(test_adopt_socketpair),
      cmocka_unit_test(test_idle_timeout),
      cmocka_unit_test(test_tls),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  libevent_global_shutdown();
  return rc;
}
