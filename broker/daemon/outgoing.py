"""Sealing what leaves this office, with what the outbox and the exchange log need. Pure.

``seal_outgoing`` checks the agreements and seals (``broker.letters.seal_message``; a refusal is
``PolicyRefused`` naming the rule, before anything is sealed) and returns the outbox value;
``submitted_entries`` and ``receipt_sent_entry`` are the log entries that go with it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from broker.directory import Directory
from broker.envelope import Header, Limits, MessageKind, peek_header
from broker.exchange_log import EventType, LogEntry, entry_for_envelope
from broker.keys.model import OfficeKeys
from broker.letters import DEFAULT_LIFETIME, seal_message
from broker.messages import Message
from broker.model import CaseEnquiry, CaseResponse
from broker.office_store.records import Outgoing


@dataclass(frozen=True, slots=True)
class Sealed:
    """A sealed message: the outbox value and the header it was sealed with."""

    outgoing: Outgoing
    header: Header = field(repr=False)


def seal_outgoing(
    message: Message,
    *,
    keys: OfficeKeys,
    directory: Directory,
    now: datetime,
    limits: Limits,
    to: Sequence[str] = (),
    related_message_id: bytes = b"",
    lifetime: timedelta = DEFAULT_LIFETIME,
    rng: Callable[[int], bytes] = os.urandom,
) -> Sealed:
    """Check the agreements and seal ``message`` for its addressees."""
    envelope = seal_message(
        message,
        sender=keys,
        directory=directory,
        now=now,
        to=to,
        lifetime=min(lifetime, limits.max_lifetime),
        rng=rng,
        limits=limits,
    )
    header = peek_header(envelope, limits=limits)
    enquiry_id, case_ref, due = "", "", None
    if isinstance(message, CaseEnquiry):
        enquiry_id, case_ref, due = message.enquiry_id, message.case_reference, message.response_due
    elif isinstance(message, CaseResponse):
        enquiry_id = message.enquiry_id
    outgoing = Outgoing(
        message_id=header.message_id,
        kind=header.kind,
        digest=hashlib.sha256(envelope).digest(),
        envelope=envelope,
        recipients=tuple(r.office_id for r in header.recipients),
        created_at=header.created_at,
        expires_at=header.expires_at,
        enquiry_id=enquiry_id,
        case_ref=case_ref,
        due_at=due,
        related_message_id=related_message_id,
    )
    return Sealed(outgoing, header)


def submitted_entries(sealed: Sealed, *, now: datetime) -> list[LogEntry]:
    """SUBMITTED for anything a person sends; a response also RESPONSE_SENT, linked to the
    enquiry's message id."""
    out, header = sealed.outgoing, sealed.header
    link = out.related_message_id
    entries = [
        entry_for_envelope(
            EventType.SUBMITTED,
            header,
            out.digest,
            time=now,
            case_ref=out.case_ref,
            due_at=out.due_at,
            related_message_id=link,
        )
    ]
    if header.kind is MessageKind.RESPONSE and link:
        entries.append(
            entry_for_envelope(
                EventType.RESPONSE_SENT, header, out.digest, time=now, related_message_id=link
            )
        )
    return entries


def receipt_sent_entry(sealed: Sealed, *, acknowledged: bytes, now: datetime) -> LogEntry:
    """RECEIPT_SENT for a receipt queued about message ``acknowledged``."""
    return entry_for_envelope(
        EventType.RECEIPT_SENT,
        sealed.header,
        sealed.outgoing.digest,
        time=now,
        related_message_id=acknowledged,
    )
