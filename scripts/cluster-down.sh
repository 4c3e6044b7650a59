#!/usr/bin/env bash
# Deletes the kind cluster scripts/cluster-up.sh created. See --help.
set -euo pipefail

CLUSTER_NAME="${KIND_CLUSTER_NAME:-istio-labs}"

usage() {
    cat <<USAGE
Usage: scripts/cluster-down.sh [--name NAME] [-h|--help]

Deletes the kind cluster '${CLUSTER_NAME}' (context kind-${CLUSTER_NAME}) and everything in it:
Istio, the labs' objects, its kubeconfig entry. Running it when the cluster does not exist is fine.

To keep the cluster and only undo what the labs changed, run 'labkit reset' instead.

Options:
  --name NAME   kind cluster name (default: ${CLUSTER_NAME}; environment: KIND_CLUSTER_NAME)
  -h, --help    show this help

Exit codes: 0 the cluster is gone; 1 deleting it failed; 2 bad usage; 3 kind is missing.
USAGE
}

while (($#)); do
    case "$1" in
    --name)
        if (($# < 2)); then
            echo "cluster-down: --name needs a value" >&2
            exit 2
        fi
        CLUSTER_NAME="$2"
        shift
        ;;
    --name=*) CLUSTER_NAME="${1#--name=}" ;;
    -h | --help)
        usage
        exit 0
        ;;
    *)
        echo "cluster-down: unknown argument: $1 (see --help)" >&2
        exit 2
        ;;
    esac
    shift
done

if ! command -v kind >/dev/null 2>&1; then
    echo "cluster-down: kind: not found; without it there is no kind cluster to delete" >&2
    echo "      install: see scripts/cluster-up.sh --help" >&2
    exit 3
fi

exists=false
while IFS= read -r name; do
    if [[ $name == "$CLUSTER_NAME" ]]; then exists=true; fi
done < <(kind get clusters 2>/dev/null || true)

if ! $exists; then
    echo "==> no kind cluster named ${CLUSTER_NAME}: nothing to delete"
    exit 0
fi
echo "==> deleting kind cluster ${CLUSTER_NAME}"
kind delete cluster --name "$CLUSTER_NAME" || exit 1
