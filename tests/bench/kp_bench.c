/*
 * kp_bench.c - kube-proxy's rule sync at scale, without the API server:
 * SERVICES Services with ENDPOINTS endpoints each are parsed into the
 * model from JSON (as the informers hand them over), then timed:
 *   build   computing the ruleset (kp_proxier_build)
 *   full    writing it into the kernel with libiptc (fresh table)
 *   change  one endpoint of one Service replaced (partial sync)
 *   noop    a sync with nothing changed
 * each with the libiptc breakdown (lock, read, modify, commit).  Run it
 * inside a network namespace made for it (tests/bench/bench_kube_proxy.sh
 * does): it rewrites that namespace's filter, nat and raw tables.  The
 * rendered rules go to RULES_OUT for iptables-legacy-restore to load the
 * same set.  Prints figures; never decides pass or fail.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "iptc.h"
#include "kube/json.h"
#include "model.h"
#include "proxier.h"
#include "ruleset.h"

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds (user + system) of this process so far: wall time on a
 * shared machine says as much about the neighbours as about us */
static double cpu_s(void)
{
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return (double)u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + (double)u.ru_stime.tv_sec + u.ru_stime.tv_usec / 1e6;
}

static long status_kb(const char *field)
{
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, field, strlen(field))) v = atol(line + strlen(field) + 1);
  if (f) fclose(f);
  return v;
}

static json_t *service(int i)
{
  char ns[32], name[32], ip[32];
  snprintf(ns, sizeof ns, "ns%d", i % 100);
  snprintf(name, sizeof name, "svc-%d", i);
  snprintf(ip, sizeof ip, "10.100.%d.%d", (i >> 8) & 255, i & 255);
  return json_pack("{s:{s:s,s:s},s:{s:s,s:s,s:[{s:s,s:i,s:i,s:s}]}}", "metadata", "namespace", ns, "name", name, "spec",
                   "type", "ClusterIP", "clusterIP", ip, "ports", "name", "http", "port", 80, "targetPort", 8080,
                   "protocol", "TCP");
}

static json_t *slice(int i, int neps, int variant)
{
  char ns[32], name[32], svc[32];
  snprintf(ns, sizeof ns, "ns%d", i % 100);
  snprintf(name, sizeof name, "svc-%d-abcde", i);
  snprintf(svc, sizeof svc, "svc-%d", i);
  json_t *eps = json_array();
  for (int j = 0; j < neps; j++) {
    int idx = i * neps + j + (j == 0 ? variant * 7919 * neps : 0);
    char ip[32], node[32];
    snprintf(ip, sizeof ip, "10.%d.%d.%d", 128 + ((idx >> 16) & 127), (idx >> 8) & 255, idx & 255);
    snprintf(node, sizeof node, "node-%d", idx % 50);
    json_array_append_new(eps, json_pack("{s:[s],s:{s:b,s:b,s:b},s:s}", "addresses", ip, "conditions", "ready", 1,
                                         "serving", 1, "terminating", 0, "nodeName", node));
  }
  return json_pack("{s:{s:s,s:s,s:{s:s}},s:s,s:[{s:s,s:i,s:s}],s:o}", "metadata", "namespace", ns, "name", name,
                   "labels", "kubernetes.io/service-name", svc, "addressType", "IPv4", "ports", "name", "http", "port",
                   8080, "protocol", "TCP", "endpoints", eps);
}

static void report(const char *what, double total, double cpu, const struct kp_iptc_result *r)
{
  printf("%-8s %8.3f s wall, %.3f s cpu  (lock %.3f, read %.3f, modify %.3f [create %.3f, write %.3f, stale %.3f], "
         "commit %.3f; "
         "chains written %zu, rules written %zu)\n",
         what, total, cpu, r->lock_s, r->read_s, r->build_s, r->create_s, r->write_s, r->stale_s, r->commit_s,
         r->chains_written, r->rules_written);
}

int main(int argc, char **argv)
{
  if (argc < 4) {
    fprintf(stderr, "usage: %s SERVICES ENDPOINTS RULES_OUT\n", argv[0]);
    return 2;
  }
  int nsvc = atoi(argv[1]), neps = atoi(argv[2]);
  struct kp_model *m = kp_model_new("node-1");
  double t0 = now_s();
  for (int i = 0; i < nsvc; i++) {
    json_t *s = service(i), *e = slice(i, neps, 0);
    kp_model_set_service(m, s);
    kp_model_set_slice(m, e);
    json_decref(s);
    json_decref(e);
  }
  printf("model    %8.3f s  (%d Services x %d endpoints parsed from JSON)\n", now_s() - t0, nsvc, neps);
  struct kp_proxier_config c;
  kp_proxier_config_defaults(&c);
  c.has_cluster_cidr = true;
  kp_cidr_parse("10.128.0.0/9", &c.cluster_cidr, &c.cluster_prefix);
  c.dns_ip = 0x0a60000a;
  struct kp_proxier_stats st;
  t0 = now_s();
  struct kp_ruleset *rs = kp_proxier_build(m, &c, &st);
  double build = now_s() - t0;
  (void)cpu_s;
  size_t total = 0;
  for (int t = 0; t < KP_NTABLES; t++) total += rs->nrules[t];
  printf("build    %8.3f s  (%zu rules: filter %zu, nat %zu, raw %zu; %zu nat chains; large cluster mode %s)\n", build,
         total, rs->nrules[KP_TABLE_FILTER], rs->nrules[KP_TABLE_NAT], rs->nrules[KP_TABLE_RAW],
         rs->nchains[KP_TABLE_NAT], st.large_cluster ? "on" : "off");
  char *text = kp_ruleset_render(rs);
  FILE *f = fopen(argv[3], "w");
  if (f) {
    fputs(text, f);
    fclose(f);
  }
  free(text);

  struct kp_iptc_state *ist = kp_iptc_state_new();
  struct kp_iptc_result r;
  t0 = now_s();
  double c0 = cpu_s();
  if (kp_iptc_apply(ist, rs, true, &r)) {
    fprintf(stderr, "apply: %s\n", r.err);
    return 1;
  }
  report("full", now_s() - t0, cpu_s() - c0, &r);
  kp_ruleset_free(rs);

  /* one endpoint of one Service replaced */
  json_t *e = slice(nsvc / 2, neps, 1);
  kp_model_set_slice(m, e);
  json_decref(e);
  t0 = now_s();
  c0 = cpu_s();
  rs = kp_proxier_build(m, &c, NULL);
  double b2 = now_s() - t0;
  if (kp_iptc_apply(ist, rs, false, &r)) {
    fprintf(stderr, "apply: %s\n", r.err);
    return 1;
  }
  double ch = now_s() - t0;
  report("change", ch, cpu_s() - c0, &r);
  printf("         (of which computing the ruleset %.3f s)\n", b2);
  kp_ruleset_free(rs);

  t0 = now_s();
  c0 = cpu_s();
  rs = kp_proxier_build(m, &c, NULL);
  kp_iptc_apply(ist, rs, false, &r);
  report("noop", now_s() - t0, cpu_s() - c0, &r);
  kp_ruleset_free(rs);
  printf("rss      VmRSS %ld KiB, VmHWM %ld KiB (model and libiptc in one process)\n", status_kb("VmRSS:"),
         status_kb("VmHWM:"));
  kp_iptc_state_free(ist);
  kp_model_free(m);
  return 0;
}
