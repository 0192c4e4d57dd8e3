/*
 * conntrack.c - stale UDP entries (see conntrack.h).
 */
#include "kube/xalloc.h"
#include "conntrack.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/log.h"
#include "map.h"
#include "model.h"

struct ct_port {
  uint32_t *vips;
  size_t nvips;
  uint16_t node_port;
  uint32_t *eps;
  size_t neps;
};

struct kp_ct_snapshot {
  struct kp_map *ports; /* "ns/svc:port" -> struct ct_port */
};

static void ct_port_free(void *v)
{
  struct ct_port *p = v;
  free(p->vips);
  free(p->eps);
  free(p);
}

static struct ct_port *snapshot_port(const struct kp_model *m, const struct kp_service *s, const struct kp_svc_port *sp)
{
  struct ct_port *p = xcalloc(1, sizeof *p);
  p->vips = xcalloc(1 + s->n_external_ips + s->n_lb_ips, sizeof *p->vips);
  p->vips[p->nvips++] = s->cluster_ip;
  for (size_t i = 0; i < s->n_external_ips; i++) p->vips[p->nvips++] = s->external_ips[i];
  for (size_t i = 0; i < s->n_lb_ips; i++) p->vips[p->nvips++] = s->lb_ips[i];
  p->node_port = sp->node_port;
  struct kp_endpoint *eps = NULL;
  size_t n = kp_model_endpoints(m, s, sp, &eps);
  p->eps = xcalloc(n ? n : 1, sizeof *p->eps);
  bool any_ready = false;
  for (size_t i = 0; i < n; i++) any_ready |= eps[i].ready;
  /* the endpoints traffic can go to: ready ones, else serving-terminating ones */
  for (size_t i = 0; i < n; i++)
    if (any_ready ? eps[i].ready : (eps[i].serving && eps[i].terminating)) p->eps[p->neps++] = eps[i].ip;
  free(eps);
  return p;
}

struct kp_ct_snapshot *kp_ct_snapshot_build(const struct kp_model *m)
{
  struct kp_ct_snapshot *s = xcalloc(1, sizeof *s);
  s->ports = kp_map_new();
  size_t pos = 0;
  struct kp_service *svc;
  while (kp_map_next(m->services, &pos, NULL, (void **)&svc)) {
    if (!kp_svc_proxied(svc)) continue;
    for (size_t i = 0; i < svc->nports; i++) {
      const struct kp_svc_port *sp = &svc->ports[i];
      if (sp->proto != IPPROTO_UDP) continue;
      kp_map_put(s->ports, sp->name_string, snapshot_port(m, svc, sp));
    }
  }
  return s;
}

void kp_ct_snapshot_free(struct kp_ct_snapshot *s)
{
  if (!s) return;
  kp_map_free(s->ports, ct_port_free);
  free(s);
}

static void plan_add(struct kp_ct_plan *plan, uint32_t dst, uint16_t dport, uint32_t reply_src)
{
  for (size_t i = 0; i < plan->n; i++)
    if (plan->v[i].orig_dst == dst && plan->v[i].orig_dport == dport && plan->v[i].reply_src == reply_src) return;
  if (plan->n == plan->cap) {
    plan->cap = plan->cap ? plan->cap * 2 : 16;
    plan->v = xrealloc(plan->v, plan->cap * sizeof *plan->v);
  }
  plan->v[plan->n++] = (struct kp_ct_filter){dst, dport, reply_src};
}

static bool has_ip(const uint32_t *v, size_t n, uint32_t ip)
{
  for (size_t i = 0; i < n; i++)
    if (v[i] == ip) return true;
  return false;
}

/* Every entry to the port's VIPs and NodePort (reply_src 0 = any). */
static void plan_all(struct kp_ct_plan *plan, const struct ct_port *p, uint32_t reply_src)
{
  for (size_t i = 0; i < p->nvips; i++) plan_add(plan, p->vips[i], 0, reply_src);
  if (p->node_port) plan_add(plan, 0, p->node_port, reply_src);
}

void kp_ct_plan_diff(const struct kp_ct_snapshot *old, const struct kp_ct_snapshot *new, struct kp_ct_plan *plan)
{
  if (!old) return;
  size_t pos = 0;
  const char *key;
  struct ct_port *o;
  while (kp_map_next(old->ports, &pos, &key, (void **)&o)) {
    struct ct_port *n = kp_map_get(new->ports, key);
    if (!n) {
      plan_all(plan, o, 0); /* the service port is gone */
      continue;
    }
    for (size_t i = 0; i < o->neps; i++)
      if (!has_ip(n->eps, n->neps, o->eps[i])) plan_all(plan, o, o->eps[i]);
  }
  pos = 0;
  while (kp_map_next(new->ports, &pos, &key, (void **)&o)) {
    struct ct_port *prev = kp_map_get(old->ports, key);
    if (o->neps > 0 && (!prev || prev->neps == 0)) plan_all(plan, o, 0); /* newly active */
  }
}

void kp_ct_plan_free(struct kp_ct_plan *plan)
{
  free(plan->v);
  memset(plan, 0, sizeof *plan);
}

bool kp_ct_plan_matches(const struct kp_ct_plan *plan, uint32_t orig_dst, uint16_t orig_dport, uint32_t reply_src)
{
  for (size_t i = 0; i < plan->n; i++) {
    const struct kp_ct_filter *f = &plan->v[i];
    if (f->orig_dst && f->orig_dst != orig_dst) continue;
    if (f->orig_dport && f->orig_dport != orig_dport) continue;
    if (f->reply_src && f->reply_src != reply_src) continue;
    return true;
  }
  return false;
}

/* ---- libnetfilter_conntrack ---- */

struct dump_ctx {
  const struct kp_ct_plan *plan;
  struct nf_conntrack **stale;
  size_t n, cap;
};

static int dump_cb(enum nf_conntrack_msg_type type, struct nf_conntrack *ct, void *data)
{
  struct dump_ctx *d = data;
  if (nfct_get_attr_u8(ct, ATTR_ORIG_L3PROTO) != AF_INET || nfct_get_attr_u8(ct, ATTR_ORIG_L4PROTO) != IPPROTO_UDP)
    return NFCT_CB_CONTINUE;
  uint32_t dst = ntohl(nfct_get_attr_u32(ct, ATTR_ORIG_IPV4_DST));
  uint16_t dport = ntohs(nfct_get_attr_u16(ct, ATTR_ORIG_PORT_DST));
  uint32_t rsrc = ntohl(nfct_get_attr_u32(ct, ATTR_REPL_IPV4_SRC));
  if (!kp_ct_plan_matches(d->plan, dst, dport, rsrc)) return NFCT_CB_CONTINUE;
  if (d->n == d->cap) {
    d->cap = d->cap ? d->cap * 2 : 64;
    struct nf_conntrack **nv = xrealloc(d->stale, d->cap * sizeof *nv);
    if (!nv) return NFCT_CB_STOP;
    d->stale = nv;
  }
  d->stale[d->n] = nfct_clone(ct);
  if (d->stale[d->n]) d->n++;
  return NFCT_CB_CONTINUE;
}

int kp_ct_execute(const struct kp_ct_plan *plan)
{
  if (!plan->n) return 0;
  struct nfct_handle *h = nfct_open(CONNTRACK, 0);
  if (!h) return -errno;
  struct dump_ctx d = {.plan = plan};
  nfct_callback_register(h, NFCT_T_ALL, dump_cb, &d);
  uint32_t family = AF_INET;
  int rc = nfct_query(h, NFCT_Q_DUMP, &family);
  int err = rc < 0 ? -errno : 0;
  nfct_callback_unregister(h);
  int deleted = 0;
  for (size_t i = 0; i < d.n; i++) {
    if (nfct_query(h, NFCT_Q_DESTROY, d.stale[i]) == 0) deleted++;
    else if (errno != ENOENT) KLOG_V(2, "conntrack delete failed: %s", strerror(errno));
    nfct_destroy(d.stale[i]);
  }
  free(d.stale);
  nfct_close(h);
  return err ? err : deleted;
}
