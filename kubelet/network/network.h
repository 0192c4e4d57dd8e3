/*
 * network.h - pod networking on one node, programmed with libnl.
 *
 * The node bridge (`cni0` by default) holds the first address of the node's
 * spec.podCIDR.  Each pod sandbox gets a veth pair: one end is moved into the
 * sandbox's network namespace and renamed eth0 with an address from the
 * node's range and a default route via the bridge; the host end joins the
 * bridge in hairpin mode, so a pod reaches itself through its own Service.
 * Addresses come from a host-local allocator whose state lives under
 * ROOT_DIR/network/ (one file per allocated address naming the pod UID), so an
 * address is never handed out twice, survives kubelet restarts and is
 * released when the pod is torn down.  Routes to other nodes' pod ranges go
 * via their InternalIPs (host-gw) and are kept equal to the set the caller
 * gives.  Traffic from the pod range to outside the cluster range is
 * masqueraded (nat POSTROUTING, one rule in its own chain, committed with
 * libiptc while holding the xtables lock, as iptables does).
 *
 * Everything acts on the network namespace the calling process is in.  All
 * calls are short, bounded netlink/iptables transactions, made from the
 * kubelet's event loop.  Every call is idempotent: calling it again with the
 * same arguments after a crash or restart converges to the same state.
 * Errors are negative errno values; a message for the log and for pod
 * events is written into `err` when it is not NULL.
 */
#ifndef KL_NETWORK_H
#define KL_NETWORK_H

#include <stdbool.h>
#include <stddef.h>

struct kl_net;

struct kl_net_config {
  const char *root_dir;     /* allocator state under ROOT_DIR/network/ */
  const char *bridge_name;  /* NULL: "cni0" */
  const char *cluster_cidr; /* not masqueraded when the destination is inside it; NULL: no masquerade */
  int mtu;                  /* 0: 1500 */
  bool hairpin;             /* hairpin mode on the host ends (default on) */
};

/* NULL on failure (message in err). */
struct kl_net *kl_net_new(const struct kl_net_config *cfg, char *err, size_t errlen);
/* Frees memory only: the bridge, veths and routes stay (the kubelet's
 * containers outlive it). */
void kl_net_free(struct kl_net *n);
/* Removes the bridge, every veth, route and rule this module made, and the
 * allocator state (for tests and for `down`). */
int kl_net_teardown_node(struct kl_net *n, char *err, size_t errlen);

/* The node's pod CIDR ("10.244.1.0/24"): bridge present, up and holding the
 * first address; the masquerade rule in place.  Until it is called,
 * kl_net_setup_pod fails with -EAGAIN. */
int kl_net_set_pod_cidr(struct kl_net *n, const char *cidr, char *err, size_t errlen);

/* Wires the sandbox of pod `pod_uid` whose network namespace is `netns_path`
 * (e.g. "/proc/PID/ns/net"): allocates (or finds the already allocated)
 * address, creates the veth pair if missing, configures eth0 and the default
 * route.  Writes the pod's IP ("10.244.1.7") into ip. */
int kl_net_setup_pod(struct kl_net *n, const char *pod_uid, const char *netns_path, char *ip, size_t iplen, char *err,
                     size_t errlen);
/* Removes the pod's host veth (if its namespace is already gone, the veth
 * went with it) and releases its address.  Idempotent. */
int kl_net_teardown_pod(struct kl_net *n, const char *pod_uid, char *err, size_t errlen);
/* The address allocated to pod_uid, for a kubelet that restarts and adopts
 * running sandboxes.  -ENOENT if none. */
int kl_net_pod_ip(struct kl_net *n, const char *pod_uid, char *ip, size_t iplen);
/* Releases every address whose pod is not `alive` (pods gone while the
 * kubelet was down). */
int kl_net_gc(struct kl_net *n, bool (*alive)(const char *pod_uid, void *arg), void *arg);

/* host-gw: the routes to other nodes' pod ranges become exactly this set
 * (routes this module added earlier and no longer listed are removed). */
struct kl_net_route {
  const char *cidr; /* another node's spec.podCIDR */
  const char *via;  /* that node's InternalIP */
};
int kl_net_sync_routes(struct kl_net *n, const struct kl_net_route *routes, size_t count, char *err, size_t errlen);

#endif
