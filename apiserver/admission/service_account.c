/*
 * service_account.c - the ServiceAccount admission plugin (the part that
 * does not need tokens): a pod created without spec.serviceAccountName
 * runs as the namespace's "default" service account, and the service
 * account a pod names must exist (403 "error looking up service account
 * NS/NAME: serviceaccount \"NAME\" not found", as upstream; the
 * controller-manager's serviceaccount controller creates "default" in
 * every namespace).  Mirror pods, which the kubelet makes for static pods,
 * are exempt as upstream.
 *
 * Like upstream, it also mounts the service account's credentials: a
 * projected volume named "kube-api-access-" plus five random characters
 * (token, the cluster CA from the
 * kube-root-ca.crt ConfigMap, the namespace) read-only at
 * /var/run/secrets/kubernetes.io/serviceaccount in every container, unless
 * the pod or its service account sets automountServiceAccountToken false
 * or a container already mounts something there.
 */
#define _GNU_SOURCE
#include "admission/admission.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>
#include <kube/names.h>

#include "apiserver.h"
#include "registry/registry.h"
#include "storage/storage.h"

#define SA_MOUNT_PATH "/var/run/secrets/kubernetes.io/serviceaccount"

/* automountServiceAccountToken of the stored service account, or -1. */
static int sa_automount(struct reg_request *rq, const char *sa)
{
  if (!rq || !rq->srv || !rq->srv->storage || !rq->namespace_) return -1;
  char key[512];
  snprintf(key, sizeof(key), "/registry/serviceaccounts/%s/%s", rq->namespace_, sa);
  struct kv *kv = storage_get(rq->srv->storage, key);
  if (!kv) return -1;
  json_t *o = json_loadb(kv->bytes, kv->len, 0, NULL);
  json_t *v = json_object_get(o, "automountServiceAccountToken");
  int r = json_is_boolean(v) ? json_is_true(v) : -1;
  json_decref(o);
  return r;
}

static bool mounts_sa_path(const json_t *containers)
{
  size_t i, j;
  json_t *c, *m;
  json_array_foreach (containers, i, c) {
    json_array_foreach (json_object_get(c, "volumeMounts"), j, m) {
      const char *p = kj_get_str(m, "mountPath");
      if (p && strcmp(p, SA_MOUNT_PATH) == 0) return true;
    }
  }
  return false;
}

static void add_mount(json_t *containers, const char *vol)
{
  size_t i;
  json_t *c;
  json_array_foreach (containers, i, c) {
    json_t *mounts = kj_arr(c, "volumeMounts");
    if (mounts)
      json_array_append_new(mounts,
                            json_pack("{s:s, s:b, s:s}", "name", vol, "readOnly", 1, "mountPath", SA_MOUNT_PATH));
  }
}

static void mount_token(struct reg_request *rq, json_t *spec, const char *sa)
{
  json_t *pod_am = json_object_get(spec, "automountServiceAccountToken");
  if (json_is_false(pod_am)) return;
  if (!json_is_true(pod_am) && sa_automount(rq, sa) == 0) return;
  json_t *cs = json_object_get(spec, "containers"), *ics = json_object_get(spec, "initContainers");
  if (mounts_sa_path(cs) || mounts_sa_path(ics)) return;
  char *name = names_generate("kube-api-access-");
  if (!name) return;
  json_t *vol = json_pack(
      "{s:s, s:{s:[{s:{s:i, s:s}}, {s:{s:s, s:[{s:s, s:s}]}}, {s:{s:[{s:{s:s, s:s}, s:s}]}}], s:i}}", "name", name,
      "projected", "sources", "serviceAccountToken", "expirationSeconds", 3607, "path", "token", "configMap", "name",
      "kube-root-ca.crt", "items", "key", "ca.crt", "path", "ca.crt", "downwardAPI", "items", "fieldRef", "apiVersion",
      "v1", "fieldPath", "metadata.namespace", "path", "namespace", "defaultMode", 420);
  json_t *vols = kj_arr(spec, "volumes");
  if (vols && vol) json_array_append_new(vols, vol);
  else json_decref(vol);
  add_mount(cs, name);
  add_mount(ics, name);
  free(name);
}

json_t *admission_service_account(struct reg_request *rq, const struct resource *res, json_t *obj, const json_t *old)
{
  if (res != &reg_pods || old) return NULL;
  json_t *spec = kj_obj(obj, "spec");
  if (!spec) return NULL;
  const char *sa = kj_get_str(spec, "serviceAccountName");
  if (!sa || !*sa) {
    /* the deprecated serviceAccount field names the same thing */
    const char *dep = kj_get_str(spec, "serviceAccount");
    json_object_set_new(spec, "serviceAccountName", json_string(dep && *dep ? dep : "default"));
  }
  sa = kj_get_str(spec, "serviceAccountName");
  json_object_set_new(spec, "serviceAccount", json_string(sa));
  if (!kj_get(obj, "metadata.annotations[\"kubernetes.io/config.mirror\"]") && rq->srv && rq->srv->storage &&
      rq->namespace_) {
    char key[512];
    snprintf(key, sizeof(key), "/registry/serviceaccounts/%s/%s", rq->namespace_, sa);
    if (!storage_get(rq->srv->storage, key))
      return adm_forbidden(res, kj_get_str(obj, "metadata.name"),
                           "error looking up service account %s/%s: serviceaccount \"%s\" not found", rq->namespace_,
                           sa, sa);
  }
  mount_token(rq, spec, sa);
  return NULL;
}
