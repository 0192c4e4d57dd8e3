/*
 * resourcequotas.c - the core/v1 ResourceQuota strategy (upstream
 * pkg/registry/core/resourcequota, ValidateResourceQuota,
 * printResourceQuota).  The quota controller writes status.used through
 * the status subresource; users write spec.hard.  The table shows
 * "name: used/hard" pairs, limits.* in their own column.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>
#include <kube/quantity.h>

#include "registry/ext_internal.h"
#include "registry/kinds_ext.h"
#include <kube/xalloc.h>

static void rq_prepare_create(struct reg_request *rq, json_t *obj)
{
  json_object_set_new(obj, "status", json_object());
}

static void rq_prepare_update(struct reg_request *rq, json_t *obj, const json_t *old)
{
  reg_split_status(rq, obj, old);
}

static void validate_list(const json_t *list, const char *path, json_t *causes)
{
  const char *k;
  json_t *v;
  json_object_foreach ((json_t *)list, k, v) {
    char f[256];
    snprintf(f, sizeof(f), "%s[%s]", path, k);
    const char *s = json_is_string(v) ? json_string_value(v) : "";
    struct quantity q;
    if (quantity_parse(s, &q) != 0)
      reg_cause_invalid_str(
          causes, f, s, "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
    else if (quantity_sign(&q) < 0) reg_cause_invalid_str(causes, f, s, "must be greater than or equal to 0");
  }
}

static void rq_validate(struct reg_request *rq, const json_t *obj, const json_t *old, json_t *causes)
{
  reg_validate_object_meta(obj, true, true, causes);
  if (old) reg_validate_object_meta_update(obj, old, causes);
  if (old && ext_is_status(rq)) {
    validate_list(kj_get(obj, "status.hard"), "status.hard", causes);
    validate_list(kj_get(obj, "status.used"), "status.used", causes);
    return;
  }
  validate_list(kj_get(obj, "spec.hard"), "spec.hard", causes);
  static const char *const scopes[] = {
      "Terminating", "NotTerminating", "BestEffort", "NotBestEffort", "PriorityClass", "CrossNamespacePodAffinity",
      NULL};
  size_t i;
  json_t *s;
  json_array_foreach (kj_get(obj, "spec.scopes"), i, s)
    reg_check_enum(causes, "spec.scopes", json_is_string(s) ? json_string_value(s) : "", scopes);
}

static json_t *rq_cells(const json_t *obj)
{
  json_t *row = reg_row(obj);
  json_array_append_new(row, reg_age_cell(obj));
  json_t *hard = kj_get(obj, "spec.hard"), *used = kj_get(obj, "status.used");
  size_t n = json_object_size(hard), i = 0;
  const char **keys = xcalloc(n + 1, sizeof(*keys));
  const char *k;
  json_t *v;
  json_object_foreach (hard, k, v) keys[i++] = k;
  qsort(keys, i, sizeof(*keys), reg_cmp_str);
  char *req = NULL, *lim = NULL;
  size_t rl = 0, ll = 0;
  FILE *rf = open_memstream(&req, &rl), *lf = open_memstream(&lim, &ll);
  bool rfirst = true, lfirst = true;
  for (size_t j = 0; j < i; j++) {
    char ub[64] = "0", hb[64] = "0";
    struct quantity q;
    const char *us = json_is_object(used) ? json_string_value(json_object_get(used, keys[j])) : NULL;
    const char *hs = json_string_value(json_object_get(hard, keys[j]));
    if (us && quantity_parse(us, &q) == 0) quantity_format(&q, ub, sizeof(ub));
    if (hs && quantity_parse(hs, &q) == 0) quantity_format(&q, hb, sizeof(hb));
    bool is_limit = !strncmp(keys[j], "limits.", 7);
    FILE *f = is_limit ? lf : rf;
    bool *first = is_limit ? &lfirst : &rfirst;
    fprintf(f, "%s%s: %s/%s", *first ? "" : ", ", keys[j], ub, hb);
    *first = false;
  }
  fclose(rf);
  fclose(lf);
  reg_cell_str(row, req);
  reg_cell_str(row, lim);
  free(req);
  free(lim);
  free(keys);
  return row;
}

static const struct reg_column rq_columns[] = {
    {"Name", "string", "name", 0, EXT_DESC_NAME},
    {"Age", "string", "", 0, EXT_DESC_AGE},
    {"Request", "string", "", 0, "Request represents a minimum amount of cpu/memory that a container may consume."},
    {"Limit", "string", "", 0,
     "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node."},
    {NULL},
};

const struct resource reg_resourcequotas = {
    .return_deleted_object = true,
    .group = "",
    .version = "v1",
    .plural = "resourcequotas",
    .singular = "resourcequota",
    .kind = "ResourceQuota",
    .namespaced = true,
    .short_names = {"quota", NULL},
    .categories = {NULL},
    .subresources = RES_SUB_STATUS,
    .storage_prefix = "/registry/resourcequotas",
    .prepare_create = rq_prepare_create,
    .prepare_update = rq_prepare_update,
    .validate = rq_validate,
    .columns = rq_columns,
    .cells = rq_cells,
};
