#!/usr/bin/env bash
# kube-proxy at scale, inside network namespaces this script creates:
#   1. the rule sync, RUNS times each in a fresh namespace: kp_bench (the
#      proxier and libiptc writer of kube-proxy, without the API server)
#      times a full sync of SERVICES Services x ENDPOINTS endpoints, a
#      one-endpoint change and a no-op sync (CPU = user+sys from
#      getrusage, wall; peak VmHWM reset per phase, steady VmRSS, the
#      kernel table's size); then iptables-legacy-restore loads the same
#      rules (kp_bench writes them) into a fresh namespace and changes one
#      chain with --noflush (a whole-table replace), RUNS times, timed with
#      /usr/bin/time; medians of both, and the ratios;
#   2. end to end: the Services are loaded into an API server in a "node"
#      namespace; kube-proxy starts there and its first (full) sync and one
#      one-endpoint change are timed from its own log, with its CPU and its
#      VmHWM/VmRSS from /proc;
#   3. DNS (while kube-proxy still runs): dnsperf from a client namespace
#      asks one Service's A record of kube-proxy, then of dnsmasq serving
#      the same names from a hosts file.
# kube-proxy, iptables-legacy-restore, kp_bench and the DNS servers run on
# core 1; the API server and the load generators on core 0.  Both run as
# installed; iptables-legacy-restore once more with glibc.malloc.hugetlb=1
# (transparent huge pages for malloc) to show what the kernel's page
# faults cost each side.
# Prints figures; never decides pass or fail.  Everything it made is
# removed on exit (processes by PID, namespaces by name).
#   tests/bench/bench_kube_proxy.sh [SERVICES [ENDPOINTS [DNS_SECONDS [RUNS]]]]   default 10000 10 10 3
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${KUBE_BIN:-$ROOT/build}
SVCS=${1:-10000} EPS=${2:-10} DNS_SECONDS=${3:-10} RUNS=${4:-3}
for b in apiserver/kube-apiserver kube-proxy/kube-proxy kube-proxy/kp_bench; do
  [[ -x "$BIN/$b" ]] || { echo "build first ($b missing)"; exit 1; }
done
for c in iptables-legacy-restore dnsperf dnsmasq; do command -v "$c" >/dev/null || { echo "$c missing (deploy/install-deps.sh --test)"; exit 1; }; done
P=kpb$$
W=$(mktemp -d /tmp/kp-bench.XXXXXX)
export XTABLES_LOCKFILE=$W/xtables.lock
PIDS=() NETNS=()
cleanup() {
  local p n
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  for n in "${NETNS[@]}"; do ip netns del "$n" 2>/dev/null || true; done
  rm -rf "$W"
}
trap cleanup EXIT
mkns() { ip netns add "$P-$1"; NETNS+=("$P-$1"); ip netns exec "$P-$1" ip link set lo up; }
# veth ID A B A-ADDR B-ADDR: a point-to-point link between two namespaces
# (interfaces ${P}aID in A and ${P}bID in B)
veth() {
  local a=${P}a$1 b=${P}b$1
  ip link add "$a" netns "$P-$2" type veth peer name "$b" netns "$P-$3"
  ip netns exec "$P-$2" ip addr add "$4/32" dev "$a"; ip netns exec "$P-$2" ip link set "$a" up
  ip netns exec "$P-$3" ip addr add "$5/32" dev "$b"; ip netns exec "$P-$3" ip link set "$b" up
  ip netns exec "$P-$2" ip route add "$5/32" dev "$a"
  ip netns exec "$P-$3" ip route add "$4/32" dev "$b"
}
cpu_s() { awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$1/stat"; } # utime+stime, clock ticks of 10 ms
status_kb() { awk -v f="$2:" '$1==f {print $2}' "/proc/$1/status"; }
syncs() { grep -c 'SyncProxyRules complete' "$W/kube-proxy.log" || true; }
wait_syncs() { # N: until the log has N sync lines (10 minutes at most)
  local i
  for i in $(seq 1 6000); do [[ $(syncs) -ge $1 ]] && return 0; sleep 0.1; done
  echo "kube-proxy did not sync"; tail "$W/kube-proxy.log"; exit 1
}

echo "# kube-proxy benchmark: $SVCS Services x $EPS endpoints"
echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- 1. the rule sync against iptables-legacy-restore, RUNS times each ----
median() { sort -g | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
fig() { # PHASE KEY: the values of KEY in kp_bench's FIGURES lines of PHASE, one a line
  awk -v p="$1" -v k="$2" '$1 == "FIGURES" && $2 == p {for (i = 3; i <= NF; i++) {split($i, kv, "="); if (kv[1] == k) print kv[2]}}' "$W/kp_bench.out"
}
: >"$W/kp_bench.out"
for i in $(seq "$RUNS"); do
  mkns "bench$i"
  taskset -c 1 ip netns exec "$P-bench$i" "$BIN/kube-proxy/kp_bench" \
    "$SVCS" "$EPS" "$W/rules.txt" >>"$W/kp_bench.out"
  ip netns del "$P-bench$i"
done
sed 's/^/  kp_bench: /' "$W/kp_bench.out" | grep -v FIGURES | tail -7
# one chain of the rule set (a Service's first endpoint), for the --noflush change
SEP=$(grep -m1 '^:KUBE-SEP-' "$W/rules.txt" | cut -d' ' -f1 | tr -d :)
{ echo '*nat'; echo ":$SEP - [0:0]"; grep -- "^-A $SEP " "$W/rules.txt"; echo COMMIT; } >"$W/one.txt"
restore_runs() { # LABEL [ENV...]: RUNS full loads and --noflush changes, each in a fresh namespace
  local label=$1 i; shift
  : >"$W/restore-$label"
  for i in $(seq "$RUNS"); do
    mkns "restore$i"
    taskset -c 1 env "$@" /usr/bin/time -f "full %e %U %S" -a -o "$W/restore-$label" \
      ip netns exec "$P-restore$i" iptables-legacy-restore -w 5 <"$W/rules.txt"
    taskset -c 1 env "$@" /usr/bin/time -f "change %e %U %S" -a -o "$W/restore-$label" \
      ip netns exec "$P-restore$i" iptables-legacy-restore -w 5 --noflush <"$W/one.txt"
    ip netns del "$P-restore$i"
  done
}
restore_runs plain
restore_runs hugetlb GLIBC_TUNABLES=glibc.malloc.hugetlb=1
rfig() { awk -v p="$2" -v k="$3" '$1 == p {print k == "wall" ? $2 : $3 + $4}' "$W/restore-$1" | median; }
KF=$(fig full cpu | median) KFW=$(fig full wall | median) KC=$(fig change cpu | median) KCW=$(fig change wall | median)
RF=$(rfig plain full cpu) RFW=$(rfig plain full wall) RC=$(rfig plain change cpu) RCW=$(rfig plain change wall)
HF=$(rfig hugetlb full cpu) HC=$(rfig hugetlb change cpu)
echo "# medians of $RUNS runs (CPU = user+sys seconds; wall on a shared machine says as much about the neighbours)"
printf 'full sync:   kube-proxy %.2f s cpu, %.2f s wall | iptables-legacy-restore %.2f s cpu, %.2f s wall (%.2f s cpu with glibc.malloc.hugetlb=1) | restore/kube-proxy %.1fx cpu, %.1fx wall\n' \
  "$KF" "$KFW" "$RF" "$RFW" "$HF" "$(awk -v a="$RF" -v b="$KF" 'BEGIN {print a / b}')" "$(awk -v a="$RFW" -v b="$KFW" 'BEGIN {print a / b}')"
printf 'one change:  kube-proxy %.2f s cpu, %.2f s wall (one endpoint) | iptables-legacy-restore --noflush one chain (one whole-table replace) %.2f s cpu, %.2f s wall (%.2f s cpu with the tunable)\n' \
  "$KC" "$KCW" "$RC" "$RCW" "$HC"
printf 'memory:      kp_bench peak VmHWM %s KiB in the full sync, %s KiB in the change, %s KiB in a no-op sync; VmRSS after a sync %s KiB; the nat+filter+raw tables in the kernel %s KiB\n' \
  "$(fig full hwm_kib | median)" "$(fig change hwm_kib | median)" "$(fig noop hwm_kib | median)" "$(fig change rss_kib | median)" "$(fig full table_kib | median)"

# ---- 2. end to end, through the API server ----
mkns node; mkns client; mkns dnsmasq
veth 1 node client 10.250.0.1 10.250.0.2
veth 2 dnsmasq client 192.0.2.1 192.0.2.2
ip netns exec "$P-client" ip route add 10.96.0.10/32 via 10.250.0.1 dev "${P}b1"

taskset -c 0 ip netns exec "$P-node" "$BIN/apiserver/kube-apiserver" --insecure-bind-address=127.0.0.1 \
  --insecure-port=8080 --data-dir="$W/data" >"$W/apiserver.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 150); do ip netns exec "$P-node" curl -fs http://127.0.0.1:8080/readyz >/dev/null 2>&1 && break; sleep 0.1; done
# the kube-dns Service first (an API server that makes it at startup answers 409 here)
ip netns exec "$P-node" curl -s -o /dev/null -X POST -H 'Content-Type: application/json' \
  http://127.0.0.1:8080/api/v1/namespaces/kube-system/services -d '{"apiVersion":"v1","kind":"Service","metadata":{"name":"kube-dns","namespace":"kube-system","labels":{"k8s-app":"kube-dns"}},"spec":{"clusterIP":"10.96.0.10","ports":[{"name":"dns","port":53,"protocol":"UDP"},{"name":"dns-tcp","port":53,"protocol":"TCP"}]}}' >/dev/null
LOAD=$(taskset -c 0 ip netns exec "$P-node" python3 "$ROOT/tests/bench/kp_load.py" http://127.0.0.1:8080 "$SVCS" "$EPS" "$W/hosts")
echo "load:        $LOAD s to create $SVCS Services and $SVCS EndpointSlices through the API"

T0=$(date +%s.%N)
taskset -c 1 ip netns exec "$P-node" "$BIN/kube-proxy/kube-proxy" --master=http://127.0.0.1:8080 \
  --hostname-override=node-1 --cluster-cidr=10.128.0.0/9 --v=2 --metrics-bind-address=127.0.0.1:10249 \
  --healthz-bind-address=127.0.0.1:10256 --dns-upstream=192.0.2.1 >"$W/kube-proxy.log" 2>&1 &
KP=$!; PIDS+=("$KP")
# the lists' own peak, then VmHWM reset so that the next figure is the sync's
for _ in $(seq 1 6000); do grep -q 'Caches are synced' "$W/kube-proxy.log" && break; sleep 0.1; done
LIST_HWM=$(status_kb $KP VmHWM)
echo 5 >"/proc/$KP/clear_refs"
wait_syncs 1
T1=$(date +%s.%N)
echo "first sync:  $(grep -m1 'SyncProxyRules complete' "$W/kube-proxy.log" | sed 's/.*SyncProxyRules complete //')"
echo "start->synced: $(awk -v a="$T0" -v b="$T1" 'BEGIN {printf "%.2f", b - a}') s (list+watch of both resources, model, rules, commit)"
echo "cpu:         kube-proxy used $(cpu_s $KP) s of CPU from its start to the end of the first sync"
echo "rss:         peak VmHWM $LIST_HWM KiB up to the informers' first lists; during the first sync (reset when the caches synced) $(status_kb $KP VmHWM) KiB; after it VmRSS $(status_kb $KP VmRSS) KiB"
sleep 5
echo "rss:         5 s later VmRSS $(status_kb $KP VmRSS) KiB"
N=$(syncs)
C0=$(cpu_s $KP)
echo 5 >"/proc/$KP/clear_refs" # VmHWM from here on is the change's peak
ip netns exec "$P-node" python3 "$ROOT/tests/bench/kp_load.py" move http://127.0.0.1:8080
wait_syncs $((N + 1))
echo "cpu:         kube-proxy used $(awk -v a="$C0" -v b="$(cpu_s $KP)" 'BEGIN {printf "%.2f", b - a}') s of CPU for the one-endpoint change"
echo "one change:  $(grep 'SyncProxyRules complete' "$W/kube-proxy.log" | tail -1 | sed 's/.*SyncProxyRules complete //')"
echo "rss:         after the change VmRSS $(status_kb $KP VmRSS) KiB, peak VmHWM $(status_kb $KP VmHWM) KiB"

# ---- 3. DNS: one Service's A record, one client, kube-proxy vs dnsmasq with the same names
NAME=$(head -1 "$W/hosts" | cut -d' ' -f2)
echo "$NAME A" >"$W/q.txt"
taskset -c 1 ip netns exec "$P-dnsmasq" dnsmasq -k --conf-file=/dev/null --no-resolv --no-hosts -u root \
  --addn-hosts="$W/hosts" --listen-address=192.0.2.1 --bind-interfaces --cache-size=10000 \
  --local=/cluster.local/ >"$W/dnsmasq.log" 2>&1 &
PIDS+=($!)
sleep 1
echo "dns:         $(ip netns exec "$P-client" dig +short +tries=1 +time=2 @10.96.0.10 "$NAME") from kube-proxy, $(ip netns exec "$P-client" dig +short +tries=1 +time=2 @192.0.2.1 "$NAME") from dnsmasq for $NAME"
qps() { taskset -c 0 ip netns exec "$P-client" dnsperf -s "$1" -d "$W/q.txt" -l "$DNS_SECONDS" -c 1 2>&1 | awk '/Queries per second/ {print $4} /Queries lost/ {lost=$3} END {}'; }
echo "dns:         kube-proxy  $(qps 10.96.0.10) queries/s ($NAME A, dnsperf, ${DNS_SECONDS}s, one client)"
echo "dns:         dnsmasq     $(qps 192.0.2.1) queries/s (the same $SVCS names from a hosts file)"

ip netns exec "$P-node" iptables-legacy-save | grep -v '^#' >"$W/saved.txt"
echo "rules:       $(grep -c '^-A' "$W/saved.txt") in the node's tables ($(grep -c '^:KUBE-' "$W/saved.txt") KUBE- chains), $(du -k "$W/saved.txt" | cut -f1) KiB as text"
