/*
 * sched_writes.c - the scheduler's writes to the API server: bindings, pod
 * status (PodScheduled condition, nominatedNodeName) and victim deletion.
 *
 * Each write is an operation on the server's list so that shutdown can
 * cancel and free whatever is still outstanding.  A binding first runs
 * the PreBind plugins that Reserve gave work (VolumeBinding's volume
 * writes and its wait for them to bind), one after the other, then binds:
 * through the extender with a bindVerb that is interested in the pod
 * (ExtenderBindingArgs; when that call fails and the extender is
 * ignorable, the Binding is POSTed after all: upstream's extendersBinding,
 * then the DefaultBinder), else by POSTing the Binding.  Its outcome goes
 * back to the cache and the queue: success leaves the assumed pod in the
 * snapshot until the informer shows spec.nodeName (the confirmation);
 * failure (of a PreBind or of the bind) undoes Reserve, forgets the
 * assumption and sends the pod to backoff.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/log.h"
#include "kube/recorder.h"
#include "kube/restclient.h"
#include "kube/timeutil.h"
#include "extender.h"
#include "sched_internal.h"
#include "kube/xalloc.h"

enum op_kind { OP_BIND, OP_STATUS, OP_DELETE };

struct sched_op {
  struct sched_op *prev, *next;
  struct sched_server *s;
  struct rest_request *req;
  enum op_kind kind;
  char *key, *node;
  json_t *pod; /* owned */
  int profile_ix;
  struct sched_binding *binding; /* owned: what Reserve kept, or NULL */
  int prebind_ix;                /* the PreBind plugin running (pb_op) or next */
  void *pb_op;
  struct sched_extender *binder; /* binding through this extender, or NULL */
};

static struct sched_op *op_new(struct sched_server *s, enum op_kind kind, const json_t *pod, const char *node)
{
  struct sched_op *op = xcalloc(1, sizeof *op);
  if (!op) return NULL;
  op->s = s;
  op->kind = kind;
  op->pod = json_incref((json_t *)pod);
  op->key = sched_pod_key(pod);
  op->node = node ? xstrdup(node) : NULL;
  op->next = s->ops;
  if (s->ops) s->ops->prev = op;
  s->ops = op;
  return op;
}

static void op_free(struct sched_op *op)
{
  struct sched_server *s = op->s;
  if (op->prev) op->prev->next = op->next;
  else s->ops = op->next;
  if (op->next) op->next->prev = op->prev;
  json_decref(op->pod);
  free(op->key);
  free(op->node);
  free(op);
}

void sched_ops_cancel_all(struct sched_server *s)
{
  while (s->ops) {
    struct sched_op *op = s->ops;
    if (op->req) rest_cancel(op->req);
    if (op->pb_op) {
      const struct sched_plugin_inst *pi = &op->binding->p->plugins[op->prebind_ix];
      pi->p->pre_bind_cancel(pi->self, op->pb_op);
    }
    sched_binding_free(op->binding);
    op_free(op);
  }
}

static char *pod_path(const json_t *pod, const char *sub)
{
  const json_t *md = json_object_get(pod, "metadata");
  const char *ns = json_string_value(json_object_get(md, "namespace"));
  const char *name = json_string_value(json_object_get(md, "name"));
  char *p = NULL;
  if (asprintf(&p, "/api/v1/namespaces/%s/pods/%s%s%s", ns ? ns : "default", name ? name : "", sub ? "/" : "",
               sub ? sub : "") < 0)
    return NULL;
  return p;
}

/* ---- binding ---- */

/* The binding's outcome: errmsg NULL on success, else the message of
 * the FailedScheduling event (Reserve is undone, the assumption
 * forgotten, the pod sent to backoff).  Frees op. */
static void bind_finish(struct sched_op *op, const char *errmsg)
{
  struct sched_server *s = op->s;
  s->binds_in_flight--;
  struct sched_qpod *qp = sched_queue_get(s->queue, op->key);
  if (!errmsg) {
    const json_t *md = json_object_get(op->pod, "metadata");
    recorder_eventf(s->recorders[op->profile_ix], op->pod, RECORDER_EVENT_NORMAL, "Scheduled",
                    "Successfully assigned %s/%s to %s", json_string_value(json_object_get(md, "namespace")),
                    json_string_value(json_object_get(md, "name")), op->node);
    if (qp && qp->state == SQ_ASSUMED) sched_queue_done(s->queue, qp, SQ_OUT_BOUND, ktime_mono_ms());
    s->scheduled++;
    sched_binding_free(op->binding);
    op->binding = NULL;
  } else {
    KLOG_W("Failed to bind pod %s to %s: %s", op->key, op->node, errmsg);
    sched_binding_unreserve(op->binding);
    op->binding = NULL;
    sched_forget(s, op->key);
    if (qp && qp->state == SQ_ASSUMED) {
      recorder_eventf(s->recorders[op->profile_ix], op->pod, RECORDER_EVENT_WARNING, "FailedScheduling", "%s", errmsg);
      sched_queue_done(s->queue, qp, SQ_OUT_ERROR, ktime_mono_ms());
    }
    s->errors++;
  }
  op_free(op);
  sched_wake(s);
}

static void bind_done(void *arg, int code, json_t *body, const struct rest_status *err)
{
  struct sched_op *op = arg;
  op->req = NULL;
  char msg[1024];
  if (err)
    snprintf(msg, sizeof msg, "running Bind plugin \"DefaultBinder\": %s",
             err->message ? err->message : "binding failed");
  bind_finish(op, err ? msg : NULL);
}

static int post_binding(struct sched_op *op)
{
  const char *name = json_string_value(json_object_get(json_object_get(op->pod, "metadata"), "name"));
  json_t *body = json_pack("{s:s,s:s,s:{s:s},s:{s:s,s:s,s:s}}", "apiVersion", "v1", "kind", "Binding", "metadata",
                           "name", name ? name : "", "target", "apiVersion", "v1", "kind", "Node", "name", op->node);
  char *path = pod_path(op->pod, "binding");
  op->req = path && body ? rest_request(op->s->client, "POST", path, body, bind_done, op) : NULL;
  free(path);
  json_decref(body);
  if (!op->req) return -1;
  rest_request_discard_body(op->req);
  return 0;
}

static void ext_bind_done(void *arg, int code, json_t *body, const struct rest_status *err)
{
  struct sched_op *op = arg;
  struct sched_extender *e = op->binder;
  op->req = NULL;
  char msg[1024];
  int rc = sched_extender_reply(e, e->bind_verb, code, body, err, msg, sizeof msg);
  const char *error = rc == 0 ? json_string_value(json_object_get(body, "error")) : NULL;
  if (error && *error) {
    snprintf(msg, sizeof msg, "%s", error);
    rc = -EIO;
  }
  if (rc < 0 && e->ignorable) {
    KLOG_I("Skipping extender in bind as it returned error and has ignorable flag set extender=%s err=%s",
           sched_extender_name(e), msg);
    op->binder = NULL;
    if (post_binding(op) == 0) return;
    snprintf(msg, sizeof msg, "running Bind plugin \"DefaultBinder\": cannot start the request");
  }
  bind_finish(op, rc < 0 ? msg : NULL);
}

static struct sched_extender *binder_for(struct sched_server *s, const json_t *pod)
{
  for (size_t i = 0; i < s->cfg->nextenders; i++) {
    struct sched_extender *e = &s->cfg->extenders[i];
    if (e->bind_verb && sched_extender_interested(e, pod)) return e;
  }
  return NULL;
}

/* The bind itself, once every PreBind is done: the binder extender's
 * call, or the Binding. */
static void start_bind(struct sched_op *op)
{
  op->binder = binder_for(op->s, op->pod);
  if (op->binder) {
    json_t *args = sched_extender_binding_args(op->pod, op->node);
    op->req = args ? sched_extender_post(op->binder, op->binder->bind_verb, args, ext_bind_done, op) : NULL;
    json_decref(args);
    if (op->req) return;
  } else if (post_binding(op) == 0) {
    return;
  }
  bind_finish(op, "running Bind plugin \"DefaultBinder\": the request could not be started");
}

static void next_prebind(struct sched_op *op);

static void prebind_done(void *arg, enum sched_code code, const char *message)
{
  struct sched_op *op = arg;
  op->pb_op = NULL;
  if (code == SCHED_SUCCESS) {
    op->prebind_ix++;
    next_prebind(op);
    return;
  }
  char *msg = NULL;
  if (asprintf(&msg, "running PreBind plugin \"%s\": %s", op->binding->p->plugins[op->prebind_ix].p->name,
               message ? message : "error") < 0)
    msg = NULL;
  bind_finish(op, msg ? msg : "PreBind failed");
  free(msg);
}

/* The next PreBind plugin with work, then the bind.  A step that cannot
 * start fails the binding the way a failed answer does. */
static void next_prebind(struct sched_op *op)
{
  struct sched_binding *b = op->binding;
  for (; b && op->prebind_ix < b->p->nplugins; op->prebind_ix++) {
    const struct sched_plugin_inst *pi = &b->p->plugins[op->prebind_ix];
    if (!b->state[op->prebind_ix] || !pi->pre_bind || !pi->p->pre_bind) continue;
    op->pb_op = pi->p->pre_bind(pi->self, b->state[op->prebind_ix], op->pod, op->node, prebind_done, op);
    if (op->pb_op) return;
    prebind_done(op, SCHED_ERROR, "could not start");
    return;
  }
  start_bind(op);
}

int sched_bind(struct sched_server *s, const json_t *pod, const char *node, int profile_ix,
               struct sched_binding *binding)
{
  struct sched_op *op = op_new(s, OP_BIND, pod, node);
  if (!op) {
    sched_binding_unreserve(binding);
    return -1;
  }
  op->profile_ix = profile_ix;
  op->binding = binding;
  s->binds_in_flight++;
  next_prebind(op);
  return 0;
}

/* ---- status ---- */

static void status_done(void *arg, int code, json_t *body, const struct rest_status *err)
{
  struct sched_op *op = arg;
  op->req = NULL;
  if (err && code != 404) KLOG_W("Error updating pod %s status: %s", op->key, err->message ? err->message : "");
  op_free(op);
}

/* Whether pod already has a PodScheduled condition with this reason and
 * message (then the PATCH is skipped, as upstream skips no-op updates). */
static bool has_condition(const json_t *pod, const char *reason, const char *message)
{
  size_t i;
  json_t *c;
  json_array_foreach (json_object_get(json_object_get(pod, "status"), "conditions"), i, c) {
    const char *t = json_string_value(json_object_get(c, "type"));
    if (!t || strcmp(t, "PodScheduled") != 0) continue;
    const char *r = json_string_value(json_object_get(c, "reason"));
    const char *m = json_string_value(json_object_get(c, "message"));
    const char *st = json_string_value(json_object_get(c, "status"));
    return st && !strcmp(st, "False") && r && !strcmp(r, reason) && (!message || (m && !strcmp(m, message)));
  }
  return false;
}

void sched_update_pod_status(struct sched_server *s, const json_t *pod, const char *reason, const char *message,
                             const char *nominated_node)
{
  const char *cur_nom = json_string_value(json_object_get(json_object_get(pod, "status"), "nominatedNodeName"));
  bool nom_change = nominated_node && (!cur_nom || strcmp(cur_nom, nominated_node) != 0);
  if (has_condition(pod, reason, message) && !nom_change) return;
  char now[64];
  ktime_now_str(now);
  json_t *cond = json_pack("{s:s,s:s,s:s,s:n,s:s}", "type", "PodScheduled", "status", "False", "reason", reason,
                           "lastProbeTime", "lastTransitionTime", now);
  if (message) json_object_set_new(cond, "message", json_string(message));
  json_t *status = json_pack("{s:[o]}", "conditions", cond);
  if (nom_change) json_object_set_new(status, "nominatedNodeName", json_string(nominated_node));
  json_t *body = json_pack("{s:o}", "status", status);
  struct sched_op *op = op_new(s, OP_STATUS, pod, NULL);
  char *path = pod_path(pod, "status");
  if (op && path && body)
    op->req =
        rest_request_ct(s->client, "PATCH", path, "application/strategic-merge-patch+json", body, status_done, op);
  if (op && !op->req) op_free(op);
  free(path);
  json_decref(body);
}

/* ClearNominatedNodeName: a merge patch that removes status.nominatedNodeName. */
void sched_clear_nominated_node(struct sched_server *s, const json_t *pod)
{
  json_t *body = json_pack("{s:{s:n}}", "status", "nominatedNodeName");
  struct sched_op *op = op_new(s, OP_STATUS, pod, NULL);
  char *path = pod_path(pod, "status");
  if (op && path)
    op->req = rest_request_ct(s->client, "PATCH", path, "application/merge-patch+json", body, status_done, op);
  if (op && !op->req) op_free(op);
  free(path);
  json_decref(body);
}

/* ---- preemption victims ---- */

static void delete_done(void *arg, int code, json_t *body, const struct rest_status *err)
{
  struct sched_op *op = arg;
  op->req = NULL;
  if (err && code != 404) KLOG_W("Error preempting pod %s: %s", op->key, err->message ? err->message : "");
  op_free(op);
}

static void start_delete(struct sched_server *s, const json_t *victim, const char *node)
{
  struct sched_op *op = op_new(s, OP_DELETE, victim, node);
  char *path = pod_path(victim, NULL);
  if (op && path) op->req = rest_request(s->client, "DELETE", path, NULL, delete_done, op);
  if (op && !op->req) op_free(op);
  free(path);
}

/* The DisruptionTarget condition is set first, so that controllers (Job
 * pod failure policies) can tell a preemption from other deletions; the
 * DELETE follows whatever the PATCH answered. */
static void disrupt_done(void *arg, int code, json_t *body, const struct rest_status *err)
{
  struct sched_op *op = arg;
  op->req = NULL;
  if (err && code != 404)
    KLOG_W("Error setting DisruptionTarget on pod %s: %s", op->key, err->message ? err->message : "");
  if (code != 404) start_delete(op->s, op->pod, op->node);
  op_free(op);
}

void sched_delete_victim(struct sched_server *s, const json_t *victim, const json_t *preemptor, const char *node,
                         int profile_ix)
{
  const char *uid = json_string_value(json_object_get(json_object_get(preemptor, "metadata"), "uid"));
  recorder_eventf(s->recorders[profile_ix], victim, RECORDER_EVENT_NORMAL, "Preempted",
                  "Preempted by pod %s on node %s", uid ? uid : "", node);
  if (json_object_get(json_object_get(victim, "metadata"), "deletionTimestamp")) return;
  char now[64], msg[320];
  ktime_now_str(now);
  snprintf(msg, sizeof msg, "%s: preempting to accommodate a higher priority pod",
           s->cfg->profiles[profile_ix]->scheduler_name);
  json_t *body =
      json_pack("{s:{s:[{s:s,s:s,s:s,s:s,s:s}]}}", "status", "conditions", "type", "DisruptionTarget", "status", "True",
                "reason", "PreemptionByScheduler", "message", msg, "lastTransitionTime", now);
  struct sched_op *op = op_new(s, OP_STATUS, victim, node);
  char *path = pod_path(victim, "status");
  if (op && path && body)
    op->req =
        rest_request_ct(s->client, "PATCH", path, "application/strategic-merge-patch+json", body, disrupt_done, op);
  if (op && !op->req) {
    op_free(op);
    start_delete(s, victim, node);
  }
  free(path);
  json_decref(body);
}
