#!/usr/bin/env bash
# CertificateSigningRequests end to end on the secure port with the real
# kubectl and openssl: a user's CSR (CN=alice, O=devs) created with
# kubectl, approved with `kubectl certificate approve`, signed by the
# controller-manager's csrsigning controller with the CA the API server
# trusts as --client-ca-file, and the issued certificate then
# authenticates as alice in devs (`kubectl auth whoami`).  Deny works and
# is final; approving needs the approve verb on the signer; O=system:masters
# cannot be requested; a request that breaks its signer's rules is Failed.
# A bootstrap-token user's kubelet client CSR for system:node:n1 is
# auto-approved (csrapproving, SubjectAccessReview nodeclient) and signed,
# and the node renews its own certificate (selfnodeclient).  The
# controller-manager runs as system:kube-controller-manager with a client
# certificate, holding exactly the certificate-controller role.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cluster.sh"
source "$(dirname "$0")/pki_lib.sh"

pki_ca ca csr-test-ca
client_cert admin "/O=system:masters/CN=kubernetes-admin"
client_cert kcm "/CN=system:kube-controller-manager"
client_cert jane "/O=devs/CN=jane"
cat >"$PKI/tokens.csv" <<'EOF'
bobtoken,bob,101,"devs"
EOF

SPORT=$(free_port)
start_apiserver --secure-port="$SPORT" --bind-address=127.0.0.1 --cert-dir="$WORK/certs" \
  --client-ca-file="$PKI/ca.crt" --token-auth-file="$PKI/tokens.csv" --enable-bootstrap-token-auth \
  --authorization-mode=Node,RBAC
S=https://127.0.0.1:$SPORT
kcfg() { # NAME USER-YAML
  cat >"$WORK/$1.kubeconfig" <<KCFG
apiVersion: v1
kind: Config
clusters:
- name: s
  cluster: {server: "$S", certificate-authority: "$WORK/certs/apiserver.crt"}
users:
- name: u
  user: $2
contexts:
- name: c
  context: {cluster: s, user: u}
current-context: c
KCFG
}
certuser() { echo "{client-certificate: \"$PKI/$1.crt\", client-key: \"$PKI/$1.key\"}"; }
kcfg admin "$(certuser admin)"
kcfg kcm "$(certuser kcm)"
kcfg jane "$(certuser jane)"
kcfg bob "{token: bobtoken}"
ks() { local k=$1; shift; kubectl --cache-dir "$WORK/kcache-$k" --kubeconfig "$WORK/$k.kubeconfig" "$@"; }

# the controller-manager's identity gets the certificate controller's role
ok "the certificate-controller role exists" ks admin get clusterrole system:controller:certificate-controller
ok "bound to system:kube-controller-manager" ks admin create clusterrolebinding kcm-certs \
  --clusterrole=system:controller:certificate-controller --user=system:kube-controller-manager
"$KUBE_BIN/controller-manager/kube-controller-manager" --kubeconfig="$WORK/kcm.kubeconfig" --secure-port=0 \
  --leader-elect=false --controllers=csrsigning,csrapproving,csrcleaner \
  --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
  >>"$WORK/controller-manager.log" 2>&1 &
PIDS+=("$!")

# csr_yaml NAME KEYNAME SUBJECT SIGNER USAGES [EXPIRATION]: a key and a CSR manifest
csr_yaml() {
  ossl req -new -newkey rsa:2048 -nodes -keyout "$PKI/$2.key" -out "$PKI/$2.req" -subj "$3"
  cat >"$WORK/$1.yaml" <<EOF
apiVersion: certificates.k8s.io/v1
kind: CertificateSigningRequest
metadata: {name: $1}
spec:
  request: $(base64 -w0 "$PKI/$2.req")
  signerName: $4
  usages: $5
  username: someone-else
  groups: [system:masters]
${6:+  expirationSeconds: $6}
EOF
}
csr_field() { ks admin get csr "$1" -o jsonpath="$2"; }
issued() { [[ -n "$(csr_field "$1" '{.status.certificate}')" ]]; }
# save_cert CSR FILE
save_cert() { csr_field "$1" '{.status.certificate}' | base64 -d >"$2"; }

# ---- a user's client certificate ----
csr_yaml alice alice "/CN=alice/O=devs" kubernetes.io/kube-apiserver-client "[client auth]" 3600
ok "kubectl creates the CSR" ks admin create -f "$WORK/alice.yaml"
ok "kubectl get csr" ks admin get csr alice
expect_match "it is Pending, requested by the creator" \
  "alice +[0-9a-z]+ +kubernetes.io/kube-apiserver-client +kubernetes-admin +60m +Pending" "$OUT"
expect_eq "spec.username is the server's, not the client's" "kubernetes-admin" "$(csr_field alice '{.spec.username}')"
expect_match "and so are the groups" "system:masters system:authenticated" "$(csr_field alice '{.spec.groups[*]}')"
sleep 1
expect_eq "nothing is signed before approval" "" "$(csr_field alice '{.status.certificate}')"
ok "kubectl certificate approve" ks admin certificate approve alice
expect_match "kubectl says so" "certificatesigningrequest.certificates.k8s.io/alice approved" "$OUT"
wait_until "the signer issues the certificate" 150 issued alice
ok "kubectl get csr" ks admin get csr alice
expect_match "Approved,Issued" "alice .* +Approved,Issued" "$OUT"
save_cert alice "$PKI/alice.crt"
ok "the certificate verifies against the CA" openssl verify -CAfile "$PKI/ca.crt" "$PKI/alice.crt"
SUBJ=$(openssl x509 -in "$PKI/alice.crt" -noout -subject -nameopt RFC2253)
expect_match "its subject is the request's" "O=devs,CN=alice" "$SUBJ"
NB=$(date -d "$(openssl x509 -in "$PKI/alice.crt" -noout -startdate | cut -d= -f2)" +%s)
NA=$(date -d "$(openssl x509 -in "$PKI/alice.crt" -noout -enddate | cut -d= -f2)" +%s)
expect_eq "valid for expirationSeconds, backdated 5 minutes (a short certificate)" 3900 $((NA - NB))
EXT=$(openssl x509 -in "$PKI/alice.crt" -noout -ext extendedKeyUsage,basicConstraints)
expect_match "client auth only" "TLS Web Client Authentication" "$EXT"
expect_match "not a CA" "CA:FALSE" "$EXT"
kcfg alice "$(certuser alice)"
ok "kubectl auth whoami with the issued certificate" ks alice auth whoami
expect_match "authenticates as alice" "Username +alice" "$OUT"
expect_match "in devs" "Groups +\[devs system:authenticated\]" "$OUT"

# ---- deny ----
csr_yaml bob bob "/CN=bob/O=devs" kubernetes.io/kube-apiserver-client "[client auth, digital signature]"
ok "a second CSR" ks admin create -f "$WORK/bob.yaml"
ok "kubectl certificate deny" ks admin certificate deny bob
expect_match "kubectl says so" "certificatesigningrequest.certificates.k8s.io/bob denied" "$OUT"
expect_eq "a Denied condition" "Denied True" "$(csr_field bob '{.status.conditions[0].type} {.status.conditions[0].status}')"
ko "kubectl will not approve it" ks admin certificate approve bob
# the server refuses too: an Approved condition PUT next to the Denied one
ks admin get csr bob -o json | python3 -c '
import json,sys; d=json.load(sys.stdin)
d["status"]["conditions"].append({"type":"Approved","status":"True","reason":"Sneaky"})
print(json.dumps(d))' >"$WORK/bob-approve.json"
acurl() { curl -sS --cacert "$WORK/certs/apiserver.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" "$@"; }
OUT=$(acurl -X PUT -H 'Content-Type: application/json' --data-binary @"$WORK/bob-approve.json" \
  "$S/apis/certificates.k8s.io/v1/certificatesigningrequests/bob/approval")
expect_match "nor will the server (approval PUT)" '"code": ?422' "$OUT"
expect_match "upstream's message" \
  'status.conditions\[1\].type: Invalid value: \\"Approved\\": Approved and Denied conditions are mutually exclusive' "$OUT"
ks admin get csr bob -o json | python3 -c '
import json,sys; d=json.load(sys.stdin); d["status"]["conditions"]=[]; print(json.dumps(d))' >"$WORK/bob-undeny.json"
OUT=$(acurl -X PUT -H 'Content-Type: application/json' --data-binary @"$WORK/bob-undeny.json" \
  "$S/apis/certificates.k8s.io/v1/certificatesigningrequests/bob/approval")
expect_match "a Denied condition cannot be removed" \
  'status.conditions: Forbidden: updates may not remove a condition of type \\"Denied\\"' "$OUT"
sleep 1
expect_eq "a denied request is never signed" "" "$(csr_field bob '{.status.certificate}')"
ok "kubectl get csr" ks admin get csr bob
expect_match "shows Denied" "bob .* +Denied" "$OUT"

# ---- who may approve ----
ks admin create clusterrole csr-approval-only --verb=get,list --resource=certificatesigningrequests >/dev/null
ks admin patch clusterrole csr-approval-only --type=json -p '[{"op":"add","path":"/rules/-","value":
  {"apiGroups":["certificates.k8s.io"],"resources":["certificatesigningrequests/approval"],"verbs":["update"]}}]' \
  >/dev/null
ks admin create clusterrolebinding jane-approval --clusterrole=csr-approval-only --user=jane >/dev/null
csr_yaml carol carol "/CN=carol" kubernetes.io/kube-apiserver-client "[client auth]"
ok "a third CSR" ks admin create -f "$WORK/carol.yaml"
ko "jane may update approval but not approve for the signer" ks jane certificate approve carol
expect_match "upstream's Forbidden text" \
  'certificatesigningrequests.certificates.k8s.io "carol" is forbidden: user not permitted to approve requests with signerName "kubernetes.io/kube-apiserver-client"' \
  "$OUT"
ks admin apply -f - >/dev/null <<'YAML'
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: approve-client}
rules:
- {apiGroups: [certificates.k8s.io], resources: [signers], verbs: [approve],
   resourceNames: [kubernetes.io/kube-apiserver-client]}
YAML
ks admin create clusterrolebinding jane-approve-client --clusterrole=approve-client --user=jane >/dev/null
wait_until "with approve on the signer she may" 50 ks jane certificate approve carol
wait_until "and carol's certificate is issued" 150 issued carol

# setting a certificate needs the sign verb on the signer
ks admin apply -f - >/dev/null <<'YAML'
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: csr-status-only}
rules:
- {apiGroups: [certificates.k8s.io], resources: [certificatesigningrequests/status], verbs: [update]}
YAML
ks admin create clusterrolebinding jane-status --clusterrole=csr-status-only --user=jane >/dev/null
ks admin get csr alice -o json | python3 -c '
import json,sys; d=json.load(sys.stdin); d["status"]["certificate"]=""; print(json.dumps(d))' >"$WORK/alice-nocert.json"
ks admin get csr bob -o json | python3 -c '
import base64,json,sys; d=json.load(sys.stdin)
d["status"]["certificate"]=base64.b64encode(open(sys.argv[1],"rb").read()).decode(); print(json.dumps(d))' \
  "$PKI/alice.crt" >"$WORK/bob-cert.json"
jcurl() { curl -sS --cacert "$WORK/certs/apiserver.crt" --cert "$PKI/jane.crt" --key "$PKI/jane.key" "$@"; }
OUT=$(jcurl -X PUT -H 'Content-Type: application/json' --data-binary @"$WORK/bob-cert.json" \
  "$S/apis/certificates.k8s.io/v1/certificatesigningrequests/bob/status")
expect_match "jane may update status but not sign" \
  'certificatesigningrequests.certificates.k8s.io \\"bob\\" is forbidden: user not permitted to sign requests with signerName \\"kubernetes.io/kube-apiserver-client\\"' \
  "$OUT"
OUT=$(acurl -X PUT -H 'Content-Type: application/json' --data-binary @"$WORK/alice-nocert.json" \
  "$S/apis/certificates.k8s.io/v1/certificatesigningrequests/alice/status")
expect_match "an issued certificate cannot be taken back, even by an admin" \
  'status.certificate: Forbidden: updates may not modify existing certificate content' "$OUT"

# ---- what may not be asked ----
csr_yaml root root "/CN=root/O=system:masters" kubernetes.io/kube-apiserver-client "[client auth]"
ko "O=system:masters is refused for kube-apiserver-client" ks admin create -f "$WORK/root.yaml"
expect_match "upstream's message" \
  'certificatesigningrequests.certificates.k8s.io "root" is forbidden: use of kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed' \
  "$OUT"
csr_yaml short short "/CN=short" kubernetes.io/kube-apiserver-client "[client auth]" 60
ko "expirationSeconds below 600 is invalid" ks admin create -f "$WORK/short.yaml"
expect_match "upstream's message" \
  'spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 600 seconds \(10 minutes\)' "$OUT"
csr_yaml nosigner nosigner "/CN=x" "" "[client auth]"
ko "signerName is required" ks admin create -f "$WORK/nosigner.yaml"
expect_match "Required" "spec.signerName: Required value" "$OUT"
csr_yaml badnode badnode "/CN=not-a-node/O=system:nodes" kubernetes.io/kube-apiserver-client-kubelet \
  "[digital signature, key encipherment, client auth]"
ok "a kubelet client CSR with a wrong common name is accepted" ks admin create -f "$WORK/badnode.yaml"
ok "and approved by the admin" ks admin certificate approve badnode
failed() { [[ "$(csr_field badnode '{.status.conditions[?(@.type=="Failed")].reason}')" == SignerValidationFailure ]]; }
wait_until "the signer marks it Failed" 150 failed
expect_eq "with the rule it broke" "subject common name does not begin with system:node:" \
  "$(csr_field badnode '{.status.conditions[?(@.type=="Failed")].message}')"
expect_eq "and issues nothing" "" "$(csr_field badnode '{.status.certificate}')"

# ---- node client certificates: bootstrap token, then renewal ----
b64() { printf '%s' "$1" | base64 -w0; }
ks admin apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Secret
metadata: {name: bootstrap-token-abcdef, namespace: kube-system}
type: bootstrap.kubernetes.io/token
data:
  token-id: $(b64 abcdef)
  token-secret: $(b64 0123456789abcdef)
  expiration: $(b64 "$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)")
  usage-bootstrap-authentication: $(b64 true)
EOF
# kubeadm's bindings: bootstrappers create CSRs and have node client CSRs
# approved; nodes renew their own
ks admin create clusterrolebinding kubeadm:kubelet-bootstrap --clusterrole=system:node-bootstrapper \
  --group=system:bootstrappers >/dev/null
ks admin create clusterrolebinding kubeadm:node-autoapprove-bootstrap \
  --clusterrole=system:certificates.k8s.io:certificatesigningrequests:nodeclient --group=system:bootstrappers >/dev/null
ks admin create clusterrolebinding kubeadm:node-autoapprove-certificate-rotation \
  --clusterrole=system:certificates.k8s.io:certificatesigningrequests:selfnodeclient --group=system:nodes >/dev/null
kcfg boot "{token: abcdef.0123456789abcdef}"
NODE_USAGES="[digital signature, key encipherment, client auth]"
csr_yaml node-csr-n1 n1 "/O=system:nodes/CN=system:node:n1" kubernetes.io/kube-apiserver-client-kubelet "$NODE_USAGES"
wait_until "the bootstrap token user creates the node's CSR" 50 ks boot create -f "$WORK/node-csr-n1.yaml"
expect_eq "requested by the token's user" "system:bootstrap:abcdef" "$(csr_field node-csr-n1 '{.spec.username}')"
approved() { [[ "$(csr_field "$1" '{.status.conditions[?(@.type=="Approved")].reason}')" == AutoApproved ]]; }
wait_until "csrapproving approves it" 150 approved node-csr-n1
expect_eq "with upstream's message" "Auto approving kubelet client certificate after SubjectAccessReview." \
  "$(csr_field node-csr-n1 '{.status.conditions[?(@.type=="Approved")].message}')"
wait_until "and csrsigning signs it" 150 issued node-csr-n1
save_cert node-csr-n1 "$PKI/n1.crt"
kcfg n1 "$(certuser n1)"
ok "the node's certificate authenticates" ks n1 auth whoami
expect_match "as system:node:n1" "Username +system:node:n1" "$OUT"
expect_match "in system:nodes" "Groups +\[system:nodes system:authenticated\]" "$OUT"
NB=$(date -d "$(openssl x509 -in "$PKI/n1.crt" -noout -startdate | cut -d= -f2)" +%s)
NA=$(date -d "$(openssl x509 -in "$PKI/n1.crt" -noout -enddate | cut -d= -f2)" +%s)
# --cluster-signing-duration 8760h, cut at the CA's end (2 days)
CA_NA=$(date -d "$(openssl x509 -in "$PKI/ca.crt" -noout -enddate | cut -d= -f2)" +%s)
expect_eq "without expirationSeconds it lasts until the CA ends (shorter than 8760h)" "$CA_NA" "$NA"

csr_yaml node-csr-n1-renew n1b "/O=system:nodes/CN=system:node:n1" kubernetes.io/kube-apiserver-client-kubelet \
  "$NODE_USAGES"
# the Node authorizer lets the node create CSRs (its node rules, as upstream)
ok "the node asks for its own renewal" ks n1 create -f "$WORK/node-csr-n1-renew.yaml"
wait_until "auto-approved as selfnodeclient" 150 approved node-csr-n1-renew
expect_eq "with upstream's message" "Auto approving self kubelet client certificate after SubjectAccessReview." \
  "$(csr_field node-csr-n1-renew '{.status.conditions[?(@.type=="Approved")].message}')"
wait_until "and signed" 150 issued node-csr-n1-renew

# bob may create CSRs but not node client ones: his stays Pending
ks admin create clusterrolebinding bob-csr --clusterrole=system:node-bootstrapper --user=bob >/dev/null
csr_yaml node-csr-n2 n2 "/O=system:nodes/CN=system:node:n2" kubernetes.io/kube-apiserver-client-kubelet "$NODE_USAGES"
wait_until "bob creates a node client CSR" 50 ks bob create -f "$WORK/node-csr-n2.yaml"
sleep 2
expect_eq "the review says no: it stays pending" "" "$(csr_field node-csr-n2 '{.status.conditions}')"
ok "kubectl get csr" ks admin get csr node-csr-n2
expect_match "Pending" "node-csr-n2 .* +bob +<none> +Pending" "$OUT"

done_testing
