/*
 * nodes.c - the Node strategy (upstream pkg/registry/core/node).
 *
 * Nodes are cluster-scoped and usually created by the kubelet with their
 * status; afterwards the status subresource carries heartbeats.  STATUS is
 * Ready/NotReady from the Ready condition (Unknown without one), plus
 * ",SchedulingDisabled" when cordoned; ROLES come from
 * node-role.kubernetes.io/ROLE and kubernetes.io/role labels.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>

#include "registry/reg_internal.h"

static void node_defaults(json_t *obj)
{
  /* allocatable defaults to capacity (SetDefaults_NodeStatus) */
  json_t *cap = kj_get(obj, "status.capacity");
  if (json_is_object(cap) && !kj_get(obj, "status.allocatable")) kj_set(obj, "status.allocatable", kj_deep_copy(cap));
}

static void node_prepare_update(struct reg_request *rq, json_t *obj, const json_t *old)
{
  reg_split_status(rq, obj, old);
}

static void node_validate(struct reg_request *rq, const json_t *obj, const json_t *old, json_t *causes)
{
  reg_validate_object_meta(obj, false, true, causes);
  if (old) {
    reg_validate_object_meta_update(obj, old, causes);
    /* podCIDR may be set once */
    const char *o = kj_get_str(old, "spec.podCIDR"), *n = kj_get_str(obj, "spec.podCIDR");
    if (o && *o && (!n || strcmp(o, n)))
      reg_cause_add(causes, REG_FORBIDDEN, "spec.podCIDRs",
                    "Forbidden: node updates may not change podCIDR except from \"\" to valid");
  }
  reg_validate_resource_list(kj_get(obj, "status.capacity"), "status.capacity", false, causes);
  reg_validate_resource_list(kj_get(obj, "status.allocatable"), "status.allocatable", false, causes);
  size_t i;
  json_t *t;
  static const char *const effects[] = {"NoSchedule", "PreferNoSchedule", "NoExecute", NULL};
  json_array_foreach (kj_get(obj, "spec.taints"), i, t) {
    char f[64];
    snprintf(f, sizeof(f), "spec.taints[%zu].effect", i);
    const char *e = kj_get_str(t, "effect");
    if (!e || !*e) reg_cause_add(causes, REG_REQUIRED, f, "Required value");
    else reg_check_enum(causes, f, e, effects);
    if (!kj_get_str(t, "key") || !*kj_get_str(t, "key")) {
      snprintf(f, sizeof(f), "spec.taints[%zu].key", i);
      reg_cause_add(causes, REG_REQUIRED, f, "Required value");
    }
  }
}

static const char *const node_fields[] = {"spec.unschedulable", NULL};

static const char *node_field_value(const json_t *obj, const char *field, char *buf, size_t len)
{
  if (strcmp(field, "spec.unschedulable")) return NULL;
  snprintf(buf, len, "%s", kj_get_bool(obj, "spec.unschedulable", false) ? "true" : "false");
  return buf;
}

static json_t *node_cells(const json_t *obj)
{
  json_t *row = json_array();
  json_array_append_new(row, json_string(reg_str_or(kj_get_str(obj, "metadata.name"), "")));

  const char *ready = NULL;
  size_t i;
  json_t *c;
  json_array_foreach (kj_get(obj, "status.conditions"), i, c) {
    const char *t = kj_get_str(c, "type");
    if (t && !strcmp(t, "Ready")) {
      const char *s = kj_get_str(c, "status");
      ready = s && !strcmp(s, "True") ? "Ready" : "NotReady"; /* upstream: any other status is NotReady */
    }
  }
  char status[96];
  snprintf(status, sizeof(status), "%s%s", ready ? ready : "Unknown",
           kj_get_bool(obj, "spec.unschedulable", false) ? ",SchedulingDisabled" : "");
  json_array_append_new(row, json_string(status));

  json_t *labels = kj_get(obj, "metadata.labels");
  const char *roles[64];
  size_t n = 0;
  const char *k;
  json_t *v;
  json_object_foreach (labels, k, v) {
    if (n >= 64) break;
    if (!strncmp(k, "node-role.kubernetes.io/", 24) && k[24]) roles[n++] = k + 24;
    else if (!strcmp(k, "kubernetes.io/role") && json_is_string(v) && *json_string_value(v))
      roles[n++] = json_string_value(v);
  }
  qsort(roles, n, sizeof(*roles), reg_cmp_str);
  char rbuf[512] = "";
  size_t off = 0;
  for (i = 0; i < n; i++) {
    if (i && !strcmp(roles[i], roles[i - 1])) continue;
    off += (size_t)snprintf(rbuf + off, off < sizeof(rbuf) ? sizeof(rbuf) - off : 0, "%s%s", off ? "," : "", roles[i]);
    if (off >= sizeof(rbuf)) break;
  }
  json_array_append_new(row, json_string(n ? rbuf : "<none>"));
  json_array_append_new(row, reg_age_cell(obj));
  json_array_append_new(row, json_string(reg_str_or(kj_get_str(obj, "status.nodeInfo.kubeletVersion"), "")));

  const char *internal = NULL, *external = NULL;
  json_array_foreach (kj_get(obj, "status.addresses"), i, c) {
    const char *t = kj_get_str(c, "type"), *a = kj_get_str(c, "address");
    if (t && !strcmp(t, "InternalIP") && !internal) internal = a;
    if (t && !strcmp(t, "ExternalIP") && !external) external = a;
  }
  json_array_append_new(row, json_string(reg_str_or(internal, "<none>")));
  json_array_append_new(row, json_string(reg_str_or(external, "<none>")));
  json_array_append_new(row, json_string(reg_str_or(kj_get_str(obj, "status.nodeInfo.osImage"), "<unknown>")));
  json_array_append_new(row, json_string(reg_str_or(kj_get_str(obj, "status.nodeInfo.kernelVersion"), "<unknown>")));
  json_array_append_new(
      row, json_string(reg_str_or(kj_get_str(obj, "status.nodeInfo.containerRuntimeVersion"), "<unknown>")));
  return row;
}

static const struct reg_column node_columns[] = {
    {"Name", "string", "name", 0, "Name must be unique within a namespace."},
    {"Status", "string", "", 0, "The status of the node"},
    {"Roles", "string", "", 0, "The roles of the node"},
    {"Age", "string", "", 0,
     "CreationTimestamp is a timestamp representing the server time when this object was created."},
    {"Version", "string", "", 0, "Kubelet Version reported by the node."},
    {"Internal-IP", "string", "", 1, "List of addresses reachable to the node."},
    {"External-IP", "string", "", 1, "List of addresses reachable to the node."},
    {"OS-Image", "string", "", 1,
     "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy))."},
    {"Kernel-Version", "string", "", 1,
     "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64)."},
    {"Container-Runtime", "string", "", 1,
     "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2)."},
    {NULL},
};

const struct resource reg_nodes = {
    .group = "",
    .version = "v1",
    .plural = "nodes",
    .singular = "node",
    .kind = "Node",
    .namespaced = false,
    .short_names = {"no", NULL},
    .subresources = RES_SUB_STATUS | RES_SUB_PROXY,
    .storage_prefix = "/registry/minions",
    .field_selectors = node_fields,
    .defaults = node_defaults,
    .prepare_update = node_prepare_update,
    .validate = node_validate,
    .field_value = node_field_value,
    .columns = node_columns,
    .cells = node_cells,
};
