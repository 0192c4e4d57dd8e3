/*
 * netif.c - dummy interface (libnl-route), sysctls, local addresses (see
 * netif.h).
 */
#include "netif.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ruleset.h"

static void seterr(char *err, size_t len, const char *fmt, ...)
{
  if (!err || !len) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, len, fmt, ap);
  va_end(ap);
}

static struct nl_sock *nl_open(char *err, size_t errlen)
{
  struct nl_sock *sk = nl_socket_alloc();
  if (!sk || nl_connect(sk, NETLINK_ROUTE) < 0) {
    seterr(err, errlen, "netlink: cannot connect");
    if (sk) nl_socket_free(sk);
    return NULL;
  }
  return sk;
}

static int ensure_link(struct nl_sock *sk, const char *name, int *ifindex, char *err, size_t errlen)
{
  struct rtnl_link *link = NULL;
  if (rtnl_link_get_kernel(sk, 0, name, &link) < 0) {
    struct rtnl_link *nl = rtnl_link_alloc();
    rtnl_link_set_name(nl, name);
    int rc = rtnl_link_set_type(nl, "dummy");
    if (rc >= 0) rc = rtnl_link_add(sk, nl, NLM_F_CREATE | NLM_F_EXCL);
    rtnl_link_put(nl);
    if (rc == -NLE_OPNOTSUPP) return -EOPNOTSUPP;
    if (rc < 0 && rc != -NLE_EXIST) {
      seterr(err, errlen, "creating dummy interface %s: %s", name, nl_geterror(rc));
      return -EIO;
    }
    if (rtnl_link_get_kernel(sk, 0, name, &link) < 0) {
      seterr(err, errlen, "dummy interface %s not found after creating it", name);
      return -ENOENT;
    }
  }
  *ifindex = rtnl_link_get_ifindex(link);
  if (!(rtnl_link_get_flags(link) & IFF_UP)) {
    struct rtnl_link *change = rtnl_link_alloc();
    rtnl_link_set_flags(change, IFF_UP);
    int rc = rtnl_link_change(sk, link, change, 0);
    rtnl_link_put(change);
    if (rc < 0) {
      rtnl_link_put(link);
      seterr(err, errlen, "setting %s up: %s", name, nl_geterror(rc));
      return -EIO;
    }
  }
  rtnl_link_put(link);
  return 0;
}

struct addr_walk {
  struct nl_sock *sk;
  int ifindex;
  uint32_t keep;
  bool have;
  const char *label; /* on a shared interface (lo): only addresses with this label are ours */
};

static void addr_cb(struct nl_object *obj, void *arg)
{
  struct addr_walk *w = arg;
  struct rtnl_addr *a = (struct rtnl_addr *)obj;
  if (rtnl_addr_get_ifindex(a) != w->ifindex || rtnl_addr_get_family(a) != AF_INET) return;
  const char *label = rtnl_addr_get_label(a);
  if (w->label && (!label || strcmp(label, w->label))) return;
  struct nl_addr *local = rtnl_addr_get_local(a);
  uint32_t ip = 0;
  if (local && nl_addr_get_len(local) == 4) {
    memcpy(&ip, nl_addr_get_binary_addr(local), 4);
    ip = ntohl(ip);
  }
  if (ip && ip == w->keep && rtnl_addr_get_prefixlen(a) == 32) {
    w->have = true;
    return;
  }
  rtnl_addr_delete(w->sk, a, 0);
}

/* The addresses of interface ifindex become exactly ip/32 (label: only
 * those carrying it are considered ours). */
static int set_address(struct nl_sock *sk, const char *name, int ifindex, uint32_t ip, const char *label, char *err,
                       size_t errlen)
{
  struct nl_cache *cache = NULL;
  if (rtnl_addr_alloc_cache(sk, &cache) < 0) {
    seterr(err, errlen, "listing addresses");
    return -EIO;
  }
  int rc = 0;
  struct addr_walk w = {sk, ifindex, ip, false, label};
  nl_cache_foreach(cache, addr_cb, &w);
  if (ip && !w.have) {
    struct rtnl_addr *a = rtnl_addr_alloc();
    uint32_t be = htonl(ip);
    struct nl_addr *local = nl_addr_build(AF_INET, &be, 4);
    nl_addr_set_prefixlen(local, 32);
    rtnl_addr_set_ifindex(a, ifindex);
    rtnl_addr_set_local(a, local);
    if (label) rtnl_addr_set_label(a, label);
    int r = rtnl_addr_add(sk, a, 0);
    nl_addr_put(local);
    rtnl_addr_put(a);
    if (r < 0 && r != -NLE_EXIST) {
      seterr(err, errlen, "adding the DNS address to %s: %s", name, nl_geterror(r));
      rc = -EIO;
    }
  }
  nl_cache_free(cache);
  return rc;
}

int kp_netif_ensure_dummy(const char *name, uint32_t ip, char *err, size_t errlen)
{
  struct nl_sock *sk = nl_open(err, errlen);
  if (!sk) return -EIO;
  int ifindex = 0;
  int rc = ensure_link(sk, name, &ifindex, err, errlen);
  if (rc == -EOPNOTSUPP) {
    /* a kernel without the dummy driver: the address goes on lo, labelled */
    struct rtnl_link *lo = NULL;
    if (rtnl_link_get_kernel(sk, 0, "lo", &lo) >= 0) {
      ifindex = rtnl_link_get_ifindex(lo);
      rtnl_link_put(lo);
      rc = set_address(sk, "lo", ifindex, ip, KP_LO_LABEL, err, errlen);
    }
  } else if (!rc) {
    rc = set_address(sk, name, ifindex, ip, NULL, err, errlen);
  }
  nl_socket_free(sk);
  return rc;
}

int kp_netif_remove(const char *name, char *err, size_t errlen)
{
  struct nl_sock *sk = nl_open(err, errlen);
  if (!sk) return -EIO;
  struct rtnl_link *link = NULL;
  int rc = 0;
  if (rtnl_link_get_kernel(sk, 0, name, &link) >= 0) {
    int r = rtnl_link_delete(sk, link);
    if (r < 0) {
      seterr(err, errlen, "deleting %s: %s", name, nl_geterror(r));
      rc = -EIO;
    }
    rtnl_link_put(link);
  }
  struct rtnl_link *lo = NULL;
  if (rtnl_link_get_kernel(sk, 0, "lo", &lo) >= 0) {
    int r = set_address(sk, "lo", rtnl_link_get_ifindex(lo), 0, KP_LO_LABEL, err, errlen);
    if (r < 0) rc = r;
    rtnl_link_put(lo);
  }
  nl_socket_free(sk);
  return rc;
}

int kp_sysctl_set(const char *path, const char *value)
{
  char full[256];
  snprintf(full, sizeof full, "/proc/sys/%s", path);
  FILE *f = fopen(full, "w");
  if (!f) return -errno;
  int rc = fputs(value, f) < 0 ? -EIO : 0;
  if (fclose(f) != 0 && !rc) rc = -errno;
  return rc;
}

int kp_sysctl_get_int(const char *path)
{
  char full[256];
  snprintf(full, sizeof full, "/proc/sys/%s", path);
  FILE *f = fopen(full, "r");
  if (!f) return -1;
  int v = -1;
  if (fscanf(f, "%d", &v) != 1) v = -1;
  fclose(f);
  return v;
}

size_t kp_local_ips(const char *skip, const uint32_t *nets, const int *prefixes, size_t ncidrs, uint32_t *out,
                    size_t max)
{
  struct ifaddrs *ifa = NULL;
  if (getifaddrs(&ifa) < 0) return 0;
  size_t n = 0;
  for (struct ifaddrs *i = ifa; i && n < max; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
    if (skip && !strcmp(i->ifa_name, skip)) continue;
    uint32_t ip = ntohl(((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr);
    bool ok = ncidrs == 0;
    for (size_t c = 0; c < ncidrs && !ok; c++) ok = (ip & kp_prefix_mask(prefixes[c])) == nets[c];
    bool dup = false;
    for (size_t j = 0; j < n && !dup; j++) dup = out[j] == ip;
    if (ok && !dup) out[n++] = ip;
  }
  freeifaddrs(ifa);
  return n;
}
