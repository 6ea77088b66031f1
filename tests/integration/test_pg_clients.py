"""Other real clients through custos: a libpq C program, node-postgres."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def libpq_client(tmp_path_factory):
    out = tmp_path_factory.mktemp("libpq") / "libpq_client"
    inc = subprocess.run(["pg_config", "--includedir"], capture_output=True, text=True).stdout.strip()
    subprocess.run(["cc", "-O1", "-Wall", f"-I{inc}", str(HERE / "clients" / "libpq_client.c"),
                    "-lpq", "-o", str(out)], check=True)
    return out


def test_libpq_program(gateway, libpq_client):
    r = subprocess.run([str(libpq_client), gateway.dsn()], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"
    rec = gateway.gw.recordings_text()
    assert "select $1::text || $1::text" in rec  # each Execute recorded with its text


def test_node_postgres(gateway):
    node_dir = HERE / "node"
    if not (node_dir / "node_modules" / "pg").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=node_dir,
                       check=True, timeout=300)
    env = dict(os.environ, CUSTOS_PORT=str(gateway.pg_port), CUSTOS_USER="ci-deploy",
               CUSTOS_DB="orders", CUSTOS_KEY=gateway.key)
    r = subprocess.run(["node", str(node_dir / "client.js")], capture_output=True, text=True,
                       env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"
