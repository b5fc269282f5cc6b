"""TLS and locality for the HTTP transports: verifying contexts for both ends, and whether a
host is this machine (case content may cross the loopback interface in clear, nothing else).

Files that cannot be loaded are ConfigErrors naming the file (and OpenSSL's reason), never
the contents. Keys must not be encrypted: an empty password is passed, so an encrypted key
fails here instead of prompting on a terminal.
"""

from __future__ import annotations

import ipaddress
import ssl
from pathlib import Path

from broker.errors import ConfigError


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address, IPv6 with or without brackets) is this machine."""
    host = host.strip("[]").lower()
    if host == "localhost":  # not "*.localhost": that goes through the resolver
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def client_tls_context(
    ca_file: Path | None, cert_file: Path | None, key_file: Path | None
) -> ssl.SSLContext:
    """A verifying client context: system trust store, or ``ca_file`` alone; an optional
    client certificate. ConfigError naming the file that cannot be loaded."""
    if key_file is not None and cert_file is None:
        raise ConfigError("handover: a client key_file needs its cert_file")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies and checks the host name
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        if ca_file is None:
            context.load_default_certs(ssl.Purpose.SERVER_AUTH)
        else:
            context.load_verify_locations(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        where = ca_file or "the system's trust store"
        raise ConfigError(
            f"handover: cannot load CA certificates from {where}: {describe(exc)}"
        ) from None
    if cert_file is not None:
        try:
            context.load_cert_chain(cert_file, key_file, password=b"")
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"handover: cannot load client certificate {cert_file} / key {key_file}: "
                f"{describe(exc)}"
            ) from None
    return context


def server_tls_context(
    cert_file: Path, key_file: Path | None, client_ca_file: Path | None
) -> ssl.SSLContext:
    """TLS for the endpoint; with ``client_ca_file``, a client certificate from that CA is
    required. ConfigError naming the file that cannot be loaded."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert_file, key_file, password=b"")
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"partner_api: cannot load certificate {cert_file} / key {key_file}: {describe(exc)}"
        ) from None
    if client_ca_file is not None:
        try:
            context.load_verify_locations(cafile=client_ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"partner_api: cannot load client CA {client_ca_file}: {describe(exc)}"
            ) from None
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def describe(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError):
        return exc.reason or type(exc).__name__
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return type(exc).__name__


__all__ = ["client_tls_context", "describe", "is_loopback", "server_tls_context"]
