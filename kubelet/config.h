/*
 * config.h - the kubelet's configuration: command-line flags and the
 * KubeletConfiguration file (kubelet.config.k8s.io/v1beta1, YAML), merged
 * the way upstream merges them.
 *
 * Precedence, lowest first: upstream's v1beta1 defaults, the --config file,
 * then every flag given on the command line.  The merged result is kept as
 * a KubeletConfiguration document (`doc`) and read once into the typed
 * fields of struct kl_config, which is validated up front: a bad value is
 * an error naming the field or flag.  An unknown flag is an error (pflag's
 * "unknown flag: --foo"); an unknown field in the file is only logged, as
 * upstream's lenient decoding does.
 */
#ifndef KL_CONFIG_H
#define KL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define KL_DEFAULT_ROOT_DIR "/var/lib/kubelet"
#define KL_DEFAULT_RUNTIME_ENDPOINT "unix:///var/run/docker.sock"
#define KL_DEFAULT_PAUSE_IMAGE "pause:3.10"
/* The controller-manager's --local-path-root default. */

struct kl_config {
  json_t *doc; /* merged KubeletConfiguration (owned) */

  /* flags only (no config-file field) */
  char *kubeconfig;
  char *hostname_override;
  char *node_ip;
  char *root_dir;
  char *runtime_endpoint; /* "unix:///var/run/docker.sock" */
  char *runtime_socket;   /* the path part of runtime_endpoint */
  char *pause_image;
  char *non_masquerade_cidr;    /* traffic to it is not masqueraded ("" none) */
  char *host_network_container; /* runtime container holding the node's network ("" none) */
  /* The directory local-path volumes live in (absolute, no trailing
   * slash, not "/"): the kubelet creates and removes their directories
   * only directly inside it. */
  char *local_path_root;
  json_t *node_labels; /* object: --node-labels (owned) */
  char *bootstrap_kubeconfig; /* --bootstrap-kubeconfig ("" none) */
  char *cert_dir;             /* --cert-dir; default ROOT_DIR/pki */
  int v;

  /* KubeletConfiguration fields */
  char *static_pod_path;
  int64_t sync_frequency_ms;
  int64_t file_check_frequency_ms;
  char *address;
  int port;
  int read_only_port;
  char *tls_cert_file;
  char *tls_private_key_file;
  char *cluster_domain;
  json_t *cluster_dns; /* array of strings (owned) */
  int64_t node_status_update_frequency_ms;
  int64_t node_status_report_frequency_ms;
  int node_lease_duration_s;
  int64_t image_minimum_gc_age_ms;
  int image_gc_high_threshold_percent;
  int image_gc_low_threshold_percent;
  char *cgroup_root;
  bool cgroups_per_qos;
  char *cgroup_driver;
  int64_t runtime_request_timeout_ms;
  char *hairpin_mode;
  int max_pods;
  int64_t pod_pids_limit;
  char *resolv_conf;
  bool cpu_cfs_quota;
  int64_t cpu_cfs_quota_period_ms;
  double kube_api_qps;
  int kube_api_burst;
  bool serialize_image_pulls;
  json_t *eviction_hard; /* object signal -> threshold string (owned) */
  int64_t eviction_pressure_transition_period_ms;
  json_t *system_reserved; /* object resource -> quantity string (owned) */
  json_t *kube_reserved;
  bool register_node;
  json_t *register_with_taints; /* array of v1.Taint (owned) */
  int healthz_port;
  char *healthz_bind_address;
  int64_t container_log_max_size_bytes;
  int container_log_max_files;
  bool enable_server;
  bool fail_swap_on;
  char *provider_id;
  int64_t streaming_connection_idle_timeout_ms;
  int64_t shutdown_grace_period_ms;
  /* certificates and the kubelet API's security */
  bool rotate_certificates;  /* rotateCertificates */
  bool server_tls_bootstrap; /* serverTLSBootstrap */
  char *client_ca_file;      /* authentication.x509.clientCAFile ("" none) */
  bool anonymous_auth;       /* authentication.anonymous.enabled */
  bool webhook_authn;        /* authentication.webhook.enabled */
  int64_t webhook_cache_ttl_ms;
  bool webhook_authz; /* authorization.mode Webhook (else AlwaysAllow) */
  int64_t authz_allowed_ttl_ms, authz_denied_ttl_ms;
};

/*
 * Parses argv and the --config file into a new configuration.  Returns 0
 * with *out set; 1 when --help printed the usage (exit 0); -1 with a
 * message in err (the caller prints "Error: ..." and exits 1).  Warnings
 * for unknown config-file fields are logged.
 */
int kl_config_load(int argc, char **argv, struct kl_config **out, char *err, size_t errlen);
void kl_config_free(struct kl_config *c);

/* Pure helpers (unit-tested). */
/* --node-labels "a=b,c=d": new object, NULL on error (message in err). */
json_t *kl_parse_label_map(const char *s, char *err, size_t errlen);
/* --register-with-taints "k=v:NoSchedule,k2:NoExecute": new array of
 * taints, NULL on error. */
json_t *kl_parse_taints(const char *s, char *err, size_t errlen);
/* --eviction-hard "memory.available<100Mi,nodefs.available<10%": new
 * object signal -> threshold, NULL on error. */
json_t *kl_parse_eviction(const char *s, char *err, size_t errlen);
/* upstream's check of --node-labels in the kubernetes.io / k8s.io
 * namespaces; 0 or -1 with the upstream message. */
int kl_validate_node_labels(const json_t *labels, char *err, size_t errlen);
/* The KubeletConfiguration defaults (new reference). */
json_t *kl_config_defaults(void);
/* Fills doc's missing authentication, authorization, rotateCertificates
 * and serverTLSBootstrap fields: upstream's command-line defaults when
 * legacy (no --config: anonymous on, no webhook, AlwaysAllow), else the
 * v1beta1 defaults (anonymous off, TokenReview webhook, Webhook). */
void kl_config_auth_defaults(json_t *doc, bool legacy);
/* Fills the typed fields of c from doc (borrowed, kept by c after a
 * json_incref); 0 or -1 with the field named in err. */
int kl_config_from_doc(struct kl_config *c, json_t *doc, char *err, size_t errlen);

#endif
