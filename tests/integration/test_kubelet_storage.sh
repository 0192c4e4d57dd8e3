#!/usr/bin/env bash
# test_kubelet_storage.sh - persistent volumes on a real node: the
# controller-manager's local-path provisioner makes the volume objects,
# the node's kubelet makes and removes the directories under the test's
# own --local-path-root.
#  - a claim of the default class stays Pending until a pod uses it; the
#    kubelet creates the volume's directory (0777) when the pod mounts it;
#    a subPath mount lands in a subdirectory; the data outlives the pod: a
#    new pod mounting the claim readOnly reads it and cannot write;
#  - a StatefulSet pod deleted comes back with the same claim and data;
#  - deleting the claim (reclaim Delete) removes the directory on the node
#    (a symbolic link the pod left pointing outside is not followed) and
#    the PersistentVolume object disappears; a Retain class keeps the
#    directory and the volume goes Released;
#  - bad input: a `local` volume whose path does not exist keeps its pod
#    ContainerCreating with upstream's FailedMount message (and starts
#    once the path exists); a Block volume in volumeMounts is refused; a
#    local-path volume of another node is not made for a pod forced onto
#    this one; a volume claiming to be local-path whose path lies outside
#    the root is never removed (VolumeFailedDelete event, the finalizer
#    stays).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cluster.sh"
source "$(dirname "$0")/kubelet_lib.sh"

LP=$WORK/local-path
KL_CM_FLAGS="--local-path-root=$LP --pvclaimbinder-sync-period=2s"
ensure_dockerd
build_images
start_control_plane
start_node 1 --local-path-root="$LP"
N1=$NODE_NAME
wait_until "node 1 Ready" 150 node_ready "$N1"

jp() { kube get "$1" "$2" -o jsonpath="$3" 2>/dev/null; }
is_phase() { [[ "$(jp "$1" "$2" '{.status.phase}')" == "$3" ]]; }
gone() { ! kube get "$1" "$2" >/dev/null 2>&1; }
terminated_message() { pod_field "$1" '{.status.containerStatuses[0].state.terminated.message}'; }
has_event() { # NAME REGEX: an event about object NAME (any namespace) matches
  kube get events -A --field-selector "involvedObject.name=$1" \
    -o jsonpath='{range .items[*]}{.reason}: {.message}{"\n"}{end}' 2>/dev/null | grep -Eq "$2"
}

# claim NAME [CLASS]: 1Mi ReadWriteOnce
claim() {
  local cls=""
  [[ -n "${2:-}" ]] && cls="storageClassName: $2"
  cat <<YAML | kube apply -f - >/dev/null
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: $1}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Mi}}, $cls}
YAML
}

# ---- the default class: bound when first used, directory made by the kubelet ----
mkdir -p "$WORK/sentinel"
echo keep >"$WORK/sentinel/keep"
claim data
sleep 2
expect_eq "a WaitForFirstConsumer claim waits for its pod" Pending "$(jp pvc data '{.status.phase}')"
cat <<YAML | kube apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: writer}
spec:
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: $BUSYBOX_IMAGE
    command: [sh, -c, "echo data-$RUN >/data/file && echo sub-$RUN >/sub/x && mkdir -p /data/d/e && echo deep >/data/d/e/f && ln -s $WORK/sentinel /data/escape && ln -s $WORK/sentinel/keep /data/d/keep && touch /data/done && sleep 3600"]
    volumeMounts:
    - {name: v, mountPath: /data}
    - {name: v, mountPath: /sub, subPath: sub}
  volumes:
  - name: v
    persistentVolumeClaim: {claimName: data}
YAML
wait_until "writer Running" 300 pod_phase_is writer Running
wait_until "the claim is Bound" 100 is_phase pvc data Bound
PV=$(jp pvc data '{.spec.volumeName}')
CUID=$(jp pvc data '{.metadata.uid}')
DIR=$LP/pvc-${CUID}_default_data
expect_eq "the volume's path under the test's root" "$DIR" "$(jp pv "$PV" '{.spec.local.path}')"
expect_eq "the volume is on the pod's node" "$N1" "$(pod_field writer '{.spec.nodeName}')"
expect_eq "reclaim Delete holds the cleanup finalizer" kube.local/local-path-cleanup \
  "$(jp pv "$PV" '{.metadata.finalizers}' | grep -o 'kube.local/local-path-cleanup')"
wait_until "the pod wrote into the volume" 100 test -e "$DIR/done"
ok "directory mode" stat -c %a "$DIR"
expect_eq "the kubelet made the directory world-writable" 777 "$OUT"
expect_eq "the file is on the node's disk" "data-$RUN" "$(cat "$DIR/file")"
expect_eq "the subPath mount is the volume's subdirectory" "sub-$RUN" "$(cat "$DIR/sub/x")"

# ---- the data outlives the pod; a readOnly claim mounts read-only ----
kube delete pod writer --wait=true --timeout=120s >/dev/null
cat <<YAML | kube apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: reader}
spec:
  automountServiceAccountToken: false
  restartPolicy: Never
  containers:
  - name: c
    image: $BUSYBOX_IMAGE
    command: [sh, -c, "a=\$(cat /data/file); b=\$(cat /s/x); if touch /data/new 2>/dev/null; then w=writable; else w=read-only; fi; echo \$a \$b \$w >/dev/termination-log"]
    volumeMounts:
    - {name: v, mountPath: /data}
    - {name: v, mountPath: /s, subPath: sub}
  volumes:
  - name: v
    persistentVolumeClaim: {claimName: data, readOnly: true}
YAML
wait_until "reader Succeeded" 300 pod_phase_is reader Succeeded
expect_eq "a new pod reads the data back, read-only" "data-$RUN sub-$RUN read-only" "$(terminated_message reader)"
ok "nothing was written through the read-only mount" test ! -e "$DIR/new"

# ---- reclaim Delete: the kubelet removes the directory, the volume goes ----
kube delete pod reader --wait=true --timeout=120s >/dev/null
kube delete pvc data --wait=false >/dev/null
wait_until "the PersistentVolume object disappears" 300 gone pv "$PV"
ok "the directory is removed from the node" test ! -e "$DIR"
ok "the root stays" test -d "$LP"
expect_eq "a link the pod left pointing outside was not followed" keep "$(cat "$WORK/sentinel/keep" 2>&1)"

# ---- a StatefulSet pod comes back with its claim and data ----
cat <<YAML | kube apply -f - >/dev/null
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: web
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      automountServiceAccountToken: false
      terminationGracePeriodSeconds: 1
      containers:
      - name: c
        image: $BUSYBOX_IMAGE
        command: [sh, -c, "[ -f /www/id ] || echo \$(hostname)-\$RANDOM\$RANDOM >/www/id; sleep 3600"]
        volumeMounts: [{name: www, mountPath: /www}]
  volumeClaimTemplates:
  - metadata: {name: www}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Mi}}}
YAML
wait_until "web-0 Running" 300 pod_phase_is web-0 Running
wait_until "web-1 Running" 300 pod_phase_is web-1 Running
ok "one bound claim per ordinal" kube get pvc www-web-0 www-web-1 -o jsonpath='{.items[*].status.phase}'
expect_eq "claims of the StatefulSet" "Bound Bound" "$OUT"
W0=$(jp pv "$(jp pvc www-web-0 '{.spec.volumeName}')" '{.spec.local.path}')
wait_until "web-0 wrote its id" 100 test -s "$W0/id"
ID0=$(cat "$W0/id")
expect_match "web-0's id" "^web-0-[0-9]+$" "$ID0"
OLD_UID=$(pod_field web-0 '{.metadata.uid}')
kube delete pod web-0 --wait=true --timeout=120s >/dev/null
new_web0_running() { [[ "$(pod_field web-0 '{.metadata.uid}')" != "$OLD_UID" ]] && pod_phase_is web-0 Running; }
wait_until "web-0 comes back" 300 new_web0_running
ok "the new web-0 reads the same data" kube exec web-0 -- cat /www/id
expect_eq "the data of web-0 survived its pod" "$ID0" "$OUT"

# ---- a Retain class keeps the directory ----
cat <<YAML | kube apply -f - >/dev/null
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: keep}
provisioner: kube.local/local-path
reclaimPolicy: Retain
volumeBindingMode: WaitForFirstConsumer
YAML
claim kept keep
cat <<YAML | kube apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: keeper}
spec:
  automountServiceAccountToken: false
  restartPolicy: Never
  containers:
  - {name: c, image: $BUSYBOX_IMAGE, command: [sh, -c, "echo kept-$RUN >/data/file"], volumeMounts: [{name: v, mountPath: /data}]}
  volumes: [{name: v, persistentVolumeClaim: {claimName: kept}}]
YAML
wait_until "keeper Succeeded" 300 pod_phase_is keeper Succeeded
KPV=$(jp pvc kept '{.spec.volumeName}')
KDIR=$(jp pv "$KPV" '{.spec.local.path}')
expect_eq "a Retain volume has no cleanup finalizer" "" "$(jp pv "$KPV" '{.metadata.finalizers}' | grep -o 'kube.local/local-path-cleanup' || true)"
kube delete pod keeper --wait=true --timeout=120s >/dev/null
kube delete pvc kept --wait=true --timeout=120s >/dev/null
wait_until "the Retain volume is Released" 150 is_phase pv "$KPV" Released
sleep 3 # a kubelet that wrongly cleaned up would have done it by now
expect_eq "Retain keeps the directory and its data" "kept-$RUN" "$(cat "$KDIR/file" 2>&1)"

# ---- bad input: a local volume whose path does not exist ----
local_pv() { # NAME PATH [volumeMode]
  cat <<YAML | kube apply -f - >/dev/null
apiVersion: v1
kind: PersistentVolume
metadata: {name: $1}
spec:
  capacity: {storage: 1Mi}
  accessModes: [ReadWriteOnce]
  storageClassName: manual
  volumeMode: ${3:-Filesystem}
  local: {path: "$2"}
  nodeAffinity: {required: {nodeSelectorTerms: [{matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [$N1]}]}]}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: $1}
spec: {accessModes: [ReadWriteOnce], storageClassName: manual, volumeName: $1, volumeMode: ${3:-Filesystem}, resources: {requests: {storage: 1Mi}}}
YAML
}
user_pod() { # NAME CLAIM
  cat <<YAML | kube apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: $1}
spec:
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: $BUSYBOX_IMAGE, command: [sh, -c, "echo up; sleep 3600"], volumeMounts: [{name: v, mountPath: /data}]}
  volumes: [{name: v, persistentVolumeClaim: {claimName: $2}}]
YAML
}
local_pv lost "$WORK/missing"
wait_until "the static claim is Bound" 150 is_phase pvc lost Bound
user_pod lost lost
wait_until "FailedMount names the missing path" 300 has_event lost \
  "^FailedMount: MountVolume.NewMounter initialization failed for volume \"lost\" : path \"$WORK/missing\" does not exist$"
ok "the pod waits in ContainerCreating" pod_field lost '{.status.containerStatuses[0].state.waiting.reason}'
expect_eq "waiting reason" ContainerCreating "$OUT"
ok "the kubelet made no directory for a volume it does not own" test ! -e "$WORK/missing"
mkdir "$WORK/missing"
wait_until "the pod starts once the path exists" 300 pod_phase_is lost Running

# ---- bad input: a Block volume in volumeMounts ----
local_pv blk "$WORK/blockdev" Block
wait_until "the Block claim is Bound" 150 is_phase pvc blk Bound
user_pod blk blk
wait_until "Block in volumeMounts is refused" 300 has_event blk \
  "^FailedMount: MountVolume.SetUp failed for volume \"blk\" : volume v has volumeMode Block, but is specified in volumeMounts$"
expect_eq "the Block pod does not start" Pending "$(pod_field blk '{.status.phase}')"

# ---- a local-path volume of another node is not made here ----
cat <<YAML | kube apply -f - >/dev/null
apiVersion: v1
kind: PersistentVolume
metadata:
  name: pvc-far
  annotations: {pv.kubernetes.io/provisioned-by: kube.local/local-path, kube.local/local-path-node: $RUN-elsewhere}
spec:
  capacity: {storage: 1Mi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: manual
  local: {path: "$LP/pvc-far_default_far"}
  nodeAffinity: {required: {nodeSelectorTerms: [{matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [$RUN-elsewhere]}]}]}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: far}
spec: {accessModes: [ReadWriteOnce], storageClassName: manual, volumeName: pvc-far, resources: {requests: {storage: 1Mi}}}
YAML
wait_until "the far claim is Bound" 150 is_phase pvc far Bound
cat <<YAML | kube apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: far}
spec:
  nodeName: $N1
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: $BUSYBOX_IMAGE, command: [sh, -c, "sleep 3600"], volumeMounts: [{name: v, mountPath: /data}]}
  volumes: [{name: v, persistentVolumeClaim: {claimName: far}}]
YAML
wait_until "a pod forced onto the wrong node cannot mount the volume" 300 has_event far \
  "^FailedMount: MountVolume.NewMounter initialization failed for volume \"pvc-far\" : volume node affinity conflict: persistentvolume \"pvc-far\" lives on another node than $N1$"
ok "no directory was made on the wrong node" test ! -e "$LP/pvc-far_default_far"

# ---- a local-path volume outside the root is never removed ----
mkdir -p "$WORK/elsewhere/pvc-evil_default_x"
echo precious >"$WORK/elsewhere/pvc-evil_default_x/file"
cat <<YAML | kube apply -f - >/dev/null
apiVersion: v1
kind: PersistentVolume
metadata:
  name: pvc-evil
  annotations: {pv.kubernetes.io/provisioned-by: kube.local/local-path, kube.local/local-path-node: $N1}
  finalizers: [kube.local/local-path-cleanup]
spec:
  capacity: {storage: 1Mi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Delete
  storageClassName: local-path
  local: {path: "$WORK/elsewhere/pvc-evil_default_x"}
  nodeAffinity: {required: {nodeSelectorTerms: [{matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [$N1]}]}]}}
YAML
kube delete pv pvc-evil --wait=false >/dev/null
wait_until "VolumeFailedDelete on the volume" 300 has_event pvc-evil \
  "^VolumeFailedDelete: path \"$WORK/elsewhere/pvc-evil_default_x\" of persistentvolume \"pvc-evil\" is not directly inside the local-path root \"$LP\"$"
expect_eq "the directory outside the root is untouched" precious "$(cat "$WORK/elsewhere/pvc-evil_default_x/file" 2>&1)"
expect_eq "the finalizer stays" '["kube.local/local-path-cleanup"]' "$(jp pv pvc-evil '{.metadata.finalizers}')"
kube patch pv pvc-evil --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null
wait_until "pvc-evil goes once its finalizer is removed by hand" 100 gone pv pvc-evil

done_testing
