/* Tests for kube/base64.h: Go's decoding rules and error offsets, both
 * alphabets, round trips. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kube/base64.h"

static void test_decode_std(void **state)
{
  (void)state;
  struct {
    const char *in;
    const char *want; /* NULL: error at bad */
    size_t bad;
  } cases[] = {
      {"", "", 0},
      {"QQ==", "A", 0},
      {"QUI=", "AB", 0},
      {"QUJD", "ABC", 0},
      {"QUJD\nRA==", "ABCD", 0},
      {"QU\r\nJD", "ABC", 0},
      {"QUJDRA==\n", "ABCD", 0},
      {"aGVsbG8gd29ybGQ=", "hello world", 0},
      {"QQ=", NULL, 3}, /* not enough padding */
      {"QQ", NULL, 0},  /* padding missing */
      {"Q", NULL, 0},
      {"QU!D", NULL, 2},
      {"QUJDRA==x", NULL, 8}, /* trailing garbage */
      {"Q===", NULL, 1},
      {"QQ=x", NULL, 2},
      {"QUJD RA==", NULL, 4}, /* spaces are not skipped */
      {"QQ-_", NULL, 2},      /* URL alphabet in standard data */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    unsigned char *out = NULL;
    size_t n = 0, bad = 999;
    int rc = kb64_decode(cases[i].in, strlen(cases[i].in), KB64_STD, &out, &n, &bad);
    if (!cases[i].want) {
      if (rc != -EINVAL || bad != cases[i].bad)
        fail_msg("\"%s\": rc %d bad %zu, want error at %zu", cases[i].in, rc, bad, cases[i].bad);
      continue;
    }
    if (rc != 0) fail_msg("\"%s\": rc %d at %zu", cases[i].in, rc, bad);
    assert_int_equal(n, strlen(cases[i].want));
    assert_memory_equal(out, cases[i].want, n);
    free(out);
  }
  /* validation only */
  assert_int_equal(kb64_decode("QUJD", 4, KB64_STD, NULL, NULL, NULL), 0);
}

static void test_raw_url(void **state)
{
  (void)state;
  unsigned char bin[] = {0xfb, 0xff, 0xbf, 0x00, 0x41};
  char *e = kb64_encode(bin, sizeof bin, KB64_RAW_URL);
  assert_string_equal(e, "-_-_AEE");
  unsigned char *out;
  size_t n, bad;
  assert_int_equal(kb64_decode(e, strlen(e), KB64_RAW_URL, &out, &n, &bad), 0);
  assert_int_equal(n, sizeof bin);
  assert_memory_equal(out, bin, n);
  free(out);
  free(e);
  assert_int_equal(kb64_decode("QQ==", 4, KB64_RAW_URL, &out, &n, &bad), -EINVAL);
  assert_int_equal(bad, 2);
  assert_int_equal(kb64_decode("Q", 1, KB64_RAW_URL, &out, &n, &bad), -EINVAL);
  assert_int_equal(bad, 0);
}

static void test_round_trip(void **state)
{
  (void)state;
  unsigned char buf[300];
  srand(7);
  for (size_t len = 0; len < sizeof buf; len++) {
    for (size_t i = 0; i < len; i++) buf[i] = (unsigned char)rand();
    for (int a = KB64_STD; a <= KB64_RAW_URL; a++) {
      char *e = kb64_encode(buf, len, (enum kb64_alphabet)a);
      unsigned char *out;
      size_t n, bad;
      assert_int_equal(kb64_decode(e, strlen(e), (enum kb64_alphabet)a, &out, &n, &bad), 0);
      assert_int_equal(n, len);
      if (len) assert_memory_equal(out, buf, len);
      free(out);
      free(e);
    }
  }
  char *e = kb64_encode("hello world", 11, KB64_STD);
  assert_string_equal(e, "aGVsbG8gd29ybGQ=");
  free(e);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_decode_std),
      cmocka_unit_test(test_raw_url),
      cmocka_unit_test(test_round_trip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
