/*
 * node_affinity.c - NodeAffinity.
 *
 * Filter: the node must match the pod's nodeSelector and one of its
 * requiredDuringSchedulingIgnoredDuringExecution node selector terms.
 * PreFilter skips the filter for pods with neither, and when every required
 * term pins the pod to one node through matchFields metadata.name (as
 * DaemonSet pods are pinned) it restricts the cycle to that node, so a
 * DaemonSet pod does not walk the whole cluster.
 * Score: the sum of the weights of the preferred terms the node matches,
 * normalized so that the best node scores 100.
 */
#include <stdlib.h>
#include <string.h>

#include "plugins.h"
#include "kube/xalloc.h"

static const json_t *node_affinity(const json_t *pod)
{
  return json_object_get(json_object_get(json_object_get(pod, "spec"), "affinity"), "nodeAffinity");
}

/* The single node name the required terms pin the pod to, or NULL. */
static const char *pinned_node(const json_t *required)
{
  const char *name = NULL;
  size_t i, j;
  json_t *term, *f;
  const json_t *terms = json_object_get(required, "nodeSelectorTerms");
  if (json_array_size(terms) == 0) return NULL;
  json_array_foreach (terms, i, term) {
    const char *mine = NULL;
    json_array_foreach (json_object_get(term, "matchFields"), j, f) {
      const char *key = json_string_value(json_object_get(f, "key"));
      const char *op = json_string_value(json_object_get(f, "operator"));
      const json_t *vals = json_object_get(f, "values");
      if (key && op && strcmp(key, "metadata.name") == 0 && strcmp(op, "In") == 0 && json_array_size(vals) == 1)
        mine = json_string_value(json_array_get(vals, 0));
    }
    if (!mine || (name && strcmp(name, mine) != 0)) return NULL;
    name = mine;
  }
  return name;
}

static enum sched_code pre_filter(void *self, struct sched_cycle *c, struct sched_status *st)
{
  const json_t *required = json_object_get(node_affinity(c->pod), "requiredDuringSchedulingIgnoredDuringExecution");
  const json_t *sel = json_object_get(json_object_get(c->pod, "spec"), "nodeSelector");
  if (!required && json_object_size(sel) == 0) return SCHED_SKIP;
  const char *pin = pinned_node(required);
  if (pin && !c->only_node) c->only_node = xstrdup(pin);
  return SCHED_SUCCESS;
}

static enum sched_code filter(void *self, struct sched_cycle *c, const struct sched_node_info *ni,
                              struct sched_status *st)
{
  if (pod_matches_node_affinity(c->pod, ni->node)) return SCHED_SUCCESS;
  return sched_status_fail_static(st, SCHED_UNRESOLVABLE, SCHED_REASON_NODE_AFFINITY);
}

static const json_t *preferred(const json_t *pod)
{
  return json_object_get(node_affinity(pod), "preferredDuringSchedulingIgnoredDuringExecution");
}

static enum sched_code pre_score(void *self, struct sched_cycle *c, struct sched_node_info *const *nodes, size_t n)
{
  return json_array_size(preferred(c->pod)) ? SCHED_SUCCESS : SCHED_SKIP;
}

static int64_t score(void *self, struct sched_cycle *c, const struct sched_node_info *ni)
{
  int64_t sum = 0;
  size_t i;
  json_t *t;
  json_array_foreach (preferred(c->pod), i, t) {
    int64_t w = json_integer_value(json_object_get(t, "weight"));
    if (w != 0 && node_selector_term_matches(json_object_get(t, "preference"), ni->node)) sum += w;
  }
  return sum;
}

static void normalize(void *self, struct sched_cycle *c, struct sched_node_info *const *nodes, int64_t *scores,
                      size_t n)
{
  sched_default_normalize(SCHED_MAX_NODE_SCORE, false, scores, n);
}

const struct sched_plugin sched_plugin_node_affinity = {
    .name = "NodeAffinity",
    .pre_filter = pre_filter,
    .filter = filter,
    .pre_score = pre_score,
    .score = score,
    .normalize = normalize,
};
