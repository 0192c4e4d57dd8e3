/*
 * kl_test_network_ipam.c - the host-local allocator of kubelet/network:
 * CIDR parsing (good and bad input), no address handed out twice, the same
 * address for the same pod, state kept across a reopen (a kubelet restart),
 * release, no immediate reuse of a released address, a full range, gc.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipam.h"

static char dir[256];

static int setup(void **state)
{
  snprintf(dir, sizeof dir, "/tmp/kl-ipam-test.XXXXXX");
  assert_non_null(mkdtemp(dir));
  strcat(dir, "/network/ipam");
  return 0;
}

static int teardown(void **state)
{
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%.*s'", (int)(strlen(dir) - strlen("/network/ipam")), dir);
  return system(cmd);
}

static const char *fmt(uint32_t ip)
{
  static char buf[4][32];
  static int i;
  i = (i + 1) % 4;
  kl_ip_format(ip, buf[i], sizeof buf[i]);
  return buf[i];
}

static void test_cidr_parse_table(void **state)
{
  static const struct {
    const char *in;
    int rc;
    const char *net;
    int prefix;
  } cases[] = {
      {"10.244.1.0/24", 0, "10.244.1.0", 24}, {"10.244.1.77/24", 0, "10.244.1.0", 24}, /* host bits cleared */
      {"0.0.0.0/0", 0, "0.0.0.0", 0},         {"192.0.2.4/30", 0, "192.0.2.4", 30},
      {"10.244.1.0", -EINVAL, NULL, 0},       {"10.244.1.0/33", -EINVAL, NULL, 0},
      {"10.244.1.0/-1", -EINVAL, NULL, 0},    {"10.244.1.0/", -EINVAL, NULL, 0},
      {"10.244.1.0/24x", -EINVAL, NULL, 0},   {"10.244.1/24", -EINVAL, NULL, 0},
      {"fd00::/64", -EINVAL, NULL, 0},        {"", -EINVAL, NULL, 0},
      {"300.1.1.1/8", -EINVAL, NULL, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uint32_t net = 0;
    int prefix = -1;
    int rc = kl_cidr_parse(cases[i].in, &net, &prefix);
    assert_int_equal(rc, cases[i].rc);
    if (rc == 0) {
      assert_string_equal(fmt(net), cases[i].net);
      assert_int_equal(prefix, cases[i].prefix);
    }
  }
  assert_int_equal(kl_cidr_parse(NULL, &(uint32_t){0}, &(int){0}), -EINVAL);
}

static void test_allocate_distinct_and_stable(void **state)
{
  struct kl_ipam a;
  uint32_t ip1, ip2, again;
  assert_int_equal(kl_ipam_open(&a, dir), 0);
  assert_int_equal(kl_ipam_allocate(&a, "pod-1", &ip1), -EAGAIN); /* no range yet */
  assert_int_equal(kl_ipam_set_range(&a, "10.244.1.0/24"), 0);
  assert_int_equal(kl_ipam_allocate(&a, "pod-1", &ip1), 0);
  assert_string_equal(fmt(ip1), "10.244.1.2"); /* .1 is the bridge */
  assert_int_equal(kl_ipam_allocate(&a, "pod-2", &ip2), 0);
  assert_string_equal(fmt(ip2), "10.244.1.3");
  assert_int_equal(kl_ipam_allocate(&a, "pod-1", &again), 0);
  assert_int_equal(again, ip1);

  /* A restarted kubelet sees the same state. */
  struct kl_ipam b;
  assert_int_equal(kl_ipam_open(&b, dir), 0);
  assert_int_equal(kl_ipam_find(&b, "pod-2", &again), 0);
  assert_int_equal(again, ip2);
  assert_int_equal(kl_ipam_find(&b, "pod-3", &again), -ENOENT);
  assert_int_equal(kl_ipam_set_range(&b, "10.244.1.0/24"), 0);
  assert_int_equal(kl_ipam_allocate(&b, "pod-3", &again), 0);
  assert_string_equal(fmt(again), "10.244.1.4");
}

static void test_release_not_reused_at_once(void **state)
{
  struct kl_ipam a;
  uint32_t ip1, ip2, ip3;
  assert_int_equal(kl_ipam_open(&a, dir), 0);
  assert_int_equal(kl_ipam_set_range(&a, "10.244.1.0/24"), 0);
  assert_int_equal(kl_ipam_allocate(&a, "pod-1", &ip1), 0);
  assert_int_equal(kl_ipam_allocate(&a, "pod-2", &ip2), 0);
  assert_int_equal(kl_ipam_release(&a, "pod-1"), 0);
  assert_int_equal(kl_ipam_release(&a, "pod-1"), 0); /* idempotent */
  assert_int_equal(kl_ipam_find(&a, "pod-1", &ip3), -ENOENT);
  assert_int_equal(kl_ipam_allocate(&a, "pod-3", &ip3), 0);
  assert_string_equal(fmt(ip3), "10.244.1.4");
}

static void test_full_range_and_wrap(void **state)
{
  struct kl_ipam a;
  uint32_t ip;
  assert_int_equal(kl_ipam_open(&a, dir), 0);
  /* /29: .0 network, .1 gateway, .7 broadcast: five pods fit (.2-.6). */
  assert_int_equal(kl_ipam_set_range(&a, "10.244.9.0/29"), 0);
  char uid[16];
  for (int i = 0; i < 5; i++) {
    snprintf(uid, sizeof uid, "pod-%d", i);
    assert_int_equal(kl_ipam_allocate(&a, uid, &ip), 0);
  }
  assert_string_equal(fmt(ip), "10.244.9.6");
  assert_int_equal(kl_ipam_allocate(&a, "pod-x", &ip), -ENOSPC);
  assert_int_equal(kl_ipam_release(&a, "pod-1"), 0);
  assert_int_equal(kl_ipam_allocate(&a, "pod-x", &ip), 0); /* wraps to the freed one */
  assert_string_equal(fmt(ip), "10.244.9.3");
  assert_int_equal(kl_ipam_set_range(&a, "10.244.9.0/31"), -EINVAL);
  assert_int_equal(kl_ipam_allocate(&a, "", &ip), -EINVAL);
  assert_int_equal(kl_ipam_allocate(&a, "bad\nuid", &ip), -EINVAL);
}

static bool alive_even(const char *uid, void *arg)
{
  (void)arg;
  size_t n = strlen(uid);
  return n && (uid[n - 1] - '0') % 2 == 0;
}

static void test_gc_and_empty_files(void **state)
{
  struct kl_ipam a;
  uint32_t ip;
  assert_int_equal(kl_ipam_open(&a, dir), 0);
  assert_int_equal(kl_ipam_set_range(&a, "10.244.1.0/24"), 0);
  char uid[16];
  for (int i = 0; i < 4; i++) {
    snprintf(uid, sizeof uid, "pod-%d", i);
    assert_int_equal(kl_ipam_allocate(&a, uid, &ip), 0);
  }
  /* A crash between create and write leaves an empty address file. */
  char path[512];
  snprintf(path, sizeof path, "%s/10.244.1.200", dir);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fclose(f);
  assert_int_equal(kl_ipam_gc(&a, alive_even, NULL), 3); /* pod-1, pod-3, the empty one */
  assert_int_equal(kl_ipam_find(&a, "pod-0", &ip), 0);
  assert_int_equal(kl_ipam_find(&a, "pod-1", &ip), -ENOENT);
  assert_int_not_equal(access(path, F_OK), 0);
  assert_int_equal(kl_ipam_clear(&a), 0);
  assert_int_equal(kl_ipam_find(&a, "pod-0", &ip), -ENOENT);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cidr_parse_table),
      cmocka_unit_test_setup_teardown(test_allocate_distinct_and_stable, setup, teardown),
      cmocka_unit_test_setup_teardown(test_release_not_reused_at_once, setup, teardown),
      cmocka_unit_test_setup_teardown(test_full_range_and_wrap, setup, teardown),
      cmocka_unit_test_setup_teardown(test_gc_and_empty_files, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
