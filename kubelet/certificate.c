/*
 * certificate.c - keys, certificate requests, the PEM store and the
 * rotation deadline of the kubelet's certificates (see certificate.h).
 * Everything here is synchronous and short: an ECDSA P-256 key is made in
 * well under a millisecond, files are small.
 */
#define _GNU_SOURCE
#include "certificate.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kube/base64.h"
#include "kube/fileutil.h"
#include "kube/xalloc.h"

/* A BIO's contents as a new NUL-terminated string. */
static char *bio_string(BIO *b)
{
  char *data = NULL;
  long n = BIO_get_mem_data(b, &data);
  if (n < 0) return NULL;
  char *out = xmalloc((size_t)n + 1);
  memcpy(out, data, (size_t)n);
  out[n] = 0;
  return out;
}

static EVP_PKEY *load_key(const char *pem, size_t len)
{
  BIO *b = BIO_new_mem_buf(pem, (int)len);
  EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
  BIO_free(b);
  return k;
}

static X509 *load_cert(const char *pem, size_t len)
{
  BIO *b = BIO_new_mem_buf(pem, (int)len);
  X509 *c = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
  BIO_free(b);
  return c;
}

char *kl_cert_new_key_pem(void)
{
  EVP_PKEY *key = EVP_EC_gen("P-256");
  BIO *b = BIO_new(BIO_s_mem());
  char *out = NULL;
  if (key && b && PEM_write_bio_PrivateKey_traditional(b, key, NULL, NULL, 0, NULL, NULL)) out = bio_string(b);
  BIO_free(b);
  EVP_PKEY_free(key);
  return out;
}

static int add_sans(X509_REQ *req, const char *sans)
{
  if (!sans || !*sans) return 0;
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, NULL, NULL, req, NULL, 0);
  X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, sans);
  if (!ex) return -1;
  STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
  sk_X509_EXTENSION_push(exts, ex);
  int ok = X509_REQ_add_extensions(req, exts);
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  return ok ? 0 : -1;
}

char *kl_cert_request_pem(const char *key_pem, const char *cn, const char *org, const char *sans, char *err,
                          size_t errlen)
{
  EVP_PKEY *key = load_key(key_pem, strlen(key_pem));
  X509_REQ *req = key ? X509_REQ_new() : NULL;
  BIO *b = NULL;
  char *out = NULL;
  if (!req) {
    snprintf(err, errlen, "unable to parse the private key");
    goto done;
  }
  X509_NAME *name = X509_REQ_get_subject_name(req);
  if ((org && *org && !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)org, -1, -1, 0)) ||
      !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) ||
      !X509_REQ_set_pubkey(req, key) || add_sans(req, sans) < 0 || !X509_REQ_sign(req, key, EVP_sha256())) {
    snprintf(err, errlen, "unable to create a certificate request for %s (SANs \"%s\")", cn, sans ? sans : "");
    goto done;
  }
  b = BIO_new(BIO_s_mem());
  if (b && PEM_write_bio_X509_REQ(b, req)) out = bio_string(b);
  else snprintf(err, errlen, "unable to encode the certificate request");
done:
  BIO_free(b);
  X509_REQ_free(req);
  EVP_PKEY_free(key);
  return out;
}

json_t *kl_cert_csr_object(const char *request_pem, const char *signer)
{
  char *b64 = kb64_encode(request_pem, strlen(request_pem), KB64_STD);
  bool client = !strcmp(signer, KL_SIGNER_CLIENT);
  json_t *csr = json_pack("{s:s,s:s,s:{s:s},s:{s:s,s:s,s:[s,s]}}", "apiVersion", "certificates.k8s.io/v1", "kind",
                          "CertificateSigningRequest", "metadata", "generateName", client ? "node-csr-" : "csr-",
                          "spec", "request", b64 ? b64 : "", "signerName", signer, "usages", "digital signature",
                          client ? "client auth" : "server auth");
  free(b64);
  return csr;
}

static int64_t asn1_time_s(const ASN1_TIME *t)
{
  struct tm tm;
  if (!ASN1_TIME_to_tm(t, &tm)) return 0;
  return (int64_t)timegm(&tm);
}

int kl_cert_validity(const char *pem, size_t len, int64_t *not_before, int64_t *not_after)
{
  X509 *c = load_cert(pem, len);
  if (!c) return -1;
  *not_before = asn1_time_s(X509_get0_notBefore(c));
  *not_after = asn1_time_s(X509_get0_notAfter(c));
  X509_free(c);
  return 0;
}

bool kl_cert_file_usable(const char *path, int64_t now_s)
{
  size_t len = 0;
  char *pem = kfile_read(path, &len);
  if (!pem) return false;
  X509 *c = load_cert(pem, len);
  EVP_PKEY *k = load_key(pem, len);
  bool ok = c && k && X509_check_private_key(c, k) == 1 && asn1_time_s(X509_get0_notBefore(c)) <= now_s + 300 &&
            asn1_time_s(X509_get0_notAfter(c)) > now_s;
  X509_free(c);
  EVP_PKEY_free(k);
  free(pem);
  return ok;
}

int64_t kl_cert_rotation_deadline(int64_t not_before, int64_t not_after, double jitter)
{
  if (jitter < 0) jitter = 0;
  if (jitter >= 1) jitter = 0.999999;
  double total = (double)(not_after - not_before);
  return not_before + (int64_t)llround(total * (0.7 + 0.2 * jitter));
}

void kl_cert_current_path(const char *dir, const char *prefix, char *out, size_t outlen)
{
  snprintf(out, outlen, "%s/%s-current.pem", dir, prefix);
}

static int mkdir_p(const char *path)
{
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(buf, 0755) < 0 && errno != EEXIST) return -errno;
    *p = '/';
  }
  if (mkdir(buf, 0755) < 0 && errno != EEXIST) return -errno;
  return 0;
}

/* Writes data to path (mode) through path.tmp and a rename. */
static int write_atomic(const char *path, const char *data, mode_t mode)
{
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return -errno;
  size_t len = strlen(data), off = 0;
  int rc = 0;
  while (off < len) {
    ssize_t n = write(fd, data + off, len - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      rc = -errno;
      break;
    }
    off += (size_t)n;
  }
  if (fsync(fd) < 0 && !rc) rc = -errno;
  if (close(fd) < 0 && !rc) rc = -errno;
  if (!rc && rename(tmp, path) < 0) rc = -errno;
  if (rc) unlink(tmp);
  return rc;
}

int kl_cert_store(const char *dir, const char *prefix, const char *cert_pem, const char *key_pem, int64_t now_s,
                  char *err, size_t errlen)
{
  int rc = mkdir_p(dir);
  if (rc < 0) {
    snprintf(err, errlen, "could not create directory \"%s\": %s", dir, strerror(-rc));
    return rc;
  }
  time_t t = (time_t)now_s;
  struct tm tm;
  gmtime_r(&t, &tm);
  char stamp[32], name[300], path[4400], link_tmp[4400], current[4400];
  strftime(stamp, sizeof stamp, "%Y-%m-%d-%H-%M-%S", &tm);
  snprintf(name, sizeof name, "%s-%s.pem", prefix, stamp);
  snprintf(path, sizeof path, "%s/%s", dir, name);
  size_t cl = strlen(cert_pem);
  char *both = NULL;
  if (asprintf(&both, "%s%s%s", cert_pem, cl && cert_pem[cl - 1] != '\n' ? "\n" : "", key_pem) < 0) return -ENOMEM;
  rc = write_atomic(path, both, 0600);
  free(both);
  if (rc < 0) {
    snprintf(err, errlen, "could not write %s: %s", path, strerror(-rc));
    return rc;
  }
  kl_cert_current_path(dir, prefix, current, sizeof current);
  snprintf(link_tmp, sizeof link_tmp, "%s.tmp", current);
  unlink(link_tmp);
  if (symlink(name, link_tmp) < 0 || rename(link_tmp, current) < 0) {
    rc = -errno;
    unlink(link_tmp);
    snprintf(err, errlen, "could not point %s at %s: %s", current, name, strerror(-rc));
    return rc;
  }
  return 0;
}

/* A YAML double-quoted scalar body: the path with '\\' and '"' escaped. */
static void yaml_quote(const char *in, char *out, size_t outlen)
{
  size_t o = 0;
  for (; *in && o + 3 < outlen; in++) {
    if (*in == '"' || *in == '\\') out[o++] = '\\';
    out[o++] = *in;
  }
  out[o] = 0;
}

int kl_cert_write_kubeconfig(const char *path, const char *server, const char *ca_data, size_t ca_len, bool insecure,
                             const char *tls_server_name, const char *pem_path, char *err, size_t errlen)
{
  char qserver[2100], qpem[4200], qname[600], opts[1000] = "";
  yaml_quote(server, qserver, sizeof qserver);
  yaml_quote(pem_path, qpem, sizeof qpem);
  yaml_quote(tls_server_name ? tls_server_name : "", qname, sizeof qname);
  size_t off = 0;
  if (insecure) off += (size_t)snprintf(opts + off, sizeof opts - off, "    insecure-skip-tls-verify: true\n");
  if (*qname) snprintf(opts + off, sizeof opts - off, "    tls-server-name: \"%s\"\n", qname);
  char *ca = ca_data && ca_len ? kb64_encode(ca_data, ca_len, KB64_STD) : NULL;
  char *doc = NULL;
  int n = asprintf(&doc,
                   "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: \"%s\"\n%s%s%s%s"
                   "  name: default-cluster\ncontexts:\n- context:\n    cluster: default-cluster\n"
                   "    namespace: default\n    user: default-auth\n  name: default-context\n"
                   "current-context: default-context\npreferences: {}\nusers:\n- name: default-auth\n  user:\n"
                   "    client-certificate: \"%s\"\n    client-key: \"%s\"\n",
                   qserver, ca ? "    certificate-authority-data: " : "", ca ? ca : "", ca ? "\n" : "", opts, qpem,
                   qpem);
  free(ca);
  if (n < 0) return -ENOMEM;
  int rc = write_atomic(path, doc, 0600);
  free(doc);
  if (rc < 0) snprintf(err, errlen, "unable to write the kubeconfig %s: %s", path, strerror(-rc));
  return rc;
}
