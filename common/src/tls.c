/*
 * tls.c - serving TLS contexts and client certificate identities (see
 * kube/tls.h).
 */
#define _GNU_SOURCE
#include <kube/tls.h>

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CERT_VALID_DAYS 365

/* ---------- names: Go's TLS versions and cipher suites ---------- */

static const struct {
  const char *go;
  int version;
} versions[] = {
    {"VersionTLS10", TLS1_VERSION},
    {"VersionTLS11", TLS1_1_VERSION},
    {"VersionTLS12", TLS1_2_VERSION},
    {"VersionTLS13", TLS1_3_VERSION},
};

/* Go's names (crypto/tls, as --tls-cipher-suites takes them) -> OpenSSL's.
 * TLS 1.3 suites are accepted and, as in Go, not configurable. */
static const struct {
  const char *go, *openssl;
} suites[] = {
    {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256"},
    {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384"},
    {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384"},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA-CHACHA20-POLY1305"},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "ECDHE-ECDSA-CHACHA20-POLY1305"},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "ECDHE-RSA-CHACHA20-POLY1305"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA-AES128-SHA"},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA-AES128-SHA"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA-AES256-SHA"},
    {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA-AES256-SHA"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "ECDHE-ECDSA-AES128-SHA256"},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "ECDHE-RSA-AES128-SHA256"},
    {"TLS_RSA_WITH_AES_128_GCM_SHA256", "AES128-GCM-SHA256"},
    {"TLS_RSA_WITH_AES_256_GCM_SHA384", "AES256-GCM-SHA384"},
    {"TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA"},
    {"TLS_RSA_WITH_AES_256_CBC_SHA", "AES256-SHA"},
    {"TLS_RSA_WITH_AES_128_CBC_SHA256", "AES128-SHA256"},
    {"TLS_RSA_WITH_3DES_EDE_CBC_SHA", "DES-CBC3-SHA"},
    {"TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", "ECDHE-RSA-DES-CBC3-SHA"},
    {"TLS_AES_128_GCM_SHA256", NULL},
    {"TLS_AES_256_GCM_SHA384", NULL},
    {"TLS_CHACHA20_POLY1305_SHA256", NULL},
};

static int min_version_of(const char *v)
{
  if (!v || !*v) return TLS1_2_VERSION;
  for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
    if (strcmp(versions[i].go, v) == 0) return versions[i].version;
  return -1;
}

int ktls_check_min_version(const char *v, char *err, size_t errlen)
{
  if (min_version_of(v) >= 0) return 0;
  snprintf(err, errlen, "unknown tls version \"%s\" (one of VersionTLS10, VersionTLS11, VersionTLS12, VersionTLS13)", v);
  return -1;
}

/* Appends the OpenSSL names of a Go list to out (':'-separated); -1 with
 * the first unknown name in err. */
static int openssl_cipher_list(const char *list, char *out, size_t outlen, char *err, size_t errlen)
{
  char *copy = strdup(list ? list : ""), *save = NULL;
  int rc = copy ? 0 : -1;
  out[0] = 0;
  for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; tok && rc == 0; tok = strtok_r(NULL, ",", &save)) {
    while (*tok == ' ') tok++;
    size_t i, n = sizeof(suites) / sizeof(suites[0]);
    for (i = 0; i < n && strcmp(suites[i].go, tok) != 0; i++)
      ;
    if (i == n) {
      snprintf(err, errlen, "Cipher suite %s not supported or doesn't exist", tok);
      rc = -1;
    } else if (suites[i].openssl) {
      size_t used = strlen(out);
      snprintf(out + used, outlen - used, "%s%s", used ? ":" : "", suites[i].openssl);
    }
  }
  free(copy);
  return rc;
}

int ktls_check_cipher_suites(const char *list, char *err, size_t errlen)
{
  char out[2048];
  return openssl_cipher_list(list, out, sizeof out, err, errlen);
}

/* ---------- the self-signed pair ---------- */

static bool add_ext(X509 *cert, int nid, const char *value)
{
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
  X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
  if (!ex) return false;
  X509_add_ext(cert, ex, -1);
  X509_EXTENSION_free(ex);
  return true;
}

/* Writes to PATH.tmp and renames, so a reader never sees half a file. */
static int write_pem(const char *path, EVP_PKEY *key, X509 *cert)
{
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f) return -errno;
  if (key) fchmod(fileno(f), 0600);
  int ok = key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) : PEM_write_X509(f, cert);
  if (fclose(f) != 0) ok = 0;
  if (!ok || rename(tmp, path) < 0) {
    unlink(tmp);
    return -EIO;
  }
  return 0;
}

static X509 *self_signed(EVP_PKEY *key, const char *cn, const char *sans)
{
  X509 *cert = X509_new();
  if (!cert) return NULL;
  X509_set_version(cert, 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;
  BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
  BN_free(bn);
  time_t now = time(NULL);
  X509_time_adj_ex(X509_getm_notBefore(cert), 0, -3600, &now);
  X509_time_adj_ex(X509_getm_notAfter(cert), CERT_VALID_DAYS, 0, &now);
  X509_set_pubkey(cert, key);
  char subject[320];
  snprintf(subject, sizeof subject, "%s@%lld", cn && *cn ? cn : "localhost", (long long)now);
  X509_NAME *name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)subject, -1, -1, 0);
  X509_set_issuer_name(cert, name);
  bool ok = add_ext(cert, NID_basic_constraints, "critical,CA:TRUE") &&
            add_ext(cert, NID_key_usage, "critical,digitalSignature,keyEncipherment,keyCertSign") &&
            add_ext(cert, NID_ext_key_usage, "serverAuth") &&
            (!sans || !*sans || add_ext(cert, NID_subject_alt_name, sans)) && X509_sign(cert, key, EVP_sha256());
  if (!ok) {
    X509_free(cert);
    return NULL;
  }
  return cert;
}

static int generate(const char *crt, const char *keyf, const char *cn, const char *sans, char *err, size_t errlen)
{
  EVP_PKEY *key = EVP_RSA_gen(2048);
  X509 *cert = key ? self_signed(key, cn, sans) : NULL;
  int rc = -1;
  if (!cert) snprintf(err, errlen, "unable to generate a self-signed certificate (SANs \"%s\")", sans ? sans : "");
  else if (write_pem(keyf, key, NULL) < 0 || write_pem(crt, NULL, cert) < 0)
    snprintf(err, errlen, "unable to write the self-signed certificate %s: %s", crt, strerror(errno));
  else rc = 0;
  EVP_PKEY_free(key);
  X509_free(cert);
  return rc;
}

/* DIR/NAME.crt and .key, made under DIR/.NAME.lock when missing. */
static int ensure_pair(const struct ktls_server_opts *o, char *crt, char *keyf, size_t n, char *err, size_t errlen)
{
  const char *dir = o->cert_dir && *o->cert_dir ? o->cert_dir : ".";
  const char *nm = o->pair_name && *o->pair_name ? o->pair_name : "server";
  if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
    snprintf(err, errlen, "unable to create the certificate directory %s: %s", dir, strerror(errno));
    return -1;
  }
  snprintf(crt, n, "%s/%s.crt", dir, nm);
  snprintf(keyf, n, "%s/%s.key", dir, nm);
  char lock[4200];
  snprintf(lock, sizeof lock, "%s/.%s.lock", dir, nm);
  int fd = open(lock, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0 || flock(fd, LOCK_EX) < 0) {
    snprintf(err, errlen, "unable to lock %s: %s", lock, strerror(errno));
    if (fd >= 0) close(fd);
    return -1;
  }
  int rc = 0;
  if (access(crt, R_OK) < 0 || access(keyf, R_OK) < 0) rc = generate(crt, keyf, o->cn, o->sans, err, errlen);
  close(fd);
  return rc;
}

/* ---------- the context ---------- */

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg)
{
  (void)ssl;
  (void)arg;
  static const unsigned char http11[] = "\x08http/1.1";
  unsigned char *sel = NULL;
  if (SSL_select_next_proto(&sel, outlen, http11, sizeof(http11) - 1, in, inlen) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK; /* the client offers no http/1.1: go on without ALPN */
  *out = sel;
  return SSL_TLSEXT_ERR_OK;
}

/* Any client certificate passes the handshake; ktls_peer_identity reads
 * the verification result. */
static int accept_any(int preverify, X509_STORE_CTX *ctx)
{
  (void)preverify;
  (void)ctx;
  return 1;
}

static void openssl_error(char *err, size_t errlen, const char *what, const char *file)
{
  char e[256];
  ERR_error_string_n(ERR_get_error(), e, sizeof e);
  snprintf(err, errlen, "%s %s: %s", what, file, e);
}

/* Client certificates requested, named by both CAs; the handshake's own
 * verification uses ca only (extra is checked with ktls_peer_verify). */
static int setup_client_ca(SSL_CTX *ctx, const char *ca, const char *extra, char *err, size_t errlen)
{
  STACK_OF(X509_NAME) *names = sk_X509_NAME_new_null();
  if (!names) return -1;
  if (ca && *ca &&
      (SSL_add_file_cert_subjects_to_stack(names, ca) != 1 || SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1)) {
    sk_X509_NAME_pop_free(names, X509_NAME_free);
    openssl_error(err, errlen, "unable to load client CA file", ca);
    return -1;
  }
  if (extra && *extra && SSL_add_file_cert_subjects_to_stack(names, extra) != 1) {
    sk_X509_NAME_pop_free(names, X509_NAME_free);
    openssl_error(err, errlen, "unable to load client CA file", extra);
    return -1;
  }
  SSL_CTX_set_client_CA_list(ctx, names);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, accept_any);
  static const unsigned char sid[] = "kube";
  SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1);
  return 0;
}

static int setup_protocol(SSL_CTX *ctx, const struct ktls_server_opts *o, char *err, size_t errlen)
{
  if (ktls_check_min_version(o->min_version, err, errlen) < 0) return -1;
  SSL_CTX_set_min_proto_version(ctx, min_version_of(o->min_version));
  if (o->cipher_suites && *o->cipher_suites) {
    char list[2048];
    if (openssl_cipher_list(o->cipher_suites, list, sizeof list, err, errlen) < 0) return -1;
    if (list[0] && SSL_CTX_set_cipher_list(ctx, list) != 1) {
      snprintf(err, errlen, "none of the cipher suites %s is available", o->cipher_suites);
      return -1;
    }
  }
  SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
  return 0;
}

/* A self-signed pair held in memory only (no cert_dir). */
static int use_memory_pair(SSL_CTX *ctx, const struct ktls_server_opts *o, char *err, size_t errlen)
{
  EVP_PKEY *key = EVP_RSA_gen(2048);
  X509 *cert = key ? self_signed(key, o->cn, o->sans) : NULL;
  int rc = cert && SSL_CTX_use_certificate(ctx, cert) == 1 && SSL_CTX_use_PrivateKey(ctx, key) == 1 ? 0 : -1;
  if (rc < 0) snprintf(err, errlen, "unable to generate a self-signed certificate in memory");
  EVP_PKEY_free(key);
  X509_free(cert);
  return rc;
}

static bool wants_client_certs(const struct ktls_server_opts *o)
{
  return (o->client_ca_file && *o->client_ca_file) || (o->extra_client_ca_file && *o->extra_client_ca_file);
}

void *ktls_server_ctx(const struct ktls_server_opts *o, char *err, size_t errlen)
{
  char crt[4200], keyf[4200];
  err[0] = 0;
  bool in_memory = !(o->cert_file && *o->cert_file) && !(o->cert_dir && *o->cert_dir);
  if (in_memory) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx || setup_protocol(ctx, o, err, errlen) < 0 || use_memory_pair(ctx, o, err, errlen) < 0 ||
        (wants_client_certs(o) && setup_client_ca(ctx, o->client_ca_file, o->extra_client_ca_file, err, errlen) < 0)) {
      if (!err[0]) snprintf(err, errlen, "cannot create a TLS context");
      SSL_CTX_free(ctx);
      return NULL;
    }
    return ctx;
  }
  if (o->cert_file && *o->cert_file) {
    snprintf(crt, sizeof crt, "%s", o->cert_file);
    snprintf(keyf, sizeof keyf, "%s", o->key_file ? o->key_file : "");
  } else if (ensure_pair(o, crt, keyf, sizeof crt, err, errlen) < 0) {
    return NULL;
  }
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) {
    snprintf(err, errlen, "cannot create a TLS context");
    return NULL;
  }
  if (setup_protocol(ctx, o, err, errlen) < 0) goto fail;
  if (SSL_CTX_use_certificate_chain_file(ctx, crt) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, keyf, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    char e[256];
    ERR_error_string_n(ERR_get_error(), e, sizeof e);
    snprintf(err, errlen, "failed to load the serving certificate %s and key %s: %s", crt, keyf, e);
    goto fail;
  }
  if (wants_client_certs(o) && setup_client_ca(ctx, o->client_ca_file, o->extra_client_ca_file, err, errlen) < 0)
    goto fail;
  return ctx;
fail:
  SSL_CTX_free(ctx);
  return NULL;
}

void ktls_ctx_free(void *ctx) { SSL_CTX_free(ctx); }

/* ---------- client identities ---------- */

/* Every entry nid of name in out, '\n'-separated. */
static void name_entries(X509_NAME *name, int nid, char *out, size_t outlen)
{
  out[0] = 0;
  int idx = -1;
  while ((idx = X509_NAME_get_index_by_NID(name, nid, idx)) >= 0) {
    ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
    unsigned char *utf8 = NULL;
    int len = ASN1_STRING_to_UTF8(&utf8, s);
    if (len < 0) continue;
    size_t used = strlen(out);
    snprintf(out + used, outlen - used, "%s%.*s", used ? "\n" : "", len, (const char *)utf8);
    OPENSSL_free(utf8);
  }
}

int ktls_peer_identity(void *ssl, char *cn, size_t cnlen, char *orgs, size_t orgslen, char *err, size_t errlen)
{
  cn[0] = orgs[0] = 0;
  if (!ssl) return 0;
  X509 *cert = SSL_get1_peer_certificate((SSL *)ssl);
  if (!cert) return 0;
  long vr = SSL_get_verify_result((SSL *)ssl);
  int rc = 1;
  if (vr != X509_V_OK) {
    snprintf(err, errlen, "verifying certificate failed: %s", X509_verify_cert_error_string(vr));
    rc = -1;
  } else {
    X509_NAME *subj = X509_get_subject_name(cert);
    name_entries(subj, NID_commonName, cn, cnlen);
    name_entries(subj, NID_organizationName, orgs, orgslen);
  }
  X509_free(cert);
  return rc;
}

/* ---------- other CAs ---------- */

void *ktls_ca_store(const char *file, char *err, size_t errlen)
{
  X509_STORE *st = X509_STORE_new();
  if (!st || X509_STORE_load_file(st, file) != 1) {
    openssl_error(err, errlen, "unable to load CA file", file);
    X509_STORE_free(st);
    return NULL;
  }
  return st;
}

void ktls_ca_store_free(void *store) { X509_STORE_free(store); }

int ktls_peer_verify(void *ssl, void *store, char *cn, size_t cnlen, char *err, size_t errlen)
{
  cn[0] = 0;
  if (!ssl || !store) return 0;
  X509 *cert = SSL_get1_peer_certificate((SSL *)ssl);
  if (!cert) return 0;
  X509_STORE_CTX *vctx = X509_STORE_CTX_new();
  int rc = -1;
  /* the chain the client sent: on a server it leaves out the leaf */
  if (vctx && X509_STORE_CTX_init(vctx, store, cert, SSL_get_peer_cert_chain((SSL *)ssl)) == 1) {
    X509_STORE_CTX_set_purpose(vctx, X509_PURPOSE_SSL_CLIENT);
    if (X509_verify_cert(vctx) == 1) {
      name_entries(X509_get_subject_name(cert), NID_commonName, cn, cnlen);
      rc = 1;
    } else {
      snprintf(err, errlen, "verifying certificate failed: %s",
               X509_verify_cert_error_string(X509_STORE_CTX_get_error(vctx)));
    }
  }
  X509_STORE_CTX_free(vctx);
  X509_free(cert);
  ERR_clear_error();
  return rc;
}
