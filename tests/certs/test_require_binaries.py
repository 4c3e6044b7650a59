"""The skip-or-fail switch: missing tools skip locally, but fail under CI=true so CI can't skip silently."""

from __future__ import annotations

import os

import pytest

from .conftest import find_binary, require_binaries

MISSING = "labkit-no-such-binary-7f3a"


def test_present_binary_is_returned_with_its_path() -> None:
    found = require_binaries("sh")
    assert os.path.isabs(found["sh"]) and os.access(found["sh"], os.X_OK)


def test_missing_binary_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=f"missing binaries: {MISSING}"):
        require_binaries("sh", MISSING)


@pytest.mark.parametrize("value", ["true", "TRUE", " true "])
def test_missing_binaries_fail_under_ci(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception) as info:
        require_binaries(MISSING, "sh", f"{MISSING}-2")
    assert f"missing binaries: {MISSING}, {MISSING}-2" in str(info.value)
    assert "CI=true" in str(info.value)


def test_ci_false_still_skips(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception):
        require_binaries(MISSING)


def test_sbin_is_searched_even_when_not_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    # nginx is installed in /usr/sbin, which an ordinary user's PATH usually lacks.
    sbin_tool = next(
        (p for p in ("/usr/sbin/nginx", "/usr/sbin/ldconfig", "/sbin/ldconfig") if os.path.exists(p)), None
    )
    if sbin_tool is None:
        pytest.skip("no known program in /usr/sbin or /sbin to look for")
    monkeypatch.setenv("PATH", "/nonexistent")
    assert find_binary(os.path.basename(sbin_tool)) == sbin_tool
