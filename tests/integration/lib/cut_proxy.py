#!/usr/bin/env python3
"""An HTTP proxy in front of a registry that cuts one blob download midway (tests only).

cut_proxy.py PORT UPSTREAM(host:port) CUT_BYTES LOG [DIGEST...]
Forwards every request to UPSTREAM. The first GET of a blob larger than CUT_BYTES that asks
for no Range gets CUT_BYTES of its body, then the connection is closed. LOG gets one line per
request: "METHOD PATH range=RANGE" and "cut PATH after N" when it cuts.
With DIGESTs (sha256:…), a barrier: no GET of one of those blobs is answered before a GET of
each of them has arrived, so a client that fetches them one after another waits 20 s, after
which LOG gets "barrier timeout" and they are answered all the same.
"""
import http.client, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, upstream, cut, log = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
barrier = set(sys.argv[5:])
arrived = set()
all_arrived = threading.Condition()
state = {"cut": False}


def wait_barrier(path):
    digest = path.rsplit("/", 1)[-1]
    if digest not in barrier:
        return
    with all_arrived:
        arrived.add(digest)
        all_arrived.notify_all()
        if not all_arrived.wait_for(lambda: arrived >= barrier, timeout=20):
            note("barrier timeout %s" % path)
HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


def note(line):
    with open(log, "a") as f:
        f.write(line + "\n")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def forward(self):
        rng = self.headers.get("Range", "")
        note("%s %s range=%s" % (self.command, self.path, rng))
        length = int(self.headers.get("Content-Length", "0") or 0)
        body = self.rfile.read(length) if length else None
        if self.command == "GET" and "/blobs/" in self.path:
            wait_barrier(self.path)
        up = http.client.HTTPConnection(upstream, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        up.request(self.command, self.path, body=body, headers=headers)
        r = up.getresponse()
        data = r.read()
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in HOP:
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)) if self.command != "HEAD" else r.getheader("Content-Length", "0"))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command == "HEAD":
            return
        if "/blobs/" in self.path and self.command == "GET" and not rng and len(data) > cut and not state["cut"]:
            state["cut"] = True
            note("cut %s after %d" % (self.path, cut))
            self.wfile.write(data[:cut])
            self.wfile.flush()
            self.connection.close()
            return
        self.wfile.write(data)

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = forward

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
