/*
 * sched_test_queue.c - the scheduling queue: pop order by priority then
 * arrival, per-pod exponential backoff, unschedulable pods moved by
 * cluster events (and not lost when the event arrives during their
 * cycle), the 5-minute flush, scheduling gates, deletes while in flight.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "queue.h"
#include "sched_test_util.h"

static json_t *qpod(const char *name, int prio)
{
  json_t *p = json_pack("{s:{s:s,s:s},s:{s:I,s:[{s:s}]}}", "metadata", "name", name, "namespace", "default", "spec",
                        "priority", (json_int_t)prio, "containers", "name", "c");
  return p;
}

static void add(struct sched_queue *q, const char *name, int prio, int64_t now)
{
  json_t *p = qpod(name, prio);
  sched_queue_upsert(q, p, now);
  json_decref(p);
}

static const char *pop_name(struct sched_queue *q, int64_t now)
{
  static char buf[64];
  struct sched_qpod *qp = sched_queue_pop(q, now);
  if (!qp) return "";
  snprintf(buf, sizeof buf, "%s", qp->key + strlen("default/"));
  return buf;
}

static void test_priority_then_fifo(void **state)
{
  struct sched_queue *q = sched_queue_new(0, 0, 0);
  static const struct {
    const char *name;
    int prio;
    int64_t t;
  } in[] = {{"low-1", 0, 1}, {"high-1", 100, 2}, {"low-2", 0, 3}, {"mid", 50, 4}, {"high-2", 100, 5}};
  for (size_t i = 0; i < 5; i++) add(q, in[i].name, in[i].prio, in[i].t);
  assert_int_equal(sched_queue_len(q, SQ_ACTIVE), 5);
  const char *want[] = {"high-1", "high-2", "mid", "low-1", "low-2"};
  for (size_t i = 0; i < 5; i++) assert_string_equal(pop_name(q, 10), want[i]);
  assert_string_equal(pop_name(q, 10), "");
  assert_int_equal(sched_queue_len(q, SQ_INFLIGHT), 5);
  sched_queue_free(q);
}

static void test_backoff_doubles_and_caps(void **state)
{
  struct sched_queue *q = sched_queue_new(1000, 10000, 0);
  static const struct {
    int attempts;
    int64_t ms;
  } table[] = {{1, 1000}, {2, 2000}, {3, 4000}, {4, 8000}, {5, 10000}, {9, 10000}};
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    assert_int_equal(sched_queue_backoff_ms(q, table[i].attempts), table[i].ms);

  /* An error goes to backoffQ and is not poppable before its backoff ends. */
  add(q, "a", 0, 0);
  struct sched_qpod *qp = sched_queue_pop(q, 0);
  sched_queue_done(q, qp, SQ_OUT_ERROR, 100);
  assert_int_equal(sched_queue_len(q, SQ_BACKOFF), 1);
  sched_queue_flush(q, 1099);
  assert_null(sched_queue_pop(q, 1099));
  assert_int_equal(sched_queue_next_backoff_ms(q, 600), 500);
  sched_queue_flush(q, 1100);
  qp = sched_queue_pop(q, 1100);
  assert_non_null(qp);
  assert_int_equal(qp->attempts, 2);
  /* Second failure: 2 s. */
  sched_queue_done(q, qp, SQ_OUT_ERROR, 2000);
  sched_queue_flush(q, 3999);
  assert_int_equal(sched_queue_len(q, SQ_ACTIVE), 0);
  sched_queue_flush(q, 4000);
  assert_int_equal(sched_queue_len(q, SQ_ACTIVE), 1);
  sched_queue_free(q);
}

static bool only_b(void *arg, const json_t *pod)
{
  return !strcmp(json_string_value(json_object_get(json_object_get(pod, "metadata"), "name")), "b");
}

static void test_unschedulable_moved_on_event(void **state)
{
  struct sched_queue *q = sched_queue_new(1000, 10000, 300000);
  add(q, "a", 0, 0);
  add(q, "b", 0, 1);
  sched_queue_done(q, sched_queue_pop(q, 2), SQ_OUT_UNSCHEDULABLE, 2);
  sched_queue_done(q, sched_queue_pop(q, 2), SQ_OUT_UNSCHEDULABLE, 2);
  assert_int_equal(sched_queue_len(q, SQ_UNSCHEDULABLE), 2);
  /* Without an event, nothing comes back even after the backoff. */
  sched_queue_flush(q, 60000);
  assert_int_equal(sched_queue_len(q, SQ_UNSCHEDULABLE), 2);
  /* An event matching only b moves b; its backoff is over, so active. */
  sched_queue_move_all(q, only_b, NULL, 60000);
  assert_int_equal(sched_queue_len(q, SQ_UNSCHEDULABLE), 1);
  assert_string_equal(pop_name(q, 60000), "b");
  /* An event within the backoff window sends a pod to backoffQ. */
  sched_queue_done(q, sched_queue_get(q, "default/b"), SQ_OUT_UNSCHEDULABLE, 61000);
  sched_queue_move_all(q, NULL, NULL, 61500);
  assert_int_equal(sched_queue_len(q, SQ_BACKOFF), 1);
  assert_int_equal(sched_queue_len(q, SQ_ACTIVE), 1); /* a */
  sched_queue_free(q);
}

static void test_event_during_cycle_not_lost(void **state)
{
  struct sched_queue *q = sched_queue_new(1000, 10000, 300000);
  add(q, "a", 0, 0);
  struct sched_qpod *qp = sched_queue_pop(q, 0);
  sched_queue_move_all(q, NULL, NULL, 10); /* e.g. a node was added mid-cycle */
  sched_queue_done(q, qp, SQ_OUT_UNSCHEDULABLE, 20);
  assert_int_equal(sched_queue_len(q, SQ_UNSCHEDULABLE), 0);
  assert_int_equal(sched_queue_len(q, SQ_BACKOFF), 1);
  /* The next failure, with no event, parks it in unschedulable. */
  sched_queue_flush(q, 5000);
  qp = sched_queue_pop(q, 5000);
  sched_queue_done(q, qp, SQ_OUT_UNSCHEDULABLE, 5000);
  assert_int_equal(sched_queue_len(q, SQ_UNSCHEDULABLE), 1);
  sched_queue_free(q);
}

static void test_unschedulable_flush_after_max(void **state)
{
  struct sched_queue *q = sched_queue_new(1000, 10000, 300000);
  add(q, "a", 0, 0);
  sched_queue_done(q, sched_queue_pop(q, 0), SQ_OUT_UNSCHEDULABLE, 1000);
  sched_queue_flush(q, 300999);
  assert_int_equal(sched_queue_len(q, SQ_UNSCHEDULABLE), 1);
  sched_queue_flush(q, 301000);
  assert_int_equal(sched_queue_len(q, SQ_ACTIVE), 1);
  sched_queue_free(q);
}

static void test_update_moves_unschedulable(void **state)
{
  struct sched_queue *q = sched_queue_new(1000, 10000, 300000);
  add(q, "a", 0, 0);
  sched_queue_done(q, sched_queue_pop(q, 0), SQ_OUT_UNSCHEDULABLE, 0);
  /* A status-only update changes nothing the filters read. */
  json_t *p = qpod("a", 0);
  json_object_set_new(p, "status", json_pack("{s:s}", "phase", "Pending"));
  assert_int_equal(sched_queue_upsert(q, p, 5000), SQ_UNSCHEDULABLE);
  /* A spec change (here a new toleration) makes it worth another try. */
  json_t *p2 = json_deep_copy(p);
  json_object_set_new(json_object_get(p2, "spec"), "tolerations", json_pack("[{s:s}]", "operator", "Exists"));
  assert_int_equal(sched_queue_upsert(q, p2, 5000), SQ_ACTIVE);
  json_decref(p);
  json_decref(p2);
  sched_queue_free(q);
}

static void test_gates(void **state)
{
  struct sched_queue *q = sched_queue_new(0, 0, 0);
  json_t *p = qpod("g", 0);
  json_object_set_new(json_object_get(p, "spec"), "schedulingGates", json_pack("[{s:s}]", "name", "example.com/gate"));
  assert_true(sched_pod_is_gated(p));
  assert_int_equal(sched_queue_upsert(q, p, 0), SQ_GATED);
  assert_null(sched_queue_pop(q, 0));
  sched_queue_move_all(q, NULL, NULL, 1);
  sched_queue_flush(q, 1000000);
  assert_null(sched_queue_pop(q, 1000000));
  json_t *p2 = json_deep_copy(p);
  json_object_del(json_object_get(p2, "spec"), "schedulingGates");
  assert_int_equal(sched_queue_upsert(q, p2, 1000001), SQ_ACTIVE);
  assert_string_equal(pop_name(q, 1000001), "g");
  json_decref(p);
  json_decref(p2);
  sched_queue_free(q);
}

static void test_delete_in_flight_and_bind(void **state)
{
  struct sched_queue *q = sched_queue_new(0, 0, 0);
  add(q, "a", 0, 0);
  add(q, "b", 0, 1);
  struct sched_qpod *qa = sched_queue_pop(q, 2);
  sched_queue_delete(q, "default/a");
  assert_non_null(sched_queue_get(q, "default/a")); /* still owned by the cycle */
  sched_queue_done(q, qa, SQ_OUT_UNSCHEDULABLE, 3);
  assert_null(sched_queue_get(q, "default/a"));
  /* b is assumed, then its binding fails: back after backoff, then bound. */
  struct sched_qpod *qb = sched_queue_pop(q, 4);
  sched_queue_done(q, qb, SQ_OUT_ASSUMED, 4);
  assert_int_equal(sched_queue_len(q, SQ_ASSUMED), 1);
  sched_queue_done(q, sched_queue_get(q, "default/b"), SQ_OUT_ERROR, 5);
  assert_int_equal(sched_queue_len(q, SQ_BACKOFF), 1);
  sched_queue_flush(q, 2000);
  qb = sched_queue_pop(q, 2000);
  sched_queue_done(q, qb, SQ_OUT_ASSUMED, 2000);
  sched_queue_done(q, sched_queue_get(q, "default/b"), SQ_OUT_BOUND, 2001);
  assert_null(sched_queue_get(q, "default/b"));
  sched_queue_free(q);
}

static void test_many_pods(void **state)
{
  struct sched_queue *q = sched_queue_new(0, 0, 0);
  char name[32];
  for (int i = 0; i < 5000; i++) {
    snprintf(name, sizeof name, "p%05d", i);
    add(q, name, i % 7, i);
  }
  int64_t last_prio = INT64_MAX, last_ts = -1;
  for (int i = 0; i < 5000; i++) {
    struct sched_qpod *qp = sched_queue_pop(q, 10000);
    assert_non_null(qp);
    assert_true(qp->priority <= last_prio);
    if (qp->priority == last_prio) assert_true(qp->timestamp_ms > last_ts);
    last_prio = qp->priority;
    last_ts = qp->timestamp_ms;
    sched_queue_done(q, qp, SQ_OUT_BOUND, 10000);
  }
  assert_null(sched_queue_pop(q, 10000));
  sched_queue_free(q);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_priority_then_fifo),
      cmocka_unit_test(test_backoff_doubles_and_caps),
      cmocka_unit_test(test_unschedulable_moved_on_event),
      cmocka_unit_test(test_event_during_cycle_not_lost),
      cmocka_unit_test(test_unschedulable_flush_after_max),
      cmocka_unit_test(test_update_moves_unschedulable),
      cmocka_unit_test(test_gates),
      cmocka_unit_test(test_delete_in_flight_and_bind),
      cmocka_unit_test(test_many_pods),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
