/*
 * write.c - the write path: compare-and-swap, revisions, the queue of the
 * next batch, and applying a batch once it is durable.
 *
 * A write is checked and numbered at once, against the newest view: the
 * committed state overlaid with every write queued or being committed
 * (st->pend), so writes to one key in the same batch, or in the batch
 * behind one being committed, behave as if sequential.  Reads never see
 * that view; they see the cache, which changes only in
 * write_finish_batch, after COMMIT returned.
 *
 * The first write of a loop turn activates a zero-timeout event.  It runs
 * after the callbacks already due in this turn, so every request read in
 * the turn joins the same batch.  If a batch is still being committed, the
 * new one waits and is handed over as soon as the first finishes: a batch
 * grows for as long as the previous commit takes.
 *
 * If a commit fails, its writes and the writes queued behind it (they were
 * checked against a state that never became durable) all fail with
 * STORAGE_EIO, and the revisions they took are handed back.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "kube/json.h"
#include "kube/log.h"
#include "storage/storage_internal.h"
#include "kube/xalloc.h"

#define PEND_DELETE ((uintptr_t)1)

static void *pend_val(struct kv *kv, uint8_t type)
{
  return (void *)((uintptr_t)kv | (type == EV_DELETED ? PEND_DELETE : 0));
}

/* Newest view of key; NULL if absent there. */
static struct kv *newest(struct storage *st, const char *key)
{
  uintptr_t v = (uintptr_t)skmap_get(&st->pend, key);
  if (v) return (v & PEND_DELETE) ? NULL : (struct kv *)v;
  return storage_get(st, key);
}

/* Queues a write; takes over kv, takes a new reference to prev. */
static int enqueue(struct storage *st, uint8_t type, struct kv *kv, struct kv *prev, storage_done_fn cb, void *arg)
{
  if (st->nbatch == st->capbatch) {
    size_t ncap = st->capbatch ? st->capbatch * 2 : 256;
    struct pending_write *nb = xrealloc(st->batch, ncap * sizeof(*nb));
    if (!nb) return -ENOMEM;
    st->batch = nb;
    st->capbatch = ncap;
  }
  int err;
  skmap_put(&st->pend, kv->key, pend_val(kv, type), &err);
  if (err) return -ENOMEM;
  kv_ref(prev);
  st->batch[st->nbatch++] = (struct pending_write){type, kv, prev, cb, arg};
  st->next_rev++;
  if (!st->flush_scheduled && !st->closing) {
    st->flush_scheduled = true;
    event_active(st->flush_ev, EV_TIMEOUT, 1);
  }
  return 0;
}

/* Sets metadata.resourceVersion in obj and builds the stored value. */
static struct kv *make_kv(const char *key, json_t *obj, const char *attrs, int64_t rev, int64_t create_rev)
{
  char rv[24];
  snprintf(rv, sizeof(rv), "%" PRId64, rev);
  if (kj_set_str(obj, "metadata.resourceVersion", rv) < 0) return NULL;
  char *bytes = kj_dumps(obj);
  if (!bytes) return NULL;
  struct kv *kv = kv_new(key, bytes, strlen(bytes), attrs, rev, create_rev);
  free(bytes);
  return kv;
}

static int write_obj(struct storage *st, uint8_t type, const char *key, json_t *obj, const char *attrs, struct kv *prev,
                     storage_done_fn cb, void *arg)
{
  json_t *md = json_object_get(obj, "metadata");
  if (md && !json_is_object(md)) return -EINVAL;
  int64_t rev = st->next_rev + 1;
  struct kv *kv = make_kv(key, obj, attrs, rev, prev ? prev->create_rev : rev);
  if (!kv) return -ENOMEM;
  int rc = enqueue(st, type, kv, prev, cb, arg);
  if (rc < 0) kv_unref(kv);
  return rc;
}

int storage_create(struct storage *st, const char *key, json_t *obj, const char *attrs, storage_done_fn cb, void *arg)
{
  if (!key || !json_is_object(obj)) return -EINVAL;
  if (newest(st, key)) return STORAGE_EEXIST;
  return write_obj(st, EV_ADDED, key, obj, attrs, NULL, cb, arg);
}

int storage_update(struct storage *st, const char *key, json_t *obj, const char *attrs, int64_t expected_rev,
                   storage_done_fn cb, void *arg)
{
  if (!key || !json_is_object(obj)) return -EINVAL;
  struct kv *cur = newest(st, key);
  if (!cur) return STORAGE_ENOENT;
  if (expected_rev && cur->mod_rev != expected_rev) return STORAGE_ECONFLICT;
  return write_obj(st, EV_MODIFIED, key, obj, attrs, cur, cb, arg);
}

/* The DELETED value: the last bytes with resourceVersion set to the
 * deletion's revision.  The bytes are re-parsed rather than patched as
 * text, since nested objects (an Event's involvedObject) also carry a
 * resourceVersion field. */
int storage_delete(struct storage *st, const char *key, int64_t expected_rev, storage_done_fn cb, void *arg)
{
  if (!key) return -EINVAL;
  struct kv *cur = newest(st, key);
  if (!cur) return STORAGE_ENOENT;
  if (expected_rev && cur->mod_rev != expected_rev) return STORAGE_ECONFLICT;
  int64_t rev = st->next_rev + 1;
  struct kv *kv;
  json_t *obj = kj_loadb(cur->bytes, cur->len, false, NULL, 0);
  if (json_is_object(obj)) kv = make_kv(key, obj, cur->attrs, rev, cur->create_rev);
  else kv = kv_new(key, cur->bytes, cur->len, cur->attrs, rev, cur->create_rev);
  json_decref(obj);
  if (!kv) return -ENOMEM;
  int rc = enqueue(st, EV_DELETED, kv, cur, cb, arg);
  if (rc < 0) kv_unref(kv);
  return rc;
}

bool storage_idle(const struct storage *st) { return !st->inflight && !st->nbatch && !st->compact_job; }

void write_start_batch(struct storage *st)
{
  if (st->inflight || !st->nbatch) return;
  struct commit_job *job = xcalloc(1, sizeof(*job));
  if (!job) return; /* retried by the next write's flush or the next finished job */
  job->kind = JOB_BATCH;
  job->b = st->batch;
  job->n = st->nbatch;
  job->first_rev = st->rev + 1;
  job->ts_ms = storage_now_ms();
  st->batch = NULL;
  st->nbatch = st->capbatch = 0;
  sq_submit(st, job);
}

void write_flush_cb(int fd, short what, void *arg)
{
  struct storage *st = arg;
  st->flush_scheduled = false;
  write_start_batch(st);
}

/* Fails writes (rc != 0) and drops their references. */
static void fail_writes(struct pending_write *b, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    if (b[i].cb) b[i].cb(b[i].arg, STORAGE_EIO, NULL, NULL);
    kv_unref(b[i].kv);
    kv_unref(b[i].prev);
  }
}

void write_finish_batch(struct storage *st, struct commit_job *job)
{
  struct pending_write *b = job->b;
  size_t n = job->n;
  st->fsyncs++;
  if (job->rc) {
    /* The queued writes were checked against this batch's outcome. */
    struct pending_write *q = st->batch;
    size_t nq = st->nbatch;
    st->batch = NULL;
    st->nbatch = st->capbatch = 0;
    skmap_clear(&st->pend, NULL);
    st->next_rev = st->rev;
    fail_writes(b, n);
    fail_writes(q, nq);
    free(q);
    free(b);
    return;
  }
  int64_t first = st->rev + 1;
  st->batches++;
  st->writes += n;
  for (size_t i = 0; i < n; i++) {
    struct kv *kv = b[i].kv;
    if ((uintptr_t)skmap_get(&st->pend, kv->key) == (uintptr_t)pend_val(kv, b[i].type))
      skmap_del(&st->pend, kv->key); /* no newer write of the key is queued */
    kv_ref(kv);
    kv_ref(b[i].prev);
    if (cache_apply(st, b[i].type, kv, b[i].prev, job->ts_ms) < 0) {
      /* Durable but not in memory, and history would have a hole: only a
       * restart repairs that.  Out of memory is the only cause. */
      KLOG_F("storage: out of memory applying revision %" PRId64, st->rev + 1);
    }
  }
  for (size_t i = 0; i < n; i++) {
    if (b[i].cb) b[i].cb(b[i].arg, 0, b[i].kv, b[i].prev);
    kv_unref(b[i].kv);
    kv_unref(b[i].prev);
  }
  free(b);
  cache_deliver(st, first);
  for (size_t i = 0; i < st->nhooks; i++) st->hooks[i].fn(st->hooks[i].arg, st->rev);
}
