/*
 * app.h - the kube-proxy program: flags and KubeProxyConfiguration,
 * informers feeding the model, the syncer, the DNS server and the HTTP
 * endpoints.
 */
#ifndef KP_APP_H
#define KP_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct kp_options {
  const char *config;
  const char *kubeconfig, *master, *hostname_override, *proxy_mode, *cluster_cidr;
  const char *healthz_bind_address, *metrics_bind_address, *bind_address, *nodeport_addresses;
  bool masquerade_all, cleanup, localhost_nodeports;
  int masquerade_bit;
  int64_t sync_period_ms, min_sync_period_ms;
  double kube_api_qps;
  int kube_api_burst;
  int v;
  /* the cluster DNS (beyond upstream) */
  bool dns_enabled;
  const char *cluster_domain, *dns_upstream, *dns_interface, *dns_service;
  int dns_port;
};

void kp_options_defaults(struct kp_options *o);
/* Applies a KubeProxyConfiguration document (borrowed; strings point
 * into it, so keep it alive).  0, or -1 with a message naming the field. */
int kp_options_from_config(struct kp_options *o, const json_t *doc, char *err, size_t errlen);
/* Checks values upstream validates ("unsupported proxy mode"...). */
int kp_options_validate(const struct kp_options *o, char *err, size_t errlen);

int kp_main(int argc, char **argv);

#endif
