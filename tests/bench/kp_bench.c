/*
 * kp_bench.c - kube-proxy's rule sync at scale, without the API server:
 * SERVICES Services with ENDPOINTS endpoints each are parsed into the
 * model from JSON (as the informers hand them over), then timed:
 *   build   computing the ruleset (kp_proxier_build)
 *   full    writing it into the kernel with libiptc (fresh table)
 *   change  one endpoint of one Service replaced (partial sync)
 *   noop    a sync with nothing changed
 * each with the libiptc breakdown (lock, read, modify, commit), its CPU
 * seconds, the peak (VmHWM, reset before each phase) and steady (VmRSS)
 * memory and the size of the tables in the kernel.  Run it
 * inside a network namespace made for it (tests/bench/bench_kube_proxy.sh
 * does): it rewrites that namespace's filter, nat and raw tables.  The
 * rendered rules go to RULES_OUT for iptables-legacy-restore to load the
 * same set.  Prints figures; never decides pass or fail.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
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

/* Resets VmHWM to the current RSS (Linux 4.0+), so that each phase's
 * peak is its own */
static void reset_peak(void)
{
  FILE *f = fopen("/proc/self/clear_refs", "w");
  if (f) {
    fputs("5", f);
    fclose(f);
  }
}

struct phase {
  double t0, c0, build_s, build_cpu;
  struct kp_ruleset *rs;
};
/* One sync as the syncer does it: compute the ruleset, apply it, free
 * it and hand the commit's buffers back (malloc_trim). */
static int sync_phase(const char *what, struct kp_model *m, const struct kp_proxier_config *c,
                      struct kp_iptc_state *ist, bool full, const char *rules_out)
{
  struct phase p = {now_s(), cpu_s(), 0, 0, NULL};
  reset_peak();
  long rss0 = status_kb("VmRSS:");
  struct kp_proxier_stats st;
  p.rs = kp_proxier_build(m, c, &st);
  p.build_s = now_s() - p.t0;
  p.build_cpu = cpu_s() - p.c0;
  size_t total = 0, arena = p.rs->arena.used_bytes, nat_chains = p.rs->nchains[KP_TABLE_NAT];
  for (int t = 0; t < KP_NTABLES; t++) total += p.rs->nrules[t];
  if (rules_out) { /* the same rules for iptables-legacy-restore (not timed, peak reset after) */
    char *text = kp_ruleset_render(p.rs);
    FILE *f = fopen(rules_out, "w");
    if (f) {
      fputs(text, f);
      fclose(f);
    }
    free(text);
    malloc_trim(0);
    reset_peak();
  }
  struct kp_iptc_result r;
  double a0 = now_s(), ac0 = cpu_s();
  if (kp_iptc_apply_consume(ist, p.rs, full, &r)) { /* as the syncer's worker does: frees the ruleset */
    fprintf(stderr, "apply: %s\n", r.err);
    return 1;
  }
  double apply_s = now_s() - a0, apply_cpu = cpu_s() - ac0;
  malloc_trim(0);
  double wall = now_s() - p.t0, cpu = cpu_s() - p.c0;
  if (rules_out) { /* leave the rendering out of the figures */
    wall = p.build_s + apply_s;
    cpu = p.build_cpu + apply_cpu;
  }
  long hwm = status_kb("VmHWM:"), rss = status_kb("VmRSS:");
  printf("%-7s cpu %.3f s, wall %.3f s: build %.3f s cpu (%zu rules, %zu nat chains, arena %zu KiB%s), "
         "apply %.3f s cpu / %.3f s wall (lock %.3f, read %.3f, modify %.3f [create %.3f, write %.3f, stale %.3f], "
         "commit %.3f; chains written %zu, rules written %zu)\n",
         what, cpu, wall, p.build_cpu, total, nat_chains, arena / 1024, st.large_cluster ? ", large cluster mode" : "",
         apply_cpu, apply_s, r.lock_s, r.read_s, r.build_s, r.create_s, r.write_s, r.stale_s, r.commit_s,
         r.chains_written, r.rules_written);
  printf("%-7s memory: tables in the kernel %zu KiB; VmRSS before %ld KiB, peak VmHWM %ld KiB, after %ld KiB\n", what,
         r.table_bytes / 1024, rss0, hwm, rss);
  printf("FIGURES %s cpu=%.3f wall=%.3f hwm_kib=%ld rss_kib=%ld table_kib=%zu\n", what, cpu, wall, hwm, rss,
         r.table_bytes / 1024);
  return 0;
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
  malloc_trim(0);
  printf("model   %.3f s (%d Services x %d endpoints parsed from JSON); VmRSS %ld KiB\n", now_s() - t0, nsvc, neps,
         status_kb("VmRSS:"));
  struct kp_proxier_config c;
  kp_proxier_config_defaults(&c);
  c.has_cluster_cidr = true;
  kp_cidr_parse("10.128.0.0/9", &c.cluster_cidr, &c.cluster_prefix);
  c.dns_ip = 0x0a60000a;
  struct kp_iptc_state *ist = kp_iptc_state_new();
  if (sync_phase("full", m, &c, ist, true, argv[3])) return 1;
  /* one endpoint of one Service replaced */
  json_t *e = slice(nsvc / 2, neps, 1);
  kp_model_set_slice(m, e);
  json_decref(e);
  if (sync_phase("change", m, &c, ist, false, NULL)) return 1;
  if (sync_phase("noop", m, &c, ist, false, NULL)) return 1;
  kp_iptc_state_free(ist);
  kp_model_free(m);
  return 0;
}
