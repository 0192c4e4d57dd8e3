#!/usr/bin/env bash
# Admission webhooks (issue 16): MutatingWebhookConfiguration and
# ValidatingWebhookConfiguration calling a test webhook server
# (webhook_server.py) over HTTPS on 127.0.0.1 with a CA made here, driven
# with the real kubectl: a mutating webhook adds a label, a validating one
# denies with upstream's message, warnings reach kubectl, failurePolicy
# Ignore/Fail with the server unreachable, a timeout, a garbage answer and
# a wrong uid, objectSelector and namespaceSelector exclusions, dry run
# and sideEffects, deletes reaching a validating webhook, the server
# answering other requests while a webhook call is pending, and the
# webhook metrics.  Network: loopback only.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pki_lib.sh"

pki_ca whca webhook-test-ca
ossl req -newkey rsa:2048 -nodes -keyout "$PKI/wh.key" -out "$PKI/wh.csr" -subj "/CN=127.0.0.1"
printf 'subjectAltName=IP:127.0.0.1,DNS:wh.default.svc\n' >"$PKI/wh.ext"
ossl x509 -req -in "$PKI/wh.csr" -CA "$PKI/whca.crt" -CAkey "$PKI/whca.key" -CAcreateserial \
  -out "$PKI/wh.crt" -days 1 -extfile "$PKI/wh.ext"
CA=$(base64 -w0 "$PKI/whca.crt")

WH_PORT=$(free_port)
DEAD_PORT=$(free_port) # nothing listens there
WH_LOG=$WORK/webhook.jsonl
: >"$WH_LOG"
python3 "$(dirname "$0")/webhook_server.py" "$WH_PORT" "$PKI/wh.crt" "$PKI/wh.key" "$WH_LOG" \
  >"$WORK/webhook-server.log" 2>&1 &
PIDS+=($!)
for i in $(seq 1 100); do
  curl -s --cacert "$PKI/whca.crt" -o /dev/null "https://127.0.0.1:$WH_PORT/" && break
  sleep 0.1
done

start_apiserver

# hook NAME PATH RULE-RESOURCES OPERATIONS [extra yaml lines...]: one webhook entry
hook() {
  local name=$1 path=$2 res=$3 ops=$4; shift 4
  local url="https://127.0.0.1:$WH_PORT$path"
  [[ $path == dead:* ]] && url="https://127.0.0.1:$DEAD_PORT/${path#dead:}"
  cat <<EOF
- name: $name
  clientConfig: {url: "$url", caBundle: "$CA"}
  rules: [{operations: [$ops], apiGroups: [""], apiVersions: [v1], resources: [$res]}]
  sideEffects: None
  admissionReviewVersions: [v1]
EOF
  local l
  for l in "$@"; do echo "  $l"; done
}
calls_to() { grep -c "\"path\": \"$1\"" "$WH_LOG" || true; }

# ---- the kinds themselves ----
cat >"$WORK/bad.yaml" <<EOF
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: bad}
webhooks:
- name: short
  clientConfig: {url: "http://127.0.0.1:1/x"}
  rules: [{operations: [CREATE], apiGroups: [""], apiVersions: [v1], resources: [pods]}]
  sideEffects: Unknown
  timeoutSeconds: 31
  admissionReviewVersions: [v2]
EOF
ko "an invalid configuration is refused" kube apply -f "$WORK/bad.yaml"
expect_match "name needs three segments" 'webhooks\[0\]\.name: Invalid value: "short": should be a domain with at least three segments separated by dots' "$OUT"
expect_match "https only" "webhooks\[0\]\.clientConfig\.url: Invalid value: \"http\": 'https' is the only allowed URL scheme" "$OUT"
expect_match "sideEffects Unknown refused for v1" 'webhooks\[0\]\.sideEffects: Unsupported value: "Unknown": supported values: "None", "NoneOnDryRun"' "$OUT"
expect_match "timeout bounded" 'webhooks\[0\]\.timeoutSeconds: Invalid value: 31: the timeout value must be between 1 and 30 seconds' "$OUT"
expect_match "review versions" 'webhooks\[0\]\.admissionReviewVersions: Invalid value: .*must include at least one of v1, v1beta1' "$OUT"

{
  echo "apiVersion: admissionregistration.k8s.io/v1"
  echo "kind: MutatingWebhookConfiguration"
  echo "metadata: {name: label-adder}"
  echo "webhooks:"
  hook mutate.test.example.com /mutate configmaps CREATE \
    "objectSelector: {matchExpressions: [{key: skip-webhooks, operator: DoesNotExist}]}" \
    "namespaceSelector: {matchExpressions: [{key: webhooks, operator: NotIn, values: ['off']}]}"
} >"$WORK/mutating.yaml"
{
  echo "apiVersion: admissionregistration.k8s.io/v1"
  echo "kind: ValidatingWebhookConfiguration"
  echo "metadata: {name: checks}"
  echo "webhooks:"
  hook deny.test.example.com /deny secrets CREATE
  hook warn.test.example.com /warn serviceaccounts CREATE
  hook record-delete.test.example.com /deny configmaps DELETE "objectSelector: {matchLabels: {protected: 'yes'}}"
  hook dead-ignore.test.example.com dead:validate configmaps CREATE "failurePolicy: Ignore" \
    "namespaceSelector: {matchLabels: {case: ignore}}"
  hook dead-fail.test.example.com dead:validate configmaps CREATE "failurePolicy: Fail" \
    "namespaceSelector: {matchLabels: {case: fail}}"
  hook slow.test.example.com /slow configmaps CREATE "timeoutSeconds: 2" "namespaceSelector: {matchLabels: {case: slow}}"
  hook garbage.test.example.com /garbage configmaps CREATE "namespaceSelector: {matchLabels: {case: garbage}}"
  hook wronguid.test.example.com /wronguid configmaps CREATE "namespaceSelector: {matchLabels: {case: wronguid}}"
  hook dry.test.example.com /allow configmaps CREATE "namespaceSelector: {matchLabels: {case: dry}}"
  hook frozen.test.example.com /deny configmaps UPDATE "objectSelector: {matchLabels: {frozen: 'yes'}}"
} >"$WORK/validating.yaml"
{
  # sorted before label-adder: called first, and again after label-adder changed the object
  echo "apiVersion: admissionregistration.k8s.io/v1"
  echo "kind: MutatingWebhookConfiguration"
  echo "metadata: {name: a-reinvoked}"
  echo "webhooks:"
  hook reinvoke.test.example.com /allow configmaps CREATE "reinvocationPolicy: IfNeeded" \
    "namespaceSelector: {matchLabels: {case: reinvoke}}"
} >"$WORK/reinvoke.yaml"
ok "webhook configurations created" kube apply -f "$WORK/mutating.yaml" -f "$WORK/validating.yaml" -f "$WORK/reinvoke.yaml"
ok "listed" kube get validatingwebhookconfigurations
expect_match "kubectl get prints the webhook count" '^checks +10 ' "$OUT"
ok "defaults applied" kube get mutatingwebhookconfiguration label-adder -o jsonpath='{.webhooks[0].failurePolicy} {.webhooks[0].matchPolicy} {.webhooks[0].timeoutSeconds} {.webhooks[0].reinvocationPolicy} {.webhooks[0].rules[0].scope}'
expect_eq "upstream's defaults" "Fail Equivalent 10 Never *" "$OUT"

# ---- mutating ----
ok "configmap created through the mutating webhook" kube create configmap cm1 --from-literal=a=b
ok "get" kube get configmap cm1 --show-labels
expect_match "the webhook's label is on the stored object" 'webhook-mutated=true' "$OUT"
ok "review seen" tail -1 "$WH_LOG"
expect_match "AdmissionReview v1 with user, operation, namespace, options" \
  '"apiVersion": "admission.k8s.io/v1", "operation": "CREATE", "name": "cm1", "namespace": "default", .*"user": "system:admin", "dryRun": false, "hasObject": true, .*"optionsKind": "CreateOptions"' "$OUT"
ok "objectSelector excludes" kube create configmap cm2 --from-literal=a=b
kube label configmap cm2 skip-webhooks=1 >/dev/null
n=$(calls_to /mutate)
cat <<EOF | kube create -f - >/dev/null
apiVersion: v1
kind: ConfigMap
metadata: {name: cm3, labels: {skip-webhooks: "1"}}
EOF
expect_eq "no call for an object the objectSelector excludes" "$n" "$(calls_to /mutate)"
ok "no label" kube get configmap cm3 --show-labels
expect_no_match "object not mutated" 'webhook-mutated' "$OUT"
kube create namespace quiet >/dev/null
kube label namespace quiet webhooks=off >/dev/null
ok "create in an excluded namespace" kube create configmap cm4 -n quiet --from-literal=a=b
expect_eq "no call for a namespace the namespaceSelector excludes" "$n" "$(calls_to /mutate)"

# ---- validating: deny, warnings ----
ko "validating webhook denies" kube create secret generic s1 --from-literal=a=b
expect_match "upstream's denial message" 'secrets "s1" is forbidden: admission webhook "deny.test.example.com" denied the request: denied by the test policy' "$OUT"
ko "nothing stored" kube get secret s1
ok "serviceaccount created" kube create serviceaccount sa1
expect_match "kubectl shows the webhook's warning" 'Warning: test warning from webhook' "$OUT"

# ---- failures ----
for c in ignore fail slow garbage wronguid dry reinvoke; do
  kube create namespace "ns-$c" >/dev/null
  kube label namespace "ns-$c" "case=$c" >/dev/null
done
ok "failurePolicy Ignore: an unreachable webhook lets the write through" kube create configmap c1 -n ns-ignore --from-literal=a=b
ko "failurePolicy Fail: an unreachable webhook refuses the write" kube create configmap c1 -n ns-fail --from-literal=a=b
expect_match "upstream's call-failure message" \
  "Internal error occurred: failed calling webhook \"dead-fail.test.example.com\": failed to call webhook: Post \"https://127.0.0.1:$DEAD_PORT/validate\?timeout=10s\": " "$OUT"
ko "nothing stored" kube get configmap c1 -n ns-fail

# a slow webhook (4 s) past timeoutSeconds (2 s), with a GET timed meanwhile
rm -f "$WH_LOG.slow"
(
  rc=0
  kube create configmap c1 -n ns-slow --from-literal=a=b >"$WORK/slow.out" 2>&1 || rc=$?
  echo "$rc" >"$WORK/slow.rc"
) &
SLOW=$!
wait_until "the slow webhook is called" 50 test -e "$WH_LOG.slow"
t=$(curl -s -o /dev/null -w '%{time_total}' "$API_URL/api/v1/namespaces/default")
# answered while the create still waits for its webhook (2 s timeout)
[[ ! -e "$WORK/slow.rc" ]] || fail "the GET (${t}s) was answered only after the pending webhook call ended"
python3 -c "import sys; sys.exit(0 if float('$t') < 1.5 else 1)" || fail "a GET during a pending webhook call took ${t}s"
pass "the server answers a GET in ${t}s while a webhook call is pending"
wait "$SLOW" || true
expect_eq "the write past the timeout fails" 1 "$(cat "$WORK/slow.rc")"
expect_match "upstream's timeout message" \
  "failed calling webhook \"slow.test.example.com\": failed to call webhook: Post \"https://127.0.0.1:$WH_PORT/slow\?timeout=2s\": context deadline exceeded" \
  "$(cat "$WORK/slow.out")"
ko "a garbage answer refuses the write" kube create configmap c1 -n ns-garbage --from-literal=a=b
expect_match "as a call failure" 'Internal error occurred: failed calling webhook "garbage.test.example.com": failed to call webhook' "$OUT"
ko "a wrong uid refuses the write" kube create configmap c1 -n ns-wronguid --from-literal=a=b
expect_match "upstream's uid message" 'failed calling webhook "wronguid.test.example.com": received invalid webhook response: expected response.uid="[-0-9a-f]+", got "not-' "$OUT"
ok "the server still answers" kube get namespaces

# ---- dry run: sideEffects None is called with dryRun true ----
ok "dry-run create" kube create configmap d1 -n ns-dry --from-literal=a=b --dry-run=server
ok "review seen" grep '"path": "/allow"' "$WH_LOG"
expect_match "dryRun true reaches a sideEffects None webhook" '"dryRun": true' "$OUT"
ko "not stored" kube get configmap d1 -n ns-dry
kube patch validatingwebhookconfiguration checks --type=json \
  -p='[{"op":"replace","path":"/webhooks/8/sideEffects","value":"Some"}]' >"$WORK/patch.out" 2>&1 && fail "sideEffects Some accepted"
expect_match "sideEffects Some refused on update" 'Unsupported value: "Some"' "$(cat "$WORK/patch.out")"

# ---- reinvocationPolicy IfNeeded: called again after a later webhook changed the object ----
ok "create with reinvocation" kube create configmap r1 -n ns-reinvoke --from-literal=a=b
expect_eq "the IfNeeded webhook is called twice" 2 "$(grep -c '"path": "/allow", .*"namespace": "ns-reinvoke"' "$WH_LOG")"
ok "get" kube get configmap r1 -n ns-reinvoke --show-labels
expect_match "and the later webhook's label kept" 'webhook-mutated=true' "$OUT"

# ---- updates (patch) reach validating webhooks ----
cat <<EOF | kube create -f - >/dev/null
apiVersion: v1
kind: ConfigMap
metadata: {name: frozen, labels: {frozen: "yes"}}
EOF
ko "a patch is denied by a validating webhook on UPDATE" kube label configmap frozen other=1
expect_match "denial of the update" 'configmaps "frozen" is forbidden: admission webhook "frozen.test.example.com" denied the request' "$OUT"
ok "review of the update" grep '"operation": "UPDATE"' "$WH_LOG"
expect_match "UPDATE with object, oldObject and PatchOptions" '"name": "frozen", .*"hasObject": true, "oldName": "frozen", "optionsKind": "PatchOptions"' "$OUT"
ok "unchanged" kube get configmap frozen --show-labels
expect_no_match "label not added" 'other=1' "$OUT"

# ---- delete reaches the validating webhook ----
cat <<EOF | kube create -f - >/dev/null
apiVersion: v1
kind: ConfigMap
metadata: {name: keep, labels: {protected: "yes"}}
EOF
ko "a delete is denied by a validating webhook" kube delete configmap keep
expect_match "denial names the delete" 'configmaps "keep" is forbidden: admission webhook "record-delete.test.example.com" denied the request' "$OUT"
ok "review of the delete" grep '"operation": "DELETE"' "$WH_LOG"
expect_match "DELETE with oldObject and no object" '"name": "keep", .*"hasObject": false, "oldName": "keep", "optionsKind": "DeleteOptions"' "$OUT"
ok "still there" kube get configmap keep
ok "an unprotected configmap deletes" kube delete configmap cm2
# a collection delete asks the webhooks item by item
kube create namespace ns-coll >/dev/null
cat <<EOF | kube create -f - >/dev/null
apiVersion: v1
kind: ConfigMap
metadata: {name: guarded, namespace: ns-coll, labels: {protected: "yes"}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: loose, namespace: ns-coll}
EOF
OUT=$(curl -s -X DELETE "$API_URL/api/v1/namespaces/ns-coll/configmaps")
expect_match "deletecollection: the protected item is refused" 'configmaps \\"guarded\\" is forbidden: admission webhook \\"record-delete.test.example.com\\" denied the request' "$OUT"
ok "the protected one stays" kube get configmap guarded -n ns-coll
ko "the other one is gone" kube get configmap loose -n ns-coll

# ---- custom resources go through the webhooks too ----
cat <<EOF | kube apply -f - >/dev/null
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.hooks.example.com}
spec:
  group: hooks.example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
  - name: v2
    served: true
    storage: false
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: widgets}
webhooks:
- name: widgets.test.example.com
  clientConfig: {url: "https://127.0.0.1:$WH_PORT/mutate", caBundle: "$CA"}
  rules: [{operations: [CREATE], apiGroups: [hooks.example.com], apiVersions: [v1], resources: [widgets]}]
  sideEffects: None
  admissionReviewVersions: [v1beta1]
EOF
wait_until "CRD established" 50 kube wait --for condition=established --timeout=5s crd/widgets.hooks.example.com
widget() {
  cat <<EOF | kube create -f -
apiVersion: hooks.example.com/v1
kind: Widget
metadata: {name: w1}
spec: {size: 3}
EOF
}
wait_until "a custom resource is created" 50 widget
ok "get" kube get widgets.hooks.example.com w1 --show-labels
expect_match "mutated by its webhook" 'webhook-mutated=true' "$OUT"
ok "review seen" grep '"name": "w1"' "$WH_LOG"
expect_match "as AdmissionReview v1beta1 when that is the only version the webhook takes" '"apiVersion": "admission.k8s.io/v1beta1"' "$OUT"
# matchPolicy Equivalent (default): a write through v2 reaches the webhook whose rule names v1, in v1
cat <<EOF | kube create -f - >/dev/null
apiVersion: hooks.example.com/v2
kind: Widget
metadata: {name: w2}
spec: {size: 4}
EOF
ok "get" kube get widgets.v2.hooks.example.com w2 -o jsonpath='{.apiVersion} {.metadata.labels.webhook-mutated}'
expect_eq "written through v2, mutated by the v1 webhook, read back in v2" "hooks.example.com/v2 true" "$OUT"
ok "review seen" grep '"name": "w2"' "$WH_LOG"
expect_match "the webhook saw v1 and the request's v2" '"objectApiVersion": "hooks.example.com/v1", "version": "v1", "requestVersion": "v2"' "$OUT"
# matchPolicy Exact: only writes through the version named
cat <<EOF | kube apply -f - >/dev/null
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: widgets-exact}
webhooks:
- name: widgets-exact.test.example.com
  clientConfig: {url: "https://127.0.0.1:$WH_PORT/deny", caBundle: "$CA"}
  rules: [{operations: [CREATE], apiGroups: [hooks.example.com], apiVersions: [v1], resources: [widgets]}]
  matchPolicy: Exact
  sideEffects: None
  admissionReviewVersions: [v1]
EOF
widget_in() { # VERSION NAME
  printf 'apiVersion: hooks.example.com/%s\nkind: Widget\nmetadata: {name: %s}\n' "$1" "$2" | kube create -f -
}
ko "Exact: a write through v1 is denied" widget_in v1 w3
expect_match "by the Exact webhook" 'admission webhook "widgets-exact.test.example.com" denied the request' "$OUT"
ok "Exact: a write through v2 does not reach it" widget_in v2 w4

# ---- writes to the configurations themselves are never sent to webhooks ----
n=$(wc -l <"$WH_LOG")
ok "webhook configuration updated" kube label validatingwebhookconfiguration checks touched=yes
expect_eq "no webhook called for it" "$n" "$(wc -l <"$WH_LOG")"

# ---- the plugins can be turned off; metrics ----
ok "metrics" curl -sf "$API_URL/metrics"
expect_match "duration histogram" 'apiserver_admission_webhook_admission_duration_seconds_count\{name="mutate.test.example.com",operation="CREATE",rejected="false",type="admit"\} [1-9]' "$OUT"
expect_match "rejection count" 'apiserver_admission_webhook_rejection_count\{error_type="no_error",name="deny.test.example.com",operation="CREATE",rejection_code="403",type="validating"\} 1' "$OUT"

kill "$API_PID"; wait "$API_PID" 2>/dev/null || true
printf 'admintoken,it-admin,100,"system:masters"\n' >"$WORK/tokens.csv"
SPORT=$(free_port)
API_PORT='' start_apiserver --disable-admission-plugins=ValidatingAdmissionWebhook --enable-aggregator-routing=true \
  --secure-port="$SPORT" --bind-address=127.0.0.1 --cert-dir="$WORK/certs" --token-auth-file="$WORK/tokens.csv"
ok "with ValidatingAdmissionWebhook disabled the secret is created" kube create secret generic s2 --from-literal=a=b
ok "mutating still on" kube create configmap cm9 --from-literal=a=b
ok "get" kube get configmap cm9 --show-labels
expect_match "label added after a restart (index loaded from storage)" 'webhook-mutated=true' "$OUT"
ok "a create on the secure port" kubectl --cache-dir "$WORK/kcache-s" -s "https://127.0.0.1:$SPORT" \
  --certificate-authority="$WORK/certs/apiserver.crt" --token=admintoken create configmap cm-secure --from-literal=a=b
ok "review seen" grep '"name": "cm-secure"' "$WH_LOG"
expect_match "userInfo is the authenticated user" '"user": "it-admin"' "$OUT"

# clientConfig.service with --enable-aggregator-routing: dialed at the
# Service's endpoint (here the loopback test server), TLS name wh.default.svc
cat <<EOF | kube apply -f - >/dev/null
apiVersion: v1
kind: Service
metadata: {name: wh}
spec: {ports: [{name: https, port: 443}]}
---
apiVersion: v1
kind: Endpoints
metadata: {name: wh}
subsets: [{addresses: [{ip: 127.0.0.1}], ports: [{name: https, port: $WH_PORT}]}]
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: by-service}
webhooks:
- name: svc.test.example.com
  clientConfig: {service: {namespace: default, name: wh, path: /mutate}, caBundle: "$CA"}
  rules: [{operations: [CREATE], apiGroups: [""], apiVersions: [v1], resources: [serviceaccounts]}]
  sideEffects: None
  admissionReviewVersions: [v1]
EOF
ok "serviceaccount created through a webhook given as a Service" kube create serviceaccount sa-svc
ok "get" kube get serviceaccount sa-svc --show-labels
expect_match "mutated by the webhook reached through the Service's endpoints" 'webhook-mutated=true' "$OUT"
done_testing
