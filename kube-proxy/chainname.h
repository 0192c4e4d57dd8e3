/*
 * chainname.h - upstream's names for per-service chains.
 *
 * A service port's chains are named PREFIX + the first 16 characters of
 * the standard base32 encoding of SHA-256("ns/name:port" + protocol),
 * with the protocol in lower case ("tcp") and ":port" left out for an
 * unnamed port; an endpoint chain hashes the endpoint's "ip:port" on top.
 * The same inputs therefore give the same names as a real cluster's
 * kube-proxy (KUBE-SVC-NPX46M4PTMTKRN6Y for default/kubernetes:https).
 */
#ifndef KP_CHAINNAME_H
#define KP_CHAINNAME_H

#include <stdbool.h>

#define KP_CHAIN_NAME_MAX 29 /* 28 characters, as the kernel allows */

#define KP_PREFIX_SVC "KUBE-SVC-"
#define KP_PREFIX_SVL "KUBE-SVL-"
#define KP_PREFIX_EXT "KUBE-EXT-"
#define KP_PREFIX_FW "KUBE-FW-"
#define KP_PREFIX_SEP "KUBE-SEP-"

/* out gets prefix + hash; out must hold KP_CHAIN_NAME_MAX bytes.
 * port_name_string is upstream's ServicePortName.String(). */
void kp_chain_name(char *out, const char *prefix, const char *port_name_string, const char *protocol_lower);
void kp_endpoint_chain_name(char *out, const char *port_name_string, const char *protocol_lower, const char *endpoint);
/* KUBE-SVC-/SVL-/EXT-/FW-/SEP- chains are per service and are deleted
 * when no longer wanted. */
bool kp_is_service_chain(const char *name);

#endif
