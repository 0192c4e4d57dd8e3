/*
 * podutil.h - the one set of pod helpers every program uses: what upstream
 * keeps in component-helpers (resource.PodRequests/PodLimits, qos) and
 * pkg/api/v1/pod (conditions, readiness, availability), plus controller
 * references and the quota evaluator's per-pod usage.
 *
 * Resource amounts are collected in a `struct kres_list` (upstream's
 * v1.ResourceList): resource names with exact quantities.  The list owns
 * copies of its names; kres_list_free releases them.  A list starts zeroed
 * (`struct kres_list l = {0};`) and may be reused after kres_list_clear.
 *
 * Pods are read as stored objects (json_t trees); every function here only
 * reads the pod, and every json_t it returns is borrowed from the pod.
 * Quantities that do not parse are skipped (stored objects are decoded
 * against the schema, so they do not occur there).
 */
#ifndef KUBE_PODUTIL_H
#define KUBE_PODUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "kube/quantity.h"

struct kres {
  char *name; /* owned */
  struct quantity q;
};

struct kres_list {
  struct kres *items;
  size_t n, cap;
};

void kres_list_free(struct kres_list *l);
/* Empties the list, keeping its storage. */
void kres_list_clear(struct kres_list *l);
/* The quantity of `name`, or NULL. */
const struct quantity *kres_get(const struct kres_list *l, const char *name);
/* l[name] = q (replacing). */
void kres_set(struct kres_list *l, const char *name, const struct quantity *q);
/* l[name] += q (addResourceList for one entry). */
void kres_add(struct kres_list *l, const char *name, const struct quantity *q);
/* Every entry of a resource-list JSON object ({"cpu":"100m",...}) added. */
void kres_add_json(struct kres_list *l, const json_t *list);
/* l[k] = max(l[k], other[k]) for every k of other (maxResourceList). */
void kres_max(struct kres_list *l, const struct kres_list *other);
/* A new resource-list JSON object of the canonical quantities. */
json_t *kres_to_json(const struct kres_list *l);

struct pod_resource_opts {
  /* Leave spec.overhead out (LimitRanger's pod-level check does). */
  bool exclude_overhead;
  /* Absent cpu/memory container requests count these (scheduler scoring,
   * upstream's NonMissingContainerRequests); 0 means not applied. */
  int64_t non_missing_milli_cpu;
  int64_t non_missing_memory;
};

/* PodRequests: the sum of app containers and restartable init containers
 * (sidecars), or the largest init container's need (with the sidecars
 * started before it) when that is larger, per resource, plus overhead.
 * Appends to `out` (normally empty).  opts may be NULL. */
void pod_requests(const json_t *pod, const struct pod_resource_opts *opts, struct kres_list *out);
/* PodLimits: the same shape over limits; overhead is added only to
 * resources that have a limit. */
void pod_limits(const json_t *pod, const struct pod_resource_opts *opts, struct kres_list *out);

/* The quota evaluator's usage of one pod (PodUsageFunc): "count/pods"
 * always; for a pod that counts for quota (pod_counts_for_quota) also
 * "pods", cpu/memory/ephemeral-storage as plain, "requests." and "limits."
 * names, hugepages-* and "requests.<extended>". now_us: the evaluator's
 * clock (microseconds since the epoch). */
void pod_quota_usage(const json_t *pod, int64_t now_us, struct kres_list *out);
/* QuotaV1Pod: not Succeeded/Failed, and not terminating past
 * deletionTimestamp + deletionGracePeriodSeconds. */
bool pod_counts_for_quota(const json_t *pod, int64_t now_us);

/* QoS class (GetPodQOS): status.qosClass when set, else computed from the
 * containers' and init containers' cpu and memory requests and limits.
 * Returns "Guaranteed", "Burstable" or "BestEffort" (static strings). */
const char *pod_qos_class(const json_t *pod);
/* Always computed from the spec (ComputePodQOS), ignoring status. */
const char *pod_compute_qos_class(const json_t *pod);

/* The condition of `type` in status.conditions, or NULL (borrowed). */
json_t *pod_condition(const json_t *pod, const char *type);
/* The condition of `type` has status "True". */
bool pod_condition_true(const json_t *pod, const char *type);
/* IsPodReady: the Ready condition is True. */
bool pod_is_ready(const json_t *pod);
/* When the Ready condition became True (seconds since the epoch); 0 when
 * it carries no transition time, -1 when the pod is not ready. */
int64_t pod_ready_since(const json_t *pod);
/* IsPodAvailable: ready for at least min_ready_seconds before now (s). */
bool pod_is_available(const json_t *pod, int64_t min_ready_seconds, int64_t now_s);
/* status.phase is Succeeded or Failed. */
bool pod_is_terminal(const json_t *pod);
/* metadata.deletionTimestamp is set (any object). */
bool obj_is_terminating(const json_t *obj);
/* IsPodActive: not terminal and not terminating. */
bool pod_is_active(const json_t *pod);
/* Sum of restartCount over the container statuses. */
int64_t pod_restart_count(const json_t *pod);

/* The ownerReference with controller: true (GetControllerOf), or NULL. */
json_t *obj_controller_ref(const json_t *obj);
/* That reference's uid equals `uid`. */
bool obj_is_controlled_by(const json_t *obj, const char *uid);

enum pod_container_kind {
  POD_CONTAINER_ANY = 0,
  POD_CONTAINER_APP = 1,
  POD_CONTAINER_INIT = 2,
  POD_CONTAINER_EPHEMERAL = 4,
};
/* The container named `name` among the kinds asked for (POD_CONTAINER_ANY:
 * all three, app first), or NULL. */
json_t *pod_find_container(const json_t *pod, const char *name, int kinds);
/* Its status in status.containerStatuses, initContainerStatuses or
 * ephemeralContainerStatuses, or NULL. */
json_t *pod_container_status(const json_t *pod, const char *name);
/* A container with restartPolicy: Always among the init containers. */
bool container_is_sidecar(const json_t *container);

#endif
