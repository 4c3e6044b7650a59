"""``labkit serve`` as a user starts it: a process that writes a kubeconfig and answers until Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from labkit import paths
from labkit.kube.context import guard, probe


def test_labkit_serve_writes_a_kind_kubeconfig_answers_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kc" / "kubeconfig"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(paths.ROOT / "lib"), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen(
        [sys.executable, "-m", "labkit.cli", "serve", "--kubeconfig", str(kubeconfig)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while not kubeconfig.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert kubeconfig.exists(), "labkit serve wrote no kubeconfig"
        config = yaml.safe_load(kubeconfig.read_text())
        server = config["clusters"][0]["cluster"]["server"]
        assert server.startswith("https://127.0.0.1:") and config["current-context"] == "kind-labkit-sim"
        assert kubeconfig.stat().st_mode & 0o077 == 0  # the token is the user's alone
        assert guard(kubeconfig=str(kubeconfig)) == "kind-labkit-sim"  # labkit's context guard accepts it
        answers, why = probe(kubeconfig=str(kubeconfig), timeout=10)
        assert answers, why
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    assert f"export KUBECONFIG={kubeconfig.resolve()}" in output
    assert "SIMULATED" in output
