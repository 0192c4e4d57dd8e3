#!/usr/bin/env bash
# Custom resources next to ConfigMaps of the same size: durable creates/s
# and GETs/s through the same server, printed side by side with the ratio
# (the issue's target is at least 80%).  Figures only, never pass/fail.
# The server is pinned to core 0 and wrk to core 1.
#   tests/bench/bench_crd.sh [seconds-per-run]   (default 3)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=$ROOT/tests/bench
DUR=${1:-3}
BIN=${KUBE_BIN:-$ROOT/build}/apiserver/kube-apiserver
[[ -x "$BIN" ]] || { echo "build first (cmake --build build)"; exit 1; }
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 1; }
W=$(mktemp -d /tmp/kube-bench-crd.XXXXXX)
API_PID=
trap '[[ -n $API_PID ]] && kill $API_PID 2>/dev/null; sleep 0.3; rm -rf "$W"' EXIT
API_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
taskset -c 0 "$BIN" --insecure-port="$API_PORT" --secure-port=0 --data-dir="$W/data" >"$W/api.log" 2>&1 &
API_PID=$!
A=http://127.0.0.1:$API_PORT
for _ in $(seq 100); do curl -fs "$A/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS -o /dev/null -XPOST -H 'Content-Type: application/json' "$A/apis/apiextensions.k8s.io/v1/customresourcedefinitions" -d '{
  "apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"benches.bench.example.com"},
  "spec":{"group":"bench.example.com","scope":"Namespaced","names":{"plural":"benches","kind":"Bench"},
  "versions":[{"name":"v1","served":true,"storage":true,"schema":{"openAPIV3Schema":{"type":"object","properties":{
  "data":{"type":"object","properties":{"pad":{"type":"string","maxLength":4096}}}}}}}]}}'
for _ in $(seq 50); do curl -fs "$A/apis/bench.example.com/v1" >/dev/null 2>&1 && break; sleep 0.1; done
rps() { grep 'Requests/sec' | awk '{print $2}'; }
ratio() { python3 -c "print('%.0f%%' % (100.0 * $1 / max($2, 1e-9)))"; }

echo "# custom resources vs ConfigMaps of the same size"
echo "# machine: $(nproc) cores; server on core 0, wrk on core 1; 50 keep-alive clients; ${DUR}s per run"
declare -A C G
for k in cm cr; do
  C[$k]=$(BENCH_KIND=$k BENCH_RUN=c taskset -c 1 wrk -t1 -c50 -d${DUR}s -s "$B/create_kind.lua" "$A" 2>&1 | rps)
done
first() { curl -fsS "$1?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["metadata"]["name"])'; }
cm_url="$A/api/v1/namespaces/default/configmaps/$(first "$A/api/v1/namespaces/default/configmaps")"
cr_url="$A/apis/bench.example.com/v1/namespaces/default/benches/$(first "$A/apis/bench.example.com/v1/namespaces/default/benches")"
size_cm=$(curl -fsS "$cm_url" | wc -c); size_cr=$(curl -fsS "$cr_url" | wc -c)
G[cm]=$(taskset -c 1 wrk -t1 -c50 -d${DUR}s "$cm_url" 2>&1 | rps)
G[cr]=$(taskset -c 1 wrk -t1 -c50 -d${DUR}s "$cr_url" 2>&1 | rps)
echo "durable creates/s: ConfigMap ${C[cm]}, custom resource ${C[cr]} ($(ratio "${C[cr]}" "${C[cm]}") of ConfigMap)"
echo "GETs/s: ConfigMap ${G[cm]} ($size_cm bytes), custom resource ${G[cr]} ($size_cr bytes) ($(ratio "${G[cr]}" "${G[cm]}") of ConfigMap)"
