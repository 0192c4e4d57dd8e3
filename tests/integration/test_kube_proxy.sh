#!/usr/bin/env bash
# kube-proxy end to end, inside network namespaces this test creates (see
# kp_lib.sh): the API server and kube-proxy in a "node" namespace, three
# backend pods and a client pod in namespaces of their own.  Services and
# EndpointSlices are made with the real kubectl; the client connects to
# ClusterIPs, a NodePort and a load-balancer IP and must reach exactly the
# backends the EndpointSlices name.  Also: session affinity, immediate
# rejection without endpoints, rules removed with their Service, stale
# UDP conntrack entries flushed, a restart that keeps connections and
# adds no duplicate rules, docker's chains left alone, /healthz, /metrics,
# a health check node port, topology hints following the zone label of
# kube-proxy's own Node, /healthz's nodeEligible when that Node is
# deleted, and --cleanup.
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/integration/kp_lib.sh"

start_node
# someone else's rules in the node's tables (docker, the kubelet)
in_node iptables-legacy-restore --noflush <<'RULES'
*nat
:DOCKER - [0:0]
:KUBELET-MASQ - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
-A POSTROUTING -j KUBELET-MASQ
-A KUBELET-MASQ -s 10.244.1.0/24 ! -d 10.244.0.0/16 -j MASQUERADE
COMMIT
*filter
:DOCKER-USER - [0:0]
-A FORWARD -j DOCKER-USER
-A DOCKER-USER -j RETURN
COMMIT
RULES
theirs() { kernel_rules | grep -E 'DOCKER|KUBELET|docker0' | grep -v '^#'; }
THEIRS_BEFORE=$(theirs)

backend b1 10.244.1.11 8080
backend b2 10.244.1.12 8080
backend b3 10.244.1.13 8080
pod c 10.244.1.20
ensure_kube_dns

k apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  ports: [{name: http, port: 80, targetPort: 8080, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: sticky}
spec:
  sessionAffinity: ClientIP
  ports: [{name: http, port: 80, targetPort: 8080, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: np}
spec:
  type: NodePort
  ports: [{name: http, port: 80, targetPort: 8080, nodePort: 30080, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: empty}
spec:
  ports: [{name: http, port: 80, targetPort: 8080, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: udp}
spec:
  ports: [{name: u, port: 5353, targetPort: 8080, protocol: UDP}]
---
apiVersion: v1
kind: Service
metadata: {name: lb}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  healthCheckNodePort: 32100
  ports: [{name: http, port: 80, targetPort: 8080, nodePort: 30081, protocol: TCP}]
YAML
slice web-1 web http 8080 TCP 10.244.1.11 10.244.1.12 10.244.1.13
slice sticky-1 sticky http 8080 TCP 10.244.1.11 10.244.1.12 10.244.1.13
slice np-1 np http 8080 TCP 10.244.1.11 10.244.1.12 10.244.1.13
slice empty-1 empty http 8080 TCP
slice udp-1 udp u 8080 UDP 10.244.1.11
slice lb-1 lb http 8080 TCP 10.244.1.12
ok "load-balancer IP in the Service status" k patch svc lb --subresource=status --type=merge \
  -p '{"status":{"loadBalancer":{"ingress":[{"ip":"203.0.113.10"}]}}}'

start_proxy --iptables-sync-period=3s
WEB=$(cluster_ip web)
STICKY=$(cluster_ip sticky)
EMPTY=$(cluster_ip empty)
UDP=$(cluster_ip udp)

has_names() { [[ "$(distinct "$1" "$2" "$3")" == "$4" ]]; }
wait_until "ClusterIP $WEB reaches every backend" 150 has_names "$WEB" 80 30 "b1 b2 b3 "

# the chain names are upstream's: base32(sha256("ns/svc:port" + proto))[:16]
chain() { python3 -c 'import base64,hashlib,sys; print(sys.argv[1]+base64.b32encode(hashlib.sha256(sys.argv[2].encode()).digest()).decode()[:16])' "$@"; }
SVC_WEB=$(chain KUBE-SVC- default/web:httptcp)
OUT=$(kernel_rules -t nat)
expect_match "KUBE-SERVICES jumps to $SVC_WEB" "^-A KUBE-SERVICES -d $WEB/32 -p tcp -m comment --comment \"default/web:http cluster IP\" -m tcp --dport 80 -j $SVC_WEB\$" "$OUT"
expect_match "three endpoint chains with equal shares" "^-A $SVC_WEB .*--probability 0.33333333349 -j KUBE-SEP-" "$OUT"
expect_match "SEP chain of b1 by upstream's name" "^:$(chain KUBE-SEP- default/web:httptcp10.244.1.11:8080) " "$OUT"

slice web-1 web http 8080 TCP 10.244.1.11 10.244.1.13
wait_until "scaling the EndpointSlice down changes the backends" 150 has_names "$WEB" 80 30 "b1 b3 "
slice web-1 web http 8080 TCP 10.244.1.11 10.244.1.12 10.244.1.13
wait_until "and back up" 150 has_names "$WEB" 80 30 "b1 b2 b3 "

one_name() { [[ $(distinct "$STICKY" 80 20 | wc -w) -eq 1 ]]; }
wait_until "session affinity ClientIP sticks to one backend" 50 one_name

wait_until "NodePort 30080 on the node's address" 50 has_names 10.244.1.1 30080 30 "b1 b2 b3 "

wait_until "no endpoints: connection refused at once" 50 nsx c python3 "$ROOT/tests/integration/kp_client.py" refused "$EMPTY" 80
slice empty-1 empty http 8080 TCP 10.244.1.12
wait_until "endpoints added: connections go through" 50 has_names "$EMPTY" 80 5 "b2 "

wait_until "load-balancer IP with externalTrafficPolicy Local" 50 has_names 203.0.113.10 80 10 "b2 "
ok "health check node port" in_node curl -fsS http://127.0.0.1:32100/
expect_match "health check counts the local endpoint" '"localEndpoints": 1' "$OUT"
expect_match "health check names the service" '"name": "lb"' "$OUT"

# stale UDP conntrack: a flow from a fixed source port follows the endpoint
udp_from() { nsx c python3 "$ROOT/tests/integration/kp_client.py" udp "$UDP" 5353 1 40000; }
wait_until "UDP service answers from b1" 50 bash -c "[[ \$(ip netns exec $P-c python3 $ROOT/tests/integration/kp_client.py udp $UDP 5353 1 40000) == b1 ]]"
ok "the flow is in conntrack" in_node conntrack -L -p udp --orig-dst "$UDP"
slice udp-1 udp u 8080 UDP 10.244.1.12
wait_until "the same UDP flow moves to b2 (stale entry flushed)" 50 bash -c "[[ \$(ip netns exec $P-c python3 $ROOT/tests/integration/kp_client.py udp $UDP 5353 1 40000) == b2 ]]"

ok "/healthz" in_node curl -fsS http://127.0.0.1:10256/healthz
expect_match "/healthz is upstream's JSON" '^\{"lastUpdated": "[0-9-]+ [0-9:.]+ \+0000 UTC","currentTime": ".*", "nodeEligible": true\}$' "$OUT"
# kube-proxy's own Node: its zone label makes topology hints count, its
# deletion makes /healthz unhealthy (nodeEligible false)
k apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Node
metadata: {name: node-1, labels: {topology.kubernetes.io/zone: zone-a}}
YAML
ok "the topology annotation on web" k annotate svc web service.kubernetes.io/topology-mode=Auto
k apply -f - >/dev/null <<'YAML'
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: 8080, protocol: TCP}]
endpoints:
- {addresses: ["10.244.1.11"], nodeName: node-1, hints: {forZones: [{name: zone-a}]}}
- {addresses: ["10.244.1.12"], nodeName: node-1, hints: {forZones: [{name: zone-b}]}}
- {addresses: ["10.244.1.13"], nodeName: node-1, hints: {forZones: [{name: zone-a}]}}
YAML
wait_until "hints for this node's zone: only b1 and b3" 150 has_names "$WEB" 80 30 "b1 b3 "
ok "the node moves to zone-b" k label node node-1 --overwrite topology.kubernetes.io/zone=zone-b
wait_until "then only b2" 150 has_names "$WEB" 80 30 "b2 "
slice web-1 web http 8080 TCP 10.244.1.11 10.244.1.12 10.244.1.13
wait_until "no hints: every backend again" 150 has_names "$WEB" 80 30 "b1 b2 b3 "
healthz() { in_node curl -s -w ' %{http_code}' http://127.0.0.1:10256/healthz; }
ok "delete our Node" k delete node node-1
node_gone() { [[ $(healthz) == *'"nodeEligible": false} 503' ]]; }
wait_until "/healthz: 503, nodeEligible false" 50 node_gone
k apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Node
metadata: {name: node-1}
YAML
node_back() { [[ $(healthz) == *'"nodeEligible": true} 200' ]]; }
wait_until "/healthz: 200 again with the Node back" 50 node_back
ok "/metrics" in_node curl -fsS http://127.0.0.1:10249/metrics
expect_match "sync duration histogram" 'kubeproxy_sync_proxy_rules_duration_seconds_count\{ip_family="IPv4"\} [1-9]' "$OUT"
expect_match "rule counts" 'kubeproxy_sync_proxy_rules_iptables_total\{table="nat",ip_family="IPv4"\} [1-9]' "$OUT"
expect_match "last sync timestamp" 'kubeproxy_sync_proxy_rules_last_timestamp_seconds\{ip_family="IPv4"\} 1' "$OUT"

# a restart keeps established and new traffic flowing, with no duplicates
ip netns exec "$P-c" python3 "$ROOT/tests/integration/kp_client.py" hold "$WEB" 80 8 >"$WORK/hold.out" 2>&1 &
HOLD=$!
sleep 1
stop_proxy
ok "rules stay while kube-proxy is down" bash -c "ip netns exec $NODE iptables-legacy-save -t nat | grep -q $SVC_WEB"
wait_until "new connections work while it is down" 20 has_names "$WEB" 80 10 "b1 b2 b3 "
start_proxy --iptables-sync-period=3s
synced_again() { in_node curl -fsS http://127.0.0.1:10249/metrics 2>/dev/null | grep -q 'kubeproxy_sync_proxy_rules_duration_seconds_count{ip_family="IPv4"} [1-9]'; }
wait_until "restarted kube-proxy synced" 100 synced_again
if wait "$HOLD"; then pass "an established connection survived the restart"; else cat "$WORK/hold.out"; fail "held connection broke"; fi
wait_until "new connections after the restart" 50 has_names "$WEB" 80 30 "b1 b2 b3 "
for spec in "nat PREROUTING KUBE-SERVICES" "nat OUTPUT KUBE-SERVICES" "nat POSTROUTING KUBE-POSTROUTING" \
            "filter INPUT KUBE-NODEPORTS" "filter FORWARD KUBE-FORWARD" "filter OUTPUT KUBE-SERVICES" "raw PREROUTING KUBE-NODE-DNS"; do
  set -- $spec
  expect_eq "one $1 $2 jump to $3 after the restart" 1 "$(kernel_rules -t "$1" | grep -c -- "^-A $2 .*-j $3\$")"
done
expect_eq "KUBE-SERVICES jump is first in PREROUTING" "KUBE-SERVICES" \
  "$(kernel_rules -t nat | grep -m1 '^-A PREROUTING' | sed 's/.*-j //')"

ok "someone flushes the Service's chain" in_node iptables-legacy -t nat -F "$SVC_WEB"
wait_until "the periodic sync puts it back" 100 has_names "$WEB" 80 30 "b1 b2 b3 "

ok "delete a Service" k delete svc web
no_chain() { ! kernel_rules -t nat | grep -q -e "$SVC_WEB" -e 'default/web:http'; }
wait_until "its chains and rules are gone" 100 no_chain
ok "its SEP chains too" bash -c "! ip netns exec $NODE iptables-legacy-save | grep -q '$(chain KUBE-SEP- default/web:httptcp10.244.1.11:8080)'"

expect_eq "docker's and the kubelet's rules untouched" "$THEIRS_BEFORE" "$(theirs)"

stop_proxy
ok "kube-proxy --cleanup" in_node "$KUBE_BIN/kube-proxy/kube-proxy" --cleanup
expect_eq "no KUBE- chain or rule left" 0 "$(kernel_rules | grep -c 'KUBE-' || true)"
ok "the DNS address is gone from the node" bash -c "! ip netns exec $NODE ip -4 addr | grep -q 10.96.0.10"
expect_eq "docker's and the kubelet's rules still untouched" "$THEIRS_BEFORE" "$(theirs)"
done_testing
