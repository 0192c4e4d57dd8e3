/*
 * clusterroleaggregation.h - the clusterrole-aggregation controller's pure
 * step.
 */
#ifndef CM_CLUSTERROLEAGGREGATION_H
#define CM_CLUSTERROLEAGGREGATION_H

#include <jansson.h>

struct cm_actions;

/* The rules an aggregated ClusterRole (role, borrowed) should have: the
 * union, without duplicates, of the rules of every other ClusterRole of
 * all (an array, borrowed) selected by one of its aggregationRule's
 * clusterRoleSelectors, selectors in order and roles by name.  New
 * reference; NULL when role has no aggregationRule. */
json_t *cra_aggregate_rules(const json_t *role, const json_t *all);
/* Appends the PUT of role with those rules when they differ from its
 * own; nothing otherwise. */
void cra_compute(const json_t *role, const json_t *all, struct cm_actions *acts);

#endif
