#!/usr/bin/env bash
# tests/integration/test_scheduler.sh - the real kube-scheduler against the
# real API server with fake Node objects (no kubelet: a pod counts as
# scheduled once spec.nodeName is set).  Covers: pods created while no
# scheduler runs are all bound exactly once; two replicas with leader
# election never both schedule and the standby takes over; unschedulable
# pods get FailedScheduling and PodScheduled=False/Unschedulable; resources,
# taints/tolerations, nodeSelector, matchFields on metadata.name, pod
# anti-affinity and topology spread place pods as upstream does; scheduling
# gates; preemption of a lower-priority pod; /healthz and /metrics.
#
# Note: the API server does not resolve priorityClassName into
# spec.priority yet (no Priority admission), so the test pods carry
# spec.priority directly, as that admission plugin would have set it.
source "$(dirname "$0")/lib.sh"

SCHED=$KUBE_BIN/scheduler/kube-scheduler
start_apiserver
# pods run as the default service account (no controller-manager here)
kube create sa default >/dev/null

node() { # name cpu zone [extra-spec-json]
  kube create -f - >/dev/null <<EOF
{"apiVersion":"v1","kind":"Node","metadata":{"name":"$1","labels":{"kubernetes.io/hostname":"$1","topology.kubernetes.io/zone":"$3","disk":"${5:-hdd}"}},
 "spec":${4:-{\}},
 "status":{"allocatable":{"cpu":"$2","memory":"8Gi","pods":"110"},"capacity":{"cpu":"$2","memory":"8Gi","pods":"110"}}}
EOF
}
pod() { # name cpu priority [extra-spec-json-fields] [labels-json]
  kube create -f - >/dev/null <<EOF
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"$1","labels":${5:-{\}}},
 "spec":{"priority":$3,"containers":[{"name":"c","image":"busybox","resources":{"requests":{"cpu":"$2"}}}]${4:+,$4}}}
EOF
}
node_of() { kube get pod "$1" -o jsonpath='{.spec.nodeName}'; }
bound() { [[ -n "$(node_of "$1")" ]]; }
all_bound() { ! kube get pods -o jsonpath='{range .items[*]}{.metadata.name}={.spec.nodeName}{"\n"}{end}' | grep -q '=$'; }

# Preflight: the API server must accept pods/binding.
pod probe 0 0
OUT=$(curl -sS -X POST -H 'Content-Type: application/json' "$API_URL/api/v1/namespaces/default/pods/probe/binding" \
  -d '{"apiVersion":"v1","kind":"Binding","metadata":{"name":"probe"},"target":{"apiVersion":"v1","kind":"Node","name":"nowhere"}}')
expect_no_match "API server accepts pods/binding" '"status":"Failure"' "$OUT"
kube delete pod probe --grace-period=0 --force >/dev/null 2>&1

node n1 4 a '{}' ssd
node n2 4 b
node n3 4 b '{"taints":[{"key":"dedicated","value":"gpu","effect":"NoSchedule"}]}'

# ---- pods created while no scheduler runs; two replicas ----
for i in 1 2 3 4 5 6; do pod "early-$i" 100m 0; done
PORT1=$(free_port)
LE=(--leader-elect=true --leader-elect-lease-duration=2s --leader-elect-renew-deadline=1500ms --leader-elect-retry-period=300ms)
"$SCHED" --kubeconfig="$KUBECONFIG" "${LE[@]}" --secure-port="$PORT1" --bind-address=127.0.0.1 --v=2 \
  --authentication-kubeconfig="$KUBECONFIG" --authorization-kubeconfig="$KUBECONFIG" >"$WORK/sched1.log" 2>&1 &
S1=$!; PIDS+=("$S1")
wait_until "first replica becomes leader" 50 grep -q "successfully acquired lease" "$WORK/sched1.log"
"$SCHED" --kubeconfig="$KUBECONFIG" "${LE[@]}" --secure-port=0 --v=2 >"$WORK/sched2.log" 2>&1 &
S2=$!; PIDS+=("$S2")
wait_until "pods created before the scheduler started are all bound" 50 all_bound
sleep 1
OUT=$(kube get events --field-selector reason=Scheduled -o jsonpath='{range .items[*]}{.involvedObject.name} {.count}{"\n"}{end}')
expect_eq "each early pod bound exactly once" "6" "$(grep -c '^early-[0-9] 1$' <<<"$OUT")"
expect_no_match "standby did not schedule" "Starting to schedule" "$(cat "$WORK/sched2.log")"
ok "healthz over HTTPS, always allowed" curl -fsSk "https://127.0.0.1:$PORT1/healthz"
CODE=$(curl -sk -o "$WORK/anon" -w '%{http_code}' "https://127.0.0.1:$PORT1/metrics")
expect_eq "anonymous /metrics is forbidden (SubjectAccessReview)" 403 "$CODE"
expect_match "with upstream's text" 'forbidden: User \\"system:anonymous\\" cannot get path \\"/metrics\\"' "$(cat "$WORK/anon")"
CODE=$(curl -sk -o /dev/null -w '%{http_code}' -H "Authorization: Bearer not-a-token" "https://127.0.0.1:$PORT1/metrics")
expect_eq "a bad token is 401 (TokenReview)" 401 "$CODE"
MTOKEN=$(monitoring_token)
ok "metrics with a system:monitoring token" curl -fsSk -H "Authorization: Bearer $MTOKEN" "https://127.0.0.1:$PORT1/metrics"
expect_match "attempt counter" 'scheduler_schedule_attempts_total\{profile="default-scheduler",result="scheduled"\} [6-9]' "$OUT"
expect_match "pending gauge" 'scheduler_pending_pods\{queue="active"\} 0' "$OUT"

# ---- nothing fits ----
pod huge 16 0
wait_until "FailedScheduling event" 25 bash -c "kubectl --cache-dir $WORK/kcache get events --field-selector involvedObject.name=huge,reason=FailedScheduling -o name | grep -q ."
OUT=$(kube get events --field-selector involvedObject.name=huge,reason=FailedScheduling -o jsonpath='{.items[0].message}')
expect_match "FitError message" '^0/3 nodes are available: 1 node\(s\) had untolerated taint \{dedicated: gpu\}, 2 Insufficient cpu\.' "$OUT"
wait_until "PodScheduled=False Unschedulable" 25 bash -c "kubectl --cache-dir $WORK/kcache get pod huge -o jsonpath='{.status.conditions[?(@.type==\"PodScheduled\")].reason}' | grep -qx Unschedulable"
expect_eq "huge stays pending" "" "$(node_of huge)"

# ---- filters ----
pod ssd 100m 0 '"nodeSelector":{"disk":"ssd"}'
wait_until "nodeSelector bound" 25 bound ssd
expect_eq "nodeSelector picks n1" "n1" "$(node_of ssd)"
PIN_N3='"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchFields":[{"key":"metadata.name","operator":"In","values":["n3"]}]}]}}}'
pod gpu-tol 100m 0 "$PIN_N3,\"tolerations\":[{\"key\":\"dedicated\",\"operator\":\"Equal\",\"value\":\"gpu\",\"effect\":\"NoSchedule\"}]"
pod gpu-notol 100m 0 "$PIN_N3"
wait_until "toleration bound" 25 bound gpu-tol
expect_eq "matchFields + toleration lands on n3" "n3" "$(node_of gpu-tol)"
wait_until "untolerated pod unschedulable" 25 bash -c "kubectl --cache-dir $WORK/kcache get pod gpu-notol -o jsonpath='{.status.conditions[?(@.type==\"PodScheduled\")].message}' | grep -q 'untolerated taint'"
expect_eq "untolerated pod not bound" "" "$(node_of gpu-notol)"

ANTI='"affinity":{"podAntiAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[{"labelSelector":{"matchLabels":{"app":"anti"}},"topologyKey":"kubernetes.io/hostname"}]}}'
for i in 1 2 3; do pod "anti-$i" 100m 0 "$ANTI" '{"app":"anti"}'; done
anti_nodes() { for i in 1 2 3; do node_of "anti-$i"; echo; done | grep . | sort | tr '\n' ' '; }
wait_until "two anti-affinity pods placed" 25 bash -c "[[ \$(kubectl --cache-dir $WORK/kcache get pods -l app=anti -o jsonpath='{.items[*].spec.nodeName}' | wc -w) == 2 ]]"
sleep 0.5
expect_eq "anti-affinity: one pod on each untainted host, the third pending" "n1 n2 " "$(anti_nodes)"

SPREAD='"topologySpreadConstraints":[{"maxSkew":1,"topologyKey":"topology.kubernetes.io/zone","whenUnsatisfiable":"DoNotSchedule","labelSelector":{"matchLabels":{"app":"spread"}}}]'
for i in 1 2 3 4; do pod "zs-$i" 100m 0 "$SPREAD" '{"app":"spread"}'; done
wait_until "spread pods bound" 25 bash -c "for i in 1 2 3 4; do kubectl --cache-dir $WORK/kcache get pod zs-\$i -o jsonpath='{.spec.nodeName}' | grep -q . || exit 1; done"
ZA=0; ZB=0
for i in 1 2 3 4; do case $(node_of "zs-$i") in n1) ZA=$((ZA+1));; *) ZB=$((ZB+1));; esac; done
expect_eq "topology spread: 2 pods per zone" "2 2" "$ZA $ZB"

# ---- scheduling gates ----
pod gated 100m 0 '"schedulingGates":[{"name":"example.com/wait"}]'
wait_until "gated pod gets SchedulingGated" 25 bash -c "kubectl --cache-dir $WORK/kcache get pod gated -o jsonpath='{.status.conditions[?(@.type==\"PodScheduled\")].reason}' | grep -qx SchedulingGated"
expect_eq "gated pod not bound" "" "$(node_of gated)"

# ---- leader killed: the standby takes over ----
kill -9 "$S1"
wait_until "standby acquires the lease" 50 grep -q "successfully acquired lease" "$WORK/sched2.log"
pod after-failover 100m 0
wait_until "new pod bound by the new leader" 25 bound after-failover

# ---- preemption ----
kube create -f - >/dev/null <<EOF
{"apiVersion":"scheduling.k8s.io/v1","kind":"PriorityClass","metadata":{"name":"high"},"value":1000}
EOF
kube create -f - >/dev/null <<EOF
{"apiVersion":"scheduling.k8s.io/v1","kind":"PriorityClass","metadata":{"name":"low"},"value":10}
EOF
# np is tainted so that only the two pods below (and not, say, the pending
# anti-affinity pod) can use it.
node np 1 c '{"taints":[{"key":"pool","value":"preempt","effect":"NoSchedule"}]}' pool
POOL='"nodeSelector":{"disk":"pool"},"tolerations":[{"key":"pool","operator":"Exists"}]'
pod victim 1 10 "$POOL,\"priorityClassName\":\"low\""
wait_until "victim bound" 25 bound victim
pod preemptor 1 1000 "$POOL,\"priorityClassName\":\"high\""
wait_until "preemptor nominated to np" 25 bash -c "kubectl --cache-dir $WORK/kcache get pod preemptor -o jsonpath='{.status.nominatedNodeName}' | grep -qx np"
wait_until "victim is being deleted" 25 bash -c "kubectl --cache-dir $WORK/kcache get pod victim -o jsonpath='{.metadata.deletionTimestamp}' | grep -q ."
OUT=$(kube get events --field-selector involvedObject.name=victim,reason=Preempted -o jsonpath='{.items[0].message}')
expect_match "Preempted event" "^Preempted by pod [0-9a-f-]+ on node np$" "$OUT"
OUT=$(kube get events --field-selector involvedObject.name=preemptor,reason=FailedScheduling -o jsonpath='{.items[0].message}')
expect_match "preemptor's FitError without a preemption summary" '^0/4 nodes are available: 1 Insufficient cpu, .*selector\.$' "$OUT"
expect_no_match "no dry-run summary once preemption ran" 'preemption:' "$OUT"
OUT=$(kube get pod victim -o jsonpath='{.status.conditions[?(@.type=="DisruptionTarget")].reason}')
expect_eq "victim has DisruptionTarget condition" "PreemptionByScheduler" "$OUT"
# No kubelet finishes the graceful deletion; do what it would.
kube delete pod victim --grace-period=0 --force >/dev/null 2>&1
wait_until "preemptor bound to np" 25 bash -c "kubectl --cache-dir $WORK/kcache get pod preemptor -o jsonpath='{.spec.nodeName}' | grep -qx np"

# ---- a preemptor of higher priority takes over the nomination ----
# (PrepareCandidate: lower-priority pods nominated to the chosen node lose
# their nomination, and the dry run counts nominated pods of at least the
# preemptor's priority.)
for pc in mid:2000 top:5000; do
  kube create -f - >/dev/null <<EOF
{"apiVersion":"scheduling.k8s.io/v1","kind":"PriorityClass","metadata":{"name":"${pc%%:*}"},"value":${pc##*:}}
EOF
done
nominated_to() { kube get pod "$1" -o jsonpath='{.status.nominatedNodeName}'; }
pod mid2 1 2000 "$POOL,\"priorityClassName\":\"mid\""
wait_until "mid2 nominated to np" 25 bash -c "kubectl --cache-dir $WORK/kcache get pod mid2 -o jsonpath='{.status.nominatedNodeName}' | grep -qx np"
wait_until "preemptor is being deleted" 25 bash -c "kubectl --cache-dir $WORK/kcache get pod preemptor -o jsonpath='{.metadata.deletionTimestamp}' | grep -q ."
pod top 1 5000 "$POOL,\"priorityClassName\":\"top\""
wait_until "top nominated to np" 25 bash -c "kubectl --cache-dir $WORK/kcache get pod top -o jsonpath='{.status.nominatedNodeName}' | grep -qx np"
wait_until "mid2 lost its nomination" 25 bash -c "[ -z \"\$(kubectl --cache-dir $WORK/kcache get pod mid2 -o jsonpath='{.status.nominatedNodeName}')\" ]"
kube delete pod preemptor --grace-period=0 --force >/dev/null 2>&1
wait_until "top bound to np" 25 bash -c "kubectl --cache-dir $WORK/kcache get pod top -o jsonpath='{.spec.nodeName}' | grep -qx np"
sleep 2
expect_eq "mid2 stays pending" "" "$(node_of mid2)"
expect_eq "mid2 is not nominated again" "" "$(nominated_to mid2)"

# ---- SIGTERM: clean exit ----
kill -TERM "$S2"
RC=0; wait "$S2" || RC=$?
expect_eq "SIGTERM exits 0" 0 "$RC"

# ---- SIGTERM while the API server is gone: exit within a second or two ----
"$SCHED" --kubeconfig="$KUBECONFIG" "${LE[@]}" --secure-port=0 --v=2 >"$WORK/sched3.log" 2>&1 &
S3=$!; PIDS+=("$S3")
wait_until "third replica becomes leader" 50 grep -q "successfully acquired lease" "$WORK/sched3.log"
kill "$API_PID"; wait "$API_PID" 2>/dev/null || true
T0=$(date +%s%N)
kill -TERM "$S3"
RC=0; wait "$S3" || RC=$?
MS=$(( ($(date +%s%N) - T0) / 1000000 ))
expect_eq "SIGTERM without an API server exits 0" 0 "$RC"
if (( MS <= 2500 )); then pass "exited in ${MS} ms"; else fail "SIGTERM took ${MS} ms without an API server"; fi
done_testing
