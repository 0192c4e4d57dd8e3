/*
 * replicationcontrollers.c - the core/v1 ReplicationController strategy
 * (upstream pkg/registry/core/replicationcontroller,
 * SetDefaults_ReplicationController, ValidateReplicationController,
 * printReplicationController).  The selector is a plain label map that
 * defaults to the template's labels; unlike apps/v1 workloads it may
 * change after creation.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>

#include "registry/ext_internal.h"
#include "registry/kinds_ext.h"

static void rc_defaults(json_t *obj)
{
  json_t *spec = kj_obj(obj, "spec");
  if (!spec) return;
  json_t *tlabels = kj_get(spec, "template.metadata.labels");
  if (json_is_object(tlabels)) {
    if (json_object_size(json_object_get(spec, "selector")) == 0)
      json_object_set_new(spec, "selector", kj_deep_copy(tlabels));
    if (json_object_size(kj_get(obj, "metadata.labels")) == 0) kj_set(obj, "metadata.labels", kj_deep_copy(tlabels));
  }
  kj_default(spec, "replicas", json_integer(1));
  json_t *tmpl = json_object_get(spec, "template");
  if (json_is_object(tmpl)) reg_pod_template_defaults(tmpl);
}

static void rc_validate(struct reg_request *rq, const json_t *obj, const json_t *old, json_t *causes)
{
  reg_validate_object_meta(obj, true, true, causes);
  if (old) reg_validate_object_meta_update(obj, old, causes);
  if (old && ext_is_status(rq)) {
    static const char *const st[] = {"replicas",          "fullyLabeledReplicas", "readyReplicas",
                                     "availableReplicas", "observedGeneration",   NULL};
    for (size_t i = 0; st[i]; i++) ext_nonneg(json_object_get(obj, "status"), "status", st[i], causes);
    return;
  }
  const json_t *spec = json_object_get(obj, "spec");
  ext_nonneg(spec, "spec", "replicas", causes);
  ext_nonneg(spec, "spec", "minReadySeconds", causes);
  json_t *sel = json_object_get(spec, "selector");
  if (json_object_size(sel) == 0) reg_cause_add(causes, REG_REQUIRED, "spec.selector", "Required value");
  else reg_validate_labels(sel, "spec.selector", causes);
  json_t *tmpl = json_object_get(spec, "template");
  if (!json_is_object(tmpl)) {
    reg_cause_add(causes, REG_REQUIRED, "spec.template", "Required value");
    return;
  }
  if (json_object_size(sel)) {
    json_t *labels = kj_get(tmpl, "metadata.labels");
    const char *k;
    json_t *v;
    bool match = true;
    json_object_foreach (sel, k, v) {
      json_t *lv = json_is_object(labels) ? json_object_get(labels, k) : NULL;
      if (!lv || !json_equal(lv, v)) match = false;
    }
    if (!match) {
      char *gv = ext_go_labels(labels);
      reg_cause_add(causes, REG_INVALID, "spec.template.metadata.labels",
                    "Invalid value: %s: `selector` does not match template `labels`", gv ? gv : "");
      free(gv);
    }
  }
  reg_validate_pod_template(tmpl, "spec.template", causes);
  static const char *const always[] = {"Always", NULL};
  reg_check_enum(causes, "spec.template.spec.restartPolicy", kj_get_str(tmpl, "spec.restartPolicy"), always);
  if (kj_get(tmpl, "spec.activeDeadlineSeconds"))
    reg_cause_add(causes, REG_FORBIDDEN, "spec.template.spec.activeDeadlineSeconds",
                  "Forbidden: activeDeadlineSeconds in ReplicationController is not Supported");
}

static json_t *rc_cells(const json_t *obj)
{
  json_t *row = reg_row(obj);
  reg_cell_int(row, kj_get_int(obj, "spec.replicas", 0));
  reg_cell_int(row, kj_get_int(obj, "status.replicas", 0));
  reg_cell_int(row, kj_get_int(obj, "status.readyReplicas", 0));
  json_array_append_new(row, reg_age_cell(obj));
  reg_cell_containers(row, kj_get(obj, "spec.template.spec"));
  char *sel = reg_format_labels(kj_get(obj, "spec.selector"));
  reg_cell_str(row, sel);
  free(sel);
  return row;
}

static const struct reg_column rc_columns[] = {
    {"Name", "string", "name", 0, EXT_DESC_NAME},
    {"Desired", "integer", "", 0,
     "Replicas is the number of desired replicas. This is a pointer to distinguish between explicit zero and "
     "unspecified. Defaults to 1."},
    {"Current", "integer", "", 0, "Replicas is the most recently observed number of replicas."},
    {"Ready", "integer", "", 0, "The number of ready replicas for this replication controller."},
    {"Age", "string", "", 0, EXT_DESC_AGE},
    {"Containers", "string", "", 1, "Names of each container in the template."},
    {"Images", "string", "", 1, "Images referenced by each container in the template."},
    {"Selector", "string", "", 1,
     "Selector is a label query over pods that should match the Replicas count. If Selector is empty, it is defaulted "
     "to the labels present on the Pod template."},
    {NULL},
};

static const char *const rc_status_ints[] = {"replicas", NULL};

static void rc_prepare_create(struct reg_request *rq, json_t *obj)
{
  ext_prepare_create(rq, obj);
  ext_status_zero(obj, rc_status_ints);
}

static void rc_prepare_update(struct reg_request *rq, json_t *obj, const json_t *old)
{
  ext_prepare_update(rq, obj, old);
  ext_status_zero(obj, rc_status_ints);
}

const struct resource reg_replicationcontrollers = {
    .generation = REG_GEN_SPEC,
    .group = "",
    .version = "v1",
    .plural = "replicationcontrollers",
    .singular = "replicationcontroller",
    .kind = "ReplicationController",
    .namespaced = true,
    .short_names = {"rc", NULL},
    .categories = {"all", NULL},
    .subresources = RES_SUB_STATUS | RES_SUB_SCALE,
    .storage_prefix = "/registry/controllers",
    .defaults = rc_defaults,
    .prepare_create = rc_prepare_create,
    .prepare_update = rc_prepare_update,
    .validate = rc_validate,
    .columns = rc_columns,
    .cells = rc_cells,
};
