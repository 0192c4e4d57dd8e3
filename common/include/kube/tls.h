/*
 * tls.h - serving TLS for every program's HTTPS ports (OpenSSL), the way
 * upstream's secure serving options configure it.
 *
 * A server context comes from a certificate and key given as files, or,
 * without them, from a self-signed pair kept in a directory
 * (DIR/NAME.crt, DIR/NAME.key; made once, RSA 2048, valid a year,
 * reused across restarts; generation is serialized with a lock file so
 * several programs sharing the directory never see half a pair), or,
 * with no directory either, from a self-signed pair made in memory at
 * start (upstream's components do the same without --cert-dir).
 *
 * The minimum version and cipher suites use Go's names (VersionTLS12,
 * TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256) as upstream's flags do.  ALPN
 * offers http/1.1 only.  With a client CA file, client certificates are
 * requested (never required): the handshake accepts any certificate and
 * the verification result is read per connection (ktls_peer_identity),
 * so an invalid certificate is the application's 401, as upstream's
 * x509 authenticator answers, not a handshake failure.
 */
#ifndef KUBE_TLS_H
#define KUBE_TLS_H

#include <stdbool.h>
#include <stddef.h>

struct ktls_server_opts {
  const char *cert_file; /* PEM chain; "" or NULL: self-signed in cert_dir */
  const char *key_file;
  const char *cert_dir;  /* where the self-signed pair is kept; NULL or "": in memory */
  const char *pair_name; /* "apiserver" -> apiserver.crt / apiserver.key */
  const char *cn;        /* subject CN of a generated certificate ("localhost") */
  const char *sans;      /* comma-separated "DNS:x" / "IP:y" for a generated one */
  const char *min_version;    /* Go name; NULL or "" = VersionTLS12 */
  const char *cipher_suites;  /* comma-separated Go/IANA names; NULL or "" = OpenSSL's defaults */
  const char *client_ca_file; /* request client certificates verified against this; NULL = none */
  /* Another CA whose certificates are requested too but verified only
   * with ktls_peer_verify (the API server's request-header CA); NULL =
   * none. */
  const char *extra_client_ca_file;
};

/* SSL_CTX * (as void *) for http_server_opts.ssl_ctx; NULL with a message
 * naming the file or the bad value in err. */
void *ktls_server_ctx(const struct ktls_server_opts *o, char *err, size_t errlen);
void ktls_ctx_free(void *ctx);

/* Checks a --tls-min-version / --tls-cipher-suites value; 0, or -1 with
 * upstream's message in err. */
int ktls_check_min_version(const char *v, char *err, size_t errlen);
int ktls_check_cipher_suites(const char *list, char *err, size_t errlen);

/* The verified client certificate of a connection (ssl is the SSL * of
 * http_req_ssl): 1 with the subject's CN in cn and its O values (one
 * per line, '\n'-separated) in orgs; 0 when none was presented; -1 when one was presented
 * but does not verify against the client CA (or is expired), with the
 * reason in err. */
int ktls_peer_identity(void *ssl, char *cn, size_t cnlen, char *orgs, size_t orgslen, char *err, size_t errlen);

/* A CA bundle loaded as a verification store (X509_STORE * as void *);
 * NULL with a message naming the file. */
void *ktls_ca_store(const char *file, char *err, size_t errlen);
void ktls_ca_store_free(void *store);
/* The client certificate of ssl (with the chain the client sent) verified
 * against store: 1 with the subject's CN in cn; 0 when none was
 * presented; -1 when it does not verify, with the reason in err. */
int ktls_peer_verify(void *ssl, void *store, char *cn, size_t cnlen, char *err, size_t errlen);

#endif
