# 00-cluster: the cluster as a user first sees it: every worker Ready with
# a pod CIDR of its own from the controller-manager's node IPAM, the cluster
# DNS Service in place, and every node only on the internal compose
# network (a pod's stray packet is never forwarded off it).
mapfile -t NODES < <(ready_nodes)
expect_eq "all workers Ready" "$E2E_NODES" "${#NODES[@]}"
ok "pod CIDRs" kube get nodes -o jsonpath='{range .items[*]}{.spec.podCIDR}{"\n"}{end}'
cidrs=$(grep -E '^10\.[0-9]+\.[0-9]+\.0/24$' <<<"$OUT" | sort -u | wc -l)
expect_eq "one distinct /24 of the cluster CIDR per node" "$E2E_NODES" "$cidrs"
ok "kube-dns Service" kube -n kube-system get svc kube-dns -o jsonpath='{.spec.clusterIP}'
expect_eq "cluster DNS address" 10.96.0.10 "$OUT"
ok "node info" kube get node "${NODES[0]}" -o jsonpath='{.status.nodeInfo.containerRuntimeVersion} {.status.addresses[?(@.type=="InternalIP")].address}'
expect_match "docker runtime and an InternalIP" '^docker://[0-9.]+.* [0-9.]+$' "$OUT"
ok "the cluster network" docker network inspect -f '{{.Internal}}' "$(cluster_network)"
expect_eq "the cluster network is internal (nothing forwarded off it)" true "$OUT"
for n in "${NODES[@]}"; do
  c=$(node_container "$n") || fail "no container for node $n"
  ok "$n: networks of its container" docker inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}' "$c"
  expect_eq "$n is on the cluster network only" "$(cluster_network) " "$OUT"
  ok "$n: kubelet and kube-proxy running from the systemd units" docker exec "$c" unit-run status kubelet kube-proxy
done
ok "API server health" kube get --raw /readyz
expect_eq "readyz" ok "$OUT"
