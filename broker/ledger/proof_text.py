"""Proof files: what ``liaison audit prove`` prints and ``liaison audit check-proof`` reads.

An inclusion proof is a C2SP tlog-proof (c2sp.org/tlog-proof@v1), so other tools can read it::

    c2sp.org/tlog-proof@v1\\n
    [extra <base64>\\n]            optional, unauthenticated; Liaison writes none
    index <leaf index>\\n
    <base64 hash>\\n ...           the inclusion proof, leaf's sibling first
    \\n
    <the signed checkpoint, verbatim>

A consistency proof has the same shape with its own first line, and the old tree size::

    liaison/consistency-proof@v1\\n
    old <old tree size>\\n
    <base64 hash>\\n ...           the consistency proof, in RFC 9162 order
    \\n
    <the new signed checkpoint, verbatim>

Numbers are ASCII decimal without leading zeros; hashes are 44-character standard base64. The
checking functions verify the embedded checkpoint with the trusted keys first, then the proof.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from broker.errors import IntegrityError
from broker.ledger.checkpoint import (
    Checkpoint,
    VerifiedCheckpoint,
    open_checkpoint,
    parse_checkpoint,
    verify_checkpoint_consistency,
)
from broker.ledger.cosignature import CosignatureVerifier
from broker.ledger.merkle import HASH_SIZE, ConsistencyProof, InclusionProof
from broker.ledger.note import NoteVerifier, b64decode_strict, b64encode, parse_note
from broker.ledger.verify import verify_inclusion

TLOG_PROOF_HEADER: Final = "c2sp.org/tlog-proof@v1"
CONSISTENCY_PROOF_HEADER: Final = "liaison/consistency-proof@v1"
MAX_PROOF_HASHES: Final = 128  # a tree of 2^63 leaves needs at most 64 for either proof
_DECIMAL_DIGITS = frozenset("0123456789")


@dataclass(frozen=True, slots=True)
class ProofFile:
    """A parsed proof file, not yet verified: its number line, hashes and signed checkpoint."""

    number: int  # the leaf index (tlog-proof) or the old tree size (consistency proof)
    hashes: tuple[bytes, ...]
    signed_checkpoint: bytes = field(repr=False)
    extra: bytes | None = None


def _number(what: str, text: str) -> int:
    if not text or not set(text) <= _DECIMAL_DIGITS or (len(text) > 1 and text[0] == "0"):
        raise IntegrityError(f"{what} is not a decimal number without leading zeros")
    if len(text) > 19:
        raise IntegrityError(f"{what} is out of range")
    return int(text)


def _unsigned_checkpoint(signed: bytes) -> Checkpoint:
    return parse_checkpoint(parse_note(signed).text)


def _format(
    header: str, keyword: str, number: int, hashes: Sequence[bytes], signed: bytes
) -> bytes:
    lines = [header, f"{keyword} {number}", *(b64encode(h) for h in hashes)]
    return ("\n".join(lines) + "\n\n").encode("ascii") + signed


def format_inclusion_proof(proof: InclusionProof, signed_checkpoint: bytes) -> bytes:
    """The tlog-proof file of ``proof`` against ``signed_checkpoint`` (which must be its size)."""
    size = _unsigned_checkpoint(signed_checkpoint).size
    if size != proof.size:
        raise IntegrityError(f"the proof is for size {proof.size}, the checkpoint has size {size}")
    return _format(TLOG_PROOF_HEADER, "index", proof.index, proof.hashes, signed_checkpoint)


def format_consistency_proof(proof: ConsistencyProof, signed_checkpoint: bytes) -> bytes:
    """The consistency-proof file from ``proof.size1`` to ``signed_checkpoint`` (of size2)."""
    size = _unsigned_checkpoint(signed_checkpoint).size
    if size != proof.size2:
        raise IntegrityError(f"the proof is to size {proof.size2}, the checkpoint has size {size}")
    return _format(CONSISTENCY_PROOF_HEADER, "old", proof.size1, proof.hashes, signed_checkpoint)


def _parse(data: bytes, header: str, keyword: str, *, extra_allowed: bool) -> ProofFile:
    split = data.find(b"\n\n")
    if split < 0:
        raise IntegrityError("proof file has no blank line before its checkpoint")
    try:
        head = data[:split].decode("ascii")
    except UnicodeDecodeError:
        raise IntegrityError("proof file header is not ASCII") from None
    lines = head.split("\n")
    if lines[0] != header:
        raise IntegrityError(f"proof file does not start with {header}")
    rest = lines[1:]
    extra = None
    if extra_allowed and rest and rest[0].startswith("extra "):
        extra = b64decode_strict("proof extra data", rest[0][len("extra ") :])
        rest = rest[1:]
    if not rest or not rest[0].startswith(keyword + " "):
        raise IntegrityError(f"proof file has no {keyword} line")
    number = _number(f"proof file {keyword}", rest[0][len(keyword) + 1 :])
    if len(rest) - 1 > MAX_PROOF_HASHES:
        raise IntegrityError(f"proof file has more than {MAX_PROOF_HASHES} hashes")
    hashes = tuple(b64decode_strict(f"proof hash {i}", line) for i, line in enumerate(rest[1:]))
    for i, value in enumerate(hashes):
        if len(value) != HASH_SIZE:
            raise IntegrityError(f"proof hash {i} is {len(value)} bytes, not {HASH_SIZE}")
    return ProofFile(number, hashes, data[split + 2 :], extra)


def parse_inclusion_proof(data: bytes) -> ProofFile:
    """Parse a tlog-proof file strictly (``number`` is the leaf index)."""
    return _parse(data, TLOG_PROOF_HEADER, "index", extra_allowed=True)


def parse_consistency_proof(data: bytes) -> ProofFile:
    """Parse a consistency-proof file strictly (``number`` is the old tree size)."""
    return _parse(data, CONSISTENCY_PROOF_HEADER, "old", extra_allowed=False)


def check_inclusion_proof(
    data: bytes,
    *,
    leaf_hash: bytes,
    origin: str,
    log_key: NoteVerifier,
    cosigners: Sequence[CosignatureVerifier] = (),
    min_cosignatures: int = 0,
    now: datetime | None = None,
) -> VerifiedCheckpoint:
    """Verify a tlog-proof file: its checkpoint's signatures, then that ``leaf_hash`` is in it."""
    parsed = parse_inclusion_proof(data)
    verified = open_checkpoint(
        parsed.signed_checkpoint,
        origin=origin,
        log_key=log_key,
        cosigners=cosigners,
        min_cosignatures=min_cosignatures,
        now=now,
    )
    checkpoint = verified.checkpoint
    verify_inclusion(leaf_hash, parsed.number, checkpoint.size, parsed.hashes, checkpoint.root_hash)
    return verified


def check_consistency_proof(
    data: bytes,
    *,
    old: Checkpoint,
    log_key: NoteVerifier,
    cosigners: Sequence[CosignatureVerifier] = (),
    min_cosignatures: int = 0,
    now: datetime | None = None,
) -> VerifiedCheckpoint:
    """Verify a consistency-proof file from the trusted ``old`` checkpoint; return the new one."""
    parsed = parse_consistency_proof(data)
    if parsed.number != old.size:
        raise IntegrityError(
            f"the proof starts at size {parsed.number}, the old checkpoint has {old.size}"
        )
    verified = open_checkpoint(
        parsed.signed_checkpoint,
        origin=old.origin,
        log_key=log_key,
        cosigners=cosigners,
        min_cosignatures=min_cosignatures,
        now=now,
    )
    verify_checkpoint_consistency(old, verified.checkpoint, parsed.hashes)
    return verified
