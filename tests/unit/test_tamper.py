"""The tamper suite: an insider edits the SQLite file (or the envelope store) directly, and
``audit verify`` finds it and points at the place: entry index, checkpoint size, envelope.

Every log here was written through the public API by offices exchanging real envelopes
(``World``); each test then edits it the way someone with the file and the sqlite3 shell would.
"""

from __future__ import annotations

import shutil
import sqlite3  # noqa: TID251 - the insider's tool, on purpose
from dataclasses import dataclass
from pathlib import Path

import pytest

from broker.cli import audit_cmd
from broker.cli.main import cli
from broker.envelope import MessageKind
from broker.exchange_log import (
    DirectoryLogKeys,
    EventType,
    ExchangeLog,
    LogEntry,
    ProblemCode,
    VerifyReport,
    decode_entry,
    log_signer,
)
from broker.exchange_log.tiles import tiles_after_append
from broker.exchange_log.verify import verify_log
from broker.ledger import TreeState, leaf_hash, office_origin, sign_checkpoint
from broker.ledger.checkpoint import Checkpoint
from tests.conftest import CliResult
from tests.unit.test_exchange_log_world import HK, T0, TH, VN, World


@dataclass
class Scene:
    world: World
    sizes: list[int]  # sizes of the stored checkpoints, in order

    @property
    def path(self) -> Path:
        return self.world[HK].log_path

    def verify(
        self, *, full: bool = False, workers: int = 1, chunk: int | None = None
    ) -> VerifyReport:
        return verify_log(
            self.path,
            log_keys=DirectoryLogKeys(self.world.directory),
            directory=self.world.directory,
            envelopes=self.world[HK].folder / "envelopes",
            full=full,
            workers=workers,
            chunk_size=chunk,
        )

    def sql(self, statement: str, *params: object) -> None:
        with sqlite3.connect(self.path) as conn:
            conn.execute(statement, params)

    def entry_bytes(self, index: int) -> bytes:
        with sqlite3.connect(self.path) as conn:
            row = conn.execute("SELECT entry FROM entries WHERE idx = ?", (index,)).fetchone()
        return bytes(row[0])

    def count(self) -> int:
        with sqlite3.connect(self.path) as conn:
            return int(conn.execute("SELECT count(*) FROM entries").fetchone()[0])

    def rebuild_tree(self) -> None:
        """What a careful insider does after editing entries: recompute the stored tree."""
        with sqlite3.connect(self.path) as conn:
            rows = conn.execute("SELECT entry FROM entries ORDER BY idx").fetchall()
            state, nodes = TreeState(), []
            for (data,) in rows:
                nodes += state.append(leaf_hash(bytes(data)))
            conn.execute("DELETE FROM tiles")
            tiles = tiles_after_append(nodes, lambda _level, _index: b"")
            conn.executemany(
                "INSERT INTO tiles VALUES (?, ?, ?)", [(t, i, h) for (t, i), h in tiles.items()]
            )

    def forge_checkpoint(self, size: int) -> bytes:
        """A checkpoint of the current (edited) entries, signed with the office's real key."""
        with sqlite3.connect(self.path) as conn:
            rows = conn.execute("SELECT entry FROM entries WHERE idx < ? ORDER BY idx", (size,))
            state = TreeState()
            for (data,) in rows:
                state.append(leaf_hash(bytes(data)))
        checkpoint = Checkpoint(office_origin("liaison.example", HK), size, state.root())
        return sign_checkpoint(checkpoint, log_signer(self.world[HK].keys))


@pytest.fixture
def scene(tmp_path: Path) -> Scene:
    world = World(tmp_path)
    sizes = []
    for round_ in range(6):
        partner = VN if round_ % 2 else TH
        enquiry = world.send(HK, partner, case_ref=f"HK-2026-{round_:04d}")
        world.send(partner, HK, kind=MessageKind.RESPONSE, related=enquiry)
        if round_ in (1, 3, 5):
            sizes.append(world.checkpoint(HK))
    world.close()
    return Scene(world, sizes)


def codes(report: VerifyReport) -> set[ProblemCode]:
    return {p.code for p in report.problems}


def only(report: VerifyReport, code: ProblemCode) -> list:  # type: ignore[type-arg]
    return [p for p in report.problems if p.code is code]


def test_the_untouched_log_verifies(scene: Scene) -> None:
    assert scene.sizes == sorted(scene.sizes)
    assert scene.verify().ok
    full = scene.verify(full=True)
    assert full.ok, full.problems
    assert full.envelopes_checked > 20


def test_one_changed_byte_in_an_entry(scene: Scene) -> None:
    target = scene.sizes[0] + 3
    data = bytearray(scene.entry_bytes(target))
    data[-1] ^= 0x01
    scene.sql("UPDATE entries SET entry = ? WHERE idx = ?", bytes(data), target)
    report = scene.verify()
    [leaf] = only(report, ProblemCode.LEAF_MISMATCH)
    assert (leaf.entry, leaf.last_entry) == (target, None)
    # The later checkpoints no longer match, and say since which checkpoint.
    roots = only(report, ProblemCode.CHECKPOINT_ROOT)
    assert {p.checkpoint_size for p in roots} == set(scene.sizes[1:])
    assert all(p.entry == scene.sizes[0] for p in roots)


def test_one_changed_entry_with_the_tree_recomputed(scene: Scene) -> None:
    target = scene.sizes[1] + 1
    entry = decode_entry(scene.entry_bytes(target))
    forged = LogEntry(EventType.DAEMON_STOPPED, entry.time)
    scene.sql("UPDATE entries SET entry = ? WHERE idx = ?", forged.encode(), target)
    scene.rebuild_tree()
    report = scene.verify()
    assert codes(report) == {ProblemCode.CHECKPOINT_ROOT}
    [root] = report.problems
    assert root.checkpoint_size == scene.sizes[2]
    assert (root.entry, root.last_entry) == (scene.sizes[1], scene.sizes[2] - 1)
    assert target in range(root.entry, root.last_entry + 1)


def test_a_deleted_entry(scene: Scene) -> None:
    scene.sql("DELETE FROM entries WHERE idx = 7")
    report = scene.verify()
    [missing] = report.problems
    assert (missing.code, missing.entry) == (ProblemCode.ENTRY_MISSING, 7)


def test_a_deleted_entry_with_the_rest_renumbered(scene: Scene) -> None:
    last = scene.count() - 1
    scene.sql("DELETE FROM entries WHERE idx = 12")
    scene.sql("UPDATE entries SET idx = -idx WHERE idx > 12")
    scene.sql("UPDATE entries SET idx = -idx - 1 WHERE idx < 0")
    report = scene.verify()
    [shifted] = only(report, ProblemCode.LEAF_MISMATCH)
    assert (shifted.entry, shifted.last_entry) == (12, last - 1)
    [extra] = only(report, ProblemCode.TREE_EXTRA)
    assert extra.entry == last
    assert ProblemCode.CHECKPOINT_BEYOND_LOG in codes(report)


def test_two_entries_reordered(scene: Scene) -> None:
    first, second = scene.entry_bytes(4), scene.entry_bytes(9)
    scene.sql("UPDATE entries SET entry = ? WHERE idx = 4", second)
    scene.sql("UPDATE entries SET entry = ? WHERE idx = 9", first)
    report = scene.verify()
    assert [p.entry for p in only(report, ProblemCode.LEAF_MISMATCH)] == [4, 9]


def test_the_tail_truncated(scene: Scene) -> None:
    total = scene.count()
    keep = scene.sizes[-1] - 5
    scene.sql("DELETE FROM entries WHERE idx >= ?", keep)
    report = scene.verify()
    [beyond] = only(report, ProblemCode.CHECKPOINT_BEYOND_LOG)
    assert beyond.checkpoint_size == scene.sizes[-1]
    assert (beyond.entry, beyond.last_entry) == (keep, scene.sizes[-1] - 1)
    [extra] = only(report, ProblemCode.TREE_EXTRA)
    assert extra.entry == keep
    assert "entries from" in extra.message
    assert total > keep


def test_a_forged_entry_appended_without_the_tree(scene: Scene) -> None:
    end = scene.count()
    forged = LogEntry(EventType.DAEMON_STARTED, T0)
    scene.sql("INSERT INTO entries VALUES (?, ?)", end, forged.encode())
    report = scene.verify()
    [missing] = report.problems
    assert (missing.code, missing.entry) == (ProblemCode.TREE_MISSING, end)


def test_a_forged_entry_inserted_in_the_middle(scene: Scene) -> None:
    at = scene.sizes[0] + 2
    scene.sql("UPDATE entries SET idx = -idx - 1 WHERE idx >= ?", at)
    scene.sql("UPDATE entries SET idx = -idx WHERE idx < 0")
    forged = LogEntry(
        EventType.DIRECTORY_LOADED, T0, directory_version=9, directory_digest=b"\1" * 32
    )
    scene.sql("INSERT INTO entries VALUES (?, ?)", at, forged.encode())
    report = scene.verify()
    first = min((p for p in report.problems if p.entry is not None), key=lambda p: p.entry or 0)
    assert ProblemCode.LEAF_MISMATCH in codes(report)
    assert only(report, ProblemCode.LEAF_MISMATCH)[0].entry == at
    assert first.entry == scene.sizes[0]  # the checkpoint-root range starts at the last good one
    assert {p.checkpoint_size for p in only(report, ProblemCode.CHECKPOINT_ROOT)} >= set(
        scene.sizes[1:-1]
    )


def test_a_checkpoint_replaced_by_one_of_another_key(scene: Scene) -> None:
    size = scene.sizes[1]
    other = World(scene.path.parent.parent / "elsewhere", ids=(HK,))
    try:
        foreign = sign_checkpoint(
            Checkpoint(office_origin("liaison.example", HK), size, b"\7" * 32),
            log_signer(other[HK].keys),
        )
    finally:
        other.close()
    scene.sql("UPDATE checkpoints SET note = ? WHERE size = ?", foreign, size)
    report = scene.verify()
    [bad] = report.problems
    assert (bad.code, bad.checkpoint_size) == (ProblemCode.CHECKPOINT_SIGNATURE, size)
    assert "unknown key" in bad.message


def test_a_checkpoint_with_an_edited_root(scene: Scene) -> None:
    size = scene.sizes[0]
    with sqlite3.connect(scene.path) as conn:
        note = bytes(
            conn.execute("SELECT note FROM checkpoints WHERE size = ?", (size,)).fetchone()[0]
        )
    lines = note.split(b"\n")
    lines[2] = b"A" * 43 + b"="  # another base64 root of 32 bytes
    scene.sql("UPDATE checkpoints SET note = ? WHERE size = ?", b"\n".join(lines), size)
    [bad] = scene.verify().problems
    assert (bad.code, bad.checkpoint_size) == (ProblemCode.CHECKPOINT_SIGNATURE, size)
    assert "bad signature" in bad.message


def test_a_checkpoint_key_hint_pointing_nowhere(scene: Scene) -> None:
    scene.sql("UPDATE checkpoints SET key_id = ? WHERE size = ?", b"\0" * 16, scene.sizes[2])
    [bad] = scene.verify().problems
    assert (bad.code, bad.checkpoint_size) == (ProblemCode.CHECKPOINT_KEY, scene.sizes[2])


def test_a_replaced_envelope(scene: Scene) -> None:
    entry = decode_entry(scene.entry_bytes(0))
    store = scene.world[HK].store
    other = decode_entry(scene.entry_bytes(6)).envelope_digest
    store.path_for(entry.envelope_digest).write_bytes(store.get(other) or b"")
    assert scene.verify().ok  # structure is untouched: only full verification reads envelopes
    report = scene.verify(full=True)
    [bad] = report.problems
    assert bad.code is ProblemCode.ENVELOPE_CORRUPT
    assert bad.envelope_digest == entry.envelope_digest
    assert bad.entry == 0


def test_a_deleted_envelope(scene: Scene) -> None:
    entry = decode_entry(scene.entry_bytes(3))
    scene.world[HK].store.path_for(entry.envelope_digest).unlink()
    [bad] = scene.verify(full=True).problems
    assert (bad.code, bad.envelope_digest) == (ProblemCode.ENVELOPE_MISSING, entry.envelope_digest)
    assert bad.entry == 3


def test_a_forked_log(scene: Scene) -> None:
    """The key holder rewrites history and signs a second checkpoint of an existing size."""
    size = scene.sizes[1]
    target = size - 2
    forged = LogEntry(EventType.DAEMON_STOPPED, T0)
    scene.sql("UPDATE entries SET entry = ? WHERE idx = ?", forged.encode(), target)
    scene.rebuild_tree()
    note = scene.forge_checkpoint(size)
    scene.sql(
        "INSERT INTO checkpoints (size, created_ms, key_id, note) VALUES (?, ?, ?, ?)",
        size,
        0,
        scene.world[HK].keys.public().signing_key_id,
        note,
    )
    report = scene.verify()
    [fork] = only(report, ProblemCode.FORK)
    assert fork.checkpoint_size == size
    [old_root] = [p for p in only(report, ProblemCode.CHECKPOINT_ROOT) if p.checkpoint_size == size]
    assert target in range(old_root.entry or 0, (old_root.last_entry or 0) + 1)


def test_every_problem_is_reported_not_just_the_first(scene: Scene) -> None:
    scene.sql("DELETE FROM entries WHERE idx = 2")
    data = bytearray(scene.entry_bytes(20))
    data[-1] ^= 0x04
    scene.sql("UPDATE entries SET entry = ? WHERE idx = 20", bytes(data))
    scene.sql("UPDATE checkpoints SET key_id = ? WHERE size = ?", b"\1" * 16, scene.sizes[0])
    entry = decode_entry(scene.entry_bytes(30))
    scene.world[HK].store.path_for(entry.envelope_digest).write_bytes(b"junk")
    for workers, chunk in ((1, None), (2, 1024)):
        report = scene.verify(full=True, workers=workers, chunk=chunk)
        assert {(p.code, p.entry) for p in report.problems} >= {
            (ProblemCode.ENTRY_MISSING, 2),
            (ProblemCode.LEAF_MISMATCH, 20),
            (ProblemCode.ENVELOPE_CORRUPT, 30),
        }
        assert ProblemCode.CHECKPOINT_KEY in codes(report)


# ---------------------------------------------------------------- through the command line


@pytest.fixture
def liaison_with_audit(liaison: object, monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.setitem(cli.commands, "audit", audit_cmd.audit)
    return liaison


def test_the_command_exits_30_and_points_at_the_entry(scene: Scene, liaison_with_audit) -> None:  # type: ignore[no-untyped-def]
    key_dir = str(scene.world[HK].key_dir)
    clean: CliResult = liaison_with_audit(
        "audit", "verify", str(scene.path), "--public-keys", key_dir
    )
    assert clean.code == 0, clean.err
    scene.sql("UPDATE entries SET entry = ? WHERE idx = 5", scene.entry_bytes(6))
    result: CliResult = liaison_with_audit(
        "audit", "verify", str(scene.path), "--public-keys", key_dir
    )
    assert result.code == 30
    assert "leaf-mismatch entry 5:" in result.out
    assert "problem(s) found" in result.err


@pytest.mark.parametrize("damage", ["truncate", "overwrite"])
def test_a_damaged_file_is_a_clear_error_not_a_traceback(
    scene: Scene,
    liaison_with_audit,
    damage: str,  # type: ignore[no-untyped-def]
) -> None:
    copy = scene.path.with_name("copy.db")
    with sqlite3.connect(scene.path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copy(scene.path, copy)
    data = copy.read_bytes()
    if damage == "truncate":
        copy.write_bytes(data[: len(data) // 3])
    else:
        copy.write_bytes(data[:100] + b"\xa5" * (len(data) - 100))
    result: CliResult = liaison_with_audit(
        "audit", "verify", str(copy), "--public-keys", str(scene.world[HK].key_dir)
    )
    assert result.code == 30
    assert "Traceback" not in result.err
    assert "database file is corrupt" in result.err or "not a Liaison exchange log" in result.err


def test_history_rewritten_between_two_checkpoints_by_the_key_holder(scene: Scene) -> None:
    """Entries before the first checkpoint are changed and the last checkpoint re-signed over the
    new history: the re-signed checkpoint matches the entries but does not extend the older ones."""
    forged = LogEntry(EventType.DAEMON_STOPPED, T0)
    scene.sql("UPDATE entries SET entry = ? WHERE idx = 5", forged.encode())
    scene.rebuild_tree()
    last = scene.sizes[-1]
    scene.sql("UPDATE checkpoints SET note = ? WHERE size = ?", scene.forge_checkpoint(last), last)
    report = scene.verify()
    [inconsistent] = only(report, ProblemCode.CHECKPOINT_INCONSISTENT)
    assert inconsistent.checkpoint_size == last
    assert f"size {scene.sizes[-2]}" in inconsistent.message
    roots = only(report, ProblemCode.CHECKPOINT_ROOT)
    assert {p.checkpoint_size for p in roots} == set(scene.sizes[:-1])
    assert all(p.entry == 0 for p in roots)


def test_a_garbled_checkpoint_and_a_wrong_size_column(scene: Scene) -> None:
    scene.sql("UPDATE checkpoints SET note = ? WHERE size = ?", b"not a note", scene.sizes[0])
    scene.sql("UPDATE checkpoints SET size = size + 1 WHERE size = ?", scene.sizes[1])
    scene.sql("UPDATE checkpoints SET created_ms = ? WHERE size = ?", 2**62, scene.sizes[2])
    report = scene.verify()
    found = {(p.code, p.checkpoint_size) for p in report.problems}
    assert (ProblemCode.CHECKPOINT_MALFORMED, scene.sizes[0]) in found
    assert (ProblemCode.CHECKPOINT_MALFORMED, scene.sizes[1]) in found  # named by its signed size
    assert len(report.problems) == 2  # a damaged time hint alone changes nothing here


def test_an_unreadable_envelope(scene: Scene) -> None:
    entry = decode_entry(scene.entry_bytes(0))
    path = scene.world[HK].store.path_for(entry.envelope_digest)
    path.unlink()
    path.mkdir()
    [bad] = scene.verify(full=True).problems
    assert (bad.code, bad.entry) == (ProblemCode.ENVELOPE_CORRUPT, 0)
    assert "cannot read stored envelope" in bad.message


def test_the_writer_refuses_to_append_after_an_insider_edit(scene: Scene) -> None:
    from broker.errors import IntegrityError  # noqa: PLC0415

    with ExchangeLog.open(scene.path, office_id=HK) as log:
        log.append(LogEntry(EventType.DAEMON_STARTED, T0))
        scene.sql("INSERT INTO entries VALUES (?, ?)", log.size, b"forged")
        with pytest.raises(IntegrityError, match="run 'liaison audit verify'"):
            log.append(LogEntry(EventType.DAEMON_STOPPED, T0))
        size = log.size
    assert scene.count() == size + 1  # the refused append left nothing behind
