#!/usr/bin/env python3
"""Benchmark of perf-agent-load against wrk and hey, plus a cold-start
truth check.

Targets, all on 127.0.0.1:
  nginx      Debian's nginx serving a static 200 reply. It starts here as
             the current user, from a config written to a temporary folder.
  c-libevent the C reference Discord webhook (POST /interactions with a
             signed PING), skipped when the build does not have it.

With two or more CPUs, the server is pinned to the last CPU and every
client to CPU 0 (taskset), so that no tool gets more cores than another and
the server never shares a core with the client; --no-pin turns that off.

For each target and concurrency (default 1, 10, 100) every round runs wrk
(-t1), hey and perf-agent-load, in an order that rotates per round, and
the medians over rounds are printed: throughput and its ratio to wrk and
to hey, p50 and p99 next to wrk's, and CPU time per request of each tool
(getrusage of the child, startup included).

Cold-start truth check: a listening socket is bound here; perf-agent-load
--cold connects to it (the kernel queues the connection, as Cloud Run's
front end holds a request during a cold start); as soon as the connection
is queued, a fresh Python process is started with the socket, sleeps D
seconds and only then accepts and answers. Measured cold start minus D is
the overhead: process start, interpreter start, the reply, the client.

Usage: bench/engine-bench.py --builddir BUILD [--duration 4] [--rounds 3]
Standard library only; signing uses /usr/bin/python3 with PyNaCl.
"""
import argparse
import json
import os
import re
import resource
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

DISCORD_BODY = b'{"type":1}'


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, seconds=10.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


CLIENT_PIN = []
SERVER_PIN = []


def run_measured(cmd, timeout):
    """Runs a client command; returns (stdout, CPU seconds of the child)."""
    cmd = CLIENT_PIN + cmd
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (
            cmd[0], p.returncode, p.stderr.decode(errors="replace")[-400:]))
    return p.stdout.decode(errors="replace"), cpu


def to_ms(value, unit):
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def run_wrk(target, conc, duration, workdir):
    cmd = ["wrk", "-t1", "-c%d" % conc, "-d%ds" % duration, "--latency"]
    if target["method"] == "POST":
        script = os.path.join(workdir, "wrk-post.lua")
        with open(script, "w") as f:
            f.write('wrk.method = "POST"\nwrk.body = %s\n' %
                    json.dumps(target["body"].decode()))
            for h in target["headers"]:
                name, _, value = h.partition(":")
                f.write("wrk.headers[%s] = %s\n" % (
                    json.dumps(name.strip()), json.dumps(value.strip())))
        cmd += ["-s", script]
    out, cpu = run_measured(cmd + [target["url"]], duration + 60)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    lat = dict((p, to_ms(v, u)) for p, v, u in re.findall(
        r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = int(non2xx.group(1)) if non2xx else 0
    return {"rps": rps, "p50": lat.get("50"), "p99": lat.get("99"),
            "cpu_us": cpu * 1e6 / max(total, 1), "errors": errors}


def run_hey(target, conc, duration):
    cmd = ["hey", "-z", "%ds" % duration, "-c", str(conc)]
    if target["method"] == "POST":
        cmd += ["-m", "POST", "-d", target["body"].decode()]
    for h in target["headers"]:
        cmd += ["-H", h]
    out, cpu = run_measured(cmd + [target["url"]], duration + 60)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = dict((p, float(v) * 1e3) for p, v in re.findall(
        r"(50|99)%+ in ([\d.]+) secs", out))
    codes = dict((int(c), int(n)) for c, n in
                 re.findall(r"\[(\d+)\]\s+(\d+) responses", out))
    total = sum(codes.values())
    return {"rps": rps, "p50": lat.get("50"), "p99": lat.get("99"),
            "cpu_us": cpu * 1e6 / max(total, 1),
            "errors": total - codes.get(200, 0)}


def run_ours(load, target, conc, requests, workdir):
    cmd = [load, "--url", target["url"], "--requests", str(requests),
           "--concurrency", str(conc)]
    if target["method"] == "POST":
        body = os.path.join(workdir, "request-body")
        with open(body, "wb") as f:
            f.write(target["body"])
        cmd += ["--body-file", body]
    for h in target["headers"]:
        cmd += ["--header", h]
    out, cpu = run_measured(cmd, 600)
    d = json.loads(out)
    total = d["attempted"] + d["warmup"]["requests"]
    if d["failed"] or d["warmup"]["failed"]:
        print("# perf-agent-load errors at c=%d: %s, warm-up %s" % (
            conc, json.dumps(d["errors"]), json.dumps(d["warmup"]["errors"])))
    return {"rps": d["throughput_rps"], "p50": d["statistics"]["p50_ms"],
            "p99": d["statistics"]["p99_ms"],
            "cpu_us": cpu * 1e6 / max(total, 1), "errors": d["failed"],
            "engine_cpu_us": d["client"]["cpu_us_per_request"]}


def start_nginx(workdir):
    port = free_port()
    conf = os.path.join(workdir, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""worker_processes 1;
daemon off;
pid %(d)s/nginx.pid;
error_log %(d)s/nginx-error.log;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path %(d)s/body;
    proxy_temp_path %(d)s/proxy;
    fastcgi_temp_path %(d)s/fastcgi;
    uwsgi_temp_path %(d)s/uwsgi;
    scgi_temp_path %(d)s/scgi;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:%(port)d;
        location / { return 200 "hello\\n"; }
    }
}
""" % {"d": workdir, "port": port})
    p = subprocess.Popen(SERVER_PIN + ["nginx", "-c", conf, "-p", workdir],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not wait_port(port):
        p.terminate()
        raise RuntimeError("nginx did not start; see %s/nginx-error.log" %
                           workdir)
    return p, {"name": "nginx", "url": "http://127.0.0.1:%d/" % port,
               "method": "GET", "headers": [], "body": b""}


SIGNER = r'''
import json, sys, time
from nacl.signing import SigningKey
if sys.argv[1] == "new":
    k = SigningKey.generate()
    print(json.dumps([k.encode().hex(), k.verify_key.encode().hex()]))
    sys.exit(0)
k = SigningKey(bytes.fromhex(sys.argv[1]))
ts = str(int(time.time()))
sig = k.sign(ts.encode() + sys.argv[2].encode()).signature.hex()
print(json.dumps([ts, sig]))
'''


def signer(*args):
    """Runs the PyNaCl signer with /usr/bin/python3, which has PyNaCl."""
    out = subprocess.run(["/usr/bin/python3", "-c", SIGNER] + list(args),
                         stdout=subprocess.PIPE, check=True).stdout
    return json.loads(out)


def sign_ping(seed):
    """Returns the headers of a PING signed now with the key of seed."""
    ts, sig = signer(seed, DISCORD_BODY.decode())
    return ["Content-Type: application/json",
            "X-Signature-Ed25519: " + sig,
            "X-Signature-Timestamp: " + ts]


def start_c_impl(builddir):
    binary = os.path.join(builddir,
                          "implementations/discord-webhook/c-libevent/server")
    if not os.access(binary, os.X_OK):
        return None, None
    seed, pub = signer("new")
    port = free_port()
    env = dict(os.environ, PORT=str(port), DISCORD_PUBLIC_KEY=pub)
    p = subprocess.Popen(SERVER_PIN + [binary], env=env,
                         stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    if not wait_port(port):
        p.terminate()
        raise RuntimeError("c-libevent server did not start")
    return p, {"name": "c-libevent",
               "url": "http://127.0.0.1:%d/interactions" % port,
               "method": "POST", "headers": sign_ping(seed),
               "body": DISCORD_BODY, "seed": seed}


def ratio(a, b):
    return a / b if a is not None and b else None


def median_of(runs, key):
    vals = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def bench_target(load, target, concs, duration, rounds, workdir, resign):
    rows = []
    for conc in concs:
        runs = {"wrk": [], "hey": [], "ours": []}
        wrk_rps = None
        for rnd in range(rounds):
            if resign:
                # The C server accepts timestamps up to 300 s old.
                target["headers"] = resign()
            order = ["wrk", "hey", "ours"]
            order = order[rnd % 3:] + order[:rnd % 3]
            for tool in order:
                if tool == "wrk":
                    r = run_wrk(target, conc, duration, workdir)
                    wrk_rps = r["rps"]
                elif tool == "hey":
                    r = run_hey(target, conc, duration)
                else:
                    # As many requests as wrk's latest run did in the
                    # duration; 20,000/s before wrk has run at all.
                    n = int((wrk_rps or 20000) * duration)
                    r = run_ours(load, target, conc, max(n, 10 * conc),
                                 workdir)
                runs[tool].append(r)
        row = {"target": target["name"], "concurrency": conc}
        for tool, rs in runs.items():
            for key in ("rps", "p50", "p99", "cpu_us", "errors",
                        "engine_cpu_us"):
                row["%s_%s" % (tool, key)] = median_of(rs, key)
        row["x_wrk"] = ratio(row["ours_rps"], row["wrk_rps"])
        row["x_hey"] = ratio(row["ours_rps"], row["hey_rps"])
        row["p50_vs_wrk"] = ratio(row["ours_p50"], row["wrk_p50"])
        if row["p50_vs_wrk"] is not None:
            row["p50_vs_wrk"] -= 1
        rows.append(row)
        print_row(row)
    return rows


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def print_header():
    print("| target | c | wrk rps | hey rps | ours rps | x wrk | x hey "
          "| p50 ms ours / wrk | p99 ms ours / wrk | CPU us/req ours / wrk "
          "/ hey | errors ours/wrk/hey |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    sys.stdout.flush()


def print_row(r):
    print("| %s | %d | %s | %s | %s | %s | %s | %s / %s (%s) | %s / %s "
          "| %s / %s / %s | %s/%s/%s |" % (
              r["target"], r["concurrency"], fmt(r["wrk_rps"], ".0f"),
              fmt(r["hey_rps"], ".0f"), fmt(r["ours_rps"], ".0f"),
              fmt(r["x_wrk"], ".2f"), fmt(r["x_hey"], ".2f"),
              fmt(r["ours_p50"], ".3f"), fmt(r["wrk_p50"], ".3f"),
              fmt(r["p50_vs_wrk"], "+.1%"),
              fmt(r["ours_p99"], ".3f"), fmt(r["wrk_p99"], ".3f"),
              fmt(r["ours_cpu_us"], ".1f"), fmt(r["wrk_cpu_us"], ".1f"),
              fmt(r["hey_cpu_us"], ".1f"), fmt(r["ours_errors"], ".0f"),
              fmt(r["wrk_errors"], ".0f"), fmt(r["hey_errors"], ".0f")))
    sys.stdout.flush()


COLD_IMPL = r'''
import socket, sys, time
time.sleep(float(sys.argv[2]))
ls = socket.socket(fileno=int(sys.argv[1]))
c, _ = ls.accept()
buf = b""
while b"\r\n\r\n" not in buf:
    d = c.recv(4096)
    if not d:
        break
    buf += d
c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
c.close()
'''


def cold_sample(load, impl, delay):
    """One cold sample; returns the measured cold start in ms or None."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    url = "http://127.0.0.1:%d/" % ls.getsockname()[1]
    client = subprocess.Popen([load, "--url", url, "--cold", "--timeout",
                               "30"], stdout=subprocess.PIPE)
    # The listening socket turns readable once the connection is queued:
    # that is when the "instance" starts, as on a scale-from-zero.
    ready, _, _ = select.select([ls], [], [], 10)
    server = None
    if ready:
        server = subprocess.Popen([sys.executable, "-S", "-E", impl,
                                   str(ls.fileno()), str(delay)],
                                  pass_fds=[ls.fileno()])
    out, _ = client.communicate(timeout=60)
    if server:
        server.wait(timeout=60)
    ls.close()
    d = json.loads(out)
    return d["cold_start_ms"] if d["ok"] else None


def cold_truth(load, workdir, samples, delays):
    impl = os.path.join(workdir, "cold_impl.py")
    with open(impl, "w") as f:
        f.write(COLD_IMPL)
    result = {}
    for delay in delays:
        got = [cold_sample(load, impl, delay) for _ in range(samples)]
        over = [g - delay * 1e3 for g in got if g is not None]
        result[delay] = over
        print("| %.3f | %d/%d | %s | %s | %s | %s |" % (
            delay, len(over), samples,
            fmt(statistics.median(over) if over else None, ".3f"),
            fmt(min(over) if over else None, ".3f"),
            fmt(max(over) if over else None, ".3f"),
            fmt(statistics.pstdev(over) if len(over) > 1 else None, ".3f")))
        sys.stdout.flush()
    return result


def machine():
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    wrk_v = subprocess.run(["wrk", "-v"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT).stdout.decode()
    ngx_v = subprocess.run(["nginx", "-v"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT).stdout.decode()
    return "nproc %d, CPU %s, kernel %s, %s, %s" % (
        os.cpu_count(), model, os.uname().release,
        wrk_v.splitlines()[0].split(" Copyright")[0], ngx_v.strip())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--builddir", default=os.environ.get(
        "PERF_AGENT_BUILDDIR", "."))
    ap.add_argument("--duration", type=int, default=4,
                    help="seconds per wrk and hey run (default 4)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="runs per tool and setting; medians are printed")
    ap.add_argument("--concurrency", default="1,10,100")
    ap.add_argument("--targets", default="nginx,c-libevent")
    ap.add_argument("--cold-samples", type=int, default=10)
    ap.add_argument("--cold-delays", default="0,0.5",
                    help="delays D in seconds for the truth check")
    ap.add_argument("--json", help="also write the figures to this file")
    ap.add_argument("--no-pin", action="store_true",
                    help="let the scheduler place server and clients")
    args = ap.parse_args()

    ncpu = len(os.sched_getaffinity(0))
    if not args.no_pin and ncpu >= 2 and shutil.which("taskset"):
        cpus = sorted(os.sched_getaffinity(0))
        CLIENT_PIN[:] = ["taskset", "-c", str(cpus[0])]
        SERVER_PIN[:] = ["taskset", "-c", str(cpus[-1])]

    load = os.path.join(args.builddir, "measured/perf-agent-load")
    if not os.access(load, os.X_OK):
        sys.exit("perf-agent-load not found in %s: build first" % load)
    for tool in ("wrk", "hey", "nginx"):
        if shutil.which(tool) is None:
            sys.exit("%s not found on PATH" % tool)
    concs = [int(c) for c in args.concurrency.split(",")]
    targets = args.targets.split(",")
    workdir = tempfile.mkdtemp(prefix="engine-bench.")
    procs = []
    report = {"machine": machine(), "rows": [], "cold": {}}
    print("machine: " + report["machine"])
    print("load average at start: %.2f %.2f %.2f" % os.getloadavg())
    print("duration %d s per run, %d rounds, medians, %s\n" % (
        args.duration, args.rounds, "client on CPU %s, server on CPU %s" % (
            CLIENT_PIN[-1], SERVER_PIN[-1]) if CLIENT_PIN else "not pinned"))
    try:
        print_header()
        if "nginx" in targets:
            p, t = start_nginx(workdir)
            procs.append(p)
            report["rows"] += bench_target(load, t, concs, args.duration,
                                           args.rounds, workdir, None)
        if "c-libevent" in targets:
            p, t = start_c_impl(args.builddir)
            if p is None:
                print("| c-libevent | skipped: not built |")
            else:
                procs.append(p)
                report["rows"] += bench_target(
                    load, t, concs, args.duration, args.rounds, workdir,
                    lambda: sign_ping(t["seed"]))
        if args.cold_samples > 0:
            print("\ncold-start truth check: measured minus D, ms")
            print("| D s | ok | median | min | max | stddev |")
            print("|---|---|---|---|---|---|")
            delays = [float(x) for x in args.cold_delays.split(",")]
            report["cold"] = cold_truth(load, workdir, args.cold_samples,
                                        delays)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(workdir, ignore_errors=True)
    report["loadavg_end"] = os.getloadavg()
    print("load average at end: %.2f %.2f %.2f" % report["loadavg_end"])
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1, default=str)


if __name__ == "__main__":
    main()
