/*
 * deployments.c - the apps/v1 Deployment strategy (upstream
 * pkg/registry/apps/deployment, SetDefaults_Deployment,
 * ValidateDeployment, printDeployment).
 *
 * Defaults: replicas 1, RollingUpdate with 25% surge and unavailability,
 * revisionHistoryLimit 10, progressDeadlineSeconds 600.  Generation moves
 * on spec or annotation changes (the rollout machinery keys on both).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>

#include "registry/reg_internal.h"

static void deploy_defaults(json_t *obj)
{
  json_t *spec = kj_obj(obj, "spec");
  if (!spec) return;
  kj_default(spec, "replicas", json_integer(1));
  json_t *strategy = kj_obj(spec, "strategy");
  if (strategy) {
    kj_default(strategy, "type", json_string("RollingUpdate"));
    const char *t = kj_get_str(strategy, "type");
    if (t && !strcmp(t, "RollingUpdate")) {
      json_t *ru = kj_obj(strategy, "rollingUpdate");
      if (ru) {
        kj_default(ru, "maxUnavailable", json_string("25%"));
        kj_default(ru, "maxSurge", json_string("25%"));
      }
    }
  }
  kj_default(spec, "revisionHistoryLimit", json_integer(10));
  kj_default(spec, "progressDeadlineSeconds", json_integer(600));
  json_t *tmpl = json_object_get(spec, "template");
  if (json_is_object(tmpl)) reg_pod_template_defaults(tmpl);
}

static void deploy_prepare_create(struct reg_request *rq, json_t *obj)
{
  json_object_set_new(obj, "status", json_object());
  reg_generation_create(obj);
}

static void deploy_prepare_update(struct reg_request *rq, json_t *obj, const json_t *old)
{
  reg_split_status(rq, obj, old);
  if (rq && rq->subresource && !strcmp(rq->subresource, "status")) {
    json_t *g = kj_get(old, "metadata.generation");
    if (g) kj_set(obj, "metadata.generation", kj_deep_copy(g));
    return;
  }
  reg_generation_update(obj, old);
  json_t *a = kj_get(obj, "metadata.annotations"), *b = kj_get(old, "metadata.annotations");
  bool ann_changed = !((!a || !json_object_size(a)) && (!b || !json_object_size(b))) && !(a && b && json_equal(a, b));
  int64_t og = kj_get_int(old, "metadata.generation", 0);
  if (ann_changed && kj_get_int(obj, "metadata.generation", 0) == og) kj_set_int(obj, "metadata.generation", og + 1);
}

/* An intstr: integer, or "N%" string.  Returns the value and sets *pct. */
static bool intstr(const json_t *v, long *out, bool *pct)
{
  if (json_is_integer(v)) {
    *out = (long)json_integer_value(v);
    *pct = false;
    return true;
  }
  const char *s = json_string_value(v);
  if (!s) return false;
  char *end;
  long n = strtol(s, &end, 10);
  if (end == s || strcmp(end, "%")) return false;
  *out = n;
  *pct = true;
  return true;
}

static void validate_intstr(const json_t *v, const char *field, json_t *causes, long *val, bool *pct)
{
  *val = 0;
  *pct = false;
  if (!v) return;
  if (!intstr(v, val, pct)) {
    reg_cause_invalid(causes, field, v,
                      "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or "
                      "'93%', regex used for validation is '[0-9]+%')");
    return;
  }
  if (*val < 0) reg_cause_invalid(causes, field, v, "must be greater than or equal to 0");
  else if (*pct && *val > 100) reg_cause_invalid(causes, field, v, "must not be greater than 100%");
}

static void deploy_validate(struct reg_request *rq, const json_t *obj, const json_t *old, json_t *causes)
{
  reg_validate_object_meta(obj, true, true, causes);
  if (old) reg_validate_object_meta_update(obj, old, causes);
  if (old && rq && rq->subresource && !strcmp(rq->subresource, "status")) {
    static const char *const st[] = {"status.replicas",
                                     "status.updatedReplicas",
                                     "status.readyReplicas",
                                     "status.availableReplicas",
                                     "status.unavailableReplicas",
                                     "status.observedGeneration",
                                     NULL};
    for (size_t i = 0; st[i]; i++) reg_check_nonneg(obj, st[i], causes);
    return;
  }
  json_t *spec = json_object_get(obj, "spec");
  reg_validate_workload_spec(spec, causes);

  const char *type = kj_get_str(spec, "strategy.type");
  static const char *const types[] = {"Recreate", "RollingUpdate", NULL};
  if (type) reg_check_enum(causes, "spec.strategy.type", type, types);
  json_t *ru = kj_get(spec, "strategy.rollingUpdate");
  if (type && !strcmp(type, "Recreate") && ru) {
    reg_cause_add(causes, REG_FORBIDDEN, "spec.strategy.rollingUpdate",
                  "Forbidden: may not be specified when strategy `type` is 'Recreate'");
  } else if (json_is_object(ru)) {
    long mu, ms;
    bool mup, msp;
    json_t *vmu = json_object_get(ru, "maxUnavailable"), *vms = json_object_get(ru, "maxSurge");
    validate_intstr(vmu, "spec.strategy.rollingUpdate.maxUnavailable", causes, &mu, &mup);
    validate_intstr(vms, "spec.strategy.rollingUpdate.maxSurge", causes, &ms, &msp);
    if (vmu && vms && mu == 0 && ms == 0)
      reg_cause_invalid(causes, "spec.strategy.rollingUpdate.maxUnavailable", vmu, "may not be 0 when `maxSurge` is 0");
  }
  json_t *rhl = json_object_get(spec, "revisionHistoryLimit");
  if (rhl && json_integer_value(rhl) < 0)
    reg_cause_invalid(causes, "spec.revisionHistoryLimit", rhl, "must be greater than or equal to 0");
  json_t *pds = json_object_get(spec, "progressDeadlineSeconds");
  if (pds) {
    if (json_integer_value(pds) < 0)
      reg_cause_invalid(causes, "spec.progressDeadlineSeconds", pds, "must be greater than or equal to 0");
    else if (json_integer_value(pds) <= kj_get_int(spec, "minReadySeconds", 0))
      reg_cause_invalid(causes, "spec.progressDeadlineSeconds", pds, "must be greater than minReadySeconds");
  }
  if (old) reg_validate_workload_update(obj, old, causes);
}

static json_t *deploy_cells(const json_t *obj)
{
  json_t *row = reg_row(obj);
  char ready[64];
  snprintf(ready, sizeof(ready), "%lld/%lld", (long long)kj_get_int(obj, "status.readyReplicas", 0),
           (long long)kj_get_int(obj, "spec.replicas", 0));
  reg_cell_str(row, ready);
  reg_cell_int(row, kj_get_int(obj, "status.updatedReplicas", 0));
  reg_cell_int(row, kj_get_int(obj, "status.availableReplicas", 0));
  json_array_append_new(row, reg_age_cell(obj));
  reg_cell_workload_wide(row, obj);
  return row;
}

static const struct reg_column deploy_columns[] = {
    {"Name", "string", "name", 0, "Name must be unique within a namespace."},
    {"Ready", "string", "", 0, "Number of the pod with ready state"},
    {"Up-to-date", "integer", "", 0,
     "Total number of non-terminated pods targeted by this deployment that have the desired template spec."},
    {"Available", "integer", "", 0,
     "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."},
    {"Age", "string", "", 0,
     "CreationTimestamp is a timestamp representing the server time when this object was created."},
    {"Containers", "string", "", 1, "Names of each container in the template."},
    {"Images", "string", "", 1, "Images referenced by each container in the template."},
    {"Selector", "string", "", 1,
     "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this "
     "deployment."},
    {NULL},
};

const struct resource reg_deployments = {
    .generation = REG_GEN_SPEC,
    .group = "apps",
    .version = "v1",
    .plural = "deployments",
    .singular = "deployment",
    .kind = "Deployment",
    .namespaced = true,
    .short_names = {"deploy", NULL},
    .categories = {"all", NULL},
    .subresources = RES_SUB_STATUS | RES_SUB_SCALE,
    .storage_prefix = "/registry/deployments",
    .defaults = deploy_defaults,
    .prepare_create = deploy_prepare_create,
    .prepare_update = deploy_prepare_update,
    .validate = deploy_validate,
    .columns = deploy_columns,
    .cells = deploy_cells,
};
