"""Response masking through real clients: sensitive values never leave the gateway unmasked."""
import hashlib
import hmac
import json
import os
import struct
import subprocess
from pathlib import Path

import psycopg2
import pytest

import harness
from harness.postgres import GatewaySetup

POLICY = """    default: allow
    mask:
      - { columns: [customers_m.email], strategy: partial, keep_last: 4 }
      - { columns: [public.customers_m.ssn], strategy: redact }
      - { columns: [customers_m.card], strategy: hmac }
      - { detect: [credit_card, us_ssn, aws_access_key, email], strategy: redact }"""

SSN = "219-09-9999"
CARD = "4111 1111 1111 1111"
EMAIL = "ada.lovelace@example.com"

HERE = Path(__file__).parent
MASK_KEY = "mask-key-for-tests-only"
# What a client sees for the masked columns of customer 1.
EMAIL_MASKED = "*" * (len(EMAIL) - 4) + EMAIL[-4:]  # partial, keep_last: 4
NOTES_MASKED = "paid with **** yesterday"  # the credit_card detector redacts the card


def hmac_token(value):
    """The hmac strategy's token, computed independently (RFC 2104 HMAC-SHA256 under
    k_h = HMAC(mask_key, "custos mask hmac v1"), first 8 bytes in hex)."""
    k_h = hmac.new(MASK_KEY.encode(), b"custos mask hmac v1", hashlib.sha256).digest()
    return "hmac:" + hmac.new(k_h, value.encode(), hashlib.sha256).digest()[:8].hex()


@pytest.fixture(scope="module")
def m(pg, certs):
    pg.app_sql(f"""drop view if exists cust_v; drop table if exists customers_m, orders_m;
        create table customers_m(id int primary key, name text, email text, ssn text, card text,
                                 notes text);
        insert into customers_m values
          (1, 'Ada', '{EMAIL}', '{SSN}', '{CARD}', 'paid with {CARD} yesterday'),
          (2, 'Alan', 'alan@example.org', '078-05-1120', '5500 0000 0000 0004',
              'order 4111 1111 1111 1112 is not a card');
        create table orders_m(id int, customer int);
        insert into orders_m values (10, 1);
        create view cust_v as select id, ssn, email from customers_m;""")
    setup = GatewaySetup(pg, certs, policy_yaml=POLICY,
                         extra_yaml=f"mask_key: test-literal:{MASK_KEY}\n")
    setup.start()
    yield setup
    setup.gw.stop()


def q(setup, sql):
    conn = psycopg2.connect(setup.dsn())
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    finally:
        conn.close()


def test_column_rules_mask_and_target_unchanged(m, pg):
    rows = q(m, "select id, name, email, ssn, card from customers_m where id = 1")
    (id_, name, email, ssn, card), = rows
    assert name == "Ada"
    assert email == EMAIL_MASKED
    assert ssn == "****"
    assert card == hmac_token(CARD)
    assert pg.app_sql("select ssn from customers_m where id = 1") == [(SSN,)]


def test_alias_star_join_and_view_are_caught(m):
    (x,), = q(m, "select ssn as x from customers_m where id = 1")
    assert x == "****"
    row, = q(m, "select c.*, o.id from customers_m c join orders_m o on o.customer = c.id")
    assert SSN not in row and CARD not in row and EMAIL not in row
    (vid, vssn, vemail), = q(m, "select * from cust_v where id = 1")
    assert vssn == "****" and vemail == EMAIL_MASKED


def test_detectors_in_free_text_and_near_misses(m):
    (n1,), (n2,) = q(m, "select notes from customers_m order by id")
    assert CARD not in n1 and n1.startswith("paid with ")
    assert n2 == "order 4111 1111 1111 1112 is not a card"  # fails Luhn: not a card


def test_computed_columns_use_detectors(m):
    (v,), = q(m, "select 'key AKIAIOSFODNN7EXAMPLE in text' as k")
    assert "AKIAIOSFODNN7EXAMPLE" not in v
    (s,), = q(m, f"select upper(ssn) from customers_m where id = 1")
    assert SSN not in s


def test_hmac_is_stable_across_sessions(m):
    a = q(m, "select card from customers_m order by id")
    b = q(m, "select card from customers_m order by id")
    assert a == b and a[0] != a[1]


def test_copy_text_and_csv_masked(m):
    for opts in ("", " with (format csv)"):
        r = m.psql("-c", f"copy customers_m to stdout{opts}")
        assert r.returncode == 0, r.stderr
        assert SSN not in r.stdout and CARD not in r.stdout and EMAIL not in r.stdout
        assert "Ada" in r.stdout
    r = m.psql("-c", "copy (select ssn, notes from customers_m) to stdout")
    assert r.returncode == 0, r.stderr
    assert SSN not in r.stdout and CARD not in r.stdout


def test_error_messages_echoing_values_are_masked(m):
    conn = psycopg2.connect(m.dsn())
    try:
        with conn.cursor() as cur:
            with pytest.raises(psycopg2.Error) as e:
                cur.execute("select ssn::int from customers_m where id = 1")
            assert SSN not in str(e.value)
    finally:
        conn.close()


def test_recording_counts_masked_values_and_holds_no_raw_values(m):
    q(m, "select ssn, card from customers_m")
    rec = m.gw.recordings_text()
    assert SSN not in rec and CARD not in rec
    results = [json.loads(l) for l in rec.splitlines() if '"statement_result"' in l]
    assert any(r.get("masked", {}).get("total", 0) >= 2 for r in results)


def test_sessions_show_displays_masked_counts(m):
    q(m, "select ssn from customers_m where id = 2")
    rec = m.gw.recordings_text()
    sid = [json.loads(l) for l in rec.splitlines()
           if '"statement"' in l and "where id = 2" in l][-1]["session"]
    show = m.gw.cli("sessions", "show", sid)
    assert show.returncode == 0, show.stderr
    assert "masked 1 value" in show.stdout


# Binary-format results (libpq, resultFormat 1). Text-like types are masked in place; any other
# type under a mask fails the statement rather than leaking. This policy has no detect-everywhere
# rule, so customers_m.id is under no rule and must pass through; orders_m's int columns are
# under whole-cell rules (redact: refused in binary; null: valid for every type).
BINARY_POLICY = """    default: allow
    mask:
      - { columns: [customers_m.email], strategy: partial, keep_last: 4 }
      - { columns: [customers_m.ssn], strategy: redact }
      - { columns: [customers_m.card], strategy: hmac }
      - { detect: [credit_card, us_ssn], columns: [customers_m.notes], strategy: redact }
      - { columns: [orders_m.id], strategy: redact }
      - { columns: [orders_m.customer], strategy: "null" }"""

CUSTOMERS = "select id, name, email, ssn, card, notes from customers_m"


@pytest.fixture(scope="module")
def libpq_binary(tmp_path_factory):
    out = tmp_path_factory.mktemp("libpq-binary") / "libpq_binary"
    inc = subprocess.run(["pg_config", "--includedir"], capture_output=True, text=True,
                         check=True).stdout.strip()
    subprocess.run(["cc", "-O1", "-Wall", "-Werror", f"-I{inc}",
                    str(HERE / "clients" / "libpq_binary.c"), "-lpq", "-o", str(out)], check=True)
    return out


@pytest.fixture(scope="module")
def mb(m, pg, certs):
    """A gateway over m's tables with BINARY_POLICY."""
    setup = GatewaySetup(pg, certs, policy_yaml=BINARY_POLICY,
                         extra_yaml=f"mask_key: test-literal:{MASK_KEY}\n")
    setup.start()
    yield setup
    setup.gw.stop()


def binary(setup, program, *sqls):
    """Runs sqls on one libpq connection with binary results: (raw stdout, one dict each)."""
    r = subprocess.run([str(program), setup.dsn(), *sqls], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == len(sqls), r.stdout
    return r.stdout, [json.loads(line) for line in lines]


def assert_target_unchanged(pg):
    assert pg.app_sql(CUSTOMERS + " where id = 1") == [
        (1, "Ada", EMAIL, SSN, CARD, f"paid with {CARD} yesterday")]
    assert pg.app_sql("select id, customer from orders_m") == [(10, 1)]


def test_binary_results_masked_in_place(mb, libpq_binary, pg):
    out, (res,) = binary(mb, libpq_binary, CUSTOMERS + " where id = 1")
    assert res["ok"], res
    assert [(c["name"], c["type"], c["format"]) for c in res["columns"]] == [
        ("id", 23, 1), ("name", 25, 1), ("email", 25, 1), ("ssn", 25, 1), ("card", 25, 1),
        ("notes", 25, 1)]
    row, = res["rows"]
    id_, name, email, ssn, card, notes = row
    assert id_ == 1  # int4 under no rule: binary bytes pass through
    assert name == "Ada"
    assert email == EMAIL_MASKED
    assert ssn == "****"
    assert card == hmac_token(CARD)
    assert notes == NOTES_MASKED
    # The same masking as a text-format client sees, value for value.
    assert q(mb, CUSTOMERS + " where id = 1") == [tuple(row)]
    for raw in (SSN, CARD, EMAIL, CARD.replace(" ", "")):
        assert raw not in out
    assert_target_unchanged(pg)


def test_binary_non_text_type_under_a_mask_fails_the_statement(mb, libpq_binary, pg):
    out, (bad, after, nulled) = binary(
        mb, libpq_binary,
        "select id, customer from orders_m",
        "select name, ssn from customers_m where id = 1",
        "select customer from orders_m")
    assert not bad["ok"], bad
    assert bad["sqlstate"] == "0A000"
    assert "binary-encoded type" in bad["message"] and "column id" in bad["message"]
    # The same connection keeps being served, and masking still applies on it.
    assert after == {"ok": True, "columns": [{"name": "name", "type": 25, "format": 1},
                                             {"name": "ssn", "type": 25, "format": 1}],
                     "rows": [["Ada", "****"]]}
    # A whole-cell null rule is valid for any type, binary included.
    assert nulled["ok"] and nulled["rows"] == [[None]], nulled
    assert nulled["columns"] == [{"name": "customer", "type": 23, "format": 1}]
    assert "10" not in out
    assert_target_unchanged(pg)


def test_binary_under_a_detect_everywhere_rule(m, libpq_binary, pg):
    """m's policy scans every column for detectors, so every binary non-text column is under a
    mask: text-like columns are still masked in place, any int is refused."""
    out, (text_cols, with_id, computed, after) = binary(
        m, libpq_binary,
        "select name, email, ssn, card, notes from customers_m where id = 1",
        "select id, name from customers_m where id = 1",
        "select 41 + 1 as n",
        "select name from customers_m where id = 2")
    assert text_cols["ok"], text_cols
    assert [c["format"] for c in text_cols["columns"]] == [1] * 5
    assert q(m, "select name, email, ssn, card, notes from customers_m where id = 1") == [
        tuple(text_cols["rows"][0])]
    name, email, ssn, card, notes = text_cols["rows"][0]
    assert (name, email, ssn, card, notes) == ("Ada", EMAIL_MASKED, "****", hmac_token(CARD),
                                                NOTES_MASKED)
    for res, column in ((with_id, "id"), (computed, "n")):
        assert not res["ok"], res
        assert res["sqlstate"] == "0A000"
        assert f"column {column} is binary-encoded type 23" in res["message"], res
    assert after["ok"] and after["rows"] == [["Alan"]], after
    for raw in (SSN, CARD, EMAIL):
        assert raw not in out
    assert_target_unchanged(pg)


# Drivers that describe a prepared statement once and then only Bind/Execute it (JDBC, pgx,
# Npgsql), portals read in chunks, and binary formats chosen at Bind: every row must still be
# masked from a plan with the right columns and formats. Spoken by hand to send exactly those
# message sequences.
def raw_session(setup):
    s = harness.RawSession(setup.pg_port, "ci-deploy", "orders", setup.key)
    assert s.login_error == {}
    return s


def kinds(messages):
    return [k.decode() for k, _ in messages]


def bind(statement, result_format=0, portal=b""):
    return harness.pg_message(b"B", portal + b"\0" + statement + b"\0" +
                              struct.pack("!hhhh", 0, 0, 1, result_format))


def execute(portal=b"", max_rows=0):
    return harness.pg_message(b"E", portal + b"\0" + struct.pack("!i", max_rows))


SYNC = harness.pg_message(b"S")


def test_reexecuting_without_describe_is_masked(m):
    s = raw_session(m)
    try:
        s.exchange(harness.pg_message(b"P", b"s1\0select ssn, card from customers_m "
                                            b"where id = 1\0\0\0"),
                   harness.pg_message(b"D", b"Ss1\0"), SYNC)
        for _ in range(3):
            got = s.exchange(bind(b"s1"), execute(), SYNC)
            # custos's own Describe of the portal is answered to custos, not to the client.
            assert kinds(got) == ["2", "D", "C", "Z"], got
            row = got[1][1]
            assert SSN.encode() not in row and CARD.encode() not in row
            assert b"****" in row and hmac_token(CARD).encode() in row
    finally:
        s.close()


def test_portal_read_in_chunks_is_masked(m):
    s = raw_session(m)
    try:
        s.exchange(harness.pg_message(b"P", b"s2\0select ssn from customers_m order by id\0\0\0"),
                   SYNC)
        got = s.exchange(bind(b"s2", portal=b"p"), harness.pg_message(b"D", b"Pp\0"),
                         execute(b"p", 1), execute(b"p", 1), SYNC)
        assert kinds(got) == ["2", "T", "D", "s", "D", "s", "Z"], got
        rows = [p for k, p in got if k == b"D"]
        assert len(rows) == 2 and all(b"****" in r for r in rows), rows
        assert all(SSN.encode() not in r and b"078-05-1120" not in r for r in rows)
    finally:
        s.close()


def test_binary_format_chosen_at_bind_is_checked(mb, pg):
    s = raw_session(mb)
    try:
        # Described (text formats) once, then bound with binary results: the int under a redact
        # rule must be refused, not sent as four bytes of '*'.
        s.exchange(harness.pg_message(b"P", b"s3\0select id from orders_m\0\0\0"),
                   harness.pg_message(b"D", b"Ss3\0"), SYNC)
        got = s.exchange(bind(b"s3", result_format=1), execute(), SYNC)
        errors = [harness.error_fields(p) for k, p in got if k == b"E"]
        assert errors and errors[0]["C"] == "0A000", got
        assert "binary-encoded type" in errors[0]["M"]
        assert not [p for k, p in got if k == b"D"], got
        # The session goes on.
        got = s.exchange(bind(b"s3"), execute(), SYNC)
        assert kinds(got) == ["2", "D", "C", "Z"] and b"****" in got[1][1], got
    finally:
        s.close()
    assert_target_unchanged(pg)


# Large results are masked in pieces by the session and a worker thread (several hundred rows per
# read): every row must be masked and the rows must keep their order, in SELECT and COPY.
def test_large_result_masked_in_order(m, pg):
    n = 20000
    pg.app_sql(f"""drop table if exists big_m;
        create table big_m as
          select g as id, 'user' || g || '@example.com' as email,
                 lpad((g % 665 + 1)::text, 3, '0') || '-' || lpad((g % 99 + 1)::text, 2, '0')
                   || '-' || lpad((g % 9999 + 1)::text, 4, '0') as ssn,
                 'paid with 4111 1111 1111 1111 order ' || g as notes
          from generate_series(1, {n}) g""")
    rows = q(m, "select id, email, ssn, notes from big_m order by id")
    assert [r[0] for r in rows] == list(range(1, n + 1))
    # The email detector redacts the whole address; valid SSNs (area 001-665) are redacted by the
    # us_ssn detector; the credit_card detector redacts the card inside the note.
    assert rows == [(i, "****", "****", f"paid with **** order {i}") for i in range(1, n + 1)]
    r = m.psql("-c", "copy big_m to stdout")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [f"{i}\t****\t****\tpaid with **** order {i}"
                                     for i in range(1, n + 1)]
