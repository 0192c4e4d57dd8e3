/*
 * volume_binding.h - what the VolumeBinding plugin's two files share:
 * volume_binding.c (PreFilter, Filter, Reserve, Unreserve and the assume
 * cache) and volume_binding_bind.c (PreBind's API writes and the wait for
 * the persistentvolume-binder).
 */
#ifndef SCHED_PLUGINS_VOLUME_BINDING_H
#define SCHED_PLUGINS_VOLUME_BINDING_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "../framework.h"

/* upstream's VolumeBindingArgs.bindTimeoutSeconds default */
#define VB_DEFAULT_BIND_TIMEOUT_S 600
/* How often PreBind looks whether the claims are bound yet. */
#define VB_CHECK_PERIOD_MS 250

/* The failure reasons, word for word. */
#define VB_REASON_BIND_CONFLICT "node(s) didn't find available persistent volumes to bind"
#define VB_REASON_NODE_CONFLICT "node(s) had volume node affinity conflict"
#define VB_REASON_NOT_ENOUGH_SPACE "node(s) did not have enough free storage"
#define VB_REASON_PV_NOT_EXIST "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"
#define VB_REASON_UNBOUND_IMMEDIATE "pod has unbound immediate PersistentVolumeClaims"

struct vb_op;

struct vb {
  const struct sched_handle *h; /* NULL until attached (unit tests run without) */
  int64_t bind_timeout_ms;
  /* The assume cache: "pv:NAME" / "pvc:NS/NAME" -> the object as a
   * reserved pod will make it, kept while the informer has no newer
   * version (upstream's AssumeCache). */
  json_t *assumed;
  struct vb_op *ops; /* PreBinds in flight */
};

/* What Reserve hands PreBind and Unreserve: [[pvc, pv-to-write]] and
 * [pvc-to-write] (upstream's PodVolumes after AssumePodVolumes). */
struct vb_binding {
  json_t *bindings;
  json_t *provisions;
};

/* The view: the informer's object, or the assumed one while newer.
 * Borrowed, or NULL. */
json_t *vb_get_pv(struct vb *vb, const struct sched_snapshot *s, const char *name);
json_t *vb_get_pvc(struct vb *vb, const struct sched_snapshot *s, const char *key);
/* Drops an assumption (Restore). */
void vb_restore(struct vb *vb, const char *kind, const json_t *obj);

/* PreBind (volume_binding_bind.c). */
void *vb_pre_bind(void *self, void *state, const json_t *pod, const char *node, sched_prebind_done_fn done, void *arg);
void vb_pre_bind_cancel(void *self, void *op);
void vb_cancel_all(struct vb *vb);
/* checkBindings: 1 all bound, 0 not yet, -1 failed (reason in err). */
int vb_check_bindings(const struct sched_snapshot *s, const struct vb_binding *b, const char *node, char *err,
                      size_t len);

#endif
