"""A stand-in for kind, kubectl, istioctl, docker, curl, make and labkit in the script tests.

Each copy acts as the command it is named after. It appends ``[its path, *args]`` as a JSON line to
$STUB_LOG, and answers from the JSON state in $STUB_STATE (which it updates, e.g. when a cluster is
created), so one test can run a script twice against the same pretend machine.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

STATE = Path(os.environ["STUB_STATE"])


def load() -> dict:
    return json.loads(STATE.read_text())


def save(state: dict) -> None:
    STATE.write_text(json.dumps(state))


def option(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args else None


def kind(args: list[str], state: dict) -> int:
    if args[:1] == ["version"]:
        print(state["kind_version"])
    elif args[:2] == ["get", "clusters"]:
        if not state["clusters"]:
            print("No kind clusters found.", file=sys.stderr)
        for name in state["clusters"]:
            print(name)
    elif args[:2] == ["create", "cluster"]:
        state["clusters"].append(option(args, "--name") or "kind")
    elif args[:2] == ["delete", "cluster"]:
        name = option(args, "--name") or "kind"
        state["clusters"] = [c for c in state["clusters"] if c != name]
    return 0


def docker(args: list[str], state: dict) -> int:
    if args[:1] == ["info"]:
        if not state["docker_running"]:
            print("Cannot connect to the Docker daemon", file=sys.stderr)
            return 1
    elif args[:1] == ["inspect"]:
        print("true" if state["node_running"] else "false")
    elif args[:1] == ["start"]:
        state["node_running"] = True
    return 0


def istioctl(args: list[str], state: dict) -> int:
    if args[:1] == ["version"]:
        print(f"client version: {state['istioctl_version']}")
        return 0
    return state.get("istioctl_install_exit", 0)


def curl(args: list[str], state: dict) -> int:
    url, target = args[-1], option(args, "-o")
    source = state["downloads"].get(url)
    if source is None or target is None:
        print(f"curl: (22) The requested URL returned error: 404 ({url})", file=sys.stderr)
        return 22
    shutil.copy(source, target)
    return 0


def make(args: list[str], state: dict) -> int:
    # `make -C REPO venv` builds REPO/.venv with labkit in it.
    venv_bin = Path(option(args, "-C") or ".") / ".venv" / "bin"
    venv_bin.mkdir(parents=True, exist_ok=True)
    shutil.copy(__file__, venv_bin / "labkit")
    return 0


def kubectl(args: list[str], state: dict) -> int:
    """Only the Gateway API CRDs have state: ``get crd`` finds them once ``apply`` installed them."""
    if "get" in args and "crd" in args:
        if state.get("gateway_api_crds"):
            print(f"{args[-1]}   2026-01-01T00:00:00Z")
            return 0
        print(f'Error from server (NotFound): customresourcedefinitions.apiextensions.k8s.io "{args[-1]}" not found',
              file=sys.stderr)
        return 1
    if "apply" in args and any("gateway-api" in a for a in args):
        state["gateway_api_crds"] = option(args, "-f")
    return 0


def labkit(args: list[str], state: dict) -> int:
    print("labkit doctor: ready." if state["labkit_exit"] == 0 else "labkit doctor: 1 problem(s) found")
    return state["labkit_exit"]


def main() -> int:
    name = Path(sys.argv[0]).name
    args = sys.argv[1:]
    with open(os.environ["STUB_LOG"], "a") as log:
        log.write(json.dumps([sys.argv[0], *args]) + "\n")
    state = load()
    handler = {
        "kind": kind, "docker": docker, "istioctl": istioctl, "curl": curl, "make": make, "labkit": labkit,
        "kubectl": kubectl,
    }  # fmt: skip
    code = handler.get(name, lambda a, s: 0)(args, state)
    save(state)
    return code


if __name__ == "__main__":
    sys.exit(main())
