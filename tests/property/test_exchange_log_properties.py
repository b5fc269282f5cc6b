"""Properties of the exchange log: entries round-trip, junk only ever raises IntegrityError, the
stored tree (tiles) is RFC 9162's tree however appends are batched, and the chunk check finds
any single change at its index."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from broker.envelope import MessageKind
from broker.errors import IntegrityError
from broker.exchange_log import EventType, ExchangeLog, LogEntry, decode_entry
from broker.exchange_log.report import ProblemCode
from broker.exchange_log.tiles import TILE_HEIGHT, tiles_after_append
from broker.exchange_log.tree_check import check_chunk_tree
from broker.ledger import (
    MemoryNodeStore,
    TreeState,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_at,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
office_ids = st.from_regex(r"[A-Z]{2}(-[A-Z0-9]{2,6}){1,3}", fullmatch=True)
times = st.integers(min_value=1, max_value=253_402_300_799_000).map(
    lambda ms: EPOCH + timedelta(milliseconds=ms)
)


@st.composite
def message_entries(draw: st.DrawFn) -> LogEntry:
    """Entries about a message, with optional fields drawn freely."""
    event = draw(st.sampled_from([EventType.SUBMITTED, EventType.PUBLISHED, EventType.RECEIVED]))
    return LogEntry(
        event=event,
        time=draw(times),
        message_id=draw(st.binary(min_size=16, max_size=16)),
        kind=draw(st.none() | st.sampled_from(list(MessageKind))),
        sender=draw(st.just("") | office_ids),
        recipients=tuple(draw(st.lists(office_ids, max_size=5, unique=True))),
        envelope_digest=draw(st.just(b"") | st.binary(min_size=32, max_size=32)),
        case_ref=draw(st.text(st.characters(categories=["L", "N", "Pd"]), max_size=40)),
        related_message_id=draw(st.just(b"") | st.binary(min_size=16, max_size=16)),
        due_at=draw(st.none() | times),
        reason=draw(st.just("") | st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True)),
    )


@settings(max_examples=200, deadline=None)
@given(message_entries())
def test_entries_roundtrip_through_their_one_encoding(entry: LogEntry) -> None:
    data = entry.encode()
    assert decode_entry(data) == entry
    assert decode_entry(data).encode() == data


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_only_ever_raise_integrity_error(data: bytes) -> None:
    try:
        entry = decode_entry(data)
    except IntegrityError:
        return
    assert entry.encode() == data


def entry(i: int) -> LogEntry:
    return LogEntry(EventType.CONFIRMED, EPOCH, message_id=i.to_bytes(16, "big"))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=300), min_size=1, max_size=6), st.data())
def test_the_stored_tree_is_rfc9162s_however_appends_are_batched(
    batches: list[int], data: st.DataObject
) -> None:
    with (
        tempfile.TemporaryDirectory() as folder,
        ExchangeLog.open(Path(folder) / "log.db", office_id="CN-YN-BLO-HK") as log,
    ):
        total = 0
        for size in batches:
            log.append_many([entry(total + i) for i in range(size)])
            total += size
        memory, state = MemoryNodeStore.from_leaves(
            leaf_hash(entry(i).encode()) for i in range(total)
        )
        assert log.root() == state.root()
        size = data.draw(st.integers(min_value=1, max_value=total))
        index = data.draw(st.integers(min_value=0, max_value=size - 1))
        old = data.draw(st.integers(min_value=1, max_value=size))
        assert log.root(size) == root_at(memory, size)
        assert log.inclusion_proof(index, size) == inclusion_proof(memory, index, size)
        assert log.consistency_proof(old, size) == consistency_proof(memory, old, size)


def _stored(leaves: list[bytes]) -> dict[tuple[int, int], bytes]:
    state, nodes = TreeState(), []
    for leaf in leaves:
        nodes += state.append(leaf)
    return tiles_after_append(nodes, lambda _level, _index: b"")


@settings(max_examples=60, deadline=None)
@given(
    st.integers(min_value=1, max_value=700),
    st.data(),
    st.sampled_from(["entry", "leaf", "node"]),
)
def test_one_change_is_found_at_its_index(count: int, data: st.DataObject, where: str) -> None:
    rows = [(i, f"entry {i}".encode()) for i in range(count)]
    tiles = _stored([leaf_hash(e) for _, e in rows])
    target = data.draw(st.integers(min_value=0, max_value=count - 1))
    expected: tuple[ProblemCode, int, int | None]
    if where == "entry":
        rows[target] = (target, b"changed")
        expected = (ProblemCode.LEAF_MISMATCH, target, None)
    elif where == "leaf":
        tile = bytearray(tiles[(0, target >> TILE_HEIGHT)])
        tile[(target % 256) * 32] ^= 1
        tiles[(0, target >> TILE_HEIGHT)] = bytes(tile)
        expected = (ProblemCode.LEAF_MISMATCH, target, None)
    else:
        if count < 256:
            return
        position = data.draw(st.integers(min_value=0, max_value=count // 256 - 1))
        tile = bytearray(tiles[(1, 0)])
        tile[position * 32] ^= 1
        tiles[(1, 0)] = bytes(tile)
        expected = (ProblemCode.NODE_MISMATCH, position * 256, position * 256 + 255)

    def stored(level: int, first: int, end: int) -> dict[int, bytes]:
        return {i: tiles[(level, i)] for i in range(first, end) if (level, i) in tiles}

    result = check_chunk_tree(0, count, rows, stored, [count])
    assert [(p.code, p.entry, p.last_entry) for p in result.problems] == [expected]
