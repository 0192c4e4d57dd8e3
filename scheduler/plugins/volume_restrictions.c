/*
 * volume_restrictions.c - the VolumeRestrictions plugin (upstream
 * pkg/scheduler/framework/plugins/volumerestrictions): volumes that only
 * one pod may use.
 *
 * A claim with the ReadWriteOncePod access mode that a pod of the
 * snapshot already uses keeps every other pod off every node (the
 * snapshot counts each claim's pods, so this costs a lookup per claim).
 * Disks that a node can attach once -- GCE persistent disks, AWS EBS
 * volumes, iSCSI and RBD images -- conflict on a node with another pod
 * using the same disk, unless both mount it read-only (EBS never shares).
 * A pod with neither kind of volume is skipped in PreFilter.
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

#define VR_REASON_DISK_CONFLICT "node(s) had no available disk"
#define VR_REASON_RWOP_CONFLICT                                                                                        \
  "node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode"

static const char *const restricted[] = {"gcePersistentDisk", "awsElasticBlockStore", "rbd", "iscsi", NULL};

static bool needs_check(const json_t *vol)
{
  for (int i = 0; restricted[i]; i++)
    if (json_object_get(vol, restricted[i])) return true;
  return false;
}

struct vr_state {
  bool needs_check;
  int64_t rwop_conflicts; /* pods already using one of the pod's ReadWriteOncePod claims */
};

static bool str_eq(const json_t *a, const json_t *b, const char *key, const char *dflt)
{
  const char *x = kj_get_str(a, key), *y = kj_get_str(b, key);
  return !strcmp(x ? x : dflt, y ? y : dflt);
}

static bool monitors_overlap(const json_t *a, const json_t *b)
{
  size_t i, j;
  json_t *x, *y;
  json_array_foreach (a, i, x)
    json_array_foreach (b, j, y)
      if (json_equal(x, y)) return true;
  return false;
}

/* isVolumeConflict between one volume of the new pod and one of a pod
 * already on the node. */
static bool conflict(const json_t *v, const json_t *e)
{
  const json_t *d, *ed;
  if ((d = json_object_get(v, "gcePersistentDisk")) && (ed = json_object_get(e, "gcePersistentDisk")))
    return str_eq(d, ed, "pdName", "") && !(kj_get_bool(d, "readOnly", false) && kj_get_bool(ed, "readOnly", false));
  if ((d = json_object_get(v, "awsElasticBlockStore")) && (ed = json_object_get(e, "awsElasticBlockStore")))
    return str_eq(d, ed, "volumeID", "");
  if ((d = json_object_get(v, "iscsi")) && (ed = json_object_get(e, "iscsi")))
    return str_eq(d, ed, "iqn", "") && !(kj_get_bool(d, "readOnly", false) && kj_get_bool(ed, "readOnly", false));
  if ((d = json_object_get(v, "rbd")) && (ed = json_object_get(e, "rbd")))
    return monitors_overlap(json_object_get(d, "monitors"), json_object_get(ed, "monitors")) &&
           str_eq(d, ed, "pool", "rbd") && str_eq(d, ed, "image", "") &&
           !(kj_get_bool(d, "readOnly", false) && kj_get_bool(ed, "readOnly", false));
  return false;
}

static enum sched_code vr_pre_filter(void *self, struct sched_cycle *c, struct sched_status *st)
{
  const json_t *pod = c->pod;
  const char *ns = kj_get_str(pod, "metadata.namespace") ?: "default";
  struct vr_state s = {0};
  size_t i;
  json_t *v;
  json_array_foreach (kj_get(pod, "spec.volumes"), i, v) {
    if (needs_check(v)) s.needs_check = true;
    const char *cn = kj_get_str(v, "persistentVolumeClaim.claimName");
    if (!cn) continue;
    char key[800];
    snprintf(key, sizeof key, "%s/%s", ns, cn);
    const json_t *pvc = json_object_get(c->snap->pvcs, key);
    if (!pvc) return sched_status_fail(st, SCHED_UNRESOLVABLE, "persistentvolumeclaim \"%s\" not found", cn);
    size_t j;
    json_t *m;
    json_array_foreach (kj_get(pvc, "spec.accessModes"), j, m) {
      if (!strcmp(json_string_value(m) ?: "", "ReadWriteOncePod"))
        s.rwop_conflicts += json_integer_value(json_object_get(c->snap->pvc_refs, key));
    }
  }
  if (!s.needs_check && s.rwop_conflicts == 0) return SCHED_SKIP;
  struct vr_state *p = xmalloc(sizeof *p);
  if (!p) return sched_status_fail_static(st, SCHED_ERROR, "out of memory");
  *p = s;
  sched_cycle_set(c, p, free);
  return SCHED_SUCCESS;
}

static enum sched_code vr_filter(void *self, struct sched_cycle *c, const struct sched_node_info *ni,
                                 struct sched_status *st)
{
  const struct vr_state *s = sched_cycle_get(c);
  if (!s) return SCHED_SUCCESS;
  if (s->rwop_conflicts > 0) return sched_status_fail_static(st, SCHED_UNRESOLVABLE, VR_REASON_RWOP_CONFLICT);
  if (!s->needs_check) return SCHED_SUCCESS;
  size_t i, j, k;
  json_t *v, *e;
  json_array_foreach (kj_get(c->pod, "spec.volumes"), i, v) {
    if (!needs_check(v)) continue;
    for (k = 0; k < ni->npods; k++) {
      json_array_foreach (kj_get(ni->pods[k].pod, "spec.volumes"), j, e) {
        if (conflict(v, e)) return sched_status_fail_static(st, SCHED_UNSCHEDULABLE, VR_REASON_DISK_CONFLICT);
      }
    }
  }
  return SCHED_SUCCESS;
}

const struct sched_plugin sched_plugin_volume_restrictions = {
    .name = "VolumeRestrictions",
    .pre_filter = vr_pre_filter,
    .filter = vr_filter,
};
