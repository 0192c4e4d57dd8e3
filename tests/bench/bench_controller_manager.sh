#!/usr/bin/env bash
# kube-controller-manager throughput: D Deployments of R replicas (default
# 100 x 100 = 10,000 pods) created at once against N hollow nodes.  The
# figures are the time from the first create until a watch has seen every
# pod exist (Deployment -> ReplicaSet -> Pod, the controller-manager's own
# work), and until every Deployment reports availableReplicas == R and
# condition Available=True (which also needs the scheduler to bind and the
# hollow nodes to mark the pods Running+Ready).  The API server runs on
# core 0 and the controller-manager on core 1; the scheduler, the hollow
# nodes and the watcher are unpinned.  Prints figures, never decides pass
# or fail.
#   tests/bench/bench_controller_manager.sh [DEPLOYMENTS REPLICAS NODES]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${KUBE_BIN:-$ROOT/build}
QPS=${QPS:-2000}
BURST=${BURST:-4000}
D=${1:-100} R=${2:-100} N=${3:-100}
for b in apiserver/kube-apiserver controller-manager/kube-controller-manager scheduler/kube-scheduler tests/hollow_node; do
  [[ -x "$BIN/$b" ]] || { echo "build first: $BIN/$b missing"; exit 1; }
done
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
W=$(mktemp -d /tmp/kube-bench.XXXXXX)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill $p 2>/dev/null || true; done; sleep 0.5; rm -rf "$W"' EXIT
P=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$P
PER_NODE=$(( (D * R + N - 1) / N + 10 ))

echo "# kube-controller-manager benchmark: $D Deployments x $R replicas = $((D * R)) pods, $N hollow nodes ($PER_NODE pods each)"
echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "# apiserver on core 0, controller-manager on core 1 (--kube-api-qps=$QPS --kube-api-burst=$BURST, other flags default);"
echo "# scheduler and hollow_node unpinned with the same qps/burst; --leader-elect=false"

taskset -c 0 "$BIN/apiserver/kube-apiserver" --insecure-bind-address=127.0.0.1 --insecure-port="$P" --secure-port=0 \
  --data-dir="$W/data" >"$W/api.log" 2>&1 &
API=$!
PIDS+=("$API")
for _ in $(seq 100); do curl -fs "$URL/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
cat >"$W/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters: [{name: b, cluster: {server: "$URL"}}]
users: [{name: b, user: {}}]
contexts: [{name: b, context: {cluster: b, user: b}}]
current-context: b
KC
K=$W/kubeconfig
"$BIN/tests/hollow_node" --kubeconfig="$K" --nodes="$N" --pods="$PER_NODE" --cpu=64 --memory=256Gi \
  --heartbeat-period=10s --kube-api-qps="$QPS" --kube-api-burst="$BURST" >"$W/hollow.log" 2>&1 &
HOLLOW=$!
PIDS+=("$HOLLOW")
"$BIN/scheduler/kube-scheduler" --kubeconfig="$K" --leader-elect=false --secure-port=0 \
  --kube-api-qps="$QPS" --kube-api-burst="$BURST" >"$W/sched.log" 2>&1 &
SCHED=$!
PIDS+=("$SCHED")
taskset -c 1 "$BIN/controller-manager/kube-controller-manager" --kubeconfig="$K" --leader-elect=false \
  --secure-port=0 --allocate-node-cidrs --cluster-cidr=10.0.0.0/8 \
  --kube-api-qps="$QPS" --kube-api-burst="$BURST" >"$W/cm.log" 2>&1 &
CM=$!
PIDS+=("$CM")
# wait for the nodes to be registered and the controllers to run
for _ in $(seq 300); do
  n=$(curl -fs "$URL/api/v1/nodes" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))' 2>/dev/null || echo 0)
  [[ $n -ge $N ]] && grep -q 'Caches are synced' "$W/cm.log" && break
  sleep 0.2
done
sleep 1
RSS0=$(awk '/VmRSS/{print $2}' /proc/$CM/status)
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"; }
CPU0=(); for p in $API $CM $SCHED $HOLLOW; do CPU0+=("$(cpu_of "$p")"); done

python3 - "$URL" "$D" "$R" <<'PY'
import json, sys, threading, time, urllib.request
url, D, R = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rv = json.load(urllib.request.urlopen(url + "/api/v1/pods?limit=1"))["metadata"]["resourceVersion"]
seen, t_exist = set(), [None]
t0 = time.monotonic()
def watch():
    resp = urllib.request.urlopen("%s/api/v1/pods?watch=1&resourceVersion=%s" % (url, rv), timeout=900)
    for line in resp:
        e = json.loads(line)
        if e["type"] == "ADDED":
            seen.add(e["object"]["metadata"]["uid"])
            if len(seen) >= D * R and t_exist[0] is None:
                t_exist[0] = time.monotonic() - t0
                return
threading.Thread(target=watch, daemon=True).start()
for i in range(D):
    body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bench-%d" % i},
            "spec": {"replicas": R, "selector": {"matchLabels": {"app": "bench-%d" % i}},
                     "template": {"metadata": {"labels": {"app": "bench-%d" % i}},
                                  "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]}}}}
    req = urllib.request.Request(url + "/apis/apps/v1/namespaces/default/deployments", json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    urllib.request.urlopen(req).read()
t_created = time.monotonic() - t0
t_avail, deadline = None, time.monotonic() + 900
while time.monotonic() < deadline:
    time.sleep(0.5)
    items = json.load(urllib.request.urlopen(url + "/apis/apps/v1/namespaces/default/deployments"))["items"]
    good = sum(1 for d in items if d.get("status", {}).get("availableReplicas") == R and
               any(c["type"] == "Available" and c["status"] == "True" for c in d["status"].get("conditions", [])))
    if good == D and t_exist[0] is not None:
        t_avail = time.monotonic() - t0
        break
print("%d Deployments created in %.2f s" % (D, t_created))
print("all %d pods exist after %s" % (D * R, "%.2f s (%.0f pods/s)" % (t_exist[0], D * R / t_exist[0]) if t_exist[0] else "TIMEOUT (%d seen)" % len(seen)))
print("all %d Deployments available after %s" % (D, "%.2f s" % t_avail if t_avail else "TIMEOUT"))
PY
RSS=$(awk '/VmRSS/{print $2}' /proc/$CM/status); HWM=$(awk '/VmHWM/{print $2}' /proc/$CM/status)
CPU=$(awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' /proc/$CM/stat)
CPU1=(); for p in $API $CM $SCHED $HOLLOW; do CPU1+=("$(cpu_of "$p")"); done
printf 'CPU used during the run: API server %.2f s, controller-manager %.2f s, scheduler %.2f s, hollow nodes %.2f s\n' \
  "$(echo "${CPU1[0]} - ${CPU0[0]}" | bc)" "$(echo "${CPU1[1]} - ${CPU0[1]}" | bc)" \
  "$(echo "${CPU1[2]} - ${CPU0[2]}" | bc)" "$(echo "${CPU1[3]} - ${CPU0[3]}" | bc)"
echo "controller-manager: RSS $((RSS0 / 1024)) MiB before, $((RSS / 1024)) MiB after, peak $((HWM / 1024)) MiB; CPU $CPU s"
