"""Other logs' real data: sum.golang.org's signed checkpoints and the Argon 2020 CT log's proofs.

See tests/vectors/log/interop/README.md for where each file comes from.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from broker.errors import IntegrityError
from broker.ledger import (
    leaf_hash,
    open_checkpoint,
    parse_verifier_key,
    verify_consistency,
    verify_inclusion,
)

INTEROP = Path(__file__).resolve().parents[1] / "vectors" / "log" / "interop"
# Pinned in the Go toolchain, src/cmd/go/internal/modfetch/key.go.
SUMDB_VKEY = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"
SUMDB_ORIGIN = "go.sum database tree"
SUMDB = parse_verifier_key(SUMDB_VKEY)
NOTES = {
    "sum.golang.org-49189689.note": (49189689, "ftjbAOzaupaIvaPo/G+Dk63nxOZ2s1OPOKIaPtXs7S4="),
    "sum.golang.org-20852163.note": (20852163, "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="),
}


@pytest.mark.parametrize("name", sorted(NOTES))
def test_sumdb_checkpoint_verifies_with_the_real_key(name: str) -> None:
    verified = open_checkpoint((INTEROP / name).read_bytes(), origin=SUMDB_ORIGIN, log_key=SUMDB)
    size, root = NOTES[name]
    assert verified.checkpoint.size == size
    assert verified.checkpoint.root_hash == base64.b64decode(root)


@pytest.mark.parametrize("name", sorted(NOTES))
def test_sumdb_checkpoint_with_any_one_byte_changed_is_rejected(name: str) -> None:
    data = (INTEROP / name).read_bytes()
    for i in range(len(data)):
        changed = data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :]
        with pytest.raises(IntegrityError):
            open_checkpoint(changed, origin=SUMDB_ORIGIN, log_key=SUMDB)


def test_the_c2sp_example_as_published_does_not_verify_under_sumdb() -> None:
    """Only its origin line was edited: as printed in the spec, the signature fails."""
    data = (INTEROP / "sum.golang.org-20852163.note").read_bytes()
    edited = data.replace(SUMDB_ORIGIN.encode(), b"example.com/behind-the-sofa")
    with pytest.raises(IntegrityError, match=r"bad signature by key sum\.golang\.org"):
        open_checkpoint(edited, origin="example.com/behind-the-sofa", log_key=SUMDB)


def test_a_garbled_copy_of_the_sumdb_key_is_refused() -> None:
    # A wrong tail, as it sometimes circulates: not even valid base64, and not the key for 033de0ae.
    with pytest.raises(IntegrityError):
        parse_verifier_key("sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ld4LRGJD69bATQ5")
    assert SUMDB.vkey == SUMDB_VKEY


def _argon(name: str) -> dict[str, object]:
    value = json.loads((INTEROP / "argon2020" / name).read_text())
    assert isinstance(value, dict)
    return value


def _hashes(values: object) -> list[bytes]:
    assert isinstance(values, list)
    return [base64.b64decode(v) for v in values]


STH = _argon("sth.json")
ROOT = base64.b64decode(str(STH["sha256_root_hash"]))
SIZE = int(str(STH["tree_size"]))
OLD_SIZE = 3654490
OLD_ROOT = base64.b64decode("AuIZ5V6sDUj1vn3Y1K85oOaQ7y+FJJKtyRTl1edIKBQ=")


def test_argon2020_inclusion_proof_of_entry_10000() -> None:
    entries = _argon("entries.json")["entries"]
    assert isinstance(entries, list)
    leaf = leaf_hash(base64.b64decode(entries[0]["leaf_input"]))
    proof = _argon("proof.json")
    assert proof["leaf_index"] == 10000
    hashes = _hashes(proof["audit_path"])
    verify_inclusion(leaf, 10000, SIZE, hashes, ROOT)
    with pytest.raises(IntegrityError, match="root mismatch"):
        verify_inclusion(leaf, 10001, SIZE, hashes, ROOT)
    hashes[17] = bytes([hashes[17][0] ^ 0x80]) + hashes[17][1:]
    with pytest.raises(IntegrityError, match="root mismatch"):
        verify_inclusion(leaf, 10000, SIZE, hashes, ROOT)


def test_argon2020_consistency_proof() -> None:
    hashes = _hashes(_argon("consistency.json")["consistency"])
    verify_consistency(OLD_SIZE, SIZE, hashes, OLD_ROOT, ROOT)
    with pytest.raises(IntegrityError, match="root mismatch"):
        verify_consistency(OLD_SIZE, SIZE, hashes, OLD_ROOT, OLD_ROOT)
    with pytest.raises(IntegrityError, match="proof length wrong"):
        verify_consistency(OLD_SIZE + 1, SIZE, hashes, OLD_ROOT, ROOT)
