/*
 * tls.c - the kubelet's serving certificate (see tls.h).
 */
#define _GNU_SOURCE
#include "tls.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CERT_VALID_DAYS 365

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

static int write_pem(const char *path, EVP_PKEY *key, X509 *cert)
{
  FILE *f = fopen(path, "w");
  if (!f) return -errno;
  if (key) fchmod(fileno(f), 0600);
  int ok = key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) : PEM_write_X509(f, cert);
  if (fclose(f) != 0) ok = 0;
  return ok ? 0 : -EIO;
}

static int generate(const char *crt, const char *keyf, const char *hostname, const char *ip, char *err, size_t errlen)
{
  EVP_PKEY *key = EVP_RSA_gen(2048);
  X509 *cert = X509_new();
  int rc = -1;
  if (!key || !cert) goto out;
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
  char cn[320];
  snprintf(cn, sizeof cn, "%s@%lld", hostname, (long long)now);
  X509_NAME *name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
  X509_set_issuer_name(cert, name);
  char san[400];
  snprintf(san, sizeof san, "DNS:%s%s%s", hostname, ip && *ip ? ",IP:" : "", ip && *ip ? ip : "");
  if (!add_ext(cert, NID_basic_constraints, "critical,CA:TRUE") ||
      !add_ext(cert, NID_key_usage, "critical,digitalSignature,keyEncipherment,keyCertSign") ||
      !add_ext(cert, NID_ext_key_usage, "serverAuth") || !add_ext(cert, NID_subject_alt_name, san))
    goto out;
  if (!X509_sign(cert, key, EVP_sha256())) goto out;
  if (write_pem(keyf, key, NULL) < 0 || write_pem(crt, NULL, cert) < 0) {
    snprintf(err, errlen, "unable to write self-signed certificate to %s: %s", crt, strerror(errno));
    goto out;
  }
  rc = 0;
out:
  if (rc < 0 && !err[0]) snprintf(err, errlen, "unable to generate self-signed certificate");
  EVP_PKEY_free(key);
  X509_free(cert);
  return rc;
}

void *kl_tls_server_ctx(const char *root_dir, const char *cert_file, const char *key_file, const char *hostname,
                        const char *node_ip, char *err, size_t errlen)
{
  char crt[4096], keyf[4096];
  err[0] = 0;
  if (cert_file && *cert_file) {
    snprintf(crt, sizeof crt, "%s", cert_file);
    snprintf(keyf, sizeof keyf, "%s", key_file ? key_file : "");
  } else {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/pki", root_dir);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
      snprintf(err, errlen, "mkdir %s: %s", dir, strerror(errno));
      return NULL;
    }
    snprintf(crt, sizeof crt, "%s/kubelet.crt", dir);
    snprintf(keyf, sizeof keyf, "%s/kubelet.key", dir);
    if ((access(crt, R_OK) < 0 || access(keyf, R_OK) < 0) && generate(crt, keyf, hostname, node_ip, err, errlen) < 0)
      return NULL;
  }
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) {
    snprintf(err, errlen, "cannot create a TLS context");
    return NULL;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (SSL_CTX_use_certificate_chain_file(ctx, crt) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, keyf, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    char e[256];
    ERR_error_string_n(ERR_get_error(), e, sizeof e);
    snprintf(err, errlen, "failed to load serving certificate %s and key %s: %s", crt, keyf, e);
    SSL_CTX_free(ctx);
    return NULL;
  }
  return ctx;
}

void kl_tls_free(void *ctx) { SSL_CTX_free(ctx); }
