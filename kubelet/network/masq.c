/*
 * masq.c - the masquerade chain with libiptc (see masq.h).
 */
#include "masq.h"
#include "kube/xtables_lock.h"
#include "ipam.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libiptc/libiptc.h>
#include <linux/netfilter/nf_nat.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>
#include "kube/xalloc.h"

#define XTABLES_LOCK_WAIT_MS 5000

/* libiptc reads chain names as whole ipt_chainlabel arrays. */
static const ipt_chainlabel CHAIN = KL_MASQ_CHAIN;
static const ipt_chainlabel POSTROUTING = "POSTROUTING";

static void seterr(char *err, size_t len, const char *fmt, ...)
{
  if (!err || !len) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, len, fmt, ap);
  va_end(ap);
}

static void mask_of(int prefix, struct in_addr *m)
{
  m->s_addr = htonl(prefix == 0 ? 0 : 0xffffffffu << (32 - prefix));
}

/* A new entry whose target is `target` with `data_len` bytes of data. */
static struct ipt_entry *entry_new(const char *target, size_t data_len)
{
  size_t tsize = XT_ALIGN(sizeof(struct xt_entry_target) + data_len);
  size_t size = XT_ALIGN(sizeof(struct ipt_entry)) + tsize;
  struct ipt_entry *e = xcalloc(1, size);
  if (!e) return NULL;
  e->target_offset = XT_ALIGN(sizeof(struct ipt_entry));
  e->next_offset = (unsigned short)size;
  struct xt_entry_target *t = (struct xt_entry_target *)((char *)e + e->target_offset);
  t->u.target_size = (unsigned short)tsize;
  snprintf(t->u.user.name, sizeof t->u.user.name, "%s", target);
  return e;
}

static struct ipt_entry *masq_rule(uint32_t pod_net, int pod_prefix, uint32_t cl_net, int cl_prefix)
{
  struct ipt_entry *e = entry_new("MASQUERADE", sizeof(struct nf_nat_ipv4_multi_range_compat));
  if (!e) return NULL;
  e->ip.src.s_addr = htonl(pod_net);
  mask_of(pod_prefix, &e->ip.smsk);
  e->ip.dst.s_addr = htonl(cl_net);
  mask_of(cl_prefix, &e->ip.dmsk);
  e->ip.invflags = IPT_INV_DSTIP;
  struct xt_entry_target *t = (struct xt_entry_target *)((char *)e + e->target_offset);
  struct nf_nat_ipv4_multi_range_compat *r = (void *)t->data;
  r->rangesize = 1;
  return e;
}

/* The rule number of POSTROUTING's jump to our chain, or -1. */
static int find_jump(struct xtc_handle *h)
{
  int i = 0;
  for (const struct ipt_entry *e = iptc_first_rule("POSTROUTING", h); e; e = iptc_next_rule(e, h), i++) {
    const char *t = iptc_get_target(e, h);
    if (t && strcmp(t, KL_MASQ_CHAIN) == 0) return i;
  }
  return -1;
}

/* Builds the chain's content in the handle (nothing is committed). */
static int fill_chain(struct xtc_handle *h, const char *pod_cidr, const char *cluster_cidr, char *err, size_t errlen)
{
  uint32_t pn, cn;
  int pp, cp;
  if (kl_cidr_parse(pod_cidr, &pn, &pp) < 0 || kl_cidr_parse(cluster_cidr, &cn, &cp) < 0) {
    seterr(err, errlen, "invalid CIDR %s or %s", pod_cidr, cluster_cidr);
    return -EINVAL;
  }
  if (!iptc_is_chain(CHAIN, h)) {
    if (!iptc_create_chain(CHAIN, h)) goto fail;
  } else if (!iptc_flush_entries(CHAIN, h)) {
    goto fail;
  }
  struct ipt_entry *rule = masq_rule(pn, pp, cn, cp);
  if (!rule) return -ENOMEM;
  int ok = iptc_append_entry(CHAIN, rule, h);
  free(rule);
  if (!ok) goto fail;
  if (find_jump(h) < 0) {
    struct ipt_entry *jump = entry_new(KL_MASQ_CHAIN, sizeof(int));
    if (!jump) return -ENOMEM;
    ok = iptc_append_entry(POSTROUTING, jump, h);
    free(jump);
    if (!ok) goto fail;
  }
  return 0;
fail:
  seterr(err, errlen, "iptables nat: %s", iptc_strerror(errno));
  return -(errno ? errno : EIO);
}

int kl_masq_ensure(const char *pod_cidr, const char *cluster_cidr, char *err, size_t errlen)
{
  int lock = xtables_lock(XTABLES_LOCK_WAIT_MS);
  if (lock < 0) {
    seterr(err, errlen, "xtables lock: %s", strerror(-lock));
    return lock;
  }
  int rc = 0;
  struct xtc_handle *h = iptc_init("nat");
  if (!h) {
    seterr(err, errlen, "iptables nat: %s", iptc_strerror(errno));
    rc = -(errno ? errno : EIO);
  } else {
    rc = fill_chain(h, pod_cidr, cluster_cidr, err, errlen);
    if (rc == 0 && !iptc_commit(h)) {
      seterr(err, errlen, "iptables nat commit: %s", iptc_strerror(errno));
      rc = -(errno ? errno : EIO);
    }
    iptc_free(h);
  }
  close(lock);
  return rc;
}

int kl_masq_remove(char *err, size_t errlen)
{
  int lock = xtables_lock(XTABLES_LOCK_WAIT_MS);
  if (lock < 0) {
    seterr(err, errlen, "xtables lock: %s", strerror(-lock));
    return lock;
  }
  int rc = 0;
  struct xtc_handle *h = iptc_init("nat");
  if (!h) {
    seterr(err, errlen, "iptables nat: %s", iptc_strerror(errno));
    rc = -(errno ? errno : EIO);
  } else if (iptc_is_chain(CHAIN, h)) {
    int n;
    bool ok = true;
    while (ok && (n = find_jump(h)) >= 0) ok = iptc_delete_num_entry(POSTROUTING, (unsigned)n, h);
    ok = ok && iptc_flush_entries(CHAIN, h) && iptc_delete_chain(CHAIN, h) && iptc_commit(h);
    if (!ok) {
      seterr(err, errlen, "iptables nat: %s", iptc_strerror(errno));
      rc = -(errno ? errno : EIO);
    }
  }
  if (h) iptc_free(h);
  close(lock);
  return rc;
}
