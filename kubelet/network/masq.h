/*
 * masq.h - the masquerade rule of the pod range (internal to kl_net).
 *
 * nat POSTROUTING jumps to the chain KUBELET-MASQ, which holds one rule:
 * `-s POD_CIDR ! -d CLUSTER_CIDR -j MASQUERADE`: pod traffic that leaves the
 * cluster range goes out with the node's address; pod-to-pod traffic keeps
 * its source.  Programmed with libiptc (the legacy ip_tables backend) as one
 * read-modify-commit of the nat table while holding the xtables lock
 * (flock on /run/xtables.lock, or $XTABLES_LOCKFILE, as iptables does), so
 * that it never interleaves with kube-proxy's commits of the same table.
 */
#ifndef KL_NETWORK_MASQ_H
#define KL_NETWORK_MASQ_H

#include <stddef.h>

#define KL_MASQ_CHAIN "KUBELET-MASQ"

/* The chain holds exactly the one rule and POSTROUTING jumps to it once. */
int kl_masq_ensure(const char *pod_cidr, const char *cluster_cidr, char *err, size_t errlen);
/* Removes the jump and the chain (0 when they are already gone). */
int kl_masq_remove(char *err, size_t errlen);

#endif
