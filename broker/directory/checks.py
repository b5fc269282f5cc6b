"""The rules a directory's content must follow, each problem named by its path. Pure.

The TOML compiler and the wire decoder both run ``content_problems``, so an administrator's
mistake and a malformed signed directory are described in the same words
(``offices[3].keys.signing[0].not_after: ...``). Every problem is reported, not just the first.

Key windows (docs/directory.md, "Key windows"): each key is usable in [not_before, end), where
end is not_after or, if earlier, revoked_at. Two keys of the same use and office may be usable
at the same time only as a rotation overlap: the newer key starts strictly later and ends
strictly later than the older one, and the overlap lasts at most ``max_rotation_overlap``.
Three keys of one use and office are never usable at once.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from datetime import timedelta

from broker.directory.countries import ISO3166_ALPHA3
from broker.directory.model import Agreement, DirectoryContent, Office, OfficeKey, Root
from broker.directory.vocabulary import (
    ADAPTER_NAME,
    ADMIN_NAME,
    AGREEMENT_ID,
    LANGUAGE_TAG,
    MAX_SETTING_CHARS,
    OFFICE_ID,
    ROUTING_NAME,
    SETTING_NAME,
    TIME_ZONE,
    KeyUse,
    matches,
    single_line,
)
from broker.envelope.suite import Suite
from broker.errors import ConfigProblem

MAX_VERSION = 2**63 - 1
MAX_ADMIN_KEYS = 32
MAX_OFFICES = 10_000
MAX_AGREEMENTS = 10_000
MAX_KEYS_PER_OFFICE = 64
MAX_SETTINGS = 64
MAX_LANGUAGES = 16
MAX_PERIOD = timedelta(days=365)  # for the grace period and the rotation overlap

Problems = list[ConfigProblem]
_Add = Callable[[str, str], None]  # records one problem: (path, message)


def content_problems(content: DirectoryContent, *, broken: Collection[str] = ()) -> Problems:
    """Every rule ``content`` breaks. ``broken`` lists the paths where the TOML compiler already
    found a missing or mistyped value: rules that compare such a value with another are skipped,
    so one mistake is reported once."""
    problems: Problems = []
    skip = _Broken(broken)

    def add(path: str, message: str) -> None:
        problems.append(ConfigProblem(path, message))

    _header(content, add, skip)
    _root(content.root, add)
    office_ids = _offices(content, add, skip)
    _agreements(content, add, skip, office_ids)
    return problems


def _header(content: DirectoryContent, add: _Add, skip: _Broken) -> None:
    if not 1 <= content.version <= MAX_VERSION:
        add("version", f"must be between 1 and {MAX_VERSION}")
    if (issue := single_line(content.issuer)) is not None:
        add("issuer", issue)
    if content.expires_at <= content.issued_at and not skip("issued_at", "expires_at"):
        add("expires_at", "must be later than issued_at")
    for name, period in (
        ("encryption_key_grace_days", content.encryption_key_grace),
        ("max_rotation_overlap_days", content.max_rotation_overlap),
    ):
        if not timedelta(0) <= period <= MAX_PERIOD:
            add(name, f"must be between 0 and {MAX_PERIOD.days} days")
        elif period % timedelta(seconds=1):
            add(name, "must be a whole number of seconds")


def _offices(content: DirectoryContent, add: _Add, skip: _Broken) -> dict[str, int] | None:
    """Check every office; return their ids (None if an id was already found broken)."""
    if len(content.offices) > MAX_OFFICES:
        add("offices", f"more than {MAX_OFFICES} offices")
    seen: dict[str, int] = {}
    key_owner: dict[bytes, str] = {}
    for index, office in enumerate(content.offices):
        path = f"offices[{index}]"
        if office.id in seen:
            add(f"{path}.id", f"{office.id} is already listed as offices[{seen[office.id]}]")
        seen.setdefault(office.id, index)
        _identity(office, path, add)
        _transport(office, path, add)
        _office_keys(office, path, add, content.max_rotation_overlap, skip)
        for use in KeyUse:
            for number, key in enumerate(office.keys_of(use)):
                owner = key_owner.setdefault(key.public_key, office.id)
                if owner != office.id:
                    add(
                        f"{path}.keys.{use.label}[{number}]",
                        f"this key is already listed for office {owner}",
                    )
    if skip(*(f"offices[{i}].id" for i in range(len(content.offices)))):
        return None
    return seen


def _agreements(
    content: DirectoryContent, add: _Add, skip: _Broken, office_ids: dict[str, int] | None
) -> None:
    if len(content.agreements) > MAX_AGREEMENTS:
        add("agreements", f"more than {MAX_AGREEMENTS} agreements")
    seen: dict[str, int] = {}
    for index, agreement in enumerate(content.agreements):
        path = f"agreements[{index}]"
        if agreement.id in seen:
            add(
                f"{path}.id",
                f"{agreement.id} is already listed as agreements[{seen[agreement.id]}]",
            )
        seen.setdefault(agreement.id, index)
        _agreement(agreement, path, add, office_ids, skip)


class _Broken:
    """Whether any of some paths, or anything inside them, was reported broken already."""

    def __init__(self, broken: Collection[str]) -> None:
        self._broken = frozenset(broken)

    def __call__(self, *paths: str) -> bool:
        return any(
            known == path or known.startswith((f"{path}.", f"{path}["))
            for known in self._broken
            for path in paths
        )


def _root(root: Root, add: _Add) -> None:
    if not 1 <= len(root.keys) <= MAX_ADMIN_KEYS:
        add("root.keys", f"needs 1 to {MAX_ADMIN_KEYS} administrator keys")
    if not 1 <= root.threshold <= max(len(root.keys), 1):
        add("root.threshold", f"must be between 1 and the number of keys ({len(root.keys)})")
    names: dict[str, int] = {}
    keys: dict[bytes, int] = {}
    for index, admin in enumerate(root.keys):
        path = f"root.keys[{index}]"
        if not matches(ADMIN_NAME, admin.name):
            add(f"{path}.name", f"{admin.name!r} is not a name (letters, digits, . _ -)")
        elif admin.name in names:
            add(f"{path}.name", f"{admin.name} is already root.keys[{names[admin.name]}]")
        names.setdefault(admin.name, index)
        if len(admin.public_key) != 32:
            add(f"{path}.public_key", "an Ed25519 public key is 32 bytes")
        elif admin.public_key in keys:
            twin = keys[admin.public_key]
            add(f"{path}.public_key", f"the same key is already root.keys[{twin}]")
        keys.setdefault(admin.public_key, index)


def _identity(office: Office, path: str, add: _Add) -> None:
    if not matches(OFFICE_ID, office.id):
        add(f"{path}.id", f"{office.id!r} is not an office id (like CN-YN-BLO-HK)")
    if not office.names:
        add(f"{path}.names", "needs at least one display name")
    for language, name in office.names:
        if not matches(LANGUAGE_TAG, language):
            add(f"{path}.names", f"{language!r} is not a BCP 47 language tag")
        elif (issue := single_line(name)) is not None:
            add(f"{path}.names.{language}", issue)
    if len({language for language, _ in office.names}) != len(office.names):
        add(f"{path}.names", "a language is listed twice")
    if office.country not in ISO3166_ALPHA3:
        add(f"{path}.country", f"{office.country!r} is not an ISO 3166-1 alpha-3 code (like CHN)")
    if not matches(TIME_ZONE, office.time_zone):
        add(f"{path}.time_zone", f"{office.time_zone!r} is not an IANA time zone")
    _languages(office.languages, f"{path}.languages", add)


def _transport(office: Office, path: str, add: _Add) -> None:
    if not matches(ADAPTER_NAME, office.adapter.name):
        add(f"{path}.adapter.name", f"{office.adapter.name!r} is not an adapter name")
    _settings(office, f"{path}.adapter.settings", add)
    for part in ("site", "broker"):
        value = getattr(office.routing, part)
        if not matches(ROUTING_NAME, value):
            add(f"{path}.routing.{part}", f"{value!r} is not a name (a-z, 0-9, . _ -)")
    if (issue := single_line(office.urgent_contact)) is not None:
        add(f"{path}.urgent_contact", issue)


def _office_keys(
    office: Office, path: str, add: _Add, max_overlap: timedelta, skip: _Broken
) -> None:
    if len(office.keys) > MAX_KEYS_PER_OFFICE:
        add(f"{path}.keys", f"more than {MAX_KEYS_PER_OFFICE} keys")
    for use in KeyUse:
        _keys(office.keys_of(use), f"{path}.keys.{use.label}", add, max_overlap, skip)
    for use in (KeyUse.SIGNING, KeyUse.ENCRYPTION):
        if not office.keys_of(use):
            add(f"{path}.keys.{use.label}", f"needs at least one {use.label} key")
    if office.suite is Suite.V1_PQ and not office.keys_of(KeyUse.HYBRID):
        add(f"{path}.keys.hybrid", "suite liaison-v1-pq needs at least one hybrid key")


def _languages(languages: tuple[str, ...], path: str, add: _Add) -> None:
    if not 1 <= len(languages) <= MAX_LANGUAGES:
        add(path, f"needs 1 to {MAX_LANGUAGES} working languages")
    for index, language in enumerate(languages):
        if not matches(LANGUAGE_TAG, language):
            add(f"{path}[{index}]", f"{language!r} is not a BCP 47 language tag")
    if len(set(languages)) != len(languages):
        add(path, "a language is listed twice")


def _settings(office: Office, path: str, add: _Add) -> None:
    settings = office.adapter.settings
    if len(settings) > MAX_SETTINGS:
        add(path, f"more than {MAX_SETTINGS} settings")
    if len({name for name, _ in settings}) != len(settings):
        add(path, "a setting is listed twice")
    for name, value in settings:
        if not matches(SETTING_NAME, name):
            add(path, f"{name!r} is not a setting name (a-z, 0-9, . _ -)")
        elif (issue := single_line(value, limit=MAX_SETTING_CHARS)) is not None:
            add(f"{path}.{name}", issue)


def _keys(
    keys: tuple[OfficeKey, ...], path: str, add: _Add, max_overlap: timedelta, skip: _Broken
) -> None:
    seen: dict[bytes, int] = {}
    sound: list[tuple[int, OfficeKey]] = []
    for index, key in enumerate(keys):
        where = f"{path}[{index}]"
        if len(key.public_key) != key.use.public_key_len:
            add(f"{where}.public_key", f"a {key.use.label} key is {key.use.public_key_len} bytes")
            continue
        if key.public_key in seen:
            add(f"{where}.public_key", f"the same key is already {path}[{seen[key.public_key]}]")
            continue
        seen[key.public_key] = index
        if skip(where):
            continue
        if key.not_after <= key.not_before:
            add(f"{where}.not_after", "must be later than not_before")
        elif key.effective_end > key.not_before:
            sound.append((index, key))  # a key revoked before it started is never usable
    _overlaps(sound, path, add, max_overlap)


def _overlaps(
    keys: Iterable[tuple[int, OfficeKey]], path: str, add: _Add, max_overlap: timedelta
) -> None:
    """Apply the window rule of the module docstring to one office's keys of one use."""
    ordered = sorted(keys, key=lambda item: (item[1].not_before, item[0]))
    for position, (index, key) in enumerate(ordered):
        where = f"{path}[{index}].not_before"
        overlapping = [
            (old_index, old)
            for old_index, old in ordered[:position]
            if key.not_before < old.effective_end
        ]
        if len(overlapping) > 1:
            add(where, "three keys of the same kind would be valid at once")
            continue
        if not overlapping:
            continue
        old_index, old = overlapping[0]
        other = f"{path}[{old_index}]"
        if old.not_before == key.not_before:
            add(where, f"starts together with {other}: a rotation starts the new key later")
        elif key.effective_end <= old.effective_end:
            add(where, f"lies within the window of {other}: a rotation ends the old key first")
        elif old.effective_end - key.not_before > max_overlap:
            add(
                where,
                f"overlaps {other} by {_days(old.effective_end - key.not_before)}, more than"
                f" max_rotation_overlap_days ({_days(max_overlap)})",
            )


def _days(period: timedelta) -> str:
    days = period / timedelta(days=1)
    return f"{days:g} days" if days != 1 else "1 day"


def _agreement(
    agreement: Agreement, path: str, add: _Add, offices: Collection[str] | None, skip: _Broken
) -> None:
    if not matches(AGREEMENT_ID, agreement.id):
        add(f"{path}.id", f"{agreement.id!r} is not an agreement id (like MEKONG-2014)")
    if (issue := single_line(agreement.title)) is not None:
        add(f"{path}.title", issue)
    if len(agreement.parties) < 2:
        add(f"{path}.parties", "an agreement needs at least two parties")
    for index, party in enumerate(agreement.parties):
        if offices is not None and party not in offices:
            add(f"{path}.parties[{index}]", f"office {party!r} is not in the directory")
    if len(set(agreement.parties)) != len(agreement.parties):
        add(f"{path}.parties", "an office is listed twice")
    for name, values in (
        ("enquiry_types", agreement.enquiry_types),
        ("handling_codes", agreement.handling_codes),
    ):
        if not values:
            add(f"{path}.{name}", "needs at least one")
        if len(set(values)) != len(values):
            add(f"{path}.{name}", "a value is listed twice")
    if len(set(agreement.data_categories)) != len(agreement.data_categories):
        add(f"{path}.data_categories", "a value is listed twice")
    late = agreement.valid_until is not None and agreement.valid_until <= agreement.valid_from
    if late and not skip(f"{path}.valid_from", f"{path}.valid_until"):
        add(f"{path}.valid_until", "must be later than valid_from")
