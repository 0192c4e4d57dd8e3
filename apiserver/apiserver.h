/*
 * apiserver.h - the kube-apiserver program context: one struct, passed
 * down to every stage of the request path (no other global state).
 *
 * Request path, in order (apiserver/handlers.c):
 *   route -> authenticate -> authorize -> decode -> admission (per-kind
 *   admit hooks + built-in plugins) -> registry strategy (defaults,
 *   prepare, validate) -> storage -> response (JSON, YAML or Table).
 */
#ifndef APISERVER_APISERVER_H
#define APISERVER_APISERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "audit.h"
#include "auth/authn.h"

struct event_base;
struct http_server;
struct storage;
struct schema;
struct metrics;
struct sa_signer;
struct crd_state;
struct authn;
struct audit;
struct rbac;
struct node_graph;
struct webhook_index;

/* Secure serving (upstream's SecureServingOptions) and the
 * authentication and authorization options (auth/authn.h). */
struct apiserver_secure_config {
  const char *bind_address;                  /* --bind-address, 0.0.0.0 */
  int secure_port;                           /* --secure-port, 6443; 0 = none */
  const char *cert_dir;                      /* --cert-dir: the self-signed pair without --tls-cert-file */
  const char *tls_cert_file;                 /* --tls-cert-file */
  const char *tls_private_key_file;          /* --tls-private-key-file */
  const char *tls_min_version;               /* --tls-min-version (VersionTLS12) */
  const char *tls_cipher_suites;             /* --tls-cipher-suites */
  const char *client_ca_file;                /* --client-ca-file */
  const char *token_auth_file;               /* --token-auth-file */
  bool anonymous_auth;                       /* --anonymous-auth (true) */
  bool enable_bootstrap_token_auth;          /* --enable-bootstrap-token-auth */
  bool service_account_lookup;               /* --service-account-lookup (true) */
  const char *authorization_mode;            /* --authorization-mode (Node,RBAC) */
  struct requestheader_config requestheader; /* --requestheader-* */
};

struct apiserver_config {
  const char *insecure_bind_address;    /* --insecure-bind-address, 127.0.0.1 */
  int insecure_port;                    /* --insecure-port, 0 = none (-1: any free port, for tests) */
  const char *advertise_address;        /* --advertise-address */
  const char *storage_backend;          /* --storage-backend: sqlite */
  const char *data_dir;                 /* --data-dir */
  const char *service_cluster_ip_range; /* --service-cluster-ip-range, 10.96.0.0/12 */
  const char *service_node_port_range;  /* --service-node-port-range, 30000-32767 */
  int v;                                /* --v */
  /* --enable-garbage-collector=false: deletes add no orphan/foreground
   * finalizers (nothing would remove them). */
  bool gc_disabled;
  /* How often a watch that allows bookmarks gets one: a minute, as
   * upstream; tests shorten it with $KUBE_WATCH_BOOKMARK_INTERVAL (a Go
   * duration).  0 = the default. */
  int64_t watch_bookmark_interval_ms;
  /* Service account tokens (token.c), upstream's flags of the same names. */
  const char *service_account_issuer;             /* --service-account-issuer */
  const char *service_account_signing_key_file;   /* --service-account-signing-key-file ("" = data dir) */
  const char *service_account_key_file;           /* --service-account-key-file, comma-separated */
  const char *service_account_jwks_uri;           /* --service-account-jwks-uri */
  const char *api_audiences;                      /* --api-audiences, comma-separated (default: the issuer) */
  int64_t service_account_max_token_expiration_s; /* --service-account-max-token-expiration (0 = none) */
  bool service_account_extend_token_expiration;   /* --service-account-extend-token-expiration */
  /* DefaultTolerationSeconds admission: --default-not-ready-toleration-seconds
   * and --default-unreachable-toleration-seconds (300 each) */
  int64_t default_not_ready_toleration_seconds;
  int64_t default_unreachable_toleration_seconds;
  /* Secure serving, authentication and authorization flags. */
  struct apiserver_secure_config secure;
  /* How the API server dials kubelets (logs, exec, attach, proxy). */
  const char *kubelet_client_certificate;    /* --kubelet-client-certificate ("" none) */
  const char *kubelet_client_key;            /* --kubelet-client-key */
  const char *kubelet_certificate_authority; /* --kubelet-certificate-authority ("": not verified) */
  struct audit_config audit;   /* --audit-* */
  unsigned admission_disabled; /* --enable/--disable-admission-plugins (admission_configure) */
  /* --enable-aggregator-routing: admission webhooks given as a Service
   * are dialed at an endpoint address instead of the ClusterIP */
  bool enable_aggregator_routing;
};

struct apiserver {
  struct apiserver_config cfg;
  struct event_base *base;
  struct http_server *http;  /* the insecure port, or NULL */
  struct http_server *https; /* the secure port, or NULL */
  void *tls_ctx;             /* its SSL_CTX */
  void *kubelet_tls;         /* SSL_CTX for dialing kubelets (proxy.c) */
  int insecure_bound_port, secure_bound_port;
  struct storage *storage;
  const struct schema *schema;
  struct metrics *metrics;
  int64_t start_time_us;
  bool ready; /* /readyz: storage loaded and bootstrap done */

  /* Owned by apiserver/registry/services.c: ClusterIP and NodePort
   * allocators, rebuilt from stored Services at start. */
  void *service_alloc;
  /* Free slots for other components' state. */
  void *bootstrap;
  /* Request-path state (apiserver/server.c): cached discovery and
   * OpenAPI documents. */
  struct api_state *api;
  /* Service account token signing keys and documents (token.c). */
  struct sa_signer *sa_signer;
  /* CustomResourceDefinitions served (registry/crd_controller.c). */
  struct crd_state *crds;
  /* Authentication (auth/authn.c) and the RBAC authorizer's indexes
   * (auth/rbac.c); NULL until set up. */
  struct authn *authn;
  struct rbac *rbac;
  /* Admission plugins turned off by the flags (admission/admission.c). */
  unsigned admission_disabled;
  /* The Node authorizer's graph of pods and volumes (auth/node.c). */
  struct node_graph *node_graph;
  /* The audit log (audit.c), NULL when off. */
  struct audit *audit;
  /* Admission webhook configurations and calls (admission/webhook.c). */
  struct webhook_index *webhooks;
};

/* Request path (apiserver/server.c).  apiserver_serve starts the
 * listeners: HTTPS on --bind-address:--secure-port (requests there are
 * authenticated and authorized) and plain HTTP on
 * --insecure-bind-address:--insecure-port (allowed as they are), each when
 * its port is not 0; 0, or a negative errno with a message in err; apiserver_stop closes every connection (watches
 * end, their storage watches are cancelled) and frees the request state. */
int apiserver_serve(struct apiserver *srv, char *err, size_t errlen);
void apiserver_stop(struct apiserver *srv);

/* Service account tokens (apiserver/token.c): loads the signing key
 * (--service-account-signing-key-file, else one kept under --data-dir,
 * made on first start) and the published keys, and builds the JWKS and
 * OpenID documents.  0, or a negative errno with a message naming the file
 * in err. */
int api_sa_signer_setup(struct apiserver *srv, char *err, size_t errlen);
void api_sa_signer_free(struct apiserver *srv);
/* The claims of a service account JWT whose RS256 signature verifies
 * with one of the published keys (the header's kid picks it); new
 * reference, or NULL with the reason in err.  Claims are not checked. */
json_t *api_sa_jwt_verify(struct apiserver *srv, const char *jwt, char *err, size_t errlen);

#endif
