#!/usr/bin/env bash
# Upstream's write semantics the API server must keep (correctness issue):
# uid preconditions on PUT and PATCH; DELETE racing other writes; the
# deletion flow (generation bump, negative grace, orphanDependents,
# switching propagation policy, the last finalizer's removal releasing a
# ClusterIP); metadata.generation only for the kinds that keep one;
# ResourceQuota charging updates and counting pods as upstream;
# unimplemented flags refused by name.
source "$(dirname "$0")/lib.sh"
for flag in --etcd-servers=http://127.0.0.1:2379 ; do
  rc=0
  OUT=$(timeout 10 "$KUBE_BIN/apiserver/kube-apiserver" --data-dir="$WORK/refused" --insecure-port=0 "$flag" 2>&1) || rc=$?
  expect_eq "$flag refused at once" 1 "$rc"
  expect_match "$flag named in the error" "^Error: ${flag%%=*} is not supported yet: " "$OUT"
done
start_apiserver
kube create sa default >/dev/null
PY=$(command -v /usr/bin/python3 || command -v python3)
CM=$API_URL/api/v1/namespaces/default/configmaps
# req METHOD URL [CTYPE BODY]: the answer in $OUT, the HTTP code in $CODE
req() {
  local args=(-s -o "$WORK/body" -w '%{http_code}' -X "$1" "$2")
  [[ $# -ge 4 ]] && args+=(-H "Content-Type: $3" -d "$4")
  CODE=$(curl "${args[@]}")
  OUT=$(cat "$WORK/body")
}
field() { "$PY" -c 'import json,sys; d=json.load(sys.stdin)
for k in sys.argv[1].split("."): d = d.get(k) if isinstance(d, dict) else None
print("" if d is None else json.dumps(d) if isinstance(d, (dict, list)) else d)' "$1" <<<"$OUT"; }

# --- uid preconditions ---------------------------------------------------
req POST "$CM" application/json '{"metadata":{"name":"u"},"data":{"a":"1"}}'
UID1=$(field metadata.uid)
req PUT "$CM/u" application/json '{"metadata":{"name":"u","uid":"00000000-0000-0000-0000-000000000000"},"data":{"a":"2"}}'
expect_eq "PUT with another uid: 409" 409 "$CODE"
expect_match "a uid precondition" "Precondition failed: UID in precondition: 00000000-0000-0000-0000-000000000000, UID in object meta: $UID1" "$OUT"
req PUT "$CM/u" application/json "{\"metadata\":{\"name\":\"u\",\"uid\":\"$UID1\"},\"data\":{\"a\":\"2\"}}"
expect_eq "PUT with its own uid: 200" 200 "$CODE"
req PATCH "$CM/u" application/merge-patch+json '{"metadata":{"uid":"11111111-1111-1111-1111-111111111111"}}'
expect_eq "PATCH changing the uid: 422" 422 "$CODE"
expect_match "immutable" 'metadata.uid: Invalid value: \\"11111111-1111-1111-1111-111111111111\\": field is immutable' "$OUT"
ok "the data stayed" kube get cm u -o jsonpath='{.data.a}'
expect_eq "value of the allowed PUT" 2 "$OUT"

# --- DELETE racing other writes to the same key ----------------------------
ok "deletes racing patches answer 200 or 404, never 500" "$PY" - "$CM" <<'EOF'
import json, sys, threading, urllib.error, urllib.request
cm = sys.argv[1]
def call(method, url, body=None, ctype="application/json"):
    req = urllib.request.Request(url, method=method, data=body and json.dumps(body).encode(),
                                 headers={"Content-Type": ctype})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
codes = []
for i in range(40):
    name = f"race{i}"
    assert call("POST", cm, {"metadata": {"name": name}}) == 201
    ts = [threading.Thread(target=lambda: codes.append(("PATCH", call("PATCH", f"{cm}/{name}", {"data": {"x": str(j)}},
                                                                          "application/merge-patch+json"))))
          for j in range(3)]
    ts.append(threading.Thread(target=lambda: codes.append(("DELETE", call("DELETE", f"{cm}/{name}")))))
    for t in ts: t.start()
    for t in ts: t.join()
    assert call("GET", f"{cm}/{name}") == 404, name
bad = [c for c in codes if c[1] >= 500 or (c[0] == "DELETE" and c[1] not in (200, 404))]
assert not bad, bad
print(len(codes), "requests")
EOF

# --- deletion flow -------------------------------------------------------
ok "a deployment with a finalizer" kube create -f - <<'EOF'
{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"gen","finalizers":["example.com/hold"]},
 "spec":{"selector":{"matchLabels":{"app":"gen"}},"template":{"metadata":{"labels":{"app":"gen"}},
 "spec":{"containers":[{"name":"c","image":"nginx"}]}}}}
EOF
req DELETE "$API_URL/apis/apps/v1/namespaces/default/deployments/gen"
expect_eq "the first delete marks it" "200 2" "$CODE $(field metadata.generation)"
expect_match "deletionTimestamp set" '[0-9]T' "$(field metadata.deletionTimestamp)"
req DELETE "$API_URL/apis/apps/v1/namespaces/default/deployments/gen"
expect_eq "a second delete bumps nothing" 2 "$(field metadata.generation)"
# orphanDependents, then another policy: the GC finalizer is swapped
req POST "$CM" application/json '{"metadata":{"name":"gc","finalizers":["example.com/hold"]}}'
req DELETE "$CM/gc" application/json '{"orphanDependents":true}'
expect_eq "orphanDependents=true adds orphan" '["example.com/hold", "orphan"]' "$(field metadata.finalizers)"
req DELETE "$CM/gc" application/json '{"propagationPolicy":"Foreground"}'
expect_eq "Foreground replaces it" '["example.com/hold", "foregroundDeletion"]' "$(field metadata.finalizers)"
req DELETE "$CM/gc" application/json '{"propagationPolicy":"Background"}'
expect_eq "Background takes it away" '["example.com/hold"]' "$(field metadata.finalizers)"
req DELETE "$CM/gc" application/json '{"orphanDependents":true,"propagationPolicy":"Orphan"}'
expect_eq "both options: 422" 422 "$CODE"
expect_match "cannot be both set" 'orphanDependents and deletionPropagation cannot be both set' "$OUT"
# a negative grace period on a running pod means one second
ok "a bound pod" kube create -f - <<'EOF'
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"grace"},"spec":{"nodeName":"n1","containers":[{"name":"c","image":"nginx"}]}}
EOF
req DELETE "$API_URL/api/v1/namespaces/default/pods/grace?gracePeriodSeconds=-5"
expect_eq "deletionGracePeriodSeconds 1" "200 1" "$CODE $(field metadata.deletionGracePeriodSeconds)"
# removing the last finalizer deletes, and gives the ClusterIP back
ok "a service with a finalizer" kube create -f - <<'EOF'
{"apiVersion":"v1","kind":"Service","metadata":{"name":"held","finalizers":["example.com/hold"]},
 "spec":{"ports":[{"port":80}]}}
EOF
IP=$(kubectl --cache-dir "$WORK/kcache" get svc held -o jsonpath='{.spec.clusterIP}')
ok "delete it" kube delete svc held --wait=false
req PATCH "$API_URL/api/v1/namespaces/default/services/held" application/merge-patch+json '{"metadata":{"finalizers":null}}'
expect_eq "the patch that removes the last finalizer" 200 "$CODE"
ko "then it is gone" kube get svc held
ok "its ClusterIP can be taken again" kube create -f - <<EOF
{"apiVersion":"v1","kind":"Service","metadata":{"name":"again"},"spec":{"clusterIP":"$IP","ports":[{"port":80}]}}
EOF

# --- metadata.generation only where upstream keeps one ----------------------
ok "objects of kinds without a generation" kube create -f - <<'EOF'
{"apiVersion":"v1","kind":"List","items":[
 {"apiVersion":"v1","kind":"Pod","metadata":{"name":"nogen"},"spec":{"containers":[{"name":"c","image":"nginx"}]}},
 {"apiVersion":"v1","kind":"Service","metadata":{"name":"nogen"},"spec":{"ports":[{"port":80}]}},
 {"apiVersion":"v1","kind":"Node","metadata":{"name":"nogen"}},
 {"apiVersion":"v1","kind":"Namespace","metadata":{"name":"nogen"}},
 {"apiVersion":"v1","kind":"PersistentVolume","metadata":{"name":"nogen"},"spec":{"capacity":{"storage":"1Gi"},"accessModes":["ReadWriteOnce"],"hostPath":{"path":"/tmp"}}},
 {"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"nogen"},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}},
 {"apiVersion":"v1","kind":"ResourceQuota","metadata":{"name":"nogen"},"spec":{"hard":{"pods":"100"}}}]}
EOF
for k in pod svc node ns pv pvc quota; do
  ok "$k has no generation" kube get "$k" nogen -o jsonpath='{.metadata.generation}'
  expect_eq "$k: empty" "" "$OUT"
done
ok "update a pod" kube label pod nogen x=y
ok "still none" kube get pod nogen -o jsonpath='{.metadata.generation}'
expect_eq "pod after update: empty" "" "$OUT"
ok "kinds that keep one" kube create -f - <<'EOF'
{"apiVersion":"v1","kind":"List","items":[
 {"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"g"},"spec":{"podSelector":{}}},
 {"apiVersion":"v1","kind":"PodTemplate","metadata":{"name":"g"},"template":{"spec":{"containers":[{"name":"c","image":"nginx"}]}}}]}
EOF
for k in networkpolicy podtemplate; do
  ok "$k generation" kube get "$k" g -o jsonpath='{.metadata.generation}'
  expect_eq "$k: 1" 1 "$OUT"
done
ok "change the policy" kube patch networkpolicy g --type=merge -p '{"spec":{"ingress":[{"ports":[{"port":80}]}]}}'
ok "bumped" kube get networkpolicy g -o jsonpath='{.metadata.generation}'
expect_eq "networkpolicy: 2" 2 "$OUT"

# --- ResourceQuota ---------------------------------------------------------
kube create ns q >/dev/null
kube -n q create sa default >/dev/null
ok "quota" kube -n q create quota q --hard=services.nodeports=1,pods=1
ok "a ClusterIP service" kube -n q create service clusterip a --tcp=80:80
ok "a NodePort service uses the one node port" kube -n q create service nodeport b --tcp=80:80
ko "turning the other into a NodePort is charged" kube -n q patch svc a --type=merge -p '{"spec":{"type":"NodePort"}}'
expect_match "exceeded quota on update" 'exceeded quota: q, requested: services.nodeports=1, used: services.nodeports=1, limited: services.nodeports=1' "$OUT"
ok "a pod bound to a node, one second of grace" kube -n q create -f - <<'EOF'
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p1"},"spec":{"nodeName":"n1","terminationGracePeriodSeconds":1,
 "containers":[{"name":"c","image":"nginx"}]}}
EOF
ko "a second pod is over quota" kube -n q run p2 --image=nginx
expect_match "pods=1" 'exceeded quota: q, requested: pods=1, used: pods=1, limited: pods=1' "$OUT"
ok "delete the first gracefully" kube -n q delete pod p1 --wait=false
ok "it is still there, terminating" kube -n q get pod p1 -o jsonpath='{.metadata.deletionTimestamp}'
wait_until "once its grace has run out it no longer counts" 50 kube -n q run p2 --image=nginx
ok "a pod that failed does not count" kube -n q patch pod p2 --subresource=status --type=merge -p '{"status":{"phase":"Failed"}}'
ok "so a third fits" kube -n q run p3 --image=nginx
# --- an update that changes nothing writes nothing ---------------------------
# (upstream's storage compares the encoded object: no new resourceVersion,
# no watch event; a controller writing back a zero its Go type omits would
# otherwise loop on its own events)
kube create deployment quiet --image=nginx >/dev/null
D=$API_URL/apis/apps/v1/namespaces/default/deployments/quiet
rv0=$(curl -fsS "$D" | python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["resourceVersion"])')
ok "a status PUT with a zero the type omits" curl -fsS -X PUT -H 'Content-Type: application/json' "$D/status" \
  --data-binary "$(curl -fsS "$D" | python3 -c 'import json,sys; d=json.load(sys.stdin); d.setdefault("status",{})["unavailableReplicas"]=0; print(json.dumps(d))')"
expect_eq "answered with the stored resourceVersion" "$rv0" "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["metadata"]["resourceVersion"])' "$OUT")"
ok "a merge patch that sets what is there" kube patch deployment quiet --type=merge -p '{"spec":{"replicas":1}}'
expect_eq "no new revision" "$rv0" "$(curl -fsS "$D" | python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["resourceVersion"])')"
ok "watch from that revision" curl -fsS "$API_URL/apis/apps/v1/namespaces/default/deployments?watch=1&resourceVersion=$rv0&timeoutSeconds=1&fieldSelector=metadata.name=quiet"
expect_eq "no event" "" "$OUT"
done_testing
