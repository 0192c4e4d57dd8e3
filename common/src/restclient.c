/*
 * restclient.c - the asynchronous API client.
 *
 * libcurl's multi interface runs on the program's libevent loop: curl tells
 * us which sockets to watch (CURLMOPT_SOCKETFUNCTION) and when to call it
 * back (CURLMOPT_TIMERFUNCTION); libevent events then feed
 * curl_multi_socket_action().  libcurl forbids calling multi functions
 * from its own callbacks, and users may start or cancel requests from
 * theirs, so user callbacks never run inside curl: the write callback only
 * buffers bytes, and lines and completions are delivered once
 * curl_multi_socket_action() has returned.
 *
 * A request's life: QUEUED in the rate limiter's FIFO (a token bucket of
 * qps/burst; a timer releases the head when a token is due) -> ACTIVE in
 * curl -> on failure that may be retried, WAITING on its own timer (the
 * server's Retry-After, else exponential backoff) and back to the FIFO ->
 * done callback, then freed.  Requests are reference counted so that a
 * cancel from inside a callback never frees memory still in use.
 */
#define _GNU_SOURCE
#include "kube/restclient.h"

#include <curl/curl.h>
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "kube/fileutil.h"
#include "kube/json.h"
#include "kube/log.h"
#include "kube/timeutil.h"
#include "kube/xalloc.h"

#define KUBE_VERSION "v1.32.0"
#define REST_BODY_MAX_BYTES (256u << 20)

enum req_state { RS_QUEUED, RS_ACTIVE, RS_WAITING, RS_DONE };

#define REST_SPARE_HANDLES 32
#define REST_STREAM_CONNECTIONS 128 /* watches a program may hold open */

struct rest_request {
  struct rest_client *c;
  int refs;
  enum req_state state;
  bool cancelled;
  bool stream;
  char *method;
  char *url;
  char *content_type;
  char *body;
  size_t body_len;
  rest_done_fn done;
  rest_event_fn on_event;
  void *arg;
  CURL *easy;
  struct curl_slist *headers;
  char *buf; /* response bytes not yet consumed */
  size_t len, cap;
  bool overflow;
  int tries;
  int64_t retry_after_s; /* from the last response, -1 if none */
  struct event *timer;   /* backoff */
  struct rest_request *next_queued;
  struct rest_request *prev_all, *next_all;
  struct rest_request *next_pending; /* has buffered stream lines */
  bool in_pending;
  bool owned;        /* the request still holds its own reference */
  bool counted;      /* counts in the client's active requests */
  bool discard_body; /* a 2xx body is not parsed */
  bool skip_managed; /* parse without metadata.managedFields */
  bool start_failed;
};

struct rest_client {
  struct event_base *base;
  struct rest_config cfg;
  CURLM *multi;
  struct event *curl_timer;
  struct event *rl_timer;
  double tokens;
  int64_t last_refill_ms;
  struct rest_request *q_head, *q_tail;
  struct rest_request *all;
  struct rest_request *pending_head;
  size_t count;
  /* Finished requests' easy handles, reset and kept for the next ones:
   * creating and freeing a handle per request costs more than the
   * request on a loopback connection. */
  CURL *spare[REST_SPARE_HANDLES];
  int nspare;
  int active; /* non-streaming requests on the wire */
  struct curl_slist *connect_to; /* cfg.connect_to as curl takes it */
  /* cfg.token_file: when it was last looked at, and its mtime then */
  int64_t token_checked_ms;
  struct timespec token_mtime;
};

struct sock_ctx {
  struct event *ev;
  curl_socket_t fd;
};

static char *dup_or_null(const char *s) { return s ? xstrdup(s) : NULL; }

#define TOKEN_FILE_CHECK_MS 60000

/* Reads cfg.token_file again when its mtime changed (a projected service
 * account token is rotated by the kubelet); at most once a minute, as
 * upstream's cached token source.  A file that cannot be read keeps the
 * token in use. */
static void refresh_token(struct rest_client *c)
{
  if (!c->cfg.token_file) return;
  int64_t now = ktime_mono_ms();
  int64_t period = c->cfg.token_file_period_ms > 0 ? c->cfg.token_file_period_ms : TOKEN_FILE_CHECK_MS;
  if (c->token_checked_ms && now - c->token_checked_ms < period) return;
  c->token_checked_ms = now;
  struct stat st;
  if (stat(c->cfg.token_file, &st) < 0) return;
  if (st.st_mtim.tv_sec == c->token_mtime.tv_sec && st.st_mtim.tv_nsec == c->token_mtime.tv_nsec) return;
  size_t len = 0;
  char *tok = kfile_read(c->cfg.token_file, &len);
  if (!tok) return;
  while (len > 0 && (tok[len - 1] == '\n' || tok[len - 1] == '\r')) tok[--len] = 0;
  c->token_mtime = st.st_mtim;
  free(c->cfg.token);
  c->cfg.token = tok;
}

static char *xmemdup(const char *p, size_t n)
{
  if (!p) return NULL;
  char *d = xmalloc(n + 1);
  if (d) {
    memcpy(d, p, n);
    d[n] = 0;
  }
  return d;
}

void rest_config_init(struct rest_config *cfg)
{
  memset(cfg, 0, sizeof *cfg);
  cfg->qps = REST_DEFAULT_QPS;
  cfg->burst = REST_DEFAULT_BURST;
  cfg->max_tries = REST_DEFAULT_MAX_TRIES;
  cfg->retry_base_ms = 200;
  cfg->retry_max_ms = 10000;
}

void rest_config_free(struct rest_config *cfg)
{
  if (!cfg) return;
  free(cfg->server);
  free(cfg->ca_data);
  free(cfg->tls_server_name);
  free(cfg->connect_to);
  cfg->connect_to = NULL;
  free(cfg->token);
  free(cfg->token_file);
  cfg->token_file = NULL;
  free(cfg->cert_data);
  free(cfg->key_data);
  free(cfg->username);
  free(cfg->password);
  free(cfg->user_agent);
  cfg->server = cfg->ca_data = cfg->tls_server_name = cfg->token = NULL;
  cfg->cert_data = cfg->key_data = cfg->username = cfg->password = cfg->user_agent = NULL;
}

char *rest_default_user_agent(const char *component)
{
  char *s = NULL;
  if (asprintf(&s, "%s/" KUBE_VERSION " (linux/amd64) kubernetes/$Format",
               component && *component ? component : "kube") < 0)
    return NULL;
  return s;
}

static void copy_config(struct rest_config *d, const struct rest_config *s)
{
  *d = *s;
  d->server = dup_or_null(s->server);
  d->ca_data = xmemdup(s->ca_data, s->ca_len);
  d->tls_server_name = dup_or_null(s->tls_server_name);
  d->connect_to = dup_or_null(s->connect_to);
  d->token = dup_or_null(s->token);
  d->token_file = dup_or_null(s->token_file);
  d->cert_data = xmemdup(s->cert_data, s->cert_len);
  d->key_data = xmemdup(s->key_data, s->key_len);
  d->username = dup_or_null(s->username);
  d->password = dup_or_null(s->password);
  d->user_agent = s->user_agent ? xstrdup(s->user_agent) : rest_default_user_agent(NULL);
  if (d->burst <= 0) d->burst = 1;
  if (d->max_tries <= 0) d->max_tries = 1;
  if (d->max_active <= 0) d->max_active = REST_DEFAULT_MAX_ACTIVE;
  if (d->retry_base_ms <= 0) d->retry_base_ms = 200;
  if (d->retry_max_ms <= 0) d->retry_max_ms = 10000;
  if (d->server) {
    size_t n = strlen(d->server);
    while (n > 0 && d->server[n - 1] == '/') d->server[--n] = 0;
  }
}

/* ---- upstream's messages for bare HTTP codes (apimachinery errors.go) ---- */

static const struct {
  int code;
  const char *reason;
  const char *message;
} code_table[] = {
    {400, "BadRequest", "the server rejected our request for an unknown reason"},
    {401, "Unauthorized", "the server has asked for the client to provide credentials"},
    {403, "Forbidden", "the server does not allow access to the requested resource"},
    {404, "NotFound", "the server could not find the requested resource"},
    {405, "MethodNotAllowed", "the server does not allow this method on the requested resource"},
    {406, "NotAcceptable", "the server was unable to respond with a content type that the client supports"},
    {409, "Conflict", "the server reported a conflict"},
    {410, "Gone", "the server has asked for the client to provide credentials"},
    {413, "RequestEntityTooLarge", "the server has rejected the request because it is too large"},
    {415, "UnsupportedMediaType", "the server was unable to respond with a content type that the client supports"},
    {422, "Invalid", "the server rejected our request due to an error in our request"},
    {429, "TooManyRequests", "the server has received too many requests and has asked us to try again later"},
    {500, "InternalError", "an error on the server has prevented the request from succeeding"},
    {503, "ServiceUnavailable", "the server is currently unable to handle the request"},
    {504, "Timeout",
     "the server was unable to return a response in the time allotted, but may still be processing the request"},
};

const char *rest_reason_for_code(int code)
{
  for (size_t i = 0; i < sizeof code_table / sizeof code_table[0]; i++)
    if (code_table[i].code == code) return code_table[i].reason;
  return code >= 500 ? "InternalError" : "Unknown";
}

const char *rest_message_for_code(int code)
{
  for (size_t i = 0; i < sizeof code_table / sizeof code_table[0]; i++)
    if (code_table[i].code == code) return code_table[i].message;
  return "an error on the server has prevented the request from succeeding";
}

/* ---- request lifetime ---- */

static void req_ref(struct rest_request *r) { r->refs++; }

static void req_unref(struct rest_request *r)
{
  if (--r->refs > 0) return;
  struct rest_client *c = r->c;
  if (r->prev_all) r->prev_all->next_all = r->next_all;
  else if (c->all == r) c->all = r->next_all;
  if (r->next_all) r->next_all->prev_all = r->prev_all;
  c->count--;
  if (r->easy) {
    if (r->state != RS_ACTIVE && c->nspare < REST_SPARE_HANDLES) {
      curl_easy_reset(r->easy);
      c->spare[c->nspare++] = r->easy;
    } else {
      curl_easy_cleanup(r->easy);
    }
  }
  curl_slist_free_all(r->headers);
  if (r->timer) event_free(r->timer);
  free(r->method);
  free(r->url);
  free(r->content_type);
  free(r->body);
  free(r->buf);
  free(r);
}

static void rl_kick(struct rest_client *c);

/* A non-streaming request left the wire: a queued one may take its place. */
static void active_done(struct rest_request *r)
{
  if (!r->counted) return;
  r->counted = false;
  r->c->active--;
  if (r->c->q_head) rl_kick(r->c);
}

static void queue_remove(struct rest_client *c, struct rest_request *r)
{
  struct rest_request **pp = &c->q_head, *prev = NULL;
  while (*pp && *pp != r) {
    prev = *pp;
    pp = &(*pp)->next_queued;
  }
  if (!*pp) return;
  *pp = r->next_queued;
  if (c->q_tail == r) c->q_tail = prev;
  r->next_queued = NULL;
}

/* Takes the request out of whatever it is waiting in; drops the owning ref. */
static void req_detach(struct rest_request *r)
{
  struct rest_client *c = r->c;
  switch (r->state) {
  case RS_QUEUED: queue_remove(c, r); break;
  case RS_ACTIVE:
    curl_multi_remove_handle(c->multi, r->easy);
    active_done(r);
    break;
  case RS_WAITING: evtimer_del(r->timer); break;
  case RS_DONE: break;
  }
  r->state = RS_DONE;
  if (r->owned) {
    r->owned = false;
    req_unref(r);
  }
}

void rest_request_skip_managed_fields(struct rest_request *r)
{
  if (r) r->skip_managed = true;
}

void rest_request_discard_body(struct rest_request *r)
{
  if (r) r->discard_body = true;
}

void rest_cancel(struct rest_request *r)
{
  if (!r || r->cancelled) return;
  r->cancelled = true;
  r->done = NULL;
  r->on_event = NULL;
  req_detach(r);
}

/* ---- rate limiter ---- */

static void rl_pump(struct rest_client *c);
static void req_start(struct rest_request *r);

static void rl_timer_cb(evutil_socket_t fd, short what, void *arg) { rl_pump(arg); }

static void rl_refill(struct rest_client *c)
{
  int64_t now = ktime_mono_ms();
  double add = (double)(now - c->last_refill_ms) * c->cfg.qps / 1000.0;
  c->last_refill_ms = now;
  c->tokens += add;
  if (c->tokens > c->cfg.burst) c->tokens = c->cfg.burst;
}

static void rl_pump(struct rest_client *c)
{
  bool unlimited = c->cfg.qps <= 0;
  if (!unlimited) rl_refill(c);
  while (c->q_head && (unlimited || c->tokens >= 1.0)) {
    struct rest_request *r = c->q_head;
    if (!r->stream && c->active >= c->cfg.max_active) return; /* active_done kicks again */
    c->q_head = r->next_queued;
    if (!c->q_head) c->q_tail = NULL;
    r->next_queued = NULL;
    if (!unlimited) c->tokens -= 1.0;
    req_start(r);
  }
  if (c->q_head) {
    double wait_ms = (1.0 - c->tokens) * 1000.0 / c->cfg.qps;
    int64_t ms = (int64_t)wait_ms + 1;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(c->rl_timer, &tv);
  }
}

static void rl_kick(struct rest_client *c)
{
  if (evtimer_pending(c->rl_timer, NULL)) return;
  struct timeval tv = {0, 0};
  evtimer_add(c->rl_timer, &tv);
}

static void req_enqueue(struct rest_request *r)
{
  struct rest_client *c = r->c;
  r->state = RS_QUEUED;
  r->next_queued = NULL;
  if (c->q_tail) c->q_tail->next_queued = r;
  else c->q_head = r;
  c->q_tail = r;
  /* Always released from the timer, never inline: the caller may be a
   * callback running while curl is busy.  A non-empty queue always has
   * the timer armed already. */
  if (c->q_head == r) {
    struct timeval tv = {0, 0};
    evtimer_add(c->rl_timer, &tv);
  }
}

/* ---- curl plumbing ---- */

static void check_multi_info(struct rest_client *c);
static void deliver_pending(struct rest_client *c);

static void after_socket_action(struct rest_client *c)
{
  deliver_pending(c);
  check_multi_info(c);
  deliver_pending(c);
}

static void sock_event_cb(evutil_socket_t fd, short what, void *arg)
{
  struct rest_client *c = arg;
  int flags = 0, running = 0;
  if (what & EV_READ) flags |= CURL_CSELECT_IN;
  if (what & EV_WRITE) flags |= CURL_CSELECT_OUT;
  curl_multi_socket_action(c->multi, fd, flags, &running);
  after_socket_action(c);
}

static void curl_timer_cb(evutil_socket_t fd, short what, void *arg)
{
  struct rest_client *c = arg;
  int running = 0;
  curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  after_socket_action(c);
}

static int multi_timer_fn(CURLM *m, long timeout_ms, void *arg)
{
  struct rest_client *c = arg;
  if (timeout_ms < 0) {
    evtimer_del(c->curl_timer);
    return 0;
  }
  struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  evtimer_add(c->curl_timer, &tv);
  return 0;
}

static int multi_socket_fn(CURL *e, curl_socket_t s, int what, void *arg, void *sockp)
{
  struct rest_client *c = arg;
  struct sock_ctx *sc = sockp;
  if (what == CURL_POLL_REMOVE) {
    if (sc) {
      event_free(sc->ev);
      free(sc);
      curl_multi_assign(c->multi, s, NULL);
    }
    return 0;
  }
  short kind = EV_PERSIST;
  if (what & CURL_POLL_IN) kind |= EV_READ;
  if (what & CURL_POLL_OUT) kind |= EV_WRITE;
  if (!sc) {
    sc = xcalloc(1, sizeof *sc);
    if (!sc) return -1;
    sc->fd = s;
    curl_multi_assign(c->multi, s, sc);
  } else {
    event_free(sc->ev);
  }
  sc->ev = event_new(c->base, s, kind, sock_event_cb, c);
  event_add(sc->ev, NULL);
  return 0;
}

static void pending_add(struct rest_request *r)
{
  if (r->in_pending) return;
  r->in_pending = true;
  req_ref(r);
  r->next_pending = r->c->pending_head;
  r->c->pending_head = r;
}

static size_t write_fn(char *ptr, size_t size, size_t nmemb, void *arg)
{
  struct rest_request *r = arg;
  size_t n = size * nmemb;
  if (r->cancelled) return 0;
  if (r->len + n > REST_BODY_MAX_BYTES) {
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
  if (r->stream) {
    long code = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
    if (code >= 200 && code < 300 && memchr(ptr, '\n', n)) pending_add(r);
  }
  return n;
}

static size_t header_fn(char *ptr, size_t size, size_t nmemb, void *arg)
{
  struct rest_request *r = arg;
  size_t n = size * nmemb;
  static const char name[] = "retry-after:";
  if (n > sizeof name - 1 && strncasecmp(ptr, name, sizeof name - 1) == 0) {
    char tmp[32];
    size_t vl = n - (sizeof name - 1);
    if (vl >= sizeof tmp) vl = sizeof tmp - 1;
    memcpy(tmp, ptr + sizeof name - 1, vl);
    tmp[vl] = 0;
    char *end;
    long v = strtol(tmp, &end, 10);
    if (end != tmp && v >= 0) r->retry_after_s = v;
  } else if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0) {
    /* A new response (after a redirect or 100-continue) starts afresh. */
    r->retry_after_s = -1;
  }
  return n;
}

/* A response body or one watch event, as the request asked for it. */
static json_t *parse(const struct rest_request *r, const char *p, size_t len, char *err, size_t errlen)
{
  return r->skip_managed ? kj_loadb_without_managed_fields(p, len, err, errlen) : kj_loadb(p, len, false, err, errlen);
}

/* Hands complete lines of a streaming body to on_event. */
static void stream_dispatch(struct rest_request *r)
{
  size_t off = 0;
  while (!r->cancelled && off < r->len) {
    char *nl = memchr(r->buf + off, '\n', r->len - off);
    if (!nl) break;
    size_t ll = (size_t)(nl - (r->buf + off));
    if (ll > 0) {
      char jerr[160];
      json_t *ev = parse(r, r->buf + off, ll, jerr, sizeof jerr);
      if (ev) {
        if (r->on_event) r->on_event(r->arg, ev);
        json_decref(ev);
      } else {
        KLOG_W("watch %s: undecodable event: %s", r->url, jerr);
      }
    }
    off += ll + 1;
  }
  if (r->cancelled || off == 0) return;
  memmove(r->buf, r->buf + off, r->len - off);
  r->len -= off;
  r->buf[r->len] = 0;
}

static void deliver_pending(struct rest_client *c)
{
  while (c->pending_head) {
    struct rest_request *r = c->pending_head;
    c->pending_head = r->next_pending;
    r->in_pending = false;
    if (!r->cancelled) stream_dispatch(r);
    req_unref(r);
  }
}

static bool method_idempotent(const char *m)
{
  return !strcmp(m, "GET") || !strcmp(m, "HEAD") || !strcmp(m, "OPTIONS") || !strcmp(m, "PUT") || !strcmp(m, "DELETE");
}

static void retry_timer_cb(evutil_socket_t fd, short what, void *arg)
{
  struct rest_request *r = arg;
  if (r->start_failed) {
    struct rest_status st = {0, "", "cannot start request", NULL};
    req_ref(r);
    r->state = RS_DONE;
    if (r->done && !r->cancelled) r->done(r->arg, 0, NULL, &st);
    req_detach(r);
    req_unref(r);
    return;
  }
  req_enqueue(r);
}

static void finish(struct rest_request *r, CURLcode res)
{
  long got = 0;
  curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &got);
  bool stream_started = r->stream && got >= 200 && got < 300;
  /* A transfer that broke (even a watch after its 200) is a transport error. */
  long code = (res != CURLE_OK || r->overflow) ? 0 : got;

  bool transport_err = (code == 0);
  bool retriable = false;
  if (r->tries < r->c->cfg.max_tries && !stream_started) {
    if (transport_err) retriable = method_idempotent(r->method);
    else if (code == 429) retriable = true;
    else if (code == 503 || code == 504) retriable = method_idempotent(r->method) || r->retry_after_s >= 0;
    else if (code >= 500) retriable = r->retry_after_s >= 0;
  }
  if (retriable && !r->cancelled) {
    int64_t ms;
    if (!transport_err && r->retry_after_s >= 0) {
      ms = r->retry_after_s * 1000;
    } else {
      ms = r->c->cfg.retry_base_ms;
      for (int i = 1; i < r->tries && ms < r->c->cfg.retry_max_ms; i++) ms *= 2;
    }
    if (ms > r->c->cfg.retry_max_ms) ms = r->c->cfg.retry_max_ms;
    KLOG_V(4, "%s %s: %s; retrying in %lldms (attempt %d)", r->method, r->url,
           transport_err ? curl_easy_strerror(res) : "server error", (long long)ms, r->tries);
    r->len = 0;
    r->state = RS_WAITING;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(r->timer, &tv);
    return;
  }

  r->state = RS_DONE;
  if (stream_started) stream_dispatch(r);
  json_t *body = NULL;
  if (!stream_started) {
    bool ok = code >= 200 && code < 300;
    if (r->len > 0 && !(ok && r->discard_body)) body = parse(r, r->buf, r->len, NULL, 0);
  }
  struct rest_status st = {0};
  bool failed = code < 200 || code >= 300;
  if (failed) {
    st.code = (int)code;
    if (transport_err) {
      st.reason = "";
      st.message = r->overflow ? "response body too large" : curl_easy_strerror(res);
    } else if (body && json_is_object(body) && kj_get_str(body, "kind") &&
               !strcmp(kj_get_str(body, "kind"), "Status")) {
      st.status = body;
      st.code = (int)kj_get_int(body, "code", code);
      st.reason = kj_get_str(body, "reason");
      st.message = kj_get_str(body, "message");
      if (!st.reason) st.reason = rest_reason_for_code((int)code);
      if (!st.message) st.message = rest_message_for_code((int)code);
    } else {
      st.reason = rest_reason_for_code((int)code);
      st.message = rest_message_for_code((int)code);
    }
  }
  if (r->done && !r->cancelled) r->done(r->arg, (int)code, (r->stream && !failed) ? NULL : body, failed ? &st : NULL);
  json_decref(body);
}

static void check_multi_info(struct rest_client *c)
{
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(c->multi, &left))) {
    if (msg->msg != CURLMSG_DONE) continue;
    struct rest_request *r = NULL;
    CURLcode res = msg->data.result;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
    curl_multi_remove_handle(c->multi, msg->easy_handle);
    active_done(r);
    req_ref(r);
    r->state = RS_DONE; /* so a cancel from the callback does not detach again */
    finish(r, res);
    if (r->state == RS_DONE) req_detach(r);
    req_unref(r);
  }
}

static void req_start(struct rest_request *r)
{
  struct rest_client *c = r->c;
  const struct rest_config *cfg = &c->cfg;
  r->tries++;
  r->len = 0;
  r->overflow = false;
  r->retry_after_s = -1;
  if (r->easy) curl_easy_reset(r->easy); /* a retry */
  else if (!(r->easy = c->nspare > 0 ? c->spare[--c->nspare] : curl_easy_init())) goto fail;
  CURL *e = r->easy;
  curl_easy_setopt(e, CURLOPT_URL, r->url);
  curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)r);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_fn);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_fn);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_USERAGENT, cfg->user_agent);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 30000L);
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
  if (!r->stream && cfg->timeout_ms > 0) curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)cfg->timeout_ms);
  if (r->stream) {
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  }
  if (!r->headers) {
    struct curl_slist *h = NULL;
    h = curl_slist_append(h, "Accept: application/json");
    if (r->body) {
      char ct[160];
      snprintf(ct, sizeof ct, "Content-Type: %s", r->content_type);
      h = curl_slist_append(h, ct);
    }
    refresh_token(r->c);
    if (cfg->token && *cfg->token) {
      char *auth = NULL;
      if (asprintf(&auth, "Authorization: Bearer %s", cfg->token) >= 0) {
        h = curl_slist_append(h, auth);
        free(auth);
      }
    }
    h = curl_slist_append(h, "Expect:");
    r->headers = h;
  }
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
  if (c->connect_to) curl_easy_setopt(e, CURLOPT_CONNECT_TO, c->connect_to);
  if (cfg->username && !(cfg->token && *cfg->token)) {
    curl_easy_setopt(e, CURLOPT_USERNAME, cfg->username);
    curl_easy_setopt(e, CURLOPT_PASSWORD, cfg->password ? cfg->password : "");
  }
  if (cfg->ca_data) {
    struct curl_blob b = {cfg->ca_data, cfg->ca_len, CURL_BLOB_NOCOPY};
    curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &b);
  }
  if (cfg->cert_data) {
    /* copied: rest_client_set_client_cert may replace the pair while this
     * request still waits for its connection */
    struct curl_blob b = {cfg->cert_data, cfg->cert_len, CURL_BLOB_COPY};
    curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &b);
    curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
  }
  if (cfg->key_data) {
    struct curl_blob b = {cfg->key_data, cfg->key_len, CURL_BLOB_COPY};
    curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &b);
    curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
  }
  if (cfg->insecure) {
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (!strcmp(r->method, "GET")) {
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  } else if (!strcmp(r->method, "HEAD")) {
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else {
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
  }
  if (r->body) {
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)r->body_len);
  }
  r->state = RS_ACTIVE;
  if (curl_multi_add_handle(c->multi, e) != CURLM_OK) goto fail;
  if (!r->stream) {
    r->counted = true;
    c->active++;
  }
  return;
fail:
  /* Report from the loop, not from here: treat as a transport failure. */
  KLOG_E("%s %s: cannot start request", r->method, r->url);
  r->state = RS_WAITING;
  r->start_failed = true;
  struct timeval tv = {0, 0};
  evtimer_add(r->timer, &tv);
}

/* ---- public ---- */

struct rest_client *rest_client_new(struct event_base *base, const struct rest_config *cfg)
{
  static bool curl_ready;
  if (!curl_ready) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    curl_ready = true;
  }
  if (!cfg || !cfg->server) return NULL;
  struct rest_client *c = xcalloc(1, sizeof *c);
  if (!c) return NULL;
  c->base = base;
  copy_config(&c->cfg, cfg);
  if (c->cfg.connect_to) c->connect_to = curl_slist_append(NULL, c->cfg.connect_to);
  c->multi = curl_multi_init();
  c->curl_timer = evtimer_new(base, curl_timer_cb, c);
  c->rl_timer = evtimer_new(base, rl_timer_cb, c);
  if (!c->multi || !c->curl_timer || !c->rl_timer) {
    rest_client_free(c);
    return NULL;
  }
  curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, multi_socket_fn);
  curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
  curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, multi_timer_fn);
  curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
  /* The cache counts the watches' connections too: keep room for those
   * and one per request that may be on the wire at once, or curl closes a
   * connection after each request and opens another for the next. */
  curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)c->cfg.max_active + REST_STREAM_CONNECTIONS);
  c->tokens = c->cfg.burst;
  c->last_refill_ms = ktime_mono_ms();
  return c;
}

void rest_client_free(struct rest_client *c)
{
  if (!c) return;
  while (c->pending_head) {
    struct rest_request *r = c->pending_head;
    c->pending_head = r->next_pending;
    r->in_pending = false;
    req_unref(r);
  }
  while (c->all) {
    struct rest_request *r = c->all;
    req_ref(r);
    rest_cancel(r);
    /* Whatever still holds a reference is gone with the client. */
    r->refs = 1;
    req_unref(r);
  }
  while (c->nspare > 0) curl_easy_cleanup(c->spare[--c->nspare]);
  if (c->multi) curl_multi_cleanup(c->multi);
  curl_slist_free_all(c->connect_to);
  if (c->curl_timer) event_free(c->curl_timer);
  if (c->rl_timer) event_free(c->rl_timer);
  rest_config_free(&c->cfg);
  free(c);
}

const struct rest_config *rest_client_config(const struct rest_client *c) { return &c->cfg; }

void rest_client_set_token(struct rest_client *c, const char *token)
{
  free(c->cfg.token);
  c->cfg.token = dup_or_null(token);
}

void rest_client_set_client_cert(struct rest_client *c, const char *cert, size_t cert_len, const char *key,
                                 size_t key_len)
{
  free(c->cfg.cert_data);
  free(c->cfg.key_data);
  c->cfg.cert_data = xmalloc(cert_len + 1);
  memcpy(c->cfg.cert_data, cert, cert_len);
  c->cfg.cert_data[cert_len] = 0;
  c->cfg.cert_len = cert_len;
  c->cfg.key_data = xmalloc(key_len + 1);
  memcpy(c->cfg.key_data, key, key_len);
  c->cfg.key_data[key_len] = 0;
  c->cfg.key_len = key_len;
}

size_t rest_client_pending(const struct rest_client *c) { return c->count; }

static struct rest_request *req_new(struct rest_client *c, const char *method, const char *path, const char *ct,
                                    const json_t *body)
{
  struct rest_request *r = xcalloc(1, sizeof *r);
  if (!r) return NULL;
  r->c = c;
  r->refs = 1;
  r->owned = true;
  r->state = RS_DONE;
  r->method = xstrdup(method);
  if (asprintf(&r->url, "%s%s%s", c->cfg.server, (path[0] == '/') ? "" : "/", path) < 0) r->url = NULL;
  r->timer = evtimer_new(c->base, retry_timer_cb, r);
  if (body) {
    r->body = kj_dumps(body);
    r->body_len = r->body ? strlen(r->body) : 0;
    if (!ct) ct = !strcmp(method, "PATCH") ? "application/merge-patch+json" : "application/json";
    r->content_type = xstrdup(ct);
  }
  r->next_all = c->all;
  if (c->all) c->all->prev_all = r;
  c->all = r;
  c->count++;
  if (!r->method || !r->url || !r->timer || (body && (!r->body || !r->content_type))) {
    req_unref(r);
    return NULL;
  }
  return r;
}

struct rest_request *rest_request_ct(struct rest_client *c, const char *method, const char *path,
                                     const char *content_type, const json_t *body, rest_done_fn done, void *arg)
{
  struct rest_request *r = req_new(c, method, path, content_type, body);
  if (!r) return NULL;
  r->done = done;
  r->arg = arg;
  req_enqueue(r);
  return r;
}

struct rest_request *rest_request(struct rest_client *c, const char *method, const char *path, const json_t *body,
                                  rest_done_fn done, void *arg)
{
  return rest_request_ct(c, method, path, NULL, body, done, arg);
}

struct rest_request *rest_stream(struct rest_client *c, const char *path, rest_event_fn on_event, rest_done_fn done,
                                 void *arg)
{
  struct rest_request *r = req_new(c, "GET", path, NULL, NULL);
  if (!r) return NULL;
  r->stream = true;
  r->done = done;
  r->on_event = on_event;
  r->arg = arg;
  req_enqueue(r);
  return r;
}
