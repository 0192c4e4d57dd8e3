/*
 * iptc.h - writing a ruleset into the kernel with libiptc.
 *
 * Each table kube-proxy writes (filter, nat, raw) is read once with
 * iptc_init, changed in memory, and replaced in one atomic commit
 * (iptc_commit: the kernel swaps the whole table), while the xtables lock
 * is held (flock on /run/xtables.lock or $XTABLES_LOCKFILE, the lock the
 * iptables tools and the kubelet take), so the kubelet's or docker's
 * changes between our read and our commit cannot be lost.
 *
 * Only kube-proxy's own chains are touched (kp_proxier_owns_chain): they
 * are created, rewritten or deleted; every other chain and rule in the
 * table stays as it is.  In the built-in chains, the rules that jump to
 * our chains are kept exactly equal to the ruleset's list and at the top
 * of the chain: duplicates or stale jumps (from an earlier run) are
 * removed and missing ones inserted.
 *
 * Partial syncs: a chain whose content hash equals the one committed last
 * time, and which the kernel still holds, is left alone; a full sync
 * rewrites every chain of ours.  A chain of ours that the ruleset no
 * longer has is flushed and deleted.  A table in which nothing of ours
 * changed, and whose kernel summary (IPT_SO_GET_INFO: entries, size,
 * hook offsets) is still what our last commit left, is not even read: a
 * periodic sync with no change costs one getsockopt per table.  A table
 * someone flushed or replaced loses our KUBE-PROXY-CANARY chain, which
 * makes the sync of that table full, as upstream's canary does; in a
 * table someone else changed since our commit, a chain of ours whose rule
 * count differs from ours is rewritten too (a chain flushed by hand).
 *
 * The entries are built from the rule structs with the kernel's own
 * structures (ipt_entry, xt_entry_match/target and each extension's
 * info struct, at the revisions iptables 1.8 uses or prints), so
 * iptables-save shows exactly what kp_rule_render prints.
 *
 * Not thread-safe: one thread (the sync worker) calls these.
 */
#ifndef KP_IPTC_H
#define KP_IPTC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ruleset.h"

struct kp_iptc_state;

struct kp_iptc_result {
  int rc; /* 0 or -errno */
  char err[256];
  bool full;
  size_t chains_written, rules_written, chains_deleted, chains_skipped;
  size_t tables_skipped;                    /* untouched since our last commit, and nothing to change: not even read */
  double lock_s, read_s, build_s, commit_s; /* where the time went */
  double create_s, write_s, stale_s;        /* parts of build_s */
  size_t table_bytes; /* the committed tables' size in the kernel (the blobs IPT_SO_SET_REPLACE took), summed */
};

struct kp_iptc_state *kp_iptc_state_new(void);
void kp_iptc_state_free(struct kp_iptc_state *st);
/* Forget what was committed: the next apply rewrites everything. */
void kp_iptc_state_reset(struct kp_iptc_state *st);

/* Writes rs into the kernel (tables that have chains in rs; filter and
 * raw first, nat last). */
int kp_iptc_apply(struct kp_iptc_state *st, const struct kp_ruleset *rs, bool full, struct kp_iptc_result *res);
/* The same, taking ownership of rs: it is freed (and the heap trimmed)
 * once libiptc has the last table's rules and before that table's
 * commit, so the commit's peak (libiptc's rules plus the table blob) does
 * not also hold our copy.  rs is gone when this returns, also on error. */
int kp_iptc_apply_consume(struct kp_iptc_state *st, struct kp_ruleset *rs, bool full, struct kp_iptc_result *res);

/* Every table we wrote is still as our last commit left it (one
 * IPT_SO_GET_INFO per table; no lock, no read). */
bool kp_iptc_untouched(const struct kp_iptc_state *st);

/* --cleanup: removes our jumps from the built-in chains and flushes and
 * deletes every chain of ours in filter, nat and raw. */
int kp_iptc_cleanup(char *err, size_t errlen);

/* Encoded entry size of r (for figures and tests). */
size_t kp_iptc_entry_size(const struct kp_rule *r);

#endif
