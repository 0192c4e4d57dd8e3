/*
 * configmaps.c - the ConfigMap strategy (upstream
 * pkg/registry/core/configmap) and the data-key rules Secrets share.
 *
 * Keys of data and binaryData must match [-._a-zA-Z0-9]+ and not repeat
 * across the two maps; the whole payload is limited to 1 MiB; once
 * `immutable: true` is stored, data, binaryData and immutable itself are
 * frozen.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include <kube/json.h>

#include "registry/reg_internal.h"

#define REG_CONFIG_MAX_BYTES (1024 * 1024)

static bool config_key_ok(const char *k, const char **why)
{
  size_t n = strlen(k);
  if (n == 0 || n > 253) {
    *why = n ? "must be no more than 253 characters" : NULL;
    if (n) return false;
  }
  for (const char *p = k; *p; p++) {
    char c = *p;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
          c == '.')) {
      n = 0;
      break;
    }
  }
  if (n == 0) {
    *why = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  "
           "or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";
    return false;
  }
  if (!strcmp(k, ".")) {
    *why = "must not be '.'";
    return false;
  }
  if (!strcmp(k, "..")) {
    *why = "must not be '..'";
    return false;
  }
  if (!strncmp(k, "..", 2)) {
    *why = "must not start with '..'";
    return false;
  }
  return true;
}

void reg_validate_data_keys(const json_t *data, const char *field, json_t *seen, json_t *causes)
{
  const char *k;
  json_t *v;
  char f[512];
  json_object_foreach ((json_t *)data, k, v) {
    const char *why = NULL;
    snprintf(f, sizeof(f), "%s[%s]", field, k);
    if (!config_key_ok(k, &why)) reg_cause_invalid_str(causes, f, k, why);
    if (seen) {
      if (json_object_get(seen, k)) reg_cause_add(causes, REG_DUPLICATE, f, "Duplicate value: \"%s\"", k);
      json_object_set_new(seen, k, json_true());
    }
  }
}

void reg_validate_immutable_data(const json_t *obj, const json_t *old, const char *const *fields, json_t *causes)
{
  if (!old || !kj_get_bool(old, "immutable", false)) return;
  for (size_t i = 0; fields[i]; i++) {
    json_t *a = json_object_get(obj, fields[i]), *b = json_object_get(old, fields[i]);
    bool a_empty = !a || json_is_null(a) || (json_is_object(a) && json_object_size(a) == 0);
    bool b_empty = !b || json_is_null(b) || (json_is_object(b) && json_object_size(b) == 0);
    if (a_empty && b_empty) continue;
    if (!a || !b || !json_equal(a, b))
      reg_cause_add(causes, REG_FORBIDDEN, fields[i], "Forbidden: field is immutable when `immutable` is set");
  }
  if (!kj_get_bool(obj, "immutable", false))
    reg_cause_add(causes, REG_FORBIDDEN, "immutable", "Forbidden: field is immutable when `immutable` is set");
}

static size_t map_bytes(const json_t *m)
{
  size_t total = 0;
  const char *k;
  json_t *v;
  json_object_foreach ((json_t *)m, k, v) total += strlen(k) + (json_is_string(v) ? json_string_length(v) : 0);
  return total;
}

static void cm_validate(struct reg_request *rq, const json_t *obj, const json_t *old, json_t *causes)
{
  reg_validate_object_meta(obj, true, true, causes);
  if (old) reg_validate_object_meta_update(obj, old, causes);
  json_t *seen = json_object();
  reg_validate_data_keys(json_object_get(obj, "data"), "data", seen, causes);
  reg_validate_data_keys(json_object_get(obj, "binaryData"), "binaryData", seen, causes);
  json_decref(seen);
  size_t total = map_bytes(json_object_get(obj, "data"));
  /* binaryData is base64 on the wire; count decoded bytes */
  total += map_bytes(json_object_get(obj, "binaryData")) * 3 / 4;
  if (total > REG_CONFIG_MAX_BYTES)
    reg_cause_add(causes, REG_TOO_LONG, "", "Too long: must have at most %d bytes", REG_CONFIG_MAX_BYTES);
  static const char *const fields[] = {"data", "binaryData", NULL};
  reg_validate_immutable_data(obj, old, fields, causes);
}

static json_t *cm_cells(const json_t *obj)
{
  json_t *row = json_array();
  json_array_append_new(row, json_string(reg_str_or(kj_get_str(obj, "metadata.name"), "")));
  json_array_append_new(row, json_integer((json_int_t)(json_object_size(json_object_get(obj, "data")) +
                                                       json_object_size(json_object_get(obj, "binaryData")))));
  json_array_append_new(row, reg_age_cell(obj));
  return row;
}

static const struct reg_column cm_columns[] = {
    {"Name", "string", "name", 0, "Name must be unique within a namespace."},
    {"Data", "string", "", 0, "Data contains the configuration data."},
    {"Age", "string", "", 0,
     "CreationTimestamp is a timestamp representing the server time when this object was created."},
    {NULL},
};

const struct resource reg_configmaps = {
    .group = "",
    .version = "v1",
    .plural = "configmaps",
    .singular = "configmap",
    .kind = "ConfigMap",
    .namespaced = true,
    .short_names = {"cm", NULL},
    .storage_prefix = "/registry/configmaps",
    .validate = cm_validate,
    .columns = cm_columns,
    .cells = cm_cells,
};
