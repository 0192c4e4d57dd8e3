/*
 * dns.h - a pod's /etc/resolv.conf (as a CRI DNSConfig) and its managed
 * /etc/hosts, as upstream's kubelet forms them.
 *
 * dnsPolicy: ClusterFirst (the default) uses clusterDNS with the searches
 * NS.svc.DOMAIN svc.DOMAIN DOMAIN plus the host's, options ndots:5; a
 * hostNetwork pod with ClusterFirst behaves as Default;
 * ClusterFirstWithHostNet is ClusterFirst for hostNetwork pods too;
 * Default takes the node's resolv.conf (--resolv-conf); None only
 * dnsConfig.  dnsConfig is merged on top (servers and searches appended
 * without duplicates, options merged by name), then cut to 3 nameservers,
 * 32 search domains and 2048 characters of search line.
 */
#ifndef KL_DNS_H
#define KL_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

struct kl_dns_notes {
  bool missing_cluster_dns; /* ClusterFirst without clusterDNS: fell back to Default */
  char limit_message[512];  /* "" or the DNSConfigForming event message */
};

/* New CRI DNSConfig {"servers","searches","options"}. host_resolv is the
 * text of the node's resolv.conf (may be NULL). */
json_t *kl_dns_config(const json_t *pod, const json_t *cluster_dns, const char *cluster_domain, const char *host_resolv,
                      struct kl_dns_notes *notes);
/* Parses resolv.conf text. New arrays. */
void kl_parse_resolv_conf(const char *text, json_t **servers, json_t **searches, json_t **options);
/* The managed /etc/hosts of the pod (caller frees). */
char *kl_hosts_file(const json_t *pod, const char *pod_ip, const char *cluster_domain, const char *host_hosts);
/* The pod's hostname: spec.hostname or its name, at most 63 characters. */
void kl_pod_hostname(const json_t *pod, char *out, size_t len);

#endif
