"""One run's state directory: who owns the run, which processes it started, and its files.

A crashed run (its owner killed with SIGKILL) leaves this directory behind; ``reset`` reads it to find the
processes and namespaces to remove. The directory lives under the system temporary directory, never under
``/etc``, and is removed with everything else on cleanup.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import LabkitError

#: Where run directories go; one subdirectory per run, named by the run id.
ENV_BASE = "LABKIT_ENVOY_STATE"


def state_base() -> Path:
    return Path(os.environ.get(ENV_BASE) or Path(tempfile.gettempdir()) / "labkit-envoy")


def process_start_time(pid: int) -> int | None:
    """The kernel's start time of ``pid`` (clock ticks since boot), or None when it is gone.

    Recorded next to each pid, so a reset never kills an unrelated process that reused the number.
    """
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after its closing one.
    fields = data[data.rindex(")") + 2 :].split()
    return int(fields[19])


def alive(pid: int, started: int | None) -> bool:
    now = process_start_time(pid)
    return now is not None and (started is None or now == started)


@dataclass(frozen=True)
class ProcessRecord:
    pid: int
    started: int | None
    what: str


class RunDir:
    """``<state base>/<run id>/`` with ``owner.json`` and one ``procs/<pid>.json`` per started process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.run_id = path.name

    @classmethod
    def create(cls, run_id: str, base: Path | None = None) -> RunDir:
        base = base or state_base()
        _safe_base(base)
        path = base / run_id
        # 0711: the proxies run as uid 1337 and must traverse into their own (1337-owned) directories.
        path.mkdir(mode=0o711)
        os.chmod(path, 0o711)
        (path / "procs").mkdir(mode=0o700)
        me = os.getpid()
        (path / "owner.json").write_text(json.dumps({"pid": me, "started": process_start_time(me)}))
        return cls(path)

    def owner(self) -> ProcessRecord | None:
        try:
            data = json.loads((self.path / "owner.json").read_text())
        except (OSError, ValueError):
            return None
        return ProcessRecord(int(data["pid"]), data.get("started"), "owner")

    def owner_alive(self) -> bool:
        owner = self.owner()
        return owner is not None and alive(owner.pid, owner.started)

    def record(self, pid: int, what: str) -> None:
        rec = {"pid": pid, "started": process_start_time(pid), "what": what}
        (self.path / "procs" / f"{pid}.json").write_text(json.dumps(rec))

    def forget(self, pid: int) -> None:
        (self.path / "procs" / f"{pid}.json").unlink(missing_ok=True)

    def processes(self) -> list[ProcessRecord]:
        out = []
        for f in sorted((self.path / "procs").glob("*.json")):
            try:
                data = json.loads(f.read_text())
            except (OSError, ValueError):
                continue
            out.append(ProcessRecord(int(data["pid"]), data.get("started"), str(data.get("what", ""))))
        return out

    def subdir(self, name: str, *, owner_uid: int | None = None, mode: int = 0o700) -> Path:
        path = self.path / name
        for parent in reversed(path.relative_to(self.path).parents[:-1]):
            # Directories on the way are traversable (0711) whatever the umask: proxies run as uid 1337.
            between = self.path / parent
            if not between.exists():
                between.mkdir(mode=0o711)
                os.chmod(between, 0o711)
        path.mkdir(mode=mode, parents=True, exist_ok=True)
        os.chmod(path, mode)
        if owner_uid is not None:
            os.chown(path, owner_uid, owner_uid)
        return path

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def remove_base_if_empty(self) -> None:
        with contextlib.suppress(OSError):
            self.path.parent.rmdir()  # only succeeds when no other run is there


def all_runs(base: Path | None = None) -> list[RunDir]:
    base = base or state_base()
    if not base.is_dir():
        return []
    return [RunDir(p) for p in sorted(base.iterdir()) if p.is_dir() and not p.is_symlink()]


def _safe_base(base: Path) -> None:
    """Create the base directory, or accept an existing one only if it is ours and not a symlink."""
    try:
        base.mkdir(mode=0o711, parents=True)
    except FileExistsError:
        st = base.lstat()
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
            raise LabkitError(
                f"{base} exists but is not a directory owned by uid {os.geteuid()}",
                hint=f"Remove it, or point {ENV_BASE} at another directory.",
            ) from None
    # mkdir's mode is cut by the umask (a notebook kernel's may be 077): the proxies' uid must traverse it.
    os.chmod(base, 0o711)
