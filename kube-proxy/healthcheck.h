/*
 * healthcheck.h - kube-proxy's own health (/healthz) and the health check
 * node ports of externalTrafficPolicy: Local load balancers, as upstream's
 * pkg/proxy/healthcheck serves them.
 *
 * The proxy is healthy while no Service or EndpointSlice change has been
 * waiting longer than the timeout (twice --iptables-sync-period) without a
 * successful sync.  The node is eligible unless kube-proxy's own Node
 * (--hostname-override) is being deleted (deletionTimestamp) or is gone;
 * it is until the Node is first seen, as upstream.  /healthz answers
 * upstream's JSON
 *   {"lastUpdated": "...","currentTime": "...", "nodeEligible": true}
 * with 200 when healthy and eligible, 503 otherwise (lastUpdated is the
 * current time when 200, else the last successful sync).
 *
 * Each Service with a healthCheckNodePort gets an HTTP server on that port
 * answering 200 when the node has local ready endpoints for it (503
 * otherwise), with upstream's JSON body and
 * X-Load-Balancing-Endpoint-Weight header.  The set of servers follows the
 * model after every successful sync.
 */
#ifndef KP_HEALTHCHECK_H
#define KP_HEALTHCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct event_base;
struct kp_model;
struct http_request;

struct kp_health {
  int64_t last_updated_us;  /* wall clock of the last successful sync (or start) */
  int64_t oldest_queued_us; /* oldest change not synced yet; 0 when none */
  int64_t timeout_ms;
  bool node_eligible;
};

void kp_health_init(struct kp_health *h, int64_t timeout_ms);
void kp_health_queued(struct kp_health *h);  /* a change arrived */
void kp_health_updated(struct kp_health *h); /* a sync succeeded: everything queued is done */
bool kp_health_healthy(const struct kp_health *h, int64_t now_us);
/* The Node kube-proxy runs on (obj borrowed; NULL: deleted). */
void kp_health_node(struct kp_health *h, const json_t *node);
/* /healthz's body at now_us into body; returns the status (200, 503). */
int kp_health_body(const struct kp_health *h, int64_t now_us, char *body, size_t len);
/* Answers /healthz (or /livez) on req. */
void kp_health_reply(const struct kp_health *h, struct http_request *req);

struct kp_hc_servers;
struct kp_hc_servers *kp_hc_servers_new(struct event_base *base, const struct kp_health *health);
void kp_hc_servers_free(struct kp_hc_servers *s);
/* Servers for exactly the health check node ports of the model's
 * Services, with their local ready endpoint counts. */
void kp_hc_servers_sync(struct kp_hc_servers *s, const struct kp_model *m);
/* Number of servers running (tests). */
int kp_hc_servers_count(const struct kp_hc_servers *s);

#endif
