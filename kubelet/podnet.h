/*
 * podnet.h - the kubelet's use of pod networking (kubelet/network/
 * network.h): the node's bridge from spec.podCIDR, a veth and an address
 * per sandbox, host-gw routes to the other nodes' pod ranges from the
 * Node objects.  When the network module is not part of the build, pods
 * that need the pod network cannot start (upstream's "network is not
 * ready") and hostNetwork pods run as usual.
 */
#ifndef KL_PODNET_H
#define KL_PODNET_H

#include <stdbool.h>
#include <stddef.h>

struct kubelet;
struct kl_podnet;

struct kl_podnet *kl_podnet_new(struct kubelet *k);
void kl_podnet_free(struct kl_podnet *n);
void kl_podnet_start(struct kl_podnet *n);
void kl_podnet_stop(struct kl_podnet *n);
/* Ready to wire sandboxes (module built in and the pod CIDR known);
 * otherwise false with the reason. */
bool kl_podnet_ready(struct kl_podnet *n, char *why, size_t len);
/* Wires the sandbox of pod uid whose init process is pid. */
int kl_podnet_setup(struct kl_podnet *n, const char *uid, int pid, char *ip, size_t iplen, char *err, size_t errlen);
int kl_podnet_teardown(struct kl_podnet *n, const char *uid, char *err, size_t errlen);
/* The address of a pod wired earlier (kubelet restart), or -ENOENT. */
int kl_podnet_ip(struct kl_podnet *n, const char *uid, char *ip, size_t len);

#endif
