/*
 * test_storage.c - the SQLite storage: CAS writes answered only after
 * commit, group commit, ordered list (current and at an old revision),
 * watch replay and live delivery, compaction, reopen, and a kill -9 in
 * the middle of a write stream.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <sqlite3.h>

#include "kube/json.h"
#include "storage/storage.h"

struct env {
  char dir[96];
  struct event_base *base;
  struct storage *st;
};

static struct storage *env_open(struct env *e, int64_t window_ms, size_t min_events)
{
  struct storage_opts o = {e->dir, window_ms, min_events};
  char err[256];
  e->st = storage_open_sqlite(e->base, &o, err, sizeof(err));
  if (!e->st) fail_msg("open: %s", err);
  return e->st;
}

static int setup(void **state)
{
  struct env *e = calloc(1, sizeof(*e));
  strcpy(e->dir, "/tmp/test_storage.XXXXXX");
  assert_non_null(mkdtemp(e->dir));
  strcat(e->dir, "/sub/dir"); /* created by open */
  e->base = event_base_new();
  env_open(e, 0, 0);
  *state = e;
  return 0;
}

static int teardown(void **state)
{
  struct env *e = *state;
  storage_close(e->st);
  event_base_free(e->base);
  char cmd[128];
  e->dir[strlen(e->dir) - strlen("/sub/dir")] = '\0';
  snprintf(cmd, sizeof(cmd), "rm -rf %s", e->dir);
  if (system(cmd) != 0) return -1;
  free(e);
  return 0;
}

static void reopen(struct env *e, int64_t window_ms, size_t min_events)
{
  storage_close(e->st);
  env_open(e, window_ms, min_events);
}

/* Runs the loop until every queued write is committed and answered. */
static void run(struct env *e)
{
  for (int i = 0; i < 100000 && !storage_idle(e->st); i++) event_base_loop(e->base, EVLOOP_ONCE);
  assert_true(storage_idle(e->st));
  for (int i = 0; i < 4; i++) event_base_loop(e->base, EVLOOP_NONBLOCK);
}

/* ---- write completions ---- */

struct done {
  int called, err;
  int64_t rev, create_rev, prev_rev;
  char bytes[512];
};

static void on_done(void *arg, int err, struct kv *kv, struct kv *prev)
{
  struct done *d = arg;
  d->called++;
  d->err = err;
  d->rev = kv ? kv->mod_rev : -1;
  d->create_rev = kv ? kv->create_rev : -1;
  d->prev_rev = prev ? prev->mod_rev : 0;
  snprintf(d->bytes, sizeof(d->bytes), "%s", kv ? kv->bytes : "");
}

static json_t *pod(const char *name, const char *val)
{
  return json_pack("{s:s, s:{s:s}, s:s}", "kind", "Pod", "metadata", "name", name, "val", val);
}

static int create(struct env *e, const char *key, const char *val, struct done *d)
{
  json_t *o = pod(key, val);
  int rc = storage_create(e->st, key, o, NULL, d ? on_done : NULL, d);
  json_decref(o);
  return rc;
}

static int update(struct env *e, const char *key, const char *val, int64_t exp, struct done *d)
{
  json_t *o = pod(key, val);
  int rc = storage_update(e->st, key, o, NULL, exp, d ? on_done : NULL, d);
  json_decref(o);
  return rc;
}

/* Value of "val" in the stored bytes of key, or NULL if absent. */
static const char *val_of(struct kv *kv, char *buf, size_t len)
{
  if (!kv) return NULL;
  json_t *o = kj_loadb(kv->bytes, kv->len, true, NULL, 0);
  assert_non_null(o);
  char rv[32];
  snprintf(rv, sizeof(rv), "%lld", (long long)kv->mod_rev);
  assert_string_equal(kj_get_str(o, "metadata.resourceVersion"), rv);
  snprintf(buf, len, "%s", kj_get_str(o, "val") ? kj_get_str(o, "val") : "");
  json_decref(o);
  return buf;
}

static const char *get_val(struct env *e, const char *key)
{
  static char buf[128];
  return val_of(storage_get(e->st, key), buf, sizeof(buf));
}

static void test_crud_cas(void **state)
{
  struct env *e = *state;
  struct done d = {0};
  json_t *o = pod("a", "v1");
  assert_int_equal(storage_create(e->st, "/r/pods/ns/a", o, NULL, on_done, &d), 0);
  /* queued, not committed: invisible to reads, no callback yet */
  assert_int_equal(d.called, 0);
  assert_null(storage_get(e->st, "/r/pods/ns/a"));
  assert_int_equal(storage_rev(e->st), 0);
  run(e);
  assert_int_equal(d.called, 1);
  assert_int_equal(d.err, 0);
  assert_int_equal(d.rev, 1);
  assert_int_equal(d.create_rev, 1);
  assert_string_equal(kj_get_str(o, "metadata.resourceVersion"), "1");
  json_decref(o);
  assert_string_equal(get_val(e, "/r/pods/ns/a"), "v1");
  assert_int_equal(storage_rev(e->st), 1);

  assert_int_equal(create(e, "/r/pods/ns/a", "again", &d), STORAGE_EEXIST);
  assert_int_equal(update(e, "/r/pods/ns/a", "v2", 7, &d), STORAGE_ECONFLICT);
  assert_int_equal(update(e, "/r/pods/ns/missing", "v2", 0, &d), STORAGE_ENOENT);
  json_t *bad = json_pack("{s:s}", "metadata", "x");
  assert_int_equal(storage_create(e->st, "/r/pods/ns/bad", bad, NULL, on_done, &d), -EINVAL);
  json_decref(bad);
  assert_int_equal(storage_delete(e->st, "/r/pods/ns/missing", 0, on_done, &d), STORAGE_ENOENT);

  memset(&d, 0, sizeof(d));
  assert_int_equal(update(e, "/r/pods/ns/a", "v2", 1, &d), 0);
  run(e);
  assert_int_equal(d.err, 0);
  assert_int_equal(d.rev, 2);
  assert_int_equal(d.create_rev, 1);
  assert_int_equal(d.prev_rev, 1);
  assert_string_equal(get_val(e, "/r/pods/ns/a"), "v2");

  assert_int_equal(storage_delete(e->st, "/r/pods/ns/a", 1, on_done, &d), STORAGE_ECONFLICT);
  memset(&d, 0, sizeof(d));
  assert_int_equal(storage_delete(e->st, "/r/pods/ns/a", 2, on_done, &d), 0);
  assert_non_null(storage_get(e->st, "/r/pods/ns/a"));
  run(e);
  assert_int_equal(d.called, 1);
  assert_int_equal(d.rev, 3); /* the returned object carries the deletion revision */
  assert_int_equal(d.prev_rev, 2);
  assert_non_null(strstr(d.bytes, "\"resourceVersion\":\"3\""));
  assert_non_null(strstr(d.bytes, "\"val\":\"v2\""));
  assert_null(storage_get(e->st, "/r/pods/ns/a"));
  assert_int_equal(storage_rev(e->st), 3);
  /* unconditional update and re-create after delete */
  assert_int_equal(update(e, "/r/pods/ns/a", "x", 0, &d), STORAGE_ENOENT);
  memset(&d, 0, sizeof(d));
  assert_int_equal(create(e, "/r/pods/ns/a", "v3", &d), 0);
  run(e);
  assert_int_equal(d.rev, 4);
  assert_int_equal(d.create_rev, 4);
  memset(&d, 0, sizeof(d));
  assert_int_equal(update(e, "/r/pods/ns/a", "v4", 0, &d), 0);
  run(e);
  assert_int_equal(d.rev, 5);
  assert_string_equal(get_val(e, "/r/pods/ns/a"), "v4");
}

/* Writes to one key queued in the same turn behave as if sequential. */
static void test_same_batch_sequential(void **state)
{
  struct env *e = *state;
  struct done d[5] = {{0}};
  struct storage_stats s0, s1;
  storage_get_stats(e->st, &s0);
  assert_int_equal(create(e, "/k/a", "v1", &d[0]), 0);
  assert_int_equal(create(e, "/k/a", "dup", &d[4]), STORAGE_EEXIST);
  assert_int_equal(update(e, "/k/a", "v2", 1, &d[1]), 0);
  assert_int_equal(update(e, "/k/a", "stale", 1, &d[4]), STORAGE_ECONFLICT);
  assert_int_equal(storage_delete(e->st, "/k/a", 2, on_done, &d[2]), 0);
  assert_int_equal(update(e, "/k/a", "gone", 0, &d[4]), STORAGE_ENOENT);
  assert_int_equal(create(e, "/k/a", "v3", &d[3]), 0);
  assert_null(storage_get(e->st, "/k/a"));
  run(e);
  for (int i = 0; i < 4; i++) {
    assert_int_equal(d[i].called, 1);
    assert_int_equal(d[i].err, 0);
    assert_int_equal(d[i].rev, i + 1);
  }
  assert_int_equal(d[4].called, 0);
  assert_int_equal(d[1].prev_rev, 1);
  assert_int_equal(d[2].prev_rev, 2);
  assert_int_equal(d[3].prev_rev, 0);
  assert_int_equal(d[3].create_rev, 4);
  assert_string_equal(get_val(e, "/k/a"), "v3");
  storage_get_stats(e->st, &s1);
  assert_int_equal(s1.batches - s0.batches, 1);
  assert_int_equal(s1.writes - s0.writes, 4);
}

/* Writes queued while a batch is being committed are checked against it,
 * and fail with it. */
static void test_writes_behind_inflight_batch(void **state)
{
  struct env *e = *state;
  struct done d1 = {0}, d2 = {0}, d3 = {0};
  assert_int_equal(create(e, "/k/a", "1", &d1), 0);
  event_base_loop(e->base, EVLOOP_ONCE | EVLOOP_NONBLOCK); /* hands the batch over */
  assert_false(storage_idle(e->st));
  assert_null(storage_get(e->st, "/k/a")); /* not answered yet: not visible */
  assert_int_equal(create(e, "/k/a", "dup", &d3), STORAGE_EEXIST);
  assert_int_equal(update(e, "/k/a", "2", 1, &d2), 0);
  run(e);
  assert_int_equal(d1.rev, 1);
  assert_int_equal(d2.err, 0);
  assert_int_equal(d2.rev, 2);
  assert_int_equal(d2.prev_rev, 1);
  assert_string_equal(get_val(e, "/k/a"), "2");
  struct storage_stats s;
  storage_get_stats(e->st, &s);
  assert_int_equal(s.batches, 2);

  sqlite3 *db;
  char path[128];
  snprintf(path, sizeof(path), "%s/state.db", e->dir);
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, "ALTER TABLE log RENAME TO log_away", NULL, NULL, NULL), SQLITE_OK);
  memset(&d1, 0, sizeof(d1));
  memset(&d2, 0, sizeof(d2));
  assert_int_equal(update(e, "/k/a", "3", 2, &d1), 0);
  event_base_loop(e->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
  assert_int_equal(update(e, "/k/a", "4", 3, &d2), 0);
  run(e);
  assert_int_equal(d1.err, STORAGE_EIO);
  assert_int_equal(d2.err, STORAGE_EIO); /* it depended on the failed write */
  assert_int_equal(storage_rev(e->st), 2);
  assert_string_equal(get_val(e, "/k/a"), "2");
  assert_int_equal(sqlite3_exec(db, "ALTER TABLE log_away RENAME TO log", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  assert_int_equal(update(e, "/k/a", "3", 3, &d1), STORAGE_ECONFLICT);
  memset(&d1, 0, sizeof(d1));
  assert_int_equal(update(e, "/k/a", "3", 2, &d1), 0);
  run(e);
  assert_int_equal(d1.rev, 3);
}

static int count_done;
static int64_t last_done_rev;
static void on_count(void *arg, int err, struct kv *kv, struct kv *prev)
{
  assert_int_equal(err, 0);
  assert_true(kv->mod_rev > last_done_rev); /* callbacks in revision order */
  last_done_rev = kv->mod_rev;
  count_done++;
}

static void test_group_commit(void **state)
{
  struct env *e = *state;
  struct storage_stats s0, s1;
  storage_get_stats(e->st, &s0);
  count_done = 0;
  last_done_rev = 0;
  for (int i = 0; i < 1000; i++) {
    char key[64];
    snprintf(key, sizeof(key), "/registry/pods/ns/p%04d", i);
    json_t *o = pod(key, "x");
    assert_int_equal(storage_create(e->st, key, o, "l:app=web\0\0", on_count, NULL), 0);
    json_decref(o);
  }
  assert_int_equal(count_done, 0);
  run(e);
  assert_int_equal(count_done, 1000);
  storage_get_stats(e->st, &s1);
  assert_int_equal(s1.batches - s0.batches, 1);
  assert_int_equal(s1.fsyncs - s0.fsyncs, 1);
  assert_int_equal(s1.writes - s0.writes, 1000);
  assert_int_equal(s1.keys, 1000);
  assert_int_equal(storage_rev(e->st), 1000);
  assert_string_equal(kv_label(storage_get(e->st, "/registry/pods/ns/p0500"), "app"), "web");
  /* two turns -> two batches */
  create(e, "/x/1", "a", NULL);
  run(e);
  create(e, "/x/2", "a", NULL);
  run(e);
  storage_get_stats(e->st, &s0);
  assert_int_equal(s0.batches - s1.batches, 2);
}

/* ---- list ---- */

struct collect {
  char keys[64][64];
  char vals[64][32];
  int n, stop_at;
};

static int on_visit(void *arg, struct kv *kv)
{
  struct collect *c = arg;
  snprintf(c->keys[c->n], sizeof(c->keys[0]), "%s", kv->key);
  val_of(kv, c->vals[c->n], sizeof(c->vals[0]));
  c->n++;
  return c->stop_at && c->n >= c->stop_at;
}

/* "k1=v1,k2=v2" of a list */
static const char *list_str(struct env *e, const char *prefix, int64_t rev, const char *after, int stop_at)
{
  static char out[1024];
  struct collect c = {.stop_at = stop_at};
  int rc = storage_list(e->st, prefix, rev, after, on_visit, &c);
  if (rc) snprintf(out, sizeof(out), "error %d", rc);
  else {
    out[0] = '\0';
    for (int i = 0; i < c.n; i++) {
      const char *k = c.keys[i] + strlen(prefix);
      snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s=%s", i ? "," : "", k, c.vals[i]);
    }
  }
  return out;
}

static void commit_one(struct env *e, int rc)
{
  assert_int_equal(rc, 0);
  run(e);
}

static void test_list_order_and_prefix(void **state)
{
  struct env *e = *state;
  const char *keys[] = {"/registry/pods/default2/a", "/registry/pods/default/c", "/registry/pods/default/a",
                        "/registry/pods/defaul/z",   "/registry/pods/default/b", "/registry/pods/default/b0",
                        "/registry/pods/default/",   "/registry/pods/default0/x"};
  for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) assert_int_equal(create(e, keys[i], "1", NULL), 0);
  run(e);
  static const struct {
    const char *prefix, *after;
    int stop;
    const char *want;
  } cases[] = {
      {"/registry/pods/default/", NULL, 0, "=1,a=1,b=1,b0=1,c=1"},
      {"/registry/pods/default/", "/registry/pods/default/b", 0, "b0=1,c=1"},
      {"/registry/pods/default/", "/registry/pods/default/a", 2, "b=1,b0=1"},
      {"/registry/pods/default/", "/registry/pods/default/c", 0, ""},
      {"/registry/pods/default/", "/registry/pods/defaul/z", 0, "=1,a=1,b=1,b0=1,c=1"},
      {"/registry/pods/default2/", NULL, 0, "a=1"},
      {"/registry/pods/", "/registry/pods/default0/x", 0, "default2/a=1"},
      {"/registry/nodes/", NULL, 0, ""},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    assert_string_equal(list_str(e, cases[i].prefix, 0, cases[i].after, cases[i].stop), cases[i].want);
  assert_int_equal(storage_count(e->st, "/registry/pods/default/"), 5);
  assert_int_equal(storage_count(e->st, "/registry/pods/"), 8);
  assert_int_equal(storage_count(e->st, "/registry/pods/none/"), 0);
}

/* Builds a history: returns after rev 6.
 *  1 create a=1   2 create b=1   3 create c=1
 *  4 update b=2   5 delete a     6 create d=1   7 update c=2  8 delete c */
static void build_history(struct env *e)
{
  commit_one(e, create(e, "/p/a", "1", NULL));
  commit_one(e, create(e, "/p/b", "1", NULL));
  commit_one(e, create(e, "/p/c", "1", NULL));
  commit_one(e, update(e, "/p/b", "2", 2, NULL));
  commit_one(e, storage_delete(e->st, "/p/a", 0, NULL, NULL));
  commit_one(e, create(e, "/p/d", "1", NULL));
  commit_one(e, update(e, "/p/c", "2", 0, NULL));
  commit_one(e, storage_delete(e->st, "/p/c", 0, NULL, NULL));
  assert_int_equal(storage_rev(e->st), 8);
}

static const struct {
  int64_t rev;
  const char *after;
  const char *want;
} old_lists[] = {
    {0, NULL, "b=2,d=1"},     {8, NULL, "b=2,d=1"},     {1, NULL, "a=1"},       {2, NULL, "a=1,b=1"},
    {3, NULL, "a=1,b=1,c=1"}, {4, NULL, "a=1,b=2,c=1"}, {5, NULL, "b=2,c=1"},   {6, NULL, "b=2,c=1,d=1"},
    {7, NULL, "b=2,c=2,d=1"}, {4, "/p/a", "b=2,c=1"},   {7, "/p/b", "c=2,d=1"}, {3, "/p/c", ""},
};

static void check_old_lists(struct env *e)
{
  for (size_t i = 0; i < sizeof(old_lists) / sizeof(old_lists[0]); i++)
    assert_string_equal(list_str(e, "/p/", old_lists[i].rev, old_lists[i].after, 0), old_lists[i].want);
}

static void test_list_old_revision(void **state)
{
  struct env *e = *state;
  build_history(e);
  check_old_lists(e);
  /* keys outside the prefix changed after the listed revision do not leak in */
  commit_one(e, create(e, "/q/a", "1", NULL));
  assert_string_equal(list_str(e, "/p/", 3, NULL, 0), "a=1,b=1,c=1");
  /* a stopping visitor stops in the overlay too */
  assert_string_equal(list_str(e, "/p/", 3, NULL, 2), "a=1,b=1");
}

/* ---- watch ---- */

struct wrec {
  char log[2048];
  int n;
  struct storage_watch *self, *other;
  bool cancel_self, cancel_other;
};

static void on_event(void *arg, enum storage_event_type type, struct kv *kv, struct kv *prev)
{
  struct wrec *w = arg;
  static const char *names[] = {"", "ADDED", "MODIFIED", "DELETED"};
  char v[32], pv[32];
  val_of(kv, v, sizeof(v));
  snprintf(w->log + strlen(w->log), sizeof(w->log) - strlen(w->log), "%s%s %s@%lld=%s<%s", w->n ? "," : "", names[type],
           kv->key, (long long)kv->mod_rev, v, prev ? val_of(prev, pv, sizeof(pv)) : "");
  w->n++;
  if (w->cancel_other && w->other) {
    storage_watch_cancel(w->other);
    w->other = NULL;
  }
  if (w->cancel_self) {
    storage_watch_cancel(w->self);
    w->self = NULL;
  }
}

static void test_watch_replay_then_live(void **state)
{
  struct env *e = *state;
  build_history(e);
  struct wrec w = {0};
  int err = 1;
  w.self = storage_watch(e->st, "/p/", 3, on_event, &w, &err);
  assert_non_null(w.self);
  assert_int_equal(err, 0);
  assert_int_equal(w.n, 0); /* replay happens from the loop, not inside the call */
  run(e);
  assert_string_equal(w.log, "MODIFIED /p/b@4=2<1,DELETED /p/a@5=1<1,ADDED /p/d@6=1<,"
                             "MODIFIED /p/c@7=2<1,DELETED /p/c@8=2<2");
  w.log[0] = '\0';
  w.n = 0;
  commit_one(e, create(e, "/other/x", "1", NULL));
  commit_one(e, create(e, "/p/e", "1", NULL));
  assert_string_equal(w.log, "ADDED /p/e@10=1<");
  /* an event queued but not committed is not delivered */
  assert_int_equal(create(e, "/p/f", "1", NULL), 0);
  assert_int_equal(w.n, 1);
  run(e);
  assert_int_equal(w.n, 2);

  /* from 0: only new events; from the future: waits */
  struct wrec now = {0}, fut = {0};
  now.self = storage_watch(e->st, "/p/", 0, on_event, &now, &err);
  fut.self = storage_watch(e->st, "/p/", storage_rev(e->st) + 1, on_event, &fut, &err);
  assert_non_null(fut.self);
  run(e);
  assert_int_equal(now.n, 0);
  commit_one(e, create(e, "/p/g", "1", NULL));
  commit_one(e, create(e, "/p/h", "1", NULL));
  assert_string_equal(now.log, "ADDED /p/g@12=1<,ADDED /p/h@13=1<");
  assert_string_equal(fut.log, "ADDED /p/h@13=1<");
  storage_watch_cancel(now.self);
  storage_watch_cancel(fut.self);
  storage_watch_cancel(w.self);
  commit_one(e, create(e, "/p/i", "1", NULL));
  assert_int_equal(now.n, 2);
}

/* A callback cancelling its own watch and another watcher during delivery. */
static void test_watch_cancel_in_callback(void **state)
{
  struct env *e = *state;
  struct wrec a = {0}, b = {0}, c = {0};
  int err;
  a.self = storage_watch(e->st, "/p/", 0, on_event, &a, &err);
  b.self = storage_watch(e->st, "/p/", 0, on_event, &b, &err);
  c.self = storage_watch(e->st, "/p/", 0, on_event, &c, &err);
  a.other = b.self;
  a.cancel_other = true;
  a.cancel_self = true;
  /* two events in one batch: a sees only the first, b sees nothing, c both */
  assert_int_equal(create(e, "/p/1", "1", NULL), 0);
  assert_int_equal(create(e, "/p/2", "1", NULL), 0);
  run(e);
  assert_int_equal(a.n, 1);
  assert_int_equal(b.n, 0);
  assert_int_equal(c.n, 2);
  /* cancelling during history replay */
  struct wrec r = {.cancel_self = true};
  r.self = storage_watch(e->st, "/p/", 0 + 0, on_event, &r, &err);
  storage_watch_cancel(r.self);
  struct wrec r2 = {.cancel_self = true};
  r2.self = storage_watch(e->st, "/p/", 0, on_event, &r2, &err);
  storage_watch_cancel(r2.self);
  struct wrec r3 = {.cancel_self = true};
  r3.self = storage_watch(e->st, "/", 0, on_event, &r3, &err);
  assert_non_null(r3.self);
  storage_watch_cancel(c.self);
  struct wrec h = {.cancel_self = true};
  h.self = storage_watch(e->st, "/p/", 0, on_event, &h, &err);
  storage_watch_cancel(h.self);
  struct wrec h2 = {.cancel_self = true};
  int64_t before = storage_rev(e->st);
  commit_one(e, create(e, "/p/3", "1", NULL));
  h2.self = storage_watch(e->st, "/p/", before - 1, on_event, &h2, &err);
  run(e);
  assert_int_equal(h2.n, 1); /* cancelled itself after the first replayed event */
  assert_int_equal(r3.n, 1);
}

static void fan_count(void *arg, enum storage_event_type type, struct kv *kv, struct kv *prev) { (*(int *)arg)++; }

static void test_watch_fanout(void **state)
{
  struct env *e = *state;
  enum { N = 1000 };
  static int counts[N];
  static struct storage_watch *ws[N];
  int err;
  for (int i = 0; i < N; i++) {
    counts[i] = 0;
    ws[i] = storage_watch(e->st, i % 2 ? "/registry/pods/" : "/registry/pods/default/", 0, fan_count, &counts[i], &err);
    assert_non_null(ws[i]);
  }
  create(e, "/registry/pods/default/a", "1", NULL);
  create(e, "/registry/pods/kube-system/b", "1", NULL);
  create(e, "/registry/nodes/n1", "1", NULL);
  run(e);
  for (int i = 0; i < N; i++) {
    assert_int_equal(counts[i], i % 2 ? 2 : 1);
    storage_watch_cancel(ws[i]);
  }
}

/* ---- compaction ---- */

static void test_compaction_expires(void **state)
{
  struct env *e = *state;
  reopen(e, 1, 2); /* 1 ms window, keep at least 2 events */
  build_history(e);
  usleep(5000);
  assert_int_equal(storage_compact_now(e->st), 0);
  run(e);
  assert_int_equal(storage_oldest_rev(e->st), 6);
  struct storage_stats s;
  storage_get_stats(e->st, &s);
  assert_int_equal(s.history_events, 2);
  int err = 0;
  struct wrec w = {0};
  assert_null(storage_watch(e->st, "/p/", 5, on_event, &w, &err));
  assert_int_equal(err, STORAGE_EEXPIRED);
  assert_string_equal(list_str(e, "/p/", 5, NULL, 0), "error -62");
  assert_string_equal(list_str(e, "/p/", 6, NULL, 0), "b=2,c=1,d=1");
  assert_string_equal(list_str(e, "/p/", 7, NULL, 0), "b=2,c=2,d=1");
  w.self = storage_watch(e->st, "/p/", 6, on_event, &w, &err);
  assert_non_null(w.self);
  run(e);
  assert_string_equal(w.log, "MODIFIED /p/c@7=2<1,DELETED /p/c@8=2<2");
  storage_watch_cancel(w.self);
  /* what compaction deleted from disk leaves the same state after reopen */
  reopen(e, 1, 2);
  assert_int_equal(storage_rev(e->st), 8);
  assert_int_equal(storage_oldest_rev(e->st), 6);
  assert_string_equal(list_str(e, "/p/", 0, NULL, 0), "b=2,d=1");
  assert_string_equal(list_str(e, "/p/", 6, NULL, 0), "b=2,c=1,d=1");
  /* compact everything but the minimum; the last write was a delete */
  usleep(5000);
  commit_one(e, create(e, "/p/z", "1", NULL));
  commit_one(e, storage_delete(e->st, "/p/z", 0, NULL, NULL));
  reopen(e, 1, 1);
  usleep(5000);
  assert_int_equal(storage_compact_now(e->st), 0);
  run(e);
  assert_int_equal(storage_oldest_rev(e->st), 9);
  reopen(e, 1, 1);
  assert_int_equal(storage_rev(e->st), 10);
  assert_string_equal(list_str(e, "/p/", 0, NULL, 0), "b=2,d=1");
  sqlite3 *db;
  char path[128];
  snprintf(path, sizeof(path), "%s/state.db", e->dir);
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_stmt *q;
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM log", -1, &q, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  /* b@4 and d@6 (current), z@9 (what a read at the compacted revision
   * sees) and the delete at 10 (in history) */
  assert_int_equal(sqlite3_column_int(q, 0), 4);
  sqlite3_finalize(q);
  sqlite3_close(db);
  /* the timer compacts by itself (interval: half the window, >= 10 ms) */
  reopen(e, 1, 1);
  commit_one(e, create(e, "/p/w", "1", NULL));
  commit_one(e, create(e, "/p/v", "1", NULL));
  struct timeval tv = {0, 100000};
  event_base_loopexit(e->base, &tv);
  event_base_dispatch(e->base);
  assert_int_equal(storage_oldest_rev(e->st), 11);
  /* the window keeps recent events: nothing is dropped */
  reopen(e, 60000, 1);
  commit_one(e, create(e, "/p/y", "1", NULL));
  commit_one(e, create(e, "/p/x", "1", NULL));
  assert_int_equal(storage_compact_now(e->st), 0);
  run(e);
  assert_int_equal(storage_oldest_rev(e->st), 11);
}

/* ---- durability ---- */

static void test_reopen_keeps_state_and_history(void **state)
{
  struct env *e = *state;
  build_history(e);
  int64_t rev = storage_rev(e->st);
  reopen(e, 0, 0);
  assert_int_equal(storage_rev(e->st), rev); /* the last write was a delete */
  assert_string_equal(list_str(e, "/p/", 0, NULL, 0), "b=2,d=1");
  check_old_lists(e);
  assert_int_equal(storage_get(e->st, "/p/b")->create_rev, 2);
  struct wrec w = {0};
  int err;
  w.self = storage_watch(e->st, "/p/", 5, on_event, &w, &err);
  assert_non_null(w.self);
  run(e);
  assert_string_equal(w.log, "ADDED /p/d@6=1<,MODIFIED /p/c@7=2<1,DELETED /p/c@8=2<2");
  commit_one(e, create(e, "/p/n", "1", NULL));
  assert_int_equal(storage_get(e->st, "/p/n")->mod_rev, 9);
  assert_int_equal(w.n, 4);
}

static void test_commit_failure_fails_batch(void **state)
{
  struct env *e = *state;
  commit_one(e, create(e, "/p/a", "1", NULL));
  sqlite3 *db;
  char path[128];
  snprintf(path, sizeof(path), "%s/state.db", e->dir);
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, "ALTER TABLE log RENAME TO log_away", NULL, NULL, NULL), SQLITE_OK);
  struct done d1 = {0}, d2 = {0};
  struct wrec w = {0};
  int err;
  w.self = storage_watch(e->st, "/p/", 0, on_event, &w, &err);
  assert_int_equal(update(e, "/p/a", "2", 1, &d1), 0);
  assert_int_equal(create(e, "/p/b", "1", &d2), 0);
  run(e);
  assert_int_equal(d1.called, 1);
  assert_int_equal(d1.err, STORAGE_EIO);
  assert_int_equal(d2.err, STORAGE_EIO);
  assert_int_equal(w.n, 0);
  assert_int_equal(storage_rev(e->st), 1);
  assert_string_equal(get_val(e, "/p/a"), "1");
  assert_null(storage_get(e->st, "/p/b"));
  /* once the disk is back, the revisions handed back are reused */
  assert_int_equal(sqlite3_exec(db, "ALTER TABLE log_away RENAME TO log", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  memset(&d1, 0, sizeof(d1));
  assert_int_equal(update(e, "/p/a", "2", 1, &d1), 0);
  run(e);
  assert_int_equal(d1.err, 0);
  assert_int_equal(d1.rev, 2);
  assert_string_equal(w.log, "MODIFIED /p/a@2=2<1");
  storage_watch_cancel(w.self);
  reopen(e, 0, 0);
  assert_string_equal(get_val(e, "/p/a"), "2");
}

/* The child's write stream, per step i: create k<i> (version 1), update
 * k<i-1> to version 2, and on every fifth step delete k<i-2>.  Each
 * acknowledged write is reported through a pipe as {key, version}, with
 * version 0 for a delete. */
static int ack_fd;
struct ack {
  int key, ver;
};

static void child_ack(void *arg, int err, struct kv *kv, struct kv *prev)
{
  if (err) _exit(3);
  struct ack a = {(int)((intptr_t)arg >> 4), (int)((intptr_t)arg & 15)};
  if (write(ack_fd, &a, sizeof(a)) != sizeof(a)) _exit(4);
}

static bool deleted_later(int k) { return (k + 2) % 5 == 0; }

static json_t *crash_obj(int k, int ver)
{
  char val[32];
  snprintf(val, sizeof(val), "%d", ver);
  return json_pack("{s:{s:i}, s:s, s:s}", "metadata", "idx", k, "val", val, "pad",
                   "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
}

static struct storage *child_st;
static int child_next;
static void child_tick(evutil_socket_t fd, short what, void *arg)
{
  for (int n = 0; n < 10; n++) {
    int i = child_next++;
    char key[64];
    snprintf(key, sizeof(key), "/crash/k%06d", i);
    json_t *o = crash_obj(i, 1);
    if (storage_create(child_st, key, o, NULL, child_ack, (void *)(intptr_t)(i << 4 | 1)) != 0) _exit(2);
    json_decref(o);
    if (i >= 1) {
      snprintf(key, sizeof(key), "/crash/k%06d", i - 1);
      o = crash_obj(i - 1, 2);
      if (storage_update(child_st, key, o, NULL, 0, child_ack, (void *)(intptr_t)((i - 1) << 4 | 2))) _exit(2);
      json_decref(o);
    }
    if (i >= 2 && i % 5 == 0) {
      snprintf(key, sizeof(key), "/crash/k%06d", i - 2);
      if (storage_delete(child_st, key, 0, child_ack, (void *)(intptr_t)((i - 2) << 4))) _exit(2);
    }
  }
}

static void test_kill9_keeps_acked_writes(void **state)
{
  struct env *e = *state;
  storage_close(e->st);
  e->st = NULL;
  int p[2];
  assert_int_equal(pipe(p), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(p[0]);
    ack_fd = p[1];
    struct event_base *b = event_base_new();
    struct storage_opts o = {e->dir, 0, 0};
    char err[256];
    child_st = storage_open_sqlite(b, &o, err, sizeof(err));
    if (!child_st) _exit(1);
    struct event *t = event_new(b, -1, EV_PERSIST, child_tick, NULL);
    struct timeval tv = {0, 200};
    event_add(t, &tv);
    event_base_dispatch(b);
    _exit(5);
  }
  close(p[1]);
  enum { MAXK = 1 << 18 };
  static signed char last[MAXK]; /* last acknowledged version; -1 = none */
  memset(last, -1, sizeof(last));
  int got = 0;
  struct ack a;
  while (got < 6000 && read(p[0], &a, sizeof(a)) == sizeof(a)) {
    assert_true(a.key >= 0 && a.key < MAXK);
    last[a.key] = (signed char)a.ver;
    got++;
  }
  kill(pid, SIGKILL);
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFSIGNALED(status));
  while (read(p[0], &a, sizeof(a)) == sizeof(a)) {
    last[a.key] = (signed char)a.ver;
    got++;
  }
  close(p[0]);
  assert_true(got >= 6000);
  env_open(e, 0, 0);
  /* Every acknowledged write is there (or a later one of the same key,
   * committed but killed before its acknowledgement); everything there
   * is whole. */
  int present = 0, checked = 0;
  for (int k = 0; k < MAXK; k++) {
    char key[64];
    snprintf(key, sizeof(key), "/crash/k%06d", k);
    struct kv *kv = storage_get(e->st, key);
    char v[32];
    if (kv) {
      present++;
      int ver = atoi(val_of(kv, v, sizeof(v)));
      assert_true(ver == 1 || ver == 2);
      assert_true(last[k] != 0); /* an acknowledged delete stays deleted */
      assert_true(ver >= last[k]);
    } else if (last[k] > 0) {
      assert_true(deleted_later(k)); /* only a later delete may remove it */
    }
    checked += last[k] >= 0;
  }
  assert_true(checked > 1000);
  assert_int_equal(present, (int)storage_count(e->st, "/crash/"));
  /* the store keeps working after the crash */
  int64_t rev = storage_rev(e->st);
  commit_one(e, create(e, "/crash/after", "1", NULL));
  assert_int_equal(storage_get(e->st, "/crash/after")->mod_rev, rev + 1);
}

static void test_attrs(void **state)
{
  json_t *labels = json_pack("{s:s, s:s}", "app", "web", "app.kubernetes.io/name", "x");
  const char *fields[] = {"spec.nodeName", "n1", "status.phase", NULL, NULL};
  char *a = storage_attrs_build(labels, fields);
  assert_non_null(a);
  struct kv *kv = NULL;
  json_t *o = pod("a", "1");
  struct env *e = *state;
  commit_one(e, storage_create(e->st, "/a/a", o, a, NULL, NULL));
  kv = storage_get(e->st, "/a/a");
  static const struct {
    bool label;
    const char *name, *want;
  } cases[] = {
      {true, "app", "web"},          {true, "app.kubernetes.io/name", "x"}, {true, "ap", NULL},
      {true, "spec.nodeName", NULL}, {false, "spec.nodeName", "n1"},        {false, "status.phase", ""},
      {false, "app", NULL},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const char *got = cases[i].label ? kv_label(kv, cases[i].name) : kv_field(kv, cases[i].name);
    if (cases[i].want) assert_string_equal(got, cases[i].want);
    else assert_null(got);
  }
  /* attributes survive a reopen */
  reopen(e, 0, 0);
  assert_string_equal(kv_field(storage_get(e->st, "/a/a"), "spec.nodeName"), "n1");
  char *none = storage_attrs_build(NULL, NULL);
  assert_non_null(none);
  assert_int_equal(none[0], '\0');
  free(none);
  free(a);
  json_decref(o);
  json_decref(labels);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_crud_cas, setup, teardown),
      cmocka_unit_test_setup_teardown(test_same_batch_sequential, setup, teardown),
      cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_writes_behind_inflight_batch, setup, teardown),
      cmocka_unit_test_setup_teardown(test_list_order_and_prefix, setup, teardown),
      cmocka_unit_test_setup_teardown(test_list_old_revision, setup, teardown),
      cmocka_unit_test_setup_teardown(test_watch_replay_then_live, setup, teardown),
      cmocka_unit_test_setup_teardown(test_watch_cancel_in_callback, setup, teardown),
      cmocka_unit_test_setup_teardown(test_watch_fanout, setup, teardown),
      cmocka_unit_test_setup_teardown(test_compaction_expires, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reopen_keeps_state_and_history, setup, teardown),
      cmocka_unit_test_setup_teardown(test_commit_failure_fails_batch, setup, teardown),
      cmocka_unit_test_setup_teardown(test_kill9_keeps_acked_writes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_attrs, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
