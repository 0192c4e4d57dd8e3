/*
 * namespace_lifecycle.c - the NamespaceLifecycle admission plugin.
 *
 * Objects may only be created in a namespace that exists and is not being
 * terminated (the namespace controller is emptying it: anything created
 * then would be left behind), and the namespaces the system itself needs
 * (default, kube-system, kube-public, kube-node-lease) cannot be deleted.
 */
#define _GNU_SOURCE
#include "admission/admission.h"

#include <stdio.h>
#include <string.h>

#include <kube/json.h>
#include <kube/status.h>

#include "apiserver.h"
#include "registry/registry.h"
#include "storage/storage.h"

/* Whether a namespace is terminating, remembered per stored value: every
 * create asks, and parsing the namespace each time cost more than the rest
 * of admission.  Values are immutable and the reference held keeps their
 * address from being reused, so the pointer identifies the version. */
#define NS_CACHE_SLOTS 8

static struct {
  struct kv *kv;
  bool terminating;
} ns_cache[NS_CACHE_SLOTS];
static unsigned ns_cache_next;

static int ns_cache_lookup(const struct kv *kv)
{
  for (size_t i = 0; i < NS_CACHE_SLOTS; i++)
    if (ns_cache[i].kv == kv) return ns_cache[i].terminating;
  return -1;
}

static void ns_cache_store(struct kv *kv, bool terminating)
{
  unsigned i = ns_cache_next++ % NS_CACHE_SLOTS;
  kv_unref(ns_cache[i].kv);
  kv_ref(kv);
  ns_cache[i].kv = kv;
  ns_cache[i].terminating = terminating;
}

static const char *const IMMORTAL[] = {"default", "kube-system", "kube-public", "kube-node-lease", NULL};

json_t *admission_namespace_lifecycle(struct reg_request *rq, const struct resource *res, json_t *obj,
                                      const json_t *old)
{
  if (old || !res->namespaced || !rq->namespace_ || !*rq->namespace_ || !adm_main_resource(rq) ||
      !admission_namespace_lifecycle_enabled(rq->srv))
    return NULL;
  char key[600];
  snprintf(key, sizeof(key), "/registry/namespaces/%s", rq->namespace_);
  struct kv *kv = storage_get(rq->srv->storage, key);
  if (!kv) return kstatus_not_found("", "namespaces", rq->namespace_);
  int t = ns_cache_lookup(kv);
  if (t < 0) {
    json_t *ns = kj_loadb(kv->bytes, kv->len, false, NULL, 0);
    const char *phase = kj_get_str(ns, "status.phase");
    t = kj_get(ns, "metadata.deletionTimestamp") || (phase && strcmp(phase, "Terminating") == 0);
    json_decref(ns);
    ns_cache_store(kv, t);
  }
  bool terminating = t > 0;
  if (!terminating) return NULL;
  const char *name = kj_get_str(obj, "metadata.name");
  return adm_forbidden(res, name ? name : "",
                       "unable to create new content in namespace %s because it is being terminated", rq->namespace_);
}

json_t *admission_delete(struct reg_request *rq, const struct resource *res, const char *name)
{
  json_t *nst = admission_node_restriction(rq, res, NULL, NULL);
  if (nst) return nst;
  if (res != &reg_namespaces || !name || !admission_namespace_lifecycle_enabled(rq->srv)) return NULL;
  for (const char *const *n = IMMORTAL; *n; n++)
    if (strcmp(*n, name) == 0) return adm_forbidden(res, name, "this namespace may not be deleted");
  return NULL;
}
