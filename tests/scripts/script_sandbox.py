"""A pretend machine for the cluster scripts: stub executables on a PATH that holds nothing else.

``machine.run("cluster-up.sh")`` runs a copy of the script from a scratch checkout, with a PATH made of
the stubs (kind, kubectl, istioctl, docker, curl, make, labkit: see stub.py) and links to the few
system tools the scripts need. Leaving a stub out makes that command missing, whatever the machine
running the tests has installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
STUB = Path(__file__).with_name("stub.py")
STUBS = ("kind", "kubectl", "istioctl", "docker", "curl", "make", "labkit")
#: System tools the scripts may call (bash builtins aside); each is linked into the sandbox PATH.
SYSTEM_TOOLS = (
    "bash",
    "env",
    "cat",
    "dirname",
    "uname",
    "mktemp",
    "mkdir",
    "mv",
    "chmod",
    "rm",
    "tar",
    "gzip",
    "sha256sum",
)


class Machine:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.repo = root / "repo"
        self.bin = root / "bin"
        self.tools = root / "tools"
        self.log = root / "calls.jsonl"
        self.state_file = root / "state.json"
        shutil.copytree(ROOT / "scripts", self.repo / "scripts")
        self.bin.mkdir()
        self.tools.mkdir()
        for name in STUBS:
            self.add_stub(name)
        for tool in SYSTEM_TOOLS:
            found = shutil.which(tool)
            assert found, f"the script tests need {tool} on this machine"
            (self.tools / tool).symlink_to(found)
        self.state: dict[str, Any] = {
            "kind_version": "kind v0.29.0 go1.24.2 linux/amd64",
            "clusters": [],
            "istioctl_version": "1.31.1",
            "gateway_api_crds": None,  # the URL they were applied from, once they are
            "docker_running": True,
            "node_running": True,
            "labkit_exit": 0,
            "downloads": {},
        }
        self.env: dict[str, str] = {"LABKIT": str(self.bin / "labkit")}

    def add_stub(self, name: str, directory: Path | None = None) -> Path:
        target = (directory or self.bin) / name
        target.write_text(f"#!{sys.executable}\n" + STUB.read_text())
        target.chmod(0o755)
        return target

    def remove(self, *names: str) -> None:
        for name in names:
            (self.bin / name).unlink()

    def run(self, script: str, *args: str) -> subprocess.CompletedProcess[str]:
        self.state_file.write_text(json.dumps(self.state))
        self.log.write_text("")
        env = {
            "PATH": f"{self.bin}{os.pathsep}{self.tools}",
            "HOME": str(self.root),
            "STUB_STATE": str(self.state_file),
            "STUB_LOG": str(self.log),
            **self.env,
        }
        result = subprocess.run(
            [str(self.tools / "bash"), str(self.repo / "scripts" / script), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,  # a safety net against a hung script, not a timing assertion
        )
        self.state = json.loads(self.state_file.read_text())
        return result

    @property
    def calls(self) -> list[list[str]]:
        """Every stub call of the last run, as [command name, *args]."""
        lines = [json.loads(line) for line in self.log.read_text().splitlines()]
        return [[Path(line[0]).name, *line[1:]] for line in lines]

    def called(self, *prefix: str) -> list[list[str]]:
        return [c for c in self.calls if c[: len(prefix)] == list(prefix)]

    @property
    def paths(self) -> list[str]:
        """The full path of each stub called, in order (tells a downloaded istioctl from PATH's)."""
        return [json.loads(line)[0] for line in self.log.read_text().splitlines()]
