/*
 * node_resources_balanced_allocation.c - NodeResourcesBalancedAllocation:
 * favours nodes whose resource usage stays balanced once the pod is placed.
 * For each scored resource the fraction requested/allocatable (capped at 1)
 * is taken; the score is (1 - standard deviation of the fractions) * 100,
 * with the two-resource case computed as |f1 - f2| / 2 as upstream does.
 * Actual requests are used (no scoring defaults); pods that request
 * nothing skip this plugin.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plugins.h"
#include "kube/xalloc.h"

static int ba_init(const json_t *args, void **self, char *err, size_t errlen)
{
  struct sched_score_resources *r = xcalloc(1, sizeof *r);
  if (!r) return -ENOMEM;
  if (sched_score_resources_parse(json_object_get(args, "resources"), "resources", r, err, errlen) < 0) {
    free(r);
    return -EINVAL;
  }
  *self = r;
  return 0;
}

static enum sched_code pre_score(void *self, struct sched_cycle *c, struct sched_node_info *const *nodes, size_t n)
{
  const struct sched_score_resources *res = self;
  struct sched_resource *req = xmalloc(sizeof *req);
  if (!req) return SCHED_ERROR;
  sched_pod_requests(c->pod, false, req);
  bool any = false;
  for (int i = 0; i < res->n; i++) any |= sched_resource_get(req, res->r[i].name) != 0;
  if (!any) {
    free(req);
    return SCHED_SKIP;
  }
  sched_cycle_set(c, req, free);
  return SCHED_SUCCESS;
}

static int64_t score(void *self, struct sched_cycle *c, const struct sched_node_info *ni)
{
  const struct sched_score_resources *res = self;
  const struct sched_resource *pod_req = sched_cycle_get(c);
  double fr[SCHED_MAX_SCORE_RESOURCES], total = 0;
  int n = 0;
  if (!pod_req) return 0;
  for (int i = 0; i < res->n; i++) {
    int64_t req, alloc;
    sched_alloc_request(ni, pod_req, &res->r[i], true, &req, &alloc);
    if (alloc == 0) continue;
    double f = (double)req / (double)alloc;
    if (f > 1) f = 1;
    fr[n++] = f;
    total += f;
  }
  double std = 0;
  if (n == 2) {
    std = fabs((fr[0] - fr[1]) / 2);
  } else if (n > 2) {
    double mean = total / n, sum = 0;
    for (int i = 0; i < n; i++) sum += (fr[i] - mean) * (fr[i] - mean);
    std = sqrt(sum / n);
  }
  return (int64_t)((1 - std) * SCHED_MAX_NODE_SCORE);
}

const struct sched_plugin sched_plugin_node_resources_balanced_allocation = {
    .name = "NodeResourcesBalancedAllocation",
    .init = ba_init,
    .destroy = free,
    .pre_score = pre_score,
    .score = score,
};
