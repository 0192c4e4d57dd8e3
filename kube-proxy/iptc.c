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
#include "iptc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
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
#include <time.h>
#include <unistd.h>

#include "kube/log.h"
#include "map.h"
#include "proxier.h"

#define XTABLES_LOCK_DEFAULT "/run/xtables.lock"
#define XTABLES_LOCK_STEP_MS 10
#define KP_XTABLES_WAIT_MS 5000
#define KP_MAX_ENTRY_BYTES 4096

struct kp_iptc_state {
  struct kp_map *committed[KP_NTABLES]; /* chain name -> (hash of the last committed content) */
};

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

int kp_xtables_lock(int wait_ms)
{
  const char *path = getenv("XTABLES_LOCKFILE");
  if (!path || !*path) path = XTABLES_LOCK_DEFAULT;
  int fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) return -errno;
  for (int waited = 0;; waited += XTABLES_LOCK_STEP_MS) {
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) return fd;
    if (errno != EWOULDBLOCK || waited >= wait_ms) {
      int e = errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
      close(fd);
      return e;
    }
    struct timespec ts = { 0, XTABLES_LOCK_STEP_MS * 1000000L };
    nanosleep(&ts, NULL);
  }
}

/* ---- state ---- */

struct kp_iptc_state *kp_iptc_state_new(void)
{
  struct kp_iptc_state *st = calloc(1, sizeof *st);
  if (!st) return NULL;
  for (int t = 0; t < KP_NTABLES; t++) st->committed[t] = kp_map_new();
  return st;
}

static void free_hash(void *v) { free(v); }

void kp_iptc_state_reset(struct kp_iptc_state *st)
{
  for (int t = 0; t < KP_NTABLES; t++) {
    kp_map_free(st->committed[t], free_hash);
    st->committed[t] = kp_map_new();
  }
}

void kp_iptc_state_free(struct kp_iptc_state *st)
{
  if (!st) return;
  for (int t = 0; t < KP_NTABLES; t++) kp_map_free(st->committed[t], free_hash);
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
  struct enc e = { buf, 0 };
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
  enum kp_table t;
  bool full;
  struct xtc_handle *h;
  struct kp_chain **sorted;  /* our user chains by name: libiptc inserts and
                                finds chains in sorted order cheaply */
  size_t nsorted;
  struct kp_map *kernel;     /* chains of ours the kernel has */
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

static int sort_chains(struct apply *a)
{
  a->sorted = malloc((a->rs->nchains[a->t] + 1) * sizeof *a->sorted);
  if (!a->sorted) return -ENOMEM;
  a->nsorted = 0;
  for (struct kp_chain *c = a->rs->chains[a->t]; c; c = c->next)
    if (!c->builtin) a->sorted[a->nsorted++] = c;
  qsort(a->sorted, a->nsorted, sizeof *a->sorted, chain_name_cmp);
  return 0;
}

static int create_missing_chains(struct apply *a)
{
  for (size_t i = a->nsorted; i-- > 0;) {
    struct kp_chain *c = a->sorted[i];
    if (kp_map_get(a->kernel, c->name)) continue;
    if (!iptc_create_chain(c->name, a->h)) return fail(a, "creating chain in", c->name);
  }
  return 0;
}

/* Unchanged since our last commit and still in the kernel.  Whether
 * someone changed it meanwhile is not checked rule by rule: a table
 * flushed or replaced by someone else loses the canary chain, and that
 * makes the sync full. */
static bool chain_unchanged(struct apply *a, const struct kp_chain *c, uint64_t hash)
{
  if (a->full || !kp_map_get(a->kernel, c->name)) return false;
  const uint64_t *prev = kp_map_get(a->st->committed[a->t], c->name);
  return prev && *prev == hash;
}

static int write_chains(struct apply *a)
{
  for (size_t i = 0; i < a->nsorted; i++) {
    struct kp_chain *c = a->sorted[i];
    uint64_t hash = kp_chain_hash(c);
    if (chain_unchanged(a, c, hash)) {
      a->res->chains_skipped++;
      continue;
    }
    KLOG_V(9, "writing chain %s %s", kp_table_name(a->t), c->name);
    if (!iptc_flush_entries(c->name, a->h)) return fail(a, "flushing", c->name);
    for (const struct kp_rule *r = c->first; r; r = r->next) {
      if (!iptc_append_entry(c->name, encode_rule(r, a->buf), a->h)) return fail(a, "appending to", c->name);
      a->res->rules_written++;
    }
    a->res->chains_written++;
  }
  return 0;
}

/* Chains of ours in the kernel that the ruleset does not have. */
static int delete_stale_chains(struct apply *a)
{
  size_t n = 0, cap = 64, pos = 0;
  const char *name;
  char **stale = malloc(cap * sizeof *stale);
  if (!stale) return -ENOMEM;
  while (kp_map_next(a->kernel, &pos, &name, NULL)) {
    if (kp_chain_find(a->rs, a->t, name)) continue;
    if (n == cap) {
      char **nv = realloc(stale, (cap *= 2) * sizeof *stale);
      if (!nv) break;
      stale = nv;
    }
    stale[n++] = strdup(name);
  }
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++)
    if (stale[i] && !iptc_flush_entries(stale[i], a->h)) rc = fail(a, "flushing stale", stale[i]);
  for (size_t i = 0; i < n && rc == 0; i++) {
    if (!stale[i]) continue;
    if (iptc_delete_chain(stale[i], a->h))
      a->res->chains_deleted++;
    else if (errno == EMLINK)
      KLOG_W("chain %s in %s is still referenced by a rule that is not ours; left empty", stale[i],
             kp_table_name(a->t));
    else
      rc = fail(a, "deleting", stale[i]);
  }
  for (size_t i = 0; i < n; i++) free(stale[i]);
  free(stale);
  return rc;
}

/* One walk over the kernel's chains: ours go into a->kernel.  A missing
 * canary (the table was flushed or replaced) makes the sync full. */
static int scan_kernel_chains(struct apply *a)
{
  a->kernel = kp_map_new();
  if (!a->kernel) return -ENOMEM;
  bool canary = false;
  for (const char *name = iptc_first_chain(a->h); name; name = iptc_next_chain(a->h)) {
    if (!kp_proxier_owns_chain(a->t, name)) continue; /* never a built-in name */
    kp_map_put(a->kernel, name, (void *)1);
    if (!strcmp(name, KP_CHAIN_CANARY)) canary = true;
  }
  if (!canary && kp_chain_find(a->rs, a->t, KP_CHAIN_CANARY)) a->full = true;
  return 0;
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
    const struct xt_entry_match *km = (const void *)((const char *)k + off), *em = (const void *)((const char *)e + off);
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
  static const char *const builtins[] = { "PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING" };
  for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++) {
    if (!iptc_builtin(builtins[i], a->h)) continue;
    const struct kp_chain *c = kp_chain_find(a->rs, a->t, builtins[i]);
    struct kp_chain empty = { .name = builtins[i], .builtin = true };
    int rc = sync_builtin(a, c ? c : &empty);
    if (rc) return rc;
  }
  return 0;
}

static void remember(struct apply *a)
{
  kp_map_free(a->st->committed[a->t], free_hash);
  a->st->committed[a->t] = kp_map_new();
  for (struct kp_chain *c = a->rs->chains[a->t]; c; c = c->next) {
    if (c->builtin) continue;
    uint64_t *h = malloc(sizeof *h);
    if (!h) abort();
    *h = kp_chain_hash(c);
    kp_map_put(a->st->committed[a->t], c->name, h);
  }
}

static int apply_table(struct apply *a)
{
  double t0 = now_s();
  a->h = iptc_init(kp_table_name(a->t));
  if (!a->h) return fail(a, "reading table", NULL);
  double t1 = now_s();
  a->res->read_s += t1 - t0;
  bool full = a->full;
  int rc = scan_kernel_chains(a);
  if (!rc) rc = sort_chains(a);
  if (!rc) rc = create_missing_chains(a);
  double tc = now_s();
  a->res->create_s += tc - t1;
  if (!rc) rc = write_chains(a);
  double tw = now_s();
  a->res->write_s += tw - tc;
  if (!rc) rc = delete_stale_chains(a);
  a->res->stale_s += now_s() - tw;
  if (!rc) rc = sync_builtins(a);
  double t2 = now_s();
  a->res->build_s += t2 - t1;
  if (!rc && !iptc_commit(a->h)) rc = fail(a, "committing table", NULL);
  a->res->commit_s += now_s() - t2;
  iptc_free(a->h);
  a->h = NULL;
  if (!rc) remember(a);
  free(a->sorted);
  a->sorted = NULL;
  kp_map_free(a->kernel, NULL);
  a->kernel = NULL;
  a->full = full;
  return rc;
}

int kp_iptc_apply(struct kp_iptc_state *st, const struct kp_ruleset *rs, bool full, struct kp_iptc_result *res)
{
  memset(res, 0, sizeof *res);
  res->full = full;
  double t0 = now_s();
  int lock = kp_xtables_lock(KP_XTABLES_WAIT_MS);
  res->lock_s = now_s() - t0;
  if (lock < 0) {
    seterr(res->err, sizeof res->err, "xtables lock: %s", strerror(-lock));
    return res->rc = lock;
  }
  struct apply *a = calloc(1, sizeof *a);
  if (!a) {
    close(lock);
    return res->rc = -ENOMEM;
  }
  a->st = st;
  a->rs = rs;
  a->full = full;
  a->res = res;
  int rc = 0;
  for (int t = 0; t < KP_NTABLES && rc == 0; t++) {
    if (!rs->nchains[t]) continue;
    a->t = (enum kp_table)t;
    rc = apply_table(a);
  }
  if (rc) kp_iptc_state_reset(st); /* a failed commit leaves us unsure: rewrite everything next time */
  free(a);
  close(lock);
  return res->rc = rc;
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
  struct apply a = { .st = st, .rs = rs, .t = t, .full = true, .h = h, .res = &res };
  int rc = scan_kernel_chains(&a);
  if (!rc) rc = sync_builtins(&a);
  if (!rc) rc = delete_stale_chains(&a);
  kp_map_free(a.kernel, NULL);
  if (!rc && !iptc_commit(h)) rc = fail(&a, "committing table", NULL);
  if (rc) seterr(err, errlen, "%s", res.err);
  iptc_free(h);
  kp_iptc_state_free(st);
  kp_ruleset_free(rs);
  return rc;
}

int kp_iptc_cleanup(char *err, size_t errlen)
{
  int lock = kp_xtables_lock(KP_XTABLES_WAIT_MS);
  if (lock < 0) {
    seterr(err, errlen, "xtables lock: %s", strerror(-lock));
    return lock;
  }
  int rc = 0;
  for (int t = 0; t < KP_NTABLES && rc == 0; t++) rc = cleanup_table((enum kp_table)t, err, errlen);
  close(lock);
  return rc;
}
