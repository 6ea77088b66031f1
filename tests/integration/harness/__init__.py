"""The integration test harness: real servers and custos processes in temporary directories on
free loopback ports, stopped by PID.

Layout:
  common.py     generic helpers: ports, waiting, temp dirs, processes by PID, TLS certificates
  custos.py     the custos binary, API keys, config writing (`GatewaySetup`), `Gateway` process
  postgres.py   PostgreSQL: clusters, the wire protocol by hand, a gateway in front of a cluster
  fixtures/     pytest fixtures, one module per protocol plus `common.py`; tests/integration's
                conftest.py imports them

A new protocol (MariaDB, sshd, ...) adds `harness/<protocol>.py` (its server, its client helpers
and a `custos.GatewaySetup` subclass) and `harness/fixtures/<protocol>.py` (its session-scoped
server and its gateway fixtures, named after the protocol so they do not clash with the
PostgreSQL ones), then imports those fixtures in conftest.py. Its tests import what they use by
module: `from harness import common, mysql`.

`import harness` also gives the flat names the PostgreSQL tests were written against
(`harness.RawSession`, `harness.wait_until`, ...). The PostgreSQL ones are looked up in
`postgres.py` on first use only, so importing `harness.common` or another protocol's module needs
no PostgreSQL installation. Do not add other protocols' names to this list.
"""
import importlib

from .common import REPO, free_port, make_certs, tempdir, wait_port, wait_until
from .custos import Gateway, custos_bin, new_api_key

_POSTGRES_NAMES = {"PG_BIN", "PgCluster", "RawSession", "error_fields", "find_pg_bindir",
                   "pg_message", "raw_login", "run_as_postgres_user"}

__all__ = ["REPO", "free_port", "make_certs", "tempdir", "wait_port", "wait_until", "Gateway",
           "custos_bin", "new_api_key", *sorted(_POSTGRES_NAMES)]


def __getattr__(name):
    if name in _POSTGRES_NAMES:
        return getattr(importlib.import_module(".postgres", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
