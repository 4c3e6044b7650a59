#!/usr/bin/env python3
"""Benchmark the envoy backend's data plane (a report, not a test): run as root from the repository.

    PYTHONPATH=lib .venv/bin/python scripts/bench-envoy.py [--proxies 5] [--requests 20]

Reports Envoy's start-to-ready time per sidecar, how long a file-watched config change takes to be
accepted, and per-request latency (curl's time_total) through the sidecar next to the same request
from a pod without one. All traffic stays inside the run's own network namespaces.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))
sys.path.insert(0, str(ROOT / "tests" / "envoy"))  # the hand-written minimal sidecar config

import minimal_xds  # noqa: E402

from labkit.envoy import DataPlane, Pod  # noqa: E402

MAX_PROXIES = 20
MAX_REQUESTS = 200


def summary(values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    p90 = ms[min(len(ms) - 1, int(len(ms) * 0.9))]
    return f"min {ms[0]:7.1f} ms   median {statistics.median(ms):7.1f} ms   p90 {p90:7.1f} ms   (n={len(ms)})"


def latencies(pod: Pod, url: str, count: int) -> list[float]:
    out = []
    for _ in range(count):
        r = pod.curl("-sS", "-o", "/dev/null", "-w", "%{http_code} %{time_total}", url, timeout=30)
        code, total = r.stdout.split()
        if r.returncode != 0 or code != "200":
            raise SystemExit(f"{url} from {pod.name}: exit {r.returncode}, status {code}: {r.stderr}")
        out.append(float(total))
    return out


def _rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return kib / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proxies", type=int, default=5, help=f"sidecars to start (at most {MAX_PROXIES})")
    parser.add_argument("--requests", type=int, default=20, help=f"requests per case (at most {MAX_REQUESTS})")
    args = parser.parse_args()
    proxies = max(1, min(args.proxies, MAX_PROXIES))
    requests = max(1, min(args.requests, MAX_REQUESTS))

    began = time.monotonic()
    with DataPlane.start() as plane:
        print(f"data plane (fabric, internet servers) built in {(time.monotonic() - began) * 1000:.0f} ms")
        starts, applies = [], []
        sidecars = []
        for i in range(proxies):
            pod = plane.add_pod(f"sleep-{i}")
            assert pod.proxy is not None and pod.proxy.start_seconds is not None
            starts.append(pod.proxy.start_seconds)
            t = time.monotonic()
            pod.proxy.wait_applied(minimal_xds.apply(pod.proxy.xds, "ALLOW_ANY"), ("listeners", "clusters", "routes"))
            applies.append(time.monotonic() - t)
            sidecars.append(pod)
        direct = plane.add_pod("outside", proxy=None, capture=None)
        print(f"Envoy start-to-ready:        {summary(starts)}")
        rss = [_rss_mib(pod.proxy.process.pid) for pod in sidecars if pod.proxy and pod.proxy.process]
        print(f"Envoy resident memory:       median {statistics.median(rss):7.1f} MiB per proxy (n={len(rss)})")
        print(f"config change accepted:      {summary(applies)}")
        client = sidecars[0]
        for label, url in (("HTTP ", "http://httpbin.org/get"), ("HTTPS", "https://www.baidu.com/")):
            through = latencies(client, url, requests)
            plain = latencies(direct, url, requests)
            print(f"{label} through the sidecar:  {summary(through)}")
            print(f"{label} without a sidecar:    {summary(plain)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
