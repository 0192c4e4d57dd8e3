#!/usr/bin/env bash
# Pod startup latency on one real node (upstream's density test in small):
# N pods (default 100, busybox sleeping, pod network, no volumes) are
# created at once through the API; a watch records, for each pod, the time
# from its creation until it is Running and until it is Ready.  In the
# same run the engine alone does the same container work: N "pods" of
# plain `docker run -d` (the sandbox image, then the busybox container
# joining its network namespace), as many in flight at once as the kubelet
# has pod workers; their latencies and the time until all run are the
# floor the kubelet adds to.  Also the kubelet's RSS (current and peak)
# and its CPU time over the run.  The
# node runs in a test-made network namespace as in the integration tests
# (tests/integration/kubelet_lib.sh), everything is removed at exit.
# Prints figures, never decides pass or fail.
#   tests/bench/bench_kubelet.sh [PODS]
set -euo pipefail
N=${1:-100}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/tests/integration/lib.sh"
source "$ROOT/tests/integration/cluster.sh"
source "$ROOT/tests/integration/kubelet_lib.sh"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

ensure_dockerd
build_images
start_control_plane
start_node 1 --kube-api-qps=100 --kube-api-burst=200
wait_until "node Ready" 300 node_ready "$NODE_NAME" >/dev/null
# A warm-up pod, so the sandbox image is imported before the clock starts.
kube run warmup --image="$BUSYBOX_IMAGE" --restart=Never --overrides='{"spec":{"automountServiceAccountToken":false}}' \
  --command -- true >/dev/null
wait_until "warm-up pod done" 300 pod_phase_is warmup Succeeded >/dev/null
kube delete pod warmup --wait=false >/dev/null 2>&1 || true

KPID=$KUBELET_PID
cpu_ticks() { awk '{print $14 + $15}' "/proc/$KPID/stat"; }
T0=$(cpu_ticks)
START=$(date +%s.%N)
python3 - "$API_URL" "$N" "$BUSYBOX_IMAGE" "$WORK/bench.json" <<'PY'
import json, sys, threading, time, urllib.request
api, n, image, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
base = api + "/api/v1/namespaces/default/pods"
created, running, ready = {}, {}, {}
done = threading.Event()
def watch():
    rv = json.load(urllib.request.urlopen(base))["metadata"]["resourceVersion"]
    resp = urllib.request.urlopen(base + "?watch=1&labelSelector=bench%3D1&resourceVersion=" + rv, timeout=600)
    ready_started.set()
    for line in resp:
        now = time.time()
        e = json.loads(line)
        o = e["object"]; name = o["metadata"]["name"]; st = o.get("status", {})
        if st.get("phase") == "Running" and name not in running: running[name] = now
        if any(c.get("type") == "Ready" and c.get("status") == "True" for c in st.get("conditions", [])) and name not in ready:
            ready[name] = now
            if len(ready) == n: done.set(); return
ready_started = threading.Event()
threading.Thread(target=watch, daemon=True).start()
ready_started.wait(30)
def create(i):
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bench-%d" % i, "labels": {"bench": "1"}},
            "spec": {"automountServiceAccountToken": False, "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "c", "image": image, "command": ["sleep", "3600"]}]}}
    req = urllib.request.Request(base, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    t = time.time(); urllib.request.urlopen(req).read(); created["bench-%d" % i] = t
threads = [threading.Thread(target=create, args=(i,)) for i in range(n)]
for t in threads: t.start()
for t in threads: t.join()
done.wait(600)
json.dump({"created": created, "running": running, "ready": ready}, open(out, "w"))
PY
END=$(date +%s.%N)
T1=$(cpu_ticks)
RSS=$(awk '/VmRSS/{print $2}' "/proc/$KPID/status")
HWM=$(awk '/VmHWM/{print $2}' "/proc/$KPID/status")

# The pods go first, so that the engine alone starts from the same state.
kube delete pods -l bench=1 --wait=false >/dev/null 2>&1 || true
gone() { [[ -z "$(docker ps -aq --filter "label=io.kubernetes.node.name=$NODE_NAME" --filter "label=io.kubernetes.pod.namespace=default")" ]]; }
wait_until "bench pods removed" 3000 gone

# the engine alone: N pause + busybox pairs, PARALLEL (the kubelet's pod
# workers) in flight
plain_pod() { # INDEX
  local s e
  s=$(date +%s.%N)
  docker run -d --network none --label "kubelet-test=$RUN" --name "$RUN-plain-$1-pause" "$RUN-pause:3.10" >/dev/null
  docker run -d --network "container:$RUN-plain-$1-pause" --label "kubelet-test=$RUN" --name "$RUN-plain-$1" \
    "$BUSYBOX_IMAGE" sleep 3600 >/dev/null
  e=$(date +%s.%N)
  echo "$s $e"
}
export -f plain_pod
export RUN BUSYBOX_IMAGE
PSTART=$(date +%s.%N)
seq 1 "$N" | xargs -P "${PARALLEL:-64}" -I{} bash -c 'plain_pod {}' >"$WORK/plain.txt"
PEND=$(date +%s.%N)
docker ps -aq --filter "label=kubelet-test=$RUN" --filter "name=$RUN-plain-" | xargs -r docker rm -f >/dev/null

python3 - "$WORK/bench.json" "$WORK/plain.txt" "$N" "$START" "$END" "$T0" "$T1" "$RSS" "$HWM" "$PSTART" "$PEND" \
  "${PARALLEL:-64}" <<'PY'
import json, os, sys
d = json.load(open(sys.argv[1]))
n = int(sys.argv[3]); start, end = float(sys.argv[4]), float(sys.argv[5])
t0, t1, rss, hwm = int(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8]), int(sys.argv[9])
pstart, pend, par = float(sys.argv[10]), float(sys.argv[11]), int(sys.argv[12])
hz = os.sysconf("SC_CLK_TCK")
def pct(v, p):
    v = sorted(v); return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))] if v else float("nan")
run = [d["running"][k] - d["created"][k] for k in d["created"] if k in d["running"]]
rdy = [d["ready"][k] - d["created"][k] for k in d["created"] if k in d["ready"]]
plain = [float(e) - float(s) for s, e in (l.split() for l in open(sys.argv[2]))]
print("# kubelet pod startup: %d pods created at once on one node (pod network, busybox), %d cores" % (n, os.cpu_count()))
print("%-34s %8s %8s %8s" % ("", "p50 s", "p99 s", "max s"))
print("%-34s %8.3f %8.3f %8.3f" % ("creation -> Running", pct(run, 50), pct(run, 99), max(run or [0])))
print("%-34s %8.3f %8.3f %8.3f" % ("creation -> Ready", pct(rdy, 50), pct(rdy, 99), max(rdy or [0])))
print("%-34s %8.3f %8.3f %8.3f" % ("docker alone: pause + container", pct(plain, 50), pct(plain, 99), max(plain)))
print("pods Running/Ready: %d/%d of %d; all Ready after %.2f s" % (len(run), len(rdy), n, max(rdy or [0])))
print("docker alone, %d pairs with %d in flight: all running after %.2f s" % (len(plain), par, pend - pstart))
print("all Ready vs docker alone: %.2fx" % (max(rdy or [0]) / (pend - pstart)))
print("kubelet RSS %.1f MiB (peak %.1f MiB), CPU %.2f s over %.1f s" % (rss / 1024.0, hwm / 1024.0, (t1 - t0) / hz, end - start))
PY
