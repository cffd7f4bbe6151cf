"""Discord interactions endpoint on the standard library's http.server.

POST /interactions verifies the Ed25519 signature (PyNaCl) over the
X-Signature-Timestamp string followed by the raw body bytes, then answers a
PING with {"type":1} and a slash command with a deferred response
({"type":5}). A bad or missing signature gets 401, a body that is not an
interaction of a handled type gets 400.

Environment: PORT (default 8080) and DISCORD_PUBLIC_KEY (64 hex characters).
Listens on 0.0.0.0:PORT and exits 0 on SIGTERM or SIGINT.
"""

import json
import os
import re
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

BODY_MAX = 65536  # bytes; larger requests get 413
TIMESTAMP_TOLERANCE = 300  # seconds between our clock and the sender's
SIGNATURE_HEX = re.compile(r"\A[0-9a-fA-F]{128}\Z")
TIMESTAMP = re.compile(r"\A[0-9]{1,18}\Z")
KEY_HEX = re.compile(r"\A[0-9a-fA-F]{64}\Z")
# str.isdigit() accepts digits int() rejects, such as "\u00b2".
DECIMAL = re.compile(r"\A[0-9]{1,10}\Z")

PING = 1
APPLICATION_COMMAND = 2


def log(severity, message):
    """Write one JSON log line, the form Cloud Logging reads, to stderr."""
    sys.stderr.write(json.dumps({"severity": severity, "message": message}) + "\n")
    sys.stderr.flush()


def signature_valid(key, signature, timestamp, body):
    """Return True when signature is valid for timestamp + body, exactly."""
    if not signature or not timestamp:
        return False
    # fromhex() would skip spaces, so the format is checked first.
    if not SIGNATURE_HEX.match(signature) or not TIMESTAMP.match(timestamp):
        return False
    if abs(time.time() - int(timestamp)) > TIMESTAMP_TOLERANCE:
        return False
    try:
        key.verify(timestamp.encode("ascii") + body, bytes.fromhex(signature))
    except BadSignatureError:
        return False
    return True


def interaction_type(body):
    """Return the integer type of a JSON object body, or None."""
    try:
        interaction = json.loads(body)
    except ValueError:  # also UnicodeDecodeError
        return None
    if not isinstance(interaction, dict):
        return None
    value = interaction.get("type")
    # bool is a subclass of int, and true is not an interaction type.
    if type(value) is not int:
        return None
    return value


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle's algorithm on, the
    # second waits for the client's delayed ACK, about 40 ms on Linux.
    disable_nagle_algorithm = True
    server_version = "discord-python"
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

    def read_body(self):
        """Return the body, or None after rejecting a request without a usable one."""
        if "Transfer-Encoding" in self.headers:
            self.reply(411, '{"error":"Content-Length required"}', close=True)
            return None
        length = self.headers.get("Content-Length", "0")
        if not DECIMAL.match(length):
            self.reply(400, '{"error":"invalid Content-Length"}', close=True)
            return None
        if int(length) > BODY_MAX:
            self.reply(413, '{"error":"body too large"}', close=True)
            return None
        return self.rfile.read(int(length))

    def do_POST(self):
        if self.path.split("?", 1)[0] != "/interactions":
            self.reply(404, '{"error":"not found"}', close=True)
            return
        body = self.read_body()
        if body is None:
            return
        # Header values arrive decoded as ISO-8859-1; the checks above
        # allow only ASCII, so no byte is lost.
        if not signature_valid(self.server.public_key,
                               self.headers.get("X-Signature-Ed25519"),
                               self.headers.get("X-Signature-Timestamp"),
                               body):
            self.reply(401, '{"error":"invalid request signature"}')
            return
        kind = interaction_type(body)
        if kind == PING:
            self.reply(200, '{"type":1}')
        elif kind == APPLICATION_COMMAND:
            # Deferred: a follow-up message would carry the result later.
            self.reply(200, '{"type":5}')
        else:
            self.reply(400, '{"error":"not an interaction of a handled type"}')

    def do_GET(self):
        self.reply(405, '{"error":"method not allowed"}', close=True)

    do_PUT = do_DELETE = do_PATCH = do_GET

    def log_message(self, format, *args):
        """Keep request lines out of the log: Cloud Run logs requests."""


def main():
    key_hex = os.environ.get("DISCORD_PUBLIC_KEY", "")
    if not KEY_HEX.match(key_hex):
        log("ERROR", "DISCORD_PUBLIC_KEY must be 64 hex characters")
        return 1
    port_s = os.environ.get("PORT", "8080")
    if not DECIMAL.match(port_s) or not 1 <= int(port_s) <= 65535:
        log("ERROR", "PORT must be a number 1-65535")
        return 1
    port = int(port_s)

    ThreadingHTTPServer.allow_reuse_address = True
    httpd = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    httpd.daemon_threads = True
    httpd.public_key = VerifyKey(bytes.fromhex(key_hex))

    def stop(signum, frame):
        log("INFO", "signal %d received, shutting down" % signum)
        # shutdown() waits for serve_forever(), so it must not run on the
        # thread that serve_forever() runs on.
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log("INFO", "listening on 0.0.0.0:%d" % port)
    httpd.serve_forever()
    httpd.server_close()
    log("INFO", "stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
