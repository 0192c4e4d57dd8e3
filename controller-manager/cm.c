/*
 * cm.c - the kube-controller-manager program: flags, client, health and
 * metrics server, leader election, and starting the controllers.
 *
 * Startup order, as upstream: parse flags, build the REST client from
 * --kubeconfig / --master, serve /healthz /livez /readyz /metrics on
 * --secure-port, then campaign for the kube-system/kube-controller-manager
 * Lease (--leader-elect).  Once leading, every enabled controller's start()
 * registers its informers and handlers, the shared informers start, and
 * when they have all synced each controller's run() begins.  Losing the
 * lease exits the process with status 1 (upstream: "leaderelection lost"),
 * since controllers cannot be stopped half-way safely.  SIGTERM/SIGINT
 * stop everything, release the lease and exit 0.
 */
#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cm.h"
#include "sa_clients.h"
#include "kube/flags.h"
#include "kube/http.h"
#include "kube/secure_serving.h"
#include "kube/informer.h"
#include "kube/kubeconfig.h"
#include "kube/leaderelection.h"
#include "kube/log.h"
#include "kube/metrics.h"
#include "kube/recorder.h"
#include "kube/restclient.h"
#include "kube/xalloc.h"

#define CM_SYNC_POLL_MS 100
#define CM_DEFAULT_RESYNC_MS (12 * 3600 * 1000LL)
#define CM_RELEASE_DEADLINE_MS 2000LL

struct cm_program {
  struct cm_ctx ctx;
  struct ksecure *http; /* the secure port */
  struct ksecure_flags sec;
  struct leader_elector *le;
  struct event *sig_term, *sig_int, *sync_timer, *release_deadline;
  struct cm_base *running[64];
  int nrunning;
  bool started, ran;
  int exit_code;
  int64_t le_lease_ms, le_renew_ms, le_retry_ms;
  char *le_ns, *le_name, *le_lock;
};

void cm_config_defaults(struct cm_config *c)
{
  memset(c, 0, sizeof(*c));
  c->kubeconfig = "";
  c->master = "";
  c->controllers = "*";
  c->leader_elect = true;
  c->cluster_cidr = "";
  c->root_ca_file = "";
  c->cluster_signing_cert_file = "";
  c->cluster_signing_key_file = "";
  c->cluster_signing_duration_ms = 8760LL * 3600 * 1000;
  c->pvclaimbinder_sync_period_ms = 15000;
  c->enable_dynamic_provisioning = true;
  c->local_path_root = "/var/lib/kubelet-local-path";
  c->node_cidr_mask_size = 24;
  c->node_monitor_grace_period_ms = 50000;
  c->node_monitor_period_ms = 5000;
  c->terminated_pod_gc_threshold = 12500;
  c->concurrent_deployment_syncs = 5;
  c->concurrent_replicaset_syncs = 5;
  c->concurrent_statefulset_syncs = 5;
  c->concurrent_daemonset_syncs = 2;
  c->concurrent_job_syncs = 5;
  c->concurrent_cron_job_syncs = 5;
  c->concurrent_endpoint_syncs = 5;
  c->concurrent_service_endpoint_syncs = 5;
  c->concurrent_namespace_syncs = 10;
  c->concurrent_gc_syncs = 20;
  c->concurrent_rc_syncs = 5;
  c->concurrent_resource_quota_syncs = 5;
  c->concurrent_serviceaccount_token_syncs = 5;
  c->concurrent_ephemeralvolume_syncs = 5;
  c->kube_api_qps = 20;
  c->kube_api_burst = 30;
  c->v = 0;
}

static bool controller_named(const struct controller_def *def, const char *name)
{
  return !strcmp(name, def->name) || (def->alias && !strcmp(name, def->alias));
}

bool cm_controller_enabled(const char *spec, const struct controller_def *def)
{
  if (!spec || !*spec) spec = "*";
  bool star = false, explicit_on = false, explicit_off = false;
  char *dup = xstrdup(spec), *save = NULL;
  for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    while (*t == ' ') t++;
    if (!strcmp(t, "*")) star = true;
    else if (t[0] == '-' && controller_named(def, t + 1)) explicit_off = true;
    else if (controller_named(def, t)) explicit_on = true;
  }
  free(dup);
  if (explicit_off) return false;
  if (explicit_on) return true;
  return star && def->enabled_by_default;
}

/* ---- health and metrics ---- */

static void http_handler(struct http_request *req, void *arg)
{
  struct cm_program *p = arg;
  const char *path = http_req_path(req);
  if (!strcmp(path, "/healthz") || !strcmp(path, "/livez") || !strcmp(path, "/readyz")) {
    http_reply(req, 200, "text/plain; charset=utf-8", "ok", 2);
  } else if (!strcmp(path, "/metrics")) {
    size_t len = 0;
    char *txt = metrics_render(p->ctx.metrics, &len);
    http_reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", txt ? txt : "", txt ? len : 0);
    free(txt);
  } else {
    http_reply(req, 404, "text/plain; charset=utf-8", "404 page not found\n", 19);
  }
}

/* ---- controllers ---- */

static void sync_poll_cb(evutil_socket_t fd, short what, void *arg)
{
  struct cm_program *p = arg;
  if (!informer_factory_has_synced(p->ctx.informers)) {
    struct timeval tv = {0, CM_SYNC_POLL_MS * 1000};
    evtimer_add(p->sync_timer, &tv);
    return;
  }
  KLOG_I("Caches are synced, starting %d controllers", p->nrunning);
  p->ran = true;
  for (int i = 0; i < p->nrunning; i++) cm_controller_run(p->running[i]);
}

/* Every enabled controller is started (informers and handlers), then the
 * informers; the workers run once the caches have synced. */
static void start_enabled(void *arg)
{
  struct cm_program *p = arg;
  for (const struct controller_def *const *d = cm_all_controllers; *d; d++) {
    if (!cm_controller_enabled(p->ctx.cfg.controllers, *d)) {
      KLOG_I("Warning: controller is disabled controller=\"%s\"", (*d)->name);
      continue;
    }
    if (p->nrunning >= (int)(sizeof p->running / sizeof p->running[0])) break;
    int rc;
    struct cm_base *b = cm_controller_start(*d, &p->ctx, &rc);
    if (!b) {
      /* As upstream: a controller that cannot start stops the program. */
      KLOG_E("error starting controllers: error starting \"%s\" controller: %s", (*d)->name, strerror(-rc));
      p->exit_code = 1;
      event_base_loopexit(p->ctx.base, NULL);
      return;
    }
    KLOG_I("Started controller controller=\"%s\"", (*d)->name);
    p->running[p->nrunning++] = b;
  }
  informer_factory_start(p->ctx.informers);
  p->sync_timer = evtimer_new(p->ctx.base, sync_poll_cb, p);
  struct timeval tv = {0, 0};
  evtimer_add(p->sync_timer, &tv);
}

/* With --use-service-account-credentials the controllers start once each
 * one's service account has a token (sa_clients.h). */
static void start_controllers(struct cm_program *p)
{
  if (p->started) return;
  p->started = true;
  if (!p->ctx.cfg.use_service_account_credentials) {
    start_enabled(p);
    return;
  }
  p->ctx.sa_clients = cm_sa_clients_new(&p->ctx);
  for (const struct controller_def *const *d = cm_all_controllers; *d; d++)
    if (cm_controller_enabled(p->ctx.cfg.controllers, *d)) cm_sa_clients_want(p->ctx.sa_clients, (*d)->service_account);
  cm_sa_clients_start(p->ctx.sa_clients, start_enabled, p);
}

static void on_started_leading(void *arg) { start_controllers(arg); }

static void on_stopped_leading(void *arg)
{
  KLOG_E("leaderelection lost");
  exit(1);
}

static void on_new_leader(void *arg, const char *id) {}

static void released(void *arg)
{
  struct cm_program *p = arg;
  event_base_loopexit(p->ctx.base, NULL);
}

static void release_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
  struct cm_program *p = arg;
  KLOG_W("could not release the lease within %lld ms, exiting anyway", (long long)CM_RELEASE_DEADLINE_MS);
  event_base_loopexit(p->ctx.base, NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
  struct cm_program *p = arg;
  KLOG_I("Received signal %d, shutting down", (int)sig);
  if (p->le && leaderelection_is_leader(p->le) && !p->release_deadline) {
    /* Releasing lets a standby take over at once, but an unreachable API
     * server must not keep the process (and its controllers) alive while
     * the client retries: give up after a bounded wait. */
    p->release_deadline = evtimer_new(p->ctx.base, release_deadline_cb, p);
    struct timeval tv = {CM_RELEASE_DEADLINE_MS / 1000, (CM_RELEASE_DEADLINE_MS % 1000) * 1000};
    if (p->release_deadline) evtimer_add(p->release_deadline, &tv);
    leaderelection_release(p->le, released, p);
    return;
  }
  event_base_loopexit(p->ctx.base, NULL);
}

static void program_free(struct cm_program *p)
{
  for (int i = p->nrunning - 1; i >= 0; i--) cm_controller_stop(p->running[i]);
  if (p->ctx.sa_clients) cm_sa_clients_free(p->ctx.sa_clients);
  if (p->le) leaderelection_free(p->le);
  if (p->http) ksecure_free(p->http);
  if (p->ctx.informers) informer_factory_free(p->ctx.informers);
  if (p->ctx.recorder) recorder_free(p->ctx.recorder);
  if (p->ctx.client) rest_client_free(p->ctx.client);
  if (p->ctx.metrics) metrics_free(p->ctx.metrics);
  if (p->sig_term) event_free(p->sig_term);
  if (p->sig_int) event_free(p->sig_int);
  if (p->sync_timer) event_free(p->sync_timer);
  if (p->release_deadline) event_free(p->release_deadline);
  if (p->ctx.base) event_base_free(p->ctx.base);
}

/* Step 1: the flags (upstream's names).  1: --help was printed; < 0:
 * bad input, told on stderr. */
static int parse_flags(struct cm_program *p, int argc, char **argv, const char **kube_context)
{
  struct cm_config *c = &p->ctx.cfg;
  cm_config_defaults(c);
  p->le_lease_ms = LEADERELECTION_DEFAULT_LEASE_DURATION_MS;
  p->le_renew_ms = LEADERELECTION_DEFAULT_RENEW_DEADLINE_MS;
  p->le_retry_ms = LEADERELECTION_DEFAULT_RETRY_PERIOD_MS;
  p->le_ns = "kube-system";
  p->le_name = "kube-controller-manager";
  *kube_context = "";
  p->le_lock = "leases";
  const struct flag flags[] = {
      {"kubeconfig", FLAG_STRING, &c->kubeconfig,
       "Path to kubeconfig file with authorization and master location information"},
      {"master", FLAG_STRING, &c->master,
       "The address of the Kubernetes API server (overrides any value in kubeconfig)."},
      {"context", FLAG_STRING, kube_context, "The kubeconfig context to use"},
      {"controllers", FLAG_STRING, &c->controllers,
       "A list of controllers to enable. '*' enables all on-by-default controllers, 'foo' enables the controller named "
       "'foo', '-foo' disables the controller named 'foo'."},
      {"leader-elect", FLAG_BOOL, &c->leader_elect,
       "Start a leader election client and gain leadership before executing the main loop."},
      {"leader-elect-lease-duration", FLAG_DURATION, &p->le_lease_ms,
       "The duration that non-leader candidates will wait after observing a leadership renewal until attempting to "
       "acquire leadership."},
      {"leader-elect-renew-deadline", FLAG_DURATION, &p->le_renew_ms,
       "The interval between attempts by the acting master to renew a leadership slot before it stops leading."},
      {"leader-elect-retry-period", FLAG_DURATION, &p->le_retry_ms,
       "The duration the clients should wait between attempting acquisition and renewal of a leadership."},
      {"leader-elect-resource-namespace", FLAG_STRING, &p->le_ns,
       "The namespace of resource object that is used for locking during leader election."},
      {"leader-elect-resource-name", FLAG_STRING, &p->le_name,
       "The name of resource object that is used for locking during leader election."},
      {"leader-elect-resource-lock", FLAG_STRING, &p->le_lock,
       "The type of resource object that is used for locking during leader election. Only 'leases' is supported."},
      KSECURE_FLAG_ROWS(&p->sec),
      {"cluster-cidr", FLAG_STRING, &c->cluster_cidr, "CIDR Range for Pods in cluster."},
      {"allocate-node-cidrs", FLAG_BOOL, &c->allocate_node_cidrs,
       "Should CIDRs for Pods be allocated and set on the cloud provider."},
      {"node-cidr-mask-size", FLAG_INT, &c->node_cidr_mask_size, "Mask size for node cidr in cluster."},
      {"node-monitor-grace-period", FLAG_DURATION, &c->node_monitor_grace_period_ms,
       "Amount of time which we allow running Node to be unresponsive before marking it unhealthy."},
      {"node-monitor-period", FLAG_DURATION, &c->node_monitor_period_ms,
       "The period for syncing NodeStatus in cloud-node-lifecycle-controller."},
      {"terminated-pod-gc-threshold", FLAG_INT, &c->terminated_pod_gc_threshold,
       "Number of terminated pods that can exist before the terminated pod garbage collector starts deleting "
       "terminated pods. If <= 0, the terminated pod garbage collector is disabled."},
      {"concurrent-deployment-syncs", FLAG_INT, &c->concurrent_deployment_syncs,
       "The number of deployment objects that are allowed to sync concurrently."},
      {"concurrent-replicaset-syncs", FLAG_INT, &c->concurrent_replicaset_syncs,
       "The number of replica sets that are allowed to sync concurrently."},
      {"concurrent-statefulset-syncs", FLAG_INT, &c->concurrent_statefulset_syncs,
       "The number of statefulset objects that are allowed to sync concurrently."},
      {"concurrent-daemonset-syncs", FLAG_INT, &c->concurrent_daemonset_syncs,
       "The number of daemonset objects that are allowed to sync concurrently."},
      {"concurrent-job-syncs", FLAG_INT, &c->concurrent_job_syncs,
       "The number of job objects that are allowed to sync concurrently."},
      {"concurrent-cron-job-syncs", FLAG_INT, &c->concurrent_cron_job_syncs,
       "The number of cron job objects that are allowed to sync concurrently."},
      {"concurrent-endpoint-syncs", FLAG_INT, &c->concurrent_endpoint_syncs,
       "The number of endpoint syncing operations that will be done concurrently."},
      {"concurrent-service-endpoint-syncs", FLAG_INT, &c->concurrent_service_endpoint_syncs,
       "The number of service endpoint syncing operations that will be done concurrently."},
      {"concurrent-namespace-syncs", FLAG_INT, &c->concurrent_namespace_syncs,
       "The number of namespace objects that are allowed to sync concurrently."},
      {"concurrent-gc-syncs", FLAG_INT, &c->concurrent_gc_syncs,
       "The number of garbage collector workers that are allowed to sync concurrently."},
      {"concurrent-rc-syncs", FLAG_INT, &c->concurrent_rc_syncs,
       "The number of replication controllers that are allowed to sync concurrently."},
      {"concurrent-resource-quota-syncs", FLAG_INT, &c->concurrent_resource_quota_syncs,
       "The number of resource quotas that are allowed to sync concurrently."},
      {"concurrent-serviceaccount-token-syncs", FLAG_INT, &c->concurrent_serviceaccount_token_syncs,
       "The number of service account token objects that are allowed to sync concurrently."},
      {"pvclaimbinder-sync-period", FLAG_DURATION, &c->pvclaimbinder_sync_period_ms,
       "The period for syncing persistent volumes and persistent volume claims"},
      {"enable-dynamic-provisioning", FLAG_BOOL, &c->enable_dynamic_provisioning,
       "Enable dynamic provisioning for environments that support it."},
      {"local-path-root", FLAG_STRING, &c->local_path_root,
       "The directory under which the built-in local-path provisioner (kube.local/local-path) places its volumes on "
       "their nodes; the kubelets must use the same directory."},
      {"concurrent-ephemeralvolume-syncs", FLAG_INT, &c->concurrent_ephemeralvolume_syncs,
       "The number of ephemeral volume syncing operations that will be done concurrently. Larger number = faster "
       "ephemeral volume updating, but more CPU (and network) load"},
      {"kube-api-qps", FLAG_FLOAT, &c->kube_api_qps, "QPS to use while talking with kubernetes apiserver."},
      {"kube-api-burst", FLAG_INT, &c->kube_api_burst, "Burst to use while talking with kubernetes apiserver."},
      {"use-service-account-credentials", FLAG_BOOL, &c->use_service_account_credentials,
       "If true, use individual service account credentials for each controller."},
      {"service-account-private-key-file", FLAG_UNSUPPORTED, NULL,
       "the API server signs service account tokens (TokenRequest); no token Secrets are made"},
      {"root-ca-file", FLAG_STRING, &c->root_ca_file,
       "If set, this root certificate authority will be included in service account's token secret. This must be a "
       "valid PEM-encoded CA bundle."},
      {"cluster-signing-cert-file", FLAG_STRING, &c->cluster_signing_cert_file,
       "Filename containing a PEM-encoded X509 CA certificate used to issue cluster-scoped certificates."},
      {"cluster-signing-key-file", FLAG_STRING, &c->cluster_signing_key_file,
       "Filename containing a PEM-encoded RSA or ECDSA private key used to sign cluster-scoped certificates."},
      {"cluster-signing-duration", FLAG_DURATION, &c->cluster_signing_duration_ms,
       "The max length of duration signed certificates will be given. Individual CSRs may request shorter certs by "
       "setting spec.expirationSeconds."},
      {"requestheader-client-ca-file", FLAG_UNSUPPORTED, NULL,
       "the health and metrics port does not authenticate requests yet"},
      {"service-cluster-ip-range", FLAG_STRING, &c->service_cluster_ip_range,
       "CIDR Range for Services in cluster. Node pod ranges never overlap it."},
      {"cluster-name", FLAG_UNSUPPORTED, NULL, "no controller here names cloud resources"},
      {"min-resync-period", FLAG_UNSUPPORTED, NULL, "informers resync on a fixed period"},
      {"v", FLAG_INT, &c->v, "number for the log level verbosity"},
      {NULL},
  };
  char err[512];
  int rc = flags_parse(
      argc, argv, flags,
      "The Kubernetes controller manager is a daemon that embeds the core control loops shipped with Kubernetes.", err,
      sizeof err);
  if (rc == 0 && strcmp(p->le_lock, "leases") != 0) {
    snprintf(err, sizeof err,
             "invalid argument \"%s\" for \"--leader-elect-resource-lock\" flag: only \"leases\" is supported",
             p->le_lock);
    rc = -1;
  }
  if (rc == 0 && ksecure_check(&p->sec, err, sizeof err) < 0) rc = -1;
  if (rc < 0) fprintf(stderr, "Error: %s\n", err);
  return rc;
}

/* Step 2: the loop, the REST client, the metrics, the Event recorder and
 * the informer factory. */
static int setup_client(struct cm_program *p, const char *kube_context)
{
  struct cm_config *c = &p->ctx.cfg;
  char err[512];
  struct rest_config rc_cfg;
  if (kubeconfig_load(c->kubeconfig, kube_context, c->master, &rc_cfg, err, sizeof err) < 0) {
    KLOG_E("error building controller context: %s", err);
    return -1;
  }
  rc_cfg.qps = c->kube_api_qps;
  rc_cfg.burst = c->kube_api_burst;
  if (!rc_cfg.user_agent) rc_cfg.user_agent = rest_default_user_agent("kube-controller-manager");
  p->ctx.base = event_base_new();
  p->ctx.client = rest_client_new(p->ctx.base, &rc_cfg);
  rest_config_free(&rc_cfg);
  p->ctx.metrics = metrics_new();
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  p->ctx.recorder = recorder_new(p->ctx.base, p->ctx.client, "kube-controller-manager", host);
  p->ctx.informers = informer_factory_new(p->ctx.base, p->ctx.client, CM_DEFAULT_RESYNC_MS);
  if (p->ctx.informers) informer_factory_drop_managed_fields(p->ctx.informers);
  if (!p->ctx.client || !p->ctx.metrics || !p->ctx.recorder || !p->ctx.informers) {
    KLOG_E("failed to initialise the client");
    return -1;
  }
  return 0;
}

/* Step 3: /healthz, /livez, /readyz and /metrics on --secure-port, and
 * the signals. */
static int serve(struct cm_program *p)
{
  if (p->sec.port > 0) {
    char err[512];
    p->http = ksecure_new(p->ctx.base, &p->sec, "kube-controller-manager", http_handler, p, err, sizeof err);
    if (!p->http) {
      KLOG_E("secure serving: %s", err);
      return -1;
    }
    KLOG_I("Serving securely on %s:%d", p->sec.bind_address, ksecure_port(p->http));
  }
  p->sig_term = evsignal_new(p->ctx.base, SIGTERM, on_signal, p);
  p->sig_int = evsignal_new(p->ctx.base, SIGINT, on_signal, p);
  event_add(p->sig_term, NULL);
  event_add(p->sig_int, NULL);
  return 0;
}

/* Step 4: the controllers start once the Lease is held (--leader-elect),
 * or at once. */
static int campaign(struct cm_program *p)
{
  if (!p->ctx.cfg.leader_elect) {
    start_controllers(p);
    return 0;
  }
  struct leaderelection_config lc = {
      .namespace = p->le_ns,
      .name = p->le_name,
      .lease_duration_ms = p->le_lease_ms,
      .renew_deadline_ms = p->le_renew_ms,
      .retry_period_ms = p->le_retry_ms,
      .on_started_leading = on_started_leading,
      .on_stopped_leading = on_stopped_leading,
      .on_new_leader = on_new_leader,
      .arg = p,
  };
  p->le = leaderelection_new(p->ctx.base, p->ctx.client, &lc);
  if (!p->le) {
    KLOG_E("failed to create the leader elector");
    return -1;
  }
  /* Tells replicas apart: the Lease's holderIdentity names this process. */
  KLOG_I("leader election identity: %s", leaderelection_identity(p->le));
  leaderelection_start(p->le);
  return 0;
}

int cm_main(int argc, char **argv)
{
  struct cm_program prog;
  memset(&prog, 0, sizeof prog);
  prog.sec = (struct ksecure_flags)KSECURE_FLAGS_INIT(10257);
  struct cm_program *p = &prog;
  const char *kube_context;
  int rc = parse_flags(p, argc, argv, &kube_context);
  if (rc != 0) return rc < 0 ? 1 : 0;
  klog_set_verbosity(p->ctx.cfg.v);
  signal(SIGPIPE, SIG_IGN);
  if (setup_client(p, kube_context) < 0 || serve(p) < 0 || campaign(p) < 0) {
    program_free(p);
    return 1;
  }
  event_base_dispatch(p->ctx.base);
  program_free(p);
  return p->exit_code;
}
