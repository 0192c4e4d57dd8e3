/*
 * registry.c - the table of every controller this build has.  Add a
 * controller here when its controllers/NAME.c lands; the order is the
 * start order (upstream starts them in its own map order; ours is fixed so
 * logs are reproducible).
 */
#include <stddef.h>

#include "cm.h"

const struct controller_def *const cm_all_controllers[] = {
    &ctrl_replicaset,
    &ctrl_replicationcontroller,
    &ctrl_deployment,
    &ctrl_cronjob,
    &ctrl_job,
    &ctrl_ttl_after_finished,
    &ctrl_statefulset,
    &ctrl_daemonset,
    &ctrl_endpoints,
    &ctrl_endpointslice,
    &ctrl_endpointslice_mirroring,
    &ctrl_namespace,
    &ctrl_garbagecollector,
    &ctrl_nodeipam,
    &ctrl_nodelifecycle,
    &ctrl_taint_eviction,
    &ctrl_podgc,
    &ctrl_serviceaccount,
    &ctrl_disruption,
    &ctrl_resourcequota,
    &ctrl_root_ca_cert_publisher,
    &ctrl_persistentvolume_binder,
    &ctrl_pvc_protection,
    &ctrl_pv_protection,
    &ctrl_ephemeral_volume,
    &ctrl_persistentvolume_expander,
    &ctrl_clusterrole_aggregation,
    &ctrl_csrsigning,
    &ctrl_csrapproving,
    &ctrl_csrcleaner,
    &ctrl_bootstrapsigner,
    &ctrl_tokencleaner,
    NULL,
};
