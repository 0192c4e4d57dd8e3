#!/usr/bin/env bash
# test_kubelet_pods.sh - the kubelet runs real containers: node
# registration and heartbeats, pods to Running, restart policies and exit
# states, CrashLoopBackOff with growing back-off, graceful deletion (SIGTERM
# first, the API object gone only after), a kubelet restart that neither
# restarts nor duplicates containers, a Deployment's replicas.
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

mkdir -p "$WORK/shared"
pod() { # NAME RESTART-POLICY COMMAND [extra spec yaml lines]
  cat <<YAML
apiVersion: v1
kind: Pod
metadata: {name: $1, labels: {app: $1}}
spec:
  hostNetwork: true
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 5
  restartPolicy: $2
  volumes: [{name: shared, hostPath: {path: $WORK/shared, type: Directory}}]
  containers:
  - name: main
    image: $BUSYBOX_IMAGE
    command: ["sh", "-c", "$3"]
    volumeMounts: [{name: shared, mountPath: /shared}]
YAML
}

# A long-running pod that notes SIGTERM in the shared directory.
pod p1 Always "trap 'echo TERM >/shared/p1-term; exit 0' TERM; while true; do sleep 1; done" | kube apply -f - >/dev/null
pod done0 Never "echo bye >/dev/termination-log; exit 0" | kube apply -f - >/dev/null
pod done1 Never "exit 3" | kube apply -f - >/dev/null
pod crash Always "exit 1" | kube apply -f - >/dev/null
pod onfail OnFailure "exit 2" | kube apply -f - >/dev/null

wait_until "p1 Running" 150 pod_phase_is p1 Running
wait_until "p1 Ready" 50 pod_ready p1
ok "p1 IPs" pod_field p1 '{.status.podIP} {.status.hostIP} {.status.qosClass} {.status.containerStatuses[0].started}'
expect_eq "p1 podIP is the node's" "$NODE_IP $NODE_IP BestEffort true" "$OUT"
cid=$(pod_field p1 '{.status.containerStatuses[0].containerID}')
expect_match "containerID" '^docker://[0-9a-f]{64}$' "$cid"
ok "container labels" docker inspect -f '{{index .Config.Labels "io.kubernetes.pod.name"}} {{index .Config.Labels "io.kubernetes.pod.namespace"}} {{index .Config.Labels "io.kubernetes.container.name"}} {{index .Config.Labels "io.kubernetes.node.name"}} {{index .Config.Labels "io.kubernetes.container.restartCount"}}' "${cid#docker://}"
expect_eq "labels name/ns/container/node/restarts" "p1 default main $NODE_NAME 0" "$OUT"
ok "p1 conditions" pod_field p1 '{range .status.conditions[*]}{.type}={.status} {end}'
expect_match "conditions" 'PodReadyToStartContainers=True' "$OUT"
expect_match "conditions in upstream order" "Initialized=True Ready=True ContainersReady=True PodScheduled=True" "$OUT"
ok "events" pod_events p1
expect_match "Created and Started events" 'Started: Started container main' "$OUT"
ok "p1 Ready reason and message" pod_field p1 '{.status.conditions[?(@.type=="Ready")].reason}{.status.conditions[?(@.type=="Ready")].message}'
expect_eq "a True Ready has neither" "" "$OUT"
rv=$(pod_field p1 '{.metadata.resourceVersion}')
sleep 3
expect_eq "no status writes while nothing changes" "$rv" "$(pod_field p1 '{.metadata.resourceVersion}')"

wait_until "done0 Succeeded" 150 pod_phase_is done0 Succeeded
ok "done0 state" pod_field done0 '{.status.containerStatuses[0].state.terminated.reason} {.status.containerStatuses[0].state.terminated.exitCode} {.status.containerStatuses[0].state.terminated.message}'
expect_eq "done0 terminated" "Completed 0 bye" "$OUT"
ok "done0 Ready condition" pod_field done0 '{.status.conditions[?(@.type=="Ready")].reason}'
expect_eq "completed pod not ready" "PodCompleted" "$OUT"
wait_until "done1 Failed" 150 pod_phase_is done1 Failed
ok "done1 state" pod_field done1 '{.status.containerStatuses[0].state.terminated.reason} {.status.containerStatuses[0].state.terminated.exitCode} {.status.containerStatuses[0].restartCount}'
expect_eq "done1 terminated" "Error 3 0" "$OUT"

restarts_at_least() { [[ "$(pod_field "$1" '{.status.containerStatuses[0].restartCount}')" -ge "$2" ]]; }
wait_until "OnFailure restarts a failed container" 150 restarts_at_least onfail 1
wait_until "crash shows CrashLoopBackOff" 150 pod_waiting_is crash CrashLoopBackOff
ok "crash message" pod_field crash '{.status.containerStatuses[0].state.waiting.message} {.status.containerStatuses[0].lastState.terminated.exitCode} {.status.phase}'
expect_match "back-off message, last exit, phase" '^back-off (10|20|40)s restarting failed container=main pod=crash_default\(.*\) 1 Running$' "$OUT"
backoff_20s() { pod_field crash '{.status.containerStatuses[0].state.waiting.message}' | grep -Eq '^back-off (20|40|80)s'; }
wait_until "the back-off grows to 20s or more" 200 backoff_20s
ok "restart count" pod_field crash '{.status.containerStatuses[0].restartCount}'
expect_match "restarted twice" '^[2-9]$' "$OUT"
ok "BackOff event" pod_events crash
expect_match "BackOff event" 'BackOff: Back-off restarting failed container main in pod crash_default' "$OUT"

# Restarting the kubelet adopts the running containers.
before=$(docker ps -q --filter "label=io.kubernetes.node.name=$NODE_NAME" --filter "label=io.kubernetes.pod.name=p1" | sort)
stop_kubelet "$KUBELET_PID"
start_kubelet 1
sleep 6
after=$(docker ps -q --filter "label=io.kubernetes.node.name=$NODE_NAME" --filter "label=io.kubernetes.pod.name=p1" | sort)
expect_eq "same p1 containers after a kubelet restart" "$before" "$after"
expect_eq "sandbox and one container" 2 "$(wc -l <<<"$after")"
ok "p1 after restart" pod_field p1 '{.status.containerStatuses[0].containerID} {.status.containerStatuses[0].restartCount}'
expect_eq "no restart" "$cid 0" "$OUT"
wait_until "p1 Ready again" 50 pod_ready p1

# A restart while the API server does not answer: the runtime's pods are
# not orphans before the API's pod list came (upstream's sourcesReady).
steady_ctrs() { # every container and sandbox of the pods that do not restart
  local n
  for n in p1 done0 done1; do
    docker ps -aq --filter "label=io.kubernetes.node.name=$NODE_NAME" --filter "label=io.kubernetes.pod.name=$n"
  done | sort
}
before=$(steady_ctrs)
stop_kubelet "$KUBELET_PID"
kill -STOP "$API_PID"
start_kubelet 1
sleep 4 # several relists
kill -CONT "$API_PID"
sleep 4
after=$(steady_ctrs)
expect_eq "no container removed while the pods were unknown" "$before" "$after"
expect_eq "p1 still running" 2 "$(docker ps -q --filter "label=io.kubernetes.node.name=$NODE_NAME" --filter "label=io.kubernetes.pod.name=p1" | wc -l)"
ok "done0 still terminated" pod_field done0 '{.status.phase} {.status.containerStatuses[0].state.terminated.reason}'
expect_eq "done0 after the restart" "Succeeded Completed" "$OUT"
ok "p1 restart count" pod_field p1 '{.status.containerStatuses[0].restartCount}'
expect_eq "p1 not restarted" 0 "$OUT"

# A pod deleted while the kubelet is down: its containers go when it is back.
pod orphan Always "sleep 3600" | kube apply -f - >/dev/null
wait_until "orphan Running" 150 pod_phase_is orphan Running
stop_kubelet "$KUBELET_PID"
ok "force-delete orphan while the kubelet is down" kube delete pod orphan --grace-period=0 --force
start_kubelet 1
orphan_gone() { [[ -z "$(docker ps -aq --filter "label=io.kubernetes.pod.name=orphan" --filter "label=io.kubernetes.node.name=$NODE_NAME")" ]]; }
wait_until "the orphan's containers are removed" 150 orphan_gone

# Graceful deletion: SIGTERM reaches the container, the object goes after.
watch_pod p1
ok "delete p1" kube delete pod p1 --wait=false
wait_until "p1 gone from the API" 150 pod_gone p1
expect_eq "the container got SIGTERM" TERM "$(cat "$WORK/shared/p1-term" 2>/dev/null)"
sleep 0.5
ok "watch" cat "$WORK/watch-p1.log"
expect_match "deleted only after the containers ended" 'MODIFIED [A-Za-z]+ 0 1 deleting
DELETED' "$OUT"
gone_from_runtime() { [[ -z "$(docker ps -aq --filter "label=io.kubernetes.pod.name=p1" --filter "label=io.kubernetes.node.name=$NODE_NAME")" ]]; }
wait_until "p1's containers removed" 100 gone_from_runtime
[[ ! -e "$ROOT_DIR/pods/$(kube get pod p1 -o jsonpath='{.metadata.uid}' 2>/dev/null || echo none)" ]] || fail "pod dir left"

# A Deployment's replicas run.
cat <<YAML | kube apply -f - >/dev/null
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      hostNetwork: true
      automountServiceAccountToken: false
      terminationGracePeriodSeconds: 1
      containers: [{name: web, image: $BUSYBOX_IMAGE, command: [sleep, "3600"]}]
YAML
deploy_ready() { [[ "$(kube get deploy web -o jsonpath='{.status.readyReplicas}')" == 2 ]]; }
wait_until "Deployment has 2 ready replicas" 200 deploy_ready
ok "scale to 1" kube scale deploy web --replicas=1
one_web() { [[ "$(docker ps -q --filter "label=io.kubernetes.node.name=$NODE_NAME" --filter "label=io.kubernetes.container.name=web" | wc -l)" == 1 ]]; }
wait_until "one web container left" 150 one_web

# Container GC (every minute) keeps only the newest exited instance.
crash_containers() { docker ps -aq --filter "label=io.kubernetes.node.name=$NODE_NAME" --filter "label=io.kubernetes.pod.name=crash" --filter "label=io.kubernetes.container.name=main" | wc -l; }
gc_done() { [[ "$(pod_field crash '{.status.containerStatuses[0].restartCount}')" -ge 3 && "$(crash_containers)" -le 2 ]]; }
wait_until "dead containers collected, the newest exited kept" 500 gc_done
ok "previous logs still there" pod_field crash '{.status.containerStatuses[0].lastState.terminated.containerID}'
expect_match "last state points at a kept container" "docker://$(docker ps -aq --no-trunc --filter "label=io.kubernetes.pod.name=crash" --filter "status=exited" | head -1)" "$OUT"

done_testing
