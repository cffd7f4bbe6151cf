"""Negative control: a Discord interactions endpoint that never verifies.

It responds like the reference implementations (PING gets {"type":1}, a
slash command gets {"type":5}, a body that is not an interaction of a
handled type gets 400) but skips the signature check, so every request that
should get 401 is served. The contract vectors must catch it; Discord
removes such an endpoint when its own invalid-signature checks get through.

Environment: PORT (default 8080); DISCORD_PUBLIC_KEY is read and ignored.
Listens on 0.0.0.0:PORT and exits 0 on SIGTERM or SIGINT. Standard library
only.
"""

import json
import os
import re
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BODY_MAX = 65536  # bytes; larger requests get 413
DECIMAL = re.compile(r"\A[0-9]{1,10}\Z")


def log(severity, message):
    sys.stderr.write(json.dumps({"severity": severity, "message": message}) + "\n")
    sys.stderr.flush()


def interaction_type(body):
    """Return the integer type of a JSON object body, or None."""
    try:
        interaction = json.loads(body)
    except ValueError:
        return None
    if not isinstance(interaction, dict):
        return None
    value = interaction.get("type")
    return value if type(value) is int else None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle's algorithm on, the
    # second waits for the client's delayed ACK, about 40 ms on Linux.
    disable_nagle_algorithm = True
    server_version = "discord-broken-accepts-any"
    sys_version = ""

    def reply(self, status, body, close=False):
        data = body.encode("ascii")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        if self.path.split("?", 1)[0] != "/interactions":
            self.reply(404, '{"error":"not found"}', close=True)
            return
        length = self.headers.get("Content-Length", "0")
        if not DECIMAL.match(length) or int(length) > BODY_MAX:
            self.reply(413, '{"error":"body too large"}', close=True)
            return
        body = self.rfile.read(int(length))
        # The deliberate defect: X-Signature-Ed25519 is never checked.
        kind = interaction_type(body)
        if kind == 1:
            self.reply(200, '{"type":1}')
        elif kind == 2:
            self.reply(200, '{"type":5}')
        else:
            self.reply(400, '{"error":"not an interaction of a handled type"}')

    def log_message(self, format, *args):
        """Keep request lines out of the log."""


def main():
    port_s = os.environ.get("PORT", "8080")
    if not DECIMAL.match(port_s) or not 1 <= int(port_s) <= 65535:
        log("ERROR", "PORT must be a number 1-65535")
        return 1
    port = int(port_s)
    ThreadingHTTPServer.allow_reuse_address = True
    httpd = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    httpd.daemon_threads = True

    def stop(signum, frame):
        log("INFO", "signal %d received, shutting down" % signum)
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log("WARNING", "listening on 0.0.0.0:%d WITHOUT signature checks "
        "(negative control)" % port)
    httpd.serve_forever()
    httpd.server_close()
    log("INFO", "stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
