"""The sites file: how each site's broker is reached by the others, over TLS. Pure.

A site (a directory office's ``routing.site``) runs one broker (or cluster). Its shovels connect
to the other sites' AMQPS listeners with a client certificate, and verify theirs::

    [sites.yunnan]
    host = "kunming-1.liaison.example"     # where other sites' shovels connect (AMQPS)
    port = 5671                            # default 5671
    server_name = "kunming-1.liaison.example"   # the name its certificate holds; default host
    vhost = "liaison"                      # default "liaison"
    # Files on THIS site's broker host, used by its shovels when they connect out:
    ca_file = "/etc/rabbitmq/tls/ca.pem"   # CA that must have signed the far site's certificate
    cert_file = "/etc/rabbitmq/tls/link.pem"
    key_file = "/etc/rabbitmq/tls/link-key.pem"
    reconnect_delay = 5                    # seconds between a shovel's reconnect attempts

Every site of a deployment can share one file: each site reads its own TLS files and the other
sites' addresses from it.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from typing import Any

from broker.errors import InputError

DEFAULT_AMQPS_PORT = 5671
DEFAULT_SITE_VHOST = "liaison"
DEFAULT_RECONNECT_DELAY = 5
MAX_SITES_BYTES = 1 << 20
# As a directory's routing.site (broker.directory.vocabulary.ROUTING_NAME).
SITE_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
# Host names and file paths go into a shovel URI unencoded: allow only what needs no encoding.
_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,252})")
_PATH = re.compile(r"/[A-Za-z0-9/._-]{1,1000}")
_VHOST = re.compile(r"[A-Za-z0-9._-]{1,255}")
_FIELDS = {
    "host": str,
    "port": int,
    "server_name": str,
    "vhost": str,
    "ca_file": str,
    "cert_file": str,
    "key_file": str,
    "reconnect_delay": int,
}
_REQUIRED = ("host", "ca_file", "cert_file", "key_file")


@dataclass(frozen=True, slots=True)
class Site:
    """One site's broker as the other sites reach it, and its own shovels' TLS files."""

    name: str
    host: str
    ca_file: str
    cert_file: str
    key_file: str
    port: int = DEFAULT_AMQPS_PORT
    server_name: str = ""
    vhost: str = DEFAULT_SITE_VHOST
    reconnect_delay: int = DEFAULT_RECONNECT_DELAY

    @property
    def tls_name(self) -> str:
        """The host name its certificate must hold (SNI and hostname check)."""
        return self.server_name or self.host


def check_site_name(name: str, *, field: str = "site") -> str:
    if not isinstance(name, str) or not SITE_NAME.fullmatch(name):
        raise InputError(f"{field}: {name!r} is not a site name (a-z, 0-9, . _ -)")
    return name


def parse_sites(data: bytes, *, name: str = "sites file") -> dict[str, Site]:
    """The sites of a TOML sites file, by name."""
    if len(data) > MAX_SITES_BYTES:
        raise InputError(f"{name}: larger than {MAX_SITES_BYTES} bytes; not a sites file")
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise InputError(f"{name}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{name}: not valid TOML ({exc})") from None
    return sites_from_document(document, name=name)


def sites_from_document(document: Any, *, name: str = "sites file") -> dict[str, Site]:
    if not isinstance(document, dict) or set(document) != {"sites"}:
        raise InputError(f"{name}: must hold exactly one table, 'sites'")
    tables = document["sites"]
    if not isinstance(tables, dict) or not tables:
        raise InputError(f"{name}: 'sites' must hold at least one [sites.NAME] table")
    return {
        site: _site(site, entry, f"{name}: sites.{site}") for site, entry in sorted(tables.items())
    }


def _site(site: str, entry: Any, where: str) -> Site:
    check_site_name(site, field=where)
    if not isinstance(entry, dict):
        raise InputError(f"{where}: must be a table")
    unknown = sorted(set(entry) - set(_FIELDS))
    if unknown:
        raise InputError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(_FIELDS)})")
    for key in _REQUIRED:
        if key not in entry:
            raise InputError(f"{where}.{key}: missing")
    for key, value in entry.items():
        if isinstance(value, bool) or not isinstance(value, _FIELDS[key]):
            kind = "string" if _FIELDS[key] is str else "whole number"
            raise InputError(f"{where}.{key}: must be a {kind}")
    _check_values(entry, where)
    return Site(name=site, **entry)


def _check_values(entry: dict[str, Any], where: str) -> None:
    for key in ("host", "server_name"):
        if key in entry and not _HOST.fullmatch(entry[key]):
            raise InputError(f"{where}.{key}: {entry[key]!r} is not a host name or IP address")
    for key in ("ca_file", "cert_file", "key_file"):
        if not _PATH.fullmatch(entry[key]):
            raise InputError(
                f"{where}.{key}: must be an absolute path of letters, digits, / . _ -"
                " (it is written into the shovel's URI)"
            )
    if "vhost" in entry and not _VHOST.fullmatch(entry["vhost"]):
        raise InputError(f"{where}.vhost: letters, digits, . _ - only")
    if not 1 <= entry.get("port", DEFAULT_AMQPS_PORT) <= 65535:
        raise InputError(f"{where}.port: must be between 1 and 65535")
    if not 1 <= entry.get("reconnect_delay", DEFAULT_RECONNECT_DELAY) <= 3600:
        raise InputError(f"{where}.reconnect_delay: must be between 1 and 3600 seconds")
