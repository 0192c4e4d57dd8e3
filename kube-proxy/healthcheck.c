/*
 * healthcheck.c - /healthz and health check node ports (see healthcheck.h).
 */
#include "kube/xalloc.h"
#include "healthcheck.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube/http.h"
#include "kube/json.h"
#include "kube/log.h"
#include "kube/timeutil.h"
#include "map.h"
#include "model.h"

void kp_health_init(struct kp_health *h, int64_t timeout_ms)
{
  memset(h, 0, sizeof *h);
  h->timeout_ms = timeout_ms;
  h->last_updated_us = ktime_now_us();
  h->node_eligible = true;
}

void kp_health_node(struct kp_health *h, const json_t *node)
{
  bool eligible = node && !kj_get_str(node, "metadata.deletionTimestamp");
  if (eligible != h->node_eligible)
    KLOG_I("Node %s: %s", node ? kj_get_str(node, "metadata.name") : "(deleted)",
           eligible ? "eligible again" : "being deleted or gone, /healthz reports it");
  h->node_eligible = eligible;
}

void kp_health_queued(struct kp_health *h)
{
  if (!h->oldest_queued_us) h->oldest_queued_us = ktime_now_us();
}

void kp_health_updated(struct kp_health *h)
{
  h->last_updated_us = ktime_now_us();
  h->oldest_queued_us = 0;
}

bool kp_health_healthy(const struct kp_health *h, int64_t now_us)
{
  if (!h->oldest_queued_us) return true;
  return now_us - h->oldest_queued_us < h->timeout_ms * 1000;
}

/* Go's time.Time.String() without the monotonic part:
 * "2006-01-02 15:04:05.999999999 +0000 UTC" (trailing zeros dropped). */
static void go_time(int64_t us, char *out, size_t len)
{
  time_t s = (time_t)(us / 1000000);
  struct tm tm;
  gmtime_r(&s, &tm);
  char base[32], frac[16] = "";
  strftime(base, sizeof base, "%Y-%m-%d %H:%M:%S", &tm);
  int f = (int)(us % 1000000);
  if (f) {
    snprintf(frac, sizeof frac, ".%06d", f);
    size_t n = strlen(frac);
    while (n > 1 && frac[n - 1] == '0') frac[--n] = 0;
  }
  snprintf(out, len, "%s%s +0000 UTC", base, frac);
}

int kp_health_body(const struct kp_health *h, int64_t now_us, char *body, size_t len)
{
  bool healthy = kp_health_healthy(h, now_us) && h->node_eligible;
  char last[64], cur[64];
  go_time(healthy ? now_us : h->last_updated_us, last, sizeof last);
  go_time(now_us, cur, sizeof cur);
  snprintf(body, len, "{\"lastUpdated\": \"%s\",\"currentTime\": \"%s\", \"nodeEligible\": %s}", last, cur,
           h->node_eligible ? "true" : "false");
  return healthy ? 200 : 503;
}

void kp_health_reply(const struct kp_health *h, struct http_request *req)
{
  char body[256];
  int code = kp_health_body(h, ktime_now_us(), body, sizeof body);
  http_add_header(req, "X-Content-Type-Options", "nosniff");
  http_reply(req, code, "application/json", body, strlen(body));
}

/* ---- health check node ports ---- */

struct hc_server {
  struct kp_hc_servers *owner;
  struct http_server *http;
  char *ns, *name;
  int port;
  int local_endpoints;
  bool seen;
};

struct kp_hc_servers {
  struct event_base *base;
  const struct kp_health *health;
  struct kp_map *by_port; /* "port" -> struct hc_server */
};

static void hc_handler(struct http_request *req, void *arg)
{
  struct hc_server *s = arg;
  bool healthy = kp_health_healthy(s->owner->health, ktime_now_us());
  char weight[16], body[512];
  snprintf(weight, sizeof weight, "%d", s->local_endpoints);
  int n = snprintf(body, sizeof body,
                   "{\n\t\"service\": {\n\t\t\"namespace\": \"%s\",\n\t\t\"name\": \"%s\"\n\t},\n"
                   "\t\"localEndpoints\": %d,\n\t\"serviceProxyHealthy\": %s\n}",
                   s->ns, s->name, s->local_endpoints, healthy ? "true" : "false");
  http_add_header(req, "X-Content-Type-Options", "nosniff");
  http_add_header(req, "X-Load-Balancing-Endpoint-Weight", weight);
  http_reply(req, s->local_endpoints > 0 && healthy ? 200 : 503, "application/json", body, (size_t)n);
}

static void hc_free(void *v)
{
  struct hc_server *s = v;
  if (s->http) http_server_free(s->http);
  free(s->ns);
  free(s->name);
  free(s);
}

struct kp_hc_servers *kp_hc_servers_new(struct event_base *base, const struct kp_health *health)
{
  struct kp_hc_servers *s = xcalloc(1, sizeof *s);
  if (!s) return NULL;
  s->base = base;
  s->health = health;
  s->by_port = kp_map_new();
  return s;
}

void kp_hc_servers_free(struct kp_hc_servers *s)
{
  if (!s) return;
  kp_map_free(s->by_port, hc_free);
  free(s);
}

int kp_hc_servers_count(const struct kp_hc_servers *s) { return (int)kp_map_len(s->by_port); }

/* Local ready endpoints of a service: distinct IPs over all its ports. */
static int local_ready(const struct kp_model *m, const struct kp_service *svc)
{
  uint32_t seen[256];
  int n = 0;
  for (size_t p = 0; p < svc->nports; p++) {
    struct kp_endpoint *eps = NULL;
    size_t ne = kp_model_endpoints(m, svc, &svc->ports[p], &eps);
    for (size_t i = 0; i < ne; i++) {
      if (!eps[i].local || !eps[i].ready) continue;
      bool dup = false;
      for (int j = 0; j < n && !dup; j++) dup = seen[j] == eps[i].ip;
      if (!dup && n < (int)(sizeof seen / sizeof seen[0])) seen[n++] = eps[i].ip;
    }
    free(eps);
  }
  return n;
}

static void want_server(struct kp_hc_servers *s, const struct kp_model *m, const struct kp_service *svc)
{
  char key[16];
  snprintf(key, sizeof key, "%u", svc->health_check_node_port);
  struct hc_server *hs = kp_map_get(s->by_port, key);
  if (hs && (strcmp(hs->ns, svc->ns) || strcmp(hs->name, svc->name))) {
    hc_free(kp_map_del(s->by_port, key)); /* the port moved to another service */
    hs = NULL;
  }
  if (!hs) {
    hs = xcalloc(1, sizeof *hs);
    if (!hs) return;
    hs->owner = s;
    hs->ns = xstrdup(svc->ns);
    hs->name = xstrdup(svc->name);
    hs->port = svc->health_check_node_port;
    hs->http = http_server_new(s->base, NULL, hc_handler, hs);
    int rc = hs->http ? http_server_listen(hs->http, "0.0.0.0", hs->port) : -ENOMEM;
    if (rc < 0) {
      KLOG_E("Failed to start healthcheck server for service %s/%s on port %d: %s", svc->ns, svc->name, hs->port,
             strerror(-rc));
      hc_free(hs);
      return;
    }
    KLOG_V(2, "Opening healthcheck service %s/%s port %d", svc->ns, svc->name, hs->port);
    kp_map_put(s->by_port, key, hs);
  }
  hs->local_endpoints = local_ready(m, svc);
  hs->seen = true;
}

void kp_hc_servers_sync(struct kp_hc_servers *s, const struct kp_model *m)
{
  size_t pos = 0;
  struct hc_server *hs;
  while (kp_map_next(s->by_port, &pos, NULL, (void **)&hs)) hs->seen = false;
  struct kp_service *svc;
  pos = 0;
  while (kp_map_next(m->services, &pos, NULL, (void **)&svc))
    if (svc->health_check_node_port) want_server(s, m, svc);
  /* close the servers no service wants */
  for (;;) {
    const char *key = NULL;
    pos = 0;
    bool found = false;
    while (kp_map_next(s->by_port, &pos, &key, (void **)&hs))
      if (!hs->seen) {
        found = true;
        break;
      }
    if (!found) break;
    KLOG_V(2, "Closing healthcheck service %s/%s port %d", hs->ns, hs->name, hs->port);
    char k[16];
    snprintf(k, sizeof k, "%s", key);
    hc_free(kp_map_del(s->by_port, k));
  }
}
