/*
 * daemonset.h - the DaemonSet controller's pure pieces, for tests.
 */
#ifndef CM_DAEMONSET_H
#define CM_DAEMONSET_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

struct cm_actions;

/* The pod template with the DaemonSet's default tolerations added
 * (new reference). */
json_t *ds_template_with_tolerations(const json_t *ds);
/* Whether a daemon pod should run on node (nodeSelector, required node
 * affinity, NoSchedule/NoExecute taints), and whether an existing one may
 * keep running (NoExecute taints only). */
void ds_node_should_run(const json_t *ds, const json_t *node, bool *should_run, bool *should_continue);
/* Replaces required node affinity with matchFields metadata.name In [node]. */
void ds_pin_to_node(json_t *pod, const char *node);

/*
 * One sync: nodes are all nodes, pods every pod of the namespace, revisions
 * the namespace's ControllerRevisions (borrowed).  may_manage false while
 * earlier creates/deletes are unobserved.  *adds / *dels report the pod
 * writes issued (expectations).
 */
int ds_compute(const json_t *ds, const json_t *nodes, const json_t *pods, const json_t *revisions, bool may_manage,
               int64_t now, struct cm_actions *acts, int *adds, int *dels, int64_t *requeue_ms);

#endif
