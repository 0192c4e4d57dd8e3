/*
 * cm_test_actions.c - the executor of controller writes against a fake
 * API server on a loopback port: slow-start batches (1, 2, 4, ...) that
 * stop at the first failure, expectations lowered for failed and skipped
 * creates, 404 on DELETE counting as done, AlreadyExists tolerated when
 * asked, and the controller enable list (--controllers).
 */
#include <event2/event.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cm.h"
#include "controller_utils.h"
#include "kube/http.h"
#include "kube/json.h"
#include "kube/restclient.h"
#include "kube/timeutil.h"

struct fake {
  struct event_base *base;
  struct http_server *srv;
  int port;
  int posts;           /* POSTs seen */
  int fail_after;      /* POSTs beyond this many answer 403 */
  json_t *log;         /* "VERB path" in arrival order */
};

static void handler(struct http_request *req, void *arg)
{
  struct fake *f = arg;
  const char *m = http_req_method(req), *path = http_req_path(req);
  char line[300];
  snprintf(line, sizeof line, "%s %s", m, path);
  json_array_append_new(f->log, json_string(line));
  if (!strcmp(m, "POST")) {
    f->posts++;
    if (f->posts > f->fail_after) {
      json_t *st = json_pack("{s:s,s:s,s:s,s:s,s:i}", "kind", "Status", "apiVersion", "v1", "status", "Failure",
                             "reason", "Forbidden", "code", 403);
      json_object_set_new(st, "message", json_string("pods \"x\" is forbidden: exceeded quota"));
      http_reply_json(req, 403, st);
      json_decref(st);
      return;
    }
    if (strstr(path, "exists")) {
      json_t *st = json_pack("{s:s,s:s,s:s,s:i,s:s}", "kind", "Status", "status", "Failure", "reason", "AlreadyExists",
                             "code", 409, "message", "already exists");
      http_reply_json(req, 409, st);
      json_decref(st);
      return;
    }
    json_t *o = json_pack("{s:{s:s}}", "metadata", "name", "created");
    http_reply_json(req, 201, o);
    json_decref(o);
    return;
  }
  if (!strcmp(m, "DELETE")) {
    json_t *st = json_pack("{s:s,s:s,s:s,s:i,s:s}", "kind", "Status", "status", "Failure", "reason", "NotFound", "code",
                           404, "message", "not found");
    http_reply_json(req, 404, st);
    json_decref(st);
    return;
  }
  http_reply_json(req, 200, json_object());
}

struct done_state {
  int done, failed;
  char err[256];
};

static void on_done(void *arg, int failed, const char *first_error)
{
  struct done_state *d = arg;
  d->done = 1;
  d->failed = failed;
  snprintf(d->err, sizeof d->err, "%s", first_error ? first_error : "");
}

static void run_until(struct event_base *b, const int *flag)
{
  int64_t end = ktime_mono_ms() + 5000;
  while (!*flag && ktime_mono_ms() < end) event_base_loop(b, EVLOOP_ONCE | EVLOOP_NONBLOCK), usleep(200);
}

static void setup_ctx(struct fake *f, struct cm_ctx *ctx)
{
  f->base = event_base_new();
  f->srv = http_server_new(f->base, NULL, handler, f);
  f->port = http_server_listen(f->srv, "127.0.0.1", 0);
  assert_true(f->port > 0);
  f->log = json_array();
  struct rest_config cfg;
  rest_config_init(&cfg);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d", f->port);
  cfg.server = strdup(url);
  cfg.qps = 0;
  memset(ctx, 0, sizeof(*ctx));
  ctx->base = f->base;
  ctx->client = rest_client_new(f->base, &cfg);
  rest_config_free(&cfg);
}

static void teardown_ctx(struct fake *f, struct cm_ctx *ctx)
{
  rest_client_free(ctx->client);
  http_server_free(f->srv);
  event_base_free(f->base);
  json_decref(f->log);
}

static void test_slow_start_stops_on_failure(void **state)
{
  struct fake f = { .fail_after = 4 };
  struct cm_ctx ctx;
  setup_ctx(&f, &ctx);
  struct cm_expectations *exp = cm_expectations_new();
  cm_expect_creations(exp, "ns/rs", 20, 1000);
  struct cm_actions acts;
  cm_actions_init(&acts);
  for (int i = 0; i < 20; i++) {
    json_t *a = cm_act(&acts, "POST", "/api/v1/namespaces/ns/pods", json_object());
    json_object_set_new(a, "slow_start", json_true());
    json_object_set_new(a, "exp_key", json_string("ns/rs"));
    json_object_set_new(a, "exp", json_string("add"));
  }
  struct done_state d = { 0 };
  cm_actions_exec(&ctx, &acts, exp, on_done, &d);
  assert_int_equal(d.done, 0);   /* never from inside the call */
  run_until(f.base, &d.done);
  assert_true(d.done);
  /* Batches 1, 2, 4: the third batch has the first failures (posts 5-7), then stop. */
  assert_int_equal(f.posts, 7);
  assert_int_equal(d.failed, 16);
  assert_non_null(strstr(d.err, "exceeded quota"));
  int adds, dels;
  assert_true(cm_expectations_get(exp, "ns/rs", &adds, &dels));
  assert_int_equal(adds, 4);    /* only the 4 successful creates are still expected */
  cm_actions_clear(&acts);
  cm_expectations_free(exp);
  teardown_ctx(&f, &ctx);
}

static void test_delete_not_found_and_exists(void **state)
{
  struct fake f = { .fail_after = 100 };
  struct cm_ctx ctx;
  setup_ctx(&f, &ctx);
  struct cm_actions acts;
  cm_actions_init(&acts);
  cm_act(&acts, "DELETE", "/api/v1/namespaces/ns/pods/gone", NULL);
  json_t *a = cm_act(&acts, "POST", "/api/v1/namespaces/ns/exists", json_object());
  json_object_set_new(a, "ok_exists", json_true());
  cm_act(&acts, "POST", "/api/v1/namespaces/ns/exists", json_object());  /* not tolerated */
  struct done_state d = { 0 };
  cm_actions_exec(&ctx, &acts, NULL, on_done, &d);
  run_until(f.base, &d.done);
  assert_true(d.done);
  assert_int_equal(d.failed, 1);
  assert_int_equal(json_array_size(f.log), 3);
  cm_actions_clear(&acts);

  /* An empty list still reports, from the loop. */
  cm_actions_init(&acts);
  struct done_state e = { 0 };
  cm_actions_exec(&ctx, &acts, NULL, on_done, &e);
  assert_int_equal(e.done, 0);
  run_until(f.base, &e.done);
  assert_true(e.done);
  assert_int_equal(e.failed, 0);
  cm_actions_clear(&acts);
  teardown_ctx(&f, &ctx);
}

static void test_controllers_flag(void **state)
{
  const struct controller_def on = { "replicaset", true, NULL, NULL, NULL };
  const struct controller_def off = { "bootstrapsigner", false, NULL, NULL, NULL };
  assert_true(cm_controller_enabled("*", &on));
  assert_false(cm_controller_enabled("*", &off));
  assert_true(cm_controller_enabled("*,bootstrapsigner", &off));
  assert_false(cm_controller_enabled("*,-replicaset", &on));
  assert_false(cm_controller_enabled("job", &on));
  assert_true(cm_controller_enabled("job,replicaset", &on));
  assert_true(cm_controller_enabled("", &on));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_slow_start_stops_on_failure),
    cmocka_unit_test(test_delete_not_found_and_exists),
    cmocka_unit_test(test_controllers_flag),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
