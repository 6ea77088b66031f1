"""PostgreSQL for the tests: throw-away clusters (initdb/pg_ctl), the wire protocol spoken by
hand (`RawSession`), and `GatewaySetup`, a custos config in front of a cluster with psql helpers.

Everything here is specific to PostgreSQL; generic helpers come from `common.py` and the custos
process from `custos.py`. Another protocol gets a module of its own beside this one (`mysql.py`
with its server, its wire helpers and its `GatewaySetup` subclass) and a fixtures module in
`fixtures/`; it does not add to this one.
"""
import os
import secrets
import shutil
import socket
import ssl
import struct
import subprocess
from pathlib import Path

import psycopg2

from . import custos
from .common import free_port, running_as_root, wait_port


def find_pg_bindir():
    for v in ("17", "16", "15"):
        p = Path(f"/usr/lib/postgresql/{v}/bin")
        if (p / "initdb").exists():
            return p
    raise RuntimeError("PostgreSQL server binaries not found (run scripts/install-deps.sh)")


PG_BIN = find_pg_bindir()


def run_as_postgres_user():
    """initdb refuses to run as root; tests run as root in CI, so drop to 'postgres' then."""
    return running_as_root()


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


class GatewaySetup(custos.GatewaySetup):
    """A gateway in front of the cluster `pg`: its PostgreSQL listener, the connections `orders`
    (the cluster) and `down` (a port where nothing listens), and psql/DSN helpers. Options are
    those of `custos.GatewaySetup`."""

    def __init__(self, pg, certs, **options):
        self.pg = pg
        self.pg_port = free_port()
        self.down_port = free_port()  # nothing listens here
        super().__init__(certs, **options)

    def listen_yaml(self):
        return f"  postgres: 127.0.0.1:{self.pg_port}\n"

    def connections_yaml(self):
        return f"""  - name: orders
    type: postgres
    address: 127.0.0.1:{self.pg.port}
    database: orders
    credentials: {{ username: {self.pg.app_user}, password: env:ORDERS_DB_PASSWORD }}
  - name: down
    type: postgres
    address: 127.0.0.1:{self.down_port}
    database: orders
    credentials: {{ username: {self.pg.app_user}, password: env:ORDERS_DB_PASSWORD }}
"""

    def listen_ports(self):
        return [self.pg_port]

    def gateway_env(self):
        return {"ORDERS_DB_PASSWORD": self.pg.app_password}

    def dsn(self, user="ci-deploy", dbname="orders", sslmode="require", password=None):
        return (f"host=127.0.0.1 port={self.pg_port} user={user} dbname={dbname} "
                f"sslmode={sslmode} password={password if password is not None else self.key}")

    def psql(self, *args, user="ci-deploy", dbname="orders", sslmode="require", key=None,
             input=None, timeout=60):
        env = dict(os.environ)
        env["PGPASSWORD"] = key if key is not None else self.key
        env["PGCONNECT_TIMEOUT"] = "10"
        conninfo = (f"host=127.0.0.1 port={self.pg_port} user={user} dbname={dbname} "
                    f"sslmode={sslmode}")
        return subprocess.run(["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", conninfo,
                               *args], capture_output=True, text=True, env=env, input=input,
                              timeout=timeout)


def pg_message(kind: bytes, body: bytes = b"") -> bytes:
    """One frontend protocol message: type byte, length, body."""
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
