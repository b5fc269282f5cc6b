"""What changed between two directories, in sentences a reviewer understands. Pure.

Each change has a stable ``kind`` (for ``--json`` and scripts), a ``subject`` (the office,
agreement or administrator concerned, or ``directory``) and a ``text`` in plain language.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from broker.directory.model import Agreement, DirectoryContent, Office, OfficeKey, Root
from broker.directory.vocabulary import KeyUse, enquiry_type_name, priority_name

DIRECTORY = "directory"


@dataclass(frozen=True, slots=True)
class Change:
    kind: str
    subject: str
    text: str


def diff_contents(old: DirectoryContent, new: DirectoryContent) -> tuple[Change, ...]:
    """Every difference from ``old`` to ``new``, directory-wide first, then the root, the
    offices and the agreements (each by id)."""
    changes: list[Change] = []
    add = changes.append
    if old.version != new.version:
        add(Change("version", DIRECTORY, f"Version {old.version} -> {new.version}."))
    if old.issuer != new.issuer:
        add(Change("issuer", DIRECTORY, f"Issuer is now {new.issuer!r} (was {old.issuer!r})."))
    if old.issued_at != new.issued_at:
        add(Change("issued", DIRECTORY, f"Issued {when(new.issued_at)}."))
    if old.expires_at != new.expires_at:
        text = f"Expires {when(new.expires_at)} (was {when(old.expires_at)})."
        add(Change("expiry", DIRECTORY, text))
    for kind, label, before, after in (
        ("grace", "Grace period for old encryption keys", old.encryption_key_grace,
         new.encryption_key_grace),
        ("rotation-overlap", "Longest key rotation overlap", old.max_rotation_overlap,
         new.max_rotation_overlap),
    ):  # fmt: skip
        if before != after:
            add(Change(kind, DIRECTORY, f"{label}: {days(after)} (was {days(before)})."))
    changes += _root(old.root, new.root)
    olds = {office.id: office for office in old.offices}
    news = {office.id: office for office in new.offices}
    for office_id in sorted(olds.keys() | news.keys()):
        changes += _office(olds.get(office_id), news.get(office_id))
    old_agreements = {agreement.id: agreement for agreement in old.agreements}
    new_agreements = {agreement.id: agreement for agreement in new.agreements}
    for agreement_id in sorted(old_agreements.keys() | new_agreements.keys()):
        changes += _agreement(old_agreements.get(agreement_id), new_agreements.get(agreement_id))
    return tuple(changes)


def when(moment: datetime) -> str:
    """``2026-11-01 00:00 UTC`` (seconds shown only when not zero)."""
    moment = moment.astimezone(UTC)
    pattern = (
        "%Y-%m-%d %H:%M:%S UTC" if moment.second or moment.microsecond else "%Y-%m-%d %H:%M UTC"
    )
    return moment.strftime(pattern)


def days(period: timedelta) -> str:
    count = period / timedelta(days=1)
    return "1 day" if count == 1 else f"{count:g} days"


def _root(old: Root, new: Root) -> list[Change]:
    changes = []
    old_keys = {admin.public_key: admin for admin in old.keys}
    new_keys = {admin.public_key: admin for admin in new.keys}
    for admin in new.keys:
        if admin.public_key not in old_keys:
            text = f"Administrator key {admin.name} ({admin.fingerprint}) added to the root."
            changes.append(Change("root-key-added", admin.name, text))
    for admin in old.keys:
        if admin.public_key not in new_keys:
            text = f"Administrator key {admin.name} ({admin.fingerprint}) removed from the root."
            changes.append(Change("root-key-removed", admin.name, text))
    if (old.threshold, len(old.keys)) != (new.threshold, len(new.keys)):
        text = (
            f"Signatures needed for the next directory: {new.threshold} of {len(new.keys)}"
            f" administrators (was {old.threshold} of {len(old.keys)})."
        )
        changes.append(Change("root-threshold", DIRECTORY, text))
    if not old.same_trust(new):
        text = (
            "The root changes: this directory must be signed by enough administrators of both"
            " the old and the new root."
        )
        changes.append(Change("root-rotation", DIRECTORY, text))
    return changes


def _office(old: Office | None, new: Office | None) -> list[Change]:
    if new is None and old is not None:
        text = f"Office {old.id} ({old.display_name()}) removed: it can no longer send or receive."
        return [Change("office-removed", old.id, text)]
    if new is None:  # pragma: no cover - an id comes from one side or the other
        return []
    if old is None:
        keys = ", ".join(
            f"{len(new.keys_of(use))} {use.label}" for use in KeyUse if new.keys_of(use)
        )
        text = (
            f"Office {new.id} added: {new.display_name()} ({new.country}, {new.time_zone}),"
            f" suite {new.suite.value}, keys: {keys}."
        )
        return [Change("office-added", new.id, text)]
    changes = []
    for label, before, after in (
        ("display names", _pairs(old.names), _pairs(new.names)),
        ("country", old.country, new.country),
        ("time zone", old.time_zone, new.time_zone),
        ("working languages", ", ".join(old.languages), ", ".join(new.languages)),
        ("envelope suite", old.suite.value, new.suite.value),
        ("adapter", old.adapter.name, new.adapter.name),
        ("adapter settings", _pairs(old.adapter.settings), _pairs(new.adapter.settings)),
        ("routing", _routing(old), _routing(new)),
        ("urgent contact", old.urgent_contact, new.urgent_contact),
    ):
        if before != after:
            text = f"Office {new.id}: {label} now {after or '(none)'} (was {before or '(none)'})."
            changes.append(Change("office-changed", new.id, text))
    changes += _keys(new.id, old.keys, new.keys)
    return changes


def _pairs(pairs: Iterable[tuple[str, str]]) -> str:
    return "; ".join(f"{name}: {value}" for name, value in pairs)


def _routing(office: Office) -> str:
    return f"site {office.routing.site}, broker {office.routing.broker}"


def _keys(office_id: str, old: Sequence[OfficeKey], new: Sequence[OfficeKey]) -> list[Change]:
    changes = []
    olds = {(key.use, key.public_key): key for key in old}
    news = {(key.use, key.public_key): key for key in new}
    for key in new:
        before = olds.get((key.use, key.public_key))
        name = f"Office {office_id}: {key.use.label} key {key.fingerprint}"
        if before is None:
            text = f"{name} added, valid {_window(key)}."
            changes.append(Change("key-added", office_id, text))
            if key.revocation is not None:
                changes.append(_revoked(name, key, office_id))
            continue
        if (before.not_before, before.not_after) != (key.not_before, key.not_after):
            text = f"{name} now valid {_window(key)} (was {_window(before)})."
            changes.append(Change("key-window", office_id, text))
        if key.revocation is not None and before.revocation != key.revocation:
            changes.append(_revoked(name, key, office_id))
        elif key.revocation is None and before.revocation is not None:
            text = f"{name}: its revocation is withdrawn."
            changes.append(Change("key-unrevoked", office_id, text))
    for key in old:
        if (key.use, key.public_key) not in news:
            text = (
                f"Office {office_id}: {key.use.label} key {key.fingerprint} removed from the"
                " directory."
            )
            changes.append(Change("key-removed", office_id, text))
    return changes


def _revoked(name: str, key: OfficeKey, office_id: str) -> Change:
    assert key.revocation is not None  # noqa: S101 - callers check
    effect = (
        "messages it signs from then on are refused"
        if key.use is KeyUse.SIGNING
        else "nothing is sealed to it any more, nor opened with it from then on"
    )
    text = (
        f"{name} REVOKED from {when(key.revocation.revoked_at)}"
        f" ({key.revocation.reason.value}): {effect}."
    )
    return Change("key-revoked", office_id, text)


def _window(key: OfficeKey) -> str:
    return f"from {when(key.not_before)} until {when(key.not_after)}"


def _agreement(old: Agreement | None, new: Agreement | None) -> list[Change]:
    if new is None and old is not None:
        text = f"Agreement {old.id} ({old.title}) removed: enquiries under it are refused."
        return [Change("agreement-removed", old.id, text)]
    if new is None:  # pragma: no cover - an id comes from one side or the other
        return []
    if old is None:
        text = (
            f"Agreement {new.id} added: {new.title}; parties {', '.join(new.parties)};"
            f" enquiry types {', '.join(enquiry_type_name(t) for t in new.enquiry_types)};"
            f" handling codes {', '.join(h.name for h in new.handling_codes)};"
            f" maximum priority {priority_name(new.max_priority)};"
            f" attachments {'allowed' if new.attachments_allowed else 'not allowed'};"
            f" data categories {', '.join(new.data_categories) or 'none'};"
            f" in force {_period(new)}."
        )
        return [Change("agreement-added", new.id, text)]
    lines: list[str] = []
    if old.title != new.title:
        lines.append(f"title now {new.title!r} (was {old.title!r})")
    lines += _set_changes("party", old.parties, new.parties, "added", "removed")
    lines += _set_changes(
        "enquiry type",
        [enquiry_type_name(t) for t in old.enquiry_types],
        [enquiry_type_name(t) for t in new.enquiry_types],
    )
    lines += _set_changes(
        "handling code",
        [h.name for h in old.handling_codes],
        [h.name for h in new.handling_codes],
    )
    lines += _set_changes("data category", old.data_categories, new.data_categories)
    if old.max_priority != new.max_priority:
        lines.append(
            f"maximum priority now {priority_name(new.max_priority)}"
            f" (was {priority_name(old.max_priority)})"
        )
    if old.attachments_allowed != new.attachments_allowed:
        lines.append(f"attachments {'now' if new.attachments_allowed else 'no longer'} allowed")
    if (old.valid_from, old.valid_until) != (new.valid_from, new.valid_until):
        lines.append(f"in force {_period(new)} (was {_period(old)})")
    return [Change("agreement-changed", new.id, f"Agreement {new.id}: {line}.") for line in lines]


def _set_changes(
    noun: str,
    old: Iterable[str],
    new: Iterable[str],
    gained: str = "now allowed",
    lost: str = "no longer allowed",
) -> list[str]:
    before, after = list(old), list(new)
    added = [f"{noun} {value} {gained}" for value in after if value not in before]
    return added + [f"{noun} {value} {lost}" for value in before if value not in after]


def _period(agreement: Agreement) -> str:
    if agreement.valid_until is None:
        return f"from {when(agreement.valid_from)}, open-ended"
    return f"from {when(agreement.valid_from)} until {when(agreement.valid_until)}"
