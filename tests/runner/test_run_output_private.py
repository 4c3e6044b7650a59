"""What ``labkit run`` leaves in ``--out`` holds no key material, and only its owner can read it."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

from labkit import cli

#: The PEM header of a private key (PKCS#8, and the older EC and RSA forms).
HEADERS = (b"-----BEGIN PRIVATE KEY-----", b"-----BEGIN EC PRIVATE KEY-----", b"-----BEGIN RSA PRIVATE KEY-----")


def key_markers() -> list[bytes]:
    """Each header as is, and base64-encoded at every alignment (a Secret's data holds base64 of the PEM)."""
    markers = [b"PRIVATE KEY"]
    for header in HEADERS:
        for shift in range(3):
            encoded = base64.b64encode(b"\0" * shift + header)
            start = (shift * 4 + 2) // 3 + 1  # skip the characters that mix in the padding bytes
            markers.append(encoded[start:-4])
    return markers


def test_lab_05_run_folder_holds_no_private_key_and_is_private(tmp_path: Path) -> None:
    # Lab 05 generates three private keys and applies them as Secrets (istio.io egress-gateway-tls-origination
    # task, "Create Kubernetes Secrets to hold the server's and client's certificates").
    out = tmp_path / "run"
    previous = os.umask(0o022)  # a usual umask: files would be world-readable unless the runner prevents it
    try:
        assert cli.main(["run", "05", "--backend", "sim", "--out", str(out), "-q"]) == 0
    finally:
        os.umask(previous)
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    files = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.name.endswith(".applied.yaml") for p in files)
    markers = key_markers()
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
        data = path.read_bytes()
        found = [m for m in markers if m in data]
        assert not found, f"{path.name} holds key material: {found[0][:20]!r}"
