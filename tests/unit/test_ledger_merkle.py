"""The tree state, node readers, proof generation and the verifiers' diagnostics."""

from __future__ import annotations

import hashlib

import pytest

from broker.errors import InputError, IntegrityError
from broker.ledger import (
    EMPTY_ROOT,
    LeafReader,
    MemoryNodeStore,
    Node,
    TreeState,
    consistency_proof,
    consistency_proof_length,
    inclusion_proof,
    inclusion_proof_length,
    leaf_hash,
    node_hash,
    root_at,
    root_from_inclusion_proof,
    subtree_hash,
    verify_consistency,
    verify_inclusion,
)
from broker.ledger.merkle import MAX_TREE_SIZE

LEAVES = [leaf_hash(b"entry %d" % i) for i in range(64)]


def mth(hashes: list[bytes]) -> bytes:
    """RFC 9162's recursive definition, written out plainly as the reference."""
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return node_hash(mth(hashes[:k]), mth(hashes[k:]))


def test_leaf_and_node_hash_domain_separation() -> None:
    assert leaf_hash(b"ab") == hashlib.sha256(b"\x00ab").digest()
    assert node_hash(b"a", b"b") == hashlib.sha256(b"\x01ab").digest()
    assert leaf_hash(b"\x01ab") != node_hash(b"a", b"b")


def test_tree_state_matches_the_recursive_definition() -> None:
    state = TreeState()
    assert state.root() == EMPTY_ROOT
    for n, leaf in enumerate(LEAVES, start=1):
        state.append(leaf)
        assert state.size == n
        assert state.root() == mth(LEAVES[:n])
        assert len(state.peaks) == n.bit_count()


def test_append_returns_every_completed_perfect_node() -> None:
    state = TreeState()
    assert state.append(LEAVES[0]) == (Node(0, 0, LEAVES[0]),)
    nodes = state.append(LEAVES[1])
    assert nodes == (Node(0, 1, LEAVES[1]), Node(1, 0, node_hash(LEAVES[0], LEAVES[1])))
    state.append(LEAVES[2])
    nodes = state.append(LEAVES[3])
    assert [(n.level, n.position) for n in nodes] == [(0, 3), (1, 1), (2, 0)]
    assert nodes[-1].hash == mth(LEAVES[:4])
    # Each node is a plain (level, position, hash) tuple, ready to insert as a row.
    assert tuple(nodes[0]) == (0, 3, LEAVES[3])


def test_from_peaks_resumes_and_copy_is_independent() -> None:
    state = TreeState()
    for leaf in LEAVES[:13]:
        state.append(leaf)
    resumed = TreeState.from_peaks(state.size, state.peaks)
    snapshot = state.copy()
    for leaf in LEAVES[13:40]:
        state.append(leaf)
        resumed.append(leaf)
    assert resumed.root() == state.root() == mth(LEAVES[:40])
    assert snapshot.size == 13
    assert snapshot.root() == mth(LEAVES[:13])
    assert "size=13" in repr(snapshot)


@pytest.mark.parametrize(
    ("size", "peaks", "message"),
    [
        (-1, [], "out of range"),
        (MAX_TREE_SIZE + 1, [], "out of range"),
        (3, [LEAVES[0]], "has 2 peaks, not 1"),
        (1, [b"short"], "peak 0 is 5 bytes"),
    ],
)
def test_from_peaks_rejects_a_bad_state(size: int, peaks: list[bytes], message: str) -> None:
    with pytest.raises(IntegrityError, match=message):
        TreeState.from_peaks(size, peaks)


def test_append_rejects_a_bad_leaf_and_a_full_tree() -> None:
    with pytest.raises(InputError, match="32 bytes, not 31"):
        TreeState().append(b"x" * 31)
    full = TreeState.from_peaks(MAX_TREE_SIZE, [LEAVES[0]] * MAX_TREE_SIZE.bit_count())
    with pytest.raises(InputError, match="full"):
        full.append(LEAVES[0])


def test_memory_store_reports_a_missing_node() -> None:
    store, _ = MemoryNodeStore.from_leaves(LEAVES[:4])
    with pytest.raises(IntegrityError, match="no hash for level 3, position 0"):
        store.read_node(3, 0)
    assert MemoryNodeStore([Node(0, 0, LEAVES[0])]).read_node(0, 0) == LEAVES[0]


def test_leaf_reader_caches_high_levels_only() -> None:
    reads: list[int] = []

    def leaf_at(i: int) -> bytes:
        reads.append(i)
        return LEAVES[i]

    reader = LeafReader(leaf_at, cache_from_level=2)
    assert reader.read_node(5, 0) == mth(LEAVES[:32])
    assert len(reads) == 32
    reads.clear()
    assert reader.read_node(2, 3) == mth(LEAVES[12:16])  # cached
    assert reads == []
    assert reader.read_node(1, 3) == mth(LEAVES[6:8])  # not cached: two leaf reads
    assert reads == [6, 7]


def test_leaf_reader_checks_its_input() -> None:
    with pytest.raises(InputError, match="at least 1"):
        LeafReader(LEAVES.__getitem__, cache_from_level=0)
    with pytest.raises(IntegrityError, match="leaf hash 0 is 3 bytes"):
        LeafReader(lambda _: b"abc").read_node(0, 0)


def test_subtree_hash_and_root_at() -> None:
    store, _ = MemoryNodeStore.from_leaves(LEAVES)
    assert subtree_hash(store, 32, 45) == mth(LEAVES[32:45])
    assert root_at(store, 0) == EMPTY_ROOT
    assert root_at(store, 45) == mth(LEAVES[:45])
    with pytest.raises(InputError, match="out of range"):
        root_at(store, -1)


def test_a_short_hash_from_a_reader_is_an_integrity_error() -> None:
    reader = LeafReader(lambda i: LEAVES[i] if i else b"")
    with pytest.raises(IntegrityError, match="leaf hash 0 is 0 bytes"):
        inclusion_proof(reader, 1, 2)


def test_proofs_verify_for_every_index_and_size_up_to_64() -> None:
    store, _ = MemoryNodeStore.from_leaves(LEAVES)
    for size in range(1, 65):
        root = mth(LEAVES[:size])
        for index in range(size):
            proof = inclusion_proof(store, index, size)
            assert len(proof.hashes) == inclusion_proof_length(index, size)
            verify_inclusion(LEAVES[index], index, size, proof.hashes, root)
        for old in range(1, size + 1):
            proof2 = consistency_proof(store, old, size)
            assert len(proof2.hashes) == consistency_proof_length(old, size)
            verify_consistency(old, size, proof2.hashes, mth(LEAVES[:old]), root)


@pytest.mark.parametrize(("index", "size"), [(0, 0), (5, 5), (-1, 3), (0, MAX_TREE_SIZE + 1)])
def test_inclusion_proof_refuses_a_leaf_outside_the_tree(index: int, size: int) -> None:
    store, _ = MemoryNodeStore.from_leaves(LEAVES[:8])
    with pytest.raises(InputError):
        inclusion_proof(store, index, size)


@pytest.mark.parametrize(("size1", "size2"), [(0, 5), (6, 5), (-1, 2)])
def test_consistency_proof_refuses_bad_sizes(size1: int, size2: int) -> None:
    store, _ = MemoryNodeStore.from_leaves(LEAVES[:8])
    with pytest.raises(InputError, match="no consistency proof"):
        consistency_proof(store, size1, size2)


def test_equal_sizes_give_an_empty_consistency_proof() -> None:
    store, _ = MemoryNodeStore.from_leaves(LEAVES[:8])
    assert consistency_proof(store, 5, 5).hashes == ()


class TestVerifierDiagnostics:
    store, _ = MemoryNodeStore.from_leaves(LEAVES[:21])
    root = mth(LEAVES[:21])
    proof = inclusion_proof(store, 6, 21).hashes

    def test_root_mismatch(self) -> None:
        with pytest.raises(IntegrityError, match="root mismatch: the inclusion proof for leaf 6"):
            verify_inclusion(LEAVES[7], 6, 21, self.proof, self.root)

    def test_wrong_length(self) -> None:
        with pytest.raises(IntegrityError, match=r"proof length wrong: 4 hashes, .* needs 5"):
            verify_inclusion(LEAVES[6], 6, 21, self.proof[:-1], self.root)

    def test_short_hashes(self) -> None:
        bad = list(self.proof)
        bad[2] = bad[2][:31]
        with pytest.raises(IntegrityError, match="inclusion proof hash 2 is 31 bytes"):
            verify_inclusion(LEAVES[6], 6, 21, bad, self.root)
        with pytest.raises(IntegrityError, match="root hash is 0 bytes"):
            verify_inclusion(LEAVES[6], 6, 21, self.proof, b"")
        with pytest.raises(IntegrityError, match="leaf hash is 1 bytes"):
            root_from_inclusion_proof(b"x", 6, 21, self.proof)

    def test_index_outside(self) -> None:
        with pytest.raises(IntegrityError, match="outside a tree of size 21"):
            verify_inclusion(LEAVES[6], 21, 21, self.proof, self.root)

    def test_consistency_messages(self) -> None:
        old = mth(LEAVES[:6])
        proof = consistency_proof(self.store, 6, 21).hashes
        with pytest.raises(IntegrityError, match=r"gives .* for size 6, the old tree has"):
            verify_consistency(6, 21, proof, mth(LEAVES[:5]), self.root)
        with pytest.raises(IntegrityError, match="for size 21, the new tree has"):
            verify_consistency(6, 21, proof, old, mth(LEAVES[:20]))
        with pytest.raises(IntegrityError, match="larger than the new"):
            verify_consistency(21, 6, [], self.root, old)
        with pytest.raises(IntegrityError, match="empty tree proves nothing"):
            verify_consistency(0, 6, [], EMPTY_ROOT, old)
        with pytest.raises(IntegrityError, match="out of range"):
            verify_consistency(6, MAX_TREE_SIZE + 1, proof, old, self.root)
        with pytest.raises(IntegrityError, match=r"1 hashes, sizes 6 to 6 need 0"):
            verify_consistency(6, 6, proof[:1], old, old)
        with pytest.raises(IntegrityError, match="root mismatch"):
            verify_consistency(6, 6, [], old, self.root)
        with pytest.raises(IntegrityError, match="consistency proof hash 0 is 2 bytes"):
            verify_consistency(6, 21, [b"xx", *proof[1:]], old, self.root)
        with pytest.raises(IntegrityError, match="new root hash is 3 bytes"):
            verify_consistency(6, 21, proof, old, b"abc")
