/*
 * workloads.c - rules shared by the apps/v1 workload kinds (Deployments,
 * ReplicaSets): upstream ValidateReplicaSetSpec / ValidateDeploymentSpec's
 * common part and the selector immutability of apps/v1.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>

#include "registry/reg_internal.h"
#include <kube/xalloc.h>

void reg_check_nonneg(const json_t *obj, const char *path, json_t *causes)
{
  json_t *v = kj_get(obj, path);
  if (v && json_is_integer(v) && json_integer_value(v) < 0)
    reg_cause_invalid(causes, path, v, "must be greater than or equal to 0");
}

char *reg_go_label_selector(const json_t *sel)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) return NULL;
  json_t *ml = json_object_get(sel, "matchLabels");
  fputs("v1.LabelSelector{MatchLabels:", f);
  if (ml && json_object_size(ml)) {
    char *m = reg_go_value(ml);
    fputs(m ? m : "", f);
    free(m);
  } else {
    fputs("map[string]string(nil)", f);
  }
  fputs(", MatchExpressions:", f);
  json_t *me = json_object_get(sel, "matchExpressions");
  if (json_array_size(me)) {
    fputs("[]v1.LabelSelectorRequirement{", f);
    size_t i;
    json_t *e;
    json_array_foreach (me, i, e) {
      char *vals = reg_go_value(json_object_get(e, "values") ? json_object_get(e, "values") : NULL);
      fprintf(f, "%sv1.LabelSelectorRequirement{Key:\"%s\", Operator:\"%s\", Values:%s}", i ? ", " : "",
              reg_str_or(kj_get_str(e, "key"), ""), reg_str_or(kj_get_str(e, "operator"), ""),
              json_object_get(e, "values") && vals ? vals : "[]string(nil)");
      free(vals);
    }
    fputc('}', f);
  } else {
    fputs("[]v1.LabelSelectorRequirement(nil)", f);
  }
  fputc('}', f);
  fclose(f);
  return buf;
}

static bool selector_empty(const json_t *sel)
{
  return json_object_size(json_object_get(sel, "matchLabels")) == 0 &&
         json_array_size(json_object_get(sel, "matchExpressions")) == 0;
}

void reg_validate_workload_spec(const json_t *spec, json_t *causes)
{
  reg_check_nonneg(spec, "replicas", causes);
  /* reg_check_nonneg reports relative to spec; re-root the paths */
  size_t n = json_array_size(causes);
  if (n) {
    json_t *c = json_array_get(causes, n - 1);
    const char *fld = kj_get_str(c, "field");
    if (fld && !strcmp(fld, "replicas")) json_object_set_new(c, "field", json_string("spec.replicas"));
  }
  json_t *mrs = json_object_get(spec, "minReadySeconds");
  if (mrs && json_integer_value(mrs) < 0)
    reg_cause_invalid(causes, "spec.minReadySeconds", mrs, "must be greater than or equal to 0");

  json_t *sel = json_object_get(spec, "selector");
  json_t *tmpl = json_object_get(spec, "template");
  if (!sel || json_is_null(sel)) {
    reg_cause_add(causes, REG_REQUIRED, "spec.selector", "Required value");
  } else {
    reg_validate_label_selector(sel, "spec.selector", causes);
    if (selector_empty(sel)) {
      char *gv = reg_go_label_selector(sel);
      reg_cause_add(causes, REG_INVALID, "spec.selector", "Invalid value: %s: empty selector is invalid for deployment",
                    gv ? gv : "");
      free(gv);
    } else if (tmpl) {
      json_t *labels = kj_get(tmpl, "metadata.labels");
      if (!reg_selector_matches(sel, labels)) {
        json_t *empty = NULL;
        if (!labels) labels = empty = json_object();
        char *gv = reg_go_value(labels);
        if (json_object_size(labels) == 0) {
          free(gv);
          gv = xstrdup("map[string]string(nil)");
        }
        reg_cause_add(causes, REG_INVALID, "spec.template.metadata.labels",
                      "Invalid value: %s: `selector` does not match template `labels`", gv ? gv : "");
        free(gv);
        json_decref(empty);
      }
    }
  }
  if (!tmpl || json_is_null(tmpl)) {
    reg_cause_add(causes, REG_REQUIRED, "spec.template", "Required value");
    return;
  }
  reg_validate_pod_template(tmpl, "spec.template", causes);
  const char *rp = kj_get_str(tmpl, "spec.restartPolicy");
  static const char *const always[] = {"Always", NULL};
  reg_check_enum(causes, "spec.template.spec.restartPolicy", rp, always);
  json_t *ads = kj_get(tmpl, "spec.activeDeadlineSeconds");
  if (ads)
    reg_cause_invalid(causes, "spec.template.spec.activeDeadlineSeconds", ads,
                      "activeDeadlineSeconds in ReplicaSet is not Supported");
}

void reg_validate_workload_update(const json_t *obj, const json_t *old, json_t *causes)
{
  json_t *a = kj_get(obj, "spec.selector"), *b = kj_get(old, "spec.selector");
  if (a && b && !json_equal(a, b)) {
    char *gv = reg_go_label_selector(a);
    reg_cause_add(causes, REG_INVALID, "spec.selector", "Invalid value: %s: field is immutable", gv ? gv : "");
    free(gv);
  }
}
