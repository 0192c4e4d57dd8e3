/*
 * webhook.c - the MutatingAdmissionWebhook and ValidatingAdmissionWebhook
 * plugins: the configuration index and the calls.
 *
 * Index: the stored Mutating/ValidatingWebhookConfigurations are listed
 * once and then followed by storage watches (storage/mirror.h); each type
 * keeps a JSON object name -> configuration.  Any change marks the index dirty and the
 * next write flattens it again into one array of webhooks per type, in
 * configuration name order then list order (upstream sorts the same way).
 * A webhook entry is shared (json_incref) by every call that uses it, so a
 * configuration changing during a call changes nothing for that call.
 *
 * Calls: one REST client (common/restclient.c: libcurl multi on this
 * program's event loop) per distinct target: base URL, CA bundle, timeout
 * and, for a Service, the address it is dialed at.  Clients are kept for
 * reuse (connections stay open) and dropped once idle and no longer named
 * by a configuration.  Requests are never retried (upstream's webhook
 * client retries nothing either) and time out after timeoutSeconds.
 * clientConfig.url is used as it is; clientConfig.service is reached at
 * https://<name>.<namespace>.svc:<port><path> with TLS for that name,
 * connected to the Service's ClusterIP, or with
 * --enable-aggregator-routing to one of its endpoint addresses, as
 * upstream's service resolvers do.
 *
 * matchPolicy Equivalent (the default) also matches a rule naming another
 * served version of the same custom resource: the webhook then sees the
 * object in that version (apiVersion rewritten, as conversion None does),
 * with requestKind/requestResource naming the version the client used,
 * and its patch is applied in that version.
 *
 * A run (webhook_admit) takes the matching webhooks: mutating ones are
 * called one at a time, each on the object the previous one produced;
 * validating ones all at once, the first refusal in webhook order wins.
 * failurePolicy Ignore turns a failed call (not a refusal) into a pass.
 */
#define _GNU_SOURCE
#include "admission/webhook.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include <kube/base64.h>
#include <kube/json.h>
#include <kube/log.h>
#include <kube/metrics.h>
#include <kube/names.h>
#include <kube/patch.h>
#include <kube/restclient.h>
#include <kube/status.h>
#include <kube/timeutil.h>
#include <kube/xalloc.h>

#include "admission/admission.h"
#include "apiserver.h"
#include "registry/registry.h"
#include "storage/mirror.h"
#include "storage/storage.h"

#define WEBHOOK_DEFAULT_TIMEOUT_S 10
#define WEBHOOK_MAX_TIMEOUT_S 30
#define WEBHOOK_DEFAULT_SERVICE_PORT 443

enum { T_MUTATING, T_VALIDATING, T_COUNT };
static const char *const PREFIXES[T_COUNT] = {"/registry/mutatingwebhookconfigurations/",
                                              "/registry/validatingwebhookconfigurations/"};

struct wh_client {
  struct wh_client *next;
  char *key;
  struct rest_client *rc;
  bool used; /* named by the current configurations */
};

struct wh_run;

struct webhook_index {
  struct apiserver *srv;
  struct storage_mirror *mirror;
  json_t *configs[T_COUNT]; /* name -> configuration */
  json_t *hooks[T_COUNT];   /* flattened webhooks, each {"config":..., "hook":...} */
  bool dirty;
  struct wh_client *clients;
  struct wh_run *runs; /* in flight */
};

/* ---------------- index ---------------- */

/* storage/mirror.h: a configuration added, changed (obj) or deleted (NULL). */
static void mirror_apply(void *arg, size_t t, const char *name, const json_t *obj)
{
  struct webhook_index *ix = arg;
  ix->dirty = true;
  if (obj) json_object_set_new(ix->configs[t], name, json_deep_copy(obj));
  else json_object_del(ix->configs[t], name);
}

static void mirror_reset(void *arg)
{
  struct webhook_index *ix = arg;
  for (int t = 0; t < T_COUNT; t++) json_object_clear(ix->configs[t]);
  ix->dirty = true;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* configs[t] flattened into hooks[t], in name order. */
static void flatten(struct webhook_index *ix, int t)
{
  json_decref(ix->hooks[t]);
  ix->hooks[t] = json_array();
  size_t n = json_object_size(ix->configs[t]), i = 0;
  const char **keys = xcalloc(n ? n : 1, sizeof *keys);
  const char *k;
  json_t *v;
  json_object_foreach (ix->configs[t], k, v) keys[i++] = k;
  qsort(keys, n, sizeof *keys, cmp_str);
  for (i = 0; i < n; i++) {
    json_t *cfg = json_object_get(ix->configs[t], keys[i]);
    const char *cname = kj_get_str(cfg, "metadata.name");
    size_t j;
    json_t *h;
    json_array_foreach (json_object_get(cfg, "webhooks"), j, h)
      json_array_append_new(ix->hooks[t], json_pack("{s:s,s:O}", "config", cname ? cname : "", "hook", h));
  }
  free(keys);
}

static void index_refresh(struct webhook_index *ix)
{
  if (!ix->dirty) return;
  for (int t = 0; t < T_COUNT; t++) flatten(ix, t);
  ix->dirty = false;
}

static void run_free(struct wh_run *r);

struct webhook_index *webhook_index_new(struct apiserver *srv)
{
  if (!srv || !srv->storage) return NULL;
  struct webhook_index *ix = xcalloc(1, sizeof *ix);
  ix->srv = srv;
  for (int t = 0; t < T_COUNT; t++) {
    ix->configs[t] = json_object();
    ix->hooks[t] = json_array();
  }
  int err = 0;
  ix->mirror = storage_mirror_new(srv->storage, PREFIXES, T_COUNT, mirror_apply, mirror_reset, ix, "webhook", &err);
  if (!ix->mirror) {
    KLOG_E("webhook: loading webhook configurations from storage: %d", err);
    webhook_index_free(ix);
    return NULL;
  }
  return ix;
}

void webhook_index_free(struct webhook_index *ix)
{
  if (!ix) return;
  storage_mirror_free(ix->mirror);
  while (ix->clients) {
    struct wh_client *c = ix->clients;
    ix->clients = c->next;
    rest_client_free(c->rc); /* cancels the calls: their callbacks never run */
    free(c->key);
    free(c);
  }
  while (ix->runs) run_free(ix->runs); /* their requests are gone with the clients */
  for (int t = 0; t < T_COUNT; t++) {
    json_decref(ix->configs[t]);
    json_decref(ix->hooks[t]);
  }
  free(ix);
}

/* ---------------- targets and clients ---------------- */

/* "https://h:p/x?y" -> base "https://h:p", path "/x?y&timeout=10s". */
static int target_from_url(const char *url, int timeout_s, struct webhook_target *t, char *err, size_t errlen)
{
  const char *s = strstr(url, "://");
  if (!s) {
    snprintf(err, errlen, "invalid URL \"%s\"", url);
    return -1;
  }
  const char *rest = s + 3 + strcspn(s + 3, "/?#");
  snprintf(t->base, sizeof t->base, "%.*s", (int)(rest - url), url);
  const char *frag = strchr(rest, '#');
  int rlen = frag ? (int)(frag - rest) : (int)strlen(rest);
  const char *lead = (rlen == 0 || rest[0] == '?') ? "/" : "";
  bool has_q = memchr(rest, '?', rlen) != NULL;
  snprintf(t->path, sizeof t->path, "%s%.*s%ctimeout=%ds", lead, rlen, rest, has_q ? '&' : '?', timeout_s);
  snprintf(t->url, sizeof t->url, "%s%s", t->base, t->path);
  return 0;
}

/* The Service's ClusterIP, or (aggregator routing) an endpoint address
 * serving the port, with the port to dial.  0, or -1 with upstream-like
 * text in err. */
static int resolve_service(struct apiserver *srv, const char *ns, const char *name, int port, char *ip, size_t iplen,
                           int *dport, char *err, size_t errlen)
{
  char key[600];
  snprintf(key, sizeof key, "/registry/services/specs/%s/%s", ns, name);
  json_t *svc = adm_get(srv, key);
  if (!svc) {
    snprintf(err, errlen, "service \"%s\" not found", name);
    return -1;
  }
  const json_t *sp = NULL;
  size_t i;
  json_t *p;
  json_array_foreach (kj_get(svc, "spec.ports"), i, p)
    if (kj_get_int(p, "port", 0) == port) sp = p;
  int rc = -1;
  if (!sp) {
    snprintf(err, errlen, "no service port %d found for service \"%s\"", port, name);
  } else if (!srv->cfg.enable_aggregator_routing) {
    const char *cip = kj_get_str(svc, "spec.clusterIP");
    if (!cip || !*cip || !strcmp(cip, "None")) {
      snprintf(err, errlen, "service \"%s\" has no ClusterIP", name);
    } else {
      snprintf(ip, iplen, "%s", cip);
      *dport = port;
      rc = 0;
    }
  } else {
    const char *pname = kj_get_str(sp, "name");
    snprintf(key, sizeof key, "/registry/services/endpoints/%s/%s", ns, name);
    json_t *ep = adm_get(srv, key);
    json_t *ss;
    size_t j;
    json_array_foreach (kj_get(ep, "subsets"), j, ss) {
      const char *addr = kj_get_str(json_array_get(kj_get(ss, "addresses"), 0), "ip");
      size_t k;
      json_t *epp;
      json_array_foreach (kj_get(ss, "ports"), k, epp) {
        const char *n = kj_get_str(epp, "name");
        if (addr && (!pname || !*pname || (n && !strcmp(n, pname)))) {
          snprintf(ip, iplen, "%s", addr);
          *dport = (int)kj_get_int(epp, "port", 0);
          rc = 0;
          break;
        }
      }
      if (rc == 0) break;
    }
    if (rc) snprintf(err, errlen, "no endpoints available for service \"%s\"", name);
    json_decref(ep);
  }
  json_decref(svc);
  return rc;
}

int webhook_target(struct apiserver *srv, const json_t *cc, int timeout_s, struct webhook_target *t, char *err,
                   size_t errlen)
{
  memset(t, 0, sizeof *t);
  const char *url = kj_get_str(cc, "url");
  if (url) return target_from_url(url, timeout_s, t, err, errlen);
  const json_t *svc = json_object_get(cc, "service");
  const char *ns = kj_get_str(svc, "namespace"), *name = kj_get_str(svc, "name");
  if (!ns || !name) {
    snprintf(err, errlen, "neither service nor URL specified");
    return -1;
  }
  int port = (int)kj_get_int(svc, "port", WEBHOOK_DEFAULT_SERVICE_PORT);
  const char *path = kj_get_str(svc, "path");
  char host[512], ip[64];
  int dport = port;
  snprintf(host, sizeof host, "%s.%s.svc", name, ns);
  if (resolve_service(srv, ns, name, port, ip, sizeof ip, &dport, err, errlen) < 0) return -1;
  char u[2300];
  snprintf(u, sizeof u, "https://%s:%d%s", host, port, path && *path ? path : "/");
  bool v6 = strchr(ip, ':') != NULL;
  snprintf(t->connect_to, sizeof t->connect_to, "%s:%d:%s%s%s:%d", host, port, v6 ? "[" : "", ip, v6 ? "]" : "",
           dport);
  return target_from_url(u, timeout_s, t, err, errlen);
}

/* The client for a target, made on first use. */
static struct rest_client *client_for(struct webhook_index *ix, const struct webhook_target *t, const char *ca,
                                      size_t ca_len, int timeout_s)
{
  char *key = xasprintf("%s\n%s\n%d\n%.*s", t->base, t->connect_to, timeout_s, (int)ca_len, ca ? ca : "");
  for (struct wh_client *c = ix->clients; c; c = c->next)
    if (!strcmp(c->key, key)) {
      free(key);
      c->used = true;
      return c->rc;
    }
  struct rest_config cfg;
  rest_config_init(&cfg);
  cfg.server = xstrdup(t->base);
  if (ca && ca_len) {
    cfg.ca_data = xstrndup(ca, ca_len);
    cfg.ca_len = ca_len;
  }
  if (*t->connect_to) cfg.connect_to = xstrdup(t->connect_to);
  cfg.user_agent = xstrdup("kube-apiserver-admission");
  cfg.qps = 0;
  cfg.max_tries = 1;
  cfg.timeout_ms = (int64_t)timeout_s * 1000;
  struct rest_client *rc = rest_client_new(ix->srv->base, &cfg);
  rest_config_free(&cfg);
  if (!rc) {
    free(key);
    return NULL;
  }
  struct wh_client *c = xcalloc(1, sizeof *c);
  c->key = key;
  c->rc = rc;
  c->used = true;
  c->next = ix->clients;
  ix->clients = c;
  return rc;
}

/* Drops idle clients no call used since the last sweep. */
static void clients_sweep(struct webhook_index *ix)
{
  struct wh_client **pp = &ix->clients;
  while (*pp) {
    struct wh_client *c = *pp;
    if (!c->used && rest_client_pending(c->rc) == 0) {
      *pp = c->next;
      rest_client_free(c->rc);
      free(c->key);
      free(c);
      continue;
    }
    c->used = false;
    pp = &c->next;
  }
}

/* ---------------- runs ---------------- */

struct wh_call;

struct wh_run {
  struct webhook_index *ix;
  struct wh_run *lprev, *lnext; /* ix->runs */
  bool mutating;
  /* the attributes, owned */
  char *operation, *group, *version, *resource, *subresource, *kind, *ns, *name;
  bool namespaced, dry_run;
  json_t *obj, *old, *options;
  const struct auth_user *user; /* the request's, alive until done runs */
  json_t *hooks; /* matching entries of ix->hooks (shared) */
  size_t n;
  /* mutating: next webhook; change counter and each webhook's value of it
   * when last called (0: not called), for reinvocation */
  size_t next;
  int pass;
  unsigned changes;
  unsigned *seen_changes;
  /* validating: calls outstanding and each webhook's refusal */
  size_t pending;
  json_t **refusals;
  struct wh_call **calls;
  json_t *warnings;
  webhook_done_fn done;
  void *arg;
  struct event *start_ev;
};

struct wh_call {
  struct wh_run *run;
  size_t idx;
  char uid[37];
  const char *version;
  struct rest_request *req;
  int64_t start_ms;
  int timeout_s;
  char url[2600];
};

static void attrs_of(const struct wh_run *r, struct webhook_attrs *a)
{
  *a = (struct webhook_attrs){.operation = r->operation,
                              .group = r->group,
                              .version = r->version,
                              .resource = r->resource,
                              .subresource = r->subresource,
                              .kind = r->kind,
                              .namespaced = r->namespaced,
                              .namespace_ = r->ns,
                              .name = r->name,
                              .object = r->obj,
                              .old_object = r->old,
                              .options = r->options,
                              .dry_run = r->dry_run,
                              .user = r->user};
}

static void run_free(struct wh_run *r)
{
  struct webhook_index *ix = r->ix;
  if (r->lprev) r->lprev->lnext = r->lnext;
  else ix->runs = r->lnext;
  if (r->lnext) r->lnext->lprev = r->lprev;
  for (size_t i = 0; i < r->n; i++) {
    json_decref(r->refusals[i]);
    free(r->calls[i]);
  }
  free(r->refusals);
  free(r->calls);
  if (r->start_ev) event_free(r->start_ev);
  free(r->seen_changes);
  free(r->operation);
  free(r->group);
  free(r->version);
  free(r->resource);
  free(r->subresource);
  free(r->kind);
  free(r->ns);
  free(r->name);
  json_decref(r->obj);
  json_decref(r->old);
  json_decref(r->options);
  json_decref(r->hooks);
  json_decref(r->warnings);
  free(r);
}

static void run_finish(struct wh_run *r, json_t *status)
{
  json_t *obj = r->obj;
  r->obj = NULL;
  r->done(r->arg, obj, status, r->warnings);
  run_free(r);
}

static const char *hook_name(const json_t *entry) { const char *s = kj_get_str(entry, "hook.name");
  return s ? s : ""; }

static int hook_timeout(const json_t *hook)
{
  int t = (int)kj_get_int(hook, "timeoutSeconds", WEBHOOK_DEFAULT_TIMEOUT_S);
  if (t <= 0) t = WEBHOOK_DEFAULT_TIMEOUT_S;
  return t > WEBHOOK_MAX_TIMEOUT_S ? WEBHOOK_MAX_TIMEOUT_S : t;
}

static bool hook_ignores_failure(const json_t *hook)
{
  const char *p = kj_get_str(hook, "failurePolicy");
  return p && !strcmp(p, "Ignore");
}

static void observe(struct wh_run *r, const char *name, bool rejected, int64_t start_ms)
{
  struct metrics *m = r->ix->srv->metrics;
  if (!m) return;
  static const double buckets[] = {0.005, 0.025, 0.1, 0.5, 1.0, 2.5, 10, 25};
  char labels[600];
  snprintf(labels, sizeof labels, "name=\"%s\",operation=\"%s\",rejected=\"%s\",type=\"%s\"", name, r->operation,
           rejected ? "true" : "false", r->mutating ? "admit" : "validating");
  metrics_histogram_observe(m, "apiserver_admission_webhook_admission_duration_seconds",
                            "Admission webhook latency histogram in seconds, identified by name and broken out for "
                            "each operation and API resource and type (validate or admit).",
                            labels, buckets, sizeof buckets / sizeof buckets[0],
                            (double)(ktime_mono_ms() - start_ms) / 1000.0);
}

static void count_rejection(struct wh_run *r, const char *name, const char *error_type, int code)
{
  struct metrics *m = r->ix->srv->metrics;
  if (!m) return;
  char labels[600];
  snprintf(labels, sizeof labels,
           "error_type=\"%s\",name=\"%s\",operation=\"%s\",rejection_code=\"%d\",type=\"%s\"", error_type, name,
           r->operation, code, r->mutating ? "admit" : "validating");
  metrics_counter_add(m, "apiserver_admission_webhook_rejection_count",
                      "Admission webhook rejection count, identified by name and broken out for each admission type "
                      "(validating or admit) and operation. Additional labels specify an error type "
                      "(calling_webhook_error or apiserver_internal_error if an error occurred; no_error otherwise) "
                      "and optionally a non-zero rejection code if the webhook rejects the request with an HTTP "
                      "status code (honored by the apiserver when the code is greater or equal to 400). Codes "
                      "greater than 600 are truncated to 600, to keep the metrics cardinality bounded.",
                      labels, 1);
}

/* ---------------- one call ---------------- */

static void mut_next(struct wh_run *r);
static void val_settled(struct wh_run *r);

/* Where a webhook's call ended: status NULL to go on, else the Status
 * (taken) that ends the run (mutating) or is this webhook's refusal
 * (validating). */
static void hook_settled(struct wh_run *r, size_t idx, json_t *status)
{
  if (r->mutating) {
    if (status) {
      run_finish(r, status);
      return;
    }
    r->next = idx + 1;
    mut_next(r);
    return;
  }
  r->refusals[idx] = status;
  val_settled(r);
}

/* A call that failed (not a refusal): upstream's ErrCallingWebhook. */
static void hook_call_failed(struct wh_run *r, size_t idx, const char *detail)
{
  const json_t *entry = json_array_get(r->hooks, idx);
  const char *name = hook_name(entry);
  if (hook_ignores_failure(json_object_get(entry, "hook"))) {
    KLOG_W("Failed calling webhook, failing open %s: failed calling webhook \"%s\": %s", name, name, detail);
    if (r->mutating) r->seen_changes[idx] = r->changes + 1;
    hook_settled(r, idx, NULL);
    return;
  }
  KLOG_W("Failed calling webhook, failing closed %s: failed calling webhook \"%s\": %s", name, name, detail);
  count_rejection(r, name, "calling_webhook_error", 0);
  hook_settled(r, idx, webhook_call_error_status(name, detail));
}

/* obj as served in group/version: a copy with its apiVersion rewritten
 * (custom resources convert with strategy None); NULL for NULL.  New
 * reference. */
static json_t *in_version(const json_t *obj, const char *group, const char *version)
{
  if (!obj) return NULL;
  json_t *c = json_deep_copy(obj);
  char av[512];
  if (*group) snprintf(av, sizeof av, "%s/%s", group, version);
  else snprintf(av, sizeof av, "%s", version);
  json_object_set_new(c, "apiVersion", json_string(av));
  return c;
}

static const char *entry_version(const struct wh_run *r, size_t idx)
{
  const char *v = kj_get_str(json_array_get(r->hooks, idx), "version");
  return v ? v : r->version;
}

/* A mutating webhook's patch applied to the run's object (in the version
 * the webhook was called in, then back in the request's); NULL or a
 * Status. */
static json_t *apply_patch(struct wh_run *r, size_t idx, const char *name, const json_t *ops)
{
  if (json_array_size(ops) == 0) return NULL;
  if (!r->obj) {
    json_t *st = kstatus_internal("Internal error occurred: admission webhook \"%s\" attempted to modify the object, "
                                  "which is not supported for this operation",
                                  name);
    return st;
  }
  char err[512];
  const char *version = entry_version(r, idx);
  bool converted = strcmp(version, r->version) != 0;
  json_t *seen = converted ? in_version(r->obj, r->group, version) : json_incref(r->obj);
  json_t *patched = patch_json(seen, ops, err, sizeof err);
  json_decref(seen);
  if (!patched) return kstatus_internal("Internal error occurred: %s", err);
  if (converted && json_is_object(patched)) {
    json_t *back = in_version(patched, r->group, r->version);
    json_decref(patched);
    patched = back;
  }
  if (!json_is_object(patched)) {
    json_decref(patched);
    return kstatus_internal("Internal error occurred: admission webhook \"%s\" returned a patch that does not leave "
                            "an object",
                            name);
  }
  if (!json_equal(patched, r->obj)) r->changes++;
  json_decref(r->obj);
  r->obj = patched;
  return NULL;
}

static void call_answered(struct wh_call *c, int http_code, json_t *body, const struct rest_status *err)
{
  struct wh_run *r = c->run;
  size_t idx = c->idx;
  const json_t *entry = json_array_get(r->hooks, idx);
  const char *name = hook_name(entry);
  char detail[3200];
  if (err) {
    observe(r, name, true, c->start_ms);
    if (http_code == 0 && ktime_mono_ms() - c->start_ms >= (int64_t)c->timeout_s * 1000 - 50)
      snprintf(detail, sizeof detail, "failed to call webhook: Post \"%s\": context deadline exceeded", c->url);
    else if (http_code == 0)
      snprintf(detail, sizeof detail, "failed to call webhook: Post \"%s\": %s", c->url, err->message);
    else
      snprintf(detail, sizeof detail, "failed to call webhook: %s", err->message ? err->message : "");
    hook_call_failed(r, idx, detail);
    return;
  }
  if (!body) {
    observe(r, name, true, c->start_ms);
    hook_call_failed(r, idx, "failed to call webhook: couldn't get version/kind; json parse error: the answer is "
                             "not JSON");
    return;
  }
  struct webhook_result res;
  char perr[1024];
  if (webhook_review_parse(body, c->version, c->uid, r->mutating, &res, perr, sizeof perr) < 0) {
    observe(r, name, true, c->start_ms);
    snprintf(detail, sizeof detail, "received invalid webhook response: %s", perr);
    hook_call_failed(r, idx, detail);
    return;
  }
  observe(r, name, !res.allowed, c->start_ms);
  size_t i;
  json_t *w;
  json_array_foreach (res.warnings, i, w) json_array_append(r->warnings, w);
  json_t *st = NULL;
  if (!res.allowed) {
    struct webhook_attrs a;
    attrs_of(r, &a);
    st = webhook_denied_status(&a, name, res.status);
    count_rejection(r, name, "no_error", kstatus_code(st) > 600 ? 600 : kstatus_code(st));
  } else if (r->mutating) {
    st = apply_patch(r, idx, name, res.patch);
    if (st) count_rejection(r, name, "apiserver_internal_error", 0);
    r->seen_changes[idx] = r->changes + 1;
  }
  webhook_result_clear(&res);
  hook_settled(r, idx, st);
}

static void call_done(void *arg, int http_code, json_t *body, const struct rest_status *err)
{
  struct wh_call *c = arg;
  c->req = NULL;
  call_answered(c, http_code, body, err);
}

static bool side_effects_safe(const json_t *hook)
{
  const char *s = kj_get_str(hook, "sideEffects");
  return s && (!strcmp(s, "None") || !strcmp(s, "NoneOnDryRun"));
}

static const char *ca_bundle(const json_t *cc, char **buf, size_t *len)
{
  *buf = NULL;
  *len = 0;
  const char *b64 = kj_get_str(cc, "caBundle");
  if (!b64 || !*b64) return NULL;
  unsigned char *raw = NULL;
  size_t bad;
  if (kb64_decode(b64, strlen(b64), KB64_STD, &raw, len, &bad) < 0) return NULL;
  *buf = (char *)raw;
  return *buf;
}

/* Starts webhook idx of the run; its outcome reaches hook_settled, maybe
 * before this returns. */
static void call_start(struct wh_run *r, size_t idx)
{
  const json_t *entry = json_array_get(r->hooks, idx);
  const json_t *hook = json_object_get(entry, "hook");
  const char *name = hook_name(entry);
  if (r->dry_run && !side_effects_safe(hook)) {
    if (!kj_get_str(hook, "sideEffects")) {
      hook_call_failed(r, idx, "Webhook SideEffects is nil");
      return;
    }
    hook_settled(r, idx, kstatus_bad_request("admission webhook \"%s\" does not support dry run", name));
    return;
  }
  if (!r->calls[idx]) r->calls[idx] = xcalloc(1, sizeof(struct wh_call));
  struct wh_call *c = r->calls[idx];
  memset(c, 0, sizeof *c);
  c->run = r;
  c->idx = idx;
  c->timeout_s = hook_timeout(hook);
  c->version = webhook_review_version(json_object_get(hook, "admissionReviewVersions"));
  if (!c->version) {
    hook_call_failed(r, idx, "webhook does not accept known AdmissionReview versions");
    return;
  }
  names_uuid(c->uid);
  const json_t *cc = json_object_get(hook, "clientConfig");
  struct webhook_target t;
  char err[1024];
  if (webhook_target(r->ix->srv, cc, c->timeout_s, &t, err, sizeof err) < 0) {
    hook_call_failed(r, idx, err);
    return;
  }
  snprintf(c->url, sizeof c->url, "%s", t.url);
  char *ca;
  size_t ca_len;
  ca_bundle(cc, &ca, &ca_len);
  struct rest_client *rc = client_for(r->ix, &t, ca, ca_len, c->timeout_s);
  free(ca);
  if (!rc) {
    hook_call_failed(r, idx, "failed to call webhook: cannot make an HTTP client");
    return;
  }
  struct webhook_attrs a;
  attrs_of(r, &a);
  const char *version = entry_version(r, idx);
  json_t *obj = NULL, *old = NULL;
  if (strcmp(version, r->version) != 0) { /* matchPolicy Equivalent: sent in the version its rule names */
    a.request_version = r->version;
    a.version = version;
    a.object = obj = in_version(r->obj, r->group, version);
    a.old_object = old = in_version(r->old, r->group, version);
  }
  json_t *review = webhook_review_new(&a, c->version, c->uid);
  json_decref(obj);
  json_decref(old);
  c->start_ms = ktime_mono_ms();
  c->req = rest_request(rc, "POST", t.path, review, call_done, c);
  json_decref(review);
  if (!c->req) hook_call_failed(r, idx, "failed to call webhook: cannot start the request");
}

/* ---------------- mutating: in order; validating: at once ---------------- */

static bool wants_reinvocation(const struct wh_run *r, size_t idx)
{
  const char *p = kj_get_str(json_array_get(r->hooks, idx), "hook.reinvocationPolicy");
  return p && !strcmp(p, "IfNeeded") && r->seen_changes[idx] != 0 && r->seen_changes[idx] - 1 < r->changes;
}

static void mut_next(struct wh_run *r)
{
  while (r->next < r->n) {
    size_t idx = r->next;
    if (r->pass == 2 && !wants_reinvocation(r, idx)) {
      r->next++;
      continue;
    }
    call_start(r, idx);
    return;
  }
  if (r->pass == 1) {
    for (size_t i = 0; i < r->n; i++)
      if (wants_reinvocation(r, i)) {
        r->pass = 2;
        r->next = 0;
        mut_next(r);
        return;
      }
  }
  run_finish(r, NULL);
}

static void val_settled(struct wh_run *r)
{
  if (--r->pending > 0) return;
  for (size_t i = 0; i < r->n; i++)
    if (r->refusals[i]) {
      json_t *st = r->refusals[i];
      r->refusals[i] = NULL;
      run_finish(r, st);
      return;
    }
  run_finish(r, NULL);
}

/* The other served versions of a custom resource (upstream's equivalent
 * resources: one storage, conversion between them), as a JSON array of
 * version strings.  Built-in kinds are served in one version each here.
 * New reference. */
static json_t *equivalent_versions(struct apiserver *srv, const struct webhook_attrs *a)
{
  json_t *out = json_array();
  size_t n = 0;
  const struct resource *const *all = registry_served(srv, &n);
  for (size_t i = 0; i < n; i++) {
    const struct resource *r = all[i];
    if (r->custom && !strcmp(r->group, a->group) && !strcmp(r->plural, a->resource) &&
        strcmp(r->version, a->version) != 0)
      json_array_append_new(out, json_string(r->version));
  }
  return out;
}

/* The version a webhook is called in: the request's when a rule names
 * it; with matchPolicy Equivalent (the default), another served version
 * of the same resource that a rule names; else NULL (not called).
 * *versions is computed on first need (caller frees). */
static const char *hook_version(struct webhook_index *ix, const json_t *hook, const struct webhook_attrs *a,
                                json_t **versions)
{
  const json_t *rules = json_object_get(hook, "rules");
  if (webhook_rules_match(rules, a)) return a->version;
  const char *mp = kj_get_str(hook, "matchPolicy");
  if (mp && !strcmp(mp, "Exact")) return NULL;
  if (!*versions) *versions = equivalent_versions(ix->srv, a);
  size_t i;
  json_t *v;
  json_array_foreach (*versions, i, v) {
    struct webhook_attrs e = *a;
    e.version = json_string_value(v);
    if (webhook_rules_match(rules, &e)) return e.version;
  }
  return NULL;
}

/* The entries of hooks[t] that the request reaches, each
 * {"config", "hook", "version"} (the version it is called in).  New
 * reference. */
static json_t *matching(struct webhook_index *ix, int t, const struct webhook_attrs *a)
{
  json_t *out = json_array();
  json_t *ns_obj = NULL, *versions = NULL;
  bool ns_read = false;
  size_t i;
  json_t *entry;
  json_array_foreach (ix->hooks[t], i, entry) {
    const json_t *hook = json_object_get(entry, "hook");
    const char *version = hook_version(ix, hook, a, &versions);
    if (!version) continue;
    const json_t *nsel = json_object_get(hook, "namespaceSelector");
    if (json_object_size(nsel) > 0 && webhook_namespace_selector_applies(a)) {
      if (!ns_read && a->namespace_ && *a->namespace_) {
        char key[512];
        snprintf(key, sizeof key, "/registry/namespaces/%s", a->namespace_);
        ns_obj = adm_get(ix->srv, key);
        ns_read = true;
      }
      if (!webhook_selector_matches(nsel, webhook_namespace_labels(a, ns_obj))) continue;
    }
    if (!webhook_object_selector_matches(json_object_get(hook, "objectSelector"), a)) continue;
    json_t *m = json_copy(entry);
    json_object_set_new(m, "version", json_string(version));
    json_array_append_new(out, m);
  }
  json_decref(ns_obj);
  json_decref(versions);
  return out;
}

static char *dup0(const char *s) { return xstrdup(s ? s : ""); }

bool webhook_configured(struct apiserver *srv, bool mutating)
{
  struct webhook_index *ix = srv ? srv->webhooks : NULL;
  if (!ix || !admission_webhook_enabled(srv, mutating)) return false;
  if (ix->dirty) {
    index_refresh(ix);
    clients_sweep(ix);
  }
  return json_array_size(ix->hooks[mutating ? T_MUTATING : T_VALIDATING]) > 0;
}

static void run_start_cb(evutil_socket_t fd, short what, void *arg)
{
  (void)fd;
  (void)what;
  struct wh_run *r = arg;
  if (r->mutating) {
    r->pass = 1;
    mut_next(r);
    return;
  }
  r->pending = r->n + 1; /* held while the calls start */
  for (size_t i = 0; i < r->n; i++) call_start(r, i);
  val_settled(r);
}

bool webhook_admit(struct apiserver *srv, const struct webhook_attrs *a, bool mutating, json_t *obj,
                   webhook_done_fn done, void *arg)
{
  if (!webhook_configured(srv, mutating) || webhook_is_exempt(a)) return false;
  struct webhook_index *ix = srv->webhooks;
  struct webhook_attrs m = *a;
  m.object = obj;
  json_t *hooks = matching(ix, mutating ? T_MUTATING : T_VALIDATING, &m);
  if (json_array_size(hooks) == 0) {
    json_decref(hooks);
    return false;
  }
  struct wh_run *r = xcalloc(1, sizeof *r);
  r->ix = ix;
  r->mutating = mutating;
  r->operation = dup0(a->operation);
  r->group = dup0(a->group);
  r->version = dup0(a->version);
  r->resource = dup0(a->resource);
  r->subresource = dup0(a->subresource);
  r->kind = dup0(a->kind);
  r->ns = dup0(a->namespace_);
  r->name = dup0(a->name);
  r->namespaced = a->namespaced;
  r->dry_run = a->dry_run;
  r->obj = obj;
  r->old = a->old_object ? json_incref((json_t *)a->old_object) : NULL;
  r->options = a->options ? json_incref((json_t *)a->options) : NULL;
  r->user = a->user;
  r->hooks = hooks;
  r->n = json_array_size(hooks);
  r->refusals = xcalloc(r->n, sizeof *r->refusals);
  r->calls = xcalloc(r->n, sizeof *r->calls);
  r->seen_changes = xcalloc(r->n, sizeof *r->seen_changes);
  r->warnings = json_array();
  r->done = done;
  r->arg = arg;
  if ((r->lnext = ix->runs)) ix->runs->lprev = r;
  ix->runs = r;
  /* started from the loop, so done never runs inside this call */
  r->start_ev = evtimer_new(srv->base, run_start_cb, r);
  struct timeval now = {0, 0};
  evtimer_add(r->start_ev, &now);
  return true;
}
