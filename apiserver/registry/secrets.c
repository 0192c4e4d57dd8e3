/*
 * secrets.c - the Secret strategy (upstream pkg/registry/core/secret).
 *
 * type defaults to Opaque and is immutable.  stringData, a write-only
 * convenience, is merged into data (base64-encoded, winning over data)
 * and dropped, as upstream's conversion does.  Well-known types require
 * their keys (kubernetes.io/tls needs tls.crt and tls.key...).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/base64.h>
#include <kube/json.h>

#include "registry/reg_internal.h"

#define REG_SECRET_MAX_BYTES (1024 * 1024)

static void secret_defaults(json_t *obj)
{
  const char *t = kj_get_str(obj, "type");
  if (!t || !*t) kj_set_str(obj, "type", "Opaque");
  json_t *sd = json_object_get(obj, "stringData");
  if (json_is_object(sd)) {
    json_t *data = kj_obj(obj, "data");
    const char *k;
    json_t *v;
    json_object_foreach (sd, k, v) {
      if (!json_is_string(v) || !data) continue;
      char *e = kb64_encode(json_string_value(v), json_string_length(v), KB64_STD);
      if (e) json_object_set_new(data, k, json_string(e));
      free(e);
    }
  }
  json_object_del(obj, "stringData");
}

static size_t decoded_bytes(const json_t *data)
{
  size_t total = 0;
  const char *k;
  json_t *v;
  json_object_foreach ((json_t *)data, k, v)
    total += strlen(k) + (json_is_string(v) ? json_string_length(v) * 3 / 4 : 0);
  return total;
}

static bool valid_b64(const char *s)
{
  size_t n = strlen(s), pad = 0;
  if (n % 4) return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == '=') {
      pad++;
      continue;
    }
    if (pad || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/'))
      return false;
  }
  return pad <= 2;
}

static void require_key(const json_t *obj, const char *key, json_t *causes)
{
  if (!kj_get(obj, "data") || !json_object_get(json_object_get(obj, "data"), key)) {
    char f[128];
    snprintf(f, sizeof(f), "data[%s]", key);
    reg_cause_add(causes, REG_REQUIRED, f, "Required value");
  }
}

static void secret_validate(struct reg_request *rq, const json_t *obj, const json_t *old, json_t *causes)
{
  reg_validate_object_meta(obj, true, true, causes);
  if (old) reg_validate_object_meta_update(obj, old, causes);
  json_t *data = json_object_get(obj, "data");
  reg_validate_data_keys(data, "data", NULL, causes);
  const char *k;
  json_t *v;
  json_object_foreach (data, k, v) {
    if (!json_is_string(v) || !valid_b64(json_string_value(v))) {
      char f[300];
      snprintf(f, sizeof(f), "data[%s]", k);
      reg_cause_add(causes, REG_INVALID, f, "Invalid value: \"<secret contents redacted>\": must be base64-encoded");
    }
  }
  if (decoded_bytes(data) > REG_SECRET_MAX_BYTES)
    reg_cause_add(causes, REG_TOO_LONG, "data", "Too long: may not be more than %d bytes", REG_SECRET_MAX_BYTES);

  const char *type = reg_str_or(kj_get_str(obj, "type"), "Opaque");
  if (!strcmp(type, "kubernetes.io/service-account-token")) {
    const char *sa = kj_get_str(obj, "metadata.annotations[\"kubernetes.io/service-account.name\"]");
    if (!sa || !*sa)
      reg_cause_add(causes, REG_REQUIRED, "metadata.annotations[kubernetes.io/service-account.name]", "Required value");
  } else if (!strcmp(type, "kubernetes.io/dockercfg")) {
    require_key(obj, ".dockercfg", causes);
  } else if (!strcmp(type, "kubernetes.io/dockerconfigjson")) {
    require_key(obj, ".dockerconfigjson", causes);
  } else if (!strcmp(type, "kubernetes.io/tls")) {
    require_key(obj, "tls.key", causes);
    require_key(obj, "tls.crt", causes);
  } else if (!strcmp(type, "kubernetes.io/ssh-auth")) {
    require_key(obj, "ssh-privatekey", causes);
  }
  if (old) {
    const char *ot = reg_str_or(kj_get_str(old, "type"), "Opaque");
    if (strcmp(ot, type)) reg_cause_invalid_str(causes, "type", type, "field is immutable");
    static const char *const fields[] = {"data", NULL};
    reg_validate_immutable_data(obj, old, fields, causes);
  }
}

static const char *const secret_fields[] = {"type", NULL};

static const char *secret_field_value(const json_t *obj, const char *field, char *buf, size_t len)
{
  if (strcmp(field, "type")) return NULL;
  snprintf(buf, len, "%s", reg_str_or(kj_get_str(obj, "type"), ""));
  return buf;
}

static json_t *secret_cells(const json_t *obj)
{
  json_t *row = json_array();
  json_array_append_new(row, json_string(reg_str_or(kj_get_str(obj, "metadata.name"), "")));
  json_array_append_new(row, json_string(reg_str_or(kj_get_str(obj, "type"), "")));
  json_array_append_new(row, json_integer((json_int_t)json_object_size(json_object_get(obj, "data"))));
  json_array_append_new(row, reg_age_cell(obj));
  return row;
}

static const struct reg_column secret_columns[] = {
    {"Name", "string", "name", 0, "Name must be unique within a namespace."},
    {"Type", "string", "", 0, "Used to facilitate programmatic handling of secret data."},
    {"Data", "string", "", 0, "Data contains the secret data."},
    {"Age", "string", "", 0,
     "CreationTimestamp is a timestamp representing the server time when this object was created."},
    {NULL},
};

const struct resource reg_secrets = {
    .group = "",
    .version = "v1",
    .plural = "secrets",
    .singular = "secret",
    .kind = "Secret",
    .namespaced = true,
    .storage_prefix = "/registry/secrets",
    .field_selectors = secret_fields,
    .defaults = secret_defaults,
    .validate = secret_validate,
    .field_value = secret_field_value,
    .columns = secret_columns,
    .cells = secret_cells,
};
