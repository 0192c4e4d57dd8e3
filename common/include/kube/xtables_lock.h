/*
 * xtables_lock.h - the lock the iptables tools take around a table's
 * read-modify-commit (flock on /run/xtables.lock, or $XTABLES_LOCKFILE),
 * so that programs committing whole tables through libiptc (kube-proxy,
 * the kubelet's masquerade rule) never interleave with each other or with
 * iptables itself.  The wait is bounded; it sleeps in short steps, so call
 * it from a worker thread or keep wait_ms short on an event loop.
 */
#ifndef KUBE_XTABLES_LOCK_H
#define KUBE_XTABLES_LOCK_H

#define XTABLES_LOCK_DEFAULT_PATH "/run/xtables.lock"

/* The fd to close() to release the lock, or -errno (-ETIMEDOUT after
 * waiting wait_ms). */
int xtables_lock(int wait_ms);

#endif
