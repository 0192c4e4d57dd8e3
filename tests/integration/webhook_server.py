#!/usr/bin/env python3
"""A test admission webhook server: HTTPS on 127.0.0.1 (loopback only).

usage: webhook_server.py PORT CERT KEY LOGFILE

Every AdmissionReview received is appended to LOGFILE as one JSON line
({"path", "operation", "name", "namespace", "uid", "user", "dryRun",
"hasObject", "oldName", "apiVersion"}).  What it answers depends on the path:
  /mutate      allowed, JSONPatch adding the label webhook-mutated=true
  /allow       allowed
  /deny        refused with message "denied by the test policy"
  /warn        allowed with the warning "test warning from webhook"
  /slow        writes LOGFILE.slow, sleeps 4 s, then allows
  /garbage     200 with a body that is not JSON
  /wronguid    allowed, with another uid than the request's
  /noop        allowed, not recorded; the time spent handling it is summed
               and GET /stats answers {"count": N, "seconds": S,
               "connections": C} (benchmarks)
"""
import base64
import http.server
import json
import ssl
import sys
import threading
import time

PORT, CERT, KEY, LOG = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
lock = threading.Lock()
noop_stats = {"count": 0, "seconds": 0.0, "connections": 0}


def record(path, review):
    rq = review.get("request") or {}
    old = rq.get("oldObject") or {}
    line = {
        "path": path,
        "apiVersion": review.get("apiVersion"),
        "operation": rq.get("operation"),
        "name": rq.get("name"),
        "namespace": rq.get("namespace"),
        "uid": rq.get("uid"),
        "user": (rq.get("userInfo") or {}).get("username"),
        "dryRun": rq.get("dryRun"),
        "hasObject": rq.get("object") is not None,
        "oldName": (old.get("metadata") or {}).get("name"),
        "optionsKind": (rq.get("options") or {}).get("kind"),
        "objectApiVersion": (rq.get("object") or {}).get("apiVersion"),
        "version": (rq.get("kind") or {}).get("version"),
        "requestVersion": (rq.get("requestKind") or {}).get("version"),
    }
    with lock, open(LOG, "a") as f:
        f.write(json.dumps(line) + "\n")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes

    def log_message(self, fmt, *args):
        pass

    def reply(self, body, ctype="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def setup(self):
        super().setup()
        with lock:
            noop_stats["connections"] += 1

    def do_GET(self):
        with lock:
            self.reply(dict(noop_stats))

    def do_POST(self):
        t0 = time.monotonic()
        n = int(self.headers.get("Content-Length", "0"))
        review = json.loads(self.rfile.read(n))
        path = self.path.split("?")[0]
        if path == "/noop":
            self.reply({"apiVersion": review["apiVersion"], "kind": "AdmissionReview",
                        "response": {"uid": review["request"]["uid"], "allowed": True}})
            with lock:
                noop_stats["count"] += 1
                noop_stats["seconds"] += time.monotonic() - t0
            return
        record(path, review)
        rq = review["request"]
        resp = {"uid": rq["uid"], "allowed": True}
        if path == "/mutate":
            labels = ((rq.get("object") or {}).get("metadata") or {}).get("labels")
            if labels is None:
                ops = [{"op": "add", "path": "/metadata/labels", "value": {"webhook-mutated": "true"}}]
            else:
                ops = [{"op": "add", "path": "/metadata/labels/webhook-mutated", "value": "true"}]
            resp["patchType"] = "JSONPatch"
            resp["patch"] = base64.b64encode(json.dumps(ops).encode()).decode()
        elif path == "/deny":
            resp = {"uid": rq["uid"], "allowed": False, "status": {"message": "denied by the test policy"}}
        elif path == "/warn":
            resp["warnings"] = ["test warning from webhook"]
        elif path == "/slow":
            open(LOG + ".slow", "w").close()
            time.sleep(4)
        elif path == "/garbage":
            self.reply(b"this is not an AdmissionReview", "text/plain")
            return
        elif path == "/wronguid":
            resp["uid"] = "not-" + rq["uid"]
        self.reply({"apiVersion": review["apiVersion"], "kind": "AdmissionReview", "response": resp})


srv = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(CERT, KEY)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.daemon_threads = True
srv.serve_forever()
