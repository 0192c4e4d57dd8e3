/*
 * app.c - the kubelet program: flags and config (config.c), the context
 * struct (kubelet.h), the API client, the runtime, the Node, the pods,
 * the HTTP servers, signals.
 *
 * Start-up order as upstream: configuration is validated before anything
 * else; the root directory is created; the client certificate is
 * bootstrapped when --kubeconfig has none (certmgr.c: this blocks start-up,
 * bounded) and, with rotateCertificates, renewed before it expires; the
 * runtime is probed every
 * RUNTIME_CHECK_MS (an unreachable runtime makes the Node NotReady, it is
 * not fatal); the Node registers and heartbeats; the pod manager starts
 * its informers and workers.  SIGTERM/SIGINT stop the loop; containers
 * keep running (a restarted kubelet adopts them).
 */
#define _GNU_SOURCE
#include "app.h"

#include <ctype.h>
#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "certificate.h"
#include "certmgr.h"
#include "kube/fileutil.h"
#include "kube/json.h"
#include "kube/kubeconfig.h"
#include "kube/log.h"
#include "kube/metrics.h"
#include "kube/recorder.h"
#include "kube/restclient.h"
#include "kube/timeutil.h"
#include "kube/xalloc.h"
#include "kubelet.h"
#include "node_status.h"
#include "podnet.h"
#include "pods.h"
#include "runtime/runtime.h"
#include "server.h"
#include "stats.h"
#include "eviction.h"
#include "gc.h"
#include "local_path.h"

#define RUNTIME_CHECK_MS 5000
#define KL_OOM_SCORE_ADJ -999

#define SHUTDOWN_DRAIN_MS 3000
#define SHUTDOWN_POLL_MS 20

struct kl_app {
  struct kubelet k;
  struct event *runtime_timer, *drain_timer;
  bool runtime_checking;
  int64_t stop_deadline_ms;
};

static int mkdir_p(const char *path, mode_t mode)
{
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(buf, mode) < 0 && errno != EEXIST) return -errno;
    *p = '/';
  }
  if (mkdir(buf, mode) < 0 && errno != EEXIST) return -errno;
  return 0;
}

/* ---- runtime probe ---- */

static void runtime_version_done(void *arg, int err, json_t *res, const char *msg)
{
  struct kl_app *a = arg;
  struct kubelet *k = &a->k;
  a->runtime_checking = false;
  bool was_up = k->runtime_version[0] && !k->runtime_error[0];
  if (err) {
    snprintf(k->runtime_error, sizeof k->runtime_error, "%s", msg && *msg ? msg : strerror(-err));
    if (was_up) KLOG_E("Container runtime not ready: %s", k->runtime_error);
  } else {
    k->runtime_error[0] = 0;
    snprintf(k->runtime_version, sizeof k->runtime_version, "%s://%s", kj_get_str(res, "runtimeName") ?: "docker",
             kj_get_str(res, "runtimeVersion") ?: "");
    if (!was_up)
      KLOG_I("Container runtime ready: %s (API %s)", k->runtime_version, kj_get_str(res, "runtimeApiVersion") ?: "");
  }
  if (was_up != (k->runtime_version[0] && !k->runtime_error[0]) && k->node) kl_node_status_changed(k->node);
}

static void runtime_check(evutil_socket_t fd, short what, void *arg)
{
  struct kl_app *a = arg;
  if (!a->runtime_checking) {
    a->runtime_checking = true;
    a->k.rt->ops->version(a->k.rt, runtime_version_done, a);
  }
  struct timeval tv = {RUNTIME_CHECK_MS / 1000, (RUNTIME_CHECK_MS % 1000) * 1000};
  evtimer_add(a->runtime_timer, &tv);
}

/* ---- set-up ---- */

/* Shutdown waits (bounded) for the syncs, probes and runtime calls in
 * flight, so that every object they hold is released by its owner. */
static void drain(evutil_socket_t fd, short what, void *arg)
{
  struct kl_app *a = arg;
  struct kubelet *k = &a->k;
  bool idle = kl_pods_idle(k->pods) && k->rt->ops->pending(k->rt) == 0 && !a->runtime_checking;
  if (idle || ktime_mono_ms() >= a->stop_deadline_ms) {
    if (!idle) KLOG_W("Shutting down with work still in flight");
    event_base_loopexit(k->base, NULL);
    return;
  }
  struct timeval tv = {0, SHUTDOWN_POLL_MS * 1000};
  evtimer_add(a->drain_timer, &tv);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
  struct kl_app *a = arg;
  struct kubelet *k = &a->k;
  KLOG_I("Received signal %d, shutting down", (int)sig);
  if (a->drain_timer) { /* a second signal: now */
    event_base_loopexit(k->base, NULL);
    return;
  }
  evtimer_del(a->runtime_timer);
  kl_pods_stop(k->pods);
  kl_eviction_stop(k->eviction);
  kl_gc_stop(k->gc);
  kl_local_path_stop(k->local_path);
  if (k->client_certs) kl_certmgr_free(k->client_certs);
  k->client_certs = NULL;
  kl_node_stop(k->node);
  kl_podnet_stop(k->net);
  a->stop_deadline_ms = ktime_mono_ms() + SHUTDOWN_DRAIN_MS;
  a->drain_timer = evtimer_new(k->base, drain, a);
  drain(-1, 0, a);
}

/* The kubelet's own oom_score_adj (upstream's --oom-score-adj, -999).
 * Without CAP_SYS_RESOURCE no process here may lower it: then neither can
 * the runtime for sandboxes and Guaranteed containers, whose values are
 * clamped to what is allowed. */
static void apply_oom_score_adj(struct kubelet *k)
{
  int cur = 0;
  FILE *f = fopen("/proc/self/oom_score_adj", "r");
  if (f) {
    if (fscanf(f, "%d", &cur) != 1) cur = 0;
    fclose(f);
  }
  k->min_oom_score_adj = -1000;
  f = fopen("/proc/self/oom_score_adj", "w");
  bool ok = f && fprintf(f, "%d", KL_OOM_SCORE_ADJ) > 0;
  if (f && fclose(f) != 0) ok = false;
  if (!ok) {
    k->min_oom_score_adj = cur;
    KLOG_W("Failed to apply oom_score_adj %d (%s): sandboxes and containers get at least %d", KL_OOM_SCORE_ADJ,
           strerror(errno), cur);
  }
}

static void node_identity(struct kubelet *k)
{
  const char *name = *k->cfg->hostname_override ? k->cfg->hostname_override : k->machine.hostname;
  size_t j = 0;
  for (const char *p = name; *p && j < sizeof k->node_name - 1; p++)
    if (!isspace((unsigned char)*p)) k->node_name[j++] = (char)tolower((unsigned char)*p);
  k->node_name[j] = 0;
  if (*k->cfg->node_ip) snprintf(k->node_ip, sizeof k->node_ip, "%s", k->cfg->node_ip);
  else if (kl_default_node_ip(k->node_name, k->node_ip, sizeof k->node_ip) < 0)
    snprintf(k->node_ip, sizeof k->node_ip, "127.0.0.1");
}

/* A rotated client certificate: requests from now on present it. */
static void client_cert_rotated(void *arg, const char *pem_path, const char *cert_pem, const char *key_pem)
{
  (void)pem_path;
  struct kubelet *k = arg;
  rest_client_set_client_cert(k->client, cert_pem, strlen(cert_pem), key_pem, strlen(key_pem));
}

/* With rotateCertificates the store's current pair wins over the
 * kubeconfig's (upstream's client certificate manager reads it first). */
static void use_current_client_pair(struct kubelet *k, struct rest_config *rc)
{
  char path[4400];
  kl_cert_current_path(k->cfg->cert_dir, "kubelet-client", path, sizeof path);
  size_t len = 0;
  char *pem = kl_cert_file_usable(path, (int64_t)time(NULL)) ? kfile_read(path, &len) : NULL;
  if (!pem) return;
  free(rc->cert_data);
  free(rc->key_data);
  rc->cert_data = pem;
  rc->cert_len = len;
  rc->key_data = xmalloc(len + 1);
  memcpy(rc->key_data, pem, len + 1);
  rc->key_len = len;
}

static int make_client(struct kubelet *k, char *err, size_t errlen)
{
  struct rest_config rc;
  if (!*k->cfg->kubeconfig) {
    snprintf(err, errlen, "--kubeconfig is required (standalone mode without an API server is not supported)");
    return -1;
  }
  if (kl_bootstrap_client(k->cfg, k->node_name, err, errlen) < 0) return -1;
  if (kubeconfig_load(k->cfg->kubeconfig, "", "", &rc, err, errlen) < 0) return -1;
  if (k->cfg->rotate_certificates) use_current_client_pair(k, &rc);
  rc.qps = k->cfg->kube_api_qps;
  rc.burst = k->cfg->kube_api_burst;
  if (!rc.user_agent) rc.user_agent = rest_default_user_agent("kubelet");
  k->client = rest_client_new(k->base, &rc);
  if (k->client && k->cfg->rotate_certificates && rc.cert_data) {
    char *cert = xmalloc(rc.cert_len + 1);
    memcpy(cert, rc.cert_data, rc.cert_len);
    cert[rc.cert_len] = 0;
    k->client_certs = kl_certmgr_new(k, KL_CERT_CLIENT, cert, client_cert_rotated, k);
    free(cert);
  }
  rest_config_free(&rc);
  if (!k->client) {
    snprintf(err, errlen, "cannot create the API client");
    return -1;
  }
  return 0;
}

static int make_runtime(struct kubelet *k)
{
  struct kl_docker_opts o = {
      .socket_path = k->cfg->runtime_socket,
      .node_name = k->node_name,
      .pause_image = k->cfg->pause_image,
      .host_network_container = k->cfg->host_network_container,
      .request_timeout_ms = k->cfg->runtime_request_timeout_ms,
      .log_max_size_bytes = k->cfg->container_log_max_size_bytes,
      .log_max_files = k->cfg->container_log_max_files,
      .min_oom_score_adj = k->min_oom_score_adj,
  };
  k->rt = kl_docker_new(k->base, &o);
  return k->rt ? 0 : -ENOMEM;
}

static void app_free(struct kl_app *a)
{
  struct kubelet *k = &a->k;
  if (k->server) kl_server_free(k->server);
  if (k->client_certs) kl_certmgr_free(k->client_certs);
  if (k->pods) kl_pods_free(k->pods);
  if (k->stats) kl_stats_free(k->stats);
  if (k->eviction) kl_eviction_free(k->eviction);
  if (k->gc) kl_gc_free(k->gc);
  if (k->local_path) kl_local_path_free(k->local_path);
  if (k->net) kl_podnet_free(k->net);
  if (k->node) kl_node_free(k->node);
  if (a->runtime_timer) event_free(a->runtime_timer);
  if (a->drain_timer) event_free(a->drain_timer);
  if (k->rt) k->rt->ops->free(k->rt);
  if (k->recorder) recorder_free(k->recorder);
  if (k->client) rest_client_free(k->client);
  if (k->metrics) metrics_free(k->metrics);
  if (k->sig_term) event_free(k->sig_term);
  if (k->sig_int) event_free(k->sig_int);
  if (k->base) event_base_free(k->base);
  json_decref(k->node_images);
  kl_config_free(k->cfg);
}

static int app_init(struct kl_app *a, char *err, size_t errlen)
{
  struct kubelet *k = &a->k;
  k->start_us = ktime_now_us();
  kl_machine_read(&k->machine);
  node_identity(k);
  apply_oom_score_adj(k);
  int rc = mkdir_p(k->cfg->root_dir, 0750);
  if (rc < 0) {
    snprintf(err, errlen, "error creating root directory %s: %s", k->cfg->root_dir, strerror(-rc));
    return -1;
  }
  char pods[4096];
  snprintf(pods, sizeof pods, "%s/pods", k->cfg->root_dir);
  mkdir_p(pods, 0750);
  k->base = event_base_new();
  k->metrics = metrics_new();
  if (!k->base || !k->metrics) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  if (make_client(k, err, errlen) < 0) return -1;
  k->recorder = recorder_new(k->base, k->client, "kubelet", k->node_name);
  if (make_runtime(k) < 0) {
    snprintf(err, errlen, "cannot create the container runtime client");
    return -1;
  }
  k->node = kl_node_new(k);
  k->net = kl_podnet_new(k);
  k->pods = kl_pods_new(k);
  k->stats = kl_stats_new(k);
  k->eviction = kl_eviction_new(k);
  k->gc = kl_gc_new(k);
  k->local_path = kl_local_path_new(k);
  k->server = kl_server_new(k, err, errlen);
  a->runtime_timer = evtimer_new(k->base, runtime_check, a);
  if (!k->recorder || !k->node || !k->net || !k->pods || !k->stats || !k->server || !k->local_path ||
      !a->runtime_timer) {
    if (!err[0]) snprintf(err, errlen, "out of memory");
    return -1;
  }
  k->sig_term = evsignal_new(k->base, SIGTERM, on_signal, a);
  k->sig_int = evsignal_new(k->base, SIGINT, on_signal, a);
  event_add(k->sig_term, NULL);
  event_add(k->sig_int, NULL);
  return 0;
}

int kl_main(int argc, char **argv)
{
  struct kl_app *a = xcalloc(1, sizeof *a);
  char err[2048] = "";
  int rc = kl_config_load(argc, argv, &a->k.cfg, err, sizeof err);
  if (rc != 0) {
    if (rc < 0) fprintf(stderr, "Error: %s\n", err);
    free(a);
    return rc < 0 ? 1 : 0;
  }
  signal(SIGPIPE, SIG_IGN);
  if (app_init(a, err, sizeof err) < 0) {
    KLOG_E("%s", err);
    app_free(a);
    free(a);
    return 1;
  }
  struct kubelet *k = &a->k;
  KLOG_I("Kubelet version %s, node %s (%s), runtime %s, root %s", KL_VERSION, k->node_name, k->node_ip,
         k->cfg->runtime_endpoint, k->cfg->root_dir);
  runtime_check(-1, 0, a);
  kl_node_start(k->node);
  kl_podnet_start(k->net);
  kl_pods_start(k->pods);
  kl_eviction_start(k->eviction);
  kl_gc_start(k->gc);
  kl_local_path_start(k->local_path);
  if (k->client_certs) kl_certmgr_start(k->client_certs);
  json_t *ref = kl_node_ref(k);
  recorder_eventf(k->recorder, ref, "Normal", "Starting", "Starting kubelet.");
  json_decref(ref);
  event_base_dispatch(k->base);
  app_free(a);
  free(a);
  return 0;
}
