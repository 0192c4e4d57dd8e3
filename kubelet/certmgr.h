/*
 * certmgr.h - the kubelet's certificates over the API: the TLS bootstrap
 * of its client certificate, and the managers that renew the client and
 * serving certificates (upstream's certificate manager).
 *
 * A request (kl_csr_request) creates a CertificateSigningRequest with a
 * fresh ECDSA P-256 key, then watches that one object (fieldSelector
 * metadata.name) until it carries status.certificate after an Approved
 * condition, is Denied or Failed, or the timeout passes; a watch that
 * ends is started again.
 *
 * Bootstrap (kl_bootstrap_client) runs before the kubelet's loop starts,
 * as upstream's does: on a private event base with a client built from
 * --bootstrap-kubeconfig, bounded by KL_BOOTSTRAP_TIMEOUT_MS.
 *
 * A manager (kl_certmgr) lives on the kubelet's loop: it knows the
 * current certificate, arms a timer at the rotation deadline (70-90% of
 * its lifetime, jittered), then requests a new one with the kubelet's own
 * client, stores it (certificate.h) and hands it to its user (the REST
 * client, the HTTPS server).  Failures are retried with backoff.  A
 * serving manager without a certificate requests one at once.
 */
#ifndef KL_CERTMGR_H
#define KL_CERTMGR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct event_base;
struct rest_client;
struct kubelet;
struct kl_config;

#define KL_BOOTSTRAP_TIMEOUT_MS (3600LL * 1000)

/* ---- one request ---- */
struct kl_csr_req;
/* cert_pem (borrowed) is the issued chain, NULL on failure with why. */
typedef void (*kl_csr_done_fn)(void *arg, const char *cert_pem, const char *why);
/* Starts a request for csr (borrowed).  The callback runs once, from the
 * loop.  NULL on allocation failure. */
struct kl_csr_req *kl_csr_request(struct event_base *base, struct rest_client *c, const json_t *csr,
                                  int64_t timeout_ms, kl_csr_done_fn done, void *arg);
/* Abandons a request (no callback afterwards). */
void kl_csr_cancel(struct kl_csr_req *r);

/* ---- bootstrap ---- */
/* Makes sure --kubeconfig holds a usable client certificate, running the
 * TLS bootstrap with --bootstrap-kubeconfig when it does not (see the
 * file comment).  0 (nothing to do, or done), -1 with a message. */
int kl_bootstrap_client(const struct kl_config *cfg, const char *node_name, char *err, size_t errlen);

/* ---- rotation ---- */
enum kl_cert_kind { KL_CERT_CLIENT, KL_CERT_SERVING };
struct kl_certmgr;
/* Called with the path of the new current pair (certificate and key in
 * one PEM file) after each successful request. */
typedef void (*kl_cert_new_fn)(void *arg, const char *pem_path, const char *cert_pem, const char *key_pem);
/* A manager for kind; the current pair is PREFIX-current.pem in the
 * cert dir, else cert_pem (may be NULL: none yet).  Started by
 * kl_certmgr_start. */
struct kl_certmgr *kl_certmgr_new(struct kubelet *k, enum kl_cert_kind kind, const char *cert_pem,
                                  kl_cert_new_fn on_new, void *arg);
void kl_certmgr_start(struct kl_certmgr *m);
void kl_certmgr_free(struct kl_certmgr *m);
/* The pending deadline (seconds since the epoch), 0 when none. */
int64_t kl_certmgr_deadline(const struct kl_certmgr *m);

#endif
