/*
 * model.h - what kube-proxy and its DNS server know about Services and
 * EndpointSlices, taken from the informers' objects.
 *
 * The informers hand over each Service and EndpointSlice as a json_t;
 * kp_model_* parse the fields the proxier and DNS need once, into the
 * compact per-Service record upstream's proxier keeps as well
 * (ServicePortInfo, EndpointInfo), so that a sync over 10,000 Services
 * walks arrays instead of JSON.  The model is keyed by "namespace/name";
 * a Service's EndpointSlices are grouped under the Service they belong to
 * (label kubernetes.io/service-name), whether or not the Service is known
 * yet.  Only IPv4 is handled (the cluster is single-stack IPv4).
 *
 * Endpoint state follows upstream's EndpointSliceCache: ready when
 * conditions.ready is absent or true, serving when conditions.serving is
 * absent or true, terminating only when conditions.terminating is true;
 * local when nodeName is this node.
 *
 * Topology: the model also holds this node's zone (the Node's
 * topology.kubernetes.io/zone label, from kube-proxy's informer on its
 * own Node), each endpoint's hints.forZones and whether a Service asks
 * for topology-aware routing (the service.kubernetes.io/topology-mode
 * annotation, else the older service.kubernetes.io/topology-aware-hints,
 * set to anything but "" or disabled/Disabled, e.g. Auto; or a
 * spec.trafficDistribution, for which the EndpointSlice controller sets
 * hints too).  The proxier applies upstream's rule (kp_topology_filter).
 */
#ifndef KP_MODEL_H
#define KP_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "chainname.h"

struct kp_map;

enum kp_svc_type { KP_SVC_CLUSTER_IP, KP_SVC_NODE_PORT, KP_SVC_LOAD_BALANCER, KP_SVC_EXTERNAL_NAME };

struct kp_svc_port {
  char *name;    /* "" when unnamed */
  uint8_t proto; /* IPPROTO_TCP / UDP / SCTP */
  uint16_t port, node_port;
  char *name_string; /* upstream's ServicePortName.String(): "ns/svc:port" or "ns/svc" */
  char svc_chain[KP_CHAIN_NAME_MAX], svl_chain[KP_CHAIN_NAME_MAX];
  char ext_chain[KP_CHAIN_NAME_MAX], fw_chain[KP_CHAIN_NAME_MAX];
};

struct kp_cidr {
  uint32_t net;
  int prefix;
};

struct kp_service {
  char *ns, *name, *key;
  enum kp_svc_type type;
  bool headless;       /* clusterIP "None" */
  uint32_t cluster_ip; /* 0 when none or not IPv4 */
  char *external_name; /* ExternalName services */
  bool affinity_client_ip;
  uint32_t affinity_timeout_s;
  bool etp_local; /* externalTrafficPolicy Local (NodePort/LoadBalancer only) */
  bool itp_local; /* internalTrafficPolicy Local */
  uint16_t health_check_node_port;
  bool publish_not_ready;
  uint32_t *external_ips;
  size_t n_external_ips;
  uint32_t *lb_ips;
  size_t n_lb_ips;
  struct kp_cidr *src_ranges;
  size_t n_src_ranges;
  struct kp_svc_port *ports;
  size_t nports;
  bool topology_aware; /* hints are to be used (see above) */
};

#define KP_TOPOLOGY_MODE_ANNOTATION "service.kubernetes.io/topology-mode"
#define KP_TOPOLOGY_HINTS_ANNOTATION "service.kubernetes.io/topology-aware-hints"
#define KP_ZONE_LABEL "topology.kubernetes.io/zone"
#define KP_SERVICE_NAME_LABEL "kubernetes.io/service-name"

struct kp_ep {
  uint32_t ip;
  bool ready, serving, terminating;
  char *hostname;   /* NULL when none */
  bool local;       /* nodeName is this node (decided when parsed: no copy of every node name is kept) */
  char *zone_hints; /* hints.forZones as ",a,b," (label values hold no commas); NULL when none */
};

struct kp_slice_port {
  char *name;
  uint8_t proto;
  uint16_t port;
  bool has_port;
};

struct kp_slice {
  char *name;
  bool ipv4; /* addressType IPv4 */
  struct kp_slice_port *ports;
  size_t nports;
  struct kp_ep *eps;
  size_t neps;
};

/* The endpoints of one service port, with their per-endpoint state. */
struct kp_endpoint {
  uint32_t ip;
  uint16_t port;
  bool ready, serving, terminating, local;
  const char *hostname;   /* borrowed from the slice */
  const char *zone_hints; /* borrowed from the slice: ",a,b," or NULL */
  char str[24];           /* "ip:port" */
};

struct kp_model {
  struct kp_map *services; /* key -> struct kp_service */
  struct kp_map *slices;   /* service key -> struct kp_map (slice name -> struct kp_slice) */
  char *hostname;
  char *zone;       /* this node's topology.kubernetes.io/zone; NULL when unknown or unset */
  uint64_t version; /* bumped on every change (DNS cache, sync trigger) */
};

struct kp_model *kp_model_new(const char *hostname);
void kp_model_free(struct kp_model *m);

/* Parse and store / remove (obj borrowed).  Return true when the model
 * changed in a way the proxier or DNS can see. */
bool kp_model_set_service(struct kp_model *m, const json_t *svc);
bool kp_model_delete_service(struct kp_model *m, const json_t *svc);
bool kp_model_set_slice(struct kp_model *m, const json_t *slice);
bool kp_model_delete_slice(struct kp_model *m, const json_t *slice);

/* This node's zone label (NULL: none); true when it changed. */
bool kp_model_set_zone(struct kp_model *m, const char *zone);

/* Parsed forms (new allocations; kp_service_free / kp_slice_free).
 * NULL when the object lacks a name or namespace. */
struct kp_service *kp_service_parse(const json_t *svc);
void kp_service_free(struct kp_service *s);
struct kp_slice *kp_slice_parse(const json_t *slice, const char *hostname, char *svc_key, size_t keylen);
void kp_slice_free(struct kp_slice *s);

struct kp_service *kp_model_service(const struct kp_model *m, const char *ns, const char *name);
/* The slices of a service (slice name -> struct kp_slice) or NULL. */
struct kp_map *kp_model_slices(const struct kp_model *m, const char *key);

/* Every endpoint of service port sp (by port name and protocol) over the
 * service's IPv4 slices, deduplicated by ip:port (a ready copy wins) and
 * sorted by "ip:port" as upstream sorts them.  *out is malloc'd (free it);
 * returns the count. */
size_t kp_model_endpoints(const struct kp_model *m, const struct kp_service *s, const struct kp_svc_port *sp,
                          struct kp_endpoint **out);

/* Upstream's ServicePort predicates. */
bool kp_svc_externally_accessible(const struct kp_service *s, const struct kp_svc_port *sp);
bool kp_svc_external_policy_local(const struct kp_service *s, const struct kp_svc_port *sp);
bool kp_svc_uses_cluster_endpoints(const struct kp_service *s, const struct kp_svc_port *sp);
bool kp_svc_uses_local_endpoints(const struct kp_service *s, const struct kp_svc_port *sp);
/* Whether endpoint e is hinted for zone. */
bool kp_endpoint_hinted_for(const struct kp_endpoint *e, const char *zone);
/* Upstream's topologyModeFromHints for the zone: true ("PreferSameZone")
 * when the Service is topology-aware, the zone is known, every ready
 * endpoint has zone hints and at least one is hinted for the zone. */
bool kp_topology_use_hints(const struct kp_service *s, const struct kp_endpoint *eps, size_t n, const char *zone);

/* Proxied by iptables: has an IPv4 ClusterIP and is not ExternalName. */
bool kp_svc_proxied(const struct kp_service *s);

const char *kp_proto_lower(uint8_t proto); /* "tcp" */
const char *kp_proto_upper(uint8_t proto); /* "TCP" */

#endif
