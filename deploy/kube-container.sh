#!/usr/bin/env bash
# deploy/kube-container.sh - entry point of the runtime image for the roles
# that need more than one program's command line (docker-compose.yml):
#
#   kube-container apiserver [FLAG...]
#       writes the host's kubeconfig into /kubeconfig-out (a mounted
#       directory; the server is http://127.0.0.1:$KUBE_API_PORT, the port
#       the API server is published on) and runs kube-apiserver, advertising
#       its address on the cluster network (the alias kube-apiserver).
#   kube-container bootstrap
#       waits for the API server ($KUBE_API_SERVER) and publishes the
#       cluster configuration nodes join with (cluster-config.sh), then exits.
#   kube-container node
#       a worker: remounts /sys and /proc/sys/net read-write, starts its own dockerd (data on
#       the volume at /var/lib/docker; containers' cgroups nested under this
#       container's own), joins the cluster with kube-join.sh exactly as a
#       real machine does (the units run by unit-run.sh, there being no
#       systemd), and stays in the foreground; SIGTERM stops kube-proxy,
#       the kubelet and dockerd (and with it the pods' containers).
#
# Environment: KUBE_APISERVER_EXTRA_ARGS (more kube-apiserver flags),
# KUBE_API_SERVER (http://kube-apiserver:8080), KUBE_API_PORT
# (6443), KUBE_DNS_UPSTREAM (cluster DNS forwarders; default: the node's
# resolv.conf), KUBELET_CONFIG_EXTRA, KUBE_PROXY_CONFIG_EXTRA (YAML lines
# for the cluster's kubelet and kube-proxy configuration),
# KUBE_NODE_LABELS.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$(readlink -f "$0")")/lib/common.sh"

KUBE_API_SERVER=${KUBE_API_SERVER:-http://kube-apiserver:8080}

role_apiserver() {
  local ip
  for _ in $(seq 1 50); do
    ip=$(resolve_ipv4 kube-apiserver)
    [[ -n "$ip" ]] && break
    sleep 0.2
  done
  [[ -n "$ip" ]] || die "cannot resolve kube-apiserver (the alias on the cluster network)"
  if [[ -d /kubeconfig-out ]]; then
    write_kubeconfig /kubeconfig-out/admin.conf "http://127.0.0.1:${KUBE_API_PORT:-6443}" admin
    # readable by whoever owns the mounted directory on the host
    chown "$(stat -c %u:%g /kubeconfig-out)" /kubeconfig-out/admin.conf
  fi
  # shellcheck disable=SC2086
  exec kube-apiserver --insecure-bind-address=0.0.0.0 --insecure-port=8080 --advertise-address="$ip" \
    --data-dir=/var/lib/kube-apiserver "$@" ${KUBE_APISERVER_EXTRA_ARGS:-}
}

role_bootstrap() {
  wait_for "the API server at $KUBE_API_SERVER" 300 api_ready "$KUBE_API_SERVER" ||
    die "the API server at $KUBE_API_SERVER did not become ready"
  local args=(--server "$KUBE_API_SERVER")
  [[ -n "${KUBE_DNS_UPSTREAM:-}" ]] && args+=(--dns-upstream "$KUBE_DNS_UPSTREAM")
  [[ -n "${KUBE_CLUSTER_CIDR:-}" ]] && args+=(--cluster-cidr "$KUBE_CLUSTER_CIDR")
  exec "$KUBE_DEPLOY/cluster-config.sh" "${args[@]}"
}

DOCKERD_PID=""
node_stop() {
  trap - TERM INT
  echo "stopping kube-proxy, kubelet and dockerd"
  "$KUBE_DEPLOY/unit-run.sh" stop kube-proxy kubelet || true
  if [[ -n "$DOCKERD_PID" ]]; then
    kill -TERM "$DOCKERD_PID" 2>/dev/null || true
    wait "$DOCKERD_PID" 2>/dev/null || true
  fi
  exit 0
}

role_node() {
  mount -o remount,rw /sys 2>/dev/null || warn "could not remount /sys read-write"
  # The network sysctls are this container's own (its network namespace):
  # writable as on a real machine (kube-proxy sets route_localnet, the
  # kubelet the bridge's), while the rest of /proc/sys stays read-only.
  { mount --bind /proc/sys/net /proc/sys/net && mount -o remount,rw,bind /proc/sys/net; } 2>/dev/null ||
    warn "could not make /proc/sys/net writable"
  local cg
  cg=$(container_cgroup)
  mkdir -p /var/log/kube
  # a fresh boot (also after `docker stop`/`start`): nothing recorded in
  # /run from the last one is running
  rm -rf /run/kube /var/run/docker.pid
  trap node_stop TERM INT
  # No bridge and no iptables rules of dockerd's own: the kubelet wires
  # every pod itself (sandboxes have network mode none) and kube-proxy owns
  # the NAT table.
  dockerd --host=unix:///var/run/docker.sock --bridge=none --iptables=false --ip-masq=false \
    --exec-opt native.cgroupdriver=cgroupfs ${cg:+--cgroup-parent="$cg/docker"} \
    >>/var/log/kube/dockerd.log 2>&1 &
  DOCKERD_PID=$!
  wait_for "dockerd" 60 docker_up || die "dockerd did not start; see /var/log/kube/dockerd.log"

  local args=(--server "$KUBE_API_SERVER" --no-systemd --wait 0)
  [[ -n "${KUBE_NODE_LABELS:-}" ]] && args+=(--node-labels "$KUBE_NODE_LABELS")
  until "$KUBE_DEPLOY/kube-join.sh" "${args[@]}"; do
    echo "kube-join failed; trying again in 5s"
    sleep 5 & wait $!
  done
  while :; do
    sleep 3600 & wait $! || true
  done
}

case "${1:-}" in
  apiserver) shift; role_apiserver "$@" ;;
  bootstrap) role_bootstrap ;;
  node) role_node ;;
  *) sed -n '2,30p' "$0" >&2; exit 2 ;;
esac
