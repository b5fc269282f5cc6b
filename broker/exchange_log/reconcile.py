"""``audit reconcile``: compare two offices' logs on every message between them. Pure.

For each direction X -> Y, a message is *sent* when X's log has PUBLISHED for it (sender X, Y
among the recipients) and *received* when Y's log has RECEIVED or REJECTED for it (sender X).
The findings:

* ``sent-not-received``: published by X, nothing in Y's log (``in-flight`` instead when it was
  published less than ``grace`` before ``now``);
* ``received-not-sent``: in Y's log as from X, never published by X;
* ``digest-mismatch``: both logged it, with different envelope digests;
* ``receipt-missing``: Y accepted an enquiry, response or alert but X logged no RECEIPT_RECEIVED
  for it (the detail says whether Y logged RECEIPT_SENT);
* ``overdue`` (informational): an enquiry X submitted with a due time that passed before ``now``
  with no RESPONSE_RECEIVED from Y (the detail says whether Y logged RESPONSE_SENT).

With each received message come the time differences: publish-to-receive latency and
publish-to-receipt round trip, in milliseconds of the two offices' clocks.
"""

from __future__ import annotations

import enum
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from broker.envelope import MessageKind
from broker.exchange_log.entry import EventType, LogEntry, to_ms

_NEEDS_RECEIPT = frozenset({MessageKind.ENQUIRY, MessageKind.RESPONSE, MessageKind.ALERT})


class FindingCode(enum.StrEnum):
    SENT_NOT_RECEIVED = "sent-not-received"
    RECEIVED_NOT_SENT = "received-not-sent"
    DIGEST_MISMATCH = "digest-mismatch"
    RECEIPT_MISSING = "receipt-missing"
    OVERDUE = "overdue"
    IN_FLIGHT = "in-flight"


# Codes that mean the logs disagree (exit code 30); overdue and in-flight are information.
DISAGREEMENTS = frozenset(
    {
        FindingCode.SENT_NOT_RECEIVED,
        FindingCode.RECEIVED_NOT_SENT,
        FindingCode.DIGEST_MISMATCH,
        FindingCode.RECEIPT_MISSING,
    }
)


@dataclass(frozen=True, slots=True)
class Finding:
    code: FindingCode
    message_id: bytes
    sender: str
    recipient: str
    detail: str
    entry_sender_log: int | None = None  # the entry's index in the sender's log
    entry_recipient_log: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code.value,
            "message_id": self.message_id.hex(),
            "sender": self.sender,
            "recipient": self.recipient,
            "detail": self.detail,
            "sender_log_entry": self.entry_sender_log,
            "recipient_log_entry": self.entry_recipient_log,
        }


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message both sides logged: when it left, arrived, and was acknowledged."""

    message_id: bytes
    sender: str
    recipient: str
    kind: str
    published_ms: int
    received_ms: int
    receipt_ms: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id.hex(),
            "sender": self.sender,
            "recipient": self.recipient,
            "kind": self.kind,
            "latency_ms": self.received_ms - self.published_ms,
            "receipt_round_trip_ms": None
            if self.receipt_ms is None
            else self.receipt_ms - self.published_ms,
        }


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    office_a: str
    office_b: str
    findings: tuple[Finding, ...]
    deliveries: tuple[Delivery, ...] = field(repr=False)

    @property
    def agree(self) -> bool:
        return not any(f.code in DISAGREEMENTS for f in self.findings)

    def latency_summary(self) -> dict[str, int | None]:
        values = sorted(d.received_ms - d.published_ms for d in self.deliveries)
        if not values:
            return {"count": 0, "min_ms": None, "median_ms": None, "max_ms": None}
        return {
            "count": len(values),
            "min_ms": values[0],
            "median_ms": int(statistics.median(values)),
            "max_ms": values[-1],
        }

    def to_json(self) -> dict[str, Any]:
        counts: dict[str, int] = {code.value: 0 for code in FindingCode}
        for finding in self.findings:
            counts[finding.code.value] += 1
        return {
            "offices": [self.office_a, self.office_b],
            "agree": self.agree,
            "counts": counts,
            "findings": [f.to_json() for f in self.findings],
            "latency": self.latency_summary(),
            "deliveries": [d.to_json() for d in self.deliveries],
        }


@dataclass(slots=True)
class _Side:
    """What one office logged about messages with one partner, by message id."""

    office: str
    published: dict[bytes, tuple[int, LogEntry]] = field(default_factory=dict)
    submitted: dict[bytes, tuple[int, LogEntry]] = field(default_factory=dict)
    received: dict[bytes, tuple[int, LogEntry]] = field(default_factory=dict)
    receipts_received: dict[bytes, tuple[int, LogEntry]] = field(default_factory=dict)
    receipts_sent: dict[bytes, tuple[int, LogEntry]] = field(default_factory=dict)
    responses_received: dict[bytes, tuple[int, LogEntry]] = field(default_factory=dict)
    responses_sent: dict[bytes, tuple[int, LogEntry]] = field(default_factory=dict)


# Keyed by their own message id; the other events by the message they acknowledge or answer.
_BY_ID = frozenset(
    {EventType.PUBLISHED, EventType.SUBMITTED, EventType.RECEIVED, EventType.REJECTED}
)


def _side(office: str, partner: str, entries: Iterable[tuple[int, LogEntry]]) -> _Side:
    side = _Side(office)
    outgoing = {
        EventType.PUBLISHED: side.published,
        EventType.SUBMITTED: side.submitted,
        EventType.RECEIPT_SENT: side.receipts_sent,
        EventType.RESPONSE_SENT: side.responses_sent,
    }
    incoming = {
        EventType.RECEIVED: side.received,
        EventType.REJECTED: side.received,
        EventType.RECEIPT_RECEIVED: side.receipts_received,
        EventType.RESPONSE_RECEIVED: side.responses_received,
    }
    for index, entry in entries:
        if entry.event in outgoing and partner in entry.recipients:
            key = entry.message_id if entry.event in _BY_ID else entry.related_message_id
            outgoing[entry.event].setdefault(key, (index, entry))
        elif entry.event in incoming and entry.sender == partner:
            key = entry.message_id if entry.event in _BY_ID else entry.related_message_id
            if key:
                incoming[entry.event].setdefault(key, (index, entry))
    return side


def _direction(
    x: _Side, y: _Side, now: datetime, grace: timedelta
) -> tuple[list[Finding], list[Delivery]]:
    findings: list[Finding] = []
    deliveries: list[Delivery] = []
    now_ms, grace_ms = to_ms(now), grace // timedelta(milliseconds=1)
    for mid, (sent_at, sent) in x.published.items():
        got = y.received.get(mid)
        if got is None:
            fresh = now_ms - sent.time_ms < grace_ms
            code = FindingCode.IN_FLIGHT if fresh else FindingCode.SENT_NOT_RECEIVED
            detail = f"published at {sent.time.isoformat()}; {y.office} logged nothing for it"
            findings.append(Finding(code, mid, x.office, y.office, detail, sent_at, None))
            continue
        got_at, received = got
        if received.envelope_digest != sent.envelope_digest:
            detail = (
                f"{x.office} published envelope {sent.envelope_digest.hex()[:16]}..., "
                f"{y.office} logged {received.envelope_digest.hex()[:16]}..."
            )
            findings.append(
                Finding(
                    FindingCode.DIGEST_MISMATCH, mid, x.office, y.office, detail, sent_at, got_at
                )
            )
        receipt = x.receipts_received.get(mid)
        if receipt is None and received.event is EventType.RECEIVED and sent.kind in _NEEDS_RECEIPT:
            issued = y.receipts_sent.get(mid)
            detail = (
                f"{y.office} logged a receipt sent at {issued[1].time.isoformat()}, "
                f"{x.office} never logged it"
                if issued
                else f"{y.office} accepted it but logged no receipt"
            )
            findings.append(
                Finding(
                    FindingCode.RECEIPT_MISSING, mid, x.office, y.office, detail, sent_at, got_at
                )
            )
        deliveries.append(
            Delivery(
                mid,
                x.office,
                y.office,
                sent.kind.name.lower() if sent.kind else "",
                sent.time_ms,
                received.time_ms,
                None if receipt is None else receipt[1].time_ms,
            )
        )
    for mid, (got_at, received) in y.received.items():
        if mid not in x.published:
            detail = f"{y.office} logged it as from {x.office} at {received.time.isoformat()}"
            findings.append(
                Finding(
                    FindingCode.RECEIVED_NOT_SENT, mid, x.office, y.office, detail, None, got_at
                )
            )
    for mid, (index, submitted) in x.submitted.items():
        due = submitted.due_at
        if due is None or submitted.kind is not MessageKind.ENQUIRY or mid in x.responses_received:
            continue
        if to_ms(due) < now_ms:
            answered = y.responses_sent.get(mid)
            detail = f"due {due.isoformat()}; " + (
                f"{y.office} logged a response sent at {answered[1].time.isoformat()}"
                if answered
                else f"{y.office} logged no response"
            )
            findings.append(Finding(FindingCode.OVERDUE, mid, x.office, y.office, detail, index))
    return findings, deliveries


def reconcile(
    office_a: str,
    entries_a: Iterable[tuple[int, LogEntry]],
    office_b: str,
    entries_b: Iterable[tuple[int, LogEntry]],
    *,
    now: datetime,
    grace: timedelta = timedelta(0),
) -> ReconcileReport:
    """Compare what ``office_a`` and ``office_b`` logged about the messages between them."""
    a = _side(office_a, office_b, entries_a)
    b = _side(office_b, office_a, entries_b)
    found_ab, delivered_ab = _direction(a, b, now, grace)
    found_ba, delivered_ba = _direction(b, a, now, grace)
    findings = sorted(found_ab + found_ba, key=lambda f: (f.code.value, f.sender, f.message_id))
    deliveries = sorted(delivered_ab + delivered_ba, key=lambda d: (d.published_ms, d.message_id))
    return ReconcileReport(office_a, office_b, tuple(findings), tuple(deliveries))
