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
PKI=$WORK/pki
mkdir -p "$PKI"
ossl() { openssl "$@" >/dev/null 2>&1 || fail "openssl $*"; }

# A CA and client certificates: admin in system:masters, jane in devs,
# and one from a CA the server does not trust.
ossl req -x509 -newkey rsa:2048 -nodes -keyout "$PKI/ca.key" -out "$PKI/ca.crt" -days 2 -subj "/CN=test-ca"
ossl req -x509 -newkey rsa:2048 -nodes -keyout "$PKI/other-ca.key" -out "$PKI/other-ca.crt" -days 2 -subj "/CN=other"
client_cert() { # NAME SUBJECT CA
  ossl req -newkey rsa:2048 -nodes -keyout "$PKI/$1.key" -out "$PKI/$1.csr" -subj "$2"
  ossl x509 -req -in "$PKI/$1.csr" -CA "$PKI/$3.crt" -CAkey "$PKI/$3.key" -CAcreateserial -out "$PKI/$1.crt" -days 1
}
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
