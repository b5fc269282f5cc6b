"""The envelope store (content-addressed, atomic files) and retention (purge, still verifiable)."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from broker.errors import ConfigError, IntegrityError
from broker.exchange_log import DirectoryLogKeys, EnvelopeStore, EventType, ProblemCode
from broker.exchange_log.envelope_store import MAX_STORED_BYTES, store_beside
from broker.exchange_log.retention import purge_envelopes
from broker.exchange_log.verify import verify_log
from tests.unit.test_exchange_log_world import HK, T0, VN, World


@pytest.fixture
def store(tmp_path: Path) -> EnvelopeStore:
    return EnvelopeStore(tmp_path / "envelopes")


def test_put_names_the_file_by_its_digest(store: EnvelopeStore) -> None:
    data = b"an envelope's bytes"
    digest = store.put(data)
    assert digest == hashlib.sha256(data).digest()
    path = store.path_for(digest)
    assert path == store.root / digest.hex()[:2] / digest.hex()[2:]
    assert path.read_bytes() == data
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert store.get(digest) == data
    assert digest in store
    assert b"\0" * 32 not in store
    assert "not bytes" not in store


def test_put_is_idempotent_and_leaves_no_temporary_files(store: EnvelopeStore) -> None:
    digests = {store.put(bytes([i]) * 100) for i in range(20)}
    assert store.put(bytes([3]) * 100) in digests
    assert set(store.digests()) == digests
    leftovers = [p for p in store.root.rglob("*") if p.name.startswith(".")]
    assert leftovers == []


def test_a_failed_write_leaves_nothing_behind(tmp_path: Path) -> None:
    blocked = tmp_path / "envelopes"
    blocked.write_text("a file where the store's folder should be")
    with pytest.raises(ConfigError, match="cannot create envelope folder"):
        EnvelopeStore(blocked).put(b"data")

    def broken_rng(size: int) -> bytes:
        return b"\0" * size

    store = EnvelopeStore(tmp_path / "store", rng=broken_rng)
    store.put(b"first")
    digest = hashlib.sha256(b"second").digest()
    store.path_for(digest).parent.mkdir(parents=True, exist_ok=True)
    # A stale temporary file of the same name makes the exclusive create fail: ConfigError.
    temp = store.path_for(digest).with_name(f".{digest.hex()[2:18]}.{'00' * 6}.tmp")
    temp.write_bytes(b"stale")
    with pytest.raises(ConfigError, match="cannot store envelope"):
        store.put(b"second")
    assert digest not in store


def test_get_refuses_an_oversized_file_and_missing_is_none(store: EnvelopeStore) -> None:
    digest = os.urandom(32)
    assert store.get(digest) is None
    path = store.path_for(digest)
    path.parent.mkdir(parents=True)
    with path.open("wb") as handle:
        handle.truncate(MAX_STORED_BYTES + 1)
    with pytest.raises(IntegrityError, match="larger than any envelope"):
        store.get(digest)
    path.unlink()
    path.mkdir()
    with pytest.raises(IntegrityError, match="cannot read stored envelope"):
        store.get(digest)
    with pytest.raises(IntegrityError, match="32 bytes"):
        store.path_for(b"short")


def test_delete_and_stray_files(store: EnvelopeStore) -> None:
    digest = store.put(b"x")
    (store.root / "zz").mkdir()
    (store.root / "README").write_text("not an envelope")
    (store.path_for(digest).parent / "short").write_text("not an envelope either")
    assert list(store.digests()) == [digest]
    assert store.delete(digest)
    assert not store.delete(digest)
    assert list(EnvelopeStore(store.root / "nowhere").digests()) == []
    assert store_beside(Path("/data/exchange-log.db")) == Path("/data/envelopes")


# ---------------------------------------------------------------- retention


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    made = World(tmp_path, ids=(HK, VN))
    yield made
    made.close()


def full_verify(world: World, office: str = HK):  # type: ignore[no-untyped-def]
    return verify_log(
        world[office].log_path,
        log_keys=DirectoryLogKeys(world.directory),
        directory=world.directory,
        envelopes=world[office].folder / "envelopes",
        full=True,
        workers=1,
    )


def test_purging_old_envelopes_keeps_the_log_verifiable(world: World) -> None:
    for _ in range(3):
        world.send(HK, VN)
    world.tick(86400)
    cutoff = world.now
    recent = world.send(HK, VN)
    before = full_verify(world)
    assert before.ok
    assert before.envelopes_purged == 0
    result = purge_envelopes(world[HK].log, world[HK].store, before=cutoff, now=world.tick())
    assert result.deleted == 6  # three enquiries and their three receipts
    assert result.entry_index is not None
    purge_entry = world[HK].log.entry(result.entry_index)
    assert purge_entry.event is EventType.ENVELOPES_PURGED
    assert purge_entry.purged_before == result.boundary == 15
    after = full_verify(world)
    assert after.ok, after.problems
    assert (after.envelopes_purged, after.envelopes_checked) == (6, before.envelopes_checked - 6)
    # The recent message's envelope is kept and still named by entries past the boundary.
    recent_entries = [
        world[HK].log.entry(i) for i in range(result.boundary, world[HK].log.size - 1)
    ]
    assert recent_entries[0].message_id == recent
    assert all(e.envelope_digest in world[HK].store for e in recent_entries if e.envelope_digest)


def test_nothing_old_means_no_purge_entry(world: World) -> None:
    world.send(HK, VN)
    size = world[HK].log.size
    result = purge_envelopes(world[HK].log, world[HK].store, before=T0, now=world.tick())
    assert (result.entry_index, result.deleted) == (None, 0)
    assert world[HK].log.size == size


def test_an_envelope_deleted_outside_a_purge_is_missing(world: World) -> None:
    world.send(HK, VN)
    world.tick(3600)
    world.send(HK, VN)
    later = world[HK].log.entry(world[HK].log.size - 1)
    world[HK].store.delete(later.envelope_digest)
    purge_envelopes(
        world[HK].log, world[HK].store, before=T0 + timedelta(seconds=30), now=world.tick()
    )
    report = full_verify(world)
    [missing] = report.problems
    assert missing.code is ProblemCode.ENVELOPE_MISSING
    assert missing.envelope_digest == later.envelope_digest


def test_forged_or_deleted_purge_records_are_reported(world: World) -> None:
    world.send(HK, VN)
    world.tick(3600)
    world.send(HK, VN)
    result = purge_envelopes(
        world[HK].log, world[HK].store, before=T0 + timedelta(seconds=30), now=world.tick()
    )
    assert result.entry_index is not None
    import sqlite3  # noqa: PLC0415, TID251 - the insider's tool

    with sqlite3.connect(world[HK].log_path) as conn:
        conn.execute("UPDATE purges SET before_idx = before_idx + 100")
    report = full_verify(world)
    assert {p.code for p in report.problems} == {
        ProblemCode.PURGE_RECORD,
        ProblemCode.ENVELOPE_MISSING,
    }
    with sqlite3.connect(world[HK].log_path) as conn:
        conn.execute("DELETE FROM purges")
    report = full_verify(world)
    [record] = [p for p in report.problems if p.code is ProblemCode.PURGE_RECORD]
    assert record.entry == result.entry_index
