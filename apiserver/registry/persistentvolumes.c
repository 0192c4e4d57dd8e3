/*
 * persistentvolumes.c - the core/v1 PersistentVolume strategy (upstream
 * pkg/registry/core/persistentvolume, SetDefaults_PersistentVolume,
 * ValidatePersistentVolume, printPersistentVolume).
 *
 * A volume has exactly one source, a `storage` capacity and at least one
 * access mode; it starts in phase Pending and the reclaim policy defaults
 * to Retain.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>
#include <kube/quantity.h>

#include "registry/ext_internal.h"
#include "registry/kinds_ext.h"
#include <kube/xalloc.h>

static const char *const access_modes[] = {"ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod", NULL};

char *ext_access_modes_string(const json_t *modes)
{
  static const char *const order[][2] = {
      {"ReadWriteOnce", "RWO"}, {"ReadOnlyMany", "ROX"}, {"ReadWriteMany", "RWX"}, {"ReadWriteOncePod", "RWOP"}};
  char buf[64] = "";
  for (size_t i = 0; i < 4; i++) {
    size_t j;
    json_t *m;
    json_array_foreach (modes, j, m) {
      if (json_is_string(m) && !strcmp(json_string_value(m), order[i][0])) {
        if (buf[0]) strcat(buf, ",");
        strcat(buf, order[i][1]);
        break;
      }
    }
  }
  return xstrdup(buf);
}

void ext_validate_access_modes(const json_t *modes, const char *field, const char *required_msg, json_t *causes)
{
  if (json_array_size(modes) == 0) {
    if (required_msg && *required_msg) reg_cause_add(causes, REG_REQUIRED, field, "Required value: %s", required_msg);
    else reg_cause_add(causes, REG_REQUIRED, field, "Required value");
    return;
  }
  size_t i;
  json_t *m;
  json_array_foreach (modes, i, m)
    reg_check_enum(causes, field, json_is_string(m) ? json_string_value(m) : "", access_modes);
}

const char *ext_storage_of(const json_t *list)
{
  return json_is_object(list) ? json_string_value(json_object_get(list, "storage")) : NULL;
}

static const char *const pv_sources[] = {"gcePersistentDisk",
                                         "awsElasticBlockStore",
                                         "hostPath",
                                         "glusterfs",
                                         "nfs",
                                         "rbd",
                                         "iscsi",
                                         "cinder",
                                         "cephfs",
                                         "fc",
                                         "flocker",
                                         "flexVolume",
                                         "azureFile",
                                         "vsphereVolume",
                                         "quobyte",
                                         "azureDisk",
                                         "photonPersistentDisk",
                                         "portworxVolume",
                                         "scaleIO",
                                         "local",
                                         "storageos",
                                         "csi",
                                         NULL};

static void pv_defaults(json_t *obj)
{
  json_t *spec = kj_obj(obj, "spec");
  if (!spec) return;
  kj_default(spec, "persistentVolumeReclaimPolicy", json_string("Retain"));
  kj_default(spec, "volumeMode", json_string("Filesystem"));
  json_t *hp = json_object_get(spec, "hostPath");
  if (json_is_object(hp)) kj_default(hp, "type", json_string(""));
  json_t *st = kj_obj(obj, "status");
  if (st) kj_default(st, "phase", json_string("Pending"));
}

static void pv_prepare_create(struct reg_request *rq, json_t *obj)
{
  json_object_set_new(obj, "status", json_pack("{s:s}", "phase", "Pending"));
}

static void pv_prepare_update(struct reg_request *rq, json_t *obj, const json_t *old)
{
  reg_split_status(rq, obj, old);
}

static void pv_validate(struct reg_request *rq, const json_t *obj, const json_t *old, json_t *causes)
{
  reg_validate_object_meta(obj, false, true, causes);
  if (old) reg_validate_object_meta_update(obj, old, causes);
  if (old && ext_is_status(rq)) {
    static const char *const phases[] = {"Pending", "Available", "Bound", "Released", "Failed", NULL};
    reg_check_enum(causes, "status.phase", kj_get_str(obj, "status.phase"), phases);
    return;
  }
  const json_t *spec = json_object_get(obj, "spec");
  ext_validate_access_modes(json_object_get(spec, "accessModes"), "spec.accessModes", NULL, causes);
  json_t *cap = json_object_get(spec, "capacity");
  if (json_object_size(cap) == 0) {
    reg_cause_add(causes, REG_REQUIRED, "spec.capacity", "Required value");
  } else if (!json_object_get(cap, "storage") || json_object_size(cap) > 1) {
    char *gv = reg_go_value(cap);
    reg_cause_add(causes, REG_NOT_SUPPORTED, "spec.capacity", "Unsupported value: %s: supported values: \"storage\"",
                  gv ? gv : "");
    free(gv);
  } else {
    struct quantity q;
    const char *s = ext_storage_of(cap);
    if (!s || quantity_parse(s, &q) != 0)
      reg_cause_invalid_str(
          causes, "spec.capacity.storage", s ? s : "",
          "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
    else if (quantity_sign(&q) <= 0)
      reg_cause_invalid_str(causes, "spec.capacity.storage", s, "must be greater than zero");
  }
  static const char *const policies[] = {"Delete", "Recycle", "Retain", NULL};
  reg_check_enum(causes, "spec.persistentVolumeReclaimPolicy", kj_get_str(spec, "persistentVolumeReclaimPolicy"),
                 policies);
  static const char *const modes[] = {"Block", "Filesystem", NULL};
  reg_check_enum(causes, "spec.volumeMode", kj_get_str(spec, "volumeMode"), modes);
  int nsrc = 0;
  for (size_t i = 0; pv_sources[i]; i++)
    if (json_object_get(spec, pv_sources[i])) nsrc++;
  if (nsrc == 0) reg_cause_add(causes, REG_REQUIRED, "spec", "Required value: must specify a volume type");
  else if (nsrc > 1) reg_cause_add(causes, REG_FORBIDDEN, "spec", "Forbidden: may not specify more than 1 volume type");
  const char *hp = kj_get_str(spec, "hostPath.path");
  if (json_object_get(spec, "hostPath") && (!hp || !*hp))
    reg_cause_add(causes, REG_REQUIRED, "spec.hostPath.path", "Required value");
  if (old) {
    json_t *a = json_object_get(spec, "volumeMode"), *b = kj_get(old, "spec.volumeMode");
    if (a && b) reg_check_immutable(causes, "spec.volumeMode", a, b);
  }
}

static json_t *pv_cells(const json_t *obj)
{
  json_t *row = reg_row(obj);
  reg_cell_str(row, reg_str_or(ext_storage_of(kj_get(obj, "spec.capacity")), "0"));
  char *modes = ext_access_modes_string(kj_get(obj, "spec.accessModes"));
  reg_cell_str(row, modes);
  free(modes);
  reg_cell_str(row, kj_get_str(obj, "spec.persistentVolumeReclaimPolicy"));
  reg_cell_str(row, kj_get(obj, "metadata.deletionTimestamp") ? "Terminating" : kj_get_str(obj, "status.phase"));
  char claim[512] = "";
  if (kj_get(obj, "spec.claimRef"))
    snprintf(claim, sizeof(claim), "%s/%s", reg_str_or(kj_get_str(obj, "spec.claimRef.namespace"), ""),
             reg_str_or(kj_get_str(obj, "spec.claimRef.name"), ""));
  reg_cell_str(row, claim);
  const char *sc = kj_get_str(obj, "metadata.annotations[\"volume.beta.kubernetes.io/storage-class\"]");
  reg_cell_str(row, reg_str_or(sc, kj_get_str(obj, "spec.storageClassName")));
  reg_cell_str(row, reg_str_or(kj_get_str(obj, "spec.volumeAttributesClassName"), "<unset>"));
  reg_cell_str(row, kj_get_str(obj, "status.reason"));
  json_array_append_new(row, reg_age_cell(obj));
  reg_cell_str(row, reg_str_or(kj_get_str(obj, "spec.volumeMode"), "<unset>"));
  return row;
}

static const struct reg_column pv_columns[] = {
    {"Name", "string", "name", 0, EXT_DESC_NAME},
    {"Capacity", "string", "", 0, "capacity is the description of the persistent volume's resources and capacity."},
    {"Access Modes", "string", "", 0, "accessModes contains all ways the volume can be mounted."},
    {"Reclaim Policy", "string", "", 0,
     "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim."},
    {"Status", "string", "", 0, "phase indicates if a volume is available, bound to a claim, or released by a claim."},
    {"Claim", "string", "", 0,
     "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim."},
    {"StorageClass", "string", "", 0, "StorageClass of the pv"},
    {"VolumeAttributesClass", "string", "", 0, "VolumeAttributesClass of the pv"},
    {"Reason", "string", "", 0,
     "reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display "
     "in the CLI."},
    {"Age", "string", "", 0, EXT_DESC_AGE},
    {"VolumeMode", "string", "", 1,
     "volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block "
     "state."},
    {NULL},
};

const struct resource reg_persistentvolumes = {
    .return_deleted_object = true,
    .group = "",
    .version = "v1",
    .plural = "persistentvolumes",
    .singular = "persistentvolume",
    .kind = "PersistentVolume",
    .namespaced = false,
    .short_names = {"pv", NULL},
    .categories = {NULL},
    .subresources = RES_SUB_STATUS,
    .storage_prefix = "/registry/persistentvolumes",
    .defaults = pv_defaults,
    .prepare_create = pv_prepare_create,
    .prepare_update = pv_prepare_update,
    .validate = pv_validate,
    .columns = pv_columns,
    .cells = pv_cells,
};
