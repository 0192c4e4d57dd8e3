#!/usr/bin/env bash
# test_kubelet_config.sh - what the kubelet puts into containers and what
# it refuses: environment (values with $(VAR) expansion, fieldRef,
# resourceFieldRef, ConfigMap and Secret keys, envFrom, service
# variables), volumes (configMap with items and modes, secret, downwardAPI,
# projected, emptyDir on disk and in memory, hostPath), a ConfigMap change
# reaching a mounted file, securityContext, OOMKilled, and bad input
# (missing ConfigMap, missing image, missing command, an items path
# escaping with "..", a hostPath of the wrong type, runAsNonRoot with a
# root image), each with upstream's reason and message while a healthy pod
# keeps running.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cluster.sh"
source "$(dirname "$0")/kubelet_lib.sh"

ensure_dockerd
build_images
start_control_plane
start_node 1
wait_until "node Ready" 150 node_ready "$NODE_NAME"
mkdir -p "$WORK/shared"
touch "$WORK/shared/afile"

kube create configmap cm1 --from-literal=a=1 --from-literal=b=two >/dev/null
kube create secret generic s1 --from-literal=pw=hunter2 >/dev/null

# pod NAME RESTART COMMAND [spec lines for the container...] -- [pod spec lines...]
pod() {
  local name=$1 restart=$2 cmd=$3; shift 3
  local cextra="" pextra="" in_pod=0 l
  for l in "$@"; do
    if [[ "$l" == -- ]]; then in_pod=1; continue; fi
    if ((in_pod)); then pextra+="  $l"$'\n'; else cextra+="    $l"$'\n'; fi
  done
  cat <<YAML
apiVersion: v1
kind: Pod
metadata: {name: $name, labels: {app: $name}}
spec:
  hostNetwork: true
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 2
  restartPolicy: $restart
${pextra}  containers:
  - name: main
    image: $BUSYBOX_IMAGE
    command: ["sh", "-c", "$cmd"]
${cextra}
YAML
}
term_msg() { pod_field "$1" '{.status.containerStatuses[0].state.terminated.message}'; }

# A healthy pod that must keep running through everything below.
pod healthy Always "while true; do sleep 1; done" | kube apply -f - >/dev/null

# ---- environment ----
pod envpod Never 'env | sort >/dev/termination-log; echo cmd:$(A) >>/dev/termination-log' \
  'resources: {limits: {memory: 64Mi}}' \
  'envFrom: [{prefix: CM_, configMapRef: {name: cm1}}]' \
  'env:' \
  '- {name: A, value: "1"}' \
  '- {name: B, value: "$(A)-x"}' \
  '- {name: C, value: "$$(A)"}' \
  '- {name: D, value: "$(NOPE)"}' \
  '- {name: PODNAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}' \
  '- {name: NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}' \
  '- {name: IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}' \
  "- {name: LBL, valueFrom: {fieldRef: {fieldPath: \"metadata.labels['app']\"}}}" \
  '- {name: CMA, valueFrom: {configMapKeyRef: {name: cm1, key: a}}}' \
  '- {name: SEC, valueFrom: {secretKeyRef: {name: s1, key: pw}}}' \
  '- {name: MEM, valueFrom: {resourceFieldRef: {containerName: main, resource: limits.memory, divisor: 1Mi}}}' \
  '- {name: OPT, valueFrom: {configMapKeyRef: {name: nope, key: x, optional: true}}}' | kube apply -f - >/dev/null
wait_until "envpod Succeeded" 150 pod_phase_is envpod Succeeded
OUT=$(term_msg envpod)
for kv in 'A=1' 'B=1-x' 'C=$(A)' 'D=$(NOPE)' 'PODNAME=envpod' "NODE=$NODE_NAME" "IP=$NODE_IP" 'LBL=envpod' 'CMA=1' \
  'SEC=hunter2' 'MEM=64' 'CM_a=1' 'CM_b=two' 'KUBERNETES_SERVICE_HOST=10.96.0.1' 'KUBERNETES_SERVICE_PORT=443' \
  'KUBERNETES_PORT_443_TCP=tcp://10.96.0.1:443' 'cmd:1'; do
  expect_match "env $kv" "^$(sed 's/[$()]/\\&/g' <<<"$kv")\$" "$OUT"
done
expect_no_match "optional missing key is left out" '^OPT=' "$OUT"

# ---- volumes ----
cat <<YAML | kube apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: volpod, labels: {app: volpod, tier: x}}
spec:
  hostNetwork: true
  automountServiceAccountToken: false
  restartPolicy: Never
  volumes:
  - {name: cfg, configMap: {name: cm1, items: [{key: a, path: sub/a.txt, mode: 0600}]}}
  - {name: cfgall, configMap: {name: cm1, defaultMode: 0640}}
  - {name: sec, secret: {secretName: s1}}
  - {name: dapi, downwardAPI: {items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}, {path: name, fieldRef: {fieldPath: metadata.name}}]}}
  - {name: proj, projected: {sources: [{configMap: {name: cm1, items: [{key: b, path: pb}]}}, {downwardAPI: {items: [{path: ns, fieldRef: {fieldPath: metadata.namespace}}]}}]}}
  - {name: scratch, emptyDir: {}}
  - {name: mem, emptyDir: {medium: Memory, sizeLimit: 8Mi}}
  - {name: host, hostPath: {path: $WORK/shared, type: Directory}}
  containers:
  - name: main
    image: $BUSYBOX_IMAGE
    command: ["sh", "-c", "for f in /cfg/sub/a.txt /cfgall/b /sec/pw /dapi/name /proj/pb /proj/ns; do echo \$f=\$(cat \$f); done >/dev/termination-log; cat /dapi/labels >>/dev/termination-log; echo >>/dev/termination-log; stat -L -c 'mode %n %a' /cfg/sub/a.txt /cfgall/a >>/dev/termination-log; grep -c ' /mem tmpfs' /proc/mounts | sed 's/^/memtmpfs=/' >>/dev/termination-log; echo hi >/scratch/x && echo scratch=\$(cat /scratch/x) >>/dev/termination-log; echo from-pod >/host/volpod"]
    volumeMounts:
    - {name: cfg, mountPath: /cfg}
    - {name: cfgall, mountPath: /cfgall}
    - {name: sec, mountPath: /sec}
    - {name: dapi, mountPath: /dapi}
    - {name: proj, mountPath: /proj}
    - {name: scratch, mountPath: /scratch}
    - {name: mem, mountPath: /mem}
    - {name: host, mountPath: /host}
YAML
wait_until "volpod Succeeded" 150 pod_phase_is volpod Succeeded
OUT=$(term_msg volpod)
for l in '/cfg/sub/a.txt=1' '/cfgall/b=two' '/sec/pw=hunter2' '/dapi/name=volpod' '/proj/pb=two' '/proj/ns=default' \
  'app="volpod"' 'tier="x"' 'mode /cfg/sub/a.txt 600' 'mode /cfgall/a 640' 'memtmpfs=1' 'scratch=hi'; do
  expect_match "volume $l" "^$l\$" "$OUT"
done
expect_eq "hostPath written from the pod" from-pod "$(cat "$WORK/shared/volpod")"

# A ConfigMap change reaches the mounted file.
pod live Always "while true; do cat /cfg/a >/shared/live-a.tmp; mv /shared/live-a.tmp /shared/live-a; sleep 0.3; done" \
  'volumeMounts: [{name: cfg, mountPath: /cfg}, {name: shared, mountPath: /shared}]' -- \
  "volumes: [{name: cfg, configMap: {name: cm1}}, {name: shared, hostPath: {path: $WORK/shared}}]" | kube apply -f - >/dev/null
live_is() { [[ "$(cat "$WORK/shared/live-a" 2>/dev/null)" == "$1" ]]; }
wait_until "live pod sees a=1" 150 live_is 1
ok "update cm1" kube patch configmap cm1 -p '{"data":{"a":"updated"}}'
wait_until "the mounted file follows the ConfigMap" 150 live_is updated

# ---- securityContext and OOM ----
pod secpod Never "id -u >/dev/termination-log; touch /rootfs-write 2>/dev/null && echo writable >>/dev/termination-log || echo readonly >>/dev/termination-log" \
  'securityContext: {runAsUser: 65534, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false}' | kube apply -f - >/dev/null
wait_until "secpod Succeeded" 150 pod_phase_is secpod Succeeded
expect_eq "runAsUser and readOnlyRootFilesystem" $'65534\nreadonly' "$(term_msg secpod)"
pod oom Never "sleep 1; tail /dev/zero" 'resources: {limits: {memory: 24Mi}}' | kube apply -f - >/dev/null
wait_until "oom Failed" 200 pod_phase_is oom Failed
ok "oom state" pod_field oom '{.status.containerStatuses[0].state.terminated.reason} {.status.containerStatuses[0].state.terminated.exitCode}'
# The reason is the engine's verdict (State.OOMKilled), as upstream's is the
# CRI runtime's; some engines miss OOM kills (containerd's cgroup v1 watch).
oomcid=$(pod_field oom '{.status.containerStatuses[0].containerID}')
if [[ "$(docker inspect -f '{{.State.OOMKilled}}' "${oomcid#docker://}")" == true ]]; then
  expect_eq "OOMKilled" "OOMKilled 137" "$OUT"
else
  echo "# the engine did not report this OOM kill: the reason is Error"
  expect_eq "OOM kill the engine missed" "Error 137" "$OUT"
fi

# ---- bad input ----
pod nocm Always "sleep 3600" 'env: [{name: X, valueFrom: {configMapKeyRef: {name: nope, key: x}}}]' | kube apply -f - >/dev/null
wait_until "missing ConfigMap: CreateContainerConfigError" 150 pod_waiting_is nocm CreateContainerConfigError
ok "nocm message" pod_field nocm '{.status.containerStatuses[0].state.waiting.message}'
expect_eq "missing ConfigMap message" 'configmap "nope" not found' "$OUT"
ok "nocm events" pod_events nocm
expect_match "Failed event" 'Failed: Error: configmap "nope" not found' "$OUT"

cat <<YAML | kube apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: noimage}
spec:
  hostNetwork: true
  automountServiceAccountToken: false
  containers: [{name: main, image: "127.0.0.1:1/kubelet-test/missing:1", imagePullPolicy: IfNotPresent}]
YAML
pull_failed() { pod_waiting_is noimage ErrImagePull || pod_waiting_is noimage ImagePullBackOff; }
wait_until "missing image: ErrImagePull or ImagePullBackOff" 200 pull_failed
wait_until "then ImagePullBackOff" 200 pod_waiting_is noimage ImagePullBackOff
ok "noimage message" pod_field noimage '{.status.containerStatuses[0].state.waiting.message}'
expect_eq "back-off message" 'Back-off pulling image "127.0.0.1:1/kubelet-test/missing:1"' "$OUT"
ok "noimage events" pod_events noimage
expect_match "Pulling event" 'Pulling: Pulling image "127.0.0.1:1/kubelet-test/missing:1"' "$OUT"
expect_match "Failed to pull event" 'Failed: Failed to pull image "127.0.0.1:1/kubelet-test/missing:1": ' "$OUT"

cat <<YAML | kube apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: nocmd}
spec:
  hostNetwork: true
  automountServiceAccountToken: false
  containers: [{name: main, image: $BUSYBOX_IMAGE, command: [/no/such/command]}]
YAML
nocmd_failed() { [[ "$(pod_field nocmd '{.status.containerStatuses[0].lastState.terminated.reason}')" == StartError ]]; }
wait_until "missing command: StartError" 150 nocmd_failed
ok "nocmd state" pod_field nocmd '{.status.containerStatuses[0].lastState.terminated.exitCode} {.status.containerStatuses[0].lastState.terminated.message}'
expect_match "StartError message" '^128 .*exec: "/no/such/command": stat /no/such/command: no such file or directory' "$OUT"
wait_until "then CrashLoopBackOff" 150 pod_waiting_is nocmd CrashLoopBackOff

pod escape Always "sleep 3600" 'volumeMounts: [{name: cfg, mountPath: /cfg}]' -- \
  'volumes: [{name: cfg, configMap: {name: cm1, items: [{key: a, path: ../escape}]}}]' | kube apply -f - >/dev/null
escape_event() { pod_events escape | grep -q "FailedMount: MountVolume.SetUp failed for volume \"cfg\" : invalid path: must not contain '..': ../escape"; }
wait_until "items path with .. refused (FailedMount)" 150 escape_event
ok "escape still waiting" pod_field escape '{.status.phase} {.status.containerStatuses[0].state.waiting.reason}'
expect_eq "escape pending" "Pending ContainerCreating" "$OUT"
[[ ! -e "$ROOT_DIR/pods/escape" && ! -e "$ROOT_DIR/escape" ]] || fail "something escaped the volume"

pod wrongtype Always "sleep 3600" 'volumeMounts: [{name: h, mountPath: /h}]' -- \
  "volumes: [{name: h, hostPath: {path: $WORK/shared/afile, type: Directory}}]" | kube apply -f - >/dev/null
wrongtype_event() { pod_events wrongtype | grep -q "FailedMount: MountVolume.SetUp failed for volume \"h\" : hostPath type check failed: $WORK/shared/afile is not a directory"; }
wait_until "hostPath of the wrong type refused (FailedMount)" 150 wrongtype_event

pod nonroot Always "sleep 3600" 'securityContext: {runAsNonRoot: true}' | kube apply -f - >/dev/null
wait_until "runAsNonRoot with a root image: CreateContainerConfigError" 150 pod_waiting_is nonroot CreateContainerConfigError
ok "nonroot message" pod_field nonroot '{.status.containerStatuses[0].state.waiting.message}'
expect_match "runAsNonRoot message" '^container has runAsNonRoot and image will run as root \(pod: "nonroot_default\(.*\)", container: main\)$' "$OUT"

ok "healthy pod unaffected" pod_field healthy '{.status.phase} {.status.containerStatuses[0].restartCount} {.status.containerStatuses[0].ready}'
expect_eq "healthy still running" "Running 0 true" "$OUT"

done_testing
