#!/usr/bin/env bash
# CustomResourceDefinitions with the real kubectl and the Python client:
# a CRD is served at once (discovery, short names, categories, printer
# columns, conditions), its custom resources go through create, get,
# list with selectors and pages, watch, merge/JSON/server-side apply
# patches, the status and scale subresources and delete; invalid objects
# are refused with upstream's field paths, defaults are applied, unknown
# fields pruned (or refused with Strict), two versions are served from one
# storage, a non-structural schema and a name conflict are reported as
# upstream does, and deleting the CRD deletes its objects first.
source "$(dirname "$0")/lib.sh"
FIX=$(cd "$(dirname "$0")/fixtures" && pwd)
start_apiserver
API=$API_URL/apis/stable.example.com

# ---- the CRD is served without a restart ----
ok "CRD created" kube apply -f "$FIX/crd-crontab.yaml"
wait_until "CRD established" 50 kube wait --for condition=established --timeout=5s crd/crontabs.stable.example.com
ok "conditions" kube get crd crontabs.stable.example.com -o jsonpath='{range .status.conditions[*]}{.type}={.status}/{.reason} {end}{.status.storedVersions}'
expect_match "NamesAccepted and Established" 'NamesAccepted=True/NoConflicts Established=True/InitialNamesAccepted \["v1"\]' "$OUT"
ok "discovery" curl -fsS "$API/v1"
expect_match "short names and categories" '"name":"crontabs".*"shortNames":\["ct"\],"categories":\["all"\]' "$OUT"
expect_match "scale subresource listed" '"name":"crontabs/scale".*"group":"autoscaling"' "$OUT"
ok "group listed" curl -fsS "$API_URL/apis"
expect_match "APIGroup with both versions, v1 preferred" '"name":"stable.example.com","versions":\[\{"groupVersion":"stable.example.com/v1"' "$OUT"

# ---- create and read ----
cat >"$WORK/ct.yaml" <<'EOF'
apiVersion: stable.example.com/v1
kind: CronTab
metadata: {name: nightly, labels: {tier: batch}}
spec: {cronSpec: "0 3 * * *", replicas: 2, port: http, tags: [ab, cd]}
EOF
ok "create" kube create -f "$WORK/ct.yaml"
ok "get by short name" kube get ct
expect_match "printer columns" 'NAME +SPEC +REPLICAS +AGE' "$OUT"
expect_match "row" 'nightly +0 3 \* \* \* +2 +[0-9]+s' "$OUT"
ok "wide" kube get ct -o wide
expect_match "priority-1 column with -o wide" 'AGE +IMAGE' "$OUT"
expect_match "default applied" 'nightly .* nginx' "$OUT"
ok "get all" kube get all
expect_match "category all" 'crontab.stable.example.com/nightly' "$OUT"
ok "yaml" kube get crontab nightly -o jsonpath='{.metadata.generation} {.spec.image} {.metadata.uid}'
expect_match "generation and default" '^1 nginx [0-9a-f-]{36}$' "$OUT"

ok "kubectl explain of a custom field" kube explain crontabs.spec
expect_match "fields from the CRD schema" 'cronSpec	<string> -required-' "$OUT"
expect_match "enum shown" 'enum: red, blue' "$OUT"

# ---- invalid objects, with upstream's field paths ----
cat >"$WORK/bad.yaml" <<'EOF'
apiVersion: stable.example.com/v1
kind: CronTab
metadata: {name: bad}
spec: {cronSpec: "every minute", replicas: 11, color: purple, image: "a-very-long-image-name:1.0", tags: [a, b, c, d], port: true}
EOF
ko "invalid object refused" kube create -f "$WORK/bad.yaml"
expect_match "pattern" 'spec.cronSpec: Invalid value: "every minute": spec.cronSpec in body should match' "$OUT"
expect_match "maximum" 'spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10' "$OUT"
expect_match "enum" 'spec.color: Unsupported value: "purple": supported values: "red", "blue"' "$OUT"
expect_match "maxLength" 'spec.image: Too long: may not be more than 20 bytes' "$OUT"
expect_match "maxItems" 'spec.tags: Too many: 4: must have at most 3 items' "$OUT"
expect_match "minLength of items" 'spec.tags\[0\]: Invalid value: "a": spec.tags\[0\] in body should be at least 2 chars long' "$OUT"
expect_match "int-or-string" 'spec.port: Invalid value: "boolean"' "$OUT"
expect_match "kind in the message" 'The CronTab "bad" is invalid' "$OUT"
ko "required" kube create -f - <<'EOF'
apiVersion: stable.example.com/v1
kind: CronTab
metadata: {name: bad}
spec: {replicas: 1}
EOF
expect_match "required field" 'spec.cronSpec: Required value' "$OUT"
ko "wrong type" kube create -f - <<'EOF'
apiVersion: stable.example.com/v1
kind: CronTab
metadata: {name: bad}
spec: {cronSpec: "* * * * *", replicas: "two", schedule: "tomorrow"}
EOF
expect_match "type" 'spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"' "$OUT"
expect_match "format" 'spec.schedule: Invalid value: "tomorrow": spec.schedule in body must be of type date-time' "$OUT"
ko "embedded resource needs kind" kube create -f - <<'EOF'
apiVersion: stable.example.com/v1
kind: CronTab
metadata: {name: bad}
spec: {cronSpec: "* * * * *", template: {apiVersion: v1}}
EOF
expect_match "embedded kind" 'spec.template.kind: Required value' "$OUT"

# ---- pruning ----
cat >"$WORK/junk.yaml" <<'EOF'
apiVersion: stable.example.com/v1
kind: CronTab
metadata: {name: junk}
spec: {cronSpec: "* * * * *", junk: 1, extra: {anything: [1, 2]}, schedule: null}
EOF
ko "unknown field refused with Strict" kube create -f "$WORK/junk.yaml"
expect_match "strict message" 'strict decoding error: unknown field "spec.junk"' "$OUT"
ok "unknown field pruned with Warn" kube create -f "$WORK/junk.yaml" --validate=warn
expect_match "warning" 'Warning: unknown field "spec.junk"' "$OUT"
ok "pruned object" kube get ct junk -o json
expect_no_match "junk gone" '"junk": 1' "$OUT"
expect_match "preserved subtree kept" '"anything": \[' "$OUT"

# ---- lists: selectors and pages ----
ok "label selector" kube get ct -l tier=batch -o name
expect_eq "only the labelled one" "crontab.stable.example.com/nightly" "$OUT"
ok "field selector" kube get ct --field-selector metadata.name=junk -o name
expect_eq "by name" "crontab.stable.example.com/junk" "$OUT"
ok "page of one" curl -fsS "$API/v1/namespaces/default/crontabs?limit=1"
expect_match "continue token" '"continue":"[A-Za-z0-9_-]+"' "$OUT"
ok "all namespaces" kube get ct -A -o name
expect_match "both" 'junk' "$OUT"

# ---- watch ----
(timeout 6 kubectl --cache-dir "$WORK/kcache" get ct -w --output-watch-events >"$WORK/watch.out" 2>&1 || true) &
WPID=$!
sleep 1.5
ok "merge patch" kube patch ct nightly --type=merge -p '{"spec":{"color":"red"}}'
ok "json patch" kube patch ct nightly --type=json -p '[{"op":"replace","path":"/spec/replicas","value":3}]'
wait "$WPID" || true
expect_match "watch saw the changes" 'MODIFIED +nightly +0 3' "$(cat "$WORK/watch.out")"
ko "strategic merge patch refused" kube patch ct nightly --type=strategic -p '{"spec":{"color":"blue"}}'
expect_match "415 for strategic" 'the body of the request was in an unknown format' "$OUT"
ok "generation bumped by spec changes" kube get ct nightly -o jsonpath='{.metadata.generation} {.spec.replicas} {.spec.color}'
expect_eq "generation 3" "3 3 red" "$OUT"

# ---- server-side apply ----
cat >"$WORK/ssa.yaml" <<'EOF'
apiVersion: stable.example.com/v1
kind: CronTab
metadata: {name: applied}
spec: {cronSpec: "*/5 * * * *", replicas: 4}
EOF
ok "server-side apply creates" kube apply --server-side -f "$WORK/ssa.yaml"
ok "managed fields" kube get ct applied -o jsonpath='{.metadata.managedFields[0].manager}/{.metadata.managedFields[0].operation}'
expect_eq "applied by kubectl" "kubectl/Apply" "$OUT"
sed -i 's/replicas: 4/replicas: 5/' "$WORK/ssa.yaml"
ok "server-side apply updates" kube apply --server-side -f "$WORK/ssa.yaml"
ok "applied value" kube get ct applied -o jsonpath='{.spec.replicas}'
expect_eq "replicas 5" "5" "$OUT"

# ---- status and scale ----
ok "status subresource" curl -fsS -XPATCH -H 'Content-Type: application/merge-patch+json' \
  "$API/v1/namespaces/default/crontabs/nightly/status" -d '{"status":{"replicas":3,"labelSelector":"tier=batch"},"spec":{"replicas":9}}'
ok "status written, spec kept" kube get ct nightly -o jsonpath='{.status.replicas} {.spec.replicas}'
expect_eq "status only" "3 3" "$OUT"
ok "main resource ignores status" kube patch ct nightly --type=merge -p '{"status":{"replicas":7}}'
ok "status kept" kube get ct nightly -o jsonpath='{.status.replicas}'
expect_eq "status unchanged" "3" "$OUT"
ok "kubectl scale" kube scale ct nightly --replicas=6
ok "scale view" curl -fsS "$API/v1/namespaces/default/crontabs/nightly/scale"
expect_match "Scale" '"spec":\{"replicas":6\},"status":\{"replicas":3,"selector":"tier=batch"\}' "$OUT"
ko "scale beyond the schema" kube scale ct nightly --replicas=20
expect_match "validated" 'should be less than or equal to 10' "$OUT"

# ---- two versions, conversion None ----
ok "old version served" kube get crontabs.v1beta1.stable.example.com nightly -o jsonpath='{.apiVersion}'
expect_match "kubectl shows the deprecation warning" 'Warning: stable.example.com/v1beta1 CronTab is deprecated; use stable.example.com/v1 CronTab' "$OUT"
expect_eq "apiVersion rewritten" "stable.example.com/v1beta1" "$(tail -1 <<<"$OUT")"
ok "deprecation warning" curl -fsS -D - -o /dev/null "$API/v1beta1/namespaces/default/crontabs"
expect_match "Warning header" 'Warning: 299 - "stable.example.com/v1beta1 CronTab is deprecated; use stable.example.com/v1 CronTab"' "$OUT"
ok "create through v1beta1" curl -fsS -XPOST -H 'Content-Type: application/json' "$API/v1beta1/namespaces/default/crontabs" \
  -d '{"apiVersion":"stable.example.com/v1beta1","kind":"CronTab","metadata":{"name":"old"},"spec":{"cronSpec":"1 * * * *","free":true}}'
ok "read through v1" kube get crontabs.v1.stable.example.com old -o jsonpath='{.apiVersion} {.spec.free}'
expect_eq "stored once, served in both" "stable.example.com/v1 true" "$OUT"

# ---- JSON only ----
OUT=$(curl -sS -H 'Accept: application/vnd.kubernetes.protobuf' "$API/v1/namespaces/default/crontabs/nightly")
expect_match "protobuf refused with 406" '"reason":"NotAcceptable".*"code":406' "$OUT"

# ---- the Python client ----
ok "python CustomObjectsApi" /usr/bin/python3 "$(dirname "$0")/crd_python.py" "$KUBECONFIG"
echo "$OUT"

# ---- bad CRDs ----
ko "non-structural schema refused" kube create -f - <<'EOF'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.stable.example.com}
spec:
  group: stable.example.com
  scope: Cluster
  names: {plural: widgets, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            properties:
              size: {type: integer}
            anyOf:
            - {type: object, required: [size]}
EOF
expect_match "missing type" 'spec.versions\[0\].schema.openAPIV3Schema.properties\[spec\].type: Required value: must not be empty for specified object fields' "$OUT"
expect_match "type inside anyOf" 'spec.versions\[0\].schema.openAPIV3Schema.properties\[spec\].anyOf\[0\].type: Forbidden: must be empty to be structural' "$OUT"
ko "wrong name refused" kube create -f - <<'EOF'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.example.com}
spec:
  group: stable.example.com
  scope: Cluster
  names: {plural: gadgets, kind: Gadget}
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
EOF
expect_match "name rule" 'metadata.name: Invalid value: "gadgets.example.com": must be spec.names.plural\+"."\+spec.group' "$OUT"
ok "conflicting CRD stored" kube create -f - <<'EOF'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: cts.stable.example.com}
spec:
  group: stable.example.com
  scope: Namespaced
  names: {plural: cts, singular: ct2, kind: CronTab}
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
EOF
wait_until "kind conflict reported" 50 bash -c "kubectl --cache-dir '$WORK/kcache' get crd cts.stable.example.com -o jsonpath='{.status.conditions[?(@.type==\"NamesAccepted\")].message}' | grep -q 'is already in use'"
ok "conflict condition" kube get crd cts.stable.example.com -o jsonpath='{range .status.conditions[*]}{.type}={.status}/{.reason} {end}'
expect_match "not established" 'NamesAccepted=False/ListKindConflict Established=False/NotAccepted' "$OUT"
ko "conflicting resource not served" curl -fsS "$API/v1/namespaces/default/cts"
ok "conflicting CRD deleted" kube delete crd cts.stable.example.com

# ---- restart keeps serving ----
kill "$API_PID"; wait "$API_PID" 2>/dev/null || true
PIDS=()
start_apiserver
ok "served after a restart" kube get ct nightly -o name

# ---- deleting the CRD deletes its objects first ----
ok "finalizer on an object" kube patch ct applied --type=merge -p '{"metadata":{"finalizers":["example.com/hold"]}}'
ok "CRD delete" kube delete crd crontabs.stable.example.com --wait=false
wait_until "objects without finalizers deleted" 50 bash -c "[[ \$(kubectl --cache-dir '$WORK/kcache' get ct -o name | wc -l) == 1 ]]"
ok "terminating condition" kube get crd crontabs.stable.example.com -o jsonpath='{.status.conditions[?(@.type=="Terminating")].reason}'
expect_eq "instances being deleted" "InstanceDeletionInProgress" "$OUT"
ko "no creates while terminating" kube create -f "$WORK/ct.yaml"
expect_match "forbidden" 'create not allowed while custom resource definition is terminating' "$OUT"
ok "object marked for deletion" kube get ct applied -o jsonpath='{.metadata.deletionTimestamp}'
expect_match "deletionTimestamp" '^20' "$OUT"
ok "finalizer released" kube patch ct applied --type=json -p '[{"op":"remove","path":"/metadata/finalizers"}]'
wait_until "CRD gone" 50 bash -c "! kubectl --cache-dir '$WORK/kcache' get crd crontabs.stable.example.com 2>/dev/null"
wait_until "no longer served" 50 bash -c "[[ \$(curl -s -o /dev/null -w '%{http_code}' '$API/v1/namespaces/default/crontabs') == 404 ]]"
ok "storage empty" curl -fsS "$API_URL/metrics"
done_testing
