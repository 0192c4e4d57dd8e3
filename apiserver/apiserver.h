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
#include <stdint.h>
#include <jansson.h>

struct event_base;
struct http_server;
struct storage;
struct schema;
struct metrics;

struct apiserver_config {
  const char *insecure_bind_address;  /* --insecure-bind-address, 127.0.0.1 */
  int insecure_port;                  /* --insecure-port, 8080 */
  const char *advertise_address;      /* --advertise-address */
  const char *bind_address;           /* --bind-address (secure serving, later) */
  int secure_port;                    /* --secure-port (later) */
  const char *storage_backend;        /* --storage-backend: sqlite */
  const char *data_dir;               /* --data-dir */
  const char *etcd_servers;           /* --etcd-servers (later) */
  const char *service_cluster_ip_range; /* --service-cluster-ip-range, 10.96.0.0/12 */
  const char *service_node_port_range;  /* --service-node-port-range, 30000-32767 */
  int v;                              /* --v */
  /* --enable-garbage-collector=false: deletes add no orphan/foreground
   * finalizers (nothing would remove them). */
  bool gc_disabled;
  /* How often a watch that allows bookmarks gets one: a minute, as
   * upstream; tests shorten it with $KUBE_WATCH_BOOKMARK_INTERVAL (a Go
   * duration).  0 = the default. */
  int64_t watch_bookmark_interval_ms;
};

struct apiserver {
  struct apiserver_config cfg;
  struct event_base *base;
  struct http_server *http;
  struct storage *storage;
  const struct schema *schema;
  struct metrics *metrics;
  int64_t start_time_us;
  bool ready;                 /* /readyz: storage loaded and bootstrap done */

  /* Owned by apiserver/registry/services.c: ClusterIP and NodePort
   * allocators, rebuilt from stored Services at start. */
  void *service_alloc;
  /* Free slots for other components' state. */
  void *bootstrap;
  /* Request-path state (apiserver/server.c): cached discovery and
   * OpenAPI documents. */
  struct api_state *api;
};

/* Request path (apiserver/server.c).  apiserver_serve starts the HTTP
 * listener on --insecure-bind-address:--insecure-port and returns the bound
 * port or a negative errno; apiserver_stop closes every connection (watches
 * end, their storage watches are cancelled) and frees the request state. */
int apiserver_serve(struct apiserver *srv);
void apiserver_stop(struct apiserver *srv);

#endif
