/*
 * docker.c - the runtime interface (runtime.h) over the Docker Engine
 * API: sandboxes and containers.  Images are in docker_images.c, logs,
 * exec and events in docker_stream.c, message translation in
 * docker_convert.c.
 *
 * Each operation is a small chain of Engine API requests carried by a
 * struct dk_call; its callback runs exactly once, from the loop.  Names
 * that already exist (a create that reached Docker before a kubelet
 * crash) are retried once with a random suffix, as dockershim did: the
 * kubelet reads identity from labels, never from names.  A sandbox whose
 * start fails is removed again so it never lingers half made.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "docker_internal.h"
#include "kube/json.h"
#include "kube/log.h"
#include "kube/names.h"
#include "kube/strconv.h"
#include "kube/xalloc.h"

/* ---- calls ---- */

struct dk_call *dk_call_new(struct dk_runtime *rt, kl_rt_done_fn done, void *arg)
{
  struct dk_call *c = xcalloc(1, sizeof *c);
  if (!c) return NULL;
  c->rt = rt;
  c->done = done;
  c->arg = arg;
  c->next = rt->calls;
  if (rt->calls) rt->calls->prev = c;
  rt->calls = c;
  return c;
}

void dk_call_drop(struct dk_call *c)
{
  if (c->prev) c->prev->next = c->next;
  else if (c->rt->calls == c) c->rt->calls = c->next;
  if (c->next) c->next->prev = c->prev;
  json_decref(c->data);
  free(c);
}

void dk_call_finish(struct dk_call *c, int err, json_t *result, const char *msg)
{
  if (c->done) c->done(c->arg, err, result, msg ? msg : "");
  dk_call_drop(c);
}

int dk_errno(const struct dk_response *r)
{
  if (r->error) return strstr(r->error, "imeout") || strstr(r->error, "timed out") ? -ETIMEDOUT : -ECONNREFUSED;
  if (r->code >= 200 && r->code < 300) return 0;
  if (r->code == 304) return 0;
  if (r->code == 404) return -ENOENT;
  if (r->code == 409) return -EEXIST;
  return -EIO;
}

void dk_call_fail(struct dk_call *c, const struct dk_response *r)
{
  char msg[1024];
  dk_error_message(r, msg, sizeof msg);
  dk_call_finish(c, dk_errno(r) ? dk_errno(r) : -EIO, NULL, msg);
}

json_t *dk_body_json(const struct dk_response *r)
{
  if (r->code < 200 || r->code >= 300 || !r->len) return NULL;
  return json_loadb(r->body, r->len, 0, NULL);
}

/* The call is dropped when its first request cannot even be made. */
static void call_started(struct dk_call *c, struct dk_req *req)
{
  if (!req) dk_call_finish(c, -ENOMEM, NULL, "out of memory");
}

#define DK(rt) ((struct dk_runtime *)(rt))

/* ---- version ---- */

static void version_done(void *arg, const struct dk_response *r)
{
  struct dk_call *c = arg;
  json_t *v = dk_body_json(r);
  if (!v) {
    json_decref(v);
    dk_call_fail(c, r);
    return;
  }
  json_t *out = json_pack("{s:s, s:s, s:s}", "runtimeName", "docker", "runtimeVersion", kj_get_str(v, "Version") ?: "",
                          "runtimeApiVersion", kj_get_str(v, "ApiVersion") ?: "");
  dk_call_finish(c, 0, out, NULL);
  json_decref(out);
  json_decref(v);
}

static void dk_version(struct kl_runtime *rt, kl_rt_done_fn done, void *arg)
{
  struct dk_call *c = dk_call_new(DK(rt), done, arg);
  call_started(c, dk_request(DK(rt)->cli, "GET", DK_API "/version", NULL, NULL, 0, version_done, c));
}

/* ---- create with a name that may be taken ---- */

static void create_named(struct dk_call *c, const char *name, dk_done_fn cb)
{
  char *ename = kstr_url_encode(name);
  char path[600];
  snprintf(path, sizeof path, DK_API "/containers/create?name=%s", ename ? ename : "");
  free(ename);
  call_started(c, dk_request_json(c->rt->cli, "POST", path, json_object_get(c->data, "body"), cb, c));
}

/* On a name conflict, retries once under name + "_" + random suffix. */
static bool retry_conflict(struct dk_call *c, const struct dk_response *r, dk_done_fn cb)
{
  if (r->code != 409 || c->step > 0) return false;
  c->step = 1;
  char uuid[37];
  names_uuid(uuid);
  char name[600];
  snprintf(name, sizeof name, "%s_%.8s", json_string_value(json_object_get(c->data, "name")), uuid);
  create_named(c, name, cb);
  return true;
}

/* ---- sandboxes ---- */

static void sandbox_cleanup_done(void *arg, const struct dk_response *r)
{
  struct dk_call *c = arg;
  const char *msg = json_string_value(json_object_get(c->data, "error")) ?: "";
  dk_call_finish(c, (int)c->n, NULL, msg);
}

/* The sandbox failed after create: remove it, then report err/msg. */
static void sandbox_fail(struct dk_call *c, int err, const char *msg)
{
  json_object_set_new(c->data, "error", json_string(msg));
  c->n = err;
  char path[200];
  snprintf(path, sizeof path, DK_API "/containers/%s?force=1&v=1", c->id);
  if (!dk_request(c->rt->cli, "DELETE", path, NULL, NULL, 0, sandbox_cleanup_done, c))
    dk_call_finish(c, err, NULL, msg);
}

static void sandbox_ready(struct dk_call *c)
{
  json_t *out = json_pack("{s:s}", "podSandboxId", c->id);
  dk_call_finish(c, 0, out, NULL);
  json_decref(out);
}

static int write_file(const char *path, const char *content)
{
  int fd = open(path, O_WRONLY | O_TRUNC | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return -errno;
  size_t n = strlen(content);
  ssize_t w = write(fd, content, n);
  int rc = (w == (ssize_t)n) ? 0 : -EIO;
  close(fd);
  return rc;
}

/* The pod's DNS settings replace Docker's resolv.conf before any app
 * container starts (they all share the sandbox's file). */
static void sandbox_inspected(void *arg, const struct dk_response *r)
{
  struct dk_call *c = arg;
  json_t *in = dk_body_json(r);
  const char *path = kj_get_str(in, "ResolvConfPath");
  char *content = dk_resolv_conf(kj_get(c->data, "config.dnsConfig"));
  int rc = path && content ? write_file(path, content) : -EIO;
  free(content);
  json_decref(in);
  if (rc < 0) {
    char msg[300];
    snprintf(msg, sizeof msg, "failed to write resolv.conf of sandbox %s: %s", c->id, strerror(-rc));
    sandbox_fail(c, -EIO, msg);
    return;
  }
  sandbox_ready(c);
}

static void sandbox_started(void *arg, const struct dk_response *r)
{
  struct dk_call *c = arg;
  if (dk_errno(r)) {
    char msg[1024];
    sandbox_fail(c, dk_errno(r), dk_error_message(r, msg, sizeof msg));
    return;
  }
  if (!kj_get(c->data, "config.dnsConfig")) {
    sandbox_ready(c);
    return;
  }
  char path[200];
  snprintf(path, sizeof path, DK_API "/containers/%s/json", c->id);
  if (!dk_request(c->rt->cli, "GET", path, NULL, NULL, 0, sandbox_inspected, c))
    sandbox_fail(c, -ENOMEM, "out of memory");
}

static void sandbox_created(void *arg, const struct dk_response *r)
{
  struct dk_call *c = arg;
  if (retry_conflict(c, r, sandbox_created)) return;
  json_t *b = dk_body_json(r);
  const char *id = kj_get_str(b, "Id");
  if (!id) {
    json_decref(b);
    dk_call_fail(c, r);
    return;
  }
  snprintf(c->id, sizeof c->id, "%s", id);
  json_decref(b);
  char path[200];
  snprintf(path, sizeof path, DK_API "/containers/%s/start", c->id);
  if (!dk_request(c->rt->cli, "POST", path, NULL, NULL, 0, sandbox_started, c))
    sandbox_fail(c, -ENOMEM, "out of memory");
}

static void dk_run_pod_sandbox(struct kl_runtime *rt, const json_t *config, kl_rt_done_fn done, void *arg)
{
  struct dk_call *c = dk_call_new(DK(rt), done, arg);
  char *name = dk_sandbox_name(config);
  c->data =
      json_pack("{s:o, s:O, s:s}", "body",
                dk_sandbox_create_body(config, DK(rt)->pause_image, DK(rt)->node, DK(rt)->host_net, DK(rt)->min_oom),
                "config", config, "name", name ? name : "");
  create_named(c, name ? name : "", sandbox_created);
  free(name);
}

static void simple_done(void *arg, const struct dk_response *r)
{
  struct dk_call *c = arg;
  int err = dk_errno(r);
  if (err) dk_call_fail(c, r);
  else dk_call_finish(c, 0, NULL, NULL);
}

static void dk_stop_pod_sandbox(struct kl_runtime *rt, const char *id, kl_rt_done_fn done, void *arg)
{
  struct dk_call *c = dk_call_new(DK(rt), done, arg);
  char path[200];
  snprintf(path, sizeof path, DK_API "/containers/%s/stop?t=10", id);
  call_started(c, dk_stream(DK(rt)->cli, "POST", path, NULL, NULL, 0, NULL, simple_done, c));
}

static void dk_remove_pod_sandbox(struct kl_runtime *rt, const char *id, kl_rt_done_fn done, void *arg)
{
  struct dk_call *c = dk_call_new(DK(rt), done, arg);
  char path[200];
  snprintf(path, sizeof path, DK_API "/containers/%s?force=1&v=1", id);
  call_started(c, dk_request(DK(rt)->cli, "DELETE", path, NULL, NULL, 0, simple_done, c));
}

static void inspect_done(void *arg, const struct dk_response *r)
{
  struct dk_call *c = arg;
  json_t *in = dk_body_json(r);
  if (!in) {
    dk_call_fail(c, r);
    return;
  }
  json_t *out = c->n ? dk_to_sandbox_status(in) : dk_to_container_status(in);
  json_decref(in);
  if (!out) {
    dk_call_finish(c, -ENOENT, NULL, "not a kubelet container");
    return;
  }
  dk_call_finish(c, 0, out, NULL);
  json_decref(out);
}

static void inspect(struct kl_runtime *rt, const char *id, bool sandbox, kl_rt_done_fn done, void *arg)
{
  struct dk_call *c = dk_call_new(DK(rt), done, arg);
  c->n = sandbox;
  char path[200];
  snprintf(path, sizeof path, DK_API "/containers/%s/json", id);
  call_started(c, dk_request(DK(rt)->cli, "GET", path, NULL, NULL, 0, inspect_done, c));
}

static void dk_pod_sandbox_status(struct kl_runtime *rt, const char *id, kl_rt_done_fn done, void *arg)
{
  inspect(rt, id, true, done, arg);
}

static void dk_container_status(struct kl_runtime *rt, const char *id, kl_rt_done_fn done, void *arg)
{
  inspect(rt, id, false, done, arg);
}

/* ---- lists ---- */

static void list_done(void *arg, const struct dk_response *r)
{
  struct dk_call *c = arg;
  json_t *items = dk_body_json(r);
  if (!json_is_array(items)) {
    json_decref(items);
    dk_call_fail(c, r);
    return;
  }
  json_t *out = json_array();
  size_t i;
  json_t *it;
  json_array_foreach (items, i, it) {
    json_t *o = c->n ? dk_to_sandbox(it) : dk_to_container(it);
    if (o) json_array_append_new(out, o);
  }
  json_decref(items);
  json_t *res = json_pack("{s:o}", c->n ? "items" : "containers", out);
  dk_call_finish(c, 0, res, NULL);
  json_decref(res);
}

static void list(struct kl_runtime *rt, bool sandboxes, kl_rt_done_fn done, void *arg)
{
  struct dk_runtime *d = DK(rt);
  struct dk_call *c = dk_call_new(d, done, arg);
  c->n = sandboxes;
  char filter[512];
  snprintf(filter, sizeof filter, "{\"label\":[\"" DK_LABEL_NODE "=%s\",\"" DK_LABEL_TYPE "=%s\"]}", d->node,
           sandboxes ? DK_TYPE_SANDBOX : DK_TYPE_CONTAINER);
  char *enc = kstr_url_encode(filter);
  char path[1024];
  snprintf(path, sizeof path, DK_API "/containers/json?all=1&filters=%s", enc ? enc : "");
  free(enc);
  call_started(c, dk_request(d->cli, "GET", path, NULL, NULL, 0, list_done, c));
}

static void dk_list_pod_sandbox(struct kl_runtime *rt, kl_rt_done_fn done, void *arg) { list(rt, true, done, arg); }
static void dk_list_containers(struct kl_runtime *rt, kl_rt_done_fn done, void *arg) { list(rt, false, done, arg); }

/* ---- containers ---- */

static void container_created(void *arg, const struct dk_response *r)
{
  struct dk_call *c = arg;
  if (retry_conflict(c, r, container_created)) return;
  json_t *b = dk_body_json(r);
  const char *id = kj_get_str(b, "Id");
  if (!id) {
    json_decref(b);
    dk_call_fail(c, r);
    return;
  }
  json_t *out = json_pack("{s:s}", "containerId", id);
  json_decref(b);
  dk_call_finish(c, 0, out, NULL);
  json_decref(out);
}

static void dk_create_container(struct kl_runtime *rt, const char *sandbox_id, const json_t *config,
                                const json_t *sandbox_config, kl_rt_done_fn done, void *arg)
{
  struct dk_runtime *p = DK(rt);
  struct dk_call *c = dk_call_new(p, done, arg);
  json_t *body = dk_container_create_body(config, sandbox_config, sandbox_id, DK(rt)->node, DK(rt)->host_net);
  char size[32], files[16];
  snprintf(size, sizeof size, "%lldk", (long long)(p->log_max_size / 1024 > 0 ? p->log_max_size / 1024 : 1));
  snprintf(files, sizeof files, "%d", p->log_max_files > 0 ? p->log_max_files : 1);
  kj_set(body, "HostConfig.LogConfig",
         json_pack("{s:s, s:{s:s, s:s}}", "Type", "json-file", "Config", "max-size", size, "max-file", files));
  char *name = dk_container_name(config, sandbox_config);
  c->data = json_pack("{s:o, s:s}", "body", body, "name", name ? name : "");
  create_named(c, name ? name : "", container_created);
  free(name);
}

static void dk_start_container(struct kl_runtime *rt, const char *id, kl_rt_done_fn done, void *arg)
{
  struct dk_call *c = dk_call_new(DK(rt), done, arg);
  char path[200];
  snprintf(path, sizeof path, DK_API "/containers/%s/start", id);
  call_started(c, dk_request(DK(rt)->cli, "POST", path, NULL, NULL, 0, simple_done, c));
}

static void dk_stop_container(struct kl_runtime *rt, const char *id, int64_t timeout_s, kl_rt_done_fn done, void *arg)
{
  struct dk_call *c = dk_call_new(DK(rt), done, arg);
  char path[200];
  snprintf(path, sizeof path, DK_API "/containers/%s/stop?t=%lld", id, (long long)(timeout_s < 0 ? 0 : timeout_s));
  /* A stream: no request timeout, the grace period may be long. */
  call_started(c, dk_stream(DK(rt)->cli, "POST", path, NULL, NULL, 0, NULL, simple_done, c));
}

static void dk_remove_container(struct kl_runtime *rt, const char *id, kl_rt_done_fn done, void *arg)
{
  struct dk_call *c = dk_call_new(DK(rt), done, arg);
  char path[200];
  snprintf(path, sizeof path, DK_API "/containers/%s?force=1&v=1", id);
  call_started(c, dk_request(DK(rt)->cli, "DELETE", path, NULL, NULL, 0, simple_done, c));
}

/* ---- instance ---- */

static size_t dk_pending(struct kl_runtime *rt)
{
  struct dk_runtime *d = DK(rt);
  size_t n = dk_client_pending(d->cli);
  return d->ev_req && n > 0 ? n - 1 : n; /* the event stream never ends */
}

static void dk_free(struct kl_runtime *rt)
{
  struct dk_runtime *d = DK(rt);
  dk_events_free(d);
  dk_client_free(d->cli);
  while (d->calls) { /* abandoned: no callback, owners freed */
    struct dk_call *c = d->calls;
    if (c->cleanup) c->cleanup(c->owner);
    dk_call_drop(c);
  }
  free(d->node);
  free(d->socket_path);
  free(d->pause_image);
  free(d->host_net);
  free(d);
}

static const struct kl_runtime_ops docker_ops = {
    .name = "docker",
    .free = dk_free,
    .pending = dk_pending,
    .version = dk_version,
    .run_pod_sandbox = dk_run_pod_sandbox,
    .stop_pod_sandbox = dk_stop_pod_sandbox,
    .remove_pod_sandbox = dk_remove_pod_sandbox,
    .pod_sandbox_status = dk_pod_sandbox_status,
    .list_pod_sandbox = dk_list_pod_sandbox,
    .create_container = dk_create_container,
    .start_container = dk_start_container,
    .stop_container = dk_stop_container,
    .remove_container = dk_remove_container,
    .list_containers = dk_list_containers,
    .container_status = dk_container_status,
    .exec_sync = dk_exec_sync,
    .container_logs = dk_container_logs,
    .logs_cancel = dk_logs_cancel,
    .stream_start = dk_stream_start,
    .stream_stdin = dk_stream_stdin,
    .stream_resize = dk_stream_resize,
    .stream_pause = dk_stream_pause,
    .stream_close = dk_stream_close,
    .watch_events = dk_watch_events,
    .list_images = dk_list_images,
    .image_status = dk_image_status,
    .pull_image = dk_pull_image,
    .remove_image = dk_remove_image,
    .import_image = dk_import_image,
};

struct kl_runtime *kl_docker_new(struct event_base *base, const struct kl_docker_opts *o)
{
  struct dk_runtime *d = xcalloc(1, sizeof *d);
  if (!d) return NULL;
  d->base.ops = &docker_ops;
  d->ev_base = base;
  d->node = xstrdup(o->node_name);
  d->pause_image = xstrdup(o->pause_image);
  d->socket_path = xstrdup(o->socket_path);
  if (o->host_network_container && *o->host_network_container) {
    d->host_net = xasprintf("container:%s", o->host_network_container);
  } else {
    d->host_net = xstrdup("host");
  }
  d->log_max_size = o->log_max_size_bytes > 0 ? o->log_max_size_bytes : 10 << 20;
  d->log_max_files = o->log_max_files > 0 ? o->log_max_files : 5;
  d->min_oom = o->min_oom_score_adj;
  d->cli = dk_client_new(base, o->socket_path, o->request_timeout_ms);
  if (!d->node || !d->pause_image || !d->socket_path || !d->host_net || !d->cli) {
    dk_free(&d->base);
    return NULL;
  }
  return &d->base;
}
