"""``verify_log``: every check, in one process and across workers, with each kind of key source."""

from __future__ import annotations

import sqlite3  # noqa: TID251 - the insider's tool, on purpose
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from broker.envelope import KeyWindow, MessageKind, StaticDirectory
from broker.errors import InputError
from broker.exchange_log import (
    DirectoryLogKeys,
    EventType,
    ExchangeLog,
    FixedLogKey,
    LogEntry,
    Problem,
    ProblemCode,
    entry_for_envelope,
    log_signer,
    log_verifier,
)
from broker.exchange_log.report import merge_runs
from broker.exchange_log.tiles import TILE_WIDTH
from broker.exchange_log.verify import MAX_CHUNK, MIN_CHUNK, chunk_size_for, verify_log
from broker.keys.model import OfficeKeys
from broker.ledger import parse_verifier_key
from tests.unit.test_exchange_log_world import HK, TH, VN, World

AT = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
KEYS = OfficeKeys.generate(HK)
DIRECTORY = StaticDirectory.of(1, [KEYS.public()])


def entry(i: int) -> LogEntry:
    return LogEntry(
        EventType.CONFIRMED,
        AT + timedelta(seconds=i),
        message_id=(i + 1).to_bytes(16, "big"),
    )


@pytest.fixture
def big(tmp_path: Path) -> Path:
    """5,000 entries with checkpoints at chunk boundaries and between them."""
    path = tmp_path / "exchange-log.db"
    with ExchangeLog.open(path, office_id=HK) as log:
        log.checkpoint(log_signer(KEYS), AT)  # size 0
        for start in range(0, 5000, 500):
            log.append_many([entry(i) for i in range(start, start + 500)])
            if start in (500, 1500, 3500):
                log.checkpoint(log_signer(KEYS), AT + timedelta(hours=start))
        log.append_many([entry(5000 + i) for i in range(48)])  # 5,048: 1024 + 1024 ... + 952
        log.checkpoint(log_signer(KEYS), AT + timedelta(days=1))
    return path


def verify(path: Path, **options: object):  # type: ignore[no-untyped-def]
    return verify_log(path, log_keys=DirectoryLogKeys(DIRECTORY), **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(("workers", "chunk"), [(1, None), (1, 1024), (2, 1024), (2, 2048), (1, 4)])
def test_a_sound_log_verifies_however_it_is_split(
    big: Path, workers: int, chunk: int | None
) -> None:
    seen: list[tuple[int, int]] = []
    report = verify(
        big, workers=workers, chunk_size=chunk, progress=lambda d, t: seen.append((d, t))
    )
    assert report.ok, report.problems
    assert (report.entries, report.tree_size, report.checkpoints) == (5048, 5048, 5)
    assert seen[-1] == (5048, 5048)
    assert report.summary().endswith("5048 entries, 5 checkpoints: no problems")


@pytest.mark.parametrize(("workers", "chunk"), [(1, None), (2, 1024), (1, 4)])
def test_changes_are_found_wherever_the_chunks_fall(
    big: Path, workers: int, chunk: int | None
) -> None:
    with sqlite3.connect(big) as conn:
        conn.execute("UPDATE entries SET entry = ? WHERE idx = 3000", (entry(1).encode(),))
        conn.execute("DELETE FROM entries WHERE idx = 1023")
    report = verify(big, workers=workers, chunk_size=chunk)
    assert [(p.code, p.entry) for p in report.problems if p.checkpoint_size is None] == [
        (ProblemCode.ENTRY_MISSING, 1023),
        (ProblemCode.LEAF_MISMATCH, 3000),
    ]
    roots = [p for p in report.problems if p.code is ProblemCode.CHECKPOINT_ROOT]
    assert [(p.checkpoint_size, p.entry) for p in roots] == [(4000, 2000), (5048, 2000)]


def _tile(path: Path, level: int, index: int) -> bytes:
    with sqlite3.connect(path) as conn:
        row = conn.execute(
            "SELECT hashes FROM tiles WHERE level = ? AND idx = ?", (level, index)
        ).fetchone()
    return bytes(row[0])


def _set_tile(path: Path, level: int, index: int, data: bytes) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(
            "UPDATE tiles SET hashes = ? WHERE level = ? AND idx = ?", (data, level, index)
        )


@pytest.mark.parametrize("chunk", [None, 4])
def test_a_wrong_stored_node_is_located(big: Path, chunk: int | None) -> None:
    tile = bytearray(_tile(big, 1, 0))
    tile[32 * 5] ^= 1  # the root of leaves 1280..1535
    _set_tile(big, 1, 0, bytes(tile))
    report = verify(big, workers=1, chunk_size=chunk)
    [node] = report.problems
    assert (node.code, node.entry, node.last_entry) == (ProblemCode.NODE_MISMATCH, 1280, 1535)
    assert "proofs over them would fail" in node.message or "not the hash" in node.message


def test_a_wrong_stored_leaf_and_a_missing_tile(big: Path) -> None:
    tile = bytearray(_tile(big, 0, 2))
    tile[32 * 7] ^= 1
    _set_tile(big, 0, 2, bytes(tile))
    with sqlite3.connect(big) as conn:
        conn.execute("DELETE FROM tiles WHERE level = 0 AND idx = 10")
    report = verify(big, workers=1)
    assert [(p.code, p.entry, p.last_entry) for p in report.problems] == [
        (ProblemCode.LEAF_MISMATCH, 2 * TILE_WIDTH + 7, None),
        (ProblemCode.TREE_MISSING, 10 * TILE_WIDTH, 11 * TILE_WIDTH - 1),
    ]


def test_a_short_tile_and_extra_tiles(big: Path) -> None:
    with sqlite3.connect(big) as conn:
        conn.execute("INSERT INTO tiles VALUES (0, 40, ?)", (b"\0" * 64,))
        conn.execute("INSERT INTO tiles VALUES (3, 0, ?)", (b"\0" * 32,))
        conn.execute("UPDATE entries SET idx = -1 WHERE idx = 0")
    report = verify(big, workers=1)
    found = {(p.code, p.entry) for p in report.problems}
    assert (ProblemCode.ENTRY_INDEX, 0) in found
    assert (ProblemCode.ENTRY_MISSING, 0) in found
    assert sum(1 for p in report.problems if p.code is ProblemCode.TREE_EXTRA) == 2


def test_checkpoints_verify_with_the_log_verifier_key(big: Path) -> None:
    vkey = log_verifier(KEYS.public()).vkey
    assert verify_log(big, log_keys=FixedLogKey(parse_verifier_key(vkey)), workers=1).ok
    other = log_verifier(OfficeKeys.generate(HK).public())
    report = verify_log(big, log_keys=FixedLogKey(other), workers=1)
    assert {p.code for p in report.problems} == {ProblemCode.CHECKPOINT_SIGNATURE}
    assert len(report.problems) == 5
    wrong_name = log_verifier(replace(KEYS.public(), office_id=VN))
    report = verify_log(big, log_keys=FixedLogKey(wrong_name), workers=1)
    assert {p.code for p in report.problems} == {ProblemCode.CHECKPOINT_KEY}


def test_a_checkpoint_signed_after_the_key_was_revoked(big: Path) -> None:
    revoked = AT + timedelta(hours=2000)
    windows = {KEYS.public().signing_key_id: KeyWindow(revoked_at=revoked)}
    directory = StaticDirectory.of(1, [KEYS.public()], windows)
    report = verify_log(big, log_keys=DirectoryLogKeys(directory), workers=1)
    assert [p.checkpoint_size for p in report.problems] == [4000]  # signed at AT + 3500 h
    assert all("sender-key-revoked" in p.message for p in report.problems)


def test_an_empty_log_verifies(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    with ExchangeLog.open(path, office_id=HK) as log:
        log.checkpoint(log_signer(KEYS), AT)
    report = verify(path)
    assert report.ok
    assert (report.entries, report.checkpoints) == (0, 1)


def test_chunk_sizes(big: Path) -> None:
    assert chunk_size_for(0, 2) == MIN_CHUNK
    assert chunk_size_for(50_000, 2) == 4096
    assert chunk_size_for(10**7, 2) == MAX_CHUNK
    with pytest.raises(InputError, match="power of two"):
        verify_log(big, log_keys=DirectoryLogKeys(DIRECTORY), chunk_size=3)


def test_full_checks_need_the_directory_and_the_store(big: Path) -> None:
    with pytest.raises(InputError, match="full verification needs"):
        verify(big, full=True)


# ---------------------------------------------------------------- envelopes, full checks


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    made = World(tmp_path)
    yield made
    made.close()


def full(world: World, office: str, directory: StaticDirectory | None = None, **options: object):  # type: ignore[no-untyped-def]
    chosen = directory or world.directory
    return verify_log(
        world[office].log_path,
        log_keys=DirectoryLogKeys(chosen),
        directory=chosen,
        envelopes=world[office].folder / "envelopes",
        full=True,
        **options,  # type: ignore[arg-type]
    )


def test_envelopes_are_checked_against_the_directory(world: World) -> None:
    world.send(TH, HK)
    world.send(VN, HK)
    world.checkpoint(HK)
    assert full(world, HK).ok
    without_thailand = StaticDirectory.of(1, [world[HK].keys.public(), world[VN].keys.public()])
    report = full(world, HK, without_thailand)
    bad = [p for p in report.problems if p.code is ProblemCode.ENVELOPE_SIGNATURE]
    assert len(bad) == 1  # TH's enquiry (the receipt is HK's own)
    assert all("unknown-sender" in p.message for p in bad)
    assert all(p.envelope_digest is not None for p in bad)


def test_an_entry_naming_another_messages_envelope(world: World) -> None:
    world.send(VN, HK)
    first = world[HK].log.entry(0)
    envelope, header = world.seal(VN, (HK,), MessageKind.ALERT, b"alert")
    world[HK].store.put(envelope)
    wrong = replace(
        entry_for_envelope(EventType.RECEIVED, header, first.envelope_digest, time=world.tick())
    )
    index = world[HK].log.append(wrong)
    [mismatch] = full(world, HK, workers=1).problems
    assert (mismatch.code, mismatch.entry) == (ProblemCode.ENVELOPE_MISMATCH, index)
    assert "message id" in mismatch.message


def test_an_entry_naming_the_wrong_sender_or_kind(world: World) -> None:
    world.send(VN, HK, receipt=False)
    received = world[HK].log.entry(0)
    world[HK].log.append(replace(received, sender=TH, time=world.tick()))
    world[HK].log.append(replace(received, kind=MessageKind.ALERT, time=world.tick()))
    report = full(world, HK, workers=1)
    assert [(p.code, p.message) for p in report.problems] == [
        (ProblemCode.ENVELOPE_MISMATCH, f"the envelope is from {VN}, the entry says {TH}"),
        (ProblemCode.ENVELOPE_MISMATCH, "the envelope's kind is not the entry's"),
    ]


def test_rejected_envelopes_are_kept_as_evidence_without_a_signature_check(world: World) -> None:
    junk = b"not an envelope at all"
    digest = world[HK].store.put(junk)
    world[HK].log.append(
        LogEntry(EventType.REJECTED, world.tick(), envelope_digest=digest, reason="malformed")
    )
    report = full(world, HK)
    assert report.ok, report.problems
    assert report.envelopes_checked == 1


def test_undecodable_entries_are_found_in_full_mode(world: World) -> None:
    world.send(VN, HK)
    world[HK].log._append([b"\x08\x01\x10\x63"])  # a writer bug: event 99
    assert full(world, HK, workers=1).problems[0].code is ProblemCode.ENTRY_MALFORMED
    assert full(world, HK, workers=1).problems[0].entry == world[HK].log.size - 1


# ---------------------------------------------------------------- reports


def test_runs_merge_and_locations_read_well() -> None:
    problems = [
        Problem(ProblemCode.LEAF_MISMATCH, "x", entry=5),
        Problem(ProblemCode.LEAF_MISMATCH, "x", entry=4),
        Problem(ProblemCode.LEAF_MISMATCH, "x", entry=6),
        Problem(ProblemCode.LEAF_MISMATCH, "x", entry=9),
        Problem(ProblemCode.ENTRY_MISSING, "x", entry=7),
        Problem(ProblemCode.FORK, "x", checkpoint_size=9),
        Problem(ProblemCode.ENVELOPE_MISSING, "x", entry=8, envelope_digest=b"\xab" * 32),
    ]
    merged = merge_runs(problems)
    assert [p.location() for p in merged] == [
        "checkpoint at size 9",
        "entries 4..6",
        "entry 7",
        f"entry 8, envelope {'ab' * 32}",
        "entry 9",
    ]
    assert merged[1].to_json()["last_entry"] == 6
    assert Problem(ProblemCode.PURGE_RECORD, "x").location() == "log"


def test_workers_also_start_without_fork(big: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When this process has threads (a progress bar), workers start from a fork server: every
    argument must then travel pickled."""
    import multiprocessing  # noqa: PLC0415

    from broker.exchange_log import verify as verify_module  # noqa: PLC0415

    monkeypatch.setattr(
        verify_module, "_context", lambda: multiprocessing.get_context("forkserver")
    )
    with sqlite3.connect(big) as conn:
        conn.execute("DELETE FROM entries WHERE idx = 2500")
    report = verify(big, workers=2, chunk_size=1024)
    assert [(p.code, p.entry) for p in report.problems] == [(ProblemCode.ENTRY_MISSING, 2500)]
