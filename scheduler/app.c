/*
 * app.c - the kube-scheduler program: flags, configuration, client,
 * health and metrics server, leader election, signals.
 *
 * As upstream: the KubeSchedulerConfiguration (--config, YAML) gives the
 * profiles and may carry clientConnection and leaderElection settings; the
 * informers start at once so that a standby replica keeps a warm cache,
 * but pods are scheduled only while this replica holds the
 * kube-system/kube-scheduler Lease (--leader-elect, default true).  Losing
 * the lease exits with status 1, since a half-finished scheduling cycle
 * cannot be handed over.  SIGTERM/SIGINT release the lease, cancel
 * outstanding writes and exit 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kube/flags.h"
#include "kube/http.h"
#include "kube/secure_serving.h"
#include "kube/json.h"
#include "kube/kubeconfig.h"
#include "kube/leaderelection.h"
#include "kube/log.h"
#include "kube/metrics.h"
#include "kube/restclient.h"
#include "kube/timeutil.h"
#include "kube/yaml.h"
#include "kube/fileutil.h"
#include "scheduler.h"

struct sched_app {
  struct event_base *base;
  struct rest_client *client;
  struct metrics *metrics;
  struct sched_config *cfg;
  struct sched_server *server;
  struct ksecure *http; /* the secure port */
  struct leader_elector *le;
  struct event *sig_term, *sig_int;
};

static void http_handler(struct http_request *req, void *arg)
{
  struct sched_app *a = arg;
  const char *path = http_req_path(req);
  if (!strcmp(path, "/healthz") || !strcmp(path, "/livez")) {
    http_reply(req, 200, "text/plain; charset=utf-8", "ok", 2);
  } else if (!strcmp(path, "/readyz")) {
    bool ready = a->server && sched_server_synced(a->server);
    if (ready) http_reply(req, 200, "text/plain; charset=utf-8", "ok", 2);
    else http_reply(req, 503, "text/plain; charset=utf-8", "informers not synced\n", 21);
  } else if (!strcmp(path, "/metrics")) {
    size_t len = 0;
    char *txt = metrics_render(a->metrics, &len);
    http_reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", txt ? txt : "", txt ? len : 0);
    free(txt);
  } else {
    http_reply(req, 404, "text/plain; charset=utf-8", "404 page not found\n", 19);
  }
}

static void on_started_leading(void *arg)
{
  struct sched_app *a = arg;
  KLOG_I("successfully acquired lease kube-system/kube-scheduler");
  sched_server_set_leading(a->server, true);
}

static void on_stopped_leading(void *arg)
{
  KLOG_E("leaderelection lost");
  exit(1);
}

static void on_new_leader(void *arg, const char *id) { KLOG_I("new leader elected: %s", id); }

static void released(void *arg)
{
  struct sched_app *a = arg;
  event_base_loopexit(a->base, NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
  struct sched_app *a = arg;
  KLOG_I("Received signal %d, shutting down", (int)sig);
  if (a->server) sched_server_set_leading(a->server, false);
  if (a->le && leaderelection_is_leader(a->le) && leaderelection_release(a->le, released, a) == 0) return;
  event_base_loopexit(a->base, NULL);
}

static void app_free(struct sched_app *a)
{
  if (a->le) leaderelection_free(a->le);
  if (a->http) ksecure_free(a->http);
  if (a->server) sched_server_free(a->server);
  if (a->client) rest_client_free(a->client);
  if (a->cfg) sched_config_free(a->cfg);
  if (a->metrics) metrics_free(a->metrics);
  if (a->sig_term) event_free(a->sig_term);
  if (a->sig_int) event_free(a->sig_int);
  if (a->base) event_base_free(a->base);
}

/* Reads and parses --config; NULL cfg_doc means defaults. */
static json_t *load_config_file(const char *path, char *err, size_t errlen)
{
  size_t len = 0;
  char *buf = kfile_read(path, &len);
  if (!buf) {
    snprintf(err, errlen, "open %s: %s", path, strerror(errno));
    return NULL;
  }
  json_t *doc = buf ? kyaml_load(buf, len, err, errlen) : NULL;
  free(buf);
  return doc;
}

static int64_t config_duration(const json_t *le, const char *field, int64_t dflt)
{
  const char *s = json_string_value(json_object_get(le, field));
  int64_t ms;
  return s && ktime_parse_duration_ms(s, &ms) == 0 ? ms : dflt;
}

int sched_main(int argc, char **argv)
{
  struct sched_app app;
  memset(&app, 0, sizeof app);
  struct sched_app *a = &app;
  char *kubeconfig = "", *master = "", *config_path = "";
  struct ksecure_flags sec = KSECURE_FLAGS_INIT(10259);
  char *le_ns = LEADERELECTION_DEFAULT_NAMESPACE, *le_name = "kube-scheduler", *le_lock = "leases";
  bool leader_elect = true;
  int64_t le_lease_ms = LEADERELECTION_DEFAULT_LEASE_DURATION_MS;
  int64_t le_renew_ms = LEADERELECTION_DEFAULT_RENEW_DEADLINE_MS;
  int64_t le_retry_ms = LEADERELECTION_DEFAULT_RETRY_PERIOD_MS;
  int v = 0, burst = 100;
  double qps = 50;
  const struct flag flags[] = {
      {"config", FLAG_STRING, &config_path, "The path to the configuration file."},
      {"kubeconfig", FLAG_STRING, &kubeconfig,
       "Path to kubeconfig file with authorization and master location information."},
      {"master", FLAG_STRING, &master, "The address of the Kubernetes API server (overrides any value in kubeconfig)"},
      {"leader-elect", FLAG_BOOL, &leader_elect,
       "Start a leader election client and gain leadership before executing the main loop. Enable this when running "
       "replicated components for high availability."},
      {"leader-elect-lease-duration", FLAG_DURATION, &le_lease_ms,
       "The duration that non-leader candidates will wait after observing a leadership renewal until attempting to "
       "acquire leadership of a led but unrenewed leader slot."},
      {"leader-elect-renew-deadline", FLAG_DURATION, &le_renew_ms,
       "The interval between attempts by the acting master to renew a leadership slot before it stops leading."},
      {"leader-elect-retry-period", FLAG_DURATION, &le_retry_ms,
       "The duration the clients should wait between attempting acquisition and renewal of a leadership."},
      {"leader-elect-resource-namespace", FLAG_STRING, &le_ns,
       "The namespace of resource object that is used for locking during leader election."},
      {"leader-elect-resource-name", FLAG_STRING, &le_name,
       "The name of resource object that is used for locking during leader election."},
      {"leader-elect-resource-lock", FLAG_STRING, &le_lock,
       "The type of resource object that is used for locking during leader election. Supported options are 'leases'."},
      KSECURE_FLAG_ROWS(&sec),
      {"kube-api-qps", FLAG_FLOAT, &qps, "QPS to use while talking with kubernetes apiserver."},
      {"kube-api-burst", FLAG_INT, &burst, "Burst to use while talking with kubernetes apiserver."},
      {"v", FLAG_INT, &v, "number for the log level verbosity"},
      {NULL},
  };
  char err[512];
  int rc =
      flags_parse(argc, argv, flags, "The Kubernetes scheduler is a control plane process which assigns Pods to Nodes.",
                  err, sizeof err);
  if (rc == 1) return 0;
  if (rc == 0 && strcmp(le_lock, "leases") != 0) {
    snprintf(err, sizeof err,
             "invalid argument \"%s\" for \"--leader-elect-resource-lock\" flag: only \"leases\" is supported",
             le_lock);
    rc = -1;
  }
  if (rc == 0 && ksecure_check(&sec, err, sizeof err) < 0) rc = -1;
  if (rc < 0) {
    fprintf(stderr, "Error: %s\n", err);
    return 1;
  }
  klog_set_verbosity(v);
  signal(SIGPIPE, SIG_IGN);

  json_t *doc = NULL;
  if (*config_path) {
    doc = load_config_file(config_path, err, sizeof err);
    if (!doc) {
      fprintf(stderr, "Error: failed to load config file %s: %s\n", config_path, err);
      return 1;
    }
    const json_t *cc = json_object_get(doc, "clientConnection");
    const char *kc = json_string_value(json_object_get(cc, "kubeconfig"));
    if (kc && *kc && !*kubeconfig) kubeconfig = (char *)kc;
    if (json_is_number(json_object_get(cc, "qps"))) qps = json_number_value(json_object_get(cc, "qps"));
    if (json_is_integer(json_object_get(cc, "burst"))) burst = (int)json_integer_value(json_object_get(cc, "burst"));
    const json_t *le = json_object_get(doc, "leaderElection");
    if (json_is_boolean(json_object_get(le, "leaderElect")))
      leader_elect = json_is_true(json_object_get(le, "leaderElect"));
    le_lease_ms = config_duration(le, "leaseDuration", le_lease_ms);
    le_renew_ms = config_duration(le, "renewDeadline", le_renew_ms);
    le_retry_ms = config_duration(le, "retryPeriod", le_retry_ms);
  }
  a->cfg = sched_config_parse(doc, err, sizeof err);
  if (!a->cfg) {
    fprintf(stderr, "Error: invalid configuration: %s\n", err);
    json_decref(doc);
    return 1;
  }

  struct rest_config rcfg;
  rc = kubeconfig_load(kubeconfig, "", master, &rcfg, err, sizeof err);
  json_decref(doc); /* kubeconfig may point into it */
  if (rc < 0) {
    KLOG_E("failed to create the client: %s", err);
    app_free(a);
    return 1;
  }
  rcfg.qps = qps;
  rcfg.burst = burst;
  if (!rcfg.user_agent) rcfg.user_agent = rest_default_user_agent("kube-scheduler");

  a->base = event_base_new();
  a->client = a->base ? rest_client_new(a->base, &rcfg) : NULL;
  rest_config_free(&rcfg);
  a->metrics = metrics_new();
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  a->server = a->client && a->metrics ? sched_server_new(a->base, a->client, a->metrics, a->cfg, host) : NULL;
  if (!a->server) {
    KLOG_E("failed to create the scheduler");
    app_free(a);
    return 1;
  }
  if (sec.port > 0) {
    a->http = ksecure_new(a->base, &sec, "kube-scheduler", http_handler, a, err, sizeof err);
    if (!a->http) {
      KLOG_E("secure serving: %s", err);
      app_free(a);
      return 1;
    }
    KLOG_I("Serving securely on %s:%d", sec.bind_address, ksecure_port(a->http));
  }
  a->sig_term = evsignal_new(a->base, SIGTERM, on_signal, a);
  a->sig_int = evsignal_new(a->base, SIGINT, on_signal, a);
  event_add(a->sig_term, NULL);
  event_add(a->sig_int, NULL);

  sched_server_start(a->server);
  if (leader_elect) {
    struct leaderelection_config lc = {
        .namespace = le_ns,
        .name = le_name,
        .lease_duration_ms = le_lease_ms,
        .renew_deadline_ms = le_renew_ms,
        .retry_period_ms = le_retry_ms,
        .on_started_leading = on_started_leading,
        .on_stopped_leading = on_stopped_leading,
        .on_new_leader = on_new_leader,
        .arg = a,
    };
    a->le = leaderelection_new(a->base, a->client, &lc);
    if (!a->le) {
      KLOG_E("failed to create the leader elector");
      app_free(a);
      return 1;
    }
    KLOG_I("attempting to acquire leader lease %s/%s...", le_ns, le_name);
    leaderelection_start(a->le);
  } else {
    sched_server_set_leading(a->server, true);
  }
  event_base_dispatch(a->base);
  app_free(a);
  return 0;
}
