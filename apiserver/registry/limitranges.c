/*
 * limitranges.c - the core/v1 LimitRange strategy (upstream
 * pkg/registry/core/limitrange, SetDefaults_LimitRangeItem,
 * ValidateLimitRange).
 *
 * For Container items a missing default limit is taken from max, and a
 * missing default request from min, else from the default limit - so a
 * LimitRange with only max caps and fills every container.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>
#include <kube/quantity.h>

#include "registry/ext_internal.h"
#include "registry/kinds_ext.h"

static void lr_defaults(json_t *obj)
{
  size_t i;
  json_t *item;
  json_array_foreach (kj_get(obj, "spec.limits"), i, item) {
    const char *type = kj_get_str(item, "type");
    if (!type || strcmp(type, "Container")) continue;
    json_t *dflt = json_object_get(item, "default");
    json_t *dreq = json_object_get(item, "defaultRequest");
    json_t *max = json_object_get(item, "max"), *min = json_object_get(item, "min");
    json_t *nd = json_is_object(dflt) ? json_incref(dflt) : json_object();
    json_t *nr = json_is_object(dreq) ? json_incref(dreq) : json_object();
    const char *k;
    json_t *v;
    json_object_foreach (max, k, v)
      if (!json_object_get(nd, k)) json_object_set(nd, k, v);
    json_object_foreach (nd, k, v) {
      if (json_object_get(nr, k)) continue;
      json_t *m = json_is_object(min) ? json_object_get(min, k) : NULL;
      json_object_set(nr, k, m ? m : v);
    }
    if (json_object_size(nd)) json_object_set(item, "default", nd);
    if (json_object_size(nr)) json_object_set(item, "defaultRequest", nr);
    json_decref(nd);
    json_decref(nr);
  }
}

static bool parse_q(const json_t *list, const char *k, struct quantity *q)
{
  const char *s = json_is_object(list) ? json_string_value(json_object_get(list, k)) : NULL;
  return s && quantity_parse(s, q) == 0;
}

/* One ordering rule between two of an item's lists for every resource
 * both name: lo[k] <= hi[k], reported on `field_list` with upstream's
 * wording ("min value 2 is greater than max value 1"). */
static void check_order(const json_t *item, const char *f, const char *lo_name, const char *hi_name,
                        const char *field_list, const char *lo_word, const char *hi_word, json_t *causes)
{
  json_t *lo = json_object_get(item, lo_name), *hi = json_object_get(item, hi_name);
  const char *k;
  json_t *v;
  json_object_foreach (lo, k, v) {
    struct quantity a, b;
    if (!parse_q(lo, k, &a) || !parse_q(hi, k, &b) || quantity_cmp(&a, &b) <= 0) continue;
    char field[256], msg[256], as[64], bs[64];
    quantity_format(&a, as, sizeof(as));
    quantity_format(&b, bs, sizeof(bs));
    json_t *list = json_object_get(item, field_list);
    snprintf(field, sizeof(field), "%s.%s[%s]", f, field_list, k);
    snprintf(msg, sizeof(msg), "%s value %s is greater than %s value %s", lo_word, as, hi_word, bs);
    reg_cause_invalid_str(causes, field, json_string_value(json_object_get(list, k)), msg);
  }
}

static void lr_validate(struct reg_request *rq, const json_t *obj, const json_t *old, json_t *causes)
{
  reg_validate_object_meta(obj, true, true, causes);
  if (old) reg_validate_object_meta_update(obj, old, causes);
  static const char *const types[] = {"Container", "Pod", "PersistentVolumeClaim", NULL};
  static const char *const lists[] = {"max", "min", "default", "defaultRequest", "maxLimitRequestRatio", NULL};
  size_t i;
  json_t *item;
  json_array_foreach (kj_get(obj, "spec.limits"), i, item) {
    char f[64], ff[128];
    snprintf(f, sizeof(f), "spec.limits[%zu]", i);
    const char *type = kj_get_str(item, "type");
    snprintf(ff, sizeof(ff), "%s.type", f);
    if (!type || !*type) reg_cause_add(causes, REG_REQUIRED, ff, "Required value");
    else reg_check_enum(causes, ff, type, types);
    for (size_t l = 0; lists[l]; l++) {
      const char *k;
      json_t *v;
      json_object_foreach (json_object_get(item, lists[l]), k, v) {
        struct quantity q;
        snprintf(ff, sizeof(ff), "%s.%s[%s]", f, lists[l], k);
        const char *s = json_is_string(v) ? json_string_value(v) : "";
        if (quantity_parse(s, &q) != 0)
          reg_cause_invalid_str(
              causes, ff, s,
              "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
        else if (quantity_sign(&q) < 0) reg_cause_invalid_str(causes, ff, s, "must be greater than or equal to 0");
      }
    }
    if (type && strcmp(type, "Container")) {
      if (json_object_get(item, "default")) {
        snprintf(ff, sizeof(ff), "%s.default", f);
        reg_cause_add(causes, REG_FORBIDDEN, ff, "Forbidden: may not be specified when `type` is '%s'", type);
      }
      if (json_object_get(item, "defaultRequest")) {
        snprintf(ff, sizeof(ff), "%s.defaultRequest", f);
        reg_cause_add(causes, REG_FORBIDDEN, ff, "Forbidden: may not be specified when `type` is '%s'", type);
      }
    }
    check_order(item, f, "min", "max", "min", "min", "max", causes);
    check_order(item, f, "min", "defaultRequest", "defaultRequest", "min", "default request", causes);
    check_order(item, f, "defaultRequest", "max", "defaultRequest", "default request", "max", causes);
    check_order(item, f, "defaultRequest", "default", "defaultRequest", "default request", "default limit", causes);
    check_order(item, f, "min", "default", "default", "min", "default", causes);
    check_order(item, f, "default", "max", "default", "default", "max", causes);
  }
}

static json_t *created_at_cells(const json_t *obj)
{
  json_t *row = reg_row(obj);
  const char *ts = kj_get_str(obj, "metadata.creationTimestamp");
  json_array_append_new(row, ts ? json_string(ts) : json_null());
  return row;
}

static const struct reg_column lr_columns[] = {
    {"Name", "string", "name", 0, EXT_DESC_NAME},
    {"Created At", "date", "", 0, EXT_DESC_AGE},
    {NULL},
};

const struct resource reg_limitranges = {
    .group = "",
    .version = "v1",
    .plural = "limitranges",
    .singular = "limitrange",
    .kind = "LimitRange",
    .namespaced = true,
    .short_names = {"limits", NULL},
    .categories = {NULL},
    .storage_prefix = "/registry/limitranges",
    .defaults = lr_defaults,
    .validate = lr_validate,
    .columns = lr_columns,
    .cells = created_at_cells,
};
