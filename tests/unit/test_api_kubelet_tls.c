/*
 * test_api_kubelet_tls.c - the API server's TLS client context for
 * kubelets (apiserver/proxy.c, api_kubelet_tls_new): no flags means no
 * client certificate and no verification, as upstream; the certificate
 * and key go together and must match; --kubelet-certificate-authority
 * turns verification on; a file that cannot be loaded is named.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "api.h"
#include "apiserver.h"

static char dir[] = "/tmp/test_api_kubelet_tls.XXXXXX";
static char cert[300], key[300], other_key[300];

static void write_key(const char *path, EVP_PKEY *k)
{
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  assert_true(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL));
  fclose(f);
}

/* a self-signed pair in dir, and a second key */
static int setup(void **state)
{
  (void)state;
  assert_non_null(mkdtemp(dir));
  snprintf(cert, sizeof cert, "%s/client.crt", dir);
  snprintf(key, sizeof key, "%s/client.key", dir);
  snprintf(other_key, sizeof other_key, "%s/other.key", dir);
  EVP_PKEY *k = EVP_EC_gen("P-256"), *k2 = EVP_EC_gen("P-256");
  X509 *c = X509_new();
  X509_set_version(c, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(c), 1);
  X509_gmtime_adj(X509_getm_notBefore(c), -60);
  X509_gmtime_adj(X509_getm_notAfter(c), 3600);
  X509_set_pubkey(c, k);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(c), "CN", MBSTRING_ASC,
                             (const unsigned char *)"kube-apiserver-kubelet-client", -1, -1, 0);
  X509_set_issuer_name(c, X509_get_subject_name(c));
  assert_true(X509_sign(c, k, EVP_sha256()) > 0);
  FILE *f = fopen(cert, "w");
  assert_non_null(f);
  PEM_write_X509(f, c);
  fclose(f);
  write_key(key, k);
  write_key(other_key, k2);
  X509_free(c);
  EVP_PKEY_free(k);
  EVP_PKEY_free(k2);
  return 0;
}

static int teardown(void **state)
{
  (void)state;
  unlink(cert);
  unlink(key);
  unlink(other_key);
  rmdir(dir);
  return 0;
}

static SSL_CTX *ctx_for(const char *c, const char *k, const char *ca, char *err, size_t errlen)
{
  struct apiserver_config cfg = {.kubelet_client_certificate = c,
                                 .kubelet_client_key = k,
                                 .kubelet_certificate_authority = ca};
  err[0] = 0;
  return api_kubelet_tls_new(&cfg, err, errlen);
}

static void test_no_flags(void **state)
{
  (void)state;
  char err[300];
  SSL_CTX *ctx = ctx_for("", "", "", err, sizeof err);
  assert_non_null(ctx);
  assert_int_equal(SSL_CTX_get_verify_mode(ctx), SSL_VERIFY_NONE);
  assert_null(SSL_CTX_get0_certificate(ctx));
  SSL_CTX_free(ctx);
  struct apiserver_config none = {0}; /* unset strings as well */
  ctx = api_kubelet_tls_new(&none, err, sizeof err);
  assert_non_null(ctx);
  SSL_CTX_free(ctx);
}

static void test_client_certificate_and_ca(void **state)
{
  (void)state;
  char err[300];
  SSL_CTX *ctx = ctx_for(cert, key, cert, err, sizeof err);
  if (!ctx) fail_msg("%s", err);
  assert_non_null(SSL_CTX_get0_certificate(ctx));
  assert_int_equal(SSL_CTX_get_verify_mode(ctx), SSL_VERIFY_PEER);
  SSL_CTX_free(ctx);
  ctx = ctx_for(cert, key, "", err, sizeof err);
  assert_non_null(ctx);
  assert_int_equal(SSL_CTX_get_verify_mode(ctx), SSL_VERIFY_NONE);
  SSL_CTX_free(ctx);
}

static void test_bad_flags(void **state)
{
  (void)state;
  char err[300];
  assert_null(ctx_for(cert, "", "", err, sizeof err));
  assert_string_equal(err, "--kubelet-client-certificate and --kubelet-client-key must be given together");
  assert_null(ctx_for("", key, "", err, sizeof err));
  assert_string_equal(err, "--kubelet-client-certificate and --kubelet-client-key must be given together");
  assert_null(ctx_for("/nonexistent/client.crt", key, "", err, sizeof err));
  assert_string_equal(err, "unable to load kubelet client TLS file /nonexistent/client.crt");
  assert_null(ctx_for(cert, other_key, "", err, sizeof err));
  char want[400];
  snprintf(want, sizeof want, "unable to load kubelet client TLS file %s", other_key);
  assert_string_equal(err, want);
  assert_null(ctx_for(cert, key, "/nonexistent/ca.crt", err, sizeof err));
  assert_string_equal(err, "unable to load kubelet client TLS file /nonexistent/ca.crt");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_no_flags),
      cmocka_unit_test(test_client_certificate_and_ca),
      cmocka_unit_test(test_bad_flags),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
