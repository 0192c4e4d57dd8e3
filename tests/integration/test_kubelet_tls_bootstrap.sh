#!/usr/bin/env bash
# test_kubelet_tls_bootstrap.sh - a kubelet that starts with only a
# bootstrap token joins a secure cluster, as kubeadm's join does:
#  - the API server serves HTTPS with --client-ca-file and
#    --enable-bootstrap-token-auth; a bootstrap-token-<id> Secret and
#    kubeadm's ClusterRoleBindings (bootstrappers -> node-bootstrapper and
#    nodeclient, nodes -> selfnodeclient) exist; the controller-manager
#    signs (csrsigning, --cluster-signing-duration=3m) and approves
#    (csrapproving);
#  - the kubelet (--bootstrap-kubeconfig, no --kubeconfig file) gets a
#    node-csr-* approved and signed, stores kubelet-client-<time>.pem with
#    the kubelet-client-current.pem link, writes its kubeconfig and
#    registers its Node as system:node:NAME;
#  - serverTLSBootstrap: port 10250 stays closed until the kubelet-serving
#    CSR is approved with `kubectl certificate approve`, then serves the
#    CA-signed certificate;
#  - the kubelet API (authentication.webhook, x509, anonymous off,
#    authorization Webhook): no credential is 401 "Unauthorized", a token
#    user without rights 403 with upstream's text, a user allowed
#    nodes/proxy reads /pods but not /stats (nodes/stats);
#  - `kubectl logs` works through an API server that presents
#    --kubelet-client-certificate and verifies the kubelet with
#    --kubelet-certificate-authority;
#  - rotateCertificates: before the 3-minute certificate ends the kubelet
#    renews it with its own credentials (selfnodeclient), the link moves to
#    the new file and the Node keeps reporting Ready;
#  - the serving certificate is verified: once it has expired kubectl logs
#    is refused; the renewal CSR, approved, is served to new connections;
#  - a restarted kubelet uses its stored certificate (no new bootstrap).
# The kubelet runs in a node container's network namespace (kubelet_lib.sh).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cluster.sh"
source "$(dirname "$0")/kubelet_lib.sh"
source "$(dirname "$0")/pki_lib.sh"

pki_ca ca kubelet-boot-ca
client_cert kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
cat >"$PKI/tokens.csv" <<'EOF'
bobtoken,bob,101,"devs"
alicetoken,alice,102,"devs"
EOF

ensure_dockerd
build_images
SPORT=$(free_port)
KL_CM_FLAGS="--cluster-signing-cert-file=$PKI/ca.crt --cluster-signing-key-file=$PKI/ca.key --cluster-signing-duration=3m"
start_control_plane --secure-port="$SPORT" --bind-address=0.0.0.0 --cert-dir="$WORK/certs" \
  --client-ca-file="$PKI/ca.crt" --token-auth-file="$PKI/tokens.csv" --enable-bootstrap-token-auth \
  --authorization-mode=Node,RBAC --kubelet-client-certificate="$PKI/kubelet-client.crt" \
  --kubelet-client-key="$PKI/kubelet-client.key" --kubelet-certificate-authority="$PKI/ca.crt"
SAPI=https://$API_IP:$SPORT

# ---- the cluster side of a join: token and kubeadm's bindings ----
b64() { printf '%s' "$1" | base64 -w0; }
kube apply -f - >/dev/null <<EOF
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
kube create clusterrolebinding kubeadm:kubelet-bootstrap --clusterrole=system:node-bootstrapper \
  --group=system:bootstrappers >/dev/null
kube create clusterrolebinding kubeadm:node-autoapprove-bootstrap \
  --clusterrole=system:certificates.k8s.io:certificatesigningrequests:nodeclient --group=system:bootstrappers >/dev/null
kube create clusterrolebinding kubeadm:node-autoapprove-certificate-rotation \
  --clusterrole=system:certificates.k8s.io:certificatesigningrequests:selfnodeclient --group=system:nodes >/dev/null
cat >"$WORK/bootstrap-kubelet.conf" <<KCFG
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "$SAPI", certificate-authority: "$WORK/certs/apiserver.crt"}
users:
- name: tls-bootstrap-token-user
  user: {token: abcdef.0123456789abcdef}
contexts:
- name: tls-bootstrap-token-user@c
  context: {cluster: c, user: tls-bootstrap-token-user}
current-context: tls-bootstrap-token-user@c
KCFG
cat >"$WORK/kubelet-config.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: "$PKI/ca.crt"}
authorization: {mode: Webhook}
rotateCertificates: true
serverTLSBootstrap: true
cgroupDriver: cgroupfs
failSwapOn: false
YAML

# ---- the kubelet bootstraps its client certificate ----
KCONF=$WORK/kubelet1.conf
start_node 1 --config="$WORK/kubelet-config.yaml" --kubeconfig="$KCONF" \
  --bootstrap-kubeconfig="$WORK/bootstrap-kubelet.conf" --fail-swap-on=false
PKIDIR=$ROOT_DIR/pki
csr_of() { # SIGNER: the names of that signer's CSRs
  kube get csr -o jsonpath="{range .items[?(@.spec.signerName==\"$1\")]}{.metadata.name}{\"\\n\"}{end}"
}
issued_client() { [[ -n "$(csr_of kubernetes.io/kube-apiserver-client-kubelet)" ]] && [[ -L "$PKIDIR/kubelet-client-current.pem" ]]; }
wait_until "the kubelet stores a client certificate" 600 issued_client
CSR=$(csr_of kubernetes.io/kube-apiserver-client-kubelet | head -1)
expect_match "its CSR is named node-csr-*" '^node-csr-' "$CSR"
csr_field() { kube get csr "$1" -o jsonpath="$2"; }
expect_eq "requested by the bootstrap token's user" "system:bootstrap:abcdef" "$(csr_field "$CSR" '{.spec.username}')"
expect_eq "auto-approved after a SubjectAccessReview" "AutoApproved" \
  "$(csr_field "$CSR" '{.status.conditions[?(@.type=="Approved")].reason}')"
expect_eq "usages as upstream's kubelet asks with an ECDSA key" "digital signature client auth" \
  "$(csr_field "$CSR" '{.spec.usages[*]}')"
csr_field "$CSR" '{.spec.request}' | base64 -d >"$WORK/req.pem"
ok "the request" openssl req -in "$WORK/req.pem" -noout -text
expect_match "is for system:node:NAME in system:nodes" "Subject: O ?= ?system:nodes, CN ?= ?system:node:$NODE_NAME" "$OUT"
expect_match "with an ECDSA P-256 key" "prime256v1|P-256" "$OUT"
LINK=$(readlink "$PKIDIR/kubelet-client-current.pem")
expect_match "kubelet-client-current.pem links to kubelet-client-<time>.pem" \
  '^kubelet-client-20[0-9]{2}-[0-9]{2}-[0-9]{2}-[0-9]{2}-[0-9]{2}-[0-9]{2}\.pem$' "$LINK"
ok "the pem holds the certificate" openssl x509 -in "$PKIDIR/kubelet-client-current.pem" -noout -subject -nameopt RFC2253
expect_match "for the node" "CN=system:node:$NODE_NAME,O=system:nodes" "$OUT"
ok "and its key" openssl pkey -in "$PKIDIR/kubelet-client-current.pem" -noout
expect_eq "the pem is private" 600 "$(stat -c %a "$PKIDIR/$LINK")"
ok "signed by the cluster CA" openssl verify -CAfile "$PKI/ca.crt" "$PKIDIR/kubelet-client-current.pem"
expect_match "the kubeconfig uses it as certificate" \
  "client-certificate: \"$PKIDIR/kubelet-client-current.pem\"" "$(cat "$KCONF")"
expect_match "and as key" "client-key: \"$PKIDIR/kubelet-client-current.pem\"" "$(cat "$KCONF")"
expect_match "with the bootstrap kubeconfig's server" "server: \"$SAPI\"" "$(cat "$KCONF")"
wait_until "the Node registers and is Ready" 600 node_ready "$NODE_NAME"
ok "the written kubeconfig authenticates" kubectl --cache-dir "$WORK/kcache-node" --kubeconfig "$KCONF" auth whoami
expect_match "as system:node:NAME" "Username +system:node:$NODE_NAME" "$OUT"
expect_match "in system:nodes" "Groups +\[system:nodes system:authenticated\]" "$OUT"

# ---- serverTLSBootstrap: nothing on 10250 until the serving CSR is approved ----
serving_csr() { [[ -n "$(csr_of kubernetes.io/kubelet-serving)" ]]; }
wait_until "a kubelet-serving CSR appears" 300 serving_csr
SCSR=$(csr_of kubernetes.io/kubelet-serving | head -1)
expect_eq "requested by the node itself" "system:node:$NODE_NAME" "$(csr_field "$SCSR" '{.spec.username}')"
expect_eq "serving usages" "digital signature server auth" "$(csr_field "$SCSR" '{.spec.usages[*]}')"
csr_field "$SCSR" '{.spec.request}' | base64 -d | openssl req -noout -text >"$WORK/sreq.txt"
expect_match "SANs: hostname and node IP" "DNS:$NODE_NAME, IP Address:$NODE_IP" "$(cat "$WORK/sreq.txt")"
in_node() { nsenter -t "$NODE_PID" -n "$@"; }
KL=https://$NODE_IP:10250
ko "port 10250 is closed before approval" in_node curl -sk --max-time 5 "$KL/healthz"
ok "kubectl certificate approve" kube certificate approve "$SCSR"
port_open() { in_node curl -sk --max-time 5 -o /dev/null "$KL/healthz"; }
wait_until "the kubelet serves once the certificate is issued" 600 port_open
ok "its serving certificate verifies against the cluster CA" \
  in_node curl -sS --max-time 10 --cacert "$PKI/ca.crt" -o /dev/null -w '%{http_code}' "$KL/healthz"
expect_eq "(anonymous: 401)" 401 "$OUT"
expect_eq "kubelet-server-current.pem exists" "yes" "$([[ -L "$PKIDIR/kubelet-server-current.pem" ]] && echo yes)"

# ---- the kubelet API: authentication and authorization ----
kapi() { in_node curl -sS --max-time 20 --cacert "$PKI/ca.crt" -w '\n%{http_code}' "$@"; }
ok "anonymous request" kapi "$KL/pods"
expect_eq "is 401 Unauthorized (anonymous off)" $'Unauthorized\n401' "$OUT"
ok "a bad token" kapi -H "Authorization: Bearer nosuchtoken" "$KL/pods"
expect_eq "is 401 (TokenReview says no)" $'Unauthorized\n401' "$OUT"
ok "bob's token (no rights)" kapi -H "Authorization: Bearer bobtoken" "$KL/pods"
expect_eq "is 403 with upstream's text" \
  "Forbidden (user=bob, verb=get, resource=nodes, subresource=proxy)"$'\n403' "$OUT"
kube create clusterrole node-proxy-reader --verb=get --resource=nodes/proxy >/dev/null
kube create clusterrolebinding alice-node-proxy --clusterrole=node-proxy-reader --user=alice >/dev/null
alice_pods() { [[ "$(kapi -H "Authorization: Bearer alicetoken" "$KL/pods" | tail -1)" == 200 ]]; }
wait_until "alice, allowed nodes/proxy, reads /pods" 300 alice_pods
ok "but /stats/summary is nodes/stats" kapi -H "Authorization: Bearer alicetoken" "$KL/stats/summary"
expect_eq "which she may not" "Forbidden (user=alice, verb=get, resource=nodes, subresource=stats)"$'\n403' "$OUT"
ok "a client certificate from the cluster CA" kapi --cert "$PKI/kubelet-client.crt" --key "$PKI/kubelet-client.key" \
  "$KL/pods"
expect_match "is authenticated (system:masters may)" '200$' "$OUT"
pki_ca otherca other-ca
client_cert forged "/O=system:masters/CN=forged" otherca
ok "a certificate from another CA" kapi --cert "$PKI/forged.crt" --key "$PKI/forged.key" "$KL/pods"
expect_eq "is 401" $'Unauthorized\n401' "$OUT"
ok "healthz on the healthz port stays open" in_node curl -fsS http://127.0.0.1:10248/healthz
expect_eq "healthz" ok "$OUT"

# ---- kubectl logs through the API server's kubelet client certificate ----
cat <<YAML | kube apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: talker}
spec:
  hostNetwork: true
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 1
  containers:
  - {name: main, image: $BUSYBOX_IMAGE, command: [sh, -c, "echo hello-from-talker; sleep 3600"]}
YAML
wait_until "the pod runs" 600 pod_phase_is talker Running
logs_ok() { [[ "$(kube logs talker 2>&1)" == hello-from-talker ]]; }
wait_until "kubectl logs goes through the API server to the authenticated kubelet" 150 logs_ok

# ---- rotation of the client certificate ----
rotated() { [[ "$(readlink "$PKIDIR/kubelet-client-current.pem")" != "$LINK" ]]; }
wait_until "before it expires, the kubelet rotates its client certificate" 1500 rotated
NEWCSR=$(kube get csr -o json | python3 -c '
import json,sys
for c in json.load(sys.stdin)["items"]:
    if c["spec"]["signerName"].endswith("client-kubelet") and c["spec"]["username"].startswith("system:node:"):
        print(c["metadata"]["name"]); break')
expect_match "a renewal CSR made with the node's own credentials" '^node-csr-' "$NEWCSR"
expect_eq "approved as selfnodeclient" "Auto approving self kubelet client certificate after SubjectAccessReview." \
  "$(csr_field "$NEWCSR" '{.status.conditions[?(@.type=="Approved")].message}')"
OLD_SERIAL=$(openssl x509 -in "$PKIDIR/$LINK" -noout -serial)
NEW_SERIAL=$(openssl x509 -in "$PKIDIR/kubelet-client-current.pem" -noout -serial)
[[ "$OLD_SERIAL" != "$NEW_SERIAL" ]] && pass "the link points at a new certificate" || fail "same certificate"
expect_eq "the old file stays" yes "$([[ -f "$PKIDIR/$LINK" ]] && echo yes)"
OLD_END=$(date -d "$(openssl x509 -in "$PKIDIR/$LINK" -noout -enddate | cut -d= -f2)" +%s)
past_old() { (($(date +%s) > OLD_END + 5)); }
wait_until "the first certificate expires" 1500 past_old
hb0=$(kube get lease -n kube-node-lease "$NODE_NAME" -o jsonpath='{.spec.renewTime}')
renewed() { [[ "$(kube get lease -n kube-node-lease "$NODE_NAME" -o jsonpath='{.spec.renewTime}')" != "$hb0" ]]; }
wait_until "the kubelet keeps renewing its Lease with the new certificate" 300 renewed
ok "and its Node stays Ready" node_ready "$NODE_NAME"
expect_no_match "no request was refused as Unauthorized" "401|Unauthorized" \
  "$(grep -i "unauthorized\|status 401" "$WORK/kubelet1.log" | grep -v "^$" | tail -5)"

# ---- the serving certificate: verified by the API server, then renewed ----
SLINK=$(readlink "$PKIDIR/kubelet-server-current.pem")
S_END=$(date -d "$(openssl x509 -in "$PKIDIR/$SLINK" -noout -enddate | cut -d= -f2)" +%s)
past_serving() { (($(date +%s) > S_END + 5)); }
wait_until "the first serving certificate expires" 1500 past_serving
ko "kubectl logs is refused: the API server verifies the kubelet (--kubelet-certificate-authority)" kube logs talker
expect_match "because the certificate no longer verifies" \
  "error trying to reach service: tls: failed to verify certificate: x509: certificate has expired or is not yet valid" "$OUT"
pending_serving() {
  kube get csr -o json | python3 -c '
import json,sys
for c in json.load(sys.stdin)["items"]:
    if c["spec"]["signerName"] == "kubernetes.io/kubelet-serving" and not c.get("status", {}).get("conditions"):
        print(c["metadata"]["name"])' | grep .
}
wait_until "the kubelet asked for a new serving certificate before" 300 pending_serving
ok "kubectl certificate approve" kube certificate approve $(pending_serving)
serving_moved() { [[ "$(readlink "$PKIDIR/kubelet-server-current.pem")" != "$SLINK" ]]; }
wait_until "the kubelet stores it" 300 serving_moved
wait_until "and serves it: kubectl logs works again" 300 logs_ok

# ---- a restarted kubelet keeps its identity: no second bootstrap ----
# (csrcleaner deletes CSRs whose certificate has expired, so compare names)
boot_csrs() {
  kube get csr -o jsonpath='{range .items[*]}{.spec.username} {.metadata.name}{"\n"}{end}' |
    awk '$1 ~ /^system:bootstrap:/ {print $2}' | sort
}
BOOT_BEFORE=$(boot_csrs)
KCONF_SUM=$(md5sum <"$KCONF")
stop_kubelet "$KUBELET_PID"
LOG_LINES=$(wc -l <"$WORK/kubelet1.log")
start_kubelet 1 --config="$WORK/kubelet-config.yaml" --kubeconfig="$KCONF" \
  --bootstrap-kubeconfig="$WORK/bootstrap-kubelet.conf" --fail-swap-on=false
hb1=$(kube get lease -n kube-node-lease "$NODE_NAME" -o jsonpath='{.spec.renewTime}')
renewed_again() { [[ "$(kube get lease -n kube-node-lease "$NODE_NAME" -o jsonpath='{.spec.renewTime}')" != "$hb1" ]]; }
wait_until "the restarted kubelet renews its Lease" 300 renewed_again
expect_eq "with its stored certificate: no new CSR from the bootstrap token" "" \
  "$(comm -13 <(echo "$BOOT_BEFORE") <(boot_csrs))"
expect_eq "and the kubeconfig untouched" "$KCONF_SUM" "$(md5sum <"$KCONF")"
expect_no_match "no bootstrap after the restart" "Using bootstrap kubeconfig" "$(tail -n +"$LOG_LINES" "$WORK/kubelet1.log")"
expect_match "the stored certificate is used" "Certificate rotation deadline for kubelet-client" \
  "$(tail -n +"$LOG_LINES" "$WORK/kubelet1.log")"

done_testing
