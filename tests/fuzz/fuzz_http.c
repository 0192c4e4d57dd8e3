/*
 * fuzz_http.c - libFuzzer target: the HTTP/1.1 server layer
 * (common/src/http_server.c, http_request.c, http_response.c) fed raw
 * bytes from a client.
 *
 * One private event_base and one server live for the whole run.  Each
 * input is written into one end of a socketpair whose other end the server
 * adopts (http_server_adopt); the client then shuts its write side and the
 * loop runs until the server has closed the connection.  The handler reads
 * every accessor of the request and answers in one of four ways chosen by
 * the path (at once, later from the loop, as a chunked stream, or by
 * taking the connection over with a 101), so the lifetime rules of pending
 * answers and connection close are exercised as well as the parser.
 *
 * Oracles: ASan/UBSan and LeakSanitizer (every request and connection must
 * be freed once the server is idle); the connection must close within a
 * bounded number of loop turns; and, unless a HEAD request or an upgrade
 * makes the framing ambiguous for a response parser, the bytes the server
 * wrote must parse as a sequence of complete HTTP/1.1 responses (a header
 * value taken from the query must never split the head).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <http_parser.h>

#include "kube/http.h"

/* Loop turns after the client's EOF before the server counts as hung. */
#define FUZZ_HTTP_MAX_TURNS 100000

struct fuzz_http {
  struct event_base *base;
  struct http_server *srv;
  bool upgraded; /* some request took the connection over */
  int pending;   /* deferred answers not yet given or cancelled */
};

static struct fuzz_http fx;

struct deferred {
  struct http_request *req;
  struct event *ev;
};

static void deferred_free(struct deferred *d)
{
  event_free(d->ev);
  free(d);
  fx.pending--;
}

static void deferred_on_close(struct http_request *r, void *arg) { deferred_free(arg); }

static void deferred_fire(evutil_socket_t fd, short what, void *arg)
{
  struct deferred *d = arg;
  size_t blen;
  const char *body = http_req_body(d->req, &blen);
  http_reply(d->req, 202, "text/plain", body ? body : "", body ? blen : 0);
  deferred_free(d);
}

/* Reads everything a handler could read; checks what the header promises. */
static void touch_request(struct http_request *r)
{
  const char *m = http_req_method(r), *p = http_req_path(r), *raw = http_req_raw_path(r), *q = http_req_query(r);
  if (!m || !p || !raw || !q) abort();
  (void)strlen(m);
  (void)strlen(p);
  (void)strlen(raw);
  (void)strlen(q);
  static const char *const keys[] = {"watch", "labelSelector", "fieldSelector", "e", "n", ""};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    const char *v = http_req_param(r, keys[i]);
    if (v) (void)strlen(v);
  }
  static const char *const hdrs[] = {"Content-Type", "Accept", "Expect", "Upgrade", "Connection", "X-Fuzz", ""};
  for (size_t i = 0; i < sizeof hdrs / sizeof hdrs[0]; i++) {
    const char *v = http_req_header(r, hdrs[i]);
    if (v) (void)strlen(v);
  }
  size_t blen = 0;
  const char *body = http_req_body(r, &blen);
  if (body && body[blen] != '\0') abort(); /* bodies are NUL-terminated */
  if (!body && blen) abort();
  (void)http_req_peer(r);
}

static void handler(struct http_request *r, void *arg)
{
  touch_request(r);
  /* Extra headers straight from the (decoded) query: the layer must drop
   * names and values that would break the head. */
  const char *n = http_req_param(r, "n"), *e = http_req_param(r, "e");
  if (e) http_add_header(r, n && *n ? n : "X-Echo", e);
  size_t blen;
  const char *body = http_req_body(r, &blen);
  if (!body) body = "";
  const char *path = http_req_path(r);
  unsigned mode = path[0] && path[1] ? (unsigned char)path[1] % 4 : 0;
  switch (mode) {
  case 0:
    http_reply(r, 200, "application/octet-stream", body, blen);
    break;
  case 1: {
    struct deferred *d = calloc(1, sizeof(*d));
    if (!d) abort();
    d->req = r;
    d->ev = event_new(fx.base, -1, 0, deferred_fire, d);
    fx.pending++;
    http_req_on_close(r, deferred_on_close, d);
    event_active(d->ev, EV_TIMEOUT, 0);
    break;
  }
  case 2:
    if (http_stream_begin(r, 200, "text/plain") == 0) {
      http_stream_write(r, body, blen / 2);
      http_stream_write(r, body + blen / 2, blen - blen / 2);
    }
    http_stream_end(r);
    break;
  default: {
    static const char *const up[] = {"Upgrade", "fuzz", "Connection", "Upgrade", NULL};
    struct bufferevent *bev = http_upgrade(r, up);
    if (bev) {
      fx.upgraded = true;
      bufferevent_free(bev);
    }
    break;
  }
  }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  fx.base = event_base_new();
  struct http_server_opts o = {
      .max_body_bytes = 8192,
      .max_header_bytes = 4096,
      .max_output_bytes = 1 << 20,
      .idle_timeout_s = 30,
  };
  fx.srv = fx.base ? http_server_new(fx.base, &o, handler, NULL) : NULL;
  if (!fx.srv) abort();
  return 0;
}

/* --- the response oracle --- */

struct resp_count {
  int begun, completed;
};

static int resp_begin(http_parser *p)
{
  ((struct resp_count *)p->data)->begun++;
  return 0;
}

static int resp_complete(http_parser *p)
{
  ((struct resp_count *)p->data)->completed++;
  return 0;
}

static void check_responses(const char *out, size_t len, const uint8_t *in, size_t inlen)
{
  http_parser_settings st;
  http_parser_settings_init(&st);
  st.on_message_begin = resp_begin;
  st.on_message_complete = resp_complete;
  struct resp_count rc = {0, 0};
  http_parser p;
  http_parser_init(&p, HTTP_RESPONSE);
  p.data = &rc;
  size_t n = http_parser_execute(&p, &st, out, len);
  if (HTTP_PARSER_ERRNO(&p) == HPE_OK) http_parser_execute(&p, &st, out + n, 0); /* EOF */
  if (HTTP_PARSER_ERRNO(&p) != HPE_OK || n != len || rc.begun != rc.completed) {
    fprintf(stderr, "malformed response stream (%s at %zu of %zu, %d begun, %d complete):\n%.*s\n",
            http_errno_name(HTTP_PARSER_ERRNO(&p)), n, len, rc.begun, rc.completed, (int)len, out);
    abort();
  }
}

static void drain_client(int fd, char **out, size_t *len, size_t *cap)
{
  for (;;) {
    if (*cap - *len < 4096) {
      *cap = *cap * 2 + 8192;
      *out = realloc(*out, *cap);
      if (!*out) abort();
    }
    ssize_t n = read(fd, *out + *len, *cap - *len);
    if (n <= 0) return;
    *len += (size_t)n;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) abort();
  fx.upgraded = false;
  if (http_server_adopt(fx.srv, sv[0], "fuzz") != 0) abort();
  char *out = NULL;
  size_t outlen = 0, outcap = 0, off = 0;
  /* Writes interleave with loop turns so that any input size fits. */
  while (off < size) {
    ssize_t n = write(sv[1], data + off, size - off);
    if (n > 0) off += (size_t)n;
    else if (n < 0 && errno != EAGAIN) break;
    event_base_loop(fx.base, EVLOOP_NONBLOCK);
    drain_client(sv[1], &out, &outlen, &outcap);
  }
  shutdown(sv[1], SHUT_WR);
  int turns = 0;
  while (http_server_connections(fx.srv) > 0 || fx.pending > 0) {
    if (++turns > FUZZ_HTTP_MAX_TURNS) {
      fprintf(stderr, "server still has %zu connection(s), %d pending answer(s) after the client's EOF\n",
              http_server_connections(fx.srv), fx.pending);
      abort();
    }
    event_base_loop(fx.base, EVLOOP_NONBLOCK);
    drain_client(sv[1], &out, &outlen, &outcap);
  }
  event_base_loop(fx.base, EVLOOP_NONBLOCK);
  drain_client(sv[1], &out, &outlen, &outcap);
  close(sv[1]);
  if (!fx.upgraded && !memmem(data, size, "HEAD", 4)) check_responses(out, outlen, data, size);
  free(out);
  return 0;
}
