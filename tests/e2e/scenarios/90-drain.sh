# 90-drain: `kubectl drain` of a node evicts its pods (a DaemonSet's are
# ignored as asked) and their replacements run on the other nodes; the
# node is cordoned until `kubectl uncordon`.
new_namespace
mapfile -t NODES < <(ready_nodes)
((${#NODES[@]} >= 2)) || waiting "drain needs two workers (E2E_NODES >= 2)"
echo_deployment spread 4
wait_until "4 replicas available" 120 deployment_ready spread 4
victim=$(pod_nodes app=spread | awk '{print $2}' | sort | uniq -c | sort -rn | awk '{print $2; exit}')
before=$(pod_nodes app=spread | awk -v n="$victim" '$2 == n' | wc -l)
pass "draining $victim, which runs $before of the 4 pods"
trap 'kube uncordon "$victim" >/dev/null 2>&1' EXIT  # the node is schedulable again, whatever happens
ok "kubectl drain" kube drain "$victim" --ignore-daemonsets --delete-emptydir-data --timeout=180s
expect_match "drained" "node/$victim drained" "$OUT"
ok "node cordoned" kube get node "$victim" -o jsonpath='{.spec.unschedulable}'
expect_eq "unschedulable" true "$OUT"
moved() {
  deployment_ready spread 4 && running_pods app=spread 4 &&
    [[ $(pod_nodes app=spread | awk -v n="$victim" '$2 == n' | wc -l) -eq 0 ]]
}
wait_until "4 replicas available, none on $victim" 120 moved
ok "uncordon" kube uncordon "$victim"
ok "node schedulable again" kube get node "$victim" -o jsonpath='{.spec.unschedulable}'
expect_eq "schedulable" "" "$OUT"
untainted() { ! kube get node "$victim" -o jsonpath='{.spec.taints[*].key}' | grep -q node.kubernetes.io/unschedulable; }
wait_until "the node lifecycle controller removed the unschedulable taint" 60 untainted
ok "scale to 8" kns scale deploy spread --replicas=8
wait_until "8 replicas available" 120 deployment_ready spread 8
ok "pods on $victim again" pod_nodes app=spread
[[ $(awk -v n="$victim" '$2 == n' <<<"$OUT" | wc -l) -gt 0 ]] || fail "no pod scheduled on $victim after uncordon: $OUT"
pass "the uncordoned node takes new pods"
