#!/usr/bin/env bash
# test_kubelet_eviction.sh - node-pressure eviction with a hard threshold
# the node cannot meet (memory.available<100Ti): the node reports
# MemoryPressure, evicts one pod per cycle in upstream's order (usage over
# requests first: the Burstable pod before the Guaranteed one), with the
# Evicted reason and message and a DisruptionTarget condition, and refuses
# new BestEffort pods at admission.  (Disk pressure is not provoked here:
# its reclaim removes unused images, which on a shared engine are not
# ours.)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cluster.sh"
source "$(dirname "$0")/kubelet_lib.sh"

ensure_dockerd
build_images
start_control_plane
start_node 1
wait_until "node Ready" 150 node_ready "$NODE_NAME"
cat <<YAML | kube apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: burst}
spec:
  nodeName: $NODE_NAME
  hostNetwork: true
  automountServiceAccountToken: false
  containers:
  - {name: main, image: $BUSYBOX_IMAGE, command: [sleep, "3600"], resources: {requests: {memory: 1Ki}}}
---
apiVersion: v1
kind: Pod
metadata: {name: guar}
spec:
  nodeName: $NODE_NAME
  hostNetwork: true
  automountServiceAccountToken: false
  containers:
  - {name: main, image: $BUSYBOX_IMAGE, command: [sleep, "3600"], resources: {limits: {memory: 64Mi, cpu: 100m}}}
YAML
wait_until "burst Running" 150 pod_phase_is burst Running
wait_until "guar Running" 150 pod_phase_is guar Running
ok "QoS classes" pod_field burst '{.status.qosClass}'
expect_eq "Burstable" Burstable "$OUT"

# The same node, now under an impossible memory threshold.
stop_kubelet "$KUBELET_PID"
start_kubelet 1 --eviction-hard='memory.available<100Ti' --eviction-pressure-transition-period=5s
memory_pressure() {
  [[ "$(kube get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="MemoryPressure")].status} {.status.conditions[?(@.type=="MemoryPressure")].reason}')" == "True KubeletHasInsufficientMemory" ]]
}
wait_until "node reports MemoryPressure" 150 memory_pressure
wait_until "the Burstable pod is evicted first" 150 pod_phase_is burst Failed
ok "guar still running at that moment" pod_field guar '{.status.phase}'
expect_eq "Guaranteed pod not evicted yet" Running "$OUT"
ok "burst status" pod_field burst '{.status.reason}|{.status.message}|{.status.conditions[?(@.type=="DisruptionTarget")].reason}'
expect_match "Evicted with upstream's message" '^Evicted\|The node was low on resource: memory\. Threshold quantity: 100Ti, available: [0-9]+[KMG]i\. Container main was using [0-9]+(Ki|Mi)?, request is 1Ki, has larger consumption of memory\. \|TerminationByKubelet$' "$OUT"
ok "burst events" pod_events burst
expect_match "Evicted event" '^Evicted: The node was low on resource: memory' "$OUT"
burst_stopped() { [[ -z "$(docker ps -q --filter "label=io.kubernetes.pod.name=burst" --filter "label=io.kubernetes.node.name=$NODE_NAME")" ]]; }
wait_until "the evicted pod's containers are stopped" 100 burst_stopped
wait_until "then the Guaranteed pod" 150 pod_phase_is guar Failed

# Admission under memory pressure: no BestEffort pod.
cat <<YAML | kube apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: be}
spec:
  nodeName: $NODE_NAME
  hostNetwork: true
  automountServiceAccountToken: false
  containers: [{name: main, image: $BUSYBOX_IMAGE, command: [sleep, "3600"]}]
YAML
wait_until "BestEffort pod refused" 150 pod_phase_is be Failed
ok "be status" pod_field be '{.status.reason}|{.status.message}'
expect_eq "admission message" "Evicted|The node had condition: [MemoryPressure]. " "$OUT"
never_ran() { [[ -z "$(docker ps -aq --filter "label=io.kubernetes.pod.name=be" --filter "label=io.kubernetes.node.name=$NODE_NAME")" ]]; }
ok "the refused pod never ran" never_ran

done_testing
