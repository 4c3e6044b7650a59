"""Manifests read anywhere (``lab.apply``, files, the API server's apply patches) follow the API server's
YAML rules: aliases cannot multiply a document, a key may appear once per mapping, text is UTF-8, and
no message quotes a Secret's value."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from rich.console import Console

from labkit import manifests, schema
from labkit.errors import ManifestError
from labkit.lab import Lab
from labkit.schema._common import describe_value
from labkit.sim import SimBackend


def alias_bomb() -> str:
    """The classic "billion laughs" document: 9 levels of 9 aliases, about 500 bytes, 9^9 strings expanded."""
    levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        levels.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\ndata:\n" + "".join(f"  {x}\n" for x in levels)


def test_lab_apply_refuses_an_alias_bomb_at_once() -> None:
    # CVE-2019-11253 (kubernetes/kubernetes#83253, fixed by #83261): kubectl refuses this document.
    lab = Lab(SimBackend(), name="yaml", console=Console(file=io.StringIO()))
    start = time.monotonic()
    with pytest.raises(ManifestError) as refused:
        lab.apply(alias_bomb())
    assert time.monotonic() - start < 2
    assert "aliases" in str(refused.value)


def test_a_duplicate_key_is_an_error_as_in_kubectl() -> None:
    # https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation : strict validation
    # (kubectl's default) fails a request with duplicate fields; kubectl words it
    # `line 37: mapping key "timeoutSeconds" already defined at line 27` (as quoted in k8up-io/k8up#452).
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: one\n  name: two\n"
    with pytest.raises(ManifestError) as refused:
        manifests.load(text)
    assert 'line 5: mapping key "name" already defined at line 4' in str(refused.value)


def test_merge_keys_may_repeat_what_they_merge() -> None:
    # YAML merge keys (https://yaml.org/type/merge.html): explicit keys override merged ones; not duplicates.
    docs = manifests.load("base: &b {x: 1, y: 2}\nthing:\n  <<: *b\n  y: 3\n")
    assert docs[0]["thing"] == {"x": 1, "y": 3}


def test_a_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    # YAML 1.2 (https://yaml.org/spec/1.2.2/#52-character-encodings) streams are Unicode; kubectl reads UTF-8.
    path = tmp_path / "latin1.yaml"
    path.write_bytes("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ManifestError) as refused:
        manifests.load(path)
    assert "latin1.yaml: is not UTF-8 text: byte 0xe9 on line 4" in str(refused.value)


def test_bytes_are_read_as_utf8_yaml() -> None:
    docs = manifests.load(b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-bytes\n")
    assert docs == [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "from-bytes"}}]


def test_describing_a_huge_value_is_short_and_cheap() -> None:
    value: list = ["lol"] * 9
    for _ in range(9):
        value = [value] * 9  # 9^10 strings if walked in full
    start = time.monotonic()
    text = describe_value(value)
    assert time.monotonic() - start < 0.1
    assert text.startswith("a list [") and len(text) < 80


def test_no_message_quotes_a_secret_value() -> None:
    # https://kubernetes.io/docs/concepts/configuration/secret/ : Secret values are confidential; the
    # issue's rule is that no labkit message echoes any part of one.
    secret = "hunter2-do-not-show"
    text = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\n"
        f"stringData:\n  password: {secret}: oops\n"  # a YAML slip on the secret's own line
    )
    with pytest.raises(ManifestError) as refused:
        manifests.load(text)
    assert "hunter2" not in str(refused.value)
    doc = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "creds", "namespace": "default"},
        "stringData": {"pin": 73519, "token": [secret]},
    }
    found = schema.problems(doc, 1)
    assert found, "a number and a list are not Secret values"
    assert all("73519" not in str(p) and "hunter2" not in str(p) for p in found), found
