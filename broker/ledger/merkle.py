"""The exchange log's Merkle tree (RFC 9162 §2.1): hashing, the append-only tree state and proofs.

Pure: no storage, no clock. The tree over leaf hashes ``h0 .. h(n-1)`` is RFC 9162's::

    leaf_hash(entry)    = SHA-256(0x00 || entry)
    node_hash(l, r)     = SHA-256(0x01 || l || r)
    MTH([])             = SHA-256("")
    MTH([h])            = h
    MTH(h0 .. h(n-1))   = node_hash(MTH(h0 .. h(k-1)), MTH(hk .. h(n-1)))
                          where k is the largest power of 2 below n

A *perfect node* ``(level, position)`` is the root of the perfect subtree over leaves
``position * 2**level .. (position + 1) * 2**level - 1``; level 0 holds the leaf hashes. Every
subtree that RFC 9162 names splits into at most 64 perfect nodes, so proofs need only a
:class:`NodeReader` that returns perfect nodes: :class:`TreeState` emits each one as it is
completed (a store keeps them: about two per leaf), :class:`MemoryNodeStore` keeps them in a
dict, and :class:`LeafReader` recomputes them from leaf hashes with a cache.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final, NamedTuple, Protocol

from broker.errors import InputError, IntegrityError

HASH_SIZE: Final = 32
EMPTY_ROOT: Final = hashlib.sha256(b"").digest()
MAX_TREE_SIZE: Final = 2**63 - 1  # sizes and indices fit a signed 64-bit integer (SQLite INTEGER)

_LEAF_PREFIX: Final = b"\x00"
_NODE_PREFIX: Final = b"\x01"
_sha256 = hashlib.sha256


def leaf_hash(entry: bytes) -> bytes:
    """SHA-256(0x00 || entry): the hash of one log entry, exactly as stored."""
    return _sha256(_LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): an interior node."""
    return _sha256(_NODE_PREFIX + left + right).digest()


class Node(NamedTuple):
    """A completed perfect node: the root of the ``2**level`` leaves from ``position * 2**level``.

    A plain tuple ``(level, position, hash)``, so a store can insert it as a row as it is.
    """

    level: int
    position: int
    hash: bytes


# NamedTuple's generated __new__ checks arguments; the tuple constructor skips that in append,
# which runs once per log entry.
_new_node = tuple.__new__


class NodeReader(Protocol):
    """Where proofs read perfect-node hashes from (a SQLite table, a dict, leaf hashes...).

    ``read_node(level, position)`` returns the 32-byte hash of perfect node ``(level, position)``.
    Proof generation asks only for nodes that lie wholly inside the tree size it was given,
    O(log n) of them per proof. An implementation raises a :class:`broker.errors.LiaisonError`
    when it cannot answer (a store raises :class:`IntegrityError` for a node it should have).
    """

    def read_node(self, level: int, position: int) -> bytes: ...


def _check_hash(what: str, value: bytes) -> bytes:
    if len(value) != HASH_SIZE:
        raise IntegrityError(f"{what} is {len(value)} bytes, not {HASH_SIZE}")
    return value


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (n >= 2): RFC 9162's ``k``."""
    return 1 << ((n - 1).bit_length() - 1)


class TreeState:
    """The append-only tree as its compact range from leaf 0: one hash per set bit of the size.

    ``append`` costs O(log n) hashes in the worst case and one on average; ``root`` costs
    O(log n). A small mutable state machine: ``copy`` it to keep a snapshot. Its ``size`` and
    ``peaks`` are what a store saves to resume appending without replaying the log.
    """

    __slots__ = ("_peaks", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._peaks: list[bytes] = []  # perfect-subtree roots, largest (leftmost) first

    @classmethod
    def from_peaks(cls, size: int, peaks: Sequence[bytes]) -> TreeState:
        """Resume from a saved ``(size, peaks)``; the peaks must match the size's set bits."""
        if not 0 <= size <= MAX_TREE_SIZE:
            raise IntegrityError(f"tree size {size} is out of range")
        if len(peaks) != size.bit_count():
            raise IntegrityError(
                f"a tree of size {size} has {size.bit_count()} peaks, not {len(peaks)}"
            )
        state = cls()
        state._size = size
        state._peaks = [_check_hash(f"peak {i}", p) for i, p in enumerate(peaks)]
        return state

    @property
    def size(self) -> int:
        return self._size

    @property
    def peaks(self) -> tuple[bytes, ...]:
        """Roots of the perfect subtrees that make up the tree, left to right."""
        return tuple(self._peaks)

    def copy(self) -> TreeState:
        return TreeState.from_peaks(self._size, self._peaks)

    def append(self, leaf: bytes) -> tuple[Node, ...]:
        """Add one leaf hash; return the perfect nodes it completed, the leaf itself first."""
        if len(leaf) != HASH_SIZE:
            raise InputError(f"a leaf hash is {HASH_SIZE} bytes, not {len(leaf)}")
        index = self._size
        if index >= MAX_TREE_SIZE:
            raise InputError("the tree is full")
        self._size = index + 1
        peaks = self._peaks
        if not index & 1:  # half of all appends complete no interior node
            peaks.append(leaf)
            return (_new_node(Node, (0, index, leaf)),)
        completed = [_new_node(Node, (0, index, leaf))]
        current, level = leaf, 0
        # Each trailing 1 bit of the old size is a peak of equal height that now pairs up.
        while index >> level & 1:
            current = _sha256(_NODE_PREFIX + peaks.pop() + current).digest()
            level += 1
            completed.append(_new_node(Node, (level, index >> level, current)))
        peaks.append(current)
        return tuple(completed)

    def root(self) -> bytes:
        """MTH of the whole tree; :data:`EMPTY_ROOT` for size 0."""
        if not self._peaks:
            return EMPTY_ROOT
        root = self._peaks[-1]
        for peak in reversed(self._peaks[:-1]):
            root = node_hash(peak, root)
        return root

    def __repr__(self) -> str:
        return f"TreeState(size={self._size}, root={self.root().hex()[:16]}...)"


class MemoryNodeStore:
    """A :class:`NodeReader` over a dict: for tests, vectors and small logs kept in memory."""

    __slots__ = ("_nodes",)

    def __init__(self, nodes: Iterable[Node] = ()) -> None:
        self._nodes: dict[tuple[int, int], bytes] = {}
        self.add(nodes)

    @classmethod
    def from_leaves(cls, leaf_hashes: Iterable[bytes]) -> tuple[MemoryNodeStore, TreeState]:
        """Build a store and the matching tree state from leaf hashes."""
        store, state = cls(), TreeState()
        for leaf in leaf_hashes:
            store.add(state.append(leaf))
        return store, state

    def add(self, nodes: Iterable[Node]) -> None:
        for node in nodes:
            self._nodes[(node.level, node.position)] = node.hash

    def read_node(self, level: int, position: int) -> bytes:
        try:
            return self._nodes[(level, position)]
        except KeyError:
            raise IntegrityError(
                f"node store has no hash for level {level}, position {position}"
            ) from None


class LeafReader:
    """A :class:`NodeReader` that rebuilds perfect nodes from ``leaf_hash_at(i)``.

    Nodes at ``cache_from_level`` and above are cached (one in ``2**cache_from_level`` of all
    nodes), so the first proof over a large tree hashes it once and later proofs cost a few
    small subtrees each. For an auditor who holds the entries but no node store.
    """

    __slots__ = ("_cache", "_cache_from_level", "_leaf_hash_at")

    def __init__(self, leaf_hash_at: Callable[[int], bytes], *, cache_from_level: int = 4) -> None:
        if cache_from_level < 1:
            raise InputError("cache_from_level must be at least 1")
        self._leaf_hash_at = leaf_hash_at
        self._cache_from_level = cache_from_level
        self._cache: dict[tuple[int, int], bytes] = {}

    def read_node(self, level: int, position: int) -> bytes:
        if level == 0:
            return _check_hash(f"leaf hash {position}", self._leaf_hash_at(position))
        key = (level, position)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        left = self.read_node(level - 1, 2 * position)
        value = node_hash(left, self.read_node(level - 1, 2 * position + 1))
        if level >= self._cache_from_level:
            self._cache[key] = value
        return value


def subtree_hash(reader: NodeReader, start: int, end: int) -> bytes:
    """MTH of leaves ``start .. end-1``, a subtree RFC 9162 names (``start`` aligned)."""
    count = end - start
    if count & (count - 1) == 0 and start % count == 0:
        level = count.bit_length() - 1
        return _check_hash(
            f"node ({level}, {start >> level})", reader.read_node(level, start >> level)
        )
    k = _split(count)
    return node_hash(subtree_hash(reader, start, start + k), subtree_hash(reader, start + k, end))


def _check_size(size: int) -> None:
    if not 0 <= size <= MAX_TREE_SIZE:
        raise InputError(f"tree size {size} is out of range")


def root_at(reader: NodeReader, size: int) -> bytes:
    """MTH of the first ``size`` leaves."""
    _check_size(size)
    return EMPTY_ROOT if size == 0 else subtree_hash(reader, 0, size)


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """RFC 9162 PATH(index, D[size]): sibling hashes, the leaf's first, up to the root's child."""

    index: int
    size: int
    hashes: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    """RFC 9162 PROOF(size1, D[size2]): hashes that link the tree at size1 to the one at size2."""

    size1: int
    size2: int
    hashes: tuple[bytes, ...]


def inclusion_proof(reader: NodeReader, index: int, size: int) -> InclusionProof:
    """The inclusion proof of leaf ``index`` in the tree of the first ``size`` leaves."""
    _check_size(size)
    if not 0 <= index < size:
        raise InputError(f"leaf {index} is not in a tree of size {size}")
    top_down: list[bytes] = []
    start, m, n = 0, index, size
    while n > 1:
        k = _split(n)
        if m < k:  # PATH(m, D[0:k]) : MTH(D[k:n])
            top_down.append(subtree_hash(reader, start + k, start + n))
            n = k
        else:  # PATH(m - k, D[k:n]) : MTH(D[0:k])
            top_down.append(subtree_hash(reader, start, start + k))
            start, m, n = start + k, m - k, n - k
    return InclusionProof(index, size, tuple(reversed(top_down)))


def consistency_proof(reader: NodeReader, size1: int, size2: int) -> ConsistencyProof:
    """The consistency proof from the tree at ``size1`` to the tree at ``size2``.

    Defined for ``0 < size1 < size2``; ``size1 == size2`` gives the empty proof
    (docs/exchange-log.md, "Edge cases"). Size 0 is refused: an empty tree proves nothing.
    """
    _check_size(size2)
    if not 0 < size1 <= size2:
        raise InputError(f"no consistency proof from size {size1} to size {size2}")
    top_down: list[bytes] = []
    start, m, n, whole = 0, size1, size2, True
    while m != n:
        k = _split(n)
        if m <= k:  # SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
            top_down.append(subtree_hash(reader, start + k, start + n))
            n = k
        else:  # SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
            top_down.append(subtree_hash(reader, start, start + k))
            start, m, n, whole = start + k, m - k, n - k, False
    if not whole:  # SUBPROOF(m, D[m], false) = [MTH(D[m])]
        top_down.append(subtree_hash(reader, start, start + n))
    return ConsistencyProof(size1, size2, tuple(reversed(top_down)))
