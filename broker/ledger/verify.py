"""Verify inclusion and consistency proofs (RFC 9162 §2.1.3.2 and §2.1.4.2) with hashes only.

Every failure raises :class:`broker.errors.IntegrityError` saying what did not match. Before
the RFC's walk, each proof's length is checked against the exact length its sizes call for, and
every hash must be 32 bytes, so a truncated, padded or garbled proof is named as such.

Edge cases are policy, not RFC text (docs/exchange-log.md, "Edge cases"): a consistency proof
needs ``0 < size1 <= size2``; equal sizes need an empty proof and equal roots; size 0 proves
nothing and is refused.
"""

from __future__ import annotations

from collections.abc import Sequence

from broker.errors import IntegrityError
from broker.ledger.merkle import HASH_SIZE, MAX_TREE_SIZE, node_hash


def _split(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def _check_hash(what: str, value: bytes) -> None:
    if len(value) != HASH_SIZE:
        raise IntegrityError(f"{what} is {len(value)} bytes, not {HASH_SIZE}")


def _check_hashes(what: str, proof: Sequence[bytes]) -> None:
    for i, value in enumerate(proof):
        _check_hash(f"{what} hash {i}", value)


def _short(value: bytes) -> str:
    return value.hex()[:16]


def inclusion_proof_length(index: int, size: int) -> int:
    """How many hashes PATH(index, D[size]) has (RFC 9162 §2.1.3.1), for ``0 <= index < size``."""
    length = 0
    while size > 1:
        k = _split(size)
        if index < k:
            size = k
        else:
            index, size = index - k, size - k
        length += 1
    return length


def consistency_proof_length(size1: int, size2: int) -> int:
    """How many hashes PROOF(size1, D[size2]) has (RFC 9162 §2.1.4.1), ``0 < size1 <= size2``."""
    length, whole = 0, True
    while size1 != size2:
        k = _split(size2)
        if size1 <= k:
            size2 = k
        else:
            size1, size2, whole = size1 - k, size2 - k, False
        length += 1
    return length if whole else length + 1


def root_from_inclusion_proof(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]
) -> bytes:
    """The root that ``proof`` implies for leaf ``index`` of a tree of ``size`` (§2.1.3.2)."""
    _check_hash("leaf hash", leaf_hash)
    if not 0 <= index < size <= MAX_TREE_SIZE:
        raise IntegrityError(f"leaf index {index} is outside a tree of size {size}")
    want = inclusion_proof_length(index, size)
    if len(proof) != want:
        raise IntegrityError(
            f"proof length wrong: {len(proof)} hashes, leaf {index} of a tree of size {size} "
            f"needs {want}"
        )
    _check_hashes("inclusion proof", proof)
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            # On the right border a node without a right sibling moves up unchanged.
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return r


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that leaf ``index`` with ``leaf_hash`` is in the tree of ``size`` with ``root``."""
    _check_hash("root hash", root)
    computed = root_from_inclusion_proof(leaf_hash, index, size, proof)
    if computed != root:
        raise IntegrityError(
            f"root mismatch: the inclusion proof for leaf {index} gives {_short(computed)}..., "
            f"the tree of size {size} has {_short(root)}..."
        )


def _roots_from_consistency_proof(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes
) -> tuple[bytes, bytes]:
    """RFC 9162 §2.1.4.2 steps 2-6 for ``0 < size1 < size2``: the (old, new) roots implied."""
    path = list(proof)
    if size1 & (size1 - 1) == 0:  # the old tree is a perfect subtree: its root starts the path
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr, sr


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Check that the tree of ``size2`` and ``root2`` extends the one of ``size1`` and ``root1``."""
    _check_hash("old root hash", root1)
    _check_hash("new root hash", root2)
    if not 0 <= size1 <= MAX_TREE_SIZE or not 0 <= size2 <= MAX_TREE_SIZE:
        raise IntegrityError(f"tree sizes {size1} and {size2} are out of range")
    if size1 > size2:
        raise IntegrityError(f"the old tree (size {size1}) is larger than the new (size {size2})")
    if size1 == 0:
        raise IntegrityError("a consistency proof from an empty tree proves nothing")
    want = consistency_proof_length(size1, size2)
    if len(proof) != want:
        raise IntegrityError(
            f"proof length wrong: {len(proof)} hashes, sizes {size1} to {size2} need {want}"
        )
    _check_hashes("consistency proof", proof)
    if size1 == size2:
        computed1 = computed2 = root1
    else:
        computed1, computed2 = _roots_from_consistency_proof(size1, size2, proof, root1)
    if computed1 != root1:
        raise IntegrityError(
            f"root mismatch: the consistency proof gives {_short(computed1)}... for size "
            f"{size1}, the old tree has {_short(root1)}..."
        )
    if computed2 != root2:
        raise IntegrityError(
            f"root mismatch: the proof gives {_short(computed2)}... for size {size2}, "
            f"the new tree has {_short(root2)}..."
        )
