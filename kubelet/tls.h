/*
 * tls.h - the serving certificate of the kubelet's HTTPS port.
 *
 * With tlsCertFile/tlsPrivateKeyFile set, those files are used.  Without,
 * as upstream: a self-signed certificate and key are kept under
 * ROOT_DIR/pki/kubelet.crt and kubelet.key, generated once (RSA 2048,
 * CN "<hostname>@<unix time>", SANs: the hostname and the node IP,
 * valid one year) and reused across restarts.
 */
#ifndef KL_TLS_H
#define KL_TLS_H

#include <stddef.h>

/* SSL_CTX * (as void *) for http_server_opts.ssl_ctx; NULL with a message. */
void *kl_tls_server_ctx(const char *root_dir, const char *cert_file, const char *key_file, const char *hostname,
                        const char *node_ip, char *err, size_t errlen);
void kl_tls_free(void *ctx);

#endif
