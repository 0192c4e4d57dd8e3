#!/usr/bin/env bash
# Request-header (front proxy) authentication (security issue): a proxy
# whose client certificate comes from --requestheader-client-ca-file, with
# a CN in --requestheader-allowed-names, names the user, groups and extra
# in X-Remote-* headers; nobody else can - the same headers from an
# anonymous caller, a client-certificate user, or a proxy certificate with
# another CN are not trusted.  Seen through SelfSubjectReview (who the
# server took the caller for) and RBAC.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pki_lib.sh"
pki_ca
pki_ca front-proxy-ca front-proxy-ca
client_cert admin "/O=system:masters/CN=kubernetes-admin"
client_cert proxy "/CN=front-proxy-client" front-proxy-ca
client_cert rogue "/CN=someone-else" front-proxy-ca
client_cert alice "/CN=alice"
SPORT=$(free_port)
start_apiserver --secure-port="$SPORT" --bind-address=127.0.0.1 --cert-dir="$WORK/certs" \
  --client-ca-file="$PKI/ca.crt" --authorization-mode=RBAC \
  --requestheader-client-ca-file="$PKI/front-proxy-ca.crt" --requestheader-allowed-names=front-proxy-client \
  --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
  --requestheader-extra-headers-prefix=X-Remote-Extra-
S=https://127.0.0.1:$SPORT
# whoami CERT-NAME [curl args...]: the SelfSubjectReview's userInfo as JSON
whoami() {
  local c=$1; shift
  local cert=()
  [[ -n "$c" ]] && cert=(--cert "$PKI/$c.crt" --key "$PKI/$c.key")
  curl -sS --cacert "$WORK/certs/apiserver.crt" "${cert[@]}" -X POST -H 'Content-Type: application/json' \
    -d '{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}' \
    "$S/apis/authentication.k8s.io/v1/selfsubjectreviews" "$@"
}
OUT=$(whoami proxy -H 'X-Remote-User: jane' -H 'X-Remote-Group: devs' -H 'X-Remote-Group: qa' \
  -H 'X-Remote-Extra-Scopes: read' -H 'X-Remote-Extra-Acme.com%2Fproject: p1')
expect_match "the proxy names the user" '"username":"jane"' "$OUT"
expect_match "and every group header value, then system:authenticated" '"groups":\["devs","qa","system:authenticated"\]' "$OUT"
expect_match "and the extra (keys lowercased and unescaped)" '"extra":\{[^}]*"scopes":\["read"\]' "$OUT"
expect_match "... percent-escapes decoded" '"acme.com/project":\["p1"\]' "$OUT"
OUT=$(whoami rogue -H 'X-Remote-User: jane')
expect_match "a proxy certificate with a CN not allowed is refused" '"code":401' "$OUT"
OUT=$(whoami proxy)
expect_match "a proxy naming nobody is not a client (401)" '"code":401' "$OUT"
OUT=$(whoami alice -H 'X-Remote-User: jane' -H 'X-Remote-Group: system:masters')
expect_match "a client certificate user cannot claim another name" '"username":"alice"' "$OUT"
expect_no_match "... nor groups" 'system:masters' "$OUT"
OUT=$(whoami "" -H 'X-Remote-User: jane' -H 'X-Remote-Group: system:masters')
expect_match "headers from an anonymous caller are ignored" '"code":40[13]' "$OUT"
expect_no_match "... they name no one" '"jane"' "$OUT"

# RBAC sees the proxied user
cat >"$WORK/admin.kubeconfig" <<KCFG
apiVersion: v1
kind: Config
clusters: [{name: s, cluster: {server: "$S", certificate-authority: "$WORK/certs/apiserver.crt"}}]
users: [{name: u, user: {client-certificate: "$PKI/admin.crt", client-key: "$PKI/admin.key"}}]
contexts: [{name: c, context: {cluster: s, user: u, namespace: default}}]
current-context: c
KCFG
kubectl --kubeconfig "$WORK/admin.kubeconfig" create role pod-reader --verb=get,list --resource=pods >/dev/null
kubectl --kubeconfig "$WORK/admin.kubeconfig" create rolebinding devs-read --role=pod-reader --group=devs >/dev/null
proxied() { # METHOD PATH
  curl -sS --cacert "$WORK/certs/apiserver.crt" --cert "$PKI/proxy.crt" --key "$PKI/proxy.key" \
    -H 'X-Remote-User: jane' -H 'X-Remote-Group: devs' -X "$1" -H 'Content-Type: application/json' \
    ${3:+-d "$3"} "$S$2"
}
lists_pods() { proxied GET /api/v1/namespaces/default/pods | grep -q '"kind":"PodList"'; }
wait_until "a proxied member of devs may list pods (its group's Role)" 50 lists_pods
OUT=$(proxied POST /api/v1/namespaces/default/configmaps '{"metadata":{"name":"x"}}')
expect_match "but not create, with upstream's Forbidden naming jane" 'configmaps is forbidden: User \\"jane\\" cannot create resource \\"configmaps\\" in API group \\"\\" in the namespace \\"default\\"' "$OUT"
# what extension API servers read to trust this server's proxied callers
cm() { kubectl --kubeconfig "$WORK/admin.kubeconfig" -n kube-system get configmap extension-apiserver-authentication -o "jsonpath={.data.$1}"; }
wait_until "kube-system/extension-apiserver-authentication is published" 100 cm requestheader-allowed-names
expect_eq "with the allowed names as a JSON array" '["front-proxy-client"]' "$(cm requestheader-allowed-names)"
expect_eq "the username headers" '["X-Remote-User"]' "$(cm requestheader-username-headers)"
expect_eq "the extra headers prefix" '["X-Remote-Extra-"]' "$(cm requestheader-extra-headers-prefix)"
expect_eq "the request-header CA" "$(cat "$PKI/front-proxy-ca.crt")" "$(cm requestheader-client-ca-file)"
expect_eq "and the client CA" "$(cat "$PKI/ca.crt")" "$(cm client-ca-file)"
rc=0
"$KUBE_BIN/apiserver/kube-apiserver" --data-dir="$WORK/bad" --secure-port=0 \
  --requestheader-client-ca-file="$WORK/nonexistent.crt" >"$WORK/bad.log" 2>&1 || rc=$?
expect_eq "a missing request-header CA stops the start" 1 "$rc"
expect_match "naming the file" 'nonexistent.crt' "$(cat "$WORK/bad.log")"
done_testing
