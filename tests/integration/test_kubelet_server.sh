#!/usr/bin/env bash
# test_kubelet_server.sh - the kubelet's own endpoints and static pods:
# /healthz on the healthz port, /pods, /containerLogs with kubectl logs
# semantics (tail, timestamps, previous, follow, limitBytes, the "is
# waiting to start" answer), /stats/summary, /metrics/resource, and a
# static pod from the manifest directory that runs and is mirrored (a
# deleted mirror comes back, a removed manifest stops the pod and its
# mirror goes).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cluster.sh"
source "$(dirname "$0")/kubelet_lib.sh"

ensure_dockerd
build_images
start_control_plane
mkdir -p "$WORK/manifests"
cat >"$WORK/manifests/static.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {tier: static}}
spec:
  hostNetwork: true
  containers:
  - {name: main, image: $BUSYBOX_IMAGE, command: [sh, -c, "echo static-up; sleep 3600"]}
YAML
start_node 1 --pod-manifest-path="$WORK/manifests" --file-check-frequency=1s
wait_until "node Ready" 150 node_ready "$NODE_NAME"
KL=https://$NODE_IP:10250
kcurl() { curl -sk --max-time 20 "$@"; }

# healthz on the node's loopback
ok "healthz port" nsenter -t "$NODE_PID" -n curl -fsS http://127.0.0.1:10248/healthz
expect_eq "healthz" ok "$OUT"
ok "healthz on the HTTPS port" kcurl "$KL/healthz"
expect_eq "HTTPS healthz" ok "$OUT"

# the static pod and its mirror
mirror=web-$NODE_NAME
wait_until "mirror pod appears" 150 kube get pod "$mirror"
wait_until "static pod Running" 150 pod_phase_is "$mirror" Running
ok "mirror annotations" pod_field "$mirror" '{.metadata.annotations.kubernetes\.io/config\.mirror} {.metadata.annotations.kubernetes\.io/config\.source} {.metadata.ownerReferences[0].kind}'
expect_match "mirror annotations and owner" '^[0-9a-f]{32} file Node$' "$OUT"
muid=$(pod_field "$mirror" '{.metadata.uid}')
ok "delete the mirror" kube delete pod "$mirror" --wait=false
mirror_back() {
  [[ "$(pod_field "$mirror" '{.metadata.uid} {.metadata.deletionTimestamp} {.status.phase}')" =~ ^[0-9a-f-]+\ \ Running$ ]] &&
    [[ "$(pod_field "$mirror" '{.metadata.uid}')" != "$muid" ]]
}
wait_until "a new mirror replaces the deleted one" 150 mirror_back
before=$(docker ps -q --filter "label=io.kubernetes.node.name=$NODE_NAME" --filter "label=io.kubernetes.container.name=main" | sort)

# /pods and logs
cat <<YAML | kube apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: talker}
spec:
  hostNetwork: true
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: $BUSYBOX_IMAGE
    command: [sh, -c, "for i in 1 2 3 4 5; do echo line\$i; done; sleep 0.5; echo oops >&2; if [ -e /tmp/again ]; then sleep 3600; fi; touch /tmp/again; sleep 2; exit 1"]
YAML
ok "/pods lists the static pod" kcurl "$KL/pods"
expect_match "/pods" "\"name\":\"$mirror\"" "$OUT"
restarted() { [[ "$(pod_field talker '{.status.containerStatuses[0].restartCount}')" -ge 1 ]]; }
wait_until "talker restarted once" 150 restarted
wait_until "talker running again" 100 pod_phase_is talker Running
# the second instance writes "oops" 0.5 s after its first lines
talked() { [[ "$(kcurl "$KL/containerLogs/default/talker/main")" == *oops ]]; }
wait_until "the second instance wrote all its lines" 50 talked
ok "logs" kcurl "$KL/containerLogs/default/talker/main"
expect_eq "stdout and stderr" $'line1\nline2\nline3\nline4\nline5\noops' "$OUT"
ok "tailLines" kcurl "$KL/containerLogs/default/talker/main?tailLines=2"
expect_eq "last two lines" $'line5\noops' "$OUT"
ok "timestamps" kcurl "$KL/containerLogs/default/talker/main?tailLines=1&timestamps=true"
expect_match "RFC 3339 timestamp first" '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z oops$' "$OUT"
ok "limitBytes" kcurl "$KL/containerLogs/default/talker/main?limitBytes=8"
expect_eq "8 bytes" $'line1\nli' "$OUT"
ok "previous" kcurl "$KL/containerLogs/default/talker/main?previous=true"
expect_eq "the previous instance" $'line1\nline2\nline3\nline4\nline5\noops' "$OUT"
ok "static pod logs" kcurl "$KL/containerLogs/default/$mirror/main"
expect_eq "static pod output" static-up "$OUT"
# follow: a second writer appears while we read
cat <<YAML | kube apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: ticker}
spec:
  hostNetwork: true
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 1
  containers: [{name: main, image: $BUSYBOX_IMAGE, command: [sh, -c, "i=0; while true; do i=\$((i+1)); echo tick\$i; sleep 0.5; done"]}]
YAML
wait_until "ticker Running" 150 pod_phase_is ticker Running
kcurl -N "$KL/containerLogs/default/ticker/main?follow=true" >"$WORK/follow.out" 2>/dev/null &
FOLLOW=$!
PIDS+=("$FOLLOW")
followed() { [[ $(grep -c tick "$WORK/follow.out") -ge 6 ]]; }
wait_until "follow streams new lines" 100 followed
kill "$FOLLOW" 2>/dev/null || true

# a container that never started
cat <<YAML | kube apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: waiting}
spec:
  hostNetwork: true
  automountServiceAccountToken: false
  containers: [{name: c, image: $BUSYBOX_IMAGE, command: [sleep, "3600"], env: [{name: X, valueFrom: {configMapKeyRef: {name: none, key: x}}}]}]
YAML
wait_until "waiting pod blocked" 150 pod_waiting_is waiting CreateContainerConfigError
code=$(curl -sk -o "$WORK/w.out" -w '%{http_code}' "$KL/containerLogs/default/waiting/c")
expect_eq "400 for a container waiting to start" 400 "$code"
expect_eq "upstream's message" 'container "c" in pod "waiting" is waiting to start: CreateContainerConfigError' "$(cat "$WORK/w.out")"
code=$(curl -sk -o "$WORK/w.out" -w '%{http_code}' "$KL/containerLogs/default/nosuch/c")
expect_eq "404 for an unknown pod" 404 "$code"

# stats
ok "/stats/summary" kcurl "$KL/stats/summary"
stats=$OUT
py() { python3 -c "import json,sys; d=json.loads(sys.stdin.read()); print($1)" <<<"$stats"; }
expect_eq "node name" "$NODE_NAME" "$(py 'd["node"]["nodeName"]')"
expect_match "node memory" '^[1-9][0-9]+$' "$(py 'd["node"]["memory"]["workingSetBytes"]')"
expect_match "node fs" '^[1-9][0-9]+$' "$(py 'd["node"]["fs"]["capacityBytes"]')"
expect_match "ticker's container memory" '^[1-9][0-9]*$' "$(py '[c for p in d["pods"] if p["podRef"]["name"]=="ticker" for c in p["containers"]][0]["memory"]["workingSetBytes"]')"
expect_match "ticker's container cpu" '^[0-9]+$' "$(py '[c for p in d["pods"] if p["podRef"]["name"]=="ticker" for c in p["containers"]][0]["cpu"]["usageCoreNanoSeconds"]')"
ok "/metrics/resource" kcurl "$KL/metrics/resource"
expect_match "container metric" '^container_memory_working_set_bytes\{container="main",namespace="default",pod="ticker"\} [0-9]' "$OUT"
expect_match "node metric" '^node_cpu_usage_seconds_total [0-9.e+]+ [0-9]+$' "$OUT"
ok "/metrics" kcurl "$KL/metrics"

# removing the manifest stops the static pod; its mirror goes away
after=$(docker ps -q --filter "label=io.kubernetes.node.name=$NODE_NAME" --filter "label=io.kubernetes.pod.namespace=default" --filter "label=io.kubernetes.container.name=main" --filter "label=io.kubernetes.pod.name=$mirror" | sort)
expect_eq "the static pod's container survived the mirror's deletion" "$(grep -F "$after" <<<"$before")" "$after"
rm "$WORK/manifests/static.yaml"
wait_until "mirror pod removed" 150 pod_gone "$mirror"
static_stopped() { [[ -z "$(docker ps -q --filter "label=io.kubernetes.pod.name=$mirror" --filter "label=io.kubernetes.node.name=$NODE_NAME")" ]]; }
wait_until "static pod's containers stopped" 150 static_stopped

done_testing
