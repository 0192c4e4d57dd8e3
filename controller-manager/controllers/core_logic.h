/*
 * core_logic.h - the decision functions of the service, node, namespace
 * and garbage-collection controllers, separated from their informer and
 * REST plumbing so that they can be exercised directly: state in (API
 * objects as json_t, all borrowed), desired objects or actions out.
 */
#ifndef CM_CORE_LOGIC_H
#define CM_CORE_LOGIC_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

/* serviceaccount.c */
bool serviceaccount_needs_default(const json_t *ns, const json_t *sa);

/* endpoints.c: new reference to the subsets array for svc from pods (all
 * pods; only those in svc's namespace matching its selector count). */
json_t *endpoints_compute_subsets(const json_t *svc, const json_t *pods);
/* New reference: the Endpoints object to write for svc, or NULL when the
 * existing one (may be NULL) already matches. */
json_t *endpoints_desired(const json_t *svc, const json_t *pods, const json_t *existing);

/* endpointslice.c */
#define ENDPOINTSLICE_MANAGED_BY "endpointslice-controller.k8s.io"
#define ENDPOINTSLICE_MIRROR_MANAGED_BY "endpointslicemirroring-controller.k8s.io"
#define LABEL_SERVICE_NAME "kubernetes.io/service-name"
#define LABEL_MANAGED_BY "endpointslice.kubernetes.io/managed-by"
/*
 * Appends to acts the writes (POST, PUT, DELETE) that make the
 * EndpointSlices of svc match pods.  slices are the existing slices (any;
 * only svc's managed ones are considered), nodes give the zone label.
 * Endpoints stay in their slice while they are still wanted; new ones
 * fill free room, then new slices of at most max_per_slice.
 */
struct cm_actions;
void endpointslice_reconcile(const json_t *svc, const json_t *pods, const json_t *nodes, const json_t *slices,
                             int max_per_slice, struct cm_actions *acts);
/* Shared with the mirroring controller: a new slice skeleton for svc. */
json_t *endpointslice_new_slice(const json_t *svc, const char *managed_by, const json_t *ports,
                                const char *address_type);

/* namespace.c */
/* New reference: {prefix, resource, deletecollection: bool} for every
 * namespaced, deletable and listable top-level resource of an APIResourceList
 * (borrowed; prefix "/api/v1" or "/apis/GROUP/VERSION"), appended to out. */
void namespace_discovered_resources(const json_t *resource_list, json_t *out);
/* New reference: the namespace's deletion conditions (upstream's five
 * types) from: discovery error (NULL if none), content deletion errors
 * (array of strings), remaining {"resource.group" -> count} and
 * finalizers {"finalizer" -> count} (objects; empty when none). */
json_t *namespace_deletion_conditions(const char *discovery_err, const json_t *errors, const json_t *remaining,
                                      const json_t *finalizers, const json_t *old_conditions, const char *now);
/* New reference: the namespace (borrowed) with "kubernetes" removed from
 * spec.finalizers, for PUT .../finalize; NULL if it is not there. */
json_t *namespace_finalize_body(const json_t *ns);

/* garbagecollector.c */
enum gc_owner_state {
  GC_OWNER_PRESENT, /* exists with the referenced uid, not deleting its dependents: solid */
  GC_OWNER_ABSENT,  /* verified gone (or replaced by another uid): dangling */
  GC_OWNER_WAITING, /* being deleted with the foregroundDeletion finalizer */
  GC_OWNER_UNKNOWN, /* could not be verified: nothing is decided */
};
/* The state of the owner a reference names, from the owner object found
 * under its name (NULL when there is none). */
int gc_classify_owner(const json_t *ref, const json_t *owner);
/*
 * Appends to acts the writes for a dependent obj at obj_path given the state
 * of each of its ownerReferences (states[i] for ref i), as upstream's
 * attemptToDeleteItem: with a solid owner it stays, and the references to
 * dangling and waiting owners are patched away; without one it is
 * deleted, in the foreground when an owner waits and it has dependents
 * of its own, else with the policy its own finalizers name (orphan,
 * foregroundDeletion) or in the background.  Nothing while an owner is
 * unknown or obj is being deleted.
 */
void gc_dependent_actions(const json_t *obj, const char *obj_path, const int *states, size_t n, bool has_dependents,
                          struct cm_actions *acts);
/* Appends the writes for an owner being deleted with the
 * foregroundDeletion finalizer.  deps: [{obj, path}] of its dependents.
 * The finalizer goes once no dependent blocks (blockOwnerDeletion); the
 * dependents themselves are decided one by one by gc_dependent_actions,
 * where this owner counts as waiting. */
void gc_foreground_actions(const json_t *owner, const char *owner_path, const json_t *deps, struct cm_actions *acts);
/* Appends the writes for an owner being deleted with the orphan
 * finalizer: strip its reference from every dependent; remove the
 * finalizer once no dependent refers to it. */
void gc_orphan_actions(const json_t *owner, const char *owner_path, const json_t *deps, struct cm_actions *acts);
/* Writes the collection prefix ("/apis/apps/v1"), resource plural and
 * scope of apiVersion/kind; false for kinds it does not know. */
bool gc_kind_resource(const char *api_version, const char *kind, char *prefix, size_t plen, char *plural, size_t rlen,
                      bool *namespaced);

/* nodeipam.c: the subnets of one IPv4 cluster CIDR, as a bitmap. */
struct cidr_set;
/* NULL (with a message in err) for a malformed CIDR or a mask size not
 * longer than the cluster prefix, or more than 2^20 subnets. */
struct cidr_set *cidr_set_new(const char *cluster_cidr, int mask_size, char *err, size_t errlen);
void cidr_set_free(struct cidr_set *s);
/* The lowest free subnet, marked used, into out ("10.244.3.0/24").
 * -ENOSPC when all are used. */
int cidr_set_allocate(struct cidr_set *s, char *out, size_t len);
/* Marks a subnet used / free.  -EINVAL if it is not one of the set's. */
int cidr_set_occupy(struct cidr_set *s, const char *cidr);
int cidr_set_release(struct cidr_set *s, const char *cidr);
/* Marks every subnet overlapping cidr as used (the service range). 0, or
 * -EINVAL for a malformed cidr; no overlap is fine. */
int cidr_set_occupy_overlap(struct cidr_set *s, const char *cidr);
size_t cidr_set_used(const struct cidr_set *s);

/* nodelifecycle.c */
#define TAINT_UNREACHABLE "node.kubernetes.io/unreachable"
#define TAINT_NOT_READY "node.kubernetes.io/not-ready"
/*
 * Health tracking: health is an object node name -> saved observation
 * (owned by the caller, updated here).  The probe time moves to now_ms
 * whenever the Ready heartbeat or the Lease renewTime (lease may be NULL)
 * changes; a node first seen with a Ready condition starts at now_ms, one
 * without at its creationTimestamp.  True when the last probe is older
 * than grace_ms (startup_grace_ms for a node that never posted Ready).
 * Times are wall-clock milliseconds.
 */
bool nodelifecycle_is_stale(json_t *health, const json_t *node, const json_t *lease, int64_t now_ms, int64_t grace_ms,
                            int64_t startup_grace_ms);
/* New reference: node's conditions all set Unknown (NodeStatusUnknown /
 * "Kubelet stopped posting node status.", Ready added as
 * NodeStatusNeverUpdated when missing), or NULL when already so. */
json_t *nodelifecycle_unknown_conditions(const json_t *node, const char *now);
/* New reference: the taints node should carry for its conditions (other
 * taints kept; NoExecute taints keep or get a timeAdded of now), or NULL
 * when they already match. */
json_t *nodelifecycle_desired_taints(const json_t *node, const char *now);

/* taint_eviction.c: for pod on a node with taints (borrowed array), the
 * delay in ms before the pod must be deleted: 0 at once (a NoExecute taint
 * it does not tolerate, or tolerationSeconds elapsed since the taint's
 * timeAdded), > 0 later, -1 never. */
int64_t taint_eviction_delay_ms(const json_t *pod, const json_t *taints, int64_t now_ms);

/* podgc.c */
/* New reference: the terminated pods (Succeeded/Failed, not already being
 * deleted) beyond threshold, oldest creationTimestamp first; empty when
 * threshold <= 0 or not exceeded. */
json_t *podgc_terminated_to_delete(const json_t *pods, int threshold);
/* New reference: pods with a deletionTimestamp and no node. */
json_t *podgc_unscheduled_terminating(const json_t *pods);
/* New reference: object of node names pods are bound to that are not in
 * nodes (both borrowed arrays). */
json_t *podgc_missing_nodes(const json_t *pods, const json_t *nodes);

/* disruption.c */
/*
 * New reference: the status pdb should have, from pods (all; those in its
 * namespace matching its selector count) and controllers (every
 * ReplicaSet, Deployment, StatefulSet and ReplicationController, any
 * namespace) at now_us.  Keeps disruptedPods entries younger than two
 * minutes whose pod still exists and is not deleting.
 */
json_t *disruption_compute_status(const json_t *pdb, const json_t *pods, const json_t *controllers, int64_t now_us);

/* resourcequota.c */
/* New reference: status.used for the resources named in hard, from objs
 * (pods through podutil's quota evaluator, as upstream's pod evaluator):
 * {"pods": [...], "services": [...], "configmaps", "secrets",
 * "persistentvolumeclaims", "replicationcontrollers", "resourcequotas",
 * "count/deployments.apps": [...], ...}, every list already restricted
 * to the quota's namespace.  *next_change (may be NULL): when the usage
 * changes by time alone (a terminating pod stops counting), -1 if never. */
json_t *resourcequota_usage(const json_t *hard, const json_t *objs, int64_t now, int64_t *next_change);

/* endpointslice_mirroring.c: appends to acts the writes that make the
 * mirrored slices of the Service ns/name match ep (its Endpoints; NULL,
 * or a Service svc with a selector, means none wanted; svc NULL: the
 * Service is gone and its mirrored slices are deleted).  slices: any
 * existing slices (only those mirrored for the Service count). */
void endpointslice_mirror_reconcile(const char *ns, const char *name, const json_t *svc, const json_t *ep,
                                    const json_t *slices, struct cm_actions *acts);

#endif
