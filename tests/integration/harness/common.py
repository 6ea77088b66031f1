"""Generic test helpers that know no protocol: free ports, waiting, temporary directories,
server processes started and stopped by PID, and TLS certificates.

What belongs here is what the fixtures of every protocol (PostgreSQL today; MariaDB, sshd next)
need alike. Anything that speaks a protocol or drives one server's tools goes into that
protocol's module beside this one (`postgres.py`); anything about the custos process itself goes
into `custos.py`. This module imports nothing beyond the standard library, so a protocol's module
can use it without pulling in another protocol's client libraries.
"""
import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


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


def running_as_root():
    """Tests run as root in CI. Servers that refuse root (initdb, mariadbd, ...) then run as
    their own system user, and the directories they use must be open to that user."""
    return os.geteuid() == 0


def tempdir(prefix):
    d = Path(tempfile.mkdtemp(prefix=prefix))
    if running_as_root():
        os.chmod(d, 0o755)
    return d


def start_process(args, log, env=None, ports=()):
    """Starts `args` with stdout and stderr appended to the open file `log`, and waits until it
    listens on every port in `ports` (raising if it exits first). Returns the Popen."""
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
    for port in ports:
        wait_port(port, proc=proc)
    return proc


def stop_process(proc, sig=signal.SIGTERM, timeout=40):
    """Sends `sig` to the process by its PID unless it has exited, waits `timeout` seconds for
    it, then kills it. Returns its exit status."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


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
