#!/usr/bin/env python3
"""A token service for docker-registry's `auth: token` (tests only).

token_issuer.py PORT KEY CERT LOG USER:PASSWORD
Answers GET /token?service=…&scope=… with an RS256 JWT signed by KEY (signed by openssl),
its certificate CERT in the x5c header (the registry trusts it through rootcertbundle).
Anonymous requests get pull only; USER:PASSWORD in basic auth gets what it asks for; a wrong
password gets 401. Each request is logged to LOG as "user scope".
"""
import base64, json, subprocess, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

port, key, cert, log, creds = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
der = subprocess.run(["openssl", "x509", "-in", cert, "-outform", "DER"], capture_output=True, check=True).stdout


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign(claims):
    header = {"alg": "RS256", "typ": "JWT", "x5c": [base64.b64encode(der).decode()]}
    head = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=head.encode(), capture_output=True, check=True).stdout
    return head + "." + b64(sig)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        q = parse_qs(urlparse(self.path).query)
        auth = self.headers.get("Authorization", "")
        user = ""
        if auth.startswith("Basic "):
            if base64.b64decode(auth[6:]).decode() != creds:
                self.send_response(401)
                self.end_headers()
                return
            user = creds.split(":")[0]
        access = []
        for scope in " ".join(q.get("scope", [])).split():
            kind, name, actions = scope.split(":")[0], ":".join(scope.split(":")[1:-1]), scope.split(":")[-1].split(",")
            granted = actions if user else [a for a in actions if a == "pull"]
            access.append({"type": kind, "name": name, "actions": granted})
        now = int(time.time())
        token = sign({"iss": "berth-test-issuer", "sub": user, "aud": q.get("service", [""])[0], "exp": now + 300,
                      "nbf": now - 10, "iat": now, "jti": str(time.time_ns()), "access": access})
        with open(log, "a") as f:
            f.write("%s %s\n" % (user or "-", " ".join(q.get("scope", []))))
        body = json.dumps({"token": token, "expires_in": 300}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(port)), Handler).serve_forever()
