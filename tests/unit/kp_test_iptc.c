/* The libiptc writer against the real kernel, inside a network namespace
 * this test process makes for itself (unshare; it vanishes with the
 * process): what iptables-legacy-save prints must be exactly what the
 * ruleset renders; other programs' chains and rules stay; unchanged
 * chains are not rewritten; stale chains and duplicate jumps go away;
 * --cleanup leaves no chain of ours.  Skipped without CAP_NET_ADMIN or
 * iptables-legacy-save. */
#define _GNU_SOURCE
#include "kp_test_util.h"

#include <event2/buffer.h>
#include <sched.h>
#include <unistd.h>

#include "iptc.h"
#include "kube/log.h"

static char lockfile[64];

static int setup(void **state)
{
  (void)state;
  if (geteuid() != 0 || access("/usr/sbin/iptables-legacy-save", X_OK) != 0 || unshare(CLONE_NEWNET) != 0) {
    print_message("skipped: needs root, iptables-legacy and unshare(CLONE_NEWNET)\n");
    return -1;
  }
  snprintf(lockfile, sizeof lockfile, "/tmp/kp-test-xtables-%d.lock", (int)getpid());
  setenv("XTABLES_LOCKFILE", lockfile, 1);
  return 0;
}

static int teardown(void **state)
{
  (void)state;
  unlink(lockfile);
  return 0;
}

static char *run(const char *cmd)
{
  FILE *f = popen(cmd, "r");
  assert_non_null(f);
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap);
  size_t n;
  while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
    len += n;
    if (cap - len < 4096) buf = realloc(buf, cap *= 2);
  }
  buf[len] = 0;
  assert_int_equal(pclose(f), 0);
  return buf;
}

/* iptables-save of one table without comments, counters and built-in
 * chain policies, and without lines matching skip (other programs'). */
static char *kernel_table(const char *table, const char *skip)
{
  char cmd[256];
  snprintf(cmd, sizeof cmd, "iptables-legacy-save -t %s | grep -v -e '^#' -e '^:[A-Z]* [A-Z]' %s%s", table,
           skip ? "| grep -v " : "", skip ? skip : "");
  return run(cmd);
}

static char *render_table(const struct kp_ruleset *rs, enum kp_table t)
{
  struct evbuffer *b = evbuffer_new();
  kp_ruleset_render_table(rs, t, b);
  size_t len = evbuffer_get_length(b);
  char *s = malloc(len + 1);
  evbuffer_remove(b, s, len);
  s[len] = 0;
  evbuffer_free(b);
  return s;
}

static void assert_kernel_equals(const struct kp_ruleset *rs, const char *skip)
{
  for (int t = 0; t < KP_NTABLES; t++) {
    if (!rs->nchains[t]) continue;
    char *want = render_table(rs, (enum kp_table)t), *got = kernel_table(kp_table_name((enum kp_table)t), skip);
    kpt_assert_text(want, got);
    free(want);
    free(got);
  }
}

static void apply(struct kp_iptc_state *st, const struct kp_ruleset *rs, bool full, struct kp_iptc_result *res)
{
  int rc = kp_iptc_apply(st, rs, full, res);
  if (rc) fail_msg("apply: %s", res->err);
}

static struct kp_ruleset *overall(struct kp_model *m, bool dns)
{
  struct kp_proxier_config c;
  kpt_upstream_config(&c);
  c.random_fully = true;
  if (dns) kp_ip_parse("10.96.0.10", &c.dns_ip);
  return kp_proxier_build(m, &c, NULL);
}

static void test_kernel_matches_render(void **state)
{
  (void)state;
  /* someone else's chains and rules, as docker and the kubelet keep them */
  char *out =
      run("printf '*nat\\n:DOCKER - [0:0]\\n:KUBELET-MASQ - [0:0]\\n"
          "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER\\n"
          "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE\\n"
          "-A KUBELET-MASQ -s 10.244.1.0/24 ! -d 10.244.0.0/16 -j MASQUERADE\\n"
          "-A POSTROUTING -j KUBELET-MASQ\\nCOMMIT\\n*filter\\n:DOCKER-USER - [0:0]\\n"
          "-A FORWARD -j DOCKER-USER\\n-A DOCKER-USER -j RETURN\\nCOMMIT\\n' | iptables-legacy-restore --noflush");
  free(out);
  char *before_nat = run("iptables-legacy-save -t nat | grep -e DOCKER -e KUBELET");
  char *before_filter = run("iptables-legacy-save -t filter | grep DOCKER");

  struct kp_model *m = kpt_overall_model();
  struct kp_ruleset *rs = overall(m, true);
  struct kp_iptc_state *st = kp_iptc_state_new();
  struct kp_iptc_result res;
  apply(st, rs, true, &res);
  assert_true(res.chains_written > 20);
  assert_kernel_equals(rs, "-e DOCKER -e KUBELET -e 'MASQUERADE$'");

  /* theirs untouched, ours above theirs in the built-in chains */
  char *after_nat = run("iptables-legacy-save -t nat | grep -e DOCKER -e KUBELET");
  char *after_filter = run("iptables-legacy-save -t filter | grep DOCKER");
  assert_string_equal(before_nat, after_nat);
  assert_string_equal(before_filter, after_filter);
  char *pre = run("iptables-legacy-save -t nat | grep '^-A PREROUTING' | head -1");
  assert_non_null(strstr(pre, "KUBE-SERVICES"));

  /* nothing changed: no table even read, same text */
  apply(st, rs, false, &res);
  assert_int_equal(res.chains_written, 0);
  assert_int_equal(res.rules_written, 0);
  assert_int_equal(res.tables_skipped, 3);
  assert_true(kp_iptc_untouched(st));
  assert_kernel_equals(rs, "-e DOCKER -e KUBELET -e 'MASQUERADE$'");

  /* anyone's change to a table is seen without reading it */
  out = run("iptables-legacy -t filter -A DOCKER-USER -s 192.0.2.9 -j RETURN");
  free(out);
  assert_false(kp_iptc_untouched(st));
  apply(st, rs, false, &res);
  assert_int_equal(res.tables_skipped, 2);
  assert_true(kp_iptc_untouched(st));

  /* a chain of ours flushed by hand (the canary stays): the next sync,
   * seeing the table touched, finds it by its rule count and rewrites it */
  out = run("iptables-legacy -t nat -F KUBE-SVC-XPGD46QRK7WJZT7O");
  free(out);
  assert_false(kp_iptc_untouched(st));
  apply(st, rs, false, &res);
  assert_int_equal(res.chains_written, 1);
  assert_kernel_equals(rs, "-e DOCKER -e KUBELET -e 'MASQUERADE$'");

  /* someone flushes the nat table's chains (the canary goes too): the
   * next sync, although partial, rewrites everything */
  out = run("iptables-legacy -t nat -F KUBE-SERVICES && iptables-legacy -t nat -F KUBE-PROXY-CANARY"
            " && iptables-legacy -t nat -X KUBE-PROXY-CANARY");
  free(out);
  apply(st, rs, false, &res);
  assert_true(res.chains_written > 20);
  assert_kernel_equals(rs, "-e DOCKER -e KUBELET -e 'MASQUERADE$'");

  /* one endpoint more: its SEP chain and the service's SVC chain only */
  kpt_add_slice(m, SLICE("ns1", "svc1",
                         "\"endpoints\":[{\"addresses\":[\"10.180.0.1\"]},{\"addresses\":[\"10.180.0.9\"]}]," P80));
  struct kp_ruleset *rs2 = overall(m, true);
  apply(st, rs2, false, &res);
  assert_int_equal(res.chains_written, 2);
  assert_kernel_equals(rs2, "-e DOCKER -e KUBELET -e 'MASQUERADE$'");

  /* a service gone: its chains deleted */
  json_t *svc = kpt_json(SVC("ns3", "svc3", "{}"));
  assert_true(kp_model_delete_service(m, svc));
  json_decref(svc);
  struct kp_ruleset *rs3 = overall(m, true);
  apply(st, rs3, false, &res);
  assert_int_equal(res.chains_deleted, 3); /* SVC, EXT, SEP of ns3/svc3 */
  assert_kernel_equals(rs3, "-e DOCKER -e KUBELET -e 'MASQUERADE$'");

  /* a duplicate jump (an earlier run's) and a stale chain of ours */
  out = run("iptables-legacy -t nat -A PREROUTING -m comment --comment 'kubernetes service portals' -j KUBE-SERVICES"
            " && iptables-legacy -t nat -N KUBE-SVC-AAAAAAAAAAAAAAAA && iptables-legacy -t nat -A "
            "KUBE-SVC-AAAAAAAAAAAAAAAA -j RETURN");
  free(out);
  apply(st, rs3, false, &res);
  assert_int_equal(res.chains_deleted, 1);
  assert_kernel_equals(rs3, "-e DOCKER -e KUBELET -e 'MASQUERADE$'");

  /* --cleanup: no chain of ours, theirs intact */
  char err[256] = "";
  assert_int_equal(kp_iptc_cleanup(err, sizeof err), 0);
  char *left = run("iptables-legacy-save | grep -c -e KUBE- || true");
  assert_string_equal(left, "0\n");
  char *after2 = run("iptables-legacy-save -t nat | grep -e DOCKER -e KUBELET");
  assert_string_equal(before_nat, after2);

  free(left);
  free(after2);
  free(pre);
  free(before_nat);
  free(before_filter);
  free(after_nat);
  free(after_filter);
  kp_ruleset_free(rs);
  kp_ruleset_free(rs2);
  kp_ruleset_free(rs3);
  kp_iptc_state_free(st);
  kp_model_free(m);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_kernel_matches_render),
  };
  if (getenv("KP_TEST_V")) klog_set_verbosity(5);
  if (setup(NULL) != 0) return 0;
  int rc = cmocka_run_group_tests(tests, NULL, teardown);
  return rc;
}
