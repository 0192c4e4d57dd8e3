/*
 * mirror.h - an in-memory index kept current from storage: every key
 * prefix is listed at one revision, then watched from that revision on,
 * so the index never misses or doubles an event between the two.  Used
 * by the authorizers' indexes (RBAC, the Node authorizer's graph), which
 * read memory per request, never storage.
 *
 * The owner keeps the index; the mirror only tells it what changed:
 * reset() before a (re)list empties it, apply() gets each object decoded
 * (obj NULL for a delete) with the index of its prefix and the rest of
 * its key ("NS/NAME" or "NAME").  A revision that left the watch window
 * between the list and the watch is retried once from a fresh list.
 * Objects that are not JSON are logged and skipped.
 */
#ifndef APISERVER_STORAGE_MIRROR_H
#define APISERVER_STORAGE_MIRROR_H

#include <stddef.h>
#include <jansson.h>

struct storage;
struct storage_mirror;

/* obj borrowed for the call; NULL when the key was deleted. */
typedef void (*storage_mirror_apply_fn)(void *arg, size_t prefix, const char *rest, const json_t *obj);
typedef void (*storage_mirror_reset_fn)(void *arg);

/* prefixes (borrowed, must outlive the mirror) end with '/'.  NULL with
 * *err a storage error when the first list or watch failed (reset has
 * been called, so the index is empty). */
struct storage_mirror *storage_mirror_new(struct storage *st, const char *const *prefixes, size_t n,
                                          storage_mirror_apply_fn apply, storage_mirror_reset_fn reset, void *arg,
                                          const char *what, int *err);
/* Stops the watches; the index is the owner's to clear. */
void storage_mirror_free(struct storage_mirror *m);

#endif
