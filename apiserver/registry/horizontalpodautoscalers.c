/*
 * horizontalpodautoscalers.c - the autoscaling/v2 HorizontalPodAutoscaler
 * strategy (upstream pkg/registry/autoscaling/horizontalpodautoscaler,
 * SetDefaults_HorizontalPodAutoscaler, ValidateHorizontalPodAutoscaler,
 * printHorizontalPodAutoscaler).
 *
 * Defaults: minReplicas 1; with no metrics, CPU at 80% average
 * utilization; a given behavior gets every missing scale-up / scale-down
 * rule filled with upstream's (scale up: +4 pods or +100% per 15 s, no
 * stabilization; scale down: -100% per 15 s after 300 s of stability).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>
#include <kube/names.h>
#include <kube/quantity.h>

#include "registry/ext_internal.h"
#include "registry/kinds_ext.h"
#include <kube/xalloc.h>

#define HPA_DEFAULT_CPU_UTILIZATION 80

static void fill_rules(json_t *behavior, const char *key, int window, bool up)
{
  json_t *r = kj_obj(behavior, key);
  if (!r) return;
  if (json_array_size(json_object_get(r, "policies")) == 0) {
    json_t *p = up ? json_pack("[{s:s,s:i,s:i},{s:s,s:i,s:i}]", "type", "Pods", "value", 4, "periodSeconds", 15, "type",
                               "Percent", "value", 100, "periodSeconds", 15)
                   : json_pack("[{s:s,s:i,s:i}]", "type", "Percent", "value", 100, "periodSeconds", 15);
    json_object_set_new(r, "policies", p);
  }
  kj_default(r, "selectPolicy", json_string("Max"));
  kj_default(r, "stabilizationWindowSeconds", json_integer(window));
}

static void hpa_defaults(json_t *obj)
{
  json_t *spec = kj_obj(obj, "spec");
  if (!spec) return;
  kj_default(spec, "minReplicas", json_integer(1));
  if (json_array_size(json_object_get(spec, "metrics")) == 0)
    json_object_set_new(spec, "metrics",
                        json_pack("[{s:s,s:{s:s,s:{s:s,s:i}}}]", "type", "Resource", "resource", "name", "cpu",
                                  "target", "type", "Utilization", "averageUtilization", HPA_DEFAULT_CPU_UTILIZATION));
  json_t *b = json_object_get(spec, "behavior");
  if (json_is_object(b)) {
    fill_rules(b, "scaleUp", 0, true);
    fill_rules(b, "scaleDown", 300, false);
  }
}

static void validate_target(const json_t *t, const char *f, json_t *causes)
{
  char ff[512];
  const char *type = kj_get_str(t, "type");
  static const char *const types[] = {"AverageValue", "Utilization", "Value", NULL};
  snprintf(ff, sizeof(ff), "%s.type", f);
  if (!type || !*type) reg_cause_add(causes, REG_REQUIRED, ff, "Required value: must specify a metric target type");
  else reg_check_enum(causes, ff, type, types);
  json_t *u = json_object_get(t, "averageUtilization");
  if (u && json_integer_value(u) < 1) {
    snprintf(ff, sizeof(ff), "%s.averageUtilization", f);
    reg_cause_invalid(causes, ff, u, "must be greater than 0");
  }
  if (type && !json_object_get(t, "value") && !json_object_get(t, "averageValue") && !u)
    reg_cause_add(causes, REG_REQUIRED, f,
                  "Required value: must set either a target raw value, a target average value, or a target percentage");
}

static void validate_metrics(const json_t *metrics, json_t *causes)
{
  static const char *const types[] = {"ContainerResource", "External", "Object", "Pods", "Resource", NULL};
  static const char *const keys[][2] = {{"Resource", "resource"},
                                        {"Pods", "pods"},
                                        {"Object", "object"},
                                        {"External", "external"},
                                        {"ContainerResource", "containerResource"}};
  size_t i;
  json_t *m;
  json_array_foreach (metrics, i, m) {
    char f[128], ff[192];
    snprintf(f, sizeof(f), "spec.metrics[%zu]", i);
    const char *type = kj_get_str(m, "type");
    snprintf(ff, sizeof(ff), "%s.type", f);
    if (!type || !*type) {
      reg_cause_add(causes, REG_REQUIRED, ff, "Required value: must specify a metric source type");
      continue;
    }
    reg_check_enum(causes, ff, type, types);
    for (size_t k = 0; k < 5; k++) {
      if (strcmp(type, keys[k][0])) continue;
      json_t *src = json_object_get(m, keys[k][1]);
      snprintf(ff, sizeof(ff), "%s.%s", f, keys[k][1]);
      if (!json_is_object(src)) {
        reg_cause_add(causes, REG_REQUIRED, ff,
                      "Required value: must populate information for the given metric source");
        break;
      }
      if (!strcmp(type, "Resource") || !strcmp(type, "ContainerResource")) {
        char fn[256];
        snprintf(fn, sizeof(fn), "%s.name", ff);
        const char *n = kj_get_str(src, "name");
        if (!n || !*n) reg_cause_add(causes, REG_REQUIRED, fn, "Required value: must specify a resource name");
      }
      char ft[256];
      snprintf(ft, sizeof(ft), "%s.target", ff);
      validate_target(json_object_get(src, "target"), ft, causes);
    }
  }
}

static void hpa_validate(struct reg_request *rq, const json_t *obj, const json_t *old, json_t *causes)
{
  reg_validate_object_meta(obj, true, true, causes);
  if (old) reg_validate_object_meta_update(obj, old, causes);
  if (old && ext_is_status(rq)) {
    ext_nonneg(json_object_get(obj, "status"), "status", "currentReplicas", causes);
    ext_nonneg(json_object_get(obj, "status"), "status", "desiredReplicas", causes);
    return;
  }
  const json_t *spec = json_object_get(obj, "spec");
  json_t *minr = json_object_get(spec, "minReplicas");
  if (minr && json_integer_value(minr) < 1)
    reg_cause_invalid(causes, "spec.minReplicas", minr, "must be greater than or equal to 1");
  json_t *maxr = json_object_get(spec, "maxReplicas");
  json_int_t maxv = json_is_integer(maxr) ? json_integer_value(maxr) : 0;
  json_t *maxj = json_integer(maxv);
  if (maxv < 1) reg_cause_invalid(causes, "spec.maxReplicas", maxj, "must be greater than 0");
  if (minr && maxv < json_integer_value(minr))
    reg_cause_invalid(causes, "spec.maxReplicas", maxj, "must be greater than or equal to `minReplicas`");
  json_decref(maxj);
  const json_t *ref = json_object_get(spec, "scaleTargetRef");
  const char *kind = kj_get_str(ref, "kind"), *name = kj_get_str(ref, "name");
  char msg[512];
  if (!kind || !*kind) reg_cause_add(causes, REG_REQUIRED, "spec.scaleTargetRef.kind", "Required value");
  else if (!names_is_path_segment(kind, msg, sizeof(msg)))
    reg_cause_invalid_str(causes, "spec.scaleTargetRef.kind", kind, msg);
  if (!name || !*name) reg_cause_add(causes, REG_REQUIRED, "spec.scaleTargetRef.name", "Required value");
  else if (!names_is_path_segment(name, msg, sizeof(msg)))
    reg_cause_invalid_str(causes, "spec.scaleTargetRef.name", name, msg);
  validate_metrics(json_object_get(spec, "metrics"), causes);
  static const char *const selects[] = {"Disabled", "Max", "Min", NULL};
  static const char *const ptypes[] = {"Percent", "Pods", NULL};
  static const char *const dirs[] = {"scaleUp", "scaleDown", NULL};
  for (size_t d = 0; dirs[d]; d++) {
    json_t *r = kj_get(spec, "behavior") ? json_object_get(kj_get(spec, "behavior"), dirs[d]) : NULL;
    if (!json_is_object(r)) continue;
    char f[128];
    snprintf(f, sizeof(f), "spec.behavior.%s.selectPolicy", dirs[d]);
    reg_check_enum(causes, f, kj_get_str(r, "selectPolicy"), selects);
    json_t *w = json_object_get(r, "stabilizationWindowSeconds");
    if (w && (json_integer_value(w) < 0 || json_integer_value(w) > 3600)) {
      snprintf(f, sizeof(f), "spec.behavior.%s.stabilizationWindowSeconds", dirs[d]);
      reg_cause_invalid(causes, f, w,
                        json_integer_value(w) < 0 ? "must be greater than or equal to zero"
                                                  : "must be less than or equal to 3600");
    }
    size_t i;
    json_t *p;
    json_array_foreach (json_object_get(r, "policies"), i, p) {
      snprintf(f, sizeof(f), "spec.behavior.%s.policies[%zu].type", dirs[d], i);
      reg_check_enum(causes, f, kj_get_str(p, "type"), ptypes);
      json_t *v = json_object_get(p, "value");
      if (!v || json_integer_value(v) <= 0) {
        json_t *z = json_integer(v ? json_integer_value(v) : 0);
        snprintf(f, sizeof(f), "spec.behavior.%s.policies[%zu].value", dirs[d], i);
        reg_cause_invalid(causes, f, z, "must be greater than zero");
        json_decref(z);
      }
      json_t *ps = json_object_get(p, "periodSeconds");
      if (!ps || json_integer_value(ps) <= 0 || json_integer_value(ps) > 1800) {
        json_t *z = json_integer(ps ? json_integer_value(ps) : 0);
        snprintf(f, sizeof(f), "spec.behavior.%s.policies[%zu].periodSeconds", dirs[d], i);
        reg_cause_invalid(causes, f, z,
                          json_integer_value(z) <= 0 ? "must be greater than zero"
                                                     : "must be less than or equal to 1800");
        json_decref(z);
      }
    }
  }
}

/* formatHPAMetrics: "cpu: 50%/80%", "<unknown>/100m", at most two shown. */
static char *format_metrics(const json_t *obj)
{
  json_t *specs = kj_get(obj, "spec.metrics"), *statuses = kj_get(obj, "status.currentMetrics");
  size_t n = json_array_size(specs);
  if (n == 0) return xstrdup("<none>");
  char *buf = NULL;
  size_t len = 0, shown = 0;
  FILE *f = open_memstream(&buf, &len);
  for (size_t i = 0; i < n; i++) {
    json_t *m = json_array_get(specs, i), *st = json_array_get(statuses, i);
    const char *type = reg_str_or(kj_get_str(m, "type"), "");
    char item[256] = "";
    if (!strcmp(type, "Resource") || !strcmp(type, "ContainerResource")) {
      const char *key = !strcmp(type, "Resource") ? "resource" : "containerResource";
      json_t *src = json_object_get(m, key), *cur = st ? json_object_get(st, key) : NULL;
      const char *av = kj_get_str(src, "target.averageValue");
      if (av) {
        const char *c = cur ? kj_get_str(cur, "current.averageValue") : NULL;
        snprintf(item, sizeof(item), "%s/%s", c ? c : "<unknown>", av);
      } else {
        char c[32] = "<unknown>", t[32] = "<auto>";
        json_t *cu = cur ? kj_get(cur, "current.averageUtilization") : NULL;
        json_t *tu = kj_get(src, "target.averageUtilization");
        if (json_is_integer(cu)) snprintf(c, sizeof(c), "%lld%%", (long long)json_integer_value(cu));
        if (json_is_integer(tu)) snprintf(t, sizeof(t), "%lld%%", (long long)json_integer_value(tu));
        snprintf(item, sizeof(item), "%s: %s/%s", reg_str_or(kj_get_str(src, "name"), ""), c, t);
      }
    } else if (!strcmp(type, "Pods") || !strcmp(type, "Object") || !strcmp(type, "External")) {
      const char *key = !strcmp(type, "Pods") ? "pods" : !strcmp(type, "Object") ? "object" : "external";
      json_t *src = json_object_get(m, key), *cur = st ? json_object_get(st, key) : NULL;
      const char *tv = kj_get_str(src, "target.averageValue");
      const char *cv = cur ? kj_get_str(cur, "current.averageValue") : NULL;
      const char *suffix = " (avg)";
      if (!tv || !strcmp(type, "Pods")) {
        suffix = "";
        if (!tv) {
          tv = kj_get_str(src, "target.value");
          cv = cur ? kj_get_str(cur, "current.value") : NULL;
        }
      }
      snprintf(item, sizeof(item), "%s/%s%s", cv ? cv : "<unknown>", tv ? tv : "<unknown>", suffix);
    } else {
      snprintf(item, sizeof(item), "<unknown type>");
    }
    if (shown < 2) fprintf(f, "%s%s", shown ? ", " : "", item);
    shown++;
  }
  if (shown > 2) fprintf(f, " + %zu more...", shown - 2);
  fclose(f);
  return buf;
}

static json_t *hpa_cells(const json_t *obj)
{
  json_t *row = reg_row(obj);
  char ref[512];
  snprintf(ref, sizeof(ref), "%s/%s", reg_str_or(kj_get_str(obj, "spec.scaleTargetRef.kind"), ""),
           reg_str_or(kj_get_str(obj, "spec.scaleTargetRef.name"), ""));
  reg_cell_str(row, ref);
  char *t = format_metrics(obj);
  reg_cell_str(row, t);
  free(t);
  json_t *minr = kj_get(obj, "spec.minReplicas");
  if (json_is_integer(minr)) {
    char b[32];
    snprintf(b, sizeof(b), "%lld", (long long)json_integer_value(minr));
    reg_cell_str(row, b);
  } else {
    reg_cell_str(row, "<unset>");
  }
  reg_cell_int(row, kj_get_int(obj, "spec.maxReplicas", 0));
  reg_cell_int(row, kj_get_int(obj, "status.currentReplicas", 0));
  json_array_append_new(row, reg_age_cell(obj));
  return row;
}

static const struct reg_column hpa_columns[] = {
    {"Name", "string", "name", 0, EXT_DESC_NAME},
    {"Reference", "string", "", 0,
     "scaleTargetRef points to the target resource to scale, and is used to the pods for which metrics should be "
     "collected, as well as to actually change the replica count."},
    {"Targets", "string", "", 0,
     "metrics contains the specifications for which to use to calculate the desired replica count (the maximum replica "
     "count across all metrics will be used)."},
    {"MinPods", "string", "", 0,
     "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down."},
    {"MaxPods", "string", "", 0,
     "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up."},
    {"Replicas", "string", "", 0,
     "currentReplicas is current number of replicas of pods managed by this autoscaler, as last seen by the "
     "autoscaler."},
    {"Age", "string", "", 0, EXT_DESC_AGE},
    {NULL},
};

static const char *const hpa_status_ints[] = {"desiredReplicas", NULL};

static void hpa_prepare_create(struct reg_request *rq, json_t *obj)
{
  ext_prepare_create(rq, obj);
  ext_status_zero(obj, hpa_status_ints);
}

static void hpa_prepare_update(struct reg_request *rq, json_t *obj, const json_t *old)
{
  ext_prepare_update(rq, obj, old);
  ext_status_zero(obj, hpa_status_ints);
}

const struct resource reg_horizontalpodautoscalers = {
    .group = "autoscaling",
    .version = "v2",
    .plural = "horizontalpodautoscalers",
    .singular = "horizontalpodautoscaler",
    .kind = "HorizontalPodAutoscaler",
    .namespaced = true,
    .short_names = {"hpa", NULL},
    .categories = {"all", NULL},
    .subresources = RES_SUB_STATUS,
    .storage_prefix = "/registry/horizontalpodautoscalers",
    .defaults = hpa_defaults,
    .prepare_create = hpa_prepare_create,
    .prepare_update = hpa_prepare_update,
    .validate = hpa_validate,
    .columns = hpa_columns,
    .cells = hpa_cells,
};
