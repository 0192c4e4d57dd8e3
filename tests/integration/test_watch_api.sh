#!/usr/bin/env bash
# Watch and list semantics over plain HTTP, as curl and client libraries see
# them: replay from a revision with the events' content, selectors,
# bookmarks carrying the current resourceVersion, a watch from a revision
# the server has not reached yet, 410 Expired inside a 200 watch, a list
# from a too-new revision (504), metadata-only watches, pagination with
# remainingItemCount.  Every watch must answer 200 and end cleanly.
source "$(dirname "$0")/lib.sh"
# bookmarks every second instead of every minute
export KUBE_WATCH_BOOKMARK_INTERVAL=1s
# revisions stay watchable for 5 to 10 s
start_apiserver --etcd-compaction-interval=5s
CM=$API_URL/api/v1/namespaces/default/configmaps
# the system interpreter: a version manager's shim can take a second to start
PY=$(command -v /usr/bin/python3 || command -v python3)

# mk NAME LABEL: creates a ConfigMap, prints its resourceVersion (quickly:
# writes must land while a watch runs)
mk() {
  curl -fsS -X POST -H 'Content-Type: application/json' \
    -d "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"$1\",\"labels\":{\"k\":\"$2\"}}}" "$CM" |
    sed -n 's/.*"resourceVersion":"\([0-9]*\)".*/\1/p'
  echo # the body ends without a newline, and so does sed's output
}
rv() { curl -fsS "$CM" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["resourceVersion"])'; }

# watch URL [curl args]: the stream in $OUT; fails unless curl succeeded
# and the answer was 200
watch() {
  local url=$1 raw rc=0
  shift
  raw=$(curl -sS -N --max-time 30 -w '\n#HTTP %{http_code}' "$@" "$url") || rc=$?
  [[ $rc -eq 0 ]] || { echo "$raw"; fail "watch $url: curl exit $rc"; }
  local code=${raw##*#HTTP }
  [[ $code == 200 ]] || { echo "$raw"; fail "watch $url: HTTP $code"; }
  OUT=${raw%$'\n'#HTTP *}
  OUT=${OUT%$'\n'}
}

# events: "TYPE:name" per event; fails on a line that is not one JSON event
events() {
  "$PY" -c '
import json, sys
out = []
for line in sys.stdin:
    if not line.strip():
        continue
    e = json.loads(line)
    assert set(e) == {"type", "object"}, e
    out.append(e["type"] + ":" + e["object"]["metadata"].get("name", ""))
print(" ".join(out))' <<<"$OUT"
}

mk w1 a >/dev/null
RV1=$(rv)
mk w2 a >/dev/null
mk w3 b >/dev/null
curl -fsS -o /dev/null -X PATCH -H 'Content-Type: application/merge-patch+json' -d '{"data":{"x":"1"}}' "$CM/w2"
curl -fsS -o /dev/null -X DELETE "$CM/w3"

# replay from a revision: types, order and content
watch "$CM?watch=true&resourceVersion=$RV1&timeoutSeconds=1"
expect_eq "replay from a revision" "ADDED:w2 ADDED:w3 MODIFIED:w2 DELETED:w3" "$(events)"
expect_eq "one event per line" 4 "$(grep -c '' <<<"$OUT")"
ok "replayed objects as stored" "$PY" -c '
import json, sys
rv0 = int(sys.argv[1]); last = rv0
for line in sys.argv[2].splitlines():
    e = json.loads(line); o = e["object"]
    assert o["kind"] == "ConfigMap" and o["apiVersion"] == "v1", o
    rv = int(o["metadata"]["resourceVersion"])
    assert rv > last, (rv, last)
    last = rv
    if e["type"] == "MODIFIED":
        assert o["data"] == {"x": "1"}, o
    if e["type"] == "ADDED":
        assert o["metadata"]["labels"]["k"] in ("a", "b"), o
' "$RV1" "$OUT"

watch "$CM?watch=1&resourceVersion=$RV1&labelSelector=k%3Db&timeoutSeconds=1"
expect_eq "label-filtered replay" "ADDED:w3 DELETED:w3" "$(events)"

# metadata-only watch (client-go's metadata informers)
watch "$CM?watch=1&resourceVersion=$RV1&labelSelector=k%3Db&timeoutSeconds=1" \
  -H 'Accept: application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1'
ok "metadata-only watch events" "$PY" -c '
import json, sys
ev = [json.loads(l) for l in sys.argv[1].splitlines() if l.strip()]
assert [e["type"] for e in ev] == ["ADDED", "DELETED"], ev
for e in ev:
    o = e["object"]
    assert o["kind"] == "PartialObjectMetadata" and o["apiVersion"] == "meta.k8s.io/v1", o
    assert set(o) == {"kind", "apiVersion", "metadata"} and o["metadata"]["name"] == "w3", o
' "$OUT"

# the python client spells booleans the Go way
watch "$CM?watch=True&timeoutSeconds=1"
expect_eq "watch without resourceVersion starts with the current state" "ADDED:w1 ADDED:w2" "$(events)"

# bookmarks: only when allowed, carrying the newest revision
NOW=$(rv)
watch "$CM?watch=1&resourceVersion=$NOW&timeoutSeconds=2"
expect_eq "no bookmark unless allowed" "" "$(events)"
watch "$CM?watch=1&resourceVersion=$NOW&allowWatchBookmarks=true&timeoutSeconds=3"
expect_match "bookmarks when allowed" '^BOOKMARK:' "$(events)"
ok "bookmark carries the current resourceVersion" "$PY" -c '
import json, sys
bms = [json.loads(l)["object"] for l in sys.argv[2].splitlines() if l.strip()]
assert bms, "no bookmark"
for o in bms:
    assert o["kind"] == "ConfigMap" and o["apiVersion"] == "v1", o
    assert o["metadata"]["resourceVersion"] == sys.argv[1], (o, sys.argv[1])
' "$NOW" "$OUT"
# a write during the watch: its event, then bookmarks at its revision
( sleep 1; mk during a >"$WORK/during.rv" ) &
WRITER=$!
watch "$CM?watch=1&resourceVersion=$NOW&allowWatchBookmarks=true&timeoutSeconds=4"
wait "$WRITER"
DURING=$(cat "$WORK/during.rv")
ok "the last bookmark follows the newest write" "$PY" -c '
import json, sys
ev = [json.loads(l) for l in sys.argv[2].splitlines() if l.strip()]
added = [e for e in ev if e["type"] == "ADDED"]
assert [e["object"]["metadata"]["name"] for e in added] == ["during"], ev
bms = [e for e in ev if e["type"] == "BOOKMARK"]
assert bms and bms[-1]["object"]["metadata"]["resourceVersion"] == sys.argv[1], (bms, sys.argv[1])
' "$DURING" "$OUT"

# a watch from a revision the server has not reached waits for it: only
# events after that revision arrive
NOW=$(rv)
FUTURE=$((NOW + 2))
( sleep 0.5; for n in f1 f2 f3; do mk "$n" f; done >"$WORK/future.rv" ) &
WRITER=$!
watch "$CM?watch=1&resourceVersion=$FUTURE&timeoutSeconds=3"
wait "$WRITER"
WANT=$(paste -d' ' <(echo f1 f2 f3 | tr ' ' '\n') "$WORK/future.rv" | awk -v f="$FUTURE" '$2 > f {printf "%sADDED:%s", s, $1; s=" "}')
expect_eq "a watch from a future revision starts after it" "$WANT" "$(events)"
[[ -n "$WANT" ]] || fail "the writes did not pass the future revision"

# a list from a revision the server does not reach within ~3 s: 504
OUT=$(curl -sS -w '\n%{http_code}' "$CM?resourceVersion=$((NOW + 1000))")
expect_eq "too-new list is 504" 504 "$(tail -1 <<<"$OUT")"
expect_match "Timeout, Too large resource version" '"reason":"Timeout".*"causes":\[\{"reason":"ResourceVersionTooLarge","message":"Too large resource version"' "$(head -1 <<<"$OUT")"

# too old: after compaction, a watch from revision 1 gets one ERROR event with 410
for i in $(seq 1 5); do mk "late$i" c >/dev/null; done
sleep 6
watch "$CM?watch=1&resourceVersion=1"
expect_eq "one ERROR event" "ERROR:" "$(events)"
expect_match "ERROR event with Expired" '"type":"ERROR".*"code":410' "$OUT"
expect_match "reason Expired" '"reason":"Expired"' "$OUT"

# pagination: limit and continue; remainingItemCount without selectors
for i in $(seq 1 7); do mk "page$i" p >/dev/null; done
page=$(curl -fsS "$CM?labelSelector=k%3Dp&limit=3")
names=$("$PY" -c 'import json,sys; d=json.load(sys.stdin); print(" ".join(i["metadata"]["name"] for i in d["items"]), bool(d["metadata"].get("continue")), d["metadata"].get("remainingItemCount"))' <<<"$page")
expect_eq "first page (no remainingItemCount with a selector)" "page1 page2 page3 True None" "$names"
tok=$("$PY" -c 'import json,sys,urllib.parse; print(urllib.parse.quote(json.load(sys.stdin)["metadata"]["continue"]))' <<<"$page")
page=$(curl -fsS "$CM?labelSelector=k%3Dp&limit=3&continue=$tok")
names=$("$PY" -c 'import json,sys; d=json.load(sys.stdin); print(" ".join(i["metadata"]["name"] for i in d["items"]))' <<<"$page")
expect_eq "second page" "page4 page5 page6" "$names"
TOTAL=$(curl -fsS "$CM" | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')
page=$(curl -fsS "$CM?limit=4")
expect_eq "remainingItemCount" "$((TOTAL - 4))" "$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["remainingItemCount"])' <<<"$page")"
tok=$("$PY" -c 'import json,sys,urllib.parse; print(urllib.parse.quote(json.load(sys.stdin)["metadata"]["continue"]))' <<<"$page")
page=$(curl -fsS "$CM?limit=$((TOTAL - 4))&continue=$tok")
expect_eq "last page has neither continue nor remainingItemCount" "None None" \
  "$("$PY" -c 'import json,sys; m=json.load(sys.stdin)["metadata"]; print(m.get("continue"), m.get("remainingItemCount"))' <<<"$page")"
empty=$(curl -fsS "$CM?labelSelector=k%3Dnone")
expect_match "empty list has items []" '"items":\[\]' "$empty"
done_testing
