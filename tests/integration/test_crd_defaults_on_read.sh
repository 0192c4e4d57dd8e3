#!/usr/bin/env bash
# Defaults of a CRD schema apply on read as well as on write (extension
# issue, as upstream): a default added to the schema after an object was
# stored shows in get, list and watch of that object, without the object
# being written again.
source "$(dirname "$0")/lib.sh"
start_apiserver
crd() { # SIZE-SCHEMA
  kube apply -f - <<YAML
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              name: {type: string}
              size: $1
YAML
}
ok "CRD without a default" crd "{type: integer}"
wait_until "established" 50 kube wait --for condition=established --timeout=5s crd/gadgets.example.com
kube apply -f - >/dev/null <<'YAML'
apiVersion: example.com/v1
kind: Gadget
metadata: {name: old}
spec: {name: x}
YAML
RV=$(kube get gadget old -o jsonpath='{.metadata.resourceVersion}')
expect_eq "no size before" "" "$(kube get gadget old -o jsonpath='{.spec.size}')"
ok "a default added to the schema" crd "{type: integer, default: 5}"
wait_until "get shows the default on the object stored before" 50 \
  bash -c "[[ \$(kubectl --cache-dir '$WORK/kcache' get gadget old -o jsonpath='{.spec.size}') == 5 ]]"
expect_eq "so does list" "5" "$(kube get gadgets -o jsonpath='{.items[0].spec.size}')"
expect_match "and watch" '"size":5' "$(curl -sN --max-time 2 "$API_URL/apis/example.com/v1/namespaces/default/gadgets?watch=1" || true)"
expect_eq "the object was not written again" "$RV" "$(kube get gadget old -o jsonpath='{.metadata.resourceVersion}')"
done_testing
