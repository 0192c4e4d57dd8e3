/*
 * ruleset.h - the iptables rules kube-proxy wants, as data.
 *
 * A ruleset holds, for each table kube-proxy writes (filter, nat, raw),
 * the chains it owns with their rules, plus the jump rules it needs in the
 * built-in chains.  A rule is a small struct in iptables' own terms (the
 * ipt_ip part, an ordered list of matches, one target), so that the same
 * value can be (1) encoded into kernel entries for libiptc (iptc.c) and
 * (2) rendered as the exact text iptables-save prints for those entries
 * (kp_ruleset_render), which the unit tests compare with golden text and
 * the kernel test compares with iptables-legacy-save itself.
 *
 * Everything in a ruleset (rules, strings) lives in its arena and goes
 * away with kp_ruleset_free.  Addresses are IPv4 in host byte order.
 *
 * Built-in chains hold only our jump rules here; the table in the kernel
 * keeps everybody else's rules around them (see iptc.c).  Rendering
 * follows iptables-save: built-in chains first in hook order, then user
 * chains sorted by name, each chain's rules in order.
 */
#ifndef KP_RULESET_H
#define KP_RULESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"

struct evbuffer;

enum kp_table { KP_TABLE_FILTER, KP_TABLE_NAT, KP_TABLE_RAW, KP_NTABLES };
const char *kp_table_name(enum kp_table t);

enum kp_match_kind {
  KPM_COMMENT,   /* -m comment --comment C */
  KPM_L4,        /* -m tcp|udp|sctp [--sport N] [--dport N] (protocol of the rule) */
  KPM_ADDRTYPE,  /* -m addrtype [--src-type LOCAL] [--dst-type LOCAL] */
  KPM_CONNTRACK, /* -m conntrack [!] --ctstate S */
  KPM_MARK,      /* -m mark [!] --mark M/MASK */
  KPM_STATISTIC, /* -m statistic --mode random --probability P */
  KPM_RECENT,    /* -m recent --set|--rcheck --seconds S --reap --name N --mask 255.255.255.255 --rsource */
};

/* conntrack states, as xt_conntrack's state bits */
#define KP_CT_INVALID 0x01u
#define KP_CT_ESTABLISHED 0x02u
#define KP_CT_RELATED 0x04u
#define KP_CT_NEW 0x08u
#define KP_CT_DNAT 0x80u /* XT_CONNTRACK_STATE_DNAT with IP_CT_NUMBER 5 */

struct kp_match {
  uint8_t kind;
  uint8_t inv;
  union {
    const char *comment;
    struct {
      uint16_t sport, dport;
    } l4;
    struct {
      uint8_t src_local, dst_local;
    } addrtype;
    uint16_t ctstate;
    struct {
      uint32_t mark, mask;
    } mark;
    uint32_t probability; /* kernel units: round(p * 2^31) */
    struct {
      uint8_t set;
      uint32_t seconds;
      const char *name;
    } recent;
  } u;
};

enum kp_target_kind {
  KPT_NONE, /* no -j: counts and falls through */
  KPT_JUMP, /* -j CHAIN */
  KPT_ACCEPT,
  KPT_DROP,
  KPT_RETURN,
  KPT_REJECT,     /* --reject-with icmp-port-unreachable */
  KPT_DNAT,       /* --to-destination IP:PORT */
  KPT_MARK,       /* --set-xmark MARK/MASK (or-mark: M/M, xor-mark: M/0) */
  KPT_MASQUERADE, /* [--random-fully] */
  KPT_NOTRACK,    /* NOTRACK (CT --notrack) */
};

#define KP_MAX_MATCHES 6

struct kp_rule {
  struct kp_rule *next;
  uint32_t src, smask, dst, dmask;
  uint8_t inv_src, inv_dst;
  uint8_t proto;  /* 0, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP */
  uint8_t target; /* enum kp_target_kind */
  uint8_t nmatches;
  union {
    const char *chain;
    struct {
      uint32_t ip;
      uint16_t port;
    } dnat;
    struct {
      uint32_t mark, mask;
    } mark;
    bool random_fully;
  } t;
  struct kp_match m[];
};

struct kp_chain {
  const char *name;
  struct kp_chain *next; /* creation order */
  struct kp_rule *first, *last;
  size_t nrules;
  bool builtin;
  uint64_t hash; /* kp_chain_hash, filled in by the writer */
  bool damaged;  /* the writer found the kernel's copy altered */
  bool fresh;    /* the writer created it in this commit (empty) */
};

struct kp_map;

struct kp_ruleset {
  struct kp_arena arena;
  struct kp_map *by_name[KP_NTABLES];  /* chain name -> chain */
  struct kp_chain *chains[KP_NTABLES]; /* creation order */
  struct kp_chain *chains_tail[KP_NTABLES];
  size_t nchains[KP_NTABLES];
  size_t nrules[KP_NTABLES];
};

struct kp_ruleset *kp_ruleset_new(void);
void kp_ruleset_free(struct kp_ruleset *rs);
/* Adds a chain (name copied).  Built-in chains (PREROUTING...) hold our
 * jump rules only.  kp_chain_add returns the existing chain of that name
 * if there is one; kp_chain_new must only be given new names. */
struct kp_chain *kp_chain_add(struct kp_ruleset *rs, enum kp_table t, const char *name);
struct kp_chain *kp_chain_new(struct kp_ruleset *rs, enum kp_table t, const char *name);
struct kp_chain *kp_chain_find(const struct kp_ruleset *rs, enum kp_table t, const char *name);
bool kp_chain_is_builtin_name(const char *name);

/* Rule builder: fill on the stack, then append (copied into the arena). */
struct kp_rb {
  struct kp_rule r;
  struct kp_match m[KP_MAX_MATCHES];
};
void kp_rb_init(struct kp_rb *b);
void kp_rb_src(struct kp_rb *b, uint32_t ip, int prefix, bool inv);
void kp_rb_dst(struct kp_rb *b, uint32_t ip, int prefix, bool inv);
void kp_rb_proto(struct kp_rb *b, uint8_t proto);
void kp_rb_comment(struct kp_rb *b, const char *comment); /* not copied: arena or static */
void kp_rb_l4(struct kp_rb *b, uint16_t sport, uint16_t dport);
void kp_rb_addrtype(struct kp_rb *b, bool src_local, bool dst_local);
void kp_rb_ctstate(struct kp_rb *b, uint16_t states, bool inv);
void kp_rb_mark(struct kp_rb *b, uint32_t mark, uint32_t mask, bool inv);
/* Upstream's probability for the i-th of n endpoints: 1/n printed with
 * ten decimals, then as the statistic match stores it. */
void kp_rb_probability(struct kp_rb *b, int n);
void kp_rb_recent(struct kp_rb *b, bool set, uint32_t seconds, const char *name);
void kp_rb_jump(struct kp_rb *b, const char *chain);
void kp_rb_target(struct kp_rb *b, enum kp_target_kind t);
void kp_rb_dnat(struct kp_rb *b, uint32_t ip, uint16_t port);
void kp_rb_mark_target(struct kp_rb *b, uint32_t mark, uint32_t mask);
void kp_rb_masquerade(struct kp_rb *b, bool random_fully);
/* Copies the built rule to the end of chain. */
struct kp_rule *kp_chain_append(struct kp_ruleset *rs, enum kp_table t, struct kp_chain *c, const struct kp_rb *b);

/* 64-bit FNV-1a over a chain's rules (contents, not pointers): equal
 * hashes mean the chain need not be rewritten. */
uint64_t kp_chain_hash(const struct kp_chain *c);

/* iptables-save text of one rule (without "-A CHAIN") or of a table,
 * appended to out. */
void kp_rule_render(const struct kp_rule *r, struct evbuffer *out);
void kp_ruleset_render_table(const struct kp_ruleset *rs, enum kp_table t, struct evbuffer *out);
/* All tables that have chains, in the order iptables-save prints them
 * (raw? no: filter, nat, raw as kube-proxy writes them).  Caller frees. */
char *kp_ruleset_render(const struct kp_ruleset *rs);

/* Dotted quad; returns buf (16 bytes). */
char *kp_ip_str(uint32_t ip, char *buf);
/* "a.b.c.d" -> host order; false if not an IPv4 address. */
bool kp_ip_parse(const char *s, uint32_t *ip);
/* "a.b.c.d/n" (or a bare address = /32) -> network and prefix; the
 * network is masked.  Leading/trailing blanks are ignored, as upstream
 * tolerates them in loadBalancerSourceRanges. */
bool kp_cidr_parse(const char *s, uint32_t *net, int *prefix);
uint32_t kp_prefix_mask(int prefix);
int kp_mask_prefix(uint32_t mask); /* -1 if not contiguous */

#endif
