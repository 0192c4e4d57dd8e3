/*
 * customresourcedefinitions.c - the CustomResourceDefinition strategy
 * (apiextensions.k8s.io/v1), as upstream's
 * apiextensions-apiserver/pkg/registry/customresourcedefinition and
 * pkg/apis/apiextensions/validation.
 *
 * Defaults: names.singular (lower-case kind), names.listKind (KIND+List),
 * conversion {strategy: None}, a webhook service port of 443.
 * Create resets status to the storage version in storedVersions; every
 * update of the main resource adds a new storage version there.  The
 * validation covers metadata.name (PLURAL.GROUP), group, scope, names,
 * versions (exactly one storage version, unique names, a schema for each),
 * printer columns, the scale subresource and, through structural.c, the
 * schemas themselves (non-structural schemas refused with upstream's
 * field paths).  x-kubernetes-validations (CEL) rules are stored but not
 * enforced: the write gets a Warning saying so.
 *
 * Serving the custom resources, the conditions and the deletion
 * finalizer are crd_controller.c's.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>
#include <kube/names.h>

#include "registry/customresources.h"
#include "registry/reg_internal.h"
#include "schema/structural.h"
#include <kube/xalloc.h>

static void crd_defaults(json_t *obj)
{
  json_t *names = kj_get(obj, "spec.names");
  const char *kind = kj_get_str(names, "kind");
  if (json_is_object(names) && kind && *kind) {
    const char *singular = kj_get_str(names, "singular");
    if (!singular || !*singular) {
      char *low = xstrdup(kind);
      for (char *p = low; p && *p; p++) *p = (char)tolower((unsigned char)*p);
      json_object_set_new(names, "singular", json_string(low ? low : ""));
      free(low);
    }
    const char *lk = kj_get_str(names, "listKind");
    if (!lk || !*lk) {
      char buf[300];
      snprintf(buf, sizeof buf, "%sList", kind);
      json_object_set_new(names, "listKind", json_string(buf));
    }
  }
  json_t *spec = json_object_get(obj, "spec");
  if (json_is_object(spec) && !json_object_get(spec, "conversion"))
    json_object_set_new(spec, "conversion", json_pack("{s:s}", "strategy", "None"));
  json_t *svc = kj_get(obj, "spec.conversion.webhook.clientConfig.service");
  if (json_is_object(svc) && !json_object_get(svc, "port")) json_object_set_new(svc, "port", json_integer(443));
}

static const char *storage_version(const json_t *obj)
{
  size_t i;
  json_t *v;
  json_array_foreach (kj_get(obj, "spec.versions"), i, v)
    if (kj_get_bool(v, "storage", false)) return kj_get_str(v, "name");
  return NULL;
}

static void add_stored_version(json_t *obj)
{
  const char *sv = storage_version(obj);
  if (!sv) return;
  json_t *stored = kj_arr(obj, "status.storedVersions");
  size_t i;
  json_t *s;
  json_array_foreach (stored, i, s)
    if (json_is_string(s) && strcmp(json_string_value(s), sv) == 0) return;
  json_array_append_new(stored, json_string(sv));
}

static void crd_prepare_create(struct reg_request *rq, json_t *obj)
{
  (void)rq;
  json_object_set_new(obj, "status", json_object());
  add_stored_version(obj);
}

static void crd_prepare_update(struct reg_request *rq, json_t *obj, const json_t *old)
{
  (void)old;
  if (!rq->subresource) add_stored_version(obj);
}

/* ---- validation ---- */

static void check_dns1035(json_t *causes, const char *field, const char *value, const char *prefix)
{
  char msg[512];
  if (!value || !*value) return;
  char *low = xstrdup(value);
  if (!low) return;
  if (prefix)
    for (char *p = low; *p; p++) *p = (char)tolower((unsigned char)*p);
  if (!names_is_dns1035_label(low, msg, sizeof msg)) {
    char full[700];
    snprintf(full, sizeof full, "%s%s", prefix ? prefix : "", msg);
    reg_cause_invalid_str(causes, field, value, full);
  }
  free(low);
}

static void validate_names(const json_t *names, const char *path, json_t *causes)
{
  char f[128];
  snprintf(f, sizeof f, "%s.plural", path);
  check_dns1035(causes, f, kj_get_str(names, "plural"), NULL);
  snprintf(f, sizeof f, "%s.singular", path);
  check_dns1035(causes, f, kj_get_str(names, "singular"), NULL);
  snprintf(f, sizeof f, "%s.kind", path);
  check_dns1035(causes, f, kj_get_str(names, "kind"), "may have mixed case, but should otherwise match: ");
  snprintf(f, sizeof f, "%s.listKind", path);
  check_dns1035(causes, f, kj_get_str(names, "listKind"), "may have mixed case, but should otherwise match: ");
  size_t i;
  json_t *s;
  json_array_foreach (json_object_get(names, "shortNames"), i, s) {
    snprintf(f, sizeof f, "%s.shortNames[%zu]", path, i);
    check_dns1035(causes, f, json_string_value(s), NULL);
  }
  const char *kind = kj_get_str(names, "kind"), *lk = kj_get_str(names, "listKind");
  if (kind && *kind && lk && strcmp(kind, lk) == 0) {
    snprintf(f, sizeof f, "%s.listKind", path);
    reg_cause_invalid_str(causes, f, lk, "kind and listKind may not be the same");
  }
  json_array_foreach (json_object_get(names, "categories"), i, s) {
    snprintf(f, sizeof f, "%s.categories[%zu]", path, i);
    check_dns1035(causes, f, json_string_value(s), NULL);
  }
}

static void validate_spec_names(const json_t *spec, json_t *causes)
{
  const json_t *names = json_object_get(spec, "names");
  static const char *const req[] = {"plural", "singular", "kind", "listKind"};
  for (size_t i = 0; i < 4; i++) {
    const char *v = kj_get_str(names, req[i]);
    if (!v || !*v) {
      char f[64];
      snprintf(f, sizeof f, "spec.names.%s", req[i]);
      reg_cause_add(causes, REG_REQUIRED, f, "Required value");
    }
  }
  validate_names(names, "spec.names", causes);
}

static void validate_group_scope(const json_t *spec, json_t *causes)
{
  const char *group = kj_get_str(spec, "group");
  char msg[512];
  if (!group || !*group) reg_cause_add(causes, REG_REQUIRED, "spec.group", "Required value");
  else if (!names_is_dns1123_subdomain(group, msg, sizeof msg)) reg_cause_invalid_str(causes, "spec.group", group, msg);
  else if (!strchr(group, '.'))
    reg_cause_invalid_str(causes, "spec.group", group, "should be a domain with at least one dot");
  const char *scope = kj_get_str(spec, "scope");
  static const char *const scopes[] = {"Cluster", "Namespaced", NULL};
  if (!scope || !*scope) reg_cause_add(causes, REG_REQUIRED, "spec.scope", "Required value");
  else reg_check_enum(causes, "spec.scope", scope, scopes);
}

static void validate_columns(const json_t *cols, const char *path, json_t *causes)
{
  static const char *const types[] = {"boolean", "date", "integer", "number", "string", NULL};
  static const char *const formats[] = {"byte",  "date",  "date-time", "double", "float",
                                        "int32", "int64", "password",  NULL};
  size_t i;
  json_t *c;
  char f[192];
  json_array_foreach (cols, i, c) {
    const char *name = kj_get_str(c, "name"), *type = kj_get_str(c, "type"), *fmt = kj_get_str(c, "format");
    const char *jp = kj_get_str(c, "jsonPath");
    if (!name || !*name) {
      snprintf(f, sizeof f, "%s[%zu].name", path, i);
      reg_cause_add(causes, REG_REQUIRED, f, "Required value");
    }
    snprintf(f, sizeof f, "%s[%zu].type", path, i);
    if (!type || !*type) {
      reg_cause_add(causes, REG_REQUIRED, f, "Required value: must be one of boolean,date,integer,number,string");
    } else {
      bool ok = false;
      for (size_t t = 0; types[t]; t++) ok = ok || strcmp(types[t], type) == 0;
      if (!ok) reg_cause_invalid_str(causes, f, type, "must be one of boolean,date,integer,number,string");
    }
    if (fmt && *fmt) {
      bool ok = false;
      for (size_t t = 0; formats[t]; t++) ok = ok || strcmp(formats[t], fmt) == 0;
      snprintf(f, sizeof f, "%s[%zu].format", path, i);
      if (!ok)
        reg_cause_invalid_str(causes, f, fmt, "must be one of byte,date,date-time,double,float,int32,int64,password");
    }
    snprintf(f, sizeof f, "%s[%zu].JSONPath", path, i);
    if (!jp || !*jp) reg_cause_add(causes, REG_REQUIRED, f, "Required value");
    else if (jp[0] != '.') reg_cause_invalid_str(causes, f, jp, "must be a simple json path starting with .");
  }
}

static void validate_scale(const json_t *scale, const char *path, json_t *causes)
{
  static const char *const keys[] = {"specReplicasPath", "statusReplicasPath", "labelSelectorPath"};
  char f[192];
  for (size_t k = 0; k < 3; k++) {
    const char *p = kj_get_str(scale, keys[k]);
    snprintf(f, sizeof f, "%s.scale.%s", path, keys[k]);
    if (!p) {
      if (k < 2) reg_cause_add(causes, REG_REQUIRED, f, "Required value");
      continue;
    }
    if (p[0] != '.') reg_cause_invalid_str(causes, f, p, "should be a json path starting with .");
    else if (k == 0 && strncmp(p, ".spec.", 6) != 0)
      reg_cause_invalid_str(causes, f, p, "should be a json path under .spec");
    else if (k > 0 && strncmp(p, ".status.", 8) != 0 && k == 1)
      reg_cause_invalid_str(causes, f, p, "should be a json path under .status");
    else if (k == 2 && strncmp(p, ".spec.", 6) != 0 && strncmp(p, ".status.", 8) != 0)
      reg_cause_invalid_str(causes, f, p, "should be a json path under either .spec or .status");
  }
}

/* The schema node of a simple path ".a.b" under schema's properties, or
 * NULL (upstream's "does not refer to a valid field"). */
static const json_t *schema_at(const json_t *schema, const char *jp)
{
  const json_t *node = schema;
  const char *p = jp;
  while (node && *p == '.') {
    const char *e = p + 1;
    while (*e && *e != '.') e++;
    const char *bracket = strpbrk(p + 1, "[]");
    if (e == p + 1 || (bracket && bracket < e)) return NULL;
    char name[256];
    snprintf(name, sizeof name, "%.*s", (int)(e - p - 1), p + 1);
    node = json_object_get(json_object_get(node, "properties"), name);
    p = e;
  }
  return *p ? NULL : node;
}

/* Upstream's ValidateCustomResourceSelectableFields. */
static void validate_selectable(const json_t *fields, const json_t *schema, const char *path, json_t *causes)
{
  char f[192];
  json_t *seen = json_object();
  size_t i;
  json_t *sf;
  json_array_foreach (fields, i, sf) {
    const char *jp = kj_get_str(sf, "jsonPath");
    snprintf(f, sizeof f, "%s[%zu].jsonPath", path, i);
    if (!jp || !*jp) {
      reg_cause_add(causes, REG_REQUIRED, f, "Required value");
      continue;
    }
    const json_t *node = jp[0] == '.' ? schema_at(schema, jp) : NULL;
    if (!node) {
      reg_cause_invalid_str(causes, f, jp, "is an invalid path: does not refer to a valid field");
      continue;
    }
    if (!strncmp(jp, ".metadata.", 10) || !strcmp(jp, ".metadata"))
      reg_cause_invalid_str(causes, f, jp, "must not point to fields in metadata");
    const char *type = kj_get_str(node, "type");
    if (!type || (strcmp(type, "string") && strcmp(type, "boolean") && strcmp(type, "integer")))
      reg_cause_invalid_str(causes, f, jp,
                            "must point to a field of type string, boolean or integer. Enum string fields and strings "
                            "with formats are allowed.");
    if (json_object_get(seen, jp)) reg_cause_add(causes, REG_DUPLICATE, f, "Duplicate value: \"%s\"", jp);
    else json_object_set_new(seen, jp, json_true());
  }
  if (json_object_size(seen) > CR_MAX_SELECTABLE)
    reg_cause_add(causes, REG_TOO_LONG, path, "Too many: %zu: must have at most %d items", json_object_size(seen),
                  CR_MAX_SELECTABLE);
  json_decref(seen);
}

static void validate_version(struct reg_request *rq, const json_t *v, size_t i, json_t *causes)
{
  char f[192], msg[512];
  const char *name = kj_get_str(v, "name");
  snprintf(f, sizeof f, "spec.versions[%zu].name", i);
  if (!name || !*name) reg_cause_add(causes, REG_REQUIRED, f, "Required value");
  else if (!names_is_dns1035_label(name, msg, sizeof msg)) reg_cause_invalid_str(causes, f, name, msg);
  const json_t *schema = kj_get(v, "schema.openAPIV3Schema");
  snprintf(f, sizeof f, "spec.versions[%zu].schema.openAPIV3Schema", i);
  bool status_sub = kj_get(v, "subresources.status") != NULL;
  if (!schema) reg_cause_add(causes, REG_REQUIRED, f, "Required value");
  else structural_check(schema, f, status_sub, causes);
  if (schema && structural_has_validations(schema) && rq->warnings)
    json_array_append_new(rq->warnings,
                          json_string("x-kubernetes-validations (CEL) rules are stored but not enforced by this "
                                      "server"));
  snprintf(f, sizeof f, "spec.versions[%zu].additionalPrinterColumns", i);
  validate_columns(kj_get(v, "additionalPrinterColumns"), f, causes);
  snprintf(f, sizeof f, "spec.versions[%zu].selectableFields", i);
  if (schema) validate_selectable(kj_get(v, "selectableFields"), schema, f, causes);
  const json_t *scale = kj_get(v, "subresources.scale");
  if (scale) {
    snprintf(f, sizeof f, "spec.versions[%zu].subresources", i);
    validate_scale(scale, f, causes);
  }
}

static void validate_versions(struct reg_request *rq, const json_t *spec, json_t *causes)
{
  const json_t *versions = json_object_get(spec, "versions");
  size_t i, nstorage = 0;
  json_t *v;
  bool unique = true;
  json_array_foreach (versions, i, v) {
    if (kj_get_bool(v, "storage", false)) nstorage++;
    for (size_t j = 0; j < i; j++) {
      const char *a = kj_get_str(v, "name"), *b = kj_get_str(json_array_get(versions, j), "name");
      if (a && b && strcmp(a, b) == 0) unique = false;
    }
    validate_version(rq, v, i, causes);
  }
  if (!json_array_size(versions)) {
    reg_cause_add(causes, REG_REQUIRED, "spec.versions",
                  "Required value: must have exactly one version marked as storage version");
    return;
  }
  char *gv = kj_dumps(versions);
  if (!unique)
    reg_cause_add(causes, REG_INVALID, "spec.versions", "Invalid value: %s: must contain unique version names",
                  gv ? gv : "");
  if (nstorage != 1)
    reg_cause_add(causes, REG_INVALID, "spec.versions",
                  "Invalid value: %s: must have exactly one version marked as storage version", gv ? gv : "");
  free(gv);
}

static void validate_stored_versions(const json_t *obj, json_t *causes)
{
  const json_t *stored = kj_get(obj, "status.storedVersions");
  size_t i;
  json_t *s;
  json_array_foreach (stored, i, s) {
    bool found = false;
    size_t j;
    json_t *v;
    json_array_foreach (kj_get(obj, "spec.versions"), j, v) {
      const char *n = kj_get_str(v, "name");
      found = found || (n && json_is_string(s) && strcmp(n, json_string_value(s)) == 0);
    }
    if (!found && json_is_string(s)) {
      char f[64];
      snprintf(f, sizeof f, "status.storedVersions[%zu]", i);
      const char *n = json_string_value(s);
      reg_cause_add(causes, REG_INVALID, f,
                    "Invalid value: \"%s\": missing from spec.versions; %s was previously a storage version, and "
                    "must remain in spec.versions until a storage migration ensures no data remains persisted in "
                    "%s and removes %s from status.storedVersions",
                    n, n, n, n);
    }
  }
}

static void crd_validate(struct reg_request *rq, const json_t *obj, const json_t *old, json_t *causes)
{
  reg_validate_object_meta(obj, false, true, causes);
  if (old) reg_validate_object_meta_update(obj, old, causes);
  const json_t *spec = json_object_get(obj, "spec");
  const char *name = kj_get_str(obj, "metadata.name");
  const char *plural = kj_get_str(spec, "names.plural"), *group = kj_get_str(spec, "group");
  char want[600];
  snprintf(want, sizeof want, "%s.%s", plural ? plural : "", group ? group : "");
  if (name && *name && strcmp(name, want) != 0)
    reg_cause_invalid_str(causes, "metadata.name", name, "must be spec.names.plural+\".\"+spec.group");
  validate_group_scope(spec, causes);
  validate_spec_names(spec, causes);
  validate_versions(rq, spec, causes);
  if (old) {
    const char *os = kj_get_str(old, "spec.scope"), *ns = kj_get_str(spec, "scope");
    if (os && ns && strcmp(os, ns) != 0) reg_cause_invalid_str(causes, "spec.scope", ns, "field is immutable");
    const char *og = kj_get_str(old, "spec.group");
    if (og && group && strcmp(og, group) != 0) reg_cause_invalid_str(causes, "spec.group", group, "field is immutable");
  }
  validate_names(kj_get(obj, "status.acceptedNames"), "status.acceptedNames", causes);
  if (rq->subresource) validate_stored_versions(obj, causes);
}

/* `kubectl get crd` shows NAME and CREATED AT (upstream's table). */
static json_t *crd_cells(const json_t *obj)
{
  json_t *row = json_array();
  json_array_append_new(row, json_string(reg_str_or(kj_get_str(obj, "metadata.name"), "")));
  const char *ts = kj_get_str(obj, "metadata.creationTimestamp");
  json_array_append_new(row, ts ? json_string(ts) : json_null());
  return row;
}

static const struct reg_column crd_columns[] = {
    {"Name", "string", "name", 0, "Name must be unique within a namespace."},
    {"Created At", "date", "", 0,
     "CreationTimestamp is a timestamp representing the server time when this object was created."},
    {NULL},
};

const struct resource reg_customresourcedefinitions = {
    .group = "apiextensions.k8s.io",
    .version = "v1",
    .plural = "customresourcedefinitions",
    .singular = "customresourcedefinition",
    .kind = "CustomResourceDefinition",
    .namespaced = false,
    .short_names = {"crd", "crds", NULL},
    .categories = {"api-extensions", NULL},
    .subresources = RES_SUB_STATUS,
    .generation = REG_GEN_SPEC,
    .storage_prefix = "/registry/apiextensions.k8s.io/customresourcedefinitions",
    .defaults = crd_defaults,
    .prepare_create = crd_prepare_create,
    .prepare_update = crd_prepare_update,
    .validate = crd_validate,
    .columns = crd_columns,
    .cells = crd_cells,
};
