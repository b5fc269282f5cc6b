"""The store's journal of exchange-log entries: written with the state change they describe, in
the same transaction, then moved into the exchange log exactly once.

Why: the office store and the exchange log are two SQLite files, and no transaction spans both.
So every state change commits, together with it, the log entries that describe it
(``log_pending``). ``flush_journal`` later appends them to the log and deletes them, holding
the store's write lock throughout, so a daemon and a ``liaison submit`` never flush the same
rows twice. A crash between the log's commit and the store's leaves rows that are already in
the log: the store remembers up to where the log was flushed (``log_mark``) and, before
appending, skips pending rows whose exact bytes appear among the log's entries since that mark.
Entries are canonical bytes with millisecond times, so the comparison is exact; every entry
lands once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Protocol

from broker.exchange_log import LogEntry, decode_entry
from broker.office_store.db import Database

_MARK = "log_mark"


class JournalLog(Protocol):
    """The part of ``broker.exchange_log.ExchangeLog`` the journal uses."""

    def entry_count(self) -> int: ...

    def entry_range(self, start: int, end: int) -> list[tuple[int, bytes]]: ...

    def append_many(self, entries: Sequence[LogEntry]) -> range: ...


class JournalStore:
    """Base of the office store: the database, the office id and the journal."""

    def __init__(self, db: Database, office_id: str) -> None:
        self.db = db
        self.office_id = office_id

    def _journal(self, entries: Sequence[LogEntry]) -> None:
        """Queue ``entries`` for the log; call inside the transaction they describe."""
        self.db.executemany(
            "INSERT INTO log_pending (entry) VALUES (?)", [(e.encode(),) for e in entries]
        )

    def record(self, entries: Sequence[LogEntry]) -> None:
        """Journal entries that go with no other change (daemon started, directory loaded)."""
        with self.db.transaction():
            self._journal(entries)

    def record_noting(self, entries: Sequence[LogEntry], key: str, value: str) -> None:
        """Journal entries and remember ``value`` under ``key``, in one transaction: what the
        entries were about, so that they are written once (the keys logged, for example)."""
        with self.db.transaction():
            self._journal(entries)
            self._note(key, value)

    def _note(self, key: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def noted(self, key: str) -> str | None:
        """The value ``record_noting`` remembered under ``key``, or None."""
        row = self.db.one("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else str(row[0])

    def pending_log_entries(self) -> int:
        row = self.db.one("SELECT count(*) FROM log_pending")
        return 0 if row is None else int(row[0])

    def flush_journal(self, log: JournalLog) -> int:
        """Append the pending entries to ``log`` in order, once; the number appended."""
        if self.db.one("SELECT 1 FROM log_pending LIMIT 1") is None:
            return 0  # the common case, without taking the write lock
        with self.db.transaction():
            pending = [
                bytes(r[1]) for r in self.db.rows("SELECT seq, entry FROM log_pending ORDER BY seq")
            ]
            if not pending:
                return 0
            noted = self.noted(_MARK)
            mark = int(noted) if noted is not None else 0
            size = log.entry_count()
            # Entries a flush that crashed before our commit already appended.
            landed = Counter(data for _, data in log.entry_range(min(mark, size), size))
            todo = []
            for data in pending:
                if landed[data] > 0:
                    landed[data] -= 1
                else:
                    todo.append(decode_entry(data))
            if todo:
                log.append_many(todo)
            self.db.execute("DELETE FROM log_pending")
            self._note(_MARK, str(log.entry_count()))
        return len(todo)
