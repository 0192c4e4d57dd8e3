/*
 * controller_utils.h - helpers shared by the workload controllers
 * (upstream's pkg/controller/controller_utils.go and controller_ref_manager.go).
 *
 * Controllers are written as two halves:
 *   - a pure "compute" function that takes objects from the informer caches
 *     (and the current time) and appends the API writes it wants to a
 *     struct cm_actions list, with no I/O, so tests call it directly and
 *     assert on the actions;
 *   - a thin driver that gathers the cached objects, calls compute and hands
 *     the list to cm_actions_exec(), which issues the requests through the
 *     REST client, records the success / failure Events and lowers the
 *     controller's expectations for writes that failed or were skipped.
 *
 * Pod creations marked as slow-start are sent in batches of 1, 2, 4, 8...
 * (upstream's slowStartBatch): a batch starts only when every request of the
 * previous one succeeded, and the rest are abandoned on the first failure so
 * a broken template (quota, admission) costs one request, not hundreds.
 */
#ifndef CM_CONTROLLER_UTILS_H
#define CM_CONTROLLER_UTILS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "controller.h"

struct workqueue;

/* ---- time ---- */

/* Seconds since the epoch of an RFC 3339 field at path, or -1 if absent. */
int64_t cm_time_at(const json_t *obj, const char *path);
/* New string reference "2006-01-02T15:04:05Z" for t seconds. */
json_t *cm_time_json(int64_t t);

/* ---- pods ---- */

bool cm_pod_is_ready(const json_t *pod);
/* Seconds since the epoch when the Ready condition last became True, -1 if not ready. */
int64_t cm_pod_ready_since(const json_t *pod);
/* Ready for at least min_ready_seconds at now (upstream IsPodAvailable). */
bool cm_pod_is_available(const json_t *pod, int64_t min_ready_seconds, int64_t now);
/* Not terminated (Succeeded/Failed) and not being deleted. */
bool cm_pod_is_active(const json_t *pod);
bool cm_obj_is_deleting(const json_t *obj);
/* Sum of the containers' restartCount. */
int64_t cm_pod_restarts(const json_t *pod);

/*
 * Sorts pods (array, in place) so the ones to delete first come first, in
 * upstream's ActivePodsWithRanks order: unassigned before assigned, Pending
 * before Unknown before Running, not ready before ready, lower
 * controller.kubernetes.io/pod-deletion-cost first, higher rank first
 * (ranks: pods of the same owner on the same node, or NULL), ready for a
 * shorter time first, more restarts first, newer first.
 */
void cm_rank_pods_for_deletion(json_t *pods, const json_t *ranks /* object uid -> int, or NULL */);
/* Same comparison on two pods: negative if a should be deleted before b. */
int cm_pod_deletion_cmp(const json_t *a, const json_t *b, int64_t rank_a, int64_t rank_b);

/* ---- owner references ---- */

/* Borrowed: the ownerReferences entry with controller: true, or NULL. */
json_t *cm_controller_ref(const json_t *obj);
/* New reference: {apiVersion, kind, name, uid, controller: true, blockOwnerDeletion: true}. */
json_t *cm_new_controller_ref(const json_t *owner, const char *api_version, const char *kind);
/* New reference: an ObjectReference for Events and status.active. */
json_t *cm_object_ref(const json_t *obj, const char *api_version, const char *kind);
/* True if obj's controller ref has this uid. */
bool cm_is_controlled_by(const json_t *obj, const char *uid);

/* The candidates an owner may claim, without parsing every object of its
 * namespace: the informer's objects with an ownerReference to the owner's
 * uid, plus the namespace's orphans (no controller ref), which it may
 * adopt.  A sync that lists a whole namespace costs O(namespace) per key,
 * O(n^2) over a large rollout.  cm_add_claim_indexes() registers the two
 * indexes this needs (before the informer starts; repeat calls are fine). */
#define CM_INDEX_ORPHANS "cm-orphans-by-namespace"
struct informer;
int cm_add_claim_indexes(struct informer *inf);
void cm_index_orphans(void *arg, const json_t *obj, json_t *out);
/* New reference (array, never NULL): objects owned by or claimable by owner. */
json_t *cm_claim_candidates(const struct informer *inf, const json_t *owner);

/* ---- expectations (upstream ControllerExpectations) ---- */

#define CM_EXPECTATIONS_TTL_S 300

struct cm_expectations;
struct cm_expectations *cm_expectations_new(void);
void cm_expectations_free(struct cm_expectations *e);
/* Sets (replaces) the pending adds and deletes for key, stamped now. */
void cm_expect(struct cm_expectations *e, const char *key, int adds, int dels, int64_t now);
void cm_expect_creations(struct cm_expectations *e, const char *key, int adds, int64_t now);
void cm_expect_deletions(struct cm_expectations *e, const char *key, int dels, int64_t now);
/* Lowers the pending count (an observed or failed write). */
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

/* UID-tracking variant for deletions (upstream UIDTrackingControllerExpectations):
 * remembers which pod uids we deleted so a delete is observed once. */
void cm_expect_deletion_uids(struct cm_expectations *e, const char *key, const json_t *uids, int64_t now);
void cm_deletion_uid_observed(struct cm_expectations *e, const char *key, const char *uid);
/* Records the writes one sync issued: adds creations and the deletions of
 * the pods in del_uids (array of uid strings); nothing if both are empty. */
void cm_expect_writes(struct cm_expectations *e, const char *key, int adds, const json_t *del_uids, int64_t now);

/* ---- pod templates ---- */

/*
 * New reference: a Pod to POST for template (spec.template of owner):
 * metadata.generateName PREFIX-, the template's labels, annotations and
 * finalizers, the owner's namespace, ownerReferences [controller ref], the
 * template's spec.
 */
json_t *cm_pod_from_template(const json_t *template, const json_t *owner, const char *api_version,
                             const char *kind);

/* ---- the controller ref manager ---- */

/*
 * Claims pods for owner (upstream PodControllerRefManager.ClaimPods): from
 * pods (array, borrowed), returns a new array of the pods owner controls
 * after adoption/release: pods controlled by owner that still match sel;
 * orphans (no controller ref, not deleting) that match sel are adopted
 * (strategic-merge PATCH adding the controller ref, with the pod's uid as
 * precondition); owned pods that stop matching are released (PATCH
 * deleting our ref).  Adoption is skipped when owner is being deleted.
 * Works for any dependent kind; coll is its collection ("pods").
 */
struct labelsel;
struct cm_actions;
json_t *cm_claim_objects(const json_t *owner, const char *api_version, const char *kind,
                         const struct labelsel *sel, const json_t *objs, const char *api_prefix,
                         const char *coll, struct cm_actions *acts);
json_t *cm_claim_pods(const json_t *owner, const char *api_version, const char *kind,
                      const struct labelsel *sel, const json_t *pods, struct cm_actions *acts);

/* ---- actions ---- */

/*
 * A list of API writes.  Each action is a json object:
 *   verb ("POST", "PUT", "PATCH", "DELETE", "EVENT"), path, body (optional),
 *   content_type (PATCH: default strategic merge), slow_start (bool),
 *   ok_exists (bool: a POST answered 409 AlreadyExists counts as done),
 *   exp_key + exp ("add" | "del") to lower expectations on failure,
 *   obj (ObjectReference for events), ok_event / fail_event
 *   {type, reason, message} (fail_event's message gets ": <error>" appended;
 *   "{name}" in ok_event's message becomes the response's metadata.name).
 * Tests read acts->list directly.
 */
struct cm_actions {
  json_t *list;    /* array, owned */
};

void cm_actions_init(struct cm_actions *a);
void cm_actions_clear(struct cm_actions *a);
size_t cm_actions_len(const struct cm_actions *a);
/* Borrowed i-th action. */
json_t *cm_actions_at(const struct cm_actions *a, size_t i);
/* Appends; steals body; returns the action (borrowed) for extra fields. */
json_t *cm_act(struct cm_actions *a, const char *verb, const char *path, json_t *body);
/* Adds the Events to record on success / failure to an action (evobj borrowed). */
void cm_act_events(json_t *act, const json_t *evobj, const char *type, const char *reason,
                   const char *ok_msg, const char *fail_reason, const char *fail_msg);
/* An Event to record at once (evobj is an ObjectReference, borrowed). */
void cm_act_event(struct cm_actions *a, const json_t *evobj, const char *type, const char *reason,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Number of actions with this verb whose path starts with prefix. */
size_t cm_actions_count(const struct cm_actions *a, const char *verb, const char *path_prefix);

/* Called once every action finished: failed counts requests that failed
 * (conflicts included) or were skipped; first_error is the message of the
 * first failure (borrowed for the call) or NULL. */
typedef void (*cm_actions_done_fn)(void *arg, int failed, const char *first_error);
/* Executes and empties acts.  exp may be NULL.  done (may be NULL) runs from
 * the loop, also when acts is empty.  The handle is valid until done runs
 * (or cm_actions_cancel). */
struct cm_exec;
struct cm_exec *cm_actions_exec(struct cm_ctx *ctx, struct cm_actions *acts, struct cm_expectations *exp,
                                cm_actions_done_fn done, void *arg);
/* Same, recording the Events with rec (NULL: ctx->recorder). */
struct event_recorder;
struct cm_exec *cm_actions_exec_rec(struct cm_ctx *ctx, struct event_recorder *rec, struct cm_actions *acts,
                                    struct cm_expectations *exp, cm_actions_done_fn done, void *arg);
/* Abandons a run (at shutdown): requests cancelled, done never called. */
void cm_actions_cancel(struct cm_exec *ex);

/* ---- small helpers ---- */

/* "namespace/name" split; ns and name point into buf. -EINVAL if malformed. */
int cm_split_key(const char *key, char *buf, size_t len, const char **ns, const char **name);
/* Collection path: "/apis/apps/v1/namespaces/NS/replicasets" (prefix "/apis/apps/v1"). */
char *cm_path(char *out, size_t len, const char *prefix, const char *ns, const char *coll,
              const char *name, const char *sub);
/* int-or-percent (maxSurge, maxUnavailable) against total: percent values
 * are rounded up if round_up, else down.  -EINVAL if malformed. */
int cm_int_or_percent(const json_t *v, int64_t total, bool round_up, int64_t *out);
/* Deep copy of labels without the given key; new reference. */
json_t *cm_labels_without(const json_t *labels, const char *key);
/* Sets or replaces the condition of this type in the array at path of obj;
 * keeps lastTransitionTime when the status did not change.  Returns true
 * if anything changed. */
bool cm_set_condition(json_t *obj, const char *path, const char *type, const char *status,
                      const char *reason, const char *message, int64_t now, bool update_probe_time);
/* Borrowed: the condition of this type in the array at path, or NULL. */
json_t *cm_get_condition(const json_t *obj, const char *path, const char *type);
void cm_remove_condition(json_t *obj, const char *path, const char *type);

/* Enqueues the controller (owner) key of obj if its controller ref has the
 * given kind: "ns/ownername". */
bool cm_owner_key(const json_t *obj, const char *kind, char *out, size_t len);

#endif
