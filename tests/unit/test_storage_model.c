/*
 * test_storage_model.c - the storage against a model: a random sequence of
 * creates, updates and deletes (several per loop turn, so batches mix
 * writes to the same key) is mirrored in plain arrays.  Then every
 * revision is listed and compared with the model's state at that
 * revision, a watch from every revision is compared with the model's
 * event log, and both checks are repeated after a reopen and after
 * compaction.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "kube/json.h"
#include "storage/storage.h"

enum { NKEYS = 12, NREVS = 400 };

/* state[r][k]: revision of key k's value at revision r, 0 = absent */
static int64_t state[NREVS + 1][NKEYS];
struct mev {
  int type, key;
  int64_t prev_rev;
};
static struct mev events[NREVS + 1]; /* events[r]: the write of revision r */
static int64_t rev;

static char dir[64];
static struct event_base *base;
static struct storage *st;

static void key_name(int k, char *buf, size_t len)
{
  /* two prefixes, so lists and watches of "/m/" must skip "/n/" */
  snprintf(buf, len, "%s/k%02d", k % 4 == 3 ? "/n" : "/m", k);
}

static void open_store(int64_t window_ms, size_t min_events)
{
  struct storage_opts o = {dir, window_ms, min_events};
  char err[256];
  st = storage_open_sqlite(base, &o, err, sizeof(err));
  if (!st) fail_msg("open: %s", err);
}

static void run(void)
{
  while (!storage_idle(st)) event_base_loop(base, EVLOOP_ONCE);
  for (int i = 0; i < 4; i++) event_base_loop(base, EVLOOP_NONBLOCK);
}

static void on_done(void *arg, int err, struct kv *kv, struct kv *prev)
{
  assert_int_equal(err, 0);
  assert_int_equal(kv->mod_rev, (int64_t)(intptr_t)arg);
}

static void build(void)
{
  srand(12345);
  memset(state, 0, sizeof(state));
  rev = 0;
  while (rev < NREVS) {
    int nops = 1 + rand() % 8;
    for (int i = 0; i < nops && rev < NREVS; i++) {
      int k = rand() % NKEYS;
      char key[32];
      key_name(k, key, sizeof(key));
      int64_t cur = state[rev][k];
      int64_t r = rev + 1;
      char val[32];
      snprintf(val, sizeof(val), "r%lld", (long long)r);
      json_t *o = json_pack("{s:{s:s}, s:s}", "metadata", "name", key, "val", val);
      int rc, type;
      if (!cur) {
        type = EV_ADDED;
        rc = storage_create(st, key, o, NULL, on_done, (void *)(intptr_t)r);
      } else if (rand() % 3 == 0) {
        type = EV_DELETED;
        if (rand() % 5 == 0) /* a stale expectation is refused at once */
          assert_int_equal(storage_delete(st, key, cur + 1, on_done, NULL), STORAGE_ECONFLICT);
        rc = storage_delete(st, key, rand() % 2 ? cur : 0, on_done, (void *)(intptr_t)r);
      } else {
        type = EV_MODIFIED;
        if (rand() % 5 == 0)
          assert_int_equal(storage_update(st, key, o, NULL, cur - 1, on_done, NULL), STORAGE_ECONFLICT);
        rc = storage_update(st, key, o, NULL, rand() % 2 ? cur : 0, on_done, (void *)(intptr_t)r);
      }
      json_decref(o);
      assert_int_equal(rc, 0);
      memcpy(state[r], state[rev], sizeof(state[r]));
      state[r][k] = type == EV_DELETED ? 0 : r;
      events[r] = (struct mev){type, k, cur};
      rev = r;
    }
    run();
  }
  assert_int_equal(storage_rev(st), NREVS);
}

struct lst {
  int64_t r;
  int n;
};

static int on_visit(void *arg, struct kv *kv)
{
  struct lst *l = arg;
  int k = atoi(strrchr(kv->key, 'k') + 1);
  assert_true(strncmp(kv->key, "/m/", 3) == 0);
  assert_int_equal(kv->mod_rev, state[l->r][k]);
  char want[32];
  snprintf(want, sizeof(want), "\"val\":\"r%lld\"", (long long)kv->mod_rev);
  assert_non_null(strstr(kv->bytes, want));
  l->n++;
  return 0;
}

static void check_lists(int64_t from)
{
  for (int64_t r = from; r <= NREVS; r++) {
    struct lst l = {r, 0};
    assert_int_equal(storage_list(st, "/m/", r, NULL, on_visit, &l), 0);
    int want = 0;
    for (int k = 0; k < NKEYS; k++) want += state[r][k] && k % 4 != 3;
    assert_int_equal(l.n, want);
  }
  if (from > 1) {
    struct lst l = {from - 1, 0};
    assert_int_equal(storage_list(st, "/m/", from - 1, NULL, on_visit, &l), STORAGE_EEXPIRED);
  }
}

struct wch {
  int64_t next; /* next revision expected */
};

static void on_event(void *arg, enum storage_event_type type, struct kv *kv, struct kv *prev)
{
  struct wch *w = arg;
  while (w->next <= NREVS && events[w->next].key % 4 == 3) w->next++; /* not under the watched prefix */
  assert_true(w->next <= NREVS);
  const struct mev *e = &events[w->next];
  char key[32];
  key_name(e->key, key, sizeof(key));
  assert_int_equal(kv->mod_rev, w->next);
  assert_int_equal(type, e->type);
  assert_string_equal(kv->key, key);
  assert_int_equal(prev ? prev->mod_rev : 0, e->prev_rev);
  w->next++;
}

static void check_watches(int64_t from)
{
  static struct wch ws[NREVS + 1];
  static struct storage_watch *h[NREVS + 1];
  for (int64_t r = from; r <= NREVS; r++) {
    int err;
    ws[r].next = r + 1;
    h[r] = storage_watch(st, "/m/", r, on_event, &ws[r], &err);
    assert_non_null(h[r]);
  }
  run();
  for (int64_t r = from; r <= NREVS; r++) {
    while (ws[r].next <= NREVS && events[ws[r].next].key % 4 == 3) ws[r].next++;
    assert_int_equal(ws[r].next, NREVS + 1);
    storage_watch_cancel(h[r]);
  }
}

static void test_model(void **state_)
{
  strcpy(dir, "/tmp/test_storage_model.XXXXXX");
  assert_non_null(mkdtemp(dir));
  base = event_base_new();
  open_store(60000, 100);
  build();
  check_lists(1);
  check_watches(1);
  storage_close(st);
  open_store(60000, 100);
  check_lists(1);
  check_watches(1);
  storage_close(st);
  open_store(1, 100);
  usleep(3000);
  assert_int_equal(storage_compact_now(st), 0);
  run();
  assert_int_equal(storage_oldest_rev(st), NREVS - 100);
  check_lists(NREVS - 100);
  check_watches(NREVS - 100);
  storage_close(st);
  open_store(1, 100);
  assert_int_equal(storage_oldest_rev(st), NREVS - 100);
  check_lists(NREVS - 100);
  check_watches(NREVS - 100);
  storage_close(st);
  event_base_free(base);
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_model),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
