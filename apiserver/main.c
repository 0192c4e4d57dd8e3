/*
 * main.c - the kube-apiserver program: flags, start-up and shutdown.
 *
 * Start-up order: validate every flag (a bad value names the flag and
 * exits 1; so does a flag whose feature does not exist yet, FLAG_UNSUPPORTED:
 * --etcd-servers), open storage, load the schema table and
 * the service account token keys, start the registry's
 * bootstrap (default namespaces, the kubernetes Service...), and serve.
 * /readyz answers 500 until the registry reports its bootstrap done.
 * SIGTERM/SIGINT stop the loop; everything is then closed in reverse order
 * so that nothing is left allocated.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <event2/event.h>

#include <kube/flags.h>
#include <kube/log.h>
#include <kube/metrics.h>
#include <kube/strconv.h>
#include <kube/timeutil.h>
#include <kube/tls.h>

#include "apiserver.h"
#include "admission/admission.h"
#include "admission/webhook.h"
#include "auth/auth.h"
#include "auth/authn.h"
#include "auth/node.h"
#include "encryption_config.h"
#include "registry/registry.h"
#include "schema/schema.h"
#include "storage/crypt.h"
#include "storage/storage.h"

static int valid_cidr(const char *s)
{
  char buf[128];
  const char *slash = strchr(s, '/');
  if (!slash || (size_t)(slash - s) >= sizeof(buf)) return 0;
  memcpy(buf, s, (size_t)(slash - s));
  buf[slash - s] = '\0';
  unsigned char addr[16];
  int max;
  if (inet_pton(AF_INET, buf, addr) == 1) max = 32;
  else if (inet_pton(AF_INET6, buf, addr) == 1) max = 128;
  else return 0;
  int64_t bits;
  if (kstr_parse_int64(slash + 1, &bits) != 0 || bits < 0 || bits > max) return 0;
  return 1;
}

static int valid_port_range(const char *s)
{
  char buf[64];
  snprintf(buf, sizeof(buf), "%s", s);
  char *dash = strchr(buf, '-');
  int64_t a, b;
  if (!dash) return kstr_parse_int64(buf, &a) == 0 && a > 0 && a < 65536;
  *dash = '\0';
  return kstr_parse_int64(buf, &a) == 0 && kstr_parse_int64(dash + 1, &b) == 0 && a > 0 && b < 65536 && a <= b;
}

static int valid_ip(const char *s)
{
  unsigned char addr[16];
  return inet_pton(AF_INET, s, addr) == 1 || inet_pton(AF_INET6, s, addr) == 1;
}

static int mkdir_p(const char *path)
{
  char buf[4096];
  snprintf(buf, sizeof(buf), "%s", path);
  for (char *p = buf + 1; *p; p++) {
    if (*p == '/') {
      *p = '\0';
      if (mkdir(buf, 0700) != 0 && errno != EEXIST) return -errno;
      *p = '/';
    }
  }
  if (mkdir(buf, 0700) != 0 && errno != EEXIST) return -errno;
  return 0;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
  struct apiserver *srv = arg;
  KLOG_I("received signal %d, shutting down", (int)sig);
  event_base_loopexit(srv->base, NULL);
}

static void on_ready(void *arg)
{
  struct apiserver *srv = arg;
  srv->ready = true;
  KLOG_I("bootstrap done; ready");
}

/* Checks the secure serving and authentication flags; 0, or -1 with a
 * message naming the flag. */
static int check_secure(const struct apiserver_secure_config *sec, char *err, size_t errlen)
{
  enum authz_mode modes[AUTHZ_MAX_MODES];
  size_t n;
  char e[400];
  if (!valid_ip(sec->bind_address))
    snprintf(err, errlen, "invalid argument \"%s\" for \"--bind-address\" flag: not a valid IP address",
             sec->bind_address);
  else if (sec->secure_port < 0 || sec->secure_port > 65535)
    snprintf(err, errlen, "invalid argument \"%d\" for \"--secure-port\" flag: must be between 0 and 65535",
             sec->secure_port);
  else if (!*sec->tls_cert_file != !*sec->tls_private_key_file)
    snprintf(err, errlen, "--tls-cert-file and --tls-private-key-file must be given together");
  else if (ktls_check_min_version(sec->tls_min_version, e, sizeof e) < 0)
    snprintf(err, errlen, "invalid argument \"%s\" for \"--tls-min-version\" flag: %s", sec->tls_min_version, e);
  else if (ktls_check_cipher_suites(sec->tls_cipher_suites, e, sizeof e) < 0)
    snprintf(err, errlen, "invalid argument \"%s\" for \"--tls-cipher-suites\" flag: %s", sec->tls_cipher_suites, e);
  else if (authz_modes_parse(sec->authorization_mode, modes, &n, err, errlen) < 0)
    ;
  else return 0;
  return -1;
}

/* The Node authorizer's graph is built only when it can be asked: a
 * secure port whose --authorization-mode lists Node (upstream builds it
 * with the mode).  Every pod write costs it a parse otherwise for nothing. */
static bool node_mode_on(const struct apiserver_config *c)
{
  enum authz_mode modes[AUTHZ_MAX_MODES];
  size_t n = 0;
  char err[256];
  if (c->secure.secure_port <= 0 || !c->secure.authorization_mode ||
      authz_modes_parse(c->secure.authorization_mode, modes, &n, err, sizeof err) < 0)
    return false;
  for (size_t i = 0; i < n; i++)
    if (modes[i] == AUTHZ_MODE_NODE) return true;
  return false;
}

/* The registry's objects are in storage: create and reconcile the
 * bootstrap RBAC policy, then report ready. */
static void on_registry_ready(void *arg)
{
  if (rbac_bootstrap_policy(arg, on_ready, arg) != 0) on_ready(arg);
}

/* Parses and checks every flag into c (and the storage history window
 * into so).  0, 1 for --help, or -1 after printing an error that names
 * the flag. */
static int parse_config(int argc, char **argv, struct apiserver_config *c, struct storage_opts *so)
{
  char *insecure_bind = "127.0.0.1", *advertise = "", *backend = "sqlite";
  char *data_dir = "/var/lib/kube-apiserver", *svc_range = "10.96.0.0/12";
  char *np_range = "30000-32767";
  char *sa_issuer = "https://kubernetes.default.svc.cluster.local", *sa_signing_key = "", *sa_key = "";
  char *sa_jwks_uri = "", *audiences = "";
  int insecure_port = 0, v = 0;
  char *enc_config = "", *adm_enable = "", *adm_disable = "";
  struct audit_config audit = {.policy_file = "", .log_path = "", .mode = "blocking"};
  struct apiserver_secure_config sec = {.bind_address = "0.0.0.0",
                                        .secure_port = 6443,
                                        .cert_dir = "/var/run/kubernetes",
                                        .tls_cert_file = "",
                                        .tls_private_key_file = "",
                                        .tls_min_version = "VersionTLS12",
                                        .tls_cipher_suites = "",
                                        .client_ca_file = "",
                                        .token_auth_file = "",
                                        .anonymous_auth = true,
                                        .service_account_lookup = true,
                                        .authorization_mode = "Node,RBAC",
                                        .requestheader = {.client_ca_file = "",
                                                          .allowed_names = "",
                                                          .username_headers = "",
                                                          .group_headers = "",
                                                          .extra_headers_prefix = ""}};
  char *kubelet_cert = "", *kubelet_key = "", *kubelet_ca = "";
  int64_t compaction_ms = 5 * 60 * 1000, sa_max_exp_ms = 0;
  bool enable_gc = true, sa_extend = true, aggregator_routing = false;
  int64_t not_ready_tol = 300, unreachable_tol = 300;
  const struct flag flags[] = {
      {"insecure-bind-address", FLAG_STRING, &insecure_bind,
       "The IP address on which to serve the insecure HTTP port."},
      {"insecure-port", FLAG_INT, &insecure_port, "The port on which to serve unsecured, unauthenticated access."},
      {"advertise-address", FLAG_STRING, &advertise,
       "The IP address on which to advertise the apiserver to members of the cluster (default: the insecure bind "
       "address, or 127.0.0.1)."},
      {"bind-address", FLAG_STRING, &sec.bind_address, "The IP address on which to listen for the --secure-port port."},
      {"secure-port", FLAG_INT, &sec.secure_port,
       "The port on which to serve HTTPS with authentication and authorization. 0 disables it."},
      {"cert-dir", FLAG_STRING, &sec.cert_dir,
       "The directory where the TLS certs are located. If --tls-cert-file and --tls-private-key-file are provided, "
       "this flag will be ignored."},
      {"tls-cert-file", FLAG_STRING, &sec.tls_cert_file,
       "File containing the default x509 Certificate for HTTPS (CA cert, if any, concatenated after server cert)."},
      {"tls-private-key-file", FLAG_STRING, &sec.tls_private_key_file,
       "File containing the default x509 private key matching --tls-cert-file."},
      {"tls-min-version", FLAG_STRING, &sec.tls_min_version,
       "Minimum TLS version supported. Possible values: VersionTLS10, VersionTLS11, VersionTLS12, VersionTLS13"},
      {"tls-cipher-suites", FLAG_STRING, &sec.tls_cipher_suites,
       "Comma-separated list of cipher suites for the server. If omitted, the default Go cipher suites will be used."},
      {"client-ca-file", FLAG_STRING, &sec.client_ca_file,
       "If set, any request presenting a client certificate signed by one of the authorities in the client-ca-file "
       "is authenticated with an identity corresponding to the CommonName of the client certificate."},
      {"requestheader-client-ca-file", FLAG_STRING, &sec.requestheader.client_ca_file,
       "Root certificate bundle to use to verify client certificates on incoming requests before trusting usernames "
       "in headers specified by --requestheader-username-headers."},
      {"requestheader-allowed-names", FLAG_STRING, &sec.requestheader.allowed_names,
       "List of client certificate common names to allow to provide usernames in headers specified by "
       "--requestheader-username-headers. If empty, any client certificate validated by the authorities in "
       "--requestheader-client-ca-file is allowed."},
      {"requestheader-username-headers", FLAG_STRING, &sec.requestheader.username_headers,
       "List of request headers to inspect for usernames. X-Remote-User is common."},
      {"requestheader-group-headers", FLAG_STRING, &sec.requestheader.group_headers,
       "List of request headers to inspect for groups. X-Remote-Group is suggested."},
      {"requestheader-extra-headers-prefix", FLAG_STRING, &sec.requestheader.extra_headers_prefix,
       "List of request header prefixes to inspect. X-Remote-Extra- is suggested."},
      {"kubelet-client-certificate", FLAG_STRING, &kubelet_cert,
       "Path to a client cert file for TLS."},
      {"kubelet-client-key", FLAG_STRING, &kubelet_key, "Path to a client key file for TLS."},
      {"kubelet-certificate-authority", FLAG_STRING, &kubelet_ca,
       "Path to a cert file for the certificate authority."},
      {"token-auth-file", FLAG_STRING, &sec.token_auth_file,
       "If set, the file that will be used to secure the secure port of the API server via token authentication."},
      {"anonymous-auth", FLAG_BOOL, &sec.anonymous_auth,
       "Enables anonymous requests to the secure port of the API server. Requests that are not rejected by another "
       "authentication method are treated as anonymous requests."},
      {"enable-bootstrap-token-auth", FLAG_BOOL, &sec.enable_bootstrap_token_auth,
       "Enable to allow secrets of type 'bootstrap.kubernetes.io/token' in the 'kube-system' namespace to be used "
       "for TLS bootstrapping authentication."},
      {"service-account-lookup", FLAG_BOOL, &sec.service_account_lookup,
       "If true, validate ServiceAccount tokens exist in etcd as part of authentication."},
      {"encryption-provider-config", FLAG_STRING, &enc_config,
       "The file containing configuration for encryption providers to be used for storing secrets in etcd"},
      {"audit-policy-file", FLAG_STRING, &audit.policy_file,
       "Path to the file that defines the audit policy configuration."},
      {"audit-log-path", FLAG_STRING, &audit.log_path,
       "If set, all requests coming to the apiserver will be logged to this file.  '-' means standard out."},
      {"audit-log-maxsize", FLAG_INT, &audit.max_size_mb,
       "The maximum size in megabytes of the audit log file before it gets rotated."},
      {"audit-log-maxbackup", FLAG_INT, &audit.max_backup,
       "The maximum number of old audit log files to retain. Setting a value of 0 will mean there's no restriction on "
       "the number of files."},
      {"audit-log-maxage", FLAG_INT, &audit.max_age_days,
       "The maximum number of days to retain old audit log files based on the timestamp encoded in their filename."},
      {"audit-log-mode", FLAG_STRING, &audit.mode,
       "Strategy for sending audit events. Blocking indicates sending events should block server responses. Batch "
       "causes the backend to buffer and write events asynchronously. Known modes are batch,blocking."},
      {"enable-admission-plugins", FLAG_STRING, &adm_enable,
       "admission plugins that should be enabled in addition to default enabled ones (NamespaceLifecycle, "
       "LimitRanger, ServiceAccount, DefaultTolerationSeconds, Priority, PersistentVolumeClaimResize, "
       "ResourceQuota). Comma-delimited list of admission plugins."},
      {"disable-admission-plugins", FLAG_STRING, &adm_disable,
       "admission plugins that should be disabled although they are in the default enabled plugins list. "
       "Comma-delimited list of admission plugins."},
      {"authorization-mode", FLAG_STRING, &sec.authorization_mode,
       "Ordered list of plug-ins to do authorization on secure port. Comma-delimited list of: AlwaysAllow, "
       "AlwaysDeny, Node, RBAC."},
      {"storage-backend", FLAG_STRING, &backend, "The storage backend for persistence: sqlite."},
      {"data-dir", FLAG_STRING, &data_dir, "Directory of the SQLite database (created if missing)."},
      {"etcd-servers", FLAG_UNSUPPORTED, NULL,
       "the etcd3 storage backend does not exist yet; storage is SQLite under --data-dir"},
      {"service-cluster-ip-range", FLAG_STRING, &svc_range,
       "A CIDR notation IP range from which to assign service cluster IPs."},
      {"service-node-port-range", FLAG_STRING, &np_range,
       "A port range to reserve for services with NodePort visibility."},
      {"etcd-compaction-interval", FLAG_DURATION, &compaction_ms,
       "The interval of compaction requests. If 0, the compaction request from apiserver is disabled."},
      {"enable-aggregator-routing", FLAG_BOOL, &aggregator_routing,
       "Turns on aggregator routing requests to endpoints IP rather than cluster IP."},
      {"enable-garbage-collector", FLAG_BOOL, &enable_gc,
       "Enables the generic garbage collector. MUST be synced with the corresponding flag of the "
       "kube-controller-manager."},
      {"service-account-issuer", FLAG_STRING, &sa_issuer,
       "Identifier of the service account token issuer (the iss claim)."},
      {"service-account-signing-key-file", FLAG_STRING, &sa_signing_key,
       "Path to the file that contains the current private key of the service account token issuer (default: one "
       "generated under --data-dir)."},
      {"service-account-key-file", FLAG_STRING, &sa_key,
       "File(s), comma separated, of PEM-encoded public or private RSA keys or certificates published to verify "
       "service account tokens."},
      {"service-account-jwks-uri", FLAG_STRING, &sa_jwks_uri,
       "Overrides the URI for the JSON Web Key Set in the discovery doc served at /.well-known/openid-configuration."},
      {"api-audiences", FLAG_STRING, &audiences,
       "Identifiers of the API, comma separated; tokens requested without audiences get these (default: the issuer)."},
      {"service-account-max-token-expiration", FLAG_DURATION, &sa_max_exp_ms,
       "The maximum validity duration of a token created by the service account token issuer (0 = no maximum)."},
      {"service-account-extend-token-expiration", FLAG_BOOL, &sa_extend,
       "Turns on projected service account expiration extension during token generation."},
      {"default-not-ready-toleration-seconds", FLAG_INT64, &not_ready_tol,
       "Indicates the tolerationSeconds of the toleration for notReady:NoExecute that is added by default to every pod "
       "that does not already have such a toleration."},
      {"default-unreachable-toleration-seconds", FLAG_INT64, &unreachable_tol,
       "Indicates the tolerationSeconds of the toleration for unreachable:NoExecute that is added by default to every "
       "pod that does not already have such a toleration."},
      {"v", FLAG_INT, &v, "number for the log level verbosity"},
      {NULL},
  };
  char err[512];
  int rc =
      flags_parse(argc, argv, flags, "The Kubernetes API server validates and configures data for the api objects.",
                  err, sizeof(err));
  if (rc == 1) return 1;
  if (rc < 0) {
    fprintf(stderr, "Error: %s\n", err);
    return -1;
  }
#define BAD(...)                                                                                                       \
  do {                                                                                                                 \
    fprintf(stderr, "Error: " __VA_ARGS__);                                                                            \
    fputc('\n', stderr);                                                                                               \
    return -1;                                                                                                         \
  } while (0)
  if (!valid_ip(insecure_bind))
    BAD("invalid argument \"%s\" for \"--insecure-bind-address\" flag: not a valid IP address", insecure_bind);
  if (insecure_port < 0 || insecure_port > 65535)
    BAD("invalid argument \"%d\" for \"--insecure-port\" flag: must be between 0 and 65535", insecure_port);
  if (check_secure(&sec, err, sizeof(err)) < 0) BAD("%s", err);
  struct apiserver probe = {0};
  if (admission_configure(&probe, adm_enable, adm_disable, err, sizeof(err)) < 0) BAD("%s", err);
  if (strcmp(audit.mode, "blocking") && strcmp(audit.mode, "batch"))
    BAD("invalid argument \"%s\" for \"--audit-log-mode\" flag: must be one of blocking, batch", audit.mode);
  if (audit.max_size_mb < 0 || audit.max_backup < 0 || audit.max_age_days < 0)
    BAD("--audit-log-maxsize, --audit-log-maxbackup and --audit-log-maxage must not be negative");
  if (*advertise && !valid_ip(advertise))
    BAD("invalid argument \"%s\" for \"--advertise-address\" flag: not a valid IP address", advertise);
  if (strcmp(backend, "sqlite") != 0)
    BAD("invalid argument \"%s\" for \"--storage-backend\" flag: supported backends: sqlite", backend);
  if (!valid_cidr(svc_range))
    BAD("invalid argument \"%s\" for \"--service-cluster-ip-range\" flag: invalid CIDR address", svc_range);
  if (!valid_port_range(np_range))
    BAD("invalid argument \"%s\" for \"--service-node-port-range\" flag: must be a port range like 30000-32767",
        np_range);
  if (compaction_ms < 0) BAD("invalid argument for \"--etcd-compaction-interval\" flag: must not be negative");
  if (sa_max_exp_ms < 0 || (sa_max_exp_ms > 0 && sa_max_exp_ms < 600 * 1000))
    BAD("invalid argument for \"--service-account-max-token-expiration\" flag: must be 0 or at least 10m");
  if (!*sa_issuer) BAD("--service-account-issuer must not be empty");
  if (!*data_dir) BAD("--data-dir must not be empty");
  if (*enc_config && !(so->crypt = encryption_config_load(enc_config, err, sizeof(err))))
    BAD("--encryption-provider-config: %s", err);

  if (!*advertise)
    advertise = strcmp(insecure_bind, "0.0.0.0") == 0 || strcmp(insecure_bind, "::") == 0 ? "127.0.0.1" : insecure_bind;
  int e = mkdir_p(data_dir);
  if (e < 0) BAD("cannot create --data-dir \"%s\": %s", data_dir, strerror(-e));
  const char *bm = getenv("KUBE_WATCH_BOOKMARK_INTERVAL");
  if (bm && *bm &&
      (ktime_parse_duration_ms(bm, &c->watch_bookmark_interval_ms) != 0 || c->watch_bookmark_interval_ms <= 0))
    BAD("invalid KUBE_WATCH_BOOKMARK_INTERVAL \"%s\": want a positive duration such as 1s", bm);
#undef BAD

  c->secure = sec;
  c->kubelet_client_certificate = kubelet_cert;
  c->kubelet_client_key = kubelet_key;
  c->kubelet_certificate_authority = kubelet_ca;
  c->audit = audit;
  c->admission_disabled = probe.admission_disabled;
  c->insecure_bind_address = insecure_bind;
  c->insecure_port = insecure_port;
  c->advertise_address = advertise;
  c->storage_backend = backend;
  c->data_dir = data_dir;
  c->service_cluster_ip_range = svc_range;
  c->service_node_port_range = np_range;
  c->v = v;
  c->gc_disabled = !enable_gc;
  c->enable_aggregator_routing = aggregator_routing;
  c->service_account_issuer = sa_issuer;
  c->service_account_signing_key_file = sa_signing_key;
  c->service_account_key_file = sa_key;
  c->service_account_jwks_uri = sa_jwks_uri;
  c->api_audiences = *audiences ? audiences : sa_issuer;
  c->service_account_max_token_expiration_s = sa_max_exp_ms / 1000;
  c->service_account_extend_token_expiration = sa_extend;
  c->default_not_ready_toleration_seconds = not_ready_tol;
  c->default_unreachable_toleration_seconds = unreachable_tol;
  so->data_dir = data_dir;
  if (flags_given(argc, argv, "etcd-compaction-interval") && compaction_ms > 0) {
    /* etcd is compacted each interval to the revision seen one interval
     * before, so a revision lives between one and two intervals; a window
     * of 1.5 intervals (storage sweeps every half window) stays inside
     * that.  Watches from older revisions get 410 Expired.  Storage keeps
     * at least one event (its minimum); 0 there means its default. */
    so->history_window_ms = compaction_ms + compaction_ms / 2;
    so->history_min_events = 1;
  }
  return 0;
}

/* Opens storage, loads the schema and the token keys, bootstraps the
 * registry and serves until a signal; 0 or 1. */
static int run(struct apiserver *srv, const struct storage_opts *so)
{
  char err[512];
  int status = 1;
  struct schema *schema = NULL;
  bool registry_started = false;
  srv->storage = storage_open_sqlite(srv->base, so, err, sizeof(err));
  if (!srv->storage) {
    KLOG_E("opening storage in %s: %s", so->data_dir, err);
    goto out;
  }
  schema = schema_load_builtin(err, sizeof(err));
  if (!schema) {
    KLOG_E("loading the schema table: %s", err);
    goto out;
  }
  srv->schema = schema;
  if (api_sa_signer_setup(srv, err, sizeof(err)) != 0) {
    KLOG_E("service account token keys: %s", err);
    goto out;
  }
  srv->rbac = rbac_new(srv);
  if (!srv->rbac) {
    KLOG_E("loading the RBAC roles and bindings failed");
    goto out;
  }
  if (node_mode_on(&srv->cfg) && !(srv->node_graph = node_graph_new(srv))) {
    KLOG_E("loading the Node authorizer's graph failed");
    goto out;
  }
  if (!(srv->webhooks = webhook_index_new(srv))) {
    KLOG_E("loading the admission webhook configurations failed");
    goto out;
  }
  if (registry_init(srv, on_registry_ready, srv) != 0) {
    KLOG_E("registry bootstrap failed");
    goto out;
  }
  registry_started = true;
  const struct apiserver_config *c = &srv->cfg;
  struct authn_config ac = {.client_ca_file = c->secure.client_ca_file,
                            .token_auth_file = c->secure.token_auth_file,
                            .anonymous = c->secure.anonymous_auth,
                            .bootstrap_tokens = c->secure.enable_bootstrap_token_auth,
                            .service_account_lookup = c->secure.service_account_lookup,
                            .authorization_mode = c->secure.authorization_mode,
                            .requestheader = c->secure.requestheader};
  if (authn_setup(srv, &ac, err, sizeof(err)) < 0) {
    KLOG_E("authentication: %s", err);
    goto out;
  }
  srv->admission_disabled = c->admission_disabled;
  srv->audit = audit_new(srv, &c->audit, err, sizeof(err));
  if (!srv->audit && err[0]) {
    KLOG_E("%s", err);
    goto out;
  }
  if (apiserver_serve(srv, err, sizeof(err)) < 0) {
    KLOG_E("%s", err);
    goto out;
  }
  if (srv->https) KLOG_I("Serving securely on %s:%d", c->secure.bind_address, srv->secure_bound_port);
  if (srv->http) KLOG_I("Serving insecurely on %s:%d", c->insecure_bind_address, srv->insecure_bound_port);
  event_base_dispatch(srv->base);
  status = 0;
out:
  apiserver_stop(srv);
  /* let deferred teardown (finished watches) run */
  event_base_loop(srv->base, EVLOOP_NONBLOCK);
  if (registry_started) registry_shutdown(srv);
  rbac_free(srv->rbac);
  srv->rbac = NULL;
  webhook_index_free(srv->webhooks);
  srv->webhooks = NULL;
  node_graph_free(srv->node_graph);
  srv->node_graph = NULL;
  if (srv->storage) storage_close(srv->storage);
  event_base_loop(srv->base, EVLOOP_NONBLOCK);
  api_sa_signer_free(srv);
  authn_free(srv);
  audit_free(srv->audit);
  srv->audit = NULL;
  schema_free(schema);
  return status;
}

int main(int argc, char **argv)
{
  struct apiserver srv = {0};
  struct storage_opts so = {0};
  int rc = parse_config(argc, argv, &srv.cfg, &so);
  if (rc != 0) return rc > 0 ? 0 : 1;
  klog_set_verbosity(srv.cfg.v);
  signal(SIGPIPE, SIG_IGN);
  srv.start_time_us = ktime_now_us();
  srv.base = event_base_new();
  srv.metrics = metrics_new();
  struct event *sigterm = evsignal_new(srv.base, SIGTERM, on_signal, &srv);
  struct event *sigint = evsignal_new(srv.base, SIGINT, on_signal, &srv);
  evsignal_add(sigterm, NULL);
  evsignal_add(sigint, NULL);
  int status = run(&srv, &so);
  storage_crypt_free((struct storage_crypt *)so.crypt);
  metrics_free(srv.metrics);
  event_free(sigterm);
  event_free(sigint);
  event_base_free(srv.base);
  return status;
}
