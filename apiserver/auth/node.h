/*
 * node.h - the Node authorizer (upstream plugin/pkg/auth/authorizer/node)
 * and the node identity NodeRestriction admission shares with it.
 *
 * A kubelet authenticates as the user "system:node:NAME" in the group
 * "system:nodes".  The authorizer answers only for such users (anyone
 * else: no opinion).  Secrets, configmaps, persistentvolumeclaims,
 * persistentvolumes and serviceaccounts/token are subdivided: a node may
 * `get` one (create a token for one) only when a pod bound to it refers to
 * it, as the graph below says.  Node leases and CSINodes are limited to
 * the node's own name.  Everything else is allowed when upstream's
 * system:node ClusterRole rules (read from the bootstrap policy) allow it,
 * else no opinion.  Every refusal is no opinion with upstream's reason
 * (`no relationship found between node 'n1' and this object`), so later
 * authorizers (RBAC) may still allow.
 *
 * The graph (node.c) is kept current from storage watches of pods and
 * persistent volumes, like the RBAC indexes (rbac.c): no storage read per
 * request, no locks (everything runs in the API server's loop).
 */
#ifndef APISERVER_AUTH_NODE_H
#define APISERVER_AUTH_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "auth/auth.h"

struct apiserver;
struct node_graph;

/* Kinds of object a node may be related to through its pods. */
enum node_ref_type {
  NODE_REF_SECRET = 's',
  NODE_REF_CONFIGMAP = 'c',
  NODE_REF_PVC = 'p',
  NODE_REF_PV = 'v',
  NODE_REF_SERVICEACCOUNT = 'a',
};

/* Upstream's NodeIdentity: true when u is a node (name "system:node:..."
 * and group system:nodes); *name then points into u->name (may be ""). */
bool node_identity(const struct auth_user *u, const char **name);

/* Loads pods and persistent volumes from srv->storage and watches them;
 * NULL on error. */
struct node_graph *node_graph_new(struct apiserver *srv);
/* A graph without storage (tests), fed with the functions below. */
struct node_graph *node_graph_new_empty(void);
void node_graph_free(struct node_graph *g);

/* Adds or replaces a pod (borrowed): its references count for the node of
 * spec.nodeName (none while unscheduled). */
void node_graph_put_pod(struct node_graph *g, const json_t *pod);
void node_graph_del_pod(struct node_graph *g, const char *ns, const char *name);
/* Adds or replaces a PersistentVolume (borrowed): bound through
 * spec.claimRef, its secrets reachable from the claim's pods' nodes. */
void node_graph_put_pv(struct node_graph *g, const json_t *pv);
void node_graph_del_pv(struct node_graph *g, const char *name);
/* Is there a path from the object (ns "" for persistent volumes) to the
 * node?  */
bool node_graph_has_path(const struct node_graph *g, const char *node, enum node_ref_type type, const char *ns,
                         const char *name);
/* Does the pod (borrowed) refer to an object of this type, as the graph
 * would count it (scheduled or not)? */
bool node_pod_refers(const json_t *pod, enum node_ref_type type);
size_t node_graph_pod_count(const struct node_graph *g);

/* The authorizer; reason (may be NULL) gets upstream's explanation of a
 * refusal (empty when allowed or not a node). */
enum authz_decision node_authorize(const struct node_graph *g, const struct authz_attrs *a, char *reason,
                                   size_t reasonlen);

#endif
