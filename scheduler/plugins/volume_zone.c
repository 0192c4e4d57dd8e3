/*
 * volume_zone.c - the VolumeZone plugin (upstream
 * pkg/scheduler/framework/plugins/volumezone): a pod goes only where the
 * zones and regions of its bound volumes are.
 *
 * A bound claim's volume that carries topology.kubernetes.io/zone or
 * /region (or the failure-domain.beta.kubernetes.io labels) limits the
 * pod to nodes with a matching label value; a label may list several
 * zones as "a__b".  A node without any of these labels (a single-zone
 * cluster) fits.  An unbound claim of a WaitForFirstConsumer class is
 * VolumeBinding's to place; any other unbound claim makes the pod
 * unschedulable.  Pods without zoned volumes are skipped in PreFilter.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/json.h"
#include "plugins.h"
#include "volumes.h"
#include "kube/xalloc.h"

#define VZ_REASON_CONFLICT "node(s) had no available volume zone"

static const char *const topology_labels[] = {"failure-domain.beta.kubernetes.io/zone",
                                              "failure-domain.beta.kubernetes.io/region", "topology.kubernetes.io/zone",
                                              "topology.kubernetes.io/region", NULL};

/* The GA label for a beta one (translateToGALabel). */
static const char *ga_label(const char *key)
{
  if (!strcmp(key, topology_labels[0])) return topology_labels[2];
  if (!strcmp(key, topology_labels[1])) return topology_labels[3];
  return key;
}

/* [{"key": label, "values": [zone...], "pv": name}] of the pod's volumes;
 * NULL with st set when the pod cannot be placed. */
static json_t *pv_topologies(const struct sched_snapshot *snap, const json_t *pod, struct sched_status *st)
{
  const char *ns = kj_get_str(pod, "metadata.namespace") ?: "default";
  json_t *out = json_array();
  size_t i;
  json_t *v;
  json_array_foreach (kj_get(pod, "spec.volumes"), i, v) {
    const char *cn = kj_get_str(v, "persistentVolumeClaim.claimName");
    if (!cn) continue;
    char key[800], err[256];
    snprintf(key, sizeof key, "%s/%s", ns, cn);
    const json_t *pvc = json_object_get(snap->pvcs, key);
    if (!pvc) {
      sched_status_fail(st, SCHED_UNRESOLVABLE, "persistentvolumeclaim \"%s\" not found", cn);
      goto fail;
    }
    const char *pvname = kj_get_str(pvc, "spec.volumeName");
    if (!pvname || !*pvname) {
      const char *cls = sched_vol_claim_class(pvc);
      if (!*cls) {
        sched_status_fail_static(st, SCHED_UNRESOLVABLE, "PersistentVolumeClaim had no pv name and storageClass name");
        goto fail;
      }
      if (!json_object_get(snap->classes, cls)) {
        sched_status_fail(st, SCHED_UNRESOLVABLE, "storageclass.storage.k8s.io \"%s\" not found", cls);
        goto fail;
      }
      int delay = sched_vol_delay_binding(snap, pvc, err, sizeof err);
      if (delay < 0) {
        sched_status_fail(st, SCHED_UNRESOLVABLE, "%s", err);
        goto fail;
      }
      if (delay) continue;
      sched_status_fail_static(st, SCHED_UNRESOLVABLE, "PersistentVolume had no name");
      goto fail;
    }
    const json_t *pv = json_object_get(snap->pvs, pvname);
    if (!pv) {
      sched_status_fail(st, SCHED_UNRESOLVABLE, "persistentvolume \"%s\" not found", pvname);
      goto fail;
    }
    const json_t *labels = kj_get(pv, "metadata.labels");
    for (int k = 0; topology_labels[k]; k++) {
      const char *val = json_string_value(json_object_get(labels, topology_labels[k]));
      if (!val) continue;
      json_t *zones = json_array();
      char *dup = xstrdup(val), *save = NULL;
      for (char *t = dup ? strtok_r(dup, "_", &save) : NULL; t; t = strtok_r(NULL, "_", &save))
        if (*t) json_array_append_new(zones, json_string(t));
      free(dup);
      json_array_append_new(out, json_pack("{s:s,s:o,s:s}", "key", topology_labels[k], "values", zones, "pv", pvname));
    }
  }
  return out;
fail:
  json_decref(out);
  return NULL;
}

static enum sched_code vz_pre_filter(void *self, struct sched_cycle *c, struct sched_status *st)
{
  if (!json_array_size(kj_get(c->pod, "spec.volumes"))) return SCHED_SKIP;
  json_t *t = pv_topologies(c->snap, c->pod, st);
  if (!t) return st->code;
  if (!json_array_size(t)) {
    json_decref(t);
    return SCHED_SKIP;
  }
  sched_cycle_set(c, t, (void (*)(void *))json_decref);
  return SCHED_SUCCESS;
}

static enum sched_code vz_filter(void *self, struct sched_cycle *c, const struct sched_node_info *ni,
                                 struct sched_status *st)
{
  const json_t *t = sched_cycle_get(c);
  if (!t) return SCHED_SUCCESS;
  bool constrained = false;
  for (int k = 0; topology_labels[k] && !constrained; k++)
    constrained = sched_node_label(ni, topology_labels[k]) != NULL;
  if (!constrained) return SCHED_SUCCESS;
  size_t i, j;
  json_t *e, *z;
  json_array_foreach (t, i, e) {
    const char *key = kj_get_str(e, "key");
    const char *have = sched_node_label(ni, key);
    if (!have) have = sched_node_label(ni, ga_label(key));
    bool ok = false;
    json_array_foreach (json_object_get(e, "values"), j, z) ok = ok || (have && !strcmp(have, json_string_value(z)));
    if (!ok) return sched_status_fail_static(st, SCHED_UNRESOLVABLE, VZ_REASON_CONFLICT);
  }
  return SCHED_SUCCESS;
}

const struct sched_plugin sched_plugin_volume_zone = {
    .name = "VolumeZone",
    .pre_filter = vz_pre_filter,
    .filter = vz_filter,
};
