"""The custos process under test: finding the binary, API keys, writing a config and running
`custos serve` with it.

What belongs here is what every protocol's tests need from the gateway itself. `GatewaySetup`
writes the protocol-independent part of the config (admin listener, TLS, recording, limits, the
identities `ci-deploy`, `expired-bot` and `outsider`, and the policy `ci-on-orders` over the
connections `orders` and `down`). A protocol adds its part by subclassing it in its own module
(see `postgres.GatewaySetup`): its listener (`listen_yaml`), the `orders` connection to its test
server and the `down` one to a port where nothing listens (`connections_yaml`), the ports custos
must listen on before the tests start (`listen_ports`), the environment holding the target
credentials (`gateway_env`), and that protocol's client helpers.
"""
import hashlib
import os
import secrets
import signal
import subprocess
from pathlib import Path

from .common import REPO, free_port, start_process, stop_process, tempdir


def custos_bin():
    env = os.environ.get("CUSTOS_BIN")
    if env:
        return env
    for cand in sorted(REPO.glob("build/*/custos")):
        if os.access(cand, os.X_OK):
            return str(cand)
    raise RuntimeError("custos binary not found; build first (cmake --preset release)")


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

    def start(self, *ports):
        """Starts custos and waits until it listens on every one of `ports` (None is skipped)."""
        self.ports = [p for p in ports if p]
        self.log = open(self.log_path, "ab")
        self.proc = start_process([custos_bin(), "serve", "--config", str(self.config_path)],
                                  self.log, env=self.env, ports=self.ports)
        return self

    def stop(self, sig=signal.SIGTERM, timeout=40):
        if not self.proc:
            return None
        returncode = stop_process(self.proc, sig, timeout)
        self.log.close()
        return returncode

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


class GatewaySetup:
    """Keys and a config for one gateway instance; tests read keys from here. Subclassed per
    protocol, which supplies the methods below that raise NotImplementedError."""

    def __init__(self, certs, extra_yaml="", plaintext=False, fsync="50ms", idle_timeout="1h",
                 connections_extra="", policy_yaml="    default: allow", identities_extra="",
                 tls_extra="", policies_extra=""):
        self.key, self.key_sha = new_api_key()
        self.expired_key, self.expired_sha = new_api_key()
        self.outsider_key, self.outsider_sha = new_api_key()
        self.admin_port = free_port()
        tls = "" if plaintext else (f"tls: {{ cert: {certs}/server.crt, key: {certs}/server.key"
                                    f"{tls_extra} }}\n")
        self.config = f"""
listen:
{self.listen_yaml()}  admin: 127.0.0.1:{self.admin_port}
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
{self.connections_yaml()}{connections_extra}
policies:
  - name: ci-on-orders
    identities: [group:ci]
    connections: [orders, down]
{policy_yaml}
{policies_extra}
{extra_yaml}
"""

    def listen_yaml(self):
        """The protocol's lines under `listen:`, each ending in a newline."""
        raise NotImplementedError

    def connections_yaml(self):
        """The `orders` and `down` entries under `connections:`, each line ending in a newline."""
        raise NotImplementedError

    def listen_ports(self):
        """The protocol ports custos must listen on before a test may use it."""
        raise NotImplementedError

    def gateway_env(self):
        """Environment variables custos reads the target credentials from."""
        return {}

    def start(self, base=None):
        base = base or tempdir("custos-gw-")
        self.gw = Gateway(base, self.config, env=self.gateway_env())
        self.gw.start(*self.listen_ports(), self.admin_port)
        return self.gw
