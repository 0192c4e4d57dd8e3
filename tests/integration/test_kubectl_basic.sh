#!/usr/bin/env bash
# The everyday kubectl commands against the real kube-apiserver, with
# kubectl at its defaults (strict server-side field validation).
source "$(dirname "$0")/lib.sh"
F=$(dirname "$0")/fixtures
start_apiserver
# pods run as the namespace's default service account, which the
# controller-manager (not running here) would create
kube create sa default >/dev/null

# discovery
ok "api-versions" kube api-versions
expect_match "api-versions lists apps/v1" '^apps/v1$' "$OUT"
expect_match "api-versions lists v1" '^v1$' "$OUT"
ok "api-resources" kube api-resources
expect_match "pods with short name po" '^pods +po +v1 +true +Pod' "$OUT"
expect_match "deployments" '^deployments +deploy +apps/v1 +true +Deployment' "$OUT"
expect_match "namespaces cluster-scoped" '^namespaces +ns +v1 +false +Namespace' "$OUT"
ok "explain deployment.spec.strategy" kube explain deployment.spec.strategy
expect_match "explain shows rollingUpdate" 'rollingUpdate' "$OUT"

# built-in namespaces and the kubernetes service
ok "get namespaces" kube get namespaces
for ns in default kube-system kube-public kube-node-lease; do
  expect_match "namespace $ns active" "^$ns +Active" "$OUT"
done
ok "kubernetes service" kube get svc kubernetes -o jsonpath='{.spec.clusterIP}'
expect_eq "kubernetes service has the first IP" "10.96.0.1" "$OUT"
ok "kube-dns service" kube -n kube-system get svc kube-dns -o wide
expect_match "kube-dns at the tenth IP with its ports" '^kube-dns +ClusterIP +10\.96\.0\.10 +<none> +53/UDP,53/TCP,9153/TCP +[0-9]+s +<none>$' "$OUT"
ok "kube-dns ports" kube -n kube-system get svc kube-dns \
  -o jsonpath='{range .spec.ports[*]}{.name}/{.protocol}/{.port}/{.targetPort} {end}'
expect_eq "kube-dns port names" "dns/UDP/53/53 dns-tcp/TCP/53/53 metrics/TCP/9153/9153 " "$OUT"
ok "kube-dns labels" kube -n kube-system get svc -l k8s-app=kube-dns,kubernetes.io/cluster-service=true,kubernetes.io/name=CoreDNS -o name
expect_eq "kube-dns found by upstream's labels" "service/kube-dns" "$OUT"

# create and get
ok "create deployment" kube create -f "$F/deploy-web.yaml"
expect_match "created message" 'deployment.apps/web created' "$OUT"
ko "create again" kube create -f "$F/deploy-web.yaml"
expect_match "already exists" 'Error from server \(AlreadyExists\).*deployments.apps "web" already exists' "$OUT"
ok "get deploy -o wide" kube get deploy web -o wide
expect_match "wide columns" 'NAME +READY +UP-TO-DATE +AVAILABLE +AGE +CONTAINERS +IMAGES +SELECTOR' "$OUT"
expect_match "wide row" 'web +0/2 .* nginx +nginx:1.25 +app=web' "$OUT"
ok "get -o json" kube get deploy web -o json
expect_match "defaulted strategy" '"type": "RollingUpdate"' "$OUT"
ok "get -o yaml" kube get deploy web -o yaml
expect_match "yaml has uid" '^  uid: ' "$OUT"
ok "jsonpath" kube get deploy web -o 'jsonpath={.spec.template.spec.containers[0].image}'
expect_eq "jsonpath image" "nginx:1.25" "$OUT"
ok "get -l" kube get deploy -l tier=frontend -o name
expect_eq "selector matches" "deployment.apps/web" "$OUT"
ok "get -l no match" kube get deploy -l tier=backend -o name
expect_eq "selector excludes" "" "$OUT"
ok "field selector" kube get deploy --field-selector metadata.name=web -o name
expect_eq "field selector matches" "deployment.apps/web" "$OUT"
ko "bad field selector" kube get pods --field-selector spec.bogus=x
expect_match "unsupported field selector" 'field label not supported: spec.bogus' "$OUT"

# apply: create, change a field, remove a field
cat >"$WORK/cm.yaml" <<YAML
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {a: "1", b: "2"}
YAML
ok "apply creates" kube apply -f "$WORK/cm.yaml"
expect_match "apply created" 'configmap/settings created' "$OUT"
ok "apply unchanged" kube apply -f "$WORK/cm.yaml"
expect_match "apply unchanged" 'configmap/settings unchanged' "$OUT"
sed -i 's/a: "1", b: "2"/a: "10"/' "$WORK/cm.yaml"
ok "apply changes" kube apply -f "$WORK/cm.yaml"
expect_match "apply configured" 'configmap/settings configured' "$OUT"
ok "applied data" kube get cm settings -o jsonpath='{.data}'
expect_eq "field changed and removed" '{"a":"10"}' "$OUT"
cp "$F/deploy-web.yaml" "$WORK/web.yaml"
sed -i 's/replicas: 2/replicas: 3/' "$WORK/web.yaml"
ok "apply over create" kube apply -f "$WORK/web.yaml"
expect_match "apply configured" 'deployment.apps/web configured' "$OUT"
ok "after apply" kube get deploy web -o jsonpath='{.spec.replicas}'
expect_eq "replicas 3" "3" "$OUT"
sed -i '/env:/d; /- name: MODE/d; /value: prod/d' "$WORK/web.yaml"
ok "apply without env" kube apply -f "$WORK/web.yaml"
ok "env removed" kube get deploy web -o jsonpath='{.spec.template.spec.containers[0].env}'
expect_eq "env gone" "" "$OUT"
ok "other fields kept" kube get deploy web -o jsonpath='{.spec.minReadySeconds}'
expect_eq "minReadySeconds kept" "5" "$OUT"

# label, annotate, patch
ok "label" kube label deploy web owner=team-a
ok "label visible" kube get deploy web --show-labels
expect_match "label shown" 'owner=team-a' "$OUT"
ok "label remove" kube label deploy web owner-
ok "annotate" kube annotate deploy web note='hello world'
ok "annotation" kube get deploy web -o jsonpath='{.metadata.annotations.note}'
expect_eq "annotation value" "hello world" "$OUT"
ok "patch merge" kube patch deploy web --type=merge -p '{"spec":{"replicas":4}}'
ok "patch json" kube patch deploy web --type=json -p '[{"op":"replace","path":"/spec/replicas","value":5}]'
ok "patch strategic" kube patch deploy web -p '{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"busybox:1.36"}]}}}}'
ok "containers merged" kube get deploy web -o 'jsonpath={.spec.replicas} {.spec.template.spec.containers[*].name}'
expect_eq "strategic merge kept nginx (patched items first, as upstream)" "5 sidecar nginx" "$OUT"
ko "bad json patch" kube patch deploy web --type=json -p '[{"op":"test","path":"/spec/replicas","value":99}]'

# scale
ok "scale" kube scale deploy web --replicas=7
ok "scaled" kube get deploy web -o jsonpath='{.spec.replicas}'
expect_eq "replicas 7" "7" "$OUT"

# edit through an EDITOR script
cat >"$WORK/editor.sh" <<'ED'
#!/bin/sh
sed -i 's/replicas: 7/replicas: 6/' "$1"
ED
chmod +x "$WORK/editor.sh"
ok "edit" env EDITOR="$WORK/editor.sh" kubectl --cache-dir "$WORK/kcache" edit deploy web
ok "edited" kube get deploy web -o jsonpath='{.spec.replicas}'
expect_eq "replicas 6" "6" "$OUT"

# configmaps, secrets, expose
ok "create configmap" kube create configmap lit --from-literal=k1=v1 --from-literal=k2=v2
ok "create secret" kube create secret generic pw --from-literal=password=s3cret
ok "secret is base64" kube get secret pw -o jsonpath='{.data.password}'
expect_eq "base64 data" "$(printf s3cret | base64)" "$OUT"
ok "expose" kube expose deploy web --port=80 --target-port=8080
ok "service" kube get svc web -o wide
expect_match "service row" '^web +ClusterIP +10\.[0-9.]+ +<none> +80/TCP +.* app=web' "$OUT"

# pods and describe with events
ok "create pod" kube create -f "$F/pod-box.yaml"
ok "get pods" kube get pods
expect_match "pod pending" '^box +0/1 +Pending +0 ' "$OUT"
uid=$(kube get pod box -o jsonpath='{.metadata.uid}')
cat >"$WORK/ev.yaml" <<YAML
apiVersion: v1
kind: Event
metadata: {name: box.1}
involvedObject: {kind: Pod, name: box, namespace: default, apiVersion: v1, uid: "$uid"}
reason: Testing
message: something happened to box
type: Normal
source: {component: it}
count: 1
YAML
ok "create event" kube create -f "$WORK/ev.yaml"
ok "describe pod" kube describe pod box
expect_match "describe shows events" 'Testing +.*something happened to box' "$OUT"

# errors
ko "not found" kube get deploy nope
expect_match "not found message" 'Error from server \(NotFound\): deployments.apps "nope" not found' "$OUT"
ko "unknown kind" kube get frobnicators
expect_match "unknown kind" "the server doesn't have a resource type \"frobnicators\"" "$OUT"
cat >"$WORK/bad-field.yaml" <<YAML
apiVersion: v1
kind: ConfigMap
metadata: {name: badfield}
data: {a: b}
bogus: 1
YAML
ko "unknown field refused" kube create -f "$WORK/bad-field.yaml"
expect_match "unknown field message" 'unknown field "bogus"' "$OUT"
ko "unknown field not stored" kube get cm badfield
cat >"$WORK/bad-name.yaml" <<YAML
apiVersion: v1
kind: ConfigMap
metadata: {name: Bad_Name}
YAML
ko "invalid name" kube create -f "$WORK/bad-name.yaml"
expect_match "invalid message with field" 'is invalid: metadata.name: Invalid value: "Bad_Name"' "$OUT"
ok "get for conflict" kube get cm settings -o json
kube get cm settings -o json | python3 -c 'import json,sys; o=json.load(sys.stdin); o["data"]["a"]="x"; print(json.dumps(o))' >"$WORK/stale.json"
ok "update" kube patch cm settings --type=merge -p '{"data":{"a":"11"}}'
ko "stale replace conflicts" kube replace -f "$WORK/stale.json"
expect_match "conflict message" 'Error from server \(Conflict\).*the object has been modified' "$OUT"

# watch: live events reach kubectl get -w
kube get cm -w --watch-only -o name >"$WORK/watch.out" 2>&1 &
WPID=$!
PIDS+=("$WPID")
sleep 1
ok "create while watching" kube create configmap watched --from-literal=x=y
wait_until "watch sees the new configmap" 50 grep -q 'configmap/watched' "$WORK/watch.out"
kill "$WPID" 2>/dev/null || true

# delete, with and without orphaning
# without a garbage collector running, an orphaning delete leaves the
# object with the orphan finalizer for the collector to finish
ok "delete cascade orphan" kube delete deploy web --cascade=orphan --wait=false
ok "orphan finalizer" kube get deploy web -o jsonpath='{.metadata.finalizers} {.metadata.deletionTimestamp}'
expect_match "marked for orphaning" '^\["orphan"\] [0-9]{4}-' "$OUT"
ok "delete configmap" kube delete cm lit
ok "delete pod" kube delete pod box --wait=false
done_testing
