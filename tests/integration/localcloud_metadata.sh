#!/bin/sh
# The metadata server of localcloud and its signing key, through real HTTP
# on 127.0.0.1. It covers the Metadata-Flavor header rule, project and
# instance facts, access tokens, ID tokens verified against the JWKS with
# Python's cryptography package, and the key kept across a restart.
. "$PERF_AGENT_SRCDIR/tests/lib.sh"

t_plan 30

LC_BIN=$B/localcloud/localcloud
VERIFY=$S/tests/integration/localcloud_sched_verify.py
PORT=$(free_port)
U=http://127.0.0.1:$PORT
MD=$U/computeMetadata/v1
DATA=$T_DIR/data
SA=perf-agent@local-project.iam.gserviceaccount.com
LC_PID=

start_localcloud()
{
	"$LC_BIN" --port "$PORT" --data-dir "$DATA" --plain-http \
	    --log-format text >>"$T_DIR/localcloud.log" 2>&1 &
	LC_PID=$!
	t_track "$LC_PID"
	wait_for 10 curl -sf "$U/oauth2/v3/certs"
}

# Stops localcloud with SIGTERM; returns its exit status.
stop_localcloud()
{
	kill -TERM "$LC_PID"
	wait "$LC_PID"
}

# md PATH [curl args...]: GET with the Metadata-Flavor header; prints the
# body.
md()
{
	path=$1
	shift
	curl -s -H 'Metadata-Flavor: Google' "$@" "$MD/$path"
}

# verify_token FILE AUDIENCE: checks the JWT in FILE against the JWKS.
verify_token()
{
	python3 -c 'import json, sys
print(json.dumps({"headers": {"Authorization": "Bearer " + open(sys.argv[1]).read()}}))' \
	    "$1" | /usr/bin/python3 "$VERIFY" "$T_DIR/jwks.json" "$2" "$SA"
}

if ! start_localcloud; then
	fail "localcloud starts"
	exit 1
fi
ok "localcloud starts"

# Without the header, or with a wrong value, every path is 403.
check "token without the header is 403" test "$(http_status \
    "$MD/instance/service-accounts/default/token")" = 403
check "identity without the header is 403" test "$(http_status \
    "$MD/instance/service-accounts/default/identity?audience=x")" = 403
check "project-id without the header is 403" test "$(http_status \
    "$MD/project/project-id")" = 403
check "a wrong header value is 403" test "$(http_status \
    "$MD/project/project-id" -H 'Metadata-Flavor: google')" = 403
check "a proxied request is 403" test "$(http_status \
    "$MD/project/project-id" -H 'Metadata-Flavor: Google' \
    -H 'X-Forwarded-For: 127.0.0.2')" = 403
curl -s -D "$T_DIR/h403" -o /dev/null "$MD/project/project-id"
check "a 403 carries Metadata-Flavor: Google" grep -qi \
    '^Metadata-Flavor: Google' "$T_DIR/h403"

# Facts.
check "project-id" test "$(md project/project-id)" = local-project
number=$(md project/numeric-project-id)
check "numeric-project-id has 12 digits" python3 -c \
    'import sys; assert len(sys.argv[1]) == 12 and sys.argv[1].isdigit()' \
    "$number"
check "region names the project number" test "$(md instance/region)" = \
    "projects/$number/regions/local-region"
check "service account email" test \
    "$(md instance/service-accounts/default/email)" = "$SA"
check "an unknown path is 404" test "$(http_status "$MD/instance/nothing" \
    -H 'Metadata-Flavor: Google')" = 404

# Access token.
md instance/service-accounts/default/token -D "$T_DIR/htok" \
    -o "$T_DIR/token.json"
check "access token response" python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
assert d["token_type"] == "Bearer", d
assert isinstance(d["expires_in"], int) and 0 < d["expires_in"] <= 3600, d
assert len(d["access_token"]) > 20, d' "$T_DIR/token.json"
check "a response carries Metadata-Flavor: Google" grep -qi \
    '^Metadata-Flavor: Google' "$T_DIR/htok"

# ID token.
check "identity without audience is 400" test "$(http_status \
    "$MD/instance/service-accounts/default/identity" \
    -H 'Metadata-Flavor: Google')" = 400
check "identity with invalid UTF-8 audience is 400" test "$(http_status \
    "$MD/instance/service-accounts/default/identity?audience=%ff%fe" \
    -H 'Metadata-Flavor: Google')" = 400
check "identity with an encoded NUL is 400" test "$(http_status \
    "$MD/instance/service-accounts/default/identity?audience=http://a%00.b" \
    -H 'Metadata-Flavor: Google')" = 400
curl -s -o "$T_DIR/jwks.json" "$U/oauth2/v3/certs"
md 'instance/service-accounts/default/identity?audience=http%3A%2F%2F127.0.0.1%3A9%2Fapi&format=full' \
    >"$T_DIR/id1"
check "identity token verifies against the JWKS" verify_token "$T_DIR/id1" \
    http://127.0.0.1:9/api
check "identity token for the email alias path" test -n "$(md \
    "instance/service-accounts/$SA/identity?audience=a")"
if verify_token "$T_DIR/id1" http://127.0.0.1:9/other >/dev/null; then
	fail "identity token fails for another audience"
else
	ok "identity token fails for another audience"
fi
check "JWKS entry is an RS256 signing key" python3 -c 'import json, sys
k = json.load(open(sys.argv[1]))["keys"]
assert len(k) == 1, k
assert k[0]["kty"] == "RSA", k
assert k[0]["alg"] == "RS256", k
assert k[0]["use"] == "sig", k
assert k[0]["e"] == "AQAB", k
assert k[0]["kid"], k' \
    "$T_DIR/jwks.json"
curl -s -o "$T_DIR/oidc.json" "$U/.well-known/openid-configuration"
check "discovery names the issuer and JWKS" python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
assert d["issuer"] == "https://accounts.google.com", d
assert d["jwks_uri"] == sys.argv[2] + "/oauth2/v3/certs", d
assert d["id_token_signing_alg_values_supported"] == ["RS256"], d' \
    "$T_DIR/oidc.json" "$U"
check "the key file has mode 0600" test "$(stat -c %a \
    "$DATA/oauth2/signing-key.pem")" = 600

# Restart: the key and its kid stay, so earlier tokens still verify.
kid1=$(python3 -c 'import json, sys
print(json.load(open(sys.argv[1]))["keys"][0]["kid"])' "$T_DIR/jwks.json")
check "localcloud exits 0 on SIGTERM" stop_localcloud
if ! start_localcloud; then
	fail "localcloud restarts"
	exit 1
fi
ok "localcloud restarts"
curl -s -o "$T_DIR/jwks.json" "$U/oauth2/v3/certs"
kid2=$(python3 -c 'import json, sys
print(json.load(open(sys.argv[1]))["keys"][0]["kid"])' "$T_DIR/jwks.json")
check "the kid is stable across restarts" test "$kid1" = "$kid2"
check "a token from before the restart still verifies" verify_token \
    "$T_DIR/id1" http://127.0.0.1:9/api
md 'instance/service-accounts/default/identity?audience=aud2' >"$T_DIR/id2"
check "a new token verifies" verify_token "$T_DIR/id2" aud2
# A different key must make verification fail: swap in a fresh JWKS.
/usr/bin/python3 -c 'import base64, json, sys
from cryptography.hazmat.primitives.asymmetric import rsa
n = rsa.generate_private_key(65537, 2048).public_key().public_numbers().n
k = json.load(open(sys.argv[1]))
k["keys"][0]["n"] = base64.urlsafe_b64encode(n.to_bytes(256, "big")).decode().rstrip("=")
json.dump(k, open(sys.argv[1], "w"))' "$T_DIR/jwks.json"
if verify_token "$T_DIR/id2" aud2 >/dev/null; then
	fail "a token does not verify with another key"
else
	ok "a token does not verify with another key"
fi

# Under ASan a leak or error makes the exit status non-zero.
check "localcloud exits 0 after the restart" stop_localcloud

[ "$T_FAILED" -eq 0 ]
