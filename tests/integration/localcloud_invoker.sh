#!/bin/sh
# Invoker IAM in localcloud's data plane (--invoker-iam), through real
# HTTPS connections on 127.0.0.1. A request to a private service gets 403
# without a token and 401 with a bad one, and neither starts an instance. A
# request with an ID token from the metadata server is served. Tokens made
# by localcloud_invoker_token.py cover expiry, iat ahead, a tampered
# payload and a foreign key.
. "$PERF_AGENT_SRCDIR/tests/lib.sh"
. "$PERF_AGENT_SRCDIR/tests/integration/localcloud_run_helpers.sh"

TOKEN_PY="/usr/bin/python3 $S/tests/integration/localcloud_invoker_token.py"
SVC=/v2/projects/p/locations/r/services

lc_make_impls
if lc_start --idle-timeout 2 --invoker-iam; then ok "localcloud starts"; else
	fail "localcloud starts"; exit 1; fi
CA=$LC_DATA/ca.pem

no_processes()
{
	[ -z "$(lc_instances "$1")" ]
}

# starts: how many instances of svc localcloud has started so far.
starts()
{
	grep -c "services/svc: instance [0-9a-f]* started" "$LC_LOG"
}

# get URL [curl args]: the body goes to $T_DIR/body and the headers to
# $T_DIR/headers; prints the status.
get()
{
	url=$1
	shift
	curl -s -o "$T_DIR/body" -D "$T_DIR/headers" -w '%{http_code}' \
	    --max-time 20 --cacert "$CA" "$@" "$url"
}

# id_token AUDIENCE: an ID token from localcloud's metadata server.
id_token()
{
	curl -s --max-time 10 -H 'Metadata-Flavor: Google' -G \
	    --data-urlencode "audience=$1" \
	    "$LC_API/computeMetadata/v1/instance/service-accounts/default/identity"
}

check "deploy succeeds" lc_deploy svc local/t/ok
URI=$(lc_uri svc)
check "deploy instance scales to zero" wait_for 20 no_processes svc
T0=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
N0=$(starts)

# No token: localcloud sends a 403 itself, without a cold start.
check "no token is 403" [ "$(get "$URI/private")" = 403 ]
check "403 body explains" \
    grep -q "Your client does not have permission" "$T_DIR/body"
check "403 has a content type" \
    grep -qi "^content-type: text/html" "$T_DIR/headers"
check "403 names the path" grep -q "<code>/private</code>" "$T_DIR/body"
check "403 starts no instance" [ "$(starts)" = "$N0" ]
check "no instance runs after 403" no_processes svc
out=$(curl -s -o /dev/null -w '%{http_code} %{num_connects}\n' \
    --max-time 20 --cacert "$CA" "$URI/a" "$URI/b" | tail -1)
check "connection stays open after 403" [ "$out" = "403 0" ]

# A token from the metadata server, for the service's URL.
TOKEN=$(id_token "$URI")
check "metadata server signs a token" [ -n "$TOKEN" ]
check "valid token is 200" \
    [ "$(get "$URI/ok" -H "Authorization: Bearer $TOKEN")" = 200 ]
check "valid token starts an instance" [ "$(starts)" -gt "$N0" ]
check "aud with a trailing slash passes" [ "$(get "$URI/slash" \
    -H "Authorization: Bearer $(id_token "$URI/")")" = 200 ]
check "bearer scheme is case-insensitive" \
    [ "$(get "$URI/ok" -H "Authorization: bearer $TOKEN")" = 200 ]

# Tokens that must not pass: 401 with the invalid_token challenge.
OTHER=$(id_token "https://other.example")
check "token for another audience is 401" \
    [ "$(get "$URI/x" -H "Authorization: Bearer $OTHER")" = 401 ]
check "401 has the invalid_token challenge" grep -qi \
    '^www-authenticate: Bearer error="invalid_token"' "$T_DIR/headers"
check "401 body explains" \
    grep -q "Your client does not have permission" "$T_DIR/body"
check "basic credentials are 401" \
    [ "$(get "$URI/x" -H "Authorization: Basic dXNlcjpwYXNz")" = 401 ]
check "garbage token is 401" \
    [ "$(get "$URI/x" -H "Authorization: Bearer not.a.token")" = 401 ]
check "two Authorization headers are 401" [ "$(get "$URI/x" \
    -H "Authorization: Bearer $TOKEN" -H "Authorization: Bearer $TOKEN")" \
    = 401 ]

KEY=$LC_DATA/oauth2/signing-key.pem
curl -s -o "$T_DIR/body" "$LC_API/oauth2/v3/certs"
KID=$(jq_body 'd["keys"][0]["kid"]')
OWN=$($TOKEN_PY sign "$KEY" "$KID" "$URI" -10 3600)
check "token made with the signing key is 200" \
    [ "$(get "$URI/own" -H "Authorization: Bearer $OWN")" = 200 ]
EXPIRED=$($TOKEN_PY sign "$KEY" "$KID" "$URI" -7200 -3600)
check "expired token is 401" \
    [ "$(get "$URI/x" -H "Authorization: Bearer $EXPIRED")" = 401 ]
AHEAD=$($TOKEN_PY sign "$KEY" "$KID" "$URI" 600 3600)
check "token issued in the future is 401" \
    [ "$(get "$URI/x" -H "Authorization: Bearer $AHEAD")" = 401 ]
TAMPERED=$($TOKEN_PY retarget "$OTHER" "$URI")
check "tampered token is 401" \
    [ "$(get "$URI/x" -H "Authorization: Bearer $TAMPERED")" = 401 ]
FOREIGN=$($TOKEN_PY sign new "$KID" "$URI" -10 3600)
check "token signed by another key is 401" \
    [ "$(get "$URI/x" -H "Authorization: Bearer $FOREIGN")" = 401 ]

# One keep-alive connection: each request is checked on its own.
out=$(curl -s --max-time 20 --cacert "$CA" -o /dev/null \
    -w '%{http_code} %{num_connects}\n' -H "Authorization: Bearer $TOKEN" \
    "$URI/k1" --next --cacert "$CA" -o /dev/null \
    -w '%{http_code} %{num_connects}\n' "$URI/k2" --next --cacert "$CA" \
    -o /dev/null -w '%{http_code} %{num_connects}\n' \
    -H "Authorization: Bearer $OTHER" "$URI/k3" --next --cacert "$CA" \
    -o /dev/null -w '%{http_code} %{num_connects}\n' \
    -H "Authorization: Bearer $TOKEN" "$URI/k4" | tr '\n' ' ')
check "keep-alive requests are checked one by one" \
    [ "$out" = "200 1 403 0 401 0 200 0 " ]

# Pipelined requests on one connection: the 403s of denied ones, one with
# a body, come in order between the responses of forwarded ones.
pipeline()
{
	python3 - "${URI##*:}" "$CA" "$TOKEN" <<'EOF'
import re, socket, ssl, sys
port, ca, token = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=20),
                    server_hostname="127.0.0.1")
auth = "Authorization: Bearer %s\r\n" % token
body = b"x" * 5000
s.sendall(b"GET /p1 HTTP/1.1\r\nHost: h\r\n" + auth.encode() + b"\r\n" +
          b"POST /p2 HTTP/1.1\r\nHost: h\r\nContent-Length: 5000\r\n\r\n" +
          body + b"GET /p3 HTTP/1.1\r\nHost: h\r\n\r\n" +
          b"GET /p4 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n" +
          auth.encode() + b"\r\n")
reply = b""
while len(reply) < 1 << 20:
    chunk = s.recv(65536)
    if not chunk:
        break
    reply += chunk
print(" ".join(re.findall(r"HTTP/1\.1 (\d{3}) ", reply.decode("latin-1"))))
EOF
}
check "pipelined requests are answered in order" \
    [ "$(pipeline)" = "200 403 403 200" ]

# Thirty denied requests with 1 KiB headers in one write, more than the
# proxy buffers (16 KiB) and tracks (8) at once. Then a header block larger
# than the buffer, which can never be checked.
flood()
{
	python3 - "${URI##*:}" "$CA" "$1" <<'EOF'
import re, socket, ssl, sys
port, ca, header_size = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
ctx = ssl.create_default_context(cafile=ca)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=20),
                    server_hostname="127.0.0.1")
pad = b"X-Pad: " + b"p" * header_size + b"\r\n"
n = 30 if header_size < 4096 else 1
reqs = b""
for i in range(n):
    close = b"Connection: close\r\n" if i == n - 1 else b""
    reqs += b"GET /f%d HTTP/1.1\r\nHost: h\r\n%s%s\r\n" % (i, pad, close)
s.sendall(reqs)
reply = b""
while len(reply) < 1 << 20:
    chunk = s.recv(65536)
    if not chunk:
        break
    reply += chunk
codes = re.findall(r"HTTP/1\.1 (\d{3}) ", reply.decode("latin-1"))
print(len(codes), " ".join(sorted(set(codes))))
EOF
}
check "30 pipelined denials are all answered" [ "$(flood 1024)" = "30 403" ]
check "headers larger than the buffer are 431" [ "$(flood 20000)" = "1 431" ]

# Logging: denied requests are listed with their status and no instance.
lc_call POST /v2/entries:list "{\"resourceNames\":[\"projects/p\"],\
\"filter\":\"resource.labels.service_name=\\\"svc\\\" AND \
timestamp>=\\\"$T0\\\"\",\"pageSize\":200}" >/dev/null
check "403 is logged" [ "$(jq_body '[e for e in d["entries"] if \
e["httpRequest"]["status"] == 403 and \
e["httpRequest"]["requestUrl"] == "'"$URI"'/private"] != []')" = true ]
check "401 is logged" [ "$(jq_body '[e for e in d["entries"] if \
e["httpRequest"]["status"] == 401] != []')" = true ]
check "denied requests name no instance" [ "$(jq_body 'all("labels" not in e \
for e in d["entries"] if e["httpRequest"]["status"] in (401, 403))')" = true ]
check "served requests name their instance" [ "$(jq_body 'all(len(e["labels"]\
["instanceId"]) == 32 for e in d["entries"] if \
e["httpRequest"]["status"] == 200)')" = true ]

# A public service: allUsers has roles/run.invoker.
check "setIamPolicy makes it public" [ "$(lc_call POST "$SVC/svc:setIamPolicy" \
    '{"policy":{"bindings":[{"role":"roles/run.invoker","members":["allUsers"]}]}}')" \
    = 200 ]
check "public service needs no token" [ "$(get "$URI/public")" = 200 ]
check "setIamPolicy makes it private again" [ "$(lc_call POST \
    "$SVC/svc:setIamPolicy" '{"policy":{"bindings":[]}}')" = 200 ]
check "private again without token is 403" [ "$(get "$URI/private")" = 403 ]

# invokerIamDisabled on the service also makes it public.
body=$(lc_service_body local/t/ok | sed 's/^{/{"invokerIamDisabled":true,/')
code=$(lc_call POST "$SVC?serviceId=open" "$body")
check "service with invokerIamDisabled is created" [ "$code" = 200 ]
check "its deploy finishes" lc_wait_op "$(jq_body 'd["name"]')"
OPEN=$(lc_uri open)
check "invokerIamDisabled needs no token" [ "$(get "$OPEN/")" = 200 ]

# Without --invoker-iam nothing is enforced, and the environment variable
# turns it on like the option.
check "localcloud stops" lc_stop
lc_start --idle-timeout 2 || fail "restart without --invoker-iam"
check "without --invoker-iam no token is 200" [ "$(get "$URI/")" = 200 ]
check "localcloud stops again" lc_stop
LOCALCLOUD_INVOKER_IAM=1 lc_start --idle-timeout 2 ||
    fail "restart with LOCALCLOUD_INVOKER_IAM=1"
check "LOCALCLOUD_INVOKER_IAM=1 enforces" [ "$(get "$URI/")" = 403 ]
check "token is still valid after a restart" \
    [ "$(get "$URI/ok" -H "Authorization: Bearer $TOKEN")" = 200 ]

# The same over plain HTTP, where the URL, and so the audience, is http.
check "localcloud stops a third time" lc_stop
lc_start --idle-timeout 2 --invoker-iam --plain-http ||
    fail "restart with --plain-http"
PLAIN=$(lc_uri svc)
check "plain http uri" [ "$PLAIN" = "http://127.0.0.1:${URI##*:}" ]
check "plain http without token is 403" [ "$(get "$PLAIN/")" = 403 ]
check "https token does not pass over http" \
    [ "$(get "$PLAIN/" -H "Authorization: Bearer $TOKEN")" = 401 ]
check "http token passes" [ "$(get "$PLAIN/" \
    -H "Authorization: Bearer $(id_token "$PLAIN")")" = 200 ]

# Back-pressure with denials: a client with a small receive buffer sends
# 6000 denied requests with long paths and reads nothing for a second, so
# the denials wait for room and the proxy stops reading. Then it reads
# them all.
slow_flood()
{
	python3 - "${PLAIN##*:}" <<'EOF'
import re, socket, sys, threading, time
port = int(sys.argv[1])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.settimeout(20)
s.connect(("127.0.0.1", port))
n = 6000
reqs = b""
for i in range(n):
    close = b"Connection: close\r\n" if i == n - 1 else b""
    reqs += b"GET /%d/%s HTTP/1.1\r\nHost: h\r\n%s\r\n" % (i, b"q" * 400,
                                                          close)
sender = threading.Thread(target=s.sendall, args=(reqs,))
sender.start()
time.sleep(1)
reply = b""
while len(reply) < 1 << 24:
    try:
        chunk = s.recv(65536)
    except socket.timeout:
        break
    if not chunk:
        break
    reply += chunk
sender.join(20)
print(len(re.findall(rb"HTTP/1\.1 403 ", reply)))
EOF
}
check "denials that wait for the client all arrive" [ "$(slow_flood)" = 6000 ]
t_plan "$T_COUNT"
