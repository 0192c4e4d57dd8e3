/*
 * conntrack.h - stale UDP conntrack entries, as upstream's
 * conntrack.CleanStaleEntries removes them.
 *
 * UDP has no connection end: a flow DNATed to an endpoint keeps going
 * there after the endpoint is gone, and a flow that hit a service with no
 * endpoints keeps being rejected after endpoints appear.  After each
 * successful sync kube-proxy compares the UDP service ports it programmed
 * with the previous sync's (a snapshot: VIPs, NodePort, usable endpoints)
 * and deletes, through libnetfilter_conntrack (one dump, then one delete
 * per stale entry):
 *   - for a removed endpoint E of a service port: entries to any of the
 *     service's VIPs replied by E, and entries to its NodePort replied by E;
 *   - for a service port that went from no usable endpoint to some, or was
 *     deleted: every entry to its VIPs, and to its NodePort.
 * Only UDP entries are touched.
 */
#ifndef KP_CONNTRACK_H
#define KP_CONNTRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kp_model;

/* What to delete: each filter matches an entry when all its set fields
 * match (0 = any). */
struct kp_ct_filter {
  uint32_t orig_dst;   /* original destination address */
  uint16_t orig_dport; /* original destination port */
  uint32_t reply_src;  /* reply source = the endpoint DNATed to */
};

struct kp_ct_plan {
  struct kp_ct_filter *v;
  size_t n, cap;
};

struct kp_ct_snapshot;

/* Every proxied UDP service port with its VIPs, NodePort and usable
 * endpoints (the ones its rules send traffic to). */
struct kp_ct_snapshot *kp_ct_snapshot_build(const struct kp_model *m);
void kp_ct_snapshot_free(struct kp_ct_snapshot *s);
/* Filters for what went stale from old to new (old may be NULL: none). */
void kp_ct_plan_diff(const struct kp_ct_snapshot *old, const struct kp_ct_snapshot *new, struct kp_ct_plan *plan);
void kp_ct_plan_free(struct kp_ct_plan *plan);
bool kp_ct_plan_matches(const struct kp_ct_plan *plan, uint32_t orig_dst, uint16_t orig_dport, uint32_t reply_src);

/* Dumps the IPv4 UDP conntrack table and deletes the entries the plan
 * matches.  Returns the number deleted, or -errno.  Blocking: call it from
 * the sync worker. */
int kp_ct_execute(const struct kp_ct_plan *plan);

#endif
