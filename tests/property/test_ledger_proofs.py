"""Properties of the Merkle tree: generated proofs verify, and any single bit flip is caught."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.errors import IntegrityError
from broker.ledger import (
    MemoryNodeStore,
    TreeState,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_at,
    verify_consistency,
    verify_inclusion,
)

MAX = 300
LEAVES = [leaf_hash(b"property entry %d" % i) for i in range(MAX)]
STORE, _ = MemoryNodeStore.from_leaves(LEAVES)
ROOTS = [root_at(STORE, n) for n in range(MAX + 1)]


def flip(value: bytes, bit: int) -> bytes:
    bit %= 8 * len(value)
    changed = bytearray(value)
    changed[bit // 8] ^= 1 << (bit % 8)
    return bytes(changed)


def mth(hashes: list[bytes]) -> bytes:
    if len(hashes) == 1:
        return hashes[0]
    k = 1 << ((len(hashes) - 1).bit_length() - 1)
    return node_hash(mth(hashes[:k]), mth(hashes[k:]))


@st.composite
def size_and_index(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(1, MAX))
    return size, draw(st.integers(0, size - 1))


@st.composite
def two_sizes(draw: st.DrawFn) -> tuple[int, int]:
    size2 = draw(st.integers(2, MAX))
    return draw(st.integers(1, size2 - 1)), size2


@settings(max_examples=50, deadline=None)
@given(st.integers(1, MAX))
def test_tree_state_root_is_the_recursive_mth(size: int) -> None:
    state = TreeState()
    for leaf in LEAVES[:size]:
        state.append(leaf)
    assert state.root() == ROOTS[size] == mth(LEAVES[:size])


@settings(max_examples=150, deadline=None)
@given(size_and_index())
def test_inclusion_proofs_verify(case: tuple[int, int]) -> None:
    size, index = case
    proof = inclusion_proof(STORE, index, size)
    verify_inclusion(LEAVES[index], index, size, proof.hashes, ROOTS[size])


@settings(max_examples=150, deadline=None)
@given(size_and_index(), st.integers(0, 2**16), st.integers(0, 2**16))
def test_any_bit_flip_breaks_an_inclusion_proof(
    case: tuple[int, int], which: int, bit: int
) -> None:
    size, index = case
    hashes = list(inclusion_proof(STORE, index, size).hashes)
    targets = len(hashes) + 2  # each proof hash, the root, the leaf
    target = which % targets
    leaf, root = LEAVES[index], ROOTS[size]
    if target < len(hashes):
        hashes[target] = flip(hashes[target], bit)
    elif target == len(hashes):
        root = flip(root, bit)
    else:
        leaf = flip(leaf, bit)
    with pytest.raises(IntegrityError, match="root mismatch"):
        verify_inclusion(leaf, index, size, hashes, root)


@settings(max_examples=100, deadline=None)
@given(size_and_index(), st.integers(0, MAX - 1))
def test_an_inclusion_proof_is_for_one_index_only(case: tuple[int, int], other: int) -> None:
    size, index = case
    other %= size
    proof = inclusion_proof(STORE, index, size).hashes
    if other != index:
        with pytest.raises(IntegrityError):
            verify_inclusion(LEAVES[index], other, size, proof, ROOTS[size])


@settings(max_examples=150, deadline=None)
@given(two_sizes())
def test_consistency_proofs_verify(case: tuple[int, int]) -> None:
    size1, size2 = case
    proof = consistency_proof(STORE, size1, size2)
    verify_consistency(size1, size2, proof.hashes, ROOTS[size1], ROOTS[size2])


@settings(max_examples=150, deadline=None)
@given(two_sizes(), st.integers(0, 2**16), st.integers(0, 2**16))
def test_any_bit_flip_breaks_a_consistency_proof(
    case: tuple[int, int], which: int, bit: int
) -> None:
    size1, size2 = case
    hashes = list(consistency_proof(STORE, size1, size2).hashes)
    target = which % (len(hashes) + 2)
    root1, root2 = ROOTS[size1], ROOTS[size2]
    if target < len(hashes):
        hashes[target] = flip(hashes[target], bit)
    elif target == len(hashes):
        root1 = flip(root1, bit)
    else:
        root2 = flip(root2, bit)
    with pytest.raises(IntegrityError, match="root mismatch"):
        verify_consistency(size1, size2, hashes, root1, root2)


@settings(max_examples=100, deadline=None)
@given(two_sizes(), st.integers(0, MAX - 1))
def test_a_rewritten_history_fails_consistency(case: tuple[int, int], changed: int) -> None:
    """Change one early entry: the new tree's root no longer extends the old one."""
    size1, size2 = case
    changed %= size1
    forged = list(LEAVES[:size2])
    forged[changed] = leaf_hash(b"forged")
    forged_store, forged_state = MemoryNodeStore.from_leaves(forged)
    proof = consistency_proof(forged_store, size1, size2).hashes
    with pytest.raises(IntegrityError, match="root mismatch"):
        verify_consistency(size1, size2, proof, ROOTS[size1], forged_state.root())
