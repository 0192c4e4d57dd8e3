/*
 * node_volume_limits.c - the NodeVolumeLimits plugin (upstream
 * pkg/scheduler/framework/plugins/nodevolumelimits, CSILimits): a node
 * attaches at most so many volumes of one CSI driver.
 *
 * The limit per driver is the node's allocatable
 * attachable-volumes-csi-DRIVER (upstream also reads CSINode objects,
 * which this API server does not serve).  A pod's volumes count by driver
 * and handle: a bound claim's CSI volume by its volumeHandle, an unbound
 * claim by its class's provisioner (one new volume each); the node's
 * pods' volumes count once each.  Volumes of other kinds (local,
 * hostPath, the local-path provisioner's) have no limit.  Pods without
 * claims are skipped in PreFilter.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/json.h"
#include "plugins.h"
#include "volumes.h"

#define NVL_REASON_MAX_VOLUME_COUNT "node(s) exceed max volume count"
#define NVL_LIMIT_PREFIX "attachable-volumes-csi-"

/* Adds the pod's CSI volumes to out: driver -> {handle: true}. */
static void attachable(const struct sched_snapshot *s, const json_t *pod, json_t *out)
{
  const char *ns = kj_get_str(pod, "metadata.namespace") ?: "default";
  size_t i;
  json_t *v;
  json_array_foreach (kj_get(pod, "spec.volumes"), i, v) {
    char claim[512], key[800], handle[900];
    if (!sched_volume_claim(pod, v, NULL, claim, sizeof claim)) continue;
    snprintf(key, sizeof key, "%s/%s", ns, claim);
    const json_t *pvc = json_object_get(s->pvcs, key);
    if (!pvc) continue;
    const char *driver = NULL;
    const char *pvname = kj_get_str(pvc, "spec.volumeName");
    const json_t *pv = pvname && *pvname ? json_object_get(s->pvs, pvname) : NULL;
    if (pv) {
      driver = kj_get_str(pv, "spec.csi.driver");
      snprintf(handle, sizeof handle, "%s", kj_get_str(pv, "spec.csi.volumeHandle") ?: "");
    } else if (!pvname || !*pvname) {
      /* Not provisioned yet: a new volume of the class's driver. */
      const json_t *sc = json_object_get(s->classes, sched_vol_claim_class(pvc));
      driver = kj_get_str(sc, "provisioner");
      snprintf(handle, sizeof handle, "%s-%s", key, "unbound");
    }
    if (!driver || !*driver) continue;
    json_t *set = json_object_get(out, driver);
    if (!set) {
      set = json_object();
      json_object_set_new(out, driver, set);
    }
    json_object_set_new(set, handle, json_true());
  }
}

static bool has_claims(const json_t *pod)
{
  size_t i;
  json_t *v;
  char claim[512];
  json_array_foreach (kj_get(pod, "spec.volumes"), i, v) {
    if (sched_volume_claim(pod, v, NULL, claim, sizeof claim)) return true;
  }
  return false;
}

static enum sched_code nvl_pre_filter(void *self, struct sched_cycle *c, struct sched_status *st)
{
  if (!has_claims(c->pod)) return SCHED_SKIP;
  json_t *mine = json_object();
  attachable(c->snap, c->pod, mine);
  if (!json_object_size(mine)) {
    json_decref(mine);
    return SCHED_SKIP;
  }
  sched_cycle_set(c, mine, (void (*)(void *))json_decref);
  return SCHED_SUCCESS;
}

static enum sched_code nvl_filter(void *self, struct sched_cycle *c, const struct sched_node_info *ni,
                                  struct sched_status *st)
{
  const json_t *mine = sched_cycle_get(c);
  if (!mine) return SCHED_SUCCESS;
  const json_t *alloc = kj_get(ni->node, "status.allocatable");
  json_t *used = NULL;
  const char *driver;
  json_t *handles;
  enum sched_code code = SCHED_SUCCESS;
  json_object_foreach ((json_t *)mine, driver, handles) {
    char key[600];
    snprintf(key, sizeof key, NVL_LIMIT_PREFIX "%s", driver);
    const json_t *lim = json_object_get(alloc, key);
    if (!lim) continue;
    int64_t limit = sched_vol_bytes(lim);
    if (!used) {
      used = json_object();
      for (size_t k = 0; k < ni->npods; k++)
        if (ni->pods[k].has_claims) attachable(c->snap, ni->pods[k].pod, used);
    }
    json_t *all = json_deep_copy(json_object_get(used, driver));
    if (!all) all = json_object();
    json_object_update(all, handles);
    int64_t n = (int64_t)json_object_size(all);
    json_decref(all);
    if (n > limit) {
      code = sched_status_fail_static(st, SCHED_UNSCHEDULABLE, NVL_REASON_MAX_VOLUME_COUNT);
      break;
    }
  }
  json_decref(used);
  return code;
}

const struct sched_plugin sched_plugin_node_volume_limits = {
    .name = "NodeVolumeLimits",
    .pre_filter = nvl_pre_filter,
    .filter = nvl_filter,
};
