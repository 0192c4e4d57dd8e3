/*
 * ingresses.c - the networking.k8s.io/v1 Ingress strategy (upstream
 * pkg/registry/networking/ingress, ValidateIngress, printIngress).
 *
 * Every path needs a pathType (no default in v1), Exact and Prefix paths
 * must be absolute, and each backend names exactly one of a service (with
 * a port name or number) or a resource.  An Ingress needs rules or a
 * default backend.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>
#include <kube/names.h>

#include "registry/ext_internal.h"
#include "registry/kinds_ext.h"
#include <kube/xalloc.h>

#define INGRESS_ADDRESS_WIDTH 16

static void validate_backend(const json_t *b, const char *f, json_t *causes)
{
  char ff[640], msg[512];
  json_t *svc = json_object_get(b, "service"), *res = json_object_get(b, "resource");
  if (svc && res) {
    reg_cause_invalid_str(causes, f, "", "cannot set both resource and service backends");
    return;
  }
  if (!svc && !res) {
    reg_cause_invalid_str(causes, f, "", "one backend (service or resource) must be specified");
    return;
  }
  if (res) {
    snprintf(ff, sizeof(ff), "%s.resource.kind", f);
    if (!reg_str_or(kj_get_str(res, "kind"), NULL)) reg_cause_add(causes, REG_REQUIRED, ff, "Required value");
    snprintf(ff, sizeof(ff), "%s.resource.name", f);
    if (!reg_str_or(kj_get_str(res, "name"), NULL)) reg_cause_add(causes, REG_REQUIRED, ff, "Required value");
    return;
  }
  const char *name = kj_get_str(svc, "name");
  snprintf(ff, sizeof(ff), "%s.service.name", f);
  if (!name || !*name) reg_cause_add(causes, REG_REQUIRED, ff, "Required value");
  else if (!names_is_dns1035_label(name, msg, sizeof(msg))) reg_cause_invalid_str(causes, ff, name, msg);
  json_t *port = json_object_get(svc, "port");
  const char *pname = kj_get_str(port, "name");
  json_t *pnum = json_object_get(port, "number");
  bool has_name = pname && *pname, has_num = pnum && json_integer_value(pnum) != 0;
  snprintf(ff, sizeof(ff), "%s.service.port", f);
  if (has_name && has_num) {
    ext_cause_invalid_any(causes, ff, port, "cannot specify both port name and port number");
  } else if (has_name) {
    /* IANA service names: at most 15 chars, lowercase alphanumerics and '-'. */
    snprintf(ff, sizeof(ff), "%s.service.port.name", f);
    if (strlen(pname) > 15 || !names_is_dns1123_label(pname, msg, sizeof(msg)))
      reg_cause_invalid_str(causes, ff, pname, "must be no more than 15 characters");
  } else if (has_num) {
    if (json_integer_value(pnum) < 1 || json_integer_value(pnum) > 65535) {
      snprintf(ff, sizeof(ff), "%s.service.port.number", f);
      reg_cause_invalid(causes, ff, pnum, "must be between 1 and 65535, inclusive");
    }
  } else {
    reg_cause_add(causes, REG_REQUIRED, ff, "Required value: port name or number is required");
  }
}

static void validate_host(const char *host, const char *f, json_t *causes)
{
  char msg[512];
  struct in6_addr a6;
  struct in_addr a4;
  if (inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1) {
    reg_cause_invalid_str(causes, f, host, "must be a DNS name, not an IP address");
    return;
  }
  if (!strncmp(host, "*.", 2)) {
    if (!names_is_dns1123_subdomain(host + 2, msg, sizeof(msg)))
      reg_cause_invalid_str(causes, f, host,
                            "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, "
                            "which must consist of lower case alphanumeric characters, '-' or '.' and end with an "
                            "alphanumeric character (e.g. '*.example.com', regex used for validation is "
                            "'\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
  } else if (!names_is_dns1123_subdomain(host, msg, sizeof(msg))) {
    reg_cause_invalid_str(causes, f, host, msg);
  }
}

static void ing_validate(struct reg_request *rq, const json_t *obj, const json_t *old, json_t *causes)
{
  reg_validate_object_meta(obj, true, true, causes);
  if (old) reg_validate_object_meta_update(obj, old, causes);
  if (old && ext_is_status(rq)) return;
  const json_t *spec = json_object_get(obj, "spec");
  json_t *rules = json_object_get(spec, "rules");
  json_t *dflt = json_object_get(spec, "defaultBackend");
  if (json_array_size(rules) == 0 && !dflt)
    reg_cause_add(causes, REG_INVALID, "spec",
                  "Invalid value: []networking.IngressRule(nil): either `defaultBackend` or `rules` must be specified");
  if (dflt) validate_backend(dflt, "spec.defaultBackend", causes);
  const char *cls = kj_get_str(spec, "ingressClassName");
  char msg[512];
  if (cls && !names_is_dns1123_subdomain(cls, msg, sizeof(msg)))
    reg_cause_invalid_str(causes, "spec.ingressClassName", cls, msg);
  size_t i, j;
  json_t *r, *p;
  json_array_foreach (rules, i, r) {
    char f[128], ff[512];
    snprintf(f, sizeof(f), "spec.rules[%zu]", i);
    const char *host = kj_get_str(r, "host");
    if (host && *host) {
      snprintf(ff, sizeof(ff), "%s.host", f);
      validate_host(host, ff, causes);
    }
    json_t *http = json_object_get(r, "http");
    if (!http) continue;
    json_t *paths = json_object_get(http, "paths");
    if (json_array_size(paths) == 0) {
      snprintf(ff, sizeof(ff), "%s.http.paths", f);
      reg_cause_add(causes, REG_REQUIRED, ff, "Required value");
    }
    json_array_foreach (paths, j, p) {
      char pf[256];
      snprintf(pf, sizeof(pf), "%s.http.paths[%zu]", f, j);
      const char *pt = kj_get_str(p, "pathType");
      const char *path = reg_str_or(kj_get_str(p, "path"), "");
      snprintf(ff, sizeof(ff), "%s.pathType", pf);
      static const char *const types[] = {"Exact", "ImplementationSpecific", "Prefix", NULL};
      if (!pt || !*pt) {
        reg_cause_add(causes, REG_REQUIRED, ff, "Required value: pathType must be specified");
      } else {
        reg_check_enum(causes, ff, pt, types);
        snprintf(ff, sizeof(ff), "%s.path", pf);
        if ((!strcmp(pt, "Exact") || !strcmp(pt, "Prefix"))) {
          if (path[0] != '/') reg_cause_invalid_str(causes, ff, path, "must be an absolute path");
          else if (strstr(path, "//")) reg_cause_invalid_str(causes, ff, path, "must not contain '//'");
        } else if (*path && path[0] != '/') {
          reg_cause_invalid_str(causes, ff, path, "must be an absolute path");
        }
      }
      snprintf(ff, sizeof(ff), "%s.backend", pf);
      validate_backend(json_object_get(p, "backend"), ff, causes);
    }
  }
  json_t *tls;
  json_array_foreach (json_object_get(spec, "tls"), i, tls) {
    json_t *h;
    json_array_foreach (json_object_get(tls, "hosts"), j, h) {
      char ff[128];
      snprintf(ff, sizeof(ff), "spec.tls[%zu].hosts[%zu]", i, j);
      if (json_is_string(h)) validate_host(json_string_value(h), ff, causes);
    }
  }
}

static json_t *ing_cells(const json_t *obj)
{
  json_t *row = reg_row(obj);
  reg_cell_str(row, reg_str_or(kj_get_str(obj, "spec.ingressClassName"), "<none>"));
  /* formatHosts: up to three hosts, then "+ N more..." */
  json_t *rules = kj_get(obj, "spec.rules");
  char hosts[1024] = "";
  size_t i, n = 0;
  json_t *r;
  bool more = false;
  json_array_foreach (rules, i, r) {
    if (n == 3) more = true;
    const char *h = kj_get_str(r, "host");
    if (!more && h && *h) {
      if (n) strncat(hosts, ",", sizeof(hosts) - strlen(hosts) - 1);
      strncat(hosts, h, sizeof(hosts) - strlen(hosts) - 1);
      n++;
    }
  }
  if (n == 0) snprintf(hosts, sizeof(hosts), "*");
  else if (more) {
    char tail[64];
    snprintf(tail, sizeof(tail), " + %zu more...", json_array_size(rules) - 3);
    strncat(hosts, tail, sizeof(hosts) - strlen(hosts) - 1);
  }
  reg_cell_str(row, hosts);
  /* Address: distinct IPs/hostnames, sorted, clipped to 16 chars. */
  json_t *lb = kj_get(obj, "status.loadBalancer.ingress");
  const char **addrs = xcalloc(json_array_size(lb) + 1, sizeof(*addrs));
  size_t na = 0;
  json_t *e;
  json_array_foreach (lb, i, e) {
    const char *a = reg_str_or(kj_get_str(e, "ip"), kj_get_str(e, "hostname"));
    if (!a || !*a) continue;
    bool dup = false;
    for (size_t k = 0; k < na; k++)
      if (!strcmp(addrs[k], a)) dup = true;
    if (!dup) addrs[na++] = a;
  }
  qsort(addrs, na, sizeof(*addrs), reg_cmp_str);
  char addr[1024] = "";
  for (size_t k = 0; k < na; k++) {
    if (k) strncat(addr, ",", sizeof(addr) - strlen(addr) - 1);
    strncat(addr, addrs[k], sizeof(addr) - strlen(addr) - 1);
  }
  free(addrs);
  if (strlen(addr) > INGRESS_ADDRESS_WIDTH) strcpy(addr + INGRESS_ADDRESS_WIDTH - 3, "...");
  reg_cell_str(row, addr);
  reg_cell_str(row, json_array_size(kj_get(obj, "spec.tls")) ? "80, 443" : "80");
  json_array_append_new(row, reg_age_cell(obj));
  return row;
}

static const struct reg_column ing_columns[] = {
    {"Name", "string", "name", 0, EXT_DESC_NAME},
    {"Class", "string", "", 0, "The name of the IngressClass resource that should be used for this Ingress"},
    {"Hosts", "string", "", 0, "Hosts that incoming requests are matched against before the ingress rule"},
    {"Address", "string", "", 0, "Address is a list containing ingress points for the load-balancer"},
    {"Ports", "string", "", 0, "Ports of TLS configurations that open"},
    {"Age", "string", "", 0, EXT_DESC_AGE},
    {NULL},
};

const struct resource reg_ingresses = {
    .generation = REG_GEN_SPEC,
    .group = "networking.k8s.io",
    .version = "v1",
    .plural = "ingresses",
    .singular = "ingress",
    .kind = "Ingress",
    .namespaced = true,
    .short_names = {"ing", NULL},
    .categories = {NULL},
    .subresources = RES_SUB_STATUS,
    .storage_prefix = "/registry/ingress",
    .prepare_create = ext_prepare_create,
    .prepare_update = ext_prepare_update,
    .validate = ing_validate,
    .columns = ing_columns,
    .cells = ing_cells,
};
