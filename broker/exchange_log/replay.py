"""``audit replay``: the timeline of a case, a message or a period, and decryption for an audit.

Selecting is pure. ``--case REF`` follows links: the messages whose entries carry the case
reference, then every message related to one of them (responses, receipts, their receipts) until
nothing new joins. ``--message ID`` takes that message and the entries that relate to it.

Decrypting (``decrypt_for_audit``) opens each selected envelope with the auditor's office keys,
as of the envelope's own ``created_at`` (``open_envelope(..., now=created_at)``, no replay set):
an old message still opens, and the signature is judged against the sender's key valid when it
was sealed. Every successful decryption is appended to the log (AUDIT_DECRYPTION: who, which
message, why) in one durable transaction *before* any plaintext is returned to the caller.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from broker.envelope import DirectoryView, Header, Limits, MessageKind, open_envelope, peek_header
from broker.errors import InputError, PeerError
from broker.exchange_log.entry import EventType, LogEntry
from broker.exchange_log.envelope_store import EnvelopeStore
from broker.exchange_log.sqlite_store import ExchangeLog
from broker.keys.model import OfficeKeys
from broker.model import CaseEnquiry, CaseResponse, Receipt

Entries = Callable[[], Iterable[tuple[int, LogEntry]]]  # a fresh pass over the log each call


@dataclass(frozen=True, slots=True)
class ReplayFilter:
    """Which entries to replay; the conditions given must all hold. Times: [start, end)."""

    case_ref: str | None = None
    message_id: bytes | None = None
    start: datetime | None = None
    end: datetime | None = None


def _case_messages(entries: Entries, case_ref: str) -> set[bytes]:
    found: set[bytes] = set()
    links: dict[bytes, set[bytes]] = {}
    for _, entry in entries():
        if entry.message_id and entry.case_ref == case_ref:
            found.add(entry.message_id)
        if entry.message_id and entry.related_message_id:
            links.setdefault(entry.message_id, set()).add(entry.related_message_id)
            links.setdefault(entry.related_message_id, set()).add(entry.message_id)
    todo = list(found)
    while todo:
        for other in links.get(todo.pop(), ()):
            if other not in found:
                found.add(other)
                todo.append(other)
    return found


def select_entries(entries: Entries, wanted: ReplayFilter) -> Iterator[tuple[int, LogEntry]]:
    """The entries ``wanted`` selects, in log order."""
    messages: set[bytes] | None = None
    if wanted.case_ref is not None:
        messages = _case_messages(entries, wanted.case_ref)
    if wanted.message_id is not None:
        one = {wanted.message_id}
        messages = one if messages is None else messages & one
    for index, entry in entries():
        if wanted.start is not None and entry.time < wanted.start:
            continue
        if wanted.end is not None and entry.time >= wanted.end:
            continue
        if messages is not None and not (
            entry.message_id in messages
            or entry.related_message_id in messages
            or (wanted.case_ref is not None and entry.case_ref == wanted.case_ref)
        ):
            continue
        yield index, entry


def entry_to_json(index: int, entry: LogEntry) -> dict[str, Any]:
    """An entry as JSON for timelines: every field that is set, ids and digests in hex."""
    document: dict[str, Any] = {
        "index": index,
        "time": entry.time.isoformat(timespec="milliseconds"),
        "event": entry.event.label,
    }
    optional: dict[str, Any] = {
        "message_id": entry.message_id.hex(),
        "kind": entry.kind.name.lower() if entry.kind is not None else "",
        "sender": entry.sender,
        "recipients": list(entry.recipients),
        "envelope_digest": entry.envelope_digest.hex(),
        "reason": entry.reason,
        "case_ref": entry.case_ref,
        "related_message_id": entry.related_message_id.hex(),
        "due_at": entry.due_at.isoformat(timespec="milliseconds") if entry.due_at else "",
        "actor": entry.actor,
        "purpose": entry.purpose,
        "key_id": entry.key_id.hex(),
        "directory_version": entry.directory_version,
        "directory_digest": entry.directory_digest.hex(),
        "log_origin": entry.log_origin,
        "tree_size": entry.tree_size,
        "root_hash": entry.root_hash.hex(),
        "other_root_hash": entry.other_root_hash.hex(),
        "purged_before": entry.purged_before,
    }
    document.update({k: v for k, v in optional.items() if v})
    return document


# ---------------------------------------------------------------- decryption for an audit


@dataclass(frozen=True, slots=True)
class Disclosure:
    """An envelope opened for an audit; ``logged_as`` is the AUDIT_DECRYPTION entry's index."""

    entry_index: int
    message_id: bytes
    kind: MessageKind
    sender: str
    logged_as: int
    payload: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class NotOpened:
    """A selected envelope the auditor could not open, and why (a reason code)."""

    entry_index: int
    envelope_digest: bytes
    reason: str


def decrypt_for_audit(
    log: ExchangeLog,
    store: EnvelopeStore,
    selected: Iterable[tuple[int, LogEntry]],
    *,
    keys: OfficeKeys,
    directory: DirectoryView,
    purpose: str,
    now: datetime,
    limits: Limits = Limits(),  # noqa: B008 - a frozen value
) -> tuple[list[Disclosure], list[NotOpened]]:
    """Open every envelope the selected entries name; log each opening, then return them."""
    if not purpose.strip():
        raise InputError("a decryption for an audit needs a stated reason")
    opened: list[tuple[int, LogEntry, Header, bytes]] = []
    refused: list[NotOpened] = []
    seen: set[bytes] = set()
    for index, entry in selected:
        digest = entry.envelope_digest
        if not digest or digest in seen:
            continue
        seen.add(digest)
        data = store.get(digest)
        if data is None or hashlib.sha256(data).digest() != digest:
            refused.append(NotOpened(index, digest, "not-stored" if data is None else "corrupt"))
            continue
        try:
            header = peek_header(data, limits=limits)
            result = open_envelope(data, keys, directory, now=header.created_at, limits=limits)
        except PeerError as exc:
            refused.append(NotOpened(index, digest, exc.reason.value))
            continue
        opened.append((index, entry, result.header, result.payload))
    records = [
        LogEntry(
            event=EventType.AUDIT_DECRYPTION,
            time=now,
            message_id=header.message_id,
            kind=header.kind,
            sender=header.sender,
            recipients=tuple(r.office_id for r in header.recipients),
            envelope_digest=entry.envelope_digest,
            case_ref=entry.case_ref,
            actor=keys.office_id,
            purpose=purpose.strip(),
        )
        for _, entry, header, _ in opened
    ]
    logged = log.append_many(records) if records else range(0)
    disclosures = [
        Disclosure(index, header.message_id, header.kind, header.sender, logged_as, payload)
        for (index, _, header, payload), logged_as in zip(opened, logged, strict=True)
    ]
    return disclosures, refused


def render_payload(kind: MessageKind, payload: bytes) -> str:
    """A decrypted payload as text: the message's JSON form, or base64 if it does not decode."""
    decoders: dict[MessageKind, Callable[[bytes], str]] = {
        MessageKind.ENQUIRY: lambda b: CaseEnquiry.from_bytes(b).to_json(),
        MessageKind.RESPONSE: lambda b: CaseResponse.from_bytes(b).to_json(),
        MessageKind.RECEIPT: lambda b: Receipt.from_bytes(b).to_json(),
    }
    decoder = decoders.get(kind)
    if decoder is not None:
        try:
            return decoder(payload)
        except InputError:
            pass
    return "base64:" + base64.b64encode(payload).decode("ascii")
