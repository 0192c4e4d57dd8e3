/*
 * bootstraptoken.h - bootstrap tokens as upstream's
 * k8s.io/cluster-bootstrap defines them: a token "ID.SECRET" (6 and 16
 * characters of [a-z0-9]) lives in the Secret kube-system/
 * bootstrap-token-ID of type bootstrap.kubernetes.io/token, whose data
 * holds token-id, token-secret, an optional RFC 3339 expiration and
 * usage-bootstrap-* flags.  Shared by the API server's authenticator and
 * the controller-manager's tokencleaner and bootstrapsigner.
 *
 * Also the detached JWS (HS256, key = the token secret, header
 * {"alg":"HS256","kid":ID}) that the bootstrap signer puts into
 * kube-public/cluster-info as jws-kubeconfig-ID, byte for byte what
 * upstream's ComputeDetachedSignature gives, so joining nodes can check
 * cluster-info with nothing but the token.
 */
#ifndef KUBE_BOOTSTRAPTOKEN_H
#define KUBE_BOOTSTRAPTOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define BOOTSTRAP_TOKEN_SECRET_TYPE "bootstrap.kubernetes.io/token"
#define BOOTSTRAP_TOKEN_SECRET_PREFIX "bootstrap-token-"
#define BOOTSTRAP_JWS_KEY_PREFIX "jws-kubeconfig-"

/* True when s is n characters of [a-z0-9] (6 for an ID, 16 for a secret). */
bool bootstrap_token_part_valid(const char *s, size_t n);
/* The ID in a Secret name "bootstrap-token-ID" into id[7]; false when the
 * name is not of that form. */
bool bootstrap_token_id_from_name(const char *name, char id[7]);
/* A Secret's data[key], base64-decoded and NUL-terminated; malloc'd, or
 * NULL when absent or not base64. */
char *bootstrap_secret_data(const json_t *secret, const char *key);
/* data[key] is "true". */
bool bootstrap_secret_flag(const json_t *secret, const char *key);
/* The expiration, as upstream's GetExpiration: 0 with *exp_us set when it
 * has one, 1 when it has none (never expires), -1 when it cannot be
 * parsed (upstream then neither deletes nor trusts it). */
int bootstrap_secret_expiration(const json_t *secret, int64_t *exp_us);
/* The detached JWS of content for the token ID.SECRET:
 * "BASE64URL(header)..BASE64URL(HMAC-SHA256)"; malloc'd. */
char *bootstrap_jws_detached(const char *content, size_t len, const char *id, const char *secret);

#endif
