#!/usr/bin/env bash
# RBAC on the insecure port, with the real kubectl: upstream's bootstrap
# policy is created and reconciled at start, the clusterrole-aggregation
# controller fills view/edit/admin, SubjectAccessReviews answer from the
# RBAC indexes as bindings come and go, and kubectl auth can-i (as the
# unsecured admin) works with --list.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cluster.sh"

start_apiserver
start_controller_manager controller-manager --leader-elect=false --controllers=clusterrole-aggregation

jp() { kube get "$1" "$2" -o jsonpath="$3"; }

# ---- bootstrap policy ----
ok "cluster-admin exists" jp clusterrole cluster-admin '{.metadata.annotations}'
expect_match "bootstrap roles are annotated autoupdate=true" '"rbac.authorization.kubernetes.io/autoupdate":"true"' "$OUT"
expect_eq "bootstrap roles carry the bootstrapping label" "rbac-defaults" \
  "$(jp clusterrole system:node '{.metadata.labels.kubernetes\.io/bootstrapping}')"
expect_eq "system:masters is bound to cluster-admin" "Group/system:masters" \
  "$(jp clusterrolebinding cluster-admin '{.subjects[0].kind}/{.subjects[0].name}')"
expect_eq "system:authenticated gets system:basic-user" "system:authenticated" \
  "$(jp clusterrolebinding system:basic-user '{.subjects[*].name}')"
expect_eq "system:public-info-viewer to authenticated and unauthenticated" "system:authenticated system:unauthenticated" \
  "$(jp clusterrolebinding system:public-info-viewer '{.subjects[*].name}')"
for r in admin edit view system:discovery system:basic-user system:public-info-viewer system:node \
  system:node-proxier system:kube-scheduler system:kube-controller-manager system:volume-scheduler \
  system:node-bootstrapper system:monitoring system:aggregate-to-view \
  system:certificates.k8s.io:certificatesigningrequests:nodeclient system:controller:replicaset-controller \
  system:controller:clusterrole-aggregation-controller; do
  ok "bootstrap ClusterRole $r" kube get clusterrole "$r"
done
expect_eq "controller roles are bound to their kube-system service account" "ServiceAccount kube-system/deployment-controller" \
  "$(jp clusterrolebinding system:controller:deployment-controller '{.subjects[0].kind} {.subjects[0].namespace}/{.subjects[0].name}')"

# ---- aggregation ----
has_rule() { # ROLE JSONPATH-FILTER-MATCH
  jp clusterrole "$1" '{range .rules[*]}{.apiGroups} {.resources} {.verbs}{"\n"}{end}' | grep -q -- "$2"
}
wait_until "view aggregates system:aggregate-to-view" 150 has_rule view '\[""\] \["pods",.*\["get","list","watch"\]'
wait_until "edit aggregates view and system:aggregate-to-edit" 150 has_rule edit '\["apps"\] \["statefulsets",.*"create"'
wait_until "edit holds view's read rules" 50 has_rule edit '"pods/log"'
wait_until "admin aggregates edit and system:aggregate-to-admin" 150 has_rule admin '\["rbac.authorization.k8s.io"\] \["roles","rolebindings"\]'
cat >"$WORK/widgets-view.yaml" <<'YAML'
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: widgets-view
  labels: {rbac.authorization.k8s.io/aggregate-to-view: "true"}
rules:
- {apiGroups: [example.com], resources: [widgets], verbs: [get, list, watch]}
YAML
ok "a CRD installer's ClusterRole labelled aggregate-to-view" kube create -f "$WORK/widgets-view.yaml"
wait_until "view picks the new rule up" 150 has_rule view '\["example.com"\] \["widgets"\]'
wait_until "and so do edit and admin" 150 has_rule admin '\["example.com"\] \["widgets"\]'
ok "deleting it" kube delete clusterrole widgets-view
wait_until "view drops the rule again" 150 bash -c "! kubectl --cache-dir '$WORK/kcache' get clusterrole view -o json | grep -q widgets"

# ---- SubjectAccessReview from the indexes ----
ok "namespace" kube create namespace rbac-it
ok "jane bound to view in rbac-it" kube create rolebinding jane-view --clusterrole=view --user=jane -n rbac-it
sar() { # VERB RESOURCE NAMESPACE [USER]
  cat >"$WORK/sar.yaml" <<YAML
apiVersion: authorization.k8s.io/v1
kind: SubjectAccessReview
spec:
  user: ${4:-jane}
  groups: [system:authenticated]
  resourceAttributes: {namespace: "$3", verb: "$1", resource: "$2"}
YAML
  kube create -f "$WORK/sar.yaml" -o jsonpath='{.status.allowed} {.status.reason}'
}
sar_allowed() { [[ $(sar "$@") == true* ]]; }
sar_denied() { [[ $(sar "$@") == false* ]]; }
wait_until "jane may get pods in rbac-it" 50 sar_allowed get pods rbac-it
expect_eq "with upstream's reason" \
  'true RBAC: allowed by RoleBinding "jane-view/rbac-it" of ClusterRole "view" to User "jane"' "$(sar get pods rbac-it)"
expect_eq "jane may not create pods there" "false " "$(sar create pods rbac-it)"
expect_eq "nor get pods in default" "false " "$(sar get pods default)"
expect_eq "nor read secrets (view leaves them out)" "false " "$(sar get secrets rbac-it)"
ko "reviews are not stored: no GET" kube get subjectaccessreviews
ok "a Role and its RoleBinding" kube create role cm-writer --verb=create,update --resource=configmaps -n rbac-it
ok "bound to bob" kube create rolebinding bob-cm --role=cm-writer --user=bob -n rbac-it
wait_until "bob may create configmaps" 50 sar_allowed create configmaps rbac-it bob
expect_eq "through the Role" \
  'true RBAC: allowed by RoleBinding "bob-cm/rbac-it" of Role "cm-writer" to User "bob"' "$(sar create configmaps rbac-it bob)"
ok "removing jane's binding" kube delete rolebinding jane-view -n rbac-it
wait_until "takes her access away" 50 sar_denied get pods rbac-it
ok "a binding to a role that does not exist" kube create rolebinding ghost --role=ghost --user=carol -n rbac-it
expect_eq "the denial says so" 'false RBAC: role.rbac.authorization.k8s.io "ghost" not found' "$(sar get pods rbac-it carol)"
cat >"$WORK/lsar.yaml" <<'YAML'
apiVersion: authorization.k8s.io/v1
kind: LocalSubjectAccessReview
metadata: {namespace: rbac-it}
spec:
  user: bob
  resourceAttributes: {namespace: rbac-it, verb: update, resource: configmaps}
YAML
expect_eq "LocalSubjectAccessReview" "true" "$(kube create -f "$WORK/lsar.yaml" -o jsonpath='{.status.allowed}')"
sed -i 's/namespace: rbac-it, verb/namespace: default, verb/' "$WORK/lsar.yaml"
ko "LocalSubjectAccessReview for another namespace is refused" kube create -f "$WORK/lsar.yaml"
expect_match "with upstream's message" "spec.resourceAttributes.namespace must match namespace: rbac-it" "$OUT"

# ---- kubectl auth can-i (the insecure port is the unsecured admin) ----
expect_eq "can-i create pods" "yes" "$(kube auth can-i create pods)"
expect_eq "can-i delete nodes" "yes" "$(kube auth can-i delete nodes 2>/dev/null)"
ok "can-i --list" kube auth can-i --list -n rbac-it
expect_match "lists cluster-admin's rules" '^\*\.\* +\[\] +\[\] +\[\*\]' "$OUT"
expect_match "and the non-resource ones" '\[\*\] +\[\] +\[\*\]' "$OUT"
ok "api-resources of authorization.k8s.io" kube api-resources --api-group=authorization.k8s.io -o wide
expect_match "reviews are create-only" 'selfsubjectrulesreviews +authorization.k8s.io/v1 +false +SelfSubjectRulesReview +create' "$OUT"

# ---- reconciliation at restart ----
ok "a user's rule added to system:discovery" kube patch clusterrole system:discovery --type=json \
  -p '[{"op":"replace","path":"/rules","value":[{"verbs":["get"],"nonResourceURLs":["/custom"]}]}]'
ok "system:public-info-viewer taken over (autoupdate=false)" kube annotate clusterrole system:public-info-viewer \
  --overwrite rbac.authorization.kubernetes.io/autoupdate=false
ok "and emptied" kube patch clusterrole system:public-info-viewer --type=json -p '[{"op":"replace","path":"/rules","value":[]}]'
ok "a subject removed from system:basic-user" kube patch clusterrolebinding system:basic-user --type=json \
  -p '[{"op":"replace","path":"/subjects","value":[{"kind":"Group","apiGroup":"rbac.authorization.k8s.io","name":"extra"}]}]'
kill "$API_PID"
wait "$API_PID" 2>/dev/null || true
start_apiserver
ok "after restart" jp clusterrole system:discovery '{range .rules[*]}{.nonResourceURLs}{"\n"}{end}'
expect_match "the removed rules are back" '"/healthz"' "$OUT"
expect_match "the user's rule is kept" '"/custom"' "$OUT"
expect_eq "the taken-over role is left alone" "[]" "$(jp clusterrole system:public-info-viewer '{.rules}')"
expect_eq "the binding's subject is back and the user's kept" "extra system:authenticated" \
  "$(jp clusterrolebinding system:basic-user '{.subjects[*].name}')"
expect_match "reconciliation is logged" "updated ClusterRole system:discovery with missing permissions" "$(cat "$WORK/apiserver.log")"
wait_until "the indexes are loaded again (bob's Role)" 50 sar_allowed create configmaps rbac-it bob

done_testing
