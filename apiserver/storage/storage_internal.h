/*
 * storage_internal.h - state shared by the storage backend's files.
 *
 * kv.c       struct kv allocation (one block: header, key, bytes, attrs).
 * skmap.c    ordered string map (AVL tree) used for committed state and
 *            for the view of writes queued but not yet committed.
 * cache.c    committed state: current keys, the history ring, list at a
 *            revision, watchers and their delivery.
 * write.c    the write path: CAS against the newest view, revisions,
 *            the queue of the next batch, and applying a committed batch.
 * sqlite.c   the durable store: schema, load at open, the commit worker
 *            thread, compaction.
 *
 * Everything runs on the event loop thread except the SQL of a commit job,
 * which the worker runs while the loop keeps serving; jobs and results
 * travel through pipes, so nothing here is locked.
 */
#ifndef APISERVER_STORAGE_INTERNAL_H
#define APISERVER_STORAGE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/storage.h"

struct event;
struct sqlite3;
struct sqlite3_stmt;

/* ---- kv.c ---- */
/* New kv with refcnt 1; copies key, bytes and attrs (NULL attrs = none). */
struct kv *kv_new(const char *key, const char *bytes, size_t len, const char *attrs, int64_t mod_rev,
                  int64_t create_rev);
/* Bytes of an attrs block including its terminating empty string. */
size_t kv_attrs_len(const char *attrs);

/* ---- skmap.c: ordered map from string keys to pointers ---- */
struct skmap_node;
struct skmap {
  struct skmap_node *root;
  size_t count;
};
/* The key string is borrowed: it must stay valid while the entry exists
 * (callers point it into the value's own kv->key). */
void *skmap_get(const struct skmap *m, const char *key);
/* Insert or replace; returns the previous value (or NULL).  -1 on OOM is
 * reported through *err when err is non-NULL. */
void *skmap_put(struct skmap *m, const char *key, void *val, int *err);
/* Remove; returns the removed value or NULL. */
void *skmap_del(struct skmap *m, const char *key);
/* Visit keys > after (NULL = no bound) that start with prefix, in order.
 * fn returns non-zero to stop; that value is returned. */
typedef int (*skmap_visit_fn)(void *arg, const char *key, void *val);
int skmap_walk(const struct skmap *m, const char *prefix, const char *after, skmap_visit_fn fn, void *arg);
/* Free every node, calling fn on each value first (fn may be NULL). */
void skmap_clear(struct skmap *m, void (*fn)(void *val));

/* ---- cache.c ---- */
struct hist_ent {
  struct kv *kv;   /* event value (DELETED: last value at the deletion rev) */
  struct kv *prev; /* value before this event, NULL for ADDED */
  int64_t ts_ms;   /* commit time, wall clock */
  uint8_t type;    /* enum storage_event_type */
};

/* Ring of history entries; entry i has revision first_rev + i, so every
 * revision after compact_rev up to the current one has exactly one entry. */
struct history {
  struct hist_ent *v;
  size_t cap, head, n;
};

struct wgroup;

/* One unit of work for the commit worker: a batch of writes, or the row
 * deletions of a compaction.  Owned by the loop; the worker only reads
 * the inputs and sets rc. */
enum { JOB_BATCH = 1, JOB_COMPACT = 2 };
struct commit_job {
  int kind;
  int rc; /* SQLite result, 0 = committed */
  int64_t ts_ms;
  /* JOB_BATCH */
  struct pending_write *b;
  size_t n;
  int64_t first_rev;
  /* JOB_COMPACT */
  int64_t *del_revs;
  size_t ndel;
  int64_t compact_to;
};

struct storage {
  struct event_base *base;
  /* values encrypted at rest (crypt.h); borrowed from the opts, NULL = none */
  const struct storage_crypt *crypt;
  /* committed state */
  struct skmap cur; /* key -> struct kv * (one reference held) */
  struct history hist;
  int64_t rev;         /* newest committed revision */
  int64_t compact_rev; /* every event after this is in hist */
  size_t cur_bytes;
  /* writes queued or being committed: key -> newest kv, tagged (bit 0)
   * when that write is a delete */
  struct skmap pend;
  struct pending_write *batch;
  size_t nbatch, capbatch;
  int64_t next_rev; /* revision of the newest queued write */
  struct event *flush_ev;
  bool flush_scheduled;
  /* commit worker */
  struct commit_job *inflight;    /* job the worker runs, or NULL */
  struct commit_job *compact_job; /* compaction waiting for the worker */
  int64_t compacting_to;          /* compact_rev once that job commits */
  int job_pipe[2], res_pipe[2];
  struct event *res_ev;
  bool worker_started;
  pthread_t worker;
  /* watchers */
  struct wgroup **groups;
  size_t ngroups, capgroups;
  size_t nlagging, ndead;
  int deliver_depth;
  struct event *catchup_ev;
  bool catchup_scheduled;
  /* commit hooks */
  struct {
    void (*fn)(void *, int64_t);
    void *arg;
  } hooks[8];
  size_t nhooks;
  /* options */
  int64_t window_ms;
  size_t min_events;
  struct event *compact_ev;
  /* sqlite */
  struct sqlite3 *db;
  struct sqlite3_stmt *st_begin, *st_commit, *st_rollback, *st_ins, *st_del, *st_meta;
  /* counters */
  size_t batches, writes, fsyncs;
  bool closing;
};

struct pending_write {
  uint8_t type;    /* EV_ADDED / EV_MODIFIED / EV_DELETED */
  struct kv *kv;   /* owned reference */
  struct kv *prev; /* owned reference or NULL */
  storage_done_fn cb;
  void *arg;
};

/* ---- write.c ---- */
void write_flush_cb(int fd, short what, void *arg);
/* Hands the queued writes to the worker (or runs them inline when
 * closing).  No-op if a job is in flight or nothing is queued. */
void write_start_batch(struct storage *st);
/* Applies (rc == 0) or fails a finished batch job: cache, callbacks,
 * watchers, commit hooks.  Frees the job's writes. */
void write_finish_batch(struct storage *st, struct commit_job *job);

/* ---- sqlite.c ---- */
int64_t storage_now_ms(void);
/* Runs job on the worker, or inline when the worker is not running. */
void sq_submit(struct storage *st, struct commit_job *job);

int cache_init(struct storage *st, struct event_base *base);
void cache_free(struct storage *st);
struct hist_ent *cache_hist_at(struct storage *st, int64_t rev);
/* Append the committed event at revision st->rev + 1 and apply it to the
 * current state.  Takes over the references in kv and prev. */
int cache_apply(struct storage *st, uint8_t type, struct kv *kv, struct kv *prev, int64_t ts_ms);
/* Drop the oldest n history entries (they must be committed compacted). */
void cache_drop_oldest(struct storage *st, size_t n);
/* Deliver the events (first_rev..st->rev] to live watchers. */
void cache_deliver(struct storage *st, int64_t first_rev);
/* Oldest revision still readable: compact_rev, or the target of a
 * compaction being committed. */
int64_t cache_oldest(const struct storage *st);
/* Lowest revision a watcher still needs from history (INT64_MAX if none). */
int64_t cache_watch_floor(struct storage *st);
/* Release every watcher (at close). */
void cache_watchers_free(struct storage *st);

#endif
