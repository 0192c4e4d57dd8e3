/*
 * registry.c - the table of every served resource and start-up of the
 * registry (upstream: the storage providers of pkg/controlplane and the
 * per-kind REST storages of pkg/registry).
 *
 * Descriptors live in one file per kind; the core table here and the
 * extended kinds' table (kinds_ext.h) are merged once, on first use, in
 * the order discovery shows them.  registry_init rebuilds the Service
 * allocators from storage, then hands over to bootstrap.c, which creates
 * the system namespaces and the `kubernetes` Service and keeps them
 * current, and to the extended kinds' bootstrap (built-in
 * PriorityClasses); done() runs when both are durable.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>
#include <kube/log.h>

#include "apiserver.h"
#include "registry/customresources.h"
#include "registry/kinds_ext.h"
#include "registry/reg_internal.h"
#include "registry/registry.h"
#include "storage/storage.h"
#include <kube/xalloc.h>

static const struct resource *const registry_table[] = {
    &reg_namespaces, &reg_pods,           &reg_nodes,           &reg_services,    &reg_endpoints,
    &reg_configmaps, &reg_secrets,        &reg_serviceaccounts, &reg_events,      &reg_events_v1,
    &reg_leases,     &reg_endpointslices, &reg_deployments,     &reg_replicasets,
};

#define REGISTRY_MAX_KINDS 128

const struct resource *const *registry_all(size_t *n)
{
  /* Built once; afterwards read-only. */
  static const struct resource *merged[REGISTRY_MAX_KINDS];
  static size_t nmerged;
  if (!nmerged) {
    size_t ncore = sizeof(registry_table) / sizeof(registry_table[0]), next = 0;
    const struct resource *const *ext = registry_ext_all(&next);
    for (size_t i = 0; i < ncore && nmerged < REGISTRY_MAX_KINDS; i++) merged[nmerged++] = registry_table[i];
    for (size_t i = 0; i < next && nmerged < REGISTRY_MAX_KINDS; i++) merged[nmerged++] = ext[i];
  }
  *n = nmerged;
  return merged;
}

const struct resource *registry_find(const char *group, const char *version, const char *plural)
{
  size_t n;
  const struct resource *const *all = registry_all(&n);
  for (size_t i = 0; i < n; i++)
    if (!strcmp(all[i]->group, group ? group : "") && !strcmp(all[i]->version, version) &&
        !strcmp(all[i]->plural, plural))
      return all[i];
  return NULL;
}

const struct resource *registry_find_kind(const char *group, const char *version, const char *kind)
{
  size_t n;
  const struct resource *const *all = registry_all(&n);
  for (size_t i = 0; i < n; i++)
    if (!strcmp(all[i]->group, group ? group : "") && !strcmp(all[i]->version, version) && !strcmp(all[i]->kind, kind))
      return all[i];
  return NULL;
}

const struct resource *const *registry_served(struct apiserver *srv, size_t *n)
{
  if (srv && srv->crds) return crd_served(srv, n);
  return registry_all(n);
}

const struct resource *registry_lookup(struct apiserver *srv, const char *group, const char *version,
                                       const char *plural)
{
  size_t n;
  const struct resource *const *all = registry_served(srv, &n);
  for (size_t i = 0; i < n; i++)
    if (!strcmp(all[i]->group, group ? group : "") && !strcmp(all[i]->version, version) &&
        !strcmp(all[i]->plural, plural))
      return all[i];
  return NULL;
}

void registry_res_ref(const struct resource *res)
{
  struct cr_version *v = cr_of(res);
  if (v) v->refs++;
}

char *registry_attrs(const struct resource *res, const json_t *obj)
{
  const char *pairs[2 * 24 + 5];
  char bufs[24][256];
  size_t n = 0;
  const char *name = kj_get_str(obj, "metadata.name");
  const char *ns = kj_get_str(obj, "metadata.namespace");
  pairs[n++] = "metadata.name";
  pairs[n++] = name ? name : "";
  pairs[n++] = "metadata.namespace";
  pairs[n++] = ns ? ns : "";
  for (size_t i = 0; res->field_selectors && res->field_selectors[i] && i < 24; i++) {
    const char *v = res->field_value ? res->field_value(obj, res->field_selectors[i], bufs[i], sizeof(bufs[i])) : NULL;
    if (!v) continue;
    pairs[n++] = res->field_selectors[i];
    pairs[n++] = v;
  }
  pairs[n] = NULL;
  return storage_attrs_build(kj_get(obj, "metadata.labels"), pairs);
}

static int rebuild_visit(void *arg, struct kv *kv)
{
  struct svc_alloc *a = arg;
  json_t *svc = kj_loadb(kv->bytes, kv->len, false, NULL, 0);
  if (svc) {
    svc_alloc_mark_service(a, svc);
    json_decref(svc);
  }
  return 0;
}

int registry_rebuild_allocators(struct apiserver *srv)
{
  struct svc_alloc *a = svc_alloc_get(srv);
  if (!a) return -EINVAL;
  if (!srv->storage) return 0;
  svc_alloc_begin_repair(a);
  char prefix[128];
  snprintf(prefix, sizeof(prefix), "%s/", reg_services.storage_prefix);
  int rc = storage_list(srv->storage, prefix, 0, NULL, rebuild_visit, a);
  svc_alloc_end_repair(a);
  return rc;
}

/* Joins the two bootstraps: done() once both have reported. */
struct init_join {
  int remaining;
  void (*done)(void *arg);
  void *arg;
};

/* noinline: the counted free confuses -Wuse-after-free when inlined twice */
static __attribute__((noinline)) void join_one(void *arg)
{
  struct init_join *j = arg;
  if (--j->remaining > 0) return;
  void (*done)(void *) = j->done;
  void *darg = j->arg;
  free(j);
  if (done) done(darg);
}

int registry_init(struct apiserver *srv, void (*done)(void *arg), void *arg)
{
  int rc = svc_alloc_setup(srv);
  if (rc) return rc;
  rc = registry_rebuild_allocators(srv);
  if (rc) {
    KLOG_E("rebuilding service allocators: %d", rc);
    return rc;
  }
  struct init_join *j = xcalloc(1, sizeof(*j));
  if (!j) return -ENOMEM;
  /* one extra count held until both have started, so an immediate done
   * from either cannot finish the join early */
  j->remaining = 3;
  j->done = done;
  j->arg = arg;
  rc = reg_bootstrap_start(srv, join_one, j);
  if (rc) {
    free(j);
    return rc;
  }
  if (srv->storage && (rc = crd_controller_start(srv)) != 0) KLOG_E("serving CustomResourceDefinitions: %d", rc);
  if (srv->storage) {
    rc = registry_ext_bootstrap(srv, join_one, j);
    if (rc) {
      KLOG_E("bootstrap of built-in objects failed: %d", rc);
      join_one(j); /* stand in for the ext bootstrap */
    }
  } else {
    join_one(j);
  }
  join_one(j);
  return 0;
}

void registry_shutdown(struct apiserver *srv)
{
  reg_bootstrap_stop(srv);
  crd_controller_stop(srv);
  svc_alloc_free(srv);
}
