#!/usr/bin/env bash
# kube-controller-manager end to end: node lifecycle (an unreachable node
# is tainted and its pods evicted and replaced elsewhere) and leader
# election between two controller-manager replicas.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cluster.sh"

# Two replicas with short leases; the first one started wins.
LE_FLAGS=(--leader-elect=true --leader-elect-lease-duration=4s --leader-elect-renew-deadline=3s
  --leader-elect-retry-period=500ms --node-monitor-grace-period=6s --node-monitor-period=1s)
start_apiserver
start_scheduler
start_controller_manager cm-a "${LE_FLAGS[@]}"
CM_A=$CM_PID
lease_holder() {
  kube -n kube-system get lease kube-controller-manager -o jsonpath='{.spec.holderIdentity}' 2>/dev/null
}
wait_until "cm-a holds the lease" 100 grep -q 'successfully acquired lease kube-system/kube-controller-manager' "$WORK/cm-a.log"
start_controller_manager cm-b "${LE_FLAGS[@]}"
CM_B=$CM_PID
start_hollow hollow node- 3
# flaky-0 is served by its own hollow_node, so it alone can go silent.
start_hollow flaky flaky- 1
FLAKY=$HOLLOW_PID
wait_until "4 nodes Ready with a podCIDR" 150 nodes_ready 4

ID_A=$(sed -n 's/.*leader election identity: //p' "$WORK/cm-a.log")
ID_B=$(sed -n 's/.*leader election identity: //p' "$WORK/cm-b.log")
expect_match "cm-a has an identity" '.+_.+' "$ID_A"
[[ "$ID_A" != "$ID_B" ]] && pass "identities differ" || fail "both replicas are $ID_A"
ok "lease" kube -n kube-system get lease kube-controller-manager -o jsonpath='{.spec.holderIdentity} {.spec.leaseDurationSeconds}'
expect_eq "cm-a holds it, 4 s lease" "$ID_A 4" "$OUT"

# ---- node lifecycle ----
cat >"$WORK/tol.yaml" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: tol}
spec:
  replicas: 8
  selector: {matchLabels: {app: tol}}
  template:
    metadata: {labels: {app: tol}}
    spec:
      tolerations:
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 5}
      - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 5}
      containers:
      - {name: app, image: "nginx:1.25"}
YAML
ok "deployment tolerating unreachable for 5 s" kube apply -f "$WORK/tol.yaml"
ok "rollout" kube rollout status deploy/tol --timeout=60s
ON_FLAKY=$(kube get pods -l app=tol --field-selector spec.nodeName=flaky-0 -o name)
[[ -n "$ON_FLAKY" ]] && pass "some pods run on flaky-0 ($(wc -l <<<"$ON_FLAKY"))" || fail "no pod on flaky-0"

# Only the leader acts: the standby started no controller.
expect_no_match "standby cm-b started no controller" 'Started controller|Caches are synced' "$(cat "$WORK/cm-b.log")"
expect_match "leader cm-a started the controllers" 'Caches are synced, starting' "$(cat "$WORK/cm-a.log")"
expect_match "standby knows the leader" "new leader for lease kube-system/kube-controller-manager: $ID_A" "$(cat "$WORK/cm-b.log")"

kill -USR1 "$FLAKY"
T0=$(date +%s)
unreachable_taint() {
  kube get node flaky-0 -o jsonpath='{range .spec.taints[*]}{.key}:{.effect}{"\n"}{end}' | grep -q '^node.kubernetes.io/unreachable:NoExecute$'
}
wait_until "flaky-0 tainted unreachable:NoExecute" 150 unreachable_taint
ok "flaky-0 Ready condition" kube get node flaky-0 -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}/{.status.conditions[?(@.type=="Ready")].reason}'
expect_eq "Ready Unknown, NodeStatusUnknown" "Unknown/NodeStatusUnknown" "$OUT"
ok "unreachable:NoSchedule too" kube get node flaky-0 -o jsonpath='{range .spec.taints[*]}{.key}:{.effect}{"\n"}{end}'
expect_match "NoSchedule taint" '^node.kubernetes.io/unreachable:NoSchedule$' "$OUT"
evicted() { # each pod is gone or terminating
  local p d
  for p in $ON_FLAKY; do
    if d=$(kube get "$p" -o jsonpath='{.metadata.deletionTimestamp}' 2>/dev/null); then [[ -n $d ]] || return 1; fi
  done
}
wait_until "pods on flaky-0 evicted after their 5 s toleration" 150 evicted
ELAPSED=$(( $(date +%s) - T0 ))
[[ $ELAPSED -ge 5 ]] && pass "eviction took $ELAPSED s (>= toleration)" || fail "evicted after only $ELAPSED s"
replaced() {
  [[ $(kube get pods -l app=tol -o jsonpath='{range .items[?(@.status.phase=="Running")]}{.spec.nodeName} {.metadata.deletionTimestamp}{"\n"}{end}' |
    grep -c '^node-[0-2] $') -eq 8 ]]
}
wait_until "8 running replacements on the healthy nodes" 150 replaced
wait_until "deployment available again" 100 bash -c \
  "[[ \$(kubectl --cache-dir $WORK/kcache get deploy tol -o jsonpath='{.status.availableReplicas}') == 8 ]]"
ok "eviction events" kube get events --field-selector reason=TaintManagerEviction -o name
expect_match "TaintManagerEviction events recorded" 'event' "$OUT"

# ---- leader failover ----
kill -KILL "$CM_A"
wait "$CM_A" 2>/dev/null || true
T0=$(date +%s)
wait_until "cm-b takes over the lease" 100 bash -c \
  "[[ \$(kubectl --cache-dir $WORK/kcache -n kube-system get lease kube-controller-manager -o jsonpath='{.spec.holderIdentity}') == '$ID_B' ]]"
ELAPSED=$(( $(date +%s) - T0 ))
[[ $ELAPSED -le 10 ]] && pass "took over within $ELAPSED s" || fail "took over after $ELAPSED s"
ok "lease transitions" kube -n kube-system get lease kube-controller-manager -o jsonpath='{.spec.leaseTransitions}'
expect_match "transition counted" '^[1-9]' "$OUT"
wait_until "cm-b starts the controllers" 100 grep -q 'Caches are synced, starting' "$WORK/cm-b.log"
ok "new deployment after failover" kube create deployment after --image=nginx:1.25 --replicas=2
ok "the new leader reconciles it" kube rollout status deploy/after --timeout=60s

# kubectl's STATUS column (the API server's Table): Ready not True is
# "NotReady" upstream, whatever the reason.
ok "get node" kube get node flaky-0
expect_match "NotReady" 'flaky-0 +NotReady' "$OUT"

done_testing
