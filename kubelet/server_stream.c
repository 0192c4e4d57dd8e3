/*
 * server_stream.c - /exec, /attach and /portForward: the streaming
 * protocol libraries (server/stream.h, server/stream_portforward.h) glued
 * to the runtime.
 *
 * exec and attach: the protocol session is accepted first; when it is
 * ready the runtime session starts (Docker's hijacked exec or attach
 * connection), its output goes to the client's stdout/stderr channels,
 * the client's stdin, stdin close and terminal resizes go to the process,
 * and its exit code ends the protocol session (the error channel's
 * Status).  When the client's queue grows past STREAM_HIGH_WATER_BYTES the
 * runtime session stops reading until the client drained it.
 *
 * port-forward: each forwarded connection dials the port on the pod's
 * localhost, from inside the sandbox's network namespace (setns around
 * socket(), as upstream's runtimes do), so a server listening only on
 * 127.0.0.1 in the pod is reached too.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kube/http.h"
#include "kube/json.h"
#include "kube/log.h"
#include "kube/podutil.h"
#include "kube/status.h"
#include "kube/xalloc.h"
#include "kubelet.h"
#include "pods.h"
#include "runtime/runtime.h"
#include "server/stream.h"
#include "server/stream_portforward.h"
#include "server_handlers.h"

#define STREAM_HIGH_WATER_BYTES (1u << 20)

static void text(struct http_request *req, int code, const char *msg)
{
  http_reply(req, code, "text/plain; charset=utf-8", msg, strlen(msg));
}

struct exec_session {
  struct kubelet *k;
  struct kl_stream *s;
  struct kl_rt_stream *rs;
  char id[128];
  json_t *cmd; /* NULL: attach */
  struct kl_stream_opts o;
  bool paused, ended;
};

static void es_free(struct exec_session *e)
{
  if (e->rs) e->k->rt->ops->stream_close(e->rs);
  json_decref(e->cmd);
  free(e);
}

static int rt_output(void *arg, int stream, const char *data, size_t len)
{
  struct exec_session *e = arg;
  if (!e->s || e->ended) return -1;
  enum kl_stream_channel ch = stream == 2 && e->o.stderr_ ? KL_STREAM_STDERR : KL_STREAM_STDOUT;
  if (kl_stream_write(e->s, ch, data, len) < 0) return -1;
  if (!e->paused && kl_stream_pending(e->s) > STREAM_HIGH_WATER_BYTES) {
    e->paused = true;
    e->k->rt->ops->stream_pause(e->rs, true);
  }
  return 0;
}

static void rt_exited(void *arg, int err, int code, const char *msg)
{
  struct exec_session *e = arg;
  e->ended = true;
  if (!e->s) return;
  if (err) {
    json_t *st = kstatus_internal("%s", msg && *msg ? msg : "the container runtime failed");
    kl_stream_finish_status(e->s, st);
    json_decref(st);
    return;
  }
  kl_stream_finish(e->s, code < 0 ? 1 : code);
}

static void on_ready(struct kl_stream *s, void *arg)
{
  struct exec_session *e = arg;
  struct kl_rt_stream_cbs cbs = {.output = rt_output, .exited = rt_exited, .arg = e};
  e->rs = e->k->rt->ops->stream_start(e->k->rt, e->id, e->cmd, e->o.tty, e->o.stdin_, e->o.stdout_ || e->o.tty,
                                      e->o.stderr_, &cbs);
  if (!e->rs) {
    json_t *st = kstatus_internal("cannot start the session in the container runtime");
    kl_stream_finish_status(s, st);
    json_decref(st);
  }
}

static void on_stdin(struct kl_stream *s, const void *data, size_t len, void *arg)
{
  struct exec_session *e = arg;
  if (e->rs && len) e->k->rt->ops->stream_stdin(e->rs, data, len);
}

static void on_stdin_close(struct kl_stream *s, void *arg)
{
  struct exec_session *e = arg;
  if (e->rs) e->k->rt->ops->stream_stdin(e->rs, NULL, 0);
}

static void on_resize(struct kl_stream *s, unsigned w, unsigned h, void *arg)
{
  struct exec_session *e = arg;
  if (e->rs) e->k->rt->ops->stream_resize(e->rs, (int)w, (int)h);
}

static void on_drain(struct kl_stream *s, void *arg)
{
  struct exec_session *e = arg;
  if (e->paused && e->rs) {
    e->paused = false;
    e->k->rt->ops->stream_pause(e->rs, false);
  }
}

static void on_close(struct kl_stream *s, void *arg)
{
  struct exec_session *e = arg;
  e->s = NULL;
  es_free(e);
}

/* /exec/NS/POD/CONTAINER or /attach/NS/POD/CONTAINER */
static void serve_exec(struct kubelet *k, struct http_request *req, bool attach)
{
  char ns[256], pod[256], container[256];
  const char *rest = http_req_path(req) + (attach ? strlen("/attach/") : strlen("/exec/"));
  if (sscanf(rest, "%255[^/]/%255[^/]/%255[^/?]", ns, pod, container) != 3) {
    text(req, 400, "the path must name a namespace, a pod and a container");
    return;
  }
  char id[128], err[600];
  int code = kl_logs_container_id(k, ns, pod, container, false, id, sizeof id, err, sizeof err);
  json_t *p = code ? NULL : kl_pods_find(k->pods, ns, pod);
  const json_t *cs = p ? pod_container_status(p, container) : NULL;
  bool running = cs && kj_get(cs, "state.running");
  json_decref(p);
  if (code || !running) {
    char msg[400];
    snprintf(msg, sizeof msg, "container not found (\"%s\")", container);
    text(req, code == 404 ? 404 : 400, code == 404 ? err : msg);
    return;
  }
  struct exec_session *e = xcalloc(1, sizeof *e);
  e->k = k;
  snprintf(e->id, sizeof e->id, "%s", id);
  if (kl_stream_opts_from_request(req, &e->o, err, sizeof err) < 0) {
    json_t *st = kstatus_bad_request("%s", err);
    http_reply_json(req, 400, st);
    json_decref(st);
    free(e);
    return;
  }
  if (!attach) {
    size_t n = 0;
    char **argv = kl_stream_query_all(req, "command", &n);
    if (!n) {
      free(argv);
      json_t *st = kstatus_bad_request("you must specify at least one command for the container");
      http_reply_json(req, 400, st);
      json_decref(st);
      free(e);
      return;
    }
    e->cmd = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(e->cmd, json_string(argv[i]));
    free(argv);
  }
  struct kl_stream_callbacks cb = {.on_ready = on_ready,
                                   .on_stdin = on_stdin,
                                   .on_stdin_close = on_stdin_close,
                                   .on_resize = on_resize,
                                   .on_drain = on_drain,
                                   .on_close = on_close};
  e->s = kl_stream_accept(req, &e->o, &cb, e);
  if (!e->s) {
    json_decref(e->cmd);
    free(e); /* the request was answered with the reason */
  }
}

/* ---- port-forward ---- */

struct pf_session {
  struct kubelet *k;
  int sandbox_pid;
  char pod[256];
};

/* A socket connecting to 127.0.0.1:port inside the sandbox's network. */
static int pf_dial(uint16_t port, char *err, size_t errlen, void *arg)
{
  struct pf_session *pf = arg;
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/ns/net", pf->sandbox_pid);
  int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  int target = open(path, O_RDONLY | O_CLOEXEC);
  int fd = -1, rc = 0;
  if (self < 0 || target < 0 || setns(target, CLONE_NEWNET) < 0) {
    rc = -errno;
    snprintf(err, errlen, "failed to enter the network namespace of pod %s: %s", pf->pod, strerror(errno));
  } else {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int saved = errno;
    if (setns(self, CLONE_NEWNET) < 0) KLOG_E("port-forward: cannot return to the kubelet's network namespace");
    if (fd < 0) {
      rc = -saved;
      snprintf(err, errlen, "socket: %s", strerror(saved));
    }
  }
  if (self >= 0) close(self);
  if (target >= 0) close(target);
  if (rc < 0) return rc;
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&sin, sizeof sin) < 0 && errno != EINPROGRESS) {
    rc = -errno;
    snprintf(err, errlen, "failed to connect to localhost:%u inside namespace of pod %s: %s", port, pf->pod,
             strerror(errno));
    close(fd);
    return rc;
  }
  return fd;
}

static void pf_closed(struct kl_portforward *p, void *arg) { free(arg); }

static void serve_portforward(struct kubelet *k, struct http_request *req)
{
  char ns[256], pod[256];
  if (sscanf(http_req_path(req) + strlen("/portForward/"), "%255[^/]/%255[^/?]", ns, pod) != 2) {
    text(req, 400, "the path must name a namespace and a pod");
    return;
  }
  int pid = kl_pods_sandbox_pid(k->pods, ns, pod);
  if (pid <= 0) {
    char msg[400];
    snprintf(msg, sizeof msg, "pod %s/%s has no running sandbox", ns, pod);
    text(req, pid == -ENOENT ? 404 : 400, msg);
    return;
  }
  struct pf_session *pf = xcalloc(1, sizeof *pf);
  pf->k = k;
  pf->sandbox_pid = pid;
  snprintf(pf->pod, sizeof pf->pod, "%s_%s", pod, ns);
  struct kl_portforward_callbacks cb = {.dial = pf_dial, .on_close = pf_closed};
  if (!kl_portforward_accept(req, &cb, pf)) free(pf);
}

void kl_serve_stream(struct kubelet *k, struct http_request *req)
{
  const char *path = http_req_path(req);
  if (!strncmp(path, "/exec/", 6)) serve_exec(k, req, false);
  else if (!strncmp(path, "/attach/", 8)) serve_exec(k, req, true);
  else serve_portforward(k, req);
}
