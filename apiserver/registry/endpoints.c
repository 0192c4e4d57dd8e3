/*
 * endpoints.c - the Endpoints strategy (upstream pkg/registry/core/endpoint)
 * and the ENDPOINTS column ("10.0.0.1:80,10.0.0.2:80 + 1 more...").
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>

#include "registry/reg_internal.h"

static const char *const protocols[] = {"SCTP", "TCP", "UDP", NULL};

static void ep_defaults(json_t *obj)
{
  size_t i, j;
  json_t *ss, *p;
  json_array_foreach (json_object_get(obj, "subsets"), i, ss) {
    json_array_foreach (json_object_get(ss, "ports"), j, p) {
      if (json_is_object(p)) kj_default(p, "protocol", json_string("TCP"));
    }
  }
}

static void validate_addresses(const json_t *addrs, const char *path, json_t *causes)
{
  size_t i;
  json_t *a;
  char f[256];
  json_array_foreach (addrs, i, a) {
    const char *ip = kj_get_str(a, "ip");
    snprintf(f, sizeof(f), "%s[%zu].ip", path, i);
    struct in6_addr tmp;
    if (!ip || !*ip) reg_cause_add(causes, REG_REQUIRED, f, "Required value");
    else if (inet_pton(AF_INET, ip, &tmp) != 1 && inet_pton(AF_INET6, ip, &tmp) != 1)
      reg_cause_invalid_str(causes, f, ip, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)");
  }
}

static void ep_validate(struct reg_request *rq, const json_t *obj, const json_t *old, json_t *causes)
{
  reg_validate_object_meta(obj, true, true, causes);
  if (old) reg_validate_object_meta_update(obj, old, causes);
  size_t i, j;
  json_t *ss, *p;
  char f[256];
  json_array_foreach (json_object_get(obj, "subsets"), i, ss) {
    snprintf(f, sizeof(f), "subsets[%zu].addresses", i);
    validate_addresses(json_object_get(ss, "addresses"), f, causes);
    snprintf(f, sizeof(f), "subsets[%zu].notReadyAddresses", i);
    validate_addresses(json_object_get(ss, "notReadyAddresses"), f, causes);
    json_t *ports = json_object_get(ss, "ports");
    json_array_foreach (ports, j, p) {
      const char *name = kj_get_str(p, "name");
      if (json_array_size(ports) > 1 && (!name || !*name)) {
        snprintf(f, sizeof(f), "subsets[%zu].ports[%zu].name", i, j);
        reg_cause_add(causes, REG_REQUIRED, f, "Required value");
      }
      json_t *port = json_object_get(p, "port");
      int64_t n = json_integer_value(port);
      snprintf(f, sizeof(f), "subsets[%zu].ports[%zu].port", i, j);
      if (!port) reg_cause_add(causes, REG_REQUIRED, f, "Required value");
      else if (n < 1 || n > 65535) reg_cause_invalid(causes, f, port, "must be between 1 and 65535, inclusive");
      snprintf(f, sizeof(f), "subsets[%zu].ports[%zu].protocol", i, j);
      const char *proto = kj_get_str(p, "protocol");
      if (!proto) reg_cause_add(causes, REG_REQUIRED, f, "Required value");
      else reg_check_enum(causes, f, proto, protocols);
    }
  }
}

#define EP_MAX_SHOWN 3

static json_t *ep_cells(const json_t *obj)
{
  char *buf = NULL;
  size_t len = 0, shown = 0, count = 0, i, j, k;
  bool more = false;
  FILE *f = open_memstream(&buf, &len);
  json_t *ss, *p, *a;
  json_array_foreach (json_object_get(obj, "subsets"), i, ss) {
    json_t *ports = json_object_get(ss, "ports"), *addrs = json_object_get(ss, "addresses");
    if (json_array_size(ports) == 0) {
      count += json_array_size(addrs);
      json_array_foreach (addrs, k, a) {
        if (shown == EP_MAX_SHOWN) {
          more = true;
          break;
        }
        fprintf(f, "%s%s", shown++ ? "," : "", reg_str_or(kj_get_str(a, "ip"), ""));
      }
      continue;
    }
    json_array_foreach (ports, j, p) {
      count += json_array_size(addrs);
      json_array_foreach (addrs, k, a) {
        if (shown == EP_MAX_SHOWN) {
          more = true;
          break;
        }
        const char *ip = reg_str_or(kj_get_str(a, "ip"), "");
        long long port = (long long)kj_get_int(p, "port", 0);
        if (strchr(ip, ':')) fprintf(f, "%s[%s]:%lld", shown++ ? "," : "", ip, port);
        else fprintf(f, "%s%s:%lld", shown++ ? "," : "", ip, port);
      }
    }
  }
  if (more) fprintf(f, " + %zu more...", count - EP_MAX_SHOWN);
  fclose(f);
  json_t *row = json_array();
  json_array_append_new(row, json_string(reg_str_or(kj_get_str(obj, "metadata.name"), "")));
  json_array_append_new(row, json_string(buf && *buf ? buf : "<none>"));
  json_array_append_new(row, reg_age_cell(obj));
  free(buf);
  return row;
}

static const struct reg_column ep_columns[] = {
    {"Name", "string", "name", 0, "Name must be unique within a namespace."},
    {"Endpoints", "string", "", 0, "Endpoints of the service"},
    {"Age", "string", "", 0,
     "CreationTimestamp is a timestamp representing the server time when this object was created."},
    {NULL},
};

const struct resource reg_endpoints = {
    .group = "",
    .version = "v1",
    .plural = "endpoints",
    .singular = "endpoints",
    .kind = "Endpoints",
    .namespaced = true,
    .short_names = {"ep", NULL},
    .storage_prefix = "/registry/services/endpoints",
    .defaults = ep_defaults,
    .validate = ep_validate,
    .columns = ep_columns,
    .cells = ep_cells,
};
