/*
 * framework.h - the one controller framework of kube-controller-manager:
 * a workqueue of keys with rate-limited retries, the typed writes a sync
 * issues, the executor that sends them, and expectations (upstream's
 * controller pattern: client-go's RateLimitingInterface,
 * ControllerExpectations, slowStartBatch).
 *
 * A controller is declared (struct controller_def) and embeds struct
 * cm_base first; the framework starts, runs and stops every one the same
 * way.  Informer handlers only enqueue keys; the workqueue hands a key to
 * at most one sync at a time, and sync(base, key) reads the informer
 * caches (level-triggered: the desired state from the whole current
 * state, never from the event), appends the writes it wants to a struct
 * cm_actions and gives them to a run: cm_base_exec() for a sync that
 * knows all its writes at once, or
 * cm_run_begin() / cm_run_add() / cm_run_end() for one that chains
 * requests (a GET whose answer decides the next writes).  When the last
 * request of the run has answered, the key is finished:
 *   - every action done: the key's failures are forgotten;
 *   - any action not done: the key is requeued with rate limiting (5 ms
 *     doubling to 1000 s per key, 10 qps overall), and the next sync
 *     recomputes everything from the cache as it is by then;
 *   - either way, requeued after the delay the sync asked for, if any.
 *
 * Whether an answer is "done" is decided here, in cm_answer_done(), by
 * HTTP status and Status reason and never by message text:
 *   - any 2xx;
 *   - 404 NotFound to a DELETE (the object is gone, as wanted) or to a
 *     GET (the caller's on_answer reads the answer);
 *   - 404 NotFound to an action marked CM_DONE_IF_GONE: a PATCH that only
 *     takes something away (a finalizer, an owner reference) from an
 *     object that no longer exists, or a create into a namespace that no
 *     longer exists (nothing left to publish there);
 *   - 409 AlreadyExists to a POST marked CM_DONE_IF_EXISTS: a
 *     create-if-absent of an object whose content the controller does not
 *     manage (the "default" ServiceAccount, a StatefulSet's claims).
 * Everything else is not done: AlreadyExists to any other create and
 * NotFound or Conflict to an update or patch (the cache the sync computed
 * from was stale), Forbidden, Invalid, server and transport errors.
 *
 * Actions marked slow_start (pod creations) go in batches of 1, 2, 4, ...
 * (upstream slowStartBatch): a batch starts only when every request of
 * the previous one succeeded, the rest are skipped after a failure, so a
 * broken template costs one request, not hundreds.  A write that carried
 * an expectation and was not done (or was skipped) lowers it: the
 * controller must not wait for an event that will never come.
 *
 * Ownership: an action owns its path, body, messages and event object;
 * cm_run_add() moves them into the run.  Answers and callbacks always
 * come from the event loop, never from inside the call that sent.
 */
#ifndef CM_FRAMEWORK_H
#define CM_FRAMEWORK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "controller.h"

struct workqueue;
struct event;
struct event_recorder;
struct rest_request;
struct rest_client;
struct rest_status;
struct cm_run;
struct cm_base;

/* ---- typed actions ---- */

enum cm_verb { CM_GET, CM_POST, CM_PUT, CM_PATCH, CM_DELETE, CM_EVENT };
enum cm_patch_type { CM_PATCH_STRATEGIC, CM_PATCH_MERGE };
enum cm_expect { CM_EXPECT_NONE, CM_EXPECT_CREATE, CM_EXPECT_DELETE };

/* Answers besides 2xx that mean the action is done (see above). */
#define CM_DONE_IF_GONE 0x1u
#define CM_DONE_IF_EXISTS 0x2u

/* The answer to one request, before the run can finish: code 0 for a
 * transport failure, body borrowed (NULL when empty), err NULL for 2xx.
 * May add actions to run (cm_run_add) or mark it failed. */
typedef void (*cm_answer_fn)(void *arg, struct cm_run *run, int code, json_t *body, const struct rest_status *err);

struct cm_action {
  enum cm_verb verb;
  char *path;               /* owned */
  json_t *body;             /* owned, may be NULL */
  enum cm_patch_type patch; /* PATCH: strategic merge (default) or JSON merge */
  unsigned done_if;         /* CM_DONE_IF_* */
  bool slow_start;
  enum cm_expect expect; /* lowered for the run's key when not done */
  /* Events about evobj (an ObjectReference, owned reference): ok_* as a
   * Normal event when done (an EVENT action: at once), fail_* as a
   * Warning "fail_message: <error>" when not.  Reasons are literals. */
  json_t *evobj;
  const char *ok_type; /* "Normal" unless an EVENT says otherwise */
  const char *ok_reason;
  char *ok_message;
  bool ok_append_name; /* ok_message gets the answer's metadata.name */
  const char *fail_reason;
  char *fail_message;
  cm_answer_fn on_answer;
  void *answer_arg; /* freed with answer_free after the answer (or when dropped) */
  void (*answer_free)(void *);
};

/* A growable list of actions.  Pointers into it are valid until the next
 * append.  Tests read v[] directly. */
struct cm_actions {
  struct cm_action *v;
  size_t n, cap;
};

void cm_actions_init(struct cm_actions *a);
/* Frees every action (and their answer args) and empties the list. */
void cm_actions_clear(struct cm_actions *a);
size_t cm_actions_len(const struct cm_actions *a);
/* Appends an action; steals body (may be NULL). */
struct cm_action *cm_act(struct cm_actions *a, enum cm_verb verb, const char *path, json_t *body);
/* Events for act on success (Normal ok_reason ok_msg) and failure
 * (Warning fail_reason "fail_msg: error"); any may be NULL.  evobj borrowed. */
void cm_act_events(struct cm_action *act, const json_t *evobj, const char *ok_reason, const char *ok_msg,
                   const char *fail_reason, const char *fail_msg);
/* An Event to record at once (evobj borrowed). */
void cm_act_event(struct cm_actions *a, const json_t *evobj, const char *type, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Sets on_answer; arg is freed with free_fn (may be NULL) once answered
 * or dropped. */
void cm_act_on_answer(struct cm_action *act, cm_answer_fn fn, void *arg, void (*free_fn)(void *));
/* Number of actions with this verb whose path starts with prefix (NULL: any). */
size_t cm_actions_count(const struct cm_actions *a, enum cm_verb verb, const char *path_prefix);
/* The first such action, or NULL. */
struct cm_action *cm_actions_find(const struct cm_actions *a, enum cm_verb verb, const char *path_prefix);
/* "GET", "POST", ... */
const char *cm_verb_name(enum cm_verb v);

/* The rule above: true when this answer leaves act done. */
bool cm_answer_done(const struct cm_action *act, int code, const struct rest_status *err);

/* ---- expectations (upstream ControllerExpectations) ---- */

#define CM_EXPECTATIONS_TTL_S 300

struct cm_expectations;
struct cm_expectations *cm_expectations_new(void);
void cm_expectations_free(struct cm_expectations *e);
/* Sets (replaces) the pending adds and deletes for key, stamped now. */
void cm_expect(struct cm_expectations *e, const char *key, int adds, int dels, int64_t now);
void cm_expect_creations(struct cm_expectations *e, const char *key, int adds, int64_t now);
/* Lowers the pending count (an observed, failed or skipped write). */
void cm_creation_observed(struct cm_expectations *e, const char *key);
void cm_deletion_observed(struct cm_expectations *e, const char *key);
/* Adds to pending counts (upstream RaiseExpectations). */
void cm_expectations_raise(struct cm_expectations *e, const char *key, int adds, int dels);
/* True when nothing is pending, the expectations expired (TTL) or the key
 * has none: the controller may sync with the cache as it is. */
bool cm_expectations_satisfied(const struct cm_expectations *e, const char *key, int64_t now);
void cm_expectations_delete(struct cm_expectations *e, const char *key);
/* Pending counts, for tests; false if key has none. */
bool cm_expectations_get(const struct cm_expectations *e, const char *key, int *adds, int *dels);
/* UID-tracking deletions (upstream UIDTrackingControllerExpectations):
 * a delete is observed once per uid. */
void cm_expect_deletion_uids(struct cm_expectations *e, const char *key, const json_t *uids, int64_t now);
void cm_deletion_uid_observed(struct cm_expectations *e, const char *key, const char *uid);
/* Records the writes one sync issued: adds creations and the deletions of
 * the pods in del_uids (array of uid strings); nothing if both are empty. */
void cm_expect_writes(struct cm_expectations *e, const char *key, int adds, const json_t *del_uids, int64_t now);

/* ---- the base every controller embeds ---- */

/* How requests reach the API server: the REST client unless a test
 * supplies another (cm_ctx.transport).  request must answer through done
 * from the event loop, never from inside the call. */
typedef void (*cm_transport_done_fn)(void *arg, int code, json_t *body, const struct rest_status *err);
struct cm_transport {
  struct rest_request *(*request)(void *arg, const char *method, const char *path, const char *content_type,
                                  const json_t *body, cm_transport_done_fn done, void *done_arg);
  void (*cancel)(void *arg, struct rest_request *r);
  void *arg;
};

typedef void (*cm_sync_fn)(struct cm_base *b, const char *key);

struct cm_base {
  struct cm_ctx *ctx;
  const struct controller_def *def; /* NULL for a bare base */
  const char *name;                 /* the workqueue's name, upstream's */
  struct event_recorder *recorder;  /* Events as upstream's component, or NULL: ctx->recorder */
  struct rest_client *client;       /* its writes and Events (borrowed): ctx->client, or the
                                       client of its service account (cm_sa_clients) */
  struct workqueue *q;
  int workers;
  cm_sync_fn sync;
  struct cm_run *runs; /* runs in flight, cancelled by cm_base_stop */
  json_t *started;     /* key -> monotonic ms its sync began (metrics) */
  struct event *tick;  /* cm_base_periodic's timer */
  void (*on_tick)(struct cm_base *b);
};

/*
 * A controller, declared: the framework allocates `size` zeroed bytes (a
 * struct whose first member is its cm_base), sets up the queue, calls
 * init to register informers and handlers, starts `workers` workers once
 * the informers have synced (after run, if any), and at shutdown cancels
 * what is in flight, calls fini and frees it (valgrind-clean).
 */
struct controller_def {
  const char *name; /* upstream name: "replicaset", "deployment", ... */
  bool enabled_by_default;
  size_t size;           /* of the controller's struct, cm_base first */
  const char *queue;     /* its workqueue's name (upstream's, for metrics) */
  const char *component; /* source of its Events, NULL: kube-controller-manager */
  size_t workers_flag;   /* offsetof its --concurrent-*-syncs in cm_config, 0: none */
  int workers;           /* without that flag, or when it is not positive */
  cm_sync_fn sync;
  int (*init)(struct cm_base *b);  /* informers, handlers, state; < 0: the program stops */
  void (*run)(struct cm_base *b);  /* once synced, before the workers (may be NULL) */
  void (*fini)(struct cm_base *b); /* frees what init made (may be NULL) */
  const char *alias;               /* another name --controllers accepts, or NULL */
  /* Upstream's client name for it: with --use-service-account-credentials
   * its requests and Events go as the kube-system service account of that
   * name (bound to system:controller:NAME by the bootstrap policy). */
  const char *service_account;
};

/* The generic life of a controller (cm.c): NULL with *err < 0 when init
 * failed (everything freed). */
struct cm_base *cm_controller_start(const struct controller_def *d, struct cm_ctx *ctx, int *err);
void cm_controller_run(struct cm_base *b);
void cm_controller_stop(struct cm_base *b);

/* The queue alone, for tests that drive a base without a definition. */
int cm_base_init(struct cm_base *b, struct cm_ctx *ctx, const char *name, int workers, cm_sync_fn sync);
/* Events of this controller come from component (upstream's name, e.g.
 * "replicaset-controller"). */
void cm_base_set_component(struct cm_base *b, const char *component);
/* Calls fn every period_ms once the controller runs. */
void cm_base_periodic(struct cm_base *b, int64_t period_ms, void (*fn)(struct cm_base *b));
/* Starts the workers. */
void cm_base_run(struct cm_base *b);
/* Cancels the runs in flight and frees the queue, recorder and timer. */
void cm_base_stop(struct cm_base *b);

void cm_base_enqueue_key(struct cm_base *b, const char *key);
/* Enqueues the "namespace/name" key of obj. */
void cm_base_enqueue(struct cm_base *b, const json_t *obj);
/* Informer handlers enqueueing the object's key; arg is the base. */
void cm_on_add_enqueue(void *arg, const json_t *obj);
void cm_on_update_enqueue(void *arg, const json_t *old_obj, const json_t *new_obj);
void cm_on_delete_enqueue(void *arg, const json_t *obj, bool final_state_unknown);

/* Ends a sync that issued nothing: failed requeues the key rate limited;
 * delay_ms >= 0 requeues it after that too. */
void cm_base_finish(struct cm_base *b, const char *key, bool failed, int64_t delay_ms);

/* ---- runs: the writes of one sync ---- */

/* What a run's actions came to, for its done callback (strings borrowed). */
struct cm_outcome {
  int failed;               /* actions not done, skipped ones and cm_run_fail included */
  const char *error;        /* the first one's error message, or NULL */
  const char *expect_error; /* the first failed write that carried an expectation */
  enum cm_verb expect_error_verb;
};
typedef void (*cm_done_fn)(struct cm_base *b, const char *key, const struct cm_outcome *o);

/* A run for key; exp (may be NULL) is lowered for failed writes, done
 * (may be NULL) is told the outcome before the key finishes. */
struct cm_run *cm_run_begin(struct cm_base *b, const char *key, struct cm_expectations *exp, cm_done_fn done);
/* Sends every action of acts (emptied). */
void cm_run_add(struct cm_run *r, struct cm_actions *acts);
/* Requeue the key after ms as well (the smallest value asked wins). */
void cm_run_requeue_after(struct cm_run *r, int64_t ms);
/* Counts as a failed action: the key is requeued rate limited. */
void cm_run_fail(struct cm_run *r, const char *why);
/* ptr is released with free_fn when the run ends (or is cancelled). */
void cm_run_attach(struct cm_run *r, void *ptr, void (*free_fn)(void *));
struct cm_base *cm_run_base(const struct cm_run *r);
const char *cm_run_key(const struct cm_run *r);
/* The sync has added everything it will add directly; the run finishes
 * when the last answer is in (at once if nothing is in flight). */
void cm_run_end(struct cm_run *r);

/* begin + add + requeue_after (when >= 0) + end. */
void cm_base_exec(struct cm_base *b, const char *key, struct cm_actions *acts, struct cm_expectations *exp,
                  int64_t requeue_ms);
void cm_base_exec_cb(struct cm_base *b, const char *key, struct cm_actions *acts, struct cm_expectations *exp,
                     int64_t requeue_ms, cm_done_fn done);

/* Seconds since the epoch (wall clock). */
int64_t cm_now(void);

#endif
