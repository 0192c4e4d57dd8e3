/*
 * taint_toleration.c - TaintToleration.
 *
 * Filter: every NoSchedule and NoExecute taint of the node must be
 * tolerated; the first one that is not names the failure, as upstream
 * reports it ("node(s) had untolerated taint {key: value}").
 * Score: the number of PreferNoSchedule taints the pod does not tolerate
 * (counting only tolerations whose effect is empty or PreferNoSchedule),
 * normalized in reverse so that fewer intolerable taints score higher.
 */
#include <string.h>

#include "plugins.h"

static const char *jstr(const json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

static const json_t *pod_tolerations(const json_t *pod)
{
  return json_object_get(json_object_get(pod, "spec"), "tolerations");
}

/* The pod's tolerations, looked up once per cycle (borrowed). */
static enum sched_code pre_filter(void *self, struct sched_cycle *c, struct sched_status *st)
{
  sched_cycle_set(c, (void *)pod_tolerations(c->pod), NULL);
  return SCHED_SUCCESS;
}

static enum sched_code filter(void *self, struct sched_cycle *c, const struct sched_node_info *ni,
                              struct sched_status *st)
{
  const json_t *taints = ni->taints;
  if (!taints) return SCHED_SUCCESS;
  const json_t *tols = sched_cycle_get(c);
  if (!tols) tols = pod_tolerations(c->pod);
  size_t i;
  json_t *t;
  json_array_foreach (taints, i, t) {
    const char *eff = jstr(t, "effect");
    if (!eff || (strcmp(eff, "NoSchedule") != 0 && strcmp(eff, "NoExecute") != 0)) continue;
    if (tolerations_tolerate_taint(tols, t)) continue;
    const char *k = jstr(t, "key"), *v = jstr(t, "value");
    return sched_status_fail(st, SCHED_UNRESOLVABLE, "node(s) had untolerated taint {%s: %s}", k ? k : "", v ? v : "");
  }
  return SCHED_SUCCESS;
}

static void free_json(void *p) { json_decref(p); }

static enum sched_code pre_score(void *self, struct sched_cycle *c, struct sched_node_info *const *nodes, size_t n)
{
  json_t *keep = json_array();
  size_t i;
  json_t *t;
  json_array_foreach (pod_tolerations(c->pod), i, t) {
    const char *eff = jstr(t, "effect");
    if (!eff || !*eff || strcmp(eff, "PreferNoSchedule") == 0) json_array_append(keep, t);
  }
  sched_cycle_set(c, keep, free_json);
  return SCHED_SUCCESS;
}

static int64_t score(void *self, struct sched_cycle *c, const struct sched_node_info *ni)
{
  const json_t *tols = sched_cycle_get(c);
  int64_t count = 0;
  size_t i;
  json_t *t;
  json_array_foreach (ni->taints, i, t) {
    const char *eff = jstr(t, "effect");
    if (eff && strcmp(eff, "PreferNoSchedule") == 0 && !tolerations_tolerate_taint(tols, t)) count++;
  }
  return count;
}

static void normalize(void *self, struct sched_cycle *c, struct sched_node_info *const *nodes, int64_t *scores,
                      size_t n)
{
  sched_default_normalize(SCHED_MAX_NODE_SCORE, true, scores, n);
}

const struct sched_plugin sched_plugin_taint_toleration = {
    .name = "TaintToleration",
    .pre_filter = pre_filter,
    .filter = filter,
    .pre_score = pre_score,
    .score = score,
    .normalize = normalize,
};
