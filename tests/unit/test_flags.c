/* Tests for kube/flags.h: pflag-compatible parsing, errors and usage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kube/flags.h"

struct opts {
  char *bind;
  int port;
  int64_t big;
  bool verbose_logs;
  bool enabled;
  int64_t resync_ms;
  double qps;
  int v;
};

static struct opts o;

static const struct flag *table(void)
{
  static struct flag flags[10];
  struct flag f[] = {
      {"bind-address", FLAG_STRING, &o.bind, "The IP address to listen on."},
      {"secure-port", FLAG_INT, &o.port, "The port to serve HTTPS on."},
      {"max-size", FLAG_INT64, &o.big, "Largest size."},
      {"logtostderr", FLAG_BOOL, &o.verbose_logs, "Log to stderr."},
      {"enabled", FLAG_BOOL, &o.enabled, "Enable the thing."},
      {"resync-period", FLAG_DURATION, &o.resync_ms, "Resync period."},
      {"kube-api-qps", FLAG_FLOAT, &o.qps, "QPS to use."},
      {"v", FLAG_INT, &o.v, "log level for V logs"},
      {"cluster-name", FLAG_UNSUPPORTED, NULL, "nothing here names cloud resources"},
      {NULL},
  };
  memcpy(flags, f, sizeof f);
  return flags;
}

static void reset(void) { o = (struct opts){.bind = "0.0.0.0", .port = 6443, .enabled = true, .resync_ms = 30000}; }

static int run(const char *args, char *err, size_t errlen)
{
  char *copy = strdup(args);
  static char *argv[32];
  int argc = 0;
  argv[argc++] = "prog";
  for (char *t = strtok(copy, " "); t && argc < 31; t = strtok(NULL, " ")) argv[argc++] = strdup(t);
  free(copy);
  FILE *saved = stdout;
  stdout = fopen("/dev/null", "w");
  int rc = flags_parse(argc, argv, table(), "test program", err, errlen);
  fclose(stdout);
  stdout = saved;
  /* strings point into argv: keep a private copy before freeing */
  static char bindcopy[256];
  snprintf(bindcopy, sizeof bindcopy, "%s", o.bind);
  o.bind = bindcopy;
  for (int i = 1; i < argc; i++) free(argv[i]);
  return rc;
}

static void test_good(void **state)
{
  (void)state;
  char err[256];
  reset();
  assert_int_equal(run("", err, sizeof err), 0);
  assert_string_equal(o.bind, "0.0.0.0");
  assert_int_equal(o.port, 6443);
  assert_int_equal(o.resync_ms, 30000);

  reset();
  assert_int_equal(run("--bind-address=127.0.0.1 --secure-port 0 --max-size=-5 --logtostderr "
                       "--enabled=false --resync-period 1m30s --kube-api-qps=2.5 -v=4",
                       err, sizeof err),
                   0);
  assert_string_equal(o.bind, "127.0.0.1");
  assert_int_equal(o.port, 0);
  assert_int_equal(o.big, -5);
  assert_true(o.verbose_logs);
  assert_false(o.enabled);
  assert_int_equal(o.resync_ms, 90000);
  assert_true(o.qps == 2.5);
  assert_int_equal(o.v, 4);

  reset();
  assert_int_equal(run("--v 2 --enabled=F --logtostderr=1 -bind-address=::1 --", err, sizeof err), 0);
  assert_int_equal(o.v, 2);
  assert_false(o.enabled);
  assert_true(o.verbose_logs);
  assert_string_equal(o.bind, "::1");

  reset();
  assert_int_equal(run("--bind-address= --secure-port=7", err, sizeof err), 0);
  assert_string_equal(o.bind, "");
  assert_int_equal(run("--help", err, sizeof err), 1);
  assert_int_equal(run("-h", err, sizeof err), 1);
}

static void test_bad(void **state)
{
  (void)state;
  struct {
    const char *args;
    const char *err;
  } cases[] = {
      {"--secure-port=abc", "invalid argument \"abc\" for \"--secure-port\" flag: "
                            "strconv.ParseInt: parsing \"abc\": invalid syntax"},
      {"--secure-port 99999999999", "invalid argument \"99999999999\" for \"--secure-port\" "
                                    "flag: strconv.ParseInt: parsing \"99999999999\": value "
                                    "out of range"},
      {"--max-size=1.5", "invalid argument \"1.5\" for \"--max-size\" flag: strconv.ParseInt: "
                         "parsing \"1.5\": invalid syntax"},
      {"--enabled=maybe", "invalid argument \"maybe\" for \"--enabled\" flag: "
                          "strconv.ParseBool: parsing \"maybe\": invalid syntax"},
      {"--resync-period=5", "invalid argument \"5\" for \"--resync-period\" flag: time: "
                            "missing unit in duration \"5\""},
      {"--resync-period=5d", "invalid argument \"5d\" for \"--resync-period\" flag: time: "
                             "unknown unit \"d\" in duration \"5d\""},
      {"--kube-api-qps=fast", "invalid argument \"fast\" for \"--kube-api-qps\" flag: "
                              "strconv.ParseFloat: parsing \"fast\": invalid syntax"},
      {"--foo", "unknown flag: --foo"},
      {"--foo=bar", "unknown flag: --foo"},
      {"-x", "unknown shorthand flag: 'x' in -x"},
      {"--secure-port", "flag needs an argument: --secure-port"},
      {"stray", "unexpected argument \"stray\""},
      {"--v=1 -- stray", "unexpected argument \"stray\""},
      {"-", "unexpected argument \"-\""},
      {"--cluster-name=x", "--cluster-name is not supported yet: nothing here names cloud resources"},
      {"--v=1 --cluster-name x", "--cluster-name is not supported yet: nothing here names cloud resources"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char err[256] = "";
    reset();
    if (run(cases[i].args, err, sizeof err) != -1) fail_msg("%s: accepted", cases[i].args);
    assert_string_equal(err, cases[i].err);
  }
}

static void test_usage(void **state)
{
  (void)state;
  reset();
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  flags_usage(f, "kube-thing", table(), "kube-thing does things.");
  fclose(f);
  const char *want = "kube-thing does things.\n\n"
                     "Usage:\n  kube-thing [flags]\n\nFlags:\n"
                     "      --bind-address string      The IP address to listen on. (default \"0.0.0.0\")\n"
                     "      --cluster-name string      nothing here names cloud resources (not supported yet)\n"
                     "      --enabled                  Enable the thing. (default true)\n"
                     "      --kube-api-qps float64     QPS to use.\n"
                     "      --logtostderr              Log to stderr.\n"
                     "      --max-size int64           Largest size.\n"
                     "      --resync-period duration   Resync period. (default 30s)\n"
                     "      --secure-port int          The port to serve HTTPS on. (default 6443)\n"
                     "      --v int                    log level for V logs\n"
                     "  -h, --help                     help for kube-thing\n";
  assert_string_equal(buf, want);
  free(buf);
}

static void test_given(void **state)
{
  (void)state;
  char *argv[] = {"prog", "--v=2", "-config", "f.yaml", "--port", "1", "--", "--max-pods=3", NULL};
  int argc = 8;
  assert_true(flags_given(argc, argv, "v"));
  assert_true(flags_given(argc, argv, "config"));
  assert_true(flags_given(argc, argv, "port"));
  assert_false(flags_given(argc, argv, "po"));       /* a prefix is not the flag */
  assert_false(flags_given(argc, argv, "f.yaml"));   /* a value is not a flag */
  assert_false(flags_given(argc, argv, "max-pods")); /* after "--" */
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_given),
      cmocka_unit_test(test_good),
      cmocka_unit_test(test_bad),
      cmocka_unit_test(test_usage),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
