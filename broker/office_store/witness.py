"""The witness's tables in the office store: partners' checkpoints this office cosigned, the
cosignatures partners returned on ours, and fork alarms. Each change commits with its
exchange-log entries (the journal) and the reply it queues, in one durable transaction.

The tables were added after the store's schema 1; they are created on first use (``CREATE
TABLE IF NOT EXISTS``), so a store made before them gains them when the daemon starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from broker.exchange_log import LogEntry
from broker.office_store.db import Database
from broker.office_store.outbox import OutboxStore
from broker.office_store.records import Outgoing, from_ms, to_ms

WITNESS_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS witness_cosigned (
    origin TEXT NOT NULL,
    size INTEGER NOT NULL,
    office TEXT NOT NULL,
    root BLOB NOT NULL,
    note BLOB NOT NULL,
    cosigned_ms INTEGER NOT NULL,
    PRIMARY KEY (origin, size)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS witness_cosignatures (
    cosigner TEXT NOT NULL,
    size INTEGER NOT NULL,
    timestamp INTEGER NOT NULL,
    note BLOB NOT NULL,
    received_ms INTEGER NOT NULL,
    PRIMARY KEY (cosigner, size)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS witness_alarms (
    envelope_digest BLOB PRIMARY KEY,
    office TEXT NOT NULL,
    origin TEXT NOT NULL,
    size INTEGER NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    held BLOB NOT NULL,
    received BLOB NOT NULL,
    raised_ms INTEGER NOT NULL
) WITHOUT ROWID;
"""


@dataclass(frozen=True, slots=True)
class ForkAlarmRow:
    """A fork alarm as stored: whose log, why, and the two signed notes (the evidence)."""

    office: str
    origin: str
    size: int
    reason: str
    detail: str
    raised_at: datetime
    envelope_digest: bytes
    held: bytes = field(repr=False)
    received: bytes = field(repr=False)


def _alarm(row: Sequence[Any]) -> ForkAlarmRow:
    office, origin, size, reason, detail, raised, digest, held, received = row
    return ForkAlarmRow(
        office=str(office),
        origin=str(origin),
        size=int(size),
        reason=str(reason),
        detail=str(detail),
        raised_at=from_ms(int(raised)),
        envelope_digest=bytes(digest),
        held=bytes(held),
        received=bytes(received),
    )


class WitnessStore(OutboxStore):
    """The witness tables, on the office store's database (share its ``Database``)."""

    def __init__(self, db: Database, office_id: str) -> None:
        super().__init__(db, office_id)
        with self.db.transaction():
            for statement in WITNESS_SCHEMA.split(";"):
                if statement.strip():
                    self.db.execute(statement)

    # ------------------------------------------------------------ partners' logs we witness

    def last_cosigned(self, origin: str) -> bytes | None:
        """Our cosigned copy of the largest checkpoint of ``origin`` we cosigned."""
        row = self.db.one(
            "SELECT note FROM witness_cosigned WHERE origin = ? ORDER BY size DESC LIMIT 1",
            (origin,),
        )
        return None if row is None else bytes(row[0])

    def cosigned_at(self, origin: str, size: int) -> bytes | None:
        row = self.db.one(
            "SELECT note FROM witness_cosigned WHERE origin = ? AND size = ?", (origin, size)
        )
        return None if row is None else bytes(row[0])

    def record_cosigned(
        self,
        *,
        origin: str,
        office: str,
        size: int,
        root: bytes,
        note: bytes,
        entries: Sequence[LogEntry],
        reply: Outgoing | None,
        now: datetime,
    ) -> bool:
        """Keep our cosigned copy of a partner's checkpoint, its entries and the reply that
        returns it; False (nothing changed) if that size was cosigned before."""
        with self.db.transaction():
            added = self.db.insert(
                "INSERT INTO witness_cosigned (origin, size, office, root, note, cosigned_ms)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (origin, size) DO NOTHING",
                (origin, size, office, root, note, to_ms(now)),
            )
            if not added:
                return False
            if reply is not None:
                self._insert_outgoing(reply, now)
            self._journal(entries)
        return True

    def queue_reply(self, reply: Outgoing, entries: Sequence[LogEntry], *, now: datetime) -> None:
        """Queue a reply that changes nothing else (our last cosigned copy, sent back)."""
        self.queue(reply, entries, now=now)

    def record_alarm(
        self, alarm: ForkAlarmRow, entries: Sequence[LogEntry], *, now: datetime
    ) -> bool:
        """Keep a fork alarm and its entries; False if this envelope raised one before."""
        with self.db.transaction():
            added = self.db.insert(
                "INSERT INTO witness_alarms (envelope_digest, office, origin, size, reason,"
                " detail, held, received, raised_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (envelope_digest) DO NOTHING",
                (
                    alarm.envelope_digest,
                    alarm.office,
                    alarm.origin,
                    alarm.size,
                    alarm.reason,
                    alarm.detail,
                    alarm.held,
                    alarm.received,
                    to_ms(now),
                ),
            )
            if added:
                self._journal(entries)
        return added

    def alarms(self) -> list[ForkAlarmRow]:
        rows = self.db.rows(
            "SELECT office, origin, size, reason, detail, raised_ms, envelope_digest, held,"
            " received FROM witness_alarms ORDER BY raised_ms"
        )
        return [_alarm(row) for row in rows]

    # ------------------------------------------------------------ partners witnessing our log

    def record_cosignature(
        self,
        *,
        cosigner: str,
        size: int,
        timestamp: int,
        note: bytes,
        entries: Sequence[LogEntry],
        now: datetime,
    ) -> bool:
        """Keep a partner's cosignature on our checkpoint of ``size`` (the newest one replaces
        an older one for the same size). True if it is a new (cosigner, size); the entries are
        journaled only then."""
        with self.db.transaction():
            added = (
                self.db.one(
                    "SELECT 1 FROM witness_cosignatures WHERE cosigner = ? AND size = ?",
                    (cosigner, size),
                )
                is None
            )
            self.db.execute(
                "INSERT INTO witness_cosignatures (cosigner, size, timestamp, note, received_ms)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (cosigner, size) DO UPDATE SET"
                " timestamp = excluded.timestamp, note = excluded.note,"
                " received_ms = excluded.received_ms",
                (cosigner, size, timestamp, note, to_ms(now)),
            )
            if added:
                self._journal(entries)
        return added

    def proof_base(self, cosigner: str) -> int:
        """The size of our checkpoint ``cosigner`` cosigned most recently: where it stands, as
        far as we know, and so where the next consistency proof to it starts (0: none)."""
        row = self.db.one(
            "SELECT size FROM witness_cosignatures WHERE cosigner = ?"
            " ORDER BY received_ms DESC, size DESC LIMIT 1",
            (cosigner,),
        )
        return 0 if row is None else int(row[0])

    def cosignatures_on(self, size: int) -> list[tuple[str, bytes]]:
        """(cosigner, cosigned note) for our checkpoint of ``size``."""
        rows = self.db.rows(
            "SELECT cosigner, note FROM witness_cosignatures WHERE size = ? ORDER BY cosigner",
            (size,),
        )
        return [(str(cosigner), bytes(note)) for cosigner, note in rows]

    def correspondents(self) -> set[str]:
        """Offices we have exchanged messages with: they sent us one we accepted, or the
        broker confirmed one of ours to them (so a route exists both ways)."""
        rows = self.db.rows(
            "SELECT sender FROM inbox UNION"
            " SELECT recipient FROM deliveries WHERE confirmed_ms IS NOT NULL"
        )
        return {str(office) for (office,) in rows}

    # ------------------------------------------------------------ status

    def summary(self) -> dict[str, object]:
        """For the status file: alarms, and per partner the largest size each way."""
        alarms = self.db.one("SELECT count(*) FROM witness_alarms")
        partners: dict[str, dict[str, int]] = {}
        for office, size in self.db.rows(
            "SELECT office, max(size) FROM witness_cosigned GROUP BY office"
        ):
            partners.setdefault(str(office), {})["we_cosigned_size"] = int(size)
        for cosigner, size in self.db.rows(
            "SELECT cosigner, max(size) FROM witness_cosignatures GROUP BY cosigner"
        ):
            partners.setdefault(str(cosigner), {})["they_cosigned_size"] = int(size)
        return {"fork_alarms": int(alarms[0]) if alarms else 0, "partners": partners}
