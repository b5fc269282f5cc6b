"""FileBatch: the files of a batch share one syncfs, and get their names only after it."""

from __future__ import annotations

import hashlib
import os
import platform
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from adapters.transports.spool import write_once
from broker.durable import _SYNCFS, FileBatch, _reports_errors, sweep_leftovers
from broker.errors import ConfigError
from broker.exchange_log import EnvelopeStore


class Recorder:
    """A syncfs that runs the real one (when there is one) and notes what had a final name
    at each call."""

    def __init__(self, folder: Path, *, fail: bool = False) -> None:
        self.folder = folder
        self.fail = fail
        self.seen: list[list[str]] = []

    def __call__(self, fd: int) -> int:
        self.seen.append(sorted(self.names()))
        if self.fail:
            return -1
        return _SYNCFS(fd) if _SYNCFS is not None else 0

    def names(self) -> set[str]:
        return {p.name for p in self.folder.rglob("*") if p.is_file() and ".tmp" not in p.name}


def write(folder: Path, name: str, data: bytes, files: FileBatch) -> bool:
    return write_once(folder, name, data, files=files)


def test_the_data_is_synced_before_any_name_and_the_names_before_the_end(
    tmp_path: Path,
) -> None:
    recorder = Recorder(tmp_path)
    files = FileBatch(syncfs=recorder)
    (tmp_path / "out").mkdir()
    with files.batch():
        assert write(tmp_path / "out", "first", b"1", files)  # the file system's first: at once
        assert write(tmp_path / "out", "second", b"2", files)
        assert write(tmp_path / "out", "third", b"3", files)
        assert recorder.names() == {"first"}
    # one sync before the names appear, one after
    assert recorder.seen == [["first"], ["first", "second", "third"]]
    assert recorder.names() == {"first", "second", "third"}
    assert (tmp_path / "out" / "third").read_bytes() == b"3"
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]
    files.close()


def test_outside_a_batch_every_write_syncs_itself(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path)
    files = FileBatch(syncfs=recorder)
    assert not files.deferring(tmp_path)
    assert write(tmp_path, "alone", b"x", files)
    assert recorder.names() == {"alone"}
    assert recorder.seen == []


def test_an_exception_in_the_batch_puts_nothing_in_place(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path)
    files = FileBatch(syncfs=recorder)

    def failing_batch() -> None:
        with files.batch():
            write(tmp_path, "first", b"1", files)
            write(tmp_path, "lost", b"2", files)
            raise RuntimeError

    with pytest.raises(RuntimeError):
        failing_batch()
    assert recorder.names() == {"first"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first"]  # no temporary left
    assert recorder.seen == []


def test_a_failed_sync_is_a_config_error_and_names_nothing(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path, fail=True)
    files = FileBatch(syncfs=recorder)

    def batch() -> None:
        with files.batch():
            write(tmp_path, "first", b"1", files)
            write(tmp_path, "second", b"2", files)

    with pytest.raises(ConfigError, match="cannot make the batch's files durable"):
        batch()
    assert recorder.names() == {"first"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first"]


def test_without_syncfs_a_batch_changes_nothing(tmp_path: Path) -> None:
    files = FileBatch(syncfs=None)
    with files.batch():
        assert not files.deferring(tmp_path)
        write(tmp_path, "a", b"1", files)
        write(tmp_path, "b", b"2", files)
        assert {p.name for p in tmp_path.iterdir()} == {"a", "b"}


def test_an_existing_hand_over_name_still_wins(tmp_path: Path) -> None:
    files = FileBatch(syncfs=Recorder(tmp_path))
    with files.batch():
        write(tmp_path, "warm-up", b"0", files)
        assert write(tmp_path, "m1.json", b"ours", files)
        assert not write(tmp_path, "m1.json", b"again", files)  # pending counts as written
        (tmp_path / "m1.json").write_bytes(b"theirs")  # appeared meanwhile
    assert (tmp_path / "m1.json").read_bytes() == b"theirs"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def envelope_store(root: Path, syncfs: Callable[[int], int]) -> tuple[EnvelopeStore, FileBatch]:
    files = FileBatch(syncfs=syncfs)
    return EnvelopeStore(root, files=files), files


def test_envelopes_written_in_a_batch_can_be_read_before_its_end(tmp_path: Path) -> None:
    root = tmp_path / "envelopes"
    store, files = envelope_store(root, Recorder(tmp_path))
    envelopes = [os.urandom(300) for _ in range(20)]
    with files.batch():
        digests = [store.put(e) for e in envelopes]
        assert store.put(envelopes[5]) == digests[5]  # twice in one batch: one file
        for digest, envelope in zip(digests, envelopes, strict=True):
            assert digest == hashlib.sha256(envelope).digest()
            assert store.get(digest) == envelope
            assert digest in store
        assert len(list(store.digests())) < len(envelopes)  # most wait for the batch's end
    assert sorted(store.digests()) == sorted(digests)
    assert all(store.get(d) == e for d, e in zip(digests, envelopes, strict=True))
    assert not [p for p in root.rglob(".*") if p.is_file()]


@pytest.mark.parametrize(
    ("release", "reports"),
    [
        ("5.8.0", True),
        ("6.18.1-generic", True),
        ("5.7.19", False),
        ("4.18.0-553.el8", False),
        ("", False),
    ],
)
def test_syncfs_is_trusted_only_from_linux_5_8(release: str, *, reports: bool) -> None:
    # Before 5.8 syncfs could return 0 although write-back had failed.
    assert _reports_errors(release) is reports


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or not _reports_errors(platform.release()),
    reason="a syncfs that reports errors is Linux 5.8's and later",
)
def test_linux_has_syncfs() -> None:
    assert _SYNCFS is not None


def test_leftovers_of_a_crash_are_swept_and_nothing_else(tmp_path: Path) -> None:
    now = 1_800_000_000.0
    old, young = now - 3600, now - 5
    files = {
        ".ab12.deadbeef.tmp": old,  # a crash's leftover
        ".m1.json.cafe.tmp": young,  # a writer at work
        ".hidden": old,  # not ours
        "kept.tmp": old,  # not a dot file
        "ab12cd": old,  # an envelope
    }
    for name, when in files.items():
        (tmp_path / name).write_bytes(b"x")
        os.utime(tmp_path / name, (when, when))
    (tmp_path / ".old.dir.tmp").mkdir()  # not a file
    removed = sweep_leftovers([tmp_path, tmp_path / "missing"], older_than=600, now=now)
    assert removed == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [".m1.json.cafe.tmp", ".hidden", "kept.tmp", "ab12cd", ".old.dir.tmp"]
    )
