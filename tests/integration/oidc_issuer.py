"""A test OIDC issuer: its own RSA key (made with openssl at test time), a JWKS document and
RS256-signed workload tokens shaped like GitHub Actions ones."""
import base64
import json
import os
import subprocess
import time
import uuid
from pathlib import Path


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TestIssuer:
    __test__ = False  # not a pytest class
    ISSUER = "https://token.actions.test.invalid"

    def __init__(self, d: Path, kid="test-key-1"):
        self.dir = d
        self.kid = kid
        d.mkdir(parents=True, exist_ok=True)
        self.key = d / "issuer.key"
        subprocess.run(["openssl", "genrsa", "-out", str(self.key), "2048"], check=True,
                       capture_output=True)
        modulus = subprocess.run(["openssl", "rsa", "-in", str(self.key), "-noout", "-modulus"],
                                 check=True, capture_output=True, text=True).stdout
        n = bytes.fromhex(modulus.strip().split("=", 1)[1])
        self.jwks = {"keys": [{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
                               "n": b64url(n), "e": "AQAB"}]}
        self.jwks_path = d / "jwks.json"
        self.jwks_path.write_text(json.dumps(self.jwks))

    def sign(self, claims: dict, header=None, signature=None) -> str:
        h = header or {"alg": "RS256", "typ": "JWT", "kid": self.kid}
        signing_input = (b64url(json.dumps(h).encode()) + "." +
                         b64url(json.dumps(claims).encode())).encode()
        if signature is None:
            sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(self.key)],
                                 input=signing_input, check=True, capture_output=True).stdout
        else:
            sig = signature
        return signing_input.decode() + "." + b64url(sig)

    def claims(self, **over):
        now = int(time.time())
        c = {"iss": self.ISSUER, "aud": "custos", "sub": "repo:acme/shop:ref:refs/heads/main",
             "repository": "acme/shop", "ref": "refs/heads/main", "iat": now - 5,
             "nbf": now - 5, "exp": now + 600, "jti": str(uuid.uuid4())}
        c.update(over)
        return c
