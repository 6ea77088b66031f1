import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import harness  # noqa: E402


@pytest.fixture(scope="session")
def pg():
    base = harness.tempdir("custos-pg-")
    cluster = harness.PgCluster(base).start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def certs():
    return harness.make_certs(harness.tempdir("custos-certs-"))


class GatewaySetup:
    """Keys and a config for one gateway instance; tests read keys from here."""

    def __init__(self, pg, certs, extra_yaml="", plaintext=False, fsync="50ms",
                 idle_timeout="1h", connections_extra="", policy_yaml="    default: allow",
                 identities_extra="", tls_extra="", policies_extra=""):
        self.key, self.key_sha = harness.new_api_key()
        self.expired_key, self.expired_sha = harness.new_api_key()
        self.outsider_key, self.outsider_sha = harness.new_api_key()
        self.pg_port = harness.free_port()
        self.admin_port = harness.free_port()
        self.down_port = harness.free_port()  # nothing listens here
        self.pg = pg
        tls = "" if plaintext else (f"tls: {{ cert: {certs}/server.crt, key: {certs}/server.key"
                                    f"{tls_extra} }}\n")
        self.config = f"""
listen:
  postgres: 127.0.0.1:{self.pg_port}
  admin: 127.0.0.1:{self.admin_port}
  allow_plaintext_auth: {'true' if plaintext else 'false'}
{tls}data_dir: ./data
recording: {{ fsync_interval: {fsync} }}
limits: {{ idle_timeout: {idle_timeout}, connect_timeout: 3s, shutdown_grace: 5s }}
identities:
  - name: ci-deploy
    groups: [ci]
    api_keys: [{{ sha256: "{self.key_sha}" }}]
  - name: expired-bot
    groups: [ci]
    api_keys: [{{ sha256: "{self.expired_sha}", expires: 2020-01-01 }}]
  - name: outsider
    api_keys: [{{ sha256: "{self.outsider_sha}" }}]
{identities_extra}
connections:
  - name: orders
    type: postgres
    address: 127.0.0.1:{pg.port}
    database: orders
    credentials: {{ username: {pg.app_user}, password: env:ORDERS_DB_PASSWORD }}
  - name: down
    type: postgres
    address: 127.0.0.1:{self.down_port}
    database: orders
    credentials: {{ username: {pg.app_user}, password: env:ORDERS_DB_PASSWORD }}
{connections_extra}
policies:
  - name: ci-on-orders
    identities: [group:ci]
    connections: [orders, down]
{policy_yaml}
{policies_extra}
{extra_yaml}
"""

    def start(self, base=None):
        base = base or harness.tempdir("custos-gw-")
        self.gw = harness.Gateway(base, self.config,
                                  env={"ORDERS_DB_PASSWORD": self.pg.app_password})
        self.gw.start(self.pg_port, self.admin_port)
        return self.gw

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


@pytest.fixture(scope="module")
def gateway(pg, certs):
    setup = GatewaySetup(pg, certs)
    gw = setup.start()
    yield setup
    gw.stop()


@pytest.fixture
def fresh_gateway(pg, certs):
    """A gateway of the test's own, for tests that kill or reconfigure it."""
    started = []

    def make(**kw):
        setup = GatewaySetup(pg, certs, **kw)
        setup.start()
        started.append(setup)
        return setup

    yield make
    for s in started:
        s.gw.stop(timeout=20)
