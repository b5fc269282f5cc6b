"""``liaison broker certs``: a private CA and the brokers' TLS certificates (broker/certs.py).

Two sites' brokers verify each other on the shovel link (docs/topology.md, "Two sites"): each
broker needs a server certificate for the names other sites connect to, and a client
certificate its shovels present. This writes them from one private CA, for a first deployment,
a test or ``docker compose``; production uses the organisation's own PKI (same file shapes).

Running it again is safe: the CA and every certificate that is still right (signed by this CA,
for the same names) are kept, so brokers that already use them need no restart.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from rich.console import Console

from broker.certs import Issued, issue, make_ca, write_issued
from broker.cli.output import emit, json_option
from broker.errors import ConfigError, InputError

CA_STEM = "ca"
# A DNS name or address (no wildcard); a file stem is the same without ':' (so no IPv6 stems).
_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.:-]{0,252})")
_STEM = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")


def _names(value: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in value.split(",") if part.strip())
    if not names:
        raise click.BadParameter(f"{value!r} names no host")
    for name in names:
        if not _NAME.fullmatch(name):
            raise click.BadParameter(f"{name!r} is not a host name or IP address")
    if not _STEM.fullmatch(names[0]):
        raise click.BadParameter(f"{names[0]!r} cannot be a file name; put a DNS name first")
    return names


def _load_ca(folder: Path) -> Issued | None:
    """The CA kept in ``folder``, None when there is none; an error for half of one."""
    cert_path, key_path = folder / f"{CA_STEM}.pem", folder / f"{CA_STEM}-key.pem"
    if not cert_path.exists() and not key_path.exists():
        return None
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = load_pem_private_key(key_path.read_bytes(), password=None)
    except OSError as exc:
        raise ConfigError(f"cannot read the CA in {folder}: {exc.strerror}") from None
    except ValueError:
        raise ConfigError(f"{folder}: ca.pem or ca-key.pem is not a PEM certificate/key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != cert.public_key():
        raise ConfigError(f"{folder}: ca-key.pem is not the key of ca.pem")
    return Issued(key, cert)


_SPKI = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _still_good(ca: Issued, cert_path: Path, key_path: Path, names: tuple[str, ...]) -> bool:
    """Whether the pair on disk was signed by ``ca`` for exactly ``names``."""
    if not (cert_path.is_file() and key_path.is_file()):
        return False
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        cert.verify_directly_issued_by(ca.cert)
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if key.public_key().public_bytes(*_SPKI) != cert.public_key().public_bytes(*_SPKI):
            return False  # an interrupted run left a certificate with another key
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
        return False
    held = {str(v) for v in sans.get_values_for_type(x509.IPAddress)}
    held |= set(sans.get_values_for_type(x509.DNSName))
    return held == set(names)


@click.command("certs")
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Writes DIR/ca.pem, DIR/ca-key.pem and DIR/<name>.pem, DIR/<name>-key.pem (keys 0600).",
)
@click.option(
    "--server",
    "servers",
    multiple=True,
    metavar="NAME[,NAME...]",
    help="A broker's server certificate, valid for every NAME (a cluster's nodes may share"
    " one); its files are named after the first NAME. Repeat for each broker.",
)
@click.option(
    "--client",
    "clients",
    multiple=True,
    metavar="NAME",
    help="A client certificate, e.g. the one a site's shovels present to the far site."
    " Repeat for each.",
)
@json_option
def certs_command(
    *, out: Path, servers: tuple[str, ...], clients: tuple[str, ...], as_json: bool
) -> None:
    """Make a private CA and the brokers' TLS certificates (ECDSA P-256).

    \b
      liaison broker certs --out tls/ --server kunming-1.example --server hanoi-1.example \\
          --client link-yunnan --client link-hanoi
    \b
    DIR/ca.pem, DIR/ca-key.pem   the CA (made on the first run, kept after); keep ca-key.pem
                                 off the brokers: only ca.pem goes to them
    DIR/<NAME>.pem, -key.pem     each certificate and its key (0600)

    A certificate already in DIR is kept when this CA signed it for the same names; delete
    it to make a new one. For production, use your organisation's PKI instead.
    """
    wanted: list[tuple[str, tuple[str, ...], bool]] = []
    for value in servers:
        names = _names(value)
        wanted.append((names[0], names, True))
    for value in clients:
        if not _STEM.fullmatch(value):
            raise InputError(f"--client {value!r}: letters, digits, . _ - only")
        wanted.append((value, (value,), False))
    stems = [stem for stem, _, _ in wanted]
    if CA_STEM in stems or len(set(stems)) != len(stems):
        raise InputError("each certificate needs its own name, and none may be called 'ca'")
    ca = _load_ca(out)
    ca_state = "kept"
    if ca is None:
        ca, ca_state = make_ca(), "new"
        write_issued(ca, out, CA_STEM)
    report: list[dict[str, Any]] = []
    for stem, names, server in wanted:
        cert_path, key_path = out / f"{stem}.pem", out / f"{stem}-key.pem"
        state = "kept"
        if not _still_good(ca, cert_path, key_path, names):
            issued = issue(ca, names[0], hosts=names, server=server, client=not server)
            write_issued(issued, out, stem)
            state = "new"
        report.append({"name": stem, "hosts": list(names), "server": server,
                       "cert": str(cert_path), "key": str(key_path), "state": state})  # fmt: skip
    data = {"ca": str(out / f"{CA_STEM}.pem"), "ca_state": ca_state, "certificates": report}

    def human(console: Console) -> None:
        console.print(f"CA {data['ca']} ({ca_state})")
        for row in report:
            role = "server" if row["server"] else "client"
            console.print(f"{role} {row['cert']} for {', '.join(row['hosts'])} ({row['state']})")

    emit(data, as_json=as_json, human=human)
