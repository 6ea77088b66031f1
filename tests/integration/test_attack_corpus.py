"""The attack corpus (tests/attack/*.cases) through custos against a real PostgreSQL 15.

Every case runs through one of four clients in turn: psql, psycopg2, and a raw-protocol client
that pipelines its messages in one write, with the simple or the extended protocol. After every
case the target's state is read directly (tables, sequences, large objects, advisory locks,
notifications, roles, functions, a victim backend) and must equal the state before the corpus:
an attack that custos denied must not have changed anything, and a read must not write.

policy.cases:  SQL => deny | allow
mask.cases:    SQL => redacted | masked | denied | refused | equals TEXT
"""
import base64
import io
import os
import select
import subprocess
from pathlib import Path

import psycopg2
import pytest

import harness
from harness.postgres import GatewaySetup

HERE = Path(__file__).parent
ATTACK = HERE.parent / "attack"

MASK_KEY = "attack-corpus-mask-key"

# The readonly policy with column masks every case runs under, and a second identity whose
# policy also denies filtering on masked columns.
POLICY = """    rules:
      - allow: { kinds: [readonly] }
    mask:
      - { columns: [customers.ssn], strategy: redact }
      - { columns: [customers.codename], strategy: hmac }
      - { columns: [public.customers.email], strategy: partial, keep_last: 4 }
      - { detect: [credit_card, us_ssn, email], strategy: redact }"""

PREDICATE_POLICY = """  - name: no-oracles
    identities: [oracle-bot]
    connections: [orders]
    rules:
      - allow: { kinds: [readonly] }
    mask:
      deny_predicates: true
      rules:
        - { columns: [customers.codename], strategy: redact }"""

# Values only lineage protects (no detector recognises them), and ones detectors also catch.
PROTECTED = ["bluefalcon", "quietotter", "amberlynx", "219-09-9999", "078-05-1120",
             "457-55-5462"]


def forms(value):
    """The value and trivially reversible forms of it."""
    out = {value, value[::-1], value.upper(), value.lower(), value.encode().hex(),
           base64.b64encode(value.encode()).decode().rstrip("=")}
    digits = "".join(c for c in value if c.isdigit())
    if len(digits) >= 6:
        out |= {digits, digits[::-1], digits.translate(str.maketrans("0123456789", "abcdefghij"))}
    return out


FORBIDDEN = sorted({f for v in PROTECTED for f in forms(v)}, key=len, reverse=True)


def load_cases(name):
    cases = []
    for n, line in enumerate((ATTACK / name).read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        sql, _, expect = line.rpartition("=>")
        assert sql and expect.strip(), f"{name}:{n}: expected 'SQL => expectation'"
        cases.append((f"{name}:{n}", sql.strip(), expect.strip()))
    return cases


class Outcome:
    def __init__(self, rows=None, sqlstate=None, message="", texts=()):
        self.rows = rows or []  # list of tuples of str|None
        self.sqlstate = sqlstate
        self.message = message
        self.texts = list(texts)  # every error/notice text the client saw

    def all_text(self):
        cells = [c for r in self.rows for c in r if c is not None]
        return "\n".join(cells + self.texts + [self.message])


def raw_outcome(messages):
    """Outcome of the messages of one statement (rows of its first result set)."""
    rows, sqlstate, message, texts = [], None, "", []
    for kind, payload in messages:
        if kind == b"D":
            rows.append(decode_row(payload))
        elif kind in (b"E", b"N"):
            f = harness.error_fields(payload)
            texts.append(" ".join(v for k, v in f.items() if k in "MDHW"))
            if kind == b"E" and sqlstate is None:
                sqlstate, message = f.get("C"), f.get("M", "")
        elif kind == b"A":
            texts.append(payload.decode(errors="replace"))
        elif kind == b"d":  # COPY data
            rows.extend(tuple(line.split("\t")) for line in
                        payload.decode(errors="replace").splitlines())
    return Outcome(rows, sqlstate, message, texts)


def decode_row(payload):
    import struct
    n = struct.unpack("!h", payload[:2])[0]
    pos, out = 2, []
    for _ in range(n):
        length = struct.unpack("!i", payload[pos:pos + 4])[0]
        pos += 4
        if length < 0:
            out.append(None)
        else:
            out.append(payload[pos:pos + length].decode(errors="replace"))
            pos += length
    return tuple(out)


def q(sql):
    return harness.pg_message(b"Q", sql.encode() + b"\0")


class Clients:
    """psql, psycopg2 and two raw sessions, used in turn."""

    def __init__(self, setup, user="ci-deploy", key=None):
        self.setup, self.user = setup, user
        self.key = key or setup.key
        self.conn = None
        self.raw = {}

    def psycopg(self):
        if self.conn is None or self.conn.closed:
            self.conn = psycopg2.connect(self.setup.dsn(user=self.user, password=self.key))
            self.conn.autocommit = True
        return self.conn

    def raw_session(self, mode):
        s = self.raw.get(mode)
        if s is None:
            s = harness.RawSession(self.setup.pg_port, self.user, "orders", self.key)
            assert not s.login_error, s.login_error
            self.raw[mode] = s
        return s

    def run(self, i, sql):
        kind = ("psql", "psycopg2", "raw-simple", "raw-extended")[i % 4]
        if kind == "raw-extended" and ";" in sql.rstrip().rstrip(";"):
            kind = "raw-simple"  # one statement per Parse
        return kind, getattr(self, "_" + kind.replace("-", "_"))(sql)

    def _psql(self, sql):
        r = self.setup.psql("-c", sql, "-F", "\x1f", "-v", "VERBOSITY=verbose", user=self.user,
                            key=self.key)
        rows = [tuple(line.split("\x1f")) for line in r.stdout.splitlines() if line]
        sqlstate = None
        for line in r.stderr.splitlines():
            if line.startswith(("ERROR:", "FATAL:")) and sqlstate is None:
                parts = line.split()
                sqlstate = parts[1].rstrip(":") if len(parts) > 1 else "?"
        if r.returncode != 0 and sqlstate is None:
            sqlstate = "?"
        return Outcome(rows, sqlstate, r.stderr, [r.stderr])

    def _psycopg2(self, sql):
        conn = self.psycopg()
        try:
            with conn.cursor() as cur:
                if sql.lower().lstrip().startswith("copy") and "stdout" in sql.lower():
                    buf = io.StringIO()
                    cur.copy_expert(sql, buf)
                    rows = [tuple(line.split("\t")) for line in buf.getvalue().splitlines()]
                    return Outcome(rows, None, "", list(conn.notices))
                cur.execute(sql)
                rows = [tuple(None if v is None else str(v) for v in r)
                        for r in cur.fetchall()] if cur.description else []
                return Outcome(rows, None, "", list(conn.notices))
        except psycopg2.Error as e:
            text = str(e) + " " + str(getattr(e.diag, "message_detail", "") or "")
            return Outcome([], e.pgcode or "?", str(e), [text] + list(conn.notices))
        finally:
            del conn.notices[:]

    def _raw_simple(self, sql):
        """The case pipelined between two probes of the session's state, in one write."""
        s = self.raw_session("simple")
        s.sock.sendall(q(sql) + q("select current_user, current_setting('transaction_read_only')"))
        first = s.read_until_ready()
        second = s.read_until_ready()
        out = raw_outcome(first)
        after = raw_outcome(second)
        assert after.sqlstate is None, f"follow-up failed: {after.message}"
        assert after.rows and after.rows[0][0] == "app_rw", f"session role is now {after.rows}"
        return out

    def _raw_extended(self, sql):
        s = self.raw_session("extended")
        body = (harness.pg_message(b"P", b"\0" + sql.encode() + b"\0\0\0")
                + harness.pg_message(b"B", b"\0\0\0\0\0\0\0\0")
                + harness.pg_message(b"D", b"P\0")
                + harness.pg_message(b"E", b"\0\0\0\0\0")
                + harness.pg_message(b"S"))
        s.sock.sendall(body + q("select current_user"))
        first = s.read_until_ready()
        second = s.read_until_ready()
        after = raw_outcome(second)
        assert after.rows and after.rows[0][0] == "app_rw", f"session role is now {after.rows}"
        return raw_outcome(first)

    def close(self):
        if self.conn is not None:
            self.conn.close()
        for s in self.raw.values():
            s.close()


class TargetState:
    """Reads the target's state directly, as a superuser, outside custos."""

    def __init__(self, pg):
        self.pg = pg
        self.conn = pg.connect(dbname="orders")
        self.conn.autocommit = True
        self.listener = pg.connect(dbname="orders", user=pg.app_user, password=pg.app_password)
        self.listener.autocommit = True
        with self.listener.cursor() as cur:
            for channel in ("c", "custos_test", "chan", "x"):
                cur.execute(f"listen {channel}")
        self.victim = pg.connect(dbname="orders", user=pg.app_user, password=pg.app_password)
        self.victim.autocommit = True
        with self.victim.cursor() as cur:
            cur.execute("select pg_backend_pid()")
            self.victim_pid = cur.fetchone()[0]

    def snapshot(self):
        parts = []
        with self.conn.cursor() as cur:
            cur.execute("select c.relname, c.relkind from pg_class c join pg_namespace n "
                        "on n.oid = c.relnamespace where n.nspname = 'public' order by 1")
            rels = cur.fetchall()
            parts.append(("relations", tuple(rels)))
            for name, kind in rels:
                if kind in ("r", "m"):
                    cur.execute(f'select md5(coalesce(string_agg(t::text, \'|\' order by '
                                f't::text), \'\')) from public."{name}" t')
                    parts.append((name, cur.fetchone()[0]))
            cur.execute("select sequencename, last_value from pg_sequences order by 1")
            parts.append(("sequences", tuple(cur.fetchall())))
            cur.execute("select count(*) from pg_largeobject_metadata")
            parts.append(("large objects", cur.fetchone()[0]))
            cur.execute("select count(*) from pg_locks where locktype = 'advisory'")
            parts.append(("advisory locks", cur.fetchone()[0]))
            cur.execute("select string_agg(rolname, ',' order by rolname) from pg_roles")
            parts.append(("roles", cur.fetchone()[0]))
            cur.execute("select string_agg(proname, ',' order by proname) from pg_proc "
                        "where pronamespace = 'public'::regnamespace")
            parts.append(("functions", cur.fetchone()[0]))
            cur.execute("select count(*) from pg_stat_activity where pid = %s", (self.victim_pid,))
            parts.append(("victim backend", cur.fetchone()[0]))
            cur.execute("select count(*) from pg_prepared_xacts")
            parts.append(("prepared transactions", cur.fetchone()[0]))
        if select.select([self.listener], [], [], 0) != ([], [], []):
            self.listener.poll()
        notified = [(n.channel, n.payload) for n in self.listener.notifies]
        del self.listener.notifies[:]
        parts.append(("notifications", tuple(notified)))
        return dict(parts)

    def close(self):
        for c in (self.conn, self.listener, self.victim):
            c.close()


@pytest.fixture(scope="module")
def corpus(pg, certs):
    pg.sql("drop role if exists app_admin; create role app_admin nologin; "
           "grant app_admin to app_rw", dbname="postgres")
    pg.app_sql("drop schema if exists public cascade; create schema public")
    pg.app_sql((ATTACK / "schema.sql").read_text())
    oracle_key, oracle_sha = harness.new_api_key()
    setup = GatewaySetup(
        pg, certs, policy_yaml=POLICY, extra_yaml=f"mask_key: test-literal:{MASK_KEY}\n",
        identities_extra=f"""  - name: oracle-bot
    api_keys: [{{ sha256: "{oracle_sha}" }}]
""", policies_extra=PREDICATE_POLICY)
    setup.start()
    setup.oracle_key = oracle_key
    state = TargetState(pg)
    yield setup, state
    state.close()
    setup.gw.stop()
    pg.app_sql("drop schema if exists public cascade; create schema public")


def run_corpus(corpus, name, check):
    setup, state = corpus
    baseline = state.snapshot()
    clients = Clients(setup)
    failures = []
    try:
        for i, (where, sql, expect) in enumerate(load_cases(name)):
            try:
                client, out = clients.run(i, sql)
            except Exception as e:  # a client that broke (or a value it could not read)
                failures.append(f"{where} [{i % 4}] {sql}\n    client: {e}")
                clients.close()
                clients = Clients(setup)
                continue
            problem = check(expect, out)
            now = state.snapshot()
            if now != baseline:
                changed = {k: (baseline.get(k), v) for k, v in now.items() if baseline.get(k) != v}
                problem = (problem + "; " if problem else "") + f"target changed: {changed}"
                baseline = now
            if problem:
                failures.append(f"{where} [{client}] {sql}\n    {problem}")
    finally:
        clients.close()
    return failures


def check_policy(expect, out):
    if expect == "deny":
        # A custos denial, not a target error whose text custos withheld.
        if out.sqlstate != "42501" or "denied by policy" not in out.message:
            return f"expected a custos denial (42501), got {out.sqlstate}: {out.message[:200]}"
        return ""
    if expect == "allow":
        if out.sqlstate is not None:
            return f"expected it to run, got {out.sqlstate}: {out.message[:200]}"
        return ""
    return f"bad expectation {expect!r}"


def leaked(out):
    text = out.all_text()
    return [f for f in FORBIDDEN if f in text]


def check_mask(expect, out):
    leaks = leaked(out)
    if leaks:
        return f"protected value visible: {leaks[:3]} in {out.all_text()[:300]!r}"
    if expect == "masked":
        return ""
    if expect == "redacted":
        if out.sqlstate is not None:
            return f"expected rows, got {out.sqlstate}: {out.message[:200]}"
        if not out.rows:
            return "expected rows, got none"
        bad = [r[0] for r in out.rows if r[0] not in ("****", None)]
        return f"first column not redacted: {bad[:3]}" if bad else ""
    if expect == "denied":
        return "" if out.sqlstate == "42501" else f"expected 42501, got {out.sqlstate}"
    if expect == "refused":
        return "" if out.sqlstate == "0A000" else f"expected 0A000, got {out.sqlstate}"
    if expect.startswith("equals "):
        want = expect[len("equals "):]
        got = out.rows[0][0] if out.rows else None
        return "" if got == want else f"expected {want!r}, got {got!r} ({out.message[:100]})"
    return f"bad expectation {expect!r}"


def test_policy_corpus_denies_every_attack_and_changes_nothing(corpus):
    cases = load_cases("policy.cases")
    assert len(cases) >= 300, f"only {len(cases)} policy cases"
    failures = run_corpus(corpus, "policy.cases", check_policy)
    assert not failures, f"{len(failures)} of {len(cases)} cases failed:\n" + "\n".join(failures)


def test_mask_corpus_leaks_no_protected_value(corpus):
    cases = load_cases("mask.cases")
    assert len(cases) >= 150, f"only {len(cases)} masking probes"
    failures = run_corpus(corpus, "mask.cases", check_mask)
    assert not failures, f"{len(failures)} of {len(cases)} probes failed:\n" + "\n".join(failures)


def test_predicate_oracle_denied_when_policy_says_so(corpus):
    setup, state = corpus
    oracle = Clients(setup, user="oracle-bot", key=setup.oracle_key)
    try:
        for i, sql in enumerate([
                "select name from customers where codename like 'b%'",
                "select count(*) from customers where codename > 'm'",
                "select name from customers order by codename limit 1",
                "select c.name from customers c join purchases p on p.note = c.codename"]):
            _, out = oracle.run(i, sql)
            assert out.sqlstate == "42501", (sql, out.message)
            assert "deny_predicates" in out.message, out.message
        _, out = oracle.run(1, "select name from customers where id = 1")
        assert out.rows == [("Ada",)], out.message
    finally:
        oracle.close()
