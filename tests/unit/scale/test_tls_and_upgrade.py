"""The development certificate and the WebSocket handshake headers (pure logic, no processes)."""
from __future__ import annotations

import ipaddress
import ssl

from cryptography import x509
from mitmproxy.http import Headers
from typer.testing import CliRunner

from proxy.addons import headers as hdr
from strangler.cli.app import app
from strangler.cli.tls import make_selfsigned


def test_selfsigned_pair_names_its_hosts_and_loads_as_a_trust_anchor(tmp_path):
    cert_pem, key_pem = make_selfsigned(["127.0.0.1", "facade.local"], days=3)
    cert = x509.load_pem_x509_certificate(cert_pem)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert san.get_values_for_type(x509.DNSName) == ["facade.local"]
    (tmp_path / "c.pem").write_bytes(cert_pem)
    (tmp_path / "k.pem").write_bytes(key_pem)
    ssl.create_default_context(cafile=str(tmp_path / "c.pem"))
    ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")


def test_cli_writes_a_private_key_and_refuses_to_overwrite(tmp_path):
    import strangler.cli.tls  # noqa: F401

    runner = CliRunner()
    r = runner.invoke(app, ["tls", "selfsigned", "--out", str(tmp_path / "tls")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "tls" / "key.pem").stat().st_mode & 0o077 == 0
    r = runner.invoke(app, ["tls", "selfsigned", "--out", str(tmp_path / "tls")])
    assert r.exit_code == 1 and "--force" in r.output


def test_websocket_handshake_keeps_upgrade_and_connection_other_hop_by_hop_go():
    h = Headers(host="x", upgrade="websocket", connection="Upgrade, keep-alive, x-secret", x_secret="1",
                sec_websocket_key="abc")
    hdr.rewrite_request(h, "rid-12345678", "127.0.0.1", "http", "127.0.0.1:9")
    assert h["upgrade"] == "websocket" and h["connection"] == "Upgrade"
    assert "x-secret" not in h and h["sec-websocket-key"] == "abc"
    plain = Headers(host="x", upgrade="h2c", connection="Upgrade")
    hdr.rewrite_request(plain, "rid-12345678", "127.0.0.1", "http", "127.0.0.1:9")
    assert "upgrade" not in plain and "connection" not in plain
    resp = Headers(upgrade="websocket", connection="upgrade", sec_websocket_accept="z")
    hdr.rewrite_response(resp, "rid-12345678", "svc", "f", True)
    assert resp["upgrade"] == "websocket" and resp["x-served-by"] == "svc"
