"""What the office store holds, as frozen values, and how a delivery's state may move. Pure.

A *delivery* is one outgoing message to one recipient (an alert to three offices is one outbox
row and three deliveries). Its state only moves forward::

    queued ──confirmed──▶ published ──receipt──▶ delivered ──response──▶ answered
      │  ╲                   │   ╲                   │
      │   returned (no route) │    rejected (receipt) overdue (due passed, no answer)
      └── expired (validity ended before a receipt) ─┘

``answered`` is reachable from every state (an answer settles everything); a late receipt or
confirm never moves a delivery back. Each event's time is kept in its own column whatever the
state, so ``status`` can show the whole timeline. Whether a delivery still has to be published
is a separate flag (``pending``): an enquiry overdue before it could leave still goes out.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from broker.envelope import MessageKind

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def to_ms(moment: datetime) -> int:
    return (moment - EPOCH) // _MS


def from_ms(ms: int) -> datetime:
    return EPOCH + ms * _MS


def maybe_ms(moment: datetime | None) -> int | None:
    return None if moment is None else to_ms(moment)


def maybe_time(ms: int | None) -> datetime | None:
    return None if ms is None else from_ms(int(ms))


class DeliveryState(enum.StrEnum):
    """Where one outgoing message to one recipient stands (stable: status output uses it)."""

    QUEUED = "queued"  # durable in the outbox, not yet confirmed by the broker
    PUBLISHED = "published"  # the broker confirmed it: stored in the recipient's inbox queue
    RETURNED = "returned"  # the broker had no queue for it (reason: its reply text)
    DELIVERED = "delivered"  # the recipient's signed receipt says it was handed over
    REJECTED = "rejected"  # the recipient's signed receipt says it was rejected (reason)
    ANSWERED = "answered"  # the recipient's response to this enquiry arrived
    OVERDUE = "overdue"  # an enquiry's due time passed without an answer
    EXPIRED = "expired"  # its validity ended before any receipt: it can no longer be opened


class DeliveryEvent(enum.Enum):
    CONFIRMED = "confirmed"
    RETURNED = "returned"
    DELIVERED = "delivered"
    REJECTED = "rejected"
    ANSWERED = "answered"
    OVERDUE = "overdue"
    EXPIRED = "expired"


_S = DeliveryState
_FROM: dict[DeliveryEvent, frozenset[DeliveryState]] = {
    DeliveryEvent.CONFIRMED: frozenset({_S.QUEUED}),
    DeliveryEvent.RETURNED: frozenset({_S.QUEUED}),
    DeliveryEvent.DELIVERED: frozenset({_S.QUEUED, _S.PUBLISHED, _S.RETURNED, _S.EXPIRED}),
    DeliveryEvent.REJECTED: frozenset(
        {_S.QUEUED, _S.PUBLISHED, _S.RETURNED, _S.EXPIRED, _S.OVERDUE}
    ),
    DeliveryEvent.ANSWERED: frozenset(set(_S) - {_S.ANSWERED}),
    DeliveryEvent.OVERDUE: frozenset({_S.QUEUED, _S.PUBLISHED, _S.DELIVERED}),
    DeliveryEvent.EXPIRED: frozenset({_S.QUEUED, _S.PUBLISHED}),
}
_TO: dict[DeliveryEvent, DeliveryState] = {
    DeliveryEvent.CONFIRMED: _S.PUBLISHED,
    DeliveryEvent.RETURNED: _S.RETURNED,
    DeliveryEvent.DELIVERED: _S.DELIVERED,
    DeliveryEvent.REJECTED: _S.REJECTED,
    DeliveryEvent.ANSWERED: _S.ANSWERED,
    DeliveryEvent.OVERDUE: _S.OVERDUE,
    DeliveryEvent.EXPIRED: _S.EXPIRED,
}
# What still needs the operator's attention (``liaison status --overdue``).
NEEDS_CHASING = frozenset({_S.OVERDUE, _S.RETURNED, _S.REJECTED, _S.EXPIRED})


def advance(state: DeliveryState, event: DeliveryEvent) -> DeliveryState:
    """The state after ``event``; unchanged when the event comes too late to matter."""
    return _TO[event] if state in _FROM[event] else state


def states_before(event: DeliveryEvent) -> frozenset[DeliveryState]:
    """The states ``event`` moves a delivery out of (for SQL ``WHERE state IN (...)``)."""
    return _FROM[event]


class InboxState(enum.StrEnum):
    RECEIVED = "received"  # durable here; not yet handed over to the office's system
    HANDED_OVER = "handed_over"  # in the office's spool; receipt queued
    ANSWERED = "answered"  # an enquiry this office has responded to
    NOTED = "noted"  # a receipt: applied to the outbox, nothing to hand over


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A sealed envelope about to enter the outbox, with what status and chasing need."""

    message_id: bytes
    kind: MessageKind
    digest: bytes
    envelope: bytes = field(repr=False)
    recipients: tuple[str, ...]
    created_at: datetime
    expires_at: datetime
    enquiry_id: str = ""
    case_ref: str = field(default="", repr=False)
    due_at: datetime | None = None
    # A receipt: the message it acknowledges; a response: the enquiry's message id.
    related_message_id: bytes = b""


@dataclass(frozen=True, slots=True)
class Incoming:
    """An accepted envelope about to enter the inbox (ciphertext only: never its plaintext)."""

    message_id: bytes
    sender: str
    kind: MessageKind
    digest: bytes
    envelope: bytes = field(repr=False)
    created_at: datetime
    expires_at: datetime
    state: InboxState
    enquiry_id: str = ""
    case_ref: str = field(default="", repr=False)
    due_at: datetime | None = None
    related_message_id: bytes = b""


@dataclass(frozen=True, slots=True)
class InboxRow:
    """A received message as the store holds it."""

    message_id: bytes
    sender: str
    kind: MessageKind
    digest: bytes
    envelope: bytes = field(repr=False)
    created_at: datetime
    expires_at: datetime
    received_at: datetime
    handed_over_at: datetime | None
    state: InboxState
    enquiry_id: str
    case_ref: str = field(repr=False)
    due_at: datetime | None
    related_message_id: bytes
    receipt_message_id: bytes
    answered_by: bytes
    answered_at: datetime | None


@dataclass(frozen=True, slots=True)
class RejectedRow:
    """An authentic envelope this office rejected: its id stays "seen" until it expires."""

    message_id: bytes
    digest: bytes
    sender: str
    reason: str
    receipt_message_id: bytes


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    """One outgoing message to one recipient, with its timeline."""

    message_id: bytes
    recipient: str
    kind: MessageKind
    state: DeliveryState
    reason: str
    attempts: int
    enquiry_id: str
    case_ref: str = field(repr=False)
    created_at: datetime
    expires_at: datetime
    due_at: datetime | None
    related_message_id: bytes
    times: dict[str, datetime]  # event name ("queued", "published", ...) -> when


@dataclass(frozen=True, slots=True)
class Publishable:
    """A delivery the publisher should send now."""

    message_id: bytes
    recipient: str
    envelope: bytes = field(repr=False)
    first_attempt: bool
    attempts: int


@dataclass(frozen=True, slots=True)
class ReceiptEffect:
    """What a received receipt says about one of our deliveries."""

    message_id: bytes  # the acknowledged message (ours)
    recipient: str  # the office that sent the receipt
    envelope_digest: bytes
    rejected_reason: str  # "" for delivered
    receipt_message_id: bytes

    @property
    def event(self) -> DeliveryEvent:
        return DeliveryEvent.REJECTED if self.rejected_reason else DeliveryEvent.DELIVERED
