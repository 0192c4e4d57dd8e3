/*
 * plugins.h - the in-tree filter and score plugins, one file each, named
 * after upstream's plugins (pkg/scheduler/framework/plugins/).
 */
#ifndef SCHED_PLUGINS_H
#define SCHED_PLUGINS_H

#include "../framework.h"

extern const struct sched_plugin sched_plugin_node_unschedulable;
extern const struct sched_plugin sched_plugin_node_name;
extern const struct sched_plugin sched_plugin_taint_toleration;
extern const struct sched_plugin sched_plugin_node_affinity;
extern const struct sched_plugin sched_plugin_node_ports;
extern const struct sched_plugin sched_plugin_node_resources_fit;
extern const struct sched_plugin sched_plugin_pod_topology_spread;
extern const struct sched_plugin sched_plugin_inter_pod_affinity;
extern const struct sched_plugin sched_plugin_node_resources_balanced_allocation;
extern const struct sched_plugin sched_plugin_image_locality;
extern const struct sched_plugin sched_plugin_volume_restrictions;
extern const struct sched_plugin sched_plugin_node_volume_limits;
extern const struct sched_plugin sched_plugin_volume_binding;
extern const struct sched_plugin sched_plugin_volume_zone;

/* Upstream's failure reasons, word for word. */
#define SCHED_REASON_UNSCHEDULABLE "node(s) were unschedulable"
#define SCHED_REASON_NODE_NAME "node(s) didn't match the requested node name"
#define SCHED_REASON_NODE_PORTS "node(s) didn't have free ports for the requested pod ports"
#define SCHED_REASON_NODE_AFFINITY "node(s) didn't match Pod's node affinity/selector"
#define SCHED_REASON_POD_AFFINITY "node(s) didn't match pod affinity rules"
#define SCHED_REASON_POD_ANTI_AFFINITY "node(s) didn't match pod anti-affinity rules"
#define SCHED_REASON_EXISTING_ANTI_AFFINITY "node(s) didn't satisfy existing pods anti-affinity rules"
#define SCHED_REASON_SPREAD "node(s) didn't match pod topology spread constraints"
#define SCHED_REASON_SPREAD_LABEL "node(s) didn't match pod topology spread constraints (missing required label)"
#define SCHED_REASON_TOO_MANY_PODS "Too many pods"

/* Resource scoring shared by NodeResourcesFit and
 * NodeResourcesBalancedAllocation (upstream's resourceAllocationScorer). */
#define SCHED_MAX_SCORE_RESOURCES 8
struct sched_score_resource {
  char name[SCHED_SCALAR_NAME_MAX];
  enum sched_res_kind kind;
  int64_t weight;
};
struct sched_score_resources {
  int n;
  struct sched_score_resource r[SCHED_MAX_SCORE_RESOURCES];
};
/* Parses args.resources-style [{name, weight}] (absent: cpu and memory,
 * weight 1).  path names the field in error messages. */
int sched_score_resources_parse(const json_t *list, const char *path, struct sched_score_resources *out, char *err,
                                size_t errlen);
/* Requested (node plus pod) and allocatable of one resource on a node.
 * use_requested picks the node's actual requests rather than the totals
 * with scoring defaults; pod_req must match that choice.  Both are 0 for a
 * scalar resource the pod does not request (the resource is then skipped). */
void sched_alloc_request(const struct sched_node_info *ni, const struct sched_resource *pod_req,
                         const struct sched_score_resource *res, bool use_requested, int64_t *requested,
                         int64_t *allocatable);

#endif
