"""The simulated outside world: the hosts istio.io's egress tasks use, hosts a learner adds, and hosts
it doesn't have.

Sources, cited per test:
- [egress-control] istio.io, tasks/traffic-management/egress/egress-control (doc test snips.sh);
- [wildcard] istio.io, tasks/traffic-management/egress/wildcard-egress-hosts (doc test snips.sh);
- [tls-origination] istio.io, tasks/traffic-management/egress/egress-tls-origination;
- [curl] curl's man page: EXIT CODES (6: couldn't resolve host, 35: TLS handshake failed) and
  --http1.1 / --http2;
- [issue-10] this project's issue 10, "Unknown hosts" and "Your own hosts": what explain() says;
- [rfc5737] RFC 5737: 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 are for documentation.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from labkit import LabkitError
from labkit.lab import Lab
from labkit.paths import world_file
from labkit.sim.messages import Connection, Request
from labkit.sim.tls import ClientTls
from labkit.sim.world import World, WorldError

TITLE = re.compile(r"<title>.*</title>")  # grep -o "<title>.*</title>" [wildcard]


def settle(lab: Lab) -> None:
    lab.driver.sleep(2.0)  # past the simulator's one-second push delay


# -- the data file ----------------------------------------------------------------------------------


def test_the_world_is_a_data_file_under_labs() -> None:
    # [issue-10] "Simulated external hosts and their behaviour live in a data file under labs/"
    assert world_file().is_file() and world_file().parent.parent.name == "labs"
    assert World.from_file(world_file()).names() == World().names()


@pytest.mark.parametrize(
    "name",
    ["www.google.com", "edition.cnn.com", "httpbin.org", "en.wikipedia.org", "de.wikipedia.org", "www.wikipedia.org"],
)
def test_the_hosts_istio_egress_tasks_use_resolve(name: str) -> None:
    # [egress-control] www.google.com, edition.cnn.com, httpbin.org; [wildcard] *.wikipedia.org
    address = World().resolve(name)
    assert address is not None
    # [rfc5737] simulated hosts use documentation addresses only
    assert re.match(r"^(192\.0\.2|198\.51\.100|203\.0\.113)\.\d+$", address)


def test_the_lab_hosts_keep_their_addresses() -> None:
    # tests/sim/test_egress_gateway.py and test_tls_origination.py name 203.0.113.30 for edition.cnn.com
    world = World()
    assert (world.resolve("httpbin.org"), world.resolve("edition.cnn.com"), world.resolve("www.baidu.com")) == (
        "203.0.113.20",
        "203.0.113.30",
        "203.0.113.40",
    )


def test_a_bad_data_file_is_refused_naming_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "world.yaml"
    bad.write_text(
        "client_address: 198.51.100.7\nhosts:\n- name: a.example.com\n  address: 203.0.113.9\n"
        "  ports:\n  - {port: 80, behaviour: httpbin, colour: blue}\n"
    )
    # right or refused by name (project rules): an unknown field is named with its path
    with pytest.raises(WorldError, match=r"hosts\[0\]\.ports\[0\]\.colour: Extra inputs are not permitted"):
        World.from_file(bad)


# -- what the istio.io tasks see ---------------------------------------------------------------------


def test_google_answers_http2_200(lab: Lab) -> None:
    r = lab.curl("https://www.google.com", "-sSI")
    # [egress-control] `curl -sSI https://www.google.com | grep HTTP/` prints "HTTP/2 200"
    assert r.exit_code == 0
    assert [line for line in r.stdout.splitlines() if "HTTP/" in line] == ["HTTP/2 200 "]


def test_http1_1_is_used_when_curl_offers_only_that(lab: Lab) -> None:
    r = lab.curl("https://www.google.com", "-sSI", "--http1.1")
    # [curl] --http1.1: use HTTP/1.1 (no h2 in ALPN), so the server answers HTTP/1.1
    assert r.responses[0].http_version == "1.1"


def test_registry_only_blocks_google_at_the_sidecar_not_at_dns(lab: Lab) -> None:
    lab.set_outbound_policy("REGISTRY_ONLY")
    settle(lab)
    r = lab.curl("https://www.google.com", "-sI")
    # [egress-control] "command terminated with exit code 35" under REGISTRY_ONLY
    assert r.exit_code == 35
    text = str(r.explain())
    assert "www.google.com → 203.0.113.60" in text and "BlackHoleCluster" in text


@pytest.mark.parametrize(
    ("url", "title"),
    [
        ("https://en.wikipedia.org/wiki/Main_Page", "<title>Wikipedia, the free encyclopedia</title>"),
        ("https://de.wikipedia.org/wiki/Wikipedia:Hauptseite", "<title>Wikipedia – Die freie Enzyklopädie</title>"),
    ],
)
def test_wikipedia_pages_have_the_titles_the_wildcard_task_greps(lab: Lab, url: str, title: str) -> None:
    r = lab.curl(url, "-s")
    # [wildcard] snip_configure_direct_traffic_to_a_wildcard_host_2_out
    assert r.exit_code == 0
    assert TITLE.findall(r.stdout) == [title]


def test_wildcard_service_entry_lets_every_wikipedia_through(lab: Lab) -> None:
    lab.set_outbound_policy("REGISTRY_ONLY")
    se = "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: wikipedia\nspec:\n"
    se += '  hosts: ["*.wikipedia.org"]\n  ports:\n  - {number: 443, name: https, protocol: HTTPS}\n'
    lab.apply(se)
    settle(lab)
    # [wildcard] with the ServiceEntry for *.wikipedia.org both pages come back under REGISTRY_ONLY
    en = lab.curl("https://en.wikipedia.org/wiki/Main_Page", "-s")
    de = lab.curl("https://de.wikipedia.org/wiki/Wikipedia:Hauptseite", "-s")
    assert TITLE.findall(en.stdout + de.stdout) == [
        "<title>Wikipedia, the free encyclopedia</title>",
        "<title>Wikipedia – Die freie Enzyklopädie</title>",
    ]


def test_one_wikipedia_server_answers_every_language_by_name() -> None:
    world = World()
    server = world.at(world.resolve("www.wikipedia.org") or "")
    assert server is not None
    request = Request("GET", "de.wikipedia.org", "/wiki/Wikipedia:Hauptseite", (("Host", "de.wikipedia.org"),))
    conn = Connection("10.244.0.9", server.ip, 443, ClientTls(sni="de.wikipedia.org"), request)
    out = server.accept(conn)
    # [wildcard] "Wildcard configuration for a single hosting server": the gateway sends every
    # *.wikipedia.org request to www.wikipedia.org's address, and each language still gets its page
    assert out.reply is not None and "Die freie Enzyklopädie" in out.reply.body
    assert out.server_identity is not None and out.server_identity.covers("de.wikipedia.org")


def test_cnn_redirects_plain_http_to_https(lab: Lab) -> None:
    r = lab.curl("http://edition.cnn.com/politics", "-sSL", "-o", "/dev/null", "-D", "-")
    # [tls-origination] "HTTP/1.1 301 Moved Permanently ... location: https://edition.cnn.com/politics"
    # then "HTTP/2 200"
    assert [x.status for x in r.responses] == [301, 200]
    assert r.responses[0].header("location") == "https://edition.cnn.com/politics"


def test_tls_to_a_plain_port_fails_the_handshake(lab: Lab) -> None:
    lab.world.add_host("plain.example.com", ports=[8080])
    r = lab.curl("https://plain.example.com:8080/get", "-sS")
    # [curl] exit 35: the server answered the ClientHello in plain HTTP ("wrong version number")
    assert r.exit_code == 35 and "wrong version number" in r.stderr


# -- unknown hosts -----------------------------------------------------------------------------------


def test_an_unknown_host_fails_like_curl_and_explain_says_why(lab: Lab) -> None:
    r = lab.curl("https://example.org", "-sS")
    # [curl] exit 6 "Could not resolve host"
    assert (r.exit_code, r.stderr) == (6, "curl: (6) Could not resolve host: example.org\n")
    text = str(r.explain())
    # [issue-10] "example.org is not part of the simulated outside world (known: …); add it with …",
    # never an NXDOMAIN story
    assert "example.org is not part of the simulated outside world (known: de.wikipedia.org," in text
    assert "lab.world.add_host('example.org')" in text
    assert "NXDOMAIN" not in text


def test_a_missing_cluster_service_is_a_dns_answer(lab: Lab) -> None:
    r = lab.curl("http://no-such-svc.default.svc.cluster.local/", "-sS")
    # [curl] exit 6; kube-dns answers for the cluster domain, so this one really has no such name
    assert r.exit_code == 6
    assert "kube-dns has no Service by that name" in str(r.explain())


# -- your own hosts ----------------------------------------------------------------------------------


def test_an_added_host_resolves_and_answers(lab: Lab) -> None:
    lab.world.add_host("api.example.com")
    r = lab.curl("https://api.example.com/get?x=1", "-sS")
    # [issue-10] "a learner can add one ... for their own experiments"; it answers as httpbin does
    assert r.exit_code == 0 and r.status == 200
    assert '"url": "https://api.example.com/get?x=1"' in r.body
    assert "api.example.com" in lab.world.names()


def test_an_added_static_page(lab: Lab) -> None:
    lab.world.add_host(
        "shop.example.com", "static-page", settings={"status": 203, "headers": {"x-shop": "1"}, "body": "hi\n"}
    )
    r = lab.curl("http://shop.example.com/anything", "-sS", "-i")
    assert (r.status, r.body, r.responses[0].header("x-shop")) == (203, "hi\n", "1")


def test_add_hosts_takes_data_file_entries() -> None:
    world = World()
    (host,) = world.add_hosts(
        [
            {
                "name": "legacy.example.com",
                "ports": [
                    {"port": 80, "behaviour": "redirect-to-https"},
                    {"port": 443, "tls": True, "behaviour": "httpbin"},
                ],
            }
        ]
    )
    reply = world.answer("legacy.example.com", 80, False, Request("GET", "legacy.example.com", "/x", ()))
    assert (reply.status, reply.header("location")) == (301, "https://legacy.example.com/x")
    assert host.ip.startswith("203.0.113.")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "api example.com"}, "not a host name"),
        ({"name": "*.example.com"}, "not a host name"),
        ({"name": "foo.default.svc.cluster.local"}, "cluster name"),
        ({"name": "httpbin.org"}, "already part of the simulated outside world"),
        ({"name": "new.example.com", "behaviour": "echo"}, "unknown behaviour 'echo'"),
        ({"name": "new.example.com", "behaviour": "static-page", "settings": {"stauts": 200}}, "stauts"),
        ({"name": "new.example.com", "address": "8.8.8.8"}, "outside the documentation ranges"),
        ({"name": "new.example.com", "address": "203.0.113.20"}, "already httpbin.org's address"),
        ({"name": "new.example.com", "address": "198.51.100.7"}, "cluster's own public address"),
        ({"name": "new.example.com", "ports": [80], "http2": True}, "http2"),
        ({"name": "new.example.com", "ports": [80], "tls_ports": [443]}, "tls_ports"),
        ({"name": "new.example.com", "ports": [0]}, "greater than or equal to 1"),
        ({"name": "new.example.com", "latency": -1}, "latency"),
        ({"name": "new.example.com", "settings": {"x": 1}}, "x: Extra inputs are not permitted"),
        (
            {"name": "new.example.com", "behaviour": "static-page", "settings": {"headers": {"Content-Length": "9"}}},
            "Content-Length: computed from the body",
        ),
        (
            {"name": "new.example.com", "behaviour": "redirect-to-https", "settings": {"headers": {"Location": "/"}}},
            "Location: set by the redirect itself",
        ),
        (
            {"name": "new.example.com", "behaviour": "site", "settings": {"pages": [{"path": "/"}, {"path": "/"}]}},
            "two pages for any host /",
        ),
        (
            {"name": "new.example.com", "behaviour": "site", "settings": {"pages": [{"host": "x.org", "path": "/"}]}},
            "x.org is not one of this server's names",
        ),
    ],
)
def test_bad_hosts_are_refused_and_change_nothing(kwargs: dict, message: str) -> None:
    world = World()
    before = (world.names(), [h.model_dump() for h in world.hosts])
    # right or refused by name (project rules): a clear error, and the world is as it was
    with pytest.raises(WorldError, match=re.escape(message)):
        world.add_host(**kwargs)
    assert (world.names(), [h.model_dump() for h in world.hosts]) == before


def test_add_hosts_is_all_or_nothing() -> None:
    world = World()
    good = {"name": "one.example.com", "ports": [{"port": 80, "behaviour": "httpbin"}]}
    bad = {"name": "two.example.com", "ports": [{"port": 80, "behaviour": "httpbin", "with": {"x": 1}}]}
    with pytest.raises(WorldError, match=r"host 2 \(two.example.com\)"):
        world.add_hosts([good, bad])
    assert world.resolve("one.example.com") is None


def test_only_added_hosts_can_be_removed() -> None:
    world = World()
    world.add_host("gone.example.com")
    world.remove_host("gone.example.com")
    assert world.resolve("gone.example.com") is None
    with pytest.raises(WorldError, match=r"comes from labs/common/world\.yaml"):
        world.remove_host("httpbin.org")


def test_the_world_is_not_on_a_cluster() -> None:
    class ClusterDriver:
        name = "kube"
        simulated = False

    lab = Lab(ClusterDriver())  # type: ignore[arg-type]
    # [issue-10] your own hosts are an offline feature; a cluster reaches the real internet
    with pytest.raises(LabkitError, match="the outside world is real on a cluster"):
        _ = lab.world


# -- the call a real server makes ---------------------------------------------------------------------


def test_answer_refuses_a_port_or_tls_the_host_does_not_have() -> None:
    world = World()
    request = Request("GET", "www.google.com", "/", (("Host", "www.google.com"),))
    assert world.answer("www.google.com", 443, True, request).status == 200
    with pytest.raises(WorldError, match="does not listen on port 8443"):
        world.answer("www.google.com", 8443, True, request)
    with pytest.raises(WorldError, match="speaks TLS"):
        world.answer("www.google.com", 443, False, request)
    with pytest.raises(WorldError, match="not part of the simulated outside world"):
        world.answer("example.org", 80, False, request)
