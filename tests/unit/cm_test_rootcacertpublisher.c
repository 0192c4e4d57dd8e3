/*
 * cm_test_rootcacertpublisher.c - the root CA publisher: the
 * kube-root-ca.crt ConfigMap created in an active namespace with the
 * bundle and upstream's description, nothing when it already matches, put
 * back (other fields kept) when its data or annotation drifted, nothing
 * in a namespace being deleted; --root-ca-file read and refused when it
 * holds no certificate; and the controller answering a create that found
 * the namespace gone as done, an AlreadyExists as not done.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "controllers/rootcacertpublisher.h"
#include "framework.h"
#include "kube/json.h"
#include "kube/restclient.h"

static const char CA[] = "-----BEGIN CERTIFICATE-----\n"
                         "MIIBhTCCASugAwIBAgIUL6gX0xN1P/Z6CBnOvVcoR8kY5XIwCgYIKoZIzj0EAwIw\n"
                         "FzEVMBMGA1UEAwwMdGVzdC1yb290LWNhMCAXDTI2MTIwNzE1MjAzOFoYDzIxMjYx\n"
                         "MTEzMTUyMDM4WjAXMRUwEwYDVQQDDAx0ZXN0LXJvb3QtY2EwWTATBgcqhkjOPQIB\n"
                         "BggqhkjOPQMBBwNCAASRaiUZVpRKGqp2EKZbPZNpmUI/pHdOfmJM61uWTCUf6zFg\n"
                         "uGHkA3slOcxHefvhRKRg1eRh1WKkgzIWMTK9tmkho1MwUTAdBgNVHQ4EFgQUav8U\n"
                         "ZUZU0soIx15x5op1EJx+b5swHwYDVR0jBBgwFoAUav8UZUZU0soIx15x5op1EJx+\n"
                         "b5swDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiEA+hkTiHaDB6ZX\n"
                         "d64KBK6j4sFY+va7TfSTs4P6HDgNXo4CID5GpIcJRAxLs4EaPBwh/MSMJkVwg+MO\n"
                         "pNZ06delDFzF\n"
                         "-----END CERTIFICATE-----\n";

static json_t *J(const char *s)
{
  json_error_t e;
  json_t *v = json_loads(s, 0, &e);
  if (!v) fail_msg("bad fixture json: %s: %s", e.text, s);
  return v;
}

static void test_create_update_leave(void **state)
{
  json_t *ns = J("{\"metadata\":{\"name\":\"team\"},\"status\":{\"phase\":\"Active\"}}");
  struct cm_actions acts;
  cm_actions_init(&acts);
  rootca_actions(ns, NULL, CA, &acts);
  assert_int_equal(acts.n, 1);
  assert_int_equal(acts.v[0].verb, CM_POST);
  assert_string_equal(acts.v[0].path, "/api/v1/namespaces/team/configmaps");
  assert_int_equal(acts.v[0].done_if, CM_DONE_IF_GONE); /* the namespace went: nothing to publish */
  json_t *body = acts.v[0].body;
  assert_string_equal(kj_get_str(body, "metadata.name"), "kube-root-ca.crt");
  assert_string_equal(kj_get_str(body, "data[\"ca.crt\"]"), CA);
  assert_string_equal(kj_get_str(body, "metadata.annotations[\"kubernetes.io/description\"]"), ROOTCA_DESCRIPTION);
  json_t *cm = kj_deep_copy(body);
  kj_set_str(cm, "metadata.resourceVersion", "7");
  kj_set_str(cm, "metadata.labels.team", "x");
  cm_actions_clear(&acts);

  /* Already right: nothing. */
  rootca_actions(ns, cm, CA, &acts);
  assert_int_equal(acts.n, 0);

  /* Someone changed the bundle and dropped the annotation: put back,
   * keeping the rest (labels, resourceVersion for the compare-and-swap). */
  kj_set_str(cm, "data[\"ca.crt\"]", "tampered");
  kj_set_str(cm, "data.extra", "x");
  kj_del(cm, "metadata.annotations");
  rootca_actions(ns, cm, CA, &acts);
  assert_int_equal(acts.n, 1);
  assert_int_equal(acts.v[0].verb, CM_PUT);
  assert_string_equal(acts.v[0].path, "/api/v1/namespaces/team/configmaps/kube-root-ca.crt");
  body = acts.v[0].body;
  assert_string_equal(kj_get_str(body, "data[\"ca.crt\"]"), CA);
  assert_int_equal(json_object_size(json_object_get(body, "data")), 1);
  assert_string_equal(kj_get_str(body, "metadata.annotations[\"kubernetes.io/description\"]"), ROOTCA_DESCRIPTION);
  assert_string_equal(kj_get_str(body, "metadata.labels.team"), "x");
  assert_string_equal(kj_get_str(body, "metadata.resourceVersion"), "7");
  cm_actions_clear(&acts);

  /* An empty annotation counts as missing, as upstream. */
  kj_set_str(cm, "data[\"ca.crt\"]", CA);
  kj_del(cm, "data.extra");
  kj_set_str(cm, "metadata.annotations[\"kubernetes.io/description\"]", "");
  rootca_actions(ns, cm, CA, &acts);
  assert_int_equal(acts.n, 1);
  cm_actions_clear(&acts);

  /* A namespace being deleted is left alone. */
  kj_set_str(ns, "metadata.deletionTimestamp", "2024-01-01T00:00:00Z");
  kj_set_str(ns, "status.phase", "Terminating");
  rootca_actions(ns, NULL, CA, &acts);
  assert_int_equal(acts.n, 0);
  json_decref(cm);
  json_decref(ns);
}

static void test_load(void **state)
{
  char path[] = "/tmp/cm-rootca-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, CA, strlen(CA)), (ssize_t)strlen(CA));
  close(fd);
  char *ca = NULL, err[512];
  assert_int_equal(rootca_load(path, &ca, err, sizeof err), 0);
  assert_string_equal(ca, CA);
  free(ca);
  /* Not a certificate. */
  FILE *f = fopen(path, "w");
  fputs("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n", f);
  fclose(f);
  ca = NULL;
  assert_true(rootca_load(path, &ca, err, sizeof err) < 0);
  assert_null(ca);
  assert_non_null(strstr(err, "data does not contain any valid RSA or ECDSA certificates"));
  assert_non_null(strstr(err, "error parsing root-ca-file at /tmp/cm-rootca-"));
  unlink(path);
  assert_true(rootca_load(path, &ca, err, sizeof err) < 0);
  assert_non_null(strstr(err, "error parsing root-ca-file at /tmp/cm-rootca-"));
}

/* The create's answers, through the one rule. */
static void test_answers(void **state)
{
  json_t *ns = J("{\"metadata\":{\"name\":\"team\"},\"status\":{\"phase\":\"Active\"}}");
  struct cm_actions acts;
  cm_actions_init(&acts);
  rootca_actions(ns, NULL, CA, &acts);
  struct rest_status gone = {404, "NotFound", "namespaces \"team\" not found", NULL};
  struct rest_status exists = {409, "AlreadyExists", "configmaps \"kube-root-ca.crt\" already exists", NULL};
  assert_true(cm_answer_done(&acts.v[0], 404, &gone));
  assert_false(cm_answer_done(&acts.v[0], 409, &exists));
  cm_actions_clear(&acts);
  json_decref(ns);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_create_update_leave),
      cmocka_unit_test(test_load),
      cmocka_unit_test(test_answers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
