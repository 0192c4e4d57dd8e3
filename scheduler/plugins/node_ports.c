/*
 * node_ports.c - NodePorts: the pod's host ports must be free on the node.
 * A port is taken when another pod uses the same protocol and port on the
 * same host IP, or when either side binds 0.0.0.0 (all addresses).
 * PreFilter collects the pod's host ports once; pods without any skip the
 * filter.
 */
#include <stdlib.h>
#include <string.h>

#include "plugins.h"
#include "kube/xalloc.h"

struct ports_state {
  size_t n;
  struct sched_host_port p[];
};

static enum sched_code pre_filter(void *self, struct sched_cycle *c, struct sched_status *st)
{
  size_t i, j, n = 0;
  json_t *ct, *p;
  const json_t *containers = json_object_get(json_object_get(c->pod, "spec"), "containers");
  json_array_foreach (containers, i, ct)
    json_array_foreach (json_object_get(ct, "ports"), j, p) n += json_integer_value(json_object_get(p, "hostPort")) > 0;
  if (n == 0) return SCHED_SKIP;
  struct ports_state *s = xcalloc(1, sizeof *s + n * sizeof s->p[0]);
  if (!s) return sched_status_fail(st, SCHED_ERROR, "out of memory");
  json_array_foreach (containers, i, ct)
    json_array_foreach (json_object_get(ct, "ports"), j, p) {
      int hp = (int)json_integer_value(json_object_get(p, "hostPort"));
      if (hp <= 0) continue;
      const char *ip = json_string_value(json_object_get(p, "hostIP"));
      const char *proto = json_string_value(json_object_get(p, "protocol"));
      struct sched_host_port *h = &s->p[s->n++];
      snprintf(h->ip, sizeof h->ip, "%s", ip && *ip ? ip : "0.0.0.0");
      snprintf(h->protocol, sizeof h->protocol, "%s", proto && *proto ? proto : "TCP");
      h->port = hp;
    }
  sched_cycle_set(c, s, free);
  return SCHED_SUCCESS;
}

static bool conflicts(const struct sched_host_port *a, const struct sched_host_port *b)
{
  if (a->port != b->port || strcmp(a->protocol, b->protocol) != 0) return false;
  return strcmp(a->ip, "0.0.0.0") == 0 || strcmp(b->ip, "0.0.0.0") == 0 || strcmp(a->ip, b->ip) == 0;
}

static enum sched_code filter(void *self, struct sched_cycle *c, const struct sched_node_info *ni,
                              struct sched_status *st)
{
  const struct ports_state *s = sched_cycle_get(c);
  if (!s) return SCHED_SUCCESS;
  for (size_t i = 0; i < s->n; i++)
    for (size_t j = 0; j < ni->nports; j++)
      if (conflicts(&s->p[i], &ni->ports[j]))
        return sched_status_fail_static(st, SCHED_UNSCHEDULABLE, SCHED_REASON_NODE_PORTS);
  return SCHED_SUCCESS;
}

const struct sched_plugin sched_plugin_node_ports = {
    .name = "NodePorts",
    .pre_filter = pre_filter,
    .filter = filter,
};
