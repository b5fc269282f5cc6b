"""The office store: outbox, deliveries, inbox and replay memory in one SQLite file.

An I/O edge (only :mod:`.db` imports sqlite3). WAL mode, ``synchronous=FULL``: a method that
returned has committed durably. Every method is one transaction, and each state change commits
together with the exchange-log entries that describe it (a journal, flushed into the log
exactly once by ``flush_journal``; see :mod:`.journal`). The inbox holds envelopes as received:
ciphertext, never plaintext.

::

    store = OfficeStore.open(data_dir / "office.db", office_id="CN-YN-BLO-HK")
    store.queue(outgoing, [submitted_entry], now=now)          # submit: outbox + deliveries
    store.publishable(now, limit=100, busy=in_flight)          # what to publish
    store.note_attempts(items, now)                            # PUBLISHED, once per delivery
    store.record_confirmed(message_id, recipient, now)         # CONFIRMED, once
    store.accept(incoming, [received_entry], now=now)          # a new inbox row (or a duplicate)
    store.finish_hand_over(message_id, entries, now=now, receipt=receipt)
    store.flush_journal(exchange_log)
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Self

from broker.office_store.db import Database
from broker.office_store.inbox import InboxStore, SeenIds
from broker.office_store.journal import JournalLog
from broker.office_store.outbox import TIME_COLUMNS, reason_code
from broker.office_store.records import (
    NEEDS_CHASING,
    DeliveryEvent,
    DeliveryRow,
    DeliveryState,
    InboxRow,
    InboxState,
    Incoming,
    Outgoing,
    Publishable,
    ReceiptEffect,
    RejectedRow,
    advance,
)


class OfficeStore(InboxStore):
    """An office's outbox, inbox and replay memory (see the module docstring)."""

    @classmethod
    def open(cls, path: Path, *, office_id: str) -> Self:
        """The store at ``path`` (created if missing); ConfigError if it is another office's."""
        return cls(Database.open(path, office_id=office_id), office_id)

    def batch(self) -> AbstractContextManager[None]:
        """One durable commit for many of the methods below (each becomes a savepoint): the
        daemon handles a batch of deliveries and outcomes in it and settles them with the
        broker only after it returned. A failing method is undone alone."""
        return self.db.transaction()

    def changed_elsewhere(self) -> bool:
        """Whether another process (``liaison submit``, a bulk submitter) committed since the
        last call: the daemon's cue to read the outbox at once instead of at its next poll."""
        return self.db.changed_elsewhere()

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = [
    "NEEDS_CHASING",
    "TIME_COLUMNS",
    "DeliveryEvent",
    "DeliveryRow",
    "DeliveryState",
    "InboxRow",
    "InboxState",
    "Incoming",
    "JournalLog",
    "OfficeStore",
    "Outgoing",
    "Publishable",
    "ReceiptEffect",
    "RejectedRow",
    "SeenIds",
    "advance",
    "reason_code",
]
