"""Crashes, slow readers, shutdown and configuration errors."""
import json
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import psycopg2
import pytest

import harness


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def test_kill_9_during_inserts_loses_no_recorded_statement(fresh_gateway, pg):
    setup = fresh_gateway(fsync="200ms")
    pg.app_sql("drop table if exists kill_t; create table kill_t(id bigint primary key, w int)")
    stop = threading.Event()

    def writer(w):
        i = 0
        try:
            conn = psycopg2.connect(setup.dsn())
            conn.autocommit = True
            with conn.cursor() as cur:
                while not stop.is_set():
                    i += 1
                    cur.execute(f"insert into kill_t values ({w * 10_000_000 + i}, {w})")
        except psycopg2.Error:
            pass  # the gateway died under us: expected

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    time.sleep(2.0)
    setup.gw.proc.send_signal(signal.SIGKILL)
    setup.gw.proc.wait()
    stop.set()
    for t in threads:
        t.join(30)

    ids = [r[0] for r in pg.app_sql("select id from kill_t")]
    assert len(ids) > 50, "too few inserts to make the test meaningful"
    recorded = set()
    for line in setup.gw.recordings_text().splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            continue  # a torn last line
        if e.get("type") == "statement":
            m = re.match(r"insert into kill_t values \((\d+),", e["text"])
            if m:
                recorded.add(int(m.group(1)))
    missing = [i for i in ids if i not in recorded]
    assert not missing, f"{len(missing)} rows in the table have no recorded statement"
    v = setup.gw.cli("verify")
    assert v.returncode == 0, v.stdout + v.stderr


def test_slow_reader_keeps_gateway_memory_bounded(fresh_gateway):
    setup = fresh_gateway()
    pid = setup.gw.proc.pid
    # warm up TLS and the allocator
    setup.psql("-c", "select 1")
    before = rss_kib(pid)
    env = dict(os.environ, PGPASSWORD=setup.key)
    conninfo = f"host=127.0.0.1 port={setup.pg_port} user=ci-deploy dbname=orders sslmode=require"
    # ~400 MB of COPY output, read slowly through a pipe.
    p = subprocess.Popen(["psql", "-X", conninfo, "-c",
                          "copy (select repeat('x', 2000) from generate_series(1, 200000)) "
                          "to stdout"], stdout=subprocess.PIPE, env=env)
    peak = before
    total = 0
    deadline = time.time() + 8
    while time.time() < deadline:
        chunk = p.stdout.read(64 * 1024)
        if not chunk:
            break
        total += len(chunk)
        time.sleep(0.01)  # ~6 MB/s: far slower than the target produces
        peak = max(peak, rss_kib(pid))
    p.kill()
    p.wait()
    assert total > 1_000_000, "the result did not start streaming"
    growth = peak - before
    assert growth < 4 * 1024, f"gateway RSS grew by {growth} KiB while a client read slowly"


def test_sigterm_drains_then_exits(fresh_gateway):
    setup = fresh_gateway()
    conn = psycopg2.connect(setup.dsn())
    with conn.cursor() as cur:
        cur.execute("select 1")
    started = time.time()
    setup.gw.proc.send_signal(signal.SIGTERM)
    # no new connections once shutdown began
    time.sleep(0.5)
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(setup.dsn(), connect_timeout=3)
    rc = setup.gw.proc.wait(timeout=30)
    assert rc == 0
    assert time.time() - started < 15  # shutdown_grace is 5s
    ends = [json.loads(l) for l in setup.gw.recordings_text().splitlines()
            if '"session_end"' in l]
    assert any(e["reason"] == "shutdown" for e in ends)
    with pytest.raises(psycopg2.Error):
        with conn.cursor() as cur:
            cur.execute("select 1")


def test_check_config_reports_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("listen:\n  postgres: 127.0.0.1:15432\n  admin: nonsense\n"
                   "allow_plaintext_auth: true\n")
    r = subprocess.run([harness.custos_bin(), "check-config", "--config", str(bad)],
                       capture_output=True, text=True)
    assert r.returncode != 0
    assert re.search(r"bad\.yaml:\d+:", r.stderr + r.stdout), r.stderr


def test_check_config_refuses_literal_secret_without_echoing_it(tmp_path, certs):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"""
listen: {{ postgres: 127.0.0.1:1 }}
tls: {{ cert: {certs}/server.crt, key: {certs}/server.key }}
connections:
  - name: orders
    type: postgres
    address: 127.0.0.1:5432
    database: orders
    credentials: {{ username: u, password: hunter2-literal }}
""")
    r = subprocess.run([harness.custos_bin(), "check-config", "--config", str(cfg)],
                       capture_output=True, text=True)
    assert r.returncode != 0
    out = r.stdout + r.stderr
    assert "c.yaml:" in out and "literal" in out
    assert "hunter2-literal" not in out


def test_garbage_bytes_do_not_hurt_other_sessions(gateway):
    import socket
    for payload in [b"\x00\x00\x00\x08\x04\xd2\x16\x2f" + b"garbage-after-ssl",
                    b"\xff" * 64, b"\x00\x00\x00\x03", os.urandom(300)]:
        with socket.create_connection(("127.0.0.1", gateway.pg_port), timeout=5) as s:
            s.sendall(payload)
            try:
                s.recv(4096)
            except OSError:
                pass
    r = gateway.psql("-c", "select 'still-serving'")
    assert r.returncode == 0 and r.stdout.strip() == "still-serving"


def test_bytes_after_sslrequest_are_a_protocol_error(gateway):
    import socket
    with socket.create_connection(("127.0.0.1", gateway.pg_port), timeout=5) as s:
        # SSLRequest immediately followed by a plaintext StartupMessage in the same packet
        startup = b"user\x00ci-deploy\x00database\x00orders\x00\x00"
        msg = (len(startup) + 8).to_bytes(4, "big") + (196608).to_bytes(4, "big") + startup
        s.sendall(b"\x00\x00\x00\x08\x04\xd2\x16\x2f" + msg)
        data = s.recv(4096)
    assert data[:1] == b"E"
    assert b"08P01" in data
