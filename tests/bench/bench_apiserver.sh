#!/usr/bin/env bash
# kube-apiserver benchmarks; prints figures with their conditions, never
# decides pass or fail.  The server is pinned to core 0 and the load
# generator (wrk) to core 1; nginx serves a static file of the same size as
# the objects to the same load generator, as this machine's ceiling.
#   tests/bench/bench_apiserver.sh [seconds-per-run]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=$ROOT/tests/bench
DUR=${1:-10}
BIN=${KUBE_BIN:-$ROOT/build}/apiserver/kube-apiserver
[[ -x "$BIN" ]] || { echo "build first (cmake --build build)"; exit 1; }
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 1; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
W=$(mktemp -d /tmp/kube-bench.XXXXXX)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill $p 2>/dev/null || true; done; sleep 0.3; rm -rf "$W"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_api() {
  API_PORT=$(port); rm -rf "$W/data"
  taskset -c 0 "$BIN" --insecure-port="$API_PORT" --secure-port=0 --data-dir="$W/data" >"$W/api.log" 2>&1 &
  API_PID=$!; PIDS+=("$API_PID")
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$API_PORT/readyz" >/dev/null 2>&1 && return; sleep 0.1; done
  echo "apiserver did not start"; cat "$W/api.log"; exit 1
}
rps() { grep 'Requests/sec' | awk '{print $2}'; }
# CPU the server spent (user+system clock ticks), and per request: a figure
# that a busy or shared machine changes far less than requests/s.
ticks() { awk '{print $14 + $15}' "/proc/$API_PID/stat"; }
reqs() { grep -E '[0-9]+ requests in' | awk '{print $1}'; }
cpu_per_req() { python3 -c "print('%.1f' % (($2 - $1) * 1e6 / $(getconf CLK_TCK) / max(1, $3)))"; }
lat() { grep -E '^ +Latency' | awk '{print $2}'; }

echo "# kube-apiserver benchmark"
echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/{print $2}') GiB"
echo "# server pinned to core 0, wrk pinned to core 1, keep-alive, ${DUR}s per run, objects ~1 KB JSON"
start_api
A=http://127.0.0.1:$API_PORT

for c in 1 50; do
  t0=$(ticks)
  out=$(BENCH_RUN=c$c taskset -c 1 wrk -t1 -c$c -d${DUR}s -s "$B/create.lua" "$A" 2>&1)
  echo "durable creates/s, $c client(s): $(rps <<<"$out") (mean latency $(lat <<<"$out"); server CPU $(cpu_per_req "$t0" "$(ticks)" "$(reqs <<<"$out")") us/request)"
done
curl -fsS -X POST -H 'Content-Type: application/json' -o /dev/null \
  -d "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"target\"},\"data\":{\"pad\":\"$(head -c 850 /dev/zero | tr '\0' x)\"}}" \
  "$A/api/v1/namespaces/default/configmaps"
size=$(curl -fsS "$A/api/v1/namespaces/default/configmaps/target" | wc -c)
for c in 1 50; do
  t0=$(ticks)
  out=$(taskset -c 1 wrk -t1 -c$c -d${DUR}s "$A/api/v1/namespaces/default/configmaps/target" 2>&1)
  echo "GETs/s, $c client(s): $(rps <<<"$out") (object $size bytes, mean latency $(lat <<<"$out"); server CPU $(cpu_per_req "$t0" "$(ticks)" "$(reqs <<<"$out")") us/request)"
  [[ $c == 50 ]] && GET50=$(rps <<<"$out")
done

# nginx ceiling: same load generator, same size, same cores
if command -v nginx >/dev/null; then
  NPORT=$(port); mkdir -p "$W/www"; head -c "$size" /dev/zero | tr '\0' x >"$W/www/obj.json"
  cat >"$W/nginx.conf" <<NG
worker_processes 1;
daemon off;
pid $W/nginx.pid;
error_log $W/nginx.err;
events { worker_connections 4096; }
http { access_log off; server { listen 127.0.0.1:$NPORT; root $W/www; } }
NG
  taskset -c 0 nginx -c "$W/nginx.conf" -p "$W" &
  PIDS+=($!); sleep 0.5
  out=$(taskset -c 1 wrk -t1 -c50 -d${DUR}s "http://127.0.0.1:$NPORT/obj.json" 2>&1)
  NG=$(rps <<<"$out")
  echo "nginx static file ($size bytes), 50 clients: $NG req/s"
  python3 -c "print('GETs/s at 50 clients as a share of nginx: %.0f%%' % (100*float('$GET50')/float('$NG')))"
fi

# 10,000 pods: create, list, RSS
kill "$API_PID"; wait "$API_PID" 2>/dev/null || true
start_api; A=http://127.0.0.1:$API_PORT
# the ServiceAccount admission wants the pods' account (no controller-manager runs)
curl -fsS -X POST -H 'Content-Type: application/json' -o /dev/null "$A/api/v1/namespaces/default/serviceaccounts" \
  -d '{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"default"}}'
BENCH_MAX=10001 taskset -c 1 wrk -t1 -c50 -d120s -s "$B/pods.lua" "$A" >/dev/null 2>&1 || true
n=$(curl -fsS "$A/api/v1/namespaces/default/pods?limit=1" >/dev/null; curl -fsS "$A/api/v1/pods" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')
bytes=$(curl -fsS "$A/api/v1/pods" | wc -c)
times=$(for i in 1 2 3 4 5; do taskset -c 1 curl -fsS -o /dev/null -w '%{time_total}\n' "$A/api/v1/pods"; done | sort -n)
echo "JSON LIST of $n pods ($bytes bytes): median $(sed -n 3p <<<"$times" | awk '{printf "%.1f", $1*1000}') ms (min $(head -1 <<<"$times" | awk '{printf "%.1f", $1*1000}') ms, 5 runs)"
echo "RSS with $n pods stored: $(awk '/VmRSS/{printf "%.1f MiB", $2/1024}' /proc/$API_PID/status)"

# watch fan-out
taskset -c 1 python3 "$B/watch_latency.py" "$API_PORT" 1000 20 || echo "watch latency run failed"
echo "RSS after 1,000 watchers: $(awk '/VmRSS/{printf "%.1f MiB", $2/1024}' /proc/$API_PID/status)"
