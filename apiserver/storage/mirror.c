/*
 * mirror.c - list-then-watch of a few key prefixes into an owner's index
 * (mirror.h).
 */
#include "storage/mirror.h"

#include <stdlib.h>
#include <string.h>

#include <kube/json.h>
#include <kube/log.h>
#include <kube/xalloc.h>

#include "storage/storage.h"

#define MIRROR_MAX_PREFIXES 8

struct storage_mirror {
  struct storage *st;
  const char *const *prefixes;
  size_t n;
  storage_mirror_apply_fn apply;
  storage_mirror_reset_fn reset;
  void *arg;
  const char *what; /* for logs: "rbac", "node authorizer" */
  struct storage_watch *watch[MIRROR_MAX_PREFIXES];
};

static void apply_kv(struct storage_mirror *m, enum storage_event_type type, const struct kv *kv)
{
  for (size_t i = 0; i < m->n; i++) {
    size_t plen = strlen(m->prefixes[i]);
    if (strncmp(kv->key, m->prefixes[i], plen) != 0) continue;
    if (type == EV_DELETED) {
      m->apply(m->arg, i, kv->key + plen, NULL);
      return;
    }
    json_t *obj = kj_loadb(kv->bytes, kv->len, false, NULL, 0);
    if (!obj) {
      KLOG_E("%s: stored %s is not JSON", m->what, kv->key);
      return;
    }
    m->apply(m->arg, i, kv->key + plen, obj);
    json_decref(obj);
    return;
  }
}

static void on_event(void *arg, enum storage_event_type type, struct kv *kv, struct kv *prev)
{
  (void)prev;
  apply_kv(arg, type, kv);
}

static int on_list(void *arg, struct kv *kv)
{
  apply_kv(arg, EV_ADDED, kv);
  return 0;
}

static void watches_cancel(struct storage_mirror *m)
{
  for (size_t i = 0; i < m->n; i++) {
    if (m->watch[i]) storage_watch_cancel(m->watch[i]);
    m->watch[i] = NULL;
  }
}

static int sync(struct storage_mirror *m)
{
  for (int attempt = 0; attempt < 2; attempt++) {
    watches_cancel(m);
    m->reset(m->arg);
    int64_t rev = storage_rev(m->st);
    int err = 0;
    for (size_t i = 0; i < m->n && !err; i++) err = storage_list(m->st, m->prefixes[i], 0, NULL, on_list, m);
    if (err) return err;
    for (size_t i = 0; i < m->n && !err; i++)
      if (!(m->watch[i] = storage_watch(m->st, m->prefixes[i], rev, on_event, m, &err)) && !err) err = STORAGE_EIO;
    if (!err) return 0;
    if (err != STORAGE_EEXPIRED) return err;
  }
  return STORAGE_EEXPIRED;
}

struct storage_mirror *storage_mirror_new(struct storage *st, const char *const *prefixes, size_t n,
                                          storage_mirror_apply_fn apply, storage_mirror_reset_fn reset, void *arg,
                                          const char *what, int *err)
{
  if (n > MIRROR_MAX_PREFIXES) {
    *err = STORAGE_EIO;
    return NULL;
  }
  struct storage_mirror *m = xcalloc(1, sizeof *m);
  *m = (struct storage_mirror){
      .st = st, .prefixes = prefixes, .n = n, .apply = apply, .reset = reset, .arg = arg, .what = what};
  *err = sync(m);
  if (*err) {
    watches_cancel(m);
    m->reset(m->arg);
    free(m);
    return NULL;
  }
  return m;
}

void storage_mirror_free(struct storage_mirror *m)
{
  if (!m) return;
  watches_cancel(m);
  free(m);
}
