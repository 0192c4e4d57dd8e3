#!/usr/bin/env bash
# deploy/kube-join.sh - makes this machine a worker node of a cluster, in
# the spirit of `kubeadm join`: the one command that kube-init.sh prints on
# the control plane machine.
#
#   kube-join.sh --server URL [options]
#
#   --server URL          the API server (http://HOST:PORT)
#   --token T --discovery-token-ca-cert-hash sha256:H
#                         bootstrap token and the hash of the cluster CA's
#                         public key (SHA-256 over its DER-encoded
#                         SubjectPublicKeyInfo), as kubeadm takes them;
#                         refused while the API server serves plain HTTP
#   --node-name NAME      default: this machine's host name
#   --node-ip IP          default: the address this machine reaches the API server from
#   --node-labels k=v,... labels the kubelet registers the node with
#   --cgroup-root PATH    kubelet's --cgroup-root (default: / , or the
#                         container's own cgroup inside a container)
#   --bin-dir DIR         take kubelet and kube-proxy from DIR (a build
#                         directory or a directory holding both programs)
#   --kubelet-arg ARG, --kube-proxy-arg ARG   extra flags (repeatable)
#   --no-systemd          start the units with unit-run.sh (containers);
#                         the default when systemd is not running
#   --wait SECONDS        how long to wait for the node to be Ready (default 180; 0: do not wait)
#
# Steps: discovery (the cluster's kube-public/cluster-info), the node
# programs (installed programs, --bin-dir, or built from this checkout),
# the container runtime, configuration (kubeconfigs; the kubelet's and
# kube-proxy's configuration from the cluster's kube-system/kubelet-config
# and kube-system/kube-proxy ConfigMaps; per-node flags in
# /var/lib/kubelet/kubelet-flags.env and
# /var/lib/kube-proxy/kube-proxy-flags.env), the systemd units, start,
# and the wait for the node to be Ready.  Running it again rewrites the
# configuration and restarts both programs; pods keep running.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$(readlink -f "$0")")/lib/common.sh"

server="" token="" ca_hash="" node_name="" node_ip="" labels="" cgroup_root=""
bin_dir="" use_systemd="" wait_s=180
kubelet_extra=() proxy_extra=()
while (($#)); do
  case "$1" in
    --*=*) set -- "${1%%=*}" "${1#*=}" "${@:2}"; continue ;;
    --server) server=$2; shift ;;
    --token) token=$2; shift ;;
    --discovery-token-ca-cert-hash) ca_hash=$2; shift ;;
    --node-name) node_name=$2; shift ;;
    --node-ip) node_ip=$2; shift ;;
    --node-labels) labels=$2; shift ;;
    --cgroup-root) cgroup_root=$2; shift ;;
    --bin-dir) bin_dir=$2; shift ;;
    --kubelet-arg) kubelet_extra+=("$2"); shift ;;
    --kube-proxy-arg) proxy_extra+=("$2"); shift ;;
    --no-systemd) use_systemd=0 ;;
    --wait) wait_s=$2; shift ;;
    -h|--help) sed -n '2,36p' "$0"; exit 0 ;;
    *) die "kube-join.sh: unknown argument $1 (see --help)" ;;
  esac
  shift
done
[[ -n "$server" ]] || die "kube-join.sh: --server URL is required (kube-init.sh prints the whole command)"
need_root kube-join.sh
if [[ -z "$use_systemd" ]]; then if have_systemd; then use_systemd=1; else use_systemd=0; fi; fi

LOG_DIR=/var/log/kube
mkdir -p "$LOG_DIR"
LOG=$LOG_DIR/join.log
steps_total 7

# ---- 1. discovery ----
step "discovering the cluster at $server" "$LOG"
# Token discovery (kubeadm's): fetch cluster-info over TLS without trusting
# the server yet, check that its CA's public key hashes to
# --discovery-token-ca-cert-hash and that cluster-info carries the token's
# JWS signature, then bootstrap the kubelet's client certificate with the
# token.  All of it needs the API server's TLS port.
if [[ -n "$token" || -n "$ca_hash" ]]; then
  [[ "$server" == https://* ]] ||
    die "--token/--discovery-token-ca-cert-hash need the API server's TLS port; $server is plain HTTP (this cluster has no authentication yet)"
  die "token discovery is not available in this version: the API server has no TLS bootstrap yet"
fi
wait_for "the API server at $server" 120 api_ready "$server" || die "the API server at $server does not answer /readyz"
info_kubeconfig=$(api_get "$server" /api/v1/namespaces/kube-public/configmaps/cluster-info | jq -r '.data.kubeconfig // empty') ||
  die "cannot read kube-public/cluster-info from $server"
[[ -n "$info_kubeconfig" ]] ||
  die "kube-public/cluster-info has no kubeconfig: was the control plane set up by kube-init.sh (or deploy/cluster-config.sh)?"
cluster_server=$(awk '$1 == "server:" {print $2; exit}' <<<"$info_kubeconfig")
[[ -n "$cluster_server" ]] || cluster_server=$server
info "API server: $cluster_server"

# ---- 2. node programs ----
step "installing the node programs" "$LOG"
if [[ -n "$bin_dir" ]]; then
  if [[ -x "$bin_dir/kubelet/kubelet" ]]; then install_programs "$bin_dir" /usr/local/bin kubelet kube-proxy
  else
    for p in kubelet kube-proxy; do
      [[ -x "$bin_dir/$p" ]] || die "$bin_dir/$p is missing"
      cmp -s "$bin_dir/$p" "/usr/local/bin/$p" || install -m 0755 "$bin_dir/$p" "/usr/local/bin/$p"
    done
  fi
elif [[ -n "$KUBE_SRC" ]]; then
  "$KUBE_DEPLOY/install-deps.sh" --node >>"$LOG" 2>&1 || die "installing packages failed"
  info "building kubelet and kube-proxy in $KUBE_SRC/build"
  build_from_checkout "$LOG" || die "the build failed"
  install_programs "$KUBE_SRC/build" /usr/local/bin kubelet kube-proxy
elif [[ ! -x /usr/local/bin/kubelet || ! -x /usr/local/bin/kube-proxy ]]; then
  die "kubelet/kube-proxy are not installed and there is no checkout to build them from (use --bin-dir)"
fi
if [[ -x "$KUBE_DEPLOY/install-deps.sh" ]]; then
  "$KUBE_DEPLOY/install-deps.sh" --runtime-only --node >>"$LOG" 2>&1 || die "installing docker.io, iptables, iproute2 failed"
fi
info "kubelet and kube-proxy in /usr/local/bin"

# ---- 3. container runtime ----
step "checking the container runtime" "$LOG"
if ! docker_up; then
  if ((use_systemd)); then systemctl enable --now docker >>"$LOG" 2>&1 || die "cannot start docker.service"; fi
  wait_for "dockerd (/var/run/docker.sock)" 60 docker_up || die "the container runtime does not answer on /var/run/docker.sock"
fi

# ---- 4. configuration ----
step "writing the node's configuration" "$LOG"
[[ -n "$node_name" ]] || node_name=$(hostname | tr '[:upper:]' '[:lower:]')
if [[ -z "$node_ip" ]]; then
  api_ip=$(resolve_ipv4 "$(host_of "$cluster_server")")
  [[ -n "$api_ip" ]] || die "cannot resolve $(host_of "$cluster_server")"
  node_ip=$(source_ip_for "$api_ip")
  [[ -n "$node_ip" ]] || die "no route to the API server at $api_ip; give --node-ip"
fi
[[ -n "$cgroup_root" ]] || cgroup_root=$(container_cgroup)
info "node $node_name, address $node_ip"

kubelet_cfg=$(api_get "$server" /api/v1/namespaces/kube-system/configmaps/kubelet-config | jq -r '.data.kubelet // empty') ||
  die "cannot read kube-system/kubelet-config"
proxy_cfg=$(api_get "$server" /api/v1/namespaces/kube-system/configmaps/kube-proxy | jq -r '.data["config.conf"] // empty') ||
  die "cannot read kube-system/kube-proxy"
[[ -n "$kubelet_cfg" && -n "$proxy_cfg" ]] || die "the cluster's kubelet-config or kube-proxy ConfigMap is empty"

mkdir -p /etc/kubernetes /var/lib/kubelet /var/lib/kube-proxy
write_kubeconfig /etc/kubernetes/kubelet.conf "$cluster_server" "system:node:$node_name"
write_kubeconfig /etc/kubernetes/proxy.conf "$cluster_server" system:kube-proxy
printf '%s\n' "$kubelet_cfg" >/var/lib/kubelet/config.yaml
printf '%s\n' "$proxy_cfg" >/var/lib/kube-proxy/config.conf

kargs=(--config=/var/lib/kubelet/config.yaml --kubeconfig=/etc/kubernetes/kubelet.conf
  --hostname-override="$node_name" --node-ip="$node_ip")
[[ -n "$cgroup_root" ]] && kargs+=(--cgroup-root="$cgroup_root")
[[ -n "$labels" ]] && kargs+=(--node-labels="$labels")
kargs+=("${kubelet_extra[@]}")
pargs=(--config=/var/lib/kube-proxy/config.conf --kubeconfig=/etc/kubernetes/proxy.conf
  --hostname-override="$node_name" --bind-address="$node_ip")
pargs+=("${proxy_extra[@]}")
for a in "${kargs[@]}" "${pargs[@]}"; do [[ "$a" != *[[:space:]\"\$]* ]] || die "flag with spaces or quotes: $a"; done
printf '# written by kube-join.sh; your own flags go to /etc/default/kubelet (KUBELET_EXTRA_ARGS)\nKUBELET_ARGS="%s"\n' \
  "${kargs[*]}" >/var/lib/kubelet/kubelet-flags.env
printf '# written by kube-join.sh; your own flags go to /etc/default/kube-proxy (KUBE_PROXY_EXTRA_ARGS)\nKUBE_PROXY_ARGS="%s"\n' \
  "${pargs[*]}" >/var/lib/kube-proxy/kube-proxy-flags.env

# ---- 5. units ----
step "installing the systemd units kubelet.service and kube-proxy.service" "$LOG"
mkdir -p /etc/systemd/system
for u in kubelet kube-proxy; do
  cmp -s "$KUBE_DEPLOY/systemd/$u.service" "/etc/systemd/system/$u.service" ||
    install -m 0644 "$KUBE_DEPLOY/systemd/$u.service" "/etc/systemd/system/$u.service"
done

# ---- 6. start ----
if ((use_systemd)); then
  step "starting kubelet and kube-proxy (systemd)" "$LOG"
  { systemctl daemon-reload && systemctl enable kubelet kube-proxy && systemctl restart kubelet kube-proxy; } >>"$LOG" 2>&1 ||
    die "systemctl could not start the units (journalctl -u kubelet -u kube-proxy)"
  node_logs="journalctl -u kubelet -u kube-proxy"
else
  step "starting kubelet and kube-proxy (no systemd here: unit-run.sh)" "$LOG"
  "$KUBE_DEPLOY/unit-run.sh" restart kubelet kube-proxy >>"$LOG" 2>&1 || die "unit-run.sh could not start the units"
  node_logs="$LOG_DIR/kubelet.log and $LOG_DIR/kube-proxy.log"
fi

# ---- 7. wait ----
node_ready() {
  api_get "$server" "/api/v1/nodes/$node_name" |
    jq -e '.status.conditions[]? | select(.type == "Ready" and .status == "True")' >/dev/null
}
if ((wait_s > 0)); then
  step "waiting for node $node_name to be Ready" "$LOG"
  _STEP_LOG=""
  wait_for "node $node_name Ready" "$wait_s" node_ready || die "node $node_name is not Ready after ${wait_s}s; see $node_logs"
else
  step "not waiting for the node to be Ready (--wait 0)"
fi

cat <<MSG

This node has joined the cluster as $node_name.
  kubectl get nodes          (on the control plane machine)
  logs: $node_logs
MSG
