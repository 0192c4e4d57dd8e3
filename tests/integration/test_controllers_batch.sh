#!/usr/bin/env bash
# kube-controller-manager end to end: Job parallelism and completions,
# CronJob scheduling, Service endpoints (EndpointSlice and Endpoints),
# garbage collection (cascading and orphan deletes), namespace deletion
# and the kube-root-ca.crt ConfigMap of every namespace (--root-ca-file).
# Real API server and scheduler; hollow nodes finish Job pods after ~1 s.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cluster.sh"
# A test certificate authority (self-signed, test use only).
cat >"$WORK/root-ca.pem" <<'PEM'
-----BEGIN CERTIFICATE-----
MIIBhTCCASugAwIBAgIUL6gX0xN1P/Z6CBnOvVcoR8kY5XIwCgYIKoZIzj0EAwIw
FzEVMBMGA1UEAwwMdGVzdC1yb290LWNhMCAXDTI2MTIwNzE1MjAzOFoYDzIxMjYx
MTEzMTUyMDM4WjAXMRUwEwYDVQQDDAx0ZXN0LXJvb3QtY2EwWTATBgcqhkjOPQIB
BggqhkjOPQMBBwNCAASRaiUZVpRKGqp2EKZbPZNpmUI/pHdOfmJM61uWTCUf6zFg
uGHkA3slOcxHefvhRKRg1eRh1WKkgzIWMTK9tmkho1MwUTAdBgNVHQ4EFgQUav8U
ZUZU0soIx15x5op1EJx+b5swHwYDVR0jBBgwFoAUav8UZUZU0soIx15x5op1EJx+
b5swDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiEA+hkTiHaDB6ZX
d64KBK6j4sFY+va7TfSTs4P6HDgNXo4CID5GpIcJRAxLs4EaPBwh/MSMJkVwg+MO
pNZ06delDFzF
-----END CERTIFICATE-----
PEM
start_cluster --root-ca-file="$WORK/root-ca.pem"

# The CronJob first: its Job appears at the next minute boundary, while
# the rest of the file runs.
cat >"$WORK/cron.yaml" <<YAML
apiVersion: batch/v1
kind: CronJob
metadata: {name: tick}
spec:
  schedule: "*/1 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - {name: tick, image: "busybox:1.36", command: [date]}
YAML
ok "create cronjob" kube apply -f "$WORK/cron.yaml"
CRON_START=$(date +%s)

# ---- Job: completions 10, parallelism 3 ----
watch_pods job batch.kubernetes.io/job-name=count
cat >"$WORK/job.yaml" <<YAML
apiVersion: batch/v1
kind: Job
metadata: {name: count}
spec:
  completions: 10
  parallelism: 3
  template:
    spec:
      restartPolicy: Never
      containers:
      - {name: count, image: "busybox:1.36", command: ["true"]}
YAML
ok "create job" kube apply -f "$WORK/job.yaml"
ok "job completes" kube wait --for=condition=Complete job/count --timeout=90s
ok "job status" kube get job count -o jsonpath='{.status.succeeded}/{.status.failed}/{.status.active}'
expect_eq "10 succeeded; failed and active omitted (zero)" "10//" "$OUT"
ok "job pods" kube get pods -l batch.kubernetes.io/job-name=count -o jsonpath='{range .items[*]}{.status.phase}{"\n"}{end}'
expect_eq "10 pods Succeeded" "10" "$(grep -c '^Succeeded$' <<<"$OUT")"
check_watch "never more than parallelism=3 active pods" job \
  'sum(1 for p in live.values() if p["phase"] not in ("Succeeded", "Failed")) <= 3'
check_watch "never more than completions=10 pods" job 'len(pods) <= 10'
ok "completion time" kube get job count -o jsonpath='{.status.completionTime}'
expect_match "completionTime set" '^20[0-9-]+T[0-9:]+Z$' "$OUT"
ok "get job" kube get job count
expect_match "completions column" 'count +Complete +10/10' "$OUT"

# ---- Service endpoints ----
cat >"$WORK/svc.yaml" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  replicas: 3
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
      - name: api
        image: "nginx:1.25"
        ports: [{name: http, containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: api}
spec:
  selector: {app: api}
  ports: [{name: web, port: 80, targetPort: http}]
YAML
ok "create service and backends" kube apply -f "$WORK/svc.yaml"
ok "backends ready" kube rollout status deploy/api --timeout=60s
POD_IPS=$(kube get pods -l app=api -o jsonpath='{range .items[*]}{.status.podIP}{"\n"}{end}' | sort)
expect_eq "3 pod IPs" "3" "$(grep -c . <<<"$POD_IPS")"
slice_ips() {
  kube get endpointslices -l kubernetes.io/service-name=api \
    -o jsonpath='{range .items[*].endpoints[?(@.conditions.ready==true)]}{.addresses[0]}{"\n"}{end}' | sort
}
slice_is() { [[ "$(slice_ips)" == "$1" ]]; }
wait_until "EndpointSlice lists the 3 ready pods" 100 slice_is "$POD_IPS"
ok "slice port" kube get endpointslices -l kubernetes.io/service-name=api -o jsonpath='{.items[0].ports[0].name}/{.items[0].ports[0].port}/{.items[0].ports[0].protocol}'
expect_eq "named targetPort resolved to 8080" "web/8080/TCP" "$OUT"
ok "slice address type and owner" kube get endpointslices -l kubernetes.io/service-name=api -o jsonpath='{.items[0].addressType} {.items[0].metadata.ownerReferences[0].kind}/{.items[0].metadata.ownerReferences[0].name} {.items[0].metadata.labels.endpointslice\.kubernetes\.io/managed-by}'
expect_eq "IPv4, owned by the service" "IPv4 Service/api endpointslice-controller.k8s.io" "$OUT"
ok "slice targetRef and node" kube get endpointslices -l kubernetes.io/service-name=api -o jsonpath='{range .items[0].endpoints[*]}{.targetRef.kind} {.nodeName}{"\n"}{end}'
expect_eq "targetRef Pod, nodeName set" "3" "$(grep -c '^Pod node-[0-2]$' <<<"$OUT")"
ok "endpoints" kube get endpoints api -o jsonpath='{range .subsets[*].addresses[*]}{.ip}{"\n"}{end}'
expect_eq "Endpoints list the same IPs" "$POD_IPS" "$(sort <<<"$OUT")"
ok "endpoints port" kube get endpoints api -o jsonpath='{.subsets[0].ports[0].name}/{.subsets[0].ports[0].port}'
expect_eq "Endpoints port resolved" "web/8080" "$OUT"
ok "scale backends to 1" kube scale deploy/api --replicas=1
slice_count_is() { [[ $(slice_ips | grep -c .) == "$1" ]]; }
wait_until "EndpointSlice shrinks to 1" 100 slice_count_is 1
wait_until "Endpoints shrink to 1" 100 bash -c \
  "[[ \$(kubectl --cache-dir $WORK/kcache get endpoints api -o jsonpath='{range .subsets[*].addresses[*]}{.ip}{\"\\n\"}{end}' | grep -c .) == 1 ]]"

# ---- garbage collector ----
ok "create gc deployment" kube create deployment gc --image=nginx:1.25 --replicas=2
ok "gc rollout" kube rollout status deploy/gc --timeout=60s
RS=$(kube get rs -l app=gc -o name)
expect_match "gc has a replicaset" '^replicaset.apps/gc-' "$RS"
ok "delete deployment (background)" kube delete deploy gc --timeout=60s
wait_until "its ReplicaSets are collected" 150 bash -c \
  "[[ -z \$(kubectl --cache-dir $WORK/kcache get rs -l app=gc -o name) ]]"
wait_until "its pods are collected" 150 bash -c \
  "[[ -z \$(kubectl --cache-dir $WORK/kcache get pods -l app=gc -o name) ]]"

ok "create orphan deployment" kube create deployment keep --image=nginx:1.25 --replicas=2
ok "keep rollout" kube rollout status deploy/keep --timeout=60s
ok "delete --cascade=orphan" kube delete deploy keep --cascade=orphan --timeout=60s
wait_until "deployment gone" 100 bash -c "! kubectl --cache-dir $WORK/kcache get deploy keep >/dev/null 2>&1"
sleep 2
ok "replicaset kept" kube get rs -l app=keep -o jsonpath='{range .items[*]}{.metadata.name} [{.metadata.ownerReferences}]{"\n"}{end}'
expect_match "orphaned replicaset has no ownerReferences" '^keep-[a-z0-9]+ \[\]$' "$OUT"
ok "pods kept" kube get pods -l app=keep -o name
expect_eq "2 pods kept" "2" "$(grep -c . <<<"$OUT")"
ok "foreground delete" kube delete rs -l app=keep --cascade=foreground --timeout=60s
wait_until "foreground delete removes the pods" 150 bash -c \
  "[[ -z \$(kubectl --cache-dir $WORK/kcache get pods -l app=keep -o name) ]]"

# foreground deletion of one of two owners (upstream attemptToDeleteItem):
# the dependent keeps its live owner and only loses the deleted one's
# reference; deleting the last owner then collects it.
ok "owner a" kube create configmap owner-a --from-literal=x=1
ok "owner b" kube create configmap owner-b --from-literal=x=1
UA=$(kube get cm owner-a -o jsonpath='{.metadata.uid}')
UB=$(kube get cm owner-b -o jsonpath='{.metadata.uid}')
cat >"$WORK/dependent.yaml" <<YAML
apiVersion: v1
kind: ConfigMap
metadata:
  name: dependent
  ownerReferences:
  - {apiVersion: v1, kind: ConfigMap, name: owner-a, uid: "$UA", blockOwnerDeletion: true}
  - {apiVersion: v1, kind: ConfigMap, name: owner-b, uid: "$UB"}
data: {x: "1"}
YAML
ok "dependent of both" kube create -f "$WORK/dependent.yaml"
ok "foreground delete of owner a" kube delete cm owner-a --cascade=foreground --timeout=60s
wait_until "owner a gone" 150 bash -c "! kubectl --cache-dir $WORK/kcache get cm owner-a >/dev/null 2>&1"
ok "dependent survives" kube get cm dependent -o jsonpath='{range .metadata.ownerReferences[*]}{.name}{"\n"}{end}'
expect_eq "only owner b left" "owner-b" "$OUT"
ok "delete owner b" kube delete cm owner-b --timeout=60s
wait_until "dependent collected with its last owner" 150 bash -c \
  "! kubectl --cache-dir $WORK/kcache get cm dependent >/dev/null 2>&1"

# ---- kube-root-ca.crt in every namespace ----
CA=$(cat "$WORK/root-ca.pem")
ca_of() { kube -n "$1" get configmap kube-root-ca.crt -o jsonpath='{.data.ca\.crt}' 2>/dev/null; }
wait_until "default namespace has the root CA bundle" 100 bash -c "[[ \"\$(kubectl --cache-dir $WORK/kcache -n default get configmap kube-root-ca.crt -o jsonpath='{.data.ca\.crt}')\" == \"$CA\" ]]"
ok "description annotation" kube -n default get configmap kube-root-ca.crt -o jsonpath='{.metadata.annotations.kubernetes\.io/description}'
expect_match "upstream's description" '^Contains a CA bundle that can be used to verify the kube-apiserver' "$OUT"
ok "new namespace" kube create namespace fresh
wait_until "a new namespace gets it" 100 bash -c "[[ -n \"\$(kubectl --cache-dir $WORK/kcache -n fresh get configmap kube-root-ca.crt -o name 2>/dev/null)\" ]]"
ok "delete it" kube -n fresh delete configmap kube-root-ca.crt
wait_until "recreated after deletion" 100 bash -c "[[ \"\$(kubectl --cache-dir $WORK/kcache -n fresh get configmap kube-root-ca.crt -o jsonpath='{.data.ca\.crt}' 2>/dev/null)\" == \"$CA\" ]]"
ok "tamper with it" kube -n fresh patch configmap kube-root-ca.crt --type=merge -p '{"data":{"ca.crt":"tampered"}}'
wait_until "put back after an edit" 100 bash -c "[[ \"\$(kubectl --cache-dir $WORK/kcache -n fresh get configmap kube-root-ca.crt -o jsonpath='{.data.ca\.crt}')\" == \"$CA\" ]]"
ko "a bad --root-ca-file stops the program" timeout 20 "$KUBE_BIN/controller-manager/kube-controller-manager" \
  --kubeconfig="$KUBECONFIG" --secure-port=0 --leader-elect=false --controllers=root-ca-cert-publisher \
  --root-ca-file=/dev/null
expect_match "upstream's error" 'error parsing root-ca-file at /dev/null: data does not contain any valid RSA or ECDSA certificates' "$OUT"

# ---- namespace deletion ----
ok "create namespace" kube create namespace scratch
ok "deployment in it" kube -n scratch create deployment w --image=nginx:1.25 --replicas=2
ok "configmap in it" kube -n scratch create configmap c --from-literal=a=b
ok "service in it" kube -n scratch create service clusterip s --tcp=80:80
ok "w rollout" kube -n scratch rollout status deploy/w --timeout=60s
ok "delete namespace" kube delete namespace scratch --wait=false
wait_until "namespace removed" 300 bash -c "! kubectl --cache-dir $WORK/kcache get namespace scratch >/dev/null 2>&1"
ok "nothing left in it" kube get all,cm,endpointslices -n scratch -o name
expect_eq "empty" "" "$OUT"

# ---- the CronJob's Job ----
wait_until "CronJob created a Job within 70 s" 350 bash -c \
  "kubectl --cache-dir $WORK/kcache get jobs -o jsonpath='{range .items[*]}{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}{\"\\n\"}{end}' | grep -q '^CronJob/tick$'"
ELAPSED=$(( $(date +%s) - CRON_START ))
if [[ $ELAPSED -le 70 ]]; then pass "within 70 s of creation ($ELAPSED s)"; else fail "CronJob Job took $ELAPSED s"; fi
ok "job name" kube get jobs -o jsonpath='{range .items[?(@.metadata.ownerReferences[0].kind=="CronJob")]}{.metadata.name}{"\n"}{end}'
expect_match "tick-<minutes since epoch>" '^tick-[0-9]{8}$' "$OUT"
wait_until "cronjob lastScheduleTime" 100 bash -c \
  "[[ -n \$(kubectl --cache-dir $WORK/kcache get cronjob tick -o jsonpath='{.status.lastScheduleTime}') ]]"

done_testing
