"""The SQLite log: durable appends, the stored tree (tiles), proofs, checkpoints, clear errors."""

from __future__ import annotations

import os
import sqlite3  # noqa: TID251 - the insider's tool, on purpose
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from broker.errors import ConfigError, InputError, IntegrityError
from broker.exchange_log import EventType, ExchangeLog, LogEntry, log_signer, log_verifier
from broker.exchange_log.sqlite_store import APPLICATION_ID
from broker.exchange_log.tiles import TILE_WIDTH, tile_widths
from broker.keys.model import OfficeKeys
from broker.ledger import (
    MemoryNodeStore,
    check_consistency_proof,
    check_inclusion_proof,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    open_checkpoint,
    root_at,
)

AT = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
OFFICE = "CN-YN-BLO-HK"


def entry(i: int) -> LogEntry:
    return LogEntry(
        EventType.PUBLISHED,
        AT + timedelta(milliseconds=i),
        message_id=i.to_bytes(16, "big"),
        envelope_digest=(i + 7).to_bytes(32, "big"),
    )


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "exchange-log.db"


@pytest.fixture
def log(path: Path) -> Iterator[ExchangeLog]:
    opened = ExchangeLog.open(path, office_id=OFFICE)
    yield opened
    opened.close()


def fill(log: ExchangeLog, count: int, batch: int = 300) -> list[bytes]:
    encoded = []
    for start in range(0, count, batch):
        entries = [entry(i) for i in range(start, min(count, start + batch))]
        indices = log.append_many(entries)
        assert indices == range(start, start + len(entries))
        encoded += [e.encode() for e in entries]
    return encoded


def test_a_new_log_is_empty_and_names_its_office(log: ExchangeLog, path: Path) -> None:
    assert log.size == 0
    assert log.office_id == OFFICE
    assert log.origin == f"liaison.example/log/{OFFICE}"
    assert log.root() == root_at(MemoryNodeStore(), 0)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_appends_store_the_exact_bytes_and_the_tree(log: ExchangeLog, path: Path) -> None:
    encoded = fill(log, 1100)
    assert log.append(entry(1100)) == 1100
    encoded.append(entry(1100).encode())
    memory, state = MemoryNodeStore.from_leaves(leaf_hash(e) for e in encoded)
    assert log.size == log.entry_count() == len(encoded)
    assert log.root() == state.root()
    for size in (1, 2, 3, 255, 256, 257, 511, 512, 1024, 1101):
        assert log.root(size) == root_at(memory, size)
    assert log.entry_bytes(517) == encoded[517]
    assert log.entry(517) == entry(517)
    # One row per 256 leaves at tile level 0, and one at level 1 for the four 256-leaf roots.
    with sqlite3.connect(path) as conn:
        widths = {
            (level, idx): length // 32
            for level, idx, length in conn.execute("SELECT level, idx, length(hashes) FROM tiles")
        }
    assert widths == tile_widths(1101)
    assert widths[(1, 0)] == 4


def test_proofs_from_the_stored_tree_match_the_reference(log: ExchangeLog) -> None:
    encoded = fill(log, 700)
    memory, _ = MemoryNodeStore.from_leaves(leaf_hash(e) for e in encoded)
    for index, size in ((0, 1), (0, 700), (255, 256), (256, 700), (699, 700), (300, 513)):
        assert log.inclusion_proof(index, size) == inclusion_proof(memory, index, size)
    for old, new in ((1, 700), (256, 512), (300, 700), (699, 700), (700, 700)):
        assert log.consistency_proof(old, new) == consistency_proof(memory, old, new)
    with pytest.raises(InputError, match="not 701"):
        log.inclusion_proof(0, 701)
    with pytest.raises(InputError, match="not in a tree"):
        log.inclusion_proof(700, 700)


def test_reopening_resumes_the_tree(path: Path) -> None:
    with ExchangeLog.open(path, office_id=OFFICE) as log:
        encoded = fill(log, 300)
    with ExchangeLog.open(path, office_id=OFFICE) as log:
        assert log.size == 300
        log.append(entry(300))
        encoded.append(entry(300).encode())
        assert log.root() == MemoryNodeStore.from_leaves(leaf_hash(e) for e in encoded)[1].root()


def test_another_writer_in_between_is_noticed(path: Path) -> None:
    with (
        ExchangeLog.open(path, office_id=OFFICE) as first,
        ExchangeLog.open_existing(path, writable=True) as second,
    ):
        first.append(entry(0))
        second.append_many([entry(1), entry(2)])  # e.g. an audit decryption while running
        first.append(entry(3))
        encoded = [entry(i).encode() for i in range(4)]
        assert first.root() == MemoryNodeStore.from_leaves(leaf_hash(e) for e in encoded)[1].root()
        assert [first.entry(i) for i in range(4)] == [entry(i) for i in range(4)]


def test_opening_reads_the_tree_and_the_entries_from_one_snapshot(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another process appends just after the opener counted the leaves: the opener must
    # still see matching counts (CI once saw "1 entries but 0 leaves" from this race).
    with ExchangeLog.open(path, office_id=OFFICE) as writer:
        leaves = ExchangeLog.size
        fired: list[int] = []

        def leaves_then_another_append(log: ExchangeLog) -> int:
            counted = int(leaves.__get__(log))
            if log is not writer and not fired:
                fired.append(writer.append(entry(len(fired))))
            return counted

        monkeypatch.setattr(ExchangeLog, "size", property(leaves_then_another_append))
        with ExchangeLog.open(path, office_id=OFFICE) as opener:
            assert fired == [0]
            monkeypatch.undo()
            assert opener.size == 1
            opener.append(entry(1))  # its tree is reloaded, not the stale snapshot's
        assert (
            writer.root()
            == MemoryNodeStore.from_leaves(leaf_hash(entry(i).encode()) for i in range(2))[1].root()
        )


def test_checkpoints_are_signed_by_the_office_key_and_stored(log: ExchangeLog) -> None:
    keys = OfficeKeys.generate(OFFICE)
    fill(log, 5)
    first = log.checkpoint(log_signer(keys), AT)
    fill_more = [entry(i) for i in range(5, 9)]
    log.append_many(fill_more)
    second = log.checkpoint(log_signer(keys), AT + timedelta(minutes=5))
    assert [c.size for c in log.checkpoints()] == [5, 9]
    assert log.checkpoints()[1] == second
    verifier = log_verifier(keys.public())
    opened = open_checkpoint(second.note, origin=log.origin, log_key=verifier)
    assert opened.checkpoint.root_hash == log.root(9)
    assert first.key_id == second.key_id == keys.public().signing_key_id
    # The proof files embed the checkpoint: an auditor needs only the public key.
    proof = log.prove_inclusion(3)
    check_inclusion_proof(
        proof, leaf_hash=leaf_hash(entry(3).encode()), origin=log.origin, log_key=verifier
    )
    proof = log.prove_consistency(5, 9)
    check_consistency_proof(
        proof,
        old=open_checkpoint(first.note, origin=log.origin, log_key=verifier).checkpoint,
        log_key=verifier,
    )


def test_checkpoints_need_the_log_key(log: ExchangeLog) -> None:
    other = OfficeKeys.generate("VN-BCA-C02")
    with pytest.raises(InputError, match="the log key is named"):
        log.checkpoint(log_signer(other), AT)
    with pytest.raises(InputError, match="no stored checkpoint covers entry 0"):
        log.prove_inclusion(0)
    with pytest.raises(InputError, match="no stored checkpoint has size 3"):
        log.prove_consistency(1, 3)


def test_purge_records_need_a_writable_log(path: Path) -> None:
    with ExchangeLog.open(path, office_id=OFFICE) as log:
        fill(log, 3)
        assert log.record_purge(2, AT) == 3
        assert log.snapshot().purges == ((3, 2),)
    with ExchangeLog.open_existing(path) as reader:
        with pytest.raises(InputError, match="read-only"):
            reader.append(entry(9))
        with pytest.raises(InputError, match="read-only"):
            reader.checkpoint(log_signer(OfficeKeys.generate(OFFICE)), AT)


def test_iterating_sees_every_stored_entry(log: ExchangeLog) -> None:
    fill(log, 600)
    seen = list(log.iter_entries(batch=128))
    assert [i for i, _ in seen] == list(range(600))
    assert list(log.iter_entries(598)) == [(598, entry(598).encode()), (599, entry(599).encode())]
    assert log.tile(0, 2)[:32] == leaf_hash(entry(512).encode())
    assert log.tile(0, 3) == b""


# ---------------------------------------------------------------- files that are not a good log


def test_a_missing_log_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no exchange log at"):
        ExchangeLog.open_existing(tmp_path / "nothing.db")


def test_junk_is_not_a_log(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(os.urandom(8192))
    with pytest.raises(IntegrityError, match="not a Liaison exchange log"):
        ExchangeLog.open_existing(junk)
    with pytest.raises(IntegrityError, match="not a Liaison exchange log"):
        ExchangeLog.open(junk, office_id=OFFICE)


def test_another_sqlite_database_is_not_a_log(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(IntegrityError, match=r"not a Liaison exchange log \(application id\)"):
        ExchangeLog.open_existing(other)
    with pytest.raises(IntegrityError, match=r"not a Liaison exchange log \(application id\)"):
        ExchangeLog.open(other, office_id=OFFICE)
    with sqlite3.connect(other) as conn:  # the daemon changed nothing in someone else's file
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    with pytest.raises(IntegrityError, match="no log tables"):
        ExchangeLog.open_existing(empty)
    with sqlite3.connect(other) as conn:
        conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    with pytest.raises(IntegrityError, match="no log metadata"):
        ExchangeLog.open_existing(other)


@pytest.mark.parametrize("keep", [100, 5000, 0.5])
def test_a_truncated_file_gives_a_clear_error(path: Path, keep: float) -> None:
    with ExchangeLog.open(path, office_id=OFFICE) as log:
        fill(log, 2000)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = path.stat().st_size
    with path.open("r+b") as handle:
        handle.truncate(int(size * keep) if isinstance(keep, float) else keep)

    def read_everything() -> None:
        with ExchangeLog.open_existing(path) as log:
            list(log.iter_entries())
            log.snapshot()

    with pytest.raises(
        IntegrityError, match=r"not a Liaison exchange log|database file is corrupt"
    ):
        read_everything()


def test_a_log_of_another_office_is_refused(path: Path) -> None:
    ExchangeLog.open(path, office_id=OFFICE).close()
    with pytest.raises(ConfigError, match="is the exchange log of CN-YN-BLO-HK"):
        ExchangeLog.open(path, office_id="VN-BCA-C02")
    with pytest.raises(ConfigError, match="is the exchange log of"):
        ExchangeLog.open(path, office_id=OFFICE, network="other.example")


def test_a_log_whose_tree_disagrees_refuses_to_append(path: Path) -> None:
    with ExchangeLog.open(path, office_id=OFFICE) as log:
        fill(log, 10)
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM entries WHERE idx = 9")
    with pytest.raises(IntegrityError, match="9 entries but its tree has 10 leaves"):
        ExchangeLog.open(path, office_id=OFFICE)


def test_a_log_that_cannot_be_created_is_a_config_error(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "data"
    not_a_folder.write_text("a file where the data folder should be")
    with pytest.raises(ConfigError, match="cannot use the exchange log"):
        ExchangeLog.open(not_a_folder / "exchange-log.db", office_id=OFFICE)


def test_tile_counts_for_sizes() -> None:
    assert tile_widths(0) == {}
    assert tile_widths(1) == {(0, 0): 1}
    assert tile_widths(TILE_WIDTH) == {(0, 0): 256, (1, 0): 1}
    assert tile_widths(2 * TILE_WIDTH + 3) == {(0, 0): 256, (0, 1): 256, (0, 2): 3, (1, 0): 2}
