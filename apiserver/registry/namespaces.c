/*
 * namespaces.c - the Namespace strategy (upstream
 * pkg/registry/core/namespace/strategy.go).
 *
 * A namespace is created Active with the "kubernetes" finalizer and the
 * immutable label kubernetes.io/metadata.name=NAME.  spec.finalizers change
 * only through namespaces/NAME/finalize; the namespace controller empties
 * it and the last finalizer's removal lets the delete complete.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include <kube/json.h>

#include "registry/reg_internal.h"

#define NS_NAME_LABEL "kubernetes.io/metadata.name"

static void ns_defaults(json_t *obj)
{
  const char *name = kj_get_str(obj, "metadata.name");
  if (name && *name) {
    json_t *labels = kj_obj(obj, "metadata.labels");
    if (labels) json_object_set_new(labels, NS_NAME_LABEL, json_string(name));
  }
}

static void ns_prepare_create(struct reg_request *rq, json_t *obj)
{
  json_t *st = json_object();
  json_object_set_new(st, "phase", json_string("Active"));
  json_object_set_new(obj, "status", st);
  json_t *fins = kj_arr(obj, "spec.finalizers");
  bool has = false;
  size_t i;
  json_t *f;
  json_array_foreach (fins, i, f)
    if (json_is_string(f) && !strcmp(json_string_value(f), "kubernetes")) has = true;
  if (fins && !has) json_array_append_new(fins, json_string("kubernetes"));
}

static void ns_prepare_update(struct reg_request *rq, json_t *obj, const json_t *old)
{
  const char *sub = rq ? rq->subresource : NULL;
  if (sub && !strcmp(sub, "finalize")) {
    /* Only spec.finalizers changes. */
    json_t *fins = kj_deep_copy(kj_get(obj, "spec.finalizers"));
    json_t *keep = kj_deep_copy(old);
    json_object_clear(obj);
    json_object_update(obj, keep);
    json_decref(keep);
    kj_set(obj, "spec.finalizers", fins ? fins : json_array());
    return;
  }
  reg_split_status(rq, obj, old);
  if (!sub) {
    json_t *fins = kj_get(old, "spec.finalizers");
    if (fins) kj_set(obj, "spec.finalizers", kj_deep_copy(fins));
    else if (json_is_object(json_object_get(obj, "spec"))) kj_del(obj, "spec.finalizers");
  }
  ns_defaults(obj);
}

static void ns_validate(struct reg_request *rq, const json_t *obj, const json_t *old, json_t *causes)
{
  reg_validate_object_meta(obj, false, false, causes);
  if (old) reg_validate_object_meta_update(obj, old, causes);
  size_t i;
  json_t *f;
  char fld[64];
  json_array_foreach (kj_get(obj, "spec.finalizers"), i, f) {
    const char *s = json_string_value(f);
    snprintf(fld, sizeof(fld), "spec.finalizers[%zu]", i);
    /* standard finalizer names are qualified names; "kubernetes" is the one
     * upstream accepts without a domain */
    if (!s || (strcmp(s, "kubernetes") && !strchr(s, '/'))) {
      reg_cause_invalid_str(causes, fld, s ? s : "",
                            "name is neither a standard finalizer name nor is it fully qualified");
    }
  }
  const char *phase = kj_get_str(obj, "status.phase");
  static const char *const phases[] = {"Active", "Terminating", NULL};
  if (phase && *phase) reg_check_enum(causes, "status.phase", phase, phases);
}

static const char *const ns_fields[] = {"status.phase", NULL};

static const char *ns_field_value(const json_t *obj, const char *field, char *buf, size_t len)
{
  if (strcmp(field, "status.phase")) return NULL;
  snprintf(buf, len, "%s", reg_str_or(kj_get_str(obj, "status.phase"), ""));
  return buf;
}

static json_t *ns_cells(const json_t *obj)
{
  json_t *row = json_array();
  json_array_append_new(row, json_string(reg_str_or(kj_get_str(obj, "metadata.name"), "")));
  json_array_append_new(row, json_string(reg_str_or(kj_get_str(obj, "status.phase"), "")));
  json_array_append_new(row, reg_age_cell(obj));
  return row;
}

static const struct reg_column ns_columns[] = {
    {"Name", "string", "name", 0, "Name must be unique within a namespace."},
    {"Status", "string", "", 0, "The status of the namespace"},
    {"Age", "string", "", 0,
     "CreationTimestamp is a timestamp representing the server time when this object was created."},
    {NULL},
};

const struct resource reg_namespaces = {
    .return_deleted_object = true,
    .group = "",
    .version = "v1",
    .plural = "namespaces",
    .singular = "namespace",
    .kind = "Namespace",
    .namespaced = false,
    .short_names = {"ns", NULL},
    .subresources = RES_SUB_STATUS | RES_SUB_FINALIZE,
    .storage_prefix = "/registry/namespaces",
    .field_selectors = ns_fields,
    .defaults = ns_defaults,
    .prepare_create = ns_prepare_create,
    .prepare_update = ns_prepare_update,
    .validate = ns_validate,
    .field_value = ns_field_value,
    .columns = ns_columns,
    .cells = ns_cells,
};
