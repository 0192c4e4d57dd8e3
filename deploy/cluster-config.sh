#!/usr/bin/env bash
# deploy/cluster-config.sh - publishes the cluster-wide configuration that
# nodes read when they join, as kubeadm's upload-config and addon phases
# do.  Run by kube-init.sh and local-up.sh on the control plane machine,
# and by the compose file's one-shot `bootstrap` service.  Idempotent.
#
#   cluster-config.sh --server URL [--public-server URL]
#       [--cluster-cidr CIDR] [--cluster-dns IP] [--cluster-domain DOMAIN]
#       [--dns-upstream IP[:PORT],...]
#
# Writes, through the API server at URL:
#   kube-system/kube-dns          Service at the cluster DNS address (created
#                                 only when missing); kube-proxy answers it
#                                 on every node
#   kube-system/kubelet-config    ConfigMap, key "kubelet": the
#                                 KubeletConfiguration every node starts from
#   kube-system/kube-proxy        ConfigMap, key "config.conf": the
#                                 KubeProxyConfiguration
#   kube-public/cluster-info      ConfigMap, key "kubeconfig": where the API
#                                 server is (--public-server, default URL),
#                                 read by joining nodes before they have
#                                 credentials.  When the API server serves
#                                 TLS it also carries the CA certificate and
#                                 the bootstrap tokens' signatures (the join
#                                 checks both).
# Extra KubeletConfiguration / KubeProxyConfiguration fields (YAML lines)
# may be given in $KUBELET_CONFIG_EXTRA / $KUBE_PROXY_CONFIG_EXTRA.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$(readlink -f "$0")")/lib/common.sh"

server="" public="" cidr=$KUBE_CLUSTER_CIDR_DEFAULT dns=$KUBE_CLUSTER_DNS_DEFAULT
domain=$KUBE_CLUSTER_DOMAIN_DEFAULT upstream=""
while (($#)); do
  case "$1" in
    --server=*) server=${1#*=} ;;
    --server) server=$2; shift ;;
    --public-server=*) public=${1#*=} ;;
    --public-server) public=$2; shift ;;
    --cluster-cidr=*) cidr=${1#*=} ;;
    --cluster-cidr) cidr=$2; shift ;;
    --cluster-dns=*) dns=${1#*=} ;;
    --cluster-dns) dns=$2; shift ;;
    --cluster-domain=*) domain=${1#*=} ;;
    --cluster-domain) domain=$2; shift ;;
    --dns-upstream=*) upstream=${1#*=} ;;
    --dns-upstream) upstream=$2; shift ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) die "cluster-config.sh: unknown argument $1" ;;
  esac
  shift
done
[[ -n "$server" ]] || die "cluster-config.sh: --server is required"
[[ -n "$public" ]] || public=$server

indent() { sed 's/^/    /'; }

kubelet_config() {
  cat <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
clusterDNS:
- $dns
clusterDomain: $domain
cgroupDriver: cgroupfs
failSwapOn: false
# The kubelet API as before the kubelet read these fields (a config file
# otherwise brings v1beta1's anonymous off, webhook on): the API servers
# here do not yet present --kubelet-client-certificate.
authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false}
authorization: {mode: AlwaysAllow}
YAML
  [[ -z "${KUBELET_CONFIG_EXTRA:-}" ]] || printf '%s\n' "$KUBELET_CONFIG_EXTRA"
}

proxy_config() {
  cat <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clusterCIDR: $cidr
dns:
  enabled: true
  clusterDomain: $domain
YAML
  if [[ -n "$upstream" ]]; then
    echo "  upstreamServers:"
    tr ',' '\n' <<<"$upstream" | sed 's/^/  - /'
  fi
  [[ -z "${KUBE_PROXY_CONFIG_EXTRA:-}" ]] || printf '%s\n' "$KUBE_PROXY_CONFIG_EXTRA"
}

for ns in kube-system kube-public; do
  api_create_yaml "$server" /api/v1/namespaces "$ns" <<YAML
apiVersion: v1
kind: Namespace
metadata: {name: $ns}
YAML
done

api_create_yaml "$server" /api/v1/namespaces/kube-system/services kube-dns <<YAML
apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: kube-system
  labels: {k8s-app: kube-dns, kubernetes.io/cluster-service: "true", kubernetes.io/name: CoreDNS}
spec:
  clusterIP: $dns
  selector: {k8s-app: kube-dns}
  ports:
  - {name: dns, port: 53, protocol: UDP, targetPort: 53}
  - {name: dns-tcp, port: 53, protocol: TCP, targetPort: 53}
  - {name: metrics, port: 9153, protocol: TCP, targetPort: 9153}
YAML

api_put_yaml "$server" /api/v1/namespaces/kube-system/configmaps kubelet-config <<YAML
apiVersion: v1
kind: ConfigMap
metadata: {name: kubelet-config, namespace: kube-system}
data:
  kubelet: |
$(kubelet_config | indent)
YAML

api_put_yaml "$server" /api/v1/namespaces/kube-system/configmaps kube-proxy <<YAML
apiVersion: v1
kind: ConfigMap
metadata: {name: kube-proxy, namespace: kube-system, labels: {app: kube-proxy}}
data:
  config.conf: |
$(proxy_config | indent)
YAML

api_put_yaml "$server" /api/v1/namespaces/kube-public/configmaps cluster-info <<YAML
apiVersion: v1
kind: ConfigMap
metadata: {name: cluster-info, namespace: kube-public}
data:
  kubeconfig: |
    apiVersion: v1
    kind: Config
    clusters:
    - name: ""
      cluster:
        server: $public
    contexts: null
    current-context: ""
    preferences: {}
    users: null
YAML
echo "cluster configuration published (kube-system/kubelet-config, kube-system/kube-proxy, kube-public/cluster-info, kube-system/kube-dns)"
