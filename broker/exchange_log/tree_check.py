"""Re-derive one aligned range of the tree from its entries and compare the stored tiles. Pure.

Verification splits the log into aligned chunks of ``2**c`` entries. For each chunk this module
hashes the entries, builds every complete perfect node over them (:func:`levels_of`), and
compares the nodes at tile levels (0, 8, 16 ...) with the stored tiles. It returns the
problems, located by entry index, and the chunk's peaks so that the caller can fold the whole
tree and the root at each checkpoint's size without seeing a single leaf hash.

A problem is reported at the lowest level where it shows: an interior node that differs is
reported only when nothing below it already did, so one changed entry gives one line.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from broker.exchange_log.report import Problem, ProblemCode, merge_runs
from broker.exchange_log.tiles import (
    TILE_HEIGHT,
    TILE_WIDTH,
    levels_of,
    prefix_peaks,
)
from broker.ledger import HASH_SIZE

# (tile level, first tile index, end tile index) -> {tile index: stored bytes}
StoredTiles = Callable[[int, int, int], Mapping[int, bytes]]

_LEAF_PREFIX = b"\x00"
_NO_HASH = bytes(HASH_SIZE)
_sha256 = hashlib.sha256


@dataclass(frozen=True, slots=True)
class ChunkTree:
    """The tree over entries ``start .. end-1`` as far as that range determines it."""

    start: int
    end: int
    problems: tuple[Problem, ...]
    peaks: tuple[bytes, ...]  # the range's peaks; one hash if the range is a whole chunk
    size_peaks: Mapping[int, tuple[bytes, ...]]  # the peaks of start .. s-1 for asked sizes s


class _StoredRow:
    """The stored hashes of one tile level over a run of positions."""

    def __init__(self, tiles: Mapping[int, bytes], first: int, count: int) -> None:
        self._tiles = tiles
        self.first = first
        self.count = count

    def at(self, position: int) -> bytes | None:
        index, offset = divmod(position, TILE_WIDTH)
        tile = self._tiles.get(index, b"")
        value = tile[offset * HASH_SIZE : (offset + 1) * HASH_SIZE]
        return value if len(value) == HASH_SIZE else None

    def joined(self) -> bytes:
        """The stored hashes concatenated (shorter than ``count`` hashes if some are missing)."""
        end = self.first + self.count
        parts = []
        for index in range(self.first // TILE_WIDTH, (end - 1) // TILE_WIDTH + 1):
            base = index * TILE_WIDTH
            lo, hi = max(self.first, base) - base, min(end, base + TILE_WIDTH) - base
            parts.append(self._tiles.get(index, b"")[lo * HASH_SIZE : hi * HASH_SIZE])
        return b"".join(parts)


def stored_row(stored: StoredTiles, tile_level: int, first: int, count: int) -> _StoredRow:
    """The stored hashes at tile level ``tile_level``, positions ``first .. first+count-1``."""
    tiles = stored(tile_level, first // TILE_WIDTH, (first + count - 1) // TILE_WIDTH + 1)
    return _StoredRow(tiles, first, count)


def _leaves(
    start: int, end: int, rows: Sequence[tuple[int, bytes]], stored0: _StoredRow
) -> tuple[list[bytes], list[Problem], bytearray]:
    """Leaf hashes of the range; a missing entry takes the stored leaf so later checks go on."""
    count = end - start
    flagged = bytearray(count)
    if len(rows) == count and (not rows or (rows[0][0] == start and rows[-1][0] == end - 1)):
        return [_sha256(_LEAF_PREFIX + data).digest() for _, data in rows], [], flagged
    problems = []
    by_index = dict(rows)
    leaves = []
    for index in range(start, end):
        data = by_index.get(index)
        if data is None:
            problems.append(
                Problem(ProblemCode.ENTRY_MISSING, "the entry is not in the log", entry=index)
            )
            flagged[index - start] = 1
            leaves.append(stored0.at(index) or _NO_HASH)
        else:
            leaves.append(_sha256(_LEAF_PREFIX + data).digest())
    return leaves, problems, flagged


def _compare_row(
    computed: Sequence[bytes],
    row: _StoredRow,
    level: int,
    start: int,
    flagged: bytearray,
) -> list[Problem]:
    if row.joined() == b"".join(computed):
        return []
    problems = []
    for offset, value in enumerate(computed):
        position = row.first + offset
        lo, hi = position << level, (position + 1) << level
        if flagged.find(1, lo - start, hi - start) != -1:
            continue  # already explained by a problem below this node
        stored = row.at(position)
        if stored == value:
            continue
        flagged[lo - start : hi - start] = b"\x01" * (hi - lo)
        problems.append(_node_problem(level, position, stored is None))
    return problems


def _node_problem(level: int, position: int, missing: bool) -> Problem:
    lo, hi = position << level, ((position + 1) << level) - 1
    if level == 0:
        if missing:
            return Problem(ProblemCode.TREE_MISSING, "the stored tree has no leaf for it", lo)
        return Problem(
            ProblemCode.LEAF_MISMATCH,
            "the entry does not hash to the stored leaf: it was changed, moved or inserted",
            lo,
        )
    if missing:
        return Problem(
            ProblemCode.TREE_MISSING, f"the stored tree has no node ({level}, {position})", lo, hi
        )
    return Problem(
        ProblemCode.NODE_MISMATCH,
        f"stored node ({level}, {position}) is not the hash of these entries; proofs over them "
        "would fail",
        lo,
        hi,
    )


def check_chunk_tree(
    start: int,
    end: int,
    rows: Sequence[tuple[int, bytes]],
    stored: StoredTiles,
    sizes: Iterable[int] = (),
) -> ChunkTree:
    """Hash entries ``start .. end-1`` (``rows``: stored (index, bytes), in index order) and
    compare with the stored tiles. ``start`` must be a multiple of a power of two >= the range.
    """
    row0 = stored_row(stored, 0, start, end - start)
    leaves, problems, flagged = _leaves(start, end, rows, row0)
    return _check(start, leaves, problems, flagged, row0, stored, sizes)


def check_whole_chunk(
    start: int, entries: Sequence[tuple[bytes]], stored: StoredTiles, sizes: Iterable[int] = ()
) -> ChunkTree:
    """``check_chunk_tree`` for a range without gaps: ``entries`` are the stored bytes of
    ``start``, ``start + 1`` ... as one-element rows, straight from the database (the common
    case, and the fast one: no index per row)."""
    row0 = stored_row(stored, 0, start, len(entries))
    leaves = [_sha256(_LEAF_PREFIX + data).digest() for (data,) in entries]
    return _check(start, leaves, [], bytearray(len(entries)), row0, stored, sizes)


def _check(  # noqa: PLR0917 - a private step shared by the two entry points
    start: int,
    leaves: list[bytes],
    problems: list[Problem],
    flagged: bytearray,
    row0: _StoredRow,
    stored: StoredTiles,
    sizes: Iterable[int],
) -> ChunkTree:
    end = start + len(leaves)
    levels = levels_of(leaves)
    problems += _compare_row(levels[0], row0, 0, start, flagged)
    tile_level = 1
    while TILE_HEIGHT * tile_level < len(levels):
        level = TILE_HEIGHT * tile_level
        computed = levels[level]
        if computed:
            row = stored_row(stored, tile_level, start >> level, len(computed))
            problems += _compare_row(computed, row, level, start, flagged)
        tile_level += 1
    size_peaks = {s: tuple(prefix_peaks(levels, s - start)) for s in sizes if start < s <= end}
    return ChunkTree(
        start=start,
        end=end,
        problems=merge_runs(problems),
        peaks=tuple(prefix_peaks(levels, len(leaves))),
        size_peaks=size_peaks,
    )
