#!/usr/bin/env bash
# Every write is decoded as its Go type and stored as Go encodes it, with
# the real kubectl and the Python client:
#  - malformed bodies (wrong JSON types, bad quantities, bad base64,
#    fractions for integers) are refused with upstream's messages whatever
#    fieldValidation says, and nothing is stored; afterwards describe node,
#    drain, describe cm and the Python client listing every kind all work;
#  - quantities are stored canonical; unknown fields are refused (kubectl's
#    default Strict), warned about (--validate=warn) or dropped
#    (--validate=false) and never stored;
#  - get -o yaml | apply, server-side apply then diff, kind: List through
#    /openapi/v2 (protobuf) with client-side validation;
#  - metadata-only reads (PartialObjectMetadata) and 406; DELETE answers;
#    discovery lists only served subresources; random ClusterIPs and
#    NodePorts outside the static band; one default PriorityClass.
source "$(dirname "$0")/lib.sh"
start_apiserver
kube create sa default >/dev/null
PY=$(command -v /usr/bin/python3 || command -v python3)

# refused DESC MANIFEST REGEX KIND NAME [kubectl flags]: create fails with
# the message and nothing named NAME is stored
refused() {
  local desc=$1 manifest=$2 re=$3 kind=$4 name=$5
  shift 5
  ko "$desc refused" kube create "$@" -f - <<<"$manifest"
  expect_match "$desc: upstream's message" "$re" "$OUT"
  ko "$desc: nothing stored" kube get "$kind" "$name"
  expect_match "$desc: not found" 'NotFound' "$OUT"
}

DEPLOY='apiVersion: apps/v1
kind: Deployment
metadata: {name: bad-replicas}
spec:
  replicas: "3"
  selector: {matchLabels: {app: x}}
  template:
    metadata: {labels: {app: x}}
    spec: {containers: [{name: c, image: nginx}]}'
refused "replicas as a string" "$DEPLOY" \
  'Error from server \(BadRequest\).*Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32' \
  deploy bad-replicas
refused "replicas as a string, --validate=false" "$DEPLOY" 'cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas' \
  deploy bad-replicas --validate=false
refused "a malformed quantity" 'apiVersion: v1
kind: Node
metadata: {name: bad-cpu}
status: {capacity: {cpu: 2x}}' \
  "Node in version \"v1\" cannot be handled as a Node: quantities must match the regular expression '\\^\\(\\[\\+-\\]\\?\\[0-9\\.\\]\\+\\)" \
  node bad-cpu
refused "a quantity 1.5.5" 'apiVersion: v1
kind: Node
metadata: {name: bad-cpu2}
status: {allocatable: {memory: 1.5.5}}' 'quantities must match the regular expression' node bad-cpu2
refused "a number in a map of strings" 'apiVersion: v1
kind: ConfigMap
metadata: {name: bad-data}
data: {a: 1}' 'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal number into Go struct field ConfigMap.data of type string' \
  cm bad-data
refused "invalid base64" 'apiVersion: v1
kind: Secret
metadata: {name: bad-b64}
data: {a: abc}' 'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 0' \
  secret bad-b64
refused "a fraction for an int32" 'apiVersion: v1
kind: Pod
metadata: {name: bad-port}
spec: {containers: [{name: c, image: nginx, ports: [{containerPort: 1.5}]}]}' \
  'cannot unmarshal number 1.5 into Go struct field ContainerPort.spec.containers.ports.containerPort of type int32' \
  pod bad-port
refused "an object where a list is declared" 'apiVersion: v1
kind: Pod
metadata: {name: bad-list}
spec: {containers: {name: c}}' 'cannot unmarshal object into Go struct field PodSpec.spec.containers of type \[\]v1.Container' \
  pod bad-list
# a negative amount decodes, and validation refuses it (422)
ko "a negative request" kube create -f - <<'EOF'
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"neg"},"spec":{"containers":[{"name":"c","image":"nginx",
 "resources":{"requests":{"cpu":"-1"},"limits":{"memory":"-5Mi"}}}]}}
EOF
expect_match "negative request" 'spec.containers\[0\].resources.requests\[cpu\]: Invalid value: "-1": must be greater than or equal to 0' "$OUT"
expect_match "negative limit" 'spec.containers\[0\].resources.limits\[memory\]: Invalid value: "-5Mi": must be greater than or equal to 0' "$OUT"
ko "a negative node capacity" kube create -f - <<<'{"apiVersion":"v1","kind":"Node","metadata":{"name":"negn"},"status":{"capacity":{"cpu":"-2","pods":"1.5"}}}'
expect_match "negative capacity" 'status.capacity.cpu: Invalid value: "-2": must be greater than or equal to 0' "$OUT"
expect_match "a fraction of pods" 'status.capacity.pods: Invalid value: "1500m": must be an integer' "$OUT"
# fieldValidation=Ignore does not let a type error through either
CODE=$(curl -s -o "$WORK/ign.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  "$API_URL/apis/apps/v1/namespaces/default/deployments?fieldValidation=Ignore" \
  -d '{"metadata":{"name":"ign"},"spec":{"replicas":"3"}}')
expect_eq "a type error is 400 under fieldValidation=Ignore" 400 "$CODE"

# after all that, the readers every user has still work
ok "create a node" kube create -f - <<'EOF'
apiVersion: v1
kind: Node
metadata: {name: n1, labels: {kubernetes.io/hostname: n1}}
status:
  capacity: {cpu: "2", memory: 4096Mi, pods: "110"}
  allocatable: {cpu: 1.5, memory: 4Gi, pods: "110"}
EOF
ok "describe node" kube describe node n1
expect_match "describe node shows capacity" 'memory: +4Gi' "$OUT"
ok "node quantities stored canonical" kube get node n1 -o jsonpath='{.status.capacity.memory} {.status.allocatable.cpu}'
expect_eq "4096Mi is 4Gi, 1.5 is 1500m" "4Gi 1500m" "$OUT"
ok "drain" kube drain n1 --ignore-daemonsets --timeout=30s
expect_match "drained" 'node/n1 drained' "$OUT"
ok "create a configmap" kube create cm good --from-literal=a=1
ok "describe cm" kube describe cm good
ok "python client lists every kind, deletes and reads quantities" "$PY" "$(dirname "$0")/python_typed.py" "$KUBECONFIG"

# unknown fields: Strict (kubectl's default), Warn, Ignore; never stored
CMX='apiVersion: v1
kind: ConfigMap
metadata: {name: NAME}
data: {a: "1"}
bogus: 1'
ko "unknown field refused by default" kube create -f - <<<"${CMX/NAME/u1}"
expect_match "strict decoding error" 'strict decoding error: unknown field "bogus"' "$OUT"
ok "--validate=warn" kube create --validate=warn -f - <<<"${CMX/NAME/u2}"
expect_match "warned" 'Warning: unknown field "bogus"' "$OUT"
ok "--validate=false" kube create --validate=false -f - <<<"${CMX/NAME/u3}"
expect_no_match "no warning" 'Warning' "$OUT"
for n in u2 u3; do
  ok "$n stored" kube get cm "$n" -o json
  expect_no_match "$n: unknown field not stored" 'bogus' "$OUT"
done
ok "duplicate fields refused by name" curl -s -X POST -H 'Content-Type: application/json' \
  "$API_URL/api/v1/namespaces/default/configmaps?fieldValidation=Strict" \
  -d '{"metadata":{"name":"dup","name":"dup"},"data":{"a":"1","a":"2"}}'
expect_match "every duplicate with its path" 'duplicate field \\"metadata.name\\", duplicate field \\"data.a\\"' "$OUT"

# Go's encoding: omitempty fields disappear, structs are always there
ok "apply a deployment" kube apply -f - <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: enc, labels: {}, annotations: {}}
spec:
  selector: {matchLabels: {app: enc}}
  template:
    metadata: {labels: {app: enc}}
    spec: {containers: [{name: c, image: nginx, env: []}]}
EOF
ok "get it" kube get deploy enc -o json
ok "empty maps and lists gone, structs present" "$PY" -c '
import json, sys
d = json.loads(sys.argv[1])
assert "labels" not in d["metadata"], d["metadata"]
c = d["spec"]["template"]["spec"]["containers"][0]
assert "env" not in c and c["resources"] == {}, c
assert d["spec"]["template"]["metadata"]["creationTimestamp"] is None
assert d["status"] == {} or "observedGeneration" not in d["status"], d["status"]
' "$OUT"

# round trips kubectl users rely on
ok "create b" kube create cm b --from-literal=k=v
ok "get two as one yaml" sh -c "kubectl --cache-dir '$WORK/kcache' get cm good b -o yaml >'$WORK/two.yaml'"
ok "apply what get printed (a kind: List)" kube apply -f "$WORK/two.yaml"
cat >"$WORK/ssa.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: ssa, labels: {app: ssa}}
spec:
  replicas: 2
  selector: {matchLabels: {app: ssa}}
  template:
    metadata: {labels: {app: ssa}}
    spec:
      containers:
      - name: web
        image: nginx:1.25
        ports: [{containerPort: 80}]
        resources: {requests: {cpu: "0.5", memory: 1024Mi}, limits: {memory: 1073741824}}
EOF
ok "server-side apply" kube apply --server-side -f "$WORK/ssa.yaml"
ok "diff after server-side apply shows nothing" kube diff -f "$WORK/ssa.yaml"
cat >"$WORK/list.yaml" <<'EOF'
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: ConfigMap, metadata: {name: l1}, data: {a: "1"}}
- {apiVersion: v1, kind: ConfigMap, metadata: {name: l2}, data: {b: "2"}, bogus: 1}
EOF
ko "a List is validated client-side through /openapi/v2" kube create -f "$WORK/list.yaml"
expect_match "unknown field found in the List" 'unknown field "bogus" in io.k8s.api.core.v1.ConfigMap' "$OUT"
sed -i '/bogus/s/, bogus: 1//' "$WORK/list.yaml"
ok "a valid List is created" kube create -f "$WORK/list.yaml"
expect_match "both items" 'configmap/l1 created.*configmap/l2 created' "$(tr '\n' ' ' <<<"$OUT")"
CODE=$(curl -s -o "$WORK/v2.pb" -w '%{http_code} %{content_type}' \
  -H 'Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf' "$API_URL/openapi/v2")
expect_eq "/openapi/v2 in protobuf" "200 application/com.github.proto-openapi.spec.v2.v1.0+protobuf" "$CODE"
ok "/openapi/v2 in JSON" curl -fsS -o "$WORK/v2.json" "$API_URL/openapi/v2"
ok "v2 definitions carry kinds" "$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["swagger"] == "2.0"
pod = d["definitions"]["io.k8s.api.core.v1.Pod"]
assert {"group": "", "kind": "Pod", "version": "v1"} in pod["x-kubernetes-group-version-kind"]
assert pod["properties"]["spec"]["$ref"] == "#/definitions/io.k8s.api.core.v1.PodSpec"
' "$WORK/v2.json"

# metadata-only reads
ok "PartialObjectMetadata" curl -fsS -H 'Accept: application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1' \
  "$API_URL/api/v1/namespaces/default/configmaps/good"
expect_match "metadata only" '^\{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":\{"name":"good"' "$OUT"
expect_no_match "no data" '"data"' "$OUT"
ok "PartialObjectMetadataList v1beta1" curl -fsS \
  -H 'Accept: application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1beta1,application/json' \
  "$API_URL/api/v1/namespaces/default/configmaps?limit=2"
expect_match "a list of metadata" '^\{"kind":"PartialObjectMetadataList","apiVersion":"meta.k8s.io/v1beta1".*"remainingItemCount":[0-9]+.*"items":\[\{"kind":"PartialObjectMetadata"' "$OUT"
CODE=$(curl -s -o "$WORK/406.json" -w '%{http_code}' -H 'Accept: application/json;as=Foo;g=meta.k8s.io;v=v1' \
  "$API_URL/api/v1/namespaces/default/configmaps/good")
expect_eq "unknown as= is 406" 406 "$CODE"
expect_match "NotAcceptable" '"reason":"NotAcceptable"' "$(cat "$WORK/406.json")"

# DELETE answers
ok "delete a configmap" curl -fsS -X DELETE "$API_URL/api/v1/namespaces/default/configmaps/b"
expect_match "a Success Status naming it" '^\{"kind":"Status","apiVersion":"v1","metadata":\{\},"status":"Success","details":\{"name":"b","kind":"configmaps","uid":"[0-9a-f-]+"\}\}$' "$OUT"
ok "delete a deployment" curl -fsS -X DELETE "$API_URL/apis/apps/v1/namespaces/default/deployments/enc"
expect_match "with its group" '"details":\{"name":"enc","group":"apps","kind":"deployments"' "$OUT"
ok "create a service" kube create service clusterip del --tcp=80:80
ok "delete a service" curl -fsS -X DELETE "$API_URL/api/v1/namespaces/default/services/del"
expect_match "answers the service" '^\{"kind":"Service",' "$OUT"
ok "a configmap with a finalizer" kube create -f - <<'EOF'
{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"fin","finalizers":["example.com/keep"]}}
EOF
CODE=$(curl -s -o "$WORK/del.json" -w '%{http_code}' -X DELETE -H 'Content-Type: application/json' \
  -d '{"orphanDependents":false}' "$API_URL/api/v1/namespaces/default/configmaps/fin")
expect_eq "waiting on finalizers with orphanDependents=false: 202" 202 "$CODE"
expect_match "answers the object, being deleted" '"deletionTimestamp"' "$(cat "$WORK/del.json")"

# discovery: only served subresources
ok "core resources" curl -fsS "$API_URL/api/v1"
for sub in pods/status pods/binding pods/eviction namespaces/finalize pods/log pods/exec pods/attach \
  pods/portforward nodes/proxy serviceaccounts/token; do
  expect_match "lists $sub" "\"name\":\"$sub\"" "$OUT"
done
for sub in pods/proxy services/proxy pods/ephemeralcontainers; do
  expect_no_match "does not list $sub (not served)" "\"name\":\"$sub\"" "$OUT"
done

# random allocation outside the static bands
for i in 1 2 3 4 5 6; do kube create service nodeport "np$i" --tcp=80:80 >/dev/null; done
ok "allocated values" kube get svc -l app -o jsonpath='{range .items[*]}{.spec.clusterIP} {.spec.ports[0].nodePort}{"\n"}{end}'
ok "ClusterIPs and NodePorts random, outside the static bands" "$PY" -c '
import ipaddress, sys
rows = [l.split() for l in sys.argv[1].splitlines() if l.strip()]
assert len(rows) == 6, rows
ips = [int(ipaddress.ip_address(r[0])) - int(ipaddress.ip_address("10.96.0.0")) for r in rows]
ports = [int(r[1]) for r in rows]
assert all(256 < i < 2**20 - 1 for i in ips), ips          # static band: the first 256 addresses
assert all(30086 <= p <= 32767 for p in ports), ports      # static band: 30000-30085
assert sorted(ips) != list(range(min(ips), min(ips) + 6)), ips
assert sorted(ports) != list(range(min(ports), min(ports) + 6)), ports
' "$OUT"

# one default PriorityClass
ok "a default class" kube create priorityclass first --value=100 --global-default=true
ko "a second default class" kube create priorityclass second --value=200 --global-default=true
expect_match "refused as upstream" 'priorityclasses.scheduling.k8s.io "second" is forbidden: PriorityClass first is already marked as default. Only one default can exist' "$OUT"
done_testing
