"""``labkit list``: the lab catalogue, each notebook with what its lab.yaml says."""

from __future__ import annotations

import pytest

from labkit import cli, labinfo, paths


def test_list_shows_each_labs_time_prerequisites_and_external_hosts(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    assert cli.main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    metas = labinfo.all_labs(paths.LABS)
    assert metas
    for meta in metas:
        row = next((line for line in lines if line.strip().startswith(meta.name)), None)
        assert row is not None, f"{meta.name} is not listed whole"
        assert meta.title in row and f"{meta.minutes} min" in row
        assert ", ".join(meta.hosts) in row
        assert (", ".join(d[:2] for d in meta.depends_on) or "—") in row


def test_the_catalogue_pairs_every_notebook_with_its_lab_yaml() -> None:
    entries = labinfo.catalogue()
    assert [e.name for e in entries] == [p.name for p in labinfo.lab_dirs()]
    for entry in entries:
        assert entry.meta is not None and entry.meta.name == entry.name
        assert entry.data_dir == paths.LABS / entry.name
        assert entry.path == paths.NOTEBOOKS / f"{entry.name}.ipynb"
