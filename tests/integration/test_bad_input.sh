#!/usr/bin/env bash
# Bad input gets a clear 4xx Status (or, for a watcher that never reads, a
# closed connection), and nothing is stored or leaked.
source "$(dirname "$0")/lib.sh"
start_apiserver
CM=$API_URL/api/v1/namespaces/default/configmaps

req() { # method url content-type body -> sets CODE and BODY
  local out
  out=$(curl -sS -o "$WORK/body" -w '%{http_code}' -X "$1" -H "Content-Type: $3" --data-binary "$4" "$2")
  CODE=$out; BODY=$(cat "$WORK/body")
}
count_cms() { curl -fsS "$CM" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))'; }
before=$(count_cms)

req POST "$CM" application/json '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"'
expect_eq "malformed JSON is 400" 400 "$CODE"
expect_match "malformed JSON Status" '"reason":"BadRequest"' "$BODY"

req POST "$CM" application/yaml $'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\n   bad: indent'
expect_eq "malformed YAML is 400" 400 "$CODE"

req POST "$CM" application/json '{"apiVersion":"v1","kind":"Secret","metadata":{"name":"z"}}'
expect_eq "wrong kind for the path is 400" 400 "$CODE"

req POST "$CM" application/json '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Not_A_DNS_Name"}}'
expect_eq "bad name is 422" 422 "$CODE"
expect_match "bad name cause names the field" '"field":"metadata.name"' "$BODY"

req POST "$CM" application/json '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"ns-mismatch","namespace":"kube-system"}}'
expect_eq "namespace mismatch is 400" 400 "$CODE"

req POST "$API_URL/api/v1/namespaces/nope/configmaps" application/json '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}}'
expect_eq "missing namespace is 404" 404 "$CODE"
expect_match "missing namespace message" 'namespaces \\"nope\\" not found' "$BODY"

req POST "$CM?fieldValidation=Strict" application/json '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"strict"},"bogus":1,"data":{"a":"b"}}'
expect_eq "unknown field with Strict is 400" 400 "$CODE"
expect_match "unknown field named" 'unknown field \\"bogus\\"' "$BODY"
req POST "$CM?fieldValidation=Strict" application/json '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dup"},"data":{"a":"b"},"data":{"c":"d"}}'
expect_eq "duplicate field with Strict is 400" 400 "$CODE"
expect_match "duplicate field named" 'duplicate field' "$BODY"

hdrs=$(curl -sS -D - -o /dev/null -X POST -H 'Content-Type: application/json' \
  --data-binary '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"warned"},"bogus":1}' "$CM?fieldValidation=Warn")
expect_match "Warn creates" '^HTTP/1.1 201' "$hdrs"
expect_match "Warn sends a Warning header" '^Warning: 299 - "unknown field \\"bogus\\""' "$hdrs"
curl -fsS -X DELETE "$CM/warned" >/dev/null

head -c $((3 * 1024 * 1024 + 10)) /dev/zero | tr '\0' 'a' >"$WORK/big"
code=$(curl -sS -o "$WORK/body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' --data-binary @"$WORK/big" "$CM")
expect_eq "body over 3 MiB is 413" 413 "$code"

req PUT "$CM/absent" application/json '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"absent"}}'
expect_eq "update of a missing object is 404" 404 "$CODE"
req PATCH "$CM/absent" text/plain 'x'
expect_eq "unsupported patch type is 415" 415 "$CODE"

after=$(count_cms)
expect_eq "nothing stored by bad requests" "$before" "$after"

# a watcher that never reads is closed once its queue is full; the server goes on
python3 - "$API_PORT" "$WORK/writes-done" <<'PY' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.sendall(b"GET /api/v1/namespaces/default/configmaps?watch=1 HTTP/1.1\r\nHost: x\r\n\r\n")
import os
for _ in range(600):  # never read while the server writes
    if os.path.exists(sys.argv[2]):
        break
    time.sleep(0.1)
s.settimeout(10)
total = 0
try:
    while True:
        b = s.recv(1 << 20)
        if not b:
            print("closed after", total, "bytes"); sys.exit(0)
        total += len(b)
except ConnectionResetError:
    print("reset after", total, "bytes"); sys.exit(0)
except socket.timeout:
    print("still open after", total, "bytes"); sys.exit(1)
PY
SLOW=$!
sleep 1
payload=$(head -c 900000 /dev/zero | tr '\0' 'b')
for i in $(seq 1 40); do
  printf '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big-%d"},"data":{"p":"%s"}}' "$i" "$payload" >"$WORK/bigcm"
  curl -fsS -o /dev/null -X POST -H 'Content-Type: application/json' --data-binary @"$WORK/bigcm" "$CM" || fail "big create $i"
done
pass "server kept accepting writes while a watcher did not read"
touch "$WORK/writes-done"
wait "$SLOW" && pass "the slow watcher was disconnected" || fail "slow watcher was not disconnected"
ok "server still healthy" curl -fsS "$API_URL/healthz"
rss=$(awk '/VmRSS/{print $2}' /proc/$API_PID/status)
(( rss < 400000 )) || fail "RSS grew to $rss kB"
pass "RSS bounded ($rss kB)"
done_testing
