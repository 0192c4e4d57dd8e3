/*
 * volume_binding_bind.c - VolumeBinding's PreBind (upstream's
 * BindPodVolumes): the reserved bindings become API writes, then the
 * binding waits for the persistentvolume-binder to finish the job.
 *
 * The writes go one at a time, volumes first (a PUT of each volume with
 * its claimRef), then claims (a PUT of each claim with the selected-node
 * annotation, which starts provisioning); the first failure ends PreBind
 * and drops the assumptions not yet written.  Then, every
 * VB_CHECK_PERIOD_MS and until bindTimeoutSeconds, checkBindings reads
 * the informers' objects (never the assumed ones): it waits while an
 * object is older than what was written or a claim is not yet fully
 * bound, and fails when the pod is gone, a volume's node affinity does
 * not suit the node, a claimRef was reset, or a provisioner took the
 * selected node back (it could not provision there).  A failed PreBind
 * sends the pod back to the scheduling queue, whose next cycle sees the
 * cluster as it now is.
 */
#define _GNU_SOURCE
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/json.h"
#include "kube/restclient.h"
#include "kube/timeutil.h"
#include "volume_binding.h"
#include "volumes.h"
#include "kube/xalloc.h"

struct vb_op {
  struct vb_op *prev, *next;
  struct vb *vb;
  struct vb_binding *b; /* the binding's, borrowed */
  char *ns, *name, *node;
  sched_prebind_done_fn done;
  void *arg;
  struct rest_request *req;
  size_t next_write; /* bindings first, then provisions */
  struct event *timer;
  int64_t deadline_ms;
  const char *error; /* a failure to report from the next timer run */
};

static void op_free(struct vb_op *op)
{
  if (op->prev) op->prev->next = op->next;
  else op->vb->ops = op->next;
  if (op->next) op->next->prev = op->prev;
  if (op->req) rest_cancel(op->req);
  if (op->timer) event_free(op->timer);
  free(op->ns);
  free(op->name);
  free(op->node);
  free(op);
}

static void finish(struct vb_op *op, enum sched_code code, const char *msg)
{
  sched_prebind_done_fn done = op->done;
  void *arg = op->arg;
  op_free(op);
  done(arg, code, msg);
}

/* ---- checkBindings ---- */

static int fail(char *err, size_t len, const char *fmt, const char *a, const char *b)
{
  snprintf(err, len, fmt, a, b);
  return -1;
}

int vb_check_bindings(const struct sched_snapshot *s, const struct vb_binding *b, const char *node, char *err,
                      size_t len)
{
  const struct sched_node_info *ni = sched_snapshot_node(s, node);
  if (!ni) return fail(err, len, "failed to get node \"%s\": node \"%s\" not found", node, node);
  size_t i;
  json_t *e;
  json_array_foreach (b->bindings, i, e) {
    const json_t *want_pv = json_array_get(e, 1), *claim = json_array_get(e, 0);
    const char *pvname = kj_get_str(want_pv, "metadata.name") ?: "";
    const json_t *pv = json_object_get(s->pvs, pvname);
    char key[700];
    snprintf(key, sizeof key, "%s/%s", kj_get_str(claim, "metadata.namespace") ?: "",
             kj_get_str(claim, "metadata.name") ?: "");
    const json_t *pvc = json_object_get(s->pvcs, key);
    if (!pv) return fail(err, len, "failed to check binding: %s \"%s\" not found", "PersistentVolume", pvname);
    if (!pvc) return fail(err, len, "failed to check binding: %s \"%s\" not found", "PersistentVolumeClaim", key);
    if (sched_vol_rv_cmp(want_pv, pv) > 0) return 0; /* our write has not reached the informer */
    if (!sched_vol_node_affinity_ok(pv, ni->node))
      return fail(err, len, "pv \"%s\" node affinity doesn't match node \"%s\": no matching NodeSelectorTerms", pvname,
                  node);
    const char *uid = kj_get_str(pv, "spec.claimRef.uid");
    if (!uid || !*uid) return fail(err, len, "ClaimRef got reset for pv \"%s\"%s", pvname, "");
    if (!sched_vol_claim_fully_bound(pvc)) return 0;
  }
  json_array_foreach (b->provisions, i, e) {
    char key[700];
    const char *cname = kj_get_str(e, "metadata.name") ?: "";
    snprintf(key, sizeof key, "%s/%s", kj_get_str(e, "metadata.namespace") ?: "", cname);
    const json_t *pvc = json_object_get(s->pvcs, key);
    if (!pvc)
      return fail(err, len, "failed to check provisioning pvc: %s \"%s\" not found", "PersistentVolumeClaim", key);
    if (sched_vol_rv_cmp(e, pvc) > 0) return 0;
    const char *sel = sched_vol_annotation(pvc, SCHED_ANN_SELECTED_NODE);
    if (!sel || strcmp(sel, node)) {
      /* A provisioner that cannot make the volume hands the node back. */
      if (!kj_get(pvc, "metadata.annotations"))
        return fail(err, len, "selectedNode annotation reset for PVC \"%s\"%s", cname, "");
      return fail(err, len, "provisioning failed for PVC \"%s\"%s", cname, "");
    }
    const char *vn = kj_get_str(pvc, "spec.volumeName");
    if (vn && *vn) {
      const json_t *pv = json_object_get(s->pvs, vn);
      if (!pv) return 0; /* not in the cache yet */
      if (!sched_vol_node_affinity_ok(pv, ni->node))
        return fail(err, len, "pv \"%s\" node affinity doesn't match node \"%s\": no matching NodeSelectorTerms", vn,
                    node);
    }
    if (!sched_vol_claim_fully_bound(pvc)) return 0;
  }
  return 1;
}

/* ---- the wait ---- */

static void check_cb(evutil_socket_t fd, short what, void *arg)
{
  struct vb_op *op = arg;
  const struct sched_handle *h = op->vb->h;
  char err[768], msg[900];
  if (op->error) {
    finish(op, SCHED_ERROR, op->error);
    return;
  }
  if (h->pod_exists && !h->pod_exists(h->arg, op->ns, op->name)) {
    snprintf(msg, sizeof msg, "binding volumes: pod does not exist any more: pods \"%s\" not found", op->name);
    finish(op, SCHED_ERROR, msg);
    return;
  }
  int rc = vb_check_bindings(h->snap, op->b, op->node, err, sizeof err);
  if (rc == 1) {
    finish(op, SCHED_SUCCESS, NULL);
    return;
  }
  if (rc < 0) {
    snprintf(msg, sizeof msg, "binding volumes: %s", err);
    finish(op, SCHED_ERROR, msg);
    return;
  }
  if (ktime_mono_ms() >= op->deadline_ms) {
    finish(op, SCHED_ERROR, "binding volumes: context deadline exceeded");
    return;
  }
  struct timeval tv = {0, VB_CHECK_PERIOD_MS * 1000};
  evtimer_add(op->timer, &tv);
}

/* ---- the writes ---- */

static void write_next(struct vb_op *op);

/* The writes from the failed one on are not going to happen. */
static void revert_unwritten(struct vb_op *op)
{
  size_t nb = json_array_size(op->b->bindings);
  for (size_t i = op->next_write; i < nb + json_array_size(op->b->provisions); i++) {
    if (i < nb) vb_restore(op->vb, "pv", json_array_get(json_array_get(op->b->bindings, i), 1));
    else vb_restore(op->vb, "pvc", json_array_get(op->b->provisions, i - nb));
  }
}

static void write_done(void *arg, int code, json_t *body, const struct rest_status *err)
{
  struct vb_op *op = arg;
  op->req = NULL;
  if (err) {
    revert_unwritten(op);
    finish(op, SCHED_ERROR, err->message ? err->message : "update failed");
    return;
  }
  /* Keep what the API server answered: the checks wait for the informer
   * to reach that version. */
  size_t nb = json_array_size(op->b->bindings);
  if (body && op->next_write < nb) json_array_set(json_array_get(op->b->bindings, op->next_write), 1, body);
  else if (body) json_array_set(op->b->provisions, op->next_write - nb, body);
  op->next_write++;
  write_next(op);
}

static void write_next(struct vb_op *op)
{
  size_t nb = json_array_size(op->b->bindings), np = json_array_size(op->b->provisions);
  if (op->next_write >= nb + np) {
    check_cb(-1, 0, op);
    return;
  }
  const json_t *obj;
  char path[800];
  if (op->next_write < nb) {
    obj = json_array_get(json_array_get(op->b->bindings, op->next_write), 1);
    snprintf(path, sizeof path, "/api/v1/persistentvolumes/%s", kj_get_str(obj, "metadata.name") ?: "");
  } else {
    obj = json_array_get(op->b->provisions, op->next_write - nb);
    snprintf(path, sizeof path, "/api/v1/namespaces/%s/persistentvolumeclaims/%s",
             kj_get_str(obj, "metadata.namespace") ?: "", kj_get_str(obj, "metadata.name") ?: "");
  }
  json_t *body = kj_deep_copy(obj);
  json_object_set_new(body, "apiVersion", json_string("v1"));
  json_object_set_new(body, "kind", json_string(op->next_write < nb ? "PersistentVolume" : "PersistentVolumeClaim"));
  op->req = rest_request(op->vb->h->client, "PUT", path, body, write_done, op);
  json_decref(body);
  if (!op->req) {
    revert_unwritten(op);
    op->error = "the update could not be sent";
    struct timeval tv = {0, 0};
    evtimer_add(op->timer, &tv);
  }
}

/* Starts after the current callback returns, so done is never called
 * from inside vb_pre_bind. */
static void start_cb(evutil_socket_t fd, short what, void *arg)
{
  struct vb_op *op = arg;
  event_free(op->timer);
  op->timer = evtimer_new(op->vb->h->base, check_cb, op);
  if (!op->timer) {
    finish(op, SCHED_ERROR, "out of memory");
    return;
  }
  write_next(op);
}

void *vb_pre_bind(void *self, void *state, const json_t *pod, const char *node, sched_prebind_done_fn done, void *arg)
{
  struct vb *vb = self;
  if (!vb->h || !vb->h->base || !vb->h->client) return NULL;
  struct vb_op *op = xcalloc(1, sizeof *op);
  if (!op) return NULL;
  op->vb = vb;
  op->b = state;
  op->ns = xstrdup(kj_get_str(pod, "metadata.namespace") ?: "default");
  op->name = xstrdup(kj_get_str(pod, "metadata.name") ?: "");
  op->node = xstrdup(node);
  op->done = done;
  op->arg = arg;
  op->deadline_ms = ktime_mono_ms() + vb->bind_timeout_ms;
  op->timer = evtimer_new(vb->h->base, start_cb, op);
  op->next = vb->ops;
  if (vb->ops) vb->ops->prev = op;
  vb->ops = op;
  if (!op->ns || !op->name || !op->node || !op->timer) {
    op_free(op);
    return NULL;
  }
  struct timeval tv = {0, 0};
  evtimer_add(op->timer, &tv);
  return op;
}

void vb_pre_bind_cancel(void *self, void *op) { op_free(op); }

void vb_cancel_all(struct vb *vb)
{
  while (vb->ops) op_free(vb->ops);
}
