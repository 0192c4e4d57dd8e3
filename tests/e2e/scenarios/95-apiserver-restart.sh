# 95-apiserver-restart: the API server's container restarts mid-way; the
# workloads are all still there (SQLite on its volume), the other
# programs reconnect, and changes made afterwards converge.
new_namespace
node=$(ready_nodes | head -1)
echo_deployment steady 3
kns expose deploy steady --port=80 --target-port=8080 >/dev/null || fail "expose"
ok "a ConfigMap" kns create configmap keep --from-literal=k=v
wait_until "3 replicas available" 120 deployment_ready steady 3
ok "pods before" kns get pods -l app=steady -o jsonpath='{range .items[*]}{.metadata.uid}{"\n"}{end}'
uids_before=$(sort <<<"$OUT")
api=$(compose ps -q apiserver)
t0=$SECONDS
ok "restart the API server container" docker restart -t 10 "$api"
ready() { kube get --raw /readyz; }
wait_until "the API server answers again" 120 ready
pass "back in $((SECONDS - t0))s"
ok "objects after the restart" kns get deploy/steady svc/steady cm/keep -o name
expect_eq "deployment, service and configmap kept" "deployment.apps/steady service/steady configmap/keep" "$(tr '\n' ' ' <<<"$OUT" | sed 's/ $//')"
ok "same pods" kns get pods -l app=steady -o jsonpath='{range .items[*]}{.metadata.uid}{"\n"}{end}'
expect_eq "no pod replaced" "$uids_before" "$(sort <<<"$OUT")"
wait_until "nodes Ready after the restart" 120 node_count_ready "$E2E_NODES"
ok "scale to 5 after the restart" kns scale deploy steady --replicas=5
wait_until "5 replicas available" 120 deployment_ready steady 5
has5() { [[ $(kns get endpointslices -l kubernetes.io/service-name=steady -o jsonpath='{range .items[*].endpoints[*]}{.conditions.ready}{"\n"}{end}' | grep -c true) -eq 5 ]]; }
wait_until "the Service has 5 ready endpoints" 60 has5
all5() {
  pod_run "rc-$RANDOM" "$node" "$(http_loop "http://steady.$NS.svc.cluster.local/" 50)" >/dev/null &&
    [[ $(awk '{print $1}' <<<"$OUT" | grep -v FAILED | sort -u | wc -l) -eq 5 ]]
}
wait_until "all 5 backends answer through the Service" 90 all5
