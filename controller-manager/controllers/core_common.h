/*
 * core_common.h - the API writes one controller sync issues for one
 * workqueue key, finished together.
 *
 * A sync computes its actions from the informer caches, starts them all
 * through a batch and calls sync_batch_end().  When the last request has
 * answered, the key is marked done in the workqueue: forgotten if every
 * write succeeded, requeued with rate-limited backoff if one failed, and
 * requeued after a delay if the sync asked for one (timers such as
 * tolerationSeconds or grace periods).  A 404 answer counts as success
 * (the object is already gone, which is what a later sync would see), and
 * so does 409 AlreadyExists on a create.  A per-request callback may chain
 * further requests into the same batch before it finishes.
 *
 * Also the small helpers the controllers of this area share: enqueueing
 * object keys from informer handlers, and an ownerReference builder.
 */
#ifndef CM_CORE_COMMON_H
#define CM_CORE_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <jansson.h>

struct labelsel;

struct rest_client;
struct rest_status;
struct workqueue;
struct sync_batch;

/* Called with the request's result (body borrowed) before the batch can
 * finish; may start more requests on b. */
typedef void (*sync_batch_fn)(void *arg, struct sync_batch *b, int http_code, json_t *body,
                              const struct rest_status *err);

/* The batches a controller has in flight, so that stop() can cancel
 * their requests and free everything they hold. */
struct sync_batch_set {
  struct sync_batch *head;
};
/* Cancels every request of every batch of set and frees them, without
 * touching the workqueue (which is being freed too).  For stop(). */
void sync_batch_set_cancel(struct sync_batch_set *set);

/* set may be NULL (untracked); q may be NULL (periodic work not tied to
 * a key). */
struct sync_batch *sync_batch_new(struct sync_batch_set *set, struct rest_client *c, struct workqueue *q,
                                  const char *key);
/* Starts METHOD path with body (borrowed, may be NULL); content_type NULL
 * means JSON (merge patch for PATCH).  Returns 0 or -ENOMEM (the batch is
 * then marked failed). */
int sync_batch_req(struct sync_batch *b, const char *method, const char *path,
                   const char *content_type, const json_t *body, sync_batch_fn cb, void *arg);
/* Same, with arg a malloc'd block that cb frees; freed by the set when
 * the request is cancelled instead. */
int sync_batch_req_owned(struct sync_batch *b, const char *method, const char *path, const json_t *body,
                         sync_batch_fn cb, void *arg);
/* ptr is released with free_fn when the batch ends (or is cancelled):
 * state shared by the batch's chained callbacks. */
void sync_batch_attach(struct sync_batch *b, void *ptr, void (*free_fn)(void *));
/* Marks the batch failed: the key is requeued rate limited. */
void sync_batch_fail(struct sync_batch *b);
/* Requeue the key after ms (the smallest value asked for wins). */
void sync_batch_requeue_after(struct sync_batch *b, int64_t ms);
/* The sync has started everything it will start directly. */
void sync_batch_end(struct sync_batch *b);
bool sync_batch_failed(const struct sync_batch *b);

/* Starts every action of acts (borrowed array of {verb, path, body?,
 * content_type?}) on b. */
void sync_batch_exec(struct sync_batch *b, const json_t *acts);

/* Informer handler helpers: arg is a struct workqueue *. */
void cc_enqueue_obj(struct workqueue *q, const json_t *obj);
void cc_on_add_enqueue(void *arg, const json_t *obj);
void cc_on_update_enqueue(void *arg, const json_t *old_obj, const json_t *new_obj);
void cc_on_delete_enqueue(void *arg, const json_t *obj, bool unknown);

struct informer;
/* Enqueues the key of every Service of pod's namespace whose selector
 * matches pod's labels. */
void cc_enqueue_pod_services(struct workqueue *q, struct informer *svc_inf, const json_t *pod);

/* New reference: a controller ownerReference to obj (kind/apiVersion
 * given, as list items often lack them). */
json_t *cc_owner_ref(const json_t *obj, const char *api_version, const char *kind,
                      bool controller, bool block);
/* Splits "ns/name" into ns and name buffers ("" ns for cluster scope). */
void cc_split_key(const char *key, char *ns, size_t nslen, char *name, size_t namelen);
/* Escapes s for a URL query value into a new string. */
char *cc_query_escape(const char *s);

/* Pod helpers (pod borrowed). */
bool cc_pod_ready(const json_t *pod);               /* Ready condition True */
bool cc_pod_terminal(const json_t *pod);            /* phase Succeeded/Failed */
bool cc_is_controlled_by(const json_t *obj, const char *uid);
/* Compiles a Service-style selector map (may be NULL: selects nothing). */
struct labelsel *cc_selector_from_map(const json_t *map);
/* New reference: every object in arr (borrowed) in namespace ns. */
json_t *cc_filter_namespace(const json_t *arr, const char *ns);
/* The container port a Service port's targetPort selects on pod: a named
 * targetPort looks up the containers' ports by name; a number (or no
 * targetPort: the service port) is taken as is.  -1 when unresolved. */
int cc_resolve_target_port(const json_t *svc_port, const json_t *pod);
/* Deep equality where an absent value (NULL), JSON null and an empty
 * array or object are all the same, as they are for API fields. */
bool cc_json_eq(const json_t *a, const json_t *b);
/* Time field at path as epoch microseconds, or dflt when absent/bad. */
int64_t cc_time_us(const json_t *obj, const char *path, int64_t dflt);

#endif
