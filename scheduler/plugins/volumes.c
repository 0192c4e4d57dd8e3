/*
 * volumes.c - the storage rules the volume plugins share (volumes.h).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/json.h"
#include "kube/scheduling.h"
#include "kube/quantity.h"
#include "kube/selector.h"
#include "volumes.h"

const char *sched_vol_annotation(const json_t *obj, const char *key)
{
  return json_string_value(json_object_get(json_object_get(json_object_get(obj, "metadata"), "annotations"), key));
}

const char *sched_vol_claim_class(const json_t *pvc)
{
  const char *a = sched_vol_annotation(pvc, SCHED_ANN_BETA_STORAGE_CLASS);
  if (a) return a;
  return kj_get_str(pvc, "spec.storageClassName") ?: "";
}

const char *sched_vol_pv_class(const json_t *pv)
{
  const char *a = sched_vol_annotation(pv, SCHED_ANN_BETA_STORAGE_CLASS);
  if (a) return a;
  return kj_get_str(pv, "spec.storageClassName") ?: "";
}

bool sched_vol_claim_fully_bound(const json_t *pvc)
{
  const char *vn = kj_get_str(pvc, "spec.volumeName");
  return vn && *vn && sched_vol_annotation(pvc, SCHED_ANN_BIND_COMPLETED);
}

int sched_vol_delay_binding(const struct sched_snapshot *s, const json_t *pvc, char *err, size_t len)
{
  const char *cls = sched_vol_claim_class(pvc);
  if (!*cls) return 0;
  const json_t *sc = json_object_get(s->classes, cls);
  if (!sc) return 0;
  const char *mode = kj_get_str(sc, "volumeBindingMode");
  if (!mode) {
    snprintf(err, len, "VolumeBindingMode not set for StorageClass \"%s\"", cls);
    return -1;
  }
  return !strcmp(mode, "WaitForFirstConsumer");
}

bool sched_vol_node_affinity_ok(const json_t *pv, const json_t *node)
{
  const json_t *req = kj_get(pv, "spec.nodeAffinity.required");
  return !req || node_selector_matches(req, node);
}

bool sched_vol_bound_to_claim(const json_t *pv, const json_t *pvc)
{
  const json_t *ref = kj_get(pv, "spec.claimRef");
  if (!json_is_object(ref)) return false;
  if (strcmp(kj_get_str(ref, "name") ?: "", kj_get_str(pvc, "metadata.name") ?: "") ||
      strcmp(kj_get_str(ref, "namespace") ?: "", kj_get_str(pvc, "metadata.namespace") ?: ""))
    return false;
  const char *uid = kj_get_str(ref, "uid");
  return !uid || !*uid || !strcmp(uid, kj_get_str(pvc, "metadata.uid") ?: "");
}

const char *sched_vol_claim_for_pod(const json_t *pod, const json_t *pvc, char *buf, size_t len)
{
  const char *pns = kj_get_str(pod, "metadata.namespace") ?: "", *cns = kj_get_str(pvc, "metadata.namespace") ?: "";
  const char *uid = kj_get_str(pod, "metadata.uid") ?: "", *owner = NULL;
  size_t i;
  json_t *r;
  json_array_foreach (kj_get(pvc, "metadata.ownerReferences"), i, r) {
    if (json_is_true(json_object_get(r, "controller"))) {
      owner = kj_get_str(r, "uid");
      break;
    }
  }
  if (!strcmp(pns, cns) && *uid && owner && !strcmp(owner, uid)) return NULL;
  snprintf(buf, len, "PVC %s/%s was not created for pod %s/%s (pod is not owner)", cns,
           kj_get_str(pvc, "metadata.name") ?: "", pns, kj_get_str(pod, "metadata.name") ?: "");
  return buf;
}

int64_t sched_vol_bytes(const json_t *q)
{
  struct quantity v;
  if (!q || quantity_from_json(q, &v) != 0) return 0;
  return quantity_value(&v);
}

int64_t sched_vol_claim_request(const json_t *pvc)
{
  return sched_vol_bytes(kj_get(pvc, "spec.resources.requests.storage"));
}

static bool modes_ok(const json_t *pvc, const json_t *pv)
{
  const json_t *have = kj_get(pv, "spec.accessModes");
  size_t i, j;
  json_t *m, *h;
  json_array_foreach (kj_get(pvc, "spec.accessModes"), i, m) {
    bool found = false;
    json_array_foreach (have, j, h) found = found || json_equal(m, h);
    if (!found) return false;
  }
  return true;
}

static bool mode_mismatch(const json_t *pvc, const json_t *pv)
{
  const char *a = kj_get_str(pvc, "spec.volumeMode"), *b = kj_get_str(pv, "spec.volumeMode");
  return strcmp(a ? a : "Filesystem", b ? b : "Filesystem") != 0;
}

static bool selector_ok(const json_t *pvc, const json_t *pv)
{
  const json_t *sel = kj_get(pvc, "spec.selector");
  if (!sel) return true;
  char err[128];
  struct labelsel *ls = labelsel_from_json(sel, err, sizeof err);
  bool ok = ls && labelsel_matches(ls, kj_get(pv, "metadata.labels"));
  labelsel_free(ls);
  return ok;
}

const json_t *sched_vol_find_matching(const json_t *pvc, const json_t *pvs, const json_t *node, const json_t *excluded)
{
  const json_t *best = NULL;
  int64_t best_cap = 0, req = sched_vol_claim_request(pvc);
  const char *cls = sched_vol_claim_class(pvc);
  size_t i;
  json_t *pv;
  json_array_foreach (pvs, i, pv) {
    const char *name = kj_get_str(pv, "metadata.name") ?: "";
    if (json_object_get(excluded, name) || mode_mismatch(pvc, pv) || kj_get(pv, "metadata.deletionTimestamp")) continue;
    int64_t cap = sched_vol_bytes(kj_get(pv, "spec.capacity.storage"));
    bool affinity = !node || sched_vol_node_affinity_ok(pv, node);
    if (sched_vol_bound_to_claim(pv, pvc)) {
      if (cap < req) continue;
      return affinity ? pv : NULL; /* pre-bound elsewhere: no other volume will do */
    }
    const char *phase = kj_get_str(pv, "status.phase") ?: "";
    if (strcmp(phase, "Available") || kj_get(pv, "spec.claimRef") || !selector_ok(pvc, pv)) continue;
    if (strcmp(sched_vol_pv_class(pv), cls) || !affinity || (node && !modes_ok(pvc, pv))) continue;
    if (cap >= req && (!best || cap < best_cap)) {
      best = pv;
      best_cap = cap;
    }
  }
  return best;
}

int sched_vol_rv_cmp(const json_t *a, const json_t *b)
{
  const char *x = kj_get_str(a, "metadata.resourceVersion"), *y = kj_get_str(b, "metadata.resourceVersion");
  char *ex, *ey;
  if (!x || !y) return 0;
  long long vx = strtoll(x, &ex, 10), vy = strtoll(y, &ey, 10);
  if (*ex || *ey || ex == x || ey == y) return 0;
  return vx < vy ? -1 : vx > vy;
}
