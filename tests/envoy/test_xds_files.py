"""The xDS writer: the file layout Envoy's path_config_source reads, written atomically (no root needed).

Envoy docs, "xDS protocol / Filesystem subscriptions": a watched directory reloads the file when a file is
moved into it, so every write must be a rename of a complete file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from labkit.envoy.xds import CLUSTER, LISTENER, ROUTE, XdsError, XdsFiles


def test_apply_writes_discovery_responses_with_one_version(tmp_path: Path) -> None:
    xds = XdsFiles(tmp_path / "xds")
    v = xds.apply(
        listeners=[{"name": "virtualOutbound"}],
        clusters=[{"name": "PassthroughCluster"}, {"name": "BlackHoleCluster"}],
        routes=[{"name": "80"}, {"name": "outbound|443||a.example"}],
    )
    lds = json.loads(xds.lds.read_text())
    assert lds == {"version_info": v, "resources": [{"@type": LISTENER, "name": "virtualOutbound"}]}
    cds = json.loads(xds.cds.read_text())
    assert [r["@type"] for r in cds["resources"]] == [CLUSTER, CLUSTER]
    # One RouteConfiguration per file: an RDS subscription accepts exactly one resource.
    rds = sorted(p.name for p in (xds.root / "rds").iterdir())
    assert rds == ["80.json", "outbound%7C443%7C%7Ca.example.json"]
    route = json.loads((xds.root / "rds" / "80.json").read_text())
    assert route["resources"] == [{"@type": ROUTE, "name": "80"}] and route["version_info"] == v


def test_sources_point_at_the_files_and_their_directories(tmp_path: Path) -> None:
    xds = XdsFiles(tmp_path / "xds")
    src = xds.rds_source("80")["path_config_source"]
    assert src == {"path": str(xds.root / "rds" / "80.json"), "watched_directory": {"path": str(xds.root / "rds")}}
    assert xds.lds_source()["resource_api_version"] == "V3"


def test_a_second_apply_replaces_by_rename_and_drops_stale_routes(tmp_path: Path) -> None:
    xds = XdsFiles(tmp_path / "xds")
    xds.apply(listeners=[], routes=[{"name": "80"}, {"name": "443"}])
    inode = os.stat(xds.lds).st_ino
    v2 = xds.apply(listeners=[{"name": "x"}], routes=[{"name": "80"}])
    assert os.stat(xds.lds).st_ino != inode, "a new file renamed into place, not a rewrite in place"
    assert sorted(p.name for p in (xds.root / "rds").iterdir()) == ["80.json"]
    assert json.loads(xds.lds.read_text())["version_info"] == v2
    assert not [p for p in xds.root.rglob(".*.tmp")], "no temporary file left"


def test_untouched_types_keep_their_files(tmp_path: Path) -> None:
    xds = XdsFiles(tmp_path / "xds")
    v1 = xds.apply(clusters=[{"name": "c"}])
    xds.apply(listeners=[{"name": "l"}])
    assert json.loads(xds.cds.read_text())["version_info"] == v1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"listeners": [{"address": {}}]},
        {"clusters": [{"name": "a"}, {"name": "a"}]},
        {"routes": [{"name": ""}]},
    ],
)
def test_malformed_resources_are_refused_before_anything_is_written(tmp_path: Path, kwargs: dict) -> None:
    xds = XdsFiles(tmp_path / "xds")
    xds.empty()
    before = {p: p.read_bytes() for p in xds.root.rglob("*.json")}
    with pytest.raises(XdsError):
        # A good batch of clusters next to the bad resource: neither may be written.
        xds.apply(**{"clusters": [{"name": "fine"}], **kwargs})
    assert {p: p.read_bytes() for p in xds.root.rglob("*.json")} == before
