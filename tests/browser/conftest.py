"""A real JupyterLab server and a real Chromium, for tests that look at the notebooks as a learner does.

Chromium is the distribution's (``/usr/bin/chromium``, ``LABKIT_CHROMIUM`` overrides); Playwright
only drives it and never downloads a browser. Without either, the tests skip locally and fail under
``CI=true``, where the environment is supposed to have them (``.ci/run`` installs chromium).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from labkit import paths

CHROMIUM = os.environ.get("LABKIT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",  # tests run as root in CI containers, where the sandbox can't start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_TIMEOUT = 90.0
#: Stable place for screenshots, next to the other test output under build/ (git ignores build/).
OUTPUT = paths.ROOT / "build" / "test-output" / "browser"


def unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser test can't run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def playwright_api() -> Any:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed (pip install playwright)")
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    return sync_playwright


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class JupyterLab:
    url: str  # http://127.0.0.1:PORT
    token: str
    root: Path  # the directory the server serves
    log: Path

    def lab_url(self, notebook: str) -> str:
        # ?reset: start from an empty workspace, whatever a previous page left behind.
        return f"{self.url}/lab/tree/{notebook}?reset&token={self.token}"


def _settings(directory: Path) -> None:
    """User settings for a quiet, deterministic JupyterLab."""
    values = {
        # Render every cell, not only those in view, so the page holds all outputs to check.
        "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
        # No news or update checks: no network, and no toast over the notebook in the screenshot.
        "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    }
    for plugin, settings in values.items():
        package, name = plugin.rsplit("/", 1)  # <settings dir>/@scope/package/<plugin>.jupyterlab-settings
        path = directory / package / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings))


def _wait_until_up(jl: JupyterLab, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {proc.returncode}:\n{jl.log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{jl.url}/api/status?token={jl.token}", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"jupyter lab did not answer in {SERVER_START_TIMEOUT:g}s:\n{jl.log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def jupyterlab(tmp_path_factory: pytest.TempPathFactory, playwright_api: Any) -> Iterator[JupyterLab]:
    """JupyterLab on a free loopback port, with a token, serving a copy of the notebooks."""
    base = tmp_path_factory.mktemp("jupyterlab")
    root = base / "notebooks"
    shutil.copytree(paths.NOTEBOOKS, root)  # the UI saves checkpoints; keep them out of the checkout
    for name in ("config", "data", "runtime", "settings", "workspaces"):
        (base / name).mkdir()
    _settings(base / "settings")
    env = {
        **os.environ,
        # The kernel imports labkit from this checkout, with or without `pip install -e .`.
        "PYTHONPATH": os.pathsep.join(filter(None, [str(paths.ROOT / "lib"), os.environ.get("PYTHONPATH")])),
        # No kube config: backend="auto" in the notebook must pick the simulator, as on a laptop.
        "KUBECONFIG": str(base / "no-kubeconfig"),
        "JUPYTER_CONFIG_DIR": str(base / "config"),
        "JUPYTER_DATA_DIR": str(base / "data"),  # the venv's own kernels and extensions still count
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(base / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(base / "workspaces"),
    }
    for key in ("LABKIT_RECORD_DIR", "LABKIT_LAB", "LABKIT_ALLOW_CONTEXT", "JUPYTER_TOKEN"):
        env.pop(key, None)
    port = free_port()
    jl = JupyterLab(f"http://127.0.0.1:{port}", secrets.token_hex(16), root, base / "jupyterlab.log")
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",  # the URL above must be the one it listens on
        f"--IdentityProvider.token={jl.token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",  # no look-ups in a package index
    ]
    if os.geteuid() == 0:  # CI containers run as root; jupyter refuses that unless told
        command.append("--allow-root")
    with jl.log.open("wb") as log:
        proc = subprocess.Popen(command, env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_until_up(jl, proc)
        yield jl
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    if report.when == "call":
        item.stash[FAILED] = report.failed  # read by the page fixture, to keep a picture of a failure
    return report


FAILED = pytest.StashKey[bool]()


@pytest.fixture
def page(playwright_api: Any, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A Chromium page with a fresh profile; Playwright's own browser downloads are never used."""
    with playwright_api() as p:
        context = p.chromium.launch_persistent_context(
            user_data_dir=str(tmp_path / "chromium-profile"),
            executable_path=CHROMIUM,
            args=CHROMIUM_FLAGS,
            headless=True,
            viewport={"width": 1400, "height": 1000},
            timeout=60_000,
        )
        page = context.pages[0] if context.pages else context.new_page()
        try:
            yield page
            if request.node.stash.get(FAILED, False):
                OUTPUT.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(OUTPUT / f"FAILED-{request.node.name}.png"))
        finally:
            context.close()
