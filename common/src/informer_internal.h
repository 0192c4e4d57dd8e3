/* informer_internal.h - the informer's store, shared by informer.c and
 * informer_store.c only. */
#ifndef KUBE_INFORMER_INTERNAL_H
#define KUBE_INFORMER_INTERNAL_H

#include <stdbool.h>
#include <jansson.h>

#include "kube/informer.h"

#define INFORMER_MAX_INDEXES 8

struct informer_index {
  char *name;
  informer_index_fn fn;
  void *arg;
  json_t *map; /* value -> {key: true} */
};

struct informer_store {
  json_t *items; /* key -> compact JSON string, or the object itself */
  bool keep_parsed;
  struct informer_index idx[INFORMER_MAX_INDEXES];
  int nidx;
};

int informer_store_init(struct informer_store *s, bool keep_parsed);
void informer_store_fini(struct informer_store *s);
int informer_store_add_index(struct informer_store *s, const char *name, informer_index_fn fn, void *arg);
/* New reference or NULL. */
json_t *informer_store_get(const struct informer_store *s, const char *key);
/* Stores obj (borrowed) under key; old is the previous object (borrowed,
 * NULL if none) whose index entries are removed. */
int informer_store_put(struct informer_store *s, const char *key, const json_t *old, const json_t *obj);
void informer_store_remove(struct informer_store *s, const char *key, const json_t *old);
json_t *informer_store_index_keys_raw(const struct informer_store *s, const char *index, const char *value);

#endif
