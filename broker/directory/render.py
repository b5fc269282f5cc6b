"""Directory content back to TOML source: the inverse of ``source.compile_source``. Pure.

Used to recover an editable source from a signed directory (``liaison directory show
--source``) and by the generators of the example directory and the test vectors.
``compile_source(render_source(content)) == content`` for every valid content.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from broker.directory.model import Agreement, DirectoryContent, Office, OfficeKey
from broker.directory.source import SOURCE_FORMAT
from broker.directory.vocabulary import KeyUse, enquiry_type_name, priority_name

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def render_source(content: DirectoryContent, *, header: Sequence[str] = ()) -> str:
    """The TOML source of ``content``; ``header`` lines become comments at the top."""
    lines = [f"# {line}".rstrip() for line in header]
    lines += [
        f"format = {_string(SOURCE_FORMAT)}",
        f"version = {content.version}",
        f"issuer = {_string(content.issuer)}",
        f"issued_at = {_time(content.issued_at)}",
        f"expires_at = {_time(content.expires_at)}",
        f"encryption_key_grace_days = {_days(content.encryption_key_grace)}",
        f"max_rotation_overlap_days = {_days(content.max_rotation_overlap)}",
        "",
        "[root]",
        f"threshold = {content.root.threshold}",
    ]
    for admin in content.root.keys:
        lines += [
            "",
            "[[root.keys]]",
            f"name = {_string(admin.name)}",
            f"key_id = {_string(admin.fingerprint)}",
            f"public_key = {_string(_b64(admin.public_key))}",
        ]
    for office in content.offices:
        lines += _office(office)
    for agreement in content.agreements:
        lines += _agreement(agreement)
    return "\n".join(lines) + "\n"


def _office(office: Office) -> list[str]:
    settings = _inline((name, _string(value)) for name, value in office.adapter.settings)
    lines = [
        "",
        "[[offices]]",
        f"id = {_string(office.id)}",
        f"names = {_inline((language, _string(name)) for language, name in office.names)}",
        f"country = {_string(office.country)}",
        f"time_zone = {_string(office.time_zone)}",
        f"languages = {_strings(office.languages)}",
        f"suite = {_string(office.suite.value)}",
        f"adapter = {{ name = {_string(office.adapter.name)}, settings = {settings} }}",
        (
            f"routing = {{ site = {_string(office.routing.site)},"
            f" broker = {_string(office.routing.broker)} }}"
        ),
        f"urgent_contact = {_string(office.urgent_contact)}",
    ]
    for use in KeyUse:
        for key in office.keys_of(use):
            lines += _key(use, key)
    return lines


def _key(use: KeyUse, key: OfficeKey) -> list[str]:
    lines = [
        "",
        f"[[offices.keys.{use.label}]]",
        f"key_id = {_string(key.fingerprint)}",
        f"public_key = {_string(_b64(key.public_key))}",
        f"not_before = {_time(key.not_before)}",
        f"not_after = {_time(key.not_after)}",
    ]
    if key.revocation is not None:
        lines += [
            f"revoked_at = {_time(key.revocation.revoked_at)}",
            f"revocation_reason = {_string(key.revocation.reason.value)}",
        ]
    return lines


def _agreement(agreement: Agreement) -> list[str]:
    lines = [
        "",
        "[[agreements]]",
        f"id = {_string(agreement.id)}",
        f"title = {_string(agreement.title)}",
        f"parties = {_strings(agreement.parties)}",
        f"enquiry_types = {_strings(enquiry_type_name(t) for t in agreement.enquiry_types)}",
        f"handling_codes = {_strings(h.name for h in agreement.handling_codes)}",
        f"max_priority = {_string(priority_name(agreement.max_priority))}",
        f"attachments_allowed = {'true' if agreement.attachments_allowed else 'false'}",
        f"data_categories = {_strings(c.value for c in agreement.data_categories)}",
        f"valid_from = {_time(agreement.valid_from)}",
    ]
    if agreement.valid_until is not None:
        lines.append(f"valid_until = {_time(agreement.valid_until)}")
    return lines


def _string(value: str) -> str:
    # A JSON string is a TOML basic string, except that TOML wants DEL escaped too.
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007F")


def _strings(values: Iterable[str]) -> str:
    return "[" + ", ".join(_string(value) for value in values) + "]"


def _inline(pairs: Iterable[tuple[str, str]]) -> str:
    items = [f"{_key_name(name)} = {value}" for name, value in pairs]
    return "{ " + ", ".join(items) + " }" if items else "{}"


def _key_name(name: str) -> str:
    return name if _BARE_KEY.fullmatch(name) else _string(name)


def _time(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _days(period: timedelta) -> str:
    seconds = int(period.total_seconds())
    return str(seconds // 86_400) if seconds % 86_400 == 0 else repr(seconds / 86_400)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
