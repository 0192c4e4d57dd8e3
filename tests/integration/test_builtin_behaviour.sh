#!/usr/bin/env bash
# Behaviour of the built-in API a kubectl user notices, checked against
# upstream v1.32: `get -o wide` columns, server-side apply and its
# conflicts, immutable fields, `create job --from=cronjob`, event field
# selectors, Priority and DefaultTolerationSeconds admission, and
# PDB-aware eviction.  No controller runs: statuses are written by hand
# through the status subresource, as a controller would.
source "$(dirname "$0")/lib.sh"
K=$(cd "$(dirname "$0")/../fixtures/kinds" && pwd)
start_apiserver
kube get sa default >/dev/null 2>&1 || kube create sa default >/dev/null

# http_code METHOD PATH CONTENT-TYPE BODY: prints the status code, body in $WORK/body
http_code() {
  curl -sS -o "$WORK/body" -w '%{http_code}' -X "$1" -H "Content-Type: $3" --data-binary "$4" "$API_URL$2"
}
status_patch() { # PATH JSON
  local code; code=$(http_code PATCH "$1" application/merge-patch+json "$2")
  [[ $code == 200 ]] || { cat "$WORK/body"; fail "status write $1: HTTP $code"; }
}

# --- kubectl get -o wide headers --------------------------------------------
for f in pod deployment service job cronjob node; do kube create -f "$K/$f.yaml" >/dev/null; done
header() { kube get "$1" -o wide | head -1 | tr -s ' '; }
expect_eq "pods -o wide header" "NAME READY STATUS RESTARTS AGE IP NODE NOMINATED NODE READINESS GATES" "$(header pods)"
expect_eq "deployments -o wide header" "NAME READY UP-TO-DATE AVAILABLE AGE CONTAINERS IMAGES SELECTOR" "$(header deployments)"
expect_eq "services -o wide header" "NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE SELECTOR" "$(header services)"
expect_eq "jobs -o wide header" "NAME STATUS COMPLETIONS DURATION AGE CONTAINERS IMAGES SELECTOR" "$(header jobs)"
expect_eq "cronjobs -o wide header" "NAME SCHEDULE TIMEZONE SUSPEND ACTIVE LAST SCHEDULE AGE CONTAINERS IMAGES SELECTOR" "$(header cronjobs)"
expect_eq "nodes -o wide header" "NAME STATUS ROLES AGE VERSION INTERNAL-IP EXTERNAL-IP OS-IMAGE KERNEL-VERSION CONTAINER-RUNTIME" "$(header nodes)"
ok "get pods -o wide" kube get pods nginx -o wide --no-headers
expect_match "pending pod row" '^nginx +0/1 +Pending +0 +[0-9]+s +<none> +<none> +<none> +<none>$' "$OUT"
ok "get svc -o wide" kube get svc my-service -o wide --no-headers
expect_match "service row" '^my-service +ClusterIP +10\.(9[6-9]|10[0-9]|11[01])\.[0-9.]+ +<none> +80/TCP +[0-9]+s +app.kubernetes.io/name=MyApp$' "$OUT"
ok "get cronjob -o wide" kube get cronjob hello -o wide --no-headers
expect_match "cronjob row" '^hello +\* \* \* \* \* +<none> +False +0 +<none> +[0-9]+s +hello +busybox:1.28 +<none>$' "$OUT"
ok "get job -o wide" kube get job pi -o wide --no-headers
expect_match "job row" '^pi +Running +0/1 +[0-9]+s +pi +perl:5.34.0 +batch.kubernetes.io/controller-uid=[0-9a-f-]{36}$' "$OUT"
status_patch /api/v1/nodes/worker-1/status '{"status":{
  "conditions":[{"type":"Ready","status":"True","reason":"KubeletReady","message":"kubelet is posting ready status",
                 "lastHeartbeatTime":"2024-01-01T00:00:00Z","lastTransitionTime":"2024-01-01T00:00:00Z"}],
  "addresses":[{"type":"InternalIP","address":"192.168.10.11"},{"type":"Hostname","address":"worker-1"}],
  "capacity":{"cpu":"4","memory":"8Gi","pods":"110"},
  "nodeInfo":{"kubeletVersion":"v1.32.0","osImage":"Debian GNU/Linux 12 (bookworm)","kernelVersion":"6.1.0-18-amd64",
              "containerRuntimeVersion":"containerd://1.7.13","architecture":"amd64","operatingSystem":"linux",
              "machineID":"m","systemUUID":"s","bootID":"b","kubeProxyVersion":""}}}'
ok "get node -o wide" kube get node worker-1 -o wide --no-headers
expect_match "node row" '^worker-1 +Ready +worker +[0-9]+s +v1.32.0 +192.168.10.11 +<none> +Debian GNU/Linux 12 \(bookworm\) +6.1.0-18-amd64 +containerd://1.7.13$' "$OUT"
ok "allocatable defaults to capacity" kube get node worker-1 -o jsonpath='{.status.allocatable.pods}'
expect_eq "allocatable pods" "110" "$OUT"

# --- server-side apply ---------------------------------------------------
cat >"$WORK/ssa.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata:
  name: ssa-demo
data:
  color: blue
YAML
ok "ssa creates" kube apply --server-side -f "$WORK/ssa.yaml"
expect_match "ssa created" '^configmap/ssa-demo serverside-applied$' "$OUT"
sed -i 's/blue/green/' "$WORK/ssa.yaml"
ok "ssa updates" kube apply --server-side -f "$WORK/ssa.yaml"
ok "ssa value" kube get cm ssa-demo -o jsonpath='{.data.color}'
expect_eq "ssa updated value" "green" "$OUT"
ok "ssa manager" kube get cm ssa-demo -o jsonpath='{.metadata.managedFields[?(@.operation=="Apply")].manager}'
expect_eq "apply manager is kubectl" "kubectl" "$OUT"
sed -i 's/green/red/' "$WORK/ssa.yaml"
ko "ssa conflict between managers" kube apply --server-side --field-manager=other -f "$WORK/ssa.yaml"
expect_match "upstream conflict message" 'Apply failed with 1 conflict: conflict with "kubectl": \.data\.color' "$OUT"
ok "value kept after conflict" kube get cm ssa-demo -o jsonpath='{.data.color}'
expect_eq "conflict left value" "green" "$OUT"
ok "ssa --force-conflicts" kube apply --server-side --field-manager=other --force-conflicts -f "$WORK/ssa.yaml"
ok "forced value" kube get cm ssa-demo -o jsonpath='{.data.color}'
expect_eq "forced value applied" "red" "$OUT"
ok "field taken over" kube get cm ssa-demo -o jsonpath='{.metadata.managedFields[?(@.operation=="Apply")].manager}'
expect_eq "other now owns the field" "other" "$OUT"

# --- immutable fields ----------------------------------------------------
code=$(http_code PATCH /apis/apps/v1/namespaces/default/deployments/nginx-deployment application/merge-patch+json \
  '{"spec":{"selector":{"matchLabels":{"app":"other"}},"template":{"metadata":{"labels":{"app":"other"}}}}}')
expect_eq "deployment selector change is 422" "422" "$code"
expect_match "cause field spec.selector" '"field": ?"spec.selector"' "$(cat "$WORK/body")"
ko "kubectl: deployment selector change" kube patch deploy nginx-deployment --type=merge \
  -p '{"spec":{"selector":{"matchLabels":{"app":"other"}},"template":{"metadata":{"labels":{"app":"other"}}}}}'
expect_match "selector immutable message" 'The Deployment "nginx-deployment" is invalid: spec.selector: Invalid value: v1.LabelSelector\{MatchLabels:map\[string\]string\{"app":"other"\}, MatchExpressions:\[\]v1.LabelSelectorRequirement\(nil\)\}: field is immutable' "$OUT"
ko "service clusterIP change" kube patch svc my-service --type=merge -p '{"spec":{"clusterIP":"10.96.0.77","clusterIPs":["10.96.0.77"]}}'
expect_match "clusterIP immutable" 'The Service "my-service" is invalid: spec.clusterIPs\[0\]: Invalid value: \[\]string\{"10.96.0.77"\}: may not change once set' "$OUT"
cat >"$WORK/frozen.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata:
  name: frozen
data:
  a: "1"
immutable: true
YAML
ok "immutable configmap" kube create -f "$WORK/frozen.yaml"
ko "immutable configmap data change" kube patch cm frozen --type=merge -p '{"data":{"a":"2"}}'
expect_match "data immutable" 'The ConfigMap "frozen" is invalid: data: Forbidden: field is immutable when `immutable` is set' "$OUT"
ko "immutable flag cannot be cleared" kube patch cm frozen --type=merge -p '{"immutable":false}'
expect_match "immutable immutable" 'immutable: Forbidden: field is immutable when `immutable` is set' "$OUT"
ok "labels may still change" kube label cm frozen tier=config
ko "job template change" kube patch job pi --type=json -p '[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"perl:5.36"}]'
expect_match "job template immutable" 'The Job "pi" is invalid: spec.template: Invalid value: .*: field is immutable' "$OUT"

# --- create job --from=cronjob --------------------------------------------
ok "create job --from=cronjob" kube create job test-job --from=cronjob/hello
expect_match "job created" '^job.batch/test-job created$' "$OUT"
ok "manual annotation" kube get job test-job -o jsonpath='{.metadata.annotations.cronjob\.kubernetes\.io/instantiate}'
expect_eq "instantiate manual" "manual" "$OUT"
ok "template from cronjob" kube get job test-job -o jsonpath='{.spec.template.spec.containers[0].image} {.spec.template.spec.restartPolicy}'
expect_eq "cronjob's template" "busybox:1.28 OnFailure" "$OUT"
ok "owned by the cronjob" kube get job test-job -o jsonpath='{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}'
expect_eq "ownerReference" "CronJob/hello" "$OUT"

# --- events by field selector -----------------------------------------------
kube create -f "$K/event.yaml" >/dev/null
sed -e 's/nginx\.17a5c3f1e0a1b2c3/other.17a5c3f1e0a1b2c9/' -e 's/^  name: nginx$/  name: other/' "$K/event.yaml" | kube create -f - >/dev/null
ok "events of nginx" kube get events --field-selector involvedObject.name=nginx -o name
expect_eq "only nginx's event" "event/nginx.17a5c3f1e0a1b2c3" "$OUT"
ok "events of other" kube get events --field-selector involvedObject.name=other,involvedObject.kind=Pod -o name
expect_eq "only other's event" "event/other.17a5c3f1e0a1b2c9" "$OUT"
ok "events.k8s.io by regarding" kube get events.v1.events.k8s.io --field-selector regarding.name=other -o name
expect_eq "events.k8s.io selector" "event.events.k8s.io/other.17a5c3f1e0a1b2c9" "$OUT"

# --- Priority and DefaultTolerationSeconds admission --------------------------
cat >"$WORK/critical.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: critical
spec:
  priorityClassName: system-cluster-critical
  containers:
  - name: c
    image: busybox:1.36
YAML
ok "critical pod" kube create -f "$WORK/critical.yaml"
ok "priority resolved" kube get pod critical -o jsonpath='{.spec.priority} {.spec.preemptionPolicy}'
expect_eq "system-cluster-critical priority" "2000000000 PreemptLowerPriority" "$OUT"
for p in nginx critical; do
  ok "tolerations of $p" kube get pod "$p" -o jsonpath='{range .spec.tolerations[*]}{.key}:{.operator}:{.effect}:{.tolerationSeconds} {end}'
  expect_eq "default tolerations on $p" "node.kubernetes.io/not-ready:Exists:NoExecute:300 node.kubernetes.io/unreachable:Exists:NoExecute:300 " "$OUT"
done
ko "unknown priority class" kube run nopc --image=busybox --overrides='{"spec":{"priorityClassName":"no-such-class"}}'
expect_match "unknown class refused" 'no PriorityClass with name no-such-class was found' "$OUT"

# --- eviction and PodDisruptionBudget --------------------------------------
kube create -f "$K/poddisruptionbudget.yaml" >/dev/null
for i in 0 1; do
  kube run "zk-$i" --image=busybox:1.36 --labels=app=zookeeper >/dev/null
  # a pod that is not Running and Ready does not count as healthy and may be
  # evicted while the budget is met (unhealthyPodEvictionPolicy IfHealthyBudget)
  status_patch "/api/v1/namespaces/default/pods/zk-$i/status" '{"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}'
done
gen=$(kube get pdb zk-pdb -o jsonpath='{.metadata.generation}')
status_patch /apis/policy/v1/namespaces/default/poddisruptionbudgets/zk-pdb/status \
  "{\"status\":{\"observedGeneration\":$gen,\"disruptionsAllowed\":0,\"currentHealthy\":2,\"desiredHealthy\":2,\"expectedPods\":2}}"
evict() { http_code POST "/api/v1/namespaces/default/pods/$1/eviction" application/json \
  "{\"apiVersion\":\"policy/v1\",\"kind\":\"Eviction\",\"metadata\":{\"name\":\"$1\",\"namespace\":\"default\"}}"; }
expect_eq "eviction refused by the budget" "429" "$(evict zk-0)"
expect_match "budget message" "Cannot evict pod as it would violate the pod's disruption budget" "$(cat "$WORK/body")"
expect_match "budget cause" '"reason": ?"DisruptionBudget"' "$(cat "$WORK/body")"
ok "pod still there" kube get pod zk-0 -o name
status_patch /apis/policy/v1/namespaces/default/poddisruptionbudgets/zk-pdb/status \
  "{\"status\":{\"observedGeneration\":$gen,\"disruptionsAllowed\":1,\"currentHealthy\":3,\"desiredHealthy\":2,\"expectedPods\":3}}"
expect_eq "eviction allowed" "201" "$(evict zk-0)"
expect_match "eviction success status" '"status": ?"Success"' "$(cat "$WORK/body")"
wait_until "evicted pod gone" 50 bash -c "! kubectl --cache-dir '$WORK/kcache' get pod zk-0 -o name 2>/dev/null | grep -q zk-0"
ok "budget spent" kube get pdb zk-pdb -o jsonpath='{.status.disruptionsAllowed}'
expect_eq "disruptionsAllowed decremented" "0" "$OUT"
expect_eq "next eviction refused" "429" "$(evict zk-1)"

done_testing
