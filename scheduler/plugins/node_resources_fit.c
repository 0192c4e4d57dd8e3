/*
 * node_resources_fit.c - NodeResourcesFit.
 *
 * PreFilter computes the pod's requests once (containers, init containers,
 * sidecars and overhead, see resources.c).  Filter checks the pod count
 * against allocatable "pods", then cpu, memory, ephemeral-storage and every
 * requested scalar resource against allocatable minus what the node's pods
 * already request, keeping every failure as a reason ("Insufficient cpu",
 * "Too many pods").  All of these are plain Unschedulable, even a request
 * larger than the node's whole allocatable, as upstream reports them (so
 * preemption still looks at such nodes).
 *
 * Score follows args.scoringStrategy: LeastAllocated (default; free share),
 * MostAllocated (used share) or RequestedToCapacityRatio (a broken-linear
 * shape over utilization, scores 0..10 scaled to 0..100), each a weighted
 * average over args.scoringStrategy.resources (default cpu and memory).
 * Scoring counts containers without requests at the scheduler's defaults
 * (100m cpu, 200Mi memory), as upstream does.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugins.h"
#include "kube/xalloc.h"

enum strategy { LEAST_ALLOCATED, MOST_ALLOCATED, REQUESTED_TO_CAPACITY_RATIO };

#define MAX_SHAPE 16
#define MAX_CUSTOM_PRIORITY_SCORE 10

struct fit {
  enum strategy strategy;
  struct sched_score_resources res;
  int nshape;
  struct {
    int64_t utilization, score;
  } shape[MAX_SHAPE];
  json_t *ignored; /* ignoredResources names -> true */
  json_t *ignored_groups;
};

int sched_score_resources_parse(const json_t *list, const char *path, struct sched_score_resources *out, char *err,
                                size_t errlen)
{
  memset(out, 0, sizeof *out);
  if (!list || json_array_size(list) == 0) {
    out->n = 2;
    strcpy(out->r[0].name, "cpu");
    strcpy(out->r[1].name, "memory");
    out->r[0].weight = out->r[1].weight = 1;
    out->r[0].kind = SCHED_RES_CPU;
    out->r[1].kind = SCHED_RES_MEMORY;
    return 0;
  }
  size_t i;
  json_t *e;
  json_array_foreach (list, i, e) {
    const char *name = json_string_value(json_object_get(e, "name"));
    json_int_t w = json_integer_value(json_object_get(e, "weight"));
    if (!name || !*name || strlen(name) >= SCHED_SCALAR_NAME_MAX || out->n >= SCHED_MAX_SCORE_RESOURCES) {
      snprintf(err, errlen, "%s[%zu].name: Invalid value: resource name is not valid", path, i);
      return -EINVAL;
    }
    if (w < 1 || w > 100) {
      snprintf(err, errlen,
               "%s[%zu].weight: Invalid value: %lld: resource weight of %s should be in the range [1, 100]", path, i,
               (long long)w, name);
      return -EINVAL;
    }
    strcpy(out->r[out->n].name, name);
    out->r[out->n].kind = sched_resource_kind(name);
    out->r[out->n++].weight = w;
  }
  return 0;
}

void sched_alloc_request(const struct sched_node_info *ni, const struct sched_resource *pod_req,
                         const struct sched_score_resource *res, bool use_requested, int64_t *requested,
                         int64_t *allocatable)
{
  int64_t pr = sched_resource_get_kind(pod_req, res->kind, res->name);
  if (pr == 0 && res->kind == SCHED_RES_SCALAR) {
    *requested = *allocatable = 0;
    return;
  }
  /* Only cpu and memory have scoring defaults. */
  const struct sched_resource *node_req = &ni->requested;
  if (!use_requested && (res->kind == SCHED_RES_CPU || res->kind == SCHED_RES_MEMORY))
    node_req = &ni->non_zero_requested;
  *requested = sched_resource_get_kind(node_req, res->kind, res->name) + pr;
  *allocatable = sched_resource_get_kind(&ni->allocatable, res->kind, res->name);
}

static void fit_destroy(void *self)
{
  struct fit *f = self;
  if (!f) return;
  json_decref(f->ignored);
  json_decref(f->ignored_groups);
  free(f);
}

static int fit_init(const json_t *args, void **self, char *err, size_t errlen)
{
  struct fit *f = xcalloc(1, sizeof *f);
  if (!f) return -ENOMEM;
  f->ignored = json_object();
  f->ignored_groups = json_object();
  size_t i;
  json_t *e;
  json_array_foreach (json_object_get(args, "ignoredResources"), i, e)
    if (json_is_string(e)) json_object_set_new(f->ignored, json_string_value(e), json_true());
  json_array_foreach (json_object_get(args, "ignoredResourceGroups"), i, e)
    if (json_is_string(e)) json_object_set_new(f->ignored_groups, json_string_value(e), json_true());
  const json_t *ss = json_object_get(args, "scoringStrategy");
  const char *type = json_string_value(json_object_get(ss, "type"));
  if (!type || !*type || strcmp(type, "LeastAllocated") == 0) f->strategy = LEAST_ALLOCATED;
  else if (strcmp(type, "MostAllocated") == 0) f->strategy = MOST_ALLOCATED;
  else if (strcmp(type, "RequestedToCapacityRatio") == 0) f->strategy = REQUESTED_TO_CAPACITY_RATIO;
  else {
    snprintf(err, errlen,
             "scoringStrategy.type: Unsupported value: \"%s\": supported values: \"LeastAllocated\", "
             "\"MostAllocated\", \"RequestedToCapacityRatio\"",
             type);
    goto fail;
  }
  if (sched_score_resources_parse(json_object_get(ss, "resources"), "scoringStrategy.resources", &f->res, err, errlen) <
      0)
    goto fail;
  if (f->strategy == REQUESTED_TO_CAPACITY_RATIO) {
    const json_t *shape = json_object_get(json_object_get(ss, "requestedToCapacityRatio"), "shape");
    if (json_array_size(shape) == 0 || json_array_size(shape) > MAX_SHAPE) {
      snprintf(err, errlen,
               "scoringStrategy.requestedToCapacityRatio.shape: Required value: at least one point must be specified");
      goto fail;
    }
    json_array_foreach (shape, i, e) {
      int64_t u = json_integer_value(json_object_get(e, "utilization"));
      int64_t s = json_integer_value(json_object_get(e, "score"));
      if (u < 0 || u > 100) {
        snprintf(err, errlen,
                 "scoringStrategy.requestedToCapacityRatio.shape[%zu].utilization: Invalid value: %lld: not in valid "
                 "range [0, 100]",
                 i, (long long)u);
        goto fail;
      }
      if (i > 0 && u <= f->shape[i - 1].utilization) {
        snprintf(err, errlen,
                 "scoringStrategy.requestedToCapacityRatio.shape[%zu].utilization: Invalid value: %lld: utilization "
                 "values must be sorted in increasing order",
                 i, (long long)u);
        goto fail;
      }
      if (s < 0 || s > MAX_CUSTOM_PRIORITY_SCORE) {
        snprintf(err, errlen,
                 "scoringStrategy.requestedToCapacityRatio.shape[%zu].score: Invalid value: %lld: not in valid range "
                 "[0, 10]",
                 i, (long long)s);
        goto fail;
      }
      f->shape[i].utilization = u;
      /* Scaled once to the node score range. */
      f->shape[i].score = s * (SCHED_MAX_NODE_SCORE / MAX_CUSTOM_PRIORITY_SCORE);
      f->nshape++;
    }
  }
  *self = f;
  return 0;
fail:
  fit_destroy(f);
  return -EINVAL;
}

struct fit_state {
  struct sched_resource req;      /* actual, for Filter */
  struct sched_resource non_zero; /* with defaults, for Score */
};

static enum sched_code pre_filter(void *self, struct sched_cycle *c, struct sched_status *st)
{
  struct fit_state *s = xcalloc(1, sizeof *s);
  if (!s) return sched_status_fail(st, SCHED_ERROR, "out of memory");
  sched_pod_requests(c->pod, false, &s->req);
  sched_pod_requests(c->pod, true, &s->non_zero);
  sched_cycle_set(c, s, free);
  return SCHED_SUCCESS;
}

static bool ignored(const struct fit *f, const char *name)
{
  if (!f) return false;
  if (json_object_get(f->ignored, name)) return true;
  const char *slash = strchr(name, '/');
  if (slash && json_object_size(f->ignored_groups)) {
    char group[SCHED_SCALAR_NAME_MAX];
    snprintf(group, sizeof group, "%.*s", (int)(slash - name), name);
    return json_object_get(f->ignored_groups, group) != NULL;
  }
  return false;
}

static void check(struct sched_status *st, int64_t want, int64_t alloc, int64_t used, const char *name,
                  const char *static_reason)
{
  if (want <= 0 || want <= alloc - used) return;
  if (static_reason) sched_status_fail_static(st, SCHED_UNSCHEDULABLE, static_reason);
  else sched_status_fail(st, SCHED_UNSCHEDULABLE, "Insufficient %s", name);
}

static enum sched_code filter(void *self, struct sched_cycle *c, const struct sched_node_info *ni,
                              struct sched_status *st)
{
  const struct fit *f = self;
  const struct fit_state *s = sched_cycle_get(c);
  struct sched_resource local;
  const struct sched_resource *r = &local, *alloc = &ni->allocatable, *used = &ni->requested;
  if (s) r = &s->req;
  else sched_pod_requests(c->pod, false, &local);
  if ((int64_t)ni->npods + 1 > alloc->allowed_pods)
    sched_status_fail_static(st, SCHED_UNSCHEDULABLE, SCHED_REASON_TOO_MANY_PODS);
  if (r->milli_cpu || r->memory || r->ephemeral_storage || r->nscalar) {
    check(st, r->milli_cpu, alloc->milli_cpu, used->milli_cpu, "cpu", "Insufficient cpu");
    check(st, r->memory, alloc->memory, used->memory, "memory", "Insufficient memory");
    check(st, r->ephemeral_storage, alloc->ephemeral_storage, used->ephemeral_storage, "ephemeral-storage",
          "Insufficient ephemeral-storage");
    for (int i = 0; i < r->nscalar; i++) {
      const char *name = r->scalar[i].name;
      if (ignored(f, name)) continue;
      check(st, r->scalar[i].value, sched_resource_get(alloc, name), sched_resource_get(used, name), name, NULL);
    }
  }
  if (st->nreasons == 0) return SCHED_SUCCESS;
  return st->code = SCHED_UNSCHEDULABLE;
}

static int64_t least_requested(int64_t req, int64_t cap)
{
  if (cap == 0 || req > cap) return 0;
  return (cap - req) * SCHED_MAX_NODE_SCORE / cap;
}

static int64_t most_requested(int64_t req, int64_t cap)
{
  if (cap == 0) return 0;
  if (req > cap) req = cap;
  return req * SCHED_MAX_NODE_SCORE / cap;
}

static int64_t broken_linear(const struct fit *f, int64_t p)
{
  for (int i = 0; i < f->nshape; i++) {
    if (p > f->shape[i].utilization) continue;
    if (i == 0) return f->shape[0].score;
    return f->shape[i - 1].score + (f->shape[i].score - f->shape[i - 1].score) * (p - f->shape[i - 1].utilization) /
                                       (f->shape[i].utilization - f->shape[i - 1].utilization);
  }
  return f->shape[f->nshape - 1].score;
}

static int64_t score(void *self, struct sched_cycle *c, const struct sched_node_info *ni)
{
  const struct fit *f = self;
  const struct fit_state *s = sched_cycle_get(c);
  if (!f || !s) return 0;
  int64_t sum = 0, wsum = 0;
  for (int i = 0; i < f->res.n; i++) {
    int64_t req, alloc;
    sched_alloc_request(ni, &s->non_zero, &f->res.r[i], false, &req, &alloc);
    if (alloc == 0) continue;
    int64_t w = f->res.r[i].weight, rs;
    if (f->strategy == LEAST_ALLOCATED) rs = least_requested(req, alloc);
    else if (f->strategy == MOST_ALLOCATED) rs = most_requested(req, alloc);
    else {
      rs = broken_linear(f, req > alloc ? 100 : req * 100 / alloc);
      if (rs <= 0) continue; /* upstream leaves zero scores out of the average here */
    }
    sum += rs * w;
    wsum += w;
  }
  if (wsum == 0) return 0;
  if (f->strategy == REQUESTED_TO_CAPACITY_RATIO) return (int64_t)llround((double)sum / (double)wsum);
  return sum / wsum;
}

static enum sched_code pre_score(void *self, struct sched_cycle *c, struct sched_node_info *const *nodes, size_t n)
{
  /* Filter may have been skipped (no PreFilter at this profile). */
  if (!sched_cycle_get(c)) {
    struct fit_state *s = xcalloc(1, sizeof *s);
    if (!s) return SCHED_ERROR;
    sched_pod_requests(c->pod, false, &s->req);
    sched_pod_requests(c->pod, true, &s->non_zero);
    sched_cycle_set(c, s, free);
  }
  return SCHED_SUCCESS;
}

const struct sched_plugin sched_plugin_node_resources_fit = {
    .name = "NodeResourcesFit",
    .init = fit_init,
    .destroy = fit_destroy,
    .pre_filter = pre_filter,
    .filter = filter,
    .pre_score = pre_score,
    .score = score,
};
