/*
 * informer.h - list-then-watch caches of one resource (client-go's
 * SharedIndexInformer), with a local store, indexes and event handlers.
 *
 * An informer LISTs the resource (paged, limit=500), then WATCHes from the
 * list's resourceVersion with bookmarks, re-watching from the last seen
 * resourceVersion whenever a watch ends or breaks (with backoff after a
 * failure), and relisting only when the server says that version is too
 * old (410) or a list or watch event failed.
 * A relist is diffed against the store so handlers see the adds, updates
 * and deletes they missed.
 *
 * Objects handed to handlers and returned by the store are json_t trees
 * whose ownership each function states; the store itself keeps compact
 * serialized bytes unless keep_parsed is set.
 */
#ifndef KUBE_INFORMER_H
#define KUBE_INFORMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct event_base;
struct rest_client;
struct informer;

/* Handlers receive borrowed objects valid for the call only.  on_delete's
 * final_state_unknown is true when the delete was inferred by a relist
 * (upstream's DeletedFinalStateUnknown): obj is then the last state seen. */
struct informer_handlers {
  void (*on_add)(void *arg, const json_t *obj);
  void (*on_update)(void *arg, const json_t *old_obj, const json_t *new_obj);
  void (*on_delete)(void *arg, const json_t *obj, bool final_state_unknown);
  void *arg;
};

/* Applied to every object before it is stored and handed to handlers (for
 * example to drop metadata.managedFields).  Modify obj in place. */
typedef void (*informer_transform_fn)(void *arg, json_t *obj);

/* Index function: appends the index values of obj (strings) to out. */
typedef void (*informer_index_fn)(void *arg, const json_t *obj, json_t *out);

struct informer_opts {
  const char *path;           /* collection: "/api/v1/pods", "/apis/apps/v1/deployments" */
  const char *namespace;      /* NULL/"" = all namespaces */
  const char *label_selector; /* optional */
  const char *field_selector; /* optional */
  int64_t resync_ms;          /* > 0: on_update(obj, obj) for every object this often */
  bool keep_parsed;           /* keep json_t trees instead of bytes: for
                                  programs that hold every object parsed
                                  anyway; objects handed out are shared and
                                  read-only */
  /* Objects come without metadata.managedFields, left out while parsing:
   * controllers never read them (the server keeps an object's
   * managedFields when an update omits them), and caches hold less. */
  bool drop_managed_fields;
  informer_transform_fn transform;
  void *transform_arg;
  int watch_timeout_s;       /* 0: random 300-600 s, as upstream */
  int64_t relist_backoff_ms; /* first backoff after a failure; default 800 */
};

struct informer *informer_new(struct event_base *base, struct rest_client *client, const struct informer_opts *opts);
/* Not from inside one of the informer's own handlers. */
void informer_free(struct informer *inf);
/* Handlers added after the first sync get on_add for every stored object
 * before this returns. */
int informer_add_handlers(struct informer *inf, const struct informer_handlers *h);
/* Adds a named index; must be called before informer_start. */
int informer_add_index(struct informer *inf, const char *name, informer_index_fn fn, void *arg);
int informer_start(struct informer *inf);
bool informer_has_synced(const struct informer *inf);
/* resourceVersion of the last list, event or bookmark seen ("" before). */
const char *informer_last_resource_version(const struct informer *inf);
const char *informer_path(const struct informer *inf);

/* Store key of an object: "namespace/name", or "name" when cluster-scoped.
 * Writes into out; returns out, or NULL if the object has no name. */
char *informer_key(const json_t *obj, char *out, size_t len);

/* --- the store --- */
size_t informer_store_len(const struct informer *inf);
/* New reference to the object stored under key, or NULL. */
json_t *informer_store_get_obj(const struct informer *inf, const char *key);
/* New reference: array of every stored key. */
json_t *informer_store_keys(const struct informer *inf);
/* New reference: array of every stored object. */
json_t *informer_store_list(const struct informer *inf);
/* New reference: array of keys whose index `index` has `value` (empty
 * array if none), or NULL if no such index. */
json_t *informer_store_index_keys(const struct informer *inf, const char *index, const char *value);
/* New reference: array of those objects, or NULL if no such index. */
json_t *informer_store_by_index(const struct informer *inf, const char *index, const char *value);

/* Built-in index functions: pods by spec.nodeName, objects by the uid of
 * each metadata.ownerReferences entry, objects by namespace. */
void informer_index_pod_node_name(void *arg, const json_t *obj, json_t *out);
void informer_index_owner_uid(void *arg, const json_t *obj, json_t *out);
void informer_index_namespace(void *arg, const json_t *obj, json_t *out);
#define INFORMER_INDEX_NODE_NAME "spec.nodeName"
#define INFORMER_INDEX_OWNER_UID "ownerUID"
#define INFORMER_INDEX_NAMESPACE "namespace"

/* --- shared informers: one per distinct request for all controllers --- */
struct informer_factory;
struct informer_factory *informer_factory_new(struct event_base *base, struct rest_client *client,
                                              int64_t default_resync_ms);
/* Informers created from now on drop managedFields (drop_managed_fields). */
void informer_factory_drop_managed_fields(struct informer_factory *f);
/* The informer for path (all namespaces), created on first use.  Borrowed:
 * owned by the factory. */
struct informer *informer_factory_get(struct informer_factory *f, const char *path);
/* Same with full options: requests share an informer only when path,
 * namespace, label and field selectors, transform (function and argument)
 * and keep_parsed are all equal. */
struct informer *informer_factory_get_opts(struct informer_factory *f, const struct informer_opts *o);
/* Starts every informer not yet started. */
void informer_factory_start(struct informer_factory *f);
bool informer_factory_has_synced(const struct informer_factory *f);
void informer_factory_free(struct informer_factory *f);

#endif
