#!/usr/bin/env bash
# test_kubelet_network.sh - pod networking (kubelet/network) through its test
# driver kl_netctl, entirely inside network namespaces this test creates:
# two "nodes" (N1, N2) joined by a third namespace (LAN, a plain bridge), and
# "sandboxes" (A and B on N1, C on N2).  Checks eth0's address and routes,
# pod-to-pod on the bridge, hairpin (a pod reaching itself through a
# Service-style DNAT on its node), cross-node over host-gw routes without
# NAT, the masquerade chain, restart persistence, release on teardown, and
# that tearing the node down leaves nothing behind.
# Network safety: every packet stays inside the namespaces made here; the
# machine's own namespace is only used to create and delete them.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
NETCTL=${NETCTL:-$KUBE_BIN/kubelet/network/kl_netctl}
[[ -x $NETCTL ]] || fail "no $NETCTL"
PY=/usr/bin/python3
P=kn$(printf '%04x' $((RANDOM)))$$  # unique per run
P=${P:0:9}
N1=${P}n1 N2=${P}n2 LAN=${P}lan A=${P}a B=${P}b C=${P}c
NSES=("$N1" "$N2" "$LAN" "$A" "$B" "$C")
net_cleanup() {
  local ns
  for ns in "${NSES[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
}
trap 'rc=$?; net_cleanup; cleanup; exit $rc' EXIT
for ns in "${NSES[@]}"; do ip netns add "$ns"; done

R1=$WORK/root1 R2=$WORK/root2
n1() { ip netns exec "$N1" "$NETCTL" --root "$R1" --cluster-cidr 10.244.0.0/16 "$@"; }
n2() { ip netns exec "$N2" "$NETCTL" --root "$R2" --cluster-cidr 10.244.0.0/16 "$@"; }
inns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# serve NS IP PORT: a TCP server that answers each connection with the
# client's address, started in the background (PID recorded).
serve() {
  ip netns exec "$1" $PY -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(16)
while True:
    c, a = s.accept(); c.sendall(("from %s\n" % a[0]).encode()); c.close()
' "$2" "$3" >>"$WORK/serve.log" 2>&1 &
  PIDS+=($!)
}
# ask NS IP PORT: connects (3 s timeout) and prints the answer, or "no answer".
ask() {
  ip netns exec "$1" $PY -c '
import socket, sys
try:
    c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
    print(c.recv(100).decode().strip())
except OSError as e:
    print("no answer: %s" % e)
' "$2" "$3"
}
wait_answer() { # NS IP PORT: wait (bounded) until the server answers
  local i
  for i in $(seq 1 100); do
    [[ $(ask "$@") == from* ]] && { pass "server $2:$3 answers"; return 0; }
    sleep 0.2
  done
  fail "server $2:$3 never answered"
}

# --- node 1: two pods on the bridge ---
IPA=$(n1 setup 10.244.1.0/24 uid-a /var/run/netns/"$A")
IPB=$(n1 setup 10.244.1.0/24 uid-b /var/run/netns/"$B")
expect_eq "first pod gets the first free address" 10.244.1.2 "$IPA"
expect_eq "second pod gets the next one" 10.244.1.3 "$IPB"
expect_match "eth0 in the sandbox holds the address" 'inet 10\.244\.1\.2/24' "$(inns "$A" ip -4 addr show dev eth0)"
expect_match "default route via the bridge" '^default via 10\.244\.1\.1 dev eth0' "$(inns "$A" ip route)"
expect_match "bridge cni0 holds the gateway address" 'inet 10\.244\.1\.1/24' "$(inns "$N1" ip -4 addr show dev cni0)"
expect_match "host ends are bridge ports in hairpin mode" 'hairpin on' "$(inns "$N1" bridge -d link show)"
expect_eq "two host veths on the bridge" 2 "$(inns "$N1" ip -o link show master cni0 | wc -l)"
expect_eq "setup again (idempotent) keeps the address" "$IPA" "$(n1 setup 10.244.1.0/24 uid-a /var/run/netns/"$A")"
expect_eq "still two host veths" 2 "$(inns "$N1" ip -o link show master cni0 | wc -l)"
expect_match "masquerade leaves only traffic out of the cluster range" \
  '-A KUBELET-MASQ -s 10\.244\.1\.0/24 ! -d 10\.244\.0\.0/16 -j MASQUERADE' "$(inns "$N1" iptables-legacy -t nat -S)"
expect_match "POSTROUTING jumps to the chain" '-A POSTROUTING -j KUBELET-MASQ' "$(inns "$N1" iptables-legacy -t nat -S POSTROUTING)"

serve "$B" "$IPB" 8080
wait_answer "$A" "$IPB" 8080
expect_eq "pod A reaches pod B on the bridge, source kept" "from $IPA" "$(ask "$A" "$IPB" 8080)"

# --- hairpin: A reaches itself through a Service-style DNAT on its node ---
serve "$A" "$IPA" 9090
wait_answer "$A" "$IPA" 9090
inns "$N1" iptables-legacy -t nat -A PREROUTING -d 10.96.0.10/32 -p tcp --dport 80 -j DNAT --to-destination "$IPA:9090"
inns "$N1" iptables-legacy -t nat -I POSTROUTING -s "$IPA/32" -d "$IPA/32" -j MASQUERADE
expect_eq "pod A reaches itself through the node (hairpin)" "from 10.244.1.1" "$(ask "$A" 10.96.0.10 80)"
VA=$(inns "$N1" ip -o -d link show master cni0 | awk -F': ' '/kubelet-pod:uid-a/{print $2}' | sed 's/@.*//')
inns "$N1" bridge link set dev "$VA" hairpin off
expect_match "without hairpin the same connection fails" '^no answer' "$(ask "$A" 10.96.0.10 80)"
inns "$N1" bridge link set dev "$VA" hairpin on

# --- node 2 and the LAN between the nodes ---
inns "$LAN" ip link add lanbr type bridge
inns "$LAN" ip link set lanbr up
i=1
for node in "$N1" "$N2"; do
  inns "$LAN" ip link add "${P}l$i" type veth peer name eth1 netns "$node"
  inns "$LAN" ip link set "${P}l$i" master lanbr up
  inns "$node" ip addr add "192.0.2.1$i/24" dev eth1
  inns "$node" ip link set eth1 up
  inns "$node" ip link set lo up
  i=$((i + 1))
done
IPC=$(n2 setup 10.244.2.0/24 uid-c /var/run/netns/"$C")
expect_eq "pod on node 2 from node 2's range" 10.244.2.2 "$IPC"
serve "$C" "$IPC" 8080
expect_match "no route to node 2's pods before the sync" '^no answer' "$(ask "$A" "$IPC" 8080)"
n1 routes 10.244.2.0/24=192.0.2.12 10.244.3.0/24=192.0.2.13
n2 routes 10.244.1.0/24=192.0.2.11
expect_match "host-gw route on node 1" '10\.244\.2\.0/24 via 192\.0\.2\.12 dev eth1 proto 75' "$(inns "$N1" ip route)"
wait_answer "$A" "$IPC" 8080
expect_eq "pod A reaches pod C on node 2 without NAT" "from $IPA" "$(ask "$A" "$IPC" 8080)"
n1 routes 10.244.2.0/24=192.0.2.12
expect_no_match "a route no longer listed is removed" '10\.244\.3\.0' "$(inns "$N1" ip route)"
inns "$N1" ip route add 10.250.0.0/24 via 192.0.2.12
n1 routes
expect_no_match "an empty set removes every host-gw route" 'proto 75' "$(inns "$N1" ip route)"
expect_match "routes made by others are left alone" '10\.250\.0\.0/24 via 192\.0\.2\.12' "$(inns "$N1" ip route)"

# --- restart persistence, release, gc ---
expect_eq "a restarted driver finds pod A's address" "$IPA" "$(n1 ip uid-a)"
ip netns add "${P}d"; NSES+=("${P}d")
IPD=$(n1 setup 10.244.1.0/24 uid-d /var/run/netns/"${P}d")
expect_eq "a new pod after restart gets a fresh address" 10.244.1.4 "$IPD"
n1 teardown uid-b
expect_match "teardown releases B's address" 'error' "$(n1 ip uid-b 2>&1 || echo error)"
expect_eq "teardown removes B's host veth" 2 "$(inns "$N1" ip -o link show master cni0 | wc -l)"
expect_no_match "B's eth0 went with its pair" 'eth0' "$(inns "$B" ip -o link)"
n1 teardown uid-b
pass "teardown again is a no-op"
expect_eq "a released address is not handed out at once" 10.244.1.5 "$(n1 setup 10.244.1.0/24 uid-e /var/run/netns/"$B")"
expect_eq "gc releases the addresses of pods gone while down" 1 "$(n1 gc uid-a uid-d)"
expect_match "gc released E's address" 'error' "$(n1 ip uid-e 2>&1 || echo error)"
expect_eq "gc kept D's address" "$IPD" "$(n1 ip uid-d)"
expect_match "bad input: a pod CIDR that is not one" 'invalid pod CIDR' "$(n1 node 10.244.1.0 2>&1 || true)"
expect_match "bad input: a namespace that does not exist" 'open network namespace' \
  "$(n1 setup 10.244.1.0/24 uid-z /var/run/netns/"${P}none" 2>&1 || true)"

# --- node teardown leaves nothing ---
inns "$N1" iptables-legacy -t nat -F
n1 down
n2 down
expect_eq "node 1: only lo and the LAN link remain" "eth1 lo" "$(inns "$N1" ip -o link | awk -F': ' '{print $2}' | sed "s/@.*//" | LC_ALL=C sort | xargs)"
expect_no_match "node 1: no masquerade chain" 'KUBELET-MASQ' "$(inns "$N1" iptables-legacy -t nat -S)"
expect_no_match "node 1: no host-gw routes" 'proto 75' "$(inns "$N1" ip route)"
expect_eq "node 1: no allocator state" "" "$(ls "$R1/network/ipam")"
expect_no_match "node 2: no bridge" 'cni0' "$(inns "$N2" ip -o link)"
done_testing
