/*
 * endpointslices.c - the discovery.k8s.io/v1 EndpointSlice strategy
 * (upstream pkg/registry/discovery/endpointslice), what kube-proxy reads.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>

#include "registry/reg_internal.h"

static const char *const address_types[] = {"FQDN", "IPv4", "IPv6", NULL};
static const char *const protocols[] = {"SCTP", "TCP", "UDP", NULL};

#define EPS_MAX_ENDPOINTS 1000
#define EPS_MAX_ADDRESSES 100
#define EPS_MAX_PORTS 100

static void eps_defaults(json_t *obj)
{
  size_t i;
  json_t *p;
  json_array_foreach (json_object_get(obj, "ports"), i, p) {
    if (!json_is_object(p)) continue;
    kj_default(p, "name", json_string(""));
    kj_default(p, "protocol", json_string("TCP"));
  }
}

static void eps_validate(struct reg_request *rq, const json_t *obj, const json_t *old, json_t *causes)
{
  reg_validate_object_meta(obj, true, true, causes);
  if (old) reg_validate_object_meta_update(obj, old, causes);
  const char *at = kj_get_str(obj, "addressType");
  if (!at || !*at) reg_cause_add(causes, REG_REQUIRED, "addressType", "Required value");
  else reg_check_enum(causes, "addressType", at, address_types);
  if (old)
    reg_check_immutable(causes, "addressType", json_object_get(obj, "addressType"),
                        json_object_get(old, "addressType"));
  json_t *eps = json_object_get(obj, "endpoints");
  char f[128];
  if (json_array_size(eps) > EPS_MAX_ENDPOINTS)
    reg_cause_add(causes, REG_TOO_LONG, "endpoints", "Too many: %zu: must have at most %d items", json_array_size(eps),
                  EPS_MAX_ENDPOINTS);
  size_t i, j;
  json_t *e, *a;
  json_array_foreach (eps, i, e) {
    json_t *addrs = json_object_get(e, "addresses");
    snprintf(f, sizeof(f), "endpoints[%zu].addresses", i);
    if (json_array_size(addrs) == 0)
      reg_cause_add(causes, REG_REQUIRED, f, "Required value: must contain at least 1 address");
    else if (json_array_size(addrs) > EPS_MAX_ADDRESSES)
      reg_cause_add(causes, REG_TOO_LONG, f, "Too many: %zu: must have at most %d items", json_array_size(addrs),
                    EPS_MAX_ADDRESSES);
    json_array_foreach (addrs, j, a) {
      const char *s = json_string_value(a);
      if (!s || !*s) {
        snprintf(f, sizeof(f), "endpoints[%zu].addresses[%zu]", i, j);
        reg_cause_invalid_str(causes, f, s ? s : "", "must be a valid IP address");
      }
    }
  }
  json_t *ports = json_object_get(obj, "ports"), *p;
  json_t *names = json_object();
  json_array_foreach (ports, i, p) {
    const char *proto = kj_get_str(p, "protocol");
    snprintf(f, sizeof(f), "ports[%zu].protocol", i);
    if (proto) reg_check_enum(causes, f, proto, protocols);
    json_t *port = json_object_get(p, "port");
    if (port && !json_is_null(port) && (json_integer_value(port) < 1 || json_integer_value(port) > 65535)) {
      snprintf(f, sizeof(f), "ports[%zu].port", i);
      reg_cause_invalid(causes, f, port, "must be between 1 and 65535, inclusive");
    }
    const char *name = reg_str_or(kj_get_str(p, "name"), "");
    snprintf(f, sizeof(f), "ports[%zu].name", i);
    if (json_object_get(names, name)) reg_cause_add(causes, REG_DUPLICATE, f, "Duplicate value: \"%s\"", name);
    json_object_set_new(names, name, json_true());
  }
  json_decref(names);
}

#define EPS_MAX_SHOWN 3

static void list_with_more(FILE *f, size_t shown, bool more, size_t count)
{
  if (more) fprintf(f, " + %zu more...", count - EPS_MAX_SHOWN);
  (void)shown;
}

static json_t *eps_cells(const json_t *obj)
{
  json_t *row = json_array();
  json_array_append_new(row, json_string(reg_str_or(kj_get_str(obj, "metadata.name"), "")));
  json_array_append_new(row, json_string(reg_str_or(kj_get_str(obj, "addressType"), "")));

  char *buf = NULL;
  size_t len = 0, shown = 0, count = 0, i, j;
  bool more = false;
  FILE *f = open_memstream(&buf, &len);
  json_t *p;
  json_array_foreach (json_object_get(obj, "ports"), i, p) {
    if (shown < EPS_MAX_SHOWN) {
      json_t *port = json_object_get(p, "port");
      if (json_is_integer(port)) fprintf(f, "%s%lld", shown ? "," : "", (long long)json_integer_value(port));
      else if (kj_get_str(p, "name")) fprintf(f, "%s%s", shown ? "," : "", kj_get_str(p, "name"));
      else fprintf(f, "%s*", shown ? "," : "");
      shown++;
    } else {
      more = true;
    }
    count++;
  }
  list_with_more(f, shown, more, count);
  fclose(f);
  json_array_append_new(row, json_string(buf && *buf ? buf : "<unset>"));
  free(buf);

  buf = NULL;
  shown = count = 0;
  more = false;
  f = open_memstream(&buf, &len);
  json_t *e, *a;
  json_array_foreach (json_object_get(obj, "endpoints"), i, e) {
    json_array_foreach (json_object_get(e, "addresses"), j, a) {
      if (shown < EPS_MAX_SHOWN) {
        fprintf(f, "%s%s", shown ? "," : "", reg_str_or(json_string_value(a), ""));
        shown++;
      } else {
        more = true;
      }
      count++;
    }
  }
  list_with_more(f, shown, more, count);
  fclose(f);
  json_array_append_new(row, json_string(buf && *buf ? buf : "<unset>"));
  free(buf);
  json_array_append_new(row, reg_age_cell(obj));
  return row;
}

static const struct reg_column eps_columns[] = {
    {"Name", "string", "name", 0, "Name must be unique within a namespace."},
    {"AddressType", "string", "", 0, "addressType specifies the type of address carried by this EndpointSlice."},
    {"Ports", "string", "", 0, "ports specifies the list of network ports exposed by each endpoint in this slice."},
    {"Endpoints", "string", "", 0, "endpoints is a list of unique endpoints in this slice."},
    {"Age", "string", "", 0,
     "CreationTimestamp is a timestamp representing the server time when this object was created."},
    {NULL},
};

const struct resource reg_endpointslices = {
    .generation = REG_GEN_SPEC,
    .group = "discovery.k8s.io",
    .version = "v1",
    .plural = "endpointslices",
    .singular = "endpointslice",
    .kind = "EndpointSlice",
    .namespaced = true,
    .storage_prefix = "/registry/endpointslices",
    .defaults = eps_defaults,
    .validate = eps_validate,
    .columns = eps_columns,
    .cells = eps_cells,
};
