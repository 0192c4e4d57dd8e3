/*
 * docker_stream.c - the streaming half of the runtime interface over the
 * Engine API: ExecSync (probes, hooks), container logs, the container
 * event stream, and interactive exec/attach sessions.
 *
 * Output of a container without a TTY comes multiplexed (8-byte frame
 * headers naming stdout or stderr); with a TTY it is raw.  Interactive
 * sessions need a full-duplex connection, which Docker gives by
 * "hijacking" the HTTP connection of POST /exec/ID/start or
 * /containers/ID/attach (answer 101 UPGRADED, then raw bytes both ways):
 * libcurl has no use for that, so a session is a libevent bufferevent on
 * the unix socket that writes the request itself and takes the status
 * line and headers off the front of the answer.  The event stream
 * reconnects by itself with backoff; the kubelet's periodic relist covers
 * whatever happened while it was down.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "docker_internal.h"
#include "kube/json.h"
#include "kube/log.h"
#include "kube/strconv.h"
#include "kube/xalloc.h"

#define DK(rt) ((struct dk_runtime *)(rt))
#define EXEC_OUTPUT_MAX 16384
#define EVENTS_BACKOFF_MAX_MS 30000

/* ---- ExecSync ---- */

struct exec_sync {
  struct dk_call *call;
  struct dk_req *req;
  struct event *timer;
  char exec_id[80];
  char *frame; /* partial multiplexed frame */
  size_t frame_len;
  char *out[3];
  size_t out_len[3];
};

static void es_free(struct exec_sync *e)
{
  if (e->timer) event_free(e->timer);
  free(e->frame);
  free(e->out[1]);
  free(e->out[2]);
  free(e);
}

static void es_finish(struct exec_sync *e, int err, json_t *res, const char *msg)
{
  if (e->req) dk_cancel(e->req);
  e->req = NULL;
  dk_call_finish(e->call, err, res, msg);
  es_free(e);
}

static void es_abandon(void *owner) { es_free(owner); }

static int es_output(void *arg, int stream, const char *data, size_t len)
{
  struct exec_sync *e = arg;
  size_t room = EXEC_OUTPUT_MAX - e->out_len[stream];
  if (len > room) len = room;
  if (!len) return 0;
  char *nb = xrealloc(e->out[stream], e->out_len[stream] + len + 1);
  if (!nb) return -1;
  memcpy(nb + e->out_len[stream], data, len);
  e->out_len[stream] += len;
  nb[e->out_len[stream]] = 0;
  e->out[stream] = nb;
  return 0;
}

static int es_data(void *arg, const char *data, size_t len)
{
  struct exec_sync *e = arg;
  char *nb = xrealloc(e->frame, e->frame_len + len);
  if (!nb) return -1;
  memcpy(nb + e->frame_len, data, len);
  e->frame = nb;
  e->frame_len += len;
  bool stop = false;
  size_t used = dk_demux(e->frame, e->frame_len, es_output, e, &stop);
  memmove(e->frame, e->frame + used, e->frame_len - used);
  e->frame_len -= used;
  return stop ? -1 : 0;
}

static void es_inspected(void *arg, const struct dk_response *r)
{
  struct exec_sync *e = arg;
  json_t *in = dk_body_json(r);
  if (!in) {
    char msg[512];
    es_finish(e, dk_errno(r) ? dk_errno(r) : -EIO, NULL, dk_error_message(r, msg, sizeof msg));
    return;
  }
  json_t *res = json_pack("{s:s, s:s, s:I}", "stdout", e->out[1] ? e->out[1] : "", "stderr", e->out[2] ? e->out[2] : "",
                          "exitCode", (json_int_t)kj_get_int(in, "ExitCode", -1));
  json_decref(in);
  es_finish(e, 0, res, NULL);
  json_decref(res);
}

static void es_stream_done(void *arg, const struct dk_response *r)
{
  struct exec_sync *e = arg;
  e->req = NULL;
  evtimer_del(e->timer);
  if (dk_errno(r)) {
    char msg[512];
    es_finish(e, dk_errno(r), NULL, dk_error_message(r, msg, sizeof msg));
    return;
  }
  char path[200];
  snprintf(path, sizeof path, DK_API "/exec/%s/json", e->exec_id);
  if (!dk_request(e->call->rt->cli, "GET", path, NULL, NULL, 0, es_inspected, e))
    es_finish(e, -ENOMEM, NULL, "out of memory");
}

static void es_timeout(evutil_socket_t fd, short what, void *arg)
{
  es_finish(arg, -ETIMEDOUT, NULL, "command timed out");
}

static void es_created(void *arg, const struct dk_response *r)
{
  struct exec_sync *e = arg;
  json_t *b = dk_body_json(r);
  const char *id = kj_get_str(b, "Id");
  if (!id) {
    json_decref(b);
    char msg[512];
    es_finish(e, dk_errno(r) ? dk_errno(r) : -EIO, NULL, dk_error_message(r, msg, sizeof msg));
    return;
  }
  snprintf(e->exec_id, sizeof e->exec_id, "%s", id);
  json_decref(b);
  char path[200];
  snprintf(path, sizeof path, DK_API "/exec/%s/start", e->exec_id);
  static const char body[] = "{\"Detach\":false,\"Tty\":false}";
  e->req =
      dk_stream(e->call->rt->cli, "POST", path, "application/json", body, sizeof body - 1, es_data, es_stream_done, e);
  if (!e->req) es_finish(e, -ENOMEM, NULL, "out of memory");
}

void dk_exec_sync(struct kl_runtime *rt, const char *id, const json_t *cmd, int64_t timeout_s, kl_rt_done_fn done,
                  void *arg)
{
  struct exec_sync *e = xcalloc(1, sizeof *e);
  struct dk_call *c = dk_call_new(DK(rt), done, arg);
  if (!e || !c) {
    free(e);
    if (c) dk_call_finish(c, -ENOMEM, NULL, "out of memory");
    return;
  }
  e->call = c;
  c->owner = e;
  c->cleanup = es_abandon;
  e->timer = evtimer_new(DK(rt)->ev_base, es_timeout, e);
  int64_t ms = (timeout_s > 0 ? timeout_s : 1) * 1000;
  struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
  evtimer_add(e->timer, &tv);
  json_t *body = json_pack("{s:O, s:b, s:b, s:b}", "Cmd", cmd, "AttachStdout", 1, "AttachStderr", 1, "Tty", 0);
  char path[200];
  snprintf(path, sizeof path, DK_API "/containers/%s/exec", id);
  if (!dk_request_json(DK(rt)->cli, "POST", path, body, es_created, e)) es_finish(e, -ENOMEM, NULL, "out of memory");
  json_decref(body);
}

/* ---- logs ---- */

struct kl_rt_logs {
  struct dk_call *call;
  struct kl_rt_log_opts opts;
  kl_rt_output_fn out;
  bool tty;
  char *frame;
  size_t frame_len;
  struct dk_req *req;
};

static void logs_free(struct kl_rt_logs *l)
{
  free(l->frame);
  free(l);
}

static void logs_finish(struct kl_rt_logs *l, int err, const char *msg)
{
  dk_call_finish(l->call, err, NULL, msg);
  logs_free(l);
}

static void logs_abandon(void *owner) { logs_free(owner); }

static int logs_data(void *arg, const char *data, size_t len)
{
  struct kl_rt_logs *l = arg;
  if (l->tty) return l->out(l->call->arg, 1, data, len);
  char *nb = xrealloc(l->frame, l->frame_len + len);
  if (!nb) return -1;
  memcpy(nb + l->frame_len, data, len);
  l->frame = nb;
  l->frame_len += len;
  bool stop = false;
  size_t used = dk_demux(l->frame, l->frame_len, l->out, l->call->arg, &stop);
  memmove(l->frame, l->frame + used, l->frame_len - used);
  l->frame_len -= used;
  return stop ? -1 : 0;
}

static void logs_done(void *arg, const struct dk_response *r)
{
  struct kl_rt_logs *l = arg;
  l->req = NULL;
  if (r->error && !strcmp(r->error, "aborted")) {
    logs_finish(l, 0, NULL); /* the reader stopped */
    return;
  }
  if (dk_errno(r)) {
    char msg[512];
    logs_finish(l, dk_errno(r), dk_error_message(r, msg, sizeof msg));
    return;
  }
  logs_finish(l, 0, NULL);
}

static void logs_inspected(void *arg, const struct dk_response *r)
{
  struct kl_rt_logs *l = arg;
  l->req = NULL;
  json_t *in = dk_body_json(r);
  if (!in) {
    char msg[512];
    logs_finish(l, dk_errno(r) ? dk_errno(r) : -EIO, dk_error_message(r, msg, sizeof msg));
    return;
  }
  l->tty = kj_get_bool(in, "Config.Tty", false);
  char path[400], tail[32] = "all", since[48] = "0";
  if (l->opts.tail_lines >= 0) snprintf(tail, sizeof tail, "%lld", (long long)l->opts.tail_lines);
  if (l->opts.since_us > 0)
    snprintf(since, sizeof since, "%lld.%09lld", (long long)(l->opts.since_us / 1000000),
             (long long)(l->opts.since_us % 1000000) * 1000);
  snprintf(path, sizeof path, DK_API "/containers/%s/logs?stdout=1&stderr=1&follow=%d&timestamps=%d&tail=%s&since=%s",
           kj_get_str(in, "Id") ?: "", l->opts.follow, l->opts.timestamps, tail, since);
  json_decref(in);
  l->req = dk_stream(l->call->rt->cli, "GET", path, NULL, NULL, 0, logs_data, logs_done, l);
  if (!l->req) logs_finish(l, -ENOMEM, "out of memory");
}

struct kl_rt_logs *dk_container_logs(struct kl_runtime *rt, const char *id, const struct kl_rt_log_opts *opts,
                                     kl_rt_output_fn out, kl_rt_done_fn done, void *arg)
{
  struct kl_rt_logs *l = xcalloc(1, sizeof *l);
  struct dk_call *c = dk_call_new(DK(rt), done, arg);
  if (!l || !c) {
    free(l);
    if (c) dk_call_drop(c);
    return NULL;
  }
  l->call = c;
  c->owner = l;
  c->cleanup = logs_abandon;
  l->opts = *opts;
  l->out = out;
  char path[200];
  snprintf(path, sizeof path, DK_API "/containers/%s/json", id);
  l->req = dk_request(DK(rt)->cli, "GET", path, NULL, NULL, 0, logs_inspected, l);
  if (!l->req) {
    dk_call_drop(c);
    logs_free(l);
    return NULL;
  }
  return l;
}

void dk_logs_cancel(struct kl_rt_logs *l)
{
  if (!l) return;
  if (l->req) dk_cancel(l->req);
  dk_call_drop(l->call);
  logs_free(l);
}

/* ---- events ---- */

static void events_connect(struct dk_runtime *d);

static const char *event_type(const char *action)
{
  if (!action) return NULL;
  if (!strcmp(action, "create")) return "CONTAINER_CREATED_EVENT";
  if (!strcmp(action, "start")) return "CONTAINER_STARTED_EVENT";
  if (!strcmp(action, "die")) return "CONTAINER_STOPPED_EVENT";
  if (!strcmp(action, "destroy")) return "CONTAINER_DELETED_EVENT";
  if (!strcmp(action, "oom")) return KL_CONTAINER_OOM_EVENT;
  return NULL;
}

static void events_line(struct dk_runtime *d, const char *line)
{
  json_t *j = json_loads(line, 0, NULL);
  const char *type = event_type(kj_get_str(j, "Action"));
  if (type && d->ev_fn) {
    const char *id = kj_get_str(j, "Actor.ID") ?: "";
    const char *kind = kj_get_str(j, "Actor.Attributes[\"" DK_LABEL_TYPE "\"]") ?: "";
    const char *sb =
        !strcmp(kind, DK_TYPE_SANDBOX) ? id : (kj_get_str(j, "Actor.Attributes[\"" DK_LABEL_SANDBOX_ID "\"]") ?: "");
    json_t *ev = json_pack("{s:s, s:s, s:s, s:s}", "containerId", id, "podSandboxId", sb, "type", type, "podUid",
                           kj_get_str(j, "Actor.Attributes[\"io.kubernetes.pod.uid\"]") ?: "");
    d->ev_fn(d->ev_arg, ev);
    json_decref(ev);
  }
  json_decref(j);
}

static int events_data(void *arg, const char *data, size_t len)
{
  struct dk_runtime *d = arg;
  d->ev_backoff_ms = 0;
  char *nb = xrealloc(d->ev_buf, d->ev_len + len + 1);
  if (!nb) return -1;
  memcpy(nb + d->ev_len, data, len);
  d->ev_buf = nb;
  d->ev_len += len;
  d->ev_buf[d->ev_len] = 0;
  char *line = d->ev_buf, *nl;
  while ((nl = strchr(line, '\n'))) {
    *nl = 0;
    if (nl > line) events_line(d, line);
    line = nl + 1;
  }
  d->ev_len = strlen(line);
  memmove(d->ev_buf, line, d->ev_len + 1);
  return 0;
}

static void events_timer_cb(evutil_socket_t fd, short what, void *arg) { events_connect(arg); }

static void events_done(void *arg, const struct dk_response *r)
{
  struct dk_runtime *d = arg;
  d->ev_req = NULL;
  d->ev_len = 0;
  char msg[256];
  KLOG_V(2, "docker event stream ended: %s", r->error ? r->error : dk_error_message(r, msg, sizeof msg));
  d->ev_backoff_ms = d->ev_backoff_ms ? d->ev_backoff_ms * 2 : 1000;
  if (d->ev_backoff_ms > EVENTS_BACKOFF_MAX_MS) d->ev_backoff_ms = EVENTS_BACKOFF_MAX_MS;
  struct timeval tv = {d->ev_backoff_ms / 1000, (d->ev_backoff_ms % 1000) * 1000};
  evtimer_add(d->ev_timer, &tv);
}

static void events_connect(struct dk_runtime *d)
{
  char filter[512];
  snprintf(filter, sizeof filter, "{\"type\":[\"container\"],\"label\":[\"" DK_LABEL_NODE "=%s\"]}", d->node);
  char *enc = kstr_url_encode(filter);
  char path[1024];
  snprintf(path, sizeof path, DK_API "/events?filters=%s", enc ? enc : "");
  free(enc);
  d->ev_req = dk_stream(d->cli, "GET", path, NULL, NULL, 0, events_data, events_done, d);
}

void dk_watch_events(struct kl_runtime *rt, kl_rt_event_fn fn, void *arg)
{
  struct dk_runtime *d = DK(rt);
  d->ev_fn = fn;
  d->ev_arg = arg;
  if (!d->ev_timer) d->ev_timer = evtimer_new(d->ev_base, events_timer_cb, d);
  if (!d->ev_req) events_connect(d);
}

void dk_events_free(struct dk_runtime *d)
{
  if (d->ev_req) dk_cancel(d->ev_req);
  d->ev_req = NULL;
  if (d->ev_timer) event_free(d->ev_timer);
  d->ev_timer = NULL;
  free(d->ev_buf);
  d->ev_buf = NULL;
}

/* ---- interactive sessions (hijacked connections) ---- */

struct kl_rt_stream {
  struct dk_runtime *rt;
  struct kl_rt_stream_cbs cbs;
  struct bufferevent *bev;
  struct dk_req *req; /* exec create / inspect in flight */
  char container_id[80];
  char exec_id[80];
  json_t *cmd; /* NULL: attach */
  bool tty, in, out, err;
  bool upgraded, ended;
  int code;         /* HTTP status of the upgrade answer */
  char *pending_in; /* stdin written before the upgrade */
  size_t pending_len;
  bool close_stdin;
  char *frame;
  size_t frame_len;
};

static void st_end(struct kl_rt_stream *s, int err, int code, const char *msg)
{
  if (s->ended) return;
  s->ended = true;
  if (s->bev) {
    bufferevent_free(s->bev);
    s->bev = NULL;
  }
  if (s->cbs.exited) s->cbs.exited(s->cbs.arg, err, code, msg ? msg : "");
}

static void st_exit_inspected(void *arg, const struct dk_response *r)
{
  struct kl_rt_stream *s = arg;
  s->req = NULL;
  json_t *in = dk_body_json(r);
  int code = (int)kj_get_int(in, s->cmd ? "ExitCode" : "State.ExitCode", -1);
  json_decref(in);
  st_end(s, 0, code, NULL);
}

/* The session's output ended: read the exit code. */
static void st_finished(struct kl_rt_stream *s)
{
  if (s->bev) {
    bufferevent_free(s->bev);
    s->bev = NULL;
  }
  char path[200];
  if (s->cmd) snprintf(path, sizeof path, DK_API "/exec/%s/json", s->exec_id);
  else snprintf(path, sizeof path, DK_API "/containers/%s/json", s->container_id);
  s->req = dk_request(s->rt->cli, "GET", path, NULL, NULL, 0, st_exit_inspected, s);
  if (!s->req) st_end(s, -ENOMEM, -1, "out of memory");
}

static int st_output(void *arg, int stream, const char *data, size_t len)
{
  struct kl_rt_stream *s = arg;
  return s->cbs.output ? s->cbs.output(s->cbs.arg, stream, data, len) : 0;
}

static void st_payload(struct kl_rt_stream *s, struct evbuffer *in)
{
  size_t n = evbuffer_get_length(in);
  if (!n) return;
  char *nb = xrealloc(s->frame, s->frame_len + n);
  if (!nb) return;
  s->frame = nb;
  evbuffer_remove(in, s->frame + s->frame_len, n);
  s->frame_len += n;
  if (s->tty) {
    st_output(s, 1, s->frame, s->frame_len);
    s->frame_len = 0;
    return;
  }
  bool stop = false;
  size_t used = dk_demux(s->frame, s->frame_len, st_output, s, &stop);
  memmove(s->frame, s->frame + used, s->frame_len - used);
  s->frame_len -= used;
}

/* Half-closes the connection once everything written has gone out:
 * Docker then closes the process's stdin. */
static void st_shutdown_write(struct kl_rt_stream *s)
{
  s->close_stdin = true;
  if (s->bev && evbuffer_get_length(bufferevent_get_output(s->bev)) == 0) {
    shutdown(bufferevent_getfd(s->bev), SHUT_WR);
    s->close_stdin = false;
  }
}

static void st_write(struct bufferevent *bev, void *arg)
{
  struct kl_rt_stream *s = arg;
  if (s->close_stdin && s->upgraded) st_shutdown_write(s);
}

/* Takes the answer's status line and headers off the input. */
static bool st_headers(struct kl_rt_stream *s, struct evbuffer *in)
{
  struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
  if (end.pos < 0) return false;
  char *head = xmalloc((size_t)end.pos + 1);
  if (!head) return false;
  evbuffer_remove(in, head, (size_t)end.pos);
  head[end.pos] = 0;
  evbuffer_drain(in, 4);
  int code = 0;
  sscanf(head, "HTTP/%*s %d", &code);
  free(head);
  s->code = code;
  s->upgraded = true;
  if (s->pending_len) bufferevent_write(s->bev, s->pending_in, s->pending_len);
  free(s->pending_in);
  s->pending_in = NULL;
  s->pending_len = 0;
  if (s->close_stdin && (code == 101 || code == 200)) st_shutdown_write(s);
  return true;
}

static void st_read(struct bufferevent *bev, void *arg)
{
  struct kl_rt_stream *s = arg;
  struct evbuffer *in = bufferevent_get_input(bev);
  if (!s->upgraded && !st_headers(s, in)) return;
  if (s->code == 101 || s->code == 200) st_payload(s, in);
}

static void st_event(struct bufferevent *bev, short what, void *arg)
{
  struct kl_rt_stream *s = arg;
  if (what & BEV_EVENT_CONNECTED) return;
  if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))) return;
  struct evbuffer *in = bufferevent_get_input(bev);
  if (s->upgraded && (s->code == 101 || s->code == 200)) {
    st_payload(s, in);
    st_finished(s);
    return;
  }
  char msg[512] = "connection to the container runtime failed";
  size_t n = evbuffer_get_length(in);
  if (s->upgraded && n) {
    char body[400];
    n = evbuffer_remove(in, body, sizeof body - 1);
    body[n] = 0;
    struct dk_response r = {s->code, body, n, NULL};
    dk_error_message(&r, msg, sizeof msg);
  }
  st_end(s, s->code == 404 ? -ENOENT : -EIO, -1, msg);
}

static void st_connect(struct kl_rt_stream *s)
{
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  snprintf(sun.sun_path, sizeof sun.sun_path, "%s", s->rt->socket_path);
  s->bev = bufferevent_socket_new(s->rt->ev_base, -1, BEV_OPT_CLOSE_ON_FREE);
  if (!s->bev) {
    st_end(s, -ENOMEM, -1, "out of memory");
    return;
  }
  bufferevent_setcb(s->bev, st_read, st_write, st_event, s);
  bufferevent_enable(s->bev, EV_READ | EV_WRITE);
  char body[80] = "", path[300];
  if (s->cmd) {
    snprintf(path, sizeof path, DK_API "/exec/%s/start", s->exec_id);
    snprintf(body, sizeof body, "{\"Detach\":false,\"Tty\":%s}", s->tty ? "true" : "false");
  } else {
    snprintf(path, sizeof path, DK_API "/containers/%s/attach?stream=1&stdin=%d&stdout=%d&stderr=%d", s->container_id,
             s->in, s->out, s->err);
  }
  evbuffer_add_printf(bufferevent_get_output(s->bev),
                      "POST %s HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\n"
                      "Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: %zu\r\n\r\n%s",
                      path, strlen(body), body);
  if (bufferevent_socket_connect(s->bev, (struct sockaddr *)&sun, sizeof sun) < 0)
    st_end(s, -ECONNREFUSED, -1, "cannot connect to the container runtime");
}

static void st_exec_created(void *arg, const struct dk_response *r)
{
  struct kl_rt_stream *s = arg;
  s->req = NULL;
  json_t *b = dk_body_json(r);
  const char *id = kj_get_str(b, "Id");
  if (!id) {
    json_decref(b);
    char msg[512];
    st_end(s, dk_errno(r) ? dk_errno(r) : -EIO, -1, dk_error_message(r, msg, sizeof msg));
    return;
  }
  snprintf(s->exec_id, sizeof s->exec_id, "%s", id);
  json_decref(b);
  st_connect(s);
}

struct kl_rt_stream *dk_stream_start(struct kl_runtime *rt, const char *id, const json_t *cmd, bool tty, bool in,
                                     bool out, bool err, const struct kl_rt_stream_cbs *cbs)
{
  struct kl_rt_stream *s = xcalloc(1, sizeof *s);
  if (!s) return NULL;
  s->rt = DK(rt);
  s->cbs = *cbs;
  snprintf(s->container_id, sizeof s->container_id, "%s", id);
  s->tty = tty;
  s->in = in;
  s->out = out;
  s->err = err;
  if (!cmd) {
    st_connect(s);
    return s;
  }
  s->cmd = json_incref((json_t *)cmd);
  json_t *body = json_pack("{s:O, s:b, s:b, s:b, s:b}", "Cmd", cmd, "AttachStdin", in, "AttachStdout", out,
                           "AttachStderr", err, "Tty", tty);
  char path[200];
  snprintf(path, sizeof path, DK_API "/containers/%s/exec", id);
  s->req = dk_request_json(s->rt->cli, "POST", path, body, st_exec_created, s);
  json_decref(body);
  return s;
}

int dk_stream_stdin(struct kl_rt_stream *s, const char *data, size_t len)
{
  if (s->ended) return -EPIPE;
  if (!s->upgraded) {
    if (!len) {
      s->close_stdin = true;
      return 0;
    }
    char *nb = xrealloc(s->pending_in, s->pending_len + len);
    if (!nb) return -ENOMEM;
    memcpy(nb + s->pending_len, data, len);
    s->pending_in = nb;
    s->pending_len += len;
    return 0;
  }
  if (!s->bev) return -EPIPE;
  if (!len) {
    st_shutdown_write(s);
    return 0;
  }
  return bufferevent_write(s->bev, data, len) == 0 ? 0 : -EIO;
}

static void resize_done(void *arg, const struct dk_response *r) {}

void dk_stream_resize(struct kl_rt_stream *s, int width, int height)
{
  if (s->ended || width <= 0 || height <= 0) return;
  char path[300];
  if (s->cmd && s->exec_id[0])
    snprintf(path, sizeof path, DK_API "/exec/%s/resize?h=%d&w=%d", s->exec_id, height, width);
  else if (!s->cmd)
    snprintf(path, sizeof path, DK_API "/containers/%s/resize?h=%d&w=%d", s->container_id, height, width);
  else return;
  dk_request(s->rt->cli, "POST", path, NULL, NULL, 0, resize_done, NULL);
}

void dk_stream_pause(struct kl_rt_stream *s, bool paused)
{
  if (!s->bev) return;
  if (paused) bufferevent_disable(s->bev, EV_READ);
  else bufferevent_enable(s->bev, EV_READ);
}

void dk_stream_close(struct kl_rt_stream *s)
{
  if (!s) return;
  if (s->req) dk_cancel(s->req);
  if (s->bev) bufferevent_free(s->bev);
  json_decref(s->cmd);
  free(s->pending_in);
  free(s->frame);
  free(s);
}
