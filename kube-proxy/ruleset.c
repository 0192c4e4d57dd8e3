/*
 * ruleset.c - rules as data, their content hash and their iptables-save
 * text (see ruleset.h).  The text follows what iptables-legacy-save
 * 1.8 prints for the entries iptc.c encodes, field by field: the ipt_ip
 * part (-s, -d, -p), then each match as "-m NAME" and its save output,
 * then "-j TARGET" and the target's save output.
 */
#include "ruleset.h"
#include "map.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const builtin_names[] = {"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"};

const char *kp_table_name(enum kp_table t)
{
  switch (t) {
  case KP_TABLE_FILTER: return "filter";
  case KP_TABLE_NAT: return "nat";
  case KP_TABLE_RAW: return "raw";
  default: return "?";
  }
}

bool kp_chain_is_builtin_name(const char *name)
{
  for (size_t i = 0; i < sizeof builtin_names / sizeof builtin_names[0]; i++)
    if (!strcmp(name, builtin_names[i])) return true;
  return false;
}

static int builtin_rank(const char *name)
{
  for (size_t i = 0; i < sizeof builtin_names / sizeof builtin_names[0]; i++)
    if (!strcmp(name, builtin_names[i])) return (int)i;
  return -1;
}

struct kp_ruleset *kp_ruleset_new(void)
{
  struct kp_ruleset *rs = calloc(1, sizeof *rs);
  if (!rs) return NULL;
  kp_arena_init(&rs->arena);
  for (int t = 0; t < KP_NTABLES; t++) rs->by_name[t] = kp_map_new();
  return rs;
}

void kp_ruleset_free(struct kp_ruleset *rs)
{
  if (!rs) return;
  for (int t = 0; t < KP_NTABLES; t++) kp_map_free(rs->by_name[t], NULL);
  kp_arena_free(&rs->arena);
  free(rs);
}

struct kp_chain *kp_chain_find(const struct kp_ruleset *rs, enum kp_table t, const char *name)
{
  return kp_map_get(rs->by_name[t], name);
}

struct kp_chain *kp_chain_new(struct kp_ruleset *rs, enum kp_table t, const char *name)
{
  struct kp_chain *c = kp_arena_alloc(&rs->arena, sizeof *c);
  c->name = kp_arena_strdup(&rs->arena, name);
  c->builtin = kp_chain_is_builtin_name(name);
  if (rs->chains_tail[t]) rs->chains_tail[t]->next = c;
  else rs->chains[t] = c;
  rs->chains_tail[t] = c;
  rs->nchains[t]++;
  kp_map_put(rs->by_name[t], c->name, c);
  return c;
}

struct kp_chain *kp_chain_add(struct kp_ruleset *rs, enum kp_table t, const char *name)
{
  struct kp_chain *c = kp_chain_find(rs, t, name);
  return c ? c : kp_chain_new(rs, t, name);
}

/* ---- the builder ---- */

void kp_rb_init(struct kp_rb *b) { memset(b, 0, sizeof *b); }

uint32_t kp_prefix_mask(int prefix)
{
  if (prefix <= 0) return 0;
  if (prefix >= 32) return 0xffffffffu;
  return 0xffffffffu << (32 - prefix);
}

int kp_mask_prefix(uint32_t mask)
{
  for (int p = 0; p <= 32; p++)
    if (kp_prefix_mask(p) == mask) return p;
  return -1;
}

void kp_rb_src(struct kp_rb *b, uint32_t ip, int prefix, bool inv)
{
  b->r.smask = kp_prefix_mask(prefix);
  b->r.src = ip & b->r.smask;
  b->r.inv_src = inv;
}

void kp_rb_dst(struct kp_rb *b, uint32_t ip, int prefix, bool inv)
{
  b->r.dmask = kp_prefix_mask(prefix);
  b->r.dst = ip & b->r.dmask;
  b->r.inv_dst = inv;
}

void kp_rb_proto(struct kp_rb *b, uint8_t proto) { b->r.proto = proto; }

static struct kp_match *rb_match(struct kp_rb *b, enum kp_match_kind k)
{
  if (b->r.nmatches >= KP_MAX_MATCHES) abort(); /* a bug in the generator */
  struct kp_match *m = &b->m[b->r.nmatches++];
  memset(m, 0, sizeof *m);
  m->kind = (uint8_t)k;
  return m;
}

void kp_rb_comment(struct kp_rb *b, const char *comment) { rb_match(b, KPM_COMMENT)->u.comment = comment; }

void kp_rb_l4(struct kp_rb *b, uint16_t sport, uint16_t dport)
{
  struct kp_match *m = rb_match(b, KPM_L4);
  m->u.l4.sport = sport;
  m->u.l4.dport = dport;
}

void kp_rb_addrtype(struct kp_rb *b, bool src_local, bool dst_local)
{
  struct kp_match *m = rb_match(b, KPM_ADDRTYPE);
  m->u.addrtype.src_local = src_local;
  m->u.addrtype.dst_local = dst_local;
}

void kp_rb_ctstate(struct kp_rb *b, uint16_t states, bool inv)
{
  struct kp_match *m = rb_match(b, KPM_CONNTRACK);
  m->u.ctstate = states;
  m->inv = inv;
}

void kp_rb_mark(struct kp_rb *b, uint32_t mark, uint32_t mask, bool inv)
{
  struct kp_match *m = rb_match(b, KPM_MARK);
  m->u.mark.mark = mark;
  m->u.mark.mask = mask;
  m->inv = inv;
}

void kp_rb_probability(struct kp_rb *b, int n)
{
  /* upstream writes fmt.Sprintf("%0.10f", 1.0/n); iptables stores
   * lround(0x80000000 * p) */
  double p = round(1e10 / (double)n) / 1e10;
  rb_match(b, KPM_STATISTIC)->u.probability = (uint32_t)lround(2147483648.0 * p);
}

void kp_rb_recent(struct kp_rb *b, bool set, uint32_t seconds, const char *name)
{
  struct kp_match *m = rb_match(b, KPM_RECENT);
  m->u.recent.set = set;
  m->u.recent.seconds = seconds;
  m->u.recent.name = name;
}

void kp_rb_jump(struct kp_rb *b, const char *chain)
{
  b->r.target = KPT_JUMP;
  b->r.t.chain = chain;
}

void kp_rb_target(struct kp_rb *b, enum kp_target_kind t) { b->r.target = (uint8_t)t; }

void kp_rb_dnat(struct kp_rb *b, uint32_t ip, uint16_t port)
{
  b->r.target = KPT_DNAT;
  b->r.t.dnat.ip = ip;
  b->r.t.dnat.port = port;
}

void kp_rb_mark_target(struct kp_rb *b, uint32_t mark, uint32_t mask)
{
  b->r.target = KPT_MARK;
  b->r.t.mark.mark = mark;
  b->r.t.mark.mask = mask;
}

void kp_rb_masquerade(struct kp_rb *b, bool random_fully)
{
  b->r.target = KPT_MASQUERADE;
  b->r.t.random_fully = random_fully;
}

struct kp_rule *kp_chain_append(struct kp_ruleset *rs, enum kp_table t, struct kp_chain *c, const struct kp_rb *b)
{
  size_t n = b->r.nmatches;
  struct kp_rule *r = kp_arena_alloc(&rs->arena, sizeof *r + n * sizeof(struct kp_match));
  *r = b->r;
  r->next = NULL;
  memcpy(r->m, b->m, n * sizeof(struct kp_match));
  if (c->last) c->last->next = r;
  else c->first = r;
  c->last = r;
  c->nrules++;
  rs->nrules[t]++;
  return r;
}

/* ---- content hash ---- */

#define FNV_OFFSET 1469598103934665603ull
#define FNV_PRIME 1099511628211ull

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
  const unsigned char *s = p;
  for (size_t i = 0; i < n; i++) {
    h ^= s[i];
    h *= FNV_PRIME;
  }
  return h;
}

static uint64_t fnv_u32(uint64_t h, uint32_t v) { return fnv(h, &v, sizeof v); }
static uint64_t fnv_str(uint64_t h, const char *s) { return s ? fnv(h, s, strlen(s) + 1) : fnv_u32(h, 0xfffffffe); }

static uint64_t match_hash(uint64_t h, const struct kp_match *m)
{
  h = fnv_u32(h, (uint32_t)m->kind << 8 | m->inv);
  switch (m->kind) {
  case KPM_COMMENT: return fnv_str(h, m->u.comment);
  case KPM_L4: return fnv_u32(h, (uint32_t)m->u.l4.sport << 16 | m->u.l4.dport);
  case KPM_ADDRTYPE: return fnv_u32(h, (uint32_t)m->u.addrtype.src_local << 1 | m->u.addrtype.dst_local);
  case KPM_CONNTRACK: return fnv_u32(h, m->u.ctstate);
  case KPM_MARK: return fnv_u32(fnv_u32(h, m->u.mark.mark), m->u.mark.mask);
  case KPM_STATISTIC: return fnv_u32(h, m->u.probability);
  case KPM_RECENT:
    h = fnv_u32(h, m->u.recent.set);
    h = fnv_u32(h, m->u.recent.seconds);
    return fnv_str(h, m->u.recent.name);
  }
  return h;
}

static uint64_t rule_hash(uint64_t h, const struct kp_rule *r)
{
  uint32_t head[5] = {r->src, r->smask, r->dst, r->dmask,
                      (uint32_t)r->inv_src | (uint32_t)r->inv_dst << 1 | (uint32_t)r->proto << 8 |
                          (uint32_t)r->target << 16 | (uint32_t)r->nmatches << 24};
  h = fnv(h, head, sizeof head);
  for (int i = 0; i < r->nmatches; i++) h = match_hash(h, &r->m[i]);
  switch (r->target) {
  case KPT_JUMP: h = fnv_str(h, r->t.chain); break;
  case KPT_DNAT: h = fnv_u32(fnv_u32(h, r->t.dnat.ip), r->t.dnat.port); break;
  case KPT_MARK: h = fnv_u32(fnv_u32(h, r->t.mark.mark), r->t.mark.mask); break;
  case KPT_MASQUERADE: h = fnv_u32(h, r->t.random_fully); break;
  default: break;
  }
  return h;
}

uint64_t kp_chain_hash(const struct kp_chain *c)
{
  uint64_t h = fnv_str(FNV_OFFSET, c->name);
  for (const struct kp_rule *r = c->first; r; r = r->next) h = rule_hash(h, r);
  return h;
}

/* ---- addresses ---- */

char *kp_ip_str(uint32_t ip, char *buf)
{
  snprintf(buf, 16, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
  return buf;
}

bool kp_ip_parse(const char *s, uint32_t *ip)
{
  struct in_addr a;
  if (!s || inet_pton(AF_INET, s, &a) != 1) return false;
  *ip = ntohl(a.s_addr);
  return true;
}

bool kp_cidr_parse(const char *s, uint32_t *net, int *prefix)
{
  if (!s) return false;
  while (*s == ' ' || *s == '\t') s++;
  char buf[64];
  size_t n = strlen(s);
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
  if (n == 0 || n >= sizeof buf) return false;
  memcpy(buf, s, n);
  buf[n] = 0;
  int p = 32;
  char *slash = strchr(buf, '/');
  if (slash) {
    *slash = 0;
    char *end;
    long v = strtol(slash + 1, &end, 10);
    if (*end || end == slash + 1 || v < 0 || v > 32) return false;
    p = (int)v;
  }
  uint32_t ip;
  if (!kp_ip_parse(buf, &ip)) return false;
  *net = ip & kp_prefix_mask(p);
  *prefix = p;
  return true;
}

/* ---- iptables-save text ---- */

static void render_addr(struct evbuffer *out, const char *flag, uint32_t ip, uint32_t mask, bool inv)
{
  if (!ip && !mask && !inv) return;
  char b[16];
  int p = kp_mask_prefix(mask);
  if (p >= 0) evbuffer_add_printf(out, "%s %s %s/%d", inv ? " !" : "", flag, kp_ip_str(ip, b), p);
  else {
    char m[16];
    evbuffer_add_printf(out, "%s %s %s/%s", inv ? " !" : "", flag, kp_ip_str(ip, b), kp_ip_str(mask, m));
  }
}

static const char *proto_name(uint8_t p)
{
  switch (p) {
  case IPPROTO_TCP: return "tcp";
  case IPPROTO_UDP: return "udp";
  case IPPROTO_SCTP: return "sctp";
  default: return NULL;
  }
}

/* xtables_save_string: bare when only [_-0-9a-zA-Z], else quoted with
 * \ before " \ and '. */
static void render_string(struct evbuffer *out, const char *s)
{
  size_t n = strspn(s, "_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
  if (n > 0 && s[n] == 0) {
    evbuffer_add_printf(out, " %s", s);
    return;
  }
  evbuffer_add(out, " \"", 2);
  for (const char *p = s; *p; p++) {
    if (*p == '"' || *p == '\\' || *p == '\'') evbuffer_add(out, "\\", 1);
    evbuffer_add(out, p, 1);
  }
  evbuffer_add(out, "\"", 1);
}

static void render_ctstate(struct evbuffer *out, uint16_t s)
{
  static const struct {
    uint16_t bit;
    const char *name;
  } names[] = {
      {KP_CT_INVALID, "INVALID"}, {KP_CT_NEW, "NEW"}, {KP_CT_RELATED, "RELATED"}, {KP_CT_ESTABLISHED, "ESTABLISHED"},
      {0x40, "UNTRACKED"},        {0x20, "SNAT"},     {KP_CT_DNAT, "DNAT"},
  };
  const char *sep = " ";
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    if (!(s & names[i].bit)) continue;
    evbuffer_add_printf(out, "%s%s", sep, names[i].name);
    sep = ",";
  }
}

static void render_match(const struct kp_rule *r, const struct kp_match *m, struct evbuffer *out)
{
  switch (m->kind) {
  case KPM_COMMENT:
    evbuffer_add_printf(out, " -m comment --comment");
    render_string(out, m->u.comment);
    break;
  case KPM_L4:
    evbuffer_add_printf(out, " -m %s", proto_name(r->proto) ? proto_name(r->proto) : "?");
    if (m->u.l4.sport) evbuffer_add_printf(out, " --sport %u", m->u.l4.sport);
    if (m->u.l4.dport) evbuffer_add_printf(out, " --dport %u", m->u.l4.dport);
    break;
  case KPM_ADDRTYPE:
    evbuffer_add_printf(out, " -m addrtype");
    if (m->u.addrtype.src_local) evbuffer_add_printf(out, " --src-type LOCAL");
    if (m->u.addrtype.dst_local) evbuffer_add_printf(out, " --dst-type LOCAL");
    break;
  case KPM_CONNTRACK:
    evbuffer_add_printf(out, " -m conntrack%s --ctstate", m->inv ? " !" : "");
    render_ctstate(out, m->u.ctstate);
    break;
  case KPM_MARK:
    evbuffer_add_printf(out, " -m mark%s --mark", m->inv ? " !" : "");
    if (m->u.mark.mask != 0xffffffffu) evbuffer_add_printf(out, " 0x%x/0x%x", m->u.mark.mark, m->u.mark.mask);
    else evbuffer_add_printf(out, " 0x%x", m->u.mark.mark);
    break;
  case KPM_STATISTIC:
    evbuffer_add_printf(out, " -m statistic --mode random --probability %.11f", 1.0 * m->u.probability / 2147483648.0);
    break;
  case KPM_RECENT:
    evbuffer_add_printf(out, " -m recent %s", m->u.recent.set ? "--set" : "--rcheck");
    if (m->u.recent.seconds) evbuffer_add_printf(out, " --seconds %u", m->u.recent.seconds);
    if (!m->u.recent.set) evbuffer_add_printf(out, " --reap");
    evbuffer_add_printf(out, " --name %s --mask 255.255.255.255 --rsource", m->u.recent.name);
    break;
  }
}

static void render_target(const struct kp_rule *r, struct evbuffer *out)
{
  char b[16];
  switch (r->target) {
  case KPT_NONE: break;
  case KPT_JUMP: evbuffer_add_printf(out, " -j %s", r->t.chain); break;
  case KPT_ACCEPT: evbuffer_add_printf(out, " -j ACCEPT"); break;
  case KPT_DROP: evbuffer_add_printf(out, " -j DROP"); break;
  case KPT_RETURN: evbuffer_add_printf(out, " -j RETURN"); break;
  case KPT_REJECT: evbuffer_add_printf(out, " -j REJECT --reject-with icmp-port-unreachable"); break;
  case KPT_DNAT:
    evbuffer_add_printf(out, " -j DNAT --to-destination %s:%u", kp_ip_str(r->t.dnat.ip, b), r->t.dnat.port);
    break;
  case KPT_MARK: evbuffer_add_printf(out, " -j MARK --set-xmark 0x%x/0x%x", r->t.mark.mark, r->t.mark.mask); break;
  case KPT_MASQUERADE: evbuffer_add_printf(out, " -j MASQUERADE%s", r->t.random_fully ? " --random-fully" : ""); break;
  case KPT_NOTRACK: evbuffer_add_printf(out, " -j NOTRACK"); break;
  }
}

void kp_rule_render(const struct kp_rule *r, struct evbuffer *out)
{
  render_addr(out, "-s", r->src, r->smask, r->inv_src);
  render_addr(out, "-d", r->dst, r->dmask, r->inv_dst);
  if (r->proto) {
    const char *pn = proto_name(r->proto);
    if (pn) evbuffer_add_printf(out, " -p %s", pn);
    else evbuffer_add_printf(out, " -p %u", r->proto);
  }
  for (int i = 0; i < r->nmatches; i++) render_match(r, &r->m[i], out);
  render_target(r, out);
}

static int chain_cmp(const void *a, const void *b)
{
  const struct kp_chain *x = *(const struct kp_chain *const *)a, *y = *(const struct kp_chain *const *)b;
  int rx = builtin_rank(x->name), ry = builtin_rank(y->name);
  if (rx >= 0 || ry >= 0) {
    if (rx < 0) return 1;
    if (ry < 0) return -1;
    return rx - ry;
  }
  return strcmp(x->name, y->name);
}

void kp_ruleset_render_table(const struct kp_ruleset *rs, enum kp_table t, struct evbuffer *out)
{
  size_t n = rs->nchains[t];
  struct kp_chain **v = calloc(n ? n : 1, sizeof *v);
  if (!v) return;
  size_t i = 0;
  for (struct kp_chain *c = rs->chains[t]; c && i < n; c = c->next) v[i++] = c;
  qsort(v, n, sizeof *v, chain_cmp);
  evbuffer_add_printf(out, "*%s\n", kp_table_name(t));
  for (i = 0; i < n; i++)
    if (!v[i]->builtin) evbuffer_add_printf(out, ":%s - [0:0]\n", v[i]->name);
  for (i = 0; i < n; i++) {
    for (const struct kp_rule *r = v[i]->first; r; r = r->next) {
      evbuffer_add_printf(out, "-A %s", v[i]->name);
      kp_rule_render(r, out);
      evbuffer_add(out, "\n", 1);
    }
  }
  evbuffer_add_printf(out, "COMMIT\n");
  free(v);
}

char *kp_ruleset_render(const struct kp_ruleset *rs)
{
  struct evbuffer *out = evbuffer_new();
  if (!out) return NULL;
  for (int t = 0; t < KP_NTABLES; t++)
    if (rs->nchains[t]) kp_ruleset_render_table(rs, (enum kp_table)t, out);
  size_t len = evbuffer_get_length(out);
  char *s = malloc(len + 1);
  if (s) {
    evbuffer_remove(out, s, len);
    s[len] = 0;
  }
  evbuffer_free(out);
  return s;
}
