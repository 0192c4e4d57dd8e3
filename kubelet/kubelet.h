/*
 * kubelet.h - the kubelet's one context struct and the modules hanging
 * off it.
 *
 * The program (app.c) builds one struct kubelet and passes it to every
 * module; each module keeps its own state in a struct it allocates and
 * frees (node_status.c: struct kl_node; ...).  Everything runs on one
 * libevent loop: the API client, the Docker client, timers, the HTTP
 * servers.  No module keeps global state.
 */
#ifndef KL_KUBELET_H
#define KL_KUBELET_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "config.h"
#include "machine.h"

#define KL_VERSION "v1.32.0"

struct event_base;
struct event;
struct rest_client;
struct metrics;
struct event_recorder;
struct kl_node;
struct kl_runtime;
struct kl_server;
struct kl_pods;
struct kl_podnet;
struct kl_stats;
struct kl_eviction;
struct kl_gc;
struct kl_local_path;
struct kl_certmgr;

struct kubelet {
  struct event_base *base;
  struct kl_config *cfg;
  struct kl_machine machine;
  char node_name[256];
  char node_ip[64];
  int64_t start_us;      /* wall clock at start */
  int min_oom_score_adj; /* lowest oom_score_adj this machine lets us set */

  struct rest_client *client;
  struct metrics *metrics;
  struct event_recorder *recorder;

  struct kl_node *node;             /* node_status.c */
  struct kl_runtime *rt;            /* runtime/runtime.h */
  struct kl_server *server;         /* server.c */
  struct kl_pods *pods;             /* pods.c: pod manager and workers */
  struct kl_podnet *net;            /* podnet.c: pod networking */
  struct kl_stats *stats;           /* stats.c: resource usage */
  struct kl_eviction *eviction;     /* eviction.c: node-pressure eviction */
  struct kl_gc *gc;                 /* gc.c: dead containers, unused images */
  struct kl_local_path *local_path; /* local_path.c: local-path volumes' directories */
  struct kl_certmgr *client_certs;  /* certmgr.c: client certificate rotation (rotateCertificates) */

  /* What the node's Ready condition and status report about the runtime,
   * kept current by the modules that learn it. */
  char runtime_version[128]; /* "docker://20.10.24", "" until known */
  int64_t relist_ok_ms;      /* monotonic ms of the last good relist, 0 never */
  char runtime_error[256];   /* why the runtime is not usable, "" if it is */
  char network_error[256];   /* why pod networking is not ready, "" if it is */
  json_t *node_images;       /* status.images, newest first (owned) */
  bool pressure_memory, pressure_disk, pressure_pid;

  struct event *sig_term, *sig_int;
};

/* An ObjectReference to this node, for events (new reference). */
json_t *kl_node_ref(const struct kubelet *k);

#endif
