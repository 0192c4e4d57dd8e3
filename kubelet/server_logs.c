/*
 * server_logs.c - /containerLogs/NS/POD/CONTAINER (what the API server's
 * pods/log proxies to) and /logs/ (the node's /var/log).
 *
 * kubectl logs semantics: follow, tailLines, sinceSeconds, sinceTime,
 * timestamps, previous, limitBytes.  The container is chosen from the
 * pod's status as upstream does; a container that never ran answers 400
 * with upstream's text, e.g. container "c" in pod "p" is waiting to start:
 * ContainerCreating.  The body streams as the runtime delivers it; the
 * stream ends when the client goes away, the container stops (follow), or
 * limitBytes is reached.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kube/http.h"
#include "kube/json.h"
#include "kube/strconv.h"
#include "kube/timeutil.h"
#include "kube/xalloc.h"
#include "kubelet.h"
#include "pods.h"
#include "runtime/runtime.h"
#include "server_handlers.h"

#define NODE_LOG_DIR "/var/log"

static void text(struct http_request *req, int code, const char *msg)
{
  http_reply(req, code, "text/plain; charset=utf-8", msg, strlen(msg));
}

static const json_t *find_status(const json_t *pod, const char *name)
{
  const char *lists[] = {"status.containerStatuses", "status.initContainerStatuses"};
  for (int l = 0; l < 2; l++) {
    size_t i;
    json_t *c;
    json_array_foreach (kj_get(pod, lists[l]), i, c)
      if (!strcmp(kj_get_str(c, "name") ?: "", name)) return c;
  }
  return NULL;
}

static bool strip_scheme(const char *cid, char *out, size_t len)
{
  const char *p = cid ? strstr(cid, "://") : NULL;
  if (!p || !p[3]) return false;
  snprintf(out, len, "%s", p + 3);
  return true;
}

int kl_logs_container_id(struct kubelet *k, const char *ns, const char *name, const char *container, bool previous,
                         char *id, size_t idlen, char *err, size_t errlen)
{
  json_t *pod = kl_pods_find(k->pods, ns, name);
  if (!pod) {
    snprintf(err, errlen, "pod \"%s\" does not exist", name);
    return 404;
  }
  int code = 400;
  const json_t *cs = find_status(pod, container);
  const json_t *last = kj_get(cs, "lastState.terminated");
  const json_t *running = kj_get(cs, "state.running"), *term = kj_get(cs, "state.terminated");
  const json_t *waiting = kj_get(cs, "state.waiting");
  if (!cs) {
    snprintf(err, errlen, "container \"%s\" not found in pod \"%s\"", container, name);
    code = 404;
  } else if (previous) {
    if (strip_scheme(kj_get_str(last, "containerID"), id, idlen)) code = 0;
    else snprintf(err, errlen, "previous terminated container \"%s\" in pod \"%s\" not found", container, name);
  } else if (running) {
    if (strip_scheme(kj_get_str(cs, "containerID"), id, idlen)) code = 0;
  } else if (term) {
    if (strip_scheme(kj_get_str(term, "containerID"), id, idlen) ||
        strip_scheme(kj_get_str(last, "containerID"), id, idlen))
      code = 0;
    else snprintf(err, errlen, "container \"%s\" in pod \"%s\" is terminated", container, name);
  } else if (last) {
    if (strip_scheme(kj_get_str(last, "containerID"), id, idlen)) code = 0;
    else snprintf(err, errlen, "container \"%s\" in pod \"%s\" is terminated", container, name);
  } else if (waiting) {
    const char *r = kj_get_str(waiting, "reason") ?: "";
    if (!strcmp(r, "ErrImagePull"))
      snprintf(err, errlen, "container \"%s\" in pod \"%s\" is waiting to start: image can't be pulled", container,
               name);
    else if (!strcmp(r, "ImagePullBackOff"))
      snprintf(err, errlen, "container \"%s\" in pod \"%s\" is waiting to start: trying and failing to pull image",
               container, name);
    else snprintf(err, errlen, "container \"%s\" in pod \"%s\" is waiting to start: %s", container, name, r);
  } else {
    snprintf(err, errlen, "container \"%s\" in pod \"%s\" is waiting to start - no logs yet", container, name);
  }
  json_decref(pod);
  return code;
}

struct log_stream {
  struct kubelet *k;
  struct http_request *req;
  struct kl_rt_logs *logs;
  int64_t limit, sent;
  bool started, gone, in_output;
};

static void ls_free(struct log_stream *s) { free(s); }

static void client_gone(struct http_request *req, void *arg)
{
  struct log_stream *s = arg;
  s->gone = true;
  if (s->in_output) return; /* ls_output stops the stream; ls_done frees */
  if (s->logs) s->k->rt->ops->logs_cancel(s->logs);
  ls_free(s);
}

static int ls_output(void *arg, int stream, const char *data, size_t len)
{
  struct log_stream *s = arg;
  if (!s->started) {
    s->started = true;
    http_stream_begin(s->req, 200, "text/plain");
  }
  if (s->limit > 0 && s->sent + (int64_t)len > s->limit) len = (size_t)(s->limit - s->sent);
  s->in_output = true;
  int rc = len ? http_stream_write(s->req, data, len) : 0;
  s->in_output = false;
  if (rc < 0 || s->gone) {
    s->gone = true;
    return -1;
  }
  s->sent += (int64_t)len;
  return s->limit > 0 && s->sent >= s->limit ? -1 : 0;
}

static void ls_done(void *arg, int err, json_t *res, const char *msg)
{
  struct log_stream *s = arg;
  s->logs = NULL;
  if (s->gone) {
    ls_free(s); /* the client went away while output was being written */
    return;
  }
  http_req_on_close(s->req, NULL, NULL);
  if (!s->started) {
    if (err) text(s->req, err == -ENOENT ? 404 : 500, msg);
    else http_reply(s->req, 200, "text/plain", "", 0);
  } else {
    http_stream_end(s->req);
  }
  ls_free(s);
}

static bool parse_bool(struct http_request *req, const char *key)
{
  bool b = false;
  const char *v = http_req_param(req, key);
  return v && kstr_parse_bool(v, &b) == 0 && b;
}

static int parse_int(struct http_request *req, const char *key, int64_t *out)
{
  const char *v = http_req_param(req, key);
  if (!v) return 0;
  return kstr_parse_int64(v, out);
}

void kl_serve_container_logs(struct kubelet *k, struct http_request *req)
{
  char ns[256], pod[256], container[256], extra[8];
  int n = sscanf(http_req_path(req), "/containerLogs/%255[^/]/%255[^/]/%255[^/]/%7s", ns, pod, container, extra);
  if (n < 2) {
    text(req, 400, "Missing podID.");
    return;
  }
  if (n < 3) {
    text(req, 400, "Missing container name.");
    return;
  }
  struct kl_rt_log_opts o = {.tail_lines = -1};
  o.follow = parse_bool(req, "follow");
  o.timestamps = parse_bool(req, "timestamps");
  int64_t since_s = 0, limit = 0;
  if (parse_int(req, "tailLines", &o.tail_lines) < 0 || parse_int(req, "sinceSeconds", &since_s) < 0 ||
      parse_int(req, "limitBytes", &limit) < 0 || (http_req_param(req, "tailLines") && o.tail_lines < 0)) {
    text(req, 400, "invalid log options");
    return;
  }
  if (since_s > 0) o.since_us = ktime_now_us() - since_s * 1000000;
  const char *since_time = http_req_param(req, "sinceTime");
  if (since_time && ktime_parse(since_time, &o.since_us) < 0) {
    text(req, 400, "invalid sinceTime");
    return;
  }
  char id[128], err[600];
  int code = kl_logs_container_id(k, ns, pod, container, parse_bool(req, "previous"), id, sizeof id, err, sizeof err);
  if (code) {
    text(req, code, err);
    return;
  }
  struct log_stream *s = xcalloc(1, sizeof *s);
  s->k = k;
  s->req = req;
  s->limit = limit;
  http_req_on_close(req, client_gone, s);
  s->logs = k->rt->ops->container_logs(k->rt, id, &o, ls_output, ls_done, s);
  if (!s->logs) {
    http_req_on_close(req, NULL, NULL);
    ls_free(s);
    text(req, 500, "cannot read the container's log");
  }
}

/* ---- /logs/ ---- */

static void serve_dir(struct http_request *req, const char *dir)
{
  DIR *d = opendir(dir);
  if (!d) {
    text(req, 404, "404 page not found\n");
    return;
  }
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  fputs("<pre>\n", f);
  struct dirent *de;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.') continue;
    bool isdir = de->d_type == DT_DIR;
    fprintf(f, "<a href=\"%s%s\">%s%s</a>\n", de->d_name, isdir ? "/" : "", de->d_name, isdir ? "/" : "");
  }
  fputs("</pre>\n", f);
  fclose(f);
  closedir(d);
  http_reply(req, 200, "text/html; charset=utf-8", buf, len);
  free(buf);
}

void kl_serve_node_logs(struct kubelet *k, struct http_request *req)
{
  const char *path = http_req_path(req);
  const char *rel = path + strlen("/logs");
  if (*rel == '/') rel++;
  if (strstr(rel, "..")) {
    text(req, 400, "invalid path");
    return;
  }
  char full[4096];
  snprintf(full, sizeof full, NODE_LOG_DIR "/%s", rel);
  struct stat st;
  if (stat(full, &st) < 0) {
    text(req, 404, "404 page not found\n");
    return;
  }
  if (S_ISDIR(st.st_mode)) {
    serve_dir(req, full);
    return;
  }
  int fd = open(full, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || !S_ISREG(st.st_mode)) {
    if (fd >= 0) close(fd);
    text(req, 403, "forbidden");
    return;
  }
  size_t n = (size_t)st.st_size > (64u << 20) ? (64u << 20) : (size_t)st.st_size;
  char *buf = xmalloc(n ? n : 1);
  ssize_t r = buf ? read(fd, buf, n) : -1;
  close(fd);
  if (r < 0) text(req, 500, "read failed");
  else http_reply(req, 200, "text/plain; charset=utf-8", buf, (size_t)r);
  free(buf);
}

void kl_serve_pods(struct kubelet *k, struct http_request *req, bool running_only)
{
  json_t *list = kl_pods_list(k->pods);
  if (running_only) {
    json_t *items = json_object_get(list, "items"), *keep = json_array();
    size_t i;
    json_t *p;
    json_array_foreach (items, i, p)
      if (!strcmp(kj_get_str(p, "status.phase") ?: "", "Running")) json_array_append(keep, p);
    json_object_set_new(list, "items", keep);
  }
  http_reply_json(req, 200, list);
  json_decref(list);
}
