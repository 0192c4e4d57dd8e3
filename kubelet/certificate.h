/*
 * certificate.h - the kubelet's certificates as upstream's certificate
 * manager keeps them: keys, certificate requests, the PEM store in
 * --cert-dir, the rotation deadline and the kubeconfig written after the
 * TLS bootstrap.  Pure functions over OpenSSL and files; the network side
 * (CSR objects sent, watched, renewed) is certmgr.c.
 *
 * The store: PREFIX-YYYY-MM-DD-HH-MM-SS.pem (certificate chain then key,
 * mode 0600) and the PREFIX-current.pem symlink to the newest, swapped
 * atomically (a temporary link renamed over it), so a reader never sees
 * a missing or half-written pair.  PREFIX is "kubelet-client" or
 * "kubelet-server".
 */
#ifndef KL_CERTIFICATE_H
#define KL_CERTIFICATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define KL_SIGNER_CLIENT "kubernetes.io/kube-apiserver-client-kubelet"
#define KL_SIGNER_SERVING "kubernetes.io/kubelet-serving"

/* A new ECDSA P-256 private key as SEC 1 PEM ("EC PRIVATE KEY", as
 * upstream's kubelet writes it).  New string, NULL on failure. */
char *kl_cert_new_key_pem(void);

/* A PKCS#10 request PEM signed with key_pem for subject O=org, CN=cn and
 * the comma-separated SANs in sans ("DNS:x,IP:y"; NULL or "" for none).
 * New string, NULL with a message in err. */
char *kl_cert_request_pem(const char *key_pem, const char *cn, const char *org, const char *sans, char *err,
                          size_t errlen);

/* The certificates.k8s.io/v1 CertificateSigningRequest for request_pem
 * (new reference): generateName node-csr- for the client signer, csr-
 * otherwise; usages as upstream's kubelet asks for an ECDSA key
 * (digital signature + client auth, or + server auth). */
json_t *kl_cert_csr_object(const char *request_pem, const char *signer);

/* Validity of the first certificate in a PEM buffer: 0 with the times in
 * seconds since the epoch, -1 when no certificate could be read. */
int kl_cert_validity(const char *pem, size_t len, int64_t *not_before, int64_t *not_after);

/* Whether the PEM file at path holds a certificate and a matching key and
 * the certificate is valid at now_s. */
bool kl_cert_file_usable(const char *path, int64_t now_s);

/* When to rotate: not_before + 70..90% of the lifetime, the fraction
 * picked by jitter in [0,1) (upstream: wait.Jitter(total, 0.2) - 0.3 total). */
int64_t kl_cert_rotation_deadline(int64_t not_before, int64_t not_after, double jitter);

/* Writes cert_pem then key_pem to DIR/PREFIX-<UTC now_s>.pem and points
 * DIR/PREFIX-current.pem at it.  0, or -errno with the path in err. */
int kl_cert_store(const char *dir, const char *prefix, const char *cert_pem, const char *key_pem, int64_t now_s,
                  char *err, size_t errlen);
/* DIR/PREFIX-current.pem into out. */
void kl_cert_current_path(const char *dir, const char *prefix, char *out, size_t outlen);

/* Writes the kubeconfig upstream's bootstrap writes: the cluster of the
 * bootstrap kubeconfig (server, CA data, TLS server name, insecure) and a
 * user whose client-certificate and client-key are both pem_path.
 * 0, or -errno with a message. */
int kl_cert_write_kubeconfig(const char *path, const char *server, const char *ca_data, size_t ca_len, bool insecure,
                             const char *tls_server_name, const char *pem_path, char *err, size_t errlen);

#endif
