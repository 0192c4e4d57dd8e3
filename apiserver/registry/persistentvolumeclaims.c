/*
 * persistentvolumeclaims.c - the core/v1 PersistentVolumeClaim strategy
 * (upstream pkg/registry/core/persistentvolumeclaim,
 * SetDefaults_PersistentVolumeClaim, ValidatePersistentVolumeClaim[Update],
 * printPersistentVolumeClaim).
 *
 * The spec is immutable once created, except that volumeName may be set
 * once (binding), storageClassName may be set once on a claim created
 * without one (retroactive default class), and a bound claim may grow
 * resources.requests.storage; shrinking is refused.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>
#include <kube/quantity.h>

#include "registry/ext_internal.h"
#include "registry/kinds_ext.h"

static void pvc_spec_defaults(json_t *spec)
{
  if (json_is_object(spec)) kj_default(spec, "volumeMode", json_string("Filesystem"));
}

static void pvc_defaults(json_t *obj)
{
  pvc_spec_defaults(kj_obj(obj, "spec"));
  json_t *st = kj_obj(obj, "status");
  if (st) kj_default(st, "phase", json_string("Pending"));
}

static void pvc_prepare_create(struct reg_request *rq, json_t *obj)
{
  json_object_set_new(obj, "status", json_pack("{s:s}", "phase", "Pending"));
}

static void pvc_prepare_update(struct reg_request *rq, json_t *obj, const json_t *old)
{
  reg_split_status(rq, obj, old);
}

static void validate_storage_request(const json_t *spec, json_t *causes)
{
  const char *s = ext_storage_of(kj_get(spec, "resources.requests"));
  if (!s) {
    reg_cause_add(causes, REG_REQUIRED, "spec.resources[storage]", "Required value");
    return;
  }
  struct quantity q;
  if (quantity_parse(s, &q) != 0)
    reg_cause_invalid_str(
        causes, "spec.resources[storage]", s,
        "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
  else if (quantity_sign(&q) <= 0)
    reg_cause_invalid_str(causes, "spec.resources[storage]", s, "must be greater than zero");
}

static void pvc_validate_update(const json_t *obj, const json_t *old, json_t *causes)
{
  json_t *a = kj_deep_copy(json_object_get(obj, "spec"));
  json_t *b = kj_deep_copy(json_object_get(old, "spec"));
  if (!a) a = json_object();
  if (!b) b = json_object();
  /* storageClassName may be set once on a claim that had none (the
   * persistentvolume-binder assigns the default class retroactively). */
  if (!json_object_get(b, "storageClassName") && reg_str_or(kj_get_str(a, "storageClassName"), NULL) &&
      !kj_get(old, "metadata.annotations[\"volume.beta.kubernetes.io/storage-class\"]"))
    json_object_del(a, "storageClassName");
  /* volumeName may be set once (binding). */
  if (!reg_str_or(kj_get_str(b, "volumeName"), NULL)) {
    json_t *vn = json_object_get(a, "volumeName");
    if (vn) json_object_set(b, "volumeName", vn);
    else json_object_del(b, "volumeName");
  }
  const char *phase = kj_get_str(obj, "status.phase");
  if (phase && !strcmp(phase, "Bound") && json_is_object(kj_get(a, "resources.requests"))) {
    json_t *os = kj_get(b, "resources.requests.storage");
    if (os) kj_set(a, "resources.requests.storage", json_incref(os));
    else kj_del(a, "resources.requests.storage");
  }
  if (!json_equal(a, b))
    reg_cause_add(causes, REG_FORBIDDEN, "spec",
                  "Forbidden: spec is immutable after creation except resources.requests and "
                  "volumeAttributesClassName for bound claims");
  json_decref(a);
  json_decref(b);
  const char *ns = kj_get_str(obj, "spec.resources.requests.storage");
  const char *os = kj_get_str(old, "spec.resources.requests.storage");
  struct quantity nq, oq;
  if (ns && os && quantity_parse(ns, &nq) == 0 && quantity_parse(os, &oq) == 0 && quantity_cmp(&nq, &oq) < 0)
    reg_cause_add(causes, REG_FORBIDDEN, "spec.resources.requests.storage",
                  "Forbidden: field can not be less than previous value");
}

static void pvc_validate(struct reg_request *rq, const json_t *obj, const json_t *old, json_t *causes)
{
  reg_validate_object_meta(obj, true, true, causes);
  if (old) reg_validate_object_meta_update(obj, old, causes);
  if (old && ext_is_status(rq)) {
    static const char *const phases[] = {"Pending", "Bound", "Lost", NULL};
    reg_check_enum(causes, "status.phase", kj_get_str(obj, "status.phase"), phases);
    return;
  }
  const json_t *spec = json_object_get(obj, "spec");
  ext_validate_access_modes(json_object_get(spec, "accessModes"), "spec.accessModes",
                            "at least 1 access mode is required", causes);
  validate_storage_request(spec, causes);
  static const char *const modes[] = {"Block", "Filesystem", NULL};
  reg_check_enum(causes, "spec.volumeMode", kj_get_str(spec, "volumeMode"), modes);
  reg_validate_label_selector(json_object_get(spec, "selector"), "spec.selector", causes);
  if (old) pvc_validate_update(obj, old, causes);
}

static json_t *pvc_cells(const json_t *obj)
{
  json_t *row = reg_row(obj);
  reg_cell_str(row, kj_get(obj, "metadata.deletionTimestamp") ? "Terminating" : kj_get_str(obj, "status.phase"));
  const char *vol = kj_get_str(obj, "spec.volumeName");
  reg_cell_str(row, vol);
  char *modes = NULL;
  const char *cap = "";
  if (vol && *vol) {
    cap = reg_str_or(ext_storage_of(kj_get(obj, "status.capacity")), "0");
    modes = ext_access_modes_string(kj_get(obj, "status.accessModes"));
  }
  reg_cell_str(row, cap);
  reg_cell_str(row, modes ? modes : "");
  free(modes);
  const char *sc = kj_get_str(obj, "metadata.annotations[\"volume.beta.kubernetes.io/storage-class\"]");
  reg_cell_str(row, reg_str_or(sc, kj_get_str(obj, "spec.storageClassName")));
  reg_cell_str(row, reg_str_or(kj_get_str(obj, "status.currentVolumeAttributesClassName"), "<unset>"));
  json_array_append_new(row, reg_age_cell(obj));
  reg_cell_str(row, reg_str_or(kj_get_str(obj, "spec.volumeMode"), "<unset>"));
  return row;
}

static const struct reg_column pvc_columns[] = {
    {"Name", "string", "name", 0, EXT_DESC_NAME},
    {"Status", "string", "", 0, "phase represents the current phase of PersistentVolumeClaim."},
    {"Volume", "string", "", 0, "volumeName is the binding reference to the PersistentVolume backing this claim."},
    {"Capacity", "string", "", 0, "capacity represents the actual resources of the underlying volume."},
    {"Access Modes", "string", "", 0, "accessModes contains the actual access modes the volume backing the PVC has."},
    {"StorageClass", "string", "", 0, "StorageClass of the pvc"},
    {"VolumeAttributesClass", "string", "", 0, "VolumeAttributesClass of the pvc"},
    {"Age", "string", "", 0, EXT_DESC_AGE},
    {"VolumeMode", "string", "", 1, "volumeMode defines what type of volume is required by the claim."},
    {NULL},
};

const struct resource reg_persistentvolumeclaims = {
    .return_deleted_object = true,
    .group = "",
    .version = "v1",
    .plural = "persistentvolumeclaims",
    .singular = "persistentvolumeclaim",
    .kind = "PersistentVolumeClaim",
    .namespaced = true,
    .short_names = {"pvc", NULL},
    .categories = {NULL},
    .subresources = RES_SUB_STATUS,
    .storage_prefix = "/registry/persistentvolumeclaims",
    .defaults = pvc_defaults,
    .prepare_create = pvc_prepare_create,
    .prepare_update = pvc_prepare_update,
    .validate = pvc_validate,
    .columns = pvc_columns,
    .cells = pvc_cells,
};
