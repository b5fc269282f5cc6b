"""C2SP checkpoints (c2sp.org/tlog-checkpoint): a log's signed tree head, and what offices do.

A checkpoint is a signed note whose text is exactly::

    <origin>\\n                 the log's identity, e.g. liaison.example/log/CN-YN-BLO-HK
    <tree size>\\n              ASCII decimal, no leading zeros ("0" for the empty tree)
    <root hash>\\n              standard base64 of the 32-byte RFC 9162 root
    [<extension line>\\n ...]   optional, non-empty, opaque (Liaison writes none)

An office signs its own log's checkpoints under the origin as key name; other offices cosign
them (:mod:`broker.ledger.cosignature`) after checking consistency with the last one they
cosigned. Two signed checkpoints of one origin and size with different roots are a
:class:`ForkEvidence`: proof, on their own, that the log showed two histories.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from broker.errors import InputError, IntegrityError
from broker.ledger.cosignature import Cosignature, CosignatureVerifier, Cosigner, posix_seconds
from broker.ledger.merkle import EMPTY_ROOT, HASH_SIZE, MAX_TREE_SIZE
from broker.ledger.note import (
    Ed25519Signer,
    Note,
    NoteSignature,
    NoteVerifier,
    OpenedNote,
    b64decode_strict,
    b64encode,
    open_note,
    parse_note,
)
from broker.ledger.verify import verify_consistency

# A network name is a schema-less host (and optional path); office ids as in broker.config.
_NETWORK = re.compile(
    r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(/[a-z0-9._-]+)*"
)
_OFFICE_ID = re.compile(r"[A-Z]{2}(-[A-Z0-9]{2,10}){1,4}")
_SIZE = re.compile(r"0|[1-9][0-9]{0,18}")
DEFAULT_CLOCK_SKEW: Final = timedelta(minutes=5)


def _check_network(network: str, office_id: str) -> None:
    if not _NETWORK.fullmatch(network):
        raise InputError(f"network name {network!r} is not a lowercase host[/path]")
    if not _OFFICE_ID.fullmatch(office_id):
        raise InputError(f"office id {office_id!r} is not of the form CC-XX[-XX...]")


def office_origin(network: str, office_id: str) -> str:
    """The origin (and log key name) of an office's exchange log: ``<network>/log/<office id>``."""
    _check_network(network, office_id)
    return f"{network}/log/{office_id}"


def office_cosigner_name(network: str, office_id: str) -> str:
    """The key name an office cosigns others' logs under: ``<network>/witness/<office id>``."""
    _check_network(network, office_id)
    return f"{network}/witness/{office_id}"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A checkpoint's text as a value; ``text()`` and :func:`parse_checkpoint` round-trip."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin:
            raise IntegrityError("checkpoint origin is empty")
        for line in (self.origin, *self.extensions):
            if not line or any(ch < " " for ch in line):
                raise IntegrityError(
                    "checkpoint lines must be non-empty, without control characters"
                )
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise IntegrityError(f"checkpoint tree size {self.size} is out of range")
        if len(self.root_hash) != HASH_SIZE:
            raise IntegrityError(f"checkpoint root hash is {len(self.root_hash)} bytes, not 32")

    def text(self) -> str:
        lines = (self.origin, str(self.size), b64encode(self.root_hash), *self.extensions)
        return "".join(line + "\n" for line in lines)


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse a checkpoint's note text strictly."""
    if not text.endswith("\n"):
        raise IntegrityError("checkpoint text does not end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise IntegrityError(f"checkpoint text has {len(lines)} lines, at least 3 are needed")
    origin, size, root, *extensions = lines
    if not _SIZE.fullmatch(size):
        raise IntegrityError("checkpoint tree size is not a decimal number without leading zeros")
    root_hash = b64decode_strict("checkpoint root hash", root)
    return Checkpoint(origin, int(size), root_hash, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, signer: Ed25519Signer) -> bytes:
    """The signed note of ``checkpoint`` by the log's key (whose name should be the origin)."""
    text = checkpoint.text()
    return Note(text, (signer.sign(text),)).encode()


@dataclass(frozen=True, slots=True)
class VerifiedCheckpoint:
    """A checkpoint whose log signature verified; ``signed`` is the note exactly as received."""

    checkpoint: Checkpoint
    signed: bytes
    cosignatures: tuple[Cosignature, ...] = ()


def open_checkpoint(
    data: bytes,
    *,
    origin: str,
    log_key: NoteVerifier,
    cosigners: Sequence[CosignatureVerifier] = (),
    min_cosignatures: int = 0,
    now: datetime | None = None,
    max_clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
) -> VerifiedCheckpoint:
    """Verify a signed checkpoint of ``origin``: the log's signature, and cosignatures if asked.

    Lines by other keys are ignored. With ``now``, a cosignature dated more than
    ``max_clock_skew`` after it is refused.
    """
    opened = open_note(data, [log_key, *cosigners])
    if not opened.verified_by(log_key):
        raise IntegrityError(
            f"checkpoint is not signed by the log key {log_key.name}+{log_key.key_id.hex()}"
        )
    checkpoint = parse_checkpoint(opened.text)
    if checkpoint.origin != origin:
        raise IntegrityError(f"checkpoint origin is {checkpoint.origin!r}, expected {origin!r}")
    cosignatures = _cosignatures(opened, cosigners, now, max_clock_skew)
    if len(cosignatures) < min_cosignatures:
        raise IntegrityError(
            f"checkpoint has {len(cosignatures)} trusted cosignatures, {min_cosignatures} needed"
        )
    return VerifiedCheckpoint(checkpoint, data, cosignatures)


def _cosignatures(
    opened: OpenedNote,
    cosigners: Sequence[CosignatureVerifier],
    now: datetime | None,
    max_clock_skew: timedelta,
) -> tuple[Cosignature, ...]:
    latest = None if now is None else posix_seconds(now) + max_clock_skew // timedelta(seconds=1)
    found = []
    for cosigner in cosigners:
        for signature in opened.verified:
            if (signature.name, signature.key_id) == (cosigner.name, cosigner.key_id):
                cosignature = cosigner.read(signature)
                if latest is not None and cosignature.timestamp > latest:
                    raise IntegrityError(f"cosignature by {signature.key} is dated in the future")
                found.append(cosignature)
    return tuple(found)


def verify_checkpoint_consistency(old: Checkpoint, new: Checkpoint, proof: Sequence[bytes]) -> None:
    """Check that ``new`` extends ``old`` (same origin) with a consistency proof.

    Every tree extends the empty one: an ``old`` of size 0 needs the empty-tree root and an
    empty proof, and nothing else is checked.
    """
    if old.origin != new.origin:
        raise IntegrityError(f"checkpoints of different logs: {old.origin!r} and {new.origin!r}")
    if old.size == 0:
        if old.root_hash != EMPTY_ROOT:
            raise IntegrityError(
                "root mismatch: a checkpoint of size 0 must have the empty-tree root"
            )
        if proof:
            raise IntegrityError("proof length wrong: nothing follows from an empty tree")
        return
    verify_consistency(old.size, new.size, proof, old.root_hash, new.root_hash)


def cosign_checkpoint(
    checkpoint: VerifiedCheckpoint, cosigner: Cosigner, now: datetime
) -> NoteSignature:
    """The cosignature line for a checkpoint whose log signature (and consistency) was checked."""
    return cosigner.sign_at(checkpoint.checkpoint.text(), now)


def add_cosignatures(signed: bytes, cosignatures: Sequence[NoteSignature]) -> bytes:
    """A signed checkpoint with cosignature lines added (a key's earlier line is replaced)."""
    return parse_note(signed).with_signatures(cosignatures).encode()


@dataclass(frozen=True, slots=True)
class ForkEvidence:
    """Two checkpoints signed by one log for the same origin and size, with different roots."""

    origin: str
    size: int
    first_root: bytes
    second_root: bytes
    first: bytes  # the signed notes, exactly as received: anyone with the log key can check them
    second: bytes

    def __str__(self) -> str:
        return (
            f"fork of {self.origin} at size {self.size}: roots {self.first_root.hex()[:16]}... "
            f"and {self.second_root.hex()[:16]}..."
        )


def detect_fork(first: VerifiedCheckpoint, second: VerifiedCheckpoint) -> ForkEvidence | None:
    """ForkEvidence if both are of one size with different roots; None if they may be consistent."""
    a, b = first.checkpoint, second.checkpoint
    if a.origin != b.origin:
        raise IntegrityError(f"checkpoints of different logs: {a.origin!r} and {b.origin!r}")
    if a.size != b.size or a.root_hash == b.root_hash:
        return None
    return ForkEvidence(a.origin, a.size, a.root_hash, b.root_hash, first.signed, second.signed)
