/*
 * test_leaderelection.c - two candidates in one process against a fake
 * Lease endpoint (GET/POST/PUT with resourceVersion compare-and-swap):
 * only one leads; when the leader stops renewing, the other takes over
 * after the lease duration; a leader that cannot renew gives up after the
 * renew deadline.
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
#include <unistd.h>

#include "kube/http.h"
#include "kube/json.h"
#include "kube/leaderelection.h"
#include "kube/restclient.h"
#include "kube/status.h"
#include "kube/timeutil.h"

#define LEASE_PATH "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-scheduler"
#define LEASES_PATH "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases"

struct lease_srv {
  struct event_base *base;
  struct http_server *srv;
  int port;
  json_t *lease; /* NULL: absent */
  int rv;
  int conflicts;
  bool fail_all;
  bool hang; /* never answer (an API server that is gone) */
  int writes;
};

static void lease_handler(struct http_request *req, void *arg)
{
  struct lease_srv *s = arg;
  const char *m = http_req_method(req), *p = http_req_path(req);
  if (s->hang) return; /* answered never; closed with the server */
  if (s->fail_all) {
    json_t *st = kstatus_internal("etcdserver: request timed out");
    http_reply_json(req, 500, st);
    json_decref(st);
    return;
  }
  size_t bl = 0;
  const char *b = http_req_body(req, &bl);
  if (!strcmp(m, "GET") && !strcmp(p, LEASE_PATH)) {
    if (!s->lease) {
      json_t *st = kstatus_not_found("coordination.k8s.io", "leases", "kube-scheduler");
      http_reply_json(req, 404, st);
      json_decref(st);
    } else {
      http_reply_json(req, 200, s->lease);
    }
    return;
  }
  json_t *obj = b ? json_loadb(b, bl, 0, NULL) : NULL;
  char rvs[16];
  if (!strcmp(m, "POST") && !strcmp(p, LEASES_PATH) && obj) {
    if (s->lease) {
      json_t *st = kstatus_already_exists("coordination.k8s.io", "leases", "kube-scheduler");
      http_reply_json(req, 409, st);
      json_decref(st);
      json_decref(obj);
      return;
    }
  } else if (!strcmp(m, "PUT") && !strcmp(p, LEASE_PATH) && obj && s->lease) {
    const char *want = kj_get_str(s->lease, "metadata.resourceVersion");
    const char *got = kj_get_str(obj, "metadata.resourceVersion");
    if (!got || strcmp(want, got)) {
      s->conflicts++;
      json_t *st = kstatus_conflict(
          "coordination.k8s.io", "leases", "kube-scheduler",
          "the object has been modified; please apply your changes to the latest version and try again");
      http_reply_json(req, 409, st);
      json_decref(st);
      json_decref(obj);
      return;
    }
  } else {
    json_decref(obj);
    http_reply(req, 400, "text/plain", "bad", 3);
    return;
  }
  snprintf(rvs, sizeof rvs, "%d", ++s->rv);
  kj_set_str(obj, "metadata.resourceVersion", rvs);
  json_decref(s->lease);
  s->lease = obj;
  s->writes++;
  http_reply_json(req, !strcmp(m, "POST") ? 201 : 200, obj);
}

struct cand {
  const char *id;
  int started, stopped;
  int *leaders; /* shared count of candidates leading now */
  int *max_leaders;
  struct leader_elector *le;
};

static void started(void *arg)
{
  struct cand *c = arg;
  c->started++;
  (*c->leaders)++;
  if (*c->leaders > *c->max_leaders) *c->max_leaders = *c->leaders;
}

static void stopped(void *arg)
{
  struct cand *c = arg;
  c->stopped++;
  (*c->leaders)--;
}

static struct lease_srv *srv_new(void)
{
  struct lease_srv *s = calloc(1, sizeof *s);
  s->base = event_base_new();
  s->srv = http_server_new(s->base, NULL, lease_handler, s);
  s->port = http_server_listen(s->srv, "127.0.0.1", 0);
  assert_true(s->port > 0);
  s->rv = 100;
  return s;
}

static void srv_free(struct lease_srv *s)
{
  http_server_free(s->srv);
  event_base_free(s->base);
  json_decref(s->lease);
  free(s);
}

static struct rest_client *client_for(struct lease_srv *s)
{
  struct rest_config cfg;
  rest_config_init(&cfg);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d", s->port);
  cfg.server = url;
  cfg.qps = 0;
  cfg.max_tries = 1;
  return rest_client_new(s->base, &cfg);
}

static struct leader_elector *cand_start(struct lease_srv *s, struct rest_client *rc, struct cand *c)
{
  struct leaderelection_config cfg = {
      .name = "kube-scheduler",
      .identity = c->id,
      .lease_duration_ms = 1000,
      .renew_deadline_ms = 600,
      .retry_period_ms = 100,
      .on_started_leading = started,
      .on_stopped_leading = stopped,
      .arg = c,
  };
  c->le = leaderelection_new(s->base, rc, &cfg);
  assert_non_null(c->le);
  assert_int_equal(leaderelection_start(c->le), 0);
  return c->le;
}

static void run_for(struct event_base *b, int64_t ms)
{
  int64_t end = ktime_mono_ms() + ms;
  while (ktime_mono_ms() < end) event_base_loop(b, EVLOOP_ONCE | EVLOOP_NONBLOCK), usleep(300);
}

static void check_micro_time(const char *s)
{
  int64_t us;
  assert_non_null(s);
  assert_int_equal(strlen(s), 27); /* 2006-01-02T15:04:05.000000Z */
  assert_int_equal(s[19], '.');
  assert_int_equal(ktime_parse(s, &us), 0);
}

static void test_two_candidates_failover(void **state)
{
  struct lease_srv *s = srv_new();
  struct rest_client *rc = client_for(s);
  int leaders = 0, max_leaders = 0;
  struct cand a = {"node-a_1", 0, 0, &leaders, &max_leaders, NULL};
  struct cand b = {"node-b_2", 0, 0, &leaders, &max_leaders, NULL};
  cand_start(s, rc, &a);
  cand_start(s, rc, &b);
  int64_t t_start = ktime_mono_ms();
  while (leaders == 0 && ktime_mono_ms() - t_start < 5000) run_for(s->base, 10);
  run_for(s->base, 1500); /* longer than a lease: the leader must keep renewing */
  assert_int_equal(a.stopped + b.stopped, 0);
  assert_int_equal(a.started + b.started, 1);
  assert_int_equal(leaders, 1);
  assert_int_equal(max_leaders, 1);
  struct cand *lead = a.started ? &a : &b, *other = a.started ? &b : &a;
  assert_true(leaderelection_is_leader(lead->le));
  assert_false(leaderelection_is_leader(other->le));
  assert_string_equal(leaderelection_leader(other->le), lead->id);
  assert_string_equal(kj_get_str(s->lease, "spec.holderIdentity"), lead->id);
  assert_int_equal(kj_get_int(s->lease, "spec.leaseDurationSeconds", 0), 1);
  assert_int_equal(kj_get_int(s->lease, "spec.leaseTransitions", -1), 0);
  check_micro_time(kj_get_str(s->lease, "spec.acquireTime"));
  check_micro_time(kj_get_str(s->lease, "spec.renewTime"));
  int64_t acquired, renewed;
  ktime_parse(kj_get_str(s->lease, "spec.acquireTime"), &acquired);
  ktime_parse(kj_get_str(s->lease, "spec.renewTime"), &renewed);
  assert_true(renewed - acquired >= 1000000); /* renewed, not re-acquired */
  assert_true(s->writes >= 8);

  /* The leader dies without releasing: the other waits out the lease. */
  int64_t t0 = ktime_mono_ms();
  leaderelection_free(lead->le);
  lead->le = NULL;
  leaders--;
  while (!other->started && ktime_mono_ms() - t0 < 5000) run_for(s->base, 10);
  int64_t took = ktime_mono_ms() - t0;
  assert_int_equal(other->started, 1);
  assert_true(took >= 700); /* not before the lease could have expired */
  assert_true(took <= 2500);
  assert_int_equal(max_leaders, 1);
  assert_string_equal(kj_get_str(s->lease, "spec.holderIdentity"), other->id);
  assert_int_equal(kj_get_int(s->lease, "spec.leaseTransitions", -1), 1);
  leaderelection_free(other->le);
  rest_client_free(rc);
  srv_free(s);
}

static void test_leader_gives_up_after_renew_deadline(void **state)
{
  struct lease_srv *s = srv_new();
  struct rest_client *rc = client_for(s);
  int leaders = 0, max_leaders = 0;
  struct cand a = {"node-a_1", 0, 0, &leaders, &max_leaders, NULL};
  cand_start(s, rc, &a);
  run_for(s->base, 300);
  assert_int_equal(a.started, 1);
  assert_true(leaderelection_is_leader(a.le));
  s->fail_all = true;
  int64_t t0 = ktime_mono_ms();
  while (!a.stopped && ktime_mono_ms() - t0 < 5000) run_for(s->base, 10);
  int64_t took = ktime_mono_ms() - t0;
  assert_int_equal(a.stopped, 1);
  assert_false(leaderelection_is_leader(a.le));
  assert_true(took >= 400 && took <= 2000); /* renew deadline 600 ms after the last renewal */
  s->fail_all = false;
  run_for(s->base, 300);
  assert_int_equal(a.started, 1); /* stopped for good: the program exits */
  leaderelection_free(a.le);
  rest_client_free(rc);
  srv_free(s);
}

static void release_done(void *arg) { (*(int *)arg)++; }

static void test_release_hands_over_at_once(void **state)
{
  struct lease_srv *s = srv_new();
  struct rest_client *rc = client_for(s);
  int leaders = 0, max_leaders = 0;
  struct cand a = {"node-a_1", 0, 0, &leaders, &max_leaders, NULL};
  struct cand b = {"node-b_2", 0, 0, &leaders, &max_leaders, NULL};
  cand_start(s, rc, &a);
  int64_t t_start = ktime_mono_ms();
  while (!a.started && ktime_mono_ms() - t_start < 5000) run_for(s->base, 10);
  assert_int_equal(a.started, 1);
  cand_start(s, rc, &b);
  run_for(s->base, 300);
  assert_int_equal(b.started, 0);
  int released = 0;
  int64_t t0 = ktime_mono_ms();
  assert_int_equal(leaderelection_release(a.le, release_done, &released), 0);
  leaders--;
  while (!b.started && ktime_mono_ms() - t0 < 5000) run_for(s->base, 10);
  assert_int_equal(released, 1);
  assert_int_equal(b.started, 1);
  assert_int_equal(a.stopped, 0);          /* a release is not a loss */
  assert_true(ktime_mono_ms() - t0 < 700); /* well before the 1 s lease would expire */
  assert_string_equal(kj_get_str(s->lease, "spec.holderIdentity"), "node-b_2");
  assert_int_equal(kj_get_int(s->lease, "spec.leaseTransitions", -1), 1);
  assert_int_equal(max_leaders, 1);
  leaderelection_free(a.le);
  leaderelection_free(b.le);
  rest_client_free(rc);
  srv_free(s);
}

/* A release against an API server that no longer answers still ends
 * within the deadline, so that SIGTERM is not held up. */
static void test_release_is_bounded(void **state)
{
  struct lease_srv *s = srv_new();
  struct rest_client *rc = client_for(s);
  int leaders = 0, max_leaders = 0;
  struct cand a = {"node-a_1", 0, 0, &leaders, &max_leaders, NULL};
  cand_start(s, rc, &a);
  int64_t t_start = ktime_mono_ms();
  while (!a.started && ktime_mono_ms() - t_start < 5000) run_for(s->base, 10);
  assert_int_equal(a.started, 1);
  s->hang = true;
  int released = 0;
  int64_t t0 = ktime_mono_ms();
  assert_int_equal(leaderelection_release(a.le, release_done, &released), 0);
  while (!released && ktime_mono_ms() - t0 < 10000) run_for(s->base, 10);
  int64_t took = ktime_mono_ms() - t0;
  assert_int_equal(released, 1);
  assert_true(took >= LEADERELECTION_RELEASE_DEADLINE_MS - 100 && took <= LEADERELECTION_RELEASE_DEADLINE_MS + 1000);
  leaderelection_free(a.le);
  rest_client_free(rc);
  srv_free(s);
}

static void test_default_identity(void **state)
{
  char *a = leaderelection_default_identity(), *b = leaderelection_default_identity();
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  assert_int_equal(strncmp(a, host, strlen(host)), 0);
  assert_int_equal(a[strlen(host)], '_');
  assert_int_equal(strlen(a), strlen(host) + 1 + 36);
  assert_string_not_equal(a, b);
  free(a);
  free(b);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_default_identity),
      cmocka_unit_test(test_two_candidates_failover),
      cmocka_unit_test(test_leader_gives_up_after_renew_deadline),
      cmocka_unit_test(test_release_hands_over_at_once),
      cmocka_unit_test(test_release_is_bounded),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
