/*
 * resources.c - resource arithmetic for the scheduler.
 *
 * cpu is held in milli-cores, memory and ephemeral-storage in bytes, the pod
 * count as an integer, and every other resource (extended resources such as
 * example.com/gpu, hugepages-*) as a small fixed table of scalars, so that a
 * node's totals live inline in its node info and the Filter path never
 * allocates.  A pod's requests follow upstream's PodRequests: containers
 * summed, init containers taken as a maximum (sidecars, the restartable init
 * containers, add up and also run beside the main containers), then the
 * pod overhead added.
 */
#include <string.h>

#include "kube/podutil.h"
#include "kube/quantity.h"
#include "framework.h"

static int64_t *scalar_slot(struct sched_resource *r, const char *name, bool create)
{
  for (int i = 0; i < r->nscalar; i++)
    if (strcmp(r->scalar[i].name, name) == 0) return &r->scalar[i].value;
  if (!create || r->nscalar >= SCHED_MAX_SCALAR || strlen(name) >= SCHED_SCALAR_NAME_MAX) return NULL;
  struct sched_scalar *s = &r->scalar[r->nscalar++];
  strcpy(s->name, name);
  s->value = 0;
  return &s->value;
}

enum sched_res_kind sched_resource_kind(const char *name)
{
  if (strcmp(name, "cpu") == 0) return SCHED_RES_CPU;
  if (strcmp(name, "memory") == 0) return SCHED_RES_MEMORY;
  if (strcmp(name, "ephemeral-storage") == 0) return SCHED_RES_EPHEMERAL;
  if (strcmp(name, "pods") == 0) return SCHED_RES_PODS;
  return SCHED_RES_SCALAR;
}

int64_t sched_resource_get_scalar(const struct sched_resource *r, const char *name)
{
  for (int i = 0; i < r->nscalar; i++)
    if (strcmp(r->scalar[i].name, name) == 0) return r->scalar[i].value;
  return 0;
}

int64_t sched_resource_get(const struct sched_resource *r, const char *name)
{
  return sched_resource_get_kind(r, sched_resource_kind(name), name);
}

static void res_set_named(struct sched_resource *r, const char *name, int64_t v, int mode /* 0 set 1 add 2 max */)
{
  int64_t *slot;
  if (strcmp(name, "cpu") == 0) slot = &r->milli_cpu;
  else if (strcmp(name, "memory") == 0) slot = &r->memory;
  else if (strcmp(name, "ephemeral-storage") == 0) slot = &r->ephemeral_storage;
  else if (strcmp(name, "pods") == 0) slot = &r->allowed_pods;
  else slot = scalar_slot(r, name, true);
  if (!slot) return;
  if (mode == 0) *slot = v;
  else if (mode == 1) *slot += v;
  else if (v > *slot) *slot = v;
}

void sched_resource_add(struct sched_resource *a, const struct sched_resource *b)
{
  a->milli_cpu += b->milli_cpu;
  a->memory += b->memory;
  a->ephemeral_storage += b->ephemeral_storage;
  a->allowed_pods += b->allowed_pods;
  for (int i = 0; i < b->nscalar; i++) {
    int64_t *s = scalar_slot(a, b->scalar[i].name, true);
    if (s) *s += b->scalar[i].value;
  }
}

void sched_resource_sub(struct sched_resource *a, const struct sched_resource *b)
{
  a->milli_cpu -= b->milli_cpu;
  a->memory -= b->memory;
  a->ephemeral_storage -= b->ephemeral_storage;
  a->allowed_pods -= b->allowed_pods;
  for (int i = 0; i < b->nscalar; i++) {
    int64_t *s = scalar_slot(a, b->scalar[i].name, false);
    if (s) *s -= b->scalar[i].value;
  }
}

/* cpu in milli-cores (MilliValue), everything else in whole units (Value). */
static int64_t amount_of(const char *name, const struct quantity *q)
{
  return strcmp(name, "cpu") == 0 ? quantity_milli(q) : quantity_value(q);
}

void sched_resource_from_list(struct sched_resource *r, const json_t *list)
{
  const char *k;
  json_t *v;
  struct quantity q;
  json_object_foreach ((json_t *)list, k, v) {
    if (quantity_from_json(v, &q) == 0) res_set_named(r, k, amount_of(k, &q), 1);
  }
}

void sched_pod_requests(const json_t *pod, bool non_zero, struct sched_resource *out)
{
  const struct pod_resource_opts scoring = {
      .non_missing_milli_cpu = SCHED_DEFAULT_MILLI_CPU_REQUEST,
      .non_missing_memory = SCHED_DEFAULT_MEMORY_REQUEST_BYTES,
  };
  struct kres_list reqs = {0};
  pod_requests(pod, non_zero ? &scoring : NULL, &reqs);
  memset(out, 0, sizeof *out);
  for (size_t i = 0; i < reqs.n; i++)
    res_set_named(out, reqs.items[i].name, amount_of(reqs.items[i].name, &reqs.items[i].q), 0);
  kres_list_free(&reqs);
  out->allowed_pods = 0;
}
