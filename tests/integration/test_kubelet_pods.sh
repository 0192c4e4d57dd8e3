#!/usr/bin/env bash
# test_kubelet_pods.sh - the kubelet runs real containers: node
# registration and heartbeats, a pod to Running, restart policies and
# CrashLoopBackOff, env and termination messages, graceful deletion.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cluster.sh"
source "$(dirname "$0")/kubelet_lib.sh"

ensure_dockerd
build_images
start_control_plane
start_node 1
wait_until "node registers and becomes Ready" 150 node_ready "$NODE_NAME"

ok "node labels and capacity" kube get node "$NODE_NAME" -o jsonpath='{.metadata.labels.kubernetes\.io/hostname} {.status.capacity.pods} {.status.nodeInfo.kubeletVersion} {.status.daemonEndpoints.kubeletEndpoint.Port} {.status.addresses[0].address}'
expect_eq "node fields" "$NODE_NAME 110 v1.32.0 10250 $NODE_IP" "$OUT"
ok "node lease" kube get lease -n kube-node-lease "$NODE_NAME" -o jsonpath='{.spec.holderIdentity}'
expect_eq "lease holder" "$NODE_NAME" "$OUT"

# A pod on the node's network.
cat >"$WORK/p1.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata: {name: p1}
spec:
  hostNetwork: true
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 5
  containers:
  - name: main
    image: $BUSYBOX_IMAGE
    command: ["sh", "-c", "trap 'echo TERM >/dev/termination-log; exit 0' TERM; while true; do sleep 1; done"]
YAML
ok "create p1" kube apply -f "$WORK/p1.yaml"
wait_until "p1 Running" 150 pod_phase_is p1 Running
wait_until "p1 Ready" 50 pod_ready p1
ok "p1 IPs" pod_field p1 '{.status.podIP} {.status.hostIP} {.status.qosClass}'
expect_eq "p1 podIP is the node's" "$NODE_IP $NODE_IP BestEffort" "$OUT"
cid=$(pod_field p1 '{.status.containerStatuses[0].containerID}')
expect_match "containerID" '^docker://[0-9a-f]{64}$' "$cid"
ok "container labels" docker inspect -f '{{index .Config.Labels "io.kubernetes.pod.name"}} {{index .Config.Labels "io.kubernetes.node.name"}} {{index .Config.Labels "io.kubernetes.container.restartCount"}}' "${cid#docker://}"
expect_eq "labels name/node/restarts" "p1 $NODE_NAME 0" "$OUT"

done_testing
