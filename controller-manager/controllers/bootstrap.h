/*
 * bootstrap.h - the pure steps of the bootstrap token controllers
 * (bootstrap.c), for tests.
 */
#ifndef CM_BOOTSTRAP_H
#define CM_BOOTSTRAP_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#define BOOTSTRAP_CLUSTER_INFO "cluster-info"
#define BOOTSTRAP_PUBLIC_NS "kube-public"

/* tokencleaner: whether the bootstrap token Secret has expired at now_us
 * (upstream's GetExpiration).  Otherwise *next_ms is how long until it
 * does, or -1 when it never does (no expiration, or one that cannot be
 * parsed, which upstream leaves alone). */
bool tokencleaner_expired(const json_t *secret, int64_t now_us, int64_t *next_ms);

/* bootstrapsigner: the ID and secret of a bootstrap token Secret that may
 * sign cluster-info (upstream's validateSecretForSigning: name
 * bootstrap-token-ID with a matching token-id, a token-secret,
 * usage-bootstrap-signing "true", not expired).  id[7]; *secret is
 * malloc'd.  *next_ms (when not NULL) gets how long until the token
 * expires, or is left alone when it never does. */
bool bootstrapsigner_token(const json_t *secret, int64_t now_us, char id[7], char **token_secret, int64_t *next_ms);

/* bootstrapsigner: cluster-info with data["jws-kubeconfig-ID"] the
 * detached signature of data.kubeconfig for every signing token in
 * secrets (an array) and no other signature, as a new ConfigMap to PUT;
 * NULL when cm already is exactly that, or has no kubeconfig key.
 * *next_ms as above, the earliest expiry of a signing token. */
json_t *bootstrapsigner_signed(const json_t *cm, const json_t *secrets, int64_t now_us, int64_t *next_ms);

#endif
