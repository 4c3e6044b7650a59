"""scripts/update-lab-tables.py: the README tables are generated from lab.yaml, and are current."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "update-lab-tables.py"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60)


def checkout_copy(tmp_path: Path) -> Path:
    """The files the script reads and writes, copied, so a test can change them."""
    shutil.copytree(ROOT / "labs", tmp_path / "labs")
    (tmp_path / "notebooks").mkdir()
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    shutil.copy(ROOT / "notebooks" / "README.md", tmp_path / "notebooks" / "README.md")
    return tmp_path


def test_the_readme_tables_are_current() -> None:
    result = run("--check")
    assert result.returncode == 0, result.stderr


def test_a_change_to_lab_yaml_makes_the_tables_stale_until_regenerated(tmp_path: Path) -> None:
    root = checkout_copy(tmp_path)
    lab_yaml = root / "labs" / "02-tls-origination" / "lab.yaml"
    lab_yaml.write_text(lab_yaml.read_text().replace("minutes: 15", "minutes: 17"))
    stale = run("--check", "--root", str(root))
    assert stale.returncode == 1 and "notebooks/README.md" in stale.stderr
    readme = (root / "notebooks" / "README.md").read_text()
    assert run("--root", str(root)).returncode == 0
    assert (root / "notebooks" / "README.md").read_text() != readme
    assert "| 17 min |" in (root / "notebooks" / "README.md").read_text()
    assert run("--check", "--root", str(root)).returncode == 0


def test_the_changes_table_shows_each_labs_hosts_kinds_and_changes(tmp_path: Path) -> None:
    root = checkout_copy(tmp_path)
    lab_yaml = root / "labs" / "08-external-https-proxy" / "lab.yaml"
    text = lab_yaml.read_text().replace("hosts: [en.wikipedia.org]", "hosts: [en.wikipedia.org, api.example.com]")
    lab_yaml.write_text(text + "  - adds a line only this test writes\n")
    assert run("--root", str(root)).returncode == 0
    block = (root / "README.md").read_text().split("<!-- BEGIN lab-table changes")[1]
    row = next(line for line in block.splitlines() if line.startswith("| `08-"))
    assert "en.wikipedia.org, api.example.com" in row
    assert "adds a line only this test writes" in row and "ServiceEntry" in row


def test_text_around_the_tables_is_kept_and_missing_markers_are_named(tmp_path: Path) -> None:
    root = checkout_copy(tmp_path)
    before = (root / "README.md").read_text()
    assert run("--root", str(root)).returncode == 0
    assert (root / "README.md").read_text() == before  # current: nothing rewritten
    (root / "README.md").write_text(before.replace("<!-- END lab-table changes -->", ""))
    broken = run("--check", "--root", str(root))
    assert broken.returncode != 0 and "lab-table changes" in broken.stderr
