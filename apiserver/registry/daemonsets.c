/*
 * daemonsets.c - the apps/v1 DaemonSet strategy (upstream
 * pkg/registry/apps/daemonset, SetDefaults_DaemonSet, ValidateDaemonSet,
 * printDaemonSet): RollingUpdate with maxUnavailable 1 and maxSurge 0 by
 * default, selector immutable, templateGeneration bumped with the template
 * as upstream's PrepareForUpdate does.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>

#include "registry/ext_internal.h"
#include "registry/kinds_ext.h"

static void ds_defaults(json_t *obj)
{
  json_t *spec = kj_obj(obj, "spec");
  if (!spec) return;
  json_t *us = kj_obj(spec, "updateStrategy");
  if (us) {
    kj_default(us, "type", json_string("RollingUpdate"));
    const char *t = kj_get_str(us, "type");
    if (t && !strcmp(t, "RollingUpdate")) {
      json_t *ru = kj_obj(us, "rollingUpdate");
      if (ru) {
        kj_default(ru, "maxUnavailable", json_integer(1));
        kj_default(ru, "maxSurge", json_integer(0));
      }
    }
  }
  kj_default(spec, "revisionHistoryLimit", json_integer(10));
  json_t *tmpl = json_object_get(spec, "template");
  if (json_is_object(tmpl)) reg_pod_template_defaults(tmpl);
}

static const char *const ds_status_ints[] = {"currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled",
                                             "numberReady", NULL};

static void ds_prepare_create(struct reg_request *rq, json_t *obj)
{
  ext_prepare_create(rq, obj);
  ext_status_zero(obj, ds_status_ints);
}

static void ds_prepare_update(struct reg_request *rq, json_t *obj, const json_t *old)
{
  ext_prepare_update(rq, obj, old);
  ext_status_zero(obj, ds_status_ints);
  if (ext_is_status(rq)) return;
  /* templateGeneration tracks template changes (deprecated, still kept). */
  json_t *t = kj_get(obj, "spec.template"), *ot = kj_get(old, "spec.template");
  json_t *tg = kj_get(old, "spec.templateGeneration");
  if (tg && json_is_integer(tg) && !(t && ot && json_equal(t, ot)) &&
      json_equal(kj_get(obj, "spec.templateGeneration") ? kj_get(obj, "spec.templateGeneration") : json_null(), tg))
    kj_set_int(obj, "spec.templateGeneration", json_integer_value(tg) + 1);
}

static void ds_validate(struct reg_request *rq, const json_t *obj, const json_t *old, json_t *causes)
{
  reg_validate_object_meta(obj, true, true, causes);
  if (old) reg_validate_object_meta_update(obj, old, causes);
  if (old && ext_is_status(rq)) {
    static const char *const st[] = {"currentNumberScheduled",
                                     "numberMisscheduled",
                                     "desiredNumberScheduled",
                                     "numberReady",
                                     "updatedNumberScheduled",
                                     "numberAvailable",
                                     "numberUnavailable",
                                     "observedGeneration",
                                     NULL};
    for (size_t i = 0; st[i]; i++) ext_nonneg(json_object_get(obj, "status"), "status", st[i], causes);
    return;
  }
  const json_t *spec = json_object_get(obj, "spec");
  ext_validate_template_workload(spec, "DaemonSet", causes);
  ext_nonneg(spec, "spec", "minReadySeconds", causes);
  ext_nonneg(spec, "spec", "templateGeneration", causes);
  ext_nonneg(spec, "spec", "revisionHistoryLimit", causes);
  json_t *us = json_object_get(spec, "updateStrategy");
  const char *t = kj_get_str(us, "type");
  static const char *const types[] = {"RollingUpdate", "OnDelete", NULL};
  if (!t || !*t) reg_cause_add(causes, REG_REQUIRED, "spec.updateStrategy.type", "Required value");
  else reg_check_enum(causes, "spec.updateStrategy.type", t, types);
  json_t *ru = json_object_get(us, "rollingUpdate");
  if (t && !strcmp(t, "RollingUpdate")) {
    if (!json_is_object(ru)) {
      reg_cause_add(causes, REG_REQUIRED, "spec.updateStrategy.rollingUpdate", "Required value");
    } else {
      json_t *mu = json_object_get(ru, "maxUnavailable"), *ms = json_object_get(ru, "maxSurge");
      size_t before = json_array_size(causes);
      ext_validate_intstr(mu, "spec.updateStrategy.rollingUpdate.maxUnavailable", true, causes);
      ext_validate_intstr(ms, "spec.updateStrategy.rollingUpdate.maxSurge", true, causes);
      char *mus = ext_intstr_string(mu), *mss = ext_intstr_string(ms);
      bool mu0 = !mu || !strcmp(mus, "0") || !strcmp(mus, "0%");
      bool ms0 = !ms || !strcmp(mss, "0") || !strcmp(mss, "0%");
      if (json_array_size(causes) == before && mu0 && ms0) {
        json_t *zero = json_integer(0);
        reg_cause_invalid(causes, "spec.updateStrategy.rollingUpdate.maxUnavailable", mu ? mu : zero,
                          "may not be 0 when `maxSurge` is 0");
        json_decref(zero);
      }
      if (json_array_size(causes) == before && !mu0 && !ms0)
        reg_cause_invalid(causes, "spec.updateStrategy.rollingUpdate.maxUnavailable", mu,
                          "may not be set when maxSurge is also set");
      free(mus);
      free(mss);
    }
  }
  if (old) reg_validate_workload_update(obj, old, causes);
}

static json_t *ds_cells(const json_t *obj)
{
  json_t *row = reg_row(obj);
  reg_cell_int(row, kj_get_int(obj, "status.desiredNumberScheduled", 0));
  reg_cell_int(row, kj_get_int(obj, "status.currentNumberScheduled", 0));
  reg_cell_int(row, kj_get_int(obj, "status.numberReady", 0));
  reg_cell_int(row, kj_get_int(obj, "status.updatedNumberScheduled", 0));
  reg_cell_int(row, kj_get_int(obj, "status.numberAvailable", 0));
  char *ns = reg_format_labels(kj_get(obj, "spec.template.spec.nodeSelector"));
  reg_cell_str(row, ns);
  free(ns);
  json_array_append_new(row, reg_age_cell(obj));
  reg_cell_containers(row, kj_get(obj, "spec.template.spec"));
  char *sel = ext_selector_string(kj_get(obj, "spec.selector"));
  reg_cell_str(row, sel);
  free(sel);
  return row;
}

static const struct reg_column ds_columns[] = {
    {"Name", "string", "name", 0, EXT_DESC_NAME},
    {"Desired", "integer", "", 0,
     "The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon "
     "pod)."},
    {"Current", "integer", "", 0,
     "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod."},
    {"Ready", "integer", "", 0,
     "numberReady is the number of nodes that should be running the daemon pod and have one or more of the daemon pod "
     "running with a Ready Condition."},
    {"Up-to-date", "integer", "", 0, "The total number of nodes that are running updated daemon pod"},
    {"Available", "integer", "", 0,
     "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and "
     "available (ready for at least spec.minReadySeconds)"},
    {"Node Selector", "string", "", 0,
     "NodeSelector is a selector which must be true for the pod to fit on a node. Selector which must match a node's "
     "labels for the pod to be scheduled on that node."},
    {"Age", "string", "", 0, EXT_DESC_AGE},
    {"Containers", "string", "", 1, "Names of each container in the template."},
    {"Images", "string", "", 1, "Images referenced by each container in the template."},
    {"Selector", "string", "", 1,
     "A label query over pods that are managed by the daemon set. Must match in order to be controlled. It must match "
     "the pod template's labels."},
    {NULL},
};

const struct resource reg_daemonsets = {
    .generation = REG_GEN_SPEC,
    .group = "apps",
    .version = "v1",
    .plural = "daemonsets",
    .singular = "daemonset",
    .kind = "DaemonSet",
    .namespaced = true,
    .short_names = {"ds", NULL},
    .categories = {"all", NULL},
    .subresources = RES_SUB_STATUS,
    .storage_prefix = "/registry/daemonsets",
    .defaults = ds_defaults,
    .prepare_create = ds_prepare_create,
    .prepare_update = ds_prepare_update,
    .validate = ds_validate,
    .columns = ds_columns,
    .cells = ds_cells,
};
