"""Workload identity through real clients: OIDC tokens as the password, token exchange,
stored API keys with revocation, mTLS with a SPIFFE ID."""
import hashlib
import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path

import psycopg2
import pytest

import harness
from harness.postgres import GatewaySetup
from oidc_issuer import TestIssuer


def make_client_pki(d: Path, spiffe="spiffe://acme.test/ci/deployer"):
    d.mkdir(parents=True, exist_ok=True)
    def ossl(*a):
        subprocess.run(["openssl", *a], check=True, capture_output=True)
    for ca in ("clientca", "otherca"):
        ossl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", str(d / f"{ca}.key"), "-out", str(d / f"{ca}.crt"), "-days", "2",
             "-subj", f"/CN={ca}")
    (d / "ext.cnf").write_text(f"subjectAltName=URI:{spiffe}\n")
    for who, ca in (("bot", "clientca"), ("rogue", "otherca")):
        ossl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", str(d / f"{who}.key"), "-out", str(d / f"{who}.csr"), "-subj",
             f"/CN={who}")
        ossl("x509", "-req", "-in", str(d / f"{who}.csr"), "-CA", str(d / f"{ca}.crt"),
             "-CAkey", str(d / f"{ca}.key"), "-CAcreateserial", "-out", str(d / f"{who}.crt"),
             "-days", "2", "-extfile", str(d / "ext.cnf"))
        os.chmod(d / f"{who}.key", 0o600)
    return d


@pytest.fixture(scope="module")
def ident(pg, certs, tmp_path_factory):
    issuer = TestIssuer(tmp_path_factory.mktemp("issuer"))
    pki = make_client_pki(tmp_path_factory.mktemp("pki"))
    identities = f"""  - name: gha-release
    groups: [ci]
    oidc:
      issuer: {TestIssuer.ISSUER}
      audience: custos
      jwks_file: {issuer.jwks_path}
      claims: {{ repository: acme/shop, ref: "refs/heads/*" }}
      max_ttl: 1h
      replay: reject
  - name: spiffe-bot
    groups: [ci]
    mtls: {{ spiffe_id: "spiffe://acme.test/ci/deployer" }}"""
    setup = GatewaySetup(pg, certs, identities_extra=identities,
                         tls_extra=f", client_ca: {pki}/clientca.crt")
    setup.start()
    setup.issuer = issuer
    setup.pki = pki
    yield setup
    setup.gw.stop()


def connect(setup, user, password, **kw):
    return psycopg2.connect(host="127.0.0.1", port=setup.pg_port, user=user, dbname="orders",
                            sslmode="require", password=password, **kw)


def test_valid_workload_token_through_psql_and_psycopg2(ident):
    token = ident.issuer.sign(ident.issuer.claims())
    r = ident.psql("-c", "select current_user", user="gha-release", key=token)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "app_rw"
    token2 = ident.issuer.sign(ident.issuer.claims(ref="refs/heads/release-1"))
    conn = connect(ident, "gha-release", token2)
    with conn.cursor() as cur:
        cur.execute("select 1")
        assert cur.fetchone() == (1,)
    conn.close()
    starts = [json.loads(l) for l in ident.gw.recordings_text().splitlines()
              if '"session_start"' in l and '"gha-release"' in l]
    assert any(s["auth_method"] == "oidc" and s.get("token_jti") and s.get("token_sub")
               for s in starts)


@pytest.mark.parametrize("case", ["forged", "expired", "not_yet_valid", "wrong_aud",
                                  "wrong_iss", "alg_none", "other_repo", "other_branch",
                                  "too_long", "unknown_kid"])
def test_refused_tokens_get_one_generic_error(ident, case):
    iss = ident.issuer
    now = int(time.time())
    if case == "forged":
        good = iss.sign(iss.claims())
        head, body, sig = good.split(".")
        token = head + "." + body + "." + ("A" if sig[0] != "A" else "B") + sig[1:]
    elif case == "expired":
        token = iss.sign(iss.claims(iat=now - 1000, nbf=now - 1000, exp=now - 300))
    elif case == "not_yet_valid":
        token = iss.sign(iss.claims(nbf=now + 600, exp=now + 1200))
    elif case == "wrong_aud":
        token = iss.sign(iss.claims(aud="someone-else"))
    elif case == "wrong_iss":
        token = iss.sign(iss.claims(iss="https://evil.invalid"))
    elif case == "alg_none":
        token = iss.sign(iss.claims(), header={"alg": "none", "typ": "JWT", "kid": iss.kid},
                         signature=b"")
    elif case == "other_repo":
        token = iss.sign(iss.claims(repository="evil/shop"))
    elif case == "other_branch":
        token = iss.sign(iss.claims(ref="refs/tags/v1"))
    elif case == "too_long":
        token = iss.sign(iss.claims(iat=now, exp=now + 7200))
    elif case == "unknown_kid":
        token = iss.sign(iss.claims(), header={"alg": "RS256", "typ": "JWT", "kid": "nope"})
    with pytest.raises(psycopg2.OperationalError) as e:
        connect(ident, "gha-release", token)
    assert "custos: authentication failed" in str(e.value)


def test_replayed_jti_refused(ident):
    token = ident.issuer.sign(ident.issuer.claims())
    connect(ident, "gha-release", token).close()
    with pytest.raises(psycopg2.OperationalError):
        connect(ident, "gha-release", token)
    assert "replay" in ident.gw.log_text().lower()


def test_token_exchange_gives_a_short_password(ident):
    jwt = ident.issuer.sign(ident.issuer.claims())
    req = urllib.request.Request(
        f"http://127.0.0.1:{ident.admin_port}/api/token",
        data=json.dumps({"identity": "gha-release", "token": jwt}).encode(),
        headers={"Content-Type": "application/json"}, method="POST")
    body = json.loads(urllib.request.urlopen(req).read())
    short = body["token"]
    assert len(short) <= 64
    r = ident.psql("-c", "select 'exchanged'", user="gha-release", key=short)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "exchanged"


def test_stored_key_create_and_revoke_closes_live_session(ident):
    created = ident.gw.cli("keys", "create", "--identity", "ci-deploy", "--ttl", "1d")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("cst_")
    key_id = hashlib.sha256(key.encode()).hexdigest()[:12]
    listed = ident.gw.cli("keys", "list")
    assert key_id in listed.stdout and key not in listed.stdout
    conn = connect(ident, "ci-deploy", key)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("select 1")
    revoked = ident.gw.cli("keys", "revoke", key_id)
    assert revoked.returncode == 0, revoked.stderr
    def refused():
        try:
            with conn.cursor() as cur:
                cur.execute("select 1")
            return False
        except psycopg2.Error:
            return True
    assert harness.wait_until(refused, 5, 0.2), \
        "session authenticated with a revoked key stayed open"
    with pytest.raises(psycopg2.OperationalError):
        connect(ident, "ci-deploy", key)
    ends = [json.loads(l) for l in ident.gw.recordings_text().splitlines()
            if '"session_end"' in l]
    assert any(e["reason"] == "key_revoked" for e in ends)


def test_mtls_spiffe_identity_without_password(ident):
    pki = ident.pki
    conn = psycopg2.connect(host="127.0.0.1", port=ident.pg_port, user="spiffe-bot",
                            dbname="orders", sslmode="require", sslcert=str(pki / "bot.crt"),
                            sslkey=str(pki / "bot.key"), password="")
    with conn.cursor() as cur:
        cur.execute("select 'mtls'")
        assert cur.fetchone() == ("mtls",)
    conn.close()
    starts = [json.loads(l) for l in ident.gw.recordings_text().splitlines()
              if '"session_start"' in l and "spiffe-bot" in l]
    assert starts and starts[-1]["auth_method"] == "mtls"
    assert len(starts[-1]["cert_fingerprint"]) == 64


def test_mtls_certificate_from_another_ca_refused(ident):
    pki = ident.pki
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(host="127.0.0.1", port=ident.pg_port, user="spiffe-bot",
                         dbname="orders", sslmode="require", sslcert=str(pki / "rogue.crt"),
                         sslkey=str(pki / "rogue.key"), password="", connect_timeout=5)


def test_identities_inventory(ident):
    r = ident.gw.cli("identities", "list")
    assert r.returncode == 0, r.stderr
    for name in ("ci-deploy", "gha-release", "spiffe-bot"):
        assert name in r.stdout
    assert "oidc" in r.stdout and "mtls" in r.stdout
