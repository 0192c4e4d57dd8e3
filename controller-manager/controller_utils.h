/*
 * controller_utils.h - helpers shared by the controllers (upstream's
 * pkg/controller/controller_utils.go and controller_ref_manager.go): pod
 * state and deletion ranking, owner references and the controller ref
 * manager, pod templates, conditions, selectors and small helpers.
 *
 * Controllers are written as two halves: a pure "compute" step that takes
 * objects from the informer caches (and the current time) and appends the
 * API writes it wants to a struct cm_actions, with no I/O, so tests call
 * it directly and assert on the actions; and a thin sync that gathers the
 * cached objects, calls compute and hands the actions to the framework
 * (framework.h).
 */
#ifndef CM_CONTROLLER_UTILS_H
#define CM_CONTROLLER_UTILS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "controller.h"
#include "framework.h"
#include "kube/podutil.h"

struct informer;

/* ---- time ---- */

/* Microseconds since the epoch of an RFC 3339 field at path, or dflt when
 * absent or malformed. */
int64_t cm_time_us(const json_t *obj, const char *path, int64_t dflt);
/* The same in seconds, or -1. */
int64_t cm_time_at(const json_t *obj, const char *path);
/* New string reference "2006-01-02T15:04:05Z" for t seconds. */
json_t *cm_time_json(int64_t t);

/* ---- pods ---- */

/* Pod state (readiness, availability, phases, controller references)
 * comes from kube/podutil.h, the one set of pod helpers. */

/*
 * Sorts pods (array, in place) so the ones to delete first come first, in
 * upstream's ActivePodsWithRanks order: unassigned before assigned, Pending
 * before Unknown before Running, not ready before ready, lower
 * controller.kubernetes.io/pod-deletion-cost first, higher rank first
 * (ranks: pods of the same owner on the same node, or NULL), ready for a
 * shorter time first, more restarts first, newer first.
 */
void cm_rank_pods_for_deletion(json_t *pods, const json_t *ranks /* object uid -> int, or NULL */);
/* Sorts a JSON array in place with a comparator of two json_t ** and a
 * context (qsort_r). */
void cm_sort_array(json_t *arr, int (*cmp)(const void *, const void *, void *), void *arg);
/* Same comparison on two pods: negative if a should be deleted before b. */
int cm_pod_deletion_cmp(const json_t *a, const json_t *b, int64_t rank_a, int64_t rank_b);

/* ---- owner references ---- */

/* Borrowed: obj's ownerReference (controller or not) to uid, or NULL. */
json_t *cm_owner_ref_to(const json_t *obj, const char *uid);
/* New reference: {apiVersion, kind, name, uid, controller: true, blockOwnerDeletion: true}. */
json_t *cm_new_controller_ref(const json_t *owner, const char *api_version, const char *kind);
/* New reference: an ObjectReference for Events and status.active. */
json_t *cm_object_ref(const json_t *obj, const char *api_version, const char *kind);

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

/* ---- pod templates ---- */

/*
 * New reference: a Pod to POST for template (spec.template of owner):
 * metadata.generateName PREFIX-, the template's labels, annotations and
 * finalizers, the owner's namespace, ownerReferences [controller ref], the
 * template's spec.
 */
json_t *cm_pod_from_template(const json_t *template, const json_t *owner, const char *api_version, const char *kind);

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
json_t *cm_claim_objects(const json_t *owner, const char *api_version, const char *kind, const struct labelsel *sel,
                         const json_t *objs, const char *api_prefix, const char *coll, struct cm_actions *acts);
json_t *cm_claim_pods(const json_t *owner, const char *api_version, const char *kind, const struct labelsel *sel,
                      const json_t *pods, struct cm_actions *acts);

/* ---- small helpers ---- */

/* "namespace/name" split; ns and name point into buf. -EINVAL if malformed. */
int cm_split_key(const char *key, char *buf, size_t len, const char **ns, const char **name);
/* Collection path: "/apis/apps/v1/namespaces/NS/replicasets" (prefix "/apis/apps/v1"). */
char *cm_path(char *out, size_t len, const char *prefix, const char *ns, const char *coll, const char *name,
              const char *sub);
/* int-or-percent (maxSurge, maxUnavailable) against total: percent values
 * are rounded up if round_up, else down.  -EINVAL if malformed. */
int cm_int_or_percent(const json_t *v, int64_t total, bool round_up, int64_t *out);
/* Deep copy of labels without the given key; new reference. */
json_t *cm_labels_without(const json_t *labels, const char *key);
/* DeleteOptions that delete only this object (metadata.uid as a
 * precondition: an object made again under the same name is left
 * alone); new reference. */
json_t *cm_delete_this(const json_t *obj);
/* Sets or replaces the condition of this type in the array at path of obj;
 * keeps lastTransitionTime when the status did not change.  Returns true
 * if anything changed. */
bool cm_set_condition(json_t *obj, const char *path, const char *type, const char *status, const char *reason,
                      const char *message, int64_t now, bool update_probe_time);
/* Borrowed: the condition of this type in the array at path, or NULL. */
json_t *cm_get_condition(const json_t *obj, const char *path, const char *type);
void cm_remove_condition(json_t *obj, const char *path, const char *type);

/* Enqueues the controller (owner) key of obj if its controller ref has the
 * given kind: "ns/ownername". */
bool cm_owner_key(const json_t *obj, const char *kind, char *out, size_t len);
/* Borrowed: the object of arr whose metadata.name is name, or NULL. */
const json_t *cm_find_named(const json_t *arr, const char *name);
/* Deep equality where an absent value (NULL), JSON null and an empty
 * array or object are all the same, as they are for API fields. */
bool cm_json_eq(const json_t *a, const json_t *b);

/* ---- selectors, services, taints ---- */

/* Compiles a map selector (a Service's or a ReplicationController's
 * spec.selector); NULL or an empty map selects nothing.  NULL on error. */
struct labelsel *cm_selector_from_map(const json_t *map);
/* The container port a Service port's targetPort selects on pod: a named
 * targetPort looks the containers' ports up by name and protocol; a
 * number (or no targetPort: the service port) is taken as is.  -1 when
 * unresolved. */
int cm_resolve_target_port(const json_t *svc_port, const json_t *pod);
/* Enqueues into b the key of every Service of pod's namespace whose
 * selector matches pod's labels. */
void cm_enqueue_pod_services(struct cm_base *b, struct informer *svc_inf, const json_t *pod);

#endif
