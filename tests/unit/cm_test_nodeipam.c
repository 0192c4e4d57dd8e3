/*
 * cm_test_nodeipam.c - the node CIDR range allocator: subnets handed out
 * lowest first and never twice, occupied subnets (rebuilt from existing
 * nodes) skipped, release makes a subnet available again, exhaustion,
 * and bad flag values rejected.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "controllers/core_logic.h"

static void test_allocate_never_twice(void **state)
{
  char err[128], out[64];
  struct cidr_set *s = cidr_set_new("10.244.0.0/16", 24, err, sizeof err);
  assert_non_null(s);
  /* existing nodes already hold .0 and .2 */
  assert_int_equal(cidr_set_occupy(s, "10.244.0.0/24"), 0);
  assert_int_equal(cidr_set_occupy(s, "10.244.2.0/24"), 0);
  assert_int_equal(cidr_set_allocate(s, out, sizeof out), 0);
  assert_string_equal(out, "10.244.1.0/24");
  assert_int_equal(cidr_set_allocate(s, out, sizeof out), 0);
  assert_string_equal(out, "10.244.3.0/24");
  assert_int_equal(cidr_set_used(s), 4);
  /* release and get it back */
  assert_int_equal(cidr_set_release(s, "10.244.1.0/24"), 0);
  assert_int_equal(cidr_set_allocate(s, out, sizeof out), 0);
  assert_string_equal(out, "10.244.1.0/24");
  /* foreign subnets are refused */
  assert_int_equal(cidr_set_occupy(s, "10.245.0.0/24"), -EINVAL);
  assert_int_equal(cidr_set_occupy(s, "10.244.0.0/25"), -EINVAL);
  /* 256 subnets in all: fill the rest, then exhaustion */
  char seen[256] = {0};
  seen[0] = seen[1] = seen[2] = seen[3] = 1;
  for (int i = 4; i < 256; i++) {
    assert_int_equal(cidr_set_allocate(s, out, sizeof out), 0);
    unsigned a, b, c, d;
    assert_int_equal(sscanf(out, "%u.%u.%u.%u/24", &a, &b, &c, &d), 4);
    assert_false(seen[c]);
    seen[c] = 1;
  }
  assert_int_equal(cidr_set_allocate(s, out, sizeof out), -ENOSPC);
  cidr_set_free(s);
}

static void test_small_and_bad(void **state)
{
  char err[128], out[64];
  struct cidr_set *s = cidr_set_new("192.168.7.0/30", 31, err, sizeof err);
  assert_non_null(s);
  assert_int_equal(cidr_set_allocate(s, out, sizeof out), 0);
  assert_string_equal(out, "192.168.7.0/31");
  assert_int_equal(cidr_set_allocate(s, out, sizeof out), 0);
  assert_string_equal(out, "192.168.7.2/31");
  assert_int_equal(cidr_set_allocate(s, out, sizeof out), -ENOSPC);
  cidr_set_free(s);
  assert_null(cidr_set_new("10.0.0.0/24", 16, err, sizeof err));
  assert_null(cidr_set_new("10.0.0.0", 24, err, sizeof err));
  assert_null(cidr_set_new("nonsense/8", 24, err, sizeof err));
  assert_null(cidr_set_new(NULL, 24, err, sizeof err));
}

/* The service range is kept out of node ranges (upstream occupies it). */
static void test_service_range_occupied(void **state)
{
  (void)state;
  char err[256], cidr[64];
  struct cidr_set *s = cidr_set_new("10.0.0.0/16", 24, err, sizeof err);
  assert_non_null(s);
  assert_int_equal(cidr_set_occupy_overlap(s, "10.0.0.0/20"), 0);
  assert_int_equal(cidr_set_used(s), 16);
  assert_int_equal(cidr_set_allocate(s, cidr, sizeof cidr), 0);
  assert_string_equal(cidr, "10.0.16.0/24");
  /* a range inside one subnet takes that subnet; one outside takes none */
  assert_int_equal(cidr_set_occupy_overlap(s, "10.0.17.128/25"), 0);
  assert_int_equal(cidr_set_allocate(s, cidr, sizeof cidr), 0);
  assert_string_equal(cidr, "10.0.18.0/24");
  size_t used = cidr_set_used(s);
  assert_int_equal(cidr_set_occupy_overlap(s, "10.96.0.0/12"), 0);
  assert_int_equal(cidr_set_used(s), used);
  /* a range larger than the whole cluster CIDR takes all of it */
  assert_int_equal(cidr_set_occupy_overlap(s, "10.0.0.0/8"), 0);
  assert_int_equal(cidr_set_used(s), 256);
  assert_int_equal(cidr_set_occupy_overlap(s, "bad"), -EINVAL);
  cidr_set_free(s);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_allocate_never_twice),
      cmocka_unit_test(test_small_and_bad),
      cmocka_unit_test(test_service_range_occupied),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
