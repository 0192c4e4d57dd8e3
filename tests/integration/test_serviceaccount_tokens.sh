#!/usr/bin/env bash
# Service account tokens through the real kubectl (`kubectl create token`,
# which sends its TokenRequest as protobuf), verified by an independent JWT
# library (PyJWT) against the keys the server publishes at /openid/v1/jwks
# and /.well-known/openid-configuration: claims as upstream's, bound pods,
# the kubelet's extended tokens, refusals, the signing key kept across
# restarts, a key given with --service-account-signing-key-file and extra
# keys published from --service-account-key-file, and discovery listing
# serviceaccounts/token.
source "$(dirname "$0")/lib.sh"
PY=$(command -v /usr/bin/python3 || command -v python3)
"$PY" -c 'import jwt, cryptography' 2>/dev/null || fail "needs python3-jwt and python3-cryptography (deploy/install-deps.sh --test)"
start_apiserver --service-account-max-token-expiration=48h
kube create sa default >/dev/null
kube create sa robot >/dev/null
ISS=https://kubernetes.default.svc.cluster.local

# verify TOKEN AUDIENCE CHECKS: PyJWT checks signature, issuer, audience and
# time, then each python expression in CHECKS over the claims `c`
verify() {
  curl -fsS "$API_URL/openid/v1/jwks" >"$WORK/jwks.json"
  "$PY" - "$1" "$2" "$WORK/jwks.json" "$ISS" "$3" <<'EOF'
import json, sys, time, jwt
tok, aud, jwks, iss, checks = sys.argv[1:6]
hdr = jwt.get_unverified_header(tok)
keys = [k for k in json.load(open(jwks))["keys"] if k["kid"] == hdr["kid"]]
assert hdr["alg"] == "RS256" and len(keys) == 1, (hdr, keys)
key = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(keys[0]))
c = jwt.decode(tok, key, algorithms=["RS256"], audience=aud, issuer=iss)
for expr in checks.split(";"):
    if expr.strip():
        assert eval(expr), (expr, c)
print("verified", c["sub"])
EOF
}

ok "openid configuration" curl -fsS "$API_URL/.well-known/openid-configuration"
expect_match "issuer and jwks_uri" "\"issuer\":\"$ISS\",\"jwks_uri\":\"http://127.0.0.1:$API_PORT/openid/v1/jwks\"" "$OUT"
ok "discovery lists serviceaccounts/token" curl -fsS "$API_URL/api/v1"
expect_match "token subresource" '"name":"serviceaccounts/token","singularName":"","namespaced":true,"group":"authentication.k8s.io","version":"v1","kind":"TokenRequest","verbs":\["create"\]' "$OUT"

ok "kubectl create token" kube create token default
TOK=$OUT
SA_UID=$(kubectl --cache-dir "$WORK/kcache" get sa default -o jsonpath='{.metadata.uid}')
ok "the token verifies with upstream's claims" verify "$TOK" "$ISS" "
c['sub'] == 'system:serviceaccount:default:default';
c['exp'] - c['iat'] == 3600 and c['nbf'] == c['iat'];
c['kubernetes.io'] == {'namespace': 'default', 'serviceaccount': {'name': 'default', 'uid': '$SA_UID'}};
len(c['jti']) == 36"
ok "audiences and duration" kube create token default --audience=vault --audience=other --duration=20m
ok "verifies for its audience" verify "$OUT" vault "c['aud'] == ['vault', 'other']; c['exp'] - c['iat'] == 1200"

# bound to a pod: pod and node in the claims; the kubelet's 3607 s become a year
ok "a node" kube create -f - <<<'{"apiVersion":"v1","kind":"Node","metadata":{"name":"n1"}}'
ok "a pod on it" kube create -f - <<<'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"nodeName":"n1","containers":[{"name":"c","image":"busybox"}]}}'
POD_UID=$(kubectl --cache-dir "$WORK/kcache" get pod p -o jsonpath='{.metadata.uid}')
NODE_UID=$(kubectl --cache-dir "$WORK/kcache" get node n1 -o jsonpath='{.metadata.uid}')
ok "a pod-bound token" kube create token default --bound-object-kind=Pod --bound-object-name=p --bound-object-uid="$POD_UID"
ok "names the pod and its node" verify "$OUT" "$ISS" "
c['kubernetes.io']['pod'] == {'name': 'p', 'uid': '$POD_UID'};
c['kubernetes.io']['node'] == {'name': 'n1', 'uid': '$NODE_UID'}"
ok "the kubelet's request" curl -fsS -X POST -H 'Content-Type: application/json' \
  "$API_URL/api/v1/namespaces/default/serviceaccounts/default/token" \
  -d "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenRequest\",\"spec\":{\"expirationSeconds\":3607,\"boundObjectRef\":{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"name\":\"p\",\"uid\":\"$POD_UID\"}}}"
RESP=$OUT
KTOK=$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["status"]["token"])' <<<"$RESP")
ok "lives a year, warns after 3607 s" verify "$KTOK" "$ISS" "
c['exp'] - c['iat'] == 365 * 24 * 3600; c['kubernetes.io']['warnafter'] - c['iat'] == 3607"
expect_match "status says 3607 s" '"spec":\{"audiences":\["https://kubernetes.default.svc.cluster.local"\],"expirationSeconds":3607' "$RESP"

# refusals and limits
ko "a missing service account" kube create token ghost
expect_match "404" 'serviceaccounts "ghost" not found' "$OUT"
ko "too short" kube create token default --duration=1m
expect_match "at least ten minutes" 'spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes' "$OUT"
ko "a pod of another account" kube create token robot --bound-object-kind=Pod --bound-object-name=p
expect_match "refused" 'cannot bind token for serviceaccount "robot" to pod running with different serviceaccount name' "$OUT"
ok "over the maximum" kube create token default --duration=72h
expect_match "shortened with a warning" 'requested expiration of 259200 seconds shortened to 172800 seconds' "$OUT"

# the generated key is kept: tokens from before a restart still verify
kill "$API_PID"
wait "$API_PID" 2>/dev/null || true
start_apiserver
ok "an old token against the restarted server's keys" verify "$TOK" "$ISS" ""

# a key of our own, and another one published for verification only
kill "$API_PID"
wait "$API_PID" 2>/dev/null || true
openssl genrsa -out "$WORK/signer.key" 2048 2>/dev/null
openssl genrsa -out "$WORK/old.key" 2048 2>/dev/null
openssl rsa -in "$WORK/old.key" -pubout -out "$WORK/old.pub" 2>/dev/null
unset API_PORT
start_apiserver --service-account-signing-key-file="$WORK/signer.key" --service-account-key-file="$WORK/old.pub" \
  --service-account-issuer=https://issuer.example --api-audiences=api.example
ok "both keys published" curl -fsS "$API_URL/openid/v1/jwks"
expect_eq "two keys" 2 "$("$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["keys"]))' <<<"$OUT")"
ok "a token signed with the given key" kube create token default
ISS=https://issuer.example
ok "verifies with the given issuer and audience" verify "$OUT" api.example "c['aud'] == ['api.example']"
SIGNED=$(curl -fsS "$API_URL/api/v1/namespaces/default/serviceaccounts/default/token" -X POST \
  -H 'Content-Type: application/json' -d '{"spec":{}}' | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["status"]["token"])')
ok "and with openssl against the key file" sh -c "
  printf %s '${SIGNED%.*}' >'$WORK/signed.txt'
  printf %s '${SIGNED##*.}' | tr '_-' '/+' | '$PY' -c 'import base64,sys; s=sys.stdin.read(); sys.stdout.buffer.write(base64.b64decode(s + \"=\" * (-len(s) % 4)))' >'$WORK/sig.bin'
  openssl rsa -in '$WORK/signer.key' -pubout -out '$WORK/signer.pub' 2>/dev/null
  openssl dgst -sha256 -verify '$WORK/signer.pub' -signature '$WORK/sig.bin' '$WORK/signed.txt'"
ko "a key file that is not a key" "$KUBE_BIN/apiserver/kube-apiserver" --data-dir="$WORK/bad" --insecure-port=0 \
  --service-account-key-file="$WORK/jwks.json"
expect_match "names the file" "service account token keys: $WORK/jwks.json: no RSA key found" "$OUT"
done_testing
