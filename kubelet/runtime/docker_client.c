/*
 * docker_client.c - the Engine API over its unix socket (see
 * docker_client.h).
 *
 * libcurl's multi interface runs on the loop: curl names the sockets to
 * watch (CURLMOPT_SOCKETFUNCTION) and the timeout to honour
 * (CURLMOPT_TIMERFUNCTION); libevent events feed
 * curl_multi_socket_action().  curl's write callback only buffers bytes;
 * stream pieces and completions are handed to the caller after
 * curl_multi_socket_action() returned, so callbacks may start, cancel,
 * pause or resume requests.  At most DK_MAX_ACTIVE buffered requests are
 * on the wire at once (one connection each); more wait in a FIFO.
 * Requests are reference counted so that a cancel from inside a callback
 * never frees memory still in use.
 */
#define _GNU_SOURCE
#include "docker_client.h"

#include <curl/curl.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/json.h"
#include "kube/log.h"
#include "kube/xalloc.h"

#define DK_MAX_ACTIVE 64
#define DK_BODY_MAX_BYTES (64u << 20)

struct dk_req {
  struct dk_client *c;
  int refs;
  bool cancelled, stream, active, queued, finished, paused, abort;
  bool insecure, h2;
  int64_t timeout_ms;
  char *method, *url, *body, *ctype;
  size_t body_len;
  CURL *easy;
  struct curl_slist *headers;
  char *buf;
  size_t len, cap;
  bool overflow;
  dk_done_fn done;
  dk_data_fn on_data;
  void *arg;
  struct dk_req *prev, *next; /* all requests */
  struct dk_req *qnext;       /* FIFO of waiting requests */
  struct dk_req *pnext;       /* has stream bytes to deliver */
  bool in_pending;
};

struct dk_client {
  struct event_base *base;
  char *socket_path;
  int64_t timeout_ms;
  CURLM *multi;
  struct event *timer, *kick;
  struct dk_req *all, *qhead, *qtail, *pending;
  int active;
  size_t count;
};

struct dk_sock {
  struct event *ev;
};

static void req_ref(struct dk_req *r) { r->refs++; }

static void req_unref(struct dk_req *r)
{
  if (--r->refs > 0) return;
  struct dk_client *c = r->c;
  if (r->prev) r->prev->next = r->next;
  else if (c->all == r) c->all = r->next;
  if (r->next) r->next->prev = r->prev;
  c->count--;
  if (r->easy) curl_easy_cleanup(r->easy);
  curl_slist_free_all(r->headers);
  free(r->method);
  free(r->url);
  free(r->body);
  free(r->ctype);
  free(r->buf);
  free(r);
}

static void kick(struct dk_client *c)
{
  struct timeval tv = {0, 0};
  evtimer_add(c->kick, &tv);
}

/* Takes r off the wire or out of the FIFO. */
static void req_detach(struct dk_req *r)
{
  struct dk_client *c = r->c;
  if (r->active) {
    curl_multi_remove_handle(c->multi, r->easy);
    r->active = false;
    if (!r->stream) c->active--;
    if (c->qhead) kick(c);
  }
  if (r->queued) {
    struct dk_req **pp = &c->qhead, *prev = NULL;
    while (*pp && *pp != r) {
      prev = *pp;
      pp = &(*pp)->qnext;
    }
    if (*pp) {
      *pp = r->qnext;
      if (c->qtail == r) c->qtail = prev;
    }
    r->queued = false;
  }
}

static void finish(struct dk_req *r, const char *error)
{
  if (r->finished) return;
  r->finished = true;
  req_detach(r);
  long code = 0;
  if (!error && r->easy) curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
  bool streamed = r->stream && code >= 200 && code < 300;
  struct dk_response resp = {(int)code, streamed ? "" : (r->buf ? r->buf : ""), streamed ? 0 : r->len, error};
  if (r->done && !r->cancelled) r->done(r->arg, &resp);
  req_unref(r); /* the request's own reference */
}

/* ---- curl plumbing ---- */

static void deliver(struct dk_client *c);
static void check_done(struct dk_client *c);

static void after_action(struct dk_client *c)
{
  deliver(c);
  check_done(c);
}

static void sock_cb(evutil_socket_t fd, short what, void *arg)
{
  struct dk_client *c = arg;
  int flags = 0, running = 0;
  if (what & EV_READ) flags |= CURL_CSELECT_IN;
  if (what & EV_WRITE) flags |= CURL_CSELECT_OUT;
  curl_multi_socket_action(c->multi, fd, flags, &running);
  after_action(c);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
  struct dk_client *c = arg;
  int running = 0;
  curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  after_action(c);
}

static int multi_timer_fn(CURLM *m, long ms, void *arg)
{
  struct dk_client *c = arg;
  if (ms < 0) {
    evtimer_del(c->timer);
    return 0;
  }
  struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
  evtimer_add(c->timer, &tv);
  return 0;
}

static int multi_socket_fn(CURL *e, curl_socket_t s, int what, void *arg, void *sockp)
{
  struct dk_client *c = arg;
  struct dk_sock *sk = sockp;
  if (what == CURL_POLL_REMOVE) {
    if (sk) {
      event_free(sk->ev);
      free(sk);
      curl_multi_assign(c->multi, s, NULL);
    }
    return 0;
  }
  short kind = EV_PERSIST;
  if (what & CURL_POLL_IN) kind |= EV_READ;
  if (what & CURL_POLL_OUT) kind |= EV_WRITE;
  if (!sk) {
    sk = xcalloc(1, sizeof *sk);
    if (!sk) return -1;
    curl_multi_assign(c->multi, s, sk);
  } else {
    event_free(sk->ev);
  }
  sk->ev = event_new(c->base, s, kind, sock_cb, c);
  event_add(sk->ev, NULL);
  return 0;
}

static size_t write_fn(char *ptr, size_t size, size_t nmemb, void *arg)
{
  struct dk_req *r = arg;
  size_t n = size * nmemb;
  if (r->cancelled || r->abort) return 0;
  if (r->len + n > DK_BODY_MAX_BYTES) {
    r->overflow = true;
    return 0;
  }
  if (r->len + n + 1 > r->cap) {
    size_t cap = r->cap ? r->cap : 4096;
    while (cap < r->len + n + 1) cap *= 2;
    char *nb = xrealloc(r->buf, cap);
    if (!nb) return 0;
    r->buf = nb;
    r->cap = cap;
  }
  memcpy(r->buf + r->len, ptr, n);
  r->len += n;
  r->buf[r->len] = 0;
  if (r->stream && !r->in_pending) {
    long code = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
    if (code >= 200 && code < 300) {
      r->in_pending = true;
      req_ref(r);
      r->pnext = r->c->pending;
      r->c->pending = r;
    }
  }
  return n;
}

/* Hands buffered stream bytes to their callers. */
static void deliver(struct dk_client *c)
{
  while (c->pending) {
    struct dk_req *r = c->pending;
    c->pending = r->pnext;
    r->in_pending = false;
    if (!r->cancelled && !r->finished && r->len > 0) {
      size_t n = r->len;
      r->len = 0;
      /* The callback may append nothing (curl is not running now), so
       * the buffer is stable during the call. */
      if (r->on_data && r->on_data(r->arg, r->buf, n) < 0 && !r->cancelled) {
        r->abort = true;
        req_ref(r);
        finish(r, "aborted");
        req_unref(r);
      }
    }
    req_unref(r);
  }
}

static void check_done(struct dk_client *c)
{
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(c->multi, &left))) {
    if (msg->msg != CURLMSG_DONE) continue;
    struct dk_req *r = NULL;
    CURLcode res = msg->data.result;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
    req_ref(r);
    deliver(c); /* bytes that arrived with the end */
    const char *err = NULL;
    if (r->overflow) err = "response too large";
    else if (res != CURLE_OK) err = curl_easy_strerror(res);
    finish(r, err);
    req_unref(r);
  }
}

static void start(struct dk_req *r)
{
  struct dk_client *c = r->c;
  CURL *e = r->easy = curl_easy_init();
  if (!e) {
    req_ref(r);
    finish(r, "cannot create a transfer");
    req_unref(r);
    return;
  }
  if (c->socket_path) curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, c->socket_path);
  if (r->insecure) {
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (r->h2) curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
  curl_easy_setopt(e, CURLOPT_URL, r->url);
  curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)r);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_fn);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
  if (!c->socket_path) curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L); /* probes: a fresh connection each time */
  int64_t timeout = r->timeout_ms > 0 ? r->timeout_ms : c->timeout_ms;
  if (!r->stream && timeout > 0) curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout);
  if (r->timeout_ms > 0 && r->timeout_ms < 10000) curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)r->timeout_ms);
  struct curl_slist *h = curl_slist_append(r->headers, "Expect:");
  if (r->ctype) {
    char ct[160];
    snprintf(ct, sizeof ct, "Content-Type: %s", r->ctype);
    h = curl_slist_append(h, ct);
  }
  r->headers = h;
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
  if (!strcmp(r->method, "GET")) curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  else if (!strcmp(r->method, "HEAD")) curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  else curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
  if (r->body || strcmp(r->method, "GET")) {
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body ? r->body : "");
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
  }
  r->active = true;
  if (!r->stream) c->active++;
  if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
    req_ref(r);
    finish(r, "cannot start a transfer");
    req_unref(r);
  }
}

static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
  struct dk_client *c = arg;
  while (c->qhead && (c->active < DK_MAX_ACTIVE || c->qhead->stream)) {
    struct dk_req *r = c->qhead;
    c->qhead = r->qnext;
    if (!c->qhead) c->qtail = NULL;
    r->queued = false;
    start(r);
  }
}

/* ---- public ---- */

struct dk_client *dk_client_new(struct event_base *base, const char *socket_path, int64_t timeout_ms)
{
  curl_global_init(CURL_GLOBAL_DEFAULT);
  struct dk_client *c = xcalloc(1, sizeof *c);
  if (!c) return NULL;
  c->base = base;
  c->socket_path = socket_path ? xstrdup(socket_path) : NULL;
  c->timeout_ms = timeout_ms;
  c->multi = curl_multi_init();
  c->timer = evtimer_new(base, timer_cb, c);
  c->kick = evtimer_new(base, kick_cb, c);
  if ((socket_path && !c->socket_path) || !c->multi || !c->timer || !c->kick) {
    dk_client_free(c);
    return NULL;
  }
  curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, multi_socket_fn);
  curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
  curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, multi_timer_fn);
  curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
  curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)DK_MAX_ACTIVE);
  return c;
}

void dk_client_free(struct dk_client *c)
{
  if (!c) return;
  while (c->pending) {
    struct dk_req *r = c->pending;
    c->pending = r->pnext;
    r->in_pending = false;
    req_unref(r);
  }
  while (c->all) {
    struct dk_req *r = c->all;
    req_ref(r);
    dk_cancel(r);
    r->refs = 1;
    req_unref(r);
  }
  if (c->multi) curl_multi_cleanup(c->multi);
  if (c->timer) event_free(c->timer);
  if (c->kick) event_free(c->kick);
  free(c->socket_path);
  free(c);
}

static struct dk_req *req_new(struct dk_client *c, const char *method, const char *path, const char *ctype,
                              const void *body, size_t body_len)
{
  struct dk_req *r = xcalloc(1, sizeof *r);
  if (!r) return NULL;
  r->c = c;
  r->refs = 1;
  r->method = xstrdup(method);
  r->url = c->socket_path ? xasprintf("http://docker%s", path) : xstrdup(path);
  if (body) {
    r->body = xmalloc(body_len + 1);
    if (r->body) {
      memcpy(r->body, body, body_len);
      r->body[body_len] = 0;
    }
    r->body_len = body_len;
  }
  if (ctype) r->ctype = xstrdup(ctype);
  r->next = c->all;
  if (c->all) c->all->prev = r;
  c->all = r;
  c->count++;
  if (!r->method || !r->url || (body && !r->body) || (ctype && !r->ctype)) {
    r->finished = true;
    req_unref(r);
    return NULL;
  }
  return r;
}

static void enqueue(struct dk_req *r)
{
  struct dk_client *c = r->c;
  r->queued = true;
  if (c->qtail) c->qtail->qnext = r;
  else c->qhead = r;
  c->qtail = r;
  kick(c);
}

struct dk_req *dk_request(struct dk_client *c, const char *method, const char *path, const char *content_type,
                          const void *body, size_t body_len, dk_done_fn done, void *arg)
{
  struct dk_req *r = req_new(c, method, path, content_type, body, body_len);
  if (!r) return NULL;
  r->done = done;
  r->arg = arg;
  enqueue(r);
  return r;
}

struct dk_req *dk_request_json(struct dk_client *c, const char *method, const char *path, const json_t *body,
                               dk_done_fn done, void *arg)
{
  char *s = body ? kj_dumps(body) : NULL;
  struct dk_req *r = dk_request(c, method, path, body ? "application/json" : NULL, s, s ? strlen(s) : 0, done, arg);
  free(s);
  return r;
}

struct dk_req *dk_stream(struct dk_client *c, const char *method, const char *path, const char *content_type,
                         const void *body, size_t body_len, dk_data_fn on_data, dk_done_fn done, void *arg)
{
  struct dk_req *r = req_new(c, method, path, content_type, body, body_len);
  if (!r) return NULL;
  r->stream = true;
  r->on_data = on_data;
  r->done = done;
  r->arg = arg;
  enqueue(r);
  return r;
}

void dk_req_options(struct dk_req *r, int64_t timeout_ms, bool insecure, bool h2)
{
  if (!r || r->active || r->finished) return;
  r->timeout_ms = timeout_ms;
  r->insecure = insecure;
  r->h2 = h2;
}

void dk_add_header(struct dk_req *r, const char *line)
{
  if (r && !r->active && !r->finished) r->headers = curl_slist_append(r->headers, line);
}

void dk_cancel(struct dk_req *r)
{
  if (!r || r->cancelled) return;
  r->cancelled = true;
  r->done = NULL;
  r->on_data = NULL;
  if (r->finished) return;
  r->finished = true;
  req_detach(r);
  req_unref(r);
}

void dk_pause(struct dk_req *r)
{
  if (!r || r->paused || !r->active) return;
  r->paused = true;
  curl_easy_pause(r->easy, CURLPAUSE_RECV);
}

void dk_resume(struct dk_req *r)
{
  if (!r || !r->paused) return;
  r->paused = false;
  if (r->active) curl_easy_pause(r->easy, CURLPAUSE_CONT);
  /* Bytes curl held while paused reach write_fn now or on the next
   * socket action; hand them over from the loop, not from this call. */
  struct timeval tv = {0, 0};
  evtimer_add(r->c->timer, &tv);
}

size_t dk_client_pending(const struct dk_client *c) { return c->count; }

const char *dk_error_message(const struct dk_response *r, char *out, size_t len)
{
  if (r->error) {
    snprintf(out, len, "%s", r->error);
    return out;
  }
  json_t *j = r->body && r->len ? json_loadb(r->body, r->len, 0, NULL) : NULL;
  const char *m = json_string_value(json_object_get(j, "message"));
  if (m) snprintf(out, len, "%s", m);
  else if (r->len) snprintf(out, len, "%.*s", (int)(r->len > 400 ? 400 : r->len), r->body);
  else snprintf(out, len, "HTTP %d", r->code);
  size_t n = strlen(out);
  while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r')) out[--n] = 0;
  json_decref(j);
  return out;
}
