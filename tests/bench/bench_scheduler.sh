#!/usr/bin/env bash
# kube-scheduler throughput in the shape of upstream scheduler_perf's
# SchedulingBasic: N fake Nodes (4 cpu, 32Gi, 110 pods) and M pending Pods
# (100m cpu, 100Mi) exist before the scheduler starts; the figure is the
# time from the scheduler's start until a watch has seen every pod bound
# (so it includes the scheduler's initial LIST).  The API server runs on
# core 0, the scheduler on core 1, the load generator and watcher
# unpinned.  Prints figures, never decides pass or fail.
#   tests/bench/bench_scheduler.sh [NODES PODS]...   default: 500 1000 5000 10000
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${KUBE_BIN:-$ROOT/build}
QPS=${QPS:-5000}
BURST=${BURST:-5000}
[[ -x "$BIN/apiserver/kube-apiserver" && -x "$BIN/scheduler/kube-scheduler" ]] || { echo "build first"; exit 1; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
W=$(mktemp -d /tmp/kube-bench.XXXXXX)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill $p 2>/dev/null || true; done; sleep 0.3; rm -rf "$W"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
[[ $# -ge 2 ]] || set -- 500 1000 5000 10000

echo "# kube-scheduler benchmark (SchedulingBasic shape)"
echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "# apiserver on core 0, scheduler on core 1; --kube-api-qps=$QPS --kube-api-burst=$BURST; --leader-elect=false"
while [[ $# -ge 2 ]]; do
  N=$1 M=$2; shift 2
  P=$(port); rm -rf "$W/data"
  taskset -c 0 "$BIN/apiserver/kube-apiserver" --insecure-bind-address=127.0.0.1 --insecure-port="$P" --secure-port=0 \
    --data-dir="$W/data" >"$W/api.log" 2>&1 &
  API=$!; PIDS+=("$API")
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$P/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
  URL=http://127.0.0.1:$P
  RV=$(python3 "$ROOT/tests/bench/sched_load.py" create "$URL" "$N" "$M")
  cat >"$W/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters: [{name: b, cluster: {server: "$URL"}}]
users: [{name: b, user: {}}]
contexts: [{name: b, context: {cluster: b, user: b}}]
current-context: b
KC
  coproc WATCH { exec python3 "$ROOT/tests/bench/sched_load.py" wait "$URL" "$M" "$RV"; }
  read -r line <&"${WATCH[0]}"   # "ready"
  api_cpu0=$(awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' /proc/$API/stat)
  api_sys0=$(awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", $15 / hz}' /proc/$API/stat)
  echo go >&"${WATCH[1]}"
  taskset -c 1 "$BIN/scheduler/kube-scheduler" --kubeconfig="$W/kubeconfig" --leader-elect=false --secure-port=0 \
    --kube-api-qps="$QPS" --kube-api-burst="$BURST" >"$W/sched.log" 2>&1 &
  S=$!; PIDS+=("$S")
  read -r secs first <&"${WATCH[0]}"
  rss=$(awk '/VmRSS/{print $2}' /proc/$S/status)
  # CPU the scheduler used (user+sys), less sensitive than wall time to
  # whatever else the machine runs.
  cpu=$(awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' /proc/$S/stat)
  cpu_split=$(awk -v hz="$(getconf CLK_TCK)" '{printf "user %.2f s, system %.2f s", $14 / hz, $15 / hz}' /proc/$S/stat)
  api_cpu=$(awk -v hz="$(getconf CLK_TCK)" -v c0="$api_cpu0" '{printf "%.2f", ($14 + $15) / hz - c0}' /proc/$API/stat)
  api_sys=$(awk -v hz="$(getconf CLK_TCK)" -v c0="$api_sys0" '{printf "%.2f", $15 / hz - c0}' /proc/$API/stat)
  sleep 3 # the scheduler returns freed pages once it is idle
  idle=$(awk '/VmRSS/{print $2}' /proc/$S/status); hwm=$(awk '/VmHWM/{print $2}' /proc/$S/status)
  printf '%d nodes, %d pods: all bound in %.2f s = %.0f pods/s (first bound after %.2f s; scheduler CPU %.2f s (%s) = %.0f pods per CPU-second); RSS %d MiB at the end, %d MiB idle, peak %d MiB; API server CPU %.2f s (system %.2f s)\n' \
    "$N" "$M" "$secs" "$(echo "$M / $secs" | bc -l)" "$first" "$cpu" "$cpu_split" "$(echo "$M / $cpu" | bc -l)" $((rss / 1024)) $((idle / 1024)) $((hwm / 1024)) "$api_cpu" "$api_sys"
  kill "$S" "$API"; wait "$S" "$API" 2>/dev/null || true
done
