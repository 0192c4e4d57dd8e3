/*
 * service_account.c - the ServiceAccount admission plugin (the part that
 * does not need tokens): a pod created without spec.serviceAccountName
 * runs as the namespace's "default" service account.  The existence check
 * upstream makes is left out on purpose: no service-account controller
 * creates "default" in every namespace yet, and refusing every pod until
 * one does would break pod creation altogether.
 */
#define _GNU_SOURCE
#include "admission/admission.h"

#include <string.h>

#include <kube/json.h>

#include "registry/registry.h"

json_t *admission_service_account(struct reg_request *rq, const struct resource *res, json_t *obj,
                                  const json_t *old)
{
  if (res != &reg_pods || old)
    return NULL;
  json_t *spec = kj_obj(obj, "spec");
  if (!spec)
    return NULL;
  const char *sa = kj_get_str(spec, "serviceAccountName");
  if (!sa || !*sa) {
    /* the deprecated serviceAccount field names the same thing */
    const char *dep = kj_get_str(spec, "serviceAccount");
    json_object_set_new(spec, "serviceAccountName", json_string(dep && *dep ? dep : "default"));
  }
  return NULL;
}
