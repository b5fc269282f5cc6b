"""The exchange log on disk: one SQLite file (docs/exchange-log.md, "Storage"). The only module
that imports sqlite3.

WAL mode with ``synchronous=FULL``: a returned ``append`` is on disk. Entries are stored as the
exact bytes that are hashed; the Merkle tree is stored as tiles (:mod:`.tiles`), so proofs at a
million entries read a handful of rows. Checkpoints signed by the office are kept with the tree
size they cover. Every SQLite failure becomes one of our errors: a file that is not a log or is
damaged is an ``IntegrityError``, a missing log is an ``InputError``, and a file the system will
not let us use (permissions, locks, a full disk) is a ``ConfigError``.
"""

from __future__ import annotations

import sqlite3  # noqa: TID251 - this module is the SQLite edge of the exchange log
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Final, Self

from broker.errors import ConfigError, InputError, IntegrityError
from broker.exchange_log.entry import EventType, LogEntry, decode_entry, from_ms, to_ms
from broker.exchange_log.log_keys import DEFAULT_NETWORK
from broker.exchange_log.records import Snapshot, StoredCheckpoint
from broker.exchange_log.tiles import (
    TILE_HEIGHT,
    TILE_WIDTH,
    fold_peaks,
    node_from_tile,
    tile_position,
    tiles_after_append,
    tree_peaks,
)
from broker.keys.model import KeyAlg, key_id
from broker.ledger import (
    EMPTY_ROOT,
    ConsistencyProof,
    Ed25519Signer,
    InclusionProof,
    Node,
    TreeState,
    consistency_proof,
    format_consistency_proof,
    format_inclusion_proof,
    inclusion_proof,
    leaf_hash,
    office_origin,
    sign_checkpoint,
)
from broker.ledger.checkpoint import Checkpoint

APPLICATION_ID: Final = 0x4C49534E  # "LISN" at byte 68 of the file: what `file` tools show
SCHEMA_VERSION: Final = 1
FORMAT: Final = "liaison-exchange-log"
_TILE_CACHE: Final = 64

SCHEMA: Final = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE entries (idx INTEGER PRIMARY KEY, entry BLOB NOT NULL);
CREATE TABLE tiles (
    level INTEGER NOT NULL, idx INTEGER NOT NULL, hashes BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;
CREATE TABLE checkpoints (
    seq INTEGER PRIMARY KEY, size INTEGER NOT NULL, created_ms INTEGER NOT NULL,
    key_id BLOB NOT NULL, note BLOB NOT NULL
);
CREATE TABLE purges (entry_idx INTEGER PRIMARY KEY, before_idx INTEGER NOT NULL);
"""


def _classify(path: Path, exc: sqlite3.Error) -> Exception:
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name == "SQLITE_NOTADB":
        return IntegrityError(f"{path} is not a Liaison exchange log (not an SQLite database)")
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_IOERR")) or not isinstance(
        exc, sqlite3.OperationalError | sqlite3.IntegrityError
    ):
        return IntegrityError(f"database file is corrupt: {path}: {exc}")
    if isinstance(exc, sqlite3.IntegrityError):
        return IntegrityError(f"the exchange log {path} refused a write: {exc}")
    return ConfigError(f"cannot use the exchange log {path}: {exc}")


@contextmanager
def _sqlite_errors(path: Path) -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:
        raise _classify(path, exc) from None


class TileReader:
    """A :class:`broker.ledger.NodeReader` over the stored tiles (with a small tile cache)."""

    __slots__ = ("_cache", "_log")

    def __init__(self, log: ExchangeLog) -> None:
        self._log = log
        self._cache: dict[tuple[int, int], bytes] = {}

    def read_node(self, level: int, position: int) -> bytes:
        tile_level, index, _, _ = tile_position(level, position)
        tile = self._cache.get((tile_level, index))
        if tile is None:
            tile = self._log.tile(tile_level, index)
            if len(self._cache) >= _TILE_CACHE:
                self._cache.clear()
            self._cache[(tile_level, index)] = tile
        return node_from_tile(tile, level, position)


class ExchangeLog:
    """An office's exchange log in one SQLite file: append, checkpoint, read, prove.

    ``ExchangeLog.open`` is the daemon's (creates the file, checks it is this office's log);
    ``ExchangeLog.open_existing`` is the auditor's (read-only unless ``writable``).
    """

    def __init__(self, path: Path, conn: sqlite3.Connection, *, writable: bool) -> None:
        self.path = path
        self._conn = conn
        self._writable = writable
        meta = self._meta()
        if meta.get("format") != FORMAT or meta.get("schema") != str(SCHEMA_VERSION):
            raise IntegrityError(f"{path} is not a Liaison exchange log (no log metadata)")
        self.office_id = meta.get("office_id", "")
        self.origin = meta.get("origin", "")
        self._state: TreeState | None = None
        self._data_version = -1

    # ------------------------------------------------------------ opening

    @classmethod
    def open(cls, path: Path, *, office_id: str, network: str = DEFAULT_NETWORK) -> Self:
        """This office's log at ``path``, created if missing (origin ``<network>/log/<id>``)."""
        origin = office_origin(network, office_id)
        conn = cls._connect(path, "rwc")
        try:
            with _sqlite_errors(path):
                # Recognise the file before changing anything in it (WAL is a file setting).
                if not cls._has_tables(conn, path):
                    conn.execute("PRAGMA journal_mode=WAL")
                    cls._create(conn, office_id, network, origin)
                conn.execute("PRAGMA synchronous=FULL")
            log = cls(path, conn, writable=True)
            log._check_owner(office_id, origin)
            log._load_state()
        except BaseException:
            conn.close()
            raise
        return log

    @classmethod
    def open_existing(cls, path: Path, *, writable: bool = False) -> Self:
        """An existing log, for audits: InputError if there is no file at ``path``."""
        if not path.is_file():
            raise InputError(f"no exchange log at {path}")
        conn = cls._connect(path, "rw" if writable else "ro")
        try:
            with _sqlite_errors(path):
                if writable:
                    conn.execute("PRAGMA synchronous=FULL")
                cls._require_tables(conn, path)
            return cls(path, conn, writable=writable)
        except BaseException:
            conn.close()
            raise

    @staticmethod
    def _connect(path: Path, mode: str) -> sqlite3.Connection:
        try:
            # Autocommit mode: transactions are explicit (BEGIN IMMEDIATE ... COMMIT).
            return sqlite3.connect(
                f"{path.resolve().as_uri()}?mode={mode}", uri=True, isolation_level=None
            )
        except sqlite3.Error as exc:
            raise _classify(path, exc) from None

    @staticmethod
    def _has_tables(conn: sqlite3.Connection, path: Path) -> bool:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if app_id == 0 and not tables:
            return False  # a new, empty file
        if app_id != APPLICATION_ID:
            raise IntegrityError(f"{path} is not a Liaison exchange log (application id)")
        return True

    @classmethod
    def _require_tables(cls, conn: sqlite3.Connection, path: Path) -> None:
        if not cls._has_tables(conn, path):
            raise IntegrityError(f"{path} is not a Liaison exchange log (no log tables)")

    def _check_owner(self, office_id: str, origin: str) -> None:
        if (self.office_id, self.origin) != (office_id, origin):
            raise ConfigError(
                f"{self.path} is the exchange log of {self.office_id} ({self.origin}), not of "
                f"{office_id} ({origin})"
            )

    @staticmethod
    def _create(conn: sqlite3.Connection, office_id: str, network: str, origin: str) -> None:
        conn.execute("BEGIN IMMEDIATE")
        for statement in SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        meta = {
            "format": FORMAT,
            "schema": str(SCHEMA_VERSION),
            "office_id": office_id,
            "network": network,
            "origin": origin,
        }
        conn.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
        conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
        conn.execute("COMMIT")

    def close(self) -> None:
        with _sqlite_errors(self.path):
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _meta(self) -> dict[str, str]:
        with _sqlite_errors(self.path):
            return {str(k): str(v) for k, v in self._conn.execute("SELECT key, value FROM meta")}

    # ------------------------------------------------------------ the tree's state

    @property
    def size(self) -> int:
        """How many leaves the stored tree has (equal to the entries of a sound log)."""
        with _sqlite_errors(self.path):
            row = self._conn.execute(
                "SELECT idx, length(hashes) FROM tiles WHERE level = 0 ORDER BY idx DESC LIMIT 1"
            ).fetchone()
        return 0 if row is None else int(row[0]) * TILE_WIDTH + int(row[1]) // 32

    def entry_count(self) -> int:
        """max(index) + 1 of the stored entries."""
        with _sqlite_errors(self.path):
            row = self._conn.execute("SELECT max(idx) FROM entries").fetchone()
        return 0 if row[0] is None else int(row[0]) + 1

    def _load_state(self) -> None:
        # Counts and peaks from one snapshot: outside a transaction another process's
        # append could land between reading the leaves and reading the entries.
        outer = self._conn.in_transaction
        with _sqlite_errors(self.path):
            if not outer:
                self._conn.execute("BEGIN")
            try:
                size, entries = self.size, self.entry_count()
                if size != entries:
                    raise IntegrityError(
                        f"{self.path}: the log has {entries} entries but its tree has {size} "
                        "leaves; run 'liaison audit verify'"
                    )
                peaks = tree_peaks(size, self.node_reader().read_node)
                self._data_version = self._conn.execute("PRAGMA data_version").fetchone()[0]
            finally:
                if not outer:
                    self._conn.execute("COMMIT")
        self._state = TreeState.from_peaks(size, peaks)

    def node_reader(self) -> TileReader:
        return TileReader(self)

    def root(self, size: int | None = None) -> bytes:
        """The root of the stored tree at ``size`` (default: all of it)."""
        size = self.size if size is None else size
        return fold_peaks(tree_peaks(size, self.node_reader().read_node)) if size else EMPTY_ROOT

    # ------------------------------------------------------------ appending

    def append(self, entry: LogEntry) -> int:
        """Append one entry durably; return its index."""
        return self.append_many([entry]).start

    def append_many(self, entries: Sequence[LogEntry]) -> range:
        """Append entries in one durable transaction; return their indices."""
        return self._append([e.encode() for e in entries])

    def _append(self, encoded: Sequence[bytes], *, purge_before: int = 0) -> range:
        if not self._writable:
            raise InputError(f"{self.path} is open read-only")
        with _sqlite_errors(self.path):
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                indices = self._append_in_transaction(encoded, purge_before)
                self._conn.execute("COMMIT")
            except BaseException:
                self._rollback()
                self._state = None  # reload from the file on the next append
                raise
            self._data_version = self._conn.execute("PRAGMA data_version").fetchone()[0]
        return indices

    def _append_in_transaction(self, encoded: Sequence[bytes], purge_before: int) -> range:
        version = self._conn.execute("PRAGMA data_version").fetchone()[0]
        if self._state is None or version != self._data_version:
            self._load_state()  # another connection wrote since our last append
        state = self._state
        assert state is not None  # noqa: S101 - _load_state sets it or raises
        start = state.size
        completed: list[Node] = []
        for data in encoded:
            completed.extend(state.append(leaf_hash(data)))
        self._conn.executemany(
            "INSERT INTO entries (idx, entry) VALUES (?, ?)",
            zip(range(start, state.size), encoded, strict=True),
        )
        tiles = tiles_after_append(completed, self.tile)
        self._conn.executemany(
            "INSERT OR REPLACE INTO tiles (level, idx, hashes) VALUES (?, ?, ?)",
            [(level, index, data) for (level, index), data in tiles.items()],
        )
        if purge_before:
            self._conn.execute("INSERT INTO purges VALUES (?, ?)", (state.size - 1, purge_before))
        return range(start, state.size)

    def _rollback(self) -> None:
        if self._conn.in_transaction:  # SQLite may have rolled back already (a full disk)
            self._conn.execute("ROLLBACK")

    def record_purge(self, before: int, now: datetime) -> int:
        """Append the ENVELOPES_PURGED entry for envelopes referenced only below ``before``."""
        entry = LogEntry(EventType.ENVELOPES_PURGED, now, purged_before=before)
        return self._append([entry.encode()], purge_before=before).start

    # ------------------------------------------------------------ checkpoints

    def checkpoint(self, signer: Ed25519Signer, now: datetime) -> StoredCheckpoint:
        """Sign a checkpoint of the whole log with the office's key and store it.

        ``signer.name`` must be this log's origin (``log_signer`` makes one from office keys).
        """
        if signer.name != self.origin:
            raise InputError(f"the log key is named {signer.name!r}, the log is {self.origin!r}")
        if not self._writable:
            raise InputError(f"{self.path} is open read-only")
        public = signer.private_key.public_key().public_bytes_raw()
        with _sqlite_errors(self.path):
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                size = self.size
                note = sign_checkpoint(Checkpoint(self.origin, size, self.root(size)), signer)
                cursor = self._conn.execute(
                    "INSERT INTO checkpoints (size, created_ms, key_id, note) VALUES (?, ?, ?, ?)",
                    (size, to_ms(now), key_id(KeyAlg.ED25519, public), note),
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
        seq = cursor.lastrowid or 0
        return StoredCheckpoint(
            seq, size, from_ms(to_ms(now)), key_id(KeyAlg.ED25519, public), note
        )

    def checkpoints(self) -> tuple[StoredCheckpoint, ...]:
        """Every stored checkpoint, in the order they were made."""
        with _sqlite_errors(self.path):
            rows = self._conn.execute(
                "SELECT seq, size, created_ms, key_id, note FROM checkpoints ORDER BY seq"
            ).fetchall()
        return tuple(_stored_checkpoint(row) for row in rows)

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        """The checkpoint made last, or None (one row: for monitoring, however many there are)."""
        with _sqlite_errors(self.path):
            row = self._conn.execute(
                "SELECT seq, size, created_ms, key_id, note FROM checkpoints"
                " ORDER BY seq DESC LIMIT 1"
            ).fetchone()
        return None if row is None else _stored_checkpoint(row)

    # ------------------------------------------------------------ reading

    def entry_bytes(self, index: int) -> bytes:
        """The stored bytes of entry ``index`` (InputError if there is none)."""
        with _sqlite_errors(self.path):
            row = self._conn.execute("SELECT entry FROM entries WHERE idx = ?", (index,)).fetchone()
        if row is None:
            raise InputError(f"the log has no entry {index}")
        return bytes(row[0])

    def entry(self, index: int) -> LogEntry:
        return decode_entry(self.entry_bytes(index))

    def entry_range(self, start: int, end: int) -> list[tuple[int, bytes]]:
        """(index, bytes) of the stored entries with ``start <= index < end``, in order."""
        with _sqlite_errors(self.path):
            return self._conn.execute(
                "SELECT idx, entry FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx",
                (start, end),
            ).fetchall()

    def entry_blobs(self, start: int, end: int) -> list[tuple[bytes]]:
        """The stored bytes with ``start <= index < end``, in order, as one-element rows (no
        indices: when there are ``end - start`` of them, they are exactly those entries)."""
        with _sqlite_errors(self.path):
            return self._conn.execute(
                "SELECT entry FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx", (start, end)
            ).fetchall()

    def iter_entries(self, start: int = 0, *, batch: int = 4096) -> Iterator[tuple[int, bytes]]:
        """Every stored (index, bytes) from ``start``, read in batches."""
        end = self.entry_count()
        while start < end:
            yield from self.entry_range(start, min(start + batch, end))
            start += batch

    def tile(self, level: int, index: int) -> bytes:
        """A stored tile's bytes, b"" if there is none."""
        with _sqlite_errors(self.path):
            row = self._conn.execute(
                "SELECT hashes FROM tiles WHERE level = ? AND idx = ?", (level, index)
            ).fetchone()
        return b"" if row is None else bytes(row[0])

    def tile_range(self, level: int, first: int, end: int) -> dict[int, bytes]:
        """The stored tiles of ``level`` with ``first <= index < end``."""
        with _sqlite_errors(self.path):
            rows = self._conn.execute(
                "SELECT idx, hashes FROM tiles WHERE level = ? AND idx >= ? AND idx < ?",
                (level, first, end),
            ).fetchall()
        return {int(i): bytes(h) for i, h in rows}

    def snapshot(self) -> Snapshot:
        """Counts, tile widths, checkpoints and purges, read in one transaction."""
        with _sqlite_errors(self.path):
            self._conn.execute("BEGIN")
            try:
                # Two queries: SQLite answers min() or max() alone from the index, not both.
                low = self._conn.execute("SELECT min(idx) FROM entries").fetchone()[0]
                high = self._conn.execute("SELECT max(idx) FROM entries").fetchone()[0]
                widths = {
                    (int(level), int(index)): int(length) // 32
                    for level, index, length in self._conn.execute(
                        "SELECT level, idx, length(hashes) FROM tiles"
                    )
                }
                checkpoints = self.checkpoints()
                purges = tuple(
                    (int(a), int(b))
                    for a, b in self._conn.execute("SELECT entry_idx, before_idx FROM purges")
                )
            finally:
                self._conn.execute("COMMIT")
        return Snapshot(
            entry_count=0 if high is None else int(high) + 1,
            lowest_index=0 if low is None else int(low),
            tile_widths=widths,
            checkpoints=checkpoints,
            purges=purges,
        )

    # ------------------------------------------------------------ proofs

    def inclusion_proof(self, index: int, size: int) -> InclusionProof:
        self._check_size(size)
        return inclusion_proof(self.node_reader(), index, size)

    def consistency_proof(self, old: int, new: int) -> ConsistencyProof:
        self._check_size(new)
        return consistency_proof(self.node_reader(), old, new)

    def _check_size(self, size: int) -> None:
        if size > self.size:
            raise InputError(f"the log has {self.size} entries, not {size}")

    def prove_inclusion(self, index: int) -> bytes:
        """A tlog-proof file for entry ``index`` against the latest checkpoint covering it."""
        covering = [c for c in self.checkpoints() if c.size > index]
        if not covering:
            raise InputError(
                f"no stored checkpoint covers entry {index} yet; sign a checkpoint first"
            )
        latest = covering[-1]
        return format_inclusion_proof(self.inclusion_proof(index, latest.size), latest.note)

    def prove_consistency(self, old: int, new: int) -> bytes:
        """A consistency-proof file from size ``old`` to the stored checkpoint of size ``new``."""
        matching = [c for c in self.checkpoints() if c.size == new]
        if not matching:
            raise InputError(f"no stored checkpoint has size {new}")
        return format_consistency_proof(self.consistency_proof(old, new), matching[-1].note)


def _stored_checkpoint(row: tuple[int, int, int, bytes, bytes]) -> StoredCheckpoint:
    seq, size, created_ms, key, note = row
    try:
        created = from_ms(int(created_ms))
    except (OverflowError, ValueError):
        created = from_ms(0)  # a damaged hint; the signature check reports the checkpoint
    return StoredCheckpoint(int(seq), int(size), created, bytes(key), bytes(note))


__all__ = [
    "APPLICATION_ID",
    "DEFAULT_NETWORK",
    "TILE_HEIGHT",
    "ExchangeLog",
    "Snapshot",
    "StoredCheckpoint",
    "TileReader",
]
