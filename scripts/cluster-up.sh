#!/usr/bin/env bash
# From a machine with Docker to a kind cluster the Istio egress labs can run on. See --help.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$SCRIPT_DIR/.." && pwd)"

# Pinned versions. Istio: the newest patch of the newest minor (istio.io, "Announcing Istio 1.31.1",
# 2026-09-21); the offline simulator still models Istio 1.27 (labkit.sim.MODELLED_ISTIO).
DEFAULT_ISTIO_VERSION=1.31.1
ISTIO_VERSION="${ISTIO_VERSION:-$DEFAULT_ISTIO_VERSION}"
# Kubernetes Gateway API CRDs: Istio does not install them. v1.6.0 is the bundle Istio 1.31's own tests
# use (the gateway.networking.k8s.io/bundle-version of their CRD file). The experimental channel, because
# istio.io's Gateway API egress tasks route TLS with TLSRoute v1alpha2, which only that channel serves;
# its CRDs are too large for client-side apply (gateway-api v1.5.0 release notes), hence --server-side.
GATEWAY_API_VERSION=v1.6.0
GATEWAY_API_CRD=gateways.gateway.networking.k8s.io
GATEWAY_API_URL="https://github.com/kubernetes-sigs/gateway-api/releases/download/${GATEWAY_API_VERSION}/experimental-install.yaml"
KIND_MIN_VERSION=0.24.0 # the first kind whose kindnet enforces NetworkPolicy (lab 04 relies on it)
KIND_RECOMMENDED=v0.29.0
KUBECTL_RECOMMENDED=v1.33.1
CLUSTER_NAME="${KIND_CLUSTER_NAME:-istio-labs}"
KIND_CONFIG="$SCRIPT_DIR/kind-config.yaml"
ISTIO_CONFIG="$SCRIPT_DIR/istio-labs.yaml"
ISTIO_NAMESPACE=istio-system
TOOLS_DIR="${LABKIT_TOOLS_DIR:-$REPO_DIR/.tools}"
WAIT="${WAIT_TIMEOUT:-300s}"

# Exit codes
EXIT_FAILED=1
EXIT_USAGE=2
EXIT_PREREQ=3

usage() {
    cat <<EOF
Usage: scripts/cluster-up.sh [--install-istioctl] [--name NAME] [-h|--help]

Creates (or reuses) a local kind cluster and makes it ready for the Istio egress labs:

  1. checks the prerequisites: docker (with its daemon running), kind >= v${KIND_MIN_VERSION}
     (older kindnet ignores NetworkPolicy), kubectl, and istioctl ${ISTIO_VERSION}. Every missing one
     is named with the command that installs it; nothing is installed behind your back.
  2. creates the kind cluster '${CLUSTER_NAME}' from scripts/kind-config.yaml (context
     kind-${CLUSTER_NAME}), or reuses it when it exists (starting its node if Docker stopped it).
  3. installs the Kubernetes Gateway API CRDs ${GATEWAY_API_VERSION} (experimental channel) when the
     cluster has none (CRDs already there are kept, whatever their version); then
     installs Istio ${ISTIO_VERSION} with istioctl from scripts/istio-labs.yaml: the egress gateway,
     meshConfig.accessLogFile=/dev/stdout, outbound traffic policy ALLOW_ANY. Re-running re-applies
     these settings.
  4. labels namespace default with istio-injection=enabled and waits until istiod and the
     egress gateway are ready.
  5. finishes with 'labkit doctor --backend kube' (building .venv with 'make venv' first when
     there is none), so exit 0 means the labs can run: make labs BACKEND=kube

Options:
  --install-istioctl  when istioctl ${ISTIO_VERSION} is not on PATH, download exactly that release
                      (checksum verified) into .tools/istio-${ISTIO_VERSION}/ and use it from there.
                      Without this flag a missing istioctl is reported with its install command.
                      No "latest" version is ever downloaded.
  --name NAME         kind cluster name (default: ${CLUSTER_NAME}; the context is kind-NAME)
  -h, --help          show this help

Environment:
  ISTIO_VERSION       Istio release to install (default: ${DEFAULT_ISTIO_VERSION})
  KIND_CLUSTER_NAME   same as --name
  KIND_NODE_IMAGE     node image for a new cluster (default: the one pinned in kind-config.yaml)
  WAIT_TIMEOUT        how long to wait for nodes and Istio (default: 300s)
  LABKIT              the labkit executable for the final check (default: .venv/bin/labkit)

Exit codes: 0 ready; 1 a step failed or labkit doctor found a problem; 2 bad usage;
3 a prerequisite is missing or too old.

Remove everything again with scripts/cluster-down.sh.
EOF
}

log() { printf '==> %s\n' "$*"; }
warn() { printf 'cluster-up: %s\n' "$*" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }

# version_ge A B: true when dotted version A >= B (major.minor.patch, numeric parts only).
version_ge() {
    local -a a b
    local i
    IFS=. read -r -a a <<<"$1"
    IFS=. read -r -a b <<<"$2"
    for i in 0 1 2; do
        if ((${a[i]:-0} > ${b[i]:-0})); then return 0; fi
        if ((${a[i]:-0} < ${b[i]:-0})); then return 1; fi
    done
    return 0
}

# -- where we are, for install commands ----------------------------------------------------------
case "$(uname -s)" in
Darwin) GOOS=darwin ISTIO_OS=osx ;;
*) GOOS=linux ISTIO_OS=linux ;;
esac
case "$(uname -m)" in
x86_64 | amd64) GOARCH=amd64 ;;
aarch64 | arm64) GOARCH=arm64 ;;
*) GOARCH="$(uname -m)" ;;
esac

# The release asset names Istio publishes (as its own downloadIstioCtl.sh builds them).
istioctl_asset() {
    if [[ $ISTIO_OS == osx && $GOARCH == amd64 ]]; then
        printf 'istioctl-%s-osx.tar.gz' "$ISTIO_VERSION"
    else
        printf 'istioctl-%s-%s-%s.tar.gz' "$ISTIO_VERSION" "$ISTIO_OS" "$GOARCH"
    fi
}
ISTIOCTL_URL="https://github.com/istio/istio/releases/download/${ISTIO_VERSION}/$(istioctl_asset)"

install_docker() {
    if [[ $GOOS == darwin ]]; then
        echo "brew install --cask docker   # Docker Desktop; then start it"
    else
        echo "sudo apt-get install -y docker.io && sudo usermod -aG docker \"\$USER\"   # Debian/Ubuntu; others: https://docs.docker.com/engine/install/"
    fi
}
install_kind() {
    echo "curl -fsSLo kind https://kind.sigs.k8s.io/dl/${KIND_RECOMMENDED}/kind-${GOOS}-${GOARCH} && chmod +x kind && sudo mv kind /usr/local/bin/kind"
}
install_kubectl() {
    echo "curl -fsSLO https://dl.k8s.io/release/${KUBECTL_RECOMMENDED}/bin/${GOOS}/${GOARCH}/kubectl && chmod +x kubectl && sudo mv kubectl /usr/local/bin/kubectl"
}
install_istioctl() {
    echo "scripts/cluster-up.sh --install-istioctl   # downloads istioctl ${ISTIO_VERSION} into .tools/"
    echo "             or: curl -fsSL ${ISTIOCTL_URL} | tar -xz istioctl && sudo mv istioctl /usr/local/bin/istioctl"
}

# -- arguments ------------------------------------------------------------------------------------
INSTALL_ISTIOCTL=false
while (($#)); do
    case "$1" in
    --install-istioctl) INSTALL_ISTIOCTL=true ;;
    --name)
        if (($# < 2)); then
            warn "--name needs a value"
            exit "$EXIT_USAGE"
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
        warn "unknown argument: $1 (see --help)"
        exit "$EXIT_USAGE"
        ;;
    esac
    shift
done
CONTEXT="kind-${CLUSTER_NAME}"

# -- prerequisites --------------------------------------------------------------------------------
problems=()
problem() { problems+=("$1"$'\n'"      install: $2"); }

if ! have docker; then
    problem "docker: not found" "$(install_docker)"
elif ! docker info >/dev/null 2>&1; then
    problems+=("docker: installed, but the Docker daemon does not answer ('docker info' failed)"$'\n'"      start it: Docker Desktop, or: sudo systemctl start docker")
fi

if ! have kind; then
    problem "kind: not found (kind >= v${KIND_MIN_VERSION} is needed)" "$(install_kind)"
else
    kind_out="$(kind version 2>/dev/null || true)"
    if [[ $kind_out =~ v([0-9]+\.[0-9]+\.[0-9]+) ]]; then
        kind_version="${BASH_REMATCH[1]}"
        if ! version_ge "$kind_version" "$KIND_MIN_VERSION"; then
            problem "kind: v${kind_version} is older than v${KIND_MIN_VERSION}; its kindnet does not enforce NetworkPolicy, so lab 04 cannot work" "$(install_kind)"
        fi
    else
        problem "kind: cannot tell its version from 'kind version' (${kind_out:-no output})" "$(install_kind)"
    fi
fi

if ! have kubectl; then
    problem "kubectl: not found" "$(install_kubectl)"
fi

istioctl_version() {
    local out
    out="$("$1" version --remote=false 2>/dev/null || true)"
    if [[ $out =~ ([0-9]+\.[0-9]+\.[0-9]+[^[:space:]]*) ]]; then
        printf '%s' "${BASH_REMATCH[1]}"
    fi
}

# A pinned copy fetched earlier with --install-istioctl wins over whatever is on PATH.
ISTIOCTL=""
DOWNLOAD_ISTIOCTL=false
local_istioctl="$TOOLS_DIR/istio-${ISTIO_VERSION}/istioctl"
if [[ -x $local_istioctl ]]; then
    ISTIOCTL="$local_istioctl"
elif have istioctl; then
    ISTIOCTL="$(command -v istioctl)"
    found_version="$(istioctl_version "$ISTIOCTL")"
    if [[ $found_version != "$ISTIO_VERSION" ]]; then
        if $INSTALL_ISTIOCTL; then
            DOWNLOAD_ISTIOCTL=true
        else
            problem "istioctl: ${ISTIOCTL} is version ${found_version:-unknown}, not ${ISTIO_VERSION} (istioctl installs its own version; set ISTIO_VERSION=${found_version:-X.Y.Z} to use it)" "$(install_istioctl)"
        fi
        ISTIOCTL=""
    fi
elif $INSTALL_ISTIOCTL; then
    DOWNLOAD_ISTIOCTL=true
else
    problem "istioctl: not found (Istio ${ISTIO_VERSION})" "$(install_istioctl)"
fi
if $DOWNLOAD_ISTIOCTL; then
    for tool in curl tar; do
        have "$tool" || problem "$tool: not found (needed by --install-istioctl)" "your system's package manager"
    done
    have sha256sum || have shasum || problem "sha256sum: not found (needed to verify the istioctl download)" "coreutils"
fi

# labkit runs the final check; without a venv, `make venv` builds one (it needs make and python3).
LABKIT_CMD="${LABKIT:-}"
BUILD_VENV=false
if [[ -z $LABKIT_CMD ]]; then
    LABKIT_CMD="$REPO_DIR/.venv/bin/labkit"
    if [[ ! -x $LABKIT_CMD ]]; then
        BUILD_VENV=true
        have make || problem "make: not found (builds .venv for labkit)" "sudo apt-get install -y make   # macOS: xcode-select --install"
        have python3 || problem "python3: not found (3.10 or newer, for labkit)" "sudo apt-get install -y python3 python3-venv   # macOS: brew install python"
    fi
fi

if ((${#problems[@]})); then
    {
        echo "cluster-up: missing prerequisites:"
        for p in "${problems[@]}"; do
            echo "  - $p"
        done
    } >&2
    exit "$EXIT_PREREQ"
fi

trap 'warn "failed: $BASH_COMMAND (line $LINENO)"' ERR

# -- istioctl, pinned -----------------------------------------------------------------------------
sha256_of() {
    local sum _
    if have sha256sum; then
        read -r sum _ < <(sha256sum "$1")
    else
        read -r sum _ < <(shasum -a 256 "$1")
    fi
    printf '%s' "$sum"
}

if $DOWNLOAD_ISTIOCTL; then
    asset="$(istioctl_asset)"
    tmp="$(mktemp -d)"
    log "downloading istioctl ${ISTIO_VERSION}: ${ISTIOCTL_URL}"
    curl -fsSL -o "$tmp/$asset" "$ISTIOCTL_URL"
    curl -fsSL -o "$tmp/$asset.sha256" "$ISTIOCTL_URL.sha256"
    read -r expected _ <"$tmp/$asset.sha256" || true # the file may lack a final newline
    actual="$(sha256_of "$tmp/$asset")"
    if [[ $actual != "$expected" ]]; then
        rm -rf "$tmp"
        warn "checksum mismatch for $asset: expected $expected, got $actual; nothing installed"
        exit "$EXIT_FAILED"
    fi
    tar -xzf "$tmp/$asset" -C "$tmp" istioctl
    mkdir -p "$(dirname "$local_istioctl")"
    mv "$tmp/istioctl" "$local_istioctl"
    chmod +x "$local_istioctl"
    rm -rf "$tmp"
    ISTIOCTL="$local_istioctl"
fi

# -- the cluster ----------------------------------------------------------------------------------
cluster_exists=false
while IFS= read -r name; do
    if [[ $name == "$CLUSTER_NAME" ]]; then cluster_exists=true; fi
done < <(kind get clusters 2>/dev/null || true)

if $cluster_exists; then
    log "reusing kind cluster ${CLUSTER_NAME}"
    node="${CLUSTER_NAME}-control-plane"
    # After a reboot Docker may not have restarted the node container.
    if [[ "$(docker inspect -f '{{.State.Running}}' "$node" 2>/dev/null || true)" != true ]]; then
        log "starting its node container ${node}"
        docker start "$node" >/dev/null
    fi
    kind export kubeconfig --name "$CLUSTER_NAME"
else
    log "creating kind cluster ${CLUSTER_NAME}"
    create=(kind create cluster --name "$CLUSTER_NAME" --config "$KIND_CONFIG" --wait 120s)
    if [[ -n ${KIND_NODE_IMAGE:-} ]]; then
        create+=(--image "$KIND_NODE_IMAGE")
    fi
    "${create[@]}"
fi
kubectl --context "$CONTEXT" wait --for=condition=Ready nodes --all --timeout="$WAIT"

# -- Gateway API CRDs -----------------------------------------------------------------------------
# As istio.io's Gateway API task does: install them only when missing, so a cluster's own stay.
if kubectl --context "$CONTEXT" get crd "$GATEWAY_API_CRD" >/dev/null 2>&1; then
    log "Gateway API CRDs are installed: keeping them"
else
    log "installing the Gateway API CRDs ${GATEWAY_API_VERSION} (experimental channel)"
    kubectl --context "$CONTEXT" apply --server-side -f "$GATEWAY_API_URL"
fi

# -- Istio ----------------------------------------------------------------------------------------
log "installing Istio ${ISTIO_VERSION} (egress gateway, access logs on stdout, ALLOW_ANY)"
"$ISTIOCTL" install -y --context "$CONTEXT" -f "$ISTIO_CONFIG"
kubectl --context "$CONTEXT" label namespace default istio-injection=enabled --overwrite
for deployment in istiod istio-egressgateway; do
    kubectl --context "$CONTEXT" -n "$ISTIO_NAMESPACE" rollout status "deployment/$deployment" --timeout="$WAIT"
done

# -- the labs' own check --------------------------------------------------------------------------
if $BUILD_VENV; then
    log "building .venv for labkit (make venv)"
    make -C "$REPO_DIR" venv
fi
log "labkit doctor --backend kube"
trap - ERR # the doctor's verdict is the result; its table already says what to fix
status=0
"$LABKIT_CMD" doctor --backend kube || status=$?
if ((status != 0)); then
    warn "the cluster is up, but labkit doctor found problems (see the fixes above)"
    exit "$EXIT_FAILED"
fi
log "ready: context ${CONTEXT}. Run the labs with: make labs BACKEND=kube"
