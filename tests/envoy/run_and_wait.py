"""A program that builds a data plane with a sidecar pod, reports what it made, then ends as told:
``exit`` returns normally (no cleanup call), ``wait`` sleeps until a signal arrives."""

from __future__ import annotations

import json
import sys
import time

from labkit.envoy import DataPlane


def main(mode: str) -> None:
    plane = DataPlane.start()
    pod = plane.add_pod("sleep")
    assert pod.proxy is not None and pod.proxy.process is not None and plane.internet is not None
    report = {
        "run_id": plane.run_id,
        "run_dir": str(plane.run.path),
        "pids": [pod.proxy.process.pid, plane.internet.pid],
    }
    print(json.dumps(report), flush=True)
    if mode == "wait":
        time.sleep(120)


if __name__ == "__main__":
    main(sys.argv[1])
