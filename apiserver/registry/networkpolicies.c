/*
 * networkpolicies.c - the networking.k8s.io/v1 NetworkPolicy strategy
 * (upstream pkg/registry/networking/networkpolicy,
 * SetDefaults_NetworkPolicy, ValidateNetworkPolicy, printNetworkPolicy).
 *
 * policyTypes defaults to [Ingress], plus Egress when egress rules are
 * given; rule ports default to TCP.  A port is a number (with an optional
 * endPort range) or a named port.
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

static void np_defaults(json_t *obj)
{
  json_t *spec = kj_obj(obj, "spec");
  if (!spec) return;
  static const char *const dirs[] = {"ingress", "egress", NULL};
  for (size_t d = 0; dirs[d]; d++) {
    size_t i, j;
    json_t *rule, *port;
    json_array_foreach (json_object_get(spec, dirs[d]), i, rule) {
      json_array_foreach (json_object_get(rule, "ports"), j, port) {
        if (json_is_object(port)) kj_default(port, "protocol", json_string("TCP"));
      }
    }
  }
  if (json_array_size(json_object_get(spec, "policyTypes")) == 0) {
    json_t *types = json_array();
    json_array_append_new(types, json_string("Ingress"));
    if (json_array_size(json_object_get(spec, "egress")) > 0) json_array_append_new(types, json_string("Egress"));
    json_object_set_new(spec, "policyTypes", types);
  }
  kj_default(spec, "podSelector", json_object());
}

static void validate_port(const json_t *p, const char *f, json_t *causes)
{
  char ff[256], msg[512];
  static const char *const protos[] = {"SCTP", "TCP", "UDP", NULL};
  snprintf(ff, sizeof(ff), "%s.protocol", f);
  reg_check_enum(causes, ff, kj_get_str(p, "protocol"), protos);
  json_t *port = json_object_get(p, "port"), *end = json_object_get(p, "endPort");
  snprintf(ff, sizeof(ff), "%s.port", f);
  if (json_is_integer(port)) {
    if (json_integer_value(port) < 1 || json_integer_value(port) > 65535)
      reg_cause_invalid(causes, ff, port, "must be between 1 and 65535, inclusive");
    if (end) {
      snprintf(ff, sizeof(ff), "%s.endPort", f);
      if (json_integer_value(end) < json_integer_value(port))
        reg_cause_invalid(causes, ff, end, "must be greater than or equal to `port`");
      else if (json_integer_value(end) > 65535)
        reg_cause_invalid(causes, ff, end, "must be between 1 and 65535, inclusive");
    }
  } else if (json_is_string(port)) {
    const char *s = json_string_value(port);
    if (strlen(s) > 15 || !names_is_dns1123_label(s, msg, sizeof(msg)))
      reg_cause_invalid_str(causes, ff, s, "must be no more than 15 characters");
    if (end) {
      snprintf(ff, sizeof(ff), "%s.endPort", f);
      reg_cause_invalid(causes, ff, end, "may not be specified when `port` is non-numeric");
    }
  } else if (end) {
    snprintf(ff, sizeof(ff), "%s.endPort", f);
    reg_cause_add(causes, REG_REQUIRED, ff, "Required value: may not be specified when `port` is not specified");
  }
}

static bool valid_cidr(const char *s)
{
  char buf[64];
  const char *slash = strchr(s, '/');
  if (!slash || (size_t)(slash - s) >= sizeof(buf)) return false;
  memcpy(buf, s, (size_t)(slash - s));
  buf[slash - s] = 0;
  char *end;
  long bits = strtol(slash + 1, &end, 10);
  if (*end || end == slash + 1) return false;
  unsigned char addr[16];
  if (inet_pton(AF_INET, buf, addr) == 1) return bits >= 0 && bits <= 32;
  if (inet_pton(AF_INET6, buf, addr) == 1) return bits >= 0 && bits <= 128;
  return false;
}

static void validate_peer(const json_t *peer, const char *f, json_t *causes)
{
  char ff[256];
  int n = 0;
  json_t *ps = json_object_get(peer, "podSelector"), *nss = json_object_get(peer, "namespaceSelector");
  json_t *ip = json_object_get(peer, "ipBlock");
  if (ps) {
    n++;
    snprintf(ff, sizeof(ff), "%s.podSelector", f);
    reg_validate_label_selector(ps, ff, causes);
  }
  if (nss) {
    n++;
    snprintf(ff, sizeof(ff), "%s.namespaceSelector", f);
    reg_validate_label_selector(nss, ff, causes);
  }
  if (ip) {
    n++;
    const char *cidr = kj_get_str(ip, "cidr");
    snprintf(ff, sizeof(ff), "%s.ipBlock.cidr", f);
    if (!cidr || !*cidr) reg_cause_add(causes, REG_REQUIRED, ff, "Required value");
    else if (!valid_cidr(cidr))
      reg_cause_invalid_str(causes, ff, cidr, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)");
    size_t i;
    json_t *ex;
    json_array_foreach (json_object_get(ip, "except"), i, ex) {
      snprintf(ff, sizeof(ff), "%s.ipBlock.except[%zu]", f, i);
      const char *e = json_is_string(ex) ? json_string_value(ex) : "";
      if (!valid_cidr(e))
        reg_cause_invalid_str(causes, ff, e, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)");
    }
  }
  if (n == 0) reg_cause_add(causes, REG_REQUIRED, f, "Required value: must specify a peer");
  else if (ip && n > 1)
    reg_cause_add(causes, REG_FORBIDDEN, f, "Forbidden: may not specify both ipBlock and another peer");
}

static void np_validate(struct reg_request *rq, const json_t *obj, const json_t *old, json_t *causes)
{
  reg_validate_object_meta(obj, true, true, causes);
  if (old) reg_validate_object_meta_update(obj, old, causes);
  const json_t *spec = json_object_get(obj, "spec");
  reg_validate_label_selector(json_object_get(spec, "podSelector"), "spec.podSelector", causes);
  static const char *const dirs[][2] = {{"ingress", "from"}, {"egress", "to"}};
  for (size_t d = 0; d < 2; d++) {
    size_t i, j;
    json_t *rule, *x;
    json_array_foreach (json_object_get(spec, dirs[d][0]), i, rule) {
      char f[128];
      json_array_foreach (json_object_get(rule, "ports"), j, x) {
        snprintf(f, sizeof(f), "spec.%s[%zu].ports[%zu]", dirs[d][0], i, j);
        validate_port(x, f, causes);
      }
      json_array_foreach (json_object_get(rule, dirs[d][1]), j, x) {
        snprintf(f, sizeof(f), "spec.%s[%zu].%s[%zu]", dirs[d][0], i, dirs[d][1], j);
        validate_peer(x, f, causes);
      }
    }
  }
  json_t *types = json_object_get(spec, "policyTypes");
  static const char *const allowed[] = {"Ingress", "Egress", NULL};
  size_t i;
  json_t *t;
  json_array_foreach (types, i, t) {
    char f[64];
    snprintf(f, sizeof(f), "spec.policyTypes[%zu]", i);
    reg_check_enum(causes, f, json_is_string(t) ? json_string_value(t) : "", allowed);
  }
  if (json_array_size(types) > 2)
    ext_cause_invalid_any(causes, "spec.policyTypes", types, "may not specify more than two policyTypes");
}

static json_t *np_cells(const json_t *obj)
{
  json_t *row = reg_row(obj);
  char *sel = ext_selector_string(kj_get(obj, "spec.podSelector"));
  reg_cell_str(row, sel);
  free(sel);
  json_array_append_new(row, reg_age_cell(obj));
  return row;
}

static const struct reg_column np_columns[] = {
    {"Name", "string", "name", 0, EXT_DESC_NAME},
    {"Pod-Selector", "string", "", 0, "podSelector selects the pods to which this NetworkPolicy object applies."},
    {"Age", "string", "", 0, EXT_DESC_AGE},
    {NULL},
};

const struct resource reg_networkpolicies = {
    .generation = REG_GEN_SPEC,
    .group = "networking.k8s.io",
    .version = "v1",
    .plural = "networkpolicies",
    .singular = "networkpolicy",
    .kind = "NetworkPolicy",
    .namespaced = true,
    .short_names = {"netpol", NULL},
    .categories = {NULL},
    .storage_prefix = "/registry/networkpolicies",
    .defaults = np_defaults,
    .prepare_create = ext_prepare_create_gen,
    .prepare_update = ext_prepare_update_gen,
    .validate = np_validate,
    .columns = np_columns,
    .cells = np_cells,
};
