/*
 * audit.c - the audit log (audit.h), upstream's log backend.
 *
 * Policy (audit.k8s.io/v1 Policy, YAML or JSON): rules in order, the first
 * that matches a request gives its level (None, Metadata, Request,
 * RequestResponse) and its omitStages (added to the policy's own); no
 * match is None.  A rule matches when every list it sets matches: users,
 * userGroups, verbs, resources ({group, resources, resourceNames} with
 * any resource, "pods/log", any resource's status, all of pods' subresources as upstream), namespaces (resource
 * requests only; "" is cluster-scoped), nonResourceURLs (non-resource
 * requests only; a trailing "*" is a prefix).
 *
 * Events: RequestReceived when the request comes in (after
 * authentication, so the user is known), ResponseStarted when a
 * long-running request (a watch, a stream proxied from a kubelet) has
 * sent its response headers, ResponseComplete when its answer is
 * recorded (a watch's at its end); Metadata carries who, what, from
 * where and the status; Request adds the request body, RequestResponse
 * the response body (JSON bodies only).  Each request gets an auditID,
 * also sent as the Audit-Id response header.
 *
 * Writing never stalls the event loop: lines are handed to one writer
 * thread through a pipe of heap chunks (no lock), which appends them to
 * --audit-log-path and rotates the file at --audit-log-maxsize MiB into
 * PATH-<timestamp> backups, pruned by --audit-log-maxbackup and
 * --audit-log-maxage.  Mode blocking hands each event over at once;
 * batch collects events for up to a second (or 64 KiB) per hand-over.
 */
#define _GNU_SOURCE
#include "audit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include <kube/fileutil.h>
#include <kube/http.h>
#include <kube/json.h>
#include <kube/log.h>
#include <kube/names.h>
#include <kube/timeutil.h>
#include <kube/xalloc.h>
#include <kube/yaml.h>

#include "api.h"
#include "auth/authn.h"

enum audit_level { LEVEL_NONE = 0, LEVEL_METADATA, LEVEL_REQUEST, LEVEL_REQUEST_RESPONSE };
enum { STAGE_RECEIVED = 1, STAGE_STARTED = 2, STAGE_COMPLETE = 4, STAGE_PANIC = 8 };
#define BATCH_BYTES (64 * 1024)

struct strlist {
  char **v;
  size_t n;
};

struct group_resources {
  char *group;
  struct strlist resources, names;
};

struct audit_rule {
  enum audit_level level;
  unsigned omit;
  struct strlist users, groups, verbs, namespaces, urls;
  struct group_resources *res;
  size_t nres;
};

struct audit_chunk {
  char *data;
  size_t len;
};

struct audit {
  struct apiserver *srv;
  struct audit_rule *rules;
  size_t nrules;
  unsigned omit; /* the policy's omitStages */
  bool batch;
  /* writer */
  int pipe[2];
  pthread_t thread;
  bool thread_started;
  char *path;
  int fd;
  off_t size;
  int64_t max_bytes;
  int max_backup, max_age_days;
  /* batch mode: lines gathered on the loop */
  char *pending;
  size_t npending, cap;
  struct event *flush_ev;
};

struct audit_req {
  char id[37];
  enum audit_level level;
  unsigned omit;
  bool done;    /* ResponseComplete written */
  bool started; /* ResponseStarted written */
  json_t *base; /* the Event's shared part */
};

/* ---------- the policy ---------- */

static void strlist_read(struct strlist *l, const json_t *arr)
{
  l->n = 0;
  l->v = json_array_size(arr) ? xcalloc(json_array_size(arr), sizeof(char *)) : NULL;
  size_t i;
  json_t *s;
  json_array_foreach (arr, i, s)
    if (json_is_string(s)) l->v[l->n++] = xstrdup(json_string_value(s));
}

static void strlist_free(struct strlist *l)
{
  for (size_t i = 0; i < l->n; i++) free(l->v[i]);
  free(l->v);
}

static bool strlist_has(const struct strlist *l, const char *s)
{
  for (size_t i = 0; i < l->n; i++)
    if (!strcmp(l->v[i], s ? s : "")) return true;
  return false;
}

static int level_of(const char *s)
{
  static const char *const names[] = {"None", "Metadata", "Request", "RequestResponse"};
  for (int i = 0; i < 4; i++)
    if (s && !strcmp(s, names[i])) return i;
  return -1;
}

static int stages_of(const json_t *arr, unsigned *out, char *err, size_t errlen, const char *f)
{
  static const char *const names[] = {"RequestReceived", "ResponseStarted", "ResponseComplete", "Panic"};
  size_t i;
  json_t *s;
  json_array_foreach (arr, i, s) {
    int k;
    for (k = 0; k < 4 && !(json_is_string(s) && !strcmp(json_string_value(s), names[k])); k++)
      ;
    if (k == 4) {
      snprintf(err, errlen, "%s[%zu]: Unsupported value: must be one of RequestReceived, ResponseStarted, "
               "ResponseComplete, Panic", f, i);
      return -1;
    }
    *out |= 1u << k;
  }
  return 0;
}

static int rule_read(struct audit_rule *r, const json_t *j, size_t idx, char *err, size_t errlen)
{
  char f[64];
  int lv = level_of(json_string_value(json_object_get(j, "level")));
  if (lv < 0) {
    snprintf(err, errlen, "rules[%zu].level: Unsupported value: must be one of None, Metadata, Request, "
             "RequestResponse", idx);
    return -1;
  }
  r->level = (enum audit_level)lv;
  snprintf(f, sizeof f, "rules[%zu].omitStages", idx);
  if (stages_of(json_object_get(j, "omitStages"), &r->omit, err, errlen, f) < 0) return -1;
  strlist_read(&r->users, json_object_get(j, "users"));
  strlist_read(&r->groups, json_object_get(j, "userGroups"));
  strlist_read(&r->verbs, json_object_get(j, "verbs"));
  strlist_read(&r->namespaces, json_object_get(j, "namespaces"));
  strlist_read(&r->urls, json_object_get(j, "nonResourceURLs"));
  const json_t *res = json_object_get(j, "resources");
  if ((r->urls.n && (json_array_size(res) || r->namespaces.n))) {
    snprintf(err, errlen, "rules[%zu].nonResourceURLs: Invalid value: rules cannot apply to both regular resources "
             "and non-resource URLs", idx);
    return -1;
  }
  r->res = json_array_size(res) ? xcalloc(json_array_size(res), sizeof(*r->res)) : NULL;
  size_t i;
  json_t *g;
  json_array_foreach (res, i, g) {
    struct group_resources *gr = &r->res[r->nres++];
    gr->group = xstrdup(json_string_value(json_object_get(g, "group")) ?: "");
    strlist_read(&gr->resources, json_object_get(g, "resources"));
    strlist_read(&gr->names, json_object_get(g, "resourceNames"));
  }
  return 0;
}

static int policy_read(struct audit *a, const char *path, char *err, size_t errlen)
{
  size_t len = 0;
  char *buf = kfile_read(path, &len), yerr[256] = "";
  if (!buf) {
    snprintf(err, errlen, "--audit-policy-file: cannot read %s", path);
    return -1;
  }
  json_t *doc = kyaml_load(buf, len, yerr, sizeof yerr);
  free(buf);
  const char *kind = json_string_value(json_object_get(doc, "kind"));
  const char *av = json_string_value(json_object_get(doc, "apiVersion"));
  const json_t *rules = json_object_get(doc, "rules");
  char e[400] = "";
  int rc = -1;
  if (!doc) snprintf(e, sizeof e, "%s", yerr);
  else if (!kind || strcmp(kind, "Policy") || !av || strcmp(av, "audit.k8s.io/v1"))
    snprintf(e, sizeof e, "want kind Policy of apiVersion audit.k8s.io/v1");
  else if (!json_array_size(rules)) snprintf(e, sizeof e, "rules: Required value: at least one rule is required");
  else if (stages_of(json_object_get(doc, "omitStages"), &a->omit, e, sizeof e, "omitStages") == 0) {
    a->rules = xcalloc(json_array_size(rules), sizeof(*a->rules));
    rc = 0;
    for (size_t i = 0; i < json_array_size(rules) && rc == 0; i++)
      rc = rule_read(&a->rules[a->nrules++], json_array_get(rules, i), i, e, sizeof e);
  }
  json_decref(doc);
  if (rc < 0) snprintf(err, errlen, "--audit-policy-file %s: %s", path, e);
  return rc;
}

static bool resource_matches(const struct audit_rule *r, const struct authz_attrs *at)
{
  char combined[256];
  snprintf(combined, sizeof combined, "%s%s%s", at->resource, *at->subresource ? "/" : "", at->subresource);
  for (size_t i = 0; i < r->nres; i++) {
    const struct group_resources *g = &r->res[i];
    if (strcmp(g->group, at->api_group)) continue;
    if (!g->resources.n) return true;
    if (g->names.n && !strlist_has(&g->names, at->name)) continue;
    for (size_t k = 0; k < g->resources.n; k++) {
      const char *res = g->resources.v[k];
      size_t l = strlen(res);
      if (!strcmp(res, combined) || !strcmp(res, "*")) return true;
      if (*at->subresource && !strncmp(res, "*/", 2) && !strcmp(res + 2, at->subresource)) return true;
      if (l > 2 && !strcmp(res + l - 2, "/*") && !strncmp(res, at->resource, l - 2) && !at->resource[l - 2])
        return true;
    }
  }
  return false;
}

static bool url_matches(const struct strlist *urls, const char *path)
{
  for (size_t i = 0; i < urls->n; i++) {
    size_t l = strlen(urls->v[i]);
    if (!strcmp(urls->v[i], path) || (l && urls->v[i][l - 1] == '*' && !strncmp(urls->v[i], path, l - 1)))
      return true;
  }
  return false;
}

static bool rule_matches(const struct audit_rule *r, const struct authz_attrs *at)
{
  const struct auth_user *u = at->user;
  if (r->users.n && !strlist_has(&r->users, u->name)) return false;
  if (r->groups.n) {
    bool any = false;
    for (size_t i = 0; i < u->ngroups && !any; i++) any = strlist_has(&r->groups, u->groups[i]);
    if (!any) return false;
  }
  if (r->verbs.n && !strlist_has(&r->verbs, at->verb)) return false;
  if (r->namespaces.n || r->nres) {
    if (!at->resource_request) return false;
    if (r->namespaces.n && !strlist_has(&r->namespaces, at->ns)) return false;
    if (r->nres && !resource_matches(r, at)) return false;
  }
  if (r->urls.n) return !at->resource_request && url_matches(&r->urls, at->path);
  return true;
}

/* ---------- the writer thread ---------- */

static void prune_backups(struct audit *a)
{
  char *dcopy = xstrdup(a->path), *bcopy = xstrdup(a->path);
  const char *dir = dirname(dcopy), *base = basename(bcopy);
  DIR *d = opendir(dir);
  char **names = NULL;
  size_t n = 0;
  struct dirent *e;
  while (d && (e = readdir(d))) {
    if (strncmp(e->d_name, base, strlen(base)) || e->d_name[strlen(base)] != '-') continue;
    char full[4200];
    snprintf(full, sizeof full, "%s/%s", dir, e->d_name);
    struct stat st;
    if (a->max_age_days > 0 && stat(full, &st) == 0 && st.st_mtime < time(NULL) - (time_t)a->max_age_days * 86400) {
      unlink(full);
      continue;
    }
    names = xrealloc(names, (n + 1) * sizeof(char *));
    names[n++] = xstrdup(full);
  }
  if (d) closedir(d);
  /* names carry sortable timestamps: drop the oldest beyond max_backup */
  qsort(names, n, sizeof(char *), (int (*)(const void *, const void *))strcmp);
  for (size_t i = 0; i < n; i++) {
    if (a->max_backup > 0 && n - i > (size_t)a->max_backup) unlink(names[i]);
    free(names[i]);
  }
  free(names);
  free(dcopy);
  free(bcopy);
}

static int open_log(struct audit *a)
{
  if (!strcmp(a->path, "-")) return a->fd = STDOUT_FILENO;
  a->fd = open(a->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  struct stat st;
  a->size = a->fd >= 0 && fstat(a->fd, &st) == 0 ? st.st_size : 0;
  return a->fd;
}

static void rotate(struct audit *a)
{
  char stamp[64], backup[4200];
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  strftime(stamp, sizeof stamp, "%Y-%m-%dT%H-%M-%S", &tm);
  snprintf(backup, sizeof backup, "%s-%s.%03ld", a->path, stamp, ts.tv_nsec / 1000000);
  close(a->fd);
  rename(a->path, backup);
  open_log(a);
  prune_backups(a);
}

static void write_chunk(struct audit *a, const struct audit_chunk *c)
{
  if (a->fd != STDOUT_FILENO && a->max_bytes > 0 && a->size > 0 && a->size + (off_t)c->len > a->max_bytes) rotate(a);
  size_t off = 0;
  while (a->fd >= 0 && off < c->len) {
    ssize_t w = write(a->fd, c->data + off, c->len - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    off += (size_t)w;
  }
  a->size += (off_t)off;
}

static void *writer_main(void *arg)
{
  struct audit *a = arg;
  struct audit_chunk *c;
  for (;;) {
    ssize_t r = read(a->pipe[0], &c, sizeof c);
    if (r < 0 && errno == EINTR) continue;
    if (r != (ssize_t)sizeof c || !c) break;
    write_chunk(a, c);
    free(c->data);
    free(c);
  }
  return NULL;
}

/* Hands data (taken) to the writer. */
static void hand_over(struct audit *a, char *data, size_t len)
{
  struct audit_chunk *c = xcalloc(1, sizeof(*c));
  c->data = data;
  c->len = len;
  if (write(a->pipe[1], &c, sizeof c) != (ssize_t)sizeof c) {
    free(data);
    free(c);
  }
}

static void flush_batch(struct audit *a)
{
  if (!a->npending) return;
  hand_over(a, a->pending, a->npending);
  a->pending = NULL;
  a->npending = a->cap = 0;
}

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
  (void)fd;
  (void)what;
  flush_batch(arg);
}

static void emit_line(struct audit *a, char *line, size_t len)
{
  if (!a->batch) {
    hand_over(a, line, len);
    return;
  }
  if (a->npending + len > a->cap) {
    a->cap = (a->npending + len) * 2;
    a->pending = xrealloc(a->pending, a->cap);
  }
  memcpy(a->pending + a->npending, line, len);
  a->npending += len;
  free(line);
  if (a->npending >= BATCH_BYTES) flush_batch(a);
  else if (!evtimer_pending(a->flush_ev, NULL)) {
    struct timeval tv = {1, 0};
    evtimer_add(a->flush_ev, &tv);
  }
}

/* ---------- setup ---------- */

static int start_writer(struct audit *a, const struct audit_config *cfg, char *err, size_t errlen)
{
  a->path = xstrdup(cfg->log_path);
  a->max_bytes = (int64_t)cfg->max_size_mb * 1024 * 1024;
  a->max_backup = cfg->max_backup;
  a->max_age_days = cfg->max_age_days;
  if (open_log(a) < 0) {
    snprintf(err, errlen, "--audit-log-path: cannot open %s: %s", a->path, strerror(errno));
    return -1;
  }
  if (pipe2(a->pipe, O_CLOEXEC) < 0 || pthread_create(&a->thread, NULL, writer_main, a) != 0) {
    snprintf(err, errlen, "audit: cannot start the log writer");
    return -1;
  }
  a->thread_started = true;
  return 0;
}

struct audit *audit_new(struct apiserver *srv, const struct audit_config *cfg, char *err, size_t errlen)
{
  err[0] = 0;
  if (!cfg->policy_file || !*cfg->policy_file || !cfg->log_path || !*cfg->log_path) return NULL;
  if (strcmp(cfg->mode, "blocking") && strcmp(cfg->mode, "batch")) {
    snprintf(err, errlen, "invalid argument \"%s\" for \"--audit-log-mode\" flag: must be blocking or batch",
             cfg->mode);
    return NULL;
  }
  struct audit *a = xcalloc(1, sizeof(*a));
  a->srv = srv;
  a->pipe[0] = a->pipe[1] = a->fd = -1;
  a->batch = !strcmp(cfg->mode, "batch");
  a->flush_ev = evtimer_new(srv->base, flush_cb, a);
  if (policy_read(a, cfg->policy_file, err, errlen) < 0 || start_writer(a, cfg, err, errlen) < 0) {
    audit_free(a);
    return NULL;
  }
  return a;
}

void audit_free(struct audit *a)
{
  if (!a) return;
  flush_batch(a);
  if (a->thread_started) {
    struct audit_chunk *end = NULL;
    if (write(a->pipe[1], &end, sizeof end) == (ssize_t)sizeof end) pthread_join(a->thread, NULL);
  }
  if (a->pipe[0] >= 0) close(a->pipe[0]);
  if (a->pipe[1] >= 0) close(a->pipe[1]);
  if (a->fd > STDOUT_FILENO) close(a->fd);
  if (a->flush_ev) event_free(a->flush_ev);
  for (size_t i = 0; i < a->nrules; i++) {
    struct audit_rule *r = &a->rules[i];
    strlist_free(&r->users);
    strlist_free(&r->groups);
    strlist_free(&r->verbs);
    strlist_free(&r->namespaces);
    strlist_free(&r->urls);
    for (size_t k = 0; k < r->nres; k++) {
      free(r->res[k].group);
      strlist_free(&r->res[k].resources);
      strlist_free(&r->res[k].names);
    }
    free(r->res);
  }
  free(a->rules);
  free(a->pending);
  free(a->path);
  free(a);
}

/* ---------- events ---------- */

/* The user of a request: ar->user, or the insecure port's. */
static struct auth_user *req_user(struct api_req *ar, bool *owned)
{
  *owned = !ar->user;
  if (ar->user) return ar->user;
  struct auth_user *u = auth_user_new("system:unsecured");
  auth_user_add_group(u, "system:masters");
  auth_user_add_group(u, "system:authenticated");
  return u;
}

static json_t *object_ref(const struct authz_request_info *ri)
{
  if (!ri->resource_request) return NULL;
  json_t *o = json_object();
  json_object_set_new(o, "resource", json_string(ri->resource));
  if (*ri->ns) json_object_set_new(o, "namespace", json_string(ri->ns));
  if (*ri->name) json_object_set_new(o, "name", json_string(ri->name));
  if (*ri->api_group) json_object_set_new(o, "apiGroup", json_string(ri->api_group));
  json_object_set_new(o, "apiVersion", json_string(ri->api_version));
  if (*ri->sub) json_object_set_new(o, "subresource", json_string(ri->sub));
  return o;
}

static json_t *body_json(const char *body, size_t len)
{
  if (!body || !len || (body[0] != '{' && body[0] != '[')) return NULL;
  return kj_loadb(body, len, false, NULL, 0);
}

static const char *level_name(enum audit_level l)
{
  return l == LEVEL_METADATA ? "Metadata" : l == LEVEL_REQUEST ? "Request" : "RequestResponse";
}

/* The parts of the Event every stage shares, read while the request is
 * there (a watch may end after its client went away); new reference. */
static json_t *event_base(struct api_req *ar, const struct audit_req *q, const struct authz_request_info *ri,
                          const struct auth_user *u)
{
  struct http_request *r = ar->http;
  char peer[80], uri[4200], received[40];
  snprintf(peer, sizeof peer, "%s", http_req_peer(r));
  char *colon = strrchr(peer, ':');
  if (colon) *colon = 0;
  const char *query = http_req_query(r);
  snprintf(uri, sizeof uri, "%s%s%s", http_req_raw_path(r), *query ? "?" : "", query);
  json_t *ev = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:[s]}", "kind", "Event", "apiVersion", "audit.k8s.io/v1",
                         "level", level_name(q->level), "auditID", q->id, "requestURI", uri, "verb", ri->verb, "user",
                         auth_user_info(u), "sourceIPs", peer);
  const char *ua = http_req_header(r, "User-Agent");
  if (ua) json_object_set_new(ev, "userAgent", json_string(ua));
  json_t *ref = object_ref(ri);
  size_t blen = 0;
  const char *body = http_req_body(r, &blen);
  json_t *req_obj = ref || q->level >= LEVEL_REQUEST ? body_json(body, blen) : NULL;
  /* as upstream, a create names its object in objectRef from the body */
  const char *name = json_string_value(kj_get(req_obj, "metadata.name"));
  if (ref && !json_object_get(ref, "name") && name) json_object_set_new(ref, "name", json_string(name));
  if (ref) json_object_set_new(ev, "objectRef", ref);
  if (req_obj && q->level >= LEVEL_REQUEST) json_object_set_new(ev, "requestObject", req_obj);
  else json_decref(req_obj);
  json_object_set_new(ev, "requestReceivedTimestamp", json_string(ktime_format_micro(ar->start_us, received)));
  return ev;
}

/* One Event for the request at stage; code 0 before the answer. */
static void emit(struct audit *a, struct audit_req *q, const char *stage, int code, const char *rbody, size_t rlen)
{
  char now[40];
  /* a shallow copy: the stage's own keys are added on top, and the one
   * nested object changed (objectRef) is copied before it is */
  json_t *ev = json_copy(q->base);
  json_object_set_new(ev, "stage", json_string(stage));
  if (code) json_object_set_new(ev, "responseStatus", json_pack("{s:{},s:i}", "metadata", "code", code));
  json_t *ref = json_object_get(ev, "objectRef");
  bool unnamed = ref && !json_object_get(ref, "name") && code >= 200 && code < 300;
  json_t *resp_obj = q->level >= LEVEL_REQUEST_RESPONSE || unnamed ? body_json(rbody, rlen) : NULL;
  /* a create whose body was not JSON (protobuf) or had generateName:
   * the name from the created object */
  const char *name = json_string_value(kj_get(resp_obj, "metadata.name"));
  if (unnamed && name && !strcmp(json_string_value(json_object_get(ev, "verb")) ?: "", "create")) {
    ref = json_copy(ref);
    json_object_set_new(ref, "name", json_string(name));
    json_object_set_new(ev, "objectRef", ref);
  }
  if (resp_obj && q->level >= LEVEL_REQUEST_RESPONSE) json_object_set_new(ev, "responseObject", resp_obj);
  else json_decref(resp_obj);
  json_object_set_new(ev, "stageTimestamp", json_string(ktime_now_micro_str(now)));
  char *line = kj_dumps_flags(ev, JSON_COMPACT);
  json_decref(ev);
  if (!line) return;
  size_t n = strlen(line);
  line = xrealloc(line, n + 2);
  line[n] = '\n';
  line[n + 1] = 0;
  emit_line(a, line, n + 1);
}

void audit_request_received(struct api_req *ar)
{
  if (!ar->srv->audit || !ar->http || ar->audit) return;
  struct http_request *r = ar->http;
  struct authz_request_info ri;
  authz_request_info_parse(http_req_method(r), http_req_path(r), http_req_param(r, "watch"),
                           http_req_param(r, "fieldSelector"), &ri);
  audit_request_received_info(ar, &ri);
}

void audit_request_received_info(struct api_req *ar, const struct authz_request_info *ri)
{
  struct audit *a = ar->srv->audit;
  if (!a || !ar->http || ar->audit) return;
  struct http_request *r = ar->http;
  bool owned;
  struct auth_user *u = req_user(ar, &owned);
  struct authz_attrs at;
  authz_attrs_from_info(ri, u, http_req_path(r), &at);
  const struct audit_rule *rule = NULL;
  for (size_t i = 0; i < a->nrules && !rule; i++)
    if (rule_matches(&a->rules[i], &at)) rule = &a->rules[i];
  if (rule && rule->level != LEVEL_NONE) {
    struct audit_req *q = xcalloc(1, sizeof(*q));
    names_uuid(q->id);
    q->level = rule->level;
    q->omit = rule->omit | a->omit;
    q->base = event_base(ar, q, ri, u);
    ar->audit = q;
    http_add_header(r, "Audit-Id", q->id);
    if (!(q->omit & STAGE_RECEIVED)) emit(a, q, "RequestReceived", 0, NULL, 0);
  }
  if (owned) auth_user_free(u);
}

bool audit_wants_response(const struct api_req *ar)
{
  const struct audit_req *q = ar->audit;
  return q && !q->done && !(q->omit & STAGE_COMPLETE) &&
         (q->level == LEVEL_REQUEST_RESPONSE ||
          (!json_object_get(json_object_get(q->base, "objectRef"), "name") &&
           !strcmp(json_string_value(json_object_get(q->base, "verb")) ?: "", "create")));
}

void audit_response_started(struct api_req *ar, int code)
{
  struct audit_req *q = ar->audit;
  if (!q || q->done || q->started) return;
  q->started = true;
  if (!(q->omit & STAGE_STARTED)) emit(ar->srv->audit, q, "ResponseStarted", code, NULL, 0);
}

void audit_response_complete(struct api_req *ar, int code, const char *body, size_t len)
{
  struct audit_req *q = ar->audit;
  if (!q || q->done) return;
  q->done = true;
  if (!(q->omit & STAGE_COMPLETE)) emit(ar->srv->audit, q, "ResponseComplete", code, body, len);
}

void audit_req_free(struct api_req *ar)
{
  struct audit_req *q = ar->audit;
  if (!q) return;
  json_decref(q->base);
  free(q);
  ar->audit = NULL;
}
