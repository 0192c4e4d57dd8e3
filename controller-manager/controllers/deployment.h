/*
 * deployment.h - the Deployment controller's pieces (deployment.c: the
 * sync and the controller; deployment_rolling.c: RollingUpdate, Recreate
 * and proportional scaling; deployment_util.c: hashing, fenceposts,
 * annotations, status).
 *
 * A sync works on a struct dep_sync: deep copies of the Deployment and
 * of the ReplicaSets it owns, which the steps modify in place exactly as
 * upstream's steps modify their objects after each API call; at the end
 * dep_sync_flush() turns every difference from the cached objects into API
 * writes (POST of the new ReplicaSet, PUT of scaled ReplicaSets, DELETE of
 * cleaned-up ones, PUT of the Deployment's status) with their Events.
 */
#ifndef CM_DEPLOYMENT_H
#define CM_DEPLOYMENT_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

struct cm_actions;

#define DEP_REVISION_ANN "deployment.kubernetes.io/revision"
#define DEP_REVISION_HISTORY_ANN "deployment.kubernetes.io/revision-history"
#define DEP_DESIRED_REPLICAS_ANN "deployment.kubernetes.io/desired-replicas"
#define DEP_MAX_REPLICAS_ANN "deployment.kubernetes.io/max-replicas"
#define DEP_POD_TEMPLATE_HASH "pod-template-hash"
#define DEP_DEFAULT_REVISION_HISTORY_LIMIT 10
#define DEP_DEFAULT_PROGRESS_DEADLINE_S 600

/* Condition reasons, as upstream. */
#define DEP_REASON_NEW_RS_CREATED "NewReplicaSetCreated"
#define DEP_REASON_FOUND_NEW_RS "FoundNewReplicaSet"
#define DEP_REASON_RS_UPDATED "ReplicaSetUpdated"
#define DEP_REASON_NEW_RS_AVAILABLE "NewReplicaSetAvailable"
#define DEP_REASON_TIMED_OUT "ProgressDeadlineExceeded"
#define DEP_REASON_PAUSED "DeploymentPaused"
#define DEP_REASON_RESUMED "DeploymentResumed"
#define DEP_REASON_MIN_AVAILABLE "MinimumReplicasAvailable"
#define DEP_REASON_MIN_UNAVAILABLE "MinimumReplicasUnavailable"

/* A ReplicaSet of the Deployment's namespace by name (new reference), or
 * NULL: what holds the name a new ReplicaSet would take. */
typedef json_t *(*dep_rs_lookup_fn)(void *arg, const char *ns, const char *name);

struct dep_sync {
  const json_t *orig;      /* the cached Deployment (borrowed) */
  json_t *d;               /* working copy */
  json_t *rss;             /* working copies of the owned ReplicaSets, oldest first */
  json_t *orig_rss;        /* name -> cached ReplicaSet (or null for one being created) */
  json_t *new_rs;          /* borrowed from rss, or NULL */
  json_t *deleted;         /* names of ReplicaSets to delete */
  json_t *ref;             /* ObjectReference of the Deployment, for Events */
  const json_t *pods;      /* pods of the namespace (borrowed) */
  const json_t *ns_rss;    /* the ReplicaSets given to dep_compute (borrowed) */
  dep_rs_lookup_fn lookup; /* optional: any ReplicaSet of the namespace by name */
  void *lookup_arg;
  struct cm_actions *acts;
  int64_t now;
  int64_t requeue_s; /* > 0: sync again after this many seconds */
};

/* ---- deployment_util.c ---- */

/* Upstream-style hash of a pod template: FNV-32a over the canonical JSON
 * (plus collisionCount as 4 little-endian bytes when >= 0), the decimal
 * digits mapped to the safe alphabet "bcdfghjklmnpqrstvwxz2456789".
 * Writes into out (>= 16 bytes). */
char *dep_compute_hash(const json_t *template, int64_t collision_count, char *out);
/* Copy without nulls, empty objects and empty arrays (new reference). */
json_t *dep_normalized(const json_t *v);
/* Equal after dep_normalized. */
bool dep_semantic_equal(const json_t *a, const json_t *b);
/* Templates equal ignoring the pod-template-hash label (and as dep_semantic_equal). */
bool dep_templates_equal(const json_t *a, const json_t *b);
/* maxSurge / maxUnavailable for desired replicas (ResolveFenceposts):
 * surge rounds up, unavailable down, both 0 gives unavailable 1.
 * -EINVAL for a malformed value. */
int dep_resolve_fenceposts(const json_t *max_surge, const json_t *max_unavailable, int64_t desired, int64_t *surge,
                           int64_t *unavailable);
bool dep_is_rolling(const json_t *d);
int64_t dep_max_surge(const json_t *d);
int64_t dep_max_unavailable(const json_t *d);
int64_t dep_replicas(const json_t *d);     /* spec.replicas, default 1 */
int64_t dep_rs_replicas(const json_t *rs); /* spec.replicas, default 1 */
int64_t dep_revision(const json_t *rs);    /* revision annotation, 0 if none */
/* Sets the desired/max replicas annotations; true if they changed. */
bool dep_set_replicas_annotations(json_t *rs, int64_t desired, int64_t max);
/* Upstream SetNewReplicaSetAnnotations. */
bool dep_set_new_rs_annotations(const json_t *d, json_t *rs, int64_t new_revision, bool exists);
/* Sets the Deployment's revision annotation; true if it changed. */
bool dep_set_deployment_revision(json_t *d, int64_t revision);
/* Sorts an array of ReplicaSets in place: by creation time (then name). */
void dep_sort_by_creation(json_t *rss, bool newest_first);
/* Upstream calculateStatus over the working copies. */
json_t *dep_calculate_status(struct dep_sync *s);
/* Sets a Deployment condition as upstream's SetDeploymentCondition
 * (same status and reason: unchanged; same status: keeps lastTransitionTime). */
void dep_set_condition(json_t *d, const char *type, const char *status, const char *reason, const char *message,
                       int64_t now);
bool dep_complete(const json_t *d, const json_t *status);
bool dep_progressing(const json_t *d, const json_t *status);
bool dep_timed_out(const json_t *d, const json_t *status, int64_t now);
bool dep_has_progress_deadline(const json_t *d);

/* ---- deployment_rolling.c ---- */

/* Scales a working ReplicaSet (recording the from/to for the Event). */
void dep_scale_rs(struct dep_sync *s, json_t *rs, int64_t replicas);
/* The replica count the new ReplicaSet should have now (NewRSNewReplicas). */
int64_t dep_new_rs_new_replicas(struct dep_sync *s, int64_t new_rs_replicas);
void dep_rollout_rolling(struct dep_sync *s);
void dep_rollout_recreate(struct dep_sync *s);
/* Proportional scaling when spec.replicas changed mid-rollout. */
void dep_scale(struct dep_sync *s);
bool dep_is_scaling_event(struct dep_sync *s);

/* ---- deployment.c ---- */

/* Finds or creates (create: true) the new ReplicaSet in s->rss and syncs
 * the revision annotations (getAllReplicaSetsAndSyncRevision). */
void dep_get_all_and_sync_revision(struct dep_sync *s, bool create);
void dep_sync_rollout_status(struct dep_sync *s);
void dep_sync_status(struct dep_sync *s);
void dep_cleanup(struct dep_sync *s);

/*
 * One sync of deployment d: rss are its ReplicaSets and the orphans it may
 * adopt, pods its pods (arrays, borrowed).  A name taken by a ReplicaSet
 * outside rss (a hash collision) is found through lookup when given, only
 * when a new ReplicaSet is due.  Appends the writes to acts; sets
 * *requeue_s (> 0) when the controller should look again after a delay.
 */
int dep_compute(const json_t *d, const json_t *rss, const json_t *pods, dep_rs_lookup_fn lookup, void *lookup_arg,
                int64_t now, struct cm_actions *acts, int64_t *requeue_s);

#endif
