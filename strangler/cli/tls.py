"""`strangler tls selfsigned`: a local certificate + key for trying the façade over https in development.

Production uses the operator's own certificate (any PEM pair): pass it to the façade with
`--set strangler_tls_cert=cert.pem --set strangler_tls_key=key.pem`. The self-signed pair is its own trust
anchor: clients trust exactly this certificate (curl --cacert, httpx verify=), never a whole CA.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
from pathlib import Path
from typing import Annotated

import typer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from strangler.cli.app import app
from strangler.cli.output import FAILED, fail

tls_app = typer.Typer(help="TLS helpers for the façade (a self-signed development certificate).",
                      no_args_is_help=True)
app.add_typer(tls_app, name="tls")


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def make_selfsigned(hosts: list[str], days: int = 30) -> tuple[bytes, bytes]:
    """(certificate PEM, private key PEM) valid for `hosts` (IP addresses or DNS names) for `days`."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0]),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "strangler development")])
    now = dt.datetime.now(dt.UTC)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([_san(h) for h in hosts]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False, content_commitment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(ski, critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


@tls_app.command("selfsigned")
def selfsigned(out: Annotated[Path, typer.Option("--out", help="Directory for cert.pem and key.pem.")],
               host: Annotated[list[str] | None, typer.Option(
                   "--host", help="Name or IP the certificate is for (repeatable).")] = None,
               days: Annotated[int, typer.Option("--days", min=1, max=825, help="Validity in days.")] = 30,
               force: Annotated[bool, typer.Option("--force", help="Overwrite an existing pair.")] = False,
               as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """Write a self-signed certificate + key (development only) and show how to give them to the façade."""
    hosts = host or ["127.0.0.1", "localhost"]
    cert_path, key_path = out / "cert.pem", out / "key.pem"
    if not force and (cert_path.exists() or key_path.exists()):
        raise fail(f"{cert_path} or {key_path} exists. Fix: pass --force to replace them, or another --out", FAILED)
    cert_pem, key_pem = make_selfsigned(hosts, days)
    out.mkdir(parents=True, exist_ok=True)
    cert_path.write_bytes(cert_pem)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # the key is never world-readable
    with os.fdopen(fd, "wb") as fh:
        fh.write(key_pem)
    if as_json:
        typer.echo(json.dumps({"cert": str(cert_path), "key": str(key_path), "hosts": hosts, "days": days}))
        return
    typer.echo(f"wrote {cert_path} and {key_path} for {', '.join(hosts)} (valid {days} days, development only)\n"
               f"façade: --set strangler_tls_cert={cert_path} --set strangler_tls_key={key_path}\n"
               f"client: curl --cacert {cert_path} https://{hosts[0]}:8080/...")
