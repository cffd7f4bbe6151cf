"""Verifies one request logged by localcloud_sched_listener.py.

Usage: /usr/bin/python3 localcloud_sched_verify.py JWKS_FILE AUDIENCE EMAIL
with the logged JSON record on standard input. Checks that the Bearer
token is RS256, signed by a key in the JWKS (matched by kid), and carries
iss https://accounts.google.com, the audience, the email with
email_verified true, and exp = iat + 3600 around now. Exits 0 when all
hold, otherwise prints why as a TAP comment and exits 1.
"""
import base64
import json
import sys
import time

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def b64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def fail(why):
    print("# token check failed: " + why)
    sys.exit(1)


def main():
    jwks = json.load(open(sys.argv[1]))
    audience, email = sys.argv[2], sys.argv[3]
    record = json.loads(sys.stdin.read())

    auth = record["headers"].get("Authorization", "")
    if not auth.startswith("Bearer "):
        fail("no Bearer token")
    token = auth[len("Bearer "):]
    parts = token.split(".")
    if len(parts) != 3:
        fail("not three parts")
    header = json.loads(b64url(parts[0]))
    claims = json.loads(b64url(parts[1]))

    # The signature, with the JWKS key the header names.
    if header.get("alg") != "RS256":
        fail("alg is %r" % header.get("alg"))
    keys = [k for k in jwks["keys"] if k.get("kid") == header.get("kid")]
    if len(keys) != 1:
        fail("kid %r not in the JWKS" % header.get("kid"))
    n = int.from_bytes(b64url(keys[0]["n"]), "big")
    e = int.from_bytes(b64url(keys[0]["e"]), "big")
    key = rsa.RSAPublicNumbers(e, n).public_key()
    try:
        key.verify(b64url(parts[2]), (parts[0] + "." + parts[1]).encode(),
                   padding.PKCS1v15(), hashes.SHA256())
    except Exception as exc:
        fail("signature: %r" % exc)

    # The claims a relying party checks.
    if claims.get("iss") != "https://accounts.google.com":
        fail("iss is %r" % claims.get("iss"))
    if claims.get("aud") != audience:
        fail("aud is %r, expected %r" % (claims.get("aud"), audience))
    if claims.get("email") != email or claims.get("email_verified") is not True:
        fail("email claims are %r" % claims)
    now = time.time()
    if not (claims["iat"] - 60 <= now <= claims["exp"]):
        fail("iat/exp do not cover now")
    if claims["exp"] - claims["iat"] != 3600:
        fail("lifetime is not 3600 s")


main()
