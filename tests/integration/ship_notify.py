"""Stands in for systemd's notification socket in ship_notify.sh.

  ship_notify.py SOCKET OUTPUT RUNTIME_DIR HEALTH_URL SECONDS

Binds a datagram socket at SOCKET and writes one JSON line to OUTPUT per
message: its text, the sender's pid (from SCM_CREDENTIALS, which systemd
also uses to tell the main process) and, for READY=1, which worker sockets
exist in RUNTIME_DIR and the HTTP status of HEALTH_URL at that moment.
Exits after STOPPING=1, or after SECONDS in all.
"""

import json
import os
import socket
import stat
import struct
import sys
import time
import urllib.error
import urllib.request

WORKERS = ("stated", "deployd", "measured", "frontd")


def health_status(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return reply.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0


def is_socket(path):
    try:
        return stat.S_ISSOCK(os.stat(path).st_mode)
    except OSError:
        return False


def main(argv):
    path, output, runtime_dir, health_url = argv[1:5]
    deadline = time.monotonic() + float(argv[5])
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    sock.bind(path)
    ucred = struct.calcsize("iII")
    with open(output, "w", encoding="utf-8") as out:
        while time.monotonic() < deadline:
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                data, ancillary, _, _ = sock.recvmsg(
                    4096, socket.CMSG_SPACE(ucred))
            except socket.timeout:
                break
            pid = None
            for level, kind, value in ancillary:
                if (level == socket.SOL_SOCKET and
                        kind == socket.SCM_CREDENTIALS):
                    pid = struct.unpack("iII", value[:ucred])[0]
            text = data.decode("utf-8", "replace")
            record = {"message": text, "pid": pid}
            if "READY=1" in text.split("\n"):
                record["sockets"] = {
                    w: is_socket(os.path.join(runtime_dir, w + ".sock"))
                    for w in WORKERS}
                record["health"] = health_status(health_url)
            out.write(json.dumps(record) + "\n")
            out.flush()
            if "STOPPING=1" in text.split("\n"):
                break
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
