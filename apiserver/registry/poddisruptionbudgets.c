/*
 * poddisruptionbudgets.c - the policy/v1 PodDisruptionBudget strategy
 * (upstream pkg/registry/policy/poddisruptionbudget,
 * ValidatePodDisruptionBudget, printPodDisruptionBudget).  Exactly one of
 * minAvailable / maxUnavailable may be set, each a count or a percentage.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>

#include "registry/ext_internal.h"
#include "registry/kinds_ext.h"

static void pdb_validate(struct reg_request *rq, const json_t *obj, const json_t *old, json_t *causes)
{
  reg_validate_object_meta(obj, true, true, causes);
  if (old) reg_validate_object_meta_update(obj, old, causes);
  if (old && ext_is_status(rq)) {
    static const char *const st[] = {"disruptionsAllowed", "currentHealthy",     "desiredHealthy",
                                     "expectedPods",       "observedGeneration", NULL};
    for (size_t i = 0; st[i]; i++) ext_nonneg(json_object_get(obj, "status"), "status", st[i], causes);
    return;
  }
  const json_t *spec = json_object_get(obj, "spec");
  json_t *minav = json_object_get(spec, "minAvailable"), *maxun = json_object_get(spec, "maxUnavailable");
  if (minav && maxun)
    ext_cause_invalid_any(causes, "spec.minAvailable", minav, "minAvailable and maxUnavailable cannot be both set");
  ext_validate_intstr(minav, "spec.minAvailable", true, causes);
  ext_validate_intstr(maxun, "spec.maxUnavailable", true, causes);
  reg_validate_label_selector(json_object_get(spec, "selector"), "spec.selector", causes);
  static const char *const policies[] = {"AlwaysAllow", "IfHealthyBudget", NULL};
  reg_check_enum(causes, "spec.unhealthyPodEvictionPolicy", kj_get_str(spec, "unhealthyPodEvictionPolicy"), policies);
}

static json_t *pdb_cells(const json_t *obj)
{
  json_t *row = reg_row(obj);
  static const char *const keys[] = {"spec.minAvailable", "spec.maxUnavailable"};
  for (size_t i = 0; i < 2; i++) {
    json_t *v = kj_get(obj, keys[i]);
    if (v) {
      char *s = ext_intstr_string(v);
      reg_cell_str(row, s);
      free(s);
    } else {
      reg_cell_str(row, "N/A");
    }
  }
  reg_cell_int(row, kj_get_int(obj, "status.disruptionsAllowed", 0));
  json_array_append_new(row, reg_age_cell(obj));
  return row;
}

static const struct reg_column pdb_columns[] = {
    {"Name", "string", "name", 0, EXT_DESC_NAME},
    {"Min Available", "string", "", 0, "The minimum number of pods that must be available."},
    {"Max Unavailable", "string", "", 0, "The maximum number of pods that may be unavailable."},
    {"Allowed Disruptions", "integer", "", 0, "Calculated number of pods that may be disrupted at this time."},
    {"Age", "string", "", 0, EXT_DESC_AGE},
    {NULL},
};

static const char *const pdb_status_ints[] = {"disruptionsAllowed", "currentHealthy", "desiredHealthy", "expectedPods",
                                              NULL};

static void pdb_prepare_create(struct reg_request *rq, json_t *obj)
{
  ext_prepare_create(rq, obj);
  ext_status_zero(obj, pdb_status_ints);
}

static void pdb_prepare_update(struct reg_request *rq, json_t *obj, const json_t *old)
{
  ext_prepare_update(rq, obj, old);
  ext_status_zero(obj, pdb_status_ints);
}

const struct resource reg_poddisruptionbudgets = {
    .generation = REG_GEN_SPEC,
    .group = "policy",
    .version = "v1",
    .plural = "poddisruptionbudgets",
    .singular = "poddisruptionbudget",
    .kind = "PodDisruptionBudget",
    .namespaced = true,
    .short_names = {"pdb", NULL},
    .categories = {NULL},
    .subresources = RES_SUB_STATUS,
    .storage_prefix = "/registry/poddisruptionbudgets",
    .prepare_create = pdb_prepare_create,
    .prepare_update = pdb_prepare_update,
    .validate = pdb_validate,
    .columns = pdb_columns,
    .cells = pdb_cells,
};
