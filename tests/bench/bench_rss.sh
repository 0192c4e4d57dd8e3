#!/usr/bin/env bash
# tests/bench/bench_rss.sh [PODS] - resident memory of the whole cluster:
# the control plane (kube-apiserver, kube-scheduler, kube-controller-manager)
# idle, and a node (kubelet, kube-proxy; dockerd and the containers not
# counted) running PODS pods (default 30), each figure taken after the
# cluster has been quiet for a while.  Prints the figures with their
# conditions; decides nothing.
#
# The cluster is deploy/docker-compose.yml with one worker (the end-to-end
# suite's harness, tests/e2e/cluster.sh), programs from $KUBE_BIN (build/).
# RSS is VmRSS of /proc/PID/status (RssAnon + RssFile + RssShmem), read
# inside each container; PSS would count shared libraries once per program.
set -uo pipefail
E2E_DIR=$(cd "$(dirname "$0")/../e2e" && pwd)
# shellcheck source=../e2e/lib.sh
source "$E2E_DIR/lib.sh"
# shellcheck source=../e2e/cluster.sh
source "$E2E_DIR/cluster.sh"
PODS=${1:-30}
SETTLE_S=${SETTLE_S:-45}
E2E_NODES=1

teardown() {
  local rc=$?
  trap - EXIT
  ((CLUSTER_STARTED)) && compose down -v --remove-orphans >/dev/null 2>&1
  rm -rf "$E2E_WORK"
  exit $rc
}
CLUSTER_STARTED=0
trap teardown EXIT
trap 'exit 130' INT TERM

# rss_kib CONTAINER PIDFILE-OR-1: VmRSS in KiB of a program in a container
rss_kib() {
  docker exec "$1" sh -c "p=\$( [ '$2' = 1 ] && echo 1 || cat '$2'); awk '/^VmRSS:/ {print \$2}' /proc/\$p/status"
}
rss_line() { # LABEL KIB
  printf '  %-26s %8.1f MiB\n' "$1" "$(awk -v k="$2" 'BEGIN {print k / 1024}')"
}
control_plane() { # TITLE
  local a s c total
  a=$(rss_kib "$(compose ps -q apiserver)" 1)
  s=$(rss_kib "$(compose ps -q scheduler)" 1)
  c=$(rss_kib "$(compose ps -q controller-manager)" 1)
  total=$((a + s + c))
  echo "$1"
  rss_line kube-apiserver "$a"
  rss_line kube-scheduler "$s"
  rss_line kube-controller-manager "$c"
  rss_line "control plane total" "$total"
  CP_TOTAL=$total
}
node_rss() { # TITLE
  local n k p
  n=$(node_containers | head -1)
  k=$(rss_kib "$n" /run/kube/kubelet.main)
  p=$(rss_kib "$n" /run/kube/kube-proxy.main)
  echo "$1"
  rss_line kubelet "$k"
  rss_line kube-proxy "$p"
  rss_line "node total" "$((k + p))"
  NODE_TOTAL=$((k + p))
}

preflight
ensure_debian_base || die "no debian:bookworm-slim image"
ensure_test_images || die "building the test images failed"
runtime_image
CLUSTER_STARTED=1
cluster_up || die "the cluster did not come up"
node=$(ready_nodes | head -1)
log "cluster up; quiet for ${SETTLE_S}s"
sleep "$SETTLE_S"
control_plane "control plane, idle (1 node, no workload):"
node_rss "node, idle (no pods):"

NS=bench
kube create namespace "$NS" >/dev/null
for i in $(seq 1 30); do kns get sa default >/dev/null 2>&1 && break; sleep 1; done
kns patch sa default -p '{"automountServiceAccountToken": false}' >/dev/null
kns apply -f - >/dev/null <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: idle}
spec:
  replicas: $PODS
  selector: {matchLabels: {app: idle}}
  template:
    metadata: {labels: {app: idle}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: $BUSYBOX_IMAGE
        command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 3600; done"]
YAML
kns expose deploy idle --port=80 --target-port=8080 >/dev/null
deadline=$((SECONDS + 600))
until running_pods app=idle "$PODS"; do
  ((SECONDS < deadline)) || die "not $PODS pods Running within 600s"
  sleep 2
done
log "$PODS pods Running on $node after $((SECONDS - T0))s; quiet for ${SETTLE_S}s"
sleep "$SETTLE_S"
control_plane "control plane, idle with $PODS pods and their Deployment, ReplicaSet, Service, EndpointSlice:"
node_rss "node with $PODS pods running:"
echo
echo "conditions: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg);" \
  "programs from $KUBE_BIN; SQLite storage; plain HTTP"
echo "targets: control plane < 48 MiB (measured $(awk -v k="$CP_TOTAL" 'BEGIN {printf "%.1f", k / 1024}') MiB)," \
  "node with $PODS pods < 32 MiB (measured $(awk -v k="$NODE_TOTAL" 'BEGIN {printf "%.1f", k / 1024}') MiB)"
