/*
 * leaderelection.c - Lease-based leader election (client-go's
 * leaderelection with the LeaseLock).
 *
 * Each attempt GETs the Lease.  A missing Lease is created with us as
 * holder.  Otherwise the spec we see is compared with the one seen last
 * time: when it changed, the local observation time is reset, and the
 * holder counts as alive until observation + leaseDurationSeconds on our
 * monotonic clock (clocks of different machines are never compared).  If
 * the lease is ours, or free, or expired, we PUT it back with
 * renewTime = now (and acquireTime = now and leaseTransitions + 1 when the
 * holder changes), carrying the resourceVersion we read: a concurrent
 * writer makes one of the PUTs fail with 409.
 *
 * Candidates attempt every retry period.  A leader renews every retry
 * period; if no renewal succeeded for the renew deadline it stops leading
 * for good and says so through on_stopped_leading.
 */
#define _GNU_SOURCE
#include "kube/leaderelection.h"

#include <errno.h>
#include <event2/event.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kube/json.h"
#include "kube/log.h"
#include "kube/names.h"
#include "kube/restclient.h"
#include "kube/timeutil.h"
#include "kube/xalloc.h"

enum le_state { LE_IDLE, LE_CANDIDATE, LE_LEADING, LE_STOPPED };

struct leader_elector {
  struct event_base *base;
  struct rest_client *client;
  struct leaderelection_config cfg;
  char *namespace, *name, *identity;
  char *lease_path, *collection_path;
  enum le_state state;
  struct rest_request *req;
  struct event *timer;
  json_t *observed_spec; /* last spec seen, to detect changes */
  int64_t observed_ms;   /* local time observed_spec last changed */
  char *leader;
  int64_t last_renew_ms;
  void (*release_done)(void *arg);
  void *release_arg;
  bool released;
};

static void attempt(struct leader_elector *le);

char *leaderelection_default_identity(void)
{
  char host[256] = "";
  if (gethostname(host, sizeof host - 1) != 0) snprintf(host, sizeof host, "localhost");
  char uuid[37];
  names_uuid(uuid);
  char *id = NULL;
  if (asprintf(&id, "%s_%s", host, uuid) < 0) return NULL;
  return id;
}

static void schedule(struct leader_elector *le, int64_t ms)
{
  struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
  evtimer_add(le->timer, &tv);
}

static void set_leader(struct leader_elector *le, const char *holder)
{
  if (!holder) holder = "";
  if (le->leader && !strcmp(le->leader, holder)) return;
  free(le->leader);
  le->leader = xstrdup(holder);
  if (*holder) KLOG_I("new leader for lease %s/%s: %s", le->namespace, le->name, holder);
  if (le->cfg.on_new_leader && *holder) le->cfg.on_new_leader(le->cfg.arg, holder);
}

static void observe(struct leader_elector *le, const json_t *spec)
{
  if (!le->observed_spec || !json_equal(le->observed_spec, (json_t *)spec)) {
    json_decref(le->observed_spec);
    le->observed_spec = kj_deep_copy(spec);
    le->observed_ms = ktime_mono_ms();
  }
  set_leader(le, kj_get_str(spec, "holderIdentity"));
}

static void stop_leading(struct leader_elector *le)
{
  le->state = LE_STOPPED;
  if (le->req) {
    rest_cancel(le->req);
    le->req = NULL;
  }
  evtimer_del(le->timer);
  KLOG_I("failed to renew lease %s/%s: timed out waiting for the condition", le->namespace, le->name);
  if (le->cfg.on_stopped_leading) le->cfg.on_stopped_leading(le->cfg.arg);
}

/* One attempt ended; success means we hold the lease now. */
static void attempt_done(struct leader_elector *le, bool ok)
{
  int64_t now = ktime_mono_ms();
  if (ok) {
    le->last_renew_ms = now;
    if (le->state == LE_CANDIDATE) {
      le->state = LE_LEADING;
      KLOG_I("successfully acquired lease %s/%s", le->namespace, le->name);
      if (le->cfg.on_started_leading) le->cfg.on_started_leading(le->cfg.arg);
      if (le->state != LE_LEADING) return;
    }
  } else if (le->state == LE_LEADING && now - le->last_renew_ms >= le->cfg.renew_deadline_ms) {
    stop_leading(le);
    return;
  }
  if (!evtimer_pending(le->timer, NULL)) schedule(le, le->cfg.retry_period_ms);
}

static char *now_micro(char *buf) { return ktime_format_micro(ktime_now_us(), buf); }

static json_t *new_spec(struct leader_elector *le, const json_t *old)
{
  char now[40];
  now_micro(now);
  const char *holder = kj_get_str(old, "holderIdentity");
  bool mine = holder && !strcmp(holder, le->identity);
  json_t *spec = json_object();
  json_object_set_new(spec, "holderIdentity", json_string(le->identity));
  json_object_set_new(spec, "leaseDurationSeconds", json_integer((le->cfg.lease_duration_ms + 999) / 1000));
  const char *acq = kj_get_str(old, "acquireTime");
  json_object_set_new(spec, "acquireTime", json_string(mine && acq ? acq : now));
  json_object_set_new(spec, "renewTime", json_string(now));
  json_int_t tr = old ? kj_get_int(old, "leaseTransitions", 0) : 0;
  /* Any change of holder of an existing lease is a transition (also
   * taking over a released one); creating the lease is not. */
  if (old && !mine) tr++;
  json_object_set_new(spec, "leaseTransitions", json_integer(tr));
  return spec;
}

static void write_done(void *arg, int code, json_t *body, const struct rest_status *err)
{
  struct leader_elector *le = arg;
  le->req = NULL;
  if (err) {
    KLOG_V(2, "lease %s/%s: write failed: %s", le->namespace, le->name, err->message);
    attempt_done(le, false);
    return;
  }
  json_t *spec = json_object_get(body, "spec");
  if (spec) observe(le, spec);
  attempt_done(le, true);
}

static void get_done(void *arg, int code, json_t *body, const struct rest_status *err)
{
  struct leader_elector *le = arg;
  le->req = NULL;
  if (err && err->code == 404) {
    json_t *lease = json_pack("{s:s,s:s,s:{s:s,s:s},s:o}", "apiVersion", "coordination.k8s.io/v1", "kind", "Lease",
                              "metadata", "name", le->name, "namespace", le->namespace, "spec", new_spec(le, NULL));
    le->req = rest_request(le->client, "POST", le->collection_path, lease, write_done, le);
    json_decref(lease);
    if (!le->req) attempt_done(le, false);
    return;
  }
  if (err || !json_is_object(body)) {
    KLOG_V(2, "lease %s/%s: get failed: %s", le->namespace, le->name, err ? err->message : "bad body");
    attempt_done(le, false);
    return;
  }
  json_t *spec = json_object_get(body, "spec");
  if (!json_is_object(spec)) spec = NULL;
  json_t *empty = json_object();
  observe(le, spec ? spec : empty);
  json_decref(empty);
  const char *holder = kj_get_str(spec, "holderIdentity");
  bool mine = holder && !strcmp(holder, le->identity);
  int64_t dur_ms = kj_get_int(spec, "leaseDurationSeconds", 0) * 1000;
  if (dur_ms <= 0) dur_ms = le->cfg.lease_duration_ms;
  if (holder && *holder && !mine && le->observed_ms + dur_ms > ktime_mono_ms()) {
    attempt_done(le, false); /* held by someone alive */
    return;
  }
  json_t *lease = kj_deep_copy(body);
  json_object_set_new(lease, "spec", new_spec(le, spec));
  le->req = rest_request(le->client, "PUT", le->lease_path, lease, write_done, le);
  json_decref(lease);
  if (!le->req) attempt_done(le, false);
}

static void attempt(struct leader_elector *le)
{
  if (le->state == LE_STOPPED || le->state == LE_IDLE) return;
  if (le->req) {
    /* Previous attempt still running: only enforce the deadline. */
    if (le->state == LE_LEADING && ktime_mono_ms() - le->last_renew_ms >= le->cfg.renew_deadline_ms) {
      stop_leading(le);
      return;
    }
    schedule(le, le->cfg.retry_period_ms);
    return;
  }
  le->req = rest_request(le->client, "GET", le->lease_path, NULL, get_done, le);
  if (!le->req) attempt_done(le, false);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
  struct leader_elector *le = arg;
  if (le->released) {
    if (le->req) { /* the deadline passed first */
      KLOG_W("could not release lease %s/%s within %d ms; giving up", le->namespace, le->name,
             LEADERELECTION_RELEASE_DEADLINE_MS);
      rest_cancel(le->req);
      le->req = NULL;
    }
    if (le->release_done) le->release_done(le->release_arg);
    le->release_done = NULL;
    return;
  }
  attempt(le);
}

static void release_put_done(void *arg, int code, json_t *body, const struct rest_status *err)
{
  struct leader_elector *le = arg;
  le->req = NULL;
  if (err) KLOG_W("failed to release lease %s/%s: %s", le->namespace, le->name, err->message);
  else KLOG_I("released lease %s/%s", le->namespace, le->name);
  schedule(le, 0);
}

static void release_get_done(void *arg, int code, json_t *body, const struct rest_status *err)
{
  struct leader_elector *le = arg;
  le->req = NULL;
  const char *holder = kj_get_str(body, "spec.holderIdentity");
  if (err || !holder || strcmp(holder, le->identity)) {
    schedule(le, 0); /* nothing of ours to release */
    return;
  }
  char now[40];
  ktime_format_micro(ktime_now_us(), now);
  json_t *lease = kj_deep_copy(body);
  kj_set_str(lease, "spec.holderIdentity", "");
  kj_set_int(lease, "spec.leaseDurationSeconds", 1);
  kj_set_str(lease, "spec.renewTime", now);
  kj_set_str(lease, "spec.acquireTime", now);
  le->req = rest_request(le->client, "PUT", le->lease_path, lease, release_put_done, le);
  json_decref(lease);
  if (!le->req) schedule(le, 0);
}

int leaderelection_release(struct leader_elector *le, void (*done)(void *arg), void *arg)
{
  if (le->released) return -EALREADY;
  bool leading = le->state == LE_LEADING;
  le->released = true;
  le->release_done = done;
  le->release_arg = arg;
  le->state = LE_STOPPED;
  if (le->req) {
    rest_cancel(le->req);
    le->req = NULL;
  }
  evtimer_del(le->timer);
  if (leading) {
    le->req = rest_request(le->client, "GET", le->lease_path, NULL, release_get_done, le);
    if (le->req) {
      schedule(le, LEADERELECTION_RELEASE_DEADLINE_MS); /* done() by then, released or not */
      return 0;
    }
  }
  schedule(le, 0);
  return 0;
}

struct leader_elector *leaderelection_new(struct event_base *base, struct rest_client *client,
                                          const struct leaderelection_config *cfg)
{
  if (!cfg || !cfg->name || !*cfg->name) return NULL;
  struct leader_elector *le = xcalloc(1, sizeof *le);
  if (!le) return NULL;
  le->base = base;
  le->client = client;
  le->cfg = *cfg;
  if (le->cfg.lease_duration_ms <= 0) le->cfg.lease_duration_ms = LEADERELECTION_DEFAULT_LEASE_DURATION_MS;
  if (le->cfg.renew_deadline_ms <= 0) le->cfg.renew_deadline_ms = LEADERELECTION_DEFAULT_RENEW_DEADLINE_MS;
  if (le->cfg.retry_period_ms <= 0) le->cfg.retry_period_ms = LEADERELECTION_DEFAULT_RETRY_PERIOD_MS;
  le->namespace = xstrdup(cfg->namespace && *cfg->namespace ? cfg->namespace : LEADERELECTION_DEFAULT_NAMESPACE);
  le->name = xstrdup(cfg->name);
  le->identity = cfg->identity && *cfg->identity ? xstrdup(cfg->identity) : leaderelection_default_identity();
  if (le->namespace &&
      asprintf(&le->collection_path, "/apis/coordination.k8s.io/v1/namespaces/%s/leases", le->namespace) < 0)
    le->collection_path = NULL;
  if (le->collection_path && le->name && asprintf(&le->lease_path, "%s/%s", le->collection_path, le->name) < 0)
    le->lease_path = NULL;
  le->timer = evtimer_new(base, timer_cb, le);
  le->cfg.namespace = le->namespace;
  le->cfg.name = le->name;
  le->cfg.identity = le->identity;
  if (!le->namespace || !le->name || !le->identity || !le->lease_path || !le->timer) {
    leaderelection_free(le);
    return NULL;
  }
  return le;
}

int leaderelection_start(struct leader_elector *le)
{
  if (le->state != LE_IDLE) return -EALREADY;
  le->state = LE_CANDIDATE;
  KLOG_I("attempting to acquire leader lease %s/%s...", le->namespace, le->name);
  schedule(le, 0);
  return 0;
}

bool leaderelection_is_leader(const struct leader_elector *le) { return le->state == LE_LEADING; }
const char *leaderelection_leader(const struct leader_elector *le) { return le->leader ? le->leader : ""; }
const char *leaderelection_identity(const struct leader_elector *le) { return le->identity; }

void leaderelection_free(struct leader_elector *le)
{
  if (!le) return;
  if (le->req) rest_cancel(le->req);
  if (le->timer) event_free(le->timer);
  json_decref(le->observed_spec);
  free(le->namespace);
  free(le->name);
  free(le->identity);
  free(le->lease_path);
  free(le->collection_path);
  free(le->leader);
  free(le);
}
