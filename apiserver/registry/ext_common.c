/*
 * ext_common.c - helpers shared by the extended kinds' strategies
 * (kinds_ext.h): the status/spec split of kinds with a status
 * subresource, the selector/template rules of pod-template workloads,
 * IntOrString checks, and the cell formats of upstream's printers
 * (FormatLabelSelector, printBoolPtr, HumanDuration).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>
#include <kube/timeutil.h>

#include "registry/ext_internal.h"
#include <kube/xalloc.h>

bool ext_is_status(const struct reg_request *rq) { return rq && rq->subresource && !strcmp(rq->subresource, "status"); }

void ext_prepare_create(struct reg_request *rq, json_t *obj)
{
  json_object_set_new(obj, "status", json_object());
  reg_generation_create(obj);
}

void ext_prepare_update(struct reg_request *rq, json_t *obj, const json_t *old)
{
  reg_split_status(rq, obj, old);
  if (ext_is_status(rq)) {
    json_t *g = kj_get(old, "metadata.generation");
    if (g) kj_set(obj, "metadata.generation", kj_deep_copy(g));
    return;
  }
  reg_generation_update(obj, old);
}

void ext_status_zero(json_t *obj, const char *const *fields)
{
  json_t *st = json_object_get(obj, "status");
  if (!json_is_object(st)) {
    st = json_object();
    json_object_set_new(obj, "status", st);
  }
  for (size_t i = 0; fields[i]; i++)
    if (!json_object_get(st, fields[i])) json_object_set_new(st, fields[i], json_integer(0));
}

void ext_prepare_create_gen(struct reg_request *rq, json_t *obj) { reg_generation_create(obj); }

void ext_prepare_update_gen(struct reg_request *rq, json_t *obj, const json_t *old) { reg_generation_update(obj, old); }

void ext_nonneg(const json_t *obj, const char *prefix, const char *key, json_t *causes)
{
  json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
  if (v && json_is_integer(v) && json_integer_value(v) < 0) {
    char f[256];
    snprintf(f, sizeof(f), "%s%s%s", prefix && *prefix ? prefix : "", prefix && *prefix ? "." : "", key);
    reg_cause_invalid(causes, f, v, "must be greater than or equal to 0");
  }
}

void ext_cause_invalid_any(json_t *causes, const char *field, const json_t *value, const char *detail)
{
  if (json_is_object(value) || json_is_array(value)) {
    char *s = kj_dumps(value);
    reg_cause_add(causes, REG_INVALID, field, "Invalid value: %s: %s", s ? s : "", detail);
    free(s);
  } else {
    reg_cause_invalid(causes, field, value, detail);
  }
}

char *ext_go_labels(const json_t *labels)
{
  if (!json_is_object(labels) || json_object_size(labels) == 0) return xstrdup("map[string]string(nil)");
  return reg_go_value(labels);
}

static bool parse_intstr(const json_t *v, long *out, bool *pct)
{
  if (json_is_integer(v)) {
    *out = (long)json_integer_value(v);
    *pct = false;
    return true;
  }
  const char *s = json_string_value(v);
  if (!s || !*s) return false;
  char *end;
  long n = strtol(s, &end, 10);
  if (end == s || strcmp(end, "%")) return false;
  *out = n;
  *pct = true;
  return true;
}

void ext_validate_intstr(const json_t *v, const char *field, bool percent_ok, json_t *causes)
{
  long n;
  bool pct;
  if (!v || json_is_null(v)) return;
  if (!parse_intstr(v, &n, &pct) || (pct && !percent_ok)) {
    reg_cause_invalid(causes, field, v,
                      "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  "
                      "or '93%', regex used for validation is '[0-9]+%')");
    return;
  }
  if (n < 0) reg_cause_invalid(causes, field, v, "must be greater than or equal to 0");
  else if (pct && n > 100) reg_cause_invalid(causes, field, v, "must not be greater than 100%");
}

char *ext_intstr_string(const json_t *v)
{
  char *s = NULL;
  if (json_is_integer(v)) {
    if (asprintf(&s, "%lld", (long long)json_integer_value(v)) < 0) s = NULL;
    return s;
  }
  return xstrdup(json_is_string(v) ? json_string_value(v) : "");
}

void ext_check_selector_matches(const json_t *sel, const json_t *tmpl, const char *tmpl_path, json_t *causes)
{
  json_t *labels = kj_get(tmpl, "metadata.labels");
  if (reg_selector_matches(sel, labels)) return;
  char f[256];
  char *gv = ext_go_labels(labels);
  snprintf(f, sizeof(f), "%s.metadata.labels", tmpl_path);
  reg_cause_add(causes, REG_INVALID, f, "Invalid value: %s: `selector` does not match template `labels`", gv ? gv : "");
  free(gv);
}

void ext_validate_template_workload(const json_t *spec, const char *kind, json_t *causes)
{
  json_t *sel = json_object_get(spec, "selector");
  json_t *tmpl = json_object_get(spec, "template");
  if (!sel || json_is_null(sel)) {
    reg_cause_add(causes, REG_REQUIRED, "spec.selector", "Required value");
  } else {
    reg_validate_label_selector(sel, "spec.selector", causes);
    if (json_object_size(json_object_get(sel, "matchLabels")) == 0 &&
        json_array_size(json_object_get(sel, "matchExpressions")) == 0) {
      char *gv = reg_go_label_selector(sel);
      char lower[32];
      size_t i = 0;
      for (; kind[i] && i < sizeof(lower) - 1; i++)
        lower[i] = (char)(kind[i] >= 'A' && kind[i] <= 'Z' ? kind[i] - 'A' + 'a' : kind[i]);
      lower[i] = 0;
      reg_cause_add(causes, REG_INVALID, "spec.selector", "Invalid value: %s: empty selector is invalid for %s",
                    gv ? gv : "", lower);
      free(gv);
    } else if (json_is_object(tmpl)) {
      ext_check_selector_matches(sel, tmpl, "spec.template", causes);
    }
  }
  if (!json_is_object(tmpl)) {
    reg_cause_add(causes, REG_REQUIRED, "spec.template", "Required value");
    return;
  }
  reg_validate_pod_template(tmpl, "spec.template", causes);
  static const char *const always[] = {"Always", NULL};
  reg_check_enum(causes, "spec.template.spec.restartPolicy", kj_get_str(tmpl, "spec.restartPolicy"), always);
  if (kj_get(tmpl, "spec.activeDeadlineSeconds"))
    reg_cause_add(causes, REG_FORBIDDEN, "spec.template.spec.activeDeadlineSeconds",
                  "Forbidden: activeDeadlineSeconds in %s is not Supported", kind);
}

char *ext_selector_string(const json_t *sel)
{
  char *s = reg_format_label_selector(sel);
  if (!s || !*s) {
    free(s);
    return xstrdup("<none>");
  }
  return s;
}

const char *ext_bool_ptr(const json_t *v)
{
  if (!json_is_boolean(v)) return "<unset>";
  return json_is_true(v) ? "True" : "False";
}

char *ext_duration(long long secs, char *buf, size_t len) { return ktime_human_age(secs, buf, len); }

bool ext_has_condition(const json_t *obj, const char *type)
{
  size_t i;
  json_t *c;
  json_array_foreach (kj_get(obj, "status.conditions"), i, c) {
    const char *t = kj_get_str(c, "type"), *s = kj_get_str(c, "status");
    if (t && s && !strcmp(t, type) && !strcmp(s, "True")) return true;
  }
  return false;
}
