"""HTTP listener for the Scheduler and Tasks tests.

Usage: localcloud_sched_listener.py PORT LOG [FAILURES]

Serves on 127.0.0.1:PORT and appends one JSON line per request to LOG:
arrival time (Unix seconds), method, path, headers and base64 body. The
first FAILURES requests (default 0) get HTTP 503, later ones 200, so a
test can exercise retries.
"""
import base64
import http.server
import json
import sys
import threading
import time

PORT = int(sys.argv[1])
LOG = sys.argv[2]
FAILURES = int(sys.argv[3]) if len(sys.argv) > 3 else 0
LOCK = threading.Lock()
COUNT = [0]


class Handler(http.server.BaseHTTPRequestHandler):
    def handle_any(self):
        arrived = time.time()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        with LOCK:
            COUNT[0] += 1
            status = 503 if COUNT[0] <= FAILURES else 200
            record = {
                "time": arrived,
                "method": self.command,
                "path": self.path,
                "headers": {k: v for k, v in self.headers.items()},
                "body": base64.b64encode(body).decode(),
                "status": status,
            }
            with open(LOG, "a") as f:
                f.write(json.dumps(record) + "\n")
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

    def log_message(self, fmt, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
