# 20-service: a ClusterIP Service answers by address and by DNS name from
# a client pod on another node than some backends, with answers from every
# backend; a NodePort answers on every node's address from a container on
# the compose network (not from this machine).
new_namespace
mapfile -t NODES < <(ready_nodes)
echo_deployment echo 3
kns expose deploy echo --port=80 --target-port=8080 >/dev/null || fail "expose"
wait_until "3 replicas available" 120 deployment_ready echo 3
ok "backends" pod_nodes app=echo
backends=$(awk '{print $1}' <<<"$OUT" | sort)
backend_nodes=$(awk '{print $2}' <<<"$OUT" | sort -u)
client_node=${NODES[$((${#NODES[@]} - 1))]}
# prefer a client node that does not hold every backend
for n in "${NODES[@]}"; do
  if [[ $(grep -c " $n " <<<"$OUT") -lt 3 ]]; then client_node=$n; fi
done
ok "ClusterIP" kns get svc echo -o jsonpath='{.spec.clusterIP}'
cip=$OUT
expect_match "ClusterIP in the service range" '^10\.(9[6-9]|10[0-9]|11[01])\.' "$cip"
has_endpoints() { [[ $(kns get endpointslices -l kubernetes.io/service-name=echo -o jsonpath='{range .items[*].endpoints[*]}{.conditions.ready}{"\n"}{end}' | grep -c true) -eq 3 ]]; }
wait_until "EndpointSlice with 3 ready endpoints" 60 has_endpoints

all_backends() { # OUTPUT: every backend answered
  local seen
  seen=$(awk '{print $1}' <<<"$1" | grep -v FAILED | sort -u)
  [[ "$seen" == "$backends" ]]
}
ok "40 GETs to the ClusterIP from $client_node" pod_run c-ip "$client_node" "$(http_loop "http://$cip/" 40)"
all_backends "$OUT" || fail "not every backend answered on $cip: $(sort <<<"$OUT" | uniq -c)"
pass "every backend answered on the ClusterIP ($(awk '{print $1}' <<<"$OUT" | sort | uniq -c | tr -s ' ' | tr '\n' ','))"
expect_eq "no failed request" 0 "$(grep -c FAILED <<<"$OUT" || true)"

ok "40 GETs by DNS name from $client_node" pod_run c-dns "$client_node" "$(http_loop "http://echo.$NS.svc.cluster.local/dns" 40)"
all_backends "$OUT" || fail "not every backend answered by name: $OUT"
pass "every backend answered by echo.$NS.svc.cluster.local"
expect_match "request path reached the backend" ' 1 /dns$' "$OUT"
ok "short name through the search path" pod_run c-short "$client_node" "timeout 5 wget -q -O- http://echo/short && nslookup echo.$NS.svc.cluster.local 10.96.0.10"
expect_match "answer by the short name" ' /short$' "$OUT"
expect_match "nslookup answers the ClusterIP" "Address: $cip" "$OUT"
ok "resolv.conf of a pod" pod_run c-resolv "$client_node" "cat /etc/resolv.conf"
expect_match "cluster DNS is the nameserver" '^nameserver 10\.96\.0\.10$' "$OUT"
expect_match "search path" "search $NS.svc.cluster.local svc.cluster.local cluster.local" "$OUT"

# pod to pod across nodes, directly (host-gw routes)
other=$(awk -v n="$client_node" '$2 != n {print $4; exit}' <<<"$(pod_nodes app=echo)")
if [[ -n "$other" ]]; then
  ok "pod IP on another node from $client_node" pod_run c-podip "$client_node" "timeout 5 wget -q -O- http://$other:8080/direct"
  expect_match "direct answer" ' /direct$' "$OUT"
fi

# NodePort: from a container of our own on the compose network
ok "NodePort Service" kns expose deploy echo --name=echo-np --type=NodePort --port=80 --target-port=8080
np=$(kns get svc echo-np -o jsonpath='{.spec.ports[0].nodePort}')
expect_match "node port in range" '^3[0-9]{4}$' "$np"
net=$(cluster_network)
for n in "${NODES[@]}"; do
  ip=$(kube get node "$n" -o jsonpath='{.status.addresses[?(@.type=="InternalIP")].address}')
  got() {
    docker run --rm --network "$net" --name "$E2E_PROJECT-np-$RANDOM" "$BUSYBOX_IMAGE" \
      sh -c "for i in 1 2 3 4 5 6; do timeout 5 wget -q -O- http://$ip:$np/np; done" | grep -c ' /np$' | grep -qx 6
  }
  wait_until "NodePort $ip:$np answers from the compose network ($n)" 30 got
done
