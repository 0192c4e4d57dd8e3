/* Tests for kube/bootstraptoken.h: token parts and Secret names, Secret
 * data, expiration, and the detached JWS against upstream's published
 * vectors (cluster-bootstrap's jws_test.go). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kube/bootstraptoken.h"
#include "kube/json.h"

static void test_jws_vectors(void **state)
{
  (void)state;
  const char *content = "Hello from the other side. I must have called a thousand times.";
  char *sig = bootstrap_jws_detached(content, strlen(content), "joshua", "my voice is my passcode");
  assert_string_equal(sig, "eyJhbGciOiJIUzI1NiIsImtpZCI6Impvc2h1YSJ9..VShe2taLd-YTrmWuRkcL_8QTNDHYxQIEBsAYYiIj1_8");
  free(sig);
  sig = bootstrap_jws_detached("", 0, "joshua", "my voice is my passcode");
  assert_string_equal(sig, "eyJhbGciOiJIUzI1NiIsImtpZCI6Impvc2h1YSJ9..7Ui1ALizW4jXphVUB7xUqC9vLYLL9RZeOFfVLoB7Tgk");
  free(sig);
  sig = bootstrap_jws_detached(content, strlen(content), "joshua", "my voice is my passcode. my voice is my passcode");
  assert_string_equal(sig, "eyJhbGciOiJIUzI1NiIsImtpZCI6Impvc2h1YSJ9..SFoKn0-YxqnvpSExt4LuCZ_7pvIBdX3SoUO_NsTpkdg");
  free(sig);
}

static void test_names_and_parts(void **state)
{
  (void)state;
  char id[7];
  assert_true(bootstrap_token_id_from_name("bootstrap-token-abc123", id));
  assert_string_equal(id, "abc123");
  const char *bad[] = {"bootstrap-token-ABC123", "bootstrap-token-abc12", "bootstrap-token-abc1234",
                       "bootstrap-abc123", "", NULL};
  for (size_t i = 0; bad[i]; i++) assert_false(bootstrap_token_id_from_name(bad[i], id));
  assert_false(bootstrap_token_id_from_name(NULL, id));
  assert_true(bootstrap_token_part_valid("0123456789abcdef", 16));
  assert_false(bootstrap_token_part_valid("0123456789abcde", 16));
  assert_false(bootstrap_token_part_valid("0123456789abcdeF", 16));
}

static void test_secret_data(void **state)
{
  (void)state;
  /* token-secret "0123456789abcdef", usage-bootstrap-signing "true",
   * expiration "2020-01-01T00:00:00Z" */
  json_t *s = json_loads("{\"data\":{\"token-secret\":\"MDEyMzQ1Njc4OWFiY2RlZg==\",\"usage-bootstrap-signing\":\"dHJ1ZQ==\","
                       "\"usage-bootstrap-authentication\":\"ZmFsc2U=\",\"expiration\":\"MjAyMC0wMS0wMVQwMDowMDowMFo=\"}}",
                       0, NULL);
  assert_non_null(s);
  char *v = bootstrap_secret_data(s, "token-secret");
  assert_string_equal(v, "0123456789abcdef");
  free(v);
  assert_null(bootstrap_secret_data(s, "missing"));
  assert_true(bootstrap_secret_flag(s, "usage-bootstrap-signing"));
  assert_false(bootstrap_secret_flag(s, "usage-bootstrap-authentication"));
  assert_false(bootstrap_secret_flag(s, "missing"));
  int64_t exp = 0;
  assert_int_equal(bootstrap_secret_expiration(s, &exp), 0);
  assert_true(exp == (int64_t)1577836800 * 1000000);
  /* not RFC 3339: -1; none: 1 */
  json_object_set_new(json_object_get(s, "data"), "expiration", json_string("bm90IGEgZGF0ZQ=="));
  assert_int_equal(bootstrap_secret_expiration(s, &exp), -1);
  json_object_del(json_object_get(s, "data"), "expiration");
  assert_int_equal(bootstrap_secret_expiration(s, &exp), 1);
  json_decref(s);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_jws_vectors),
      cmocka_unit_test(test_names_and_parts),
      cmocka_unit_test(test_secret_data),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
