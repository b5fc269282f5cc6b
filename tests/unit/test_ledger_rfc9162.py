"""RFC 9162 conformance: transparency-dev/merkle's probes and reference tree (vectors/rfc9162)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from broker.errors import IntegrityError
from broker.ledger import (
    EMPTY_ROOT,
    LeafReader,
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

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "rfc9162"
REFERENCE = json.loads((VECTORS / "reference_tree.json").read_text())
LEAVES = [bytes.fromhex(x) for x in REFERENCE["leaf_inputs_hex"]]
ROOTS = [bytes.fromhex(x) for x in REFERENCE["root_hashes_by_size_hex"]]
# The one probe whose wantErr is false but which Liaison rejects on purpose: its "roots" are 12
# bytes ("don't care 2"), and every hash must be 32 bytes (docs/exchange-log.md, "Edge cases").
NOT_FOLLOWED = {"consistency/additional/sizes-are-equal-one-and-proof-is-empty.json"}


def _probes(kind: str) -> list[Any]:
    files = sorted((VECTORS / "testdata" / kind).rglob("*.json"))
    assert len(files) > 90
    return [
        pytest.param(json.loads(f.read_text()), id=str(f.relative_to(VECTORS / "testdata")))
        for f in files
    ]


def _b64(value: str | None) -> bytes:
    return base64.b64decode(value or "")


def _hashes(values: list[str] | None) -> list[bytes]:
    return [_b64(v) for v in values or []]


def test_hasher_vectors() -> None:
    hasher = REFERENCE["hasher"]
    assert EMPTY_ROOT.hex() == hasher["empty_tree_root"]["want"]
    assert leaf_hash(b"").hex() == hasher["empty_leaf"]["want"]
    assert leaf_hash(b"L123456").hex() == hasher["leaf_L123456"]["want"]
    assert node_hash(b"N123", b"N456").hex() == hasher["node_N123_N456"]["want"]


@pytest.mark.parametrize("size", range(9))
def test_reference_roots_for_sizes_0_to_8(size: int) -> None:
    hashes = [leaf_hash(leaf) for leaf in LEAVES[:size]]
    store, state = MemoryNodeStore.from_leaves(hashes)
    assert state.root() == ROOTS[size]
    assert root_at(store, size) == ROOTS[size]
    assert root_at(LeafReader(hashes.__getitem__), size) == ROOTS[size]


def test_reference_node_hashes_are_the_perfect_nodes() -> None:
    store, _ = MemoryNodeStore.from_leaves(leaf_hash(leaf) for leaf in LEAVES)
    for level, row in enumerate(REFERENCE["node_hashes_by_level_hex"]):
        for position, value in enumerate(row):
            assert store.read_node(level, position).hex() == value


@pytest.mark.parametrize("probe", _probes("inclusion"))
def test_inclusion_probe(probe: dict[str, Any]) -> None:
    def run() -> None:
        verify_inclusion(
            _b64(probe["leafHash"]),
            probe["leafIdx"],
            probe["treeSize"],
            _hashes(probe["proof"]),
            _b64(probe["root"]),
        )

    if probe["wantErr"]:
        with pytest.raises(IntegrityError):
            run()
    else:
        run()


@pytest.mark.parametrize("probe", _probes("consistency"))
def test_consistency_probe(probe: dict[str, Any], request: pytest.FixtureRequest) -> None:
    def run() -> None:
        verify_consistency(
            probe["size1"],
            probe["size2"],
            _hashes(probe["proof"]),
            _b64(probe["root1"]),
            _b64(probe["root2"]),
        )

    if probe["wantErr"] or request.node.callspec.id in NOT_FOLLOWED:
        with pytest.raises(IntegrityError):
            run()
    else:
        run()


def test_happy_path_proofs_equal_ours() -> None:
    """Where a probe's happy path is over the reference tree, our generator gives the same proof."""
    hashes = [leaf_hash(leaf) for leaf in LEAVES]
    store, _ = MemoryNodeStore.from_leaves(hashes)
    compared = 0
    for f in sorted((VECTORS / "testdata").rglob("happy-path.json")):
        probe = json.loads(f.read_text())
        if "leafIdx" in probe:
            ours = inclusion_proof(store, probe["leafIdx"], probe["treeSize"]).hashes
        else:
            ours = consistency_proof(store, probe["size1"], probe["size2"]).hashes
        assert list(ours) == _hashes(probe["proof"]), f.name
        compared += 1
    assert compared == 10


def test_not_followed_probe_is_the_only_one_of_its_kind() -> None:
    probe = json.loads((VECTORS / "testdata" / next(iter(NOT_FOLLOWED))).read_text())
    assert probe["wantErr"] is False
    assert len(_b64(probe["root1"])) == 12
    with pytest.raises(IntegrityError, match="12 bytes, not 32"):
        verify_consistency(1, 1, [], _b64(probe["root1"]), _b64(probe["root2"]))
    # With real 32-byte roots the same shape is accepted.
    verify_consistency(1, 1, [], ROOTS[1], ROOTS[1])
    assert TreeState().root() == EMPTY_ROOT
