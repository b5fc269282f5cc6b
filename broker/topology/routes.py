"""The routes file: which offices a broker serves and whom each may address. Pure.

Until the signed directory feeds ``build_definitions`` directly, an operator writes this by hand,
in TOML or JSON (the same shape)::

    [offices.CN-YN-BLO-HK]
    partners = ["VN-BCA-C02", "LA-MPS-VTE"]

    [offices.VN-BCA-C02]
    partners = ["CN-YN-BLO-HK"]
"""

from __future__ import annotations

import json
import tomllib
from typing import Any

from broker.errors import InputError, InvalidMessage
from broker.topology.definitions import OfficeRoute

MAX_ROUTES_BYTES = 1 << 20


def parse_routes(data: bytes, *, name: str = "routes file") -> tuple[OfficeRoute, ...]:
    """The routes in ``data`` (JSON if it starts with ``{``, else TOML), sorted by office id."""
    if len(data) > MAX_ROUTES_BYTES:
        raise InputError(f"{name}: larger than {MAX_ROUTES_BYTES} bytes; not a routes file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{name}: not UTF-8 text") from None
    document: Any
    if text.lstrip().startswith("{"):
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{name}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    else:
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"{name}: not valid TOML ({exc})") from None
    return routes_from_document(document, name=name)


def routes_from_document(document: Any, *, name: str = "routes file") -> tuple[OfficeRoute, ...]:
    """The routes of an already parsed ``{"offices": {ID: {"partners": [...]}}}`` document."""
    if not isinstance(document, dict) or set(document) != {"offices"}:
        raise InputError(f"{name}: must hold exactly one table, 'offices'")
    offices = document["offices"]
    if not isinstance(offices, dict) or not offices:
        raise InputError(f"{name}: 'offices' must map at least one office id to its partners")
    routes = []
    for office_id, entry in sorted(offices.items()):
        where = f"{name}: offices.{office_id}"
        if not isinstance(entry, dict) or set(entry) != {"partners"}:
            raise InputError(f"{where}: must hold exactly one key, 'partners'")
        partners = entry["partners"]
        if not isinstance(partners, list) or not all(isinstance(p, str) for p in partners):
            raise InputError(f"{where}.partners: must be a list of office ids")
        if len(set(partners)) != len(partners):
            raise InputError(f"{where}.partners: lists an office twice")
        try:
            routes.append(OfficeRoute(office_id, frozenset(partners)))
        except InvalidMessage as exc:
            raise InputError(f"{where}: {exc.diagnosis}") from None
    return tuple(routes)
