/*
 * controller.h - the kube-controller-manager context (configuration,
 * loop, client, informers) shared by every controller
 * (controllers/NAME.c, one per controller, upstream names).
 *
 * All controllers share one event loop, one REST client and one informer
 * factory (one informer per resource, shared).  A controller registers its
 * informer handlers in init, which only enqueue keys into its own
 * workqueue; its sync(key) reads the informer caches (level-triggered:
 * desired state computed from the full current state, never from the
 * event) and issues API writes.  Controllers start after leader election
 * is won (--leader-elect) and the informers they asked for have synced.
 * How a controller is declared, and the queue, the writes and their
 * retries, are the framework's (framework.h), the same for every one.
 */
#ifndef CM_CONTROLLER_H
#define CM_CONTROLLER_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

struct event_base;
struct rest_client;
struct cm_sa_clients;
struct informer_factory;
struct informer;
struct event_recorder;
struct metrics;
struct cm_transport;

struct cm_config {
  const char *kubeconfig;                    /* --kubeconfig */
  const char *master;                        /* --master */
  const char *controllers;                   /* --controllers, default "*" */
  bool leader_elect;                         /* --leader-elect, default true */
  bool use_service_account_credentials;      /* --use-service-account-credentials */
  const char *cluster_cidr;                  /* --cluster-cidr */
  const char *service_cluster_ip_range;      /* --service-cluster-ip-range (kept out of node ranges) */
  bool allocate_node_cidrs;                  /* --allocate-node-cidrs */
  int node_cidr_mask_size;                   /* --node-cidr-mask-size, 24 */
  int64_t node_monitor_grace_period_ms;      /* --node-monitor-grace-period, 50s */
  int64_t node_monitor_period_ms;            /* --node-monitor-period, 5s */
  int terminated_pod_gc_threshold;           /* --terminated-pod-gc-threshold, 12500 */
  int concurrent_deployment_syncs;           /* --concurrent-deployment-syncs, 5 */
  int concurrent_replicaset_syncs;           /* --concurrent-replicaset-syncs, 5 */
  int concurrent_statefulset_syncs;          /* 5 */
  int concurrent_daemonset_syncs;            /* 2 */
  int concurrent_job_syncs;                  /* 5 */
  int concurrent_cron_job_syncs;             /* 5 */
  int concurrent_endpoint_syncs;             /* 5 */
  int concurrent_service_endpoint_syncs;     /* endpointslice, 5 */
  int concurrent_namespace_syncs;            /* 10 */
  int concurrent_gc_syncs;                   /* 20 */
  int concurrent_rc_syncs;                   /* 5 */
  int concurrent_resource_quota_syncs;       /* 5 */
  int concurrent_serviceaccount_token_syncs; /* 5 */
  int concurrent_ephemeralvolume_syncs;      /* 5 */
  const char *root_ca_file;                  /* --root-ca-file */
  const char *cluster_signing_cert_file;     /* --cluster-signing-cert-file: the csrsigning CA */
  const char *cluster_signing_key_file;      /* --cluster-signing-key-file */
  int64_t cluster_signing_duration_ms;       /* --cluster-signing-duration, 8760h */
  int64_t pvclaimbinder_sync_period_ms;      /* --pvclaimbinder-sync-period, 15s */
  bool enable_dynamic_provisioning;          /* --enable-dynamic-provisioning, true */
  const char *local_path_root;               /* --local-path-root: the built-in local-path provisioner's directory */
  double kube_api_qps;                       /* --kube-api-qps, 20 */
  int kube_api_burst;                        /* --kube-api-burst, 30 */
  int v;
};

/* The program context, one per process, passed to every controller. */
struct cm_ctx {
  struct cm_config cfg;
  struct event_base *base;
  struct rest_client *client;
  struct informer_factory *informers;
  struct event_recorder *recorder;
  struct metrics *metrics;
  const struct cm_transport *transport; /* NULL: writes go through client (tests set a fake) */
  /* --use-service-account-credentials: each controller's own client
   * (sa_clients.h); NULL: every controller uses client. */
  struct cm_sa_clients *sa_clients;
};

/* Informer paths controllers share through informer_factory_get(). */
#define CM_PODS "/api/v1/pods"
#define CM_NODES "/api/v1/nodes"
#define CM_NAMESPACES "/api/v1/namespaces"
#define CM_SERVICES "/api/v1/services"
#define CM_ENDPOINTS "/api/v1/endpoints"
#define CM_REPLICASETS "/apis/apps/v1/replicasets"
#define CM_DEPLOYMENTS "/apis/apps/v1/deployments"
#define CM_STATEFULSETS "/apis/apps/v1/statefulsets"
#define CM_DAEMONSETS "/apis/apps/v1/daemonsets"
#define CM_CONTROLLERREVISIONS "/apis/apps/v1/controllerrevisions"
#define CM_JOBS "/apis/batch/v1/jobs"
#define CM_CRONJOBS "/apis/batch/v1/cronjobs"
#define CM_ENDPOINTSLICES "/apis/discovery.k8s.io/v1/endpointslices"
#define CM_LEASES_NODE "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
#define CM_PVCS "/api/v1/persistentvolumeclaims"
#define CM_PVS "/api/v1/persistentvolumes"
#define CM_STORAGECLASSES "/apis/storage.k8s.io/v1/storageclasses"
#define CM_PDBS "/apis/policy/v1/poddisruptionbudgets"
#define CM_RESOURCEQUOTAS "/api/v1/resourcequotas"
#define CM_SERVICEACCOUNTS "/api/v1/serviceaccounts"
#define CM_REPLICATIONCONTROLLERS "/api/v1/replicationcontrollers"

/* A controller: struct controller_def (framework.h) says how to build it;
 * the framework starts, runs and stops every one the same way. */
struct controller_def;

/* Every controller, each defined in its controllers/NAME.c. */
extern const struct controller_def ctrl_replicaset, ctrl_replicationcontroller, ctrl_deployment, ctrl_statefulset,
    ctrl_daemonset, ctrl_job, ctrl_cronjob, ctrl_ttl_after_finished, ctrl_endpoints, ctrl_endpointslice,
    ctrl_endpointslice_mirroring, ctrl_namespace, ctrl_garbagecollector, ctrl_nodeipam, ctrl_nodelifecycle,
    ctrl_taint_eviction, ctrl_podgc, ctrl_serviceaccount, ctrl_disruption, ctrl_resourcequota,
    ctrl_root_ca_cert_publisher, ctrl_persistentvolume_binder, ctrl_pvc_protection, ctrl_pv_protection,
    ctrl_ephemeral_volume, ctrl_persistentvolume_expander, ctrl_clusterrole_aggregation, ctrl_csrsigning,
    ctrl_csrapproving, ctrl_csrcleaner, ctrl_bootstrapsigner, ctrl_tokencleaner;

/* --controllers parsing: "*" (all enabled by default), "name", "-name",
 * comma-separated, as upstream.  Returns true if name is enabled. */
bool cm_controller_enabled(const char *spec, const struct controller_def *def);

#endif
