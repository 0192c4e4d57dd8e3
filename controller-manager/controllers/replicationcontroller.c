/*
 * replicationcontroller.c - the ReplicationController controller
 * (upstream pkg/controller/replication): the ReplicaSet core of
 * replicaset.c with v1 ReplicationControllers, whose selector is a plain
 * label map.
 */
#include "cm.h"
#include "controllers/replicaset.h"

static int rc_start(struct cm_ctx *ctx, void **state)
{
  return rs_core_start(&rs_kind_rc, ctx, ctx->cfg.concurrent_rc_syncs, state);
}

const struct controller_def ctrl_replicationcontroller = { "replicationcontroller", true, rc_start,
                                                           cm_base_run, rs_core_stop };
