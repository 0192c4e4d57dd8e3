/* Tests for the CertificateSigningRequest strategy
 * (apiserver/registry/certificatesigningrequests.c): validation of the
 * request, usages, signerName, expirationSeconds, conditions and
 * certificate with upstream's messages; the requestor set by the server;
 * what each write path (main, status, approval) may change; the
 * Condition column.  CSRs are made here with OpenSSL (EC P-256 keys). */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <kube/base64.h>
#include <kube/json.h>

#include "apiserver.h"
#include "auth/auth.h"
#include "registry/certificatesigningrequests.h"
#include "registry/kinds_ext.h"

#include "registry_ext_test_util.h"

static const struct resource *R = &reg_certificatesigningrequests;

/* base64 of a PEM CSR with subject CN=cn (and O=org when not NULL);
 * tamper: the subject changes after signing (bad signature). */
static char *make_csr(const char *cn, const char *org, bool tamper)
{
  EVP_PKEY *key = EVP_EC_gen("P-256");
  X509_REQ *req = X509_REQ_new();
  X509_NAME *n = X509_NAME_new();
  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
  if (org) X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)org, -1, -1, 0);
  X509_REQ_set_subject_name(req, n);
  X509_REQ_set_pubkey(req, key);
  X509_REQ_sign(req, key, EVP_sha256());
  if (tamper) {
    X509_NAME_add_entry_by_txt(n, "OU", MBSTRING_ASC, (const unsigned char *)"x", -1, -1, 0);
    X509_REQ_set_subject_name(req, n);
  }
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

/* A CSR object: request from make_csr, then the given spec fields. */
static json_t *csr_obj(const char *name, const char *request, const char *spec_rest)
{
  char buf[4096];
  snprintf(buf, sizeof buf,
           "{'apiVersion':'certificates.k8s.io/v1','kind':'CertificateSigningRequest',"
           "'metadata':{'name':'%s'},'spec':{%s}}",
           name, spec_rest);
  json_t *o = J(buf);
  kj_set_str(o, "spec.request", request);
  return o;
}

static char *causes_of(const json_t *obj, const json_t *old, const char *sub) { return validate_sub(R, obj, old, sub); }

static char *REQ;

static int setup(void **state)
{
  (void)state;
  REQ = make_csr("alice", "devs", false);
  return 0;
}
static int teardown(void **state)
{
  (void)state;
  free(REQ);
  return 0;
}

#define CLIENT "'signerName':'kubernetes.io/kube-apiserver-client','usages':['client auth']"

static void test_valid_create(void **state)
{
  (void)state;
  json_t *o = csr_obj("alice", REQ, CLIENT ",'expirationSeconds':600");
  char *c = causes_of(o, NULL, NULL);
  assert_string_equal(c, "");
  free(c);
  json_decref(o);
}

static void test_request(void **state)
{
  (void)state;
  json_t *o = csr_obj("a", "LS0tLQ==", CLIENT); /* "----" */
  char *c = causes_of(o, NULL, NULL);
  assert_string_equal(c, "spec.request: Invalid value: []byte{0x2d, 0x2d, 0x2d, 0x2d}: PEM block type must be "
                         "CERTIFICATE REQUEST");
  free(c);
  json_decref(o);
  char *bad = make_csr("alice", NULL, true);
  o = csr_obj("a", bad, CLIENT);
  c = causes_of(o, NULL, NULL);
  assert_non_null(strstr(c, "spec.request: Invalid value: []byte{0x2d"));
  assert_non_null(strstr(c, ": x509: signature verification failure"));
  free(c);
  free(bad);
  json_decref(o);
}

static void test_usages(void **state)
{
  (void)state;
  json_t *o = csr_obj("a", REQ, "'signerName':'example.com/x'");
  char *c = causes_of(o, NULL, NULL);
  assert_string_equal(c, "spec.usages: Required value");
  free(c);
  json_decref(o);
  o = csr_obj("a", REQ, "'signerName':'example.com/x','usages':['client auth','bogus','client auth']");
  c = causes_of(o, NULL, NULL);
  assert_non_null(strstr(c, "spec.usages[1]: Unsupported value: \"bogus\": supported values: \"any\", \"cert sign\""));
  assert_non_null(strstr(c, "spec.usages[2]: Duplicate value: \"client auth\""));
  free(c);
  json_decref(o);
}

static void test_signer_names(void **state)
{
  (void)state;
  static const struct {
    const char *signer, *want;
  } cases[] = {
      {"example.com/my-signer", ""},
      {"example.com/a.b", ""},
      {"", "spec.signerName: Required value"},
      {"example.com", "spec.signerName: Invalid value: \"example.com\": must be a fully qualified domain and path of "
                      "the form 'example.com/signer-name'"},
      {"example.com/a/b", "spec.signerName: Invalid value: \"example.com/a/b\": must be a fully qualified domain and "
                          "path of the form 'example.com/signer-name'"},
      {"example/x", "spec.signerName: Invalid value: \"example\": should be a domain with at least two segments "
                    "separated by dots"},
      {"Example.com/x",
       "spec.signerName: Invalid value: \"Example.com\": validating label \"Example\": a lowercase RFC 1123 label must "
       "consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character "
       "(e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"},
      {"kubernetes.io/legacy-unknown",
       "spec.signerName: Invalid value: \"kubernetes.io/legacy-unknown\": the legacy signerName is not allowed via "
       "this API version"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char spec[256];
    snprintf(spec, sizeof spec, "'signerName':'%s','usages':['client auth']", cases[i].signer);
    json_t *o = csr_obj("a", REQ, spec);
    char *c = causes_of(o, NULL, NULL);
    if (strcmp(c, cases[i].want)) fail_msg("%s: got\n%s\nwant\n%s", cases[i].signer, c, cases[i].want);
    free(c);
    json_decref(o);
  }
}

static void test_expiration(void **state)
{
  (void)state;
  json_t *o = csr_obj("a", REQ, CLIENT ",'expirationSeconds':599");
  char *c = causes_of(o, NULL, NULL);
  assert_string_equal(c, "spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 600 "
                         "seconds (10 minutes)");
  free(c);
  json_decref(o);
}

static void test_requestor_from_user(void **state)
{
  (void)state;
  json_t *o = csr_obj("a", REQ, CLIENT ",'username':'admin','groups':['system:masters'],'uid':'x','extra':{'a':['b']}");
  struct auth_user *u = auth_user_new("system:bootstrap:abcdef");
  auth_user_add_group(u, "system:bootstrappers");
  auth_user_add_group(u, "system:authenticated");
  struct reg_request rq = {.verb = "create", .auth = u};
  kj_set(o, "status", J("{'certificate':'eA==','conditions':[{'type':'Approved','status':'True'}]}"));
  R->prepare_create(&rq, o);
  assert_string_equal(kj_get_str(o, "spec.username"), "system:bootstrap:abcdef");
  assert_null(kj_get(o, "spec.uid"));
  assert_null(kj_get(o, "spec.extra"));
  json_t *want = J("['system:bootstrappers','system:authenticated']");
  assert_true(json_equal(kj_get(o, "spec.groups"), want));
  json_decref(want);
  assert_int_equal(json_object_size(json_object_get(o, "status")), 0);
  auth_user_free(u);
  /* the insecure port: no user */
  struct reg_request rq2 = {.verb = "create"};
  R->prepare_create(&rq2, o);
  assert_string_equal(kj_get_str(o, "spec.username"), "system:unsecured");
  assert_string_equal(json_string_value(json_array_get(kj_get(o, "spec.groups"), 0)), "system:masters");
  json_decref(o);
}

/* old as stored, then obj written through sub; returns the causes. */
static char *update(const json_t *old, json_t *obj, const char *sub)
{
  struct reg_request rq = {.verb = "update", .subresource = sub};
  if (R->defaults) R->defaults(obj);
  R->prepare_update(&rq, obj, old);
  return causes_of(obj, old, sub);
}

static json_t *with_conditions(const json_t *base, const char *conds)
{
  json_t *o = kj_deep_copy(base);
  json_object_set_new(o, "status", json_object());
  kj_set(o, "status.conditions", J(conds));
  return o;
}

static void test_approval(void **state)
{
  (void)state;
  json_t *old = csr_obj("a", REQ, CLIENT ",'username':'u'");
  json_object_set_new(old, "status", json_object());
  /* approving: conditions taken, timestamps filled, spec kept */
  json_t *obj = with_conditions(old, "[{'type':'Approved','reason':'KubectlApprove'}]");
  kj_set_str(obj, "spec.username", "mallory");
  kj_set_str(obj, "status.certificate", "eA==");
  char *c = update(old, obj, "approval");
  assert_string_equal(c, "");
  free(c);
  assert_string_equal(kj_get_str(obj, "spec.username"), "u");
  assert_null(kj_get(obj, "status.certificate"));
  assert_string_equal(kj_get_str(json_array_get(kj_get(obj, "status.conditions"), 0), "status"), "True");
  assert_non_null(kj_get_str(json_array_get(kj_get(obj, "status.conditions"), 0), "lastUpdateTime"));
  assert_non_null(kj_get_str(json_array_get(kj_get(obj, "status.conditions"), 0), "lastTransitionTime"));
  json_t *approved = obj;
  /* Denied next to Approved */
  obj = with_conditions(approved, "[{'type':'Approved','status':'True'},{'type':'Denied','status':'True'}]");
  c = update(approved, obj, "approval");
  assert_string_equal(c, "status.conditions[1].type: Invalid value: \"Denied\": Approved and Denied conditions are "
                         "mutually exclusive");
  free(c);
  json_decref(obj);
  /* Approved removed */
  obj = with_conditions(approved, "[]");
  c = update(approved, obj, "approval");
  assert_string_equal(c, "status.conditions: Forbidden: updates may not remove a condition of type \"Approved\"");
  free(c);
  json_decref(obj);
  /* Approved only True */
  obj = with_conditions(old, "[{'type':'Approved','status':'False'}]");
  c = update(old, obj, "approval");
  assert_string_equal(c, "status.conditions[0].status: Unsupported value: \"False\": supported values: \"True\"");
  free(c);
  json_decref(obj);
  json_decref(approved);
  json_decref(old);
}

static void test_status_and_main(void **state)
{
  (void)state;
  json_t *old = csr_obj("a", REQ, CLIENT);
  json_object_set_new(old, "status", json_object());
  /* the status path cannot approve */
  json_t *obj = with_conditions(old, "[{'type':'Approved','status':'True'}]");
  char *c = update(old, obj, "status");
  assert_string_equal(c, "status.conditions: Forbidden: updates may not add a condition of type \"Approved\"");
  free(c);
  json_decref(obj);
  /* nor set garbage as a certificate */
  obj = kj_deep_copy(old);
  kj_set_str(obj, "status.certificate", "eA==");
  c = update(old, obj, "status");
  assert_string_equal(c, "status.certificate: Invalid value: \"<certificate data>\": must contain at least one "
                         "CERTIFICATE PEM block");
  free(c);
  json_decref(obj);
  /* Failed may be added through status */
  obj = with_conditions(old, "[{'type':'Failed','status':'True','reason':'SignerValidationFailure'}]");
  c = update(old, obj, "status");
  assert_string_equal(c, "");
  free(c);
  json_decref(obj);
  /* the main resource changes neither spec nor status */
  obj = with_conditions(old, "[{'type':'Approved','status':'True'}]");
  kj_set_str(obj, "spec.signerName", "example.com/other");
  kj_set(obj, "metadata.labels", J("{'a':'b'}"));
  c = update(old, obj, NULL);
  assert_string_equal(c, "");
  free(c);
  assert_string_equal(kj_get_str(obj, "spec.signerName"), "kubernetes.io/kube-apiserver-client");
  assert_null(kj_get(obj, "status.conditions"));
  assert_string_equal(kj_get_str(obj, "metadata.labels.a"), "b");
  json_decref(obj);
  json_decref(old);
}

static void test_legacy_signer_kept_on_update(void **state)
{
  (void)state;
  json_t *old = csr_obj("a", REQ, "'signerName':'kubernetes.io/legacy-unknown','usages':['client auth']");
  json_t *obj = kj_deep_copy(old);
  kj_set(obj, "metadata.labels", J("{'a':'b'}"));
  char *c = update(old, obj, NULL);
  assert_string_equal(c, "");
  free(c);
  json_decref(obj);
  json_decref(old);
}

static void test_condition_column(void **state)
{
  (void)state;
  static const struct {
    const char *status, *want;
  } cases[] = {
      {"{}", "Pending"},
      {"{'conditions':[{'type':'Approved','status':'True'}]}", "Approved"},
      {"{'conditions':[{'type':'Approved','status':'True'}],'certificate':'eA=='}", "Approved,Issued"},
      {"{'conditions':[{'type':'Denied','status':'True'}]}", "Denied"},
      {"{'conditions':[{'type':'Approved','status':'True'},{'type':'Failed','status':'True'}]}", "Approved,Failed"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    json_t *o = J("{'metadata':{'name':'a'}}");
    json_object_set_new(o, "status", J(cases[i].status));
    char buf[64];
    assert_string_equal(csr_condition_summary(o, buf, sizeof buf), cases[i].want);
    json_decref(o);
  }
}

static void test_subject_org(void **state)
{
  (void)state;
  char *m = make_csr("root", "system:masters", false);
  json_t *o = csr_obj("a", m, CLIENT);
  assert_true(csr_request_has_org(o, "system:masters"));
  json_decref(o);
  o = csr_obj("a", REQ, CLIENT);
  assert_false(csr_request_has_org(o, "system:masters"));
  assert_true(csr_request_has_org(o, "devs"));
  json_decref(o);
  free(m);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid_create),
      cmocka_unit_test(test_request),
      cmocka_unit_test(test_usages),
      cmocka_unit_test(test_signer_names),
      cmocka_unit_test(test_expiration),
      cmocka_unit_test(test_requestor_from_user),
      cmocka_unit_test(test_approval),
      cmocka_unit_test(test_status_and_main),
      cmocka_unit_test(test_legacy_signer_kept_on_update),
      cmocka_unit_test(test_condition_column),
      cmocka_unit_test(test_subject_org),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
