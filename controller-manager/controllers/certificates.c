/*
 * certificates.c - the CSR helpers of certificates.h: PKCS#10 parsing,
 * approval state, upstream's kubelet client/serving request rules, and
 * the local CA signer of the csrsigning controller (OpenSSL).
 *
 * Usages are compared as sets, as upstream does (a duplicate usage does
 * not change the set).  The signer forwards the request's subject, its
 * subjectAltName extension and public key and nothing else of the
 * request's extensions; key usages come from spec.usages only.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "controllers/certificates.h"
#include "kube/base64.h"
#include "kube/json.h"

#define BACKDATE_S (5 * 60)
#define SHORT_TTL_S (8 * 3600)
#define SERIAL_BITS 128

X509_REQ *certs_parse_csr(const json_t *csr, char *err, size_t errlen)
{
  const char *name = kj_get_str(csr, "metadata.name");
  const char *b64 = kj_get_str(csr, "spec.request");
  unsigned char *pem = NULL;
  size_t len = 0, bad = 0;
  X509_REQ *req = NULL;
  if (!b64 || kb64_decode(b64, strlen(b64), KB64_STD, &pem, &len, &bad) != 0) goto fail;
  BIO *bio = BIO_new_mem_buf(pem, (int)len);
  req = bio ? PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL) : NULL;
  BIO_free(bio);
  free(pem);
  ERR_clear_error();
  if (req) return req;
fail:
  snprintf(err, errlen, "unable to parse csr \"%s\": PEM block type must be CERTIFICATE REQUEST", name ? name : "");
  return NULL;
}

struct certs_state certs_state(const json_t *csr)
{
  struct certs_state s = {false, false, false};
  size_t i;
  json_t *c;
  json_array_foreach (kj_get(csr, "status.conditions"), i, c) {
    const char *t = kj_get_str(c, "type");
    if (!t) continue;
    if (!strcmp(t, "Approved")) s.approved = true;
    else if (!strcmp(t, "Denied")) s.denied = true;
    else if (!strcmp(t, "Failed")) s.failed = true;
  }
  return s;
}

void certs_subject_cn(X509_REQ *req, char *out, size_t len)
{
  out[0] = 0;
  X509_NAME *n = X509_REQ_get_subject_name(req);
  int i = X509_NAME_get_index_by_NID(n, NID_commonName, -1);
  if (i < 0) return;
  unsigned char *u = NULL;
  int l = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, i)));
  if (l >= 0) snprintf(out, len, "%.*s", l, (const char *)u);
  OPENSSL_free(u);
}

bool certs_org_is_only(X509_REQ *req, const char *org)
{
  X509_NAME *n = X509_REQ_get_subject_name(req);
  int count = 0;
  bool match = false;
  for (int i = -1; (i = X509_NAME_get_index_by_NID(n, NID_organizationName, i)) >= 0;) {
    unsigned char *u = NULL;
    int l = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, i)));
    count++;
    match = l >= 0 && (size_t)l == strlen(org) && memcmp(u, org, (size_t)l) == 0;
    OPENSSL_free(u);
  }
  return count == 1 && match;
}

/* Counts of the request's subjectAltNames by kind. */
struct sans {
  int dns, ip, email, uri;
};
static struct sans request_sans(X509_REQ *req)
{
  struct sans s = {0, 0, 0, 0};
  STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
  GENERAL_NAMES *gens = exts ? X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL) : NULL;
  for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
    const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
    s.dns += g->type == GEN_DNS;
    s.ip += g->type == GEN_IPADD;
    s.email += g->type == GEN_EMAIL;
    s.uri += g->type == GEN_URI;
  }
  GENERAL_NAMES_free(gens);
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  ERR_clear_error();
  return s;
}

/* Whether the set of usages equals the NULL-terminated set want. */
static bool usage_set_is(const json_t *usages, const char *const *want)
{
  size_t i, nwant = 0;
  json_t *u;
  for (const char *const *w = want; *w; w++) nwant++;
  json_array_foreach (usages, i, u) {
    const char *s = json_string_value(u);
    bool found = false;
    for (const char *const *w = want; *w && !found; w++) found = s && !strcmp(s, *w);
    if (!found) return false;
  }
  for (const char *const *w = want; *w; w++) {
    bool found = false;
    json_array_foreach (usages, i, u)
      if (json_is_string(u) && !strcmp(json_string_value(u), *w)) found = true;
    if (!found) return false;
  }
  return nwant > 0;
}

#define NODE_PREFIX "system:node:"

static bool node_cn(X509_REQ *req)
{
  char cn[256];
  certs_subject_cn(req, cn, sizeof cn);
  return !strncmp(cn, NODE_PREFIX, strlen(NODE_PREFIX));
}

static int fail(char *err, size_t errlen, const char *msg)
{
  snprintf(err, errlen, "%s", msg);
  return -1;
}

int certs_validate_kubelet_client(X509_REQ *req, const json_t *usages, char *err, size_t errlen)
{
  static const char *const rsa[] = {"digital signature", "key encipherment", "client auth", NULL};
  static const char *const no_rsa[] = {"digital signature", "client auth", NULL};
  if (!certs_org_is_only(req, "system:nodes")) return fail(err, errlen, "subject organization is not system:nodes");
  struct sans s = request_sans(req);
  if (s.dns) return fail(err, errlen, "DNS subjectAltNames are not allowed");
  if (s.email) return fail(err, errlen, "Email subjectAltNames are not allowed");
  if (s.ip) return fail(err, errlen, "IP subjectAltNames are not allowed");
  if (s.uri) return fail(err, errlen, "URI subjectAltNames are not allowed");
  if (!node_cn(req)) return fail(err, errlen, "subject common name does not begin with system:node:");
  if (!usage_set_is(usages, rsa) && !usage_set_is(usages, no_rsa))
    return fail(err, errlen, "usages did not match [client auth digital signature key encipherment]");
  return 0;
}

int certs_validate_kubelet_serving(X509_REQ *req, const json_t *usages, char *err, size_t errlen)
{
  static const char *const rsa[] = {"digital signature", "key encipherment", "server auth", NULL};
  static const char *const no_rsa[] = {"digital signature", "server auth", NULL};
  if (!certs_org_is_only(req, "system:nodes")) return fail(err, errlen, "subject organization is not system:nodes");
  struct sans s = request_sans(req);
  if (!s.dns && !s.ip) return fail(err, errlen, "DNS or IP subjectAltName is required");
  if (s.email) return fail(err, errlen, "Email subjectAltNames are not allowed");
  if (s.uri) return fail(err, errlen, "URI subjectAltNames are not allowed");
  if (!usage_set_is(usages, rsa) && !usage_set_is(usages, no_rsa))
    return fail(err, errlen, "usages did not match [digital signature key encipherment server auth]");
  if (!node_cn(req)) return fail(err, errlen, "subject common name does not begin with system:node:");
  return 0;
}

/* ---- the CA ---- */

int certs_ca_load(struct certs_ca *ca, const char *cert_file, const char *key_file, char *err, size_t errlen)
{
  memset(ca, 0, sizeof(*ca));
  FILE *f = fopen(cert_file, "r");
  if (!f) {
    snprintf(err, errlen, "error reading CA cert file \"%s\": open %s: %m", cert_file, cert_file);
    return -1;
  }
  ca->cert = PEM_read_X509(f, NULL, NULL, NULL);
  fclose(f);
  if (!ca->cert) {
    snprintf(err, errlen,
             "error reading CA cert file \"%s\": data does not contain any valid RSA or ECDSA certificates", cert_file);
    goto bad;
  }
  if (!(f = fopen(key_file, "r"))) {
    snprintf(err, errlen, "error reading CA key file \"%s\": open %s: %m", key_file, key_file);
    goto bad;
  }
  ca->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
  fclose(f);
  if (!ca->key) {
    snprintf(err, errlen, "error reading CA key file \"%s\": data does not contain a valid RSA or ECDSA private key",
             key_file);
    goto bad;
  }
  if (X509_check_private_key(ca->cert, ca->key) != 1) {
    snprintf(err, errlen, "error reading CA cert file \"%s\": tls: private key does not match public key", cert_file);
    goto bad;
  }
  ERR_clear_error();
  return 0;
bad:
  ERR_clear_error();
  certs_ca_free(ca);
  return -1;
}

void certs_ca_free(struct certs_ca *ca)
{
  X509_free(ca->cert);
  EVP_PKEY_free(ca->key);
  ca->cert = NULL;
  ca->key = NULL;
}

/* ---- signing ---- */

static const struct {
  const char *usage, *ku, *eku;
} usage_map[] = {
    {"signing", "digitalSignature", NULL},
    {"digital signature", "digitalSignature", NULL},
    {"content commitment", "nonRepudiation", NULL},
    {"key encipherment", "keyEncipherment", NULL},
    {"key agreement", "keyAgreement", NULL},
    {"data encipherment", "dataEncipherment", NULL},
    {"cert sign", "keyCertSign", NULL},
    {"crl sign", "cRLSign", NULL},
    {"encipher only", "encipherOnly", NULL},
    {"decipher only", "decipherOnly", NULL},
    {"any", NULL, "anyExtendedKeyUsage"},
    {"server auth", NULL, "serverAuth"},
    {"client auth", NULL, "clientAuth"},
    {"code signing", NULL, "codeSigning"},
    {"email protection", NULL, "emailProtection"},
    {"s/mime", NULL, "emailProtection"},
    {"ipsec end system", NULL, "ipsecEndSystem"},
    {"ipsec tunnel", NULL, "ipsecTunnel"},
    {"ipsec user", NULL, "ipsecUser"},
    {"timestamping", NULL, "timeStamping"},
    {"ocsp signing", NULL, "OCSPSigning"},
    {"microsoft sgc", NULL, "msSGC"},
    {"netscape sgc", NULL, "nsSGC"},
};

/* Appends word to a comma list once. */
static void list_add(char *list, size_t len, const char *word)
{
  if (strstr(list, word)) return;
  size_t n = strlen(list);
  snprintf(list + n, len - n, "%s%s", n ? "," : "", word);
}

/* "critical,digitalSignature,..." and "clientAuth,..." from usages; -1
 * with upstream's message for an unknown usage. */
static int usage_lists(const json_t *usages, char *ku, char *eku, size_t len, char *err, size_t errlen)
{
  size_t i;
  json_t *u;
  ku[0] = eku[0] = 0;
  char unknown[512] = "";
  json_array_foreach (usages, i, u) {
    const char *s = json_string_value(u);
    size_t k;
    for (k = 0; k < sizeof(usage_map) / sizeof(usage_map[0]); k++)
      if (s && !strcmp(s, usage_map[k].usage)) break;
    if (k == sizeof(usage_map) / sizeof(usage_map[0])) {
      size_t n = strlen(unknown);
      snprintf(unknown + n, sizeof unknown - n, "%s\"%s\"", n ? " " : "", s ? s : "");
      continue;
    }
    if (usage_map[k].ku) list_add(ku, len, usage_map[k].ku);
    if (usage_map[k].eku) list_add(eku, len, usage_map[k].eku);
  }
  if (*unknown) {
    snprintf(err, errlen, "unrecognized usage values: [%s]", unknown);
    return -1;
  }
  return 0;
}

static int add_ext(X509 *x, X509 *ca, int nid, const char *value)
{
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, ca, x, NULL, NULL, 0);
  X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
  if (!e) return -1;
  int ok = X509_add_ext(x, e, -1);
  X509_EXTENSION_free(e);
  return ok == 1 ? 0 : -1;
}

/* The request's subjectAltName extension, copied onto x. */
static int copy_sans(X509 *x, X509_REQ *req)
{
  STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
  int rc = 0;
  for (int i = 0; exts && i < sk_X509_EXTENSION_num(exts); i++) {
    X509_EXTENSION *e = sk_X509_EXTENSION_value(exts, i);
    if (OBJ_obj2nid(X509_EXTENSION_get_object(e)) == NID_subject_alt_name && X509_add_ext(x, e, -1) != 1) rc = -1;
  }
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  return rc;
}

static int set_serial(X509 *x)
{
  BIGNUM *bn = BN_new();
  int rc = -1;
  if (bn && BN_rand(bn, SERIAL_BITS, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
      BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
    rc = 0;
  BN_free(bn);
  return rc;
}

/* NotBefore/NotAfter as upstream's PermissiveSigningPolicy; -1 with the
 * reason when the CA has expired. */
static int set_validity(X509 *x, const X509 *ca, int64_t ttl_s, time_t now, char *err, size_t errlen)
{
  time_t nb = now - BACKDATE_S;
  time_t na = ttl_s < SHORT_TTL_S ? now + ttl_s : now + ttl_s - BACKDATE_S;
  const ASN1_TIME *ca_na = X509_get0_notAfter(ca);
  int cmp_day = 0, cmp_sec = 0;
  ASN1_TIME *t = ASN1_TIME_set(NULL, na);
  bool cut = ASN1_TIME_diff(&cmp_day, &cmp_sec, ca_na, t) && (cmp_day > 0 || cmp_sec > 0 || (!cmp_day && !cmp_sec));
  ASN1_TIME_free(t);
  if (X509_cmp_time(ca_na, &nb) <= 0) {
    snprintf(err, errlen, "the signer has expired");
    return -1;
  }
  if (X509_cmp_time(ca_na, &now) <= 0) {
    snprintf(err, errlen, "refusing to sign a certificate that expired in the past");
    return -1;
  }
  if (!ASN1_TIME_set(X509_getm_notBefore(x), nb)) return -1;
  if (cut) return X509_set1_notAfter(x, ca_na) == 1 ? 0 : -1;
  return ASN1_TIME_set(X509_getm_notAfter(x), na) ? 0 : -1;
}

static char *to_pem(X509 *x)
{
  BIO *bio = BIO_new(BIO_s_mem());
  char *out = NULL;
  if (bio && PEM_write_bio_X509(bio, x) == 1) {
    char *data;
    long n = BIO_get_mem_data(bio, &data);
    out = strndup(data, (size_t)n);
  }
  BIO_free(bio);
  return out;
}

char *certs_sign(const struct certs_ca *ca, X509_REQ *req, const json_t *usages, int64_t ttl_s, time_t now, char *err,
                 size_t errlen)
{
  char ku[512], eku[512];
  if (usage_lists(usages, ku + 9, eku, sizeof ku - 9, err, errlen) != 0) return NULL;
  memcpy(ku, "critical,", 9);
  X509 *x = X509_new();
  char *pem = NULL;
  snprintf(err, errlen, "error signing certificate");
  if (!x || X509_set_version(x, 2) != 1 || set_serial(x) != 0) goto out;
  if (set_validity(x, ca->cert, ttl_s, now, err, errlen) != 0) goto out;
  if (X509_set_subject_name(x, X509_REQ_get_subject_name(req)) != 1 ||
      X509_set_issuer_name(x, X509_get_subject_name(ca->cert)) != 1 ||
      X509_set_pubkey(x, X509_REQ_get0_pubkey(req)) != 1)
    goto out;
  if ((ku[9] && add_ext(x, ca->cert, NID_key_usage, ku) != 0) ||
      (eku[0] && add_ext(x, ca->cert, NID_ext_key_usage, eku) != 0) ||
      add_ext(x, ca->cert, NID_basic_constraints, "critical,CA:FALSE") != 0 || copy_sans(x, req) != 0)
    goto out;
  /* the CA's key id, as Go's CreateCertificate sets it from the parent */
  if (X509_get0_subject_key_id(ca->cert) && add_ext(x, ca->cert, NID_authority_key_identifier, "keyid:always") != 0)
    goto out;
  int id = EVP_PKEY_id(ca->key);
  const EVP_MD *md = (id == EVP_PKEY_ED25519 || id == EVP_PKEY_ED448) ? NULL : EVP_sha256();
  if (X509_sign(x, ca->key, md) <= 0) goto out;
  pem = to_pem(x);
out:
  ERR_clear_error();
  X509_free(x);
  return pem;
}

int64_t certs_duration_s(const json_t *csr, int64_t max_s)
{
  json_t *e = kj_get(csr, "spec.expirationSeconds");
  if (json_is_integer(e) && json_integer_value(e) < max_s) return json_integer_value(e);
  return max_s;
}
