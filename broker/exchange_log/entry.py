"""Exchange-log entries as values, and their exact bytes (proto/liaison/v1/log.proto). Pure.

An entry holds metadata and digests only: what happened (``EventType``), when, to which
message (id, kind, sender, recipients, envelope digest) and why (a reason code), never case
content. ``LogEntry.encode`` gives the canonical protobuf bytes; the log stores exactly those
bytes and hashes them (leaf hash = SHA-256(0x00 || bytes)). ``decode_entry`` accepts only bytes
that re-encode to themselves, so one entry has one encoding. Building a malformed entry is the
caller's mistake (``InputError``); stored bytes that do not decode are an ``IntegrityError``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from google.protobuf.message import DecodeError

from broker.envelope.header import Header, MessageKind
from broker.errors import InputError, IntegrityError
from broker.pb import log_pb2 as pb

ENTRY_VERSION: Final = 1
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MS: Final = timedelta(milliseconds=1)
MAX_TIME_MS: Final = (datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC) - EPOCH) // _MS
MAX_ENTRY_BYTES: Final = 64 * 1024  # an entry is metadata: well under 2 KiB in practice
MAX_RECIPIENTS: Final = 64
MAX_OFFICE_ID_BYTES: Final = 64
MAX_CASE_REF_CHARS: Final = 128  # broker.model.limits.MAX_REFERENCE_CHARS
MAX_PURPOSE_CHARS: Final = 500
MAX_ORIGIN_CHARS: Final = 255
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")  # reject reasons, policy rules
_ID_SIZES = frozenset({0, 16})
_HASH_SIZES = frozenset({0, 32})


class EventType(enum.IntEnum):
    """What happened; mirrors ``liaison.v1.LogEvent`` (0, unspecified, is invalid)."""

    SUBMITTED = 1
    PUBLISHED = 2
    CONFIRMED = 3
    RETURNED = 4
    RECEIVED = 5
    REJECTED = 6
    HANDED_OVER = 7
    RECEIPT_SENT = 8
    RECEIPT_RECEIVED = 9
    RESPONSE_SENT = 10
    RESPONSE_RECEIVED = 11
    OVERDUE = 12
    DIRECTORY_LOADED = 13
    KEY_GENERATED = 14
    KEY_ROTATED = 15
    KEY_REVOKED = 16
    DAEMON_STARTED = 17
    DAEMON_STOPPED = 18
    CHECKPOINT_PUBLISHED = 19
    CHECKPOINT_COSIGNED = 20
    FORK_ALARM = 21
    AUDIT_DECRYPTION = 22
    ENVELOPES_PURGED = 23
    COSIGNATURE_RECEIVED = 24

    @property
    def label(self) -> str:
        """The event's name in reports and JSON: ``receipt-sent``."""
        return self.name.lower().replace("_", "-")

    @classmethod
    def from_label(cls, label: str) -> EventType:
        try:
            return cls[label.upper().replace("-", "_")]
        except KeyError:
            raise InputError(f"no log event is called {label!r}") from None


_LINKS = frozenset(
    {
        EventType.RECEIPT_SENT,
        EventType.RECEIPT_RECEIVED,
        EventType.RESPONSE_SENT,
        EventType.RESPONSE_RECEIVED,
    }
)
_ABOUT_A_MESSAGE = frozenset(
    {
        EventType.SUBMITTED,
        EventType.PUBLISHED,
        EventType.CONFIRMED,
        EventType.RETURNED,
        EventType.RECEIVED,
        EventType.HANDED_OVER,
        EventType.OVERDUE,
        EventType.AUDIT_DECRYPTION,
        *_LINKS,
    }
)
_CHECKPOINT_EVENTS = frozenset(
    {
        EventType.CHECKPOINT_PUBLISHED,
        EventType.CHECKPOINT_COSIGNED,
        EventType.FORK_ALARM,
        EventType.COSIGNATURE_RECEIVED,
    }
)
_KEY_EVENTS = frozenset({EventType.KEY_GENERATED, EventType.KEY_ROTATED, EventType.KEY_REVOKED})


def to_ms(moment: datetime) -> int:
    """Unix milliseconds of an aware datetime (floored)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InputError("log times must be aware datetimes (UTC)")
    return (moment - EPOCH) // _MS


def from_ms(ms: int) -> datetime:
    return EPOCH + ms * _MS


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One event, as metadata. Fields an event does not use keep their empty default."""

    event: EventType
    time: datetime
    message_id: bytes = b""
    kind: MessageKind | None = None
    sender: str = ""
    recipients: tuple[str, ...] = ()
    envelope_digest: bytes = b""
    reason: str = ""
    case_ref: str = ""
    related_message_id: bytes = b""
    due_at: datetime | None = None
    actor: str = ""
    purpose: str = ""
    key_id: bytes = b""
    directory_version: int = 0
    directory_digest: bytes = b""
    log_origin: str = ""
    tree_size: int = 0
    root_hash: bytes = b""
    other_root_hash: bytes = b""
    purged_before: int = 0

    def __post_init__(self) -> None:
        if type(self.event) is not EventType:  # accept the plain number too
            try:
                object.__setattr__(self, "event", EventType(self.event))
            except ValueError:
                raise InputError(f"log entry: {self.event!r} is not a log event") from None
        problem = _problem(self)
        if problem:
            raise InputError(f"log entry ({self.event.label}): {problem}")

    @property
    def time_ms(self) -> int:
        return to_ms(self.time)

    def encode(self) -> bytes:
        """The canonical protobuf bytes: what the log stores and hashes."""
        return _to_pb(self).SerializeToString(deterministic=True)


def entry_for_envelope(
    event: EventType,
    header: Header,
    digest: bytes,
    *,
    time: datetime,
    reason: str = "",
    case_ref: str = "",
    related_message_id: bytes = b"",
    due_at: datetime | None = None,
) -> LogEntry:
    """An entry about an envelope, its metadata copied from the (verified or peeked) header."""
    return LogEntry(
        event=event,
        time=time,
        message_id=header.message_id,
        kind=header.kind,
        sender=header.sender,
        recipients=tuple(r.office_id for r in header.recipients),
        envelope_digest=digest,
        reason=reason,
        case_ref=case_ref,
        related_message_id=related_message_id,
        due_at=due_at,
    )


# ---------------------------------------------------------------- invariants


def _sized(value: bytes, sizes: tuple[int, ...]) -> bool:
    return len(value) in sizes


def _office_ok(value: str) -> bool:
    return 0 < len(value.encode("utf-8", "replace")) <= MAX_OFFICE_ID_BYTES and value.isprintable()


def _text_ok(value: str, limit: int) -> bool:
    return len(value) <= limit and value.isprintable()


def _fields_ok(e: LogEntry) -> bool:
    """All of ``_field_problems``' checks at once: the fast path for decoding a whole log."""
    return (
        len(e.message_id) in _ID_SIZES
        and len(e.related_message_id) in _ID_SIZES
        and len(e.key_id) in _ID_SIZES
        and len(e.envelope_digest) in _HASH_SIZES
        and len(e.directory_digest) in _HASH_SIZES
        and len(e.root_hash) in _HASH_SIZES
        and len(e.other_root_hash) in _HASH_SIZES
        and (not e.sender or _office_ok(e.sender))
        and (not e.actor or _office_ok(e.actor))
        and (
            not e.recipients
            or (
                len(e.recipients) <= MAX_RECIPIENTS
                and all(_office_ok(r) for r in e.recipients)
                and len(set(e.recipients)) == len(e.recipients)
            )
        )
        and (not e.reason or _CODE.fullmatch(e.reason) is not None)
        and (not e.case_ref or _text_ok(e.case_ref, MAX_CASE_REF_CHARS))
        and (not e.purpose or _text_ok(e.purpose, MAX_PURPOSE_CHARS))
        and (not e.log_origin or _text_ok(e.log_origin, MAX_ORIGIN_CHARS))
        and 0 <= e.directory_version < 2**63
        and 0 <= e.tree_size < 2**63
        and 0 <= e.purged_before < 2**63
    )


def _field_problems(entry: LogEntry) -> str:
    if _fields_ok(entry):
        return ""
    checks: Mapping[str, bool] = {
        "message_id is 16 bytes or empty": _sized(entry.message_id, (0, 16)),
        "related_message_id is 16 bytes or empty": _sized(entry.related_message_id, (0, 16)),
        "envelope_digest is 32 bytes or empty": _sized(entry.envelope_digest, (0, 32)),
        "key_id is 16 bytes or empty": _sized(entry.key_id, (0, 16)),
        "directory_digest is 32 bytes or empty": _sized(entry.directory_digest, (0, 32)),
        "root_hash is 32 bytes or empty": _sized(entry.root_hash, (0, 32)),
        "other_root_hash is 32 bytes or empty": _sized(entry.other_root_hash, (0, 32)),
        "sender is an office id": not entry.sender or _office_ok(entry.sender),
        "actor is an office id": not entry.actor or _office_ok(entry.actor),
        "recipients are office ids": all(_office_ok(r) for r in entry.recipients),
        "recipients are unique": len(set(entry.recipients)) == len(entry.recipients),
        f"at most {MAX_RECIPIENTS} recipients": len(entry.recipients) <= MAX_RECIPIENTS,
        "reason is a code (letters, digits, . _ : -)": not entry.reason
        or bool(_CODE.fullmatch(entry.reason)),
        f"case_ref is one line of at most {MAX_CASE_REF_CHARS} characters": _text_ok(
            entry.case_ref, MAX_CASE_REF_CHARS
        ),
        f"purpose is one line of at most {MAX_PURPOSE_CHARS} characters": _text_ok(
            entry.purpose, MAX_PURPOSE_CHARS
        ),
        f"log_origin is one line of at most {MAX_ORIGIN_CHARS} characters": _text_ok(
            entry.log_origin, MAX_ORIGIN_CHARS
        ),
        "sizes are not negative": min(entry.directory_version, entry.tree_size, entry.purged_before)
        >= 0,
        "sizes fit 63 bits": max(entry.directory_version, entry.tree_size, entry.purged_before)
        < 2**63,
    }
    return next((what for what, ok in checks.items() if not ok), "")


def _event_problems(entry: LogEntry) -> str:  # noqa: PLR0911 - one rule per event family
    event = entry.event
    if event in _ABOUT_A_MESSAGE and not entry.message_id:
        return "needs message_id"
    if event is EventType.REJECTED and not (entry.reason and entry.envelope_digest):
        return "needs reason and envelope_digest"
    if event is EventType.RETURNED and not entry.reason:
        return "needs reason"
    if event in _LINKS and not entry.related_message_id:
        return "needs related_message_id"
    if event is EventType.AUDIT_DECRYPTION and not (
        entry.actor and entry.purpose and entry.envelope_digest
    ):
        return "needs actor, purpose and envelope_digest"
    if event is EventType.DIRECTORY_LOADED and not (
        entry.directory_version and entry.directory_digest
    ):
        return "needs directory_version and directory_digest"
    if event in _KEY_EVENTS and not entry.key_id:
        return "needs key_id"
    if event in _CHECKPOINT_EVENTS and not (entry.log_origin and entry.root_hash):
        return "needs log_origin and root_hash"
    if event is EventType.FORK_ALARM and not entry.other_root_hash:
        return "needs other_root_hash"
    if event is EventType.ENVELOPES_PURGED and not entry.purged_before:
        return "needs purged_before"
    return ""


def _time_problem(name: str, moment: datetime) -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        return f"{name} is not an aware datetime"
    ms = to_ms(moment)
    if not 0 <= ms <= MAX_TIME_MS:
        return f"{name} is before 1970 or after 9999"
    if ms == 0 and name == "due_at":
        return "due_at is the epoch, which the encoding reads as no due time"
    return ""


def _problem(entry: LogEntry) -> str:
    return (
        _time_problem("time", entry.time)
        or (entry.due_at is not None and _time_problem("due_at", entry.due_at))
        or _field_problems(entry)
        or _event_problems(entry)
    )


# ---------------------------------------------------------------- wire


def _to_pb(entry: LogEntry) -> pb.LogEntry:
    return pb.LogEntry(
        version=ENTRY_VERSION,
        event=entry.event.value,  # type: ignore[arg-type]
        time_ms=entry.time_ms,
        message_id=entry.message_id,
        kind=0 if entry.kind is None else entry.kind.value,  # type: ignore[arg-type]
        sender=entry.sender,
        recipients=entry.recipients,
        envelope_digest=entry.envelope_digest,
        reason=entry.reason,
        case_ref=entry.case_ref,
        related_message_id=entry.related_message_id,
        due_at_ms=0 if entry.due_at is None else to_ms(entry.due_at),
        actor=entry.actor,
        purpose=entry.purpose,
        key_id=entry.key_id,
        directory_version=entry.directory_version,
        directory_digest=entry.directory_digest,
        log_origin=entry.log_origin,
        tree_size=entry.tree_size,
        root_hash=entry.root_hash,
        other_root_hash=entry.other_root_hash,
        purged_before=entry.purged_before,
    )


_EVENTS = frozenset(e.value for e in EventType)
_KINDS = frozenset(k.value for k in MessageKind)


def decode_entry(data: bytes) -> LogEntry:
    """The entry stored as ``data``; IntegrityError unless it is a canonical, valid entry."""
    if len(data) > MAX_ENTRY_BYTES:
        raise IntegrityError(f"entry is {len(data)} bytes, more than {MAX_ENTRY_BYTES}")
    message = pb.LogEntry()
    try:
        message.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError):
        raise IntegrityError("entry is not a valid protobuf LogEntry") from None
    if message.version != ENTRY_VERSION:
        raise IntegrityError(f"entry format version {message.version}, expected {ENTRY_VERSION}")
    if message.event not in _EVENTS:
        raise IntegrityError(f"entry event {message.event} is not known")
    if message.kind and message.kind not in _KINDS:
        raise IntegrityError(f"entry message kind {message.kind} is not known")
    if not 0 <= message.time_ms <= MAX_TIME_MS or not 0 <= message.due_at_ms <= MAX_TIME_MS:
        raise IntegrityError("entry time is out of range")
    try:
        entry = LogEntry(
            event=EventType(message.event),
            time=from_ms(message.time_ms),
            message_id=message.message_id,
            kind=MessageKind(message.kind) if message.kind else None,
            sender=message.sender,
            recipients=tuple(message.recipients),
            envelope_digest=message.envelope_digest,
            reason=message.reason,
            case_ref=message.case_ref,
            related_message_id=message.related_message_id,
            due_at=from_ms(message.due_at_ms) if message.due_at_ms else None,
            actor=message.actor,
            purpose=message.purpose,
            key_id=message.key_id,
            directory_version=message.directory_version,
            directory_digest=message.directory_digest,
            log_origin=message.log_origin,
            tree_size=message.tree_size,
            root_hash=message.root_hash,
            other_root_hash=message.other_root_hash,
            purged_before=message.purged_before,
        )
    except InputError as exc:
        raise IntegrityError(f"entry is not valid: {exc.diagnosis}") from None
    # Canonical: the parsed message, without unknown fields, re-encodes to the stored bytes.
    message.DiscardUnknownFields()
    if message.SerializeToString(deterministic=True) != data:
        raise IntegrityError("entry is not in canonical encoding")
    return entry
