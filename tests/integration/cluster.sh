# tests/integration/cluster.sh - sourced after lib.sh by the controller
# tests: starts a control plane without real nodes.  kube-scheduler and
# kube-controller-manager run against the API server from start_apiserver,
# and hollow_node plays the kubelet for fake nodes (registers them, renews
# their Leases, runs bound pods as Running+Ready, completes Job pods).
# Every process is appended to PIDS so lib.sh's cleanup stops it.

# start_scheduler [extra flags...]
start_scheduler() {
  "$KUBE_BIN/scheduler/kube-scheduler" --kubeconfig="$KUBECONFIG" --secure-port=0 \
    --leader-elect=false "$@" >>"$WORK/scheduler.log" 2>&1 &
  SCHED_PID=$!
  PIDS+=("$SCHED_PID")
}

# start_controller_manager NAME [extra flags...]: log in $WORK/NAME.log, pid in CM_PID
start_controller_manager() {
  local name=$1; shift
  "$KUBE_BIN/controller-manager/kube-controller-manager" --kubeconfig="$KUBECONFIG" \
    --secure-port=0 --allocate-node-cidrs --cluster-cidr=10.244.0.0/16 "$@" \
    >>"$WORK/$name.log" 2>&1 &
  CM_PID=$!
  PIDS+=("$CM_PID")
}

# start_hollow NAME PREFIX COUNT [extra flags...]: nodes PREFIX0..; pid in HOLLOW_PID
start_hollow() {
  local name=$1 prefix=$2 count=$3; shift 3
  "$KUBE_BIN/tests/hollow_node" --kubeconfig="$KUBECONFIG" --nodes="$count" \
    --node-name-prefix="$prefix" --heartbeat-period=2s "$@" >>"$WORK/$name.log" 2>&1 &
  HOLLOW_PID=$!
  PIDS+=("$HOLLOW_PID")
}

# start_cluster [controller-manager flags...]: API server, scheduler, one
# controller-manager (no leader election) and 3 hollow nodes node-0..2,
# waits until the nodes are Ready and have a podCIDR.
start_cluster() {
  start_apiserver
  start_scheduler
  start_controller_manager controller-manager --leader-elect=false "$@"
  start_hollow hollow node- 3
  wait_until "3 nodes Ready with a podCIDR" 150 nodes_ready 3
}

nodes_ready() { # COUNT
  local n
  n=$(kube get nodes -o jsonpath='{range .items[*]}{.spec.podCIDR} {.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' |
    grep -c '^10\.244\.[0-9]*\.0/24 True$' || true)
  [[ $n -ge $1 ]]
}

# jq-free JSON queries for the pollers
pyjson() { # PYTHON-EXPR (reads JSON on stdin as d)
  python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"
}

# watch_pods NAME LABEL-SELECTOR [NAMESPACE]: in the background, lists and
# then watches the matching pods and, after every event, appends one JSON
# line to $WORK/NAME.jsonl with the whole set as seen at that moment:
# {"ev": TYPE, "pod": NAME, "pods": {NAME: {ready, phase, term, node, owner}}}.
# A watch sees every change in order, so checks on these lines hold "at
# every observed moment", not only at polling instants.
watch_pods() {
  local name=$1 sel=$2 ns=${3:-default}
  python3 -u - "$API_URL" "$ns" "$sel" "$WORK/$name.jsonl" <<'PY' >>"$WORK/$name.watch.log" 2>&1 &
import json, sys, urllib.parse, urllib.request
api, ns, sel, out = sys.argv[1:5]
base = "%s/api/v1/namespaces/%s/pods?labelSelector=%s" % (api, ns, urllib.parse.quote(sel))
def summary(p):
    st = p.get("status", {})
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in st.get("conditions", []))
    owners = p["metadata"].get("ownerReferences") or [{}]
    return {"ready": ready, "phase": st.get("phase", "Pending"), "term": "deletionTimestamp" in p["metadata"],
            "node": p.get("spec", {}).get("nodeName", ""), "owner": owners[0].get("name", ""),
            "image": p["spec"]["containers"][0].get("image", "")}
lst = json.load(urllib.request.urlopen(base))
pods = {p["metadata"]["name"]: summary(p) for p in lst["items"]}
f = open(out, "a")
f.write(json.dumps({"ev": "LIST", "pod": "", "pods": pods}) + "\n"); f.flush()
rv = lst["metadata"]["resourceVersion"]
while True:
    resp = urllib.request.urlopen(base + "&watch=1&allowWatchBookmarks=false&resourceVersion=" + rv, timeout=600)
    for line in resp:
        e = json.loads(line)
        o = e["object"]
        if e["type"] == "ERROR":
            sys.exit("watch error: %s" % o)
        rv = o["metadata"]["resourceVersion"]
        n = o["metadata"]["name"]
        if e["type"] == "DELETED": pods.pop(n, None)
        else: pods[n] = summary(o)
        f.write(json.dumps({"ev": e["type"], "pod": n, "pods": pods}) + "\n"); f.flush()
PY
  PIDS+=("$!")
  local i
  for i in $(seq 1 100); do [[ -s "$WORK/$name.jsonl" ]] && return 0; sleep 0.1; done
  fail "watch_pods $name: no initial list"
}

# check_watch DESC NAME PYTHON-EXPR: EXPR (over s, one line's dict) must be
# true for every line of $WORK/NAME.jsonl; prints the first line where not.
check_watch() {
  local d=$1 name=$2 expr=$3
  if OUT=$(python3 - "$WORK/$name.jsonl" "$expr" <<'PY' 2>&1
import json, sys
path, expr = sys.argv[1:3]
n = 0
for line in open(path):
    s = json.loads(line); n += 1
    pods = s["pods"]
    if not eval(expr, {"s": s, "pods": pods, "live": {k: v for k, v in pods.items() if not v["term"]}}):
        sys.exit("violated after event %d: %s" % (n, line.strip()))
if n < 2: sys.exit("only %d events observed" % n)
print("%d events" % n)
PY
  ); then pass "$d ($OUT)"; else echo "--- $OUT"; fail "$d"; fi
}
