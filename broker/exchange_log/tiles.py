"""The stored tree as tiles (the tile contents of c2sp.org/tlog-tiles), and tree arithmetic. Pure.

Tile ``(t, i)`` holds the hashes of the perfect nodes at tree level ``8t``, positions
``256i .. 256i + w - 1``, concatenated (``w`` from 1 to 256; only the rightmost tile of a level
may be partial). Tile level 0 holds the leaf hashes; tile level 1 the roots of 256-leaf
subtrees, and so on. Any perfect node is then the root of at most 128 hashes of one tile, so a
proof over a million entries reads about six tiles and hashes a few hundred nodes, and the store
keeps 32 bytes per entry (plus 1/255 of that) in one row per 256 entries.

Verification recomputes the tree level by level over aligned ranges (:func:`levels_of`), which
is several times faster in Python than appending leaf by leaf.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Final

from broker.errors import IntegrityError
from broker.ledger import EMPTY_ROOT, HASH_SIZE, Node, node_hash

TILE_HEIGHT: Final = 8
TILE_WIDTH: Final = 1 << TILE_HEIGHT
TILE_BYTES: Final = TILE_WIDTH * HASH_SIZE
_NODE_PREFIX: Final = b"\x01"
_sha256 = hashlib.sha256


def tile_position(level: int, position: int) -> tuple[int, int, int, int]:
    """Where perfect node ``(level, position)`` lives: (tile level, tile index, first hash in
    the tile, how many hashes of that tile it is the root of)."""
    tile_level, height = divmod(level, TILE_HEIGHT)
    first = position << height
    return tile_level, first >> TILE_HEIGHT, first % TILE_WIDTH, 1 << height


def split_hashes(data: bytes) -> list[bytes]:
    """The 32-byte hashes of a tile's bytes (a length not a multiple of 32 is corruption)."""
    if len(data) % HASH_SIZE:
        raise IntegrityError(f"a stored tile is {len(data)} bytes, not a multiple of {HASH_SIZE}")
    return [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


def perfect_root(hashes: Sequence[bytes]) -> bytes:
    """The root of a perfect subtree whose bottom row is ``hashes`` (a power of two of them)."""
    row = list(hashes)
    while len(row) > 1:
        row = [_sha256(_NODE_PREFIX + row[i] + row[i + 1]).digest() for i in range(0, len(row), 2)]
    return row[0]


def node_from_tile(tile: bytes, level: int, position: int) -> bytes:
    """Perfect node ``(level, position)`` computed from the tile that holds its bottom row."""
    _, _, first, count = tile_position(level, position)
    end = (first + count) * HASH_SIZE
    if len(tile) < end:
        raise IntegrityError(
            f"the stored tree has no hash for node ({level}, {position}): its tile is short"
        )
    return perfect_root(split_hashes(tile[first * HASH_SIZE : end]))


def levels_of(leaves: Sequence[bytes]) -> list[list[bytes]]:
    """Every complete perfect node over ``leaves`` (an aligned range), level by level.

    ``levels[0]`` is the leaves; ``levels[L][p]`` is the root of leaves ``p * 2**L ..`` of the
    range; the last level has one node or none.
    """
    levels = [list(leaves)]
    row = levels[0]
    while len(row) > 1:
        row = [
            _sha256(_NODE_PREFIX + a + b).digest()
            for a, b in zip(row[::2], row[1::2], strict=False)
        ]
        levels.append(row)
    return levels


def prefix_peaks(levels: Sequence[Sequence[bytes]], count: int) -> list[bytes]:
    """The peaks (left to right) of the first ``count`` leaves of an aligned range."""
    peaks = []
    start = 0
    for level in range(count.bit_length() - 1, -1, -1):
        if count >> level & 1:
            peaks.append(levels[level][start >> level])
            start += 1 << level
    return peaks


def fold_peaks(peaks: Sequence[bytes]) -> bytes:
    """The root of a tree given its peaks (largest first); EMPTY_ROOT for none."""
    if not peaks:
        return EMPTY_ROOT
    root = peaks[-1]
    for peak in reversed(peaks[:-1]):
        root = node_hash(peak, root)
    return root


def tree_peaks(size: int, read_node: Callable[[int, int], bytes]) -> list[bytes]:
    """The peaks of the tree of ``size`` leaves, read as perfect nodes."""
    peaks = []
    start = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            peaks.append(read_node(level, start >> level))
            start += 1 << level
    return peaks


def tile_counts(size: int) -> dict[int, int]:
    """How many hashes each tile level holds for a tree of ``size`` leaves."""
    counts = {}
    tile_level = 0
    while size >> (TILE_HEIGHT * tile_level):
        counts[tile_level] = size >> (TILE_HEIGHT * tile_level)
        tile_level += 1
    return counts


def tile_widths(size: int) -> dict[tuple[int, int], int]:
    """Every tile a tree of ``size`` leaves has, with its width in hashes."""
    widths = {}
    for tile_level, count in tile_counts(size).items():
        for index in range((count + TILE_WIDTH - 1) // TILE_WIDTH):
            widths[(tile_level, index)] = min(TILE_WIDTH, count - index * TILE_WIDTH)
    return widths


def tiles_after_append(
    completed: Sequence[Node], edge: Callable[[int, int], bytes]
) -> dict[tuple[int, int], bytes]:
    """The tiles to write after an append: ``completed`` are the nodes ``TreeState.append``
    returned (in order); ``edge(tile_level, index)`` reads a stored partial tile (b"" if none).
    """
    new: dict[int, list[Node]] = {}
    for node in completed:
        if node.level % TILE_HEIGHT == 0:
            new.setdefault(node.level // TILE_HEIGHT, []).append(node)
    tiles: dict[tuple[int, int], bytes] = {}
    for tile_level, nodes in new.items():
        first = nodes[0].position
        index, offset = divmod(first, TILE_WIDTH)
        existing = edge(tile_level, index) if offset else b""
        if len(existing) != offset * HASH_SIZE:
            raise IntegrityError(
                f"the stored tree disagrees with the log: tile ({tile_level}, {index}) holds "
                f"{len(existing) // HASH_SIZE} hashes, {offset} expected"
            )
        data = existing + b"".join(node.hash for node in nodes)
        for start in range(0, len(data), TILE_BYTES):
            tiles[(tile_level, index + start // TILE_BYTES)] = data[start : start + TILE_BYTES]
    return tiles
