/*
 * serviceaccounts.c - the ServiceAccount strategy (upstream
 * pkg/registry/core/serviceaccount): metadata validation only; tokens are
 * minted through serviceaccounts/NAME/token by the request path.
 */
#include <kube/json.h>

#include "registry/reg_internal.h"

static void sa_validate(struct reg_request *rq, const json_t *obj, const json_t *old, json_t *causes)
{
  reg_validate_object_meta(obj, true, true, causes);
  if (old) reg_validate_object_meta_update(obj, old, causes);
}

static json_t *sa_cells(const json_t *obj)
{
  json_t *row = json_array();
  json_array_append_new(row, json_string(reg_str_or(kj_get_str(obj, "metadata.name"), "")));
  json_array_append_new(row, json_integer((json_int_t)json_array_size(json_object_get(obj, "secrets"))));
  json_array_append_new(row, reg_age_cell(obj));
  return row;
}

static const struct reg_column sa_columns[] = {
    {"Name", "string", "name", 0, "Name must be unique within a namespace."},
    {"Secrets", "string", "", 0,
     "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed "
     "to use."},
    {"Age", "string", "", 0,
     "CreationTimestamp is a timestamp representing the server time when this object was created."},
    {NULL},
};

const struct resource reg_serviceaccounts = {
    .return_deleted_object = true,
    .group = "",
    .version = "v1",
    .plural = "serviceaccounts",
    .singular = "serviceaccount",
    .kind = "ServiceAccount",
    .namespaced = true,
    .short_names = {"sa", NULL},
    .subresources = RES_SUB_TOKEN,
    .storage_prefix = "/registry/serviceaccounts",
    .validate = sa_validate,
    .columns = sa_columns,
    .cells = sa_cells,
};
