"""TLS toward the target: custos dials a PostgreSQL that only accepts TLS, verifies its
certificate (verify-full), and relays large results and COPY in both directions through TLS on
both sides. A target whose certificate does not chain to the configured CA is refused."""

import os
import shutil
import subprocess

import pytest

import harness
from harness.postgres import GatewaySetup


@pytest.fixture(scope="module")
def tls_pg(certs):
    cluster = harness.PgCluster(harness.tempdir("custos-pgtls-")).start()
    for name in ("server.crt", "server.key"):
        dst = cluster.datadir / name
        shutil.copy(certs / name, dst)
        os.chmod(dst, 0o600)
        if harness.run_as_postgres_user():
            shutil.chown(dst, "postgres")
    with open(cluster.datadir / "postgresql.conf", "a") as f:
        f.write("ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n")
    # TCP clients must use TLS: a plaintext dial is refused by the target itself.
    (cluster.datadir / "pg_hba.conf").write_text(
        "local all all scram-sha-256\n"
        "hostssl all all 127.0.0.1/32 scram-sha-256\n"
        "hostnossl all all 127.0.0.1/32 reject\n")
    cluster.stop()
    cluster.restart()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory):
    d = tmp_path_factory.mktemp("other-ca")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(d / "ca.key"), "-out",
                    str(d / "ca.crt"), "-days", "2", "-subj", "/CN=unrelated CA"],
                   check=True, capture_output=True)
    return d / "ca.crt"


@pytest.fixture(scope="module")
def tls_gateway(pg, certs, tls_pg, other_ca, tmp_path_factory):
    secret = tmp_path_factory.mktemp("secret") / "target-password"
    secret.write_text(tls_pg.app_password)
    os.chmod(secret, 0o600)
    conns = ""
    for name, mode, ca in (("secure", "verify-full", certs / "ca.crt"),
                           ("wrongca", "verify-full", other_ca),
                           ("notls", "disable", None)):
        tls = f"tls: {{ mode: {mode}" + (f", ca: {ca}" if ca else "") + " }"
        conns += f"""  - name: {name}
    type: postgres
    address: 127.0.0.1:{tls_pg.port}
    database: orders
    credentials: {{ username: {tls_pg.app_user}, password: file:{secret} }}
    {tls}
"""
    extra = """  - name: tls-targets
    identities: [group:ci]
    connections: [secure, wrongca, notls]
    default: allow
"""
    setup = GatewaySetup(pg, certs, connections_extra=conns, extra_yaml=extra)
    gw = setup.start()
    yield setup
    gw.stop()


def test_target_connection_is_tls_and_verified(tls_gateway):
    r = tls_gateway.psql("-c", "select ssl, version from pg_stat_ssl where pid = pg_backend_pid()",
                         dbname="secure")
    assert r.returncode == 0, r.stderr
    ssl, version = r.stdout.strip().split("|")
    assert ssl == "t"
    assert version.startswith("TLSv1.")


def test_large_results_and_copy_through_tls_on_both_sides(tls_gateway):
    # ~1.3 MB result: many TLS records each way, read in pieces that end inside records.
    r = tls_gateway.psql("-c", "select string_agg(md5(g::text), '' order by g) "
                         "from generate_series(1, 40000) g", dbname="secure")
    assert r.returncode == 0, r.stderr
    expected = subprocess.run(
        ["python3", "-c", "import hashlib;print(''.join(hashlib.md5(str(g).encode()).hexdigest()"
         " for g in range(1, 40001)))"], capture_output=True, text=True).stdout.strip()
    assert r.stdout.strip() == expected

    rows = "".join(f"{i}\t{'v' * 200}-{i}\n" for i in range(20000))  # ~4 MB up
    r = tls_gateway.psql("-c", "create table if not exists tls_copy(id int, v text)",
                         "-c", "truncate tls_copy",
                         "-c", "copy tls_copy from stdin",
                         "-c", "select count(*), sum(length(v)) from tls_copy",
                         dbname="secure", input=rows)
    assert r.returncode == 0, r.stderr
    want_len = sum(len(f"{'v' * 200}-{i}") for i in range(20000))
    assert r.stdout.strip().splitlines()[-1] == f"20000|{want_len}"


def test_target_with_untrusted_certificate_is_refused(tls_gateway):
    r = tls_gateway.psql("-c", "select 1", dbname="wrongca")
    assert r.returncode != 0
    assert 'FATAL:  custos: connection "wrongca" is unavailable' in r.stderr, r.stderr
    # Why goes to the gateway's log, not to the caller.
    refused = [line for line in tls_gateway.gw.log_text().splitlines()
               if "connection=wrongca" in line and " unavailable: " in line]
    assert refused and "TLS to target failed" in refused[-1], refused
    assert "certificate verify failed" in refused[-1], refused
    assert "certificate" not in r.stderr
    # The gateway keeps serving: the verified connection still works.
    ok = tls_gateway.psql("-c", "select 1", dbname="secure")
    assert ok.returncode == 0 and ok.stdout.strip() == "1", ok.stderr


def test_target_that_requires_tls_refuses_a_plaintext_dial(tls_gateway):
    r = tls_gateway.psql("-c", "select 1", dbname="notls")
    assert r.returncode != 0
    # The target's own refusal reaches the client unchanged.
    assert ('pg_hba.conf rejects connection for host "127.0.0.1", user "app_rw", '
            'database "orders", no encryption') in r.stderr, r.stderr
