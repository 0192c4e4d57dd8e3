/* Tests for the CSR controllers (controller-manager/controllers/
 * certificates.c, csrsigning.c, csrapproving.c, csrcleaner.c): the local
 * signer (subject, SANs, usages, validity, CA cut-off), what the signer
 * writes for each state and signer (certificate, SignerValidationFailure,
 * nothing), the kubelet client and serving rules, which CSRs the
 * approver recognizes and what it sends, and the cleaner's deadlines.
 * Keys, CAs and requests are made here with OpenSSL (EC P-256). */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "controllers/certificates.h"
#include "controllers/csrapproving.h"
#include "controllers/csrcleaner.h"
#include "controllers/csrsigning.h"
#include "kube/base64.h"
#include "kube/json.h"
#include "kube/timeutil.h"

#define NOW ((time_t)1800000000) /* 2027-01-15 */

static json_t *J(const char *s)
{
  char *d = strdup(s);
  for (char *p = d; *p; p++)
    if (*p == '\'') *p = '"';
  json_error_t err;
  json_t *v = json_loads(d, JSON_DECODE_ANY, &err);
  if (!v) fail_msg("bad test JSON: %s: %s", err.text, d);
  free(d);
  return v;
}

/* A CA valid from NOW - 1 day for `days` days. */
static void make_ca(struct certs_ca *ca, int days)
{
  ca->key = EVP_EC_gen("P-256");
  ca->cert = X509_new();
  X509_set_version(ca->cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(ca->cert), 1);
  X509_NAME *n = X509_get_subject_name(ca->cert);
  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"test-ca", -1, -1, 0);
  X509_set_issuer_name(ca->cert, n);
  ASN1_TIME_set(X509_getm_notBefore(ca->cert), NOW - 86400);
  ASN1_TIME_set(X509_getm_notAfter(ca->cert), NOW - 86400 + (time_t)days * 86400);
  X509_set_pubkey(ca->cert, ca->key);
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, ca->cert, ca->cert, NULL, NULL, 0);
  X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_key_identifier, "hash");
  X509_add_ext(ca->cert, e, -1);
  X509_EXTENSION_free(e);
  X509_sign(ca->cert, ca->key, EVP_sha256());
}

/* base64 of a PEM CSR: subject "CN=..;O=.." pieces, optional SANs
 * ("DNS:a,IP:1.2.3.4"). */
static char *make_req(const char *cn, const char *org, const char *sans)
{
  EVP_PKEY *key = EVP_EC_gen("P-256");
  X509_REQ *req = X509_REQ_new();
  X509_NAME *n = X509_NAME_new();
  if (org) X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)org, -1, -1, 0);
  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
  X509_REQ_set_subject_name(req, n);
  X509_REQ_set_pubkey(req, key);
  if (sans) {
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    sk_X509_EXTENSION_push(exts, X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, sans));
    X509_REQ_add_extensions(req, exts);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  }
  X509_REQ_sign(req, key, EVP_sha256());
  BIO *bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509_REQ(bio, req);
  char *data;
  long len = BIO_get_mem_data(bio, &data);
  char *b64 = kb64_encode(data, (size_t)len, KB64_STD);
  BIO_free(bio);
  X509_NAME_free(n);
  X509_REQ_free(req);
  EVP_PKEY_free(key);
  return b64;
}

static json_t *csr(const char *req, const char *signer, const char *usages, const char *status)
{
  char buf[2048];
  snprintf(buf, sizeof buf,
           "{'metadata':{'name':'c1','uid':'u1','creationTimestamp':'2027-01-15T08:00:00Z'},'spec':{'signerName':'%s',"
           "'usages':%s,'username':'system:bootstrap:abc','groups':['system:bootstrappers','system:authenticated']},"
           "'status':%s}",
           signer, usages, status);
  json_t *o = J(buf);
  kj_set_str(o, "spec.request", req);
  return o;
}

#define APPROVED "{'conditions':[{'type':'Approved','status':'True'}]}"
#define NODE_USAGES "['digital signature','key encipherment','client auth']"

static X509 *cert_of(const char *b64)
{
  unsigned char *pem = NULL;
  size_t len = 0, bad = 0;
  assert_int_equal(kb64_decode(b64, strlen(b64), KB64_STD, &pem, &len, &bad), 0);
  BIO *bio = BIO_new_mem_buf(pem, (int)len);
  X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
  BIO_free(bio);
  free(pem);
  assert_non_null(x);
  return x;
}

static time_t asn1_time(const ASN1_TIME *t)
{
  struct tm tm;
  assert_int_equal(ASN1_TIME_to_tm(t, &tm), 1);
  return timegm(&tm);
}

/* Runs csrsign_compute; the single status PUT's body (new ref) or NULL. */
static json_t *sign_once(const struct certs_ca *ca, const json_t *c, int64_t max_s)
{
  struct cm_actions acts;
  cm_actions_init(&acts);
  char err[512];
  assert_int_equal(csrsign_compute(c, ca, max_s, NOW, &acts, err, sizeof err), 0);
  json_t *body = NULL;
  if (acts.n) {
    assert_int_equal(acts.n, 1);
    assert_int_equal(acts.v[0].verb, CM_PUT);
    assert_string_equal(acts.v[0].path, "/apis/certificates.k8s.io/v1/certificatesigningrequests/c1/status");
    body = json_incref(acts.v[0].body);
  }
  cm_actions_clear(&acts);
  return body;
}

static void test_sign_client(void **state)
{
  (void)state;
  struct certs_ca ca;
  make_ca(&ca, 365);
  char *req = make_req("alice", "devs", NULL);
  json_t *c = csr(req, SIGNER_CLIENT, "['client auth','digital signature']", APPROVED);
  kj_set_int(c, "spec.expirationSeconds", 3600);
  json_t *put = sign_once(&ca, c, 8760LL * 3600);
  assert_non_null(put);
  X509 *x = cert_of(kj_get_str(put, "status.certificate"));
  assert_int_equal(X509_verify(x, ca.key), 1);
  char cn[64];
  X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn);
  assert_string_equal(cn, "alice");
  X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_organizationName, cn, sizeof cn);
  assert_string_equal(cn, "devs");
  /* short: NotBefore backdated 5 minutes, NotAfter now + ttl */
  assert_int_equal(asn1_time(X509_get0_notBefore(x)), NOW - 300);
  assert_int_equal(asn1_time(X509_get0_notAfter(x)), NOW + 3600);
  assert_int_equal(X509_get_extended_key_usage(x), XKU_SSL_CLIENT);
  assert_true(X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE);
  assert_false(X509_get_key_usage(x) & KU_KEY_ENCIPHERMENT);
  assert_int_equal(X509_check_ca(x), 0);
  X509_free(x);
  json_decref(put);
  /* long: the signing duration, NotAfter also backdated */
  json_object_del(json_object_get(c, "spec"), "expirationSeconds");
  put = sign_once(&ca, c, 10 * 86400);
  x = cert_of(kj_get_str(put, "status.certificate"));
  assert_int_equal(asn1_time(X509_get0_notAfter(x)), NOW + 10 * 86400 - 300);
  X509_free(x);
  json_decref(put);
  json_decref(c);
  free(req);
  certs_ca_free(&ca);
}

static void test_sign_cut_at_ca_end(void **state)
{
  (void)state;
  struct certs_ca ca;
  make_ca(&ca, 3); /* ends NOW + 2 days */
  char *req = make_req("alice", NULL, NULL);
  json_t *c = csr(req, SIGNER_CLIENT, "['client auth']", APPROVED);
  json_t *put = sign_once(&ca, c, 8760LL * 3600);
  X509 *x = cert_of(kj_get_str(put, "status.certificate"));
  assert_int_equal(asn1_time(X509_get0_notAfter(x)), NOW + 2 * 86400);
  X509_free(x);
  json_decref(put);
  json_decref(c);
  free(req);
  certs_ca_free(&ca);
}

static void test_sign_serving_sans(void **state)
{
  (void)state;
  struct certs_ca ca;
  make_ca(&ca, 365);
  char *req = make_req("system:node:n1", "system:nodes", "DNS:n1.example.com,IP:10.0.0.5");
  json_t *c = csr(req, SIGNER_KUBELET_SERVING, "['digital signature','key encipherment','server auth']", APPROVED);
  json_t *put = sign_once(&ca, c, 86400);
  X509 *x = cert_of(kj_get_str(put, "status.certificate"));
  assert_int_equal(X509_check_host(x, "n1.example.com", 0, 0, NULL), 1);
  assert_int_equal(X509_check_ip_asc(x, "10.0.0.5", 0), 1);
  assert_int_equal(X509_get_extended_key_usage(x), XKU_SSL_SERVER);
  X509_free(x);
  json_decref(put);
  json_decref(c);
  free(req);
  certs_ca_free(&ca);
}

static void test_sign_nothing_to_do(void **state)
{
  (void)state;
  struct certs_ca ca;
  make_ca(&ca, 365);
  char *req = make_req("alice", NULL, NULL);
  static const struct {
    const char *signer, *status;
  } cases[] = {
      {SIGNER_CLIENT, "{}"},                                                 /* pending */
      {SIGNER_CLIENT, "{'conditions':[{'type':'Denied','status':'True'}]}"}, /* denied */
      {SIGNER_CLIENT, "{'conditions':[{'type':'Approved','status':'True'},{'type':'Failed','status':'True'}]}"},
      {SIGNER_CLIENT, "{'conditions':[{'type':'Approved','status':'True'}],'certificate':'eA=='}"}, /* issued */
      {SIGNER_LEGACY, APPROVED},                                                                    /* not ours */
      {"example.com/other", APPROVED},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    json_t *c = csr(req, cases[i].signer, "['client auth']", cases[i].status);
    json_t *put = sign_once(&ca, c, 86400);
    if (put) fail_msg("case %zu: wrote a status", i);
    json_decref(c);
  }
  free(req);
  certs_ca_free(&ca);
}

/* The Failed condition the signer writes for a request breaking its
 * signer's rules. */
static void expect_failed(const struct certs_ca *ca, const char *cn, const char *org, const char *sans,
                          const char *signer, const char *usages, const char *msg)
{
  char *req = make_req(cn, org, sans);
  json_t *c = csr(req, signer, usages, APPROVED);
  json_t *put = sign_once(ca, c, 86400);
  assert_non_null(put);
  assert_null(kj_get(put, "status.certificate"));
  json_t *f = json_array_get(kj_get(put, "status.conditions"), 1);
  assert_string_equal(kj_get_str(f, "type"), "Failed");
  assert_string_equal(kj_get_str(f, "status"), "True");
  assert_string_equal(kj_get_str(f, "reason"), "SignerValidationFailure");
  if (strcmp(kj_get_str(f, "message"), msg)) fail_msg("got %s want %s", kj_get_str(f, "message"), msg);
  assert_non_null(kj_get_str(f, "lastUpdateTime"));
  json_decref(put);
  json_decref(c);
  free(req);
}

static void test_signer_rules(void **state)
{
  (void)state;
  struct certs_ca ca;
  make_ca(&ca, 365);
  expect_failed(&ca, "alice", NULL, NULL, SIGNER_CLIENT, "['server auth','client auth']",
                "invalid usage for client certificate: server auth");
  expect_failed(&ca, "alice", NULL, NULL, SIGNER_CLIENT, "['digital signature']",
                "missing required usage for client certificate: client auth");
  expect_failed(&ca, "system:node:n1", "devs", NULL, SIGNER_KUBELET_CLIENT, NODE_USAGES,
                "subject organization is not system:nodes");
  expect_failed(&ca, "n1", "system:nodes", NULL, SIGNER_KUBELET_CLIENT, NODE_USAGES,
                "subject common name does not begin with system:node:");
  expect_failed(&ca, "system:node:n1", "system:nodes", "DNS:n1", SIGNER_KUBELET_CLIENT, NODE_USAGES,
                "DNS subjectAltNames are not allowed");
  expect_failed(&ca, "system:node:n1", "system:nodes", NULL, SIGNER_KUBELET_CLIENT, "['client auth','server auth']",
                "usages did not match [client auth digital signature key encipherment]");
  expect_failed(&ca, "system:node:n1", "system:nodes", NULL, SIGNER_KUBELET_SERVING,
                "['digital signature','server auth']", "DNS or IP subjectAltName is required");
  expect_failed(&ca, "system:node:n1", "system:nodes", "email:a@b.c,DNS:n1", SIGNER_KUBELET_SERVING,
                "['digital signature','server auth']", "Email subjectAltNames are not allowed");
  expect_failed(&ca, "n1", "system:nodes", "DNS:n1", SIGNER_KUBELET_SERVING, "['digital signature','server auth']",
                "subject common name does not begin with system:node:");
  /* the no-RSA usage sets pass */
  char *req = make_req("system:node:n1", "system:nodes", NULL);
  json_t *c = csr(req, SIGNER_KUBELET_CLIENT, "['digital signature','client auth']", APPROVED);
  json_t *put = sign_once(&ca, c, 86400);
  assert_non_null(kj_get_str(put, "status.certificate"));
  json_decref(put);
  json_decref(c);
  free(req);
  certs_ca_free(&ca);
}

static void test_approver_recognizes(void **state)
{
  (void)state;
  char *req = make_req("system:node:n1", "system:nodes", NULL);
  const char *perms[2];
  json_t *c = csr(req, SIGNER_KUBELET_CLIENT, NODE_USAGES, "{}");
  assert_int_equal(csrapprove_recognize(c, perms), 1);
  assert_string_equal(perms[0], "nodeclient");
  /* the node itself: selfnodeclient first */
  kj_set_str(c, "spec.username", "system:node:n1");
  assert_int_equal(csrapprove_recognize(c, perms), 2);
  assert_string_equal(perms[0], "selfnodeclient");
  assert_string_equal(perms[1], "nodeclient");
  /* already decided or issued: nothing */
  json_object_set_new(c, "status", J(APPROVED));
  assert_int_equal(csrapprove_recognize(c, perms), 0);
  json_object_set_new(c, "status", J("{'conditions':[{'type':'Denied','status':'True'}]}"));
  assert_int_equal(csrapprove_recognize(c, perms), 0);
  json_decref(c);
  /* other signers, other subjects, other usages: nothing */
  c = csr(req, SIGNER_CLIENT, NODE_USAGES, "{}");
  assert_int_equal(csrapprove_recognize(c, perms), 0);
  json_decref(c);
  c = csr(req, SIGNER_KUBELET_CLIENT, "['client auth','server auth']", "{}");
  assert_int_equal(csrapprove_recognize(c, perms), 0);
  json_decref(c);
  free(req);
  req = make_req("alice", "system:nodes", NULL);
  c = csr(req, SIGNER_KUBELET_CLIENT, NODE_USAGES, "{}");
  assert_int_equal(csrapprove_recognize(c, perms), 0);
  json_decref(c);
  free(req);
}

static void test_approver_bodies(void **state)
{
  (void)state;
  char *req = make_req("system:node:n1", "system:nodes", NULL);
  json_t *c = csr(req, SIGNER_KUBELET_CLIENT, NODE_USAGES, "{}");
  kj_set(c, "spec.extra", J("{'k':['v']}"));
  json_t *sar = csrapprove_sar(c, "nodeclient");
  json_t *want = J("{'apiVersion':'authorization.k8s.io/v1','kind':'SubjectAccessReview','spec':{"
                   "'user':'system:bootstrap:abc','groups':['system:bootstrappers','system:authenticated'],"
                   "'extra':{'k':['v']},'resourceAttributes':{'group':'certificates.k8s.io','version':'*',"
                   "'resource':'certificatesigningrequests','verb':'create','subresource':'nodeclient'}}}");
  if (!json_equal(sar, want)) fail_msg("sar: %s", kj_dumps(sar));
  json_decref(want);
  json_decref(sar);
  json_t *ap = csrapprove_approved(c, "selfnodeclient");
  want = J("[{'type':'Approved','status':'True','reason':'AutoApproved',"
           "'message':'Auto approving self kubelet client certificate after SubjectAccessReview.'}]");
  assert_true(json_equal(kj_get(ap, "status.conditions"), want));
  assert_string_equal(kj_get_str(ap, "kind"), "CertificateSigningRequest");
  json_decref(want);
  json_decref(ap);
  ap = csrapprove_approved(c, "nodeclient");
  assert_string_equal(kj_get_str(json_array_get(kj_get(ap, "status.conditions"), 0), "message"),
                      "Auto approving kubelet client certificate after SubjectAccessReview.");
  json_decref(ap);
  json_decref(c);
  free(req);
}

static void test_cleaner(void **state)
{
  (void)state;
  struct certs_ca ca;
  make_ca(&ca, 365);
  char *req = make_req("alice", NULL, NULL);
  char ts_recent[64], ts_old[64], ts_day[64];
  ktime_format(NOW - 600, ts_recent);
  ktime_format(NOW - 3601, ts_old);
  ktime_format(NOW - 86401, ts_day);
  char buf[512];
  /* pending: a day after creation */
  json_t *c = csr(req, SIGNER_CLIENT, "['client auth']", "{}");
  kj_set_str(c, "metadata.creationTimestamp", ts_old);
  int64_t next = 0;
  assert_false(csrclean_due(c, NOW, &next));
  assert_int_equal(next, CSRCLEAN_POLL_S);
  kj_set_str(c, "metadata.creationTimestamp", ts_day);
  assert_true(csrclean_due(c, NOW, NULL));
  /* denied and failed: an hour after */
  snprintf(buf, sizeof buf, "{'conditions':[{'type':'Denied','status':'True','lastUpdateTime':'%s'}]}", ts_recent);
  json_object_set_new(c, "status", J(buf));
  assert_false(csrclean_due(c, NOW, &next));
  assert_int_equal(next, 3000);
  snprintf(buf, sizeof buf, "{'conditions':[{'type':'Failed','status':'True','lastUpdateTime':'%s'}]}", ts_old);
  json_object_set_new(c, "status", J(buf));
  assert_true(csrclean_due(c, NOW, NULL));
  /* approved but not issued: kept */
  snprintf(buf, sizeof buf, "{'conditions':[{'type':'Approved','status':'True','lastUpdateTime':'%s'}]}", ts_day);
  json_object_set_new(c, "status", J(buf));
  assert_false(csrclean_due(c, NOW, NULL));
  /* issued: an hour after approval */
  json_t *put = sign_once(&ca, c, 600);
  assert_true(csrclean_due(put, NOW, NULL));
  snprintf(buf, sizeof buf, "{'type':'Approved','status':'True','lastUpdateTime':'%s'}", ts_recent);
  json_array_set_new(kj_get(put, "status.conditions"), 0, J(buf));
  assert_false(csrclean_due(put, NOW, NULL));
  /* ... or once its certificate expired (signed for 10 minutes) */
  assert_false(csrclean_due(put, NOW + 599, NULL));
  assert_true(csrclean_due(put, NOW + 601, NULL));
  json_decref(put);
  json_decref(c);
  free(req);
  certs_ca_free(&ca);
}

static void test_duration(void **state)
{
  (void)state;
  json_t *c = J("{'spec':{'expirationSeconds':600}}");
  assert_int_equal(certs_duration_s(c, 86400), 600);
  kj_set_int(c, "spec.expirationSeconds", 100000);
  assert_int_equal(certs_duration_s(c, 86400), 86400);
  json_decref(c);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sign_client),       cmocka_unit_test(test_sign_cut_at_ca_end),
      cmocka_unit_test(test_sign_serving_sans), cmocka_unit_test(test_sign_nothing_to_do),
      cmocka_unit_test(test_signer_rules),      cmocka_unit_test(test_approver_recognizes),
      cmocka_unit_test(test_approver_bodies),   cmocka_unit_test(test_cleaner),
      cmocka_unit_test(test_duration),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
