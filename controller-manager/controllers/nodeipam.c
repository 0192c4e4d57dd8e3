/*
 * nodeipam.c - the "nodeipam" controller (range allocator): gives every
 * Node a spec.podCIDR / spec.podCIDRs from --cluster-cidr, subnets of
 * --node-cidr-mask-size bits, when --allocate-node-cidrs is set.
 *
 * The subnets are a bitmap (cidr_set).  Before processing starts, the
 * bitmap is rebuilt from the podCIDRs of the nodes in the cache, so a
 * restart never hands out a subnet twice.  A node without a podCIDR gets
 * the lowest free subnet through a PATCH; until the informer shows the
 * node carrying it, the subnet is remembered as pending for that node, so
 * a sync that runs before the watch event arrives does not allocate a
 * second one.  A failed PATCH or a deleted node frees the subnet.  When
 * none is left the node gets a CIDRNotAvailable event.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "controller_utils.h"
#include "core_logic.h"
#include "kube/informer.h"
#include "kube/json.h"
#include "kube/log.h"
#include "kube/recorder.h"
#include "kube/xalloc.h"

#define CIDR_SET_MAX_BITS 20

struct cidr_set {
  uint32_t base; /* network address, host order */
  int prefix;    /* cluster prefix length */
  int mask;      /* node mask size */
  size_t n;      /* number of subnets */
  size_t used;
  uint8_t *bits;
};

static int cidr_parse(const char *s, uint32_t *addr, int *prefix)
{
  char buf[64];
  const char *slash = strchr(s, '/');
  if (!slash || (size_t)(slash - s) >= sizeof buf) return -EINVAL;
  memcpy(buf, s, (size_t)(slash - s));
  buf[slash - s] = 0;
  struct in_addr a;
  if (inet_pton(AF_INET, buf, &a) != 1) return -EINVAL;
  char *end;
  long p = strtol(slash + 1, &end, 10);
  if (*end || p < 0 || p > 32 || end == slash + 1) return -EINVAL;
  *addr = ntohl(a.s_addr);
  *prefix = (int)p;
  return 0;
}

struct cidr_set *cidr_set_new(const char *cluster_cidr, int mask_size, char *err, size_t errlen)
{
  uint32_t addr;
  int prefix;
  if (!cluster_cidr || cidr_parse(cluster_cidr, &addr, &prefix) < 0) {
    snprintf(err, errlen, "invalid CIDR address: %s", cluster_cidr ? cluster_cidr : "");
    return NULL;
  }
  if (mask_size <= prefix || mask_size > 32 || mask_size - prefix > CIDR_SET_MAX_BITS) {
    snprintf(err, errlen, "invalid --node-cidr-mask-size %d for cluster CIDR %s", mask_size, cluster_cidr);
    return NULL;
  }
  struct cidr_set *s = xcalloc(1, sizeof *s);
  s->prefix = prefix;
  s->mask = mask_size;
  s->base = prefix ? addr & (~0u << (32 - prefix)) : 0;
  s->n = (size_t)1 << (mask_size - prefix);
  s->bits = xcalloc((s->n + 7) / 8, 1);
  return s;
}

void cidr_set_free(struct cidr_set *s)
{
  if (!s) return;
  free(s->bits);
  free(s);
}

static bool cs_test(const struct cidr_set *s, size_t i) { return s->bits[i / 8] & (1u << (i % 8)); }

int cidr_set_allocate(struct cidr_set *s, char *out, size_t len)
{
  for (size_t i = 0; i < s->n; i++) {
    if (cs_test(s, i)) continue;
    s->bits[i / 8] |= (uint8_t)(1u << (i % 8));
    s->used++;
    uint32_t a = s->base + ((uint32_t)i << (32 - s->mask));
    snprintf(out, len, "%u.%u.%u.%u/%d", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255, s->mask);
    return 0;
  }
  return -ENOSPC;
}

static int cs_index(const struct cidr_set *s, const char *cidr, size_t *idx)
{
  uint32_t addr;
  int prefix;
  if (cidr_parse(cidr, &addr, &prefix) < 0 || prefix != s->mask) return -EINVAL;
  uint32_t cmask = s->prefix ? ~0u << (32 - s->prefix) : 0;
  if ((addr & cmask) != s->base) return -EINVAL;
  *idx = (size_t)((addr - s->base) >> (32 - s->mask));
  return 0;
}

int cidr_set_occupy(struct cidr_set *s, const char *cidr)
{
  size_t i;
  if (cs_index(s, cidr, &i) < 0) return -EINVAL;
  if (!cs_test(s, i)) {
    s->bits[i / 8] |= (uint8_t)(1u << (i % 8));
    s->used++;
  }
  return 0;
}

int cidr_set_release(struct cidr_set *s, const char *cidr)
{
  size_t i;
  if (cs_index(s, cidr, &i) < 0) return -EINVAL;
  if (cs_test(s, i)) {
    s->bits[i / 8] &= (uint8_t) ~(1u << (i % 8));
    s->used--;
  }
  return 0;
}

int cidr_set_occupy_overlap(struct cidr_set *s, const char *cidr)
{
  uint32_t addr;
  int prefix;
  if (cidr_parse(cidr, &addr, &prefix) < 0) return -EINVAL;
  uint64_t lo = prefix ? addr & (~0u << (32 - prefix)) : 0;
  uint64_t hi = lo + ((uint64_t)1 << (32 - prefix)) - 1;
  uint64_t set_lo = s->base, set_hi = s->base + ((uint64_t)s->n << (32 - s->mask)) - 1;
  if (hi < set_lo || lo > set_hi) return 0; /* no overlap: nothing to reserve */
  if (lo < set_lo) lo = set_lo;
  if (hi > set_hi) hi = set_hi;
  for (size_t i = (size_t)((lo - set_lo) >> (32 - s->mask)); i <= (size_t)((hi - set_lo) >> (32 - s->mask)); i++) {
    if (!cs_test(s, i)) {
      s->bits[i / 8] |= (uint8_t)(1u << (i % 8));
      s->used++;
    }
  }
  return 0;
}

size_t cidr_set_used(const struct cidr_set *s) { return s->used; }

/* ---- the controller ---- */

struct ipam_ctl {
  struct cm_base base;
  struct informer *node_inf;
  struct cidr_set *set;
  json_t *pending; /* node name -> subnet sent, not yet seen in the cache */
};

struct ipam_patch {
  struct ipam_ctl *c;
  char node[256];
  char cidr[64];
};

static void ipam_occupy_node(struct ipam_ctl *c, const json_t *node)
{
  size_t i;
  json_t *v;
  json_array_foreach (kj_get(node, "spec.podCIDRs"), i, v) cidr_set_occupy(c->set, json_string_value(v) ?: "");
  const char *one = kj_get_str(node, "spec.podCIDR");
  if (one) cidr_set_occupy(c->set, one);
}

static void ipam_on_delete(void *arg, const json_t *node, bool unknown)
{
  struct ipam_ctl *c = arg;
  const char *name = kj_get_str(node, "metadata.name") ?: "";
  const char *pend = json_string_value(json_object_get(c->pending, name));
  if (pend) cidr_set_release(c->set, pend);
  json_object_del(c->pending, name);
  const char *one = kj_get_str(node, "spec.podCIDR");
  if (one) cidr_set_release(c->set, one);
}

/* Not applied: the subnet is free again (a 404 means the node went); the
 * framework retries the node. */
static void ipam_patch_done(void *arg, struct cm_run *run, int code, json_t *body, const struct rest_status *err)
{
  struct ipam_patch *p = arg;
  if (!err) return;
  const char *pend = json_string_value(json_object_get(p->c->pending, p->node));
  if (pend && !strcmp(pend, p->cidr)) {
    cidr_set_release(p->c->set, p->cidr);
    json_object_del(p->c->pending, p->node);
  }
}

static void ipam_sync(struct cm_base *b, const char *key)
{
  struct ipam_ctl *c = (struct ipam_ctl *)b;
  struct cm_actions acts;
  cm_actions_init(&acts);
  json_t *node = informer_store_get_obj(c->node_inf, key);
  bool failed = false;
  if (node && kj_get_str(node, "spec.podCIDR") && *kj_get_str(node, "spec.podCIDR")) {
    ipam_occupy_node(c, node);
    const char *pend = json_string_value(json_object_get(c->pending, key));
    /* The node took another subnet than the one we sent (someone set it). */
    if (pend && strcmp(pend, kj_get_str(node, "spec.podCIDR"))) cidr_set_release(c->set, pend);
    json_object_del(c->pending, key);
  } else if (node && !json_object_get(c->pending, key)) {
    char cidr[64], path[512];
    if (cidr_set_allocate(c->set, cidr, sizeof cidr) < 0) {
      cm_act_event(&acts, node, RECORDER_EVENT_NORMAL, "CIDRNotAvailable", "Node %s status is now: CIDRNotAvailable",
                   key);
      failed = true;
    } else {
      json_object_set_new(c->pending, key, json_string(cidr));
      struct ipam_patch *p = xcalloc(1, sizeof *p);
      p->c = c;
      snprintf(p->node, sizeof p->node, "%s", key);
      snprintf(p->cidr, sizeof p->cidr, "%s", cidr);
      cm_path(path, sizeof path, "/api/v1", NULL, "nodes", key, NULL);
      KLOG_V(2, "nodeipam: allocating %s to node %s", cidr, key);
      struct cm_action *act =
          cm_act(&acts, CM_PATCH, path, json_pack("{s:{s:s, s:[s]}}", "spec", "podCIDR", cidr, "podCIDRs", cidr));
      act->patch = CM_PATCH_MERGE;
      cm_act_on_answer(act, ipam_patch_done, p, free);
    }
  }
  json_decref(node);
  struct cm_run *run = cm_run_begin(b, key, NULL, NULL);
  cm_run_add(run, &acts);
  if (failed) cm_run_fail(run, "no CIDR available");
  cm_run_end(run);
  cm_actions_clear(&acts);
}

/* Without --allocate-node-cidrs the controller watches nothing. */
static int ipam_init(struct cm_base *b)
{
  struct ipam_ctl *c = (struct ipam_ctl *)b;
  const struct cm_config *cfg = &b->ctx->cfg;
  if (!cfg->allocate_node_cidrs) return 0;
  char err[256];
  c->set =
      cidr_set_new(cfg->cluster_cidr, cfg->node_cidr_mask_size > 0 ? cfg->node_cidr_mask_size : 24, err, sizeof err);
  if (!c->set) {
    KLOG_E("nodeipam: %s", err);
    return -EINVAL;
  }
  /* Node ranges never overlap the service range (upstream occupies it). */
  if (cfg->service_cluster_ip_range && *cfg->service_cluster_ip_range &&
      cidr_set_occupy_overlap(c->set, cfg->service_cluster_ip_range) < 0) {
    KLOG_E("nodeipam: invalid --service-cluster-ip-range %s", cfg->service_cluster_ip_range);
    return -EINVAL;
  }
  c->pending = json_object();
  c->node_inf = informer_factory_get(b->ctx->informers, CM_NODES);
  struct informer_handlers h = {cm_on_add_enqueue, cm_on_update_enqueue, ipam_on_delete, c};
  informer_add_handlers(c->node_inf, &h);
  return 0;
}

/* Rebuilds the bitmap from the synced cache before handing out anything. */
static void ipam_run(struct cm_base *b)
{
  struct ipam_ctl *c = (struct ipam_ctl *)b;
  if (!c->set) return;
  json_t *nodes = informer_store_list(c->node_inf);
  size_t i;
  json_t *n;
  json_array_foreach (nodes, i, n) ipam_occupy_node(c, n);
  json_decref(nodes);
}

static void ipam_fini(struct cm_base *b)
{
  struct ipam_ctl *c = (struct ipam_ctl *)b;
  cidr_set_free(c->set);
  json_decref(c->pending);
}

const struct controller_def ctrl_nodeipam = {
    .name = "nodeipam",
    .service_account = "node-controller",
    .enabled_by_default = true,
    .size = sizeof(struct ipam_ctl),
    .queue = "node_ipam",
    .workers = 1,
    .sync = ipam_sync,
    .init = ipam_init,
    .run = ipam_run,
    .fini = ipam_fini,
};
