#!/usr/bin/env bash
# The cost of the secure port: durable creates/s and GETs/s at 50
# keep-alive clients over HTTPS (TLS 1.3, a bearer token from
# --token-auth-file, RBAC in --authorization-mode) as a share of the same
# over the insecure port, in the same run on the same server.  The server
# is pinned to core 0 and wrk to core 1; each pair of runs alternates
# plain and TLS, and the median of RUNS pairs is printed.  Prints figures,
# never decides pass or fail.
#   tests/bench/bench_tls.sh [seconds-per-run] [runs]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=$ROOT/tests/bench
DUR=${1:-5}
RUNS=${2:-3}
BIN=${KUBE_BIN:-$ROOT/build}/apiserver/kube-apiserver
[[ -x "$BIN" ]] || { echo "build first (cmake --build build)"; exit 1; }
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 1; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
W=$(mktemp -d /tmp/kube-bench.XXXXXX)
API_PID=
trap '[[ -n "$API_PID" ]] && kill "$API_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$W"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rps() { grep 'Requests/sec' | awk '{print $2}'; }
# server CPU per request (user+system ticks over the run), in microseconds
ticks() { awk '{print $14 + $15}' "/proc/$API_PID/stat"; }
reqs() { grep -E '[0-9]+ requests in' | awk '{print $1}'; }
cpu_us() { python3 -c "print('%.1f' % (($2 - $1) * 1e6 / $(getconf CLK_TCK) / max(1, $3)))"; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

P=$(port) S=$(port)
echo "benchtoken,bench,1" >"$W/tokens.csv"
taskset -c 0 "$BIN" --insecure-port="$P" --secure-port="$S" --bind-address=127.0.0.1 --cert-dir="$W/certs" \
  --token-auth-file="$W/tokens.csv" --authorization-mode=Node,RBAC --data-dir="$W/data" >"$W/api.log" 2>&1 &
API_PID=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$P/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
PLAIN=http://127.0.0.1:$P TLS=https://127.0.0.1:$S
curl -fsS -X POST -H 'Content-Type: application/json' -o /dev/null \
  -d "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"target\"},\"data\":{\"pad\":\"$(head -c 850 /dev/zero | tr '\0' x)\"}}" \
  "$PLAIN/api/v1/namespaces/default/configmaps"
# the token's user is allowed through an RBAC binding (not system:masters),
# so every TLS request is authenticated and authorized through the indexes
curl -fsS -X POST -H 'Content-Type: application/json' -o /dev/null \
  -d '{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{"name":"bench"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cluster-admin"},"subjects":[{"kind":"User","name":"bench","apiGroup":"rbac.authorization.k8s.io"}]}' \
  "$PLAIN/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"
GET=/api/v1/namespaces/default/configmaps/target
code=$(curl -sk -o /dev/null -w '%{http_code}' -H "Authorization: Bearer benchtoken" "$TLS$GET")
[[ $code == 200 ]] || { echo "the bench user cannot GET over TLS ($code)"; exit 1; }

echo "# secure port cost: $(nproc) cores, server on core 0, wrk on core 1, 50 keep-alive clients, ${DUR}s per run, median of $RUNS"
declare -a gp gt cp ct
for r in $(seq 1 "$RUNS"); do
  gp+=("$(taskset -c 1 wrk -t1 -c50 -d"${DUR}"s "$PLAIN$GET" 2>&1 | rps)")
  gt+=("$(taskset -c 1 wrk -t1 -c50 -d"${DUR}"s -H "Authorization: Bearer benchtoken" "$TLS$GET" 2>&1 | rps)")
  cp+=("$(BENCH_RUN=p$r taskset -c 1 wrk -t1 -c50 -d"${DUR}"s -s "$B/create.lua" "$PLAIN" 2>&1 | rps)")
  ct+=("$(BENCH_RUN=t$r BENCH_TOKEN=benchtoken taskset -c 1 wrk -t1 -c50 -d"${DUR}"s -s "$B/create.lua" "$TLS" 2>&1 | rps)")
done
G1=$(median "${gp[@]}") G2=$(median "${gt[@]}") C1=$(median "${cp[@]}") C2=$(median "${ct[@]}")
echo "GETs/s: plain $G1, TLS+token+RBAC $G2 ($(python3 -c "print('%.0f%%' % (100*$G2/$G1))") of plain; runs: plain ${gp[*]} / TLS ${gt[*]})"
t0=$(ticks); out=$(taskset -c 1 wrk -t1 -c50 -d"${DUR}"s "$PLAIN$GET" 2>&1); GCP=$(cpu_us "$t0" "$(ticks)" "$(reqs <<<"$out")")
t0=$(ticks); out=$(taskset -c 1 wrk -t1 -c50 -d"${DUR}"s -H "Authorization: Bearer benchtoken" "$TLS$GET" 2>&1)
GCT=$(cpu_us "$t0" "$(ticks)" "$(reqs <<<"$out")")
echo "server CPU per GET: plain $GCP us, TLS+token+RBAC $GCT us"
echo "durable creates/s: plain $C1, TLS+token+RBAC $C2 ($(python3 -c "print('%.0f%%' % (100*$C2/$C1))") of plain; runs: plain ${cp[*]} / TLS ${ct[*]})"
