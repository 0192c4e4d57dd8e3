# 10-deployment: a Deployment of 3 replicas of the echo image spread over
# the workers, scaled to 5 and back to 3, a rolling update to echo:2
# watched with `kubectl rollout status`, then `kubectl rollout undo`.
new_namespace
echo_deployment web 3
wait_until "3 replicas available" 120 deployment_ready web 3
ok "pods" pod_nodes app=web
expect_eq "3 pods Running" 3 "$(grep -c ' Running ' <<<"$OUT")"
if ((E2E_NODES > 1)); then
  nodes_used=$(awk '{print $2}' <<<"$OUT" | sort -u | wc -l)
  [[ $nodes_used -gt 1 ]] || fail "all 3 replicas on one node: $OUT"
  pass "replicas spread over $nodes_used nodes"
fi

ok "scale to 5" kns scale deploy web --replicas=5
wait_until "5 replicas available" 120 deployment_ready web 5
ok "scale back to 3" kns scale deploy web --replicas=3
wait_until "3 replicas available again" 120 deployment_ready web 3
wait_until "the 2 surplus pods are gone" 60 running_pods app=web 3

ok "rolling update to echo:2" kns set image deploy/web echo="$ECHO_IMAGE_2"
ok "rollout status" kns rollout status deploy/web --timeout=180s
expect_match "rollout finished" 'successfully rolled out' "$OUT"
ok "template image" kns get deploy web -o jsonpath='{.spec.template.spec.containers[0].image}'
expect_eq "new image" "$ECHO_IMAGE_2" "$OUT"
only_image() { # IMAGE: every live pod of web runs IMAGE
  local imgs
  imgs=$(kns get pods -l app=web -o jsonpath='{range .items[*]}{.metadata.deletionTimestamp}|{.spec.containers[0].image}{"\n"}{end}' | awk -F'|' '$1 == "" {print $2}' | sort -u)
  [[ "$imgs" == "$1" ]]
}
wait_until "every pod runs echo:2" 60 only_image "$ECHO_IMAGE_2"
ok "two ReplicaSets" kns get rs -l app=web -o jsonpath='{range .items[*]}{.spec.replicas}{" "}{end}'
expect_match "old ReplicaSet scaled to 0" '^(0 3|3 0) $' "$OUT"
ok "rollout history" kns rollout history deploy/web
expect_match "revision 2 in the history" '^2 ' "$OUT"

ok "rollout undo" kns rollout undo deploy/web
ok "rollout status after undo" kns rollout status deploy/web --timeout=180s
ok "template image after undo" kns get deploy web -o jsonpath='{.spec.template.spec.containers[0].image}'
expect_eq "image back to echo:1" "$ECHO_IMAGE_1" "$OUT"
wait_until "every pod runs echo:1 again" 60 only_image "$ECHO_IMAGE_1"
wait_until "3 replicas available after undo" 60 deployment_ready web 3
