"""The inbox: accepted envelopes (ciphertext only), their hand-over and receipt, the answers
this office gave, the authentic envelopes it rejected, and the replay memory built on both.
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from datetime import datetime
from typing import Any

from broker.envelope import MessageKind
from broker.exchange_log import LogEntry
from broker.office_store.outbox import OutboxStore
from broker.office_store.records import (
    DeliveryState,
    InboxRow,
    InboxState,
    Incoming,
    Outgoing,
    ReceiptEffect,
    RejectedRow,
    from_ms,
    maybe_ms,
    maybe_time,
    to_ms,
)

_INBOX_SELECT = (
    "SELECT message_id, sender, kind, digest, envelope, created_ms, expires_ms, received_ms,"
    " handed_over_ms, state, enquiry_id, case_ref, due_ms, related_message_id,"
    " receipt_message_id, answered_by, answered_ms FROM inbox"
)


def _inbox(row: Sequence[Any]) -> InboxRow:
    (mid, sender, kind, digest, envelope, created, expires, received, handed, state, enquiry_id,
     case_ref, due, related, receipt, answered_by, answered) = row  # fmt: skip
    return InboxRow(
        message_id=bytes(mid),
        sender=str(sender),
        kind=MessageKind(kind),
        digest=bytes(digest),
        envelope=bytes(envelope),
        created_at=from_ms(int(created)),
        expires_at=from_ms(int(expires)),
        received_at=from_ms(int(received)),
        handed_over_at=maybe_time(handed),
        state=InboxState(state),
        enquiry_id=str(enquiry_id),
        case_ref=str(case_ref),
        due_at=maybe_time(due),
        related_message_id=bytes(related or b""),
        receipt_message_id=bytes(receipt or b""),
        answered_by=bytes(answered_by or b""),
        answered_at=maybe_time(answered),
    )


class SeenIds(Container[bytes]):
    """The replay memory ``open_envelope`` asks: ids accepted (inbox) or rejected as authentic.
    Rejected ids are purged once their envelope has expired: expiry then refuses them anyway."""

    def __init__(self, store: InboxStore) -> None:
        self._store = store

    def __contains__(self, message_id: object) -> bool:
        if not isinstance(message_id, bytes):
            return False
        return (
            self._store.db.one(
                "SELECT 1 FROM inbox WHERE message_id = ?"
                " UNION ALL SELECT 1 FROM rejected WHERE message_id = ?",
                (message_id, message_id),
            )
            is not None
        )


class InboxStore(OutboxStore):
    """Inbox rows, rejections and the replay memory."""

    def seen(self) -> SeenIds:
        return SeenIds(self)

    def received(self, message_id: bytes) -> InboxRow | None:
        row = self.db.one(_INBOX_SELECT + " WHERE message_id = ?", (message_id,))
        return None if row is None else _inbox(row)

    def accept(
        self,
        incoming: Incoming,
        entries: Sequence[LogEntry],
        *,
        now: datetime,
        receipt: ReceiptEffect | None = None,
        answers: bytes | None = None,
    ) -> tuple[bool, DeliveryState | None]:
        """Record an accepted envelope with its log entries, in one durable transaction. A
        receipt updates the delivery it acknowledges; a response (``answers``: the enquiry's
        message id) marks that delivery answered. Returns (added, the delivery's new state);
        added is False, and nothing changes, when the message was already in the inbox."""
        with self.db.transaction():
            added = self.db.insert(
                "INSERT INTO inbox (message_id, sender, kind, digest, envelope, created_ms,"
                " expires_ms, received_ms, state, enquiry_id, case_ref, due_ms,"
                " related_message_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (message_id) DO NOTHING",
                (
                    incoming.message_id,
                    incoming.sender,
                    int(incoming.kind),
                    incoming.digest,
                    incoming.envelope,
                    to_ms(incoming.created_at),
                    to_ms(incoming.expires_at),
                    to_ms(now),
                    incoming.state.value,
                    incoming.enquiry_id,
                    incoming.case_ref,
                    maybe_ms(incoming.due_at),
                    incoming.related_message_id or None,
                ),
            )
            if not added:
                return False, None
            state = None
            if receipt is not None:
                state = self._apply_receipt(receipt, now)
            if answers is not None:
                state = self._apply_answer(answers, incoming.sender, incoming.message_id, now)
            self._journal(entries)
        return True, state

    def finish_hand_over(
        self,
        message_id: bytes,
        entries: Sequence[LogEntry],
        *,
        now: datetime,
        receipt: Outgoing | None,
    ) -> bool:
        """The message is in the office's spool: mark it handed over and queue its receipt,
        once. False (nothing changed) if it had been handed over already."""
        with self.db.transaction():
            changed = self.db.execute(
                "UPDATE inbox SET state = ?, handed_over_ms = ? WHERE message_id = ? AND state = ?",
                (InboxState.HANDED_OVER.value, to_ms(now), message_id, InboxState.RECEIVED.value),
            )
            if not changed:
                return False
            if receipt is not None:
                self._insert_outgoing(receipt, now)
                self.db.execute(
                    "UPDATE inbox SET receipt_message_id = ? WHERE message_id = ?",
                    (receipt.message_id, message_id),
                )
            self._journal(entries)
        return True

    def unfinished(self) -> list[InboxRow]:
        """Accepted messages not yet handed over (after a crash, or a failed hand-over)."""
        return [
            _inbox(r)
            for r in self.db.rows(
                _INBOX_SELECT + " WHERE state = ? ORDER BY received_ms",
                (InboxState.RECEIVED.value,),
            )
        ]

    def awaiting_answer(self) -> list[InboxRow]:
        """Enquiries received and handed over, not yet answered, soonest due first."""
        return [
            _inbox(r)
            for r in self.db.rows(
                _INBOX_SELECT + " WHERE kind = ? AND state IN (?, ?)"
                " ORDER BY due_ms IS NULL, due_ms, received_ms",
                (int(MessageKind.ENQUIRY), InboxState.RECEIVED.value, InboxState.HANDED_OVER.value),
            )
        ]

    def enquiries_received(self, enquiry_id: str) -> list[InboxRow]:
        """Received enquiries carrying ``enquiry_id``, newest first."""
        return [
            _inbox(r)
            for r in self.db.rows(
                _INBOX_SELECT + " WHERE kind = ? AND enquiry_id = ? ORDER BY received_ms DESC",
                (int(MessageKind.ENQUIRY), enquiry_id),
            )
        ]

    def queue_response(
        self,
        out: Outgoing,
        entries: Sequence[LogEntry],
        *,
        enquiry_message_id: bytes,
        now: datetime,
    ) -> None:
        """Queue our response and mark the enquiry it answers, in one transaction."""
        with self.db.transaction():
            self._insert_outgoing(out, now)
            self.db.execute(
                "UPDATE inbox SET state = ?, answered_by = ?, answered_ms = ? WHERE message_id = ?",
                (InboxState.ANSWERED.value, out.message_id, to_ms(now), enquiry_message_id),
            )
            self._journal(entries)

    def inbox_counts(self) -> dict[str, int]:
        rows = self.db.rows("SELECT state, count(*) FROM inbox GROUP BY state")
        return {str(state): int(n) for state, n in rows}

    def overdue_received(self, now: datetime) -> int:
        """Enquiries we received whose due time passed before we answered (for monitoring)."""
        row = self.db.one(
            "SELECT count(*) FROM inbox WHERE kind = ? AND state IN (?, ?)"
            " AND due_ms IS NOT NULL AND due_ms < ?",
            (
                int(MessageKind.ENQUIRY),
                InboxState.RECEIVED.value,
                InboxState.HANDED_OVER.value,
                to_ms(now),
            ),
        )
        return 0 if row is None else int(row[0])

    # ------------------------------------------------------------ rejections

    def record_rejection(
        self,
        entries: Sequence[LogEntry],
        *,
        now: datetime,
        authentic: RejectedRow | None = None,
        expires_at: datetime | None = None,
        receipt: Outgoing | None = None,
    ) -> None:
        """Log a rejection; an authentic one is remembered (replay memory, until
        ``expires_at``) with the REJECTED receipt queued for its sender."""
        with self.db.transaction():
            if authentic is not None and expires_at is not None:
                self.db.execute(
                    "INSERT INTO rejected (message_id, digest, sender, reason, rejected_ms,"
                    " expires_ms, receipt_message_id) VALUES (?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (message_id) DO NOTHING",
                    (
                        authentic.message_id,
                        authentic.digest,
                        authentic.sender,
                        authentic.reason,
                        to_ms(now),
                        to_ms(expires_at),
                        receipt.message_id if receipt else None,
                    ),
                )
            if receipt is not None:
                self._insert_outgoing(receipt, now)
            self._journal(entries)

    def rejected(self, message_id: bytes) -> RejectedRow | None:
        row = self.db.one(
            "SELECT message_id, digest, sender, reason, receipt_message_id FROM rejected"
            " WHERE message_id = ?",
            (message_id,),
        )
        if row is None:
            return None
        mid, digest, sender, reason, receipt = row
        return RejectedRow(
            bytes(mid), bytes(digest), str(sender), str(reason), bytes(receipt or b"")
        )

    def purge_rejected(self, before: datetime) -> int:
        """Forget rejected ids whose envelopes expired before ``before`` (expiry + skew)."""
        with self.db.transaction():
            return self.db.execute("DELETE FROM rejected WHERE expires_ms < ?", (to_ms(before),))
