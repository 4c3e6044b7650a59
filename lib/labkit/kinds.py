"""Whether an API serves a kind, and the error when it does not.

Reading an object of a kind the API does not serve must not look like "the object is not there":
``lab.get("ServiceEntri", "x")`` would otherwise return None, the same as a missing ServiceEntry.
The messages follow kubectl's for a kind the server does not have (``the server doesn't have a
resource type ...``).
"""

from __future__ import annotations

from collections.abc import Iterable

from .errors import UnknownKind, did_you_mean

#: How a learner lists what a cluster serves.
CLUSTER_LISTING = "`kubectl api-resources` lists the kinds the cluster serves"


def unknown_kind(api_version: str, kind: str, served: Iterable[tuple[str, str]], listing: str) -> UnknownKind:
    """The error for ``kind`` at ``api_version`` when the API serves only ``served`` (apiVersion, kind) pairs.

    A kind served at another apiVersion says which one to pass; any other kind gets the closest served
    kind and ``listing``, the way to list them.
    """
    pairs = list(served)
    versions = sorted({av for av, k in pairs if k == kind})
    group, _, version = api_version.rpartition("/")
    where = f' in group "{group}" and version "{version}"' if group else f' in version "{version}"'
    message = f'the server doesn\'t have a resource type "{kind}"{where}'
    if versions:
        return UnknownKind(
            message,
            hint=f"{kind} is served as {' or '.join(versions)}: pass api_version={versions[0]!r}",
        )
    kinds = sorted({k for _, k in pairs})
    return UnknownKind(message, hint=did_you_mean(kind, kinds, listing))


def simulator_serves(api_version: str, kind: str) -> bool:
    """Whether the simulated API server stores ``kind`` at ``api_version``: what its validation accepts."""
    from .schema import core, gatewayapi, istio

    group = api_version.rpartition("/")[0]
    if group == istio.GROUP:
        return kind in istio.MODELS and api_version in istio.API_VERSIONS
    if group == gatewayapi.GROUP:
        return kind in gatewayapi.MODELS and api_version in gatewayapi.API_VERSIONS[kind]
    return core.knows(api_version, kind)


def simulator_kinds() -> list[tuple[str, str]]:
    """Every (apiVersion, kind) the simulated API server stores."""
    from .schema import core, gatewayapi, istio

    pairs = [(av, kind) for kind in istio.MODELS for av in istio.API_VERSIONS]
    pairs += [(av, kind) for kind in gatewayapi.MODELS for av in gatewayapi.API_VERSIONS[kind]]
    return pairs + list(core.built_in_kinds())


def check_simulated(api_version: str, kind: str) -> None:
    """Raise UnknownKind unless the simulated API server stores ``kind`` at ``api_version``."""
    if not simulator_serves(api_version, kind):
        listing = "the simulator serves the Kubernetes built-in kinds, Istio's networking kinds and the Gateway API's"
        raise unknown_kind(api_version, kind, simulator_kinds(), listing)
