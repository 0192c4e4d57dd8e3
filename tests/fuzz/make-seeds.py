#!/usr/bin/env python3
"""Writes the seed corpora under tests/fuzz/corpus/<target>/ from the unit
tests' own case tables (string literals in tests/unit/*.c) plus a few
hand-written requests and protobuf envelopes.  Files are named seed-*;
regression inputs (regress-*) are never touched.  Run from anywhere:
  python3 tests/fuzz/make-seeds.py
"""
import hashlib
import os
import re
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")
MAX_SEEDS = 40
MAX_BYTES = 4096

LIT = re.compile(r'"((?:[^"\\\n]|\\.)*)"')


def c_unescape(s):
    out, i = bytearray(), 0
    while i < len(s):
        c = s[i]
        if c != "\\":
            out += c.encode()
            i += 1
            continue
        n = s[i + 1]
        i += 2
        if n in "01234567":
            j = i - 1
            while j < len(s) and j < i + 2 and s[j] in "01234567":
                j += 1
            out.append(int(s[i - 1:j], 8) & 0xFF)
            i = j
        elif n == "x":
            j = i
            while j < len(s) and s[j] in "0123456789abcdefABCDEF":
                j += 1
            out.append(int(s[i:j], 16) & 0xFF)
            i = j
        else:
            out += {"n": b"\n", "r": b"\r", "t": b"\t", "0": b"\0"}.get(n, n.encode())
    return bytes(out)


def literals(path):
    """String literals of a C file; adjacent literals are joined."""
    text = open(os.path.join(ROOT, path)).read()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    out = []
    for line in text.split("\n"):
        if line.lstrip().startswith("#"):
            continue
        lits = [c_unescape(m) for m in LIT.findall(line)]
        out.extend(lits)
    return out


def rows(path, lead):
    """Brace rows like {"a", "b", ...} that start with a literal on one line."""
    text = open(os.path.join(ROOT, path)).read()
    out = []
    for m in re.finditer(r'\{\s*(' + lead + r')', text):
        end = text.find("}", m.end())
        # rows may contain JSON braces inside literals: take the literals up to the line end
        line_end = text.find("\n", m.start())
        seg = text[m.start():line_end]
        out.append([c_unescape(x) for x in LIT.findall(seg)])
    return out


def write(target, seeds):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        if f.startswith("seed-"):
            os.unlink(os.path.join(d, f))
    seen, n = set(), 0
    for s in seeds:
        if not s or len(s) > MAX_BYTES or s in seen:
            continue
        seen.add(s)
        name = "seed-" + hashlib.sha1(s).hexdigest()[:12]
        open(os.path.join(d, name), "wb").write(s)
        n += 1
        if n == MAX_SEEDS:
            break
    print(f"{target}: {n} seeds")


def spread(items, k=MAX_SEEDS):
    """Up to k items taken evenly from the whole list."""
    if len(items) <= k:
        return items
    step = len(items) / k
    return [items[int(i * step)] for i in range(k)]


def jq(b):  # the unit tests write JSON with single quotes
    return b.replace(b"'", b'"')


# ---- HTTP requests (the framing test_http_server.c exercises) ----
http = [
    b"GET /echo?q=1&id=a HTTP/1.1\r\nHost: x\r\nX-Test: t\r\n\r\n",
    b"GET /api/v1/namespaces/default/pods?labelSelector=app%3Dweb&limit=5 HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"kind\":\"x\"}\n",
    b"PUT /async?ms=0 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    b"POST /bstream HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nbody",
    b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nConnection: close\r\n\r\n",
    b"GET /c HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nraw bytes after",
    b"GET /echo HTTP/1.0\r\n\r\n",
    b"GET /bstream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    b"HEAD /echo HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /echo?e=v&n=X-Extra HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /echo?e=a%0d%0ab:c HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /%7euser/a%2Fb?x=%zz&y=+1 HTTP/1.1\r\nHost: x\r\nA: 1\r\nA: 2\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n",
    b"GET /echo HTTP/1.1\r\nExpect: 200-ok\r\n\r\n",
    b"BREW / HTTP/1.1\r\n\r\n",
    b"GET /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
]

# ---- protobuf envelopes ("k8s\0" + runtime.Unknown) ----


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def field(num, payload):
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def fint(num, v):
    return varint(num << 3) + varint(v & 0xFFFFFFFFFFFFFFFF)


def envelope(api_version, kind, raw):
    tm = field(1, api_version) + field(2, kind)
    return b"k8s\0" + field(1, tm) + field(2, raw) + field(4, b"application/vnd.kubernetes.protobuf")


def meta(name, ns=b"default", labels=()):
    m = field(1, name) + field(3, ns)
    for k, v in labels:
        m += field(11, field(1, k) + field(2, v))
    return m


container = field(1, b"web") + field(2, b"nginx:1.25") + field(6, fint(3, 80))
pod = field(1, meta(b"web-0", labels=[(b"app", b"web")])) + field(2, field(2, container) + fint(5, 30))
cm = field(1, meta(b"cfg")) + field(2, field(1, b"key") + field(2, b"value"))
svc = field(1, meta(b"svc")) + field(2, field(1, field(1, b"http") + fint(3, 80)) + field(2, field(1, b"app") + field(2, b"web")))
dep = field(1, meta(b"web")) + field(2, fint(1, 3) + field(2, field(1, field(1, b"app") + field(2, b"web"))))
delopts = fint(1, 30) + field(4, b"Foreground") + field(5, b"All")
protobuf = [
    envelope(b"v1", b"Pod", pod),
    envelope(b"v1", b"ConfigMap", cm),
    envelope(b"v1", b"Service", svc),
    envelope(b"apps/v1", b"Deployment", dep),
    envelope(b"v1", b"DeleteOptions", delopts),
    envelope(b"meta.k8s.io/v1", b"DeleteOptions", delopts),
    envelope(b"v1", b"Nope", b""),
    b"k8s\0",
]

# ---- kubeconfigs (files the target's directory holds: ca.crt, client.crt, client.key, token) ----
kubeconfig = [
    b"""apiVersion: v1
kind: Config
current-context: ctx
clusters:
- name: c
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority: ca.crt
    tls-server-name: kubernetes
contexts:
- name: ctx
  context: {cluster: c, user: u, namespace: default}
users:
- name: u
  user:
    client-certificate: client.crt
    client-key: client.key
""",
    b"""apiVersion: v1
kind: Config
current-context: ctx
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}
contexts:
- name: ctx
  context: {cluster: c, user: u}
users:
- name: u
  user: {tokenFile: token}
""",
    b"""apiVersion: v1
kind: Config
current-context: ctx
clusters:
- name: c
  cluster:
    server: http://127.0.0.1:8080
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUIKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=
contexts:
- name: ctx
  context: {cluster: c, user: u}
- name: other
  context: {cluster: missing, user: u}
users:
- name: u
  user: {token: abc.def, username: admin, password: secret}
""",
    b"apiVersion: v1\nkind: Config\ncurrent-context: nope\n",
    b"{}\n",
]


def main():
    write("fuzz_http", http)

    api = [l for l in literals("tests/unit/test_api_router.c") if l.startswith(b"/")]
    queries = [l for l in literals("tests/unit/test_selector.c") if l and b"=" in l][:10]
    api_seeds = [p for p in api]
    api_seeds += [b"/api/v1/namespaces/default/pods?labelSelector=" + q.replace(b" ", b"+") + b"&limit=10\napplication/json\nObject" for q in queries]
    api_seeds += [
        b"/api/v1/pods?fieldSelector=spec.nodeName%3Dn1&watch=true&resourceVersion=5&allowWatchBookmarks=true\napplication/json;as=Table;v=v1;g=meta.k8s.io\nNone",
        b"/apis/apps/v1/namespaces/ns/deployments?continue=eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6NSwic3RhcnQiOiIvcmVnaXN0cnkvcG9kcy9hIn0&limit=1\napplication/yaml\nMetadata",
        b"/api/v1/nodes?resourceVersion=0&resourceVersionMatch=NotOlderThan&timeoutSeconds=30\napplication/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io, */*\n",
        b"/api/v1/namespaces/a/services/b/proxy/c?limit=-1\ntext/html\n",
    ]
    write("fuzz_api_request", spread(api_seeds))

    ylits = literals("tests/unit/test_yaml.c")
    write("fuzz_yaml", spread([l for l in ylits if b":" in l or b"-" in l or b"\n" in l]))

    write("fuzz_protobuf", protobuf)

    sel = []
    for l in literals("tests/unit/test_selector.c"):
        if len(l) < 200:
            sel.append(l + b"\0app=web;tier=frontend;environment=production;a=b")
    write("fuzz_selector", spread(sel))

    q = [l for l in literals("tests/unit/test_quantity.c") if len(l) < 48 and re.match(rb"^[-+ .0-9a-zA-Z\"]*$", l)]
    write("fuzz_quantity", spread(q))

    patch = []
    for r in rows("tests/unit/test_patch.c", r'"'):
        if len(r) >= 2 and r[0][:1] in (b"{", b"[") and r[1][:1] in (b"{", b"["):
            patch.append(jq(r[0]) + b"\0" + jq(r[1]))
    write("fuzz_patch", spread(patch))

    write("fuzz_kubeconfig", kubeconfig)

    js = [jq(l) for l in literals("tests/unit/test_json.c") if l[:1] in (b"{", b"[")]
    write("fuzz_json", spread(js))


main()
