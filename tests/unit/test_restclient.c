/*
 * test_restclient.c - the REST client against an in-process fake API
 * server (the project's http.h server on 127.0.0.1, ephemeral port):
 * response and Status decoding, retries, rate limiting, watch streams,
 * cancellation, and kubeconfig resolution.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kube/http.h"
#include "kube/json.h"
#include "kube/kubeconfig.h"
#include "kube/restclient.h"
#include "kube/timeutil.h"

/* ---- fake server ---- */

struct fake {
  struct event_base *base;
  struct http_server *srv;
  int port;
  int hits;
  char last_method[16];
  char last_path[256];
  char last_query[256];
  char last_ua[128];
  char last_auth[128];
  char last_ct[128];
  char last_body[512];
  int fail_first; /* answer 503 this many times */
  const char *retry_after;
  struct http_request *stream_req;
  struct event *stream_timer;
  int stream_step;
  bool stream_closed;
  struct http_request *held[16]; /* "/held" requests not answered yet */
  int nheld, max_held;
  char peers[16][32]; /* distinct client connections seen */
  int npeers;
};

static void stream_closed_cb(struct http_request *req, void *arg)
{
  struct fake *f = arg;
  f->stream_closed = true;
  f->stream_req = NULL;
}

static void stream_tick(evutil_socket_t fd, short what, void *arg)
{
  struct fake *f = arg;
  if (!f->stream_req) return;
  static const char *parts[] = {
      "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}\n{\"type\":\"MOD",
      "IFIED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}\n",
      "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}\n",
  };
  if (f->stream_step < 3) {
    http_stream_write(f->stream_req, parts[f->stream_step], strlen(parts[f->stream_step]));
    f->stream_step++;
    struct timeval tv = {0, 20000};
    evtimer_add(f->stream_timer, &tv);
  } else if (f->stream_step == 3) {
    f->stream_step++;
    http_stream_end(f->stream_req);
    f->stream_req = NULL;
  }
}

static void copy_hdr(char *dst, size_t n, const char *v) { snprintf(dst, n, "%s", v ? v : ""); }

static void handler(struct http_request *req, void *arg)
{
  struct fake *f = arg;
  f->hits++;
  copy_hdr(f->last_method, sizeof f->last_method, http_req_method(req));
  copy_hdr(f->last_path, sizeof f->last_path, http_req_path(req));
  copy_hdr(f->last_query, sizeof f->last_query, http_req_query(req));
  copy_hdr(f->last_ua, sizeof f->last_ua, http_req_header(req, "User-Agent"));
  copy_hdr(f->last_auth, sizeof f->last_auth, http_req_header(req, "Authorization"));
  copy_hdr(f->last_ct, sizeof f->last_ct, http_req_header(req, "Content-Type"));
  size_t bl = 0;
  const char *b = http_req_body(req, &bl);
  snprintf(f->last_body, sizeof f->last_body, "%.*s", (int)bl, b ? b : "");
  const char *path = http_req_path(req);
  const char *peer = http_req_peer(req);
  int known = 0;
  for (int i = 0; i < f->npeers; i++) known |= !strcmp(f->peers[i], peer ? peer : "");
  if (!known && f->npeers < 16) snprintf(f->peers[f->npeers++], sizeof f->peers[0], "%s", peer ? peer : "");

  if (!strcmp(path, "/held") && f->nheld < 16) {
    f->held[f->nheld++] = req;
    if (f->nheld > f->max_held) f->max_held = f->nheld;
    return;
  }
  if (!strcmp(path, "/api/v1/namespaces/default/pods/missing")) {
    json_t *st = json_pack("{s:s,s:s,s:{},s:s,s:s,s:s,s:{s:s,s:s},s:i}", "kind", "Status", "apiVersion", "v1",
                           "metadata", "status", "Failure", "message", "pods \"missing\" not found", "reason",
                           "NotFound", "details", "name", "missing", "kind", "pods", "code", 404);
    http_reply_json(req, 404, st);
    json_decref(st);
  } else if (!strcmp(path, "/plain500")) {
    http_reply(req, 500, "text/plain", "boom", 4);
  } else if (!strcmp(path, "/flaky")) {
    if (f->fail_first > 0) {
      f->fail_first--;
      if (f->retry_after) http_add_header(req, "Retry-After", f->retry_after);
      http_reply(req, 503, "text/plain", "busy", 4);
    } else {
      http_reply(req, 200, "application/json", "{\"ok\":true}\n", 12);
    }
  } else if (!strcmp(path, "/watch")) {
    http_stream_begin(req, 200, "application/json");
    f->stream_req = req;
    f->stream_step = 0;
    http_req_on_close(req, stream_closed_cb, f);
    struct timeval tv = {0, 10000};
    evtimer_add(f->stream_timer, &tv);
  } else if (!strcmp(path, "/echo")) {
    json_t *o = json_pack("{s:s,s:s}", "method", http_req_method(req), "body", f->last_body);
    http_reply_json(req, 201, o);
    json_decref(o);
  } else {
    json_t *o = json_pack("{s:s,s:s}", "kind", "Pod", "path", path);
    http_reply_json(req, 200, o);
    json_decref(o);
  }
}

static struct fake *fake_new(void)
{
  struct fake *f = calloc(1, sizeof *f);
  f->base = event_base_new();
  f->srv = http_server_new(f->base, NULL, handler, f);
  f->port = http_server_listen(f->srv, "127.0.0.1", 0);
  assert_true(f->port > 0);
  f->stream_timer = evtimer_new(f->base, stream_tick, f);
  return f;
}

static void fake_free(struct fake *f)
{
  event_free(f->stream_timer);
  http_server_free(f->srv);
  event_base_free(f->base);
  free(f);
}

static struct rest_client *client_for(struct fake *f, double qps, int burst)
{
  struct rest_config cfg;
  rest_config_init(&cfg);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d", f->port);
  cfg.server = strdup(url);
  cfg.qps = qps;
  cfg.burst = burst;
  cfg.token = strdup("s3cret");
  cfg.user_agent = rest_default_user_agent("kube-scheduler");
  cfg.retry_base_ms = 20;
  struct rest_client *c = rest_client_new(f->base, &cfg);
  rest_config_free(&cfg);
  assert_non_null(c);
  return c;
}

/* Runs the loop until *flag or timeout_ms. */
static void run_until(struct event_base *b, const int *flag, int64_t timeout_ms)
{
  int64_t end = ktime_mono_ms() + timeout_ms;
  while (!*flag && ktime_mono_ms() < end) event_base_loop(b, EVLOOP_ONCE | EVLOOP_NONBLOCK), usleep(500);
}

struct result {
  int done;
  int code;
  json_t *body;
  int st_code;
  char reason[64];
  char message[256];
  int events;
  char types[8][16];
};

static void done_cb(void *arg, int code, json_t *body, const struct rest_status *err)
{
  struct result *r = arg;
  r->done++;
  r->code = code;
  r->body = json_incref(body);
  if (err) {
    r->st_code = err->code;
    snprintf(r->reason, sizeof r->reason, "%s", err->reason ? err->reason : "");
    snprintf(r->message, sizeof r->message, "%s", err->message ? err->message : "");
  }
}

static void ev_cb(void *arg, json_t *ev);

/* Answers every held request. */
static void release_held(struct fake *f)
{
  for (int i = 0; i < f->nheld; i++) http_reply(f->held[i], 200, "application/json", "{}", 2);
  f->nheld = 0;
}

/* No more than max_active plain requests reach the server at once (a
 * watch does not count); the rest wait their turn and all finish, over
 * connections that are reused rather than opened per request. */
static void test_max_active(void **state)
{
  struct fake *f = fake_new();
  struct rest_config cfg;
  rest_config_init(&cfg);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d", f->port);
  cfg.server = strdup(url);
  cfg.qps = 0;
  cfg.max_active = 3;
  struct rest_client *c = rest_client_new(f->base, &cfg);
  rest_config_free(&cfg);
  struct result w = {0}, r[10] = {{0}};
  assert_non_null(rest_stream(c, "/watch", ev_cb, done_cb, &w));
  for (int k = 0; k < 10; k++) assert_non_null(rest_request(c, "GET", "/held", NULL, done_cb, &r[k]));
  int never = 0;
  run_until(f->base, &never, 300);
  assert_int_equal(f->nheld, 3);
  int64_t end = ktime_mono_ms() + 5000;
  while (!r[9].done && ktime_mono_ms() < end) {
    release_held(f);
    run_until(f->base, &never, 20);
  }
  for (int k = 0; k < 10; k++) {
    assert_int_equal(r[k].done, 1);
    assert_int_equal(r[k].code, 200);
    json_decref(r[k].body);
  }
  assert_int_equal(f->max_held, 3);
  /* Three connections for the plain requests plus the watch's. */
  assert_true(f->npeers <= 4);
  rest_client_free(c);
  fake_free(f);
}

/* A token file is read again when it changes (a rotated projected
 * service account token), not before its period. */
static void test_token_file_rotation(void **state)
{
  struct fake *f = fake_new();
  char path[] = "/tmp/tokXXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "first\n", 6), 6);
  close(fd);
  struct rest_config cfg;
  rest_config_init(&cfg);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d", f->port);
  cfg.server = strdup(url);
  cfg.token = strdup("first");
  cfg.token_file = strdup(path);
  cfg.token_file_period_ms = 1;
  struct rest_client *c = rest_client_new(f->base, &cfg);
  rest_config_free(&cfg);
  struct result r1 = {0}, r2 = {0};
  assert_non_null(rest_request(c, "GET", "/api/v1/namespaces/default/pods/x", NULL, done_cb, &r1));
  run_until(f->base, &r1.done, 5000);
  assert_string_equal(f->last_auth, "Bearer first");
  struct timespec later[2] = {{0, UTIME_OMIT}, {time(NULL) + 5, 0}};
  FILE *fp = fopen(path, "w");
  fputs("second\n", fp);
  fclose(fp);
  utimensat(AT_FDCWD, path, later, 0); /* a new mtime even within the same second */
  usleep(5000);
  assert_non_null(rest_request(c, "GET", "/api/v1/namespaces/default/pods/x", NULL, done_cb, &r2));
  run_until(f->base, &r2.done, 5000);
  assert_string_equal(f->last_auth, "Bearer second");
  json_decref(r1.body);
  json_decref(r2.body);
  unlink(path);
  rest_client_free(c);
  fake_free(f);
}

/* A discarded body is not handed over on success; a failure still
 * carries its Status. */
static void test_discard_body(void **state)
{
  struct fake *f = fake_new();
  struct rest_client *c = client_for(f, 0, 1);
  struct result ok = {0}, missing = {0};
  json_t *empty = json_object();
  struct rest_request *a = rest_request(c, "POST", "/echo", empty, done_cb, &ok);
  json_decref(empty);
  struct rest_request *b = rest_request(c, "GET", "/api/v1/namespaces/default/pods/missing", NULL, done_cb, &missing);
  rest_request_discard_body(a);
  rest_request_discard_body(b);
  run_until(f->base, &missing.done, 5000);
  run_until(f->base, &ok.done, 5000);
  assert_int_equal(ok.code, 201);
  assert_null(ok.body);
  assert_int_equal(missing.st_code, 404);
  assert_string_equal(missing.reason, "NotFound");
  json_decref(missing.body);
  rest_client_free(c);
  fake_free(f);
}

static void test_get_ok(void **state)
{
  struct fake *f = fake_new();
  struct rest_client *c = client_for(f, 50, 100);
  struct result r = {0};
  assert_non_null(rest_request(c, "GET", "/api/v1/namespaces/default/pods/x?limit=5", NULL, done_cb, &r));
  assert_int_equal(r.done, 0); /* never synchronous */
  run_until(f->base, &r.done, 5000);
  assert_int_equal(r.done, 1);
  assert_int_equal(r.code, 200);
  assert_string_equal(kj_get_str(r.body, "kind"), "Pod");
  assert_string_equal(f->last_path, "/api/v1/namespaces/default/pods/x");
  assert_string_equal(f->last_query, "limit=5");
  assert_string_equal(f->last_ua, "kube-scheduler/v1.32.0 (linux/amd64) kubernetes/$Format");
  assert_string_equal(f->last_auth, "Bearer s3cret");
  assert_int_equal(rest_client_pending(c), 0);
  json_decref(r.body);
  rest_client_free(c);
  fake_free(f);
}

static void test_status_decoding(void **state)
{
  static const struct {
    const char *method, *path;
    int code;
    const char *reason, *message;
  } cases[] = {
      {"GET", "/api/v1/namespaces/default/pods/missing", 404, "NotFound", "pods \"missing\" not found"},
      {"POST", "/plain500", 500, "InternalError", "an error on the server has prevented the request from succeeding"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct fake *f = fake_new();
    struct rest_client *c = client_for(f, 0, 1);
    struct result r = {0};
    json_t *body = json_object();
    rest_request(c, cases[i].method, cases[i].path, !strcmp(cases[i].method, "POST") ? body : NULL, done_cb, &r);
    json_decref(body);
    run_until(f->base, &r.done, 5000);
    assert_int_equal(r.done, 1);
    assert_int_equal(r.code, cases[i].code);
    assert_int_equal(r.st_code, cases[i].code);
    assert_string_equal(r.reason, cases[i].reason);
    assert_string_equal(r.message, cases[i].message);
    assert_int_equal(f->hits, 1); /* a 500 without Retry-After is not retried */
    json_decref(r.body);
    rest_client_free(c);
    fake_free(f);
  }
}

static void test_body_and_content_types(void **state)
{
  static const struct {
    const char *method, *ct;
  } cases[] = {
      {"POST", "application/json"},
      {"PUT", "application/json"},
      {"PATCH", "application/merge-patch+json"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct fake *f = fake_new();
    struct rest_client *c = client_for(f, 0, 1);
    struct result r = {0};
    json_t *body = json_pack("{s:s}", "a", "b");
    rest_request(c, cases[i].method, "/echo", body, done_cb, &r);
    json_decref(body);
    run_until(f->base, &r.done, 5000);
    assert_int_equal(r.code, 201);
    assert_string_equal(kj_get_str(r.body, "method"), cases[i].method);
    assert_string_equal(kj_get_str(r.body, "body"), "{\"a\":\"b\"}");
    assert_string_equal(f->last_ct, cases[i].ct);
    json_decref(r.body);
    rest_client_free(c);
    fake_free(f);
  }
  struct fake *f = fake_new();
  struct rest_client *c = client_for(f, 0, 1);
  struct result r = {0};
  json_t *body = json_pack("{s:{s:i}}", "spec", "replicas", 3);
  rest_request_ct(c, "PATCH", "/echo", "application/strategic-merge-patch+json", body, done_cb, &r);
  json_decref(body);
  run_until(f->base, &r.done, 5000);
  assert_string_equal(f->last_ct, "application/strategic-merge-patch+json");
  json_decref(r.body);
  rest_client_free(c);
  fake_free(f);
}

static void test_retry_after_503(void **state)
{
  struct fake *f = fake_new();
  f->fail_first = 2;
  f->retry_after = "1";
  struct rest_client *c = client_for(f, 0, 1);
  struct result r = {0};
  int64_t t0 = ktime_mono_ms();
  rest_request(c, "GET", "/flaky", NULL, done_cb, &r);
  run_until(f->base, &r.done, 10000);
  int64_t took = ktime_mono_ms() - t0;
  assert_int_equal(r.code, 200);
  assert_int_equal(f->hits, 3);
  assert_true(took >= 1900); /* two Retry-After: 1 waits */
  assert_true(kj_get_bool(r.body, "ok", false));
  json_decref(r.body);

  /* A POST answered 503 without Retry-After is not retried. */
  struct result r2 = {0};
  f->hits = 0;
  f->fail_first = 1;
  f->retry_after = NULL;
  json_t *body = json_object();
  rest_request(c, "POST", "/flaky", body, done_cb, &r2);
  json_decref(body);
  run_until(f->base, &r2.done, 5000);
  assert_int_equal(r2.code, 503);
  assert_string_equal(r2.reason, "ServiceUnavailable");
  assert_int_equal(f->hits, 1);
  json_decref(r2.body);

  /* A GET answered 503 without Retry-After is retried with backoff. */
  struct result r3 = {0};
  f->hits = 0;
  f->fail_first = 2;
  rest_request(c, "GET", "/flaky", NULL, done_cb, &r3);
  run_until(f->base, &r3.done, 5000);
  assert_int_equal(r3.code, 200);
  assert_int_equal(f->hits, 3);
  json_decref(r3.body);
  rest_client_free(c);
  fake_free(f);
}

static void test_connection_refused(void **state)
{
  struct fake *f = fake_new();
  int port = f->port;
  http_server_free(f->srv);
  f->srv = http_server_new(f->base, NULL, handler, f);
  f->port = port; /* nothing listens there any more */
  struct rest_config cfg;
  rest_config_init(&cfg);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
  cfg.server = url;
  cfg.max_tries = 3;
  cfg.retry_base_ms = 10;
  struct rest_client *c = rest_client_new(f->base, &cfg);
  struct result r = {0};
  rest_request(c, "GET", "/x", NULL, done_cb, &r);
  run_until(f->base, &r.done, 5000);
  assert_int_equal(r.done, 1);
  assert_int_equal(r.code, 0);
  assert_int_equal(r.st_code, 0);
  assert_true(strlen(r.message) > 0);
  rest_client_free(c);
  fake_free(f);
}

static void test_rate_limit(void **state)
{
  static const struct {
    double qps;
    int burst;
    int n;
    int64_t min_ms, max_ms;
  } cases[] = {
      {10, 1, 5, 350, 3000}, /* 4 waits of 100 ms */
      {10, 5, 5, 0, 300},    /* the burst covers all five */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct fake *f = fake_new();
    struct rest_client *c = client_for(f, cases[i].qps, cases[i].burst);
    struct result r[5] = {{0}};
    int64_t t0 = ktime_mono_ms();
    for (int k = 0; k < cases[i].n; k++) rest_request(c, "GET", "/x", NULL, done_cb, &r[k]);
    run_until(f->base, &r[cases[i].n - 1].done, 5000);
    int64_t took = ktime_mono_ms() - t0;
    for (int k = 0; k < cases[i].n; k++) {
      assert_int_equal(r[k].done, 1);
      json_decref(r[k].body);
    }
    assert_true(took >= cases[i].min_ms);
    assert_true(took <= cases[i].max_ms);
    rest_client_free(c);
    fake_free(f);
  }
}

static void ev_cb(void *arg, json_t *ev)
{
  struct result *r = arg;
  if (r->events < 8) snprintf(r->types[r->events], 16, "%s", kj_get_str(ev, "type"));
  r->events++;
}

static void test_stream(void **state)
{
  struct fake *f = fake_new();
  struct rest_client *c = client_for(f, 0, 1);
  struct result r = {0};
  rest_stream(c, "/watch?watch=1", ev_cb, done_cb, &r);
  run_until(f->base, &r.done, 5000);
  assert_int_equal(r.done, 1);
  assert_int_equal(r.code, 200);
  assert_null(r.body);
  assert_int_equal(r.events, 3);
  assert_string_equal(r.types[0], "ADDED");
  assert_string_equal(r.types[1], "MODIFIED");
  assert_string_equal(r.types[2], "DELETED");
  rest_client_free(c);
  fake_free(f);
}

struct cancel_ctx {
  struct rest_request *req;
  int events;
  int done;
};

static void cancel_ev_cb(void *arg, json_t *ev)
{
  struct cancel_ctx *x = arg;
  x->events++;
  rest_cancel(x->req);
}

static void cancel_done_cb(void *arg, int code, json_t *body, const struct rest_status *err)
{
  struct cancel_ctx *x = arg;
  x->done++;
}

static void test_stream_cancel_from_callback(void **state)
{
  struct fake *f = fake_new();
  struct rest_client *c = client_for(f, 0, 1);
  struct cancel_ctx x = {0};
  x.req = rest_stream(c, "/watch", cancel_ev_cb, cancel_done_cb, &x);
  int closed = 0;
  int64_t end = ktime_mono_ms() + 3000;
  while (!f->stream_closed && ktime_mono_ms() < end) {
    event_base_loop(f->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    usleep(500);
  }
  closed = f->stream_closed;
  assert_true(closed);           /* the server saw the connection go */
  assert_int_equal(x.events, 1); /* nothing after the cancel */
  assert_int_equal(x.done, 0);
  assert_int_equal(rest_client_pending(c), 0);
  rest_client_free(c);
  fake_free(f);
}

static void test_free_with_outstanding(void **state)
{
  struct fake *f = fake_new();
  struct rest_client *c = client_for(f, 1, 1);
  struct result r[3] = {{0}};
  rest_stream(c, "/watch", ev_cb, done_cb, &r[0]);
  rest_request(c, "GET", "/x", NULL, done_cb, &r[1]);
  rest_request(c, "GET", "/y", NULL, done_cb, &r[2]); /* still rate limited */
  for (int i = 0; i < 20; i++) event_base_loop(f->base, EVLOOP_ONCE | EVLOOP_NONBLOCK), usleep(1000);
  rest_client_free(c); /* no callback afterwards, nothing leaked */
  for (int i = 0; i < 20; i++) event_base_loop(f->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
  json_decref(r[1].body);
  assert_int_equal(r[2].done, 0);
  fake_free(f);
}

/* ---- kubeconfig ---- */

static const char *KCFG = "apiVersion: v1\n"
                          "kind: Config\n"
                          "current-context: admin@one\n"
                          "clusters:\n"
                          "- name: one\n"
                          "  cluster:\n"
                          "    server: https://10.0.0.1:6443\n"
                          "    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==\n"
                          "- name: two\n"
                          "  cluster:\n"
                          "    server: https://two.example:443\n"
                          "    insecure-skip-tls-verify: true\n"
                          "    certificate-authority: ca.pem\n"
                          "users:\n"
                          "- name: admin\n"
                          "  user:\n"
                          "    client-certificate-data: Y2VydA==\n"
                          "    client-key-data: a2V5\n"
                          "- name: bob\n"
                          "  user:\n"
                          "    token: abc.def\n"
                          "- name: basic\n"
                          "  user:\n"
                          "    username: u\n"
                          "    password: p\n"
                          "contexts:\n"
                          "- name: admin@one\n"
                          "  context:\n"
                          "    cluster: one\n"
                          "    user: admin\n"
                          "- name: bob@two\n"
                          "  context:\n"
                          "    cluster: two\n"
                          "    user: bob\n"
                          "    namespace: kube-system\n"
                          "- name: basic@one\n"
                          "  context:\n"
                          "    cluster: one\n"
                          "    user: basic\n";

static void test_kubeconfig(void **state)
{
  char dir[] = "/tmp/kcfgXXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[128], ca[128];
  snprintf(path, sizeof path, "%s/config", dir);
  snprintf(ca, sizeof ca, "%s/ca.pem", dir);
  FILE *fp = fopen(path, "w");
  fputs(KCFG, fp);
  fclose(fp);
  fp = fopen(ca, "w");
  fputs("CA-FROM-FILE", fp);
  fclose(fp);

  static const struct {
    const char *context, *master;
    int rc;
    const char *server, *ca, *token, *cert, *key, *user;
    bool insecure;
    const char *err;
  } cases[] = {
      {NULL, NULL, 0, "https://10.0.0.1:6443", "-----BEGIN CERTIFICATE-----\n", NULL, "cert", "key", NULL, false, NULL},
      {"bob@two", NULL, 0, "https://two.example:443", "CA-FROM-FILE", "abc.def", NULL, NULL, NULL, true, NULL},
      {"bob@two", "http://127.0.0.1:8080", 0, "http://127.0.0.1:8080", "CA-FROM-FILE", "abc.def", NULL, NULL, NULL,
       true, NULL},
      {"basic@one", NULL, 0, "https://10.0.0.1:6443", "-----BEGIN CERTIFICATE-----\n", NULL, NULL, NULL, "u", false,
       NULL},
      {"nope", NULL, -1, NULL, NULL, NULL, NULL, NULL, NULL, false,
       "context was not found for specified context: nope"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct rest_config cfg;
    char err[256] = "";
    int rc = kubeconfig_load(path, cases[i].context, cases[i].master, &cfg, err, sizeof err);
    if (cases[i].rc < 0) {
      assert_true(rc < 0);
      assert_string_equal(err, cases[i].err);
      continue;
    }
    assert_int_equal(rc, 0);
    assert_string_equal(cfg.server, cases[i].server);
    assert_memory_equal(cfg.ca_data, cases[i].ca, strlen(cases[i].ca));
    assert_int_equal(cfg.ca_len, strlen(cases[i].ca));
    if (cases[i].token) assert_string_equal(cfg.token, cases[i].token);
    else assert_null(cfg.token);
    if (cases[i].cert) {
      assert_int_equal(cfg.cert_len, strlen(cases[i].cert));
      assert_memory_equal(cfg.cert_data, cases[i].cert, cfg.cert_len);
      assert_memory_equal(cfg.key_data, cases[i].key, cfg.key_len);
    } else {
      assert_null(cfg.cert_data);
    }
    if (cases[i].user) {
      assert_string_equal(cfg.username, cases[i].user);
      assert_string_equal(cfg.password, "p");
    }
    assert_int_equal(cfg.insecure, cases[i].insecure);
    assert_true(cfg.qps == 50.0);
    assert_int_equal(cfg.burst, 100);
    rest_config_free(&cfg);
  }

  /* --master alone, no kubeconfig */
  struct rest_config cfg;
  char err[256] = "";
  assert_int_equal(kubeconfig_load(NULL, NULL, "http://127.0.0.1:1", &cfg, err, sizeof err), 0);
  assert_string_equal(cfg.server, "http://127.0.0.1:1");
  rest_config_free(&cfg);
  /* a file that does not exist */
  assert_true(kubeconfig_load("/nonexistent/kubeconfig", NULL, NULL, &cfg, err, sizeof err) < 0);

  unlink(path);
  unlink(ca);
  rmdir(dir);
}

static void write_file(const char *dir, const char *name, const char *text)
{
  char path[256];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *fp = fopen(path, "w");
  assert_non_null(fp);
  fputs(text, fp);
  fclose(fp);
}

static void test_kubeconfig_files_and_errors(void **state)
{
  char dir[] = "/tmp/kcfgXXXXXX";
  assert_non_null(mkdtemp(dir));
  write_file(dir, "config",
             "current-context: c\n"
             "clusters:\n- name: k\n  cluster:\n    server: https://127.0.0.1:6443\n"
             "users:\n- name: u\n  user:\n    tokenFile: tok\n"
             "    client-certificate: certs/c.pem\n    client-key: certs/k.pem\n"
             "contexts:\n- name: c\n  context:\n    cluster: k\n    user: u\n"
             "- name: nocluster\n  context:\n    cluster: missing\n    user: u\n");
  write_file(dir, "tok", "file-token\n");
  char certs[128];
  snprintf(certs, sizeof certs, "%s/certs", dir);
  mkdir(certs, 0700);
  write_file(certs, "c.pem", "CERT");
  write_file(certs, "k.pem", "KEY");
  char path[128];
  snprintf(path, sizeof path, "%s/config", dir);
  struct rest_config cfg;
  char err[256] = "";
  assert_int_equal(kubeconfig_load(path, NULL, NULL, &cfg, err, sizeof err), 0);
  assert_string_equal(cfg.token, "file-token"); /* relative to the kubeconfig, newline trimmed */
  assert_int_equal(cfg.cert_len, 4);
  assert_memory_equal(cfg.cert_data, "CERT", 4);
  assert_memory_equal(cfg.key_data, "KEY", 3);
  rest_config_free(&cfg);

  assert_true(kubeconfig_load(path, "nocluster", NULL, &cfg, err, sizeof err) < 0);
  assert_string_equal(err, "invalid configuration: cluster \"missing\" not found");
  /* --master makes the missing cluster irrelevant */
  assert_int_equal(kubeconfig_load(path, "nocluster", "http://127.0.0.1:9", &cfg, err, sizeof err), 0);
  assert_string_equal(cfg.server, "http://127.0.0.1:9");
  assert_string_equal(cfg.token, "file-token");
  rest_config_free(&cfg);

  /* A missing referenced file is an error naming it. */
  unlink(strcat(strcpy(path, certs), "/k.pem"));
  snprintf(path, sizeof path, "%s/config", dir);
  assert_true(kubeconfig_load(path, NULL, NULL, &cfg, err, sizeof err) < 0);
  assert_non_null(strstr(err, "certs/k.pem"));

  /* Neither kubeconfig nor --master nor in-cluster environment. */
  unsetenv("KUBERNETES_SERVICE_HOST");
  assert_true(kubeconfig_load(NULL, NULL, NULL, &cfg, err, sizeof err) < 0);
  assert_string_equal(err, "invalid configuration: no configuration has been provided, "
                           "try setting KUBERNETES_MASTER environment variable");

  write_file(dir, "bad", "clusters: [\n");
  snprintf(path, sizeof path, "%s/bad", dir);
  assert_true(kubeconfig_load(path, NULL, NULL, &cfg, err, sizeof err) < 0);
  assert_non_null(strstr(err, "error loading config file"));

  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_get_ok),
      cmocka_unit_test(test_status_decoding),
      cmocka_unit_test(test_body_and_content_types),
      cmocka_unit_test(test_retry_after_503),
      cmocka_unit_test(test_connection_refused),
      cmocka_unit_test(test_rate_limit),
      cmocka_unit_test(test_stream),
      cmocka_unit_test(test_max_active),
      cmocka_unit_test(test_discard_body),
      cmocka_unit_test(test_token_file_rotation),
      cmocka_unit_test(test_stream_cancel_from_callback),
      cmocka_unit_test(test_free_with_outstanding),
      cmocka_unit_test(test_kubeconfig),
      cmocka_unit_test(test_kubeconfig_files_and_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
