"""PostgreSQL gateway core, through real clients against a real PostgreSQL."""
import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.request

import psycopg2
import psycopg2.extensions
import pytest

import harness


def test_psql_query_through_gateway(gateway):
    r = gateway.psql("-c", "select current_user, current_database(), 6*7")
    assert r.returncode == 0, r.stderr
    # The target sees the injected credential's role, not the custos identity.
    assert r.stdout.strip() == "app_rw|orders|42"


def test_tls_is_negotiated(gateway):
    conn = psycopg2.connect(gateway.dsn())
    try:
        with conn.cursor() as cur:
            cur.execute("select 1")
            assert cur.fetchone() == (1,)
        assert conn.info.ssl_in_use
        assert conn.info.ssl_attribute("protocol") in ("TLSv1.2", "TLSv1.3")
    finally:
        conn.close()


@pytest.mark.parametrize("who,key_attr", [
    ("ci-deploy", None),          # right identity, wrong key
    ("nobody", "key"),            # unknown identity
    ("expired-bot", "expired_key"),
])
def test_refused_logins_get_one_generic_message(gateway, who, key_attr):
    key = "cst_wrong" if key_attr is None else getattr(gateway, key_attr)
    with pytest.raises(psycopg2.OperationalError) as e:
        psycopg2.connect(gateway.dsn(user=who, password=key))
    msg = str(e.value)
    assert "custos: authentication failed" in msg
    # Nothing tells the caller which part was wrong.
    assert "expired" not in msg and "unknown" not in msg


def test_wrong_key_sqlstate_is_28P01(gateway):
    r = gateway.psql("-c", "select 1", key="cst_wrong")
    assert r.returncode != 0
    assert "authentication failed" in r.stderr
    # On the wire: FATAL 28P01 with the one generic message, for each way of getting it wrong.
    for user, key in (("ci-deploy", "cst_wrong"), ("nobody", gateway.key),
                      ("expired-bot", gateway.expired_key)):
        fields = harness.raw_login(gateway.pg_port, user, "orders", key)
        assert fields.get("S") == "FATAL", fields
        assert fields.get("C") == "28P01", fields
        assert fields.get("M") == "custos: authentication failed", fields
    # And the right key logs in through the same code path.
    assert harness.raw_login(gateway.pg_port, "ci-deploy", "orders", gateway.key) == {}


def test_newer_protocol_request_is_answered_with_3_0(gateway):
    """A client asking for protocol 3.2 with a protocol option is told, before authentication and
    as PostgreSQL tells it, that the server speaks 3.0 and does not know the option."""
    import struct

    s = harness.RawSession(gateway.pg_port, "ci-deploy", "orders", gateway.key,
                           protocol=(3 << 16) | 2, options=(("_pq_.compression", "on"),))
    try:
        assert s.login_error == {}
        kinds = [k for k, _ in s.login_messages]
        assert kinds[0] == b"v", kinds
        payload = s.login_messages[0][1]
        minor, count = struct.unpack("!ii", payload[:8])
        assert (minor, count) == (0, 1)
        assert payload[8:] == b"_pq_.compression\0"
        got = s.exchange(harness.pg_message(b"Q", b"select 40 + 2\0"))
        rows = [p for k, p in got if k == b"D"]
        assert rows == [struct.pack("!hi", 1, 2) + b"42"]
    finally:
        s.close()
    plain = harness.RawSession(gateway.pg_port, "ci-deploy", "orders", gateway.key)
    try:
        assert b"v" not in [k for k, _ in plain.login_messages]
    finally:
        plain.close()


def test_direct_tls_with_postgresql_alpn(gateway):
    """A client may start TLS at once (libpq 17+ sslnegotiation=direct) when it offers ALPN
    "postgresql"; without ALPN it is refused inside TLS, as PostgreSQL refuses it."""
    import ssl
    import struct

    s = harness.RawSession(gateway.pg_port, "ci-deploy", "orders", gateway.key,
                           direct_alpn=["postgresql"])
    try:
        assert s.login_error == {}
        assert s.sock.selected_alpn_protocol() == "postgresql"
        got = s.exchange(harness.pg_message(b"Q", b"select 6 * 7\0"))
        assert [p for k, p in got if k == b"D"] == [struct.pack("!hi", 1, 2) + b"42"]
    finally:
        s.close()

    bare = harness.RawSession(gateway.pg_port, "ci-deploy", "orders", gateway.key, direct_alpn=[])
    assert (bare.login_error["S"], bare.login_error["C"], bare.login_error["M"]) == (
        "FATAL", "08P01",
        "custos: received direct SSL connection request without ALPN protocol negotiation "
        "extension")
    bare.sock.close()
    assert "direct TLS connection without ALPN" in gateway.gw.log_text()

    # Offering only another protocol fails the handshake.
    with pytest.raises(ssl.SSLError, match="NO_APPLICATION_PROTOCOL|no application protocol"):
        harness.RawSession(gateway.pg_port, "ci-deploy", "orders", gateway.key,
                           direct_alpn=["http/1.1"])

    # The usual SSLRequest path is unchanged for clients that send no ALPN (libpq before 17).
    out = gateway.psql("-c", "select 1")
    assert out.returncode == 0 and out.stdout.strip() == "1", out.stderr


def test_plaintext_refused_without_tls(gateway):
    r = gateway.psql("-c", "select 1", sslmode="disable")
    assert r.returncode != 0
    assert "TLS is required" in r.stderr


def test_identity_not_permitted_on_connection(gateway):
    r = gateway.psql("-c", "select 1", user="outsider", key=gateway.outsider_key)
    assert r.returncode != 0
    assert 'may not use connection "orders"' in r.stderr


def test_target_errors_reach_client_unchanged(gateway):
    conn = psycopg2.connect(gateway.dsn())
    try:
        with conn.cursor() as cur:
            with pytest.raises(psycopg2.errors.DivisionByZero) as e:
                cur.execute("select 1/0")
            assert e.value.pgcode == "22012"
        conn.rollback()
        with conn.cursor() as cur:  # the session goes on
            cur.execute("select 2")
            assert cur.fetchone() == (2,)
    finally:
        conn.close()


def test_copy_in_and_out(gateway, pg):
    pg.app_sql("drop table if exists copy_t; create table copy_t(id int, name text)")
    data = "".join(f"{i}\tname-{i}\n" for i in range(1000))
    r = gateway.psql("-c", "copy copy_t from stdin", input=data)
    assert r.returncode == 0, r.stderr
    assert pg.app_sql("select count(*), sum(id) from copy_t") == [(1000, sum(range(1000)))]
    r = gateway.psql("-c", "copy (select * from copy_t order by id) to stdout")
    assert r.returncode == 0, r.stderr
    assert r.stdout == data


def test_extended_protocol_and_prepared(gateway):
    conn = psycopg2.connect(gateway.dsn())
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("prepare q(int) as select $1 * 2")
            cur.execute("execute q(21)")
            assert cur.fetchone() == (42,)
            cur.execute("select %s::text || %s", ("a'b", "c"))
            assert cur.fetchone() == ("a'bc",)
    finally:
        conn.close()


def test_cancel_reaches_the_right_backend(gateway):
    conn = psycopg2.connect(gateway.dsn())
    try:
        def cancel_soon():
            time.sleep(0.7)
            conn.cancel()
        t = threading.Thread(target=cancel_soon)
        t.start()
        started = time.time()
        with conn.cursor() as cur:
            with pytest.raises(psycopg2.errors.QueryCanceled):
                cur.execute("select pg_sleep(20)")
        t.join()
        assert time.time() - started < 10
        conn.rollback()
        with conn.cursor() as cur:
            cur.execute("select 1")
            assert cur.fetchone() == (1,)
    finally:
        conn.close()


def test_unreachable_target_fails_fast_with_connection_name(gateway):
    started = time.time()
    r = gateway.psql("-c", "select 1", dbname="down")
    assert r.returncode != 0
    assert 'connection "down" is unavailable' in r.stderr
    assert time.time() - started < 8


def test_target_killed_mid_query(gateway, pg):
    conn = psycopg2.connect(gateway.dsn())
    with conn.cursor() as cur:
        cur.execute("select pg_backend_pid()")
        cur.execute("select 'marker-killed-mid-query', pg_sleep(0)")
    def kill_backend():
        # Terminate the backend once the query is seen running there (a slow machine may take
        # a while to get it there).
        harness.wait_until(lambda: pg.sql(
            "select pg_terminate_backend(pid) from pg_stat_activity "
            "where query like '%marker-sleeping%' and pid <> pg_backend_pid()"), 20)
    t = threading.Thread(target=kill_backend)
    t.start()
    with pytest.raises(psycopg2.OperationalError):
        with conn.cursor() as cur:
            cur.execute("select 'marker-sleeping', pg_sleep(30)")
    t.join()
    conn.close()
    # session_end is recorded with the upstream close.
    def upstream_end_recorded():
        ends = [json.loads(l) for l in gateway.gw.recordings_text().splitlines()
                if '"session_end"' in l]
        return any(e.get("reason") in ("upstream_eof", "upstream_error") for e in ends)
    if not harness.wait_until(upstream_end_recorded, 5, 0.2):
        pytest.fail("no session_end with an upstream reason was recorded")


def test_two_hundred_concurrent_sessions(gateway):
    errors = []
    results = []
    barrier = threading.Barrier(200, timeout=60)

    def worker(i):
        try:
            conn = psycopg2.connect(gateway.dsn())
            barrier.wait()
            with conn.cursor() as cur:
                cur.execute("select %s::int + 1", (i,))
                results.append(cur.fetchone()[0])
            conn.close()
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert not errors, errors[:3]
    assert sorted(results) == list(range(1, 201))


def test_recording_and_transcript(gateway):
    marker = "transcript-marker-" + str(time.time_ns())
    r = gateway.psql("-c", f"select '{marker}' as m")
    assert r.returncode == 0, r.stderr
    time.sleep(0.3)
    ls = gateway.gw.cli("sessions", "list")
    assert ls.returncode == 0, ls.stderr
    assert "ci-deploy" in ls.stdout and "orders" in ls.stdout
    # find the session whose recording holds the marker
    rec = gateway.gw.recordings_text()
    events = [json.loads(l) for l in rec.splitlines() if marker in l]
    stmt = [e for e in events if e["type"] == "statement"]
    assert stmt, "statement not recorded"
    sid = stmt[0]["session"]
    show = gateway.gw.cli("sessions", "show", sid)
    assert show.returncode == 0, show.stderr
    assert marker in show.stdout
    assert "ci-deploy" in show.stdout
    assert "SELECT 1" in show.stdout


def test_verify_passes_and_detects_flipped_byte(gateway, tmp_path):
    r = gateway.psql("-c", "select 'verify-me'")
    assert r.returncode == 0
    v = gateway.gw.cli("verify")
    assert v.returncode == 0, v.stdout + v.stderr
    # Tamper with a copy of the data dir so the shared gateway is unaffected.
    import shutil
    copy = tmp_path / "copy"
    shutil.copytree(gateway.gw.base, copy, ignore=shutil.ignore_patterns("*.log"))
    recs = sorted((copy / "data" / "recordings").rglob("*.jsonl"))
    target = next(p for p in recs if "verify-me" in p.read_text())
    raw = bytearray(target.read_bytes())
    i = raw.index(b"verify-me")
    raw[i] ^= 0x01
    target.write_bytes(bytes(raw))
    out = subprocess.run([harness.custos_bin(), "verify", "--config", str(copy / "custos.yaml")],
                         capture_output=True, text=True, env=gateway.gw.env)
    assert out.returncode != 0
    assert "seq" in (out.stdout + out.stderr).lower()


def test_metrics_and_health(gateway):
    body = urllib.request.urlopen(f"http://127.0.0.1:{gateway.admin_port}/healthz").read()
    assert body.strip() == b"ok"
    gateway.psql("-c", "select 1", key="cst_definitely_wrong")
    m = urllib.request.urlopen(f"http://127.0.0.1:{gateway.admin_port}/metrics").read().decode()
    failures = int(re.search(r"^custos_auth_failures_total (\d+)$", m, re.M).group(1))
    assert failures >= 1
    assert re.search(r"^custos_statements_total \d+$", m, re.M)
    assert 'custos_connections_closed_total{reason="auth_failed"}' in m


def test_pgbench_modes(gateway, pg):
    env = dict(os.environ, PGPASSWORD=gateway.key, PGSSLMODE="require")
    base = ["pgbench", "-h", "127.0.0.1", "-p", str(gateway.pg_port), "-U", "ci-deploy"]
    init = subprocess.run(base + ["-i", "-s", "1", "-q", "orders"], capture_output=True,
                          text=True, env=env, timeout=120)
    assert init.returncode == 0, init.stderr
    for mode in ("simple", "extended", "prepared"):
        r = subprocess.run(base + ["-M", mode, "-c", "4", "-j", "2", "-t", "50", "orders"],
                           capture_output=True, text=True, env=env, timeout=120)
        assert r.returncode == 0, r.stderr
        assert "number of transactions actually processed: 200/200" in r.stdout, r.stdout


def test_target_password_never_leaks(gateway, pg, capfd):
    secret = pg.app_password
    gateway.psql("-c", "select 1")
    gateway.psql("-c", "select 1/0")
    assert secret not in gateway.gw.log_text()
    assert secret not in gateway.gw.recordings_text()
    db = gateway.gw.data_dir() / "custos.db"
    assert secret.encode() not in db.read_bytes()
    out, err = capfd.readouterr()
    assert secret not in out and secret not in err
