/*
 * certificates.h - what the three CSR controllers share (upstream
 * pkg/controller/certificates and pkg/apis/certificates/v1/helpers.go):
 * reading a CertificateSigningRequest's PKCS#10 request, its approval
 * state, the kubelet client and serving request rules, and signing a
 * request with a CA (the csrsigning controller's local signer).
 *
 * Objects are borrowed; OpenSSL objects returned are the caller's.
 */
#ifndef CM_CERTIFICATES_H
#define CM_CERTIFICATES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#define CSR_API "/apis/certificates.k8s.io/v1"
#define CM_CSRS CSR_API "/certificatesigningrequests"

#define SIGNER_CLIENT "kubernetes.io/kube-apiserver-client"
#define SIGNER_KUBELET_CLIENT "kubernetes.io/kube-apiserver-client-kubelet"
#define SIGNER_KUBELET_SERVING "kubernetes.io/kubelet-serving"
#define SIGNER_LEGACY "kubernetes.io/legacy-unknown"

/* The request of spec.request (base64 of a PEM CERTIFICATE REQUEST), or
 * NULL with "unable to parse csr \"NAME\": ..." in err. */
X509_REQ *certs_parse_csr(const json_t *csr, char *err, size_t errlen);

/* upstream GetCertApprovalCondition plus Failed: which conditions exist. */
struct certs_state {
  bool approved, denied, failed;
};
struct certs_state certs_state(const json_t *csr);

/* Subject CN (empty when none) and whether O is exactly {org}. */
void certs_subject_cn(X509_REQ *req, char *out, size_t len);
bool certs_org_is_only(X509_REQ *req, const char *org);

/* upstream ValidateKubeletClientCSR / ValidateKubeletServingCSR: 0, or -1
 * with upstream's error text.  usages: the CSR's spec.usages. */
int certs_validate_kubelet_client(X509_REQ *req, const json_t *usages, char *err, size_t errlen);
int certs_validate_kubelet_serving(X509_REQ *req, const json_t *usages, char *err, size_t errlen);

/* A CA: certificate and key (csrsigning's --cluster-signing-*-file). */
struct certs_ca {
  X509 *cert;
  EVP_PKEY *key;
};
/* Loads both PEM files and checks they match; 0 or -1 with a message. */
int certs_ca_load(struct certs_ca *ca, const char *cert_file, const char *key_file, char *err, size_t errlen);
void certs_ca_free(struct certs_ca *ca);

/* upstream's local signer with PermissiveSigningPolicy: subject, SANs and
 * public key from req; key usages from usages; not CA; NotBefore now -
 * 5 min; NotAfter now + ttl (- 5 min when ttl >= 8 h), cut at the CA's
 * NotAfter.  A PEM CERTIFICATE (malloc'd) or NULL with the reason. */
char *certs_sign(const struct certs_ca *ca, X509_REQ *req, const json_t *usages, int64_t ttl_s, time_t now, char *err,
                 size_t errlen);

/* The signing duration for a CSR: min(spec.expirationSeconds, max_s). */
int64_t certs_duration_s(const json_t *csr, int64_t max_s);

#endif
