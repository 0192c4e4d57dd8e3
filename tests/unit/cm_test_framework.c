/*
 * cm_test_framework.c - the controller framework (framework.h) against a
 * fake client that answers from the event loop as the REST client does:
 *   - which answers leave an action done (by status and reason only);
 *   - a create answered AlreadyExists for an object the cache has not
 *     seen yet comes back rate limited, and the sync after the cache
 *     caught up issues the update (the Endpoints race); NotFound and
 *     Conflict on updates and patches come back too; a DELETE answered
 *     404 is forgotten;
 *   - slow-start batches 1, 2, 4 stopping at the first failure, with the
 *     expectations of failed and skipped creates lowered;
 *   - requests chained from an answer finish with the run;
 *   - runs in flight are cancelled cleanly at stop;
 *   - the controller enable list (--controllers).
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
#include "kube/json.h"
#include "kube/restclient.h"
#include "kube/timeutil.h"
#include "kube/workqueue.h"

/* ---- the fake client ---- */

struct fake;
/* Decides the answer to one request: code, reason (NULL for 2xx), body. */
typedef void (*respond_fn)(struct fake *f, const char *method, const char *path, const json_t *body, int *code,
                           const char **reason, json_t **answer);

struct fake_req {
  struct fake *f;
  struct event *ev;
  cm_transport_done_fn done;
  void *arg;
  int code;
  const char *reason;
  json_t *answer;
  struct fake_req *next;
};

struct fake {
  struct event_base *base;
  respond_fn respond;
  json_t *log;    /* "METHOD path" in arrival order */
  json_t *bodies; /* the request bodies, same order */
  struct fake_req *pending;
  int posts;
  int fail_after;       /* POSTs beyond this answer 403 (slow start test) */
  json_t *cache;        /* the test controller's "informer cache": key -> object */
  bool cache_sees_post; /* the cache learns of a created object when a POST answers */
};

static void fake_unlink(struct fake *f, struct fake_req *r)
{
  for (struct fake_req **p = &f->pending; *p; p = &(*p)->next)
    if (*p == r) {
      *p = r->next;
      return;
    }
}

static void fake_fire(evutil_socket_t fd, short what, void *arg)
{
  struct fake_req *r = arg;
  fake_unlink(r->f, r);
  char msg[128];
  snprintf(msg, sizeof msg, "fake %s", r->reason ? r->reason : "ok");
  struct rest_status st = {r->code, r->reason, msg, NULL};
  r->done(r->arg, r->code, r->answer, r->code >= 200 && r->code < 300 ? NULL : &st);
  json_decref(r->answer);
  event_free(r->ev);
  free(r);
}

static struct rest_request *fake_request(void *arg, const char *method, const char *path, const char *ct,
                                         const json_t *body, cm_transport_done_fn done, void *done_arg)
{
  struct fake *f = arg;
  char line[512];
  snprintf(line, sizeof line, "%s %s", method, path);
  json_array_append_new(f->log, json_string(line));
  json_array_append_new(f->bodies, body ? kj_deep_copy(body) : json_null());
  struct fake_req *r = calloc(1, sizeof *r);
  r->f = f;
  r->done = done;
  r->arg = done_arg;
  r->code = 200;
  f->respond(f, method, path, body, &r->code, &r->reason, &r->answer);
  r->ev = evtimer_new(f->base, fake_fire, r);
  struct timeval tv = {0, 1000};
  evtimer_add(r->ev, &tv);
  r->next = f->pending;
  f->pending = r;
  return (struct rest_request *)r;
}

static void fake_cancel(void *arg, struct rest_request *rq)
{
  struct fake *f = arg;
  struct fake_req *r = (struct fake_req *)rq;
  fake_unlink(f, r);
  json_decref(r->answer);
  event_free(r->ev);
  free(r);
}

static const struct cm_transport fake_transport_ops = {fake_request, fake_cancel, NULL};

struct harness {
  struct fake f;
  struct cm_transport t;
  struct cm_ctx ctx;
  struct cm_base b;
  int syncs;
  struct cm_expectations *exp;
  void (*sync)(struct harness *h, const char *key, struct cm_actions *acts);
  struct cm_outcome last;
  char last_error[256];
  int outcomes;
};

static void on_done(struct cm_base *b, const char *key, const struct cm_outcome *o)
{
  struct harness *h = (struct harness *)((char *)b - offsetof(struct harness, b));
  h->last = *o;
  snprintf(h->last_error, sizeof h->last_error, "%s", o->error ? o->error : "");
  h->last.error = NULL;
  h->last.expect_error = NULL;
  h->outcomes++;
}

static void harness_sync(struct cm_base *b, const char *key)
{
  struct harness *h = (struct harness *)((char *)b - offsetof(struct harness, b));
  h->syncs++;
  struct cm_actions acts;
  cm_actions_init(&acts);
  h->sync(h, key, &acts);
  cm_base_exec_cb(b, key, &acts, h->exp, -1, on_done);
  cm_actions_clear(&acts);
}

static void setup(struct harness *h, respond_fn respond,
                  void (*sync)(struct harness *, const char *, struct cm_actions *))
{
  memset(h, 0, sizeof *h);
  h->f.base = event_base_new();
  h->f.respond = respond;
  h->f.log = json_array();
  h->f.bodies = json_array();
  h->f.cache = json_object();
  h->f.fail_after = 1000;
  h->t = fake_transport_ops;
  h->t.arg = &h->f;
  h->ctx.base = h->f.base;
  h->ctx.transport = &h->t;
  h->sync = sync;
  h->exp = cm_expectations_new();
  assert_int_equal(cm_base_init(&h->b, &h->ctx, "test", 1, harness_sync), 0);
  cm_base_run(&h->b);
}

static void teardown(struct harness *h)
{
  cm_base_stop(&h->b);
  assert_null(h->f.pending);
  cm_expectations_free(h->exp);
  json_decref(h->f.log);
  json_decref(h->f.bodies);
  json_decref(h->f.cache);
  event_base_free(h->f.base);
}

/* Runs the loop until cond holds (bounded: 10 s). */
static bool run_until(struct harness *h, bool (*cond)(struct harness *h, void *arg), void *arg)
{
  int64_t end = ktime_mono_ms() + 10000;
  while (!cond(h, arg) && ktime_mono_ms() < end) {
    event_base_loop(h->f.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    usleep(200);
  }
  return cond(h, arg);
}

static bool outcomes_at_least(struct harness *h, void *n) { return h->outcomes >= *(int *)n; }

static int count_log(struct harness *h, const char *line)
{
  int n = 0;
  size_t i;
  json_t *v;
  json_array_foreach (h->f.log, i, v) n += !strcmp(json_string_value(v), line);
  return n;
}

/* ---- the answer rule ---- */

static void test_answer_rule(void **state)
{
  static const struct {
    enum cm_verb verb;
    unsigned done_if;
    int code;
    const char *reason;
    bool done;
  } cases[] = {
      {CM_POST, 0, 201, NULL, true},
      {CM_DELETE, 0, 404, "NotFound", true},     /* already gone: what a delete wants */
      {CM_GET, 0, 404, "NotFound", true},        /* an answer for on_answer */
      {CM_POST, 0, 409, "AlreadyExists", false}, /* the cache was behind: retry */
      {CM_POST, CM_DONE_IF_EXISTS, 409, "AlreadyExists", true},
      {CM_PUT, 0, 409, "Conflict", false},
      {CM_PUT, 0, 404, "NotFound", false},
      {CM_PATCH, 0, 404, "NotFound", false},
      {CM_PATCH, CM_DONE_IF_GONE, 404, "NotFound", true},
      {CM_PATCH, CM_DONE_IF_GONE, 409, "Conflict", false},
      {CM_PUT, CM_DONE_IF_EXISTS, 409, "AlreadyExists", false}, /* only a create can exist already */
      {CM_DELETE, 0, 409, "Conflict", false},                   /* uid precondition: another object now */
      {CM_POST, 0, 403, "Forbidden", false},
      {CM_POST, 0, 422, "Invalid", false},
      {CM_DELETE, 0, 500, "InternalError", false},
      {CM_POST, CM_DONE_IF_EXISTS, 409, "Conflict", false}, /* the reason decides, not the code */
      {CM_DELETE, 0, 404, "Gone", false},
      {CM_GET, 0, 0, NULL, false}, /* transport failure */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct cm_actions acts;
    cm_actions_init(&acts);
    struct cm_action *a = cm_act(&acts, cases[i].verb, "/p", NULL);
    a->done_if = cases[i].done_if;
    struct rest_status st = {cases[i].code, cases[i].reason, "m", NULL};
    bool ok = cases[i].code >= 200 && cases[i].code < 300;
    if (cm_answer_done(a, cases[i].code, ok ? NULL : &st) != cases[i].done)
      fail_msg("case %zu: %s %d %s", i, cm_verb_name(cases[i].verb), cases[i].code, cases[i].reason);
    cm_actions_clear(&acts);
  }
}

/* ---- issue: a write that lost a race with the cache ---- */

/* Create-or-update from the cache, as the endpoints controller does. */
static void sync_create_or_update(struct harness *h, const char *key, struct cm_actions *acts)
{
  json_t *cached = json_object_get(h->f.cache, key);
  json_t *want = json_pack("{s:{s:s},s:i}", "metadata", "name", key, "generation", h->syncs);
  if (cached) cm_act(acts, CM_PUT, "/api/v1/namespaces/ns/endpoints/svc", want);
  else cm_act(acts, CM_POST, "/api/v1/namespaces/ns/endpoints", want);
}

/* The object was created behind the controller's back: a POST answers
 * AlreadyExists, and the cache shows the object only afterwards. */
static void respond_exists(struct fake *f, const char *method, const char *path, const json_t *body, int *code,
                           const char **reason, json_t **answer)
{
  if (!strcmp(method, "POST")) {
    *code = 409;
    *reason = "AlreadyExists";
    json_object_set_new(f->cache, "svc", json_pack("{s:{s:s}}", "metadata", "name", "svc"));
    return;
  }
  *answer = kj_deep_copy(body);
}

static bool synced_twice_and_done(struct harness *h, void *arg) { return h->syncs >= 2 && h->outcomes >= 2; }

static void test_already_exists_retries_then_updates(void **state)
{
  struct harness h;
  setup(&h, respond_exists, sync_create_or_update);
  cm_base_enqueue_key(&h.b, "svc");
  int one = 1;
  assert_true(run_until(&h, outcomes_at_least, &one));
  /* Not done: the key is requeued with rate limiting, not forgotten. */
  assert_int_equal(h.last.failed, 1);
  assert_int_equal(workqueue_num_requeues(h.b.q, "svc"), 1);
  assert_int_equal(count_log(&h, "POST /api/v1/namespaces/ns/endpoints"), 1);
  /* The key comes back by itself; this time the cache holds the object. */
  assert_true(run_until(&h, synced_twice_and_done, NULL));
  assert_int_equal(count_log(&h, "PUT /api/v1/namespaces/ns/endpoints/svc"), 1);
  assert_int_equal(kj_get_int(json_array_get(h.f.bodies, 1), "generation", -1), 2);
  assert_int_equal(h.last.failed, 0);
  assert_int_equal(workqueue_num_requeues(h.b.q, "svc"), 0); /* forgotten once done */
  assert_int_equal(json_array_size(h.f.log), 2);             /* and nothing more */
  teardown(&h);
}

/* Each of these answers leaves the key requeued (or forgotten). */
static const struct {
  enum cm_verb verb;
  unsigned done_if;
  int code;
  const char *reason;
  int requeues;
} race_cases[] = {
    {CM_PUT, 0, 409, "Conflict", 1},
    {CM_PUT, 0, 404, "NotFound", 1},
    {CM_PATCH, 0, 409, "Conflict", 1},
    {CM_PATCH, 0, 404, "NotFound", 1},
    {CM_POST, 0, 409, "AlreadyExists", 1},
    {CM_DELETE, 0, 404, "NotFound", 0},
    {CM_PATCH, CM_DONE_IF_GONE, 404, "NotFound", 0},
    {CM_POST, CM_DONE_IF_EXISTS, 409, "AlreadyExists", 0},
};
static size_t race_case;

static void sync_one_case(struct harness *h, const char *key, struct cm_actions *acts)
{
  cm_act(acts, race_cases[race_case].verb, "/api/v1/namespaces/ns/things/x", NULL)->done_if =
      race_cases[race_case].done_if;
}

static void respond_case(struct fake *f, const char *method, const char *path, const json_t *body, int *code,
                         const char **reason, json_t **answer)
{
  *code = race_cases[race_case].code;
  *reason = race_cases[race_case].reason;
}

static void test_requeue_by_outcome(void **state)
{
  for (race_case = 0; race_case < sizeof race_cases / sizeof race_cases[0]; race_case++) {
    struct harness h;
    setup(&h, respond_case, sync_one_case);
    cm_base_enqueue_key(&h.b, "ns/x");
    int one = 1;
    assert_true(run_until(&h, outcomes_at_least, &one));
    if (workqueue_num_requeues(h.b.q, "ns/x") != race_cases[race_case].requeues)
      fail_msg("case %zu: %s %d %s: %d requeues", race_case, cm_verb_name(race_cases[race_case].verb),
               race_cases[race_case].code, race_cases[race_case].reason, workqueue_num_requeues(h.b.q, "ns/x"));
    assert_int_equal(h.last.failed, race_cases[race_case].requeues);
    teardown(&h);
  }
}

/* ---- slow start and expectations ---- */

static void sync_twenty_creates(struct harness *h, const char *key, struct cm_actions *acts)
{
  cm_expect_creations(h->exp, key, 20, cm_now());
  for (int i = 0; i < 20; i++) {
    struct cm_action *a = cm_act(acts, CM_POST, "/api/v1/namespaces/ns/pods", json_object());
    a->slow_start = true;
    a->expect = CM_EXPECT_CREATE;
  }
}

static void respond_quota(struct fake *f, const char *method, const char *path, const json_t *body, int *code,
                          const char **reason, json_t **answer)
{
  if (++f->posts > f->fail_after) {
    *code = 403;
    *reason = "Forbidden";
    return;
  }
  *code = 201;
  *answer = json_pack("{s:{s:s}}", "metadata", "name", "created");
}

static void test_slow_start_stops_on_failure(void **state)
{
  struct harness h;
  setup(&h, respond_quota, sync_twenty_creates);
  h.f.fail_after = 4;
  cm_base_enqueue_key(&h.b, "ns/rs");
  int one = 1;
  assert_true(run_until(&h, outcomes_at_least, &one));
  /* Batches 1, 2, 4: the third has the first failures (posts 5-7), then stop. */
  assert_int_equal(h.f.posts, 7);
  assert_int_equal(h.last.failed, 16);
  assert_non_null(strstr(h.last_error, "Forbidden"));
  int adds, dels;
  assert_true(cm_expectations_get(h.exp, "ns/rs", &adds, &dels));
  assert_int_equal(adds, 4); /* only the 4 successful creates are still expected */
  teardown(&h);
}

/* ---- chained requests ---- */

static void after_get(void *arg, struct cm_run *run, int code, json_t *body, const struct rest_status *err)
{
  struct cm_actions acts;
  cm_actions_init(&acts);
  if (code == 404) cm_act(&acts, CM_POST, "/api/v1/namespaces/ns/things", json_object());
  cm_run_add(run, &acts);
  cm_actions_clear(&acts);
  (*(int *)arg)++;
}

static int answers_seen;

static void sync_get_then_post(struct harness *h, const char *key, struct cm_actions *acts)
{
  cm_act_on_answer(cm_act(acts, CM_GET, "/api/v1/namespaces/ns/things/x", NULL), after_get, &answers_seen, NULL);
}

static void respond_missing(struct fake *f, const char *method, const char *path, const json_t *body, int *code,
                            const char **reason, json_t **answer)
{
  if (!strcmp(method, "GET")) {
    *code = 404;
    *reason = "NotFound";
    return;
  }
  *code = 201;
}

static void test_chained_requests(void **state)
{
  struct harness h;
  answers_seen = 0;
  setup(&h, respond_missing, sync_get_then_post);
  cm_base_enqueue_key(&h.b, "ns/x");
  int one = 1;
  assert_true(run_until(&h, outcomes_at_least, &one));
  assert_int_equal(answers_seen, 1);
  /* The run finished only once the POST the answer added was answered. */
  assert_int_equal(count_log(&h, "POST /api/v1/namespaces/ns/things"), 1);
  assert_int_equal(h.last.failed, 0);
  assert_int_equal(workqueue_num_requeues(h.b.q, "ns/x"), 0);
  teardown(&h);
}

/* Stopping with requests in flight cancels them: no answer runs, nothing
 * leaks (ASan). */
static void test_stop_cancels(void **state)
{
  struct harness h;
  setup(&h, respond_quota, sync_twenty_creates);
  cm_base_enqueue_key(&h.b, "ns/rs");
  int64_t end = ktime_mono_ms() + 5000;
  while (json_array_size(h.f.log) == 0 && ktime_mono_ms() < end)
    event_base_loop(h.f.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
  assert_int_equal(json_array_size(h.f.log), 1); /* the first slow-start batch is out */
  cm_base_stop(&h.b);
  assert_null(h.f.pending);
  assert_int_equal(h.outcomes, 0);
  teardown(&h);
}

static void test_controllers_flag(void **state)
{
  const struct controller_def on = {.name = "replicaset", .enabled_by_default = true};
  const struct controller_def off = {
      .name = "bootstrapsigner", .enabled_by_default = false, .alias = "bootstrap-signer-controller"};
  assert_true(cm_controller_enabled("*", &on));
  assert_false(cm_controller_enabled("*", &off));
  assert_true(cm_controller_enabled("*,bootstrapsigner", &off));
  assert_false(cm_controller_enabled("*,-replicaset", &on));
  assert_false(cm_controller_enabled("job", &on));
  assert_true(cm_controller_enabled("job,replicaset", &on));
  assert_true(cm_controller_enabled("", &on));
  /* An alias names the controller too. */
  assert_true(cm_controller_enabled("bootstrap-signer-controller", &off));
  assert_false(cm_controller_enabled("*,-bootstrap-signer-controller,bootstrapsigner", &off));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_answer_rule),        cmocka_unit_test(test_already_exists_retries_then_updates),
      cmocka_unit_test(test_requeue_by_outcome), cmocka_unit_test(test_slow_start_stops_on_failure),
      cmocka_unit_test(test_chained_requests),   cmocka_unit_test(test_stop_cancels),
      cmocka_unit_test(test_controllers_flag),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
