"""What ``liaison status`` and ``liaison inbox`` show, as JSON documents built from the office
store and the exchange log. Reads only; never decrypts anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from broker.envelope import MessageKind
from broker.errors import InputError
from broker.exchange_log import ExchangeLog, LogEntry, decode_entry
from broker.exchange_log.replay import ReplayFilter, entry_to_json, select_entries
from broker.office_store import NEEDS_CHASING, DeliveryRow, InboxRow, OfficeStore

MESSAGE_ID_HEX = 32


def parse_message_id(text: str) -> bytes:
    """A message id as ``status`` takes it: 32 hex digits."""
    cleaned = text.strip().lower()
    if len(cleaned) != MESSAGE_ID_HEX or any(c not in "0123456789abcdef" for c in cleaned):
        raise InputError(f"{text[:64]!r} is not a message id (32 hex digits)")
    return bytes.fromhex(cleaned)


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds")


def delivery_json(row: DeliveryRow, *, now: datetime) -> dict[str, Any]:
    return {
        "message_id": row.message_id.hex(),
        "recipient": row.recipient,
        "kind": row.kind.name.lower(),
        "state": row.state.value,
        "reason": row.reason or None,
        "attempts": row.attempts,
        "enquiry_id": row.enquiry_id or None,
        "case_ref": row.case_ref or None,
        "due_at": _time(row.due_at),
        "past_due": row.due_at is not None and row.due_at < now and row.state.value != "answered",
        "expires_at": _time(row.expires_at),
        "related_message_id": row.related_message_id.hex() or None,
        "times": {name: _time(moment) for name, moment in row.times.items()},
    }


def inbox_json(row: InboxRow, *, now: datetime) -> dict[str, Any]:
    return {
        "message_id": row.message_id.hex(),
        "sender": row.sender,
        "kind": row.kind.name.lower(),
        "state": row.state.value,
        "enquiry_id": row.enquiry_id or None,
        "case_ref": row.case_ref or None,
        "received_at": _time(row.received_at),
        "handed_over_at": _time(row.handed_over_at),
        "due_at": _time(row.due_at),
        "overdue": row.due_at is not None and row.due_at < now and row.answered_at is None,
        "receipt_message_id": row.receipt_message_id.hex() or None,
        "answered_by": row.answered_by.hex() or None,
        "answered_at": _time(row.answered_at),
    }


def _entries(log: ExchangeLog) -> Iterator[tuple[int, LogEntry]]:
    for index, data in log.iter_entries():
        yield index, decode_entry(data)


def log_timeline(log_path: Path, message_id: bytes) -> list[dict[str, Any]]:
    """Every log entry about ``message_id`` (its own and those that relate to it)."""
    if not log_path.is_file():
        return []
    with ExchangeLog.open_existing(log_path) as log:
        wanted = ReplayFilter(message_id=message_id)
        return [entry_to_json(i, e) for i, e in select_entries(lambda: _entries(log), wanted)]


def message_report(
    store: OfficeStore, log_path: Path, message_id: bytes, *, now: datetime
) -> dict[str, Any]:
    """One message, sent or received, with its per-recipient timeline and its log entries."""
    deliveries = store.deliveries_of(message_id)
    received = store.received(message_id)
    if not deliveries and received is None:
        raise InputError(f"no message {message_id.hex()} in this office's outbox or inbox")
    return {
        "message_id": message_id.hex(),
        "direction": "outgoing" if deliveries else "incoming",
        "deliveries": [delivery_json(d, now=now) for d in deliveries],
        "received": inbox_json(received, now=now) if received is not None else None,
        "log": log_timeline(log_path, message_id),
    }


def outbox_report(
    store: OfficeStore, *, now: datetime, chasing_only: bool, limit: int
) -> list[dict[str, Any]]:
    """Deliveries newest first; ``chasing_only``: those needing the operator's attention."""
    kinds = [kind for kind in MessageKind if kind is not MessageKind.RECEIPT]
    states = NEEDS_CHASING if chasing_only else None
    rows = store.deliveries(states=states, kinds=kinds, limit=limit)
    return [delivery_json(row, now=now) for row in rows]
