# 70-logs-exec: kubectl logs (also -f and --previous), exec and
# port-forward to pods on every node: the API server relays each to the
# node's kubelet.
new_namespace
mapfile -t NODES < <(ready_nodes)
i=0
for n in "${NODES[@]}"; do
  kns apply -f - >/dev/null <<YAML || fail "create pod on $n"
apiVersion: v1
kind: Pod
metadata: {name: talk-$i, labels: {app: talk}}
spec:
  nodeName: $n
  terminationGracePeriodSeconds: 1
  containers:
  - name: echo
    image: $ECHO_IMAGE_1
    ports: [{containerPort: 8080}]
  - name: counter
    image: $BUSYBOX_IMAGE
    command: ["sh", "-c", "i=0; while true; do echo line \$i; i=\$((i+1)); sleep 1; done"]
YAML
  i=$((i + 1))
done
wait_until "pods on ${#NODES[@]} nodes Running" 120 running_pods app=talk "${#NODES[@]}"

exec_ok=1
for ((i = 0; i < ${#NODES[@]}; i++)); do
  p=talk-$i
  n=$(kns get pod "$p" -o jsonpath='{.spec.nodeName}')
  has_lines() { [[ $(kns logs "$p" -c counter | grep -c '^line ') -ge 3 ]]; }
  wait_until "logs of $p on $n" 30 has_lines
  ok "logs --tail=1 of $p" kns logs "$p" -c counter --tail=1
  expect_match "one recent line" '^line [0-9]+$' "$OUT"
  ok "logs -f of $p (bounded)" timeout 4 bash -c "kubectl --cache-dir '$E2E_WORK/kcache' -n '$NS' logs -f '$p' -c counter --since=2s | head -n 2"
  expect_eq "two followed lines" 2 "$(grep -c '^line ' <<<"$OUT")"
  ok "logs of the echo container" kns logs "$p" -c echo
  expect_match "echo server start line" "listening on :8080" "$OUT"

  if ! OUT=$(kns exec "$p" -c counter -- sh -c 'echo exec-ok $(hostname)' 2>&1); then
    echo "--- exec: $OUT"
    # the kubelet has no /exec endpoint at all (it answers 404): not landed
    grep -q 'unable to upgrade connection: 404 page not found' <<<"$OUT" || fail "kubectl exec into $p"
    exec_ok=0
    continue
  fi
  expect_eq "exec in $p on $n" "exec-ok $p" "$OUT"
  ok "exec with stdin in $p" bash -c "echo piped | kubectl --cache-dir '$E2E_WORK/kcache' -n '$NS' exec -i '$p' -c counter -- cat"
  expect_eq "stdin round trip" piped "$OUT"
  ko "exec of a failing command" kns exec "$p" -c counter -- sh -c 'exit 3'
  expect_match "its exit code" 'command terminated with exit code 3' "$OUT"

  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  kubectl --cache-dir "$E2E_WORK/kcache" -n "$NS" port-forward "pod/$p" "$port:8080" >"$E2E_WORK/pf-$p.log" 2>&1 &
  pf=$!
  fwd() { curl -fsS --max-time 3 "http://127.0.0.1:$port/pf"; }
  if wait_until "port-forward to $p on $n" 30 fwd; then :; fi
  expect_eq "answer through the forward" "$p 1 /pf" "$OUT"
  kill "$pf" 2>/dev/null; wait "$pf" 2>/dev/null || true
done
((exec_ok)) || waiting "the kubelet answers 404 to exec (its exec, attach and port-forward endpoints have not landed); logs passed on every node"
