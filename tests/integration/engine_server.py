"""HTTP/1.1 keep-alive test server for the engine's integration tests.

Listens on 127.0.0.1 (port 0 unless --port), writes the bound port to
--port-file, and appends one line per accepted connection to --conn-log.
With --generation-log, appends each
request's X-Request-Generation header ("-" without one). Every response
is written in two send() calls, headers then body, with
Nagle's algorithm left on unless --nodelay: the pattern that stalls on a
client's delayed ACK. Standard library only.
"""
import argparse
import socket
import socketserver
import ssl
import threading
import time

ARGS = None
LOG_LOCK = threading.Lock()


def read_request(rfile):
    """Reads one request; returns its X-Request-Generation value (b"" when
    it has none), or None at the end of the stream."""
    line = rfile.readline(65537)
    if not line:
        return None
    length = 0
    generation = b""
    while True:
        h = rfile.readline(65537)
        if not h or h in (b"\r\n", b"\n"):
            break
        name, _, value = h.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
        elif name.strip().lower() == b"x-request-generation":
            generation = value.strip()
    if length:
        rfile.read(length)
    return generation


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        if ARGS.conn_log:
            with LOG_LOCK, open(ARGS.conn_log, "a") as f:
                f.write("conn\n")
        if ARGS.nodelay:
            self.connection.setsockopt(socket.IPPROTO_TCP,
                                       socket.TCP_NODELAY, 1)
        served = 0
        body = b"hello from the engine test server\n"
        while True:
            generation = read_request(self.rfile)
            if generation is None:
                break
            if ARGS.generation_log:
                with LOG_LOCK, open(ARGS.generation_log, "ab") as f:
                    f.write((generation or b"-") + b"\n")
            if ARGS.hang:
                time.sleep(3600)
            served += 1
            close = ARGS.close_every and served % ARGS.close_every == 0
            head = ("HTTP/1.1 %d Test\r\nContent-Type: text/plain\r\n"
                    "Content-Length: %d\r\n%s\r\n" % (
                        ARGS.status, len(body),
                        "Connection: close\r\n" if close else ""))
            self.connection.sendall(head.encode())
            self.connection.sendall(body)
            if close:
                return


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def get_request(self):
        sock, addr = super().get_request()
        if ARGS.cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(ARGS.cert, ARGS.key)
            sock = ctx.wrap_socket(sock, server_side=True)
        return sock, addr


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--conn-log")
    p.add_argument("--generation-log",
                   help="append each request's X-Request-Generation")
    p.add_argument("--status", type=int, default=200)
    p.add_argument("--close-every", type=int, default=0)
    p.add_argument("--nodelay", action="store_true")
    p.add_argument("--hang", action="store_true")
    p.add_argument("--cert")
    p.add_argument("--key")
    ARGS = p.parse_args()
    srv = Server(("127.0.0.1", ARGS.port), Handler)
    if ARGS.port_file:
        with open(ARGS.port_file + ".tmp", "w") as f:
            f.write("%d\n" % srv.server_address[1])
        import os
        os.rename(ARGS.port_file + ".tmp", ARGS.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
