/*
 * node_status.h - the kubelet's Node: registration, status and Lease.
 *
 * Registration POSTs the Node (labels, taints, capacity, addresses,
 * nodeInfo, daemonEndpoints) until it succeeds; when the Node exists
 * already, its default labels are reconciled.  The status is computed
 * every nodeStatusUpdateFrequency and PATCHed (status subresource) only
 * when it changed or nodeStatusReportFrequency passed since the last
 * post; the Lease kube-node-lease/NODE is renewed every quarter of
 * nodeLeaseDurationSeconds (10 s by default).  The Node itself is watched
 * (one informer, field selector metadata.name) for spec.podCIDR.
 */
#ifndef KL_NODE_STATUS_H
#define KL_NODE_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

struct kubelet;
struct kl_node;

struct kl_node *kl_node_new(struct kubelet *k);
void kl_node_free(struct kl_node *n);
void kl_node_start(struct kl_node *n);
/* Shutdown: no more heartbeats. */
void kl_node_stop(struct kl_node *n);
/* Recompute and post the status soon (a condition changed). */
void kl_node_status_changed(struct kl_node *n);
bool kl_node_registered(const struct kl_node *n);
/* The Node as last seen by the informer (new reference), or NULL. */
json_t *kl_node_object(struct kl_node *n);
/* The Node's metadata.uid into out ("" until registered). */
void kl_node_uid(const struct kl_node *n, char *out, size_t len);
/* The node's spec.podCIDR, "" until assigned. */
const char *kl_node_pod_cidr(const struct kl_node *n);

/* Pure helpers (unit-tested). */
/* capacity and allocatable of the node (new references). */
json_t *kl_node_capacity(const struct kubelet *k, int64_t fs_capacity_bytes);
json_t *kl_node_allocatable(const struct kubelet *k, const json_t *capacity);
/* One NodeCondition (new reference). */
json_t *kl_node_condition(const char *type, bool status, const char *reason, const char *message, const char *heartbeat,
                          const char *transition);

#endif
