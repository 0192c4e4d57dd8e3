/*
 * dns.c - pod DNS configuration and /etc/hosts (see dns.h).  Pure
 * functions; unit-tested in tests/unit/kl_test_dns.c.
 */
#define _GNU_SOURCE
#include "dns.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/json.h"
#include "kube/xalloc.h"

#define MAX_NAMESERVERS 3
#define MAX_SEARCHES 32
#define MAX_SEARCH_CHARS 2048

static void append_unique(json_t *arr, const char *s)
{
  size_t i;
  json_t *v;
  json_array_foreach (arr, i, v)
    if (!strcmp(json_string_value(v), s)) return;
  json_array_append_new(arr, json_string(s));
}

void kl_parse_resolv_conf(const char *text, json_t **servers, json_t **searches, json_t **options)
{
  *servers = json_array();
  *searches = json_array();
  *options = json_array();
  if (!text) return;
  char *dup = xstrdup(text), *save = NULL;
  for (char *line = strtok_r(dup, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char *hash = strpbrk(line, "#;");
    if (hash) *hash = 0;
    char *ws = NULL, *word = strtok_r(line, " \t\r", &ws);
    if (!word) continue;
    bool search = !strcmp(word, "search") || !strcmp(word, "domain");
    if (search) json_array_clear(*searches); /* the last search/domain line wins */
    json_t *dst = !strcmp(word, "nameserver") ? *servers
                  : search                    ? *searches
                  : !strcmp(word, "options")  ? *options
                                              : NULL;
    if (!dst) continue;
    for (char *w = strtok_r(NULL, " \t\r", &ws); w; w = strtok_r(NULL, " \t\r", &ws)) {
      append_unique(dst, w);
      if (dst == *servers) break; /* one address per nameserver line */
    }
  }
  free(dup);
}

/* name of "name:value" / "name" */
static size_t opt_name_len(const char *o)
{
  const char *c = strchr(o, ':');
  return c ? (size_t)(c - o) : strlen(o);
}

static void merge_options(json_t *opts, const json_t *pod_opts)
{
  size_t i;
  json_t *o;
  json_array_foreach (pod_opts, i, o) {
    const char *name = kj_get_str(o, "name");
    if (!name) continue;
    char buf[512];
    const char *val = kj_get_str(o, "value");
    if (val) snprintf(buf, sizeof buf, "%s:%s", name, val);
    else snprintf(buf, sizeof buf, "%s", name);
    size_t j;
    json_t *e;
    bool replaced = false;
    json_array_foreach (opts, j, e) {
      const char *s = json_string_value(e);
      if (opt_name_len(s) == strlen(name) && !strncmp(s, name, strlen(name))) {
        json_array_set_new(opts, j, json_string(buf));
        replaced = true;
        break;
      }
    }
    if (!replaced) json_array_append_new(opts, json_string(buf));
  }
}

static void fit_limits(json_t *cfg, struct kl_dns_notes *notes)
{
  json_t *servers = json_object_get(cfg, "servers"), *searches = json_object_get(cfg, "searches");
  if (json_array_size(servers) > MAX_NAMESERVERS) {
    while (json_array_size(servers) > MAX_NAMESERVERS) json_array_remove(servers, MAX_NAMESERVERS);
    char line[300] = "";
    size_t i;
    json_t *v;
    json_array_foreach (servers, i, v)
      snprintf(line + strlen(line), sizeof line - strlen(line), "%s%s", i ? " " : "", json_string_value(v));
    snprintf(notes->limit_message, sizeof notes->limit_message,
             "Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: %s",
             line);
  }
  size_t chars = 0, keep = 0;
  for (; keep < json_array_size(searches) && keep < MAX_SEARCHES; keep++) {
    size_t n = strlen(json_string_value(json_array_get(searches, keep))) + (keep ? 1 : 0);
    if (chars + n > MAX_SEARCH_CHARS) break;
    chars += n;
  }
  if (keep < json_array_size(searches)) {
    while (json_array_size(searches) > keep) json_array_remove(searches, keep);
    char line[MAX_SEARCH_CHARS + 1] = "";
    size_t i;
    json_t *v;
    json_array_foreach (searches, i, v)
      snprintf(line + strlen(line), sizeof line - strlen(line), "%s%s", i ? " " : "", json_string_value(v));
    snprintf(
        notes->limit_message, sizeof notes->limit_message,
        "Search Line limits were exceeded, some search paths have been omitted, the applied search line is: %.300s",
        line);
  }
}

json_t *kl_dns_config(const json_t *pod, const json_t *cluster_dns, const char *domain, const char *host_resolv,
                      struct kl_dns_notes *notes)
{
  memset(notes, 0, sizeof *notes);
  const char *policy = kj_get_str(pod, "spec.dnsPolicy") ?: "ClusterFirst";
  bool host_net = kj_get_bool(pod, "spec.hostNetwork", false);
  bool cluster = !strcmp(policy, "ClusterFirstWithHostNet") || (!strcmp(policy, "ClusterFirst") && !host_net);
  if (cluster && json_array_size(cluster_dns) == 0) {
    notes->missing_cluster_dns = true;
    cluster = false;
  }
  bool none = !strcmp(policy, "None");
  json_t *hs, *hsearch, *hopts;
  kl_parse_resolv_conf(none ? NULL : host_resolv, &hs, &hsearch, &hopts);
  json_t *cfg;
  if (none) {
    cfg = json_pack("{s:[], s:[], s:[]}", "servers", "searches", "options");
  } else if (cluster) {
    json_t *searches = json_array();
    if (domain && *domain) {
      const char *ns = kj_get_str(pod, "metadata.namespace") ?: "";
      char b[600];
      snprintf(b, sizeof b, "%s.svc.%s", ns, domain);
      append_unique(searches, b);
      snprintf(b, sizeof b, "svc.%s", domain);
      append_unique(searches, b);
      append_unique(searches, domain);
    }
    size_t i;
    json_t *v;
    json_array_foreach (hsearch, i, v) append_unique(searches, json_string_value(v));
    cfg = json_pack("{s:O, s:o, s:[s]}", "servers", cluster_dns, "searches", searches, "options", "ndots:5");
  } else {
    cfg = json_pack("{s:O, s:O, s:O}", "servers", hs, "searches", hsearch, "options", hopts);
  }
  json_decref(hs);
  json_decref(hsearch);
  json_decref(hopts);
  const json_t *pc = kj_get(pod, "spec.dnsConfig");
  size_t i;
  json_t *v;
  json_array_foreach (kj_get(pc, "nameservers"), i, v)
    append_unique(json_object_get(cfg, "servers"), json_string_value(v));
  json_array_foreach (kj_get(pc, "searches"), i, v)
    append_unique(json_object_get(cfg, "searches"), json_string_value(v));
  merge_options(json_object_get(cfg, "options"), kj_get(pc, "options"));
  fit_limits(cfg, notes);
  return cfg;
}

void kl_pod_hostname(const json_t *pod, char *out, size_t len)
{
  const char *h = kj_get_str(pod, "spec.hostname");
  if (!h || !*h) h = kj_get_str(pod, "metadata.name") ?: "";
  size_t n = strlen(h);
  if (n > 63) n = 63;
  while (n > 0 && (h[n - 1] == '-' || h[n - 1] == '.')) n--; /* upstream trims a cut name's trailing - and . */
  snprintf(out, len, "%.*s", (int)n, h);
}

char *kl_hosts_file(const json_t *pod, const char *pod_ip, const char *domain, const char *host_hosts)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) return NULL;
  if (kj_get_bool(pod, "spec.hostNetwork", false)) {
    fputs("# Kubernetes-managed hosts file (host network).\n", f);
    if (host_hosts) fputs(host_hosts, f);
    if (host_hosts && *host_hosts && host_hosts[strlen(host_hosts) - 1] != '\n') fputc('\n', f);
  } else {
    fputs("# Kubernetes-managed hosts file.\n"
          "127.0.0.1\tlocalhost\n"
          "::1\tlocalhost ip6-localhost ip6-loopback\n"
          "fe00::0\tip6-localnet\n"
          "fe00::0\tip6-mcastprefix\n"
          "fe00::1\tip6-allnodes\n"
          "fe00::2\tip6-allrouters\n",
          f);
    char host[64];
    kl_pod_hostname(pod, host, sizeof host);
    const char *sub = kj_get_str(pod, "spec.subdomain");
    if (pod_ip && *pod_ip) {
      if (sub && *sub && domain && *domain)
        fprintf(f, "%s\t%s.%s.%s.svc.%s\t%s\n", pod_ip, host, sub, kj_get_str(pod, "metadata.namespace") ?: "", domain,
                host);
      else fprintf(f, "%s\t%s\n", pod_ip, host);
    }
  }
  json_t *aliases = kj_get(pod, "spec.hostAliases");
  if (json_array_size(aliases)) {
    fputs("\n# Entries added by HostAliases.\n", f);
    size_t i;
    json_t *a;
    json_array_foreach (aliases, i, a) {
      fputs(kj_get_str(a, "ip") ?: "", f);
      size_t j;
      json_t *h;
      json_array_foreach (kj_get(a, "hostnames"), j, h) fprintf(f, "\t%s", json_string_value(h) ?: "");
      fputc('\n', f);
    }
  }
  fclose(f);
  return buf;
}
