/*
 * local_path.c - the built-in local-path provisioner (what k3s ships as
 * an add-on, here a volume plugin of the persistentvolume-binder).
 *
 * It makes a `local` PersistentVolume on the node the scheduler picked
 * for the claim's first pod (WaitForFirstConsumer), at
 * --local-path-root/pvc-UID_NAMESPACE_NAME, with a required node affinity
 * on that node's kubernetes.io/hostname label.  Nothing is written to any
 * disk here: the kubelet of that node creates the directory when it first
 * mounts the volume, and, for reclaim Delete, removes it once the volume
 * object is being deleted, then drops the kube.local/local-path-cleanup
 * finalizer that held the object until then.  Such a directory has no
 * size limit, so the volume's capacity is the claim's request, and an
 * expansion only raises that number (persistentvolume-expander).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controllers/persistentvolume.h"
#include "controllers/volume_util.h"
#include "kube/json.h"

/* The access modes a directory on one node can honour. */
static const char *const supported_modes[] = {"ReadWriteOnce", "ReadWriteOncePod", NULL};

static bool mode_supported(const char *m)
{
  for (size_t i = 0; supported_modes[i]; i++)
    if (!strcmp(m, supported_modes[i])) return true;
  return false;
}

/* Go's %v of a string slice: "[a b]". */
static void go_list(const json_t *arr, char *out, size_t len)
{
  size_t i, n = 0;
  json_t *v;
  n += snprintf(out + n, len - n, "[");
  json_array_foreach (arr, i, v) {
    if (n < len) n += snprintf(out + n, len - n, "%s%s", i ? " " : "", json_string_value(v) ?: "");
  }
  if (n < len) snprintf(out + n, len - n, "]");
}

/* NULL, or why the claim cannot be made here (into err). */
static const char *check_claim(const json_t *claim, const json_t *sc, const json_t *node, char *err, size_t errlen)
{
  if (!node) {
    snprintf(err, errlen, "configuration error, no node was specified");
    return err;
  }
  const json_t *modes = kj_get(claim, "spec.accessModes");
  size_t i;
  json_t *m;
  json_array_foreach (modes, i, m) {
    if (json_is_string(m) && mode_supported(json_string_value(m))) continue;
    char have[256];
    go_list(modes, have, sizeof have);
    snprintf(err, errlen, "invalid AccessModes %s: only AccessModes [ReadWriteOnce ReadWriteOncePod] are supported",
             have);
    return err;
  }
  const char *vm = kj_get_str(claim, "spec.volumeMode");
  if (vm && strcmp(vm, "Filesystem")) {
    snprintf(err, errlen, "volumeMode %s is not supported: %s makes Filesystem volumes only", vm,
             LOCAL_PATH_PROVISIONER);
    return err;
  }
  const char *k;
  json_t *v;
  json_object_foreach ((json_t *)kj_get(sc, "parameters"), k, v) {
    snprintf(err, errlen, "invalid option \"%s\" for volume plugin %s", k, LOCAL_PATH_PROVISIONER);
    return err;
  }
  return NULL;
}

json_t *local_path_volume(const json_t *claim, const json_t *sc, const json_t *node, const char *root, char *err,
                          size_t errlen)
{
  if (check_claim(claim, sc, node, err, errlen)) return NULL;
  const json_t *storage = kj_get(claim, "spec.resources.requests.storage");
  if (!storage) {
    snprintf(err, errlen, "the claim requests no storage");
    return NULL;
  }
  const char *uid = kj_get_str(claim, "metadata.uid") ?: "";
  const char *node_name = kj_get_str(node, "metadata.name") ?: "";
  const char *host = kj_get_str(node, "metadata.labels[\"" LABEL_HOSTNAME "\"]");
  const char *policy = kj_get_str(sc, "reclaimPolicy") ?: "Delete";
  char name[300], path[4200];
  snprintf(name, sizeof name, "pvc-%s", uid);
  snprintf(path, sizeof path, "%s/%s_%s_%s", root && *root ? root : LOCAL_PATH_DEFAULT_ROOT, name,
           kj_get_str(claim, "metadata.namespace") ?: "", kj_get_str(claim, "metadata.name") ?: "");
  json_t *pv =
      json_pack("{s:s,s:s,s:{s:s,s:{s:s}},s:{s:{s:O},s:o,s:s,s:s,s:{s:s},s:{s:{s:[{s:[{s:s,s:s,s:[s]}]}]}}}}",
                "apiVersion", "v1", "kind", "PersistentVolume", "metadata", "name", name, "annotations",
                LOCAL_PATH_NODE_ANNOTATION, node_name, "spec", "capacity", "storage", storage, "accessModes",
                kj_deep_copy(kj_get(claim, "spec.accessModes")), "persistentVolumeReclaimPolicy", policy, "volumeMode",
                "Filesystem", "local", "path", path, "nodeAffinity", "required", "nodeSelectorTerms",
                "matchExpressions", "key", LABEL_HOSTNAME, "operator", "In", "values", host ? host : node_name);
  if (!pv) {
    snprintf(err, errlen, "the claim has no access modes");
    return NULL;
  }
  const json_t *mo = kj_get(sc, "mountOptions");
  if (json_array_size(mo)) kj_set(pv, "spec.mountOptions", kj_deep_copy(mo));
  if (!strcmp(policy, "Delete")) kj_set(pv, "metadata.finalizers", json_pack("[s]", LOCAL_PATH_FINALIZER));
  return pv;
}

const char *local_path_node(const json_t *pv) { return vol_annotation(pv, LOCAL_PATH_NODE_ANNOTATION); }

bool local_path_owns(const json_t *pv)
{
  const char *by = vol_annotation(pv, ANN_DYNAMICALLY_PROVISIONED);
  return by && !strcmp(by, LOCAL_PATH_PROVISIONER);
}
