/*
 * ingressclasses.c - the networking.k8s.io/v1 IngressClass strategy
 * (upstream pkg/registry/networking/ingressclass, ValidateIngressClass,
 * printIngressClass).  The controller name is a domain-prefixed path and
 * cannot change; parameters name a kind and object.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>
#include <kube/names.h>

#include "registry/ext_internal.h"
#include "registry/kinds_ext.h"

#define INGRESS_CLASS_CONTROLLER_MAX 250

static void ic_validate(struct reg_request *rq, const json_t *obj, const json_t *old, json_t *causes)
{
  reg_validate_object_meta(obj, false, true, causes);
  if (old) reg_validate_object_meta_update(obj, old, causes);
  const char *ctrl = kj_get_str(obj, "spec.controller");
  char msg[512];
  if (!ctrl || !*ctrl) {
    reg_cause_add(causes, REG_REQUIRED, "spec.controller", "Required value");
  } else if (strlen(ctrl) > INGRESS_CLASS_CONTROLLER_MAX) {
    reg_cause_add(causes, REG_TOO_LONG, "spec.controller", "Too long: may not be more than %d bytes",
                  INGRESS_CLASS_CONTROLLER_MAX);
  } else {
    const char *slash = strchr(ctrl, '/');
    char domain[256];
    snprintf(domain, sizeof(domain), "%.*s", slash ? (int)(slash - ctrl) : 0, ctrl);
    if (!slash || !*domain || !slash[1])
      reg_cause_invalid_str(causes, "spec.controller", ctrl,
                            "must be a domain-prefixed path (such as \"acme.io/foo\")");
    else if (!names_is_dns1123_subdomain(domain, msg, sizeof(msg)))
      reg_cause_invalid_str(causes, "spec.controller", domain, msg);
  }
  json_t *params = kj_get(obj, "spec.parameters");
  if (params) {
    if (!reg_str_or(kj_get_str(params, "kind"), NULL))
      reg_cause_add(causes, REG_REQUIRED, "spec.parameters.kind", "Required value");
    if (!reg_str_or(kj_get_str(params, "name"), NULL))
      reg_cause_add(causes, REG_REQUIRED, "spec.parameters.name", "Required value");
    const char *scope = kj_get_str(params, "scope");
    static const char *const scopes[] = {"Cluster", "Namespace", NULL};
    reg_check_enum(causes, "spec.parameters.scope", scope, scopes);
    const char *pns = kj_get_str(params, "namespace");
    if (scope && !strcmp(scope, "Namespace") && (!pns || !*pns))
      reg_cause_add(causes, REG_REQUIRED, "spec.parameters.namespace",
                    "Required value: `parameters.scope` is set to 'Namespace'");
    if (scope && !strcmp(scope, "Cluster") && pns)
      reg_cause_add(causes, REG_FORBIDDEN, "spec.parameters.namespace",
                    "Forbidden: `parameters.scope` is set to 'Cluster'");
  }
  if (old) {
    json_t *a = kj_get(obj, "spec.controller"), *b = kj_get(old, "spec.controller");
    reg_check_immutable(causes, "spec.controller", a ? a : json_null(), b ? b : json_null());
  }
}

static json_t *ic_cells(const json_t *obj)
{
  json_t *row = reg_row(obj);
  reg_cell_str(row, kj_get_str(obj, "spec.controller"));
  json_t *p = kj_get(obj, "spec.parameters");
  if (p) {
    char buf[512];
    const char *g = kj_get_str(p, "apiGroup");
    if (g && *g)
      snprintf(buf, sizeof(buf), "%s.%s/%s", reg_str_or(kj_get_str(p, "kind"), ""), g,
               reg_str_or(kj_get_str(p, "name"), ""));
    else
      snprintf(buf, sizeof(buf), "%s/%s", reg_str_or(kj_get_str(p, "kind"), ""), reg_str_or(kj_get_str(p, "name"), ""));
    reg_cell_str(row, buf);
  } else {
    reg_cell_str(row, "<none>");
  }
  json_array_append_new(row, reg_age_cell(obj));
  return row;
}

static const struct reg_column ic_columns[] = {
    {"Name", "string", "name", 0, EXT_DESC_NAME},
    {"Controller", "string", "", 0, "Controller that is responsible for handling this class"},
    {"Parameters", "string", "", 0, "A reference to a resource with additional parameters"},
    {"Age", "string", "", 0, EXT_DESC_AGE},
    {NULL},
};

const struct resource reg_ingressclasses = {
    .generation = REG_GEN_SPEC,
    .group = "networking.k8s.io",
    .version = "v1",
    .plural = "ingressclasses",
    .singular = "ingressclass",
    .kind = "IngressClass",
    .namespaced = false,
    .short_names = {NULL},
    .categories = {NULL},
    .storage_prefix = "/registry/ingressclasses",
    .validate = ic_validate,
    .columns = ic_columns,
    .cells = ic_cells,
};
