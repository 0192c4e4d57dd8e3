/*
 * sa_clients.c - a REST client per controller service account
 * (sa_clients.h).
 *
 * Each entry walks: ENSURE_SA (POST the ServiceAccount; AlreadyExists is
 * what is wanted) -> TOKEN (POST .../serviceaccounts/NAME/token) ->
 * ready, with a refresh timer at 80% of the token's life that goes back
 * to TOKEN.  Any failure waits the entry's backoff and starts that step
 * again.  Everything runs on the controller-manager's loop; requests go
 * through the root client.
 */
#define _GNU_SOURCE
#include "sa_clients.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "kube/json.h"
#include "kube/log.h"
#include "kube/restclient.h"
#include "kube/timeutil.h"
#include "kube/xalloc.h"

#define SA_NS "kube-system"
#define SA_TOKEN_SECONDS 3600
#define SA_BACKOFF_MIN_MS 1000
#define SA_BACKOFF_MAX_MS 30000

enum sa_step { SA_ENSURE, SA_TOKEN };

struct sa_entry {
  struct cm_sa_clients *set;
  char *name;
  struct rest_client *client; /* NULL until the first token */
  enum sa_step step;
  struct event *timer;        /* retry or refresh */
  struct rest_request *inflight;
  int64_t backoff_ms;
  struct sa_entry *next;
};

struct cm_sa_clients {
  struct cm_ctx *ctx;
  struct sa_entry *entries;
  int waiting; /* entries without a client yet */
  void (*ready)(void *arg);
  void *ready_arg;
};

struct cm_sa_clients *cm_sa_clients_new(struct cm_ctx *ctx)
{
  struct cm_sa_clients *s = xcalloc(1, sizeof *s);
  s->ctx = ctx;
  return s;
}

static struct sa_entry *find(struct cm_sa_clients *s, const char *name)
{
  for (struct sa_entry *e = s->entries; e; e = e->next)
    if (!strcmp(e->name, name)) return e;
  return NULL;
}

static void timer_cb(evutil_socket_t fd, short what, void *arg);

void cm_sa_clients_want(struct cm_sa_clients *s, const char *name)
{
  if (!name || find(s, name)) return;
  struct sa_entry *e = xcalloc(1, sizeof *e);
  e->set = s;
  e->name = xstrdup(name);
  e->timer = evtimer_new(s->ctx->base, timer_cb, e);
  e->backoff_ms = SA_BACKOFF_MIN_MS;
  e->next = s->entries;
  s->entries = e;
}

struct rest_client *cm_sa_client(struct cm_sa_clients *s, const char *name)
{
  struct sa_entry *e = s ? find(s, name) : NULL;
  return e ? e->client : NULL;
}

static void arm(struct sa_entry *e, int64_t ms)
{
  struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
  evtimer_add(e->timer, &tv);
}

static void retry(struct sa_entry *e, const char *what, const struct rest_status *err)
{
  KLOG_E("failed to %s for service account %s/%s: %s (retrying in %lld ms)", what, SA_NS, e->name,
         err && err->message ? err->message : "unknown error", (long long)e->backoff_ms);
  arm(e, e->backoff_ms);
  e->backoff_ms = e->backoff_ms * 2 > SA_BACKOFF_MAX_MS ? SA_BACKOFF_MAX_MS : e->backoff_ms * 2;
}

/* The root configuration with the service account's token instead of
 * the root identity, and upstream's "<root agent>/<name>" user agent. */
static struct rest_client *new_client(struct sa_entry *e, const char *token)
{
  struct rest_config c = *rest_client_config(e->set->ctx->client);
  char *ua = NULL;
  if (asprintf(&ua, "%s/%s", c.user_agent ? c.user_agent : "kube-controller-manager", e->name) < 0) ua = NULL;
  c.token = (char *)token;
  c.token_file = NULL;
  c.cert_data = c.key_data = NULL;
  c.cert_len = c.key_len = 0;
  c.username = c.password = NULL;
  c.user_agent = ua;
  struct rest_client *rc = rest_client_new(e->set->ctx->base, &c);
  free(ua);
  return rc;
}

/* A token arrived: the client is made (or its token swapped), and a
 * refresh is due at 80% of the token's life. */
static void got_token(struct sa_entry *e, const char *token, const char *expires)
{
  int64_t exp_us = 0, now_us = ktime_now_us();
  int64_t life_ms = SA_TOKEN_SECONDS * 1000;
  if (expires && ktime_parse(expires, &exp_us) == 0 && exp_us > now_us) life_ms = (exp_us - now_us) / 1000;
  e->backoff_ms = SA_BACKOFF_MIN_MS;
  arm(e, life_ms * 8 / 10);
  if (e->client) {
    rest_client_set_token(e->client, token);
    KLOG_V(2, "refreshed the token of service account %s/%s", SA_NS, e->name);
    return;
  }
  e->client = new_client(e, token);
  KLOG_V(2, "using service account %s/%s for its controllers", SA_NS, e->name);
  if (--e->set->waiting == 0 && e->set->ready) e->set->ready(e->set->ready_arg);
}

static void token_done(void *arg, int code, json_t *body, const struct rest_status *err)
{
  struct sa_entry *e = arg;
  e->inflight = NULL;
  const char *tok = kj_get_str(body, "status.token");
  if (err || !tok || !*tok) {
    retry(e, "request a token", err);
    return;
  }
  got_token(e, tok, kj_get_str(body, "status.expirationTimestamp"));
}

static void request_token(struct sa_entry *e)
{
  e->step = SA_TOKEN;
  char path[512];
  snprintf(path, sizeof path, "/api/v1/namespaces/" SA_NS "/serviceaccounts/%s/token", e->name);
  json_t *body = json_pack("{s:s,s:s,s:{s:I}}", "apiVersion", "authentication.k8s.io/v1", "kind", "TokenRequest",
                           "spec", "expirationSeconds", (json_int_t)SA_TOKEN_SECONDS);
  e->inflight = rest_request(e->set->ctx->client, "POST", path, body, token_done, e);
  json_decref(body);
}

static void ensure_done(void *arg, int code, json_t *body, const struct rest_status *err)
{
  struct sa_entry *e = arg;
  e->inflight = NULL;
  if (err && !(code == 409 && err->reason && !strcmp(err->reason, "AlreadyExists"))) {
    retry(e, "create the service account", err);
    return;
  }
  request_token(e);
}

static void ensure_sa(struct sa_entry *e)
{
  e->step = SA_ENSURE;
  json_t *body = json_pack("{s:s,s:s,s:{s:s,s:s}}", "apiVersion", "v1", "kind", "ServiceAccount", "metadata", "name",
                           e->name, "namespace", SA_NS);
  e->inflight = rest_request(e->set->ctx->client, "POST", "/api/v1/namespaces/" SA_NS "/serviceaccounts", body,
                             ensure_done, e);
  json_decref(body);
}

/* A retry repeats the step that failed; the refresh asks for a token
 * (the ServiceAccount exists by then, or the request says so). */
static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
  struct sa_entry *e = arg;
  if (e->step == SA_ENSURE) ensure_sa(e);
  else request_token(e);
}

void cm_sa_clients_start(struct cm_sa_clients *s, void (*ready)(void *arg), void *arg)
{
  s->ready = ready;
  s->ready_arg = arg;
  for (struct sa_entry *e = s->entries; e; e = e->next) s->waiting++;
  if (s->waiting == 0) {
    if (ready) ready(arg);
    return;
  }
  for (struct sa_entry *e = s->entries; e; e = e->next) ensure_sa(e);
}

void cm_sa_clients_free(struct cm_sa_clients *s)
{
  if (!s) return;
  while (s->entries) {
    struct sa_entry *e = s->entries;
    s->entries = e->next;
    if (e->inflight) rest_cancel(e->inflight);
    if (e->timer) event_free(e->timer);
    if (e->client) rest_client_free(e->client);
    free(e->name);
    free(e);
  }
  free(s);
}
