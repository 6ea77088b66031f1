"""Test harness: real PostgreSQL clusters, TLS certificates and custos processes.

Everything runs in temporary directories on free loopback ports and is stopped by PID.
"""
import hashlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg2

REPO = Path(__file__).resolve().parents[2]


def find_pg_bindir():
    for v in ("17", "16", "15"):
        p = Path(f"/usr/lib/postgresql/{v}/bin")
        if (p / "initdb").exists():
            return p
    raise RuntimeError("PostgreSQL server binaries not found (run scripts/install-deps.sh)")


PG_BIN = find_pg_bindir()


def custos_bin():
    env = os.environ.get("CUSTOS_BIN")
    if env:
        return env
    for cand in sorted(REPO.glob("build/*/custos")):
        if os.access(cand, os.X_OK):
            return str(cand)
    raise RuntimeError("custos binary not found; build first (cmake --preset release)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, timeout, interval=0.1):
    """Calls check() until it returns something true, for `timeout` seconds at most, and
    returns its last result (false when the time ran out)."""
    deadline = time.time() + timeout
    while True:
        got = check()
        if got or time.time() >= deadline:
            return got
        time.sleep(interval)


def wait_port(port, timeout=15.0, proc=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"port {port} not listening after {timeout}s")


def run_as_postgres_user():
    """initdb refuses to run as root; tests run as root in CI, so drop to 'postgres' then."""
    return os.geteuid() == 0


class PgCluster:
    """A throw-away PostgreSQL cluster with SCRAM authentication."""

    SUPERUSER = "postgres"

    def __init__(self, base: Path, auth="scram-sha-256"):
        self.base = base
        self.datadir = base / "pgdata"
        self.sockdir = base / "sock"
        self.port = free_port()
        self.auth = auth
        self.superpass = "super-" + secrets.token_hex(8)
        self.app_user = "app_rw"
        self.app_password = "tgt-" + secrets.token_hex(12)  # the secret only custos holds
        self.proc = None

    def _run(self, args, **kw):
        if run_as_postgres_user():
            args = ["runuser", "-u", "postgres", "--"] + args
        return subprocess.run(args, check=True, capture_output=True, text=True, **kw)

    def start(self):
        self.base.mkdir(parents=True, exist_ok=True)
        self.sockdir.mkdir(exist_ok=True)
        pwfile = self.base / "pw"
        pwfile.write_text(self.superpass + "\n")
        if run_as_postgres_user():
            shutil.chown(self.base, "postgres")
            shutil.chown(self.sockdir, "postgres")
            shutil.chown(pwfile, "postgres")
        self._run([str(PG_BIN / "initdb"), "-D", str(self.datadir), "-U", self.SUPERUSER,
                   f"--auth={self.auth}", f"--pwfile={pwfile}", "-E", "UTF8", "--no-sync",
                   "--locale=C"])
        pwfile.unlink()
        conf = self.datadir / "postgresql.conf"
        with open(conf, "a") as f:
            f.write(f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                    f"unix_socket_directories = '{self.sockdir}'\nfsync = off\n"
                    "synchronous_commit = off\nfull_page_writes = off\nmax_connections = 400\n"
                    "shared_buffers = 128MB\n")
        self.restart()
        self.sql(f"CREATE ROLE {self.app_user} LOGIN PASSWORD '{self.app_password}'")
        self.sql(f"CREATE DATABASE orders OWNER {self.app_user}")
        return self

    def restart(self):
        log = self.base / "postgres.log"
        if run_as_postgres_user():
            log.touch()
            shutil.chown(log, "postgres")
        self._run([str(PG_BIN / "pg_ctl"), "-D", str(self.datadir), "-l", str(log), "-w",
                   "start"])
        wait_port(self.port)

    def stop(self, mode="fast"):
        try:
            self._run([str(PG_BIN / "pg_ctl"), "-D", str(self.datadir), "-m", mode, "-w", "stop"])
        except subprocess.CalledProcessError:
            pass

    def connect(self, dbname="orders", user=None, password=None):
        return psycopg2.connect(host="127.0.0.1", port=self.port, dbname=dbname,
                                user=user or self.SUPERUSER,
                                password=password or self.superpass)

    def sql(self, statement, dbname="postgres"):
        conn = self.connect(dbname=dbname)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(statement)
                if cur.description:
                    return cur.fetchall()
                return None
        finally:
            conn.close()

    def app_sql(self, statement, params=None):
        conn = self.connect(dbname="orders", user=self.app_user, password=self.app_password)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(statement, params)
                if cur.description:
                    return cur.fetchall()
                return None
        finally:
            conn.close()


def make_certs(d: Path):
    """A test CA and a server certificate for 127.0.0.1/localhost (clearly test fixtures)."""
    d.mkdir(parents=True, exist_ok=True)
    def ossl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True)
    ossl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", str(d / "ca.key"), "-out", str(d / "ca.crt"), "-days", "2",
         "-subj", "/CN=custos test CA")
    ext = d / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    ossl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", str(d / "server.key"), "-out", str(d / "server.csr"),
         "-subj", "/CN=localhost")
    ossl("x509", "-req", "-in", str(d / "server.csr"), "-CA", str(d / "ca.crt"),
         "-CAkey", str(d / "ca.key"), "-CAcreateserial", "-out", str(d / "server.crt"),
         "-days", "2", "-extfile", str(ext))
    os.chmod(d / "server.key", 0o600)
    return d


def new_api_key():
    key = "cst_" + secrets.token_urlsafe(32)
    return key, hashlib.sha256(key.encode()).hexdigest()


class Gateway:
    """A running `custos serve` with its own config, data dir and log."""

    def __init__(self, base: Path, config_text: str, env=None):
        self.base = base
        self.base.mkdir(parents=True, exist_ok=True)
        self.config_path = base / "custos.yaml"
        self.config_path.write_text(config_text)
        self.log_path = base / "custos.log"
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.proc = None

    def start(self, pg_port, admin_port=None):
        self.pg_port = pg_port
        self.admin_port = admin_port
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([custos_bin(), "serve", "--config", str(self.config_path)],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=self.env)
        wait_port(pg_port, proc=self.proc)
        if admin_port:
            wait_port(admin_port, proc=self.proc)
        return self

    def stop(self, sig=signal.SIGTERM, timeout=40):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()
        return self.proc.returncode if self.proc else None

    def cli(self, *args, check=False):
        return subprocess.run([custos_bin(), *args, "--config", str(self.config_path)],
                              capture_output=True, text=True, check=check, env=self.env,
                              timeout=120)

    def log_text(self):
        return self.log_path.read_text(errors="replace")

    def data_dir(self):
        return self.base / "data"

    def recordings_text(self):
        out = []
        for p in sorted((self.data_dir() / "recordings").rglob("*.jsonl")):
            out.append(p.read_text(errors="replace"))
        return "\n".join(out)


def tempdir(prefix):
    d = Path(tempfile.mkdtemp(prefix=prefix))
    if run_as_postgres_user():
        os.chmod(d, 0o755)
    return d


def pg_message(kind: bytes, body: bytes = b"") -> bytes:
    """One frontend protocol message: type byte, length, body."""
    import struct
    return kind + struct.pack("!i", len(body) + 4) + body


def error_fields(payload):
    """ErrorResponse/NoticeResponse payload → {'C': sqlstate, 'M': message, 'S': severity, ...}."""
    fields = {}
    for part in payload.split(b"\0"):
        if part:
            fields[chr(part[0])] = part[1:].decode(errors="replace")
    return fields


class RawSession:
    """Speaks the PostgreSQL protocol by hand (SSLRequest, StartupMessage, cleartext password),
    so tests can send exactly the message sequences some drivers send and see every message the
    server answers with. `login_error` holds the ErrorResponse fields of a refused login."""

    def __init__(self, port, user, database, password, tls=True, protocol=196608, options=(),
                 direct_alpn=None):
        """direct_alpn: a list of ALPN names to start TLS at once with (libpq's
        sslnegotiation=direct), instead of sending an SSLRequest."""
        import ssl
        import struct

        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        if direct_alpn is not None:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            if direct_alpn:
                ctx.set_alpn_protocols(direct_alpn)
            self.sock = ctx.wrap_socket(self.sock)
        elif tls:
            self.sock.sendall(struct.pack("!ii", 8, 80877103))
            if self.sock.recv(1) != b"S":
                raise RuntimeError("server refused TLS")
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            self.sock = ctx.wrap_socket(self.sock)
        body = struct.pack("!i", protocol) + b"".join(
            k.encode() + b"\0" + v.encode() + b"\0"
            for k, v in (("user", user), ("database", database), *options)) + b"\0"
        self.sock.sendall(struct.pack("!i", len(body) + 4) + body)
        self.login_error = {}
        self.login_messages = []  # every (kind, payload) of the login, up to ReadyForQuery
        while True:
            kind, payload = self.read_message()
            self.login_messages.append((kind, payload))
            if kind == b"E":
                self.login_error = error_fields(payload)
                return
            if kind == b"R":
                code = struct.unpack("!i", payload[:4])[0]
                if code == 3:
                    self.sock.sendall(pg_message(b"p", password.encode() + b"\0"))
                elif code != 0:
                    raise RuntimeError(f"unexpected authentication request {code}")
            elif kind == b"Z":
                return

    def read_message(self):
        import struct

        head = b""
        while len(head) < 5:
            chunk = self.sock.recv(5 - len(head))
            if not chunk:
                raise EOFError("server closed the connection")
            head += chunk
        kind, length = head[:1], struct.unpack("!i", head[1:])[0]
        payload = b""
        while len(payload) < length - 4:
            chunk = self.sock.recv(length - 4 - len(payload))
            if not chunk:
                raise EOFError("server closed the connection")
            payload += chunk
        return kind, payload

    def exchange(self, *messages):
        """Sends the messages, returns every (kind, payload) up to and including ReadyForQuery."""
        self.sock.sendall(b"".join(messages))
        return self.read_until_ready()

    def read_until_ready(self):
        """Every (kind, payload) up to and including the next ReadyForQuery."""
        got = []
        while True:
            kind, payload = self.read_message()
            got.append((kind, payload))
            if kind == b"Z":
                return got

    def close(self):
        try:
            self.sock.sendall(pg_message(b"X"))
        except OSError:
            pass
        self.sock.close()


def raw_login(port, user, database, password, tls=True):
    """The ErrorResponse fields a login gets ({'C': sqlstate, 'M': message, ...}), or {} when it
    succeeded. libpq hides the SQLSTATE of a failed connection; this shows what is on the wire."""
    s = RawSession(port, user, database, password, tls)
    s.close()
    return s.login_error
