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

struct event_base;
struct http_server;
struct storage;
struct schema;
struct metrics;
struct sa_signer;
struct crd_state;
struct authn;
struct rbac;

struct apiserver_config {
  const char *insecure_bind_address;    /* --insecure-bind-address, 127.0.0.1 */
  int insecure_port;                    /* --insecure-port, 8080 */
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
};

struct apiserver {
  struct apiserver_config cfg;
  struct event_base *base;
  struct http_server *http;
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
};

/* Request path (apiserver/server.c).  apiserver_serve starts the HTTP
 * listener on --insecure-bind-address:--insecure-port and returns the bound
 * port or a negative errno; apiserver_stop closes every connection (watches
 * end, their storage watches are cancelled) and frees the request state. */
int apiserver_serve(struct apiserver *srv);
void apiserver_stop(struct apiserver *srv);

/* Service account tokens (apiserver/token.c): loads the signing key
 * (--service-account-signing-key-file, else one kept under --data-dir,
 * made on first start) and the published keys, and builds the JWKS and
 * OpenID documents.  0, or a negative errno with a message naming the file
 * in err. */
int api_sa_signer_setup(struct apiserver *srv, char *err, size_t errlen);
void api_sa_signer_free(struct apiserver *srv);

#endif
