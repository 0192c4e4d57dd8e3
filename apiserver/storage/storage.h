/*
 * storage.h - the API server's storage interface: a revisioned key-value
 * store of serialized objects with watch, in the shape of etcd v3.
 *
 * - One global revision counts every write; it is the resourceVersion.
 * - Writes are compare-and-swap on the key's mod revision and complete
 *   asynchronously: the callback runs only once the write is durable
 *   (SQLite commit with synchronous=FULL; etcd quorum later).  Writes that
 *   arrive in the same event-loop turn share one transaction (group commit).
 * - Reads are synchronous from the in-memory cache of committed state,
 *   which also keeps a history window (>= 5 minutes) of events so a watch
 *   can resume from any revision inside it, and list can be served at an
 *   older revision inside it.
 * - A stored value (struct kv) is immutable and reference counted: the
 *   serialized JSON bytes (with metadata.resourceVersion set to the write's
 *   revision) plus compact selector attributes.  No parsed trees are kept.
 *
 * Backends: sqlite.c (default, --data-dir).  etcd3.c later, same interface.
 */
#ifndef APISERVER_STORAGE_H
#define APISERVER_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct event_base;
struct storage;

struct kv {
  int refcnt;
  int64_t mod_rev;    /* revision of the write that produced this value */
  int64_t create_rev; /* revision of the key's creation */
  char *key;          /* "/registry/pods/default/web-0" */
  char *bytes;        /* compact JSON, NUL-terminated, metadata.resourceVersion == mod_rev */
  size_t len;
  /* Selector attributes: a sequence of NUL-terminated "name=value" strings
   * ended by an empty string, e.g. "l:app=web\0f:spec.nodeName=n1\0\0".
   * Labels are prefixed "l:", selectable fields "f:".  Produced by the
   * caller at write time (storage_attrs_build) so list and watch filter
   * without parsing bytes. */
  char *attrs;
  /* Read from disk in a form a write would not produce now (encryption at
   * rest with an older key or provider, crypt.h): an update rewrites it
   * even when the object is unchanged. */
  bool stale;
};

void kv_ref(struct kv *kv);
void kv_unref(struct kv *kv);
/* Value of label key / field name in kv->attrs, or NULL.  Usable as a
 * ksel_get_fn (selector.h) with the kv as arg. */
const char *kv_label(void *kv, const char *key);
const char *kv_field(void *kv, const char *field);

/* Build an attrs block from an object's labels and the given field values
 * (NULL-terminated name/value pairs).  Caller frees. */
char *storage_attrs_build(const json_t *labels, const char *const *fields);

enum storage_event_type { EV_ADDED = 1, EV_MODIFIED = 2, EV_DELETED = 3 };

/* Errors reported to callbacks and returned by calls (negative errno-style). */
#define STORAGE_ENOENT (-2)     /* key absent */
#define STORAGE_EEXIST (-17)    /* create of an existing key */
#define STORAGE_ECONFLICT (-11) /* mod revision does not match */
#define STORAGE_EEXPIRED (-62)  /* revision older than the history window (410) */
#define STORAGE_EIO (-5)        /* backend failure */

/* Write completion.  kv is the stored value (borrowed; kv_ref to keep) or
 * NULL on error; prev is the value replaced or deleted (borrowed), or NULL. */
typedef void (*storage_done_fn)(void *arg, int err, struct kv *kv, struct kv *prev);

struct storage_opts {
  const char *data_dir;      /* SQLite: DIR/state.db, created if missing */
  int64_t history_window_ms; /* default 5 minutes: events kept at least this long */
  size_t history_min_events; /* and at least this many (default 10000) */
  /* Encryption at rest (crypt.h), borrowed for the storage's life; NULL:
   * values are stored as they are. */
  const struct storage_crypt *crypt;
};

struct storage *storage_open_sqlite(struct event_base *base, const struct storage_opts *opts, char *err, size_t errlen);
/* Flushes pending writes first (their callbacks run inside this call).
 * Watches still registered are released with the storage: cancel them
 * before, as a storage_watch handle is invalid afterwards. */
void storage_close(struct storage *st);

/* Writes.  obj is borrowed; the storage sets metadata.resourceVersion in its
 * serialized copy (the caller's tree gets it too).  attrs is borrowed.
 * Return 0 if queued (callback follows, never from inside this call), or a
 * negative error if refused at once (the callback is then not called). */
int storage_create(struct storage *st, const char *key, json_t *obj, const char *attrs, storage_done_fn cb, void *arg);
/* expected_rev: the mod revision the caller read; 0 = unconditional. */
int storage_update(struct storage *st, const char *key, json_t *obj, const char *attrs, int64_t expected_rev,
                   storage_done_fn cb, void *arg);
int storage_delete(struct storage *st, const char *key, int64_t expected_rev, storage_done_fn cb, void *arg);

/* Reads of committed state.  Borrowed; kv_ref to keep past the current
 * callback. */
struct kv *storage_get(struct storage *st, const char *key);
int64_t storage_rev(const struct storage *st);        /* newest committed revision */
int64_t storage_oldest_rev(const struct storage *st); /* oldest revision still watchable */

/* Visit keys under prefix (must end in '/') in key order, starting after
 * start_after (NULL = from the first).  rev 0 = current state; otherwise the
 * state as of that revision (STORAGE_EEXPIRED if outside the window).  The
 * visitor returns 0 to continue, 1 to stop.  Returns 0 or an error. */
typedef int (*storage_visit_fn)(void *arg, struct kv *kv);
int storage_list(struct storage *st, const char *prefix, int64_t rev, const char *start_after, storage_visit_fn fn,
                 void *arg);
size_t storage_count(struct storage *st, const char *prefix);

/* Watch keys under prefix.  Every committed event with revision > from_rev
 * is delivered in revision order (history first, then live), each after its
 * write is durable.  from_rev 0 = only new events.  For DELETED, kv is the
 * last value with mod_rev = the deletion's revision.  prev is the previous
 * value (NULL for ADDED).  Returns NULL with *err = STORAGE_EEXPIRED when
 * from_rev is older than the window. */
struct storage_watch;
typedef void (*storage_event_fn)(void *arg, enum storage_event_type type, struct kv *kv, struct kv *prev);
struct storage_watch *storage_watch(struct storage *st, const char *prefix, int64_t from_rev, storage_event_fn fn,
                                    void *arg, int *err);
void storage_watch_cancel(struct storage_watch *w);

/* Called once per committed batch, after its watch events are delivered
 * (lets the API server send bookmarks / progress). */
void storage_on_commit(struct storage *st, void (*fn)(void *arg, int64_t rev), void *arg);

struct storage_stats {
  size_t keys, history_events, bytes, batches, writes, fsyncs;
};
void storage_get_stats(const struct storage *st, struct storage_stats *out);

/* Drop history older than the window (keeping history_min_events) right
 * now; it also runs on a timer.  Returns 0 or STORAGE_EIO. */
int storage_compact_now(struct storage *st);

/* True when no write is queued or being committed (shutdown, tests). */
bool storage_idle(const struct storage *st);

#endif
