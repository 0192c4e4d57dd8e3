/*
 * volume_util.c - the helpers the volume controllers share: classes,
 * matching rules, ephemeral claim names and the pods-by-claim index
 * (see volume_util.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller_utils.h"
#include "controllers/volume_util.h"
#include "kube/informer.h"
#include "kube/json.h"
#include "kube/quantity.h"

int vol_add_pod_claim_index(struct informer *pod_inf)
{
  int rc = informer_add_index(pod_inf, VOL_INDEX_POD_CLAIMS, vol_index_pod_claims, NULL);
  return rc == -EEXIST ? 0 : rc;
}

void vol_index_pod_claims(void *arg, const json_t *pod, json_t *out)
{
  const char *ns = kj_get_str(pod, "metadata.namespace");
  size_t i;
  json_t *v;
  json_array_foreach (kj_get(pod, "spec.volumes"), i, v) {
    char name[512], key[800];
    bool eph;
    if (!vol_pod_volume_claim(pod, v, &eph, name, sizeof name)) continue;
    snprintf(key, sizeof key, "%s/%s", ns ? ns : "", name);
    json_array_append_new(out, json_string(key));
  }
}

const char *vol_annotation(const json_t *obj, const char *key)
{
  return json_string_value(json_object_get(kj_get(obj, "metadata.annotations"), key));
}

bool vol_has_annotation(const json_t *obj, const char *key)
{
  return json_object_get(kj_get(obj, "metadata.annotations"), key) != NULL;
}

bool vol_has_finalizer(const json_t *obj, const char *finalizer)
{
  size_t i;
  json_t *f;
  json_array_foreach (kj_get(obj, "metadata.finalizers"), i, f) {
    if (json_is_string(f) && !strcmp(json_string_value(f), finalizer)) return true;
  }
  return false;
}

const char *vol_claim_class(const json_t *claim)
{
  const char *a = vol_annotation(claim, ANN_BETA_STORAGE_CLASS);
  if (a) return a;
  const char *s = kj_get_str(claim, "spec.storageClassName");
  return s ? s : "";
}

bool vol_claim_has_class(const json_t *claim)
{
  return vol_has_annotation(claim, ANN_BETA_STORAGE_CLASS) || kj_get_str(claim, "spec.storageClassName");
}

const char *vol_pv_class(const json_t *pv)
{
  const char *a = vol_annotation(pv, ANN_BETA_STORAGE_CLASS);
  if (a) return a;
  const char *s = kj_get_str(pv, "spec.storageClassName");
  return s ? s : "";
}

const json_t *vol_find_class(const json_t *classes, const char *name)
{
  if (!name || !*name) return NULL;
  return cm_find_named(classes, name);
}

bool vol_is_default_class(const json_t *sc)
{
  const char *v = vol_annotation(sc, ANN_DEFAULT_CLASS);
  if (v && !strcmp(v, "true")) return true;
  v = vol_annotation(sc, ANN_BETA_DEFAULT_CLASS);
  return v && !strcmp(v, "true");
}

const json_t *vol_default_class(const json_t *classes)
{
  const json_t *best = NULL;
  int64_t best_t = 0;
  size_t i;
  json_t *sc;
  json_array_foreach (classes, i, sc) {
    if (!vol_is_default_class(sc)) continue;
    int64_t t = cm_time_us(sc, "metadata.creationTimestamp", 0);
    const char *n = kj_get_str(sc, "metadata.name");
    if (!best || t > best_t || (t == best_t && strcmp(n ? n : "", kj_get_str(best, "metadata.name") ?: "") < 0)) {
      best = sc;
      best_t = t;
    }
  }
  return best;
}

bool vol_is_delay_binding(const json_t *claim, const json_t *classes)
{
  const json_t *sc = vol_find_class(classes, vol_claim_class(claim));
  const char *mode = sc ? kj_get_str(sc, "volumeBindingMode") : NULL;
  return mode && !strcmp(mode, "WaitForFirstConsumer");
}

static int64_t storage_of(const json_t *list)
{
  struct quantity q;
  json_t *v = json_object_get(list, "storage");
  if (!v || quantity_from_json(v, &q) != 0) return 0;
  return quantity_value(&q);
}

int64_t vol_claim_request(const json_t *claim) { return storage_of(kj_get(claim, "spec.resources.requests")); }
int64_t vol_pv_capacity(const json_t *pv) { return storage_of(kj_get(pv, "spec.capacity")); }

bool vol_modes_contain(const json_t *modes, const char *mode)
{
  size_t i;
  json_t *m;
  json_array_foreach (modes, i, m) {
    if (json_is_string(m) && !strcmp(json_string_value(m), mode)) return true;
  }
  return false;
}

bool vol_access_modes_ok(const json_t *claim, const json_t *pv)
{
  const json_t *have = kj_get(pv, "spec.accessModes");
  size_t i;
  json_t *m;
  json_array_foreach (kj_get(claim, "spec.accessModes"), i, m) {
    if (!json_is_string(m) || !vol_modes_contain(have, json_string_value(m))) return false;
  }
  return true;
}

bool vol_mode_mismatch(const json_t *claim, const json_t *pv)
{
  const char *a = kj_get_str(claim, "spec.volumeMode"), *b = kj_get_str(pv, "spec.volumeMode");
  return strcmp(a ? a : "Filesystem", b ? b : "Filesystem") != 0;
}

bool vol_is_bound_to_claim(const json_t *pv, const json_t *claim)
{
  const json_t *ref = kj_get(pv, "spec.claimRef");
  if (!json_is_object(ref)) return false;
  const char *rn = kj_get_str(ref, "name"), *rns = kj_get_str(ref, "namespace");
  const char *cn = kj_get_str(claim, "metadata.name"), *cns = kj_get_str(claim, "metadata.namespace");
  if (strcmp(rn ? rn : "", cn ? cn : "") || strcmp(rns ? rns : "", cns ? cns : "")) return false;
  const char *ruid = kj_get_str(ref, "uid"), *cuid = kj_get_str(claim, "metadata.uid");
  return !ruid || !*ruid || !strcmp(ruid, cuid ? cuid : "");
}

bool vol_claim_fully_bound(const json_t *claim)
{
  const char *vn = kj_get_str(claim, "spec.volumeName");
  return vn && *vn && vol_has_annotation(claim, ANN_BIND_COMPLETED);
}

char *vol_ephemeral_claim_name(const json_t *pod, const json_t *volume, char *out, size_t len)
{
  snprintf(out, len, "%s-%s", kj_get_str(pod, "metadata.name") ?: "", kj_get_str(volume, "name") ?: "");
  return out;
}

const char *vol_claim_is_for_pod(const json_t *pod, const json_t *pvc, char *buf, size_t len)
{
  const char *pns = kj_get_str(pod, "metadata.namespace") ?: "", *cns = kj_get_str(pvc, "metadata.namespace") ?: "";
  const char *uid = kj_get_str(pod, "metadata.uid");
  if (!strcmp(pns, cns) && uid && obj_is_controlled_by(pvc, uid)) return NULL;
  snprintf(buf, len, "PVC %s/%s was not created for pod %s/%s (pod is not owner)", cns,
           kj_get_str(pvc, "metadata.name") ?: "", pns, kj_get_str(pod, "metadata.name") ?: "");
  return buf;
}

const char *vol_pod_volume_claim(const json_t *pod, const json_t *volume, bool *ephemeral, char *out, size_t len)
{
  *ephemeral = false;
  const char *cn = kj_get_str(volume, "persistentVolumeClaim.claimName");
  if (cn) {
    snprintf(out, len, "%s", cn);
    return out;
  }
  if (!json_object_get(volume, "ephemeral")) return NULL;
  *ephemeral = true;
  return vol_ephemeral_claim_name(pod, volume, out, len);
}

int vol_rv_cmp(const json_t *a, const json_t *b)
{
  const char *x = kj_get_str(a, "metadata.resourceVersion"), *y = kj_get_str(b, "metadata.resourceVersion");
  char *ex, *ey;
  if (!x || !y) return 0;
  long long vx = strtoll(x, &ex, 10), vy = strtoll(y, &ey, 10);
  if (*ex || *ey || ex == x || ey == y) return 0;
  return vx < vy ? -1 : vx > vy;
}
