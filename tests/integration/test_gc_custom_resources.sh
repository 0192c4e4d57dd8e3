#!/usr/bin/env bash
# The garbage collector over custom resources (extension issue): it finds
# what to watch through discovery, so objects of a CRD created after it
# started take part - a CronTab owned by a Deployment goes with it, a
# ConfigMap owned by a CronTab goes with that, foreground deletion of a
# CronTab waits for its dependents - and a CRD deleted and made again is
# followed (its informer dropped, then a new one).  Namespace deletion
# empties custom resources as well.
source "$(dirname "$0")/lib.sh"
FIX=$(cd "$(dirname "$0")/fixtures" && pwd)
start_apiserver
"$KUBE_BIN/controller-manager/kube-controller-manager" --kubeconfig="$WORK/kubeconfig" --secure-port=0 \
  --leader-elect=false --controllers=garbagecollector,namespace --v=2 >>"$WORK/controller-manager.log" 2>&1 &
PIDS+=("$!")
wait_until "the garbage collector runs (shared caches synced)" 150 grep -q "Caches are synced" "$WORK/controller-manager.log"

ok "CRD created after the controller-manager started" kube apply -f "$FIX/crd-crontab.yaml"
wait_until "CRD established" 50 kube wait --for condition=established --timeout=5s crd/crontabs.stable.example.com
wait_until "the collector watches the new resource" 150 \
  grep -q "garbage collector: watching /apis/stable.example.com/v1/crontabs" "$WORK/controller-manager.log"

uid_of() { kube get "$@" -o jsonpath='{.metadata.uid}'; }
# crontab NAME OWNER-APIVERSION OWNER-KIND OWNER-NAME OWNER-UID
crontab() {
  kube apply -f - >/dev/null <<YAML
apiVersion: stable.example.com/v1
kind: CronTab
metadata:
  name: $1
  ownerReferences: [{apiVersion: $2, kind: $3, name: $4, uid: $5, blockOwnerDeletion: true}]
spec: {cronSpec: "* * * * *", replicas: 1}
YAML
}
configmap_owned_by_crontab() { # NAME CRONTAB UID
  kube apply -f - >/dev/null <<YAML
apiVersion: v1
kind: ConfigMap
metadata:
  name: $1
  ownerReferences: [{apiVersion: stable.example.com/v1, kind: CronTab, name: $2, uid: $3, blockOwnerDeletion: true}]
data: {a: b}
YAML
}
gone() { ! kube get "$@" >/dev/null 2>&1; }

# a custom resource owned by a built-in object
kube create deployment owner --image=nginx:1.25 --replicas=0 >/dev/null
crontab owned apps/v1 Deployment owner "$(uid_of deployment owner)"
kube delete deployment owner --wait=false >/dev/null
wait_until "a CronTab owned by a deleted Deployment is collected" 150 gone crontab owned

# a built-in object owned by a custom resource (the owner kind resolves
# through discovery)
kube create deployment anchor --image=nginx:1.25 --replicas=0 >/dev/null
crontab parent apps/v1 Deployment anchor "$(uid_of deployment anchor)"
configmap_owned_by_crontab child parent "$(uid_of crontab parent)"
kube delete crontab parent --wait=false >/dev/null
wait_until "a ConfigMap owned by a deleted CronTab is collected" 150 gone configmap child

# an owner reference to a CronTab that never existed (dangling from the start)
configmap_owned_by_crontab orphaned-ref nosuch 00000000-0000-0000-0000-000000000000
wait_until "a ConfigMap whose CronTab owner does not exist is collected" 150 gone configmap orphaned-ref

# foreground: the CronTab stays until its dependent is gone
crontab fg apps/v1 Deployment anchor "$(uid_of deployment anchor)"
configmap_owned_by_crontab fg-child fg "$(uid_of crontab fg)"
kube get configmap fg-child -o json | python3 -c 'import json,sys; o=json.load(sys.stdin); o["metadata"]["finalizers"]=["example.com/hold"]; print(json.dumps(o))' |
  kube replace -f - >/dev/null
kube delete crontab fg --cascade=foreground --wait=false >/dev/null
wait_until "foreground deletion deletes the dependent" 150 \
  bash -c "kubectl --cache-dir '$WORK/kcache' get configmap fg-child -o jsonpath='{.metadata.deletionTimestamp}' | grep -q ."
ok "the CronTab waits for it" kube get crontab fg -o jsonpath='{.metadata.finalizers}'
expect_match "with the foregroundDeletion finalizer" 'foregroundDeletion' "$OUT"
kube patch configmap fg-child --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null
wait_until "then the CronTab goes" 150 gone crontab fg

# namespace deletion empties custom resources too
kube create namespace team >/dev/null
kube -n team apply -f - >/dev/null <<'YAML'
apiVersion: stable.example.com/v1
kind: CronTab
metadata: {name: in-team}
spec: {cronSpec: "* * * * *", replicas: 1}
YAML
kube delete namespace team --wait=false >/dev/null
wait_until "deleting a namespace deletes its custom resources, then the namespace" 150 gone namespace team

# the CRD goes and comes back
kube delete crd crontabs.stable.example.com >/dev/null
wait_until "the collector stops watching a resource no longer served" 150 \
  grep -q "garbage collector: no longer watching /apis/stable.example.com/v1/crontabs" "$WORK/controller-manager.log"
ok "CRD created again" kube apply -f "$FIX/crd-crontab.yaml"
wait_until "CRD established again" 50 kube wait --for condition=established --timeout=5s crd/crontabs.stable.example.com
watched_twice() { [[ $(grep -c 'garbage collector: watching /apis/stable.example.com/v1/crontabs' "$WORK/controller-manager.log") -ge 2 ]]; }
wait_until "and watched again" 150 watched_twice
crontab again apps/v1 Deployment anchor "$(uid_of deployment anchor)"
kube delete deployment anchor --wait=false >/dev/null
wait_until "its objects are collected again" 150 gone crontab again
expect_match "no errors from the collector" '^0$' "$(grep -c '^E' "$WORK/controller-manager.log" || true)"
done_testing
