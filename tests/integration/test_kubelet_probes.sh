#!/usr/bin/env bash
# test_kubelet_probes.sh - probes, readiness and the pod lifecycle around
# containers: a liveness failure restarts (exec), readiness gates Ready and
# the Service's Endpoints (exec), httpGet and tcpSocket probes against a
# server in the pod, a startup probe holding liveness back, readinessGates,
# init containers in order, a restartable init container (sidecar),
# postStart and preStop hooks.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cluster.sh"
source "$(dirname "$0")/kubelet_lib.sh"

ensure_dockerd
build_images
start_control_plane
start_node 1
wait_until "node Ready" 150 node_ready "$NODE_NAME"
mkdir -p "$WORK/shared"

apply() { kube apply -f - >/dev/null; }
common="hostNetwork: true
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 5"

# ---- liveness ----
apply <<YAML
apiVersion: v1
kind: Pod
metadata: {name: live}
spec:
  $common
  containers:
  - name: main
    image: $BUSYBOX_IMAGE
    command: [sh, -c, "touch /tmp/healthy; sleep 3; rm /tmp/healthy; sleep 3600"]
    livenessProbe: {exec: {command: [cat, /tmp/healthy]}, periodSeconds: 1, failureThreshold: 2}
YAML
restarted() { [[ "$(pod_field live '{.status.containerStatuses[0].restartCount}')" -ge 1 ]]; }
wait_until "liveness failure restarts the container" 200 restarted
ok "live events" pod_events live
expect_match "Unhealthy event" 'Unhealthy: Liveness probe failed: cat: can.t open ./tmp/healthy.: No such file or directory' "$OUT"
expect_match "Killing event" 'Killing: Container main failed liveness probe, will be restarted' "$OUT"

# ---- readiness and Endpoints ----
apply <<YAML
apiVersion: v1
kind: Service
metadata: {name: rsvc}
spec:
  selector: {app: ready}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: ready, labels: {app: ready}}
spec:
  $common
  containers:
  - name: main
    image: $BUSYBOX_IMAGE
    command: [sh, -c, "sleep 4; touch /tmp/ready; sleep 3600"]
    readinessProbe: {exec: {command: [test, -e, /tmp/ready]}, periodSeconds: 1}
YAML
wait_until "ready pod Running" 150 pod_phase_is ready Running
ok "not ready at first" pod_field ready '{.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].reason} {.status.containerStatuses[0].ready}'
expect_eq "Ready False, ContainersNotReady" "False ContainersNotReady false" "$OUT"
not_ready_ep() { [[ "$(kube get endpoints rsvc -o jsonpath='{.subsets[0].notReadyAddresses[0].ip}')" == "$NODE_IP" ]]; }
wait_until "Endpoints list the pod as not ready" 100 not_ready_ep
wait_until "readiness probe succeeds: Ready" 100 pod_ready ready
ready_ep() { [[ "$(kube get endpoints rsvc -o jsonpath='{.subsets[0].addresses[0].ip}')" == "$NODE_IP" ]]; }
wait_until "Endpoints list the pod as ready" 100 ready_ep

# ---- httpGet, tcpSocket and startup probes ----
apply <<YAML
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  $common
  containers:
  - name: main
    image: $BUSYBOX_IMAGE
    command: [sh, -c, "mkdir -p /www; echo ok >/www/healthz; sleep 3; exec httpd -f -p 18080 -h /www"]
    ports: [{name: http, containerPort: 18080}]
    startupProbe: {tcpSocket: {port: http}, periodSeconds: 1, failureThreshold: 30}
    readinessProbe: {httpGet: {path: /healthz, port: http}, periodSeconds: 1}
    livenessProbe: {httpGet: {path: /healthz, port: 18080}, periodSeconds: 1, failureThreshold: 3}
YAML
started_false() { [[ "$(pod_field web '{.status.containerStatuses[0].started}')" == false ]]; }
wait_until "not started while the startup probe fails" 150 started_false
wait_until "web Ready through httpGet" 150 pod_ready web
ok "web started, no restart" pod_field web '{.status.containerStatuses[0].started} {.status.containerStatuses[0].restartCount}'
expect_eq "started" "true 0" "$OUT"
ok "break the health endpoint" docker exec "$(pod_field web '{.status.containerStatuses[0].containerID}' | sed 's|docker://||')" rm /www/healthz
not_ready_web() { ! pod_ready web; }
wait_until "readiness follows the HTTP 404" 100 not_ready_web
ok "web events" pod_events web
expect_match "HTTP probe failure" 'Unhealthy: Readiness probe failed: HTTP probe failed with statuscode: 404' "$OUT"
web_restarted() { [[ "$(pod_field web '{.status.containerStatuses[0].restartCount}')" -ge 1 ]]; }
wait_until "liveness over HTTP restarts it" 150 web_restarted

# ---- readinessGates ----
apply <<YAML
apiVersion: v1
kind: Pod
metadata: {name: gated}
spec:
  $common
  readinessGates: [{conditionType: example.com/gate}]
  containers: [{name: main, image: $BUSYBOX_IMAGE, command: [sleep, "3600"]}]
YAML
gate_waiting() { [[ "$(pod_field gated '{.status.conditions[?(@.type=="Ready")].reason}')" == ReadinessGatesNotReady ]]; }
wait_until "Ready waits for the gate" 150 gate_waiting
ok "gate message" pod_field gated '{.status.conditions[?(@.type=="Ready")].message} {.status.conditions[?(@.type=="ContainersReady")].status}'
expect_eq "missing gate condition" 'corresponding condition of pod readiness gate "example.com/gate" does not exist. True' "$OUT"
ok "set the gate" kube patch pod gated --subresource=status --type=strategic -p '{"status":{"conditions":[{"type":"example.com/gate","status":"True"}]}}'
wait_until "Ready once the gate is True" 100 pod_ready gated
sleep 3
ok "the gate condition stays" pod_field gated '{.status.conditions[?(@.type=="example.com/gate")].status}'
expect_eq "gate kept by the kubelet's status writes" True "$OUT"

# ---- init containers and a sidecar ----
apply <<YAML
apiVersion: v1
kind: Pod
metadata: {name: inits}
spec:
  $common
  restartPolicy: Never
  volumes: [{name: w, emptyDir: {}}]
  initContainers:
  - {name: first, image: $BUSYBOX_IMAGE, command: [sh, -c, "echo first >/w/order"], volumeMounts: [{name: w, mountPath: /w}]}
  - {name: side, image: $BUSYBOX_IMAGE, restartPolicy: Always, command: [sh, -c, "echo side >>/w/order; sleep 3600"], volumeMounts: [{name: w, mountPath: /w}]}
  - {name: second, image: $BUSYBOX_IMAGE, command: [sh, -c, "echo second >>/w/order"], volumeMounts: [{name: w, mountPath: /w}]}
  containers:
  - {name: main, image: $BUSYBOX_IMAGE, command: [sh, -c, "echo main >>/w/order; cat /w/order >/dev/termination-log; sleep 2"], volumeMounts: [{name: w, mountPath: /w}]}
YAML
wait_until "pod with init containers and a sidecar Succeeded" 200 pod_phase_is inits Succeeded
ok "order" pod_field inits '{.status.containerStatuses[0].state.terminated.message}'
expect_eq "init containers in order, sidecar before the next" $'first\nside\nsecond\nmain' "$OUT"
ok "init statuses" pod_field inits '{range .status.initContainerStatuses[*]}{.name}={.state.terminated.reason} {end}'
expect_match "regular init containers completed" 'first=Completed side=[A-Za-z]* second=Completed' "$OUT"
side_stopped() { [[ -z "$(docker ps -q --filter "label=io.kubernetes.pod.name=inits" --filter "label=io.kubernetes.container.name=side" --filter "label=io.kubernetes.node.name=$NODE_NAME")" ]]; }
wait_until "the sidecar is stopped with the pod" 150 side_stopped

apply <<YAML
apiVersion: v1
kind: Pod
metadata: {name: badinit}
spec:
  $common
  restartPolicy: Never
  initContainers: [{name: bad, image: $BUSYBOX_IMAGE, command: [sh, -c, "exit 7"]}]
  containers: [{name: main, image: $BUSYBOX_IMAGE, command: [sleep, "3600"]}]
YAML
wait_until "a failed init container fails a Never pod" 150 pod_phase_is badinit Failed
ok "badinit conditions" pod_field badinit '{.status.conditions[?(@.type=="Initialized")].reason} {.status.initContainerStatuses[0].state.terminated.exitCode} {.status.containerStatuses[0].state.waiting.reason}'
expect_eq "not initialized, app never started" "ContainersNotInitialized 7 PodInitializing" "$OUT"

# ---- hooks ----
apply <<YAML
apiVersion: v1
kind: Pod
metadata: {name: hooks}
spec:
  $common
  volumes: [{name: s, hostPath: {path: $WORK/shared}}]
  containers:
  - name: main
    image: $BUSYBOX_IMAGE
    command: [sh, -c, "trap 'echo term >>/s/hooks; exit 0' TERM; while true; do sleep 1; done"]
    volumeMounts: [{name: s, mountPath: /s}]
    lifecycle:
      postStart: {exec: {command: [sh, -c, "echo poststart >>/s/hooks"]}}
      preStop: {exec: {command: [sh, -c, "echo prestop >>/s/hooks"]}}
YAML
wait_until "hooks pod Running" 150 pod_phase_is hooks Running
ok "delete hooks" kube delete pod hooks --wait=false
wait_until "hooks pod gone" 150 pod_gone hooks
expect_eq "postStart, then preStop before SIGTERM" $'poststart\nprestop\nterm' "$(cat "$WORK/shared/hooks")"

done_testing
