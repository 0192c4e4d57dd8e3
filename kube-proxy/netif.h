/*
 * netif.h - the node's side of kube-proxy's networking: the dummy
 * interface that holds the cluster DNS address, sysctls, and the node's
 * own addresses (for --nodeport-addresses).  Acts on the network
 * namespace the process runs in; every call is idempotent.
 */
#ifndef KP_NETIF_H
#define KP_NETIF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The dummy interface `name` exists, is up and holds exactly ip/32
 * (ip 0: no address).  On a kernel without the dummy driver the address
 * goes on lo instead, labelled KP_LO_LABEL so that only it is ever
 * removed.  0 or -errno with a message in err. */
#define KP_LO_LABEL "lo:kubedns"
int kp_netif_ensure_dummy(const char *name, uint32_t ip, char *err, size_t errlen);
/* Deletes the interface if it exists, and our labelled address on lo. */
int kp_netif_remove(const char *name, char *err, size_t errlen);
/* Writes value to /proc/sys/PATH ("net/ipv4/conf/all/route_localnet"). */
int kp_sysctl_set(const char *path, const char *value);
/* -1 if unreadable. */
int kp_sysctl_get_int(const char *path);
/* This node's IPv4 addresses, skipping interface `skip` (NULL: none);
 * with cidrs (n > 0) only those inside one of them.  Returns the count
 * written to out (at most max). */
size_t kp_local_ips(const char *skip, const uint32_t *nets, const int *prefixes, size_t ncidrs, uint32_t *out,
                    size_t max);

#endif
