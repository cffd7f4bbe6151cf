#!/bin/sh
# The forwarding path of localcloud's data plane over HTTPS and plain HTTP:
# request and response bodies far larger than the proxy's 16 KiB buffers
# arrive whole, a client that reads slowly still gets every byte, and
# pipelined requests, more than the 8 the proxy tracks at once, are all
# answered in order and logged.
. "$PERF_AGENT_SRCDIR/tests/lib.sh"
. "$PERF_AGENT_SRCDIR/tests/integration/localcloud_run_helpers.sh"

lc_make_impls
if lc_start --idle-timeout 30; then ok "localcloud starts"; else
	fail "localcloud starts"; exit 1; fi
CA=$LC_DATA/ca.pem
check "deploy succeeds" lc_deploy svc local/t/ok
URI=$(lc_uri svc)
PORT=${URI##*:}

head -c 5000000 /dev/urandom > "$T_DIR/upload"
UP_SHA=$(sha256sum "$T_DIR/upload" | cut -d' ' -f1)
# The bytes /big?n=N returns: 0..255 repeated.
python3 -c 'import sys
block = bytes(range(256)) * 256
n = 20000000
out = sys.stdout.buffer
while n > 0:
    out.write(block[:min(n, len(block))])
    n -= min(n, len(block))' > "$T_DIR/expected"
DOWN_SHA=$(sha256sum "$T_DIR/expected" | cut -d' ' -f1)

# get URL [curl args]: the body goes to $T_DIR/body; prints the status.
get()
{
	url=$1
	shift
	curl -s -o "$T_DIR/body" -w '%{http_code}' --max-time 60 \
	    --cacert "$CA" "$@" "$url"
}

# pipeline SCHEME: sends 20 requests for /big?n=K in one write, the last
# with Connection: close, and prints the body lengths of the responses in
# the order they came.
pipeline()
{
	python3 - "$1" "$PORT" "$CA" <<'EOF'
import socket, ssl, sys
scheme, port, ca = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.create_connection(("127.0.0.1", port), timeout=30)
if scheme == "https":
    ctx = ssl.create_default_context(cafile=ca)
    s = ctx.wrap_socket(s, server_hostname="127.0.0.1")
reqs = b""
for i in range(20):
    close = b"Connection: close\r\n" if i == 19 else b""
    reqs += b"GET /big?n=%d HTTP/1.1\r\nHost: h\r\n%s\r\n" % (1000 * i + 7,
                                                            close)
s.sendall(reqs)
data = b""
while len(data) < 1 << 22:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
lengths = []
while data:
    head, sep, data = data.partition(b"\r\n\r\n")
    if not sep:
        break
    n = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            n = int(value)
    lengths.append(str(n))
    data = data[n:]
print(" ".join(lengths))
EOF
}
EXPECTED_LENGTHS=$(python3 -c 'print(" ".join(str(1000 * i + 7) for i in range(20)))')

# forwarding SCHEME URI: the checks, once per scheme.
forwarding()
{
	scheme=$1 uri=$2
	check "$scheme upload of 5 MB is 200" [ "$(get "$uri/echo" \
	    --data-binary @"$T_DIR/upload" \
	    -H 'Content-Type: application/octet-stream')" = 200 ]
	check "$scheme upload arrives whole" \
	    [ "$(jq_body 'd["sha256"]')" = "$UP_SHA" ]
	check "$scheme download of 20 MB is 200" \
	    [ "$(get "$uri/big?n=20000000")" = 200 ]
	check "$scheme download arrives whole" \
	    [ "$(sha256sum "$T_DIR/body" | cut -d' ' -f1)" = "$DOWN_SHA" ]
	check "$scheme slow reader gets every byte" [ "$(get \
	    "$uri/big?n=20000000" --limit-rate 10M)" = 200 ]
	check "$scheme slow download arrives whole" \
	    [ "$(sha256sum "$T_DIR/body" | cut -d' ' -f1)" = "$DOWN_SHA" ]
	T1=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
	check "$scheme 20 pipelined requests answered in order" \
	    [ "$(pipeline "$scheme")" = "$EXPECTED_LENGTHS" ]
	lc_call POST /v2/entries:list "{\"resourceNames\":[\"projects/p\"],\
\"filter\":\"resource.labels.service_name=\\\"svc\\\" AND \
timestamp>=\\\"$T1\\\"\",\"pageSize\":100}" >/dev/null
	check "$scheme pipelined requests are each logged" [ "$(jq_body \
	    'len([e for e in d["entries"] if "/big?n=" in \
e["httpRequest"]["requestUrl"] and e["httpRequest"]["status"] == 200])')" = 20 ]
}

forwarding https "$URI"
check "localcloud stops" lc_stop
lc_start --idle-timeout 30 --plain-http || fail "restart with --plain-http"
forwarding http "http://127.0.0.1:$PORT"
t_plan "$T_COUNT"
