"""The outbox: sealed envelopes waiting to go, and one delivery per recipient with its timeline.

Every method is one transaction; each that changes a delivery also journals the exchange-log
entries describing the change (``JournalStore._journal``), so the change and its log entries
commit together.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from broker.envelope import MessageKind
from broker.exchange_log import EventType, LogEntry
from broker.office_store.journal import JournalStore
from broker.office_store.records import (
    DeliveryEvent,
    DeliveryRow,
    DeliveryState,
    Outgoing,
    Publishable,
    ReceiptEffect,
    advance,
    from_ms,
    maybe_ms,
    maybe_time,
    states_before,
    to_ms,
)

_REASON_CHARS = re.compile(r"[^A-Za-z0-9._:-]+")
_DASHES = re.compile(r"-{2,}")
# The timeline columns of a delivery, in the order events usually happen.
TIME_COLUMNS = (
    "queued",
    "published",
    "confirmed",
    "returned",
    "delivered",
    "rejected",
    "answered",
    "overdue",
    "expired",
)
_DELIVERY_SELECT = (
    "SELECT d.message_id, d.recipient, o.kind, d.state, d.reason, d.attempts, o.enquiry_id,"
    " o.case_ref, o.created_ms, o.expires_ms, o.due_ms, o.related_message_id, d.queued_ms,"
    " d.published_ms, d.confirmed_ms, d.returned_ms, d.delivered_ms, d.rejected_ms,"
    " d.answered_ms, d.overdue_ms, d.expired_ms"
    " FROM deliveries d JOIN outbox o ON o.message_id = d.message_id"
)
# A parameter holding a JSON list, for "column IN (...)" without building SQL from strings.
IN_LIST = "(SELECT value FROM json_each(?))"


def reason_code(text: str, default: str = "unspecified") -> str:
    """A broker's reply text as a log reason code (letters, digits, ``. _ : -``; <= 64)."""
    code = _DASHES.sub("-", _REASON_CHARS.sub("-", text)).strip("-._:")[:64]
    return code or default


def _json(values: Iterable[str | int]) -> str:
    return json.dumps(sorted(values))


def _states(event: DeliveryEvent) -> str:
    return _json(s.value for s in states_before(event))


def _delivery(row: Sequence[Any]) -> DeliveryRow:
    (mid, recipient, kind, state, reason, attempts, enquiry_id, case_ref, created, expires, due,
     related, *times) = row  # fmt: skip
    timeline = {
        name: moment
        for name, value in zip(TIME_COLUMNS, times, strict=True)
        if (moment := maybe_time(value)) is not None
    }
    return DeliveryRow(
        message_id=bytes(mid),
        recipient=str(recipient),
        kind=MessageKind(kind),
        state=DeliveryState(state),
        reason=str(reason),
        attempts=int(attempts),
        enquiry_id=str(enquiry_id),
        case_ref=str(case_ref),
        created_at=from_ms(int(created)),
        expires_at=from_ms(int(expires)),
        due_at=maybe_time(due),
        related_message_id=bytes(related or b""),
        times=timeline,
    )


class OutboxStore(JournalStore):
    """Outbox rows and deliveries (see ``broker.office_store.records`` for the states)."""

    # ------------------------------------------------------------ adding

    def _insert_outgoing(self, out: Outgoing, now: datetime) -> None:
        self.db.execute(
            "INSERT INTO outbox (message_id, kind, digest, envelope, created_ms, expires_ms,"
            " submitted_ms, enquiry_id, case_ref, due_ms, related_message_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                out.message_id,
                int(out.kind),
                out.digest,
                out.envelope,
                to_ms(out.created_at),
                to_ms(out.expires_at),
                to_ms(now),
                out.enquiry_id,
                out.case_ref,
                maybe_ms(out.due_at),
                out.related_message_id or None,
            ),
        )
        self.db.executemany(
            "INSERT INTO deliveries (message_id, recipient, state, queued_ms) VALUES (?, ?, ?, ?)",
            [(out.message_id, r, DeliveryState.QUEUED.value, to_ms(now)) for r in out.recipients],
        )

    def queue(self, out: Outgoing, entries: Sequence[LogEntry], *, now: datetime) -> None:
        """Put a sealed message in the outbox, one delivery per recipient, with its entries."""
        with self.db.transaction():
            self._insert_outgoing(out, now)
            self._journal(entries)

    # ------------------------------------------------------------ publishing

    def publishable(
        self, now: datetime, *, limit: int, busy: Collection[tuple[bytes, str]] = ()
    ) -> list[Publishable]:
        """Queued deliveries due for a (first or further) attempt, oldest first; ``busy`` ones
        (already handed to the link) are left out."""
        rows = self.db.rows(
            "SELECT d.message_id, d.recipient, o.envelope, d.published_ms, d.attempts"
            " FROM deliveries d JOIN outbox o ON o.message_id = d.message_id"
            " WHERE d.pending = 1 AND d.next_attempt_ms <= ? AND o.expires_ms > ?"
            " ORDER BY d.queued_ms, d.message_id LIMIT ?",
            (to_ms(now), to_ms(now), limit + len(busy)),
        )
        found = [
            Publishable(bytes(mid), str(r), bytes(env), first_attempt=pub is None, attempts=int(n))
            for mid, r, env, pub, n in rows
            if (bytes(mid), str(r)) not in busy
        ]
        return found[:limit]

    def note_attempts(self, items: Iterable[Publishable], now: datetime) -> None:
        """Count an attempt for each item; the first attempt of each is logged PUBLISHED."""
        items = list(items)
        with self.db.transaction():
            entries = []
            for item in items:
                first = self.db.execute(
                    "UPDATE deliveries SET published_ms = ? WHERE message_id = ? AND recipient = ?"
                    " AND published_ms IS NULL",
                    (to_ms(now), item.message_id, item.recipient),
                )
                self.db.execute(
                    "UPDATE deliveries SET attempts = attempts + 1"
                    " WHERE message_id = ? AND recipient = ?",
                    (item.message_id, item.recipient),
                )
                if first:
                    entries.append(
                        self._outbox_entry(
                            EventType.PUBLISHED, item.message_id, item.recipient, now
                        )
                    )
            self._journal([e for e in entries if e is not None])

    def record_confirmed(self, message_id: bytes, recipient: str, now: datetime) -> bool:
        """The broker stored it. Logged CONFIRMED the first time only; True if it was new."""
        with self.db.transaction():
            first = self.db.execute(
                "UPDATE deliveries SET confirmed_ms = ? WHERE message_id = ? AND recipient = ?"
                " AND confirmed_ms IS NULL",
                (to_ms(now), message_id, recipient),
            )
            self._settled(message_id, recipient)
            self._move(message_id, recipient, DeliveryEvent.CONFIRMED)
            if first:
                entry = self._outbox_entry(EventType.CONFIRMED, message_id, recipient, now)
                self._journal([entry] if entry else [])
        return bool(first)

    def record_returned(
        self, message_id: bytes, recipient: str, reason: str, now: datetime
    ) -> None:
        """No queue took it (final: the operator decides); logged RETURNED with the reason."""
        code = reason_code(reason, "no-route")
        with self.db.transaction():
            changed = self.db.execute(
                "UPDATE deliveries SET returned_ms = ?, reason = ? WHERE message_id = ?"
                " AND recipient = ? AND state IN (SELECT value FROM json_each(?))",
                (to_ms(now), code, message_id, recipient, _states(DeliveryEvent.RETURNED)),
            )
            self._settled(message_id, recipient)
            self._move(message_id, recipient, DeliveryEvent.RETURNED)
            entry = self._outbox_entry(EventType.RETURNED, message_id, recipient, now, code)
            if changed and entry:
                self._journal([entry])

    def retry_later(self, message_id: bytes, recipient: str, at: datetime) -> None:
        """The broker refused it for now (nack): try again at ``at``."""
        self.db.execute(
            "UPDATE deliveries SET next_attempt_ms = ? WHERE message_id = ? AND recipient = ?",
            (to_ms(at), message_id, recipient),
        )

    def resend(self, message_id: bytes) -> int:
        """Publish a receipt we sent before once more (the sender delivered its message
        twice); a receipt still waiting to go is left alone. Its state does not change."""
        return self.db.execute(
            "UPDATE deliveries SET pending = 1, next_attempt_ms = 0"
            " WHERE message_id = ? AND pending = 0 AND state = ?"
            " AND message_id IN (SELECT message_id FROM outbox WHERE kind = ?)",
            (message_id, DeliveryState.PUBLISHED.value, int(MessageKind.RECEIPT)),
        )

    def _settled(self, message_id: bytes, recipient: str) -> None:
        """The broker took it, or said no for good: nothing more to publish."""
        self.db.execute(
            "UPDATE deliveries SET pending = 0 WHERE message_id = ? AND recipient = ?",
            (message_id, recipient),
        )

    # ------------------------------------------------------------ what comes back

    def _apply_receipt(self, effect: ReceiptEffect, now: datetime) -> DeliveryState | None:
        """Inside a transaction: the delivery's state after the receipt, or None if the receipt
        names no delivery of ours (or another envelope than the one we sent)."""
        row = self.db.one(
            "SELECT o.digest FROM deliveries d JOIN outbox o ON o.message_id = d.message_id"
            " WHERE d.message_id = ? AND d.recipient = ?",
            (effect.message_id, effect.recipient),
        )
        if row is None or bytes(row[0]) != effect.envelope_digest:
            return None
        column = "rejected_ms" if effect.rejected_reason else "delivered_ms"
        self.db.execute(
            f"UPDATE deliveries SET {column} = ?, receipt_message_id = ?"  # noqa: S608 - fixed names
            " WHERE message_id = ? AND recipient = ?",
            (to_ms(now), effect.receipt_message_id, effect.message_id, effect.recipient),
        )
        state = self._move(effect.message_id, effect.recipient, effect.event)
        if state is DeliveryState.REJECTED and effect.rejected_reason:
            self.db.execute(
                "UPDATE deliveries SET reason = ? WHERE message_id = ? AND recipient = ?",
                (effect.rejected_reason, effect.message_id, effect.recipient),
            )
        return state

    def _apply_answer(
        self, enquiry_message_id: bytes, responder: str, response_id: bytes, now: datetime
    ) -> DeliveryState | None:
        self.db.execute(
            "UPDATE deliveries SET answered_ms = ?, response_message_id = ?"
            " WHERE message_id = ? AND recipient = ?",
            (to_ms(now), response_id, enquiry_message_id, responder),
        )
        return self._move(enquiry_message_id, responder, DeliveryEvent.ANSWERED)

    def enquiry_sent_to(self, enquiry_id: str, recipient: str) -> bytes | None:
        """The message id of our enquiry ``enquiry_id`` to ``recipient`` (the latest)."""
        row = self.db.one(
            "SELECT o.message_id FROM outbox o JOIN deliveries d ON d.message_id = o.message_id"
            " WHERE o.enquiry_id = ? AND o.kind = ? AND d.recipient = ?"
            " ORDER BY o.submitted_ms DESC LIMIT 1",
            (enquiry_id, int(MessageKind.ENQUIRY), recipient),
        )
        return None if row is None else bytes(row[0])

    def queued_with(self, enquiry_id: str, kind: MessageKind) -> bytes | None:
        """The message id of a message of ours of ``kind`` carrying ``enquiry_id``, if any:
        the pickup folder uses it so that a file taken twice is not sent twice."""
        row = self.db.one(
            "SELECT message_id FROM outbox WHERE enquiry_id = ? AND kind = ?"
            " ORDER BY submitted_ms LIMIT 1",
            (enquiry_id, int(kind)),
        )
        return None if row is None else bytes(row[0])

    # ------------------------------------------------------------ chasing

    def mark_overdue(self, now: datetime) -> list[DeliveryRow]:
        """Enquiries whose due time passed without an answer become overdue (logged)."""
        with self.db.transaction():
            found = [
                _delivery(row)
                for row in self.db.rows(
                    _DELIVERY_SELECT + " WHERE o.kind = ? AND o.due_ms IS NOT NULL AND o.due_ms < ?"
                    " AND d.state IN " + IN_LIST,
                    (int(MessageKind.ENQUIRY), to_ms(now), _states(DeliveryEvent.OVERDUE)),
                )
            ]
            entries = []
            for row in found:
                self.db.execute(
                    "UPDATE deliveries SET overdue_ms = ?, state = ? WHERE message_id = ?"
                    " AND recipient = ?",
                    (to_ms(now), DeliveryState.OVERDUE.value, row.message_id, row.recipient),
                )
                entry = self._outbox_entry(EventType.OVERDUE, row.message_id, row.recipient, now)
                if entry:
                    entries.append(entry)
            self._journal(entries)
        return found

    def mark_expired(self, now: datetime, *, skew: timedelta) -> int:
        """Deliveries whose envelope can no longer be opened, and that no receipt settled."""
        with self.db.transaction():
            self.db.execute(  # whatever its state, an expired envelope is not sent again
                "UPDATE deliveries SET pending = 0 WHERE pending = 1"
                " AND message_id IN (SELECT message_id FROM outbox WHERE expires_ms <= ?)",
                (to_ms(now - skew),),
            )
            return self.db.execute(
                "UPDATE deliveries SET state = ?, expired_ms = ?"
                " WHERE state IN (SELECT value FROM json_each(?))"
                " AND message_id IN (SELECT message_id FROM outbox WHERE expires_ms <= ?)",
                (
                    DeliveryState.EXPIRED.value,
                    to_ms(now),
                    _states(DeliveryEvent.EXPIRED),
                    to_ms(now - skew),
                ),
            )

    # ------------------------------------------------------------ reading

    def deliveries_of(self, message_id: bytes) -> list[DeliveryRow]:
        return [
            _delivery(r)
            for r in self.db.rows(_DELIVERY_SELECT + " WHERE d.message_id = ?", (message_id,))
        ]

    def deliveries(
        self,
        *,
        states: Collection[DeliveryState] | None = None,
        kinds: Collection[MessageKind] | None = None,
        limit: int = 1000,
    ) -> list[DeliveryRow]:
        """Deliveries, newest first, optionally only in ``states`` and of ``kinds``."""
        wanted_states = _json(s.value for s in (DeliveryState if states is None else states))
        wanted_kinds = _json(int(k) for k in (MessageKind if kinds is None else kinds))
        sql = (
            _DELIVERY_SELECT + " WHERE d.state IN " + IN_LIST + " AND o.kind IN " + IN_LIST
            + " ORDER BY d.queued_ms DESC, d.recipient LIMIT ?"
        )  # fmt: skip
        return [_delivery(r) for r in self.db.rows(sql, (wanted_states, wanted_kinds, limit))]

    def outbox_envelope(self, message_id: bytes) -> bytes | None:
        row = self.db.one("SELECT envelope FROM outbox WHERE message_id = ?", (message_id,))
        return None if row is None else bytes(row[0])

    def delivery_counts(self) -> dict[str, int]:
        """Deliveries per state (for health)."""
        rows = self.db.rows("SELECT state, count(*) FROM deliveries GROUP BY state")
        return {str(state): int(n) for state, n in rows}

    def oldest_unconfirmed(self) -> datetime | None:
        """When the oldest delivery the broker has not yet taken (confirmed or returned) was
        queued, or None when every one is settled (for monitoring)."""
        row = self.db.one("SELECT min(queued_ms) FROM deliveries WHERE pending = 1")
        return None if row is None or row[0] is None else from_ms(int(row[0]))

    def overdue_sent(self, now: datetime) -> int:
        """Deliveries of our enquiries past their due time with no answer yet, counted as at
        ``now`` (not only those already marked overdue; for monitoring)."""
        waiting = states_before(DeliveryEvent.OVERDUE) | {DeliveryState.OVERDUE}
        row = self.db.one(
            "SELECT count(*) FROM deliveries d JOIN outbox o ON o.message_id = d.message_id"
            " WHERE o.kind = ? AND o.due_ms IS NOT NULL AND o.due_ms < ?"
            " AND d.state IN (SELECT value FROM json_each(?))",
            (int(MessageKind.ENQUIRY), to_ms(now), _json(s.value for s in waiting)),
        )
        return 0 if row is None else int(row[0])

    # ------------------------------------------------------------ helpers

    def _move(
        self, message_id: bytes, recipient: str, event: DeliveryEvent
    ) -> DeliveryState | None:
        row = self.db.one(
            "SELECT state FROM deliveries WHERE message_id = ? AND recipient = ?",
            (message_id, recipient),
        )
        if row is None:
            return None
        state = advance(DeliveryState(row[0]), event)
        self.db.execute(
            "UPDATE deliveries SET state = ? WHERE message_id = ? AND recipient = ?",
            (state.value, message_id, recipient),
        )
        return state

    def _outbox_entry(
        self, event: EventType, message_id: bytes, recipient: str, now: datetime, reason: str = ""
    ) -> LogEntry | None:
        row = self.db.one(
            "SELECT kind, digest, case_ref, due_ms FROM outbox WHERE message_id = ?",
            (message_id,),
        )
        if row is None:
            return None
        kind, digest, case_ref, due = row
        return LogEntry(
            event=event,
            time=now,
            message_id=message_id,
            kind=MessageKind(kind),
            sender=self.office_id,
            recipients=(recipient,),
            envelope_digest=bytes(digest),
            reason=reason,
            case_ref=str(case_ref),
            due_at=maybe_time(due) if event is EventType.OVERDUE else None,
        )
