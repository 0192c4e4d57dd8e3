/*
 * ipam.h - the host-local address allocator behind kl_net (internal).
 *
 * State lives in one directory (ROOT_DIR/network/ipam/): a file per
 * allocated address, named by the address ("10.244.1.7") and holding the
 * owning pod's UID, plus `last_reserved_ip`, where the next search starts
 * (so a released address is not handed out again at once, as upstream's
 * host-local plugin does).  A file is created with O_EXCL, so two
 * allocations can never take the same address, and the state survives
 * restarts by construction.  The first host address of the range is the
 * gateway (the bridge) and is never allocated; neither are the network and
 * broadcast addresses.  An address file that is empty (a crash between
 * create and write) belongs to no pod and is released by kl_ipam_gc.
 *
 * IPv4 only.  Every call is a few small file operations.
 */
#ifndef KL_NETWORK_IPAM_H
#define KL_NETWORK_IPAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kl_ipam {
  char dir[4096];
  uint32_t net; /* host byte order */
  int prefix;
  bool have_range;
};

/* Parses "a.b.c.d/n" into the network address (host order, host bits
 * cleared) and prefix.  -EINVAL on bad input. */
int kl_cidr_parse(const char *cidr, uint32_t *net, int *prefix);
/* Formats a host-order address. */
void kl_ip_format(uint32_t ip, char *buf, size_t len);
/* The first host address of net/prefix: the bridge's gateway address. */
uint32_t kl_cidr_gateway(uint32_t net, int prefix);

/* Makes `dir` (and its parents) if missing.  The range is set later. */
int kl_ipam_open(struct kl_ipam *a, const char *dir);
/* Sets the range addresses come from; -EINVAL if the prefix leaves no
 * room for a pod (prefix > 30). */
int kl_ipam_set_range(struct kl_ipam *a, const char *cidr);
/* The address held by `uid`, or else a new one from the range.
 * -EAGAIN without a range, -ENOSPC when the range is full. */
int kl_ipam_allocate(struct kl_ipam *a, const char *uid, uint32_t *ip);
/* The address held by `uid`: -ENOENT if none. */
int kl_ipam_find(struct kl_ipam *a, const char *uid, uint32_t *ip);
/* Releases every address held by `uid` (0 also when it held none). */
int kl_ipam_release(struct kl_ipam *a, const char *uid);
/* Releases every address whose owner is not alive (empty files too).
 * Returns the number released or -errno. */
int kl_ipam_gc(struct kl_ipam *a, bool (*alive)(const char *uid, void *arg), void *arg);
/* Removes every file of the allocator (not the directory's parents). */
int kl_ipam_clear(struct kl_ipam *a);

#endif
