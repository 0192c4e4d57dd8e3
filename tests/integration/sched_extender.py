#!/usr/bin/env python3
"""A scheduler extender for test_scheduler_profiles.sh, on loopback.

Usage: sched_extender.py PORTFILE LOGFILE API_URL EXCLUDED_NODE FAVOURED_NODE PREEMPT_NODE

Serves, under /ok:
  POST /ok/filter      ExtenderArgs -> ExtenderFilterResult: every node but
                       EXCLUDED_NODE passes; that one is in failedNodes with
                       "<node> is excluded by the test extender".
  POST /ok/prioritize  ExtenderArgs -> HostPriorityList: FAVOURED_NODE 10,
                       the others 0.
  POST /ok/bind        ExtenderBindingArgs -> ExtenderBindingResult: POSTs
                       the Binding to the API server itself.
  POST /ok/preempt     ExtenderPreemptionArgs -> ExtenderPreemptionResult:
                       keeps only PREEMPT_NODE, its victims by UID.
and, for the failure cases, /broken/* (500), /garbage/* (200, not JSON),
/slow/* (answers after 4 s).  Every request is appended to LOGFILE as one
JSON line {"path", "pod", "nodes", "via"} where via says whether the nodes
came as a NodeList ("nodes") or as names ("nodenames").  The port it
listens on is written to PORTFILE.
"""
import json
import os
import sys
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

portfile, logfile, api, excluded, favoured, preempt_node = sys.argv[1:7]


def log(entry):
    with open(logfile, "a") as f:
        f.write(json.dumps(entry) + "\n")


def node_names(args):
    for key in ("nodeNameToVictims", "nodeNameToMetaVictims"):
        if args.get(key) is not None:
            return sorted(args[key]), key
    if args.get("nodenames") is not None:
        return args["nodenames"], "nodenames"
    items = (args.get("nodes") or {}).get("items") or []
    return [n["metadata"]["name"] for n in items], "nodes"


class Handler(BaseHTTPRequestHandler):
    def log_message(self, fmt, *a):
        pass

    def reply(self, code, body, ctype="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        args = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        pod = (args.get("pod") or {}).get("metadata", {}).get("name") or args.get("podName")
        names, via = node_names(args)
        log({"path": self.path, "pod": pod, "nodes": names, "via": via,
             "ctype": self.headers.get("Content-Type"), "bind": args if "podName" in args else None})
        if self.path.startswith("/broken/"):
            return self.reply(500, {"error": "broken on purpose"})
        if self.path.startswith("/garbage/"):
            return self.reply(200, b"<html>not json</html>", "text/html")
        if self.path.startswith("/slow/"):
            time.sleep(4)
            return self.reply(200, {"nodenames": names} if via == "nodenames" else {"nodes": args.get("nodes")})
        if self.path == "/ok/filter":
            keep = [n for n in names if n != excluded]
            failed = {n: "%s is excluded by the test extender" % n for n in names if n == excluded}
            if via == "nodenames":
                return self.reply(200, {"nodenames": keep, "failedNodes": failed})
            items = [n for n in args["nodes"]["items"] if n["metadata"]["name"] in keep]
            return self.reply(200, {"nodes": {"metadata": {}, "items": items}, "failedNodes": failed})
        if self.path == "/ok/prioritize":
            return self.reply(200, [{"host": n, "score": 10 if n == favoured else 0} for n in names])
        if self.path == "/ok/preempt":
            victims = args.get("nodeNameToVictims") or {}
            log({"path": "victims", "pod": pod,
                 "nodes": {n: [p["metadata"]["name"] for p in v["pods"]] for n, v in victims.items()}})
            meta = {n: {"pods": [{"uid": p["metadata"]["uid"]} for p in v["pods"]],
                        "numPDBViolations": v["numPDBViolations"]}
                    for n, v in victims.items() if n == preempt_node}
            return self.reply(200, {"nodeNameToMetaVictims": meta})
        if self.path == "/ok/bind":
            binding = {"apiVersion": "v1", "kind": "Binding",
                       "metadata": {"name": args["podName"], "namespace": args["podNamespace"], "uid": args["podUID"]},
                       "target": {"apiVersion": "v1", "kind": "Node", "name": args["node"]}}
            req = urllib.request.Request(
                "%s/api/v1/namespaces/%s/pods/%s/binding" % (api, args["podNamespace"], args["podName"]),
                data=json.dumps(binding).encode(), headers={"Content-Type": "application/json"}, method="POST")
            try:
                urllib.request.urlopen(req, timeout=10).read()
            except Exception as e:  # the scheduler reports the error
                return self.reply(200, {"error": "binding failed: %s" % e})
            return self.reply(200, {})
        self.reply(404, {"error": "no such verb"})


srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
srv.daemon_threads = True
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
