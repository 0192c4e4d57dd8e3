#!/usr/bin/env bash
# Persistent storage end to end on the control plane: the real API server,
# scheduler and controller-manager with hollow nodes standing in for
# kubelets (no directory is created here; the kubelet's part has its own
# test), driven by the real kubectl.  Covers: the default StorageClass;
# WaitForFirstConsumer until a pod uses the claim, then a volume
# provisioned on the pod's node by the built-in local-path provisioner and
# bound; a recreated pod back on its volume's node; a claim bound to
# another node's local volume; static binding; the scheduler's upstream
# FailedScheduling reasons; pvc-protection and pv-protection; reclaim
# Delete/Retain/Recycle; a StatefulSet's claims per ordinal and its
# retention policy; generic ephemeral volumes; expansion (refused for a
# class without allowVolumeExpansion); bad input
# (unknown provisioners, access modes nothing offers) with upstream's
# Events in kubectl describe.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cluster.sh"
start_cluster --pvclaimbinder-sync-period=2s --local-path-root=/srv/lp

jp() { kube get "$1" "$2" -o jsonpath="$3"; }
has_event() { # KIND NAME REASON [MESSAGE-REGEX]
  kube get events --field-selector "involvedObject.kind=$1,involvedObject.name=$2,reason=$3" \
    -o jsonpath='{range .items[*]}{.message}{"\n"}{end}' | grep -Eq -- "${4:-.}"
}
phase_is() { [[ "$(jp "$1" "$2" '{.status.phase}')" == "$3" ]]; }
gone() { ! kube get "$1" "$2" >/dev/null 2>&1; }
claim_pod() { # NAME CLAIM [extra spec fields]
  kube create -f - >/dev/null <<EOF
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"$1"},
 "spec":{"containers":[{"name":"c","image":"busybox"}],"volumes":[{"name":"data","persistentVolumeClaim":{"claimName":"$2"}}]${3:+,$3}}}
EOF
}
claim() { # NAME [class-json-or-empty] [access mode] [size]
  local cls=""
  [[ -n "${2:-}" ]] && cls="\"storageClassName\":$2,"
  kube create -f - >/dev/null <<EOF
{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"$1"},
 "spec":{$cls"accessModes":["${3:-ReadWriteOnce}"],"resources":{"requests":{"storage":"${4:-1Gi}"}}}}
EOF
}

# ---- the default class ----
ok "storage classes" kube get sc
expect_match "local-path is the default class" '^local-path \(default\) +kube.local/local-path +Delete +WaitForFirstConsumer +true' "$OUT"

# ---- WaitForFirstConsumer, then provisioned on the pod's node ----
claim data
wait_until "the claim gets the default class" 50 bash -c "[[ \$(kubectl --cache-dir $WORK/kcache get pvc data -o jsonpath='{.spec.storageClassName}') == local-path ]]"
wait_until "WaitForFirstConsumer event" 50 has_event PersistentVolumeClaim data WaitForFirstConsumer 'waiting for first consumer to be created before binding'
sleep 1
expect_eq "claim stays Pending without a consumer" "Pending" "$(jp pvc data '{.status.phase}')"
expect_eq "no volume yet" "" "$(kube get pv -o name)"
claim_pod app data
wait_until "pod scheduled" 100 bash -c "[[ -n \$(kubectl --cache-dir $WORK/kcache get pod app -o jsonpath='{.spec.nodeName}') ]]"
NODE=$(jp pod app '{.spec.nodeName}')
wait_until "claim Bound" 100 phase_is pvc data Bound
PV=$(jp pvc data '{.spec.volumeName}')
UID_=$(jp pvc data '{.metadata.uid}')
expect_eq "volume named after the claim" "pvc-$UID_" "$PV"
expect_eq "selected-node is the pod's node" "$NODE" "$(jp pvc data '{.metadata.annotations.volume\.kubernetes\.io/selected-node}')"
expect_eq "provisioner annotation" "kube.local/local-path" "$(jp pvc data '{.metadata.annotations.volume\.kubernetes\.io/storage-provisioner}')"
expect_eq "bind-completed" "yes" "$(jp pvc data '{.metadata.annotations.pv\.kubernetes\.io/bind-completed}')"
expect_eq "volume Bound" "Bound" "$(jp pv "$PV" '{.status.phase}')"
expect_eq "volume on the pod's node" "$NODE" "$(jp pv "$PV" '{.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values[0]}')"
expect_eq "local path under --local-path-root" "/srv/lp/pvc-${UID_}_default_data" "$(jp pv "$PV" '{.spec.local.path}')"
expect_eq "reclaim Delete from the class" "Delete" "$(jp pv "$PV" '{.spec.persistentVolumeReclaimPolicy}')"
expect_eq "claim capacity" "1Gi" "$(jp pvc data '{.status.capacity.storage}')"
ok "protection finalizers" bash -c "kubectl --cache-dir $WORK/kcache get pvc data -o jsonpath='{.metadata.finalizers}'; kubectl --cache-dir $WORK/kcache get pv $PV -o jsonpath='{.metadata.finalizers}'"
expect_match "pvc-protection" 'kubernetes.io/pvc-protection' "$OUT"
expect_match "pv-protection and the cleanup finalizer" 'kubernetes.io/pv-protection.*kube.local/local-path-cleanup|kube.local/local-path-cleanup.*kubernetes.io/pv-protection' "$OUT"
ok "describe pvc" kube describe pvc data
expect_match "ProvisioningSucceeded in describe" "ProvisioningSucceeded .*persistentvolume-controller +Successfully provisioned volume $PV using kube.local/local-path" "$OUT"
expect_match "WaitForFirstConsumer in describe" 'WaitForFirstConsumer' "$OUT"
expect_match "Used By" "Used By: +app" "$OUT"

# A recreated pod goes back to its volume's node.
kube delete pod app --wait=true >/dev/null
for i in 1 2 3; do
  claim_pod "again-$i" data
  wait_until "recreated pod $i scheduled" 100 bash -c "[[ -n \$(kubectl --cache-dir $WORK/kcache get pod again-$i -o jsonpath='{.spec.nodeName}') ]]"
  expect_eq "recreated pod $i on the volume's node" "$NODE" "$(jp pod "again-$i" '{.spec.nodeName}')"
  kube delete pod "again-$i" --wait=true >/dev/null
done

# ---- a claim bound to another node's local volume ----
OTHER=$(kube get nodes -o name | sed 's|node/||' | grep -vx "$NODE" | head -1)
kube create -f - >/dev/null <<EOF
{"apiVersion":"storage.k8s.io/v1","kind":"StorageClass","metadata":{"name":"manual"},"provisioner":"kubernetes.io/no-provisioner","volumeBindingMode":"WaitForFirstConsumer"}
EOF
kube create -f - >/dev/null <<EOF
{"apiVersion":"v1","kind":"PersistentVolume","metadata":{"name":"disk-$OTHER"},
 "spec":{"capacity":{"storage":"5Gi"},"accessModes":["ReadWriteOnce"],"storageClassName":"manual","local":{"path":"/mnt/disk"},
 "nodeAffinity":{"required":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"kubernetes.io/hostname","operator":"In","values":["$OTHER"]}]}]}}}}
EOF
wait_until "static volume Available" 50 phase_is pv "disk-$OTHER" Available
claim fixed '"manual"'
for i in 1 2 3; do claim_pod "pinned-$i" fixed; done
wait_until "pinned pods scheduled" 100 bash -c "for i in 1 2 3; do [[ -n \$(kubectl --cache-dir $WORK/kcache get pod pinned-\$i -o jsonpath='{.spec.nodeName}') ]] || exit 1; done"
for i in 1 2 3; do expect_eq "pod $i on the volume's node" "$OTHER" "$(jp pod "pinned-$i" '{.spec.nodeName}')"; done
wait_until "static claim Bound to the volume" 50 bash -c "[[ \$(kubectl --cache-dir $WORK/kcache get pvc fixed -o jsonpath='{.spec.volumeName}') == disk-$OTHER ]]"
expect_eq "volume bound-by-controller" "yes" "$(jp pv "disk-$OTHER" '{.metadata.annotations.pv\.kubernetes\.io/bound-by-controller}')"

# No node suits a volume pinned to a node that does not exist.
kube create -f - >/dev/null <<EOF
{"apiVersion":"v1","kind":"PersistentVolume","metadata":{"name":"ghost"},
 "spec":{"capacity":{"storage":"1Gi"},"accessModes":["ReadWriteOnce"],"storageClassName":"","local":{"path":"/mnt/g"},
 "claimRef":{"namespace":"default","name":"haunted"},
 "nodeAffinity":{"required":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"kubernetes.io/hostname","operator":"In","values":["ghost"]}]}]}}}}
EOF
claim haunted '""'
wait_until "pre-bound claim Bound" 50 phase_is pvc haunted Bound
claim_pod lost haunted
wait_until "volume node affinity conflict" 100 has_event Pod lost FailedScheduling '^0/3 nodes are available: 3 node\(s\) had volume node affinity conflict\. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling\.\.$'
# An unbound claim of an Immediate class keeps its pods off every node.
kube create -f - >/dev/null <<EOF
{"apiVersion":"storage.k8s.io/v1","kind":"StorageClass","metadata":{"name":"now"},"provisioner":"kubernetes.io/no-provisioner"}
EOF
claim later '"now"'
claim_pod waiting later
wait_until "unbound immediate claim" 100 has_event Pod waiting FailedScheduling 'pod has unbound immediate PersistentVolumeClaims'
wait_until "no-provisioner Immediate claim: ProvisioningFailed" 50 has_event PersistentVolumeClaim later ProvisioningFailed 'no volume plugin matched name: kubernetes.io/no-provisioner'

# ---- bad input ----
claim shared "" ReadWriteMany
claim_pod sharer shared
wait_until "ProvisioningFailed for ReadWriteMany" 100 has_event PersistentVolumeClaim shared ProvisioningFailed \
  'Failed to provision volume with StorageClass "local-path": invalid AccessModes \[ReadWriteMany\]: only AccessModes \[ReadWriteOnce ReadWriteOncePod\] are supported'
wait_until "the scheduler's PreBind gives up" 150 has_event Pod sharer FailedScheduling \
  'running PreBind plugin "VolumeBinding": binding volumes: provisioning failed for PVC "shared"'
expect_eq "claim stays Pending" "Pending" "$(jp pvc shared '{.status.phase}')"
kube create -f - >/dev/null <<EOF
{"apiVersion":"storage.k8s.io/v1","kind":"StorageClass","metadata":{"name":"elsewhere"},"provisioner":"example.com/nfs"}
EOF
kube create -f - >/dev/null <<EOF
{"apiVersion":"storage.k8s.io/v1","kind":"StorageClass","metadata":{"name":"bogus"},"provisioner":"kubernetes.io/bogus"}
EOF
claim ext '"elsewhere"'
claim bog '"bogus"'
claim lonely '""' ReadOnlyMany
wait_until "external provisioner awaited" 50 has_event PersistentVolumeClaim ext ExternalProvisioning "Waiting for a volume to be created either by the external provisioner 'example.com/nfs'"
expect_eq "external provisioner annotated" "example.com/nfs" "$(jp pvc ext '{.metadata.annotations.volume\.kubernetes\.io/storage-provisioner}')"
wait_until "unknown in-tree provisioner" 50 has_event PersistentVolumeClaim bog ProvisioningFailed 'no volume plugin matched name: kubernetes.io/bogus'
wait_until "no volume offers ReadOnlyMany" 50 has_event PersistentVolumeClaim lonely FailedBinding 'no persistent volumes available for this claim and no storage class is set'
ok "describe shows the reasons" kube describe pvc bog
expect_match "Warning ProvisioningFailed" 'Warning +ProvisioningFailed .*persistentvolume-controller +no volume plugin matched name: kubernetes.io/bogus' "$OUT"
ok "other claims unaffected" kube get pvc data fixed -o jsonpath='{.items[*].status.phase}'
expect_eq "still Bound" "Bound Bound" "$OUT"

# ---- pvc-protection, reclaim Delete ----
claim_pod holder data
wait_until "holder scheduled" 100 bash -c "[[ -n \$(kubectl --cache-dir $WORK/kcache get pod holder -o jsonpath='{.spec.nodeName}') ]]"
kube delete pvc data --wait=false >/dev/null
sleep 2
ok "claim in use waits" kube get pvc data
expect_match "Terminating" 'data +Terminating' "$OUT"
kube delete pod holder --wait=true >/dev/null
wait_until "claim gone once the pod is" 100 gone pvc data
wait_until "volume Released" 100 phase_is pv "$PV" Released
wait_until "volume being deleted" 100 bash -c "[[ -n \$(kubectl --cache-dir $WORK/kcache get pv $PV -o jsonpath='{.metadata.deletionTimestamp}') ]]"
expect_eq "held only for the node's kubelet" '["kube.local/local-path-cleanup"]' "$(jp pv "$PV" '{.metadata.finalizers}')"

# ---- reclaim Retain and Recycle ----
kube create -f - >/dev/null <<EOF
{"apiVersion":"storage.k8s.io/v1","kind":"StorageClass","metadata":{"name":"keep"},"provisioner":"kube.local/local-path","reclaimPolicy":"Retain","volumeBindingMode":"WaitForFirstConsumer"}
EOF
claim kept '"keep"'
claim_pod keeper kept
wait_until "retained claim Bound" 100 phase_is pvc kept Bound
KPV=$(jp pvc kept '{.spec.volumeName}')
kube delete pod keeper --wait=true >/dev/null
kube delete pvc kept --wait=true >/dev/null
wait_until "Retain: volume Released and kept" 100 phase_is pv "$KPV" Released
sleep 2
expect_eq "Retain: no deletion" "" "$(jp pv "$KPV" '{.metadata.deletionTimestamp}')"
kube create -f - >/dev/null <<EOF
{"apiVersion":"v1","kind":"PersistentVolume","metadata":{"name":"old"},
 "spec":{"capacity":{"storage":"1Gi"},"accessModes":["ReadWriteOnce"],"persistentVolumeReclaimPolicy":"Recycle","storageClassName":"","hostPath":{"path":"/tmp/old"}}}
EOF
claim recycled '""'
wait_until "recycle claim Bound" 50 phase_is pvc recycled Bound
expect_eq "bound to the Recycle volume" "old" "$(jp pvc recycled '{.spec.volumeName}')"
kube delete pvc recycled --wait=true >/dev/null
wait_until "Recycle refused" 100 has_event PersistentVolume old VolumeFailedRecycle 'No recycler plugin found for the volume!'
wait_until "volume Failed" 50 phase_is pv old Failed

# ---- expansion ----
claim grow
claim_pod grower grow
wait_until "grow Bound" 100 phase_is pvc grow Bound
ok "expand" kube patch pvc grow --type=merge -p '{"spec":{"resources":{"requests":{"storage":"3Gi"}}}}'
wait_until "claim capacity follows" 100 bash -c "[[ \$(kubectl --cache-dir $WORK/kcache get pvc grow -o jsonpath='{.status.capacity.storage}') == 3Gi ]]"
expect_eq "volume expanded" "3Gi" "$(jp pv "$(jp pvc grow '{.spec.volumeName}')" '{.spec.capacity.storage}')"
wait_until "VolumeResizeSuccessful" 50 has_event PersistentVolumeClaim grow VolumeResizeSuccessful 'ExpandVolume succeeded for volume default/grow'
expect_eq "no condition left" "" "$(jp pvc grow '{.status.conditions}')"
kube create -f - >/dev/null <<EOF
{"apiVersion":"storage.k8s.io/v1","kind":"StorageClass","metadata":{"name":"fixed-size"},"provisioner":"kube.local/local-path","volumeBindingMode":"WaitForFirstConsumer"}
EOF
claim fixedsize '"fixed-size"'
claim_pod fixedpod fixedsize
wait_until "fixedsize Bound" 100 phase_is pvc fixedsize Bound
ko "a class without allowVolumeExpansion refuses growth" kube patch pvc fixedsize --type=merge -p '{"spec":{"resources":{"requests":{"storage":"3Gi"}}}}'
expect_match "upstream's Forbidden" 'persistentvolumeclaims "fixedsize" is forbidden: only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize' "$OUT"

# ---- generic ephemeral volumes ----
kube create -f - >/dev/null <<EOF
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"eph"},
 "spec":{"containers":[{"name":"c","image":"busybox"}],"volumes":[{"name":"scratch","ephemeral":{"volumeClaimTemplate":{"metadata":{"labels":{"kind":"scratch"}},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}}}}]}}
EOF
wait_until "ephemeral claim created and Bound" 100 phase_is pvc eph-scratch Bound
expect_eq "owned by the pod" "Pod/eph/true" "$(jp pvc eph-scratch '{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}/{.metadata.ownerReferences[0].controller}')"
expect_eq "template labels" "scratch" "$(jp pvc eph-scratch '{.metadata.labels.kind}')"
expect_eq "pod on the claim's node" "$(jp pod eph '{.spec.nodeName}')" "$(jp pvc eph-scratch '{.metadata.annotations.volume\.kubernetes\.io/selected-node}')"
kube delete pod eph --wait=true >/dev/null
wait_until "ephemeral claim deleted with its pod" 100 gone pvc eph-scratch

# ---- StatefulSet: a claim per ordinal, retention ----
cat >"$WORK/sts.yaml" <<YAML
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 3
  selector: {matchLabels: {app: db}}
  persistentVolumeClaimRetentionPolicy: {whenScaled: Delete, whenDeleted: Retain}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: busybox}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
YAML
ok "apply statefulset" kube apply -f "$WORK/sts.yaml"
ok "sts rollout" kube rollout status sts/db --timeout=120s
for i in 0 1 2; do
  expect_eq "data-db-$i Bound" "Bound" "$(jp pvc "data-db-$i" '{.status.phase}')"
  expect_eq "db-$i on its claim's node" "$(jp pvc "data-db-$i" '{.metadata.annotations.volume\.kubernetes\.io/selected-node}')" "$(jp pod "db-$i" '{.spec.nodeName}')"
done
N1=$(jp pod db-1 '{.spec.nodeName}')
V1=$(jp pvc data-db-1 '{.spec.volumeName}')
UID1=$(jp pod db-1 '{.metadata.uid}')
kube delete pod db-1 --wait=false >/dev/null  # the next line waits for its replacement
wait_until "db-1 back" 100 bash -c "u=\$(kubectl --cache-dir $WORK/kcache get pod db-1 -o jsonpath='{.metadata.uid}'); [[ -n \$u && \$u != $UID1 && -n \$(kubectl --cache-dir $WORK/kcache get pod db-1 -o jsonpath='{.spec.nodeName}') ]]"
expect_eq "db-1 on the same node" "$N1" "$(jp pod db-1 '{.spec.nodeName}')"
expect_eq "db-1 has the same claim and volume" "data-db-1 $V1" "$(jp pod db-1 '{.spec.volumes[?(@.name=="data")].persistentVolumeClaim.claimName}') $(jp pvc data-db-1 '{.spec.volumeName}')"
ok "scale down" kube scale sts db --replicas=2
wait_until "db-2 gone" 100 gone pod db-2
wait_until "whenScaled Delete: its claim goes with it" 100 gone pvc data-db-2
expect_eq "the others stay" "Bound Bound" "$(jp pvc data-db-0 '{.status.phase}') $(jp pvc data-db-1 '{.status.phase}')"
expect_eq "no owner for retained claims" "" "$(jp pvc data-db-0 '{.metadata.ownerReferences}')"

# ---- pv-protection ----
kube delete pv "disk-$OTHER" --wait=false >/dev/null
sleep 2
expect_eq "a bound volume waits" "Bound" "$(jp pv "disk-$OTHER" '{.status.phase}')"
expect_match "kept by pv-protection" 'kubernetes.io/pv-protection' "$(jp pv "disk-$OTHER" '{.metadata.finalizers}')"
done_testing
