/*
 * storageclasses.c - the storage.k8s.io/v1 StorageClass strategy
 * (upstream pkg/registry/storage/storageclass, SetDefaults_StorageClass,
 * ValidateStorageClass[Update], printStorageClass).  reclaimPolicy
 * defaults to Delete and volumeBindingMode to Immediate; provisioner,
 * parameters, reclaimPolicy and volumeBindingMode are fixed at creation.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>
#include <kube/names.h>

#include "registry/ext_internal.h"
#include "registry/kinds_ext.h"

#define SC_MAX_PARAMETERS 512
#define SC_DEFAULT_ANNOTATION "storageclass.kubernetes.io/is-default-class"
#define SC_BETA_DEFAULT_ANNOTATION "storageclass.beta.kubernetes.io/is-default-class"

static void sc_defaults(json_t *obj)
{
  kj_default(obj, "reclaimPolicy", json_string("Delete"));
  kj_default(obj, "volumeBindingMode", json_string("Immediate"));
}

static bool same(const json_t *a, const json_t *b)
{
  return a == b || (a && b && json_equal((json_t *)a, (json_t *)b));
}

static void sc_validate(struct reg_request *rq, const json_t *obj, const json_t *old, json_t *causes)
{
  reg_validate_object_meta(obj, false, true, causes);
  if (old) reg_validate_object_meta_update(obj, old, causes);
  const char *prov = kj_get_str(obj, "provisioner");
  char msg[512];
  if (!prov || !*prov) reg_cause_add(causes, REG_REQUIRED, "provisioner", "Required value");
  else if (strlen(prov) > 63 + 253 + 1 || !names_is_qualified_name(prov, msg, sizeof(msg)))
    reg_cause_invalid_str(causes, "provisioner", prov, msg);
  json_t *params = json_object_get(obj, "parameters");
  if (json_object_size(params) > SC_MAX_PARAMETERS)
    reg_cause_add(causes, REG_TOO_LONG, "parameters", "Too long: may not have more than %d entries", SC_MAX_PARAMETERS);
  static const char *const policies[] = {"Delete", "Retain", NULL};
  reg_check_enum(causes, "reclaimPolicy", kj_get_str(obj, "reclaimPolicy"), policies);
  static const char *const modes[] = {"Immediate", "WaitForFirstConsumer", NULL};
  const char *mode = kj_get_str(obj, "volumeBindingMode");
  if (json_object_get(obj, "volumeBindingMode") && (!mode || !*mode))
    reg_cause_add(causes, REG_REQUIRED, "volumeBindingMode", "Required value");
  else reg_check_enum(causes, "volumeBindingMode", mode, modes);
  if (!old) return;
  if (!same(params, json_object_get(old, "parameters")) &&
      !(json_object_size(params) == 0 && json_object_size(json_object_get(old, "parameters")) == 0))
    reg_cause_add(causes, REG_FORBIDDEN, "parameters", "Forbidden: updates to parameters are forbidden.");
  if (!same(json_object_get(obj, "provisioner"), json_object_get(old, "provisioner")))
    reg_cause_add(causes, REG_FORBIDDEN, "provisioner", "Forbidden: updates to provisioner are forbidden.");
  if (!same(json_object_get(obj, "reclaimPolicy"), json_object_get(old, "reclaimPolicy")))
    reg_cause_add(causes, REG_FORBIDDEN, "reclaimPolicy", "Forbidden: updates to reclaimPolicy are forbidden.");
  json_t *a = json_object_get(obj, "volumeBindingMode"), *b = json_object_get(old, "volumeBindingMode");
  if (!same(a, b)) reg_check_immutable(causes, "volumeBindingMode", a ? a : json_null(), b ? b : json_null());
}

static bool is_default_class(const json_t *obj)
{
  json_t *ann = kj_get(obj, "metadata.annotations");
  const char *v = json_string_value(json_object_get(ann, SC_DEFAULT_ANNOTATION));
  if (v && !strcmp(v, "true")) return true;
  v = json_string_value(json_object_get(ann, SC_BETA_DEFAULT_ANNOTATION));
  return v && !strcmp(v, "true");
}

static json_t *sc_cells(const json_t *obj)
{
  json_t *row = json_array();
  char name[512];
  snprintf(name, sizeof(name), "%s%s", reg_str_or(kj_get_str(obj, "metadata.name"), ""),
           is_default_class(obj) ? " (default)" : "");
  reg_cell_str(row, name);
  reg_cell_str(row, kj_get_str(obj, "provisioner"));
  reg_cell_str(row, reg_str_or(kj_get_str(obj, "reclaimPolicy"), "Delete"));
  reg_cell_str(row, reg_str_or(kj_get_str(obj, "volumeBindingMode"), "Immediate"));
  json_array_append_new(row, json_boolean(kj_get_bool(obj, "allowVolumeExpansion", false)));
  json_array_append_new(row, reg_age_cell(obj));
  return row;
}

static const struct reg_column sc_columns[] = {
    {"Name", "string", "name", 0, EXT_DESC_NAME},
    {"Provisioner", "string", "", 0, "provisioner indicates the type of the provisioner."},
    {"ReclaimPolicy", "string", "", 0,
     "reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class."},
    {"VolumeBindingMode", "string", "", 0,
     "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound."},
    {"AllowVolumeExpansion", "string", "", 0,
     "allowVolumeExpansion shows whether the storage class allow volume expand."},
    {"Age", "string", "", 0, EXT_DESC_AGE},
    {NULL},
};

const struct resource reg_storageclasses = {
    .return_deleted_object = true,
    .group = "storage.k8s.io",
    .version = "v1",
    .plural = "storageclasses",
    .singular = "storageclass",
    .kind = "StorageClass",
    .namespaced = false,
    .short_names = {"sc", NULL},
    .categories = {NULL},
    .storage_prefix = "/registry/storageclasses",
    .defaults = sc_defaults,
    .validate = sc_validate,
    .columns = sc_columns,
    .cells = sc_cells,
};
