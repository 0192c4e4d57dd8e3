/*
 * leases.c - the coordination.k8s.io/v1 Lease strategy (upstream
 * pkg/registry/coordination/lease): leader election and node heartbeats.
 */
#include <kube/json.h>

#include "registry/reg_internal.h"

static void lease_validate(struct reg_request *rq, const json_t *obj, const json_t *old, json_t *causes)
{
  reg_validate_object_meta(obj, true, true, causes);
  if (old) reg_validate_object_meta_update(obj, old, causes);
  json_t *d = kj_get(obj, "spec.leaseDurationSeconds");
  if (d && json_integer_value(d) <= 0)
    reg_cause_invalid(causes, "spec.leaseDurationSeconds", d, "must be greater than 0");
  json_t *t = kj_get(obj, "spec.leaseTransitions");
  if (t && json_integer_value(t) < 0)
    reg_cause_invalid(causes, "spec.leaseTransitions", t, "must be greater than or equal to 0");
  static const char *const strategies[] = {"OldestEmulationVersion", NULL};
  const char *s = kj_get_str(obj, "spec.strategy");
  if (s && *s) reg_check_enum(causes, "spec.strategy", s, strategies);
}

static json_t *lease_cells(const json_t *obj)
{
  json_t *row = json_array();
  json_array_append_new(row, json_string(reg_str_or(kj_get_str(obj, "metadata.name"), "")));
  json_array_append_new(row, json_string(reg_str_or(kj_get_str(obj, "spec.holderIdentity"), "")));
  json_array_append_new(row, reg_age_cell(obj));
  return row;
}

static const struct reg_column lease_columns[] = {
    {"Name", "string", "name", 0, "Name must be unique within a namespace."},
    {"Holder", "string", "", 0, "The holder of the lease."},
    {"Age", "string", "", 0,
     "CreationTimestamp is a timestamp representing the server time when this object was created."},
    {NULL},
};

const struct resource reg_leases = {
    .group = "coordination.k8s.io",
    .version = "v1",
    .plural = "leases",
    .singular = "lease",
    .kind = "Lease",
    .namespaced = true,
    .storage_prefix = "/registry/leases",
    .validate = lease_validate,
    .columns = lease_columns,
    .cells = lease_cells,
};
