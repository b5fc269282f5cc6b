"""Proof files: tlog-proof for inclusion, our consistency-proof file; byte-exact and strict."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from broker.errors import IntegrityError
from broker.ledger import (
    Checkpoint,
    Ed25519Signer,
    MemoryNodeStore,
    check_consistency_proof,
    check_inclusion_proof,
    consistency_proof,
    format_consistency_proof,
    format_inclusion_proof,
    inclusion_proof,
    leaf_hash,
    office_origin,
    parse_consistency_proof,
    parse_inclusion_proof,
    root_at,
    sign_checkpoint,
)
from broker.ledger.note import b64encode

ORIGIN = office_origin("liaison.example", "LA-VTE-LO-01")
LOG = Ed25519Signer(ORIGIN, ed25519.Ed25519PrivateKey.from_private_bytes(b"P" * 32))
LEAVES = [leaf_hash(b"entry %d" % i) for i in range(30)]
STORE, _ = MemoryNodeStore.from_leaves(LEAVES)


def signed(size: int) -> bytes:
    return sign_checkpoint(Checkpoint(ORIGIN, size, root_at(STORE, size)), LOG)


def test_inclusion_file_is_byte_exact_and_checks() -> None:
    proof = inclusion_proof(STORE, 5, 30)
    data = format_inclusion_proof(proof, signed(30))
    hashes = "".join(b64encode(h) + "\n" for h in proof.hashes)
    assert data == f"c2sp.org/tlog-proof@v1\nindex 5\n{hashes}\n".encode() + signed(30)
    parsed = parse_inclusion_proof(data)
    assert (parsed.number, parsed.hashes, parsed.extra) == (5, proof.hashes, None)
    verified = check_inclusion_proof(
        data, leaf_hash=LEAVES[5], origin=ORIGIN, log_key=LOG.verifier()
    )
    assert verified.checkpoint.size == 30
    with pytest.raises(IntegrityError, match="root mismatch"):
        check_inclusion_proof(data, leaf_hash=LEAVES[6], origin=ORIGIN, log_key=LOG.verifier())


def test_single_leaf_tree_has_no_hash_lines() -> None:
    data = format_inclusion_proof(inclusion_proof(STORE, 0, 1), signed(1))
    assert data.startswith(b"c2sp.org/tlog-proof@v1\nindex 0\n\n")
    check_inclusion_proof(data, leaf_hash=LEAVES[0], origin=ORIGIN, log_key=LOG.verifier())


def test_extra_line_is_read_but_not_trusted() -> None:
    data = format_inclusion_proof(inclusion_proof(STORE, 5, 30), signed(30))
    with_extra = data.replace(b"@v1\n", b"@v1\nextra aGVsbG8=\n", 1)
    assert parse_inclusion_proof(with_extra).extra == b"hello"
    check_inclusion_proof(with_extra, leaf_hash=LEAVES[5], origin=ORIGIN, log_key=LOG.verifier())


def test_consistency_file_is_byte_exact_and_checks() -> None:
    proof = consistency_proof(STORE, 11, 30)
    data = format_consistency_proof(proof, signed(30))
    hashes = "".join(b64encode(h) + "\n" for h in proof.hashes)
    assert data == f"liaison/consistency-proof@v1\nold 11\n{hashes}\n".encode() + signed(30)
    old = Checkpoint(ORIGIN, 11, root_at(STORE, 11))
    new = check_consistency_proof(data, old=old, log_key=LOG.verifier())
    assert new.checkpoint.size == 30
    with pytest.raises(IntegrityError, match="root mismatch"):
        check_consistency_proof(data, old=Checkpoint(ORIGIN, 11, LEAVES[0]), log_key=LOG.verifier())
    with pytest.raises(IntegrityError, match="starts at size 11, the old checkpoint has 12"):
        check_consistency_proof(
            data, old=Checkpoint(ORIGIN, 12, root_at(STORE, 12)), log_key=LOG.verifier()
        )


def test_format_refuses_a_checkpoint_of_another_size() -> None:
    with pytest.raises(IntegrityError, match="the checkpoint has size 29"):
        format_inclusion_proof(inclusion_proof(STORE, 5, 30), signed(29))
    with pytest.raises(IntegrityError, match="the checkpoint has size 29"):
        format_consistency_proof(consistency_proof(STORE, 5, 30), signed(29))


GOOD = format_inclusion_proof(inclusion_proof(STORE, 5, 30), signed(30))
FIRST_HASH = b64encode(inclusion_proof(STORE, 5, 30).hashes[0]).encode()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (GOOD.replace(b"\n\n", b"\n", 1).replace(b"\n\n", b"\n"), "no blank line"),
        (GOOD.replace(b"@v1", b"@v2", 1), "does not start with"),
        (GOOD.replace(b"index 5", b"index 05", 1), "leading zeros"),
        (GOOD.replace(b"index 5", b"index -5", 1), "decimal"),
        (GOOD.replace(b"index 5", b"index 99999999999999999999", 1), "out of range"),
        (GOOD.replace(b"index 5", b"idx 5", 1), "no index line"),
        (GOOD.replace(b"index 5\n", b"", 1), "no index line"),
        (GOOD.replace(FIRST_HASH, FIRST_HASH[:-2] + b"==", 1), "proof hash 0"),
        (GOOD.replace(FIRST_HASH, FIRST_HASH[:-4] + b"AA==", 1), "31 bytes"),
        (GOOD.replace(b"index 5\n", "index 5\u00e9\n".encode(), 1), "not ASCII"),
        (GOOD.replace(b"index 5\n", b"index 5\n" + (FIRST_HASH + b"\n") * 129, 1), "more than 128"),
        (GOOD.replace(b"@v1\n", b"@v1\nextra !!\n", 1), "extra data"),
    ],
)
def test_malformed_inclusion_files(data: bytes, reason: str) -> None:
    with pytest.raises(IntegrityError, match=reason):
        parse_inclusion_proof(data)


def test_consistency_file_takes_no_extra_line_and_needs_its_header() -> None:
    data = format_consistency_proof(consistency_proof(STORE, 11, 30), signed(30))
    with pytest.raises(IntegrityError, match="no old line"):
        parse_consistency_proof(data.replace(b"@v1\n", b"@v1\nextra aGVsbG8=\n", 1))
    with pytest.raises(IntegrityError, match="does not start with liaison/consistency-proof@v1"):
        parse_consistency_proof(GOOD)


def test_a_wrong_proof_length_is_named() -> None:
    data = GOOD.replace(FIRST_HASH + b"\n", b"", 1)
    with pytest.raises(IntegrityError, match="proof length wrong"):
        check_inclusion_proof(data, leaf_hash=LEAVES[5], origin=ORIGIN, log_key=LOG.verifier())
