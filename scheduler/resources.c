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

static int64_t parse_amount(const char *name, const json_t *v)
{
  struct quantity q;
  char buf[64];
  const char *s;
  if (json_is_string(v)) s = json_string_value(v);
  else if (json_is_integer(v)) {
    snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
    s = buf;
  } else if (json_is_real(v)) {
    snprintf(buf, sizeof buf, "%.6f", json_real_value(v));
    s = buf;
  } else return 0;
  if (quantity_parse(s, &q) != 0) return 0;
  return strcmp(name, "cpu") == 0 ? quantity_milli(&q) : quantity_value(&q);
}

static void list_apply(struct sched_resource *r, const json_t *list, int mode)
{
  const char *k;
  json_t *v;
  if (!json_is_object(list)) return;
  json_object_foreach((json_t *)list, k, v) res_set_named(r, k, parse_amount(k, v), mode);
}

void sched_resource_from_list(struct sched_resource *r, const json_t *list) { list_apply(r, list, 1); }

/* One container's requests; with non_zero, absent cpu/memory requests
 * count the scoring defaults. */
static void container_requests(const json_t *c, bool non_zero, struct sched_resource *out)
{
  memset(out, 0, sizeof *out);
  const json_t *req = json_object_get(json_object_get(c, "resources"), "requests");
  list_apply(out, req, 0);
  if (non_zero) {
    if (!json_object_get(req, "cpu")) out->milli_cpu = SCHED_DEFAULT_MILLI_CPU_REQUEST;
    if (!json_object_get(req, "memory")) out->memory = SCHED_DEFAULT_MEMORY_REQUEST_BYTES;
  }
}

static void res_max(struct sched_resource *a, const struct sched_resource *b)
{
  if (b->milli_cpu > a->milli_cpu) a->milli_cpu = b->milli_cpu;
  if (b->memory > a->memory) a->memory = b->memory;
  if (b->ephemeral_storage > a->ephemeral_storage) a->ephemeral_storage = b->ephemeral_storage;
  for (int i = 0; i < b->nscalar; i++) {
    int64_t *s = scalar_slot(a, b->scalar[i].name, true);
    if (s && b->scalar[i].value > *s) *s = b->scalar[i].value;
  }
}

void sched_pod_requests(const json_t *pod, bool non_zero, struct sched_resource *out)
{
  const json_t *spec = json_object_get(pod, "spec");
  struct sched_resource c, sidecars, init_max, tmp;
  size_t i;
  json_t *ct;
  memset(out, 0, sizeof *out);
  memset(&sidecars, 0, sizeof sidecars);
  memset(&init_max, 0, sizeof init_max);
  json_array_foreach(json_object_get(spec, "containers"), i, ct) {
    container_requests(ct, non_zero, &c);
    sched_resource_add(out, &c);
  }
  json_array_foreach(json_object_get(spec, "initContainers"), i, ct) {
    container_requests(ct, non_zero, &c);
    const char *rp = json_string_value(json_object_get(ct, "restartPolicy"));
    if (rp && strcmp(rp, "Always") == 0) {
      sched_resource_add(out, &c);
      sched_resource_add(&sidecars, &c);
      tmp = sidecars;
    } else {
      tmp = c;
      sched_resource_add(&tmp, &sidecars);
    }
    res_max(&init_max, &tmp);
  }
  res_max(out, &init_max);
  const json_t *overhead = json_object_get(spec, "overhead");
  if (overhead) list_apply(out, overhead, 1);
  out->allowed_pods = 0;
}
