"""Fixtures for the certificate tests: a lab PKI, a real nginx serving the Lab 05 configuration, curl.

``require_binaries`` skips a test when a system tool is missing, except under ``CI=true``, where a missing tool
is a failure: CI installs nginx, curl and openssl, so a skip there would hide a broken setup.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from labkit.certs import ClientCert, LabPki, generate_lab_pki, generate_other_ca_client
from labkit.nginxconf import render_nginx_conf

# nginx lives in /usr/sbin, which is not on an ordinary user's PATH.
_EXTRA_PATH = ("/usr/sbin", "/sbin")
SERVER_NAME = "nginx.example.com"
TIMEOUT = 15  # seconds for any one tool invocation: a hang is a failure, not a stuck test run


def find_binary(name: str) -> str | None:
    search = os.pathsep.join([os.environ.get("PATH", ""), *_EXTRA_PATH])
    return shutil.which(name, path=search)


def require_binaries(*names: str) -> dict[str, str]:
    """Full paths of the named programs; skip when any is missing, or fail naming them all under ``CI=true``."""
    found = {name: find_binary(name) for name in names}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        message = f"missing binaries: {', '.join(missing)}"
        if os.environ.get("CI", "").strip().lower() == "true":
            pytest.fail(f"{message} (CI=true, so these tests must run; install them)", pytrace=False)
        pytest.skip(message)
    return {name: path for name, path in found.items() if path is not None}


def free_port() -> int:
    """A loopback port that was free a moment ago (nginx start-up retries if another process takes it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for_text(path: Path, text: str, timeout: float = 5.0) -> str:
    """The file's content once it contains ``text`` (or at the deadline): nginx writes the access log line
    after the response has gone out, so a client can see the answer before the log does."""
    deadline = time.monotonic() + timeout
    while True:
        content = path.read_text(errors="replace") if path.exists() else ""
        if text in content or time.monotonic() > deadline:
            return content
        time.sleep(0.05)


@dataclass
class Nginx:
    """One nginx master process in the foreground (``daemon off``), with everything under ``prefix``."""

    binary: str
    prefix: Path
    pki: LabPki
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    stderr_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.prefix.mkdir(parents=True, exist_ok=True)
        (self.prefix / "tmp").mkdir(exist_ok=True)
        self.stderr_path = self.prefix / "stderr.log"

    @property
    def conf(self) -> Path:
        return self.prefix / "nginx.conf"

    @property
    def pid_file(self) -> Path:
        return self.prefix / "nginx.pid"

    @property
    def error_log(self) -> Path:
        return self.prefix / "error.log"

    @property
    def access_log(self) -> Path:
        return self.prefix / "access.log"

    def render(self, port: int) -> None:
        self.conf.write_text(
            render_nginx_conf(
                listen_address="127.0.0.1",  # loopback only: nothing outside this machine can reach the test server
                listen_port=port,
                server_name=SERVER_NAME,
                server_cert=self.pki.server_cert,
                server_key=self.pki.server_key,
                ca_cert=self.pki.ca_cert,
                pid_path=self.pid_file,
                error_log_path=self.error_log,
                access_log_path=self.access_log,
                temp_dir=self.prefix / "tmp",
            )
        )

    def command(self, *extra: str) -> list[str]:
        globals_ = "daemon off;"
        if os.geteuid() == 0:
            # As root, nginx switches its workers to the compiled-in user (nobody or www-data), which can't
            # enter pytest's private temp directory. Keep them as root; unprivileged runs need nothing.
            globals_ += " user root;"
        return [self.binary, "-p", str(self.prefix), "-c", str(self.conf), "-g", globals_, *extra]

    def logs(self) -> str:
        parts = []
        for path in (self.stderr_path, self.error_log):
            if path.exists():
                parts.append(f"--- {path.name}\n{path.read_text(errors='replace')}")
        return "\n".join(parts)

    def start(self, attempts: int = 3) -> None:
        for _ in range(attempts):
            self.port = free_port()
            self.render(self.port)
            with self.stderr_path.open("wb") as err:
                self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=err, stderr=err)
            deadline = time.monotonic() + TIMEOUT
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if port_open(self.port):
                    return
                time.sleep(0.05)
            else:
                self.stop()
                raise RuntimeError(f"nginx did not listen on 127.0.0.1:{self.port} within {TIMEOUT}s\n{self.logs()}")
            logs = self.logs()
            if "Address already in use" not in logs:
                raise RuntimeError(f"nginx exited with status {self.proc.returncode}\n{logs}")
        raise RuntimeError(f"nginx found no free port in {attempts} attempts\n{self.logs()}")

    def stop(self) -> None:
        """SIGTERM is nginx's fast shutdown: the master stops its workers and removes the pid file."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=TIMEOUT)


@pytest.fixture
def pki(tmp_path: Path) -> LabPki:
    """A fresh PKI per test, for tests that inspect or modify the files."""
    return generate_lab_pki(tmp_path / "pki")


@pytest.fixture(scope="module")
def shared_pki(tmp_path_factory: pytest.TempPathFactory) -> LabPki:
    """One PKI for the nginx tests of a module."""
    return generate_lab_pki(tmp_path_factory.mktemp("pki-parent") / "pki")


@pytest.fixture(scope="module")
def other_client(shared_pki: LabPki) -> ClientCert:
    """A client certificate with the lab client's name, issued by a CA nginx does not trust."""
    return generate_other_ca_client(shared_pki.directory)


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory, shared_pki: LabPki) -> Iterator[Nginx]:
    """nginx with the rendered Lab 05 configuration on a free 127.0.0.1 port; always stopped afterwards."""
    binary = require_binaries("nginx")["nginx"]
    server = Nginx(binary, tmp_path_factory.mktemp("nginx"), shared_pki)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@dataclass(frozen=True)
class CurlOutcome:
    returncode: int
    status: int  # 0 when no HTTP response arrived
    verify_result: int  # curl's %{ssl_verify_result}: 0 when the server certificate verified
    body: str
    stderr: str


def run_curl(nginx: Nginx, *args: str, host: str = SERVER_NAME, cacert: Path) -> CurlOutcome:
    """GET https://<host>:<port>/ from ``nginx`` with --resolve to 127.0.0.1, trusting ``cacert``."""
    binary = require_binaries("curl")["curl"]
    cmd = [
        binary,
        "-q",  # ignore any ~/.curlrc
        "--silent",
        "--show-error",
        "--noproxy",
        "*",  # a proxy from the environment must not get in between
        "--max-time",
        str(TIMEOUT),
        "--resolve",
        f"{host}:{nginx.port}:127.0.0.1",
        "--cacert",
        str(cacert),
        "--write-out",
        "\n%{http_code} %{ssl_verify_result}",
        *args,
        f"https://{host}:{nginx.port}/",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT + 5, check=False)
    body, _, tail = done.stdout.rpartition("\n")
    status, _, verify = tail.partition(" ")
    return CurlOutcome(done.returncode, int(status or 0), int(verify or -1), body, done.stderr)


@pytest.fixture(scope="module")
def curl(nginx: Nginx, shared_pki: LabPki) -> Callable[..., CurlOutcome]:
    """``curl(*args, host=..., cacert=...)``: GET https://<host>:<port>/ with --resolve to 127.0.0.1."""
    require_binaries("curl")

    def run(*args: str, host: str = SERVER_NAME, cacert: Path | None = None) -> CurlOutcome:
        return run_curl(nginx, *args, host=host, cacert=cacert or shared_pki.ca_cert)

    return run
