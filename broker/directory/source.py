"""Compile the administrators' TOML source into directory content (docs/directory.md, "Source").

Strict: unknown fields, missing or mistyped values, bad ids and codes, duplicate offices,
overlapping key windows and agreements naming unknown offices are all reported, each with its
path (``offices[3].keys.signing[0].not_after``), in one :class:`~broker.errors.ConfigError`.
Pure: the caller reads the file.
"""

from __future__ import annotations

import base64
import binascii
import string
import tomllib
from collections.abc import Collection, Mapping
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from broker.directory.checks import content_problems
from broker.directory.model import (
    Adapter,
    AdminKey,
    Agreement,
    DirectoryContent,
    Office,
    OfficeKey,
    Revocation,
    Root,
    Routing,
    normalized,
)
from broker.directory.vocabulary import (
    ENQUIRY_TYPES,
    HANDLING_CODES,
    PRIORITIES,
    DataCategory,
    KeyUse,
    RevocationReason,
)
from broker.envelope.suite import Suite
from broker.errors import ConfigError, ConfigProblem
from broker.keys.model import KEY_ID_LEN, KeyAlg, key_id

SOURCE_FORMAT = "liaison-directory-source-v1"
MAX_SOURCE_BYTES = 16 * 1024 * 1024
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # stands in for a missing time; never compiled

T = TypeVar("T")

TOP_FIELDS = frozenset(
    {
        "format", "version", "issuer", "issued_at", "expires_at", "encryption_key_grace_days",
        "max_rotation_overlap_days", "root", "offices", "agreements",
    }
)  # fmt: skip
OFFICE_FIELDS = frozenset(
    {
        "id", "names", "country", "time_zone", "languages", "suite", "adapter", "routing",
        "urgent_contact", "keys",
    }
)  # fmt: skip
KEY_FIELDS = frozenset(
    {"public_key", "key_id", "not_before", "not_after", "revoked_at", "revocation_reason"}
)
AGREEMENT_FIELDS = frozenset(
    {
        "id", "title", "parties", "enquiry_types", "handling_codes", "max_priority",
        "attachments_allowed", "data_categories", "valid_from", "valid_until",
    }
)  # fmt: skip
SUITES = {suite.value: suite for suite in Suite}
CATEGORIES = {category.value: category for category in DataCategory}
REASONS = {reason.value: reason for reason in RevocationReason}


def compile_source(text: str | bytes, *, name: str = "directory source") -> DirectoryContent:
    """The content described by the TOML ``text``; ConfigError listing every problem."""
    if isinstance(text, bytes):
        if len(text) > MAX_SOURCE_BYTES:
            raise ConfigError(f"{name} is larger than {MAX_SOURCE_BYTES} bytes")
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigError(f"{name} is not UTF-8 text") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:  # its message holds a position, not the content
        raise ConfigError(f"{name} is not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{name} is not valid TOML (nested too deeply)") from None
    problems: list[ConfigProblem] = []
    content = _content(_Table(data, "", problems, TOP_FIELDS))
    structural = [problem.key_path for problem in problems]
    broken = _Paths(structural)
    problems += [
        problem
        for problem in content_problems(content, broken=structural)
        if not broken.covers(problem.key_path)
    ]
    if problems:
        count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
        raise ConfigError(f"{name}: {count}", problems)
    return normalized(content)


class _Paths:
    def __init__(self, paths: Collection[str]) -> None:
        self._paths = frozenset(paths)

    def covers(self, path: str) -> bool:
        """Whether ``path`` or a path it is inside was reported already."""
        return any(
            path == known or path.startswith((f"{known}.", f"{known}[")) for known in self._paths
        )


def _content(top: _Table) -> DirectoryContent:
    if top.text("format") not in ("", SOURCE_FORMAT):
        top.problem("format", f"must be {SOURCE_FORMAT!r}")
    return DirectoryContent(
        version=top.integer("version"),
        issued_at=top.when("issued_at") or EPOCH,
        expires_at=top.when("expires_at") or EPOCH,
        issuer=top.text("issuer"),
        root=_root(top.table("root", ("threshold", "keys"))),
        encryption_key_grace=top.days("encryption_key_grace_days"),
        max_rotation_overlap=top.days("max_rotation_overlap_days"),
        offices=tuple(_office(t) for t in top.tables("offices", OFFICE_FIELDS, required=False)),
        agreements=tuple(
            _agreement(t) for t in top.tables("agreements", AGREEMENT_FIELDS, required=False)
        ),
    )


def _root(table: _Table) -> Root:
    keys = []
    for entry in table.tables("keys", ("name", "public_key", "key_id")):
        public = entry.base64("public_key")
        entry.check_key_id(KeyAlg.ED25519, public, 32)
        keys.append(AdminKey(entry.text("name"), public))
    return Root(tuple(keys), table.integer("threshold"))


def _office(table: _Table) -> Office:
    adapter = table.table("adapter", ("name", "settings"))
    routing = table.table("routing", ("site", "broker"))
    return Office(
        id=table.text("id"),
        names=tuple(table.strings("names").items()),
        country=table.text("country"),
        time_zone=table.text("time_zone"),
        languages=table.texts("languages"),
        suite=table.choice("suite", SUITES) or Suite.V1,
        adapter=Adapter(adapter.text("name"), tuple(adapter.strings("settings").items())),
        routing=Routing(routing.text("site"), routing.text("broker")),
        urgent_contact=table.text("urgent_contact"),
        keys=_keys(table.table("keys", tuple(use.label for use in KeyUse))),
    )


def _keys(table: _Table) -> tuple[OfficeKey, ...]:
    keys = []
    for use in KeyUse:
        for entry in table.tables(use.label, KEY_FIELDS, required=False):
            public = entry.base64("public_key")
            entry.check_key_id(use.alg, public, use.public_key_len)
            revoked_at = entry.when("revoked_at", required=False)
            reason = entry.choice("revocation_reason", REASONS, required=revoked_at is not None)
            if revoked_at is None and "revocation_reason" in entry.raw:
                entry.problem("revocation_reason", "is given without revoked_at")
            revocation = None
            if revoked_at is not None:
                revocation = Revocation(revoked_at, reason or RevocationReason.ADMINISTRATIVE)
            keys.append(
                OfficeKey(
                    use=use,
                    public_key=public,
                    not_before=entry.when("not_before") or EPOCH,
                    not_after=entry.when("not_after") or EPOCH,
                    revocation=revocation,
                )
            )
    return tuple(keys)


def _agreement(table: _Table) -> Agreement:
    return Agreement(
        id=table.text("id"),
        title=table.text("title"),
        parties=table.texts("parties"),
        enquiry_types=table.choices("enquiry_types", ENQUIRY_TYPES),
        handling_codes=table.choices("handling_codes", HANDLING_CODES),
        max_priority=table.choice("max_priority", PRIORITIES) or PRIORITIES["normal"],
        attachments_allowed=table.flag("attachments_allowed"),
        data_categories=table.choices("data_categories", CATEGORIES, required=False),
        valid_from=table.when("valid_from") or EPOCH,
        valid_until=table.when("valid_until", required=False),
    )


class _Table:
    """A TOML table at ``path`` whose typed getters record a problem and return a stand-in
    value (never used in the result, which is refused when there is any problem)."""

    __slots__ = ("path", "problems", "raw")

    def __init__(
        self, raw: object, path: str, problems: list[ConfigProblem], fields: Collection[str]
    ) -> None:
        self.path, self.problems = path, problems
        if not isinstance(raw, dict):
            self.problems.append(ConfigProblem(path or "(top level)", "must be a table"))
            raw = {}
        self.raw: dict[str, object] = raw
        for unknown in sorted(set(raw) - set(fields)):
            self.problem(unknown, "unknown field")

    def at(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def problem(self, name: str, message: str) -> None:
        self.problems.append(ConfigProblem(self.at(name), message))

    def _get(self, name: str, kind: type[T], what: str, *, required: bool = True) -> T | None:
        if name not in self.raw:
            if required:
                self.problem(name, "is missing")
            return None
        value = self.raw[name]
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            self.problem(name, f"must be {what}")
            return None
        return value

    def text(self, name: str) -> str:
        return self._get(name, str, "a string") or ""

    def integer(self, name: str) -> int:
        return self._get(name, int, "an integer") or 0

    def flag(self, name: str) -> bool:
        return self._get(name, bool, "true or false") or False

    def days(self, name: str) -> timedelta:
        if name not in self.raw:
            self.problem(name, "is missing")
            return timedelta(0)
        value = self.raw[name]
        if not isinstance(value, int | float) or isinstance(value, bool):
            self.problem(name, "must be a number of days")
            return timedelta(0)
        if not 0 <= value <= 36_500:
            self.problem(name, "must be between 0 and 36500 days")
            return timedelta(0)
        return timedelta(seconds=round(value * 86_400))

    def when(self, name: str, *, required: bool = True) -> datetime | None:
        what = "a date and time with a UTC offset, like 2026-03-01T00:00:00Z"
        value = self._get(name, datetime, what, required=required)
        if value is None:
            return None
        if value.tzinfo is None:
            self.problem(name, f"must be {what} (this one has no offset)")
            return None
        return value.astimezone(UTC)

    def texts(self, name: str, *, required: bool = True) -> tuple[str, ...]:
        values = self._get(name, list, "a list of strings", required=required) or []
        if not all(isinstance(value, str) for value in values):
            self.problem(name, "must be a list of strings")
            return ()
        return tuple(values)

    def strings(self, name: str) -> dict[str, str]:
        """A table of string values (display names by language, adapter settings)."""
        values = self._get(name, dict, "a table of strings", required=False) or {}
        for key, value in values.items():
            if not isinstance(value, str):
                self.problems.append(ConfigProblem(f"{self.at(name)}.{key}", "must be a string"))
        return {key: value for key, value in values.items() if isinstance(value, str)}

    def choice(self, name: str, allowed: Mapping[str, T], *, required: bool = True) -> T | None:
        value = self._get(name, str, "a string", required=required)
        if value is None:
            return None
        if value not in allowed:
            self.problem(name, f"{value!r} is not one of {', '.join(allowed)}")
            return None
        return allowed[value]

    def choices(
        self, name: str, allowed: Mapping[str, T], *, required: bool = True
    ) -> tuple[T, ...]:
        chosen = []
        for index, value in enumerate(self.texts(name, required=required)):
            if value in allowed:
                chosen.append(allowed[value])
            else:
                self.problem(f"{name}[{index}]", f"{value!r} is not one of {', '.join(allowed)}")
        return tuple(chosen)

    def table(self, name: str, fields: Collection[str]) -> _Table:
        raw = self._get(name, dict, "a table")
        return _Table({} if raw is None else raw, self.at(name), self.problems, fields)

    def tables(self, name: str, fields: Collection[str], *, required: bool = True) -> list[_Table]:
        raw = self._get(name, list, "an array of tables ([[...]])", required=required) or []
        return [
            _Table(entry, f"{self.at(name)}[{index}]", self.problems, fields)
            for index, entry in enumerate(raw)
        ]

    def base64(self, name: str) -> bytes:
        text = self.text(name)
        try:
            return base64.b64decode(text.encode("ascii"), validate=True) if text else b""
        except (UnicodeEncodeError, binascii.Error):
            self.problem(name, "is not base64")
            return b""

    def check_key_id(self, alg: KeyAlg, public: bytes, length: int) -> None:
        """Check ``key_id`` (hex, or the fingerprint's groups) against the public key: it is
        the value the administrators confirmed with the key's holder by phone."""
        if "public_key" not in self.raw or not public:
            return
        if len(public) != length:
            self.problem("public_key", f"a {alg.value} public key is {length} bytes")
            return
        stated = "".join(self.text("key_id").split())
        if not stated:
            return
        if len(stated) != 2 * KEY_ID_LEN or not all(c in string.hexdigits for c in stated):
            self.problem("key_id", f"must be {2 * KEY_ID_LEN} hex digits (spaces allowed)")
        elif bytes.fromhex(stated) != key_id(alg, public):
            self.problem("key_id", "is not the id of public_key: check the fingerprint again")
