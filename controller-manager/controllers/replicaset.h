/*
 * replicaset.h - the ReplicaSet / ReplicationController core
 * (replicaset.c defines both controllers) and its pure compute step for
 * tests.
 */
#ifndef CM_REPLICASET_H
#define CM_REPLICASET_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

struct cm_actions;

/* Which kind the core manages. */
struct rs_kind {
  const char *api_version;   /* "apps/v1" | "v1" */
  const char *kind;          /* "ReplicaSet" | "ReplicationController" */
  const char *api_prefix;    /* "/apis/apps/v1" | "/api/v1" */
  const char *coll;          /* "replicasets" | "replicationcontrollers" */
  const char *informer_path; /* CM_REPLICASETS | CM_REPLICATIONCONTROLLERS */
  bool selector_is_map;      /* RC: spec.selector is a plain label map */
};

extern const struct rs_kind rs_kind_replicaset, rs_kind_rc;

/* Upstream burstReplicas: at most this many creates/deletes per sync. */
#define RS_BURST_REPLICAS 500

struct rs_result {
  int adds;         /* creations issued (expectations to raise) */
  json_t *del_uids; /* new reference: uids of the pods deleted */
  json_t *status;   /* new reference: the computed status */
  bool status_changed;
  int64_t requeue_after_s; /* > 0: sync again after this (minReadySeconds) */
};

/* The last failed pod create or delete, shown as the ReplicaFailure
 * condition (FailedCreate or FailedDelete). */
struct rs_manage_error {
  const char *message;
  bool deleting;
};

/*
 * Computes one sync of rs given every pod in its namespace (array,
 * borrowed).  may_manage is false while earlier writes are unobserved
 * (expectations pending): then only the status is updated.  merr (or
 * NULL) is the last create/delete failure, shown as ReplicaFailure.
 * Appends adoption PATCHes, slow-start pod POSTs, pod DELETEs and the
 * status PUT to acts.  Free res with rs_result_free.
 */
int rs_compute(const struct rs_kind *k, const json_t *rs, const json_t *pods, bool may_manage,
               const struct rs_manage_error *merr, int64_t now, struct cm_actions *acts, struct rs_result *res);
void rs_result_free(struct rs_result *res);

/* Status of rs from the pods it owns (array of active, claimed pods). */
json_t *rs_calculate_status(const json_t *rs, const json_t *owned, const struct rs_manage_error *merr, int64_t now);

#endif
