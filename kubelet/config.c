/*
 * config.c - flags and the KubeletConfiguration file, merged as upstream
 * merges them (see config.h).
 *
 * The flags are parsed first with their upstream defaults (so --help
 * prints those and a bad flag fails before anything else).  The merged
 * document then starts from kl_config_defaults(), takes every top-level
 * field of the --config file (a map such as evictionHard replaces the
 * default map as a whole, as v1beta1 defaulting does), and finally every
 * flag that appeared on the command line, converted to its field's JSON
 * form.  Which flags appeared is read from argv itself, so a flag given
 * with its default value still wins over the file.
 */
#define _GNU_SOURCE
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/flags.h"
#include "kube/json.h"
#include "kube/localpath.h"
#include "kube/log.h"
#include "kube/quantity.h"
#include "kube/timeutil.h"
#include "kube/yaml.h"
#include "kube/xalloc.h"
#include "kube/fileutil.h"

/* How a flag's value becomes its config field. */
enum kl_flag_kind { K_NONE, K_SCALAR, K_DURATION, K_LIST, K_MAP, K_EVICTION, K_TAINTS };

struct kl_flag_map {
  const char *flag;
  const char *field;
  enum kl_flag_kind kind;
};

static const struct kl_flag_map flag_fields[] = {
    {"pod-manifest-path", "staticPodPath", K_SCALAR},
    {"sync-frequency", "syncFrequency", K_DURATION},
    {"file-check-frequency", "fileCheckFrequency", K_DURATION},
    {"address", "address", K_SCALAR},
    {"port", "port", K_SCALAR},
    {"read-only-port", "readOnlyPort", K_SCALAR},
    {"tls-cert-file", "tlsCertFile", K_SCALAR},
    {"tls-private-key-file", "tlsPrivateKeyFile", K_SCALAR},
    {"cluster-domain", "clusterDomain", K_SCALAR},
    {"cluster-dns", "clusterDNS", K_LIST},
    {"node-status-update-frequency", "nodeStatusUpdateFrequency", K_DURATION},
    {"minimum-image-ttl-duration", "imageMinimumGCAge", K_DURATION},
    {"image-gc-high-threshold", "imageGCHighThresholdPercent", K_SCALAR},
    {"image-gc-low-threshold", "imageGCLowThresholdPercent", K_SCALAR},
    {"cgroup-root", "cgroupRoot", K_SCALAR},
    {"cgroups-per-qos", "cgroupsPerQOS", K_SCALAR},
    {"cgroup-driver", "cgroupDriver", K_SCALAR},
    {"runtime-request-timeout", "runtimeRequestTimeout", K_DURATION},
    {"hairpin-mode", "hairpinMode", K_SCALAR},
    {"max-pods", "maxPods", K_SCALAR},
    {"pod-max-pids", "podPidsLimit", K_SCALAR},
    {"resolv-conf", "resolvConf", K_SCALAR},
    {"cpu-cfs-quota", "cpuCFSQuota", K_SCALAR},
    {"cpu-cfs-quota-period", "cpuCFSQuotaPeriod", K_DURATION},
    {"kube-api-qps", "kubeAPIQPS", K_SCALAR},
    {"kube-api-burst", "kubeAPIBurst", K_SCALAR},
    {"serialize-image-pulls", "serializeImagePulls", K_SCALAR},
    {"eviction-hard", "evictionHard", K_EVICTION},
    {"eviction-pressure-transition-period", "evictionPressureTransitionPeriod", K_DURATION},
    {"system-reserved", "systemReserved", K_MAP},
    {"kube-reserved", "kubeReserved", K_MAP},
    {"register-node", "registerNode", K_SCALAR},
    {"register-with-taints", "registerWithTaints", K_TAINTS},
    {"healthz-port", "healthzPort", K_SCALAR},
    {"healthz-bind-address", "healthzBindAddress", K_SCALAR},
    {"container-log-max-size", "containerLogMaxSize", K_SCALAR},
    {"container-log-max-files", "containerLogMaxFiles", K_SCALAR},
    {"fail-swap-on", "failSwapOn", K_SCALAR},
    {"provider-id", "providerID", K_SCALAR},
    {"streaming-connection-idle-timeout", "streamingConnectionIdleTimeout", K_DURATION},
    {"container-runtime-endpoint", "containerRuntimeEndpoint", K_SCALAR},
    {"rotate-certificates", "rotateCertificates", K_SCALAR},
    {"rotate-server-certificates", "serverTLSBootstrap", K_SCALAR},
    {"client-ca-file", "authentication.x509.clientCAFile", K_SCALAR},
    {"anonymous-auth", "authentication.anonymous.enabled", K_SCALAR},
    {"authentication-token-webhook", "authentication.webhook.enabled", K_SCALAR},
    {"authentication-token-webhook-cache-ttl", "authentication.webhook.cacheTTL", K_DURATION},
    {"authorization-mode", "authorization.mode", K_SCALAR},
    {"authorization-webhook-cache-authorized-ttl", "authorization.webhook.cacheAuthorizedTTL", K_DURATION},
    {"authorization-webhook-cache-unauthorized-ttl", "authorization.webhook.cacheUnauthorizedTTL", K_DURATION},
    {NULL, NULL, K_NONE},
};

/* Every field of kubelet.config.k8s.io/v1beta1 KubeletConfiguration (v1.32). */
static const char *const known_fields[] = {
    "kind",
    "apiVersion",
    "enableServer",
    "staticPodPath",
    "podLogsDir",
    "syncFrequency",
    "fileCheckFrequency",
    "httpCheckFrequency",
    "staticPodURL",
    "staticPodURLHeader",
    "address",
    "port",
    "readOnlyPort",
    "volumePluginDir",
    "providerID",
    "tlsCertFile",
    "tlsPrivateKeyFile",
    "tlsCipherSuites",
    "tlsMinVersion",
    "rotateCertificates",
    "serverTLSBootstrap",
    "authentication",
    "authorization",
    "registryPullQPS",
    "registryBurst",
    "eventRecordQPS",
    "eventBurst",
    "enableDebuggingHandlers",
    "enableContentionProfiling",
    "healthzPort",
    "healthzBindAddress",
    "oomScoreAdj",
    "clusterDomain",
    "clusterDNS",
    "streamingConnectionIdleTimeout",
    "nodeStatusUpdateFrequency",
    "nodeStatusReportFrequency",
    "nodeLeaseDurationSeconds",
    "imageMinimumGCAge",
    "imageMaximumGCAge",
    "imageGCHighThresholdPercent",
    "imageGCLowThresholdPercent",
    "volumeStatsAggPeriod",
    "kubeletCgroups",
    "systemCgroups",
    "cgroupRoot",
    "cgroupsPerQOS",
    "cgroupDriver",
    "cpuManagerPolicy",
    "singleProcessOOMKill",
    "cpuManagerPolicyOptions",
    "cpuManagerReconcilePeriod",
    "memoryManagerPolicy",
    "topologyManagerPolicy",
    "topologyManagerScope",
    "topologyManagerPolicyOptions",
    "qosReserved",
    "runtimeRequestTimeout",
    "hairpinMode",
    "maxPods",
    "podCIDR",
    "podPidsLimit",
    "resolvConf",
    "runOnce",
    "cpuCFSQuota",
    "cpuCFSQuotaPeriod",
    "nodeStatusMaxImages",
    "maxOpenFiles",
    "contentType",
    "kubeAPIQPS",
    "kubeAPIBurst",
    "serializeImagePulls",
    "maxParallelImagePulls",
    "evictionHard",
    "evictionSoft",
    "evictionSoftGracePeriod",
    "evictionPressureTransitionPeriod",
    "evictionMaxPodGracePeriod",
    "evictionMinimumReclaim",
    "podsPerCore",
    "enableControllerAttachDetach",
    "protectKernelDefaults",
    "makeIPTablesUtilChains",
    "iptablesMasqueradeBit",
    "iptablesDropBit",
    "featureGates",
    "failSwapOn",
    "memorySwap",
    "containerLogMaxSize",
    "containerLogMaxFiles",
    "containerLogMaxWorkers",
    "containerLogMonitorInterval",
    "configMapAndSecretChangeDetectionStrategy",
    "systemReserved",
    "kubeReserved",
    "reservedSystemCPUs",
    "showHiddenMetricsForVersion",
    "systemReservedCgroup",
    "kubeReservedCgroup",
    "enforceNodeAllocatable",
    "allowedUnsafeSysctls",
    "kernelMemcgNotification",
    "logging",
    "enableSystemLogHandler",
    "enableSystemLogQuery",
    "shutdownGracePeriod",
    "shutdownGracePeriodCriticalPods",
    "shutdownGracePeriodByPodPriority",
    "crashLoopBackOff",
    "reservedMemory",
    "enableProfilingHandler",
    "enableDebugFlagsHandler",
    "seccompDefault",
    "memoryThrottlingFactor",
    "registerWithTaints",
    "registerNode",
    "tracing",
    "localStorageCapacityIsolation",
    "containerRuntimeEndpoint",
    "imageServiceEndpoint",
    "failCgroupV1",
    "userNamespaces",
    NULL,
};

/* Fields this kubelet reads; any other known field is accepted and ignored. */
static const char *const used_fields[] = {
    "kind",
    "apiVersion",
    "enableServer",
    "staticPodPath",
    "syncFrequency",
    "fileCheckFrequency",
    "address",
    "port",
    "readOnlyPort",
    "providerID",
    "tlsCertFile",
    "tlsPrivateKeyFile",
    "healthzPort",
    "healthzBindAddress",
    "clusterDomain",
    "clusterDNS",
    "streamingConnectionIdleTimeout",
    "nodeStatusUpdateFrequency",
    "nodeStatusReportFrequency",
    "nodeLeaseDurationSeconds",
    "imageMinimumGCAge",
    "imageGCHighThresholdPercent",
    "imageGCLowThresholdPercent",
    "cgroupRoot",
    "cgroupsPerQOS",
    "cgroupDriver",
    "runtimeRequestTimeout",
    "hairpinMode",
    "maxPods",
    "podPidsLimit",
    "resolvConf",
    "cpuCFSQuota",
    "cpuCFSQuotaPeriod",
    "kubeAPIQPS",
    "kubeAPIBurst",
    "serializeImagePulls",
    "evictionHard",
    "evictionPressureTransitionPeriod",
    "failSwapOn",
    "containerLogMaxSize",
    "containerLogMaxFiles",
    "systemReserved",
    "kubeReserved",
    "registerWithTaints",
    "registerNode",
    "containerRuntimeEndpoint",
    "shutdownGracePeriod",
    "authentication",
    "authorization",
    "rotateCertificates",
    "serverTLSBootstrap",
    NULL,
};

static bool in_list(const char *const *list, const char *s)
{
  for (; *list; list++)
    if (!strcmp(*list, s)) return true;
  return false;
}

json_t *kl_config_defaults(void)
{
  return json_pack(
      "{s:s, s:s, s:b, s:s, s:s, s:s, s:i, s:i, s:i, s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:i, s:i,"
      " s:s, s:b, s:s, s:s, s:s, s:i, s:i, s:s, s:b, s:s, s:f, s:i, s:b,"
      " s:{s:s, s:s, s:s, s:s}, s:s, s:b, s:s, s:i, s:{}, s:{}, s:b, s:[], s:s, s:[]}",
      "kind", "KubeletConfiguration", "apiVersion", "kubelet.config.k8s.io/v1beta1", "enableServer", 1, "syncFrequency",
      "1m0s", "fileCheckFrequency", "20s", "address", "0.0.0.0", "port", 10250, "readOnlyPort", 0, "healthzPort", 10248,
      "healthzBindAddress", "127.0.0.1", "streamingConnectionIdleTimeout", "4h0m0s", "nodeStatusUpdateFrequency", "10s",
      "nodeStatusReportFrequency", "5m0s", "imageMinimumGCAge", "2m0s", "nodeLeaseDurationSeconds", 40, "cgroupRoot",
      "", "cgroupDriver", "cgroupfs", "imageGCHighThresholdPercent", 85, "imageGCLowThresholdPercent", 80,
      "runtimeRequestTimeout", "2m0s", "cgroupsPerQOS", 1, "hairpinMode", "promiscuous-bridge", "resolvConf",
      "/etc/resolv.conf", "cpuCFSQuotaPeriod", "100ms", "maxPods", 110, "podPidsLimit", -1,
      "evictionPressureTransitionPeriod", "5m0s", "cpuCFSQuota", 1, "containerLogMaxSize", "10Mi", "kubeAPIQPS", 50.0,
      "kubeAPIBurst", 100, "serializeImagePulls", 1, "evictionHard", "memory.available", "100Mi", "nodefs.available",
      "10%", "nodefs.inodesFree", "5%", "imagefs.available", "15%", "containerRuntimeEndpoint",
      KL_DEFAULT_RUNTIME_ENDPOINT, "failSwapOn", 1, "shutdownGracePeriod", "0s", "containerLogMaxFiles", 5,
      "systemReserved", "kubeReserved", "registerNode", 1, "registerWithTaints", "clusterDomain", "", "clusterDNS");
}

/* ---- flag value syntaxes ---- */

/* Splits s at commas into trimmed, non-empty items; calls fn for each. */
static int split_items(const char *s, int (*fn)(const char *item, void *arg), void *arg)
{
  char *dup = xstrdup(s ? s : ""), *save = NULL;
  if (!dup) return -1;
  int rc = 0;
  for (char *tok = strtok_r(dup, ",", &save); tok && rc == 0; tok = strtok_r(NULL, ",", &save)) {
    while (isspace((unsigned char)*tok)) tok++;
    size_t n = strlen(tok);
    while (n > 0 && isspace((unsigned char)tok[n - 1])) tok[--n] = 0;
    if (*tok) rc = fn(tok, arg);
  }
  free(dup);
  return rc;
}

struct split_ctx {
  json_t *out;
  char *err;
  size_t errlen;
};

static int label_item(const char *item, void *arg)
{
  struct split_ctx *c = arg;
  const char *eq = strchr(item, '=');
  if (!eq || eq == item) {
    snprintf(c->err, c->errlen, "invalid label \"%s\": expected key=value", item);
    return -1;
  }
  char *key = xstrndup(item, (size_t)(eq - item));
  json_object_set_new(c->out, key, json_string(eq + 1));
  free(key);
  return 0;
}

json_t *kl_parse_label_map(const char *s, char *err, size_t errlen)
{
  struct split_ctx c = {json_object(), err, errlen};
  if (split_items(s, label_item, &c) < 0) {
    json_decref(c.out);
    return NULL;
  }
  return c.out;
}

static int taint_item(const char *item, void *arg)
{
  struct split_ctx *c = arg;
  const char *colon = strrchr(item, ':');
  if (!colon) {
    snprintf(c->err, c->errlen, "invalid taint spec: %s", item);
    return -1;
  }
  const char *effect = colon + 1;
  if (strcmp(effect, "NoSchedule") && strcmp(effect, "PreferNoSchedule") && strcmp(effect, "NoExecute")) {
    snprintf(c->err, c->errlen, "invalid taint effect: %s, unsupported taint effect", effect);
    return -1;
  }
  char *kv = xstrndup(item, (size_t)(colon - item));
  char *eq = strchr(kv, '=');
  if (eq) *eq = 0;
  if (!*kv) {
    snprintf(c->err, c->errlen, "invalid taint spec: %s", item);
    free(kv);
    return -1;
  }
  json_t *t = json_pack("{s:s, s:s}", "key", kv, "effect", effect);
  if (eq && eq[1]) json_object_set_new(t, "value", json_string(eq + 1));
  json_array_append_new(c->out, t);
  free(kv);
  return 0;
}

json_t *kl_parse_taints(const char *s, char *err, size_t errlen)
{
  struct split_ctx c = {json_array(), err, errlen};
  if (split_items(s, taint_item, &c) < 0) {
    json_decref(c.out);
    return NULL;
  }
  return c.out;
}

static const char *const eviction_signals[] = {
    "memory.available",   "nodefs.available", "nodefs.inodesFree",           "imagefs.available",
    "imagefs.inodesFree", "pid.available",    "allocatableMemory.available", NULL,
};

static int eviction_item(const char *item, void *arg)
{
  struct split_ctx *c = arg;
  const char *lt = strchr(item, '<');
  if (!lt) {
    snprintf(c->err, c->errlen, "invalid eviction threshold syntax %s, expected <signal><operator><value>", item);
    return -1;
  }
  char *sig = xstrndup(item, (size_t)(lt - item));
  int rc = 0;
  if (!in_list(eviction_signals, sig)) {
    snprintf(c->err, c->errlen, "unsupported eviction signal %s", sig);
    rc = -1;
  } else {
    json_object_set_new(c->out, sig, json_string(lt + 1));
  }
  free(sig);
  return rc;
}

json_t *kl_parse_eviction(const char *s, char *err, size_t errlen)
{
  struct split_ctx c = {json_object(), err, errlen};
  if (split_items(s, eviction_item, &c) < 0) {
    json_decref(c.out);
    return NULL;
  }
  return c.out;
}

static int list_item(const char *item, void *arg)
{
  json_array_append_new(((struct split_ctx *)arg)->out, json_string(item));
  return 0;
}

/* Upstream (cmd/kubelet/app/options): labels in the kubernetes.io and
 * k8s.io namespaces must use an allowed prefix or be well known. */
int kl_validate_node_labels(const json_t *labels, char *err, size_t errlen)
{
  static const char *const allowed[] = {
      "kubernetes.io/hostname",
      "kubernetes.io/os",
      "kubernetes.io/arch",
      "beta.kubernetes.io/os",
      "beta.kubernetes.io/arch",
      "beta.kubernetes.io/instance-type",
      "node.kubernetes.io/instance-type",
      "failure-domain.beta.kubernetes.io/region",
      "failure-domain.beta.kubernetes.io/zone",
      "topology.kubernetes.io/region",
      "topology.kubernetes.io/zone",
      NULL,
  };
  char bad[1024] = "";
  const char *key;
  json_t *v;
  json_object_foreach ((json_t *)labels, key, v) {
    const char *slash = strchr(key, '/');
    if (!slash) continue;
    size_t plen = (size_t)(slash - key);
    char prefix[256];
    snprintf(prefix, sizeof prefix, "%.*s", (int)plen, key);
    bool k8s_ns = false;
    for (const char *ns = "kubernetes.io"; ns; ns = !strcmp(ns, "kubernetes.io") ? "k8s.io" : NULL) {
      size_t nl = strlen(ns);
      if (!strcmp(prefix, ns) || (plen > nl && prefix[plen - nl - 1] == '.' && !strcmp(prefix + plen - nl, ns)))
        k8s_ns = true;
    }
    if (!k8s_ns || in_list(allowed, key)) continue;
    bool ok = false;
    for (const char *p = "kubelet.kubernetes.io"; p;
         p = !strcmp(p, "kubelet.kubernetes.io") ? "node.kubernetes.io" : NULL) {
      size_t pl = strlen(p);
      if (!strcmp(prefix, p) || (plen > pl && prefix[plen - pl - 1] == '.' && !strcmp(prefix + plen - pl, p)))
        ok = true;
    }
    if (!ok) snprintf(bad + strlen(bad), sizeof bad - strlen(bad), "%s%s", bad[0] ? " " : "", key);
  }
  if (!bad[0]) return 0;
  snprintf(err, errlen,
           "unknown 'kubernetes.io' or 'k8s.io' labels specified with --node-labels: [%s]\n"
           "--node-labels in the 'kubernetes.io' namespace must begin with an allowed prefix "
           "(kubelet.kubernetes.io, node.kubernetes.io) or be in the specifically allowed set "
           "(beta.kubernetes.io/arch, beta.kubernetes.io/instance-type, beta.kubernetes.io/os, "
           "failure-domain.beta.kubernetes.io/region, failure-domain.beta.kubernetes.io/zone, "
           "kubernetes.io/arch, kubernetes.io/hostname, kubernetes.io/os, node.kubernetes.io/instance-type, "
           "topology.kubernetes.io/region, topology.kubernetes.io/zone)",
           bad);
  return -1;
}

/* ---- reading the merged document ---- */

struct doc_reader {
  const json_t *doc;
  char *err;
  size_t errlen;
  int failed;
};

static void bad_field(struct doc_reader *r, const char *field, const char *what)
{
  if (r->failed++) return;
  snprintf(r->err, r->errlen, "invalid configuration: %s: %s", field, what);
}

static char *rd_str(struct doc_reader *r, const char *field)
{
  json_t *v = kj_get(r->doc, field);
  if (v && !json_is_string(v) && !json_is_null(v)) bad_field(r, field, "must be a string");
  return xstrdup(json_is_string(v) ? json_string_value(v) : "");
}

static int64_t rd_int(struct doc_reader *r, const char *field, int64_t min, int64_t max)
{
  json_t *v = json_object_get(r->doc, field);
  if (!v || json_is_null(v)) return 0;
  if (!json_is_integer(v)) {
    bad_field(r, field, "must be an integer");
    return 0;
  }
  int64_t n = json_integer_value(v);
  if (n < min || n > max) {
    char msg[96];
    snprintf(msg, sizeof msg, "%lld must be between %lld and %lld", (long long)n, (long long)min, (long long)max);
    bad_field(r, field, msg);
  }
  return n;
}

static bool rd_bool(struct doc_reader *r, const char *field)
{
  json_t *v = kj_get(r->doc, field);
  if (v && !json_is_boolean(v)) bad_field(r, field, "must be a boolean");
  return json_is_true(v);
}

static double rd_float(struct doc_reader *r, const char *field)
{
  json_t *v = json_object_get(r->doc, field);
  if (v && !json_is_number(v)) bad_field(r, field, "must be a number");
  return json_number_value(v);
}

static int64_t rd_duration(struct doc_reader *r, const char *field)
{
  json_t *v = kj_get(r->doc, field);
  if (!v) return 0;
  int64_t ms = 0;
  char why[160];
  if (!json_is_string(v)) bad_field(r, field, "must be a duration string");
  else if (ktime_parse_duration_ms_err(json_string_value(v), &ms, why, sizeof why) < 0) bad_field(r, field, why);
  else if (ms < 0) bad_field(r, field, "must not be negative");
  return ms;
}

/* Map of resource name -> quantity (systemReserved, kubeReserved). */
static json_t *rd_quantity_map(struct doc_reader *r, const char *field)
{
  json_t *v = json_object_get(r->doc, field);
  json_t *out = json_object();
  if (!v || json_is_null(v)) return out;
  if (!json_is_object(v)) {
    bad_field(r, field, "must be a map of resource names to quantities");
    return out;
  }
  const char *k;
  json_t *q;
  json_object_foreach (v, k, q) {
    struct quantity qq;
    if (!json_is_string(q) || quantity_parse(json_string_value(q), &qq) < 0) {
      char msg[200];
      snprintf(msg, sizeof msg, "invalid quantity for %s", k);
      bad_field(r, field, msg);
      continue;
    }
    json_object_set(out, k, q);
  }
  return out;
}

static json_t *rd_eviction(struct doc_reader *r, const char *field)
{
  json_t *v = json_object_get(r->doc, field);
  json_t *out = json_object();
  if (!v || json_is_null(v)) return out;
  if (!json_is_object(v)) {
    bad_field(r, field, "must be a map of eviction signals to thresholds");
    return out;
  }
  const char *k;
  json_t *t;
  json_object_foreach (v, k, t) {
    const char *s = json_string_value(t);
    char msg[200];
    if (!in_list(eviction_signals, k)) {
      snprintf(msg, sizeof msg, "unsupported eviction signal %s", k);
      bad_field(r, field, msg);
      continue;
    }
    struct quantity q;
    size_t n = s ? strlen(s) : 0;
    bool pct = n > 1 && s[n - 1] == '%';
    if (!s || (pct ? atof(s) < 0 || atof(s) > 100 : quantity_parse(s, &q) < 0)) {
      snprintf(msg, sizeof msg, "invalid threshold for %s", k);
      bad_field(r, field, msg);
      continue;
    }
    json_object_set(out, k, t);
  }
  return out;
}

static void rd_cluster_dns(struct doc_reader *r, struct kl_config *c)
{
  json_t *v = json_object_get(r->doc, "clusterDNS");
  c->cluster_dns = json_array();
  if (!v || json_is_null(v)) return;
  size_t i;
  json_t *e;
  if (!json_is_array(v)) {
    bad_field(r, "clusterDNS", "must be a list of IP addresses");
    return;
  }
  json_array_foreach (v, i, e) {
    if (!json_is_string(e)) bad_field(r, "clusterDNS", "must be a list of IP addresses");
    else json_array_append(c->cluster_dns, e);
  }
}

static void rd_taints(struct doc_reader *r, struct kl_config *c)
{
  json_t *v = json_object_get(r->doc, "registerWithTaints");
  c->register_with_taints = json_array();
  if (!v || json_is_null(v)) return;
  if (!json_is_array(v)) {
    bad_field(r, "registerWithTaints", "must be a list of taints");
    return;
  }
  size_t i;
  json_t *t;
  json_array_foreach (v, i, t) {
    const char *eff = kj_get_str(t, "effect");
    if (!kj_get_str(t, "key") || !eff ||
        (strcmp(eff, "NoSchedule") && strcmp(eff, "PreferNoSchedule") && strcmp(eff, "NoExecute")))
      bad_field(r, "registerWithTaints",
                "each taint needs a key and an effect (NoSchedule, PreferNoSchedule, NoExecute)");
    else json_array_append(c->register_with_taints, t);
  }
}

static void rd_log_size(struct doc_reader *r, struct kl_config *c)
{
  json_t *v = json_object_get(r->doc, "containerLogMaxSize");
  struct quantity q;
  if (!json_is_string(v) || quantity_parse(json_string_value(v), &q) < 0 || quantity_value(&q) <= 0)
    bad_field(r, "containerLogMaxSize", "must be a positive quantity");
  else c->container_log_max_size_bytes = quantity_value(&q);
}

static void rd_runtime_endpoint(struct doc_reader *r, struct kl_config *c)
{
  c->runtime_endpoint = rd_str(r, "containerRuntimeEndpoint");
  const char *ep = c->runtime_endpoint;
  if (!strncmp(ep, "unix://", 7)) c->runtime_socket = xstrdup(ep + 7);
  else if (ep[0] == '/') c->runtime_socket = xstrdup(ep);
  else {
    c->runtime_socket = xstrdup("");
    bad_field(r, "containerRuntimeEndpoint", "only unix:// endpoints are supported");
  }
}

/* The certificate and kubelet API security fields; absent ones take
 * kl_config_auth_defaults' values (applied to doc by the loader). */
static void rd_auth(struct doc_reader *r, struct kl_config *c)
{
  c->rotate_certificates = rd_bool(r, "rotateCertificates");
  c->server_tls_bootstrap = rd_bool(r, "serverTLSBootstrap");
  c->client_ca_file = rd_str(r, "authentication.x509.clientCAFile");
  c->anonymous_auth = rd_bool(r, "authentication.anonymous.enabled");
  c->webhook_authn = rd_bool(r, "authentication.webhook.enabled");
  c->webhook_cache_ttl_ms = rd_duration(r, "authentication.webhook.cacheTTL");
  char *mode = rd_str(r, "authorization.mode");
  c->webhook_authz = !strcmp(mode, "Webhook");
  if (!r->failed && strcmp(mode, "Webhook") && strcmp(mode, "AlwaysAllow"))
    bad_field(r, "authorization.mode", "must be AlwaysAllow or Webhook");
  free(mode);
  c->authz_allowed_ttl_ms = rd_duration(r, "authorization.webhook.cacheAuthorizedTTL");
  c->authz_denied_ttl_ms = rd_duration(r, "authorization.webhook.cacheUnauthorizedTTL");
}

void kl_config_auth_defaults(json_t *doc, bool legacy)
{
  json_t *d = json_pack("{s:b,s:{s:{s:s},s:{s:b,s:s},s:{s:b}},s:{s:s,s:{s:s,s:s}}}", "rotateCertificates", 0,
                        "authentication", "x509", "clientCAFile", "", "webhook", "enabled", !legacy, "cacheTTL",
                        "2m0s", "anonymous", "enabled", legacy, "authorization", "mode",
                        legacy ? "AlwaysAllow" : "Webhook", "webhook", "cacheAuthorizedTTL", "5m0s",
                        "cacheUnauthorizedTTL", "30s");
  json_object_set_new(d, "serverTLSBootstrap", json_false());
  /* fill what doc lacks, two levels deep */
  const char *k1, *k2, *k3;
  json_t *v1, *v2, *v3;
  json_object_foreach (d, k1, v1) {
    json_t *have1 = json_object_get(doc, k1);
    if (!have1 || json_is_null(have1)) {
      json_object_set(doc, k1, v1);
      continue;
    }
    if (!json_is_object(v1) || !json_is_object(have1)) continue;
    json_object_foreach (v1, k2, v2) {
      json_t *have2 = json_object_get(have1, k2);
      if (!have2 || json_is_null(have2)) {
        json_object_set(have1, k2, v2);
        continue;
      }
      if (!json_is_object(v2) || !json_is_object(have2)) continue;
      json_object_foreach (v2, k3, v3)
        if (!json_object_get(have2, k3)) json_object_set(have2, k3, v3);
    }
  }
  json_decref(d);
}

int kl_config_from_doc(struct kl_config *c, json_t *doc, char *err, size_t errlen)
{
  struct doc_reader r = {doc, err, errlen, 0};
  kl_config_auth_defaults(doc, false);
  c->doc = json_incref(doc);
  c->static_pod_path = rd_str(&r, "staticPodPath");
  c->sync_frequency_ms = rd_duration(&r, "syncFrequency");
  c->file_check_frequency_ms = rd_duration(&r, "fileCheckFrequency");
  c->address = rd_str(&r, "address");
  c->port = (int)rd_int(&r, "port", 0, 65535);
  c->read_only_port = (int)rd_int(&r, "readOnlyPort", 0, 65535);
  c->tls_cert_file = rd_str(&r, "tlsCertFile");
  c->tls_private_key_file = rd_str(&r, "tlsPrivateKeyFile");
  c->cluster_domain = rd_str(&r, "clusterDomain");
  rd_cluster_dns(&r, c);
  c->node_status_update_frequency_ms = rd_duration(&r, "nodeStatusUpdateFrequency");
  c->node_status_report_frequency_ms = rd_duration(&r, "nodeStatusReportFrequency");
  c->node_lease_duration_s = (int)rd_int(&r, "nodeLeaseDurationSeconds", 1, 3600);
  c->image_minimum_gc_age_ms = rd_duration(&r, "imageMinimumGCAge");
  c->image_gc_high_threshold_percent = (int)rd_int(&r, "imageGCHighThresholdPercent", 0, 100);
  c->image_gc_low_threshold_percent = (int)rd_int(&r, "imageGCLowThresholdPercent", 0, 100);
  c->cgroup_root = rd_str(&r, "cgroupRoot");
  c->cgroups_per_qos = rd_bool(&r, "cgroupsPerQOS");
  c->cgroup_driver = rd_str(&r, "cgroupDriver");
  c->runtime_request_timeout_ms = rd_duration(&r, "runtimeRequestTimeout");
  c->hairpin_mode = rd_str(&r, "hairpinMode");
  c->max_pods = (int)rd_int(&r, "maxPods", 1, 1000000);
  c->pod_pids_limit = rd_int(&r, "podPidsLimit", -1, INT64_MAX);
  c->resolv_conf = rd_str(&r, "resolvConf");
  c->cpu_cfs_quota = rd_bool(&r, "cpuCFSQuota");
  c->cpu_cfs_quota_period_ms = rd_duration(&r, "cpuCFSQuotaPeriod");
  c->kube_api_qps = rd_float(&r, "kubeAPIQPS");
  c->kube_api_burst = (int)rd_int(&r, "kubeAPIBurst", 0, 1000000);
  c->serialize_image_pulls = rd_bool(&r, "serializeImagePulls");
  c->eviction_hard = rd_eviction(&r, "evictionHard");
  c->eviction_pressure_transition_period_ms = rd_duration(&r, "evictionPressureTransitionPeriod");
  c->system_reserved = rd_quantity_map(&r, "systemReserved");
  c->kube_reserved = rd_quantity_map(&r, "kubeReserved");
  c->register_node = rd_bool(&r, "registerNode");
  rd_taints(&r, c);
  c->healthz_port = (int)rd_int(&r, "healthzPort", 0, 65535);
  c->healthz_bind_address = rd_str(&r, "healthzBindAddress");
  rd_log_size(&r, c);
  c->container_log_max_files = (int)rd_int(&r, "containerLogMaxFiles", 2, 1000);
  c->enable_server = rd_bool(&r, "enableServer");
  c->fail_swap_on = rd_bool(&r, "failSwapOn");
  c->provider_id = rd_str(&r, "providerID");
  c->streaming_connection_idle_timeout_ms = rd_duration(&r, "streamingConnectionIdleTimeout");
  c->shutdown_grace_period_ms = rd_duration(&r, "shutdownGracePeriod");
  rd_runtime_endpoint(&r, c);
  rd_auth(&r, c);
  if (!r.failed && strcmp(c->cgroup_driver, "cgroupfs"))
    bad_field(&r, "cgroupDriver", "only \"cgroupfs\" is supported");
  if (!r.failed && c->image_gc_low_threshold_percent > c->image_gc_high_threshold_percent)
    bad_field(&r, "imageGCLowThresholdPercent", "must not be greater than imageGCHighThresholdPercent");
  if (!r.failed && strcmp(c->hairpin_mode, "promiscuous-bridge") && strcmp(c->hairpin_mode, "hairpin-veth") &&
      strcmp(c->hairpin_mode, "none"))
    bad_field(&r, "hairpinMode", "must be one of promiscuous-bridge, hairpin-veth, none");
  if (!r.failed && c->node_status_update_frequency_ms <= 0)
    bad_field(&r, "nodeStatusUpdateFrequency", "must be greater than 0");
  if (!r.failed && c->sync_frequency_ms <= 0) bad_field(&r, "syncFrequency", "must be greater than 0");
  return r.failed ? -1 : 0;
}

void kl_config_free(struct kl_config *c)
{
  if (!c) return;
  json_decref(c->doc);
  json_decref(c->node_labels);
  json_decref(c->cluster_dns);
  json_decref(c->eviction_hard);
  json_decref(c->system_reserved);
  json_decref(c->kube_reserved);
  json_decref(c->register_with_taints);
  free(c->bootstrap_kubeconfig);
  free(c->cert_dir);
  free(c->client_ca_file);
  char **strs[] = {&c->kubeconfig,      &c->hostname_override,    &c->node_ip,
                   &c->root_dir,        &c->runtime_endpoint,     &c->runtime_socket,
                   &c->pause_image,     &c->non_masquerade_cidr,  &c->host_network_container,
                   &c->local_path_root, &c->static_pod_path,      &c->address,
                   &c->tls_cert_file,   &c->tls_private_key_file, &c->cluster_domain,
                   &c->cgroup_root,     &c->cgroup_driver,        &c->hairpin_mode,
                   &c->resolv_conf,     &c->healthz_bind_address, &c->provider_id};
  for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) free(*strs[i]);
  free(c);
}

/* ---- loading ---- */

static json_t *load_file(const char *path, char *err, size_t errlen)
{
  size_t len = 0;
  char *buf = kfile_read(path, &len);
  if (!buf) {
    snprintf(
        err, errlen,
        "failed to load Kubelet config file %s, error failed to read kubelet config file \"%s\", error: open %s: %s",
        path, path, path, strerror(errno));
    return NULL;
  }
  char why[256] = "empty file";
  json_t *doc = buf && len ? kyaml_load(buf, len, why, sizeof why) : NULL;
  free(buf);
  if (!json_is_object(doc)) {
    snprintf(err, errlen, "failed to load Kubelet config file %s, error %s", path, why);
    json_decref(doc);
    return NULL;
  }
  const char *kind = kj_get_str(doc, "kind"), *av = kj_get_str(doc, "apiVersion");
  if (!kind || strcmp(kind, "KubeletConfiguration") || !av || strcmp(av, "kubelet.config.k8s.io/v1beta1")) {
    snprintf(err, errlen,
             "failed to load Kubelet config file %s, error no kind \"%s\" is registered for version \"%s\"", path,
             kind ? kind : "", av ? av : "");
    json_decref(doc);
    return NULL;
  }
  const char *k;
  json_t *v;
  json_object_foreach (doc, k, v) {
    if (!in_list(known_fields, k)) KLOG_W("unknown field \"%s\" in kubelet config file %s (ignored)", k, path);
    else if (!in_list(used_fields, k))
      KLOG_W("kubelet config field \"%s\" is not supported by this kubelet (ignored)", k);
  }
  return doc;
}

/* Was --name (or -name) given on the command line? */
static const struct flag *flag_by_name(const struct flag *flags, const char *name)
{
  for (; flags->name; flags++)
    if (!strcmp(flags->name, name)) return flags;
  return NULL;
}

static json_t *flag_scalar_json(const struct flag *f)
{
  switch (f->type) {
  case FLAG_STRING: return json_string(*(char **)f->ptr);
  case FLAG_INT: return json_integer(*(int *)f->ptr);
  case FLAG_INT64: return json_integer(*(int64_t *)f->ptr);
  case FLAG_BOOL: return json_boolean(*(bool *)f->ptr);
  case FLAG_FLOAT: return json_real(*(double *)f->ptr);
  case FLAG_DURATION: {
    char buf[64];
    return json_string(ktime_format_duration_ms(*(int64_t *)f->ptr, buf, sizeof buf));
  }
  case FLAG_UNSUPPORTED: return NULL; /* refused while parsing */
  }
  return NULL;
}

/* doc[a][b]...= v for the dotted field (steals v); intermediate objects
 * are made as needed. */
static void set_field(json_t *doc, const char *field, json_t *v)
{
  char *path = xstrdup(field), *save = NULL;
  json_t *at = doc;
  char *part = strtok_r(path, ".", &save);
  for (char *next; (next = strtok_r(NULL, ".", &save)); part = next) {
    json_t *child = json_object_get(at, part);
    if (!json_is_object(child)) {
      child = json_object();
      json_object_set_new(at, part, child);
    }
    at = child;
  }
  json_object_set_new(at, part, v);
  free(path);
}

/* Overlays every given config-mapped flag onto doc. */
static int overlay_flags(json_t *doc, int argc, char **argv, const struct flag *flags, char *err, size_t errlen)
{
  for (const struct kl_flag_map *m = flag_fields; m->flag; m++) {
    if (!flags_given(argc, argv, m->flag)) continue;
    const struct flag *f = flag_by_name(flags, m->flag);
    json_t *v = NULL;
    char why[300] = "";
    const char *s = f->type == FLAG_STRING ? *(char **)f->ptr : NULL;
    switch (m->kind) {
    case K_LIST: {
      struct split_ctx c = {json_array(), why, sizeof why};
      split_items(s, list_item, &c);
      v = c.out;
      break;
    }
    case K_MAP: v = kl_parse_label_map(s, why, sizeof why); break;
    case K_EVICTION: v = kl_parse_eviction(s, why, sizeof why); break;
    case K_TAINTS: v = kl_parse_taints(s, why, sizeof why); break;
    default: v = flag_scalar_json(f); break;
    }
    if (!v) {
      snprintf(err, errlen, "invalid argument \"%s\" for \"--%s\" flag: %s", s ? s : "", m->flag, why);
      return -1;
    }
    set_field(doc, m->field, v);
  }
  return 0;
}

struct flag_vals {
  char *config, *kubeconfig, *hostname_override, *node_ip, *root_dir, *pause_image, *node_labels, *non_masq;
  char *host_net_container, *local_path_root;
  int v;
  char *pod_manifest_path, *address, *tls_cert, *tls_key, *cluster_domain, *cluster_dns, *cgroup_root;
  char *cgroup_driver, *hairpin_mode, *resolv_conf, *eviction_hard, *system_reserved, *kube_reserved;
  char *taints, *healthz_bind, *log_max_size, *provider_id, *runtime_endpoint;
  char *bootstrap_kubeconfig, *cert_dir, *client_ca_file, *authz_mode;
  bool rotate_certs, rotate_server_certs, anonymous_auth, token_webhook;
  int64_t token_webhook_ttl, authz_allowed_ttl, authz_denied_ttl;
  int port, ro_port, max_pods, healthz_port, gc_high, gc_low, api_burst, log_max_files;
  int64_t pids, sync_freq, file_check, status_freq, rt_timeout, image_ttl, evict_period, stream_idle, cfs_period;
  bool per_qos, cfs_quota, serialize_pulls, register_node, fail_swap;
  double api_qps;
};

static const char usage_text[] =
    "The kubelet is the primary \"node agent\" that runs on each node. It registers the node with the "
    "apiserver, and runs the pods bound to it through the container runtime (the Docker Engine API).";

#define KL_MAX_FLAGS 80

/* Fills flags[KL_MAX_FLAGS] with the kubelet's flags over fv and parses argv. */
static int parse_flags(int argc, char **argv, struct flag_vals *fv, struct flag *flags, char *err, size_t errlen)
{
  const struct flag table[] = {
      {"config", FLAG_STRING, &fv->config,
       "The Kubelet will load its initial configuration from this file. The path may be absolute or relative; relative "
       "paths start at the Kubelet's current working directory. Omit this flag to use the built-in default "
       "configuration values. Command-line flags override configuration from this file."},
      {"kubeconfig", FLAG_STRING, &fv->kubeconfig,
       "Path to a kubeconfig file, specifying how to connect to the API server."},
      {"hostname-override", FLAG_STRING, &fv->hostname_override,
       "If non-empty, will use this string as identification instead of the actual hostname."},
      {"node-ip", FLAG_STRING, &fv->node_ip,
       "IP address of the node. If set, kubelet will use this IP address for the node."},
      {"root-dir", FLAG_STRING, &fv->root_dir, "Directory path for managing kubelet files (volume mounts,etc)."},
      {"container-runtime-endpoint", FLAG_STRING, &fv->runtime_endpoint,
       "The endpoint of the container runtime (the Docker Engine API socket)."},
      {"pod-infra-container-image", FLAG_STRING, &fv->pause_image,
       "The image whose network/ipc namespaces containers in each pod will use; built in and imported when missing."},
      {"node-labels", FLAG_STRING, &fv->node_labels,
       "Labels to add when registering the node in the cluster. Labels must be key=value pairs separated by ','."},
      {"non-masquerade-cidr", FLAG_STRING, &fv->non_masq,
       "Traffic to IPs outside this range will use IP masquerade. Set to '' to disable."},
      {"host-network-container", FLAG_STRING, &fv->host_net_container,
       "Name or ID of a runtime container whose network namespace is this node's host network: hostNetwork pods join "
       "it instead of the runtime's own network namespace (for several kubelets sharing one machine and runtime, each "
       "in its own network namespace). Empty: the runtime's host network."},
      {"local-path-root", FLAG_STRING, &fv->local_path_root,
       "The directory under which the built-in local-path provisioner (kube.local/local-path) places its volumes; "
       "the kubelet creates and removes the directories of this node's volumes only there. Must match the "
       "controller-manager's --local-path-root."},
      {"v", FLAG_INT, &fv->v, "number for the log level verbosity"},
      {"pod-manifest-path", FLAG_STRING, &fv->pod_manifest_path,
       "Path to the directory containing static pod files to run."},
      {"sync-frequency", FLAG_DURATION, &fv->sync_freq,
       "Max period between synchronizing running containers and config"},
      {"file-check-frequency", FLAG_DURATION, &fv->file_check, "Duration between checking config files for new data"},
      {"address", FLAG_STRING, &fv->address,
       "The IP address for the Kubelet to serve on (set to '0.0.0.0' or '::' for listening on all interfaces and IP "
       "address families)"},
      {"port", FLAG_INT, &fv->port, "The port for the Kubelet to serve on."},
      {"read-only-port", FLAG_INT, &fv->ro_port,
       "The read-only port for the Kubelet to serve on with no authentication/authorization (set to 0 to disable)"},
      {"tls-cert-file", FLAG_STRING, &fv->tls_cert,
       "File containing x509 Certificate used for serving HTTPS. If not provided, a self-signed certificate and key "
       "are generated for the public address and saved to the directory passed to --cert-dir."},
      {"tls-private-key-file", FLAG_STRING, &fv->tls_key, "File containing x509 private key matching --tls-cert-file."},
      {"cluster-domain", FLAG_STRING, &fv->cluster_domain,
       "Domain for this cluster. If set, kubelet will configure all containers to search this domain in addition to "
       "the host's search domains"},
      {"cluster-dns", FLAG_STRING, &fv->cluster_dns, "Comma-separated list of DNS server IP address."},
      {"node-status-update-frequency", FLAG_DURATION, &fv->status_freq,
       "Specifies how often kubelet posts node status to master."},
      {"minimum-image-ttl-duration", FLAG_DURATION, &fv->image_ttl,
       "Minimum age for an unused image before it is garbage collected."},
      {"image-gc-high-threshold", FLAG_INT, &fv->gc_high,
       "The percent of disk usage after which image garbage collection is always run."},
      {"image-gc-low-threshold", FLAG_INT, &fv->gc_low,
       "The percent of disk usage before which image garbage collection is never run."},
      {"cgroup-root", FLAG_STRING, &fv->cgroup_root, "Optional root cgroup to use for pods."},
      {"cgroups-per-qos", FLAG_BOOL, &fv->per_qos,
       "Enable creation of QoS cgroup hierarchy, if true top level QoS and pod cgroups are created."},
      {"cgroup-driver", FLAG_STRING, &fv->cgroup_driver,
       "Driver that the kubelet uses to manipulate cgroups on the host. Possible values: 'cgroupfs'"},
      {"runtime-request-timeout", FLAG_DURATION, &fv->rt_timeout,
       "Timeout of all runtime requests except long running request - pull, logs, exec and attach."},
      {"hairpin-mode", FLAG_STRING, &fv->hairpin_mode,
       "How should the kubelet setup hairpin NAT. Valid values are \"promiscuous-bridge\", \"hairpin-veth\" and "
       "\"none\"."},
      {"max-pods", FLAG_INT, &fv->max_pods, "Number of Pods that can run on this Kubelet."},
      {"pod-max-pids", FLAG_INT64, &fv->pids,
       "Set the maximum number of processes per pod.  If -1, the kubelet defaults to the node allocatable pid "
       "capacity."},
      {"resolv-conf", FLAG_STRING, &fv->resolv_conf,
       "Resolver configuration file used as the basis for the container DNS resolution configuration."},
      {"cpu-cfs-quota", FLAG_BOOL, &fv->cfs_quota,
       "Enable CPU CFS quota enforcement for containers that specify CPU limits"},
      {"cpu-cfs-quota-period", FLAG_DURATION, &fv->cfs_period, "Sets CPU CFS quota period value, cpu.cfs_period_us"},
      {"kube-api-qps", FLAG_FLOAT, &fv->api_qps, "QPS to use while talking with kubernetes apiserver."},
      {"kube-api-burst", FLAG_INT, &fv->api_burst, "Burst to use while talking with kubernetes apiserver."},
      {"serialize-image-pulls", FLAG_BOOL, &fv->serialize_pulls, "Pull images one at a time."},
      {"eviction-hard", FLAG_STRING, &fv->eviction_hard,
       "A set of eviction thresholds (e.g. memory.available<1Gi) that if met would trigger a pod eviction."},
      {"eviction-pressure-transition-period", FLAG_DURATION, &fv->evict_period,
       "Duration for which the kubelet has to wait before transitioning out of an eviction pressure condition."},
      {"system-reserved", FLAG_STRING, &fv->system_reserved,
       "A set of ResourceName=ResourceQuantity (e.g. cpu=200m,memory=500Mi) pairs that describe resources reserved for "
       "non-kubernetes components."},
      {"kube-reserved", FLAG_STRING, &fv->kube_reserved,
       "A set of ResourceName=ResourceQuantity (e.g. cpu=200m,memory=500Mi) pairs that describe resources reserved for "
       "kubernetes system components."},
      {"register-node", FLAG_BOOL, &fv->register_node, "Register the node with the apiserver."},
      {"register-with-taints", FLAG_STRING, &fv->taints,
       "Register the node with the given list of taints (comma separated \"<key>=<value>:<effect>\")."},
      {"healthz-port", FLAG_INT, &fv->healthz_port, "The port of the localhost healthz endpoint (set to 0 to disable)"},
      {"healthz-bind-address", FLAG_STRING, &fv->healthz_bind, "The IP address for the healthz server to serve on"},
      {"container-log-max-size", FLAG_STRING, &fv->log_max_size,
       "Set the maximum size (e.g. 10Mi) of container log file before it is rotated."},
      {"container-log-max-files", FLAG_INT, &fv->log_max_files,
       "Set the maximum number of container log files that can be present for a container."},
      {"fail-swap-on", FLAG_BOOL, &fv->fail_swap, "Makes the Kubelet fail to start if swap is enabled on the node."},
      {"provider-id", FLAG_STRING, &fv->provider_id,
       "Unique identifier for identifying the node in a machine database, i.e cloudprovider"},
      {"streaming-connection-idle-timeout", FLAG_DURATION, &fv->stream_idle,
       "Maximum time a streaming connection can be idle before the connection is automatically closed."},
      {"bootstrap-kubeconfig", FLAG_STRING, &fv->bootstrap_kubeconfig,
       "Path to a kubeconfig file that will be used to get client certificate for kubelet. If the file specified by "
       "--kubeconfig does not exist, the bootstrap kubeconfig is used to request a client certificate from the API "
       "server. On success, a kubeconfig file referencing the generated client certificate and key is written to the "
       "path specified by --kubeconfig. The client certificate and key file will be stored in the directory pointed "
       "by --cert-dir."},
      {"cert-dir", FLAG_STRING, &fv->cert_dir,
       "The directory where the TLS certs are located. If --tls-cert-file and --tls-private-key-file are provided, "
       "this flag will be ignored. (default: ROOT_DIR/pki, /var/lib/kubelet/pki)"},
      {"rotate-certificates", FLAG_BOOL, &fv->rotate_certs,
       "Auto rotate the kubelet client certificates by requesting new certificates from the kube-apiserver when the "
       "certificate expiration approaches."},
      {"rotate-server-certificates", FLAG_BOOL, &fv->rotate_server_certs,
       "Auto-request and rotate the kubelet serving certificates by requesting new certificates from the "
       "kube-apiserver when the certificate expiration approaches. (DEPRECATED: use serverTLSBootstrap in the config "
       "file.)"},
      {"client-ca-file", FLAG_STRING, &fv->client_ca_file,
       "If set, any request presenting a client certificate signed by one of the authorities in the client-ca-file "
       "is authenticated with an identity corresponding to the CommonName of the client certificate."},
      {"anonymous-auth", FLAG_BOOL, &fv->anonymous_auth,
       "Enables anonymous requests to the Kubelet server. Requests that are not rejected by another authentication "
       "method are treated as anonymous requests. Anonymous requests have a username of system:anonymous, and a "
       "group name of system:unauthenticated."},
      {"authentication-token-webhook", FLAG_BOOL, &fv->token_webhook,
       "Use the TokenReview API to determine authentication for bearer tokens."},
      {"authentication-token-webhook-cache-ttl", FLAG_DURATION, &fv->token_webhook_ttl,
       "The duration to cache responses from the webhook token authenticator."},
      {"authorization-mode", FLAG_STRING, &fv->authz_mode,
       "Authorization mode for Kubelet server. Valid options are AlwaysAllow or Webhook. Webhook mode uses the "
       "SubjectAccessReview API to determine authorization."},
      {"authorization-webhook-cache-authorized-ttl", FLAG_DURATION, &fv->authz_allowed_ttl,
       "The duration to cache 'authorized' responses from the webhook authorizer."},
      {"authorization-webhook-cache-unauthorized-ttl", FLAG_DURATION, &fv->authz_denied_ttl,
       "The duration to cache 'unauthorized' responses from the webhook authorizer."},
      {NULL},
  };
  _Static_assert(sizeof table / sizeof table[0] <= KL_MAX_FLAGS, "flag table too large");
  memcpy(flags, table, sizeof table);
  return flags_parse(argc, argv, flags, usage_text, err, errlen);
}

static void flag_defaults(struct flag_vals *fv)
{
  memset(fv, 0, sizeof *fv);
  fv->config = fv->kubeconfig = fv->hostname_override = fv->node_ip = fv->node_labels = "";
  fv->host_net_container = "";
  fv->root_dir = KL_DEFAULT_ROOT_DIR;
  fv->local_path_root = LOCAL_PATH_DEFAULT_ROOT;
  fv->pause_image = KL_DEFAULT_PAUSE_IMAGE;
  fv->runtime_endpoint = KL_DEFAULT_RUNTIME_ENDPOINT;
  fv->non_masq = "10.0.0.0/8";
  fv->pod_manifest_path = fv->tls_cert = fv->tls_key = fv->cluster_domain = fv->cluster_dns = "";
  fv->cgroup_root = fv->system_reserved = fv->kube_reserved = fv->taints = fv->provider_id = "";
  fv->address = "0.0.0.0";
  fv->cgroup_driver = "cgroupfs";
  fv->hairpin_mode = "promiscuous-bridge";
  fv->resolv_conf = "/etc/resolv.conf";
  fv->eviction_hard = "imagefs.available<15%,memory.available<100Mi,nodefs.available<10%,nodefs.inodesFree<5%";
  fv->healthz_bind = "127.0.0.1";
  fv->log_max_size = "10Mi";
  fv->port = 10250;
  fv->ro_port = 10255;
  fv->max_pods = 110;
  fv->healthz_port = 10248;
  fv->gc_high = 85;
  fv->gc_low = 80;
  fv->api_burst = 100;
  fv->log_max_files = 5;
  fv->pids = -1;
  fv->sync_freq = 60000;
  fv->file_check = 20000;
  fv->status_freq = 10000;
  fv->rt_timeout = 120000;
  fv->image_ttl = 120000;
  fv->evict_period = 300000;
  fv->stream_idle = 4 * 3600 * 1000LL;
  fv->cfs_period = 100;
  fv->per_qos = fv->cfs_quota = fv->serialize_pulls = fv->register_node = fv->fail_swap = true;
  fv->api_qps = 50;
  fv->bootstrap_kubeconfig = fv->cert_dir = fv->client_ca_file = "";
  fv->anonymous_auth = true;
  fv->authz_mode = "AlwaysAllow";
  fv->token_webhook_ttl = 2 * 60 * 1000;
  fv->authz_allowed_ttl = 5 * 60 * 1000;
  fv->authz_denied_ttl = 30 * 1000;
}

/* --local-path-root: absolute, not "/", without "." or ".." components;
 * trailing slashes are dropped in place. */
static int check_local_path_root(char *root, char *err, size_t errlen)
{
  size_t n = strlen(root);
  while (n > 1 && root[n - 1] == '/') root[--n] = 0;
  bool bad = root[0] != '/' || n < 2 || strstr(root, "//") || strstr(root, "/./") || strstr(root, "/../");
  if (n >= 2 && !strcmp(root + n - 2, "/.")) bad = true;
  if (n >= 3 && !strcmp(root + n - 3, "/..")) bad = true;
  if (bad) {
    snprintf(err, errlen,
             "invalid argument \"%s\" for \"--local-path-root\" flag: must be a clean absolute path other than \"/\"",
             root);
    return -1;
  }
  return 0;
}

int kl_config_load(int argc, char **argv, struct kl_config **out, char *err, size_t errlen)
{
  struct flag_vals fv;
  struct flag flags[KL_MAX_FLAGS];
  flag_defaults(&fv);
  int rc = parse_flags(argc, argv, &fv, flags, err, errlen);
  if (rc != 0) return rc;
  klog_set_verbosity(fv.v);

  json_t *doc = kl_config_defaults();
  if (*fv.config) {
    json_t *file = load_file(fv.config, err, errlen);
    if (!file) {
      json_decref(doc);
      return -1;
    }
    json_object_update(doc, file);
    json_decref(file);
  }
  /* as upstream: the flags' legacy defaults without a file, v1beta1's with one */
  kl_config_auth_defaults(doc, !*fv.config);
  if (overlay_flags(doc, argc, argv, flags, err, errlen) < 0) {
    json_decref(doc);
    return -1;
  }
  struct kl_config *c = xcalloc(1, sizeof *c);
  rc = kl_config_from_doc(c, doc, err, errlen);
  json_decref(doc);
  c->kubeconfig = xstrdup(fv.kubeconfig);
  c->hostname_override = xstrdup(fv.hostname_override);
  c->node_ip = xstrdup(fv.node_ip);
  c->root_dir = xstrdup(fv.root_dir);
  c->pause_image = xstrdup(fv.pause_image);
  c->non_masquerade_cidr = xstrdup(fv.non_masq);
  c->host_network_container = xstrdup(fv.host_net_container);
  c->local_path_root = xstrdup(fv.local_path_root);
  c->v = fv.v;
  c->bootstrap_kubeconfig = xstrdup(fv.bootstrap_kubeconfig);
  if (*fv.cert_dir) c->cert_dir = xstrdup(fv.cert_dir);
  else if (asprintf(&c->cert_dir, "%s/pki", fv.root_dir) < 0) c->cert_dir = xstrdup("/var/lib/kubelet/pki");
  if (rc == 0) {
    char why[300] = "";
    c->node_labels = kl_parse_label_map(fv.node_labels, why, sizeof why);
    if (!c->node_labels) {
      snprintf(err, errlen, "invalid argument \"%s\" for \"--node-labels\" flag: %s", fv.node_labels, why);
      rc = -1;
    } else if (kl_validate_node_labels(c->node_labels, err, errlen) < 0) {
      rc = -1;
    }
  }
  if (rc == 0 && !*c->root_dir) {
    snprintf(err, errlen, "invalid argument \"\" for \"--root-dir\" flag: must not be empty");
    rc = -1;
  }
  if (rc == 0) rc = check_local_path_root(c->local_path_root, err, errlen);
  if (rc < 0) {
    kl_config_free(c);
    return -1;
  }
  *out = c;
  return 0;
}
