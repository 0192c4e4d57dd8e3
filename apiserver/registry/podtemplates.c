/*
 * podtemplates.c - the core/v1 PodTemplate strategy (upstream
 * pkg/registry/core/podtemplate): pod defaults on the template, pod
 * template validation, generation bumped when the template changes.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>

#include "registry/ext_internal.h"
#include "registry/kinds_ext.h"

static void pt_defaults(json_t *obj)
{
  json_t *tmpl = json_object_get(obj, "template");
  if (json_is_object(tmpl)) reg_pod_template_defaults(tmpl);
}

static void pt_prepare_create(struct reg_request *rq, json_t *obj) { reg_generation_create(obj); }

static void pt_prepare_update(struct reg_request *rq, json_t *obj, const json_t *old)
{
  int64_t g = kj_get_int(old, "metadata.generation", 0);
  json_t *a = json_object_get(obj, "template"), *b = json_object_get(old, "template");
  bool changed = !(a == b || (a && b && json_equal(a, b)));
  kj_set_int(obj, "metadata.generation", g + (changed ? 1 : 0));
}

static void pt_validate(struct reg_request *rq, const json_t *obj, const json_t *old, json_t *causes)
{
  reg_validate_object_meta(obj, true, true, causes);
  if (old) reg_validate_object_meta_update(obj, old, causes);
  reg_validate_pod_template(json_object_get(obj, "template"), "template", causes);
}

static json_t *pt_cells(const json_t *obj)
{
  json_t *row = reg_row(obj);
  reg_cell_containers(row, kj_get(obj, "template.spec"));
  char *labels = reg_format_labels(kj_get(obj, "template.metadata.labels"));
  reg_cell_str(row, labels);
  free(labels);
  return row;
}

static const struct reg_column pt_columns[] = {
    {"Name", "string", "name", 0, EXT_DESC_NAME},
    {"Containers", "string", "", 0, "Names of each container in the template."},
    {"Images", "string", "", 0, "Images referenced by each container in the template."},
    {"Pod Labels", "string", "", 0, "The labels for the pod template."},
    {NULL},
};

const struct resource reg_podtemplates = {
    .return_deleted_object = true,
    .generation = REG_GEN_SPEC,
    .group = "",
    .version = "v1",
    .plural = "podtemplates",
    .singular = "podtemplate",
    .kind = "PodTemplate",
    .namespaced = true,
    .short_names = {NULL},
    .categories = {NULL},
    .storage_prefix = "/registry/podtemplates",
    .defaults = pt_defaults,
    .prepare_create = pt_prepare_create,
    .prepare_update = pt_prepare_update,
    .validate = pt_validate,
    .columns = pt_columns,
    .cells = pt_cells,
};
