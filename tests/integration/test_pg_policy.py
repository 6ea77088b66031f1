"""SQL command policy on the wire: real psql, pgbench and node-postgres through custos."""
import json
import os
import subprocess
from pathlib import Path

import psycopg2
import pytest

from harness.postgres import GatewaySetup
import harness

HERE = Path(__file__).parent

POLICY = """    rules:
      - allow: { kinds: [select], tables: [pol_big], max_rows: 100 }
      - deny:  { kinds: [ddl], message: "no DDL from CI" }
      - allow: { kinds: [readonly] }
      - allow: { kinds: [insert, update, delete], tables: ["pol_*", "pgbench_*"], require_where: true }
      - allow: { kinds: [copy_in], tables: ["pol_*"] }"""


@pytest.fixture(scope="module")
def gw(pg, certs):
    pg.app_sql("drop table if exists pol_items, pol_big;"
               "create table pol_items(id int primary key, name text);"
               "insert into pol_items select g, 'item-' || g from generate_series(1, 10) g;"
               "create table pol_big as select g as id from generate_series(1, 1000) g")
    setup = GatewaySetup(pg, certs, policy_yaml=POLICY)
    setup.start()
    yield setup
    setup.gw.stop()


def count(pg, table="pol_items"):
    return pg.app_sql(f"select count(*) from {table}")[0][0]


def test_readonly_statement_allowed(gw):
    r = gw.psql("-c", "select count(*) from pol_items")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "10"


def test_delete_without_where_denied_and_nothing_changed(gw, pg):
    r = gw.psql("-c", "delete from pol_items")
    assert r.returncode != 0
    assert "custos: delete denied by policy 'ci-on-orders' rule 4" in r.stderr
    assert "UPDATE/DELETE without WHERE" in r.stderr
    assert count(pg) == 10


def test_constant_true_where_is_no_where(gw, pg):
    for where in ("1=1", "true", "'a' = 'a'"):
        r = gw.psql("-v", "VERBOSITY=verbose", "-c", f"delete from pol_items where {where}")
        assert r.returncode != 0
        assert "42501" in r.stderr, r.stderr
        assert "UPDATE/DELETE without WHERE" in r.stderr, r.stderr
    assert count(pg) == 10


def test_ddl_denied_with_rule_message(gw, pg):
    r = gw.psql("-c", "drop table pol_items")
    assert r.returncode != 0
    assert "custos: ddl denied by policy 'ci-on-orders' rule 2: no DDL from CI" in r.stderr
    assert count(pg) == 10


def test_multi_statement_runs_only_if_every_statement_allowed(gw, pg):
    r = gw.psql("-c", "insert into pol_items values (100, 'x') returning id; drop table pol_items")
    assert r.returncode != 0
    assert pg.app_sql("select count(*) from pol_items where id = 100")[0][0] == 0


def test_cte_delete_hidden_in_select_denied(gw, pg):
    r = gw.psql("-c", "with d as (delete from pol_items returning *) select count(*) from d")
    assert r.returncode != 0
    assert "denied by policy" in r.stderr
    assert count(pg) == 10


@pytest.mark.parametrize("sql,denial", [
    ("select pg_read_file('/etc/passwd')", "dangerous_function denied by policy 'ci-on-orders' (default deny)"),
    ("select pg_catalog.pg_read_file('/etc/passwd')", "dangerous_function denied by policy 'ci-on-orders' (default deny)"),
    ("select set_config('role', 'postgres', false)", "set_role denied by policy 'ci-on-orders' (default deny)"),
    ("do $$ begin delete from pol_items; end $$", "do denied by policy 'ci-on-orders' (default deny)"),
    ("explain analyze delete from pol_items where id = 1", "delete denied by policy 'ci-on-orders' (default deny)"),
    ("copy pol_items to program 'cat'", "copy_program denied by policy 'ci-on-orders' (default deny)"),
    ("/* comment */ DeLeTe /* nested /* x */ */ FROM pol_items",
     "delete denied by policy 'ci-on-orders' rule 4: UPDATE/DELETE without WHERE"),
    ("create table pol_ctas as select * from pol_items", "ddl denied by policy 'ci-on-orders' rule 2: no DDL from CI"),
    ("select * from pol_items where id = 1 for update", "lock denied by policy 'ci-on-orders' (default deny)"),
    ("select nextval('pol_items_seq')", "update denied by policy 'ci-on-orders' (default deny)"),
    ("select pg_advisory_lock(42)", "lock denied by policy 'ci-on-orders' (default deny)"),
    ("select 1 operator(public.=) 1", "call denied by policy 'ci-on-orders' (default deny)"),
    ("set search_path = public, pg_catalog", "other denied by policy 'ci-on-orders' (default deny)"),
])
def test_bypass_attempts_denied(gw, pg, sql, denial):
    r = gw.psql("-c", sql)
    assert r.returncode != 0, sql
    assert f"ERROR:  custos: {denial}\n" in r.stderr, r.stderr
    assert count(pg) == 10


@pytest.mark.parametrize("sql,expected", [
    ("select 'delete from pol_items'", "delete from pol_items"),
    ("select 1 -- ; delete from pol_items", "1"),
    ("select $$drop table pol_items$$", "drop table pol_items"),
])
def test_keywords_in_strings_and_comments_do_not_deny(gw, sql, expected):
    r = gw.psql("-c", sql)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == expected


def test_execute_of_a_prepare_in_the_same_query_is_judged_by_what_it_runs(gw, pg):
    r = gw.psql("-c", "prepare pq as select count(*) from pol_items; execute pq")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["PREPARE", "10"]
    r = gw.psql("-c", "prepare pd as delete from pol_items where id = 1; execute pd")
    assert r.returncode != 0
    assert "ERROR:  custos: delete denied by policy 'ci-on-orders' (default deny)\n" in r.stderr
    assert count(pg) == 10


def test_allowed_write_with_where(gw, pg):
    r = gw.psql("-c", "update pol_items set name = 'renamed' where id = 3")
    assert r.returncode == 0, r.stderr
    assert pg.app_sql("select name from pol_items where id = 3") == [("renamed",)]


def test_session_continues_after_denial_and_transaction_state_is_consistent(gw, pg):
    conn = psycopg2.connect(gw.dsn())
    try:
        with conn.cursor() as cur:
            cur.execute("select 1")
            with pytest.raises(psycopg2.errors.InsufficientPrivilege) as e:
                cur.execute("delete from pol_items")
            assert e.value.pgcode == "42501"
            assert "custos: delete denied" in str(e.value)
        conn.rollback()
        with conn.cursor() as cur:
            cur.execute("select count(*) from pol_items")
            assert cur.fetchone() == (10,)
    finally:
        conn.close()


def test_max_rows_fails_the_statement(gw):
    conn = psycopg2.connect(gw.dsn())
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("select * from pol_big where id <= 50")
            assert len(cur.fetchall()) == 50
            with pytest.raises(psycopg2.Error) as e:
                cur.execute("select * from pol_big")
            assert e.value.pgcode == "54000"
            assert "exceeds the limit of 100 rows" in str(e.value)
            cur.execute("select 'after-limit'")
            assert cur.fetchone() == ("after-limit",)
    finally:
        conn.close()


def test_pgbench_extended_and_prepared_with_policy(gw, pg):
    env = dict(os.environ, PGPASSWORD=gw.key, PGSSLMODE="require")
    base = ["pgbench", "-h", "127.0.0.1", "-p", str(gw.pg_port), "-U", "ci-deploy"]
    pg.app_sql("drop table if exists pgbench_accounts, pgbench_branches, pgbench_tellers, "
               "pgbench_history")
    init = subprocess.run(["pgbench", "-h", "127.0.0.1", "-p", str(pg.port), "-U", "app_rw",
                           "-i", "-s", "1", "-q", "orders"], capture_output=True, text=True,
                          env=dict(os.environ, PGPASSWORD=pg.app_password), timeout=120)
    assert init.returncode == 0, init.stderr
    for mode in ("extended", "prepared"):
        r = subprocess.run(base + ["-n", "-S", "-M", mode, "-c", "2", "-t", "50", "orders"],
                           capture_output=True, text=True, env=env, timeout=120)
        assert r.returncode == 0, r.stderr
        assert "actually processed: 100/100" in r.stdout
    # A denied statement in a custom script: pgbench reports the error; nothing is deleted.
    script = HERE / "pgbench_denied.sql"
    script.write_text("delete from pgbench_accounts;\n")
    try:
        for mode in ("extended", "prepared"):
            r = subprocess.run(base + ["-n", "-M", mode, "-c", "1", "-t", "1", "-f", str(script),
                                       "orders"], capture_output=True, text=True, env=env,
                               timeout=60)
            assert "custos: delete denied" in r.stderr, r.stderr
    finally:
        script.unlink()
    assert pg.app_sql("select count(*) from pgbench_accounts")[0][0] == 100000


def test_extended_protocol_denial_keeps_protocol_state(gw, pg):
    node_dir = HERE / "node"
    if not (node_dir / "node_modules" / "pg").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=node_dir,
                       check=True, timeout=300)
    env = dict(os.environ, CUSTOS_PORT=str(gw.pg_port), CUSTOS_USER="ci-deploy",
               CUSTOS_DB="orders", CUSTOS_KEY=gw.key)
    r = subprocess.run(["node", str(node_dir / "policy_client.js")], capture_output=True,
                       text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr + r.stdout
    assert r.stdout.strip() == "ok"
    assert count(pg) == 10


def test_denials_are_recorded_with_the_decision(gw):
    gw.psql("-c", "truncate pol_items")
    events = [json.loads(l) for l in gw.gw.recordings_text().splitlines() if l.strip()]
    denied = [e for e in events if e.get("type") == "statement"
              and e.get("text") == "truncate pol_items"]
    assert denied, "denied statement not recorded"
    assert denied[-1]["decision"]["verdict"]["decision"] == "deny"
    # Text that does not parse is recorded the same way, with the parser's reason as its fact.
    r = gw.psql("-c", "selec * from pol_items")
    assert ("ERROR:  custos: other denied by policy 'ci-on-orders' (built-in rule): statement "
            "could not be parsed\n") in r.stderr, r.stderr
    events = [json.loads(l) for l in gw.gw.recordings_text().splitlines() if l.strip()]
    bad = [e for e in events if e.get("type") == "statement" and e.get("text") == "selec * from pol_items"]
    assert bad[-1]["decision"]["verdict"]["decision"] == "deny"
    assert bad[-1]["decision"]["verdict"]["reason"] == "statement could not be parsed"
    assert bad[-1]["decision"]["facts"] == [
        {"parse_error": 'syntax error at or near "selec" at position 1'}]


def test_policy_test_cli(gw):
    r = gw.gw.cli("policy", "test", "--identity", "ci-deploy", "--connection", "orders",
                  "select 1; delete from pol_items")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "delete" in r.stdout and "DENY" in r.stdout
    r = gw.gw.cli("policy", "test", "--identity", "ci-deploy", "--connection", "orders",
                  "select * from pol_items where id = 1")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ALLOW" in r.stdout


def test_startup_options_cannot_bypass_policy(gw):
    env = dict(os.environ, PGPASSWORD=gw.key, PGOPTIONS="-c standard_conforming_strings=off")
    r = subprocess.run(["psql", "-X", f"host=127.0.0.1 port={gw.pg_port} user=ci-deploy "
                        "dbname=orders sslmode=require", "-c", "select 1"],
                       capture_output=True, text=True, env=env, timeout=30)
    assert r.returncode != 0
    assert 'startup parameter "options" is not allowed' in r.stderr


def test_client_encodings_custos_cannot_read_are_refused(gw, fresh_gateway):
    """In SJIS, GBK, BIG5, ... a backslash can be the second byte of a character: the server
    would read E'<0xbf>\\'; DELETE ...' as a string and a DELETE where the parser sees one
    string. Such encodings are refused at startup and denied as settings, whatever the rules."""
    env = dict(os.environ, PGPASSWORD=gw.key, PGCLIENTENCODING="SJIS")
    r = subprocess.run(["psql", "-X", f"host=127.0.0.1 port={gw.pg_port} user=ci-deploy "
                        "dbname=orders sslmode=require", "-c", "select 1"],
                       capture_output=True, text=True, env=env, timeout=30)
    assert r.returncode != 0
    assert ('FATAL:  custos: client_encoding "SJIS" is not supported (statements under it cannot '
            'be checked as the server reads them); use UTF8\n') in r.stderr, r.stderr

    permissive = fresh_gateway(policy_yaml="    default: allow")
    conn = psycopg2.connect(permissive.dsn())
    conn.autocommit = True
    try:
        cur = conn.cursor()
        for statement, setting in (("set client_encoding to 'GBK'", "client_encoding GBK"),
                                   ("set names 'Shift_JIS'", "client_encoding Shift_JIS"),
                                   ("select set_config('client_encoding', 'BIG5', false)",
                                    "client_encoding BIG5"),
                                   ("set standard_conforming_strings = off",
                                    "standard_conforming_strings=off")):
            with pytest.raises(psycopg2.errors.InsufficientPrivilege) as e:
                cur.execute(statement)
            assert e.value.diag.message_primary == (
                "custos: other denied by policy 'ci-on-orders' (built-in rule): custos cannot "
                f"check statements under {setting}")
        cur.execute("show client_encoding")
        assert cur.fetchone()[0] == "UTF8"  # nothing reached the target
        cur.execute("set client_encoding to 'LATIN1'")  # ASCII-safe: a plain setting
        cur.execute("select 'ok'")
        assert cur.fetchone()[0] == "ok"
    finally:
        conn.close()
    # A change custos could not see as a setting (inside a DO block this policy allows) is
    # caught when the target reports it: the next statement closes the session.
    s = harness.RawSession(permissive.pg_port, "ci-deploy", "orders", permissive.key)
    try:
        got = s.exchange(harness.pg_message(
            b"Q", b"do $$ begin perform set_config('client_encoding', 'SJIS', false); end $$\0"))
        assert (b"S", b"client_encoding\0SJIS\0") in got
        s.sock.sendall(harness.pg_message(b"Q", b"select 1\0"))
        kind, payload = s.read_message()
        fields = harness.error_fields(payload)
        assert (kind, fields["S"], fields["C"]) == (b"E", "FATAL", "0A000")
        assert fields["M"] == ("custos: the session now runs with client_encoding SJIS, in which "
                               "custos cannot check statements; closing connection")
        with pytest.raises(EOFError):
            s.read_message()
    finally:
        s.sock.close()
    assert "target now runs with client_encoding SJIS; closing" in permissive.gw.log_text()


def test_target_default_encoding_custos_cannot_read_is_refused(gw, pg):
    pg.sql(f"alter role {pg.app_user} in database orders set client_encoding = 'SJIS'")
    try:
        r = gw.psql("-c", "select 1")
        assert r.returncode != 0
        assert ('FATAL:  custos: connection "orders": target runs with client_encoding SJIS, which '
                "custos does not support\n") in r.stderr, r.stderr
    finally:
        pg.sql(f"alter role {pg.app_user} in database orders reset client_encoding")
    assert gw.psql("-c", "select 1").stdout.strip() == "1"
