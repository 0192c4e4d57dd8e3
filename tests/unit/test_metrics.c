/* Tests for kube/metrics.h: Prometheus text exposition. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kube/metrics.h"

static void test_counters_gauges(void **state)
{
  (void)state;
  struct metrics *m = metrics_new();
  metrics_counter_add(m, "apiserver_request_total", "Counter of apiserver requests.", "verb=\"GET\",code=\"200\"", 1);
  metrics_counter_add(m, "apiserver_request_total", "ignored help", "verb=\"GET\",code=\"200\"", 2);
  metrics_counter_add(m, "apiserver_request_total", NULL, "verb=\"DELETE\",code=\"404\"", 1);
  metrics_counter_add(m, "apiserver_request_total", NULL, "verb=\"DELETE\",code=\"404\"", -5);
  metrics_gauge_set(m, "up", "Whether up.\nSecond line \\ end", NULL, 1);
  metrics_gauge_set(m, "temperature", "T.", "", 21.5);
  metrics_gauge_set(m, "temperature", "T.", "", -0.25);
  /* A name already used with another type is left alone. */
  metrics_gauge_set(m, "apiserver_request_total", "x", "", 7);
  metrics_counter_add(m, "big_total", "Big.", NULL, 1e21);
  size_t len = 0;
  char *out = metrics_render(m, &len);
  const char *want = "# HELP apiserver_request_total Counter of apiserver requests.\n"
                     "# TYPE apiserver_request_total counter\n"
                     "apiserver_request_total{verb=\"DELETE\",code=\"404\"} 1\n"
                     "apiserver_request_total{verb=\"GET\",code=\"200\"} 3\n"
                     "# HELP big_total Big.\n"
                     "# TYPE big_total counter\n"
                     "big_total 1e+21\n"
                     "# HELP temperature T.\n"
                     "# TYPE temperature gauge\n"
                     "temperature -0.25\n"
                     "# HELP up Whether up.\\nSecond line \\\\ end\n"
                     "# TYPE up gauge\n"
                     "up 1\n";
  assert_string_equal(out, want);
  assert_int_equal(len, strlen(want));
  free(out);
  metrics_free(m);
}

static void test_histograms(void **state)
{
  (void)state;
  struct metrics *m = metrics_new();
  const double buckets[] = {0.1, 1, 10};
  double obs[] = {0.05, 0.1, 0.5, 3, 100};
  for (size_t i = 0; i < 5; i++)
    metrics_histogram_observe(m, "req_seconds", "Latency.", "verb=\"GET\"", buckets, 3, obs[i]);
  metrics_histogram_observe(m, "plain_seconds", "Plain.", NULL, NULL, 0, 0.003);
  char *out = metrics_render(m, NULL);
  const char *want = "# HELP plain_seconds Plain.\n"
                     "# TYPE plain_seconds histogram\n"
                     "plain_seconds_bucket{le=\"0.005\"} 1\n"
                     "plain_seconds_bucket{le=\"0.01\"} 1\n"
                     "plain_seconds_bucket{le=\"0.025\"} 1\n"
                     "plain_seconds_bucket{le=\"0.05\"} 1\n"
                     "plain_seconds_bucket{le=\"0.1\"} 1\n"
                     "plain_seconds_bucket{le=\"0.25\"} 1\n"
                     "plain_seconds_bucket{le=\"0.5\"} 1\n"
                     "plain_seconds_bucket{le=\"1\"} 1\n"
                     "plain_seconds_bucket{le=\"2.5\"} 1\n"
                     "plain_seconds_bucket{le=\"5\"} 1\n"
                     "plain_seconds_bucket{le=\"10\"} 1\n"
                     "plain_seconds_bucket{le=\"30\"} 1\n"
                     "plain_seconds_bucket{le=\"60\"} 1\n"
                     "plain_seconds_bucket{le=\"+Inf\"} 1\n"
                     "plain_seconds_sum 0.003\n"
                     "plain_seconds_count 1\n"
                     "# HELP req_seconds Latency.\n"
                     "# TYPE req_seconds histogram\n"
                     "req_seconds_bucket{verb=\"GET\",le=\"0.1\"} 2\n"
                     "req_seconds_bucket{verb=\"GET\",le=\"1\"} 3\n"
                     "req_seconds_bucket{verb=\"GET\",le=\"10\"} 4\n"
                     "req_seconds_bucket{verb=\"GET\",le=\"+Inf\"} 5\n"
                     "req_seconds_sum{verb=\"GET\"} 103.65\n"
                     "req_seconds_count{verb=\"GET\"} 5\n";
  assert_string_equal(out, want);
  free(out);
  metrics_free(m);

  m = metrics_new();
  out = metrics_render(m, NULL);
  assert_string_equal(out, "");
  free(out);
  metrics_free(m);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_counters_gauges),
      cmocka_unit_test(test_histograms),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
