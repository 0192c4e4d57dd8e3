#!/usr/bin/env bash
# The API server's secure port (security issue): HTTPS with a self-signed
# or given serving certificate, TLS 1.2 at least, ALPN http/1.1, and the
# authentication chain - client certificates from --client-ca-file,
# --token-auth-file, bootstrap tokens, service account tokens (bound ones
# die with their pod), anonymous requests - then impersonation, each seen
# through the real kubectl and curl.  Who the server took the caller for
# shows in its Forbidden message (upstream's text), since these users are
# bound to nothing.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cluster.sh"
source "$(dirname "$0")/pki_lib.sh"

# A CA and client certificates: admin in system:masters, jane in devs,
# and one from a CA the server does not trust.
pki_ca
pki_ca other-ca other
client_cert admin "/O=system:masters/CN=kubernetes-admin" ca
client_cert jane "/O=devs/O=qa/CN=jane" ca
client_cert mallory "/O=system:masters/CN=mallory" other-ca
cat >"$PKI/tokens.csv" <<'EOF'
# token,user,uid,"groups"
admintoken,tok-admin,100,"system:masters"
bobtoken,bob,101,"devs,ops"
EOF

SPORT=$(free_port)
start_apiserver --secure-port="$SPORT" --bind-address=127.0.0.1 --cert-dir="$WORK/certs" \
  --client-ca-file="$PKI/ca.crt" --token-auth-file="$PKI/tokens.csv" --enable-bootstrap-token-auth \
  --authorization-mode=RBAC
S=https://127.0.0.1:$SPORT
SERVING=$WORK/certs/apiserver.crt
[[ -s "$SERVING" && -s "$WORK/certs/apiserver.key" ]] || fail "no self-signed pair in --cert-dir"
pass "a self-signed serving certificate kept in --cert-dir"
SANS=$(openssl x509 -in "$SERVING" -noout -ext subjectAltName)
expect_match "its SANs name localhost, the service names and 127.0.0.1" \
  "DNS:kubernetes.default.svc.cluster.local.*IP Address:127.0.0.1" "$SANS"

# TLS: 1.1 and plain HTTP refused, 1.2 with ALPN http/1.1 served
if openssl s_client -connect "127.0.0.1:$SPORT" -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' </dev/null >"$WORK/s11" 2>&1 &&
  grep -q "Cipher is [A-Z]" "$WORK/s11"; then fail "TLS 1.1 accepted"; fi
pass "TLS 1.1 refused"
OUT=$(openssl s_client -connect "127.0.0.1:$SPORT" -tls1_2 -alpn h2,http/1.1 </dev/null 2>&1)
expect_match "TLS 1.2 served" "Protocol *: TLSv1.2" "$OUT"
expect_match "ALPN picks http/1.1" "ALPN protocol: http/1.1" "$OUT"
rc=0
curl -sS --max-time 5 -o /dev/null "http://127.0.0.1:$SPORT/healthz" 2>/dev/null || rc=$?
[[ $rc -ne 0 ]] || fail "plain HTTP answered on the secure port"
pass "plain HTTP on the secure port gets no answer"

# kubeconfigs over TLS: certificate-authority pins the serving certificate
kcfg() { # NAME USER-YAML
  cat >"$WORK/$1.kubeconfig" <<KCFG
apiVersion: v1
kind: Config
clusters:
- name: s
  cluster: {server: "$S", certificate-authority: "$SERVING"}
users:
- name: u
  user: $2
contexts:
- name: c
  context: {cluster: s, user: u, namespace: default}
current-context: c
KCFG
}
kcfg admin "{client-certificate: \"$PKI/admin.crt\", client-key: \"$PKI/admin.key\"}"
kcfg jane "{client-certificate: \"$PKI/jane.crt\", client-key: \"$PKI/jane.key\"}"
kcfg mallory "{client-certificate: \"$PKI/mallory.crt\", client-key: \"$PKI/mallory.key\"}"
kcfg tokadmin "{token: admintoken}"
kcfg bob "{token: bobtoken}"
kcfg badtoken "{token: nosuchtoken}"
kcfg anon "{}"
# one discovery cache for all: the admin's first call fills it
ks() { local k=$1; shift; kubectl --cache-dir "$WORK/kcache-s" --kubeconfig "$WORK/$k.kubeconfig" "$@"; }

OUT=$(ks admin get namespaces -o name 2>&1) || fail "admin certificate: $OUT"
expect_match "a client certificate in system:masters lists namespaces" "namespace/default" "$OUT"
OUT=$(ks tokadmin create configmap from-token --from-literal=a=b 2>&1) || fail "admin token: $OUT"
pass "a token-file user in system:masters creates a configmap"
OUT=$(ks jane get pods 2>&1) && fail "jane listed pods unbound: $OUT"
expect_match "jane's certificate: CN is the user, Forbidden with upstream's text" \
  'pods is forbidden: User "jane" cannot list resource "pods" in API group "" in the namespace "default"' "$OUT"
OUT=$(ks bob get configmaps from-token 2>&1) && fail "bob read a configmap unbound"
expect_match "bob's token: named get" \
  'configmaps "from-token" is forbidden: User "bob" cannot get resource "configmaps" in API group "" in the namespace "default"' "$OUT"
OUT=$(ks mallory get pods 2>&1) && fail "a certificate of an untrusted CA was accepted"
expect_match "a certificate from another CA is 401" "Unauthorized|provide credentials" "$OUT"
OUT=$(ks badtoken get pods 2>&1) && fail "an unknown token was accepted"
expect_match "an unknown token is 401" "Unauthorized|provide credentials" "$OUT"
CODE=$(curl -s --cacert "$SERVING" -o "$WORK/body" -w '%{http_code}' -H "Authorization: Bearer nosuchtoken" "$S/api")
expect_eq "401 over curl" 401 "$CODE"
expect_match "the 401 is upstream's Status" '"reason":"Unauthorized".*"code":401' "$(cat "$WORK/body")"
CODE=$(curl -s --cacert "$SERVING" -o "$WORK/body" -w '%{http_code}' "$S/api/v1/namespaces/default/pods")
expect_eq "no credential: anonymous, 403" 403 "$CODE"
expect_match "anonymous is system:anonymous" 'User \\"system:anonymous\\" cannot list resource' "$(cat "$WORK/body")"

# impersonation: checked with the impersonate verb
OUT=$(ks admin get pods --as=jane --as-group=devs 2>&1) && fail "impersonated jane listed pods"
expect_match "admin --as jane runs as jane" 'User "jane" cannot list resource "pods"' "$OUT"
OUT=$(ks bob get pods --as=jane 2>&1) && fail "bob impersonated without the verb"
expect_match "--as needs impersonate" 'users "jane" is forbidden: User "bob" cannot impersonate resource "users" in API group "" at the cluster scope' "$OUT"
CODE=$(curl -s --cacert "$SERVING" -o "$WORK/body" -w '%{http_code}' -H "Authorization: Bearer admintoken" \
  -H "Impersonate-Group: devs" "$S/api")
expect_eq "a group without a user is 400" 400 "$CODE"

# service account tokens: valid while the account (and a bound pod) exist
kube create serviceaccount robot >/dev/null
TOKEN=$(kube create token robot)
CODE=$(curl -s --cacert "$SERVING" -o "$WORK/body" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
  "$S/api/v1/namespaces/default/secrets")
expect_eq "a service account token authenticates (then 403)" 403 "$CODE"
expect_match "as system:serviceaccount:default:robot" 'User \\"system:serviceaccount:default:robot\\"' "$(cat "$WORK/body")"
kube run holder --image=busybox --restart=Never --overrides='{"spec":{"serviceAccountName":"robot"}}' >/dev/null
UID_=$(kube get pod holder -o jsonpath='{.metadata.uid}')
PTOKEN=$(kube create token robot --bound-object-kind=Pod --bound-object-name=holder --bound-object-uid="$UID_")
CODE=$(curl -s --cacert "$SERVING" -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $PTOKEN" "$S/api/v1/secrets")
expect_eq "a pod-bound token works while its pod exists" 403 "$CODE"
kube delete pod holder --grace-period=0 --force >/dev/null 2>&1
for _ in $(seq 1 50); do kube get pod holder >/dev/null 2>&1 || break; sleep 0.1; done
CODE=$(curl -s --cacert "$SERVING" -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $PTOKEN" "$S/api")
expect_eq "and is 401 once the pod is gone" 401 "$CODE"
kube delete serviceaccount robot >/dev/null
CODE=$(curl -s --cacert "$SERVING" -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$S/api")
expect_eq "a token of a deleted service account is 401" 401 "$CODE"

# who am I: SelfSubjectReview (bootstrap policy: system:basic-user), TokenReview
OUT=$(ks jane auth whoami -o jsonpath='{.status.userInfo.username} {.status.userInfo.groups}' 2>&1)
expect_eq "kubectl auth whoami over a client certificate" 'jane ["devs","qa","system:authenticated"]' "$OUT"
OUT=$(ks admin auth whoami --as=bob --as-group=ops -o jsonpath='{.status.userInfo.username} {.status.userInfo.groups}' 2>&1)
expect_eq "whoami --as shows the impersonated user" 'bob ["ops","system:authenticated"]' "$OUT"
kube create serviceaccount reviewer >/dev/null
RTOKEN=$(kube create token reviewer --audience=https://kubernetes.default.svc.cluster.local)
OUT=$(kube create -o jsonpath='{.status.authenticated} {.status.user.username} {.status.user.groups}' -f - <<EOF
apiVersion: authentication.k8s.io/v1
kind: TokenReview
spec: {token: "$RTOKEN"}
EOF
)
expect_eq "a TokenReview authenticates a service account token" \
  'true system:serviceaccount:default:reviewer ["system:serviceaccounts","system:serviceaccounts:default","system:authenticated"]' "$OUT"
OUT=$(kube create -o jsonpath='{.status.authenticated} {.status.error}' -f - <<EOF
apiVersion: authentication.k8s.io/v1
kind: TokenReview
spec: {token: "$RTOKEN", audiences: [somebody-else]}
EOF
)
expect_match "for another audience it does not" '^false .*audiences' "$OUT"

# bootstrap tokens: Secret bootstrap-token-ID in kube-system
b64() { printf '%s' "$1" | base64 -w0; }
bt_secret() { # ID SECRET EXPIRATION
  kube apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Secret
metadata: {name: bootstrap-token-$1, namespace: kube-system}
type: bootstrap.kubernetes.io/token
data:
  token-id: $(b64 "$1")
  token-secret: $(b64 "$2")
  expiration: $(b64 "$3")
  usage-bootstrap-authentication: $(b64 true)
  auth-extra-groups: $(b64 system:bootstrappers:kubeadm:default-node-token)
EOF
}
bt_secret abcdef 0123456789abcdef "$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)"
bt_secret expire 0123456789abcdef "$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)"
CODE=$(curl -s --cacert "$SERVING" -o "$WORK/body" -w '%{http_code}' -H "Authorization: Bearer abcdef.0123456789abcdef" \
  "$S/api/v1/nodes")
expect_eq "a bootstrap token authenticates" 403 "$CODE"
expect_match "as system:bootstrap:abcdef" 'User \\"system:bootstrap:abcdef\\" cannot list resource \\"nodes\\"' "$(cat "$WORK/body")"
CODE=$(curl -s --cacert "$SERVING" -o /dev/null -w '%{http_code}' -H "Authorization: Bearer abcdef.0123456789abcdee" "$S/api")
expect_eq "a wrong bootstrap secret is 401" 401 "$CODE"
CODE=$(curl -s --cacert "$SERVING" -o /dev/null -w '%{http_code}' -H "Authorization: Bearer expire.0123456789abcdef" "$S/api")
expect_eq "an expired bootstrap token is 401" 401 "$CODE"

# helm and the Python client over TLS: a client certificate, and a service
# account token bound to `view` (reads allowed, writes Forbidden)
OUT=$(helm --kubeconfig "$WORK/admin.kubeconfig" install tlsdemo "$ROOT/tests/fixtures/chart" 2>&1) || fail "helm: $OUT"
OUT=$(helm --kubeconfig "$WORK/admin.kubeconfig" list -o json 2>&1)
expect_match "helm installs and lists over TLS with a client certificate" '"name":"tlsdemo"' "$OUT"
# view is aggregated: the clusterrole-aggregation controller fills it
start_controller_manager controller-manager --leader-elect=false --controllers=clusterrole-aggregation
for _ in $(seq 1 100); do
  [[ -n "$(kube get clusterrole view -o jsonpath='{.rules}' 2>/dev/null)" ]] && break
  sleep 0.2
done
kube create serviceaccount viewer >/dev/null
kube create rolebinding viewer-view --clusterrole=view --serviceaccount=default:viewer >/dev/null
VTOKEN=$(kube create token viewer)
kcfg viewer "{token: \"$VTOKEN\"}"
PY=$(command -v /usr/bin/python3 || command -v python3)
OUT=$("$PY" - "$WORK/viewer.kubeconfig" <<'EOF'
import sys
from kubernetes import client, config
from kubernetes.client.rest import ApiException
config.load_kube_config(sys.argv[1])
v1 = client.CoreV1Api()
print("list", len(v1.list_namespaced_config_map("default").items) > 0)
try:
    v1.create_namespaced_config_map("default", {"metadata": {"name": "nope"}})
    print("create allowed")
except ApiException as e:
    print("create", e.status, e.reason)
EOF
)
expect_eq "the Python client: view reads, is Forbidden to write" "list True
create 403 Forbidden" "$OUT"
OUT=$(ks viewer create configmap nope 2>&1) && fail "view created a configmap"
expect_match "kubectl prints upstream's Forbidden for the view user" \
  'configmaps is forbidden: User "system:serviceaccount:default:viewer" cannot create resource "configmaps" in API group "" in the namespace "default"' "$OUT"
OUT=$(ks viewer auth can-i list pods; ks viewer auth can-i delete pods || true)
expect_eq "kubectl auth can-i for the view user" "yes
no" "$OUT"

# the insecure port stays open to loopback as before (tests, local tools)
OUT=$(kube get configmap from-token -o name)
expect_eq "the insecure port still serves" "configmap/from-token" "$OUT"

# --anonymous-auth=false; bad flags named
kill "$API_PID"; wait "$API_PID" 2>/dev/null || true
API_PORT='' start_apiserver --secure-port="$SPORT" --bind-address=127.0.0.1 --cert-dir="$WORK/certs" --anonymous-auth=false
CODE=$(curl -s --cacert "$SERVING" -o /dev/null -w '%{http_code}' "$S/api")
expect_eq "--anonymous-auth=false: no credential is 401" 401 "$CODE"
for bad in --tls-min-version=VersionTLS9 --tls-cipher-suites=TLS_NOPE --authorization-mode=RBAC,Magic \
  --bind-address=nowhere --secure-port=70000; do
  rc=0
  OUT=$(timeout 10 "$KUBE_BIN/apiserver/kube-apiserver" --data-dir="$WORK/bad" "$bad" 2>&1) || rc=$?
  expect_eq "$bad refused" 1 "$rc"
  expect_match "$bad named in the error" "${bad%%=*}" "$OUT"
done
echo "# $CHECKS checks passed"
