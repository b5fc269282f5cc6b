"""Which pickup-folder files became which messages, by the SHA-256 of the file's bytes.

The daemon queues a message from a file and moves the file to ``done/``; if it stops in
between, the file is still there at the next start. This table, written in the same
transaction as the queued message, lets it recognise the file and not send it twice. Created
on first use (``CREATE TABLE IF NOT EXISTS``), like the witness tables.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from broker.office_store.db import Database
from broker.office_store.records import to_ms

PICKUPS_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS pickups (
    file_digest BLOB PRIMARY KEY,
    message_id BLOB NOT NULL,
    taken_ms INTEGER NOT NULL
) WITHOUT ROWID
"""


class PickupStore:
    """The pickups table, on the office store's database (share its ``Database``)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        with self.db.transaction():
            self.db.execute(PICKUPS_SCHEMA)

    def taken(self, file_digest: bytes) -> bytes | None:
        """The message id a file with these bytes became, if one did."""
        row = self.db.one("SELECT message_id FROM pickups WHERE file_digest = ?", (file_digest,))
        return None if row is None else bytes(row[0])

    def note(self, file_digest: bytes, message_id: bytes, now: datetime) -> None:
        """Record it (call inside the transaction that queues the message)."""
        with self.db.transaction():
            self.db.execute(
                "INSERT INTO pickups VALUES (?, ?, ?) ON CONFLICT (file_digest) DO NOTHING",
                (file_digest, message_id, to_ms(now)),
            )
