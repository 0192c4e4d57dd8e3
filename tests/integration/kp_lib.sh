# tests/integration/kp_lib.sh - sourced after lib.sh by the kube-proxy
# tests.  Everything runs inside network namespaces this run creates
# (names start with a per-run prefix): the "node" namespace holds the API
# server (on its own loopback), kube-proxy and the routes to the pods;
# each backend "pod", the client and a fake upstream DNS server get a
# namespace of their own, wired to the node by a veth pair (routed, no
# bridge: every packet between pods crosses the node's iptables).  The
# machine's own namespace only sees the namespaces come and go.  Cleanup
# (also on failure) stops the processes by PID (background processes are
# started with `ip netns exec` itself, which execs, so $! is the process), deletes the namespaces
# (and so every veth, route and chain in them) and the resolv.conf files.
#
# Addresses (inside the namespaces only): pods 10.244.1.0/24 with the
# node side 10.244.1.1, Services from the API server's 10.96.0.0/12,
# the node's uplink 198.51.100.1 and the fake upstream DNS 198.51.100.53
# behind it (documentation range).

P=kp$$
NODE=$P-node
API=http://127.0.0.1:8080
NETNS=()
export XTABLES_LOCKFILE=$WORK/xtables.lock

kp_teardown() {
  local p ns
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  for ns in "${NETNS[@]}"; do ip netns del "$ns" 2>/dev/null || true; rm -rf "/etc/netns/$ns"; done
}
kp_exit() {
  local rc=$?
  kp_teardown
  set +e
  (exit $rc)
  cleanup
}
trap kp_exit EXIT
trap 'exit 130' INT   # a timeout or ^C still runs the EXIT trap: nothing is left behind
trap 'exit 143' TERM

in_node() { ip netns exec "$NODE" "$@"; }
k() { ip netns exec "$NODE" kubectl --server "$API" --cache-dir "$WORK/kcache" "$@"; }
nsx() { local ns=$P-$1; shift; ip netns exec "$ns" "$@"; }

# make_ns NAME: a namespace with loopback up
make_ns() {
  ip netns add "$P-$1"
  NETNS+=("$P-$1")
  ip netns exec "$P-$1" ip link set lo up
}

# pod NAME IP: a namespace wired to the node by a routed veth pair
pod() {
  local name=$1 ip=$2 host=${P}h$1
  make_ns "$name"
  ip link add "$host" netns "$NODE" type veth peer name eth0 netns "$P-$name"
  in_node ip addr add 10.244.1.1/32 dev "$host"
  in_node ip link set "$host" up
  in_node ip route add "$ip/32" dev "$host"
  nsx "$name" ip addr add "$ip/32" dev eth0
  nsx "$name" ip link set eth0 up
  nsx "$name" ip route add 10.244.1.1 dev eth0
  nsx "$name" ip route add default via 10.244.1.1
}

# backend NAME IP PORT: a pod running kp_backend.py answering NAME
backend() {
  pod "$1" "$2"
  ip netns exec "$P-$1" python3 "$ROOT/tests/integration/kp_backend.py" "$1" "$3" 280 >>"$WORK/backend-$1.log" 2>&1 &
  PIDS+=($!)
}

start_node() {
  make_ns node
  in_node sysctl -qw net.ipv4.ip_forward=1
  # the node's "uplink": a namespace that plays the outside world and the
  # upstream DNS server (it forwards nothing further)
  make_ns up
  ip link add "${P}u" netns "$NODE" type veth peer name eth0 netns "$P-up"
  in_node ip addr add 198.51.100.1/24 dev "${P}u"
  in_node ip link set "${P}u" up
  nsx up ip addr add 198.51.100.53/24 dev eth0
  nsx up ip link set eth0 up
  in_node ip route add default via 198.51.100.53
  ip netns exec "$NODE" "$KUBE_BIN/apiserver/kube-apiserver" --insecure-bind-address=127.0.0.1 --insecure-port=8080 --secure-port=0 \
    --data-dir="$WORK/data" >>"$WORK/apiserver.log" 2>&1 &
  PIDS+=($!)
  local i
  for i in $(seq 1 150); do in_node curl -fsS "$API/readyz" >/dev/null 2>&1 && return 0; sleep 0.1; done
  fail "API server not ready"
}

# start_proxy [flags...]: kube-proxy in the node namespace, pid in KP_PID
# ($KP_WRAP, e.g. "valgrind --leak-check=full", runs it under a tool)
start_proxy() {
  ip netns exec "$NODE" ${KP_WRAP:-} "$KUBE_BIN/kube-proxy/kube-proxy" --master="$API" --hostname-override=node-1 \
    --cluster-cidr=10.244.0.0/16 --iptables-min-sync-period=100ms --healthz-bind-address=127.0.0.1:10256 \
    --metrics-bind-address=127.0.0.1:10249 --dns-upstream=198.51.100.53 --v=2 "$@" >>"$WORK/kube-proxy.log" 2>&1 &
  KP_PID=$!
  PIDS+=("$KP_PID")
}

stop_proxy() {
  kill "$KP_PID"
  wait "$KP_PID" 2>/dev/null || true
}

# The kube-dns Service the API server will create at startup; created
# here when it does not exist yet.
ensure_kube_dns() {
  k get svc -n kube-system kube-dns >/dev/null 2>&1 && return 0
  k apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: kube-system
  labels: {k8s-app: kube-dns, kubernetes.io/cluster-service: "true", kubernetes.io/name: CoreDNS}
spec:
  clusterIP: 10.96.0.10
  selector: {k8s-app: kube-dns}
  ports:
  - {name: dns, port: 53, protocol: UDP, targetPort: 53}
  - {name: dns-tcp, port: 53, protocol: TCP, targetPort: 53}
  - {name: metrics, port: 9153, protocol: TCP, targetPort: 9153}
YAML
}

# slice NAME SERVICE PORTNAME PORT PROTOCOL ENDPOINT...: an EndpointSlice;
# an endpoint is IP[,hostname=H][,ready=false][,terminating=true]
slice() {
  local name=$1 svc=$2 pname=$3 port=$4 proto=$5; shift 5
  local e ip ready term serving host eps=""
  for e in "$@"; do
    ip=${e%%,*}; ready=true; term=false; host=""
    [[ $e == *ready=false* ]] && ready=false
    [[ $e == *terminating=true* ]] && term=true
    serving=$ready; [[ $term == true ]] && serving=true
    [[ $e == *hostname=* ]] && { host=${e##*hostname=}; host=${host%%,*}; }
    eps+="- {addresses: [\"$ip\"], nodeName: node-1${host:+, hostname: $host}, conditions: {ready: $ready, serving: $serving, terminating: $term}}"$'\n'
  done
  {
    echo "apiVersion: discovery.k8s.io/v1"
    echo "kind: EndpointSlice"
    echo "metadata: {name: $name, labels: {kubernetes.io/service-name: $svc}}"
    echo "addressType: IPv4"
    echo "ports: [{name: \"$pname\", port: $port, protocol: $proto}]"
    if [[ -n $eps ]]; then echo "endpoints:"; printf '%s' "$eps"; else echo "endpoints: []"; fi
  } >"$WORK/slice-$name.yaml"
  k apply -f "$WORK/slice-$name.yaml" >/dev/null
}

cluster_ip() { k get svc "$1" -o jsonpath='{.spec.clusterIP}'; }

# distinct SERVICE-IP PORT N: the sorted distinct backend names of N connections
distinct() {
  nsx c python3 "$ROOT/tests/integration/kp_client.py" names "$1" "$2" "$3" | sort -u | tr '\n' ' '
}

kernel_rules() { in_node iptables-legacy-save "$@"; }
