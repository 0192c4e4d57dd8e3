/*
 * sqlite.c - the durable store behind storage.h: SQLite in WAL mode with
 * synchronous=FULL, one connection, driven by one commit thread.
 *
 * Schema.  One table holds every write, keyed by its revision:
 *
 *   log(rev INTEGER PRIMARY KEY, key TEXT, type INTEGER, create_rev INTEGER,
 *       value BLOB, attrs BLOB, ts_ms INTEGER)
 *   meta(name TEXT PRIMARY KEY, value INTEGER)   -- 'rev', 'compact_rev'
 *
 * The current value of a key is simply its newest row, so a write inserts
 * one row and nothing else (no second copy in a kv table): half the bytes
 * to write and fsync.  A DELETED row carries the last value re-serialized
 * at the deletion's revision.  meta.rev is written in every batch because
 * the newest row may be a delete that compaction later removes.
 *
 * Compaction to revision C keeps exactly what a read at any revision >= C
 * needs: every row after C, plus each key's newest row at or before C if
 * that row is not a delete.  So when the history event at revision r <= C
 * is dropped, the row it replaced (its prev's mod_rev) is deleted, and so
 * is r's own row if r was a delete.  Compaction runs on a timer
 * (COMPACT_INTERVAL_MS), dropping events older than the window while at
 * least history_min_events remain, and never past a watcher still
 * replaying history.
 *
 * Load at open reads the log in revision order: rows <= compact_rev build
 * the base state, later rows are replayed as events into the history ring
 * (with their prev values), so watches and lists from a revision taken
 * before a restart still work.
 *
 * Group commit (write.c has the queue side).  Writes are checked and
 * numbered at once against the newest view; the writes of one loop turn
 * form one batch, committed as one BEGIN..COMMIT.  Only after COMMIT
 * returned (the WAL is fsynced) is the batch applied to the cache, the
 * writers answered and the watchers told; a failed commit fails the batch
 * and leaves the cache as it was.
 *
 * Threads.  The SQL of a commit (inserts, COMMIT, the WAL fsync, an
 * automatic checkpoint now and then) runs on one worker thread that owns
 * the connection between open and close; the loop thread never touches
 * SQLite then, and the worker never touches the cache.  They exchange job
 * pointers through two pipes: the loop writes a job, the worker runs it
 * and writes it back, and the loop's read event finishes it.  One job is
 * in flight at a time, so while batch N is being made durable the loop
 * keeps parsing requests, serving reads and delivering watch events, and
 * batch N+1 grows; it is handed over the moment N is done.  That overlaps
 * the fsync and the SQLite CPU time (about half the storage cost of a
 * write) with the rest of the API server on a second core, without a lock.
 * Compaction's row deletions are a job of the same queue.  At open (load)
 * and close (the final flush) the loop thread uses the connection itself.
 */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <event2/event.h>
#include <sqlite3.h>

#include "kube/log.h"
#include "storage/crypt.h"
#include "storage/storage_internal.h"
#include "kube/xalloc.h"

#define HISTORY_WINDOW_MS_DEFAULT (5 * 60 * 1000)
#define HISTORY_MIN_EVENTS_DEFAULT 10000
#define COMPACT_INTERVAL_MS 30000
#define SQLITE_CACHE_KIB 2000
/* Rows dropped per compaction transaction; the rest follows next turn so
 * one compaction never stalls the loop for long. */
#define COMPACT_MAX_EVENTS 20000

int64_t storage_now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int exec_sql(sqlite3 *db, const char *sql)
{
  char *msg = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
  if (rc != SQLITE_OK) {
    KLOG_E("storage: %s: %s", sql, msg ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
  }
  return rc;
}

/* Runs a prepared statement that returns no rows, then resets it. */
static int step_done(sqlite3_stmt *s)
{
  int rc = sqlite3_step(s);
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  return rc == SQLITE_DONE ? 0 : rc;
}

static int set_meta(struct storage *st, const char *name, int64_t v)
{
  sqlite3_bind_text(st->st_meta, 1, name, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st->st_meta, 2, v);
  return step_done(st->st_meta);
}

static int64_t get_meta(sqlite3 *db, const char *name)
{
  sqlite3_stmt *s;
  int64_t v = 0;
  if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE name = ?", -1, &s, NULL) != SQLITE_OK) return 0;
  sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
  if (sqlite3_step(s) == SQLITE_ROW) v = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  return v;
}

/* ---- load ---- */

/* True when key has a row newer than rev. */
static bool superseded(sqlite3 *db, const char *key, int64_t rev)
{
  sqlite3_stmt *q;
  if (sqlite3_prepare_v2(db, "SELECT 1 FROM log WHERE key = ? AND rev > ? LIMIT 1", -1, &q, NULL) != SQLITE_OK)
    return false;
  sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
  sqlite3_bind_int64(q, 2, rev);
  bool newer = sqlite3_step(q) == SQLITE_ROW;
  sqlite3_finalize(q);
  return newer;
}

static int load(struct storage *st, char *err, size_t errlen)
{
  int64_t meta_rev = get_meta(st->db, "rev");
  int64_t compact = get_meta(st->db, "compact_rev");
  st->compact_rev = compact;
  st->rev = compact;
  sqlite3_stmt *s;
  if (sqlite3_prepare_v2(st->db, "SELECT rev, key, type, create_rev, value, attrs, ts_ms FROM log ORDER BY rev", -1, &s,
                         NULL) != SQLITE_OK) {
    snprintf(err, errlen, "load: %s", sqlite3_errmsg(st->db));
    return -EIO;
  }
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    int64_t rev = sqlite3_column_int64(s, 0);
    const char *key = (const char *)sqlite3_column_text(s, 1);
    int type = sqlite3_column_int(s, 2);
    int64_t create_rev = sqlite3_column_int64(s, 3);
    const char *val = sqlite3_column_blob(s, 4);
    size_t len = (size_t)sqlite3_column_bytes(s, 4);
    const char *attrs = sqlite3_column_blob(s, 5);
    if (attrs && (sqlite3_column_bytes(s, 5) < 1 || attrs[sqlite3_column_bytes(s, 5) - 1]))
      attrs = NULL; /* malformed block: drop the attributes rather than overrun */
    int64_t ts = sqlite3_column_int64(s, 6);
    if (!key || type < EV_ADDED || type > EV_DELETED) continue;
    char *plain = NULL, cerr[512];
    size_t plen = 0;
    bool stale = false;
    if (st->crypt && val &&
        storage_crypt_decode(st->crypt, key, val, len, &plain, &plen, &stale, cerr, sizeof cerr) < 0) {
      if (!superseded(st->db, key, rev)) {
        snprintf(err, errlen, "reading %s at revision %" PRId64 ": %s", key, rev, cerr);
        sqlite3_finalize(s);
        return -EIO;
      }
      /* An old revision written with a key no longer listed (a rotation
       * whose rewrite came later): history up to it is compacted. */
      KLOG_W("storage: %s at revision %" PRId64 " cannot be read (%s); compacting history through it", key, rev, cerr);
      if (rev > compact) cache_drop_oldest(st, st->hist.n);
      st->compact_rev = st->rev = rev > st->rev ? rev : st->rev;
      continue;
    }
    struct kv *kv = plain ? kv_new(key, plain, plen, attrs, rev, create_rev)
                          : kv_new(key, val ? val : "", val ? len : 0, attrs, rev, create_rev);
    free(plain);
    if (kv) kv->stale = stale;
    if (!kv) {
      rc = SQLITE_NOMEM;
      break;
    }
    if (rev <= compact) {
      /* base state as of compact_rev */
      struct kv *old;
      if (type == EV_DELETED) {
        old = skmap_del(&st->cur, key);
        kv_unref(kv);
      } else {
        old = skmap_put(&st->cur, kv->key, kv, NULL);
        st->cur_bytes += kv->len;
      }
      if (old) {
        st->cur_bytes -= old->len;
        kv_unref(old);
      }
      continue;
    }
    if (rev != st->rev + 1) {
      /* A gap can only come from outside damage; what precedes it is no
       * longer a complete history, so treat it as compacted. */
      KLOG_W("storage: revision gap before %" PRId64 " in log; compacting history", rev);
      cache_drop_oldest(st, st->hist.n);
      st->compact_rev = st->rev = rev - 1;
    }
    struct kv *prev = storage_get(st, key);
    kv_ref(prev);
    if (cache_apply(st, (uint8_t)type, kv, type == EV_ADDED ? NULL : prev, ts) < 0) {
      kv_unref(kv);
      kv_unref(prev);
      rc = SQLITE_NOMEM;
      break;
    }
    if (type == EV_ADDED) kv_unref(prev);
  }
  sqlite3_finalize(s);
  if (rc != SQLITE_DONE) {
    snprintf(err, errlen, "load: %s", sqlite3_errstr(rc));
    return -EIO;
  }
  if (meta_rev > st->rev) {
    /* The newest writes were deletes already compacted away. */
    cache_drop_oldest(st, st->hist.n);
    st->compact_rev = st->rev = meta_rev;
  }
  st->next_rev = st->rev;
  return 0;
}

/* ---- open / close ---- */

static void compact_cb(evutil_socket_t fd, short what, void *arg);
static void res_cb(evutil_socket_t fd, short what, void *arg);
static void *worker_main(void *arg);

static int prepare(struct storage *st, sqlite3_stmt **out, const char *sql, char *err, size_t errlen)
{
  if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL) != SQLITE_OK) {
    snprintf(err, errlen, "prepare %s: %s", sql, sqlite3_errmsg(st->db));
    return -EIO;
  }
  return 0;
}

/* mkdir -p with mode 0700 for the directories it creates. */
static int mkdir_p(const char *dir)
{
  char path[4096];
  if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path)) {
    errno = ENAMETOOLONG;
    return -1;
  }
  for (char *p = path + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(path, 0700) < 0 && errno != EEXIST) return -1;
    *p = '/';
  }
  if (mkdir(path, 0700) < 0 && errno != EEXIST) return -1;
  return 0;
}

struct storage *storage_open_sqlite(struct event_base *base, const struct storage_opts *opts, char *err, size_t errlen)
{
  char dummy[1];
  if (!err || !errlen) {
    err = dummy;
    errlen = sizeof(dummy);
  }
  err[0] = '\0';
  const char *dir = opts && opts->data_dir ? opts->data_dir : ".";
  if (mkdir_p(dir) < 0) {
    snprintf(err, errlen, "create data dir %s: %s", dir, strerror(errno));
    return NULL;
  }
  struct storage *st = xcalloc(1, sizeof(*st));
  if (!st) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  st->job_pipe[0] = st->job_pipe[1] = st->res_pipe[0] = st->res_pipe[1] = -1;
  st->base = base;
  st->crypt = opts ? opts->crypt : NULL;
  st->window_ms = opts && opts->history_window_ms > 0 ? opts->history_window_ms : HISTORY_WINDOW_MS_DEFAULT;
  st->min_events = opts && opts->history_min_events > 0 ? opts->history_min_events : HISTORY_MIN_EVENTS_DEFAULT;
  char path[4096];
  snprintf(path, sizeof(path), "%s/state.db", dir);
  if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
    snprintf(err, errlen, "open %s: %s", path, st->db ? sqlite3_errmsg(st->db) : "out of memory");
    goto fail;
  }
  sqlite3_busy_timeout(st->db, 5000);
  char pragmas[256];
  snprintf(pragmas, sizeof(pragmas),
           "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-%d;"
           "PRAGMA temp_store=MEMORY;",
           SQLITE_CACHE_KIB);
  if (exec_sql(st->db, pragmas) != SQLITE_OK ||
      exec_sql(st->db,
               "CREATE TABLE IF NOT EXISTS log(rev INTEGER PRIMARY KEY, key TEXT NOT NULL,"
               " type INTEGER NOT NULL, create_rev INTEGER NOT NULL, value BLOB, attrs BLOB,"
               " ts_ms INTEGER NOT NULL);"
               "CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY, value INTEGER NOT NULL);") != SQLITE_OK) {
    snprintf(err, errlen, "init %s: %s", path, sqlite3_errmsg(st->db));
    goto fail;
  }
  if (prepare(st, &st->st_begin, "BEGIN IMMEDIATE", err, errlen) ||
      prepare(st, &st->st_commit, "COMMIT", err, errlen) || prepare(st, &st->st_rollback, "ROLLBACK", err, errlen) ||
      prepare(st, &st->st_ins,
              "INSERT OR REPLACE INTO log(rev, key, type, create_rev, value, attrs, ts_ms)"
              " VALUES (?, ?, ?, ?, ?, ?, ?)",
              err, errlen) ||
      prepare(st, &st->st_del, "DELETE FROM log WHERE rev = ?", err, errlen) ||
      prepare(st, &st->st_meta, "INSERT OR REPLACE INTO meta(name, value) VALUES (?, ?)", err, errlen))
    goto fail;
  if (cache_init(st, base) < 0) goto oom;
  st->flush_ev = event_new(base, -1, 0, write_flush_cb, st);
  st->compact_ev = event_new(base, -1, EV_PERSIST, compact_cb, st);
  if (!st->flush_ev || !st->compact_ev) goto oom;
  if (load(st, err, errlen) < 0) goto fail;
  if (pipe2(st->job_pipe, O_CLOEXEC) < 0 || pipe2(st->res_pipe, O_CLOEXEC) < 0) {
    snprintf(err, errlen, "pipe: %s", strerror(errno));
    goto fail;
  }
  evutil_make_socket_nonblocking(st->res_pipe[0]);
  st->res_ev = event_new(base, st->res_pipe[0], EV_READ | EV_PERSIST, res_cb, st);
  if (!st->res_ev || event_add(st->res_ev, NULL) < 0) goto oom;
  /* Signals stay with the loop thread: the worker starts with all blocked. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int prc = pthread_create(&st->worker, NULL, worker_main, st);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (prc != 0) {
    snprintf(err, errlen, "start commit thread: %s", strerror(prc));
    goto fail;
  }
  st->worker_started = true;
  int64_t iv = st->window_ms / 2;
  if (iv > COMPACT_INTERVAL_MS) iv = COMPACT_INTERVAL_MS;
  if (iv < 10) iv = 10;
  struct timeval tv = {iv / 1000, (iv % 1000) * 1000};
  event_add(st->compact_ev, &tv);
  KLOG_V(1, "storage: opened %s at revision %" PRId64 " (%zu keys, %zu history events)", path, st->rev, st->cur.count,
         st->hist.n);
  return st;
oom:
  snprintf(err, errlen, "out of memory");
fail:
  storage_close(st);
  return NULL;
}

static void job_done(struct storage *st, struct commit_job *job);
static void job_free(struct commit_job *job);

void storage_close(struct storage *st)
{
  if (!st) return;
  st->closing = true;
  if (st->worker_started) {
    /* The worker finishes the job in flight, then stops. */
    struct commit_job *stop = NULL;
    if (write(st->job_pipe[1], &stop, sizeof(stop)) != sizeof(stop)) KLOG_E("storage: cannot stop the commit thread");
    pthread_join(st->worker, NULL);
    st->worker_started = false;
  }
  if (st->inflight) {
    struct commit_job *job;
    if (read(st->res_pipe[0], &job, sizeof(job)) == sizeof(job)) job_done(st, job);
  }
  if (st->compact_job) {
    job_free(st->compact_job);
    st->compact_job = NULL;
    st->compacting_to = 0;
  }
  /* What is still queued commits inline now (callbacks may queue more). */
  while (st->nbatch && !st->inflight) write_start_batch(st);
  free(st->batch);
  skmap_clear(&st->pend, NULL);
  if (st->flush_ev) event_free(st->flush_ev);
  if (st->compact_ev) event_free(st->compact_ev);
  if (st->res_ev) event_free(st->res_ev);
  for (int i = 0; i < 2; i++) {
    if (st->job_pipe[i] >= 0) close(st->job_pipe[i]);
    if (st->res_pipe[i] >= 0) close(st->res_pipe[i]);
  }
  cache_free(st);
  sqlite3_stmt *stmts[] = {st->st_begin, st->st_commit, st->st_rollback, st->st_ins, st->st_del, st->st_meta};
  for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++) sqlite3_finalize(stmts[i]);
  if (st->db) sqlite3_close(st->db);
  free(st);
}

/* ---- commit jobs (SQL side: runs on the worker) ---- */

static int commit_batch(struct storage *st, const struct commit_job *job)
{
  int rc = step_done(st->st_begin);
  if (rc) return rc;
  int64_t rev = job->first_rev;
  for (size_t i = 0; i < job->n && !rc; i++, rev++) {
    const struct pending_write *w = &job->b[i];
    struct kv *kv = w->kv;
    sqlite3_stmt *s = st->st_ins;
    sqlite3_bind_int64(s, 1, rev);
    sqlite3_bind_text(s, 2, kv->key, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, w->type);
    sqlite3_bind_int64(s, 4, kv->create_rev);
    char *sealed = NULL, cerr[512];
    size_t slen = 0;
    if (st->crypt && storage_crypt_encode(st->crypt, kv->key, kv->bytes, kv->len, &sealed, &slen, cerr, sizeof cerr) < 0) {
      KLOG_E("storage: %s: %s", kv->key, cerr);
      rc = SQLITE_ERROR;
      break;
    }
    if (sealed) sqlite3_bind_blob(s, 5, sealed, (int)slen, SQLITE_STATIC);
    else sqlite3_bind_blob(s, 5, kv->bytes, (int)kv->len, SQLITE_STATIC);
    sqlite3_bind_blob(s, 6, kv->attrs, (int)kv_attrs_len(kv->attrs), SQLITE_STATIC);
    sqlite3_bind_int64(s, 7, job->ts_ms);
    rc = step_done(s);
    free(sealed);
  }
  if (!rc) rc = set_meta(st, "rev", rev - 1);
  if (!rc) rc = step_done(st->st_commit);
  if (rc) {
    KLOG_E("storage: commit of %zu writes failed: %s", job->n, sqlite3_errmsg(st->db));
    step_done(st->st_rollback);
  }
  return rc;
}

static int commit_compaction(struct storage *st, const struct commit_job *job)
{
  int rc = step_done(st->st_begin);
  for (size_t i = 0; i < job->ndel && !rc; i++) {
    sqlite3_bind_int64(st->st_del, 1, job->del_revs[i]);
    rc = step_done(st->st_del);
  }
  if (!rc) rc = set_meta(st, "compact_rev", job->compact_to);
  if (!rc) rc = step_done(st->st_commit);
  if (rc) {
    KLOG_E("storage: compaction to %" PRId64 " failed: %s", job->compact_to, sqlite3_errmsg(st->db));
    step_done(st->st_rollback);
  }
  return rc;
}

static void run_job(struct storage *st, struct commit_job *job)
{
  job->rc = job->kind == JOB_BATCH ? commit_batch(st, job) : commit_compaction(st, job);
}

static int io_full(int fd, void *buf, size_t len, bool wr)
{
  char *p = buf;
  while (len) {
    ssize_t n = wr ? write(fd, p, len) : read(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* The worker owns the SQLite connection between open and close.  It takes
 * jobs one at a time from job_pipe and hands each back through res_pipe;
 * the pipe round trip orders memory between the two threads. */
static void *worker_main(void *arg)
{
  struct storage *st = arg;
  for (;;) {
    struct commit_job *job;
    if (io_full(st->job_pipe[0], &job, sizeof(job), false) < 0 || !job) break;
    run_job(st, job);
    if (io_full(st->res_pipe[1], &job, sizeof(job), true) < 0) break;
  }
  return NULL;
}

/* ---- commit jobs (loop side) ---- */

static void job_free(struct commit_job *job)
{
  free(job->del_revs);
  free(job);
}

void sq_submit(struct storage *st, struct commit_job *job)
{
  st->inflight = job;
  if (st->worker_started && !st->closing && io_full(st->job_pipe[1], &job, sizeof(job), true) == 0) return;
  run_job(st, job);
  job_done(st, job);
}

static void compaction_done(struct storage *st, struct commit_job *job)
{
  st->fsyncs++;
  st->compacting_to = 0;
  if (job->rc) return;
  size_t drop = (size_t)(job->compact_to - st->compact_rev);
  cache_drop_oldest(st, drop);
  KLOG_V(4, "storage: compacted to revision %" PRId64, st->compact_rev);
  if (drop >= COMPACT_MAX_EVENTS && st->compact_ev && !st->closing) event_active(st->compact_ev, EV_TIMEOUT, 1);
}

static void job_done(struct storage *st, struct commit_job *job)
{
  st->inflight = NULL;
  if (job->kind == JOB_BATCH) write_finish_batch(st, job);
  else compaction_done(st, job);
  job_free(job);
  if (st->closing || st->inflight) return;
  /* A waiting compaction goes first so it is never starved by writes. */
  if (st->compact_job) {
    struct commit_job *c = st->compact_job;
    st->compact_job = NULL;
    sq_submit(st, c);
  } else {
    write_start_batch(st);
  }
}

static void res_cb(evutil_socket_t fd, short what, void *arg)
{
  struct storage *st = arg;
  struct commit_job *job;
  while (st->inflight && read(fd, &job, sizeof(job)) == sizeof(job)) job_done(st, job);
}

/* ---- compaction ---- */

int storage_compact_now(struct storage *st)
{
  if (st->compacting_to || st->deliver_depth > 0 || !st->hist.n || st->closing) return 0;
  int64_t cutoff = storage_now_ms() - st->window_ms;
  int64_t limit = cache_watch_floor(st);
  size_t drop = 0;
  while (st->hist.n - drop > st->min_events && drop < COMPACT_MAX_EVENTS) {
    int64_t r = st->compact_rev + 1 + (int64_t)drop;
    struct hist_ent *e = cache_hist_at(st, r);
    if (e->ts_ms > cutoff || r > limit) break;
    drop++;
  }
  if (!drop) return 0;
  struct commit_job *job = xcalloc(1, sizeof(*job));
  int64_t *del = job ? xmalloc(2 * drop * sizeof(*del)) : NULL;
  if (!del) {
    free(job);
    return -ENOMEM;
  }
  job->kind = JOB_COMPACT;
  job->del_revs = del;
  job->compact_to = st->compact_rev + (int64_t)drop;
  for (size_t i = 0; i < drop; i++) {
    struct hist_ent *e = cache_hist_at(st, st->compact_rev + 1 + (int64_t)i);
    if (e->prev) del[job->ndel++] = e->prev->mod_rev; /* superseded at or before compact_to */
    if (e->type == EV_DELETED) del[job->ndel++] = e->kv->mod_rev;
  }
  /* From now on nothing may start reading below compact_to. */
  st->compacting_to = job->compact_to;
  if (st->inflight) st->compact_job = job;
  else sq_submit(st, job);
  return 0;
}

static void compact_cb(evutil_socket_t fd, short what, void *arg) { storage_compact_now(arg); }

/* ---- misc ---- */

void storage_on_commit(struct storage *st, void (*fn)(void *arg, int64_t rev), void *arg)
{
  if (st->nhooks < sizeof(st->hooks) / sizeof(st->hooks[0])) {
    st->hooks[st->nhooks].fn = fn;
    st->hooks[st->nhooks].arg = arg;
    st->nhooks++;
  } else {
    KLOG_E("storage: too many commit hooks");
  }
}

void storage_get_stats(const struct storage *st, struct storage_stats *out)
{
  out->keys = st->cur.count;
  out->history_events = st->hist.n;
  out->bytes = st->cur_bytes;
  out->batches = st->batches;
  out->writes = st->writes;
  out->fsyncs = st->fsyncs;
}
