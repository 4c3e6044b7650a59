"""labkit.nginxconf: the Lab 05 template renders completely, and bad input is refused with a clear message."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from labkit.nginxconf import NginxConfError, default_template, parameters, pod_params, render_nginx_conf
from labkit.paths import LABS

LAB_05_TEMPLATE = LABS / "05-egress-gateway-tls-origination" / "nginx.conf"

EXPECTED = {
    "listen_address",
    "listen_port",
    "server_name",
    "server_cert",
    "server_key",
    "ca_cert",
    "pid_path",
    "error_log_path",
    "access_log_path",
    "temp_dir",
}


def local_params(tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "listen_address": "127.0.0.1",
        "listen_port": 8443,
        "server_name": "nginx.example.com",
        "server_cert": tmp_path / "server.crt",
        "server_key": tmp_path / "server.key",
        "ca_cert": tmp_path / "ca.crt",
        "pid_path": tmp_path / "nginx.pid",
        "error_log_path": tmp_path / "error.log",
        "access_log_path": tmp_path / "access.log",
        "temp_dir": tmp_path / "tmp",
    }
    params.update(overrides)
    return params


def test_template_lives_with_lab_05() -> None:
    # The library names no lab: the one nginx.conf under labs/ is lab 05's.
    assert default_template() == LAB_05_TEMPLATE
    assert set(parameters()) == EXPECTED
    assert set(parameters(template=LAB_05_TEMPLATE)) == EXPECTED


def test_a_lab_passes_its_own_template(tmp_path: Path) -> None:
    own = tmp_path / "nginx.conf"
    own.write_text("events {}\nhttp { server { listen ${listen_address}:${listen_port}; } }\n")
    text = render_nginx_conf(template=own, listen_address="127.0.0.1", listen_port=9443)
    assert "listen 127.0.0.1:9443;" in text


def test_without_a_template_two_candidates_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "99-other").mkdir()
    (tmp_path / "99-other" / "nginx.conf").write_text("events {}\n")
    monkeypatch.setenv("LABKIT_LABS_DIR", str(tmp_path))
    with pytest.raises(NginxConfError, match=r"cannot tell which nginx\.conf") as info:
        render_nginx_conf(**pod_params())
    assert "template=" in (info.value.hint or "")


def test_render_fills_every_placeholder(tmp_path: Path) -> None:
    text = render_nginx_conf(**local_params(tmp_path))
    assert "${" not in text
    assert "listen 127.0.0.1:8443 ssl;" in text
    assert "ssl_verify_client on;" in text
    assert f'ssl_client_certificate "{tmp_path / "ca.crt"}";' in text
    assert f'ssl_certificate_key "{tmp_path / "server.key"}";' in text
    assert f'pid "{tmp_path / "nginx.pid"}";' in text
    assert f'client_body_temp_path "{tmp_path / "tmp"}/client_body";' in text
    assert "Welcome to nginx!" in text
    assert re.search(r"location / \{[^}]*return 200 ", text)


def test_pod_params_render_for_the_cluster() -> None:
    text = render_nginx_conf(**pod_params())
    assert "listen 0.0.0.0:443 ssl;" in text
    assert 'ssl_certificate "/etc/nginx-server-certs/tls.crt";' in text
    assert 'ssl_client_certificate "/etc/nginx-ca-certs/ca.crt";' in text
    assert 'error_log "stderr" info;' in text
    assert "server_name nginx.example.com;" in render_nginx_conf(**pod_params(server_name="nginx.example.com"))


def test_missing_parameters_are_named(tmp_path: Path) -> None:
    params = local_params(tmp_path)
    del params["ca_cert"], params["listen_port"]
    with pytest.raises(NginxConfError) as info:
        render_nginx_conf(**params)
    message = str(info.value)
    assert "missing parameters: listen_port, ca_cert" in message
    assert "the template needs:" in message and "pod_params()" in message


def test_unknown_parameter_is_refused(tmp_path: Path) -> None:
    with pytest.raises(NginxConfError, match="unknown parameter: ca_crt"):
        render_nginx_conf(**local_params(tmp_path, ca_crt="/x"))


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("listen_port", 0, "listen_port must be a port number"),
        ("listen_port", "443; user root", "listen_port must be a port number"),
        ("listen_port", True, "listen_port must be a port number"),
        ("server_cert", '/tmp/a".crt', "contains a quote"),
        ("server_key", "/tmp/$secret.key", "contains a quote"),
        ("temp_dir", "", "must be a file path"),
        ("listen_address", "127.0.0.1; ssl", "is not an address"),
        ("server_name", "a.example.com;\n", "host names separated"),
    ],
)
def test_values_that_would_break_the_config_are_refused(tmp_path: Path, name: str, value: Any, message: str) -> None:
    with pytest.raises(NginxConfError, match=message):
        render_nginx_conf(**local_params(tmp_path, **{name: value}))


def test_port_may_be_a_digit_string(tmp_path: Path) -> None:
    assert "listen 127.0.0.1:9443 ssl;" in render_nginx_conf(**local_params(tmp_path, listen_port="9443"))
