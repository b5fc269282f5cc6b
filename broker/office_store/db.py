"""The office store's SQLite file: connection, schema, transactions. The only module of the
office store that imports sqlite3.

WAL mode, ``synchronous=FULL`` (a committed transaction is on disk), ``busy_timeout`` so that
the daemon and a ``liaison submit`` in another process wait for each other instead of failing.
Write transactions are ``BEGIN IMMEDIATE``: they take the write lock at once, so two writers
never both read and then collide. Every SQLite failure becomes one of our errors: a file that
is not an office store or is damaged is an ``IntegrityError``; a file we may not use (locks
held too long, permissions, a full disk) is a ``ConfigError``.
"""

from __future__ import annotations

import sqlite3  # noqa: TID251 - this module is the SQLite edge of the office store
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, Self

from broker.errors import ConfigError, IntegrityError

APPLICATION_ID: Final = 0x4C49534F  # "LISO": what `file` tools show at byte 68
SCHEMA_VERSION: Final = 1
FORMAT: Final = "liaison-office-store"
BUSY_TIMEOUT_MS: Final = 30_000  # a submit waits this long for the daemon's transaction

Row = tuple[Any, ...]

SCHEMA: Final = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE outbox (
    message_id BLOB PRIMARY KEY,
    kind INTEGER NOT NULL,
    digest BLOB NOT NULL,
    envelope BLOB NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    submitted_ms INTEGER NOT NULL,
    enquiry_id TEXT NOT NULL DEFAULT '',
    case_ref TEXT NOT NULL DEFAULT '',
    due_ms INTEGER,
    related_message_id BLOB
);
CREATE INDEX outbox_enquiry ON outbox (enquiry_id) WHERE enquiry_id != '';
CREATE TABLE deliveries (
    message_id BLOB NOT NULL REFERENCES outbox (message_id),
    recipient TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    pending INTEGER NOT NULL DEFAULT 1,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL DEFAULT 0,
    queued_ms INTEGER NOT NULL,
    published_ms INTEGER,
    confirmed_ms INTEGER,
    returned_ms INTEGER,
    delivered_ms INTEGER,
    rejected_ms INTEGER,
    answered_ms INTEGER,
    overdue_ms INTEGER,
    expired_ms INTEGER,
    receipt_message_id BLOB,
    response_message_id BLOB,
    PRIMARY KEY (message_id, recipient)
) WITHOUT ROWID;
CREATE INDEX deliveries_state ON deliveries (state);
CREATE INDEX deliveries_pending ON deliveries (pending, next_attempt_ms);
CREATE TABLE inbox (
    message_id BLOB PRIMARY KEY,
    sender TEXT NOT NULL,
    kind INTEGER NOT NULL,
    digest BLOB NOT NULL,
    envelope BLOB NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,
    handed_over_ms INTEGER,
    state TEXT NOT NULL,
    enquiry_id TEXT NOT NULL DEFAULT '',
    case_ref TEXT NOT NULL DEFAULT '',
    due_ms INTEGER,
    related_message_id BLOB,
    receipt_message_id BLOB,
    answered_by BLOB,
    answered_ms INTEGER
);
CREATE INDEX inbox_enquiry ON inbox (enquiry_id) WHERE enquiry_id != '';
CREATE INDEX inbox_state ON inbox (state);
CREATE TABLE rejected (
    message_id BLOB PRIMARY KEY,
    digest BLOB NOT NULL,
    sender TEXT NOT NULL,
    reason TEXT NOT NULL,
    rejected_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    receipt_message_id BLOB
);
CREATE TABLE log_pending (seq INTEGER PRIMARY KEY AUTOINCREMENT, entry BLOB NOT NULL);
"""


def _classify(path: Path, exc: sqlite3.Error) -> Exception:
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name == "SQLITE_NOTADB":
        return IntegrityError(f"{path} is not a Liaison office store (not an SQLite database)")
    if name.startswith("SQLITE_CORRUPT"):
        return IntegrityError(f"the office store {path} is damaged: {exc}")
    if isinstance(exc, sqlite3.IntegrityError):
        return IntegrityError(f"the office store {path} refused a write: {exc}")
    return ConfigError(f"cannot use the office store {path}: {exc}")


class Database:
    """One connection to the office store, usable from several threads one at a time."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn = conn
        # sqlite3 connections are not safe for concurrent use; transactions hold this lock.
        self._lock = threading.RLock()
        self._depth = 0  # open transaction levels: 1 is the real one, more are savepoints
        self._seen_version: object = None

    @classmethod
    def open(cls, path: Path, *, office_id: str) -> Self:
        """The store at ``path``, created if missing; ConfigError if it is another office's."""
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create data folder {path.parent}: {exc.strerror}") from None
        try:
            conn = sqlite3.connect(
                f"{path.resolve().as_uri()}?mode=rwc",
                uri=True,
                isolation_level=None,  # autocommit: transactions are explicit
                check_same_thread=False,  # guarded by Database._lock
            )
        except sqlite3.Error as exc:
            raise _classify(path, exc) from None
        db = cls(path, conn)
        try:
            db._prepare(office_id)
        except BaseException:
            conn.close()
            raise
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)  # envelopes are ciphertext, but headers are metadata
        return db

    def _prepare(self, office_id: str) -> None:
        with self._errors():
            self._conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            app_id = self._conn.execute("PRAGMA application_id").fetchone()[0]
            tables = self._conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if app_id == 0 and tables == 0:
            self._create(office_id)
        elif app_id != APPLICATION_ID:
            raise IntegrityError(f"{self.path} is not a Liaison office store (application id)")
        meta: dict[str, str] = {str(k): str(v) for k, v in self.rows("SELECT key, value FROM meta")}
        if meta.get("format") != FORMAT or meta.get("schema") != str(SCHEMA_VERSION):
            raise IntegrityError(f"{self.path} is not an office store of schema {SCHEMA_VERSION}")
        if meta.get("office_id") != office_id:
            raise ConfigError(
                f"{self.path} is the office store of {meta.get('office_id')}, not of {office_id}"
            )

    def _create(self, office_id: str) -> None:
        with self.transaction():
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    self.execute(statement)
            self.executemany(
                "INSERT INTO meta VALUES (?, ?)",
                [("format", FORMAT), ("schema", str(SCHEMA_VERSION)), ("office_id", office_id)],
            )
            self.execute(f"PRAGMA application_id={APPLICATION_ID}")

    def close(self) -> None:
        with self._lock, self._errors():
            self._conn.close()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise _classify(self.path, exc) from None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A write transaction: everything inside commits durably together, or not at all.

        Inside another transaction of this connection (the daemon's batch, ``OfficeStore.batch``)
        it is a savepoint: undone alone if it fails, made durable by the outer commit.
        """
        with self._lock:
            if self._depth:
                yield from self._savepoint()
                return
            with self._errors():
                self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield
                with self._errors():
                    self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:  # SQLite may have rolled back already
                    with self._errors():
                        self._conn.execute("ROLLBACK")
                raise
            finally:
                self._depth = 0

    def _savepoint(self) -> Iterator[None]:
        if not self._conn.in_transaction:
            # SQLite rolled the whole batch back (a full disk, an I/O error): nothing more may
            # be added to it as if it were still there.
            raise ConfigError(f"the office store {self.path} lost the batch's transaction")
        name = f"sp{self._depth}"
        with self._errors():
            self._conn.execute(f"SAVEPOINT {name}")
        self._depth += 1
        try:
            yield
        except BaseException:
            if self._conn.in_transaction:
                with self._errors():
                    self._conn.execute(f"ROLLBACK TO {name}")
                    self._conn.execute(f"RELEASE {name}")
            raise
        else:
            with self._errors():
                self._conn.execute(f"RELEASE {name}")
        finally:
            self._depth -= 1

    def changed_elsewhere(self) -> bool:
        """Whether another connection committed since the last call (SQLite's data_version:
        reads no table, so the daemon can ask every few milliseconds)."""
        row = self.one("PRAGMA data_version")
        version = None if row is None else row[0]
        changed = version != self._seen_version
        self._seen_version = version
        return changed

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> int:
        """Run one statement; the number of rows it changed."""
        with self._lock, self._errors():
            return self._conn.execute(sql, parameters).rowcount

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self._lock, self._errors():
            self._conn.executemany(sql, rows)

    def rows(self, sql: str, parameters: Sequence[Any] = ()) -> list[Row]:
        with self._lock, self._errors():
            return [tuple(row) for row in self._conn.execute(sql, parameters).fetchall()]

    def one(self, sql: str, parameters: Sequence[Any] = ()) -> Row | None:
        with self._lock, self._errors():
            row = self._conn.execute(sql, parameters).fetchone()
        return None if row is None else tuple(row)

    def insert(self, sql: str, parameters: Sequence[Any] = ()) -> bool:
        """An ``INSERT ... ON CONFLICT DO NOTHING``: True if a row was added."""
        return self.execute(sql, parameters) == 1
