/*
 * proxier.c - the iptables rules of every Service port (see proxier.h).
 *
 * One pass over the sorted service ports: each port's endpoints are
 * categorized as upstream's CategorizeEndpoints does (ready endpoints,
 * else serving-and-terminating ones; local ones for the Local policies;
 * for the Cluster policy only the ready endpoints hinted for this node's
 * zone when upstream's topology rule applies, kp_topology_use_hints),
 * then the capture rules (KUBE-SERVICES, KUBE-NODEPORTS, filter
 * REJECT/DROP) and the per-service chains are written.  The top-level
 * chains are created first so that they exist even when empty, as
 * upstream writes their chain lines every sync.
 */
#include "kube/xalloc.h"
#include "proxier.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "map.h"

#define LOOPBACK_NET 0x7f000000u

struct gen {
  const struct kp_model *m;
  const struct kp_proxier_config *cfg;
  struct kp_ruleset *rs;
  struct kp_proxier_stats st;
  /* top-level chains */
  struct kp_chain *f_services, *f_ext_services, *f_forward, *f_nodeports, *f_proxy_fw, *f_firewall;
  struct kp_chain *n_services, *n_nodeports, *n_postrouting, *n_mark_masq;
  bool large;
};

/* The endpoints of one service port, split by policy. */
struct categorized {
  struct kp_endpoint *all;
  size_t nall;
  struct kp_endpoint **cluster, **local, **reachable;
  size_t ncluster, nlocal, nreachable;
  bool has_any;
};

void kp_proxier_config_defaults(struct kp_proxier_config *c)
{
  memset(c, 0, sizeof *c);
  c->masq_mark = 0x4000;
  c->localhost_nodeports = true;
  c->random_fully = true;
  c->nodeport_all = true;
  c->dns_port = 53;
}

bool kp_proxier_owns_chain(enum kp_table t, const char *name)
{
  static const char *const filter[] = {
      KP_CHAIN_SERVICES,       KP_CHAIN_EXTERNAL_SERVICES, KP_CHAIN_FORWARD, KP_CHAIN_NODEPORTS,
      KP_CHAIN_PROXY_FIREWALL, KP_CHAIN_FIREWALL,          KP_CHAIN_CANARY,  NULL};
  static const char *const nat[] = {KP_CHAIN_SERVICES,  KP_CHAIN_NODEPORTS, KP_CHAIN_POSTROUTING,
                                    KP_CHAIN_MARK_MASQ, KP_CHAIN_CANARY,    NULL};
  static const char *const raw[] = {KP_CHAIN_NODE_DNS, NULL};
  const char *const *v = t == KP_TABLE_FILTER ? filter : t == KP_TABLE_NAT ? nat : raw;
  for (; *v; v++)
    if (!strcmp(*v, name)) return true;
  return t == KP_TABLE_NAT && kp_is_service_chain(name);
}

/* ---- endpoint categories (upstream's CategorizeEndpoints) ---- */

static void categorize(const struct kp_service *s, const struct kp_svc_port *sp, const char *zone,
                       struct categorized *c)
{
  size_t n = c->nall;
  c->cluster = xcalloc(n ? n : 1, sizeof *c->cluster);
  c->local = xcalloc(n ? n : 1, sizeof *c->local);
  c->reachable = xcalloc(n ? 2 * n : 1, sizeof *c->reachable);
  bool uses_cluster = kp_svc_uses_cluster_endpoints(s, sp), uses_local = kp_svc_uses_local_endpoints(s, sp);
  if (uses_cluster) {
    /* topology: only the ready endpoints hinted for this node's zone,
     * when upstream's rule says the hints can be used */
    bool topo = kp_topology_use_hints(s, c->all, n, zone);
    for (size_t i = 0; i < n; i++)
      if (c->all[i].ready && (!topo || kp_endpoint_hinted_for(&c->all[i], zone)))
        c->cluster[c->ncluster++] = &c->all[i];
    if (c->ncluster == 0)
      for (size_t i = 0; i < n; i++)
        if (c->all[i].serving && c->all[i].terminating) c->cluster[c->ncluster++] = &c->all[i];
    if (c->ncluster > 0) c->has_any = true;
  }
  if (!uses_local) {
    memcpy(c->reachable, c->cluster, c->ncluster * sizeof *c->reachable);
    c->nreachable = c->ncluster;
    return;
  }
  bool local_ready = false, local_term = false;
  for (size_t i = 0; i < n; i++) {
    const struct kp_endpoint *e = &c->all[i];
    if (e->ready) {
      c->has_any = true;
      if (e->local) local_ready = true;
    } else if (e->serving && e->terminating) {
      c->has_any = true;
      if (e->local) local_term = true;
    }
  }
  for (size_t i = 0; i < n; i++) {
    const struct kp_endpoint *e = &c->all[i];
    if (!e->local) continue;
    if ((local_ready && e->ready) || (!local_ready && local_term && e->serving && e->terminating))
      c->local[c->nlocal++] = &c->all[i];
  }
  if (!uses_cluster) {
    memcpy(c->reachable, c->local, c->nlocal * sizeof *c->reachable);
    c->nreachable = c->nlocal;
    return;
  }
  /* cluster endpoints plus the local ones not among them (terminating) */
  memcpy(c->reachable, c->cluster, c->ncluster * sizeof *c->reachable);
  c->nreachable = c->ncluster;
  for (size_t i = 0; i < c->nlocal; i++) {
    bool seen = false;
    for (size_t j = 0; j < c->ncluster && !seen; j++) seen = c->cluster[j] == c->local[i];
    if (!seen) c->reachable[c->nreachable++] = c->local[i];
  }
}

static void categorized_free(struct categorized *c)
{
  free(c->all);
  free(c->cluster);
  free(c->local);
  free(c->reachable);
}

/* ---- the fixed chains ---- */

static void add_jump(struct gen *g, enum kp_table t, const char *from, const char *to, const char *comment, bool ct_new)
{
  struct kp_chain *c = kp_chain_add(g->rs, t, from);
  struct kp_rb b;
  kp_rb_init(&b);
  if (ct_new) kp_rb_ctstate(&b, KP_CT_NEW, false);
  if (comment) kp_rb_comment(&b, comment);
  kp_rb_jump(&b, to);
  kp_chain_append(g->rs, t, c, &b);
}

/* Our jumps at the top of the built-in chains, in the order a real node
 * shows them (upstream prepends each in turn). */
static void write_builtin_jumps(struct gen *g)
{
  const char *lbfw = "kubernetes load balancer firewall", *ext = "kubernetes externally-visible service portals";
  const char *portals = "kubernetes service portals";
  add_jump(g, KP_TABLE_FILTER, "INPUT", KP_CHAIN_PROXY_FIREWALL, lbfw, true);
  add_jump(g, KP_TABLE_FILTER, "INPUT", KP_CHAIN_NODEPORTS, "kubernetes health check service ports", false);
  add_jump(g, KP_TABLE_FILTER, "INPUT", KP_CHAIN_EXTERNAL_SERVICES, ext, true);
  add_jump(g, KP_TABLE_FILTER, "FORWARD", KP_CHAIN_PROXY_FIREWALL, lbfw, true);
  add_jump(g, KP_TABLE_FILTER, "FORWARD", KP_CHAIN_FORWARD, "kubernetes forwarding rules", false);
  add_jump(g, KP_TABLE_FILTER, "FORWARD", KP_CHAIN_SERVICES, portals, true);
  add_jump(g, KP_TABLE_FILTER, "FORWARD", KP_CHAIN_EXTERNAL_SERVICES, ext, true);
  add_jump(g, KP_TABLE_FILTER, "OUTPUT", KP_CHAIN_PROXY_FIREWALL, lbfw, true);
  add_jump(g, KP_TABLE_FILTER, "OUTPUT", KP_CHAIN_SERVICES, portals, true);
  if (g->cfg->localhost_nodeports) {
    add_jump(g, KP_TABLE_FILTER, "INPUT", KP_CHAIN_FIREWALL, NULL, false);
    add_jump(g, KP_TABLE_FILTER, "OUTPUT", KP_CHAIN_FIREWALL, NULL, false);
  }
  add_jump(g, KP_TABLE_NAT, "PREROUTING", KP_CHAIN_SERVICES, portals, false);
  add_jump(g, KP_TABLE_NAT, "OUTPUT", KP_CHAIN_SERVICES, portals, false);
  add_jump(g, KP_TABLE_NAT, "POSTROUTING", KP_CHAIN_POSTROUTING, "kubernetes postrouting rules", false);
  if (g->cfg->dns_ip) {
    add_jump(g, KP_TABLE_RAW, "PREROUTING", KP_CHAIN_NODE_DNS, "kubernetes node-local dns", false);
    add_jump(g, KP_TABLE_RAW, "OUTPUT", KP_CHAIN_NODE_DNS, "kubernetes node-local dns", false);
  }
}

static void create_top_chains(struct gen *g)
{
  struct kp_ruleset *rs = g->rs;
  g->f_services = kp_chain_add(rs, KP_TABLE_FILTER, KP_CHAIN_SERVICES);
  g->f_ext_services = kp_chain_add(rs, KP_TABLE_FILTER, KP_CHAIN_EXTERNAL_SERVICES);
  g->f_forward = kp_chain_add(rs, KP_TABLE_FILTER, KP_CHAIN_FORWARD);
  g->f_nodeports = kp_chain_add(rs, KP_TABLE_FILTER, KP_CHAIN_NODEPORTS);
  g->f_proxy_fw = kp_chain_add(rs, KP_TABLE_FILTER, KP_CHAIN_PROXY_FIREWALL);
  g->n_services = kp_chain_add(rs, KP_TABLE_NAT, KP_CHAIN_SERVICES);
  g->n_nodeports = kp_chain_add(rs, KP_TABLE_NAT, KP_CHAIN_NODEPORTS);
  g->n_postrouting = kp_chain_add(rs, KP_TABLE_NAT, KP_CHAIN_POSTROUTING);
  g->n_mark_masq = kp_chain_add(rs, KP_TABLE_NAT, KP_CHAIN_MARK_MASQ);
  /* empty: if it is ever missing, someone flushed or replaced the table
   * and every chain is rewritten (upstream's canary) */
  kp_chain_add(rs, KP_TABLE_FILTER, KP_CHAIN_CANARY);
  kp_chain_add(rs, KP_TABLE_NAT, KP_CHAIN_CANARY);
}

static void write_masquerade_chains(struct gen *g)
{
  uint32_t mark = g->cfg->masq_mark;
  struct kp_rb b;
  kp_rb_init(&b);
  kp_rb_mark(&b, mark, mark, true);
  kp_rb_target(&b, KPT_RETURN);
  kp_chain_append(g->rs, KP_TABLE_NAT, g->n_postrouting, &b);
  kp_rb_init(&b);
  kp_rb_mark_target(&b, mark, 0); /* --xor-mark: clear it, so a re-traversal is not masqueraded twice */
  kp_chain_append(g->rs, KP_TABLE_NAT, g->n_postrouting, &b);
  kp_rb_init(&b);
  kp_rb_comment(&b, "kubernetes service traffic requiring SNAT");
  kp_rb_masquerade(&b, g->cfg->random_fully);
  kp_chain_append(g->rs, KP_TABLE_NAT, g->n_postrouting, &b);
  kp_rb_init(&b);
  kp_rb_mark_target(&b, mark, mark); /* --or-mark */
  kp_chain_append(g->rs, KP_TABLE_NAT, g->n_mark_masq, &b);
}

/* The kubelet's localnet guard, which upstream kube-proxy writes too. */
static void write_kubelet_firewall(struct gen *g)
{
  if (!g->cfg->localhost_nodeports) return;
  g->f_firewall = kp_chain_add(g->rs, KP_TABLE_FILTER, KP_CHAIN_FIREWALL);
  struct kp_rb b;
  kp_rb_init(&b);
  kp_rb_comment(&b, "block incoming localnet connections");
  kp_rb_dst(&b, LOOPBACK_NET, 8, false);
  kp_rb_src(&b, LOOPBACK_NET, 8, true);
  kp_rb_ctstate(&b, KP_CT_RELATED | KP_CT_ESTABLISHED | KP_CT_DNAT, true);
  kp_rb_target(&b, KPT_DROP);
  kp_chain_append(g->rs, KP_TABLE_FILTER, g->f_firewall, &b);
}

static void write_forward_chain(struct gen *g)
{
  struct kp_rb b;
  if (!g->cfg->conntrack_tcp_liberal) {
    kp_rb_init(&b);
    kp_rb_ctstate(&b, KP_CT_INVALID, false);
    kp_rb_target(&b, KPT_DROP);
    kp_chain_append(g->rs, KP_TABLE_FILTER, g->f_forward, &b);
  }
  kp_rb_init(&b);
  kp_rb_comment(&b, "kubernetes forwarding rules");
  kp_rb_mark(&b, g->cfg->masq_mark, g->cfg->masq_mark, false);
  kp_rb_target(&b, KPT_ACCEPT);
  kp_chain_append(g->rs, KP_TABLE_FILTER, g->f_forward, &b);
  kp_rb_init(&b);
  kp_rb_comment(&b, "kubernetes forwarding conntrack rule");
  kp_rb_ctstate(&b, KP_CT_RELATED | KP_CT_ESTABLISHED, false);
  kp_rb_target(&b, KPT_ACCEPT);
  kp_chain_append(g->rs, KP_TABLE_FILTER, g->f_forward, &b);
}

static void write_nodeports_tail(struct gen *g)
{
  const char *comment = "kubernetes service nodeports; NOTE: this must be the last rule in this chain";
  struct kp_rb b;
  if (g->cfg->nodeport_all) {
    kp_rb_init(&b);
    if (!g->cfg->localhost_nodeports) kp_rb_dst(&b, LOOPBACK_NET, 8, true);
    kp_rb_comment(&b, comment);
    kp_rb_addrtype(&b, false, true);
    kp_rb_jump(&b, KP_CHAIN_NODEPORTS);
    kp_chain_append(g->rs, KP_TABLE_NAT, g->n_services, &b);
    return;
  }
  for (size_t i = 0; i < g->cfg->n_nodeport_ips; i++) {
    uint32_t ip = g->cfg->nodeport_ips[i];
    if ((ip >> 24) == 127 && !g->cfg->localhost_nodeports) continue;
    kp_rb_init(&b);
    kp_rb_dst(&b, ip, 32, false);
    kp_rb_comment(&b, comment);
    kp_rb_jump(&b, KP_CHAIN_NODEPORTS);
    kp_chain_append(g->rs, KP_TABLE_NAT, g->n_services, &b);
  }
}

static void write_node_dns(struct gen *g)
{
  if (!g->cfg->dns_ip) return;
  struct kp_chain *c = kp_chain_add(g->rs, KP_TABLE_RAW, KP_CHAIN_NODE_DNS);
  static const uint8_t protos[] = {IPPROTO_UDP, IPPROTO_TCP};
  for (int dir = 0; dir < 2; dir++) {
    for (size_t i = 0; i < sizeof protos; i++) {
      struct kp_rb b;
      kp_rb_init(&b);
      if (dir == 0) kp_rb_dst(&b, g->cfg->dns_ip, 32, false);
      else kp_rb_src(&b, g->cfg->dns_ip, 32, false);
      kp_rb_proto(&b, protos[i]);
      kp_rb_comment(&b, "node-local dns: no NAT");
      kp_rb_l4(&b, dir == 1 ? g->cfg->dns_port : 0, dir == 0 ? g->cfg->dns_port : 0);
      kp_rb_target(&b, KPT_NOTRACK);
      kp_chain_append(g->rs, KP_TABLE_RAW, c, &b);
    }
  }
}

/* ---- one service port ---- */

struct port_ctx {
  const struct kp_service *s;
  const struct kp_svc_port *sp;
  struct categorized cat;
  const char *internal_chain, *external_policy_chain, *lb_chain;
  bool has_internal, has_external, uses_ext, uses_fw;
  uint8_t internal_filter, external_filter; /* KPT_REJECT / KPT_DROP / KPT_NONE */
  const char *internal_filter_comment, *external_filter_comment;
};

/* A rule matching proto/dst/dport with a comment, for the capture chains. */
static void rb_capture(struct kp_rb *b, const struct kp_svc_port *sp, const char *comment, uint32_t dst, uint16_t dport)
{
  kp_rb_init(b);
  if (dst) kp_rb_dst(b, dst, 32, false);
  kp_rb_proto(b, sp->proto);
  kp_rb_comment(b, comment);
  kp_rb_l4(b, 0, dport);
}

static void decide_policies(struct gen *g, struct port_ctx *p)
{
  const struct kp_service *s = p->s;
  const struct kp_svc_port *sp = p->sp;
  struct kp_arena *a = &g->rs->arena;
  bool epl = kp_svc_external_policy_local(s, sp);
  p->internal_chain = s->itp_local ? sp->svl_chain : sp->svc_chain;
  p->has_internal = p->cat.has_any && !(s->itp_local && p->cat.nlocal == 0);
  p->external_policy_chain = epl ? sp->svl_chain : sp->svc_chain;
  p->has_external = p->cat.has_any && !(epl && p->cat.nlocal == 0);
  p->uses_ext = p->cat.has_any && kp_svc_externally_accessible(s, sp);
  p->uses_fw = p->cat.has_any && s->n_lb_ips > 0 && s->n_src_ranges > 0;
  p->lb_chain = p->uses_fw ? sp->fw_chain : sp->ext_chain;
  if (!p->cat.has_any) {
    p->internal_filter = p->external_filter = KPT_REJECT;
    p->internal_filter_comment = p->external_filter_comment =
        kp_arena_printf(a, "%s has no endpoints", sp->name_string);
    return;
  }
  if (!p->has_internal) {
    p->internal_filter = KPT_DROP;
    p->internal_filter_comment = kp_arena_printf(a, "%s has no local endpoints", sp->name_string);
    g->st.no_local_internal++;
  }
  if (!p->has_external) {
    p->external_filter = KPT_DROP;
    p->external_filter_comment = kp_arena_printf(a, "%s has no local endpoints", sp->name_string);
    g->st.no_local_external++;
  }
}

static void write_captures(struct gen *g, struct port_ctx *p)
{
  const struct kp_service *s = p->s;
  const struct kp_svc_port *sp = p->sp;
  struct kp_ruleset *rs = g->rs;
  struct kp_arena *a = &rs->arena;
  struct kp_rb b;
  if (p->has_internal) {
    rb_capture(&b, sp, kp_arena_printf(a, "%s cluster IP", sp->name_string), s->cluster_ip, sp->port);
    kp_rb_jump(&b, p->internal_chain);
    kp_chain_append(rs, KP_TABLE_NAT, g->n_services, &b);
  } else {
    rb_capture(&b, sp, p->internal_filter_comment, s->cluster_ip, sp->port);
    kp_rb_target(&b, (enum kp_target_kind)p->internal_filter);
    kp_chain_append(rs, KP_TABLE_FILTER, g->f_services, &b);
  }
  const char *ext_comment = s->n_external_ips ? kp_arena_printf(a, "%s external IP", sp->name_string) : NULL;
  for (size_t i = 0; i < s->n_external_ips; i++) {
    if (p->cat.has_any) {
      rb_capture(&b, sp, ext_comment, s->external_ips[i], sp->port);
      kp_rb_jump(&b, sp->ext_chain);
      kp_chain_append(rs, KP_TABLE_NAT, g->n_services, &b);
    }
    if (!p->has_external) {
      rb_capture(&b, sp, p->external_filter_comment, s->external_ips[i], sp->port);
      kp_rb_target(&b, (enum kp_target_kind)p->external_filter);
      kp_chain_append(rs, KP_TABLE_FILTER, g->f_ext_services, &b);
    }
  }
  const char *lb_comment = s->n_lb_ips ? kp_arena_printf(a, "%s loadbalancer IP", sp->name_string) : NULL;
  const char *fw_comment =
      p->uses_fw ? kp_arena_printf(a, "%s traffic not accepted by %s", sp->name_string, sp->fw_chain) : NULL;
  for (size_t i = 0; i < s->n_lb_ips; i++) {
    if (p->cat.has_any) {
      rb_capture(&b, sp, lb_comment, s->lb_ips[i], sp->port);
      kp_rb_jump(&b, p->lb_chain);
      kp_chain_append(rs, KP_TABLE_NAT, g->n_services, &b);
    }
    if (p->uses_fw) {
      rb_capture(&b, sp, fw_comment, s->lb_ips[i], sp->port);
      kp_rb_target(&b, KPT_DROP);
      kp_chain_append(rs, KP_TABLE_FILTER, g->f_proxy_fw, &b);
    }
  }
  if (!p->has_external)
    for (size_t i = 0; i < s->n_lb_ips; i++) {
      rb_capture(&b, sp, p->external_filter_comment, s->lb_ips[i], sp->port);
      kp_rb_target(&b, (enum kp_target_kind)p->external_filter);
      kp_chain_append(rs, KP_TABLE_FILTER, g->f_ext_services, &b);
    }
  if (sp->node_port) {
    if (p->cat.has_any) {
      rb_capture(&b, sp, sp->name_string, 0, sp->node_port);
      kp_rb_jump(&b, sp->ext_chain);
      kp_chain_append(rs, KP_TABLE_NAT, g->n_nodeports, &b);
    }
    if (!p->has_external) {
      kp_rb_init(&b);
      kp_rb_proto(&b, sp->proto);
      kp_rb_comment(&b, p->external_filter_comment);
      kp_rb_addrtype(&b, false, true);
      kp_rb_l4(&b, 0, sp->node_port);
      kp_rb_target(&b, (enum kp_target_kind)p->external_filter);
      kp_chain_append(rs, KP_TABLE_FILTER, g->f_ext_services, &b);
    }
  }
  if (s->health_check_node_port) {
    kp_rb_init(&b);
    kp_rb_proto(&b, IPPROTO_TCP);
    kp_rb_comment(&b, kp_arena_printf(a, "%s health check node port", sp->name_string));
    kp_rb_l4(&b, 0, s->health_check_node_port);
    kp_rb_target(&b, KPT_ACCEPT);
    kp_chain_append(rs, KP_TABLE_FILTER, g->f_nodeports, &b);
  }
}

static void write_internal_masq(struct gen *g, struct port_ctx *p)
{
  const struct kp_svc_port *sp = p->sp;
  if (!p->has_internal || (!g->cfg->masquerade_all && !g->cfg->has_cluster_cidr)) return;
  struct kp_chain *c = kp_chain_find(g->rs, KP_TABLE_NAT, p->internal_chain);
  if (!c) c = kp_chain_new(g->rs, KP_TABLE_NAT, p->internal_chain);
  struct kp_rb b;
  kp_rb_init(&b);
  /* masquerade off-cluster sources (a static route to the service range
   * via a node may bounce off-node), or everything with --masquerade-all */
  if (!g->cfg->masquerade_all) kp_rb_src(&b, g->cfg->cluster_cidr, g->cfg->cluster_prefix, true);
  kp_rb_dst(&b, p->s->cluster_ip, 32, false);
  kp_rb_proto(&b, sp->proto);
  kp_rb_comment(&b, kp_arena_printf(&g->rs->arena, "%s cluster IP", sp->name_string));
  kp_rb_l4(&b, 0, sp->port);
  kp_rb_jump(&b, KP_CHAIN_MARK_MASQ);
  kp_chain_append(g->rs, KP_TABLE_NAT, c, &b);
}

static void ext_rule(struct gen *g, struct kp_chain *c, const char *comment, const char *target, int src_mode)
{
  struct kp_rb b;
  kp_rb_init(&b);
  if (src_mode == 1) kp_rb_src(&b, g->cfg->cluster_cidr, g->cfg->cluster_prefix, false);
  if (comment) kp_rb_comment(&b, comment);
  if (src_mode == 2) kp_rb_addrtype(&b, true, false);
  kp_rb_jump(&b, target);
  kp_chain_append(g->rs, KP_TABLE_NAT, c, &b);
}

static void write_ext_chain(struct gen *g, struct port_ctx *p)
{
  if (!p->uses_ext) return;
  const struct kp_svc_port *sp = p->sp;
  struct kp_arena *a = &g->rs->arena;
  struct kp_chain *c = kp_chain_new(g->rs, KP_TABLE_NAT, sp->ext_chain);
  if (!kp_svc_external_policy_local(p->s, sp)) {
    ext_rule(g, c, kp_arena_printf(a, "masquerade traffic for %s external destinations", sp->name_string),
             KP_CHAIN_MARK_MASQ, 0);
  } else {
    /* pods and the node itself reach external IPs as if from outside and
     * back in: neither traffic policy applies to them */
    if (g->cfg->has_cluster_cidr)
      ext_rule(g, c, kp_arena_printf(a, "pod traffic for %s external destinations", sp->name_string), sp->svc_chain, 1);
    ext_rule(g, c, kp_arena_printf(a, "masquerade LOCAL traffic for %s external destinations", sp->name_string),
             KP_CHAIN_MARK_MASQ, 2);
    ext_rule(g, c, kp_arena_printf(a, "route LOCAL traffic for %s external destinations", sp->name_string),
             sp->svc_chain, 2);
  }
  if (p->has_external) ext_rule(g, c, NULL, p->external_policy_chain, 0);
}

static void write_fw_chain(struct gen *g, struct port_ctx *p)
{
  if (!p->uses_fw) return;
  const struct kp_service *s = p->s;
  const struct kp_svc_port *sp = p->sp;
  struct kp_chain *c = kp_chain_new(g->rs, KP_TABLE_NAT, sp->fw_chain);
  const char *comment = kp_arena_printf(&g->rs->arena, "%s loadbalancer IP", sp->name_string);
  bool from_node = false;
  struct kp_rb b;
  for (size_t i = 0; i < s->n_src_ranges; i++) {
    kp_rb_init(&b);
    kp_rb_src(&b, s->src_ranges[i].net, s->src_ranges[i].prefix, false);
    kp_rb_comment(&b, comment);
    kp_rb_jump(&b, sp->ext_chain);
    kp_chain_append(g->rs, KP_TABLE_NAT, c, &b);
    if (g->cfg->node_ip && (g->cfg->node_ip & kp_prefix_mask(s->src_ranges[i].prefix)) == s->src_ranges[i].net)
      from_node = true;
  }
  if (from_node)
    for (size_t i = 0; i < s->n_lb_ips; i++) {
      kp_rb_init(&b);
      kp_rb_src(&b, s->lb_ips[i], 32, false);
      kp_rb_comment(&b, comment);
      kp_rb_jump(&b, sp->ext_chain);
      kp_chain_append(g->rs, KP_TABLE_NAT, c, &b);
    }
  kp_rb_init(&b);
  kp_rb_comment(&b, kp_arena_printf(&g->rs->arena, "other traffic to %s will be dropped by KUBE-PROXY-FIREWALL",
                                    sp->name_string));
  kp_chain_append(g->rs, KP_TABLE_NAT, c, &b);
}

/* SEP chain names are computed once per endpoint and kept in the arena. */
static const char *sep_name(struct gen *g, const struct kp_svc_port *sp, const struct kp_endpoint *e)
{
  char name[KP_CHAIN_NAME_MAX];
  kp_endpoint_chain_name(name, sp->name_string, kp_proto_lower(sp->proto), e->str);
  return kp_arena_strdup(&g->rs->arena, name);
}

static void write_endpoint_jumps(struct gen *g, struct port_ctx *p, const char *chain_name, struct kp_endpoint **eps,
                                 size_t n, const char **seps)
{
  struct kp_chain *c = kp_chain_find(g->rs, KP_TABLE_NAT, chain_name);
  if (!c) c = kp_chain_new(g->rs, KP_TABLE_NAT, chain_name);
  const struct kp_svc_port *sp = p->sp;
  struct kp_rb b;
  const char **comments = xcalloc(n ? n : 1, sizeof *comments);
  for (size_t i = 0; i < n && !g->large; i++)
    comments[i] = kp_arena_printf(&g->rs->arena, "%s -> %s", sp->name_string, eps[i]->str);
  if (p->s->affinity_client_ip)
    for (size_t i = 0; i < n; i++) {
      kp_rb_init(&b);
      if (comments[i]) kp_rb_comment(&b, comments[i]);
      kp_rb_recent(&b, false, p->s->affinity_timeout_s, seps[i]);
      kp_rb_jump(&b, seps[i]);
      kp_chain_append(g->rs, KP_TABLE_NAT, c, &b);
    }
  for (size_t i = 0; i < n; i++) {
    kp_rb_init(&b);
    if (comments[i]) kp_rb_comment(&b, comments[i]);
    if (i < n - 1) kp_rb_probability(&b, (int)(n - i));
    kp_rb_jump(&b, seps[i]);
    kp_chain_append(g->rs, KP_TABLE_NAT, c, &b);
  }
  free(comments);
}

/* The SEP name of ep, found among the reachable endpoints. */
static const char *sep_of(const struct port_ctx *p, const char **seps, const struct kp_endpoint *ep)
{
  for (size_t i = 0; i < p->cat.nreachable; i++)
    if (p->cat.reachable[i] == ep) return seps[i];
  return NULL;
}

static void write_policy_chains(struct gen *g, struct port_ctx *p, const char **seps)
{
  const struct kp_svc_port *sp = p->sp;
  struct categorized *c = &p->cat;
  const char **v = xcalloc(c->nreachable ? c->nreachable : 1, sizeof *v);
  if (c->ncluster > 0 && kp_svc_uses_cluster_endpoints(p->s, sp)) {
    for (size_t i = 0; i < c->ncluster; i++) v[i] = sep_of(p, seps, c->cluster[i]);
    write_endpoint_jumps(g, p, sp->svc_chain, c->cluster, c->ncluster, v);
  }
  if (c->nlocal > 0 && kp_svc_uses_local_endpoints(p->s, sp)) {
    for (size_t i = 0; i < c->nlocal; i++) v[i] = sep_of(p, seps, c->local[i]);
    write_endpoint_jumps(g, p, sp->svl_chain, c->local, c->nlocal, v);
  }
  free(v);
}

static void write_sep_chains(struct gen *g, struct port_ctx *p, const char **seps)
{
  const struct kp_svc_port *sp = p->sp;
  const char *comment = g->large ? NULL : sp->name_string;
  for (size_t i = 0; i < p->cat.nreachable; i++) {
    const struct kp_endpoint *e = p->cat.reachable[i];
    struct kp_chain *c = kp_chain_new(g->rs, KP_TABLE_NAT, seps[i]);
    struct kp_rb b;
    kp_rb_init(&b);
    kp_rb_src(&b, e->ip, 32, false);
    if (comment) kp_rb_comment(&b, comment);
    kp_rb_jump(&b, KP_CHAIN_MARK_MASQ); /* hairpin: the endpoint reaching itself */
    kp_chain_append(g->rs, KP_TABLE_NAT, c, &b);
    kp_rb_init(&b);
    kp_rb_proto(&b, sp->proto);
    if (comment) kp_rb_comment(&b, comment);
    if (p->s->affinity_client_ip) kp_rb_recent(&b, true, 0, seps[i]);
    kp_rb_l4(&b, 0, 0);
    kp_rb_dnat(&b, e->ip, e->port);
    kp_chain_append(g->rs, KP_TABLE_NAT, c, &b);
  }
}

static void write_service_port(struct gen *g, const struct kp_service *s, const struct kp_svc_port *model_sp,
                               struct kp_endpoint *eps, size_t neps)
{
  /* the rules point at names and comments: they must live in the
   * ruleset's arena, since the worker commits them while the model moves on */
  struct kp_svc_port *sp = kp_arena_alloc(&g->rs->arena, sizeof *sp);
  *sp = *model_sp;
  sp->name = kp_arena_strdup(&g->rs->arena, model_sp->name);
  sp->name_string = kp_arena_strdup(&g->rs->arena, model_sp->name_string);
  struct port_ctx p;
  memset(&p, 0, sizeof p);
  p.s = s;
  p.sp = sp;
  p.cat.all = eps; /* taken: categorized_free frees it */
  p.cat.nall = neps;
  categorize(s, sp, g->m->zone, &p.cat);
  decide_policies(g, &p);
  write_captures(g, &p);
  /* chain order as upstream writes them: internal masquerade into the
   * policy chain, EXT, FW, then the policy chains' endpoint jumps */
  const char **seps = xcalloc(p.cat.nreachable ? p.cat.nreachable : 1, sizeof *seps);
  for (size_t i = 0; i < p.cat.nreachable; i++) seps[i] = sep_name(g, sp, p.cat.reachable[i]);
  if (p.has_internal && (g->cfg->masquerade_all || g->cfg->has_cluster_cidr)) write_internal_masq(g, &p);
  write_ext_chain(g, &p);
  write_fw_chain(g, &p);
  write_policy_chains(g, &p, seps);
  write_sep_chains(g, &p, seps);
  free(seps);
  categorized_free(&p.cat);
}

/* ---- the whole set ---- */

struct port_ref {
  const struct kp_service *s;
  const struct kp_svc_port *sp;
  struct kp_endpoint *eps;
  size_t neps;
};

static int port_ref_cmp(const void *a, const void *b)
{
  const struct port_ref *x = a, *y = b;
  int c = strcmp(x->sp->name_string, y->sp->name_string);
  return c ? c : (int)x->sp->proto - (int)y->sp->proto;
}

static struct port_ref *sorted_ports(struct gen *g, size_t *n)
{
  size_t cap = 0, pos = 0;
  struct kp_service *s;
  while (kp_map_next(g->m->services, &pos, NULL, (void **)&s))
    if (kp_svc_proxied(s)) cap += s->nports;
  struct port_ref *v = xcalloc(cap ? cap : 1, sizeof *v);
  *n = 0;
  pos = 0;
  while (kp_map_next(g->m->services, &pos, NULL, (void **)&s)) {
    if (!kp_svc_proxied(s)) continue;
    g->st.services++;
    for (size_t i = 0; i < s->nports; i++) v[(*n)++] = (struct port_ref){s, &s->ports[i], NULL, 0};
  }
  qsort(v, *n, sizeof *v, port_ref_cmp);
  return v;
}

/* Every port's endpoints, gathered once; upstream counts them all to
 * decide on large cluster mode before writing any rule. */
static size_t gather_endpoints(struct gen *g, struct port_ref *v, size_t n)
{
  size_t total = 0;
  for (size_t i = 0; i < n; i++) {
    v[i].neps = kp_model_endpoints(g->m, v[i].s, v[i].sp, &v[i].eps);
    total += v[i].neps;
  }
  return total;
}

struct kp_ruleset *kp_proxier_build(const struct kp_model *m, const struct kp_proxier_config *cfg,
                                    struct kp_proxier_stats *stats)
{
  struct gen g;
  memset(&g, 0, sizeof g);
  g.m = m;
  g.cfg = cfg;
  g.rs = kp_ruleset_new();
  if (!g.rs) return NULL;
  write_builtin_jumps(&g);
  create_top_chains(&g);
  write_masquerade_chains(&g);
  write_kubelet_firewall(&g);
  size_t n = 0;
  struct port_ref *ports = sorted_ports(&g, &n);
  g.st.service_ports = n;
  g.st.endpoints = gather_endpoints(&g, ports, n);
  g.large = g.st.endpoints > KP_LARGE_CLUSTER_ENDPOINTS;
  g.st.large_cluster = g.large;
  for (size_t i = 0; i < n; i++) write_service_port(&g, ports[i].s, ports[i].sp, ports[i].eps, ports[i].neps);
  free(ports);
  write_nodeports_tail(&g);
  write_forward_chain(&g);
  write_node_dns(&g);
  if (stats) *stats = g.st;
  return g.rs;
}
