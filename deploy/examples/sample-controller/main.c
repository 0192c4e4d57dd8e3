/*
 * main.c - the sample-controller program: flags, the REST client, the
 * Event recorder, /healthz and /metrics, signals, and the Foo controller
 * (controller.c) on one libevent loop.
 *
 * Startup, as upstream's main.go: parse --kubeconfig / --master (neither:
 * the in-cluster service account), build the client, start the informers
 * and, once their caches have synced, two workers.  /healthz, /livez,
 * /readyz and /metrics are served on --bind-address:--port (0 turns the
 * port off).  SIGTERM or SIGINT stops the queue and leaves the loop; every
 * handle is then freed in reverse order of creation, so the program exits
 * valgrind-clean.
 */
#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "controller.h"
#include "kube/flags.h"
#include "kube/http.h"
#include "kube/kubeconfig.h"
#include "kube/log.h"
#include "kube/metrics.h"
#include "kube/recorder.h"
#include "kube/restclient.h"

/* Upstream's Run(ctx, 2). */
#define SAMPLE_WORKERS 2
/* controller-runtime's health probe port; local-up.sh's API server has 8080. */
#define DEFAULT_PORT 8081

struct sample_program {
  char *kubeconfig, *master, *bind_address;
  int port, v;
  struct event_base *base;
  struct rest_client *client;
  struct event_recorder *recorder;
  struct metrics *metrics;
  struct http_server *http;
  struct sample_controller *controller;
  struct event *sig_term, *sig_int;
};

static void http_handler(struct http_request *req, void *arg)
{
  struct sample_program *p = arg;
  const char *path = http_req_path(req);
  if (!strcmp(path, "/healthz") || !strcmp(path, "/livez")) {
    http_reply(req, 200, "text/plain; charset=utf-8", "ok", 2);
  } else if (!strcmp(path, "/readyz")) {
    /* Ready once the caches have synced and the workers run. */
    if (sample_controller_has_synced(p->controller)) http_reply(req, 200, "text/plain; charset=utf-8", "ok", 2);
    else http_reply(req, 500, "text/plain; charset=utf-8", "informers not synced\n", 21);
  } else if (!strcmp(path, "/metrics")) {
    sample_controller_update_gauges(p->controller);
    size_t len = 0;
    char *txt = metrics_render(p->metrics, &len);
    http_reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", txt ? txt : "", txt ? len : 0);
    free(txt);
  } else {
    http_reply(req, 404, "text/plain; charset=utf-8", "404 page not found\n", 19);
  }
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
  struct sample_program *p = arg;
  KLOG_I("Received signal %d, shutting down", (int)sig);
  if (p->controller) sample_controller_shutdown(p->controller);
  event_base_loopexit(p->base, NULL);
}

/* 1: --help was printed; -1: bad flags, told on stderr. */
static int parse_flags(struct sample_program *p, int argc, char **argv)
{
  p->kubeconfig = "";
  p->master = "";
  p->bind_address = "0.0.0.0";
  p->port = DEFAULT_PORT;
  const struct flag flags[] = {
      {"kubeconfig", FLAG_STRING, &p->kubeconfig, "Path to a kubeconfig. Only required if out-of-cluster."},
      {"master", FLAG_STRING, &p->master,
       "The address of the Kubernetes API server. Overrides any value in kubeconfig. Only required if "
       "out-of-cluster."},
      {"bind-address", FLAG_STRING, &p->bind_address,
       "The IP address on which to serve /healthz, /livez, /readyz and /metrics."},
      {"port", FLAG_INT, &p->port, "The port on which to serve /healthz and /metrics (plain HTTP); 0 disables it."},
      {"v", FLAG_INT, &p->v, "number for the log level verbosity"},
      {NULL},
  };
  char err[512];
  int rc = flags_parse(argc, argv, flags,
                       "sample-controller makes a Deployment for every Foo (samplecontroller.k8s.io/v1alpha1) and "
                       "reports its available replicas in the Foo's status.",
                       err, sizeof err);
  if (rc == 0 && (p->port < 0 || p->port > 65535)) {
    snprintf(err, sizeof err, "invalid argument \"%d\" for \"--port\" flag: must be between 0 and 65535", p->port);
    rc = -1;
  }
  if (rc < 0) fprintf(stderr, "Error: %s\n", err);
  return rc;
}

static int setup(struct sample_program *p)
{
  char err[512];
  struct rest_config cfg;
  if (kubeconfig_load(p->kubeconfig, NULL, p->master, &cfg, err, sizeof err) < 0) {
    KLOG_E("Error building kubeconfig: %s", err);
    return -1;
  }
  if (!cfg.user_agent) cfg.user_agent = rest_default_user_agent(SAMPLE_CONTROLLER_AGENT_NAME);
  p->base = event_base_new();
  if (!p->base) {
    rest_config_free(&cfg);
    return -1;
  }
  p->client = rest_client_new(p->base, &cfg);
  rest_config_free(&cfg);
  p->metrics = metrics_new();
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  p->recorder = recorder_new(p->base, p->client, SAMPLE_CONTROLLER_AGENT_NAME, host);
  if (!p->client || !p->metrics || !p->recorder) return -1;
  p->controller = sample_controller_new(p->base, p->client, p->recorder, p->metrics);
  if (!p->controller) return -1;
  if (p->port > 0) {
    p->http = http_server_new(p->base, NULL, http_handler, p);
    int port = p->http ? http_server_listen(p->http, p->bind_address, p->port) : -ENOMEM;
    if (port < 0) {
      KLOG_E("failed to listen on %s:%d: %s", p->bind_address, p->port, strerror(-port));
      return -1;
    }
    KLOG_I("Serving healthz and metrics on %s:%d", p->bind_address, port);
  }
  p->sig_term = evsignal_new(p->base, SIGTERM, on_signal, p);
  p->sig_int = evsignal_new(p->base, SIGINT, on_signal, p);
  if (!p->sig_term || !p->sig_int) return -1;
  event_add(p->sig_term, NULL);
  event_add(p->sig_int, NULL);
  return 0;
}

/* In reverse order of creation; the controller goes before the client
 * because it cancels its own requests. */
static void teardown(struct sample_program *p)
{
  if (p->sig_term) event_free(p->sig_term);
  if (p->sig_int) event_free(p->sig_int);
  if (p->http) http_server_free(p->http);
  sample_controller_free(p->controller);
  if (p->recorder) recorder_free(p->recorder);
  if (p->metrics) metrics_free(p->metrics);
  if (p->client) rest_client_free(p->client);
  if (p->base) event_base_free(p->base);
}

int main(int argc, char **argv)
{
  struct sample_program prog;
  memset(&prog, 0, sizeof prog);
  int rc = parse_flags(&prog, argc, argv);
  if (rc != 0) return rc < 0 ? 1 : 0;
  klog_set_verbosity(prog.v);
  signal(SIGPIPE, SIG_IGN);
  if (setup(&prog) < 0 || sample_controller_run(prog.controller, SAMPLE_WORKERS) < 0) {
    teardown(&prog);
    return 1;
  }
  event_base_dispatch(prog.base);
  teardown(&prog);
  KLOG_I("Shut down cleanly");
  return 0;
}
