"""Scripted stand-in for the Google APIs, for tests of the gcp client.

Listens on 127.0.0.1:PORT (the only argument). Every request except the
control ones under /_mock/ is recorded. The metadata server paths are built
in. Every other request takes the first scripted rule that matches its
method and path, or gets a 400 MOCK_UNSCRIPTED error.

Control endpoints (JSON bodies):
  POST /_mock/script    append rules: [{"method", "path", "status",
                        "json" | "text" | "bytes" (a length of "x"s),
                        "headers": {}, "delay": seconds, "times": n}]
  POST /_mock/config    metadata settings: {"expires_in": s,
                        "id_expires_in": s}
  POST /_mock/reset     clear rules, records and counters
  GET  /_mock/requests  the recorded requests, oldest first
"""

import base64
import http.server
import json
import sys
import threading
import time
import urllib.parse

LOCK = threading.Lock()
STATE = {}


def reset():
    STATE.update(rules=[], requests=[], tokens=0, identities=0,
                 expires_in=3600, id_expires_in=3600)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body=b"", ctype="application/json",
              headers=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def reply_json(self, status, obj, headers=None):
        self.reply(status, json.dumps(obj).encode(), headers=headers)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def handle_any(self):
        raw = self.body()
        path, _, query = self.path.partition("?")
        if path.startswith("/_mock/"):
            return self.control(path, raw)
        record = {
            "method": self.command, "path": path, "query": query,
            "params": urllib.parse.parse_qs(query, keep_blank_values=True),
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": raw.decode("utf-8", "replace"),
            "body_b64": base64.b64encode(raw).decode(),
        }
        with LOCK:
            STATE["requests"].append(record)

        if path.startswith("/computeMetadata/v1/"):
            return self.metadata(path[len("/computeMetadata/v1/"):],
                                 record["params"])
        rule = None
        with LOCK:
            for r in STATE["rules"]:
                if r.get("method", self.command) == self.command and \
                        r["path"] == path and r.get("times", 1) > 0:
                    r["times"] = r.get("times", 1) - 1
                    rule = r
                    break

        if rule is None:
            return self.reply_json(400, {"error": {
                "code": 400, "status": "MOCK_UNSCRIPTED",
                "message": "no rule for %s %s" % (self.command, path)}})
        if rule.get("delay"):
            time.sleep(rule["delay"])

        if "json" in rule:
            body = json.dumps(rule["json"]).encode()
            ctype = "application/json"
        elif "bytes" in rule:
            body = b"x" * rule["bytes"]
            ctype = "application/octet-stream"
        else:
            body = rule.get("text", "").encode()
            ctype = "text/plain"
        try:
            self.reply(rule.get("status", 200), body, ctype,
                       rule.get("headers"))
        except (BrokenPipeError, ConnectionResetError):
            pass

    def metadata(self, rest, params):
        if self.headers.get("Metadata-Flavor") != "Google":
            return self.reply(403, b"Missing Metadata-Flavor:Google header.",
                              "text/plain")
        flavor = {"Metadata-Flavor": "Google"}
        if rest == "instance/service-accounts/default/token":
            with LOCK:
                STATE["tokens"] += 1
                n, life = STATE["tokens"], STATE["expires_in"]
            return self.reply_json(200, {"access_token": "mock-access-%d" % n,
                                         "expires_in": life,
                                         "token_type": "Bearer"}, flavor)
        if rest == "instance/service-accounts/default/identity":
            aud = params.get("audience", [""])[0]
            with LOCK:
                STATE["identities"] += 1
                n, life = STATE["identities"], STATE["id_expires_in"]
            now = int(time.time())
            jwt = ".".join([
                b64url(b'{"alg":"RS256","typ":"JWT"}'),
                b64url(json.dumps({"aud": aud, "iat": now,
                                   "exp": now + life, "n": n}).encode()),
                b64url(b"mock-signature")])
            return self.reply(200, jwt.encode(), "text/plain", flavor)
        if rest == "project/project-id":
            return self.reply(200, b"mock-project", "text/plain", flavor)
        return self.reply(404, b"not found", "text/plain", flavor)

    def control(self, path, raw):
        if path == "/_mock/script":
            with LOCK:
                STATE["rules"].extend(json.loads(raw))
        elif path == "/_mock/config":
            with LOCK:
                STATE.update(json.loads(raw))
        elif path == "/_mock/reset":
            with LOCK:
                reset()
        elif path == "/_mock/requests":
            with LOCK:
                return self.reply_json(200, STATE["requests"])
        else:
            return self.reply(404)
        return self.reply_json(200, {})

    do_GET = do_POST = do_DELETE = do_PATCH = do_PUT = handle_any


def main():
    reset()
    server = http.server.ThreadingHTTPServer(("127.0.0.1",
                                              int(sys.argv[1])), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
