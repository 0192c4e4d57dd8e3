/*
 * podnet.c - the kubelet's side of pod networking (see podnet.h).
 *
 * With the network module (KL_HAVE_POD_NETWORK): once the Node has a
 * spec.podCIDR the bridge is configured (retried every PODNET_TICK_MS
 * until it works; until then the node reports the network not ready), and
 * the host-gw routes follow an informer on all Nodes: for every other node
 * with a podCIDR and an InternalIP, a route to its pod range via that IP.
 */
#define _GNU_SOURCE
#include "podnet.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/informer.h"
#include "kube/json.h"
#include "kube/log.h"
#include "kube/xalloc.h"
#include "kubelet.h"
#include "node_status.h"
#ifdef KL_HAVE_POD_NETWORK
#include "network/network.h"
#endif

#define PODNET_TICK_MS 2000

struct kl_podnet {
  struct kubelet *k;
  struct event *tick;
  char cidr[64]; /* configured pod CIDR, "" until done */
  char why[256];
#ifdef KL_HAVE_POD_NETWORK
  struct kl_net *net;
  struct informer *nodes;
  json_t *routes_seen; /* last route set (canonical) */
#endif
};

#ifdef KL_HAVE_POD_NETWORK
static void sync_routes(struct kl_podnet *n)
{
  json_t *nodes = informer_store_list(n->nodes);
  json_t *set = json_object();
  size_t i;
  json_t *node;
  json_array_foreach (nodes, i, node) {
    const char *name = kj_get_str(node, "metadata.name") ?: "";
    const char *cidr = kj_get_str(node, "spec.podCIDR");
    if (!strcmp(name, n->k->node_name) || !cidr || !*cidr) continue;
    size_t j;
    json_t *a;
    json_array_foreach (kj_get(node, "status.addresses"), j, a) {
      if (strcmp(kj_get_str(a, "type") ?: "", "InternalIP")) continue;
      json_object_set_new(set, cidr, json_string(kj_get_str(a, "address") ?: ""));
      break;
    }
  }
  json_decref(nodes);
  if (json_equal(set, n->routes_seen)) {
    json_decref(set);
    return;
  }
  size_t cnt = json_object_size(set), k = 0;
  struct kl_net_route *routes = xcalloc(cnt + 1, sizeof *routes);
  const char *cidr;
  json_t *via;
  json_object_foreach (set, cidr, via) {
    routes[k].cidr = cidr;
    routes[k].via = json_string_value(via);
    k++;
  }
  char err[512] = "";
  if (kl_net_sync_routes(n->net, routes, cnt, err, sizeof err) < 0) {
    KLOG_E("syncing pod network routes: %s", err);
    json_decref(set);
  } else {
    json_decref(n->routes_seen);
    n->routes_seen = set;
  }
  free(routes);
}

static void nodes_changed(void *arg, const json_t *o) { sync_routes(arg); }
static void nodes_updated(void *arg, const json_t *a, const json_t *b) { sync_routes(arg); }
static void nodes_deleted(void *arg, const json_t *o, bool u) { sync_routes(arg); }
#endif

static void set_error(struct kl_podnet *n, const char *why)
{
  struct kubelet *k = n->k;
  snprintf(n->why, sizeof n->why, "%s", why);
#ifdef KL_HAVE_POD_NETWORK
  if (strcmp(k->network_error, why)) {
    snprintf(k->network_error, sizeof k->network_error, "%s", why);
    if (k->node) kl_node_status_changed(k->node);
  }
#else
  (void)k;
#endif
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
  struct kl_podnet *n = arg;
  const char *cidr = kl_node_pod_cidr(n->k->node);
#ifdef KL_HAVE_POD_NETWORK
  if (!*cidr) {
    set_error(n, "pod CIDR not assigned to the node yet");
  } else if (strcmp(cidr, n->cidr)) {
    char err[512] = "";
    if (kl_net_set_pod_cidr(n->net, cidr, err, sizeof err) < 0) {
      set_error(n, err);
    } else {
      snprintf(n->cidr, sizeof n->cidr, "%s", cidr);
      KLOG_I("Pod network ready on %s", cidr);
      set_error(n, "");
    }
  }
  if (n->cidr[0]) sync_routes(n);
#else
  (void)cidr;
#endif
  struct timeval tv = {PODNET_TICK_MS / 1000, (PODNET_TICK_MS % 1000) * 1000};
  evtimer_add(n->tick, &tv);
}

struct kl_podnet *kl_podnet_new(struct kubelet *k)
{
  struct kl_podnet *n = xcalloc(1, sizeof *n);
  if (!n) return NULL;
  n->k = k;
  n->tick = evtimer_new(k->base, tick, n);
#ifdef KL_HAVE_POD_NETWORK
  char err[512] = "";
  struct kl_net_config c = {.root_dir = k->cfg->root_dir,
                            .cluster_cidr = *k->cfg->non_masquerade_cidr ? k->cfg->non_masquerade_cidr : NULL,
                            .hairpin = strcmp(k->cfg->hairpin_mode, "none") != 0};
  n->net = kl_net_new(&c, err, sizeof err);
  if (!n->net) {
    KLOG_E("pod network: %s", err);
    kl_podnet_free(n);
    return NULL;
  }
  struct informer_opts o = {.path = "/api/v1/nodes", .keep_parsed = true, .drop_managed_fields = true};
  n->nodes = informer_new(k->base, k->client, &o);
  struct informer_handlers h = {nodes_changed, nodes_updated, nodes_deleted, n};
  if (n->nodes) informer_add_handlers(n->nodes, &h);
  set_error(n, "pod CIDR not assigned to the node yet");
#else
  set_error(n, "pod networking is not built into this kubelet (only hostNetwork pods can run)");
#endif
  return n;
}

void kl_podnet_start(struct kl_podnet *n)
{
#ifdef KL_HAVE_POD_NETWORK
  if (n->nodes) informer_start(n->nodes);
#endif
  struct timeval tv = {0, 0};
  evtimer_add(n->tick, &tv);
}

void kl_podnet_stop(struct kl_podnet *n) { evtimer_del(n->tick); }

void kl_podnet_free(struct kl_podnet *n)
{
  if (!n) return;
#ifdef KL_HAVE_POD_NETWORK
  if (n->nodes) informer_free(n->nodes);
  if (n->net) kl_net_free(n->net);
  json_decref(n->routes_seen);
#endif
  if (n->tick) event_free(n->tick);
  free(n);
}

bool kl_podnet_ready(struct kl_podnet *n, char *why, size_t len)
{
  if (n->cidr[0]) return true;
  snprintf(why, len,
           "network is not ready: container runtime network not ready: NetworkReady=false "
           "reason:NetworkPluginNotReady message:%s",
           n->why);
  return false;
}

int kl_podnet_setup(struct kl_podnet *n, const char *uid, int pid, char *ip, size_t iplen, char *err, size_t errlen)
{
#ifdef KL_HAVE_POD_NETWORK
  char ns[64];
  snprintf(ns, sizeof ns, "/proc/%d/ns/net", pid);
  return kl_net_setup_pod(n->net, uid, ns, ip, iplen, err, errlen);
#else
  snprintf(err, errlen, "%s", n->why);
  return -ENOTSUP;
#endif
}

int kl_podnet_teardown(struct kl_podnet *n, const char *uid, char *err, size_t errlen)
{
#ifdef KL_HAVE_POD_NETWORK
  return kl_net_teardown_pod(n->net, uid, err, errlen);
#else
  return 0;
#endif
}

int kl_podnet_ip(struct kl_podnet *n, const char *uid, char *ip, size_t len)
{
#ifdef KL_HAVE_POD_NETWORK
  return kl_net_pod_ip(n->net, uid, ip, len);
#else
  return -ENOENT;
#endif
}
