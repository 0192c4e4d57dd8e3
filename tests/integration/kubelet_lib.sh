# tests/integration/kubelet_lib.sh - sourced after lib.sh and cluster.sh by
# the kubelet tests: real nodes running real containers through the
# machine's Docker Engine, isolated from everything else on the machine.
#
# Every name made here starts with a per-run prefix ($RUN, at most 6
# characters so interface names stay under 15).  Each node's network
# namespace is that of a "node container" the test starts (our pause
# image, --network none): the kubelet runs in it (nsenter --net, so it
# shares the machine's mount namespace with dockerd), hostNetwork pods
# join it (--host-network-container), and pod sandboxes are wired from it
# (their veths, the node bridge and routes live there).
#
# The nodes and the API server share one segment: a bridge in a network
# namespace of its own ($RUN-br), a veth from each node's eth0 to it, and
# one from the machine's namespace whose root end holds the API server's
# address.  The segment is a /28 of the documentation range 192.0.2.0/24
# picked at random among the unused ones: .1 the API server, .2, .3 ...
# the nodes.  Nodes reach each other's pod ranges over it (host-gw).  No
# pod ever runs in the machine's own network namespace and nodes have no
# default route, so no pod packet can leave the machine.
#
# Teardown (trap EXIT, also on failure) stops the kubelets by PID, removes
# the containers labelled with this run's node names, unmounts the tmpfs
# volumes under $WORK, removes the run's cgroups, node containers, veths,
# namespaces and images, and stops dockerd if this run started it.

_rnd=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
RUN=${RUN:-k${_rnd:0:5}}
KL_NODES=()          # node names
KL_NODE_CTRS=()      # node container names
KL_VETHS=()          # root ends
KL_NETNS=()          # ip netns names made by this run
KL_IMAGES=()         # images made by this run
KL_PIDS=()           # kubelets (stopped first)
KL_EVENT_PIDS=()     # docker events loggers
DOCKERD_PID=""
BUSYBOX_IMAGE=kubelet-test/busybox:1.35
TEST_PAUSE_IMAGE=kubelet-test/pause:3.10

kl_cleanup() {
  local rc=$?
  set +e
  if [[ $rc -ne 0 ]]; then
    echo "## pods and events"
    kube get pods -A -o wide 2>&1 | tail -20
    kube get events -A 2>&1 | tail -40
    for f in "$WORK"/kubelet*.log; do [[ -e "$f" ]] && { echo "## $f"; tail -60 "$f"; }; done
    [[ -e "$WORK/docker-events.log" ]] && { echo "## docker events"; tail -60 "$WORK/docker-events.log"; }
  fi
  for p in "${KL_EVENT_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  [[ -n "${API_PID:-}" ]] && kill -CONT "$API_PID" 2>/dev/null # a test may have paused it
  for p in "${KL_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${KL_PIDS[@]}"; do wait "$p" 2>/dev/null; done
  for n in "${KL_NODES[@]}"; do
    docker ps -aq --filter "label=io.kubernetes.node.name=$n" | xargs -r docker rm -f >/dev/null 2>&1
  done
  # tmpfs volumes (emptyDir medium Memory, secrets, projected) under the root dirs
  grep " $WORK/" /proc/mounts | awk '{print $2}' | sort -r | while read -r m; do umount -l "$m"; done
  for c in "${KL_NODE_CTRS[@]}"; do docker rm -f "$c" >/dev/null 2>&1; done
  for v in "${KL_VETHS[@]}"; do ip link del "$v" 2>/dev/null; done
  for ns in "${KL_NETNS[@]}"; do ip netns del "$ns" 2>/dev/null; done
  for d in /sys/fs/cgroup/*/"$RUN" /sys/fs/cgroup/"$RUN"; do
    [[ -d "$d" ]] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
  for i in "${KL_IMAGES[@]}"; do docker rmi -f "$i" >/dev/null 2>&1; done
  if [[ -n "$DOCKERD_PID" ]]; then kill "$DOCKERD_PID"; wait "$DOCKERD_PID" 2>/dev/null; fi
  (exit $rc)
  cleanup
}
trap kl_cleanup EXIT

# ensure_dockerd: use the machine's dockerd, or start one (recorded, stopped at exit)
ensure_dockerd() {
  if curl -fsS --unix-socket /var/run/docker.sock http://d/_ping >/dev/null 2>&1; then return 0; fi
  dockerd >"$WORK/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  local i
  for i in $(seq 1 150); do
    curl -fsS --unix-socket /var/run/docker.sock http://d/_ping >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  fail "dockerd did not start"
}

# build_images: busybox from Debian's busybox-static, and a pause image
# from the kubelet's own pause binary (for the node containers).
build_images() {
  if ! docker image inspect "$BUSYBOX_IMAGE" >/dev/null 2>&1; then
    local d="$WORK/busybox-root"
    mkdir -p "$d/bin" "$d/etc" "$d/tmp" "$d/root"
    cp /bin/busybox "$d/bin/busybox"
    local a
    for a in $(/bin/busybox --list); do [[ "$a" != busybox ]] && ln -sf busybox "$d/bin/$a"; done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$d/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$d/etc/group"
    chmod 1777 "$d/tmp"
    tar -C "$d" -c . | docker import -c 'CMD ["/bin/sh"]' -c 'ENV PATH=/bin' - "$BUSYBOX_IMAGE" >/dev/null
  fi
  if ! docker image inspect "$TEST_PAUSE_IMAGE" >/dev/null 2>&1; then
    local p="$WORK/pause-root"
    mkdir -p "$p"
    cp "$KUBE_BIN/kubelet/pause/pause" "$p/pause"
    tar -C "$p" -c . | docker import -c 'ENTRYPOINT ["/pause"]' - "$TEST_PAUSE_IMAGE" >/dev/null
  fi
}

# pick_net: a free 192.0.2.X/28 (X multiple of 16, from 128) for the segment
pick_net() {
  local used x a
  used=$(ip -4 -o addr show | awk '{print $4}' | cut -d/ -f1; ip -4 route show table all | awk '{print $1}' | cut -d/ -f1)
  for _ in $(seq 1 40); do
    x=$((128 + (RANDOM % 8) * 16))
    local taken=0
    for a in $(seq "$x" $((x + 15))); do grep -qx "192\.0\.2\.$a" <<<"$used" && taken=1; done
    if ((!taken)); then echo "$x"; return 0; fi
  done
  fail "no free address block in 192.0.2.128/25"
}

# start_control_plane [apiserver flags...]: API server on a veth's root
# end, scheduler, controller-manager (extra flags in $KL_CM_FLAGS).  Sets
# API_IP, API_URL, KUBECONFIG, NET_X.
start_control_plane() {
  NET_X=$(pick_net)
  API_IP=192.0.2.$((NET_X + 1))
  API_PORT=$(free_port)
  API_URL=http://$API_IP:$API_PORT
  ip netns add "$RUN-br"
  KL_NETNS+=("$RUN-br")
  ip -n "$RUN-br" link set lo up
  ip -n "$RUN-br" link add br0 type bridge
  ip -n "$RUN-br" link set br0 up
  ip link add "$RUN-a0" type veth peer name "$RUN-b0"
  KL_VETHS+=("$RUN-a0")
  ip link set "$RUN-b0" netns "$RUN-br"
  ip -n "$RUN-br" link set "$RUN-b0" master br0 up
  ip addr add "$API_IP/28" dev "$RUN-a0"
  ip link set "$RUN-a0" up
  "$KUBE_BIN/apiserver/kube-apiserver" --insecure-bind-address="$API_IP" --insecure-port="$API_PORT" --secure-port=0 \
    --data-dir="$WORK/data" "$@" >>"$WORK/apiserver.log" 2>&1 &
  API_PID=$!
  PIDS+=("$API_PID")
  wait_ready "$API_URL/readyz" 300
  cat >"$WORK/kubeconfig" <<KCFG
apiVersion: v1
kind: Config
clusters:
- name: it
  cluster: {server: "$API_URL"}
users:
- name: it
  user: {}
contexts:
- name: it
  context: {cluster: it, user: it, namespace: default}
current-context: it
KCFG
  export KUBECONFIG=$WORK/kubeconfig
  start_scheduler
  # shellcheck disable=SC2086 # flags without spaces, split on purpose
  start_controller_manager controller-manager --leader-elect=false ${KL_CM_FLAGS:-}
}

# start_node INDEX [kubelet flags...]: node container, veth into it, kubelet.
# Sets NODE_NAME, NODE_IP, NODE_PID (node container's init), KUBELET_PID, ROOT_DIR.
start_node() {
  local i=$1; shift
  NODE_NAME=$RUN-node$i
  local ctr=$RUN-node$i
  docker run -d --name "$ctr" --network none --label "kubelet-test=$RUN" "$TEST_PAUSE_IMAGE" >/dev/null
  KL_NODE_CTRS+=("$ctr")
  KL_NODES+=("$NODE_NAME")
  # the node's container lifecycle, shown when the test fails
  docker events --filter "label=io.kubernetes.node.name=$NODE_NAME" \
    --format '{{.Time}} {{.Status}} {{.Actor.Attributes.name}} {{.Actor.Attributes.exitCode}}' \
    >>"$WORK/docker-events.log" 2>&1 &
  KL_EVENT_PIDS+=($!)
  NODE_PID=$(docker inspect -f '{{.State.Pid}}' "$ctr")
  NODE_IP=192.0.2.$((NET_X + 1 + i))
  ip link add "$RUN-n$i" type veth peer name "$RUN-e$i"
  ip link set "$RUN-n$i" netns "$RUN-br"
  ip -n "$RUN-br" link set "$RUN-n$i" master br0 up
  ip link set "$RUN-e$i" netns "$NODE_PID"
  nsenter -t "$NODE_PID" -n ip link set "$RUN-e$i" name eth0
  nsenter -t "$NODE_PID" -n ip addr add "$NODE_IP/28" dev eth0
  nsenter -t "$NODE_PID" -n ip link set eth0 up
  nsenter -t "$NODE_PID" -n ip link set lo up
  ROOT_DIR=$WORK/kubelet$i
  start_kubelet "$i" "$@"
}

# start_kubelet INDEX [flags...]: (re)starts the kubelet of node INDEX
start_kubelet() {
  local i=$1; shift
  local ctr=$RUN-node$i
  local pid
  pid=$(docker inspect -f '{{.State.Pid}}' "$ctr")
  # KL_WRAP: run the kubelet under a tool (e.g. "valgrind --error-exitcode=1")
  nsenter -t "$pid" -n ${KL_WRAP:-} "$KUBE_BIN/kubelet/kubelet" --kubeconfig="$KUBECONFIG" \
    --hostname-override="$RUN-node$i" --node-ip="192.0.2.$((NET_X + 1 + i))" --root-dir="$WORK/kubelet$i" \
    --host-network-container="$ctr" --cgroup-root="/$RUN" --pod-infra-container-image="$RUN-pause:3.10" \
    --cluster-domain=cluster.local --cluster-dns=10.96.0.10 --node-status-update-frequency=2s \
    --healthz-port=10248 --port=10250 --v=${KL_V:-2} "$@" >>"$WORK/kubelet$i.log" 2>&1 &
  KUBELET_PID=$!
  KL_PIDS+=("$KUBELET_PID")
  KL_IMAGES+=("$RUN-pause:3.10")
}

stop_kubelet() { # PID
  kill "$1"
  wait "$1" 2>/dev/null || true
}

# Pod helpers
pod_field() { kube get pod "$1" -o jsonpath="$2" 2>/dev/null; }
pod_phase_is() { [[ "$(pod_field "$1" '{.status.phase}')" == "$2" ]]; }
pod_ready() { [[ "$(pod_field "$1" '{.status.conditions[?(@.type=="Ready")].status}')" == True ]]; }
# the waiting reason of the first container
pod_waiting_is() { [[ "$(pod_field "$1" '{.status.containerStatuses[0].state.waiting.reason}')" == "$2" ]]; }
pod_gone() { ! kube get pod "$1" >/dev/null 2>&1; }
node_ready() {
  [[ "$(kube get node "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True ]]
}
# events about a pod, one "REASON: MESSAGE" per line
pod_events() {
  kube get events --field-selector "involvedObject.name=$1" -o jsonpath='{range .items[*]}{.reason}: {.message}{"\n"}{end}'
}
# run the test's containers of this node only
node_containers() { docker ps -aq --filter "label=io.kubernetes.node.name=$1"; }

# watch_pod NAME: in the background, appends one line per watch event of
# pod NAME to $WORK/watch-NAME.log: "TYPE PHASE RUNNING TERMINATED DELETING"
watch_pod() {
  python3 -u - "$API_URL" "$1" "$WORK/watch-$1.log" <<'PY' >>"$WORK/watch-$1.err" 2>&1 &
import json, sys, urllib.request
api, name, out = sys.argv[1:4]
f = open(out, "a")
url = "%s/api/v1/namespaces/default/pods?watch=1&fieldSelector=metadata.name=%s" % (api, name)
for line in urllib.request.urlopen(url, timeout=600):
    e = json.loads(line)
    o = e["object"]
    st = o.get("status", {})
    cs = st.get("containerStatuses") or []
    run = sum(1 for c in cs if "running" in c.get("state", {}))
    term = sum(1 for c in cs if "terminated" in c.get("state", {}))
    f.write("%s %s %d %d %s\n" % (e["type"], st.get("phase", "-"), run, term,
            "deleting" if o["metadata"].get("deletionTimestamp") else "-"))
    f.flush()
PY
  PIDS+=("$!")
  local i
  for i in $(seq 1 100); do [[ -s "$WORK/watch-$1.log" ]] && return 0; sleep 0.1; done
  fail "watch_pod $1: no initial event"
}
