/*
 * cm_test_bootstrap.c - the bootstrap token controllers: the token cleaner
 * deletes a token only once its expiration has passed (and never one whose
 * expiration cannot be parsed), and comes back when it will; the
 * bootstrap signer signs cluster-info's kubeconfig with every token that
 * may sign (usage-bootstrap-signing, matching ID, not expired), removes
 * signatures of tokens that went, keeps the other data, and asks for
 * nothing when cluster-info is already right.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "controllers/bootstrap.h"
#include "kube/base64.h"
#include "kube/bootstraptoken.h"
#include "kube/json.h"

#define NOW_US ((int64_t)1700000000 * 1000000) /* 2023-11-14T22:13:20Z */

static void put(json_t *data, const char *key, const char *val)
{
  char *b = kb64_encode(val, strlen(val), KB64_STD);
  json_object_set_new(data, key, json_string(b));
  free(b);
}

/* A bootstrap token Secret; exp and usage may be NULL. */
static json_t *token(const char *name, const char *id, const char *secret, const char *exp, const char *signing)
{
  json_t *s = json_pack("{s:s,s:{s:s,s:s},s:{}}", "type", BOOTSTRAP_TOKEN_SECRET_TYPE, "metadata", "name", name,
                        "namespace", "kube-system", "data");
  json_t *d = json_object_get(s, "data");
  if (id) put(d, "token-id", id);
  if (secret) put(d, "token-secret", secret);
  if (exp) put(d, "expiration", exp);
  if (signing) put(d, "usage-bootstrap-signing", signing);
  return s;
}

static void test_cleaner(void **state)
{
  (void)state;
  int64_t next = 0;
  json_t *past = token("bootstrap-token-abcdef", "abcdef", "0123456789abcdef", "2023-11-14T22:13:19Z", NULL);
  assert_true(tokencleaner_expired(past, NOW_US, &next));
  json_t *soon = token("bootstrap-token-abcdef", "abcdef", "0123456789abcdef", "2023-11-14T22:14:20Z", NULL);
  assert_false(tokencleaner_expired(soon, NOW_US, &next));
  assert_int_equal(next, 60000);
  json_t *never = token("bootstrap-token-abcdef", "abcdef", "0123456789abcdef", NULL, NULL);
  assert_false(tokencleaner_expired(never, NOW_US, &next));
  assert_int_equal(next, -1);
  json_t *garbage = token("bootstrap-token-abcdef", "abcdef", "0123456789abcdef", "yesterday", NULL);
  assert_false(tokencleaner_expired(garbage, NOW_US, &next));
  assert_int_equal(next, -1);
  json_decref(past);
  json_decref(soon);
  json_decref(never);
  json_decref(garbage);
}

static const char KUBECONFIG[] = "apiVersion: v1\nkind: Config\nclusters:\n- name: \"\"\n  cluster:\n    server: "
                                 "https://10.0.0.1:6443\n";

static void test_signer(void **state)
{
  (void)state;
  json_t *cm = json_pack("{s:{s:s,s:s},s:{s:s,s:s,s:s}}", "metadata", "name", "cluster-info", "namespace",
                         "kube-public", "data", "kubeconfig", KUBECONFIG, "other", "kept", "jws-kubeconfig-gone00",
                         "stale");
  json_t *secrets = json_array();
  json_array_append_new(secrets, token("bootstrap-token-abcdef", "abcdef", "0123456789abcdef", NULL, "true"));
  json_array_append_new(secrets,
                        token("bootstrap-token-later1", "later1", "aaaaaaaaaaaaaaaa", "2023-11-14T22:15:20Z", "true"));
  /* not allowed to sign: no usage, expired, ID not matching its name */
  json_array_append_new(secrets, token("bootstrap-token-nosign", "nosign", "bbbbbbbbbbbbbbbb", NULL, NULL));
  json_array_append_new(secrets,
                        token("bootstrap-token-expird", "expird", "cccccccccccccccc", "2023-11-14T22:13:19Z", "true"));
  json_array_append_new(secrets, token("bootstrap-token-wrong1", "other1", "dddddddddddddddd", NULL, "true"));
  int64_t next = -1;
  json_t *out = bootstrapsigner_signed(cm, secrets, NOW_US, &next);
  assert_non_null(out);
  assert_int_equal(next, 120000); /* later1 expires in two minutes */
  json_t *data = json_object_get(out, "data");
  assert_int_equal(json_object_size(data), 4);
  assert_string_equal(kj_get_str(data, "other"), "kept");
  assert_null(json_object_get(data, "jws-kubeconfig-gone00"));
  char *want = bootstrap_jws_detached(KUBECONFIG, strlen(KUBECONFIG), "abcdef", "0123456789abcdef");
  assert_string_equal(json_string_value(json_object_get(data, "jws-kubeconfig-abcdef")), want);
  free(want);
  assert_non_null(json_object_get(data, "jws-kubeconfig-later1"));
  assert_string_equal(kj_get_str(out, "metadata.name"), "cluster-info");
  /* signed already: nothing to do */
  next = -1;
  assert_null(bootstrapsigner_signed(out, secrets, NOW_US, &next));
  /* no kubeconfig key: nothing to sign */
  json_object_del(json_object_get(cm, "data"), "kubeconfig");
  assert_null(bootstrapsigner_signed(cm, secrets, NOW_US, &next));
  json_decref(out);
  json_decref(cm);
  json_decref(secrets);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cleaner),
      cmocka_unit_test(test_signer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
