"""Make RS256 ID tokens for the invoker IAM test of localcloud.

usage: localcloud_invoker_token.py sign KEY.pem|new KID AUD IAT_OFFSET EXP_OFFSET
       localcloud_invoker_token.py retarget TOKEN AUD

sign prints a token signed with the PEM private key (or with a new RSA key
when KEY is "new"), with iat and exp set to now plus the offsets in
seconds. retarget prints TOKEN with its aud replaced and its signature
kept, which no longer verifies. Run it with /usr/bin/python3, which has the
cryptography package.
"""
import base64
import json
import sys
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(key_path, kid, aud, iat_offset, exp_offset):
    if key_path == "new":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        with open(key_path, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), None)
    now = int(time.time())
    header = {"alg": "RS256", "kid": kid, "typ": "JWT"}
    claims = {"iss": "https://accounts.google.com", "aud": aud,
              "sub": "1", "email": "test@local-project.iam.gserviceaccount.com",
              "email_verified": True, "iat": now + int(iat_offset),
              "exp": now + int(exp_offset)}
    signing_input = (b64url(json.dumps(header).encode()) + "." +
                     b64url(json.dumps(claims).encode()))
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(),
                         hashes.SHA256())
    return signing_input + "." + b64url(signature)


def retarget(token, aud):
    header, claims, signature = token.split(".")
    body = json.loads(unb64url(claims))
    body["aud"] = aud
    return header + "." + b64url(json.dumps(body).encode()) + "." + signature


def main():
    if sys.argv[1] == "sign" and len(sys.argv) == 7:
        print(sign(*sys.argv[2:]))
    elif sys.argv[1] == "retarget" and len(sys.argv) == 4:
        print(retarget(sys.argv[2], sys.argv[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
