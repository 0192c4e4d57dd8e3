/*
 * test_workqueue.c - the controller work queue: deduplication, no
 * concurrent processing of one key, delayed adds, rate-limited backoff
 * growth and forget, shutdown, worker concurrency.
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

#include "kube/timeutil.h"
#include "kube/workqueue.h"

static void run_for(struct event_base *b, int64_t ms)
{
  int64_t end = ktime_mono_ms() + ms;
  while (ktime_mono_ms() < end) event_base_loop(b, EVLOOP_ONCE | EVLOOP_NONBLOCK), usleep(200);
}

static void test_dedup_and_order(void **state)
{
  struct event_base *b = event_base_new();
  struct workqueue *q = workqueue_new(b, "test");
  workqueue_add(q, "ns/a");
  workqueue_add(q, "ns/b");
  workqueue_add(q, "ns/a");
  assert_int_equal(workqueue_len(q), 2);
  const char *k = workqueue_get(q);
  assert_string_equal(k, "ns/a");
  /* Added while processing: not handed out again until done. */
  workqueue_add(q, "ns/a");
  assert_int_equal(workqueue_len(q), 1);
  const char *k2 = workqueue_get(q);
  assert_string_equal(k2, "ns/b");
  assert_null(workqueue_get(q));
  workqueue_done(q, k);
  assert_int_equal(workqueue_len(q), 1);
  const char *k3 = workqueue_get(q);
  assert_string_equal(k3, "ns/a");
  workqueue_done(q, k3);
  workqueue_done(q, k2);
  assert_int_equal(workqueue_len(q), 0);
  assert_int_equal(workqueue_processing(q), 0);
  workqueue_shutdown(q);
  workqueue_add(q, "ns/c");
  assert_int_equal(workqueue_len(q), 0);
  assert_true(workqueue_shutting_down(q));
  workqueue_free(q);
  event_base_free(b);
}

struct proc {
  struct workqueue *q;
  struct event_base *b;
  int calls;
  int in_flight;
  int max_in_flight;
  int a_in_flight;
  bool overlap;
  char seen[64][16];
};

struct fin {
  struct proc *p;
  char key[16];
  struct event *ev;
};

static void finish_cb(evutil_socket_t fd, short what, void *arg)
{
  struct fin *f = arg;
  f->p->in_flight--;
  if (!strcmp(f->key, "a")) f->p->a_in_flight--;
  workqueue_done(f->p->q, f->key);
  event_free(f->ev);
  free(f);
}

/* Asynchronous processing: each key takes 20 ms. */
static void process(void *arg, struct workqueue *q, const char *key)
{
  struct proc *p = arg;
  if (p->calls < 64) snprintf(p->seen[p->calls], 16, "%s", key);
  p->calls++;
  p->in_flight++;
  if (p->in_flight > p->max_in_flight) p->max_in_flight = p->in_flight;
  if (!strcmp(key, "a")) {
    if (p->a_in_flight) p->overlap = true;
    p->a_in_flight++;
  }
  struct fin *f = calloc(1, sizeof *f);
  f->p = p;
  snprintf(f->key, sizeof f->key, "%s", key);
  f->ev = evtimer_new(p->b, finish_cb, f);
  struct timeval tv = {0, 20000};
  evtimer_add(f->ev, &tv);
}

static void test_workers_no_concurrent_key(void **state)
{
  struct event_base *b = event_base_new();
  struct workqueue *q = workqueue_new(b, "test");
  struct proc p = {.q = q, .b = b};
  workqueue_run(q, 2, process, &p);
  workqueue_add(q, "a");
  workqueue_add(q, "b");
  workqueue_add(q, "c");
  run_for(b, 5);
  /* "a" is being processed: adding it again must wait for done. */
  workqueue_add(q, "a");
  workqueue_add(q, "a");
  run_for(b, 200);
  assert_false(p.overlap);
  assert_int_equal(p.max_in_flight, 2);
  assert_int_equal(p.calls, 4); /* a, b, c and a once more (deduplicated) */
  int as = 0;
  for (int i = 0; i < p.calls; i++) as += !strcmp(p.seen[i], "a");
  assert_int_equal(as, 2);
  assert_int_equal(workqueue_processing(q), 0);
  workqueue_free(q);
  event_base_free(b);
}

static void test_add_after(void **state)
{
  struct event_base *b = event_base_new();
  struct workqueue *q = workqueue_new(b, "test");
  workqueue_add_after(q, "late", 150);
  workqueue_add_after(q, "soon", 30);
  workqueue_add_after(q, "late", 60); /* earlier time wins */
  assert_int_equal(workqueue_len(q), 0);
  run_for(b, 45);
  assert_int_equal(workqueue_len(q), 1);
  assert_string_equal(workqueue_get(q), "soon");
  run_for(b, 60);
  assert_int_equal(workqueue_len(q), 1);
  const char *k = workqueue_get(q);
  assert_string_equal(k, "late");
  workqueue_done(q, k);
  run_for(b, 120); /* the superseded 150 ms timer adds nothing more */
  assert_int_equal(workqueue_len(q), 0);
  /* Pending delayed keys are released on free. */
  workqueue_add_after(q, "x", 10000);
  workqueue_free(q);
  event_base_free(b);
}

static void test_backoff_growth_and_forget(void **state)
{
  struct event_base *b = event_base_new();
  struct workqueue *q = workqueue_new(b, "test");
  workqueue_set_rate_limits(q, 5, 1000LL * 1000, 0, 1); /* per-item only */
  static const int64_t want[] = {5, 10, 20, 40, 80, 160, 320, 640, 1280};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) assert_int_equal(workqueue_when(q, "k"), want[i]);
  assert_int_equal(workqueue_num_requeues(q, "k"), 9);
  assert_int_equal(workqueue_when(q, "other"), 5); /* per key */
  for (int i = 0; i < 30; i++) workqueue_when(q, "k");
  assert_int_equal(workqueue_when(q, "k"), 1000LL * 1000); /* capped at 1000 s */
  workqueue_forget(q, "k");
  assert_int_equal(workqueue_num_requeues(q, "k"), 0);
  assert_int_equal(workqueue_when(q, "k"), 5);
  workqueue_free(q);

  /* The default limiter also has the overall 10 qps / burst 100 bucket. */
  q = workqueue_new(b, "test");
  int64_t d = 0;
  for (int i = 0; i < 100; i++) {
    char key[16];
    snprintf(key, sizeof key, "k%d", i);
    d = workqueue_when(q, key);
  }
  assert_int_equal(d, 5);
  /* Ten more keys overdraw the bucket by ten tokens: about one second. */
  for (int i = 100; i < 110; i++) {
    char key[16];
    snprintf(key, sizeof key, "k%d", i);
    d = workqueue_when(q, key);
  }
  assert_true(d >= 500 && d <= 1000);
  workqueue_free(q);

  /* add_rate_limited really delays: 5 ms, then 10 ms. */
  q = workqueue_new(b, "test");
  workqueue_add_rate_limited(q, "r");
  assert_int_equal(workqueue_len(q), 0);
  run_for(b, 30);
  assert_int_equal(workqueue_len(q), 1);
  workqueue_free(q);
  event_base_free(b);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dedup_and_order),
      cmocka_unit_test(test_workers_no_concurrent_key),
      cmocka_unit_test(test_add_after),
      cmocka_unit_test(test_backoff_growth_and_forget),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
