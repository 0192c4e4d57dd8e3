/*
 * scheduling.h - the placement rules every program reads the same way
 * (upstream's component-helpers/scheduling/corev1): tolerations against
 * taints, and NodeSelector terms and a pod's required node affinity against
 * a node.  Used by the scheduler's plugins, the DaemonSet controller and
 * taint-based eviction, and anything else that must agree with them.
 *
 * NodeSelector: terms are ORed, requirements inside a term ANDed; a term
 * without requirements matches nothing; matchExpressions read node labels
 * (In, NotIn, Exists, DoesNotExist, Gt, Lt with one integer value);
 * matchFields support metadata.name only.  All arguments are borrowed.
 */
#ifndef KUBE_SCHEDULING_H
#define KUBE_SCHEDULING_H

#include <stdbool.h>
#include <jansson.h>

/* Toleration.ToleratesTaint. */
bool toleration_tolerates(const json_t *toleration, const char *key, const char *value, const char *effect);
/* Any toleration of the array tolerates the taint (a Taint object). */
bool tolerations_tolerate_taint(const json_t *tolerations, const json_t *taint);
/* The same with the taint's fields given apart. */
bool tolerations_tolerate(const json_t *tolerations, const char *key, const char *value, const char *effect);

/* One NodeSelectorTerm against a node. */
bool node_selector_term_matches(const json_t *term, const json_t *node);
/* A NodeSelector ({"nodeSelectorTerms": [...]}) against a node. */
bool node_selector_matches(const json_t *node_selector, const json_t *node);
/* GetRequiredNodeAffinity(pod).Match(node): spec.nodeSelector and the
 * required node affinity both hold. */
bool pod_matches_node_affinity(const json_t *pod, const json_t *node);

#endif
