#!/usr/bin/env bash
# selectableFields of a CRD version (extension issue): field selectors on
# custom resources by a string, an integer and a boolean field, through
# kubectl's --field-selector and a watch; fields not declared refused with
# upstream's message; fields made selectable later match objects written
# before; bad declarations refused at CRD write with upstream's messages.
source "$(dirname "$0")/lib.sh"
start_apiserver
crd() { # EXTRA-SELECTABLE-YAML
  kube apply -f - <<YAML
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
$1
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              color: {type: string, enum: [red, blue]}
              size: {type: integer}
              shiny: {type: boolean}
              tags: {type: array, items: {type: string}}
          status: {type: object, properties: {phase: {type: string}}}
YAML
}
ok "CRD without selectable fields" crd ""
wait_until "established" 50 kube wait --for condition=established --timeout=5s crd/widgets.example.com
w() { # NAME COLOR SIZE SHINY
  kube apply -f - >/dev/null <<YAML
apiVersion: example.com/v1
kind: Widget
metadata: {name: $1}
spec: {color: $2, size: $3, shiny: $4}
YAML
}
w a red 1 true
w b blue 2 false
w c red 3 false
ko "an undeclared field is refused" kube get widgets --field-selector spec.color=red
expect_match "with upstream's message" 'field label not supported: spec.color' "$OUT"

ok "selectable fields added" crd "    selectableFields: [{jsonPath: .spec.color}, {jsonPath: .spec.size}, {jsonPath: .spec.shiny}]"
names() { kube get widgets -o jsonpath='{.items[*].metadata.name}' "$@"; }
wait_until "objects written before match a string field" 50 bash -c "[[ \"\$(kubectl --cache-dir '$WORK/kcache' get widgets --field-selector spec.color=red -o jsonpath='{.items[*].metadata.name}')\" == 'a c' ]]"
expect_eq "an integer field" "b" "$(names --field-selector spec.size=2)"
expect_eq "a boolean field" "a" "$(names --field-selector spec.shiny=true)"
expect_eq "!= and two terms" "c" "$(names --field-selector 'spec.color!=blue,spec.shiny=false')"
expect_eq "metadata.name still works" "b" "$(names --field-selector metadata.name=b)"

# a watch filtered by a selectable field sees an object move in and out
curl -sN "$API_URL/apis/example.com/v1/namespaces/default/widgets?watch=1&fieldSelector=spec.color%3Dblue" >"$WORK/watch.out" &
WPID=$!
PIDS+=("$WPID")
sleep 1
# (kubectl apply of a changed custom resource: a merge patch, as the
# OpenAPI of a custom resource offers no strategic merge patch)
ok "kubectl apply changes an existing custom resource" w a blue 1 true
w a red 1 true
for _ in $(seq 1 50); do grep -c '"type"' "$WORK/watch.out" | grep -q '^[3-9]' && break; sleep 0.1; done
kill "$WPID" 2>/dev/null || true
expect_match "watch: b listed, a added when it turns blue" '"type":"ADDED".*"name":"a"' "$(grep '"name":"a"' "$WORK/watch.out" | head -1)"
expect_match "watch: a deleted from the view when it turns red" '"type":"DELETED"' "$(grep '"name":"a"' "$WORK/watch.out" | tail -1)"

# bad declarations
ko "a path to no field" crd "    selectableFields: [{jsonPath: .spec.nope}]"
expect_match "is an invalid path" 'spec.versions\[0\].selectableFields\[0\].jsonPath: Invalid value: ".spec.nope": is an invalid path: does not refer to a valid field' "$OUT"
ko "an array field" crd "    selectableFields: [{jsonPath: .spec.tags}]"
expect_match "must be a scalar" 'must point to a field of type string, boolean or integer' "$OUT"
ko "a duplicate" crd "    selectableFields: [{jsonPath: .spec.size}, {jsonPath: .spec.size}]"
expect_match "Duplicate value" 'spec.versions\[0\].selectableFields\[1\].jsonPath: Duplicate value: ".spec.size"' "$OUT"
ko "metadata" crd "    selectableFields: [{jsonPath: .metadata.name}]"
expect_match "not in metadata" 'must not point to fields in metadata|is an invalid path' "$OUT"
ok "the good CRD still serves" names --field-selector spec.color=red
done_testing
