/*
 * test_storage_crypt.c - the at-rest transformers (apiserver/storage/crypt.h):
 * every provider round-trips, writes use the first provider's first key,
 * reads pick the key by prefix, AES-GCM binds a value to its storage key,
 * tampering is detected, and the stale flag says when a rewrite is due.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "storage/crypt.h"

#include <kube/xalloc.h>

static struct crypt_provider provider(enum crypt_kind kind, const char *name, unsigned char fill, size_t len)
{
  struct crypt_provider p = {.kind = kind};
  if (kind == CRYPT_IDENTITY) return p;
  p.keys = xcalloc(1, sizeof(*p.keys));
  p.nkeys = 1;
  p.keys[0].name = xstrdup(name);
  memset(p.keys[0].secret, fill, len);
  p.keys[0].len = len;
  return p;
}

/* One rule over /registry/secrets/ with the given providers. */
static struct storage_crypt *config(int n, const struct crypt_provider *ps)
{
  struct storage_crypt *c = xcalloc(1, sizeof(*c));
  c->rules = xcalloc(1, sizeof(*c->rules));
  c->nrules = 1;
  c->rules[0].prefixes = xcalloc(1, sizeof(char *));
  c->rules[0].prefixes[0] = xstrdup("/registry/secrets/");
  c->rules[0].nprefixes = 1;
  c->rules[0].providers = xcalloc((size_t)n, sizeof(*ps));
  memcpy(c->rules[0].providers, ps, (size_t)n * sizeof(*ps));
  c->rules[0].nproviders = (size_t)n;
  return c;
}

static const char *K = "/registry/secrets/default/s";
static const char *V = "{\"kind\":\"Secret\",\"data\":{\"a\":\"c2VjcmV0\"}}";

static char *seal(const struct storage_crypt *c, const char *key, size_t *n)
{
  char *out = NULL, err[256];
  assert_int_equal(storage_crypt_encode(c, key, V, strlen(V), &out, n, err, sizeof err), 1);
  return out;
}

static void roundtrip(enum crypt_kind kind, size_t keylen, const char *prefix)
{
  struct crypt_provider p = provider(kind, "k1", 7, keylen);
  struct storage_crypt *c = config(1, &p);
  size_t n = 0, m = 0;
  char *sealed = seal(c, K, &n), *plain = NULL, err[256];
  assert_memory_equal(sealed, prefix, strlen(prefix));
  assert_null(memmem(sealed, n, "c2VjcmV0", 8));
  bool stale = true;
  assert_int_equal(storage_crypt_decode(c, K, sealed, n, &plain, &m, &stale, err, sizeof err), 1);
  assert_false(stale);
  assert_int_equal(m, strlen(V));
  assert_string_equal(plain, V);
  free(plain);
  sealed[n - 1] ^= 1; /* tampered: CBC may still unpad, but not to the same bytes */
  int rc = storage_crypt_decode(c, K, sealed, n, &plain, &m, &stale, err, sizeof err);
  if (rc == 1) {
    assert_true(m != strlen(V) || memcmp(plain, V, m) != 0);
    free(plain);
  }
  free(sealed);
  storage_crypt_free(c);
}

static void test_aescbc(void **s)
{
  (void)s;
  roundtrip(CRYPT_AESCBC, 16, "k8s:enc:aescbc:v1:k1:");
  roundtrip(CRYPT_AESCBC, 32, "k8s:enc:aescbc:v1:k1:");
}

static void test_aesgcm(void **s)
{
  (void)s;
  roundtrip(CRYPT_AESGCM, 24, "k8s:enc:aesgcm:v1:k1:");
}

static void test_secretbox(void **s)
{
  (void)s;
  roundtrip(CRYPT_SECRETBOX, 32, "k8s:enc:secretbox:v1:k1:");
}

static void test_gcm_binds_key(void **s)
{
  (void)s;
  struct crypt_provider p = provider(CRYPT_AESGCM, "k1", 3, 32);
  struct storage_crypt *c = config(1, &p);
  size_t n = 0, m = 0;
  char *sealed = seal(c, K, &n), *plain = NULL, err[256];
  bool stale;
  assert_int_equal(storage_crypt_decode(c, "/registry/secrets/default/other", sealed, n, &plain, &m, &stale, err,
                                        sizeof err),
                   -1);
  assert_non_null(strstr(err, "decryption with aesgcm key k1 failed"));
  free(sealed);
  storage_crypt_free(c);
}

static void test_rotation_and_stale(void **s)
{
  (void)s;
  struct crypt_provider old_first[2] = {provider(CRYPT_AESCBC, "old", 1, 32), provider(CRYPT_IDENTITY, NULL, 0, 0)};
  struct storage_crypt *c1 = config(2, old_first);
  size_t n = 0, m = 0;
  char *sealed = seal(c1, K, &n), *plain = NULL, err[256];
  bool stale = false;
  /* plaintext under [aescbc, identity]: readable, stale */
  assert_int_equal(storage_crypt_decode(c1, K, V, strlen(V), &plain, &m, &stale, err, sizeof err), 0);
  assert_true(stale);
  /* the new key first: the old value is read with the second key, stale */
  struct crypt_provider new_first[2] = {provider(CRYPT_SECRETBOX, "new", 2, 32), provider(CRYPT_AESCBC, "old", 1, 32)};
  struct storage_crypt *c2 = config(2, new_first);
  assert_int_equal(storage_crypt_decode(c2, K, sealed, n, &plain, &m, &stale, err, sizeof err), 1);
  assert_true(stale);
  assert_string_equal(plain, V);
  free(plain);
  /* plaintext without identity: refused */
  assert_int_equal(storage_crypt_decode(c2, K, V, strlen(V), &plain, &m, &stale, err, sizeof err), -1);
  assert_non_null(strstr(err, "no matching prefix"));
  /* keys outside the rule's prefixes pass through */
  char *out = NULL;
  assert_int_equal(storage_crypt_encode(c2, "/registry/configmaps/default/c", V, strlen(V), &out, &n, err, sizeof err),
                   0);
  assert_null(out);
  free(sealed);
  storage_crypt_free(c1);
  storage_crypt_free(c2);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_aescbc),         cmocka_unit_test(test_aesgcm),
      cmocka_unit_test(test_secretbox),      cmocka_unit_test(test_gcm_binds_key),
      cmocka_unit_test(test_rotation_and_stale),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
