/*
 * replicasets.c - the apps/v1 ReplicaSet strategy (upstream
 * pkg/registry/apps/replicaset): replicas default 1, status cleared on
 * create, generation bumped on spec changes, selector immutable.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>

#include "registry/reg_internal.h"

static void rs_defaults(json_t *obj)
{
  json_t *spec = kj_obj(obj, "spec");
  if (!spec) return;
  kj_default(spec, "replicas", json_integer(1));
  json_t *tmpl = json_object_get(spec, "template");
  if (json_is_object(tmpl)) reg_pod_template_defaults(tmpl);
}

static void rs_prepare_create(struct reg_request *rq, json_t *obj)
{
  json_object_set_new(obj, "status", json_object());
  json_object_set_new(json_object_get(obj, "status"), "replicas", json_integer(0));
  reg_generation_create(obj);
}

static void rs_prepare_update(struct reg_request *rq, json_t *obj, const json_t *old)
{
  reg_split_status(rq, obj, old);
  /* Go encodes status.replicas even when 0; keep it on every write. */
  if (!json_is_object(json_object_get(obj, "status"))) json_object_set_new(obj, "status", json_object());
  if (!json_object_get(json_object_get(obj, "status"), "replicas"))
    json_object_set_new(json_object_get(obj, "status"), "replicas", json_integer(0));
  if (rq && rq->subresource && !strcmp(rq->subresource, "status")) {
    json_t *g = kj_get(old, "metadata.generation");
    if (g) kj_set(obj, "metadata.generation", kj_deep_copy(g));
    return;
  }
  reg_generation_update(obj, old);
}

static void rs_validate(struct reg_request *rq, const json_t *obj, const json_t *old, json_t *causes)
{
  reg_validate_object_meta(obj, true, true, causes);
  if (old) reg_validate_object_meta_update(obj, old, causes);
  if (old && rq && rq->subresource && !strcmp(rq->subresource, "status")) {
    static const char *const st[] = {"status.replicas",          "status.fullyLabeledReplicas", "status.readyReplicas",
                                     "status.availableReplicas", "status.observedGeneration",   NULL};
    for (size_t i = 0; st[i]; i++) reg_check_nonneg(obj, st[i], causes);
    return;
  }
  reg_validate_workload_spec(json_object_get(obj, "spec"), causes);
  if (old) reg_validate_workload_update(obj, old, causes);
}

static json_t *rs_cells(const json_t *obj)
{
  json_t *row = reg_row(obj);
  reg_cell_int(row, kj_get_int(obj, "spec.replicas", 0));
  reg_cell_int(row, kj_get_int(obj, "status.replicas", 0));
  reg_cell_int(row, kj_get_int(obj, "status.readyReplicas", 0));
  json_array_append_new(row, reg_age_cell(obj));
  reg_cell_workload_wide(row, obj);
  return row;
}

static const struct reg_column rs_columns[] = {
    {"Name", "string", "name", 0, "Name must be unique within a namespace."},
    {"Desired", "integer", "", 0, "Replicas is the number of desired pods."},
    {"Current", "integer", "", 0, "Replicas is the most recently observed number of replicas."},
    {"Ready", "integer", "", 0, "The number of ready replicas for this replica set."},
    {"Age", "string", "", 0,
     "CreationTimestamp is a timestamp representing the server time when this object was created."},
    {"Containers", "string", "", 1, "Names of each container in the template."},
    {"Images", "string", "", 1, "Images referenced by each container in the template."},
    {"Selector", "string", "", 1, "Selector is a label query over pods that should match the replica count."},
    {NULL},
};

const struct resource reg_replicasets = {
    .generation = REG_GEN_SPEC,
    .group = "apps",
    .version = "v1",
    .plural = "replicasets",
    .singular = "replicaset",
    .kind = "ReplicaSet",
    .namespaced = true,
    .short_names = {"rs", NULL},
    .categories = {"all", NULL},
    .subresources = RES_SUB_STATUS | RES_SUB_SCALE,
    .storage_prefix = "/registry/replicasets",
    .defaults = rs_defaults,
    .prepare_create = rs_prepare_create,
    .prepare_update = rs_prepare_update,
    .validate = rs_validate,
    .columns = rs_columns,
    .cells = rs_cells,
};
