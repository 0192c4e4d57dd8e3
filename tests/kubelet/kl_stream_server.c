/*
 * kl_stream_server - a stand-in API server and kubelet for proving the
 * streaming libraries (kubelet/server/stream*.h, spdy*.h) against the real
 * kubectl, and a fake kubelet for the API server's proxy tests.
 *
 * As an API server (kubectl -s http://127.0.0.1:PORT): discovery (/api,
 * /apis, /api/v1, /version), GET of any pod (a made-up Running pod with one
 * container "main"), and pods/NAME/exec, attach, portforward and log.
 * As a kubelet (the API server proxies to it): /exec/NS/POD/CONTAINER,
 * /attach/..., /portForward/NS/POD, /containerLogs/NS/POD/CONTAINER,
 * /healthz, /pods, /stats/summary.  With --tls-cert/--tls-key it serves
 * HTTPS as a kubelet does.
 *
 * exec runs the command here (fork/exec, a pseudo-terminal with tty);
 * attach runs `/bin/sh` as the container's "main process"; port-forward
 * connects to 127.0.0.1:PORT (never anything else); logs print a few fixed
 * lines (with follow=true, a line every 100 ms until the client leaves).
 * Every request line is logged to stderr, so tests can see which protocol
 * kubectl chose.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kube/http.h"
#include "kube/status.h"
#include "stream.h"
#include "stream_portforward.h"

#define OUTPUT_HIGH_WATER (1u << 20)

struct server {
  struct event_base *base;
  struct proc *procs;
};

/* One exec/attach: the session and the process behind it. */
struct proc {
  struct proc *next;
  struct server *srv;
  struct kl_stream *s;
  char **argv;
  struct kl_stream_opts o;
  pid_t pid;
  int status;
  bool exited;
  struct bufferevent *in, *out, *err; /* with a tty, `out` is the master for both ways */
  int open_outputs;
  size_t written; /* bytes of output handed to the session */
};

static struct server g_srv_storage; /* the one context of this program */

static void proc_free(struct proc *p)
{
  struct server *srv = p->srv;
  for (struct proc **pp = &srv->procs; *pp; pp = &(*pp)->next)
    if (*pp == p) {
      *pp = p->next;
      break;
    }
  if (p->in && p->in != p->out) bufferevent_free(p->in);
  if (p->out) bufferevent_free(p->out);
  if (p->err) bufferevent_free(p->err);
  free(p->argv);
  free(p);
}

static void proc_maybe_finish(struct proc *p)
{
  if (!p->exited || p->open_outputs > 0) return;
  if (p->s) {
    int code = WIFEXITED(p->status) ? WEXITSTATUS(p->status) : 128 + WTERMSIG(p->status);
    fprintf(stderr, "exit %d after %zu bytes of output\n", code, p->written);
    kl_stream_finish(p->s, code);
  } else {
    proc_free(p);
  }
}

static void output_read(struct bufferevent *bev, void *arg)
{
  struct proc *p = arg;
  struct evbuffer *in = bufferevent_get_input(bev);
  enum kl_stream_channel ch = bev == p->err ? KL_STREAM_STDERR : KL_STREAM_STDOUT;
  if (bev != p->out && bev != p->err) return;
  size_t n;
  while ((n = evbuffer_get_length(in)) > 0) {
    size_t chunk = evbuffer_get_contiguous_space(in);
    if (p->s) {
      int rc = kl_stream_write(p->s, ch, evbuffer_pullup(in, (ev_ssize_t)chunk), chunk);
      if (rc == 0) p->written += chunk;
      else fprintf(stderr, "write of %zu bytes failed: %d\n", chunk, rc);
    }
    evbuffer_drain(in, chunk);
  }
  if (p->s && kl_stream_pending(p->s) > OUTPUT_HIGH_WATER) {
    if (p->out) bufferevent_disable(p->out, EV_READ);
    if (p->err) bufferevent_disable(p->err, EV_READ);
  }
}

static void output_event(struct bufferevent *bev, short what, void *arg)
{
  struct proc *p = arg;
  if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))) return; /* a pty master gives EIO at the end */
  output_read(bev, arg);
  /* Each output ends once: its bufferevent goes (the event can repeat). */
  if (bev == p->in) p->in = NULL;
  if (bev == p->out) p->out = NULL;
  if (bev == p->err) p->err = NULL;
  bufferevent_free(bev);
  p->open_outputs--;
  proc_maybe_finish(p);
}

static void on_stdin(struct kl_stream *s, const void *data, size_t len, void *arg)
{
  struct proc *p = arg;
  if (p->in) bufferevent_write(p->in, data, len);
}

static void stdin_flushed(struct bufferevent *bev, void *arg)
{
  struct proc *p = arg;
  if (evbuffer_get_length(bufferevent_get_output(bev)) == 0 && bev != p->out) {
    bufferevent_free(bev);
    p->in = NULL;
  }
}

static void on_stdin_close(struct kl_stream *s, void *arg)
{
  struct proc *p = arg;
  if (!p->in) return;
  if (p->o.tty) {
    bufferevent_write(p->in, "\x04", 1); /* end of input on a terminal */
    return;
  }
  bufferevent_setcb(p->in, NULL, stdin_flushed, NULL, p);
  stdin_flushed(p->in, p);
}

static void on_resize(struct kl_stream *s, unsigned w, unsigned h, void *arg)
{
  struct proc *p = arg;
  struct winsize ws = {.ws_row = (unsigned short)h, .ws_col = (unsigned short)w};
  if (p->o.tty && p->out) ioctl(bufferevent_getfd(p->out), TIOCSWINSZ, &ws);
  fprintf(stderr, "resize %ux%u\n", w, h);
}

static void on_drain(struct kl_stream *s, void *arg)
{
  struct proc *p = arg;
  if (p->out) bufferevent_enable(p->out, EV_READ);
  if (p->err) bufferevent_enable(p->err, EV_READ);
}

static void on_close(struct kl_stream *s, void *arg)
{
  struct proc *p = arg;
  p->s = NULL;
  if (p->exited) {
    proc_free(p);
  } else if (p->pid > 0) {
    kill(p->pid, SIGKILL); /* the client left: reaped in on_sigchld */
  } else {
    proc_free(p);
  }
}

static struct bufferevent *wrap(struct proc *p, int fd, bool output)
{
  evutil_make_socket_nonblocking(fd);
  struct bufferevent *b = bufferevent_socket_new(p->srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
  if (output) {
    bufferevent_setcb(b, output_read, NULL, output_event, p);
    bufferevent_enable(b, EV_READ);
    p->open_outputs++;
  } else {
    bufferevent_enable(b, EV_WRITE);
  }
  return b;
}

static void child_exec(char **argv)
{
  signal(SIGPIPE, SIG_DFL);
  execvp(argv[0], argv);
  fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
  _exit(127);
}

/* Starts the process once every channel the client asked for is there. */
static void on_ready(struct kl_stream *s, void *arg)
{
  struct proc *p = arg;
  if (p->o.tty) {
    int master;
    struct winsize ws = {.ws_row = 24, .ws_col = 80};
    p->pid = forkpty(&master, NULL, NULL, &ws);
    if (p->pid == 0) child_exec(p->argv);
    if (p->pid < 0) goto fail;
    p->out = wrap(p, master, true);
    bufferevent_enable(p->out, EV_WRITE);
    p->in = p->o.stdin_ ? p->out : NULL;
    return;
  }
  int in[2] = {-1, -1}, out[2], err[2];
  if ((p->o.stdin_ && pipe2(in, O_CLOEXEC) < 0) || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) goto fail;
  p->pid = fork();
  if (p->pid == 0) {
    int devnull = open("/dev/null", O_RDWR);
    dup2(p->o.stdin_ ? in[0] : devnull, 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    child_exec(p->argv);
  }
  if (p->o.stdin_) close(in[0]);
  close(out[1]);
  close(err[1]);
  if (p->pid < 0) goto fail;
  if (p->o.stdin_) p->in = wrap(p, in[1], false);
  p->out = wrap(p, out[0], true);
  p->err = wrap(p, err[0], true);
  return;
fail : {
  json_t *st = kstatus_internal("failed to start the command: %s", strerror(errno));
  kl_stream_finish_status(s, st);
  json_decref(st);
}
}

static void on_sigchld(evutil_socket_t sig, short what, void *arg)
{
  struct server *srv = arg;
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    for (struct proc *p = srv->procs; p; p = p->next) {
      if (p->pid != pid) continue;
      p->exited = true;
      p->status = status;
      proc_maybe_finish(p);
      break;
    }
  }
}

static void start_session(struct server *srv, struct http_request *req, char **argv)
{
  struct proc *p = calloc(1, sizeof *p);
  char err[256];
  if (!p || kl_stream_opts_from_request(req, &p->o, err, sizeof err) < 0) {
    json_t *st = kstatus_bad_request("%s", p ? err : "out of memory");
    http_reply_json(req, 400, st);
    json_decref(st);
    free(p);
    free(argv);
    return;
  }
  p->srv = srv;
  p->argv = argv;
  struct kl_stream_callbacks cb = {on_ready, on_stdin, on_stdin_close, on_resize, on_drain, on_close};
  p->s = kl_stream_accept(req, &p->o, &cb, p);
  if (!p->s) {
    free(argv);
    free(p);
    return;
  }
  p->next = srv->procs;
  srv->procs = p;
  fprintf(stderr, "stream %s%s\n", kl_stream_protocol(p->s),
          kl_stream_is_spdy(p->s) ? " over SPDY" : " over WebSocket");
}

static void exec_request(struct server *srv, struct http_request *req)
{
  size_t n;
  char **argv = kl_stream_query_all(req, "command", &n);
  if (!argv) {
    json_t *st = kstatus_bad_request("you must specify at least one command for the container");
    http_reply_json(req, 400, st);
    json_decref(st);
    return;
  }
  start_session(srv, req, argv);
}

static void attach_request(struct server *srv, struct http_request *req)
{
  char **argv = calloc(2, sizeof *argv);
  argv[0] = "/bin/sh";
  start_session(srv, req, argv);
}

/* --- port-forward: loopback only --- */

static int dial_loopback(uint16_t port, char *err, size_t errlen, void *arg)
{
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (fd < 0) return -errno;
  /* A blocking-style check: loopback answers at once, so a refused
   * connection is reported on the error stream as the kubelet does. */
  int fl = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    int e = errno;
    snprintf(err, errlen, "error forwarding port %u to pod fake, uid : failed to connect to localhost:%u: %s", port,
             port, strerror(e));
    close(fd);
    return -e;
  }
  fcntl(fd, F_SETFL, fl);
  return fd;
}

static void pf_closed(struct kl_portforward *pf, void *arg) { fprintf(stderr, "port-forward session closed\n"); }

static void portforward_request(struct server *srv, struct http_request *req)
{
  struct kl_portforward_callbacks cb = {dial_loopback, pf_closed};
  struct kl_portforward *pf = kl_portforward_accept(req, &cb, srv);
  if (pf) fprintf(stderr, "port-forward over %s\n", kl_portforward_transport(pf));
}

/* --- logs --- */

struct follow {
  struct http_request *req;
  struct event *tick;
  int n;
};

static void follow_tick(evutil_socket_t fd, short what, void *arg)
{
  struct follow *f = arg;
  char line[64];
  int len = snprintf(line, sizeof line, "line %d\n", ++f->n);
  if (http_stream_write(f->req, line, (size_t)len) < 0) return; /* on_close frees */
}

static void follow_closed(struct http_request *req, void *arg)
{
  struct follow *f = arg;
  event_free(f->tick);
  free(f);
}

static void log_request(struct server *srv, struct http_request *req)
{
  static const char lines[] = "line 1\nline 2\nline 3\n";
  const char *follow = http_req_param(req, "follow");
  if (!follow || (strcmp(follow, "true") != 0 && strcmp(follow, "1") != 0)) {
    http_reply(req, 200, "text/plain", lines, sizeof lines - 1);
    return;
  }
  struct follow *f = calloc(1, sizeof *f);
  f->req = req;
  f->tick = event_new(srv->base, -1, EV_PERSIST, follow_tick, f);
  struct timeval tv = {0, 100000};
  event_add(f->tick, &tv);
  http_req_on_close(req, follow_closed, f);
  http_stream_begin(req, 200, "text/plain");
}

/* --- the API server side --- */

static json_t *fake_pod(const char *ns, const char *name)
{
  return json_pack("{s:s,s:s,s:{s:s,s:s,s:s,s:s},s:{s:[{s:s,s:s}],s:s},s:{s:s,s:[{s:s,s:b,s:i}],s:s}}", "kind", "Pod",
                   "apiVersion", "v1", "metadata", "name", name, "namespace", ns, "uid",
                   "00000000-0000-0000-0000-000000000001", "resourceVersion", "1", "spec", "containers", "name", "main",
                   "image", "busybox", "nodeName", "fake-node", "status", "phase", "Running", "containerStatuses",
                   "name", "main", "ready", 1, "restartCount", 0, "podIP", "127.0.0.1");
}

static void discovery(struct http_request *req, const char *path)
{
  json_t *v = NULL;
  if (strcmp(path, "/api") == 0) {
    v = json_pack("{s:s,s:[s],s:[{s:s,s:s}]}", "kind", "APIVersions", "versions", "v1", "serverAddressByClientCIDRs",
                  "clientCIDR", "0.0.0.0/0", "serverAddress", "127.0.0.1");
  } else if (strcmp(path, "/apis") == 0) {
    v = json_pack("{s:s,s:s,s:[]}", "kind", "APIGroupList", "apiVersion", "v1", "groups");
  } else if (strcmp(path, "/api/v1") == 0) {
    v = json_pack("{s:s,s:s,s:[{s:s,s:s,s:b,s:s,s:[s,s],s:[s]},{s:s,s:s,s:b,s:s,s:[s,s]},"
                  "{s:s,s:s,s:b,s:s,s:[s,s]},{s:s,s:s,s:b,s:s,s:[s,s]},{s:s,s:s,s:b,s:s,s:[s]}]}",
                  "kind", "APIResourceList", "groupVersion", "v1", "resources", "name", "pods", "singularName", "pod",
                  "namespaced", 1, "kind", "Pod", "verbs", "get", "list", "shortNames", "po", "name", "pods/exec",
                  "singularName", "", "namespaced", 1, "kind", "PodExecOptions", "verbs", "create", "get", "name",
                  "pods/attach", "singularName", "", "namespaced", 1, "kind", "PodAttachOptions", "verbs", "create",
                  "get", "name", "pods/portforward", "singularName", "", "namespaced", 1, "kind",
                  "PodPortForwardOptions", "verbs", "create", "get", "name", "pods/log", "singularName", "",
                  "namespaced", 1, "kind", "Pod", "verbs", "get");
  } else if (strcmp(path, "/version") == 0) {
    v = json_pack("{s:s,s:s,s:s}", "major", "1", "minor", "32", "gitVersion", "v1.32.0");
  }
  if (v) {
    http_reply_json(req, 200, v);
    json_decref(v);
  } else {
    json_t *st = kstatus_not_found("", "", path);
    http_reply_json(req, 404, st);
    json_decref(st);
  }
}

/* Splits a path into at most max segments (copies into buf). */
static int split(const char *path, char *buf, size_t buflen, char **seg, int max)
{
  snprintf(buf, buflen, "%s", path);
  int n = 0;
  for (char *save, *t = strtok_r(buf, "/", &save); t && n < max; t = strtok_r(NULL, "/", &save)) seg[n++] = t;
  return n;
}

static void handler(struct http_request *req, void *arg)
{
  struct server *srv = arg;
  const char *path = http_req_path(req);
  fprintf(stderr, "%s %s?%s upgrade=%s proto=%s stream-proto=%s\n", http_req_method(req), path, http_req_query(req),
          http_req_header(req, "Upgrade") ?: "-", http_req_header(req, "Sec-WebSocket-Protocol") ?: "-",
          http_req_header(req, "X-Stream-Protocol-Version") ?: "-");
  char buf[1024], *seg[12];
  int n = split(path, buf, sizeof buf, seg, 12);
  /* /api/v1/namespaces/NS/pods/NAME[/SUB] */
  if (n >= 6 && strcmp(seg[0], "api") == 0 && strcmp(seg[2], "namespaces") == 0 && strcmp(seg[4], "pods") == 0) {
    const char *sub = n >= 7 ? seg[6] : NULL;
    if (!sub) {
      json_t *pod = fake_pod(seg[3], seg[5]);
      http_reply_json(req, 200, pod);
      json_decref(pod);
    } else if (strcmp(sub, "exec") == 0) {
      exec_request(srv, req);
    } else if (strcmp(sub, "attach") == 0) {
      attach_request(srv, req);
    } else if (strcmp(sub, "portforward") == 0) {
      portforward_request(srv, req);
    } else if (strcmp(sub, "log") == 0) {
      log_request(srv, req);
    } else {
      discovery(req, path);
    }
    return;
  }
  /* kubelet paths */
  if (n >= 1 && strcmp(seg[0], "exec") == 0) return exec_request(srv, req);
  if (n >= 1 && strcmp(seg[0], "attach") == 0) return attach_request(srv, req);
  if (n >= 1 && strcmp(seg[0], "portForward") == 0) return portforward_request(srv, req);
  if (n >= 1 && strcmp(seg[0], "containerLogs") == 0) return log_request(srv, req);
  if (strcmp(path, "/healthz") == 0) return http_reply(req, 200, "text/plain", "ok", 2);
  if (strcmp(path, "/stats/summary") == 0) {
    json_t *v = json_pack("{s:{s:s},s:[]}", "node", "nodeName", "fake-node", "pods");
    http_reply_json(req, 200, v);
    json_decref(v);
    return;
  }
  if (strcmp(path, "/pods") == 0) {
    json_t *v = json_pack("{s:s,s:s,s:[]}", "kind", "PodList", "apiVersion", "v1", "items");
    http_reply_json(req, 200, v);
    json_decref(v);
    return;
  }
  discovery(req, path);
}

static SSL_CTX *tls_context(const char *cert, const char *key)
{
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
    fprintf(stderr, "cannot load %s / %s\n", cert, key);
    exit(1);
  }
  return ctx;
}

int main(int argc, char **argv)
{
  int port = 0;
  const char *cert = NULL, *key = NULL, *port_file = NULL;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--port") == 0) port = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--tls-cert") == 0) cert = argv[i + 1];
    else if (strcmp(argv[i], "--tls-key") == 0) key = argv[i + 1];
    else if (strcmp(argv[i], "--port-file") == 0) port_file = argv[i + 1];
  }
  signal(SIGPIPE, SIG_IGN);
  struct server *srv = &g_srv_storage;
  srv->base = event_base_new();
  struct http_server_opts o = {0};
  if (cert && key) o.ssl_ctx = tls_context(cert, key);
  struct http_server *http = http_server_new(srv->base, &o, handler, srv);
  int bound = http_server_listen(http, "127.0.0.1", port);
  if (bound < 0) {
    fprintf(stderr, "listen: %s\n", strerror(-bound));
    return 1;
  }
  if (port_file) {
    FILE *f = fopen(port_file, "w");
    fprintf(f, "%d\n", bound);
    fclose(f);
  }
  fprintf(stderr, "serving on 127.0.0.1:%d\n", bound);
  struct event *chld = evsignal_new(srv->base, SIGCHLD, on_sigchld, srv);
  event_add(chld, NULL);
  event_base_dispatch(srv->base);
  return 0;
}
