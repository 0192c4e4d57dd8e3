/*
 * node_unschedulable.c - NodeUnschedulable: a cordoned node
 * (spec.unschedulable) takes only pods that tolerate the
 * node.kubernetes.io/unschedulable:NoSchedule taint.
 */
#include "plugins.h"

static enum sched_code filter(void *self, struct sched_cycle *c, const struct sched_node_info *ni,
                              struct sched_status *st)
{
  if (!ni->unschedulable) return SCHED_SUCCESS;
  if (tolerations_tolerate(json_object_get(json_object_get(c->pod, "spec"), "tolerations"),
                           "node.kubernetes.io/unschedulable", NULL, "NoSchedule"))
    return SCHED_SUCCESS;
  return sched_status_fail_static(st, SCHED_UNRESOLVABLE, SCHED_REASON_UNSCHEDULABLE);
}

const struct sched_plugin sched_plugin_node_unschedulable = {
    .name = "NodeUnschedulable",
    .filter = filter,
};
