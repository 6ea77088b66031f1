"""Enforcement a workload cannot talk its way past, on a real PostgreSQL: the target's own
read-only guard, names resolved against the target's catalog as it changes, the pipelining
barrier, and an analysis cache no session can poison for another."""
import json
import socket
import struct

import psycopg2
import pytest

import harness
from harness.postgres import GatewaySetup

# ci-deploy may run functions that execute SQL text (so a statement can change a parse setting
# behind custos's back); `reader` is a plain readonly identity; `writer` may change the schema.
POLICY = """    target_read_only: true
    rules:
      - allow: { kinds: [readonly, dynamic_sql] }"""

EXTRA_POLICIES = """  - name: readers
    identities: [reader]
    connections: [orders]
    rules:
      - allow: { kinds: [readonly] }
  - name: writers
    identities: [writer]
    connections: [orders]
    rules:
      - allow: { kinds: [readonly, ddl, insert, update, delete, call] }"""


@pytest.fixture(scope="module")
def enf(pg, certs):
    pg.app_sql("drop table if exists enf_kv; create table enf_kv(k text primary key, v text);"
               "insert into enf_kv values ('a', '1'), ('b', '2');"
               "drop function if exists public.upper(integer)")
    reader_key, reader_sha = harness.new_api_key()
    writer_key, writer_sha = harness.new_api_key()
    setup = GatewaySetup(pg, certs, policy_yaml=POLICY, policies_extra=EXTRA_POLICIES,
                         identities_extra=f"""  - name: reader
    api_keys: [{{ sha256: "{reader_sha}" }}]
  - name: writer
    api_keys: [{{ sha256: "{writer_sha}" }}]
""")
    setup.start()
    setup.reader_key, setup.writer_key = reader_key, writer_key
    yield setup
    setup.gw.stop()
    pg.app_sql("drop table if exists enf_kv; drop function if exists public.upper(integer)")


def rows(pg):
    return pg.app_sql("select k, v from enf_kv order by k")


def connect(setup, user="ci-deploy", key=None):
    conn = psycopg2.connect(setup.dsn(user=user, password=key or setup.key))
    conn.autocommit = True
    return conn


def one(conn, sql):
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchone()[0]


def denied(conn, sql):
    with pytest.raises(psycopg2.Error) as e:
        with conn.cursor() as cur:
            cur.execute(sql)
    assert e.value.pgcode == "42501", (sql, e.value.pgerror)
    return e.value.pgerror


def q(sql):
    return harness.pg_message(b"Q", sql.encode() + b"\0")


def read_all_until_close(s):
    got = []
    try:
        while True:
            got.append(s.read_message())
    except (EOFError, OSError):
        pass
    return got


# ---- the target's own guard ------------------------------------------------------------------

def test_readonly_policy_opens_a_read_only_target_session(enf, pg):
    conn = connect(enf, "reader", enf.reader_key)
    try:
        assert one(conn, "show default_transaction_read_only") == "on"
        assert one(conn, "show transaction_read_only") == "on"
        for sql in ("begin read write", "set transaction_read_only = off",
                    "set session characteristics as transaction read write",
                    "select set_config('default_transaction_read_only', 'off', false)"):
            message = denied(conn, sql)
            assert "read-only" in message, message
        assert one(conn, "show transaction_read_only") == "on"
    finally:
        conn.close()
    assert '"target_read_only":true' in enf.gw.recordings_text()


def test_policy_that_allows_writes_leaves_the_target_writable(enf):
    conn = connect(enf, "writer", enf.writer_key)
    try:
        assert one(conn, "show default_transaction_read_only") == "off"
    finally:
        conn.close()


def test_a_client_cannot_ask_for_a_writable_session_at_startup(enf):
    s = harness.RawSession(enf.pg_port, "reader", "orders", enf.reader_key,
                           options=(("default_transaction_read_only", "off"),))
    try:
        assert not s.login_error, s.login_error
        got = s.exchange(q("show default_transaction_read_only"))
        values = [p for k, p in got if k == b"D"]
        assert values and values[0].endswith(b"on"), got
    finally:
        s.close()


# ---- names resolved against the target, as it changes -----------------------------------------

def test_a_shadowing_function_created_by_another_session_is_seen_at_once(enf, pg):
    reader = connect(enf, "reader", enf.reader_key)
    writer = connect(enf, "writer", enf.writer_key)
    try:
        assert one(reader, "select upper('a')") == "A"  # the catalog is now cached
        with writer.cursor() as cur:
            cur.execute("create function public.upper(i integer) returns text language plpgsql "
                        "as $$ begin update enf_kv set v = 'owned'; return 'x'; end $$")
        message = denied(reader, "select upper(5)")
        assert "custos: call denied" in message, message
        assert rows(pg) == [("a", "1"), ("b", "2")]
        with writer.cursor() as cur:
            cur.execute("drop function public.upper(integer)")
        assert one(reader, "select upper('a')") == "A"
    finally:
        reader.close()
        writer.close()


# ---- the pipelining barrier --------------------------------------------------------------------

# Under standard_conforming_strings=on this is one string literal; under off, the backslash
# escapes the quote and a DELETE follows.
SMUGGLED = "select 'a\\'';delete from enf_kv;--'"
SCS_OFF = ("select query_to_xml('select set_config(''standard_conforming_strings'', ''off'', "
           "false)', true, false, '')")


def test_statement_pipelined_after_a_parse_setting_change_is_never_run(enf, pg):
    s = harness.RawSession(enf.pg_port, "ci-deploy", "orders", enf.key)
    assert not s.login_error, s.login_error
    s.sock.sendall(q(SCS_OFF) + q(SMUGGLED))
    got = read_all_until_close(s)
    kinds = [k for k, _ in got]
    assert b"D" in kinds, got  # the first statement ran
    errors = [harness.error_fields(p) for k, p in got if k == b"E"]
    assert errors and errors[-1]["S"] == "FATAL" and errors[-1]["C"] == "0A000", errors
    assert "standard_conforming_strings" in errors[-1]["M"], errors
    assert rows(pg) == [("a", "1"), ("b", "2")]
    s.sock.close()


def test_extended_batch_after_a_barrier_execute_is_refused_before_its_sync(enf, pg):
    s = harness.RawSession(enf.pg_port, "ci-deploy", "orders", enf.key)
    assert not s.login_error, s.login_error

    def parse_bind_execute(sql):
        return (harness.pg_message(b"P", b"\0" + sql.encode() + b"\0\0\0")
                + harness.pg_message(b"B", b"\0\0\0\0\0\0\0\0")
                + harness.pg_message(b"E", b"\0\0\0\0\0"))

    s.sock.sendall(parse_bind_execute(SCS_OFF) + parse_bind_execute("delete from enf_kv")
                   + harness.pg_message(b"S"))
    got = read_all_until_close(s)
    errors = [harness.error_fields(p) for k, p in got if k == b"E"]
    assert any(e["C"] == "42501" and "pipeline" in e["M"] for e in errors), errors
    assert rows(pg) == [("a", "1"), ("b", "2")]
    s.sock.close()


def test_pipelined_statements_after_a_barrier_still_run_in_order(enf):
    s = harness.RawSession(enf.pg_port, "ci-deploy", "orders", enf.key)
    assert not s.login_error, s.login_error
    try:
        s.sock.sendall(q("select query_to_xml('select 41 as n', true, false, '')")
                       + q("select 42") + q("select 43"))
        results = []
        for _ in range(3):
            got = []
            while True:
                kind, payload = s.read_message()
                got.append((kind, payload))
                if kind == b"Z":
                    break
            assert not [p for k, p in got if k == b"E"], got
            results.append([p for k, p in got if k == b"D"])
        assert b"41" in results[0][0]
        assert results[1][0].endswith(b"42") and results[2][0].endswith(b"43")
    finally:
        s.close()


# ---- one cache, many sessions --------------------------------------------------------------------

@pytest.mark.parametrize("harmless,harmful", [
    ("explain (analyze 'off') delete from enf_kv", "explain (analyze 'on') delete from enf_kv"),
    ("explain (analyze false) delete from enf_kv", "explain (analyze true) delete from enf_kv"),
    ("explain (analyze 0) delete from enf_kv", "explain (analyze 1) delete from enf_kv"),
])
def test_no_session_can_lend_its_verdict_to_another(enf, pg, harmless, harmful):
    first = connect(enf, "reader", enf.reader_key)
    second = connect(enf, "reader", enf.reader_key)
    try:
        with first.cursor() as cur:
            cur.execute(harmless)  # a plan, nothing executed
        denied(second, harmful)
        assert rows(pg) == [("a", "1"), ("b", "2")]
    finally:
        first.close()
        second.close()


# ---- no false denials for what readers really run ------------------------------------------------

@pytest.mark.parametrize("meta", [r"\d enf_kv", r"\dt", r"\dt+", r"\df", r"\dv", r"\dn", r"\du",
                                  r"\l", r"\di", r"\ds", r"\dT", r"\dx", r"\d+ enf_kv", r"\dp"])
def test_psql_catalog_commands_run_under_a_readonly_policy(enf, meta):
    r = enf.psql("-c", meta, user="reader", key=enf.reader_key)
    assert r.returncode == 0, r.stderr
    assert "custos:" not in r.stderr, r.stderr


def test_pgbench_read_only_workload_runs_under_a_readonly_policy(enf, pg):
    import os
    import subprocess
    pgbench = harness.PG_BIN / "pgbench"
    env = dict(os.environ, PGPASSWORD=pg.app_password)
    subprocess.run([str(pgbench), "-i", "-s", "1", "-q", "-h", "127.0.0.1", "-p", str(pg.port),
                    "-U", pg.app_user, "orders"], check=True, capture_output=True, env=env)
    env["PGPASSWORD"] = enf.reader_key
    env["PGSSLMODE"] = "require"
    for mode in ("simple", "extended", "prepared"):
        r = subprocess.run([str(pgbench), "-S", "-n", "-t", "50", "-M", mode, "-h", "127.0.0.1",
                            "-p", str(enf.pg_port), "-U", "reader", "orders"],
                           capture_output=True, text=True, env=env, timeout=120)
        assert r.returncode == 0, r.stderr
        assert "number of failed transactions: 0" in r.stdout or "processed: 50/50" in r.stdout, \
            r.stdout
