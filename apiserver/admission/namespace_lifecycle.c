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

static const char *const IMMORTAL[] = {"default", "kube-system", "kube-public", "kube-node-lease", NULL};

json_t *admission_namespace_lifecycle(struct reg_request *rq, const struct resource *res, json_t *obj,
                                      const json_t *old)
{
  if (old || !res->namespaced || !rq->namespace_ || !*rq->namespace_ || !adm_main_resource(rq))
    return NULL;
  char key[600];
  snprintf(key, sizeof(key), "/registry/namespaces/%s", rq->namespace_);
  json_t *ns = adm_get(rq->srv, key);
  if (!ns)
    return kstatus_not_found("", "namespaces", rq->namespace_);
  const char *phase = kj_get_str(ns, "status.phase");
  bool terminating = kj_get(ns, "metadata.deletionTimestamp") || (phase && strcmp(phase, "Terminating") == 0);
  json_decref(ns);
  if (!terminating)
    return NULL;
  const char *name = kj_get_str(obj, "metadata.name");
  return adm_forbidden(res, name ? name : "",
                       "unable to create new content in namespace %s because it is being terminated",
                       rq->namespace_);
}

json_t *admission_delete(struct reg_request *rq, const struct resource *res, const char *name)
{
  if (res != &reg_namespaces || !name)
    return NULL;
  for (const char *const *n = IMMORTAL; *n; n++)
    if (strcmp(*n, name) == 0)
      return adm_forbidden(res, name, "this namespace may not be deleted");
  return NULL;
}
