# 92-node-stop: a worker's container stops (its kubelet, kube-proxy and
# containers with it); after the node monitor grace period the node is
# NotReady with the unreachable taint, its pods are evicted once their
# toleration runs out and replaced on the other nodes; started again, the
# node comes back Ready and its old pods' containers are cleaned up.
new_namespace
mapfile -t NODES < <(ready_nodes)
((${#NODES[@]} >= 2)) || waiting "stopping a node needs two workers (E2E_NODES >= 2)"
echo_deployment survivor 4
if [[ -z "${E2E_TOLERATION_FLAGS:-}" ]]; then
  # The API server cannot shorten DefaultTolerationSeconds' 300 s yet: the
  # pods say how long they tolerate an unreachable or not-ready node.
  note "explicit tolerationSeconds 15 (the API server has no --default-unreachable-toleration-seconds)"
  kns patch deploy survivor --type=strategic -p '{"spec":{"template":{"spec":{"tolerations":[
    {"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":15},
    {"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":15}]}}}}' >/dev/null ||
    fail "patch tolerations"
fi
wait_until "4 replicas available" 120 deployment_ready survivor 4
victim=$(pod_nodes app=survivor | awk '{print $2}' | sort | uniq -c | sort -rn | awk '{print $2; exit}')
ctr=$(node_container "$victim") || fail "no container for $victim"
ok "toleration of the unreachable taint" kns get pods -l app=survivor -o jsonpath='{.items[0].spec.tolerations[?(@.key=="node.kubernetes.io/unreachable")].tolerationSeconds}'
tol=$OUT
pass "pods tolerate an unreachable node for ${tol}s"
((tol <= 60)) || fail "pods tolerate an unreachable node for ${tol}s"
lost=$(pod_nodes app=survivor | awk -v n="$victim" '$2 == n {print $1}')
pass "stopping $ctr ($victim), which runs $(wc -w <<<"$lost") pods"
t0=$SECONDS
trap 'docker start "$ctr" >/dev/null 2>&1' EXIT  # whatever happens, the node comes back
ok "docker stop" docker stop -t 20 "$ctr"
wait_until "$victim NotReady" 120 node_not_ready "$victim"
pass "NotReady $((SECONDS - t0))s after the stop"
tainted() { kube get node "$victim" -o jsonpath='{.spec.taints[*].key}' | grep -q node.kubernetes.io/unreachable; }
wait_until "the unreachable taint" 60 tainted
# evicted: deleted (they stay Terminating until their kubelet confirms,
# as upstream), and 4 replicas available elsewhere
replaced() {
  local p d
  for p in $lost; do
    d=$(kns get pod "$p" -o jsonpath='{.metadata.deletionTimestamp}' 2>/dev/null) || continue
    [[ -n "$d" ]] || return 1
  done
  deployment_ready survivor 4 && running_pods app=survivor 4
}
wait_until "the lost pods evicted and replaced elsewhere" $((tol + 120)) replaced
pass "replaced $((SECONDS - t0))s after the stop"

ok "docker start" docker start "$ctr"
wait_until "$victim Ready again" 180 node_ready "$victim"
untainted() { ! kube get node "$victim" -o jsonpath='{.spec.taints[*].key}' | grep -q node.kubernetes.io/unreachable; }
wait_until "the taint removed" 60 untainted
lost_gone() { local p; for p in $lost; do kns get pod "$p" >/dev/null 2>&1 && return 1; done; return 0; }
wait_until "the evicted pods gone once their kubelet is back" 120 lost_gone
no_leftovers() {
  local p
  for p in $lost; do
    [[ -z "$(docker exec "$ctr" docker ps -q --filter "label=io.kubernetes.pod.name=$p")" ]] || return 1
  done
}
wait_until "no running container of the evicted pods on $victim" 120 no_leftovers
ok "scale to 6" kns scale deploy survivor --replicas=6
wait_until "6 replicas available with the node back" 120 deployment_ready survivor 6
