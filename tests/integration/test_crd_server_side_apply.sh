#!/usr/bin/env bash
# Server-side apply on custom resources follows the CRD schema's list and
# map types (extension issue), as upstream: x-kubernetes-list-type map
# merges items by their x-kubernetes-list-map-keys, set merges by value,
# additionalProperties maps merge by key, while lists without a list type
# and maps marked x-kubernetes-map-type: atomic are owned whole - seen with
# two appliers through the real kubectl.
source "$(dirname "$0")/lib.sh"
start_apiserver
kube apply -f - >/dev/null <<'YAML'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: things.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: things, singular: thing, kind: Thing}
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
              ports:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [name]
                items: {type: object, required: [name], properties: {name: {type: string}, port: {type: integer}}}
              tags: {type: array, x-kubernetes-list-type: set, items: {type: string}}
              labels: {type: object, additionalProperties: {type: string}}
              hosts: {type: array, items: {type: string}}
              selector:
                type: object
                x-kubernetes-map-type: atomic
                additionalProperties: {type: string}
YAML
wait_until "CRD established" 50 kube wait --for condition=established --timeout=5s crd/things.example.com
apply() { # MANAGER SPEC-YAML [kubectl args]
  local m=$1 spec=$2; shift 2
  printf 'apiVersion: example.com/v1\nkind: Thing\nmetadata: {name: t}\nspec: %s\n' "$spec" |
    kube apply --server-side --field-manager="$m" "$@" -f -
}
ok "first applier" apply ma '{ports: [{name: a, port: 1}], tags: [red], labels: {a: "1"}, hosts: [h1], selector: {app: x}}'
ok "second applier, other items of the same lists and maps: no conflict" \
  apply mb '{ports: [{name: b, port: 2}], tags: [blue], labels: {b: "2"}}'
spec() { kube get thing t -o jsonpath="{.spec.$1}"; }
expect_eq "list-map items merged by key" '[{"name":"a","port":1},{"name":"b","port":2}]' "$(spec ports)"
expect_eq "set items merged by value" '["red","blue"]' "$(spec tags)"
expect_eq "map keys merged" '{"a":"1","b":"2"}' "$(spec labels)"
OUT=$(kube get thing t --show-managed-fields -o json)
expect_match "ownership by item key" 'k:\{\\"name\\":\\"b\\"\}' "$OUT"
expect_match "ownership by set value" 'v:\\"blue\\"' "$OUT"
ko "a list without a list type is atomic: another applier conflicts" apply mb '{hosts: [h2]}'
expect_match "with upstream's conflict" 'conflict with "ma": \.spec\.hosts' "$OUT"
ko "an atomic map too" apply mb '{selector: {app: y}}'
expect_match "on the whole map" '\.spec\.selector' "$OUT"
ko "the same list-map item's field conflicts" apply mb '{ports: [{name: a, port: 9}]}'
expect_match "naming the item" '\.spec\.ports\[name="a"\]\.port' "$OUT"
ok "the first applier drops its item" apply ma '{tags: [red], labels: {a: "1"}, hosts: [h1], selector: {app: x}}'
expect_eq "only its item goes" '[{"name":"b","port":2}]' "$(spec ports)"
ok "--force-conflicts takes an atomic list over" apply mb '{ports: [{name: b, port: 2}], tags: [blue], labels: {b: "2"}, hosts: [h2]}' --force-conflicts
expect_eq "replaced whole" '["h2"]' "$(spec hosts)"
done_testing
