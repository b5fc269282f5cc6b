"""What to do with one delivery from the inbox queue: the daemon's pure decision core.

``examine`` takes the delivery's facts (body, routing key, the broker-validated user id), the
office's keys, directory and limits, the time, and the store's answers (``Known``: was this
message id accepted or rejected before, and the replay memory), and returns a verdict:

* ``Accepted``   a new, valid message: record it, hand it over, ack, receipt it;
* ``Duplicate``  these exact bytes were accepted before: finish what is unfinished, send the
                 original receipt again, ack; never a second hand-over;
* ``Rejected``   record why, dead-letter it; a REJECTED receipt goes back when the signature
                 proved who sent it (``receipt_due``); ``repeat`` when these exact bytes were
                 rejected before (nothing new to record).

The checks run in this order: the AMQP ``user_id`` must be set; the routing key must name
this office as recipient and ``office_of_user(user_id)`` as sender; the size; the header's
well-formedness; the envelope's sender must be that same office (a forged sender, even with a
valid signature, is refused); the duplicate check; then ``open_message`` (signature, times,
replay, our recipient entry, decryption, the agreements). ``plan_acceptance`` then says what an
accepted message changes. No I/O, no clock: everything arrives as a parameter.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Container
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

from broker.directory import Directory
from broker.envelope import Header, Limits, MessageKind, peek_header, verify_envelope
from broker.errors import PeerError, RejectReason
from broker.exchange_log import EventType, LogEntry, entry_for_envelope
from broker.keys.model import OfficeKeys
from broker.letters import OpenedMessage, open_message
from broker.model import CaseEnquiry, CaseResponse, Receipt, ReceiptStatus
from broker.model.checkpoint_exchange import CheckpointExchange
from broker.office_store.records import (
    InboxRow,
    InboxState,
    Incoming,
    ReceiptEffect,
    RejectedRow,
)
from broker.topology import office_of_user, parse_routing_key

# Messages between daemons, never receipted (a receipt of a receipt would never end).
_NOT_RECEIPTED = frozenset({MessageKind.RECEIPT, MessageKind.CHECKPOINT})


class TransportReason(enum.StrEnum):
    """Why a delivery was refused before its envelope was looked at (log reason codes)."""

    NO_USER_ID = "no-user-id"  # the broker validates user_id only when it is set
    WRONG_ROUTE = "wrong-route"  # the routing key does not name (publisher, us)
    SENDER_MISMATCH = "sender-mismatch"  # the envelope's sender is not the publisher


@dataclass(frozen=True, slots=True)
class Arrival:
    """One delivery's facts as the broker gave them."""

    body: bytes = field(repr=False)
    routing_key: str
    user_id: str | None
    redelivered: bool = False


@dataclass(frozen=True, slots=True)
class Context:
    """Who we are and what we trust, at the moment of the decision."""

    office_id: str
    keys: OfficeKeys = field(repr=False)
    directory: Directory = field(repr=False)
    limits: Limits
    user_prefix: str = ""


class Known(Protocol):
    """The store's answers (``broker.office_store.OfficeStore`` provides them)."""

    def received(self, message_id: bytes) -> InboxRow | None: ...

    def rejected(self, message_id: bytes) -> RejectedRow | None: ...

    def seen(self) -> Container[bytes]: ...


@dataclass(frozen=True, slots=True)
class Accepted:
    letter: OpenedMessage = field(repr=False)
    digest: bytes

    @property
    def header(self) -> Header:
        return self.letter.opened.header


@dataclass(frozen=True, slots=True)
class Duplicate:
    row: InboxRow


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: str  # a RejectReason or TransportReason value: the log's reason code
    detail: str  # for the operator; never case content
    digest: bytes  # SHA-256 of the body
    header: Header | None = None  # when well-formed (verified if ``authentic``)
    peer_reason: RejectReason | None = None
    authentic: bool = False  # the signature verified: the header's sender really sent it
    accepted_before: bool = False  # this message id is in our inbox (accepted earlier)
    repeat: RejectedRow | None = None  # these exact bytes were rejected before

    @property
    def receipt_due(self) -> bool:
        """A REJECTED receipt goes to a proven sender, never for a receipt or a checkpoint,
        never twice, and never for a message we accepted before (its DELIVERED receipt stands)."""
        return (
            self.authentic
            and self.peer_reason is not None
            and self.header is not None
            and self.header.kind not in _NOT_RECEIPTED
            and not self.accepted_before
            and self.repeat is None
        )

    @property
    def remembered(self) -> bool:
        """Whether the id joins the replay memory: only proven ones (an unproven id could be a
        forgery made to block the real message)."""
        return self.authentic and not self.accepted_before and self.repeat is None


Verdict = Accepted | Duplicate | Rejected


def examine(arrival: Arrival, context: Context, known: Known, *, now: datetime) -> Verdict:
    """Decide about one delivery (see the module docstring for the order of the checks)."""
    body = arrival.body
    digest = hashlib.sha256(body).digest()
    try:
        header: Header | None = peek_header(body, limits=context.limits)
        malformed: PeerError | None = None
    except PeerError as exc:
        header, malformed = None, exc
    refused = _check_transport(arrival, context, digest, header)
    if refused is not None:
        return refused
    if header is None or malformed is not None:  # oversize or not well-formed
        reason = malformed.reason if malformed is not None else RejectReason.MALFORMED
        detail = malformed.detail if malformed is not None else ""
        return Rejected(reason.value, detail, digest, None, reason)
    if header.sender != office_of_user(str(arrival.user_id), user_prefix=context.user_prefix):
        detail = f"published by user {arrival.user_id}, signed as {header.sender}"
        return Rejected(TransportReason.SENDER_MISMATCH.value, detail, digest, header)
    before = known.received(header.message_id)
    again = _again(header, digest, before, known, skew=context.limits.max_clock_skew, now=now)
    if again is not None:
        return again
    try:
        letter = open_message(
            body,
            keys=context.keys,
            directory=context.directory,
            now=now,
            seen=known.seen(),
            limits=context.limits,
        )
    except PeerError as exc:
        return _rejection(exc, body, digest, header, context, accepted_before=before is not None)
    return Accepted(letter, digest)


def _again(
    header: Header,
    digest: bytes,
    before: InboxRow | None,
    known: Known,
    *,
    skew: timedelta,
    now: datetime,
) -> Duplicate | Rejected | None:
    """The very same bytes again: accepted (within their validity) or rejected before."""
    if before is not None and before.digest == digest and now < header.expires_at + skew:
        return Duplicate(before)
    repeat = known.rejected(header.message_id)
    if repeat is not None and repeat.digest == digest:
        return Rejected(repeat.reason, "rejected before", digest, header, repeat=repeat)
    return None


def _check_transport(
    arrival: Arrival, context: Context, digest: bytes, header: Header | None
) -> Rejected | None:
    """The broker's facts: a validated publisher, and a routing key naming it and us."""
    if arrival.user_id is None:
        return Rejected(TransportReason.NO_USER_ID.value, "no user_id", digest, header)
    publisher = office_of_user(arrival.user_id, user_prefix=context.user_prefix)
    if publisher is None or parse_routing_key(arrival.routing_key) != (
        publisher,
        context.office_id,
    ):
        detail = f"routing key {arrival.routing_key[:120]!r} from user {arrival.user_id[:64]!r}"
        return Rejected(TransportReason.WRONG_ROUTE.value, detail, digest, header)
    return None


def _rejection(
    exc: PeerError,
    body: bytes,
    digest: bytes,
    header: Header,
    context: Context,
    *,
    accepted_before: bool,
) -> Rejected:
    try:
        verify_envelope(body, context.directory, limits=context.limits)
        authentic = True
    except PeerError:
        authentic = False
    return Rejected(
        exc.reason.value,
        exc.detail,
        digest,
        header,
        exc.reason,
        authentic=authentic,
        accepted_before=accepted_before,
    )


# ---------------------------------------------------------------- what an accepted message changes


@dataclass(frozen=True, slots=True)
class AcceptancePlan:
    """The durable step for an accepted message: the inbox row, its log entries, its effect
    on our outbox, and whether it is handed over and receipted."""

    incoming: Incoming
    entries: tuple[LogEntry, ...]
    receipt_effect: ReceiptEffect | None = None
    answers: bytes | None = None  # a response: our enquiry's message id
    hand_over: bool = False  # enquiries and responses go to the office's system
    receipted: bool = False  # every message but a receipt gets a receipt


def plan_acceptance(
    accepted: Accepted, body: bytes, *, now: datetime, enquiry_message_id: bytes | None
) -> AcceptancePlan:
    """``enquiry_message_id``: for a response, the store's answer to "which enquiry of ours,
    sent to this responder, carries the response's enquiry id" (None if none)."""
    header, message, digest = accepted.header, accepted.letter.message, accepted.digest
    received = entry_for_envelope(EventType.RECEIVED, header, digest, time=now)
    base = Incoming(
        message_id=header.message_id,
        sender=header.sender,
        kind=header.kind,
        digest=digest,
        envelope=body,
        created_at=header.created_at,
        expires_at=header.expires_at,
        state=InboxState.RECEIVED,
    )
    if isinstance(message, CaseEnquiry):
        incoming = replace(
            base,
            enquiry_id=message.enquiry_id,
            case_ref=message.case_reference,
            due_at=message.response_due,
        )
        entry = entry_for_envelope(
            EventType.RECEIVED, header, digest, time=now, case_ref=message.case_reference
        )
        return AcceptancePlan(incoming, (entry,), hand_over=True, receipted=True)
    if isinstance(message, CaseResponse):
        incoming = replace(
            base, enquiry_id=message.enquiry_id, related_message_id=enquiry_message_id or b""
        )
        entries: tuple[LogEntry, ...] = (received,)
        if enquiry_message_id is not None:
            answered = entry_for_envelope(
                EventType.RESPONSE_RECEIVED,
                header,
                digest,
                time=now,
                related_message_id=enquiry_message_id,
            )
            entries = (received, answered)
        return AcceptancePlan(
            incoming, entries, answers=enquiry_message_id, hand_over=True, receipted=True
        )
    if isinstance(message, CheckpointExchange):  # the witness acts on it (inbound.py)
        return AcceptancePlan(replace(base, state=InboxState.NOTED), (received,))
    return _receipt_plan(accepted, message, base, received, now)


def _receipt_plan(
    accepted: Accepted, receipt: Receipt, base: Incoming, received: LogEntry, now: datetime
) -> AcceptancePlan:
    rejected = receipt.status is ReceiptStatus.REJECTED
    reason = receipt.reject_reason.value if rejected and receipt.reject_reason else ""
    noted = entry_for_envelope(
        EventType.RECEIPT_RECEIVED,
        accepted.header,
        accepted.digest,
        time=now,
        reason=reason,
        related_message_id=receipt.message_id,
    )
    effect = ReceiptEffect(
        message_id=receipt.message_id,
        recipient=accepted.header.sender,
        envelope_digest=receipt.envelope_digest,
        rejected_reason=(reason or "rejected") if rejected else "",
        receipt_message_id=accepted.header.message_id,
    )
    incoming = replace(base, state=InboxState.NOTED, related_message_id=receipt.message_id)
    return AcceptancePlan(incoming, (received, noted), receipt_effect=effect)


def receipt_for(
    header: Header,
    digest: bytes,
    *,
    office_id: str,
    now: datetime,
    reason: RejectReason | None = None,
) -> Receipt:
    """Our signed answer about one envelope: DELIVERED, or REJECTED with the reason code."""
    return Receipt(
        message_id=header.message_id,
        envelope_digest=digest,
        status=ReceiptStatus.DELIVERED if reason is None else ReceiptStatus.REJECTED,
        reject_reason=reason,
        receiving_office=office_id,
        received_at=now,
    )


def rejection_entry(rejected: Rejected, *, now: datetime) -> LogEntry:
    """The REJECTED entry: the header's metadata when it was well-formed, else the digest."""
    if rejected.header is not None:
        return entry_for_envelope(
            EventType.REJECTED, rejected.header, rejected.digest, time=now, reason=rejected.reason
        )
    return LogEntry(
        event=EventType.REJECTED, time=now, envelope_digest=rejected.digest, reason=rejected.reason
    )
