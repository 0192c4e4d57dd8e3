/*
 * controller.c - the Foo controller, the C counterpart of upstream's
 * k8s.io/sample-controller, written against libkube's public headers only.
 *
 * The pattern every controller follows:
 *
 *  1. Informers keep a local cache of Foos and of Deployments (LIST, then
 *     WATCH from the list's resourceVersion; on a broken watch they watch
 *     again, and on 410 Expired they relist and report what changed).  The
 *     controller never reads from the API server directly: it reads the
 *     caches and only writes through the REST client.
 *  2. Event handlers only compute a key ("namespace/name" of a Foo) and add
 *     it to the workqueue.  A Foo event enqueues that Foo; a Deployment
 *     event enqueues the Foo named by the Deployment's controller owner
 *     reference of kind Foo (upstream's handleObject), so a Deployment
 *     changed or deleted by someone else brings its Foo back to the desired
 *     state.
 *  3. Workers take keys from the queue (the queue never hands out one key
 *     twice at once) and run sync(key), which is level-triggered: it looks
 *     at the current Foo and Deployment in the caches, never at what the
 *     event said, so missed events, resyncs and restarts cannot leave the
 *     world wrong.  A failed sync puts the key back rate limited (per-key
 *     exponential backoff); a successful one forgets the key's failures.
 *
 * sync(key), as upstream's syncHandler, one asynchronous step after the
 * other on the event loop (struct sync_op carries the state between them):
 *   - the Foo is gone: nothing to do (its Deployment goes with it through
 *     the garbage collector, because of the owner reference);
 *   - spec.deploymentName is empty: logged, not requeued (a later update
 *     of the Foo enqueues it again);
 *   - the Deployment is missing: created with a controller owner reference
 *     to the Foo (blockOwnerDeletion, so foreground deletion of the Foo
 *     waits for it);
 *   - the Deployment exists but is not controlled by this Foo: Warning
 *     Event ErrResourceExists and an error (requeued);
 *   - spec.replicas differs: the cached Deployment is copied, its replicas
 *     set and PUT back (read-modify-write keeps every field the controller
 *     does not manage; a 409 Conflict means the cache was stale, and the
 *     requeue retries with the newer object);
 *   - status.availableReplicas of the Foo is set from the Deployment's
 *     status through the /status subresource, only when it differs;
 *   - Normal Event Synced.
 *
 * Ownership: the controller owns its informers, queue, timers and every
 * sync_op; a sync_op owns its key copy and new references to the Foo and
 * the Deployment it works on.  Objects from the informer store are new
 * references that the controller never modifies (a deep copy is made
 * before any write).
 */
#define _GNU_SOURCE
#include "controller.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube/informer.h"
#include "kube/json.h"
#include "kube/log.h"
#include "kube/metrics.h"
#include "kube/podutil.h" /* obj_controller_ref, obj_is_controlled_by */
#include "kube/recorder.h"
#include "kube/restclient.h"
#include "kube/workqueue.h"
#include "kube/xalloc.h"

#define FOOS_PATH "/apis/" SAMPLE_FOO_GROUP "/" SAMPLE_FOO_VERSION "/foos"
#define DEPLOYMENTS_PATH "/apis/apps/v1/deployments"
#define FOO_API_VERSION SAMPLE_FOO_GROUP "/" SAMPLE_FOO_VERSION
#define FIELD_MANAGER "sample-controller"
/* Upstream's informer factories resync every 30 s. */
#define RESYNC_PERIOD_MS (30 * 1000)
#define CACHE_SYNC_POLL_MS 100

/* Event reasons and messages, as upstream. */
#define REASON_SYNCED "Synced"
#define REASON_ERR_RESOURCE_EXISTS "ErrResourceExists"
#define MESSAGE_RESOURCE_SYNCED "Foo synced successfully"

struct sync_op {
  struct sample_controller *c;
  char *key;                /* "namespace/name" of the Foo */
  json_t *foo;              /* new reference, from the cache; read-only */
  json_t *deployment;       /* new reference: cached or as the server answered */
  struct rest_request *req; /* the write in flight, if any */
  struct timespec started;
  struct sync_op *prev, *next;
};

struct sample_controller {
  struct event_base *base;
  struct rest_client *client;      /* borrowed */
  struct event_recorder *recorder; /* borrowed */
  struct metrics *metrics;         /* borrowed */
  struct informer *foos, *deployments;
  struct workqueue *queue;
  struct event *sync_poll;
  struct sync_op *ops; /* syncs in progress */
  int workers;
};

/* ---- event handlers: keys into the queue ---- */

static void enqueue_foo(struct sample_controller *c, const json_t *foo)
{
  char key[512];
  if (!informer_key(foo, key, sizeof key)) {
    KLOG_E("couldn't get key for object: no metadata.name");
    return;
  }
  workqueue_add(c->queue, key);
}

static void foo_added(void *arg, const json_t *obj) { enqueue_foo(arg, obj); }

static void foo_updated(void *arg, const json_t *old_obj, const json_t *new_obj) { enqueue_foo(arg, new_obj); }

/* upstream's handleObject: a Deployment controlled by a Foo that still
 * exists enqueues that Foo; anything else is ignored. */
static void handle_object(struct sample_controller *c, const json_t *obj)
{
  const char *ns = kj_get_str(obj, "metadata.namespace");
  const char *name = kj_get_str(obj, "metadata.name");
  KLOG_V(4, "Processing object %s/%s", ns ? ns : "", name ? name : "");
  const json_t *ref = obj_controller_ref(obj); /* metav1.GetControllerOf */
  if (!ref) return;
  const char *kind = json_string_value(json_object_get(ref, "kind"));
  const char *owner = json_string_value(json_object_get(ref, "name"));
  if (!kind || strcmp(kind, SAMPLE_FOO_KIND) != 0 || !owner || !ns) return;
  char key[512];
  snprintf(key, sizeof key, "%s/%s", ns, owner);
  json_t *foo = informer_store_get_obj(c->foos, key);
  if (!foo) {
    KLOG_V(4, "Ignoring orphaned object %s/%s of foo %s", ns, name ? name : "", owner);
    return;
  }
  enqueue_foo(c, foo);
  json_decref(foo);
}

static void deployment_added(void *arg, const json_t *obj) { handle_object(arg, obj); }

static void deployment_updated(void *arg, const json_t *old_obj, const json_t *new_obj)
{
  /* A resync hands every cached Deployment over again unchanged; two
   * different versions always have different resourceVersions. */
  const char *old_rv = kj_get_str(old_obj, "metadata.resourceVersion");
  const char *new_rv = kj_get_str(new_obj, "metadata.resourceVersion");
  if (old_rv && new_rv && !strcmp(old_rv, new_rv)) return;
  handle_object(arg, new_obj);
}

/* With final_state_unknown (the delete was noticed by a relist) obj is the
 * last state the cache saw, which still names the owner. */
static void deployment_deleted(void *arg, const json_t *obj, bool final_state_unknown) { handle_object(arg, obj); }

/* ---- sync: one asynchronous step after the other ---- */

static double seconds_since(const struct timespec *t0)
{
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

static void op_free(struct sync_op *op)
{
  if (op->req) rest_cancel(op->req);
  if (op->prev) op->prev->next = op->next;
  else op->c->ops = op->next;
  if (op->next) op->next->prev = op->prev;
  json_decref(op->foo);
  json_decref(op->deployment);
  free(op->key);
  free(op);
}

/* Ends a sync: rc < 0 requeues the key rate limited (error already
 * logged), else the key's failures are forgotten.  Frees op. */
static void sync_finish(struct sync_op *op, int rc)
{
  struct sample_controller *c = op->c;
  if (rc < 0) {
    workqueue_add_rate_limited(c->queue, op->key);
  } else {
    workqueue_forget(c->queue, op->key);
    KLOG_V(2, "Successfully synced '%s'", op->key);
  }
  metrics_counter_add(c->metrics, "sample_controller_syncs_total", "Foo syncs by result.",
                      rc < 0 ? "result=\"error\"" : "result=\"success\"", 1);
  metrics_histogram_observe(c->metrics, "sample_controller_sync_duration_seconds", "How long one Foo sync took.", NULL,
                            NULL, 0, seconds_since(&op->started));
  workqueue_done(c->queue, op->key);
  op_free(op);
}

/* Logs a failed write the way upstream's worker does and requeues. */
static void sync_failed(struct sync_op *op, const char *what, const struct rest_status *err)
{
  KLOG_E("error syncing '%s': %s: %s (%s, %d), requeuing", op->key, what, err->message ? err->message : "",
         err->reason ? err->reason : "", err->code);
  sync_finish(op, -1);
}

static void sync_synced(struct sync_op *op)
{
  recorder_eventf(op->c->recorder, op->foo, RECORDER_EVENT_NORMAL, REASON_SYNCED, "%s", MESSAGE_RESOURCE_SYNCED);
  sync_finish(op, 0);
}

static void status_written(void *arg, int http_code, json_t *body, const struct rest_status *err)
{
  struct sync_op *op = arg;
  op->req = NULL;
  if (err) {
    sync_failed(op, "updating Foo status", err);
    return;
  }
  sync_synced(op);
}

/* Foo.status.availableReplicas = Deployment.status.availableReplicas, via
 * the status subresource, only if it differs.  The Deployment's field is
 * omitted when zero; the Foo's is always written (upstream's type has no
 * omitempty), so a Foo with no status gets availableReplicas: 0. */
static void sync_update_status(struct sync_op *op)
{
  int64_t available = kj_get_int(op->deployment, "status.availableReplicas", 0);
  const json_t *cur = kj_get(op->foo, "status.availableReplicas");
  if (json_is_integer(cur) && json_integer_value(cur) == available) {
    sync_synced(op);
    return;
  }
  json_t *copy = kj_deep_copy(op->foo);
  kj_set_int(copy, "status.availableReplicas", available);
  char path[1024];
  snprintf(path, sizeof path, "/apis/%s/namespaces/%s/foos/%s/status?fieldManager=%s", FOO_API_VERSION,
           kj_get_str(op->foo, "metadata.namespace"), kj_get_str(op->foo, "metadata.name"), FIELD_MANAGER);
  op->req = rest_request(op->c->client, "PUT", path, copy, status_written, op);
  json_decref(copy);
  if (!op->req) sync_finish(op, -1);
}

static void deployment_written(void *arg, int http_code, json_t *body, const struct rest_status *err)
{
  struct sync_op *op = arg;
  op->req = NULL;
  if (err) {
    sync_failed(op, "writing Deployment", err);
    return;
  }
  if (json_is_object(body)) {
    json_decref(op->deployment);
    op->deployment = json_incref(body);
  }
  sync_update_status(op);
}

/* spec.replicas of the Foo, when set, is the Deployment's. */
static void sync_scale(struct sync_op *op)
{
  const json_t *want = kj_get(op->foo, "spec.replicas");
  int64_t have = kj_get_int(op->deployment, "spec.replicas", 1);
  if (!json_is_integer(want) || json_integer_value(want) == have) {
    sync_update_status(op);
    return;
  }
  const char *ns = kj_get_str(op->deployment, "metadata.namespace");
  const char *name = kj_get_str(op->deployment, "metadata.name");
  KLOG_V(4, "Foo %s replicas: %lld, deployment replicas: %lld", op->key, (long long)json_integer_value(want),
         (long long)have);
  json_t *copy = kj_deep_copy(op->deployment);
  kj_set_int(copy, "spec.replicas", json_integer_value(want));
  char path[1024];
  snprintf(path, sizeof path, "/apis/apps/v1/namespaces/%s/deployments/%s?fieldManager=%s", ns, name, FIELD_MANAGER);
  op->req = rest_request(op->c->client, "PUT", path, copy, deployment_written, op);
  json_decref(copy);
  if (!op->req) sync_finish(op, -1);
}

static void sync_check_owner(struct sync_op *op)
{
  /* metav1.IsControlledBy: the controller reference names the Foo's uid */
  if (!obj_is_controlled_by(op->deployment, kj_get_str(op->foo, "metadata.uid"))) {
    const char *name = kj_get_str(op->deployment, "metadata.name");
    recorder_eventf(op->c->recorder, op->foo, RECORDER_EVENT_WARNING, REASON_ERR_RESOURCE_EXISTS,
                    "Resource \"%s\" already exists and is not managed by Foo", name ? name : "");
    KLOG_E("error syncing '%s': Resource \"%s\" already exists and is not managed by Foo, requeuing", op->key,
           name ? name : "");
    sync_finish(op, -1);
    return;
  }
  sync_scale(op);
}

/* New reference: the Deployment a Foo wants (upstream's newDeployment):
 * labels app=nginx and controller=<foo>, one nginx container, the Foo's
 * replicas (the server defaults 1 when the Foo has none), owned by the Foo
 * as its controller. */
static json_t *new_deployment(const json_t *foo)
{
  const char *foo_name = kj_get_str(foo, "metadata.name");
  json_t *labels = json_pack("{s:s,s:s}", "app", "nginx", "controller", foo_name);
  json_t *owner = json_pack("{s:s,s:s,s:s,s:s,s:b,s:b}", "apiVersion", FOO_API_VERSION, "kind", SAMPLE_FOO_KIND, "name",
                            foo_name, "uid", kj_get_str(foo, "metadata.uid"), "controller", 1, "blockOwnerDeletion", 1);
  json_t *d = json_pack("{s:s,s:s,s:{s:s,s:s,s:[o]},s:{s:{s:O},s:{s:{s:O},s:{s:[{s:s,s:s}]}}}}", "apiVersion",
                        "apps/v1", "kind", "Deployment", "metadata", "name", kj_get_str(foo, "spec.deploymentName"),
                        "namespace", kj_get_str(foo, "metadata.namespace"), "ownerReferences", owner, "spec",
                        "selector", "matchLabels", labels, "template", "metadata", "labels", labels, "spec",
                        "containers", "name", "nginx", "image", "nginx:latest");
  json_decref(labels);
  const json_t *replicas = kj_get(foo, "spec.replicas");
  if (d && json_is_integer(replicas)) kj_set_int(d, "spec.replicas", json_integer_value(replicas));
  return d;
}

/* After the create, the same checks as for a cached Deployment (the new
 * one passes them, as upstream's flow does). */
static void deployment_created(void *arg, int http_code, json_t *body, const struct rest_status *err)
{
  struct sync_op *op = arg;
  op->req = NULL;
  if (err) {
    sync_failed(op, "creating Deployment", err);
    return;
  }
  if (!json_is_object(body)) {
    KLOG_E("error syncing '%s': creating Deployment: no object in the answer, requeuing", op->key);
    sync_finish(op, -1);
    return;
  }
  op->deployment = json_incref(body);
  sync_check_owner(op);
}

static void sync_create(struct sync_op *op)
{
  json_t *d = new_deployment(op->foo);
  if (!d) {
    sync_finish(op, -1);
    return;
  }
  char path[1024];
  snprintf(path, sizeof path, "/apis/apps/v1/namespaces/%s/deployments?fieldManager=%s",
           kj_get_str(op->foo, "metadata.namespace"), FIELD_MANAGER);
  op->req = rest_request(op->c->client, "POST", path, d, deployment_created, op);
  json_decref(d);
  if (!op->req) sync_finish(op, -1);
}

/* The first step: everything comes from the caches. */
static void sync_start(struct sync_op *op)
{
  struct sample_controller *c = op->c;
  op->foo = informer_store_get_obj(c->foos, op->key);
  if (!op->foo) {
    KLOG_V(2, "foo '%s' in work queue no longer exists", op->key);
    sync_finish(op, 0);
    return;
  }
  const char *dname = kj_get_str(op->foo, "spec.deploymentName");
  if (!dname || !*dname) {
    /* Not requeued: only an update of the Foo can fix it, and that
     * enqueues it again. */
    KLOG_E("%s: deployment name must be specified", op->key);
    sync_finish(op, 0);
    return;
  }
  char dkey[512];
  snprintf(dkey, sizeof dkey, "%s/%s", kj_get_str(op->foo, "metadata.namespace"), dname);
  op->deployment = informer_store_get_obj(c->deployments, dkey);
  if (!op->deployment) {
    sync_create(op);
    return;
  }
  sync_check_owner(op);
}

/* The workqueue's process callback: key is borrowed until workqueue_done,
 * which sync_finish calls (now or when the last write answers). */
static void process_key(void *arg, struct workqueue *q, const char *key)
{
  struct sample_controller *c = arg;
  struct sync_op *op = xcalloc(1, sizeof *op);
  op->c = c;
  op->key = xstrdup(key);
  clock_gettime(CLOCK_MONOTONIC, &op->started);
  op->next = c->ops;
  if (c->ops) c->ops->prev = op;
  c->ops = op;
  sync_start(op);
}

/* ---- lifecycle ---- */

struct sample_controller *sample_controller_new(struct event_base *base, struct rest_client *client,
                                                struct event_recorder *recorder, struct metrics *metrics)
{
  struct sample_controller *c = xcalloc(1, sizeof *c);
  c->base = base;
  c->client = client;
  c->recorder = recorder;
  c->metrics = metrics;
  struct informer_opts fo = {.path = FOOS_PATH, .resync_ms = RESYNC_PERIOD_MS, .drop_managed_fields = true};
  struct informer_opts dopts = {.path = DEPLOYMENTS_PATH, .resync_ms = RESYNC_PERIOD_MS, .drop_managed_fields = true};
  c->foos = informer_new(base, client, &fo);
  c->deployments = informer_new(base, client, &dopts);
  c->queue = workqueue_new(base, "Foos");
  if (!c->foos || !c->deployments || !c->queue) {
    sample_controller_free(c);
    return NULL;
  }
  KLOG_I("Setting up event handlers");
  struct informer_handlers fh = {.on_add = foo_added, .on_update = foo_updated, .arg = c};
  struct informer_handlers dh = {
      .on_add = deployment_added, .on_update = deployment_updated, .on_delete = deployment_deleted, .arg = c};
  informer_add_handlers(c->foos, &fh);
  informer_add_handlers(c->deployments, &dh);
  return c;
}

bool sample_controller_has_synced(const struct sample_controller *c)
{
  return informer_has_synced(c->foos) && informer_has_synced(c->deployments);
}

/* Workers start only once both caches are filled: before that, a missing
 * Deployment in the cache would not mean a missing Deployment. */
static void cache_sync_poll(evutil_socket_t fd, short what, void *arg)
{
  struct sample_controller *c = arg;
  if (!sample_controller_has_synced(c)) {
    struct timeval tv = {0, CACHE_SYNC_POLL_MS * 1000};
    evtimer_add(c->sync_poll, &tv);
    return;
  }
  KLOG_I("Starting workers count=%d", c->workers);
  workqueue_run(c->queue, c->workers, process_key, c);
  KLOG_I("Started workers");
}

int sample_controller_run(struct sample_controller *c, int workers)
{
  KLOG_I("Starting Foo controller");
  c->workers = workers;
  int rc = informer_start(c->foos);
  if (rc == 0) rc = informer_start(c->deployments);
  if (rc < 0) return rc;
  KLOG_I("Waiting for informer caches to sync");
  c->sync_poll = evtimer_new(c->base, cache_sync_poll, c);
  if (!c->sync_poll) return -ENOMEM;
  struct timeval tv = {0, 0};
  evtimer_add(c->sync_poll, &tv);
  return 0;
}

void sample_controller_shutdown(struct sample_controller *c)
{
  KLOG_I("Shutting down workers");
  workqueue_shutdown(c->queue);
  if (c->sync_poll) event_del(c->sync_poll);
}

void sample_controller_update_gauges(struct sample_controller *c)
{
  metrics_gauge_set(c->metrics, "workqueue_depth", "Current depth of workqueue", "name=\"Foos\"",
                    (double)workqueue_len(c->queue));
  metrics_gauge_set(c->metrics, "sample_controller_syncs_in_flight", "Foo syncs waiting for a write to answer.", NULL,
                    (double)workqueue_processing(c->queue));
}

void sample_controller_free(struct sample_controller *c)
{
  if (!c) return;
  while (c->ops) op_free(c->ops);
  if (c->sync_poll) event_free(c->sync_poll);
  if (c->foos) informer_free(c->foos);
  if (c->deployments) informer_free(c->deployments);
  if (c->queue) workqueue_free(c->queue);
  free(c);
}
