/*
 * proxier.h - upstream's iptables proxier layout, computed from the model.
 *
 * kp_proxier_build turns every Service port and its endpoints into the
 * full set of rules kube-proxy owns, exactly as upstream's iptables mode
 * lays them out (pkg/proxy/iptables, v1.28+): KUBE-SERVICES catching
 * cluster, external and load-balancer IPs, KUBE-NODEPORTS, per-port
 * KUBE-SVC-/KUBE-SVL- chains spreading connections over KUBE-SEP- chains
 * with the statistic match, KUBE-EXT- chains for external traffic (with
 * the short-circuit rules of externalTrafficPolicy Local), KUBE-FW- chains
 * for loadBalancerSourceRanges, REJECT/DROP rules in the filter table for
 * services without (local) endpoints, KUBE-MARK-MASQ/KUBE-POSTROUTING for
 * masquerading, KUBE-FORWARD, and the jumps from the built-in chains.  As
 * upstream, when there are more than 1000 endpoints ("large cluster
 * mode"), the per-endpoint rules carry no comments.
 *
 * Beyond upstream: the cluster DNS served by kube-proxy itself needs its
 * ClusterIP traffic untracked (raw table, KUBE-NODE-DNS) so that no NAT
 * applies to it.
 *
 * The build is a pure function of (model, config): the unit tests feed it
 * Services and EndpointSlices and compare the rendered text with golden
 * iptables-save output.  Services are visited in sorted order so the
 * output is deterministic.
 */
#ifndef KP_PROXIER_H
#define KP_PROXIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "ruleset.h"

#define KP_CHAIN_SERVICES "KUBE-SERVICES"
#define KP_CHAIN_EXTERNAL_SERVICES "KUBE-EXTERNAL-SERVICES"
#define KP_CHAIN_NODEPORTS "KUBE-NODEPORTS"
#define KP_CHAIN_POSTROUTING "KUBE-POSTROUTING"
#define KP_CHAIN_MARK_MASQ "KUBE-MARK-MASQ"
#define KP_CHAIN_FORWARD "KUBE-FORWARD"
#define KP_CHAIN_PROXY_FIREWALL "KUBE-PROXY-FIREWALL"
#define KP_CHAIN_FIREWALL "KUBE-FIREWALL"
#define KP_CHAIN_NODE_DNS "KUBE-NODE-DNS"
#define KP_CHAIN_CANARY "KUBE-PROXY-CANARY"
#define KP_LARGE_CLUSTER_ENDPOINTS 1000

struct kp_proxier_config {
  uint32_t masq_mark; /* 1 << masqueradeBit: 0x4000 */
  bool masquerade_all;
  bool has_cluster_cidr; /* the local-traffic detector (by cluster CIDR) */
  uint32_t cluster_cidr;
  int cluster_prefix;
  bool localhost_nodeports; /* NodePorts answer on 127.0.0.1 (route_localnet) */
  bool random_fully;
  /* --nodeport-addresses: none means every local address */
  const uint32_t *nodeport_ips; /* this node's addresses inside those CIDRs */
  size_t n_nodeport_ips;
  bool nodeport_all;
  uint32_t node_ip;           /* this node's primary IP (loadBalancerSourceRanges) */
  bool conntrack_tcp_liberal; /* nf_conntrack_tcp_be_liberal set: no INVALID drop */
  /* node-local DNS: untrack traffic to and from dns_ip (0: none) */
  uint32_t dns_ip;
  uint16_t dns_port;
};

struct kp_proxier_stats {
  size_t services, service_ports, endpoints;
  bool large_cluster;
  size_t no_local_internal, no_local_external;
};

void kp_proxier_config_defaults(struct kp_proxier_config *c);
/* New ruleset (kp_ruleset_free).  stats may be NULL. */
struct kp_ruleset *kp_proxier_build(const struct kp_model *m, const struct kp_proxier_config *cfg,
                                    struct kp_proxier_stats *stats);

/* Every chain name kube-proxy may own in table t: the fixed ones, and
 * per-service ones by prefix (kp_is_service_chain). */
bool kp_proxier_owns_chain(enum kp_table t, const char *name);

#endif
