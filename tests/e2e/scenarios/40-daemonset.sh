# 40-daemonset: a DaemonSet lands one pod on every worker, each Ready,
# and follows an update of its template.
new_namespace
mapfile -t NODES < <(ready_nodes)
kns apply -f - >/dev/null <<YAML || fail "create daemonset"
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  updateStrategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 1}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: echo
        image: $ECHO_IMAGE_1
        ports: [{containerPort: 8080}]
YAML
ds_ready() { # IMAGE
  [[ "$(kns get ds agent -o jsonpath='{.status.desiredNumberScheduled} {.status.numberReady} {.status.updatedNumberScheduled}')" == "${#NODES[@]} ${#NODES[@]} ${#NODES[@]}" ]] &&
    running_pods app=agent "${#NODES[@]}"
}
wait_until "one Ready pod per node" 120 ds_ready
ok "pods per node" pod_nodes app=agent
for n in "${NODES[@]}"; do
  [[ $(grep -c " $n " <<<"$OUT") -eq 1 ]] || fail "node $n has not exactly one agent pod: $OUT"
done
pass "exactly one pod on each of ${#NODES[@]} nodes"
ok "update the template" kns set image ds/agent echo="$ECHO_IMAGE_2"
ok "rollout status" kns rollout status ds/agent --timeout=180s
all_v2() {
  [[ "$(kns get pods -l app=agent -o jsonpath='{range .items[*]}{.spec.containers[0].image}{"\n"}{end}' | sort -u)" == "$ECHO_IMAGE_2" ]] &&
    running_pods app=agent "${#NODES[@]}"
}
wait_until "every node runs the new template" 120 all_v2
