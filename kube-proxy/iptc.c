/*
 * iptc.c - ruleset -> kernel with libiptc (see iptc.h).
 *
 * Per table: iptc_init (one read of the whole table), then
 *   1. create every chain of ours the kernel lacks (rules may jump to
 *      chains not written yet, and libiptc resolves jumps on append);
 *   2. rewrite every chain of ours whose content changed (flush, append);
 *   3. flush, then delete, chains of ours the ruleset no longer has;
 *   4. make our jumps in the built-in chains exactly the wanted ones;
 *   5. iptc_commit: one atomic replace of the table.
 * The xtables lock is held from the read to the commit of the last table.
 */
#define _GNU_SOURCE
#include "kube/xalloc.h"
#include "iptc.h"
#include "kube/xtables_lock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <libiptc/libiptc.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/xt_CT.h>
#include <linux/netfilter/xt_addrtype.h>
#include <linux/netfilter/xt_comment.h>
#include <linux/netfilter/xt_conntrack.h>
#include <linux/netfilter/xt_mark.h>
#include <linux/netfilter/xt_recent.h>
#include <linux/netfilter/xt_sctp.h>
#include <linux/netfilter/xt_statistic.h>
#include <linux/netfilter/xt_tcpudp.h>
#include <linux/netfilter_ipv4/ipt_REJECT.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kube/log.h"
#include "map.h"
#include "proxier.h"

#define KP_XTABLES_WAIT_MS 5000
#define KP_MAX_ENTRY_BYTES 4096

/* What was committed last: for each chain of ours, a 64-bit hash of its
 * name and one of its content, in an open-addressing table (16 bytes per
 * chain: 110,000 chains cost 2-4 MiB, not a string map's 10+).  Two
 * names with the same 64-bit hash would at worst let a changed chain wait
 * for the next full sync. */
struct committed {
  uint64_t *slots; /* pairs: name hash (0 = empty), content hash */
  size_t cap, len;
};

/* The kernel's own summary of a table (entries, bytes, hook offsets),
 * one cheap getsockopt: equal to what it was right after our last commit
 * means nobody has touched the table since. */
struct table_info {
  bool valid;
  struct ipt_getinfo info;
};

struct kp_iptc_state {
  struct committed committed[KP_NTABLES];
  struct table_info after_commit[KP_NTABLES];
};

static bool table_info(enum kp_table t, struct ipt_getinfo *out)
{
  int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
  if (fd < 0) return false;
  memset(out, 0, sizeof *out);
  snprintf(out->name, sizeof out->name, "%s", kp_table_name(t));
  socklen_t len = sizeof *out;
  bool ok = getsockopt(fd, IPPROTO_IP, IPT_SO_GET_INFO, out, &len) == 0;
  close(fd);
  return ok;
}

static uint64_t name_hash(const char *s)
{
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ull;
  }
  return h ? h : 1;
}

static void committed_reset(struct committed *c, size_t want)
{
  free(c->slots);
  c->cap = 16;
  while (c->cap < want * 2) c->cap *= 2;
  c->slots = xcalloc(c->cap * 2, sizeof *c->slots);
  c->len = 0;
}

static void committed_put(struct committed *c, uint64_t name, uint64_t content)
{
  size_t mask = c->cap - 1;
  for (size_t i = name & mask;; i = (i + 1) & mask) {
    if (c->slots[2 * i] == 0 || c->slots[2 * i] == name) {
      if (c->slots[2 * i] == 0) c->len++;
      c->slots[2 * i] = name;
      c->slots[2 * i + 1] = content;
      return;
    }
  }
}

static bool committed_get(const struct committed *c, uint64_t name, uint64_t *content)
{
  if (!c->slots) return false;
  size_t mask = c->cap - 1;
  for (size_t i = name & mask;; i = (i + 1) & mask) {
    if (c->slots[2 * i] == 0) return false;
    if (c->slots[2 * i] == name) {
      *content = c->slots[2 * i + 1];
      return true;
    }
  }
}

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void seterr(char *err, size_t len, const char *fmt, ...)
{
  if (!err || !len) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, len, fmt, ap);
  va_end(ap);
}

/* ---- state ---- */

struct kp_iptc_state *kp_iptc_state_new(void)
{
  struct kp_iptc_state *st = xcalloc(1, sizeof *st);
  if (!st) return NULL;
  for (int t = 0; t < KP_NTABLES; t++) committed_reset(&st->committed[t], 0);
  return st;
}

void kp_iptc_state_reset(struct kp_iptc_state *st)
{
  for (int t = 0; t < KP_NTABLES; t++) {
    committed_reset(&st->committed[t], 0);
    st->after_commit[t].valid = false;
  }
}

void kp_iptc_state_free(struct kp_iptc_state *st)
{
  if (!st) return;
  for (int t = 0; t < KP_NTABLES; t++) free(st->committed[t].slots);
  free(st);
}

/* ---- encoding ---- */

struct enc {
  unsigned char *buf;
  size_t len;
};

static void *enc_add(struct enc *e, size_t n)
{
  n = XT_ALIGN(n);
  if (e->len + n > KP_MAX_ENTRY_BYTES) abort(); /* no rule of ours comes near */
  void *p = e->buf + e->len;
  memset(p, 0, n);
  e->len += n;
  return p;
}

static void *add_match(struct enc *e, const char *name, uint8_t revision, size_t datalen)
{
  struct xt_entry_match *m = enc_add(e, sizeof *m + datalen);
  m->u.user.match_size = (uint16_t)XT_ALIGN(sizeof *m + datalen);
  snprintf(m->u.user.name, sizeof m->u.user.name, "%s", name);
  m->u.user.revision = revision;
  return m->data;
}

static void *add_target(struct enc *e, const char *name, uint8_t revision, size_t datalen)
{
  struct xt_entry_target *t = enc_add(e, sizeof *t + datalen);
  t->u.user.target_size = (uint16_t)XT_ALIGN(sizeof *t + datalen);
  snprintf(t->u.user.name, sizeof t->u.user.name, "%s", name);
  t->u.user.revision = revision;
  return t->data;
}

static void encode_l4(struct enc *e, uint8_t proto, const struct kp_match *m)
{
  uint16_t sp0 = m->u.l4.sport ? m->u.l4.sport : 0, sp1 = m->u.l4.sport ? m->u.l4.sport : 0xffff;
  uint16_t dp0 = m->u.l4.dport ? m->u.l4.dport : 0, dp1 = m->u.l4.dport ? m->u.l4.dport : 0xffff;
  if (proto == IPPROTO_UDP) {
    struct xt_udp *u = add_match(e, "udp", 0, sizeof *u);
    u->spts[0] = sp0, u->spts[1] = sp1, u->dpts[0] = dp0, u->dpts[1] = dp1;
  } else if (proto == IPPROTO_SCTP) {
    struct xt_sctp_info *s = add_match(e, "sctp", 0, sizeof *s);
    s->spts[0] = sp0, s->spts[1] = sp1, s->dpts[0] = dp0, s->dpts[1] = dp1;
    if (m->u.l4.sport) s->flags |= XT_SCTP_SRC_PORTS;
    if (m->u.l4.dport) s->flags |= XT_SCTP_DEST_PORTS;
  } else {
    struct xt_tcp *t = add_match(e, "tcp", 0, sizeof *t);
    t->spts[0] = sp0, t->spts[1] = sp1, t->dpts[0] = dp0, t->dpts[1] = dp1;
  }
}

static void encode_match(struct enc *e, const struct kp_rule *r, const struct kp_match *m)
{
  switch (m->kind) {
  case KPM_COMMENT: {
    struct xt_comment_info *c = add_match(e, "comment", 0, sizeof *c);
    snprintf(c->comment, sizeof c->comment, "%s", m->u.comment);
    break;
  }
  case KPM_L4: encode_l4(e, r->proto, m); break;
  case KPM_ADDRTYPE: {
    struct xt_addrtype_info_v1 *a = add_match(e, "addrtype", 1, sizeof *a);
    if (m->u.addrtype.src_local) a->source = XT_ADDRTYPE_LOCAL;
    if (m->u.addrtype.dst_local) a->dest = XT_ADDRTYPE_LOCAL;
    break;
  }
  case KPM_CONNTRACK: {
    struct xt_conntrack_mtinfo3 *c = add_match(e, "conntrack", 3, sizeof *c);
    c->match_flags = XT_CONNTRACK_STATE;
    c->invert_flags = m->inv ? XT_CONNTRACK_STATE : 0;
    c->state_mask = m->u.ctstate;
    break;
  }
  case KPM_MARK: {
    struct xt_mark_mtinfo1 *k = add_match(e, "mark", 1, sizeof *k);
    k->mark = m->u.mark.mark;
    k->mask = m->u.mark.mask;
    k->invert = m->inv;
    break;
  }
  case KPM_STATISTIC: {
    struct xt_statistic_info *s = add_match(e, "statistic", 0, sizeof *s);
    s->mode = XT_STATISTIC_MODE_RANDOM;
    s->u.random.probability = m->u.probability;
    break;
  }
  case KPM_RECENT: {
    struct xt_recent_mtinfo_v1 *rc = add_match(e, "recent", 1, sizeof *rc);
    rc->seconds = m->u.recent.seconds;
    rc->check_set = m->u.recent.set ? XT_RECENT_SET : (XT_RECENT_CHECK | XT_RECENT_REAP);
    snprintf(rc->name, sizeof rc->name, "%s", m->u.recent.name);
    rc->side = XT_RECENT_SOURCE;
    memset(&rc->mask, 0xff, sizeof rc->mask);
    break;
  }
  }
}

static void standard_target(struct enc *e, const char *name)
{
  struct xt_standard_target *t = enc_add(e, sizeof *t);
  t->target.u.user.target_size = (uint16_t)XT_ALIGN(sizeof *t);
  snprintf(t->target.u.user.name, sizeof t->target.u.user.name, "%s", name);
}

static void encode_target(struct enc *e, const struct kp_rule *r)
{
  switch (r->target) {
  case KPT_NONE: standard_target(e, ""); break;
  case KPT_JUMP: standard_target(e, r->t.chain); break;
  case KPT_ACCEPT: standard_target(e, "ACCEPT"); break;
  case KPT_DROP: standard_target(e, "DROP"); break;
  case KPT_RETURN: standard_target(e, "RETURN"); break;
  case KPT_REJECT: {
    struct ipt_reject_info *ri = add_target(e, "REJECT", 0, sizeof *ri);
    ri->with = IPT_ICMP_PORT_UNREACHABLE;
    break;
  }
  case KPT_DNAT: {
    /* revision 2, as iptables 1.8 writes it (it prints no revision 0) */
    struct nf_nat_range2 *nr = add_target(e, "DNAT", 2, sizeof *nr);
    nr->flags = NF_NAT_RANGE_MAP_IPS | NF_NAT_RANGE_PROTO_SPECIFIED;
    nr->min_addr.ip = nr->max_addr.ip = htonl(r->t.dnat.ip);
    nr->min_proto.all = nr->max_proto.all = htons(r->t.dnat.port);
    break;
  }
  case KPT_MARK: {
    struct xt_mark_tginfo2 *mk = add_target(e, "MARK", 2, sizeof *mk);
    mk->mark = r->t.mark.mark;
    mk->mask = r->t.mark.mask;
    break;
  }
  case KPT_MASQUERADE: {
    struct nf_nat_ipv4_multi_range_compat *mr = add_target(e, "MASQUERADE", 0, sizeof *mr);
    mr->rangesize = 1;
    if (r->t.random_fully) mr->range[0].flags = NF_NAT_RANGE_PROTO_RANDOM_FULLY;
    break;
  }
  case KPT_NOTRACK: {
    /* revision 2 with the alias flag: iptables' own "-j NOTRACK" */
    struct xt_ct_target_info_v1 *ct = add_target(e, "CT", 2, sizeof *ct);
    ct->flags = XT_CT_NOTRACK | XT_CT_NOTRACK_ALIAS;
    break;
  }
  }
}

/* Encodes r into buf (KP_MAX_ENTRY_BYTES); returns the entry. */
static struct ipt_entry *encode_rule(const struct kp_rule *r, unsigned char *buf)
{
  struct enc e = {buf, 0};
  struct ipt_entry *ent = enc_add(&e, sizeof *ent);
  ent->ip.src.s_addr = htonl(r->src);
  ent->ip.smsk.s_addr = htonl(r->smask);
  ent->ip.dst.s_addr = htonl(r->dst);
  ent->ip.dmsk.s_addr = htonl(r->dmask);
  ent->ip.proto = r->proto;
  if (r->inv_src) ent->ip.invflags |= IPT_INV_SRCIP;
  if (r->inv_dst) ent->ip.invflags |= IPT_INV_DSTIP;
  for (int i = 0; i < r->nmatches; i++) encode_match(&e, r, &r->m[i]);
  ent->target_offset = (uint16_t)e.len;
  encode_target(&e, r);
  ent->next_offset = (uint16_t)e.len;
  return ent;
}

size_t kp_iptc_entry_size(const struct kp_rule *r)
{
  unsigned char buf[KP_MAX_ENTRY_BYTES];
  return encode_rule(r, buf)->next_offset;
}

/* ---- applying one table ---- */

struct apply {
  struct kp_iptc_state *st;
  const struct kp_ruleset *rs;
  struct kp_ruleset *release; /* freed before the last table's commit (kp_iptc_apply_consume) */
  enum kp_table last;         /* the last table written */
  enum kp_table t;
  bool full;
  struct xtc_handle *h;
  struct kp_chain **write; /* the chains to (re)write, by name */
  size_t nwrite;
  struct committed kernel; /* name hashes of the chains of ours the kernel has */
  char **stale;            /* chains of ours the ruleset no longer has */
  size_t nstale;
  bool touched; /* someone changed the table since our last commit */
  struct kp_iptc_result *res;
  unsigned char buf[KP_MAX_ENTRY_BYTES];
};

static int fail(struct apply *a, const char *what, const char *chain)
{
  int e = errno ? errno : EIO;
  seterr(a->res->err, sizeof a->res->err, "%s %s%s%s: %s", what, kp_table_name(a->t), chain ? " " : "",
         chain ? chain : "", iptc_strerror(e));
  return -e;
}

static int chain_name_cmp(const void *x, const void *y)
{
  return strcmp((*(struct kp_chain *const *)x)->name, (*(struct kp_chain *const *)y)->name);
}

/* One walk over the kernel's chains: the name hashes of ours go into
 * a->kernel, and the ones the ruleset no longer has into a->stale.  A
 * missing canary (the table was flushed or replaced by someone) makes
 * the sync full. */
static size_t kernel_rules(struct xtc_handle *h, const char *chain)
{
  size_t n = 0;
  for (const struct ipt_entry *e = iptc_first_rule(chain, h); e; e = iptc_next_rule(e, h)) n++;
  return n;
}

static int scan_kernel_chains(struct apply *a)
{
  committed_reset(&a->kernel, a->rs->nchains[a->t]);
  bool canary = false;
  size_t cap = 0;
  /* someone changed the table since our commit: look at our chains' rule
   * counts too, so that a chain flushed or extended by hand is rewritten */
  bool touched = a->touched && !a->full;
  for (const char *name = iptc_first_chain(a->h); name; name = iptc_next_chain(a->h)) {
    if (!kp_proxier_owns_chain(a->t, name)) continue; /* never a built-in name */
    if (!strcmp(name, KP_CHAIN_CANARY)) canary = true;
    struct kp_chain *c = kp_chain_find(a->rs, a->t, name);
    if (c) {
      committed_put(&a->kernel, name_hash(name), 1);
      c->damaged = touched && c->nrules != kernel_rules(a->h, name);
      continue;
    }
    if (a->nstale == cap) {
      cap = cap ? cap * 2 : 64;
      char **nv = xrealloc(a->stale, cap * sizeof *nv);
      if (!nv) return -ENOMEM;
      a->stale = nv;
    }
    a->stale[a->nstale++] = xstrdup(name);
  }
  if (!canary && kp_chain_find(a->rs, a->t, KP_CHAIN_CANARY)) a->full = true;
  return 0;
}

/* Unchanged since our last commit and still in the kernel.  Whether
 * someone changed it meanwhile is not checked rule by rule: a table
 * flushed or replaced by someone else loses the canary chain, and that
 * makes the sync full. */
static bool chain_unchanged(struct apply *a, const struct kp_chain *c, uint64_t name)
{
  uint64_t prev;
  if (a->full || c->damaged || !committed_get(&a->kernel, name, &prev)) return false;
  return committed_get(&a->st->committed[a->t], name, &prev) && prev == c->hash;
}

/* The chains to (re)write, in name order: libiptc inserts and finds
 * chains cheaply when they come sorted. */
static int select_chains(struct apply *a)
{
  a->write = xmalloc((a->rs->nchains[a->t] + 1) * sizeof *a->write);
  if (!a->write) return -ENOMEM;
  a->nwrite = 0;
  for (struct kp_chain *c = a->rs->chains[a->t]; c; c = c->next) {
    if (c->builtin) continue;
    c->hash = kp_chain_hash(c);
    if (chain_unchanged(a, c, name_hash(c->name))) a->res->chains_skipped++;
    else a->write[a->nwrite++] = c;
  }
  qsort(a->write, a->nwrite, sizeof *a->write, chain_name_cmp);
  return 0;
}

/* New chains first (from the last name down: each goes to the front of
 * libiptc's sorted list), since rules may jump to chains written later.
 * A chain created here is marked fresh: it is empty, so writing it needs
 * no flush (each flush is one more name lookup in libiptc's list). */
static int create_missing_chains(struct apply *a)
{
  uint64_t one;
  for (size_t i = a->nwrite; i-- > 0;) {
    struct kp_chain *c = a->write[i];
    c->fresh = !committed_get(&a->kernel, name_hash(c->name), &one);
    if (c->fresh && !iptc_create_chain(c->name, a->h)) return fail(a, "creating chain in", c->name);
  }
  return 0;
}

static int write_chains(struct apply *a)
{
  for (size_t i = 0; i < a->nwrite; i++) {
    struct kp_chain *c = a->write[i];
    KLOG_V(9, "writing chain %s %s", kp_table_name(a->t), c->name);
    if (!c->fresh && !iptc_flush_entries(c->name, a->h)) return fail(a, "flushing", c->name);
    for (const struct kp_rule *r = c->first; r; r = r->next) {
      if (!iptc_append_entry(c->name, encode_rule(r, a->buf), a->h)) return fail(a, "appending to", c->name);
      a->res->rules_written++;
    }
    a->res->chains_written++;
  }
  return 0;
}

/* Chains of ours in the kernel that the ruleset does not have: flushed
 * first (they may jump to each other), then deleted. */
static int delete_stale_chains(struct apply *a)
{
  int rc = 0;
  for (size_t i = 0; i < a->nstale && rc == 0; i++)
    if (a->stale[i] && !iptc_flush_entries(a->stale[i], a->h)) rc = fail(a, "flushing stale", a->stale[i]);
  for (size_t i = 0; i < a->nstale && rc == 0; i++) {
    if (!a->stale[i]) continue;
    if (iptc_delete_chain(a->stale[i], a->h)) a->res->chains_deleted++;
    else if (errno == EMLINK)
      KLOG_W("chain %s in %s is still referenced by a rule that is not ours; left empty", a->stale[i],
             kp_table_name(a->t));
    else rc = fail(a, "deleting", a->stale[i]);
  }
  return rc;
}

static void apply_reset(struct apply *a)
{
  for (size_t i = 0; i < a->nstale; i++) free(a->stale[i]);
  free(a->stale);
  a->stale = NULL;
  a->nstale = 0;
  free(a->write);
  a->write = NULL;
  a->nwrite = 0;
  free(a->kernel.slots);
  memset(&a->kernel, 0, sizeof a->kernel);
}

/* Is kernel entry k the same rule as our entry e jumping to target?
 * Matches are compared by name, revision and data: the kernel keeps a
 * pointer where the name's tail was, so the headers differ bytewise. */
static bool same_jump(struct xtc_handle *h, const struct ipt_entry *k, const struct ipt_entry *e, const char *target)
{
  const char *kt = iptc_get_target(k, h);
  if (!kt || strcmp(kt, target)) return false;
  if (memcmp(&k->ip, &e->ip, sizeof k->ip) || k->target_offset != e->target_offset) return false;
  for (size_t off = sizeof *e; off < e->target_offset;) {
    const struct xt_entry_match *km = (const void *)((const char *)k + off),
                                *em = (const void *)((const char *)e + off);
    size_t size = em->u.user.match_size;
    if (km->u.user.match_size != size || size < sizeof *em) return false;
    if (strcmp(km->u.user.name, em->u.user.name) || km->u.user.revision != em->u.user.revision) return false;
    if (memcmp(km->data, em->data, size - sizeof *em)) return false;
    off += size;
  }
  return true;
}

static bool is_our_jump(struct apply *a, const struct ipt_entry *k)
{
  const char *kt = iptc_get_target(k, a->h);
  return kt && kp_proxier_owns_chain(a->t, kt);
}

/* The built-in chain's jumps to our chains become exactly c's rules, at
 * the top, in order. */
static int sync_builtin(struct apply *a, const struct kp_chain *c)
{
  size_t want = c->nrules, pos = 0, ours = 0;
  bool in_place = true;
  const struct kp_rule *r = c->first;
  for (const struct ipt_entry *k = iptc_first_rule(c->name, a->h); k; k = iptc_next_rule(k, a->h), pos++) {
    if (!is_our_jump(a, k)) {
      if (pos < want) in_place = false;
      continue;
    }
    ours++;
    if (pos >= want || !r || !same_jump(a->h, k, encode_rule(r, a->buf), r->t.chain)) in_place = false;
    if (r) r = r->next;
  }
  if (in_place && ours == want) return 0;
  /* delete ours from the bottom up, then insert the wanted ones on top */
  for (;;) {
    unsigned int i = 0, last = (unsigned int)-1;
    for (const struct ipt_entry *k = iptc_first_rule(c->name, a->h); k; k = iptc_next_rule(k, a->h), i++)
      if (is_our_jump(a, k)) last = i;
    if (last == (unsigned int)-1) break;
    if (!iptc_delete_num_entry(c->name, last, a->h)) return fail(a, "deleting a jump from", c->name);
  }
  unsigned int n = 0;
  for (r = c->first; r; r = r->next, n++) {
    if (!iptc_insert_entry(c->name, encode_rule(r, a->buf), n, a->h)) return fail(a, "inserting a jump into", c->name);
    a->res->rules_written++;
  }
  return 0;
}

static int sync_builtins(struct apply *a)
{
  static const char *const builtins[] = {"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"};
  for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++) {
    if (!iptc_builtin(builtins[i], a->h)) continue;
    const struct kp_chain *c = kp_chain_find(a->rs, a->t, builtins[i]);
    struct kp_chain empty = {.name = builtins[i], .builtin = true};
    int rc = sync_builtin(a, c ? c : &empty);
    if (rc) return rc;
  }
  return 0;
}

/* What this table's commit will leave: our chains' name and content
 * hashes, taken before the commit (the ruleset may be gone after it) and
 * installed once the commit succeeded. */
static void remember(struct apply *a, struct committed *pending)
{
  memset(pending, 0, sizeof *pending);
  committed_reset(pending, a->rs->nchains[a->t]);
  for (struct kp_chain *ch = a->rs->chains[a->t]; ch; ch = ch->next)
    if (!ch->builtin) committed_put(pending, name_hash(ch->name), ch->hash);
}

/* Our copy of the rules is no longer needed once libiptc has its own:
 * freeing it before the commit keeps it out of the commit's peak, where
 * libiptc holds its rules and the whole table as one blob at once. */
static void release_ruleset(struct apply *a)
{
  if (!a->release || a->t != a->last) return;
  kp_ruleset_free(a->release);
  a->release = NULL;
  a->rs = NULL;
  malloc_trim(0);
}

/* Nothing to do for this table: every chain of ours is what we committed
 * last, and the kernel's table is as our commit left it. */
static bool table_unchanged(struct apply *a)
{
  struct table_info *ti = &a->st->after_commit[a->t];
  struct committed *c = &a->st->committed[a->t];
  if (a->full || !ti->valid) return false;
  size_t n = 0;
  uint64_t prev;
  for (struct kp_chain *ch = a->rs->chains[a->t]; ch; ch = ch->next) {
    if (ch->builtin) continue;
    ch->hash = kp_chain_hash(ch);
    if (!committed_get(c, name_hash(ch->name), &prev) || prev != ch->hash) return false;
    n++;
  }
  struct ipt_getinfo now;
  return n == c->len && table_info(a->t, &now) && !memcmp(&now, &ti->info, sizeof now);
}

bool kp_iptc_untouched(const struct kp_iptc_state *st)
{
  for (int t = 0; t < KP_NTABLES; t++) {
    const struct table_info *ti = &st->after_commit[t];
    if (!st->committed[t].len) continue; /* a table we do not write */
    struct ipt_getinfo now;
    if (!ti->valid || !table_info((enum kp_table)t, &now) || memcmp(&now, &ti->info, sizeof now)) return false;
  }
  return true;
}

static int apply_table(struct apply *a)
{
  double t0 = now_s();
  if (table_unchanged(a)) {
    a->res->tables_skipped++;
    a->res->build_s += now_s() - t0;
    return 0;
  }
  struct table_info *ti = &a->st->after_commit[a->t];
  struct ipt_getinfo now;
  a->touched = !ti->valid || !table_info(a->t, &now) || memcmp(&now, &ti->info, sizeof now);
  ti->valid = false;
  a->h = iptc_init(kp_table_name(a->t));
  if (!a->h) return fail(a, "reading table", NULL);
  double t1 = now_s();
  a->res->read_s += t1 - t0;
  bool full = a->full;
  int rc = scan_kernel_chains(a);
  if (!rc) rc = select_chains(a);
  if (!rc) rc = create_missing_chains(a);
  double tc = now_s();
  a->res->create_s += tc - t1;
  if (!rc) rc = write_chains(a);
  double tw = now_s();
  a->res->write_s += tw - tc;
  if (!rc) rc = delete_stale_chains(a);
  a->res->stale_s += now_s() - tw;
  if (!rc) rc = sync_builtins(a);
  struct committed pending = {0};
  if (!rc) remember(a, &pending);
  release_ruleset(a);
  double t2 = now_s();
  a->res->build_s += t2 - t1;
  if (!rc && !iptc_commit(a->h)) rc = fail(a, "committing table", NULL);
  a->res->commit_s += now_s() - t2;
  iptc_free(a->h);
  a->h = NULL;
  if (rc) free(pending.slots);
  else {
    free(a->st->committed[a->t].slots);
    a->st->committed[a->t] = pending;
    a->st->after_commit[a->t].valid = table_info(a->t, &a->st->after_commit[a->t].info);
    if (a->st->after_commit[a->t].valid) a->res->table_bytes += a->st->after_commit[a->t].info.size;
  }
  apply_reset(a);
  a->full = full;
  return rc;
}

/* nat last: it holds nearly all of the rules, and a consumed ruleset is
 * freed before the last table's commit */
static const enum kp_table apply_order[KP_NTABLES] = {KP_TABLE_FILTER, KP_TABLE_RAW, KP_TABLE_NAT};

static int apply(struct kp_iptc_state *st, const struct kp_ruleset *rs, struct kp_ruleset *own, bool full,
                 struct kp_iptc_result *res)
{
  memset(res, 0, sizeof *res);
  res->full = full;
  double t0 = now_s();
  int lock = xtables_lock(KP_XTABLES_WAIT_MS);
  res->lock_s = now_s() - t0;
  if (lock < 0) {
    kp_ruleset_free(own);
    seterr(res->err, sizeof res->err, "xtables lock: %s", strerror(-lock));
    return res->rc = lock;
  }
  struct apply *a = xcalloc(1, sizeof *a);
  a->st = st;
  a->rs = rs;
  a->release = own;
  a->full = full;
  a->res = res;
  for (int i = 0; i < KP_NTABLES; i++)
    if (rs->nchains[apply_order[i]]) a->last = apply_order[i];
  int rc = 0;
  for (int i = 0; i < KP_NTABLES && rc == 0; i++) {
    if (!rs->nchains[apply_order[i]]) continue;
    a->t = apply_order[i];
    rc = apply_table(a);
    if (a->t == a->last) break; /* rs may be gone */
  }
  if (rc) kp_iptc_state_reset(st); /* a failed commit leaves us unsure: rewrite everything next time */
  kp_ruleset_free(a->release);     /* an error before the last table's commit */
  free(a);
  close(lock);
  return res->rc = rc;
}

int kp_iptc_apply(struct kp_iptc_state *st, const struct kp_ruleset *rs, bool full, struct kp_iptc_result *res)
{
  return apply(st, rs, NULL, full, res);
}

int kp_iptc_apply_consume(struct kp_iptc_state *st, struct kp_ruleset *rs, bool full, struct kp_iptc_result *res)
{
  return apply(st, rs, rs, full, res);
}

/* ---- --cleanup ---- */

static int cleanup_table(enum kp_table t, char *err, size_t errlen)
{
  struct xtc_handle *h = iptc_init(kp_table_name(t));
  if (!h) {
    if (errno == ENOENT || errno == EINVAL) return 0; /* table not there: nothing of ours */
    seterr(err, errlen, "reading table %s: %s", kp_table_name(t), iptc_strerror(errno));
    return -EIO;
  }
  struct kp_ruleset *rs = kp_ruleset_new();
  struct kp_iptc_state *st = kp_iptc_state_new();
  struct kp_iptc_result res;
  memset(&res, 0, sizeof res);
  struct apply a = {.st = st, .rs = rs, .t = t, .full = true, .h = h, .res = &res};
  int rc = scan_kernel_chains(&a);
  if (!rc) rc = sync_builtins(&a);
  if (!rc) rc = delete_stale_chains(&a);
  apply_reset(&a);
  if (!rc && !iptc_commit(h)) rc = fail(&a, "committing table", NULL);
  if (rc) seterr(err, errlen, "%s", res.err);
  iptc_free(h);
  kp_iptc_state_free(st);
  kp_ruleset_free(rs);
  return rc;
}

int kp_iptc_cleanup(char *err, size_t errlen)
{
  int lock = xtables_lock(KP_XTABLES_WAIT_MS);
  if (lock < 0) {
    seterr(err, errlen, "xtables lock: %s", strerror(-lock));
    return lock;
  }
  int rc = 0;
  for (int t = 0; t < KP_NTABLES && rc == 0; t++) rc = cleanup_table((enum kp_table)t, err, errlen);
  close(lock);
  return rc;
}
