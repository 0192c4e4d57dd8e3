/*
 * certificatesigningrequests.c - the certificates.k8s.io/v1
 * CertificateSigningRequest strategy (upstream
 * pkg/registry/certificates/certificates/strategy.go, validation from
 * pkg/apis/certificates/validation, and the admission plugins
 * CertificateApproval, CertificateSigning and CertificateSubjectRestriction).
 *
 * Three ways to write one object, each changing only its own part:
 *   main resource   spec and status always come from the stored object
 *                   (only metadata changes);
 *   status          status.certificate and the conditions other than
 *                   Approved/Denied (whose stored instances are put back,
 *                   so adding or removing one is a validation error);
 *   approval        status.conditions only (kubectl certificate approve
 *                   and deny PUT here).
 * On create, spec.username/uid/groups/extra are replaced by the requesting
 * user (on the insecure port "system:unsecured" in system:masters) and the
 * status is emptied: clients cannot pre-approve or claim another identity.
 * Conditions get lastUpdateTime/lastTransitionTime when missing.
 *
 * Validation: spec.request must be a PEM CERTIFICATE REQUEST whose
 * signature verifies; usages required, known and unique; signerName of the
 * form domain/path (kubernetes.io/legacy-unknown only on objects that
 * already had it); expirationSeconds >= 600; Approved, Denied and Failed
 * only True, Approved and Denied exclusive, none removed once set;
 * status.certificate only CERTIFICATE blocks and never replaced once set.
 * Admission (secure port only): approving needs verb "approve" on
 * certificates.k8s.io signers named by the signerName (or the wildcard name of its domain),
 * setting a certificate verb "sign", and no kube-apiserver-client request
 * may carry O=system:masters.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <kube/base64.h>
#include <kube/json.h>
#include <kube/names.h>
#include <kube/status.h>
#include <kube/timeutil.h>

#include "apiserver.h"
#include "auth/auth.h"
#include "auth/authn.h"
#include "registry/certificatesigningrequests.h"
#include "registry/ext_internal.h"
#include "registry/kinds_ext.h"

#define CSR_GROUP "certificates.k8s.io"
#define CSR_RESOURCE "certificatesigningrequests"
#define CSR_LEGACY_SIGNER "kubernetes.io/legacy-unknown"
#define CSR_CLIENT_SIGNER "kubernetes.io/kube-apiserver-client"
#define CSR_MIN_EXPIRATION_S 600
#define DNS1123_SUBDOMAIN_MAX 253
#define DNS1123_LABEL_MAX 63

static const char *const valid_usages[] = {"any",
                                           "cert sign",
                                           "client auth",
                                           "code signing",
                                           "content commitment",
                                           "crl sign",
                                           "data encipherment",
                                           "decipher only",
                                           "digital signature",
                                           "email protection",
                                           "encipher only",
                                           "ipsec end system",
                                           "ipsec tunnel",
                                           "ipsec user",
                                           "key agreement",
                                           "key encipherment",
                                           "microsoft sgc",
                                           "netscape sgc",
                                           "ocsp signing",
                                           "s/mime",
                                           "server auth",
                                           "signing",
                                           "timestamping",
                                           NULL};

/* ---- decoding the request ---- */

/* The raw bytes of a base64 field (spec.request, status.certificate);
 * malloc'd, NULL when absent or not base64. */
static unsigned char *field_bytes(const json_t *obj, const char *path, size_t *len)
{
  const char *s = kj_get_str(obj, path);
  *len = 0;
  if (!s || !*s) return NULL;
  unsigned char *out = NULL;
  size_t bad = 0;
  if (kb64_decode(s, strlen(s), KB64_STD, &out, len, &bad) != 0) return NULL;
  return out;
}

X509_REQ *csr_parse_pem(const unsigned char *pem, size_t len, char *err, size_t errlen)
{
  BIO *bio = BIO_new_mem_buf(pem, (int)len);
  char *name = NULL, *header = NULL;
  unsigned char *der = NULL;
  long derlen = 0;
  X509_REQ *req = NULL;
  if (!bio || !PEM_read_bio(bio, &name, &header, &der, &derlen) || strcmp(name, "CERTIFICATE REQUEST") != 0) {
    snprintf(err, errlen, "PEM block type must be CERTIFICATE REQUEST");
    goto out;
  }
  const unsigned char *p = der;
  req = d2i_X509_REQ(NULL, &p, derlen);
  if (!req) snprintf(err, errlen, "asn1: structure error: the certificate request does not parse");
out:
  ERR_clear_error();
  OPENSSL_free(name);
  OPENSSL_free(header);
  OPENSSL_free(der);
  BIO_free(bio);
  return req;
}

/* 0 when spec.request is a CSR with a valid signature, else -1 with
 * upstream's error text. */
static int check_request(const json_t *obj, char *err, size_t errlen)
{
  size_t len;
  unsigned char *pem = field_bytes(obj, "spec.request", &len);
  if (!pem) {
    snprintf(err, errlen, "PEM block type must be CERTIFICATE REQUEST");
    return -1;
  }
  X509_REQ *req = csr_parse_pem(pem, len, err, errlen);
  free(pem);
  if (!req) return -1;
  EVP_PKEY *key = X509_REQ_get0_pubkey(req);
  int ok = key ? X509_REQ_verify(req, key) : -1;
  ERR_clear_error();
  X509_REQ_free(req);
  if (ok != 1) {
    snprintf(err, errlen, "x509: signature verification failure");
    return -1;
  }
  return 0;
}

bool csr_request_has_org(const json_t *obj, const char *org)
{
  size_t len;
  unsigned char *pem = field_bytes(obj, "spec.request", &len);
  if (!pem) return false;
  char err[128];
  X509_REQ *req = csr_parse_pem(pem, len, err, sizeof err);
  free(pem);
  if (!req) return false;
  bool found = false;
  X509_NAME *subj = X509_REQ_get_subject_name(req);
  for (int i = -1; !found && (i = X509_NAME_get_index_by_NID(subj, NID_organizationName, i)) >= 0;) {
    ASN1_STRING *d = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i));
    unsigned char *u = NULL;
    int n = ASN1_STRING_to_UTF8(&u, d);
    if (n >= 0 && (size_t)n == strlen(org) && memcmp(u, org, (size_t)n) == 0) found = true;
    OPENSSL_free(u);
  }
  X509_REQ_free(req);
  return found;
}

/* Go's %#v of a []byte: []byte{0x2d, 0x2d, ...}.  Caller frees. */
static char *go_bytes(const unsigned char *b, size_t n)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) return NULL;
  fputs(n ? "[]byte{" : "[]byte(nil)", f);
  for (size_t i = 0; i < n; i++) fprintf(f, i ? ", 0x%x" : "0x%x", b[i]);
  if (n) fputc('}', f);
  fclose(f);
  return buf;
}

/* ---- status.certificate ---- */

/* upstream validateCertificate: empty, or only CERTIFICATE blocks without
 * headers, each parsing; 0 or -1 with the message. */
int csr_check_certificate(const unsigned char *pem, size_t len, char *err, size_t errlen)
{
  if (!len) return 0;
  BIO *bio = BIO_new_mem_buf(pem, (int)len);
  int blocks = 0, rc = 0;
  char *name = NULL, *header = NULL;
  unsigned char *der = NULL;
  long derlen = 0;
  while (bio && PEM_read_bio(bio, &name, &header, &der, &derlen)) {
    if (strcmp(name, "CERTIFICATE") != 0) {
      snprintf(err, errlen, "only CERTIFICATE PEM blocks are allowed, found \"%s\"", name);
      rc = -1;
    } else if (header && *header) {
      snprintf(err, errlen, "no PEM block headers are permitted");
      rc = -1;
    } else {
      const unsigned char *p = der;
      X509 *x = d2i_X509(NULL, &p, derlen);
      if (!x) {
        snprintf(err, errlen, "x509: malformed certificate");
        rc = -1;
      }
      X509_free(x);
    }
    blocks++;
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(der);
    name = header = NULL;
    der = NULL;
    if (rc) break;
  }
  ERR_clear_error();
  BIO_free(bio);
  if (!rc && blocks == 0) {
    snprintf(err, errlen, "must contain at least one CERTIFICATE PEM block");
    rc = -1;
  }
  return rc;
}

/* ---- conditions ---- */

static size_t count_conditions(const json_t *obj, const char *type)
{
  size_t i, n = 0;
  json_t *c;
  json_array_foreach (kj_get(obj, "status.conditions"), i, c) {
    const char *t = kj_get_str(c, "type");
    if (t && !strcmp(t, type)) n++;
  }
  return n;
}

/* New array of the conditions of type (copies). */
static json_t *find_conditions(const json_t *obj, const char *type)
{
  json_t *out = json_array();
  size_t i;
  json_t *c;
  json_array_foreach (kj_get(obj, "status.conditions"), i, c) {
    const char *t = kj_get_str(c, "type");
    if (t && !strcmp(t, type)) json_array_append(out, c);
  }
  return out;
}

/* upstream preserveConditionInstances: the stored instances of type put
 * back in place of the new ones when the counts agree. */
static void preserve_conditions(json_t *obj, const json_t *old, const char *type)
{
  json_t *nc = kj_get(obj, "status.conditions"), *oc = kj_get(old, "status.conditions");
  if (count_conditions(obj, type) != count_conditions(old, type)) return;
  size_t oi = 0, i;
  json_t *c;
  json_array_foreach (nc, i, c) {
    const char *t = kj_get_str(c, "type");
    if (!t || strcmp(t, type)) continue;
    for (; oi < json_array_size(oc); oi++) {
      const char *ot = kj_get_str(json_array_get(oc, oi), "type");
      if (ot && !strcmp(ot, type)) break;
    }
    json_array_set_new(nc, i, kj_deep_copy(json_array_get(oc, oi++)));
  }
}

/* upstream populateConditionTimestamps. */
static void condition_timestamps(json_t *obj, const json_t *old)
{
  char now[64];
  ktime_now_str(now);
  size_t i;
  json_t *c;
  json_array_foreach (kj_get(obj, "status.conditions"), i, c) {
    if (!kj_get_str(c, "lastUpdateTime")) json_object_set_new(c, "lastUpdateTime", json_string(now));
    if (kj_get_str(c, "lastTransitionTime")) continue;
    const char *lt = now;
    size_t j;
    json_t *o;
    json_array_foreach (old ? kj_get(old, "status.conditions") : NULL, j, o) {
      const char *ot = kj_get_str(o, "type"), *os = kj_get_str(o, "status");
      const char *olt = kj_get_str(o, "lastTransitionTime");
      if (ot && os && olt && *olt && json_equal(json_object_get(c, "type"), json_object_get(o, "type")) &&
          json_equal(json_object_get(c, "status"), json_object_get(o, "status"))) {
        lt = olt;
        break;
      }
    }
    json_object_set_new(c, "lastTransitionTime", json_string(lt));
  }
}

/* ---- strategy ---- */

/* v1 SetDefaults_CertificateSigningRequestCondition: status True. */
static void csr_defaults(json_t *obj)
{
  size_t i;
  json_t *c;
  json_array_foreach (kj_get(obj, "status.conditions"), i, c) {
    const char *s = kj_get_str(c, "status");
    if (!s || !*s) json_object_set_new(c, "status", json_string("True"));
  }
}

static void set_requestor(json_t *spec, const struct auth_user *u)
{
  if (!u) {
    json_object_set_new(spec, "username", json_string("system:unsecured"));
    json_object_set_new(spec, "groups", json_pack("[ss]", "system:masters", "system:authenticated"));
    return;
  }
  json_object_set_new(spec, "username", json_string(u->name));
  if (u->uid && *u->uid) json_object_set_new(spec, "uid", json_string(u->uid));
  if (u->ngroups) {
    json_t *g = json_array();
    for (size_t i = 0; i < u->ngroups; i++) json_array_append_new(g, json_string(u->groups[i]));
    json_object_set_new(spec, "groups", g);
  }
  if (json_object_size(u->extra)) json_object_set_new(spec, "extra", kj_deep_copy(u->extra));
}

static void csr_prepare_create(struct reg_request *rq, json_t *obj)
{
  json_t *spec = json_object_get(obj, "spec");
  if (json_is_object(spec)) {
    json_object_del(spec, "username");
    json_object_del(spec, "uid");
    json_object_del(spec, "groups");
    json_object_del(spec, "extra");
    set_requestor(spec, rq ? rq->auth : NULL);
  }
  json_object_set_new(obj, "status", json_object());
}

static void csr_prepare_update(struct reg_request *rq, json_t *obj, const json_t *old)
{
  const char *sub = rq ? rq->subresource : NULL;
  json_t *ospec = json_object_get(old, "spec");
  if (ospec) json_object_set_new(obj, "spec", kj_deep_copy(ospec));
  else json_object_del(obj, "spec");
  json_t *ost = json_object_get(old, "status");
  if (!sub) {
    if (ost) json_object_set_new(obj, "status", kj_deep_copy(ost));
    else json_object_del(obj, "status");
    return;
  }
  if (!strcmp(sub, "approval")) {
    json_t *conds = kj_deep_copy(kj_get(obj, "status.conditions"));
    json_object_set_new(obj, "status", ost ? kj_deep_copy(ost) : json_object());
    if (conds) kj_set(obj, "status.conditions", conds);
    else kj_del(obj, "status.conditions");
  } else if (!strcmp(sub, "status")) {
    preserve_conditions(obj, old, "Approved");
    preserve_conditions(obj, old, "Denied");
  }
  condition_timestamps(obj, old);
}

/* upstream ValidateSignerName. */
void csr_validate_signer_name(const char *signer, const char *field, json_t *causes)
{
  if (!signer || !*signer) {
    reg_cause_add(causes, REG_REQUIRED, field, "Required value");
    return;
  }
  const char *slash = strchr(signer, '/');
  if (!slash || strchr(slash + 1, '/')) {
    reg_cause_invalid_str(causes, field, signer,
                          "must be a fully qualified domain and path of the form 'example.com/signer-name'");
    return;
  }
  char *domain = strndup(signer, (size_t)(slash - signer));
  const char *path = slash + 1;
  char msg[512], detail[700];
  if (strlen(domain) > DNS1123_SUBDOMAIN_MAX)
    reg_cause_add(causes, REG_TOO_LONG, field, "Too long: may not be more than %d bytes", DNS1123_SUBDOMAIN_MAX);
  int labels = 0;
  char *save = NULL, *copy = strdup(domain);
  for (char *l = strtok_r(copy, ".", &save); l || labels == 0; l = strtok_r(NULL, ".", &save)) {
    labels++;
    if (!names_is_dns1123_label(l ? l : "", msg, sizeof msg)) {
      snprintf(detail, sizeof detail, "validating label \"%s\": %s", l ? l : "", msg);
      reg_cause_invalid_str(causes, field, domain, detail);
      break;
    }
    if (!l) break;
  }
  free(copy);
  /* strtok skips empty labels; Go's Split keeps them, so count dots */
  size_t dots = 0;
  for (const char *p = domain; *p; p++) dots += *p == '.';
  if (dots < 1)
    reg_cause_invalid_str(causes, field, domain, "should be a domain with at least two segments separated by dots");
  copy = strdup(path);
  char *p = copy;
  for (;;) {
    char *dot = strchr(p, '.');
    if (dot) *dot = 0;
    if (!names_is_dns1123_subdomain(p, msg, sizeof msg)) {
      snprintf(detail, sizeof detail, "validating label \"%s\": %s", p, msg);
      reg_cause_invalid_str(causes, field, path, detail);
      break;
    }
    if (!dot) break;
    p = dot + 1;
  }
  free(copy);
  size_t max = DNS1123_SUBDOMAIN_MAX + (DNS1123_SUBDOMAIN_MAX + DNS1123_LABEL_MAX + 1) + 1;
  if (strlen(signer) > max) reg_cause_add(causes, REG_TOO_LONG, field, "Too long: may not be more than %zu bytes", max);
  free(domain);
}

static bool in_list(const char *s, const char *const *list)
{
  for (; *list; list++)
    if (!strcmp(s, *list)) return true;
  return false;
}

static void validate_usages(const json_t *usages, json_t *causes)
{
  if (json_array_size(usages) == 0) {
    reg_cause_add(causes, REG_REQUIRED, "spec.usages", "Required value");
    return;
  }
  size_t i;
  json_t *u;
  char field[64];
  json_array_foreach (usages, i, u) {
    const char *s = json_is_string(u) ? json_string_value(u) : "";
    snprintf(field, sizeof field, "spec.usages[%zu]", i);
    if (!in_list(s, valid_usages)) reg_cause_not_supported(causes, field, s, valid_usages);
    for (size_t j = 0; j < i; j++)
      if (json_equal(json_array_get(usages, j), u)) {
        char *gv = reg_go_value(u);
        reg_cause_add(causes, REG_DUPLICATE, field, "Duplicate value: %s", gv ? gv : "");
        free(gv);
        break;
      }
  }
}

static bool has_both_approved_denied(const json_t *obj)
{
  return obj && count_conditions(obj, "Approved") && count_conditions(obj, "Denied");
}

static bool has_duplicate_types(const json_t *obj)
{
  json_t *c = kj_get(obj, "status.conditions");
  for (size_t i = 0; i < json_array_size(c); i++)
    for (size_t j = 0; j < i; j++)
      if (json_equal(kj_get(json_array_get(c, i), "type"), kj_get(json_array_get(c, j), "type"))) return true;
  return false;
}

static void validate_conditions(const json_t *obj, const json_t *old, json_t *causes)
{
  bool allow_both = has_both_approved_denied(old), allow_dup = old && has_duplicate_types(old);
  bool allow_empty = old && count_conditions(old, "") > 0;
  static const char *const true_only[] = {"True", NULL};
  static const char *const all_status[] = {"False", "True", "Unknown", NULL};
  bool approved = false, denied = false;
  size_t i;
  json_t *c;
  char field[96];
  json_array_foreach (kj_get(obj, "status.conditions"), i, c) {
    const char *t = reg_str_or(kj_get_str(c, "type"), ""), *s = reg_str_or(kj_get_str(c, "status"), "");
    snprintf(field, sizeof field, "status.conditions[%zu].type", i);
    if (!*t && !allow_empty) reg_cause_add(causes, REG_REQUIRED, field, "Required value");
    bool only_true = !strcmp(t, "Approved") || !strcmp(t, "Denied") || !strcmp(t, "Failed");
    snprintf(field, sizeof field, "status.conditions[%zu].status", i);
    if (!*s) reg_cause_add(causes, REG_REQUIRED, field, "Required value");
    else if (!in_list(s, only_true ? true_only : all_status))
      reg_cause_not_supported(causes, field, s, only_true ? true_only : all_status);
    snprintf(field, sizeof field, "status.conditions[%zu].type", i);
    if (!allow_both) {
      bool is_approved = !strcmp(t, "Approved"), is_denied = !strcmp(t, "Denied");
      /* reported on the second of the two, as upstream walks them in order */
      if ((is_approved && denied) || (is_denied && approved))
        reg_cause_invalid_str(causes, field, t, "Approved and Denied conditions are mutually exclusive");
      approved |= is_approved;
      denied |= is_denied;
    }
    if (!allow_dup)
      for (size_t j = 0; j < i; j++)
        if (!strcmp(reg_str_or(kj_get_str(json_array_get(kj_get(obj, "status.conditions"), j), "type"), ""), t)) {
          reg_cause_add(causes, REG_DUPLICATE, field, "Duplicate value: \"%s\"", t);
          break;
        }
  }
}

static void validate_spec(const json_t *obj, const json_t *old, json_t *causes)
{
  char err[256];
  if (check_request(obj, err, sizeof err) != 0) {
    size_t len;
    unsigned char *raw = field_bytes(obj, "spec.request", &len);
    char *gv = go_bytes(raw, raw ? len : 0);
    reg_cause_add(causes, REG_INVALID, "spec.request", "Invalid value: %s: %s", gv ? gv : "", err);
    free(gv);
    free(raw);
  }
  json_t *usages = kj_get(obj, "spec.usages");
  bool old_unknown = false;
  size_t i;
  json_t *u;
  json_array_foreach (old ? kj_get(old, "spec.usages") : NULL, i, u)
    if (!json_is_string(u) || !in_list(json_string_value(u), valid_usages)) old_unknown = true;
  if (!old_unknown) validate_usages(usages, causes);
  else if (json_array_size(usages) == 0) reg_cause_add(causes, REG_REQUIRED, "spec.usages", "Required value");
  const char *signer = kj_get_str(obj, "spec.signerName");
  const char *old_signer = old ? kj_get_str(old, "spec.signerName") : NULL;
  if (signer && !strcmp(signer, CSR_LEGACY_SIGNER) && !(old_signer && !strcmp(old_signer, CSR_LEGACY_SIGNER)))
    reg_cause_invalid_str(causes, "spec.signerName", signer,
                          "the legacy signerName is not allowed via this API version");
  else if (!(signer && !strcmp(signer, CSR_LEGACY_SIGNER))) csr_validate_signer_name(signer, "spec.signerName", causes);
  json_t *exp = kj_get(obj, "spec.expirationSeconds");
  if (json_is_integer(exp) && json_integer_value(exp) < CSR_MIN_EXPIRATION_S)
    reg_cause_invalid(causes, "spec.expirationSeconds", exp,
                      "may not specify a duration less than 600 seconds (10 minutes)");
}

static void validate_certificate(const json_t *obj, const json_t *old, json_t *causes)
{
  const char *cert = kj_get_str(obj, "status.certificate");
  const char *ocert = old ? kj_get_str(old, "status.certificate") : NULL;
  if (old && !strcmp(reg_str_or(cert, ""), reg_str_or(ocert, ""))) return; /* untouched: tolerated */
  size_t len, olen;
  unsigned char *pem = field_bytes(obj, "status.certificate", &len);
  char err[256];
  if (old) {
    unsigned char *opem = field_bytes(old, "status.certificate", &olen);
    bool old_bad = csr_check_certificate(opem, opem ? olen : 0, err, sizeof err) != 0;
    free(opem);
    if (old_bad) {
      free(pem);
      return;
    }
  }
  if ((cert && *cert && !pem) || csr_check_certificate(pem, pem ? len : 0, err, sizeof err) != 0) {
    if (cert && *cert && !pem) snprintf(err, sizeof err, "must contain at least one CERTIFICATE PEM block");
    reg_cause_add(causes, REG_INVALID, "status.certificate", "Invalid value: \"<certificate data>\": %s", err);
  }
  free(pem);
}

static void validate_update_rules(struct reg_request *rq, const json_t *obj, const json_t *old, json_t *causes)
{
  const char *sub = rq ? rq->subresource : NULL;
  static const char *const kept[] = {"Approved", "Denied", "Failed", NULL};
  for (const char *const *t = kept; *t; t++)
    if (count_conditions(obj, *t) < count_conditions(old, *t))
      reg_cause_add(causes, REG_FORBIDDEN, "status.conditions",
                    "Forbidden: updates may not remove a condition of type \"%s\"", *t);
  if (!(sub && !strcmp(sub, "approval"))) {
    for (const char *const *t = kept; *t && strcmp(*t, "Failed"); t++) {
      size_t n = count_conditions(obj, *t), o = count_conditions(old, *t);
      if (n > o)
        reg_cause_add(causes, REG_FORBIDDEN, "status.conditions",
                      "Forbidden: updates may not add a condition of type \"%s\"", *t);
      else if (n == o) {
        json_t *a = find_conditions(obj, *t), *b = find_conditions(old, *t);
        if (!json_equal(a, b))
          reg_cause_add(causes, REG_FORBIDDEN, "status.conditions",
                        "Forbidden: updates may not modify a condition of type \"%s\"", *t);
        json_decref(a);
        json_decref(b);
      }
    }
  }
  const char *cert = reg_str_or(kj_get_str(obj, "status.certificate"), "");
  const char *ocert = reg_str_or(kj_get_str(old, "status.certificate"), "");
  if (strcmp(cert, ocert) != 0) {
    if (!(sub && !strcmp(sub, "status")))
      reg_cause_add(causes, REG_FORBIDDEN, "status.certificate", "Forbidden: updates may not set certificate content");
    else if (*ocert)
      reg_cause_add(causes, REG_FORBIDDEN, "status.certificate",
                    "Forbidden: updates may not modify existing certificate content");
  }
}

static bool any_name(const char *s, char *msg, size_t len)
{
  (void)s;
  (void)msg;
  (void)len;
  return true; /* upstream: "We don't care what you call your certificate requests." */
}

void csr_validate(struct reg_request *rq, const json_t *obj, const json_t *old, json_t *causes)
{
  reg_validate_object_meta_fn(obj, false, any_name, causes);
  validate_spec(obj, old, causes);
  validate_conditions(obj, old, causes);
  validate_certificate(obj, old, causes);
  if (old) {
    validate_update_rules(rq, obj, old, causes);
    reg_validate_object_meta_update(obj, old, causes);
  }
}

/* ---- admission ---- */

/* The authorizer allows verb on signers NAME, or on its domain followed by "/" and a star (upstream
 * certificates.IsAuthorizedForSignerName). */
static bool signer_authorized(struct reg_request *rq, const char *verb, const char *signer)
{
  struct authz_attrs a = {.user = rq->auth,
                          .verb = verb,
                          .resource_request = true,
                          .api_group = CSR_GROUP,
                          .api_version = "*",
                          .resource = "signers",
                          .subresource = "",
                          .ns = "",
                          .name = signer};
  char reason[512] = "";
  if (authz_decide(rq->srv, &a, reason, sizeof reason) == AUTHZ_ALLOW) return true;
  const char *slash = strchr(signer, '/');
  if (!slash) return false;
  char wild[600];
  snprintf(wild, sizeof wild, "%.*s/*", (int)(slash - signer), signer);
  a.name = wild;
  return authz_decide(rq->srv, &a, reason, sizeof reason) == AUTHZ_ALLOW;
}

static json_t *forbidden(const json_t *obj, const char *fmt, const char *arg)
{
  const char *name = reg_str_or(kj_get_str(obj, "metadata.name"), "");
  char msg[700];
  snprintf(msg, sizeof msg, fmt, arg);
  json_t *st = kstatus_new(403, "Forbidden", "%s.%s \"%s\" is forbidden: %s", CSR_RESOURCE, CSR_GROUP, name, msg);
  kstatus_set_details(st, name, CSR_GROUP, CSR_RESOURCE);
  return st;
}

static json_t *csr_admit(struct reg_request *rq, json_t *obj, const json_t *old)
{
  const char *signer = reg_str_or(kj_get_str(obj, "spec.signerName"), "");
  const char *sub = rq ? rq->subresource : NULL;
  if (!old) {
    /* CertificateSubjectRestriction, on every port */
    if (!strcmp(signer, CSR_CLIENT_SIGNER) && csr_request_has_org(obj, "system:masters"))
      return forbidden(obj, "use of %s signer with system:masters group is not allowed", signer);
    return NULL;
  }
  if (!rq->auth || !rq->srv || !sub) return NULL;
  if (!strcmp(sub, "approval") && !signer_authorized(rq, "approve", signer))
    return forbidden(obj, "user not permitted to approve requests with signerName \"%s\"", signer);
  if (!strcmp(sub, "status") &&
      !json_equal(kj_get(obj, "status.certificate") ? kj_get(obj, "status.certificate") : json_null(),
                  kj_get(old, "status.certificate") ? kj_get(old, "status.certificate") : json_null()) &&
      !signer_authorized(rq, "sign", signer))
    return forbidden(obj, "user not permitted to sign requests with signerName \"%s\"", signer);
  return NULL;
}

/* ---- table ---- */

const char *csr_condition_summary(const json_t *obj, char *buf, size_t len)
{
  bool approved = count_conditions(obj, "Approved"), denied = count_conditions(obj, "Denied");
  bool failed = count_conditions(obj, "Failed");
  const char *cert = kj_get_str(obj, "status.certificate");
  snprintf(buf, len, "%s%s%s",
           denied     ? "Denied"
           : approved ? "Approved"
                      : "Pending",
           failed ? ",Failed" : "", cert && *cert ? ",Issued" : "");
  return buf;
}

static json_t *csr_cells(const json_t *obj)
{
  json_t *row = reg_row(obj);
  json_array_append_new(row, reg_age_cell(obj));
  reg_cell_str(row, reg_str_or(kj_get_str(obj, "spec.signerName"), "<none>"));
  reg_cell_str(row, kj_get_str(obj, "spec.username"));
  json_t *exp = kj_get(obj, "spec.expirationSeconds");
  char dur[64] = "<none>";
  if (json_is_integer(exp)) ext_duration(json_integer_value(exp), dur, sizeof dur);
  reg_cell_str(row, dur);
  char cond[64];
  reg_cell_str(row, csr_condition_summary(obj, cond, sizeof cond));
  return row;
}

static const struct reg_column csr_columns[] = {
    {"Name", "string", "name", 0, EXT_DESC_NAME},
    {"Age", "date", "", 0, EXT_DESC_AGE},
    {"SignerName", "string", "", 0, "Name of the signer the request is for."},
    {"Requestor", "string", "", 0, "Name of the user who made the request."},
    {"RequestedDuration", "string", "", 0, "The requested duration of the issued certificate."},
    {"Condition", "string", "", 0, "The status of the request: Pending, Approved, Denied; Failed, Issued."},
    {NULL},
};

static const char *csr_field_value(const json_t *obj, const char *field, char *buf, size_t len)
{
  (void)buf;
  (void)len;
  if (!strcmp(field, "spec.signerName")) return reg_str_or(kj_get_str(obj, "spec.signerName"), "");
  return NULL;
}

static const char *const csr_field_selectors[] = {"spec.signerName", NULL};

const struct resource reg_certificatesigningrequests = {
    .group = CSR_GROUP,
    .version = "v1",
    .plural = CSR_RESOURCE,
    .singular = "certificatesigningrequest",
    .kind = "CertificateSigningRequest",
    .namespaced = false,
    .short_names = {"csr", NULL},
    .subresources = RES_SUB_STATUS | RES_SUB_APPROVAL,
    .storage_prefix = "/registry/certificatesigningrequests",
    .field_selectors = csr_field_selectors,
    .defaults = csr_defaults,
    .prepare_create = csr_prepare_create,
    .prepare_update = csr_prepare_update,
    .admit = csr_admit,
    .validate = csr_validate,
    .field_value = csr_field_value,
    .columns = csr_columns,
    .cells = csr_cells,
};
