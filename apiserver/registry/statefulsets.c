/*
 * statefulsets.c - the apps/v1 StatefulSet strategy (upstream
 * pkg/registry/apps/statefulset, SetDefaults_StatefulSet,
 * ValidateStatefulSet, printStatefulSet).
 *
 * Only replicas, ordinals, template, updateStrategy,
 * persistentVolumeClaimRetentionPolicy and minReadySeconds may change
 * after creation; any other spec change is refused as a whole, as
 * upstream does, because the controller's identity guarantees (stable
 * names, claims from volumeClaimTemplates) rest on them.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>
#include <kube/names.h>

#include "registry/ext_internal.h"
#include "registry/kinds_ext.h"

static void sts_defaults(json_t *obj)
{
  json_t *spec = kj_obj(obj, "spec");
  if (!spec) return;
  kj_default(spec, "podManagementPolicy", json_string("OrderedReady"));
  json_t *us = kj_obj(spec, "updateStrategy");
  if (us && !kj_get_str(us, "type")) {
    json_object_set_new(us, "type", json_string("RollingUpdate"));
    kj_default(us, "rollingUpdate", json_object());
  }
  const char *t = kj_get_str(us, "type");
  json_t *ru = json_object_get(us, "rollingUpdate");
  if (t && !strcmp(t, "RollingUpdate") && json_is_object(ru)) kj_default(ru, "partition", json_integer(0));
  json_t *ret = kj_obj(spec, "persistentVolumeClaimRetentionPolicy");
  if (ret) {
    kj_default(ret, "whenDeleted", json_string("Retain"));
    kj_default(ret, "whenScaled", json_string("Retain"));
  }
  kj_default(spec, "replicas", json_integer(1));
  kj_default(spec, "revisionHistoryLimit", json_integer(10));
  json_t *tmpl = json_object_get(spec, "template");
  if (json_is_object(tmpl)) reg_pod_template_defaults(tmpl);
  size_t i;
  json_t *vct;
  json_array_foreach (json_object_get(spec, "volumeClaimTemplates"), i, vct) {
    if (!json_is_object(vct)) continue;
    /* Each claim template is a whole v1 PersistentVolumeClaim; upstream
     * writes its type meta back out. */
    kj_default(vct, "apiVersion", json_string("v1"));
    kj_default(vct, "kind", json_string("PersistentVolumeClaim"));
    json_t *vs = kj_obj(vct, "spec");
    if (vs) kj_default(vs, "volumeMode", json_string("Filesystem"));
    json_t *st = kj_obj(vct, "status");
    if (st) kj_default(st, "phase", json_string("Pending"));
  }
}

/* The template's containers may mount the claims of volumeClaimTemplates
 * by name: validate it as the pods will be, with one volume per claim
 * template added the way the controller adds them. */
static void sts_validate_template(const json_t *spec, json_t *causes)
{
  json_t *claims = json_object_get(spec, "volumeClaimTemplates");
  json_t *pod_spec = kj_get(spec, "template.spec");
  if (json_array_size(claims) == 0 || !json_is_object(pod_spec)) {
    ext_validate_template_workload(spec, "StatefulSet", causes);
    return;
  }
  json_t *copy = kj_deep_copy(spec);
  json_t *vols = kj_arr(copy, "template.spec.volumes");
  size_t i;
  json_t *vct;
  json_array_foreach (claims, i, vct) {
    const char *n = kj_get_str(vct, "metadata.name");
    bool present = false;
    size_t j;
    json_t *v;
    json_array_foreach (vols, j, v) present = present || (n && !strcmp(reg_str_or(kj_get_str(v, "name"), ""), n));
    if (!n || !*n || present || !vols) continue;
    json_array_append_new(vols, json_pack("{s:s, s:{s:s}}", "name", n, "persistentVolumeClaim", "claimName", n));
  }
  ext_validate_template_workload(copy, "StatefulSet", causes);
  json_decref(copy);
}

static void sts_validate_spec(const json_t *spec, json_t *causes)
{
  ext_nonneg(spec, "spec", "replicas", causes);
  ext_nonneg(spec, "spec", "minReadySeconds", causes);
  ext_nonneg(spec, "spec", "revisionHistoryLimit", causes);
  ext_nonneg(json_object_get(spec, "ordinals"), "spec.ordinals", "start", causes);

  const char *pmp = kj_get_str(spec, "podManagementPolicy");
  if (!pmp || !*pmp) reg_cause_add(causes, REG_REQUIRED, "spec.podManagementPolicy", "Required value");
  else if (strcmp(pmp, "OrderedReady") && strcmp(pmp, "Parallel"))
    reg_cause_invalid_str(causes, "spec.podManagementPolicy", pmp, "must be 'OrderedReady' or 'Parallel'");

  json_t *us = json_object_get(spec, "updateStrategy");
  const char *t = kj_get_str(us, "type");
  json_t *ru = json_object_get(us, "rollingUpdate");
  if (!t || !*t) {
    reg_cause_add(causes, REG_REQUIRED, "spec.updateStrategy", "Required value");
  } else if (!strcmp(t, "OnDelete")) {
    if (ru && !json_is_null(ru))
      ext_cause_invalid_any(causes, "spec.updateStrategy.rollingUpdate", ru,
                            "only allowed for updateStrategy 'RollingUpdate'");
  } else if (!strcmp(t, "RollingUpdate")) {
    ext_nonneg(ru, "spec.updateStrategy.rollingUpdate", "partition", causes);
    json_t *mu = json_object_get(ru, "maxUnavailable");
    if (mu) ext_validate_intstr(mu, "spec.updateStrategy.rollingUpdate.maxUnavailable", true, causes);
  } else {
    ext_cause_invalid_any(causes, "spec.updateStrategy", us, "must be 'RollingUpdate' or 'OnDelete'");
  }

  static const char *const ret_values[] = {"Retain", "Delete", NULL};
  json_t *ret = json_object_get(spec, "persistentVolumeClaimRetentionPolicy");
  reg_check_enum(causes, "spec.persistentVolumeClaimRetentionPolicy.whenDeleted", kj_get_str(ret, "whenDeleted"),
                 ret_values);
  reg_check_enum(causes, "spec.persistentVolumeClaimRetentionPolicy.whenScaled", kj_get_str(ret, "whenScaled"),
                 ret_values);

  const char *svc = kj_get_str(spec, "serviceName");
  char msg[512];
  if (svc && *svc && !names_is_dns1123_label(svc, msg, sizeof(msg)))
    reg_cause_invalid_str(causes, "spec.serviceName", svc, msg);

  sts_validate_template(spec, causes);

  size_t i;
  json_t *vct;
  json_array_foreach (json_object_get(spec, "volumeClaimTemplates"), i, vct) {
    char f[96];
    const char *n = kj_get_str(vct, "metadata.name");
    snprintf(f, sizeof(f), "spec.volumeClaimTemplates[%zu].metadata.name", i);
    if (!n || !*n) reg_cause_add(causes, REG_REQUIRED, f, "Required value: name or generateName is required");
    static const char *const modes[] = {"Block", "Filesystem", NULL};
    snprintf(f, sizeof(f), "spec.volumeClaimTemplates[%zu].spec.volumeMode", i);
    reg_check_enum(causes, f, kj_get_str(vct, "spec.volumeMode"), modes);
  }
}

static void sts_validate_update(const json_t *obj, const json_t *old, json_t *causes)
{
  static const char *const mutable_fields[] = {
      "replicas",        "ordinals", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy",
      "minReadySeconds", NULL};
  json_t *a = kj_deep_copy(json_object_get(obj, "spec"));
  json_t *b = kj_deep_copy(json_object_get(old, "spec"));
  if (!a) a = json_object();
  if (!b) b = json_object();
  for (size_t i = 0; mutable_fields[i]; i++) {
    json_object_del(a, mutable_fields[i]);
    json_object_del(b, mutable_fields[i]);
  }
  if (!json_equal(a, b))
    reg_cause_add(causes, REG_FORBIDDEN, "spec",
                  "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', "
                  "'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and "
                  "'minReadySeconds' are forbidden");
  json_decref(a);
  json_decref(b);
}

static void sts_validate(struct reg_request *rq, const json_t *obj, const json_t *old, json_t *causes)
{
  reg_validate_object_meta(obj, true, true, causes);
  if (old) reg_validate_object_meta_update(obj, old, causes);
  if (old && ext_is_status(rq)) {
    static const char *const st[] = {
        "replicas", "readyReplicas", "currentReplicas", "updatedReplicas", "availableReplicas", "observedGeneration",
        NULL};
    for (size_t i = 0; st[i]; i++) ext_nonneg(json_object_get(obj, "status"), "status", st[i], causes);
    return;
  }
  sts_validate_spec(json_object_get(obj, "spec"), causes);
  if (old) sts_validate_update(obj, old, causes);
}

static json_t *sts_cells(const json_t *obj)
{
  json_t *row = reg_row(obj);
  char ready[64];
  snprintf(ready, sizeof(ready), "%lld/%lld", (long long)kj_get_int(obj, "status.readyReplicas", 0),
           (long long)kj_get_int(obj, "spec.replicas", 0));
  reg_cell_str(row, ready);
  json_array_append_new(row, reg_age_cell(obj));
  reg_cell_containers(row, kj_get(obj, "spec.template.spec"));
  return row;
}

static const struct reg_column sts_columns[] = {
    {"Name", "string", "name", 0, EXT_DESC_NAME},
    {"Ready", "string", "", 0, "Number of the pod with ready state"},
    {"Age", "string", "", 0, EXT_DESC_AGE},
    {"Containers", "string", "", 1, "Names of each container in the template."},
    {"Images", "string", "", 1, "Images referenced by each container in the template."},
    {NULL},
};

static const char *const sts_status_ints[] = {"replicas", "availableReplicas", NULL};

static void sts_prepare_create(struct reg_request *rq, json_t *obj)
{
  ext_prepare_create(rq, obj);
  ext_status_zero(obj, sts_status_ints);
}

static void sts_prepare_update(struct reg_request *rq, json_t *obj, const json_t *old)
{
  ext_prepare_update(rq, obj, old);
  ext_status_zero(obj, sts_status_ints);
}

const struct resource reg_statefulsets = {
    .generation = REG_GEN_SPEC,
    .group = "apps",
    .version = "v1",
    .plural = "statefulsets",
    .singular = "statefulset",
    .kind = "StatefulSet",
    .namespaced = true,
    .short_names = {"sts", NULL},
    .categories = {"all", NULL},
    .subresources = RES_SUB_STATUS | RES_SUB_SCALE,
    .storage_prefix = "/registry/statefulsets",
    .defaults = sts_defaults,
    .prepare_create = sts_prepare_create,
    .prepare_update = sts_prepare_update,
    .validate = sts_validate,
    .columns = sts_columns,
    .cells = sts_cells,
};
