#!/usr/bin/env bash
# Watch semantics over plain HTTP, as curl and client libraries see them.
source "$(dirname "$0")/lib.sh"
start_apiserver --etcd-compaction-interval=2s
CM=$API_URL/api/v1/namespaces/default/configmaps
mk() { curl -fsS -o /dev/null -X POST -H 'Content-Type: application/json' \
  -d "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"$1\",\"labels\":{\"k\":\"$2\"}}}" "$CM"; }
rv() { curl -fsS "$CM" | python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["resourceVersion"])'; }

mk w1 a
RV1=$(rv)
mk w2 a
mk w3 b
curl -fsS -o /dev/null -X PATCH -H 'Content-Type: application/merge-patch+json' -d '{"data":{"x":"1"}}' "$CM/w2"
curl -fsS -o /dev/null -X DELETE "$CM/w3"

out=$(timeout 10 curl -sN "$CM?watch=true&resourceVersion=$RV1&timeoutSeconds=1")
types=$(python3 -c 'import json,sys; print(" ".join(json.loads(l)["type"]+":"+json.loads(l)["object"]["metadata"]["name"] for l in sys.stdin if l.strip()))' <<<"$out")
expect_eq "replay from a revision" "ADDED:w2 ADDED:w3 MODIFIED:w2 DELETED:w3" "$types"
n=$(grep -c '' <<<"$out")
expect_eq "one event per line" 4 "$n"

out=$(timeout 10 curl -sN "$CM?watch=1&resourceVersion=$RV1&labelSelector=k%3Db&timeoutSeconds=1")
types=$(python3 -c 'import json,sys; print(" ".join(json.loads(l)["type"]+":"+json.loads(l)["object"]["metadata"]["name"] for l in sys.stdin if l.strip()))' <<<"$out")
expect_eq "label-filtered replay" "ADDED:w3 DELETED:w3" "$types"

out=$(timeout 10 curl -sN "$CM?watch=True&timeoutSeconds=1")
expect_match "watch without resourceVersion starts with the current state" '"type":"ADDED".*"name":"w1"' "$out"

# the python client spells booleans the Go way
out=$(timeout 10 curl -sN "$CM?watch=1&resourceVersion=$(rv)&allowWatchBookmarks=true&timeoutSeconds=2")
pass "empty watch with bookmarks allowed ends on timeoutSeconds"

# too old: after compaction, a watch from revision 1 gets one ERROR event with 410
sleep 3
for i in $(seq 1 5); do mk "late$i" c; done
sleep 3
out=$(timeout 10 curl -sN -w '\n%{http_code}' "$CM?watch=1&resourceVersion=1")
expect_match "410 inside a 200 watch" '^200$' "$(tail -1 <<<"$out")"
expect_match "ERROR event with Expired" '"type":"ERROR".*"code":410' "$out"
expect_match "reason Expired" '"reason":"Expired"' "$out"

# pagination: limit and continue
for i in $(seq 1 7); do mk "page$i" p; done
page=$(curl -fsS "$CM?labelSelector=k%3Dp&limit=3")
names=$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ".join(i["metadata"]["name"] for i in d["items"]), bool(d["metadata"].get("continue")))' <<<"$page")
expect_eq "first page" "page1 page2 page3 True" "$names"
tok=$(python3 -c 'import json,sys,urllib.parse; print(urllib.parse.quote(json.load(sys.stdin)["metadata"]["continue"]))' <<<"$page")
page=$(curl -fsS "$CM?labelSelector=k%3Dp&limit=3&continue=$tok")
names=$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ".join(i["metadata"]["name"] for i in d["items"]))' <<<"$page")
expect_eq "second page" "page4 page5 page6" "$names"
empty=$(curl -fsS "$CM?labelSelector=k%3Dnone")
expect_match "empty list has items []" '"items":\[\]' "$empty"
done_testing
