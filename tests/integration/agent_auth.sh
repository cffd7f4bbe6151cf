#!/bin/sh
# Inbound authentication: tokens signed by a key this test generates, with
# its JWKS served on loopback, in every way a token can be wrong.
. "$PERF_AGENT_SRCDIR/tests/lib.sh"
. "$PERF_AGENT_SRCDIR/tests/agent_lib.sh"

t_plan 20

if ! /usr/bin/python3 -c 'import cryptography' 2>/dev/null; then
	echo "1..0 # SKIP /usr/bin/python3 lacks cryptography (python3-cryptography)"
	exit 0
fi

cat >"$T_DIR/tokens.py" <<'PY'
# Generates an RSA key, serves its JWKS, and prints tokens on request:
#   tokens.py serve PORT DIR | tokens.py token DIR CASE AUDIENCE
import base64, http.server, json, os, sys, time
from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

def load(d):
    path = os.path.join(d, "key.pem")
    if not os.path.exists(path):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        with open(path, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with open(path, "rb") as f:
        return serialization.load_pem_private_key(f.read(), None)

def jwks(key):
    n = key.public_key().public_numbers()
    def enc(i):
        return b64(i.to_bytes((i.bit_length() + 7) // 8, "big"))
    return {"keys": [{"kty": "RSA", "kid": "test-key", "use": "sig",
                      "alg": "RS256", "n": enc(n.n), "e": enc(n.e)}]}

def token(key, case, aud):
    now = int(time.time())
    header = {"alg": "RS256", "kid": "test-key", "typ": "JWT"}
    claims = {"iss": "https://accounts.google.com", "aud": aud,
              "email": "manager@test.iam.gserviceaccount.com",
              "email_verified": True, "iat": now, "exp": now + 3600,
              "sub": "1"}
    if case == "expired": claims["iat"], claims["exp"] = now - 7200, now - 3600
    if case == "future": claims["iat"], claims["exp"] = now + 600, now + 4200
    if case == "aud": claims["aud"] = aud + "/other"
    if case == "iss": claims["iss"] = "https://evil.example"
    if case == "kid": header["kid"] = "no-such-key"
    if case == "email": claims["email"] = "someone@else.iam.gserviceaccount.com"
    if case == "unverified": claims["email_verified"] = False
    if case == "legacy_iss": claims["iss"] = "accounts.google.com"
    if case == "none": header["alg"] = "none"
    if case == "hs256": header["alg"] = "HS256"
    signing = (b64(json.dumps(header).encode()) + "." +
               b64(json.dumps(claims).encode())).encode()
    if case == "none":
        return signing.decode() + "."
    if case == "hs256":
        secret = key.public_key().public_bytes(serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo)
        h = hmac.HMAC(secret, hashes.SHA256())
        h.update(signing)
        return signing.decode() + "." + b64(h.finalize())
    sig = bytearray(key.sign(signing, padding.PKCS1v15(), hashes.SHA256()))
    if case == "badsig": sig[10] ^= 1
    out = signing.decode() + "." + b64(bytes(sig))
    if case == "base64": out = out[:20] + "!*" + out[22:]
    return out

if sys.argv[1] == "serve":
    body = json.dumps(jwks(load(sys.argv[3]))).encode()
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        def log_message(self, *a):
            pass
    http.server.HTTPServer(("127.0.0.1", int(sys.argv[2])), H).serve_forever()
else:
    print(token(load(sys.argv[2]), sys.argv[3], sys.argv[4]))
PY

JWKS_PORT=$(free_port)
/usr/bin/python3 "$T_DIR/tokens.py" serve "$JWKS_PORT" "$T_DIR" &
t_track $!
wait_for 20 curl -sf "http://127.0.0.1:$JWKS_PORT/certs"

if ! start_agent --certs-url "http://127.0.0.1:$JWKS_PORT/certs" \
    --allowed-invokers manager@test.iam.gserviceaccount.com; then
	fail "agent healthy with the test's keys"
	exit 1
fi
ok "agent healthy with the test's keys"

# status_with CASE: the HTTP status of GET /implementations with that token.
status_with()
{
	t=$(/usr/bin/python3 "$T_DIR/tokens.py" token "$T_DIR" "$1" "$API")
	curl -s -o "$T_DIR/auth.json" -D "$T_DIR/auth.headers" \
	    -w '%{http_code}' --max-time 30 -H "Authorization: Bearer $t" \
	    "$API/implementations"
}

check "valid token is accepted" [ "$(status_with valid)" = 200 ]
check "legacy issuer form is accepted" [ "$(status_with legacy_iss)" = 200 ]
check "expired token is 401" [ "$(status_with expired)" = 401 ]
check "401 carries WWW-Authenticate" grep -qi '^WWW-Authenticate: Bearer' "$T_DIR/auth.headers"
check "401 carries a JSON error" grep -q '"error"' "$T_DIR/auth.json"
check "not yet valid token is 401" [ "$(status_with future)" = 401 ]
check "wrong audience is 401" [ "$(status_with aud)" = 401 ]
check "wrong issuer is 401" [ "$(status_with iss)" = 401 ]
check "unknown kid is 401" [ "$(status_with kid)" = 401 ]
check "alg none is 401" [ "$(status_with none)" = 401 ]
check "HS256 with the public key is 401" [ "$(status_with hs256)" = 401 ]
check "bad signature is 401" [ "$(status_with badsig)" = 401 ]
check "malformed base64 is 401" [ "$(status_with base64)" = 401 ]
check "email not allowed is 403" [ "$(status_with email)" = 403 ]
check "unverified email is 403" [ "$(status_with unverified)" = 403 ]
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 "$API/implementations")
check "missing token is 401" [ "$code" = 401 ]
{ printf 'Authorization: Bearer '; head -c 1048576 /dev/zero | tr '\0' 'a'; echo; } \
    >"$T_DIR/big-header"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 \
    -H @"$T_DIR/big-header" "$API/implementations")
check "1 MB token is rejected ($code)" [ "$code" != 200 ]
check "health stays open without a token" [ "$(http_status "$API/health")" = 200 ]
check "agent healthy after the bad tokens" wait_for 10 agent_healthy
