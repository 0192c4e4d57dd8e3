/*
 * node_name.c - NodeName: a pod that names its node (spec.nodeName) fits
 * only that node.  Pods without one skip the filter.
 */
#include <string.h>

#include "plugins.h"

static enum sched_code pre_filter(void *self, struct sched_cycle *c, struct sched_status *st)
{
  const char *want = json_string_value(json_object_get(json_object_get(c->pod, "spec"), "nodeName"));
  return want && *want ? SCHED_SUCCESS : SCHED_SKIP;
}

static enum sched_code filter(void *self, struct sched_cycle *c, const struct sched_node_info *ni,
                              struct sched_status *st)
{
  const char *want = json_string_value(json_object_get(json_object_get(c->pod, "spec"), "nodeName"));
  if (!want || !*want || strcmp(want, ni->name) == 0) return SCHED_SUCCESS;
  return sched_status_fail_static(st, SCHED_UNRESOLVABLE, SCHED_REASON_NODE_NAME);
}

const struct sched_plugin sched_plugin_node_name = {
    .name = "NodeName",
    .pre_filter = pre_filter,
    .filter = filter,
};
