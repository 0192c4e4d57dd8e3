/*
 * kl_test_certificate.c - the kubelet's certificate pieces: upstream's
 * request attributes of its API (path -> verb, subresource), the key and
 * certificate request it sends (subject, SANs, ECDSA P-256, the CSR
 * object's signer, usages and generateName), the rotation deadline
 * window, the PEM store with its -current link, the kubeconfig written
 * after bootstrap (loaded back with the common loader), and the
 * authentication/authorization defaults with and without a config file.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certificate.h"
#include "config.h"
#include "kube/base64.h"
#include "kube/fileutil.h"
#include "kube/json.h"
#include "kube/kubeconfig.h"
#include "kube/restclient.h"
#include "kube/secure_serving.h"
#include "server.h"

/* upstream pkg/kubelet/server/auth.go: GetRequestAttributes */
static void test_request_attrs(void **state)
{
  (void)state;
  static const struct {
    const char *method, *path, *verb, *sub;
  } rows[] = {
      {"GET", "/stats/summary", "get", "stats"},
      {"GET", "/stats", "get", "stats"},
      {"GET", "/stats/", "get", "stats"},
      {"GET", "/statsx", "get", "proxy"},
      {"GET", "/metrics", "get", "metrics"},
      {"GET", "/metrics/cadvisor", "get", "metrics"},
      {"GET", "/metrics/resource", "get", "metrics"},
      {"GET", "/metricsfoo", "get", "proxy"},
      {"GET", "/logs/", "get", "log"},
      {"GET", "/logs/syslog", "get", "log"},
      {"GET", "/logs", "get", "log"},
      {"GET", "/spec/", "get", "spec"},
      {"GET", "/pods", "get", "proxy"},
      {"GET", "/runningpods/", "get", "proxy"},
      {"GET", "/healthz", "get", "proxy"},
      {"GET", "/containerLogs/ns/pod/c", "get", "proxy"},
      {"POST", "/exec/ns/pod/c", "create", "proxy"},
      {"POST", "/attach/ns/pod/c", "create", "proxy"},
      {"POST", "/portForward/ns/pod", "create", "proxy"},
      {"GET", "/exec/ns/pod/c", "get", "proxy"},
      {"PUT", "/pods", "update", "proxy"},
      {"PATCH", "/pods", "patch", "proxy"},
      {"DELETE", "/pods", "delete", "proxy"},
      {"HEAD", "/pods", "", "proxy"},
      {"OPTIONS", "/pods", "", "proxy"},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    struct ksecure_attrs a;
    kl_server_request_attrs("node-1", rows[i].method, rows[i].path, &a);
    if (strcmp(a.verb, rows[i].verb) || strcmp(a.subresource, rows[i].sub))
      fail_msg("%s %s: got %s %s, want %s %s", rows[i].method, rows[i].path, a.verb, a.subresource, rows[i].verb,
               rows[i].sub);
    assert_string_equal(a.resource, "nodes");
    assert_string_equal(a.name, "node-1");
    assert_string_equal(a.api_version, "v1");
  }
}

static X509_REQ *parse_req(const char *pem)
{
  BIO *b = BIO_new_mem_buf(pem, -1);
  X509_REQ *r = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
  BIO_free(b);
  assert_non_null(r);
  return r;
}

static void test_key_and_request(void **state)
{
  (void)state;
  char *key = kl_cert_new_key_pem();
  assert_non_null(key);
  assert_non_null(strstr(key, "-----BEGIN EC PRIVATE KEY-----"));
  char err[300] = "";
  char *pem = kl_cert_request_pem(key, "system:node:n1", "system:nodes", "DNS:n1,IP:192.0.2.5", err, sizeof err);
  assert_non_null(pem);
  X509_REQ *r = parse_req(pem);
  char subject[256];
  X509_NAME_oneline(X509_REQ_get_subject_name(r), subject, sizeof subject);
  assert_string_equal(subject, "/O=system:nodes/CN=system:node:n1");
  EVP_PKEY *pub = X509_REQ_get_pubkey(r);
  assert_int_equal(EVP_PKEY_get_base_id(pub), EVP_PKEY_EC);
  char group[64] = "";
  size_t glen = 0;
  assert_true(EVP_PKEY_get_utf8_string_param(pub, "group", group, sizeof group, &glen));
  assert_string_equal(group, "prime256v1");
  assert_int_equal(X509_REQ_verify(r, pub), 1);
  EVP_PKEY_free(pub);
  STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(r);
  GENERAL_NAMES *sans = NULL;
  for (int i = 0; exts && i < sk_X509_EXTENSION_num(exts); i++) {
    X509_EXTENSION *ex = sk_X509_EXTENSION_value(exts, i);
    if (OBJ_obj2nid(X509_EXTENSION_get_object(ex)) == NID_subject_alt_name) sans = X509V3_EXT_d2i(ex);
  }
  assert_non_null(sans);
  assert_int_equal(sk_GENERAL_NAME_num(sans), 2);
  assert_int_equal(sk_GENERAL_NAME_value(sans, 0)->type, GEN_DNS);
  assert_int_equal(sk_GENERAL_NAME_value(sans, 1)->type, GEN_IPADD);
  GENERAL_NAMES_free(sans);
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  X509_REQ_free(r);

  /* the client request has no SANs */
  char *client = kl_cert_request_pem(key, "system:node:n1", "system:nodes", NULL, err, sizeof err);
  r = parse_req(client);
  exts = X509_REQ_get_extensions(r);
  assert_true(!exts || sk_X509_EXTENSION_num(exts) == 0);
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  X509_REQ_free(r);

  assert_null(kl_cert_request_pem("not a key", "x", "y", NULL, err, sizeof err));
  assert_string_equal(err, "unable to parse the private key");

  json_t *csr = kl_cert_csr_object(client, KL_SIGNER_CLIENT);
  assert_string_equal(kj_get_str(csr, "apiVersion"), "certificates.k8s.io/v1");
  assert_string_equal(kj_get_str(csr, "kind"), "CertificateSigningRequest");
  assert_string_equal(kj_get_str(csr, "metadata.generateName"), "node-csr-");
  assert_string_equal(kj_get_str(csr, "spec.signerName"), "kubernetes.io/kube-apiserver-client-kubelet");
  json_t *want = json_pack("[s,s]", "digital signature", "client auth");
  assert_true(json_equal(kj_get(csr, "spec.usages"), want));
  json_decref(want);
  unsigned char *raw = NULL;
  size_t rawlen = 0, bad = 0;
  const char *b64 = kj_get_str(csr, "spec.request");
  assert_int_equal(kb64_decode(b64, strlen(b64), KB64_STD, &raw, &rawlen, &bad), 0);
  assert_int_equal(rawlen, strlen(client));
  assert_memory_equal(raw, client, rawlen);
  free(raw);
  json_decref(csr);
  csr = kl_cert_csr_object(pem, KL_SIGNER_SERVING);
  assert_string_equal(kj_get_str(csr, "metadata.generateName"), "csr-");
  assert_string_equal(kj_get_str(csr, "spec.signerName"), "kubernetes.io/kubelet-serving");
  assert_string_equal(json_string_value(json_array_get(kj_get(csr, "spec.usages"), 1)), "server auth");
  json_decref(csr);
  free(client);
  free(pem);
  free(key);
}

static void test_rotation_deadline(void **state)
{
  (void)state;
  /* 70% to 90% of the lifetime after notBefore */
  assert_int_equal(kl_cert_rotation_deadline(1000, 2000, 0.0), 1700);
  assert_int_equal(kl_cert_rotation_deadline(1000, 2000, 0.5), 1800);
  assert_in_range(kl_cert_rotation_deadline(1000, 2000, 0.9999), 1899, 1900);
  assert_in_range(kl_cert_rotation_deadline(1000, 2000, 1.0), 1899, 1900);
  assert_int_equal(kl_cert_rotation_deadline(1000, 2000, -1.0), 1700);
  /* a year-long certificate: between 255.5 and 328.5 days */
  int64_t year = 365LL * 86400;
  for (double j = 0; j < 1; j += 0.125) {
    int64_t d = kl_cert_rotation_deadline(0, year, j);
    assert_true(d >= year * 7 / 10 && d <= year * 9 / 10);
  }
}

/* A self-signed certificate for key_pem valid [nb, na] (PEM, new). */
static char *self_signed(const char *key_pem, time_t nb, time_t na)
{
  BIO *b = BIO_new_mem_buf(key_pem, -1);
  EVP_PKEY *key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
  BIO_free(b);
  X509 *c = X509_new();
  X509_set_version(c, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(c), 7);
  ASN1_TIME_set(X509_getm_notBefore(c), nb);
  ASN1_TIME_set(X509_getm_notAfter(c), na);
  X509_set_pubkey(c, key);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(c), "CN", MBSTRING_ASC, (const unsigned char *)"t", -1, -1, 0);
  X509_set_issuer_name(c, X509_get_subject_name(c));
  X509_sign(c, key, EVP_sha256());
  BIO *out = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(out, c);
  char *data = NULL;
  long n = BIO_get_mem_data(out, &data);
  char *pem = strndup(data, (size_t)n);
  BIO_free(out);
  X509_free(c);
  EVP_PKEY_free(key);
  return pem;
}

static void test_store_and_kubeconfig(void **state)
{
  (void)state;
  char dir[] = "/tmp/kl_test_cert.XXXXXX";
  assert_non_null(mkdtemp(dir));
  char pki[600];
  snprintf(pki, sizeof pki, "%s/pki/sub", dir);
  time_t now = time(NULL);
  char *key = kl_cert_new_key_pem();
  char *cert = self_signed(key, now - 60, now + 3600);
  char err[400] = "";
  assert_int_equal(kl_cert_store(pki, "kubelet-client", cert, key, 1700000000, err, sizeof err), 0);
  char current[700], target[700] = "";
  kl_cert_current_path(pki, "kubelet-client", current, sizeof current);
  assert_true(readlink(current, target, sizeof target - 1) > 0);
  assert_string_equal(target, "kubelet-client-2023-11-14-22-13-20.pem");
  struct stat st;
  assert_int_equal(stat(current, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_true(kl_cert_file_usable(current, now));
  assert_false(kl_cert_file_usable(current, now + 7200)); /* expired by then */
  int64_t nb = 0, na = 0;
  size_t len = 0;
  char *both = kfile_read(current, &len);
  assert_int_equal(kl_cert_validity(both, len, &nb, &na), 0);
  assert_int_equal(na - nb, 3660);
  assert_non_null(strstr(both, "-----END CERTIFICATE-----\n-----BEGIN EC PRIVATE KEY-----"));
  free(both);

  /* a second pair moves the link; the first file stays */
  char *key2 = kl_cert_new_key_pem();
  char *cert2 = self_signed(key2, now - 60, now + 7200);
  assert_int_equal(kl_cert_store(pki, "kubelet-client", cert2, key2, 1700000100, err, sizeof err), 0);
  memset(target, 0, sizeof target);
  assert_true(readlink(current, target, sizeof target - 1) > 0);
  assert_string_equal(target, "kubelet-client-2023-11-14-22-15-00.pem");
  char first[800];
  snprintf(first, sizeof first, "%s/kubelet-client-2023-11-14-22-13-20.pem", pki);
  assert_int_equal(access(first, F_OK), 0);

  /* a certificate with another key's pair is not usable */
  char *mixed = NULL;
  assert_true(asprintf(&mixed, "%s%s", cert, key2) > 0);
  char mixed_path[700];
  snprintf(mixed_path, sizeof mixed_path, "%s/mixed.pem", dir);
  FILE *f = fopen(mixed_path, "w");
  fputs(mixed, f);
  fclose(f);
  assert_false(kl_cert_file_usable(mixed_path, now));
  free(mixed);
  unlink(mixed_path);

  /* the kubeconfig loads with the common loader and carries the pair */
  char kc[700];
  snprintf(kc, sizeof kc, "%s/kubelet.conf", dir);
  const char ca[] = "-----BEGIN CERTIFICATE-----\nnot really\n-----END CERTIFICATE-----\n";
  assert_int_equal(kl_cert_write_kubeconfig(kc, "https://192.0.2.1:6443", ca, strlen(ca), false, "api.example",
                                            current, err, sizeof err),
                   0);
  struct rest_config rc;
  assert_int_equal(kubeconfig_load(kc, "", "", &rc, err, sizeof err), 0);
  assert_string_equal(rc.server, "https://192.0.2.1:6443");
  assert_int_equal(rc.ca_len, strlen(ca));
  assert_memory_equal(rc.ca_data, ca, rc.ca_len);
  assert_string_equal(rc.tls_server_name, "api.example");
  assert_non_null(rc.cert_data);
  assert_non_null(strstr(rc.cert_data, "BEGIN CERTIFICATE"));
  assert_non_null(strstr(rc.key_data, "BEGIN EC PRIVATE KEY"));
  rest_config_free(&rc);
  char *text = kfile_read(kc, &len);
  char want[900];
  snprintf(want, sizeof want, "client-certificate: \"%s\"\n    client-key: \"%s\"\n", current, current);
  assert_non_null(strstr(text, want));
  free(text);

  char cmd[700];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
  free(key);
  free(cert);
  free(key2);
  free(cert2);
}

static struct kl_config *load(int argc, char **argv)
{
  struct kl_config *c = NULL;
  char err[600] = "";
  if (kl_config_load(argc, argv, &c, err, sizeof err) != 0) fail_msg("%s", err);
  return c;
}

static void test_auth_defaults(void **state)
{
  (void)state;
  /* flags only: upstream's command-line defaults */
  char *a1[] = {"kubelet", NULL};
  struct kl_config *c = load(1, a1);
  assert_true(c->anonymous_auth);
  assert_false(c->webhook_authn);
  assert_false(c->webhook_authz);
  assert_false(c->rotate_certificates);
  assert_string_equal(c->cert_dir, "/var/lib/kubelet/pki");
  kl_config_free(c);
  /* a config file: v1beta1's defaults for what it leaves out */
  char path[] = "/tmp/kl_test_cert_cfg.XXXXXX";
  int fd = mkstemp(path);
  const char *yaml = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"
                     "authentication: {x509: {clientCAFile: /ca.crt}}\nrotateCertificates: true\n"
                     "serverTLSBootstrap: true\n";
  assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
  close(fd);
  char cfg[100];
  snprintf(cfg, sizeof cfg, "--config=%s", path);
  char *a2[] = {"kubelet", cfg, "--root-dir=/srv/kl", NULL};
  c = load(3, a2);
  assert_false(c->anonymous_auth);
  assert_true(c->webhook_authn);
  assert_true(c->webhook_authz);
  assert_int_equal(c->webhook_cache_ttl_ms, 120000);
  assert_int_equal(c->authz_allowed_ttl_ms, 300000);
  assert_int_equal(c->authz_denied_ttl_ms, 30000);
  assert_string_equal(c->client_ca_file, "/ca.crt");
  assert_true(c->rotate_certificates);
  assert_true(c->server_tls_bootstrap);
  assert_string_equal(c->cert_dir, "/srv/kl/pki");
  kl_config_free(c);
  /* flags win over the file */
  char *a3[] = {"kubelet",
                cfg,
                "--anonymous-auth=true",
                "--authorization-mode=AlwaysAllow",
                "--authentication-token-webhook=false",
                "--client-ca-file=/other.crt",
                "--cert-dir=/certs",
                "--rotate-certificates=false",
                "--rotate-server-certificates=false",
                NULL};
  c = load(9, a3);
  assert_true(c->anonymous_auth);
  assert_false(c->webhook_authz);
  assert_false(c->webhook_authn);
  assert_string_equal(c->client_ca_file, "/other.crt");
  assert_string_equal(c->cert_dir, "/certs");
  assert_false(c->rotate_certificates);
  assert_false(c->server_tls_bootstrap);
  kl_config_free(c);
  /* a bad mode names the field */
  char *a4[] = {"kubelet", "--authorization-mode=RBAC", NULL};
  struct kl_config *bad = NULL;
  char err[400] = "";
  assert_int_equal(kl_config_load(2, a4, &bad, err, sizeof err), -1);
  assert_string_equal(err, "invalid configuration: authorization.mode: must be AlwaysAllow or Webhook");
  unlink(path);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_request_attrs),        cmocka_unit_test(test_key_and_request),
      cmocka_unit_test(test_rotation_deadline),    cmocka_unit_test(test_store_and_kubeconfig),
      cmocka_unit_test(test_auth_defaults),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
