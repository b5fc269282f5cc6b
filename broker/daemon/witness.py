"""Witnessing partners' logs: what to do with a checkpoint another office sent. Pure.

Each office cosigns its partners' checkpoints (docs/exchange-log.md, "Checkpoint exchange"),
but only after checking that the new one extends the last one it cosigned for that log.
``judge`` takes what this office holds (the last checkpoint of the partner's log it cosigned,
and the one of the new checkpoint's size if it holds one) and the partner's new checkpoint with
its consistency proof, and returns a verdict:

=====================  ==========================================================================
verdict                when
=====================  ==========================================================================
``Cosign``             nothing held yet (first sight), or a larger tree whose proof from the
                       last cosigned size verifies: cosign it, it becomes the last
``AlreadyCosigned``    the very checkpoint last cosigned (same size and root): send it back
``Rebase``             a larger tree, but the proof starts at another size than the last
                       cosigned one (the sender does not know it yet): send the last back, the
                       sender proves from it next time
``Stale``              smaller than the last cosigned, and not contradicting a held checkpoint
                       of its size: an old message arriving late; send the last back
``ForkAlarm``          same size as a held checkpoint with another root (``fork``: the two
                       signed notes prove on their own that the log showed two histories), or a
                       larger tree whose proof does not verify (``inconsistent``)
=====================  ==========================================================================

Every checkpoint here was opened with the partner's log key before (``open_partner_checkpoint``).
``check_cosignature`` is the other side: a partner's cosignature on one of our checkpoints, which
must be a checkpoint of our log as it is (its root is the root of our entries at its size).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from broker.directory import Directory
from broker.directory.model import KeyStatus
from broker.directory.vocabulary import KeyUse
from broker.errors import IntegrityError
from broker.ledger import (
    Cosignature,
    CosignatureVerifier,
    Ed25519Verifier,
    ForkEvidence,
    VerifiedCheckpoint,
    detect_fork,
    office_cosigner_name,
    office_origin,
    open_checkpoint,
    open_note,
    parse_checkpoint,
    parse_note,
    verify_checkpoint_consistency,
)


class AlarmReason(enum.StrEnum):
    """Why a partner's log is inconsistent with what this office saw (log reason codes)."""

    FORK = "fork"  # two signed checkpoints of one size with different roots
    INCONSISTENT = "inconsistent"  # a larger tree whose consistency proof does not verify


@dataclass(frozen=True, slots=True)
class Cosign:
    checkpoint: VerifiedCheckpoint


@dataclass(frozen=True, slots=True)
class AlreadyCosigned:
    last: VerifiedCheckpoint


@dataclass(frozen=True, slots=True)
class Rebase:
    last: VerifiedCheckpoint


@dataclass(frozen=True, slots=True)
class Stale:
    last: VerifiedCheckpoint


@dataclass(frozen=True, slots=True)
class ForkAlarm:
    """The evidence: the checkpoint held and the one received, both signed notes verbatim."""

    reason: AlarmReason
    held: VerifiedCheckpoint = field(repr=False)
    received: VerifiedCheckpoint = field(repr=False)
    detail: str
    evidence: ForkEvidence | None = None  # set for FORK: self-contained proof

    @property
    def origin(self) -> str:
        return self.received.checkpoint.origin


WitnessVerdict = Cosign | AlreadyCosigned | Rebase | Stale | ForkAlarm


def judge(
    last: VerifiedCheckpoint | None,
    new: VerifiedCheckpoint,
    *,
    proof_from: int,
    proof: Sequence[bytes],
    held_at_size: VerifiedCheckpoint | None = None,
) -> WitnessVerdict:
    """The verdict on ``new`` (see the module docstring). ``last`` is the last checkpoint of
    this log we cosigned; ``held_at_size`` one we hold of ``new``'s size, if any."""
    if last is None:
        return Cosign(new)  # trust on first use: there is nothing to be consistent with
    if last.checkpoint.origin != new.checkpoint.origin:
        raise IntegrityError(
            f"checkpoints of different logs: {last.checkpoint.origin!r} and "
            f"{new.checkpoint.origin!r}"
        )
    old_size, new_size = last.checkpoint.size, new.checkpoint.size
    if new_size <= old_size:
        held = last if new_size == old_size else held_at_size
        if held is not None:
            evidence = detect_fork(held, new)
            if evidence is not None:
                return ForkAlarm(AlarmReason.FORK, held, new, str(evidence), evidence)
        return AlreadyCosigned(last) if new_size == old_size else Stale(last)
    if proof_from != old_size:
        return Rebase(last)
    try:
        verify_checkpoint_consistency(last.checkpoint, new.checkpoint, proof)
    except IntegrityError as exc:
        detail = f"size {old_size} to {new_size}: {exc.diagnosis}"
        return ForkAlarm(AlarmReason.INCONSISTENT, last, new, detail)
    return Cosign(new)


# ---------------------------------------------------------------- keys from the directory


def _signing_keys(directory: Directory, office_id: str, at: datetime) -> list[bytes]:
    office = directory.office(office_id)
    if office is None:
        return []
    return [
        key.public_key
        for key in office.keys_of(KeyUse.SIGNING)
        if key.status_at(at) is KeyStatus.VALID
    ]


def log_verifiers(
    directory: Directory, office_id: str, *, network: str, at: datetime
) -> list[Ed25519Verifier]:
    """The keys ``office_id``'s log may sign with at ``at``: its valid signing keys, under its
    log's origin (``broker.exchange_log.log_signer`` signs with the signing key)."""
    origin = office_origin(network, office_id)
    return [Ed25519Verifier(origin, key) for key in _signing_keys(directory, office_id, at)]


def cosigner_verifiers(
    directory: Directory, office_id: str, *, network: str, at: datetime
) -> list[CosignatureVerifier]:
    """The keys ``office_id`` may cosign with at ``at``: its valid signing keys, as type 0x04
    keys under ``<network>/witness/<office id>``."""
    name = office_cosigner_name(network, office_id)
    return [CosignatureVerifier(name, key) for key in _signing_keys(directory, office_id, at)]


def open_partner_checkpoint(
    note: bytes, *, origin: str, verifiers: Sequence[Ed25519Verifier]
) -> VerifiedCheckpoint:
    """``note`` opened with whichever of ``verifiers`` signed it; IntegrityError if none did."""
    signed_by = {(s.name, s.key_id) for s in parse_note(note).signatures}
    for verifier in verifiers:
        if (verifier.name, verifier.key_id) in signed_by:
            return open_checkpoint(note, origin=origin, log_key=verifier)
    raise IntegrityError(f"the checkpoint is signed by no valid log key of {origin}")


def held_checkpoint(note: bytes) -> VerifiedCheckpoint:
    """A checkpoint note from our own store, verified when it was stored."""
    return VerifiedCheckpoint(parse_checkpoint(parse_note(note).text), note)


@dataclass(frozen=True, slots=True)
class CheckedCosignature:
    """A partner's cosignature on one of our checkpoints: the cosigned note and what it says."""

    size: int
    cosignature: Cosignature
    note: bytes = field(repr=False)


def check_cosignature(
    note: bytes,
    *,
    origin: str,
    cosigners: Sequence[CosignatureVerifier],
    root_at: Callable[[int], bytes],
    log_size: int,
) -> CheckedCosignature:
    """Check a partner's cosigned copy of our checkpoint: a cosignature by one of
    ``cosigners`` over a checkpoint of ``origin`` whose root is our log's at its size."""
    opened = open_note(note, cosigners)  # IntegrityError: no (good) line by the cosigner
    checkpoint = parse_checkpoint(opened.text)
    if checkpoint.origin != origin:
        raise IntegrityError(f"cosigned checkpoint of {checkpoint.origin!r}, not of {origin!r}")
    if not 0 < checkpoint.size <= log_size:
        raise IntegrityError(
            f"cosigned checkpoint of size {checkpoint.size}: our log has {log_size} entries"
        )
    if root_at(checkpoint.size) != checkpoint.root_hash:
        raise IntegrityError(
            f"cosigned checkpoint of size {checkpoint.size} has a root our log never had"
        )
    by_key = {(c.name, c.key_id): c for c in cosigners}
    line = opened.verified[0]
    cosignature = by_key[(line.name, line.key_id)].read(line)
    return CheckedCosignature(checkpoint.size, cosignature, note)
