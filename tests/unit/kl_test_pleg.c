/*
 * kl_test_pleg.c - the runtime cache (pleg.c) over a scripted runtime:
 * pods get their sandboxes and containers newest first, a state change
 * is inspected, an object gone from the list is dropped, and an
 * inspection that fails never makes a pod look as if it lost a container
 * (its previous status stays, the pod's update waits for a good relist,
 * other pods are not held back); an OOM event has the container inspected
 * again.
 */
#include <errno.h>
#include <event2/event.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kube/json.h"
#include "kube/workqueue.h"
#include "kube/xalloc.h"
#include "pods_internal.h"
#include "runtime/runtime.h"

/* ---- a scripted runtime ---- */

struct fake {
  struct kl_runtime rt;
  json_t *objects; /* id -> {"sandbox":bool, "uid", "state", "created", "fail":errno, "reason"} */
  int inspections;
  kl_rt_event_fn ev_fn;
  void *ev_arg;
};

static struct fake *FK(struct kl_runtime *rt) { return (struct fake *)rt; }

static void add_object(struct fake *f, const char *id, bool sandbox, const char *uid, const char *state,
                       int64_t created)
{
  json_object_set_new(f->objects, id,
                      json_pack("{s:b, s:s, s:s, s:I, s:i}", "sandbox", sandbox, "uid", uid, "state", state, "created",
                                (json_int_t)created, "fail", 0));
}

static void set_state(struct fake *f, const char *id, const char *state)
{
  json_object_set_new(json_object_get(f->objects, id), "state", json_string(state));
}

static void set_fail(struct fake *f, const char *id, int err)
{
  json_object_set_new(json_object_get(f->objects, id), "fail", json_integer(err));
}

static void list(struct kl_runtime *rt, bool sandboxes, kl_rt_done_fn done, void *arg)
{
  json_t *items = json_array();
  const char *id;
  json_t *o;
  json_object_foreach (FK(rt)->objects, id, o) {
    if (kj_get_bool(o, "sandbox", false) != sandboxes) continue;
    json_array_append_new(items, json_pack("{s:s, s:s, s:{s:s}}", "id", id, "state", kj_get_str(o, "state"), "labels",
                                           KL_LABEL_POD_UID, kj_get_str(o, "uid")));
  }
  json_t *res = json_pack("{s:o}", sandboxes ? "items" : "containers", items);
  done(arg, 0, res, NULL);
  json_decref(res);
}

static void list_sandboxes(struct kl_runtime *rt, kl_rt_done_fn done, void *arg) { list(rt, true, done, arg); }
static void list_containers(struct kl_runtime *rt, kl_rt_done_fn done, void *arg) { list(rt, false, done, arg); }

static void inspect(struct kl_runtime *rt, const char *id, kl_rt_done_fn done, void *arg)
{
  FK(rt)->inspections++;
  json_t *o = json_object_get(FK(rt)->objects, id);
  if (!o) {
    done(arg, -ENOENT, NULL, "no such object");
    return;
  }
  int fail = (int)kj_get_int(o, "fail", 0);
  if (fail) {
    done(arg, -fail, NULL, "inspection failed");
    return;
  }
  json_t *res = json_pack("{s:{s:s, s:s, s:I, s:{s:s}, s:s}, s:{}}", "status", "id", id, "state",
                          kj_get_str(o, "state"), "createdAt", (json_int_t)kj_get_int(o, "created", 0), "labels",
                          KL_LABEL_POD_UID, kj_get_str(o, "uid"), "reason", kj_get_str(o, "reason") ?: "", "info");
  done(arg, 0, res, NULL);
  json_decref(res);
}

static void watch_events(struct kl_runtime *rt, kl_rt_event_fn fn, void *arg)
{
  FK(rt)->ev_fn = fn;
  FK(rt)->ev_arg = arg;
}

static const struct kl_runtime_ops fake_ops = {
    .name = "fake",
    .list_pod_sandbox = list_sandboxes,
    .list_containers = list_containers,
    .pod_sandbox_status = inspect,
    .container_status = inspect,
    .watch_events = watch_events,
};

/* ---- fixture ---- */

struct fx {
  struct event_base *base;
  struct kubelet k;
  struct fake f;
  struct kl_pods *m;
};

static int setup(void **state)
{
  struct fx *x = xcalloc(1, sizeof *x);
  x->base = event_base_new();
  x->k.base = x->base;
  x->f.rt.ops = &fake_ops;
  x->f.objects = json_object();
  x->k.rt = &x->f.rt;
  x->m = xcalloc(1, sizeof *x->m);
  x->m->k = &x->k;
  x->m->q = workqueue_new(x->base, "test");
  x->m->pleg = kl_pleg_new(x->m);
  x->k.pods = x->m;
  kl_pleg_start(x->m->pleg);
  *state = x;
  return 0;
}

static int teardown(void **state)
{
  struct fx *x = *state;
  kl_pleg_stop(x->m->pleg);
  kl_pods_free(x->m);
  json_decref(x->f.objects);
  event_base_free(x->base);
  free(x);
  return 0;
}

/* One relist, run to completion (the fake answers at once). */
static void relist(struct fx *x)
{
  kl_pleg_relist_soon(x->m->pleg);
  event_base_loop(x->base, EVLOOP_ONCE);
}

static const char *state_at(const json_t *arr, size_t i)
{
  return kj_get_str(json_array_get(arr, i), "status.state") ?: "(none)";
}

static const char *id_at(const json_t *arr, size_t i)
{
  return kj_get_str(json_array_get(arr, i), "status.id") ?: "(none)";
}

/* ---- tests ---- */

static void test_pods_newest_first(void **state)
{
  struct fx *x = *state;
  add_object(&x->f, "s1", true, "u1", KL_SANDBOX_NOTREADY, 100);
  add_object(&x->f, "s2", true, "u1", KL_SANDBOX_READY, 200);
  add_object(&x->f, "c1", false, "u1", KL_CONTAINER_EXITED, 150);
  add_object(&x->f, "c2", false, "u1", KL_CONTAINER_RUNNING, 250);
  relist(x);
  assert_true(kl_pleg_synced(x->m->pleg));
  struct kl_pod *p = kl_pod_get(x->m, "u1");
  assert_non_null(p);
  assert_null(p->pod); /* known from the runtime only */
  assert_int_equal(json_array_size(p->sandboxes), 2);
  assert_string_equal(id_at(p->sandboxes, 0), "s2");
  assert_string_equal(id_at(p->containers, 0), "c2");
  assert_string_equal(id_at(p->containers, 1), "c1");
  assert_int_equal(workqueue_len(x->m->q), 1);

  /* Nothing changed: nothing inspected again. */
  int n = x->f.inspections;
  relist(x);
  assert_int_equal(x->f.inspections, n);

  /* A state change is inspected; an object gone is dropped. */
  set_state(&x->f, "c2", KL_CONTAINER_EXITED);
  json_object_del(x->f.objects, "s1");
  relist(x);
  assert_int_equal(x->f.inspections, n + 1);
  assert_string_equal(state_at(p->containers, 0), KL_CONTAINER_EXITED);
  assert_int_equal(json_array_size(p->sandboxes), 1);
}

static void test_failed_inspection_keeps_previous_status(void **state)
{
  struct fx *x = *state;
  add_object(&x->f, "s1", true, "u1", KL_SANDBOX_READY, 100);
  add_object(&x->f, "c1", false, "u1", KL_CONTAINER_RUNNING, 150);
  add_object(&x->f, "t1", true, "u2", KL_SANDBOX_READY, 100);
  relist(x);
  struct kl_pod *p = kl_pod_get(x->m, "u1"), *q = kl_pod_get(x->m, "u2");
  assert_non_null(p);
  assert_non_null(q);

  /* The container stopped but cannot be inspected: the pod keeps the
   * running one it knew (no container "gone", nothing to start again). */
  set_state(&x->f, "c1", KL_CONTAINER_EXITED);
  set_fail(&x->f, "c1", EIO);
  set_state(&x->f, "t1", KL_SANDBOX_NOTREADY); /* another pod meanwhile */
  relist(x);
  assert_int_equal(json_array_size(p->containers), 1);
  assert_string_equal(state_at(p->containers, 0), KL_CONTAINER_RUNNING);
  assert_string_equal(state_at(q->sandboxes, 0), KL_SANDBOX_NOTREADY); /* not held back */

  /* Retried at every relist until it answers. */
  int n = x->f.inspections;
  relist(x);
  assert_int_equal(x->f.inspections, n + 1);
  assert_string_equal(state_at(p->containers, 0), KL_CONTAINER_RUNNING);
  set_fail(&x->f, "c1", 0);
  relist(x);
  assert_string_equal(state_at(p->containers, 0), KL_CONTAINER_EXITED);

  /* A new container whose first inspection fails: the pod's update waits
   * (it still shows what it had), then shows both. */
  add_object(&x->f, "c2", false, "u1", KL_CONTAINER_RUNNING, 300);
  set_fail(&x->f, "c2", EIO);
  set_state(&x->f, "s1", KL_SANDBOX_NOTREADY); /* changed in the same relist */
  relist(x);
  assert_int_equal(json_array_size(p->containers), 1);
  assert_string_equal(state_at(p->sandboxes, 0), KL_SANDBOX_READY);
  set_fail(&x->f, "c2", 0);
  relist(x);
  assert_int_equal(json_array_size(p->containers), 2);
  assert_string_equal(id_at(p->containers, 0), "c2");
  assert_string_equal(state_at(p->sandboxes, 0), KL_SANDBOX_NOTREADY);

  /* Removed between list and inspection: simply gone. */
  set_fail(&x->f, "c1", ENOENT);
  set_state(&x->f, "c1", KL_CONTAINER_RUNNING);
  relist(x);
  assert_int_equal(json_array_size(p->containers), 1);
  assert_string_equal(id_at(p->containers, 0), "c2");
}

/* The engine may log a container's exit before its OOM kill: the OOM
 * event makes the next relist inspect the container again. */
static void test_oom_event_reinspects(void **state)
{
  struct fx *x = *state;
  add_object(&x->f, "s1", true, "u1", KL_SANDBOX_READY, 100);
  add_object(&x->f, "c1", false, "u1", KL_CONTAINER_EXITED, 150);
  json_object_set_new(json_object_get(x->f.objects, "c1"), "reason", json_string("Error"));
  relist(x);
  struct kl_pod *p = kl_pod_get(x->m, "u1");
  assert_string_equal(kj_get_str(json_array_get(p->containers, 0), "status.reason"), "Error");
  json_object_set_new(json_object_get(x->f.objects, "c1"), "reason", json_string("OOMKilled"));
  relist(x); /* unchanged in the list: not inspected */
  assert_string_equal(kj_get_str(json_array_get(p->containers, 0), "status.reason"), "Error");
  json_t *ev = json_pack("{s:s, s:s}", "type", KL_CONTAINER_OOM_EVENT, "containerId", "c1");
  x->f.ev_fn(x->f.ev_arg, ev);
  json_decref(ev);
  event_base_loop(x->base, EVLOOP_ONCE);
  assert_string_equal(kj_get_str(json_array_get(p->containers, 0), "status.reason"), "OOMKilled");
  int n = x->f.inspections;
  relist(x); /* once */
  assert_int_equal(x->f.inspections, n);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_pods_newest_first, setup, teardown),
      cmocka_unit_test_setup_teardown(test_failed_inspection_keeps_previous_status, setup, teardown),
      cmocka_unit_test_setup_teardown(test_oom_event_reinspects, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
