/*
 * network.c - pod networking with libnl (the contract is in network.h).
 *
 * Names and marks that let every call converge after a crash or restart
 * without any state but the allocator's files:
 *   - a pod's host veth is "veth" + 8 hex digits of a hash of its UID (12
 *     characters: never one of Docker's 11-character veth names) and carries
 *     the ifalias "kubelet-pod:UID", so teardown finds every veth it made;
 *   - host-gw routes carry the routing protocol KL_RTPROT, so a sync knows
 *     which routes are its own and leaves every other route alone;
 *   - the pod's end is created directly inside the sandbox's namespace as
 *     eth0 (the peer attributes carry the namespace fd), so it never
 *     appears in the node's namespace under a name that could clash.
 * Inside a sandbox's namespace the module talks through a netlink socket
 * opened there: the calling thread enters the namespace with setns(2) only
 * for the socket() call and returns at once (a socket stays bound to the
 * namespace it was created in).
 */
#define _GNU_SOURCE
#include "network.h"
#include "ipam.h"
#include "masq.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "kube/xalloc.h"

#define KL_RTPROT 75 /* 'K': routes this module owns */
#define POD_ALIAS_PREFIX "kubelet-pod:"
#define POD_IFNAME "eth0"
#define DEFAULT_BRIDGE "cni0"
#define DEFAULT_MTU 1500

struct kl_net {
  struct nl_sock *sk; /* the node's namespace */
  char bridge[IFNAMSIZ];
  char cluster_cidr[64];
  char pod_cidr[64];
  int mtu;
  bool hairpin;
  bool have_cidr;
  uint32_t pod_net;
  int pod_prefix;
  struct kl_ipam ipam;
};

static void seterr(char *err, size_t len, const char *fmt, ...)
{
  if (!err || !len) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, len, fmt, ap);
  va_end(ap);
}

/* libnl errors are positive NLE_* codes: map the common ones to errno. */
static int nl_errno(int nle)
{
  switch (nle < 0 ? -nle : nle) {
  case NLE_EXIST: return -EEXIST;
  case NLE_OBJ_NOTFOUND: return -ENOENT;
  case NLE_NODEV: return -ENODEV;
  case NLE_PERM: return -EPERM;
  case NLE_NOMEM: return -ENOMEM;
  case NLE_INVAL: return -EINVAL;
  case NLE_BUSY: return -EBUSY;
  default: return -EIO;
  }
}

static struct nl_sock *nl_open(void)
{
  struct nl_sock *sk = nl_socket_alloc();
  if (!sk) return NULL;
  if (nl_connect(sk, NETLINK_ROUTE) < 0) {
    nl_socket_free(sk);
    return NULL;
  }
  return sk;
}

/* A route netlink socket bound to the namespace at `path`. */
static struct nl_sock *nl_open_in(const char *path, int *nsfd_out, char *err, size_t errlen)
{
  int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  int target = open(path, O_RDONLY | O_CLOEXEC);
  struct nl_sock *sk = NULL;
  if (self < 0 || target < 0) {
    seterr(err, errlen, "open network namespace %s: %s", path, strerror(errno));
    goto out;
  }
  if (setns(target, CLONE_NEWNET) < 0) {
    seterr(err, errlen, "enter network namespace %s: %s", path, strerror(errno));
    goto out;
  }
  sk = nl_open();
  if (setns(self, CLONE_NEWNET) < 0) {
    /* The thread would be left in the pod's namespace: nothing is safe after that. */
    abort();
  }
  if (!sk) seterr(err, errlen, "netlink socket in %s failed", path);
out:
  if (self >= 0) close(self);
  if (sk && nsfd_out) {
    *nsfd_out = target;
  } else if (target >= 0) {
    close(target);
  }
  return sk;
}

static void veth_name_of(const char *uid, char name[IFNAMSIZ])
{
  uint32_t h = 2166136261u; /* FNV-1a */
  for (const unsigned char *p = (const unsigned char *)uid; *p; p++) h = (h ^ *p) * 16777619u;
  snprintf(name, IFNAMSIZ, "veth%08x", h);
}

static int write_proc(const char *path, const char *value)
{
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  ssize_t n = write(fd, value, strlen(value));
  int rc = n < 0 ? -errno : 0;
  close(fd);
  return rc;
}

/* Sets IFF_UP (and the MTU when mtu > 0) on a link. */
static int link_up(struct nl_sock *sk, struct rtnl_link *link, int mtu)
{
  struct rtnl_link *change = rtnl_link_alloc();
  if (!change) return -ENOMEM;
  rtnl_link_set_flags(change, IFF_UP);
  if (mtu > 0) rtnl_link_set_mtu(change, (unsigned)mtu);
  int rc = rtnl_link_change(sk, link, change, 0);
  rtnl_link_put(change);
  return rc < 0 ? nl_errno(rc) : 0;
}

/* Adds addr/prefix to ifindex; an address already there is fine. */
static int addr_add(struct nl_sock *sk, int ifindex, uint32_t ip, int prefix)
{
  struct rtnl_addr *a = rtnl_addr_alloc();
  struct nl_addr *local = nl_addr_build(AF_INET, &(uint32_t){htonl(ip)}, 4);
  int rc = -ENOMEM;
  if (a && local) {
    nl_addr_set_prefixlen(local, prefix);
    rtnl_addr_set_ifindex(a, ifindex);
    rtnl_addr_set_local(a, local);
    rc = rtnl_addr_add(sk, a, 0);
    rc = (rc == -NLE_EXIST || rc == 0) ? 0 : nl_errno(rc);
  }
  if (local) nl_addr_put(local);
  if (a) rtnl_addr_put(a);
  return rc;
}

/* Adds or replaces the route dst/prefix (prefix 0: default) via gw. */
static int route_replace(struct nl_sock *sk, uint32_t dst, int prefix, uint32_t gw, int ifindex, int protocol)
{
  struct rtnl_route *r = rtnl_route_alloc();
  struct nl_addr *d = nl_addr_build(AF_INET, &(uint32_t){htonl(dst)}, 4);
  struct nl_addr *g = nl_addr_build(AF_INET, &(uint32_t){htonl(gw)}, 4);
  struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
  int rc = -ENOMEM;
  if (r && d && g && nh) {
    nl_addr_set_prefixlen(d, prefix);
    rtnl_route_set_family(r, AF_INET);
    rtnl_route_set_table(r, RT_TABLE_MAIN);
    rtnl_route_set_scope(r, RT_SCOPE_UNIVERSE);
    rtnl_route_set_protocol(r, (uint8_t)protocol);
    rtnl_route_set_dst(r, d);
    rtnl_route_nh_set_gateway(nh, g);
    if (ifindex > 0) rtnl_route_nh_set_ifindex(nh, ifindex);
    rtnl_route_add_nexthop(r, nh);
    nh = NULL; /* owned by the route */
    rc = rtnl_route_add(sk, r, NLM_F_CREATE | NLM_F_REPLACE);
    rc = rc < 0 ? nl_errno(rc) : 0;
  }
  if (nh) rtnl_route_nh_free(nh);
  if (d) nl_addr_put(d);
  if (g) nl_addr_put(g);
  if (r) rtnl_route_put(r);
  return rc;
}

/* Hairpin mode on a bridge port: RTM_SETLINK, family AF_BRIDGE, with
 * IFLA_PROTINFO { IFLA_BRPORT_MODE = 1 }, as `bridge link set hairpin on`. */
static int set_hairpin(struct nl_sock *sk, int ifindex, bool on)
{
  struct ifinfomsg ifi = {.ifi_family = AF_BRIDGE, .ifi_index = ifindex};
  struct nl_msg *msg = nlmsg_alloc_simple(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK);
  if (!msg) return -ENOMEM;
  int rc = -ENOMEM;
  struct nlattr *pi;
  if (nlmsg_append(msg, &ifi, sizeof ifi, NLMSG_ALIGNTO) < 0) goto out;
  if (!(pi = nla_nest_start(msg, IFLA_PROTINFO | NLA_F_NESTED))) goto out;
  if (nla_put_u8(msg, IFLA_BRPORT_MODE, on ? 1 : 0) < 0) goto out;
  nla_nest_end(msg, pi);
  rc = nl_send_auto(sk, msg);
  if (rc >= 0) rc = nl_wait_for_ack(sk);
  rc = rc < 0 ? nl_errno(rc) : 0;
out:
  nlmsg_free(msg);
  return rc;
}

struct kl_net *kl_net_new(const struct kl_net_config *cfg, char *err, size_t errlen)
{
  if (!cfg || !cfg->root_dir) {
    seterr(err, errlen, "network: root dir is required");
    return NULL;
  }
  struct kl_net *n = xcalloc(1, sizeof *n);
  if (!n) return NULL;
  snprintf(n->bridge, sizeof n->bridge, "%s", cfg->bridge_name ? cfg->bridge_name : DEFAULT_BRIDGE);
  if (cfg->cluster_cidr) {
    uint32_t net;
    int prefix;
    if (kl_cidr_parse(cfg->cluster_cidr, &net, &prefix) < 0) {
      seterr(err, errlen, "invalid cluster CIDR %s", cfg->cluster_cidr);
      free(n);
      return NULL;
    }
    snprintf(n->cluster_cidr, sizeof n->cluster_cidr, "%s", cfg->cluster_cidr);
  }
  n->mtu = cfg->mtu > 0 ? cfg->mtu : DEFAULT_MTU;
  n->hairpin = cfg->hairpin;
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/network/ipam", cfg->root_dir);
  int rc = kl_ipam_open(&n->ipam, dir);
  if (rc < 0) {
    seterr(err, errlen, "network state %s: %s", dir, strerror(-rc));
    free(n);
    return NULL;
  }
  if (!(n->sk = nl_open())) {
    seterr(err, errlen, "netlink socket failed");
    free(n);
    return NULL;
  }
  return n;
}

void kl_net_free(struct kl_net *n)
{
  if (!n) return;
  nl_socket_free(n->sk);
  free(n);
}

/* The bridge exists, is up, holds the gateway address. */
static int ensure_bridge(struct kl_net *n, char *err, size_t errlen)
{
  struct rtnl_link *br = NULL;
  int rc = rtnl_link_get_kernel(n->sk, 0, n->bridge, &br);
  if (rc < 0) {
    struct rtnl_link *nb = rtnl_link_bridge_alloc();
    if (!nb) return -ENOMEM;
    rtnl_link_set_name(nb, n->bridge);
    rtnl_link_set_mtu(nb, (unsigned)n->mtu);
    rc = rtnl_link_add(n->sk, nb, NLM_F_CREATE);
    rtnl_link_put(nb);
    if (rc < 0 && rc != -NLE_EXIST) {
      seterr(err, errlen, "create bridge %s: %s", n->bridge, nl_geterror(rc));
      return nl_errno(rc);
    }
    rc = rtnl_link_get_kernel(n->sk, 0, n->bridge, &br);
  }
  if (rc < 0) {
    seterr(err, errlen, "bridge %s: %s", n->bridge, nl_geterror(rc));
    return nl_errno(rc);
  }
  if (!rtnl_link_is_bridge(br)) {
    seterr(err, errlen, "%s exists and is not a bridge", n->bridge);
    rtnl_link_put(br);
    return -EEXIST;
  }
  int ifindex = rtnl_link_get_ifindex(br);
  rc = link_up(n->sk, br, 0);
  rtnl_link_put(br);
  if (rc == 0) rc = addr_add(n->sk, ifindex, kl_cidr_gateway(n->pod_net, n->pod_prefix), n->pod_prefix);
  if (rc < 0) seterr(err, errlen, "configure bridge %s: %s", n->bridge, strerror(-rc));
  return rc;
}

int kl_net_set_pod_cidr(struct kl_net *n, const char *cidr, char *err, size_t errlen)
{
  uint32_t net;
  int prefix;
  if (kl_cidr_parse(cidr, &net, &prefix) < 0 || prefix > 30) {
    seterr(err, errlen, "invalid pod CIDR %s", cidr ? cidr : "(none)");
    return -EINVAL;
  }
  n->pod_net = net;
  n->pod_prefix = prefix;
  int rc = kl_ipam_set_range(&n->ipam, cidr);
  if (rc == 0) rc = ensure_bridge(n, err, errlen);
  if (rc < 0) return rc;
  /* Pods reach other nodes and Services through the node: forwarding on;
   * bridged traffic through iptables where br_netfilter is loaded (for
   * kube-proxy's rules on hairpin and pod-to-pod Service traffic). */
  if ((rc = write_proc("/proc/sys/net/ipv4/ip_forward", "1")) < 0) {
    seterr(err, errlen, "enable ip_forward: %s", strerror(-rc));
    return rc;
  }
  write_proc("/proc/sys/net/bridge/bridge-nf-call-iptables", "1");
  if (n->cluster_cidr[0] && (rc = kl_masq_ensure(cidr, n->cluster_cidr, err, errlen)) < 0) return rc;
  snprintf(n->pod_cidr, sizeof n->pod_cidr, "%s", cidr);
  n->have_cidr = true;
  return 0;
}

/* Does the namespace behind `sk` have eth0 holding `ip`? */
static bool pod_side_ready(struct nl_sock *sk, uint32_t ip)
{
  struct rtnl_link *eth = NULL;
  if (rtnl_link_get_kernel(sk, 0, POD_IFNAME, &eth) < 0) return false;
  int ifindex = rtnl_link_get_ifindex(eth);
  rtnl_link_put(eth);
  struct nl_cache *addrs = NULL;
  if (rtnl_addr_alloc_cache(sk, &addrs) < 0) return false;
  bool found = false;
  for (struct nl_object *o = nl_cache_get_first(addrs); o && !found; o = nl_cache_get_next(o)) {
    struct rtnl_addr *a = (struct rtnl_addr *)o;
    struct nl_addr *l = rtnl_addr_get_local(a);
    if (rtnl_addr_get_ifindex(a) != ifindex || !l || nl_addr_get_family(l) != AF_INET) continue;
    found = memcmp(nl_addr_get_binary_addr(l), &(uint32_t){htonl(ip)}, 4) == 0;
  }
  nl_cache_free(addrs);
  return found;
}

static int delete_link(struct nl_sock *sk, const char *name)
{
  struct rtnl_link *l = rtnl_link_alloc();
  if (!l) return -ENOMEM;
  rtnl_link_set_name(l, name);
  int rc = rtnl_link_delete(sk, l);
  rtnl_link_put(l);
  return (rc == 0 || rc == -NLE_OBJ_NOTFOUND || rc == -NLE_NODEV) ? 0 : nl_errno(rc);
}

/* Creates the pair: host end `host` in the node's namespace, eth0 in nsfd. */
static int veth_create(struct kl_net *n, const char *host, int nsfd)
{
  struct rtnl_link *veth = rtnl_link_veth_alloc();
  if (!veth) return -ENOMEM;
  struct rtnl_link *peer = rtnl_link_veth_get_peer(veth);
  rtnl_link_set_name(veth, host);
  rtnl_link_set_mtu(veth, (unsigned)n->mtu);
  rtnl_link_set_name(peer, POD_IFNAME);
  rtnl_link_set_mtu(peer, (unsigned)n->mtu);
  rtnl_link_set_ns_fd(peer, nsfd);
  int rc = rtnl_link_add(n->sk, veth, NLM_F_CREATE | NLM_F_EXCL);
  rtnl_link_put(peer);
  rtnl_link_veth_release(veth);
  return rc < 0 ? nl_errno(rc) : 0;
}

/* Host end: alias, bridge port, hairpin, up. */
static int host_end_configure(struct kl_net *n, const char *host, const char *uid)
{
  struct rtnl_link *link = NULL, *br = NULL;
  int rc = rtnl_link_get_kernel(n->sk, 0, host, &link);
  if (rc == 0) rc = rtnl_link_get_kernel(n->sk, 0, n->bridge, &br);
  if (rc < 0) {
    rc = nl_errno(rc);
    goto out;
  }
  struct rtnl_link *change = rtnl_link_alloc();
  if (!change) {
    rc = -ENOMEM;
    goto out;
  }
  char alias[256];
  snprintf(alias, sizeof alias, POD_ALIAS_PREFIX "%s", uid);
  rtnl_link_set_ifalias(change, alias);
  rtnl_link_set_master(change, rtnl_link_get_ifindex(br));
  rtnl_link_set_flags(change, IFF_UP);
  rc = rtnl_link_change(n->sk, link, change, 0);
  rtnl_link_put(change);
  rc = rc < 0 ? nl_errno(rc) : 0;
  if (rc == 0) rc = set_hairpin(n->sk, rtnl_link_get_ifindex(link), n->hairpin);
out:
  if (link) rtnl_link_put(link);
  if (br) rtnl_link_put(br);
  return rc;
}

/* Pod end: lo and eth0 up, the address, the default route via the bridge. */
static int pod_end_configure(struct kl_net *n, struct nl_sock *psk, uint32_t ip)
{
  struct rtnl_link *lo = NULL, *eth = NULL;
  int rc = rtnl_link_get_kernel(psk, 0, "lo", &lo);
  if (rc == 0) rc = rtnl_link_get_kernel(psk, 0, POD_IFNAME, &eth);
  if (rc < 0) {
    rc = nl_errno(rc);
    goto out;
  }
  int ifindex = rtnl_link_get_ifindex(eth);
  if ((rc = link_up(psk, lo, 0)) < 0) goto out;
  if ((rc = addr_add(psk, ifindex, ip, n->pod_prefix)) < 0) goto out;
  if ((rc = link_up(psk, eth, 0)) < 0) goto out;
  rc = route_replace(psk, 0, 0, kl_cidr_gateway(n->pod_net, n->pod_prefix), ifindex, RTPROT_BOOT);
out:
  if (lo) rtnl_link_put(lo);
  if (eth) rtnl_link_put(eth);
  return rc;
}

int kl_net_setup_pod(struct kl_net *n, const char *pod_uid, const char *netns_path, char *ip, size_t iplen, char *err,
                     size_t errlen)
{
  if (!n->have_cidr) {
    seterr(err, errlen, "the node has no pod CIDR yet");
    return -EAGAIN;
  }
  uint32_t addr;
  int rc = kl_ipam_allocate(&n->ipam, pod_uid, &addr);
  if (rc < 0) {
    seterr(err, errlen, "failed to allocate an address in %s for pod %s: %s", n->pod_cidr, pod_uid,
           rc == -ENOSPC ? "range is full" : strerror(-rc));
    return rc;
  }
  int nsfd = -1;
  struct nl_sock *psk = nl_open_in(netns_path, &nsfd, err, errlen);
  if (!psk) return -ENOENT;
  char host[IFNAMSIZ];
  veth_name_of(pod_uid, host);
  struct rtnl_link *existing = NULL;
  bool have_host = rtnl_link_get_kernel(n->sk, 0, host, &existing) == 0;
  if (existing) rtnl_link_put(existing);
  if (!have_host || !pod_side_ready(psk, addr)) {
    /* A half-made pair from an interrupted call: start over. */
    delete_link(n->sk, host);
    delete_link(psk, POD_IFNAME);
    if ((rc = veth_create(n, host, nsfd)) < 0) {
      seterr(err, errlen, "create veth %s for pod %s: %s", host, pod_uid, strerror(-rc));
      goto out;
    }
  }
  if ((rc = host_end_configure(n, host, pod_uid)) < 0) {
    seterr(err, errlen, "configure %s on bridge %s: %s", host, n->bridge, strerror(-rc));
    goto out;
  }
  if ((rc = pod_end_configure(n, psk, addr)) < 0) {
    seterr(err, errlen, "configure eth0 of pod %s: %s", pod_uid, strerror(-rc));
    goto out;
  }
  kl_ip_format(addr, ip, iplen);
out:
  nl_socket_free(psk);
  close(nsfd);
  return rc;
}

int kl_net_teardown_pod(struct kl_net *n, const char *pod_uid, char *err, size_t errlen)
{
  char host[IFNAMSIZ];
  veth_name_of(pod_uid, host);
  int rc = delete_link(n->sk, host);
  if (rc < 0) {
    seterr(err, errlen, "delete %s of pod %s: %s", host, pod_uid, strerror(-rc));
    return rc;
  }
  rc = kl_ipam_release(&n->ipam, pod_uid);
  if (rc < 0) seterr(err, errlen, "release the address of pod %s: %s", pod_uid, strerror(-rc));
  return rc;
}

int kl_net_pod_ip(struct kl_net *n, const char *pod_uid, char *ip, size_t iplen)
{
  uint32_t addr;
  int rc = kl_ipam_find(&n->ipam, pod_uid, &addr);
  if (rc == 0) kl_ip_format(addr, ip, iplen);
  return rc;
}

int kl_net_gc(struct kl_net *n, bool (*alive)(const char *pod_uid, void *arg), void *arg)
{
  return kl_ipam_gc(&n->ipam, alive, arg);
}

/* --- host-gw routes --- */

static bool route_wanted(struct rtnl_route *r, const struct kl_net_route *want, size_t count)
{
  struct nl_addr *dst = rtnl_route_get_dst(r);
  if (!dst || rtnl_route_get_nnexthops(r) != 1) return false;
  struct nl_addr *gw = rtnl_route_nh_get_gateway(rtnl_route_nexthop_n(r, 0));
  if (!gw) return false;
  char dbuf[64], gbuf[64];
  nl_addr2str(dst, dbuf, sizeof dbuf);
  nl_addr2str(gw, gbuf, sizeof gbuf);
  for (size_t i = 0; i < count; i++) {
    uint32_t wn, rn;
    int wp, rp;
    if (kl_cidr_parse(want[i].cidr, &wn, &wp) < 0 || kl_cidr_parse(dbuf, &rn, &rp) < 0) continue;
    if (wn == rn && wp == rp && strcmp(want[i].via, gbuf) == 0) return true;
  }
  return false;
}

/* Deletes our routes that are not wanted (want NULL: all of them). */
static int routes_prune(struct kl_net *n, const struct kl_net_route *want, size_t count)
{
  struct nl_cache *cache = NULL;
  int rc = rtnl_route_alloc_cache(n->sk, AF_INET, 0, &cache);
  if (rc < 0) return nl_errno(rc);
  for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
    struct rtnl_route *r = (struct rtnl_route *)o;
    if (rtnl_route_get_protocol(r) != KL_RTPROT || rtnl_route_get_table(r) != RT_TABLE_MAIN) continue;
    if (want && route_wanted(r, want, count)) continue;
    int d = rtnl_route_delete(n->sk, r, 0);
    if (d < 0 && d != -NLE_OBJ_NOTFOUND && rc == 0) rc = nl_errno(d);
  }
  nl_cache_free(cache);
  return rc;
}

int kl_net_sync_routes(struct kl_net *n, const struct kl_net_route *routes, size_t count, char *err, size_t errlen)
{
  int rc = routes_prune(n, routes, count);
  if (rc < 0) {
    seterr(err, errlen, "list routes: %s", strerror(-rc));
    return rc;
  }
  for (size_t i = 0; i < count; i++) {
    uint32_t net, gw;
    int prefix;
    struct in_addr in;
    if (kl_cidr_parse(routes[i].cidr, &net, &prefix) < 0 || !routes[i].via ||
        inet_pton(AF_INET, routes[i].via, &in) != 1) {
      seterr(err, errlen, "invalid route %s via %s", routes[i].cidr ? routes[i].cidr : "(none)",
             routes[i].via ? routes[i].via : "(none)");
      return -EINVAL;
    }
    gw = ntohl(in.s_addr);
    if ((rc = route_replace(n->sk, net, prefix, gw, 0, KL_RTPROT)) < 0) {
      seterr(err, errlen, "route %s via %s: %s", routes[i].cidr, routes[i].via, strerror(-rc));
      return rc;
    }
  }
  return 0;
}

/* --- node teardown --- */

static int delete_pod_veths(struct kl_net *n)
{
  struct nl_cache *cache = NULL;
  int rc = rtnl_link_alloc_cache(n->sk, AF_UNSPEC, &cache);
  if (rc < 0) return nl_errno(rc);
  for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
    struct rtnl_link *l = (struct rtnl_link *)o;
    const char *alias = rtnl_link_get_ifalias(l);
    if (!alias || strncmp(alias, POD_ALIAS_PREFIX, strlen(POD_ALIAS_PREFIX)) != 0) continue;
    int d = delete_link(n->sk, rtnl_link_get_name(l));
    if (d < 0 && rc == 0) rc = d;
  }
  nl_cache_free(cache);
  return rc;
}

int kl_net_teardown_node(struct kl_net *n, char *err, size_t errlen)
{
  int rc = delete_pod_veths(n);
  if (rc < 0) {
    seterr(err, errlen, "delete pod veths: %s", strerror(-rc));
    return rc;
  }
  if ((rc = routes_prune(n, NULL, 0)) < 0) {
    seterr(err, errlen, "delete routes: %s", strerror(-rc));
    return rc;
  }
  if ((rc = delete_link(n->sk, n->bridge)) < 0) {
    seterr(err, errlen, "delete bridge %s: %s", n->bridge, strerror(-rc));
    return rc;
  }
  if (n->cluster_cidr[0] && (rc = kl_masq_remove(err, errlen)) < 0) return rc;
  n->have_cidr = false;
  return kl_ipam_clear(&n->ipam);
}
