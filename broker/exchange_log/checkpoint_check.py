"""Checking the stored checkpoints: signatures, roots against the entries, forks, consistency.

A checkpoint whose root is not the root of the stored entries at its size tells that entries
below that size changed after it was signed; the last earlier checkpoint that still matches
narrows the change down to the entries between the two.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Protocol

from broker.errors import InputError, IntegrityError
from broker.exchange_log.log_keys import LogKeys
from broker.exchange_log.records import StoredCheckpoint
from broker.exchange_log.report import Problem, ProblemCode
from broker.ledger import (
    ConsistencyProof,
    VerifiedCheckpoint,
    detect_fork,
    open_checkpoint,
    parse_checkpoint,
    parse_note,
    verify_checkpoint_consistency,
)

Opened = list[tuple[StoredCheckpoint, VerifiedCheckpoint]]


class ProofSource(Protocol):
    def consistency_proof(self, old: int, new: int) -> ConsistencyProof: ...


def _short(root: bytes) -> str:
    return root.hex()[:16] + "..."


def open_checkpoints(
    stored: Sequence[StoredCheckpoint], log_keys: LogKeys, office_id: str, origin: str
) -> tuple[Opened, list[Problem]]:
    """The checkpoints whose signature verifies under the log key, and the others' problems."""
    opened: Opened = []
    problems = []
    for item in stored:
        try:
            unsigned = parse_checkpoint(parse_note(item.note).text)
        except IntegrityError as exc:
            problems.append(
                Problem(ProblemCode.CHECKPOINT_MALFORMED, exc.diagnosis, checkpoint_size=item.size)
            )
            continue
        size = unsigned.size
        try:
            verifier = log_keys.verifier_for(item, office_id, origin)
        except IntegrityError as exc:
            problems.append(
                Problem(ProblemCode.CHECKPOINT_KEY, exc.diagnosis, checkpoint_size=size)
            )
            continue
        try:
            verified = open_checkpoint(item.note, origin=origin, log_key=verifier)
        except IntegrityError as exc:
            problems.append(
                Problem(ProblemCode.CHECKPOINT_SIGNATURE, exc.diagnosis, checkpoint_size=size)
            )
            continue
        if item.size != size:
            problems.append(
                Problem(
                    ProblemCode.CHECKPOINT_MALFORMED,
                    f"stored with size {item.size}, but the signed checkpoint has size {size}",
                    checkpoint_size=size,
                )
            )
        opened.append((item, verified))
    return opened, problems


def check_checkpoints(
    opened: Opened,
    proofs: ProofSource,
    entries: int,
    root_at: Callable[[int], bytes],
    damaged_from: int,
) -> list[Problem]:
    """Roots against the entries, forks, and each checkpoint's consistency with the next.

    ``damaged_from`` is the first entry index where the stored tree was found damaged (or the
    log's size): stored proofs are only checked below it."""
    problems: list[Problem] = []
    by_size = sorted(opened, key=lambda pair: (pair[1].checkpoint.size, pair[0].seq))
    matching = [0]  # sizes whose checkpoint root is the entries' root (the empty tree always)
    for _, verified in by_size:
        checkpoint = verified.checkpoint
        size = checkpoint.size
        if size > entries:
            problems.append(
                Problem(
                    ProblemCode.CHECKPOINT_BEYOND_LOG,
                    f"it covers {size} entries, the log has {entries}: "
                    f"entries {entries}..{size - 1} were removed",
                    entry=entries,
                    last_entry=size - 1,
                    checkpoint_size=size,
                )
            )
            continue
        if root_at(size) == checkpoint.root_hash:
            matching.append(size)
            continue
        since = max(s for s in matching if s <= size)
        problems.append(
            Problem(
                ProblemCode.CHECKPOINT_ROOT,
                f"its root {_short(checkpoint.root_hash)} is not the entries' root "
                f"{_short(root_at(size))}: entries {since}..{size - 1} changed after it was signed",
                entry=since,
                last_entry=size - 1,
                checkpoint_size=size,
            )
        )
    problems += _forks(by_size)
    problems += _consistency(by_size, proofs, root_at, damaged_from)
    return problems


def _forks(by_size: Opened) -> list[Problem]:
    problems = []
    for (_, first), (_, second) in itertools.pairwise(by_size):
        evidence = detect_fork(first, second)
        if evidence is not None:
            problems.append(
                Problem(
                    ProblemCode.FORK,
                    f"two signed checkpoints of size {evidence.size} with different roots "
                    f"({_short(evidence.first_root)} and {_short(evidence.second_root)}): "
                    "the log showed two histories",
                    checkpoint_size=evidence.size,
                )
            )
    return problems


def _consistency(
    by_size: Opened, proofs: ProofSource, root_at: Callable[[int], bytes], damaged_from: int
) -> list[Problem]:
    """Does each checkpoint extend the one before?

    When the newer one's root is the entries' root, the entries are the tree it commits to:
    it extends the older one exactly when the older one's root is the entries' root at its
    size, and otherwise two signed checkpoints disagree (history rewritten in between). When
    both match, a consistency proof is also read from the stored tree and checked, as an
    auditor would: it must hold unless the stored tree was already found damaged below. When
    the newer one does not match the entries, the tree it commits to is not on disk and
    nothing more can be shown (its root problem is reported).
    """
    problems = []
    for (_, old), (_, new) in itertools.pairwise(by_size):
        a, b = old.checkpoint, new.checkpoint
        if a.size == b.size or root_at(b.size) != b.root_hash:
            continue  # equal sizes: a fork or the same checkpoint twice
        if root_at(a.size) != a.root_hash:
            problems.append(
                Problem(
                    ProblemCode.CHECKPOINT_INCONSISTENT,
                    f"it does not extend the checkpoint at size {a.size}: both are signed, and "
                    "the history was rewritten between them",
                    entry=0,
                    last_entry=a.size - 1,
                    checkpoint_size=b.size,
                )
            )
            continue
        if b.size > damaged_from:
            continue
        try:
            proof = proofs.consistency_proof(a.size, b.size).hashes if a.size else ()
            verify_checkpoint_consistency(a, b, proof)
        except (IntegrityError, InputError) as exc:
            problems.append(
                Problem(
                    ProblemCode.CHECKPOINT_INCONSISTENT,
                    f"the stored tree gives no valid consistency proof from size {a.size}: "
                    f"{exc.diagnosis}",
                    checkpoint_size=b.size,
                )
            )
    return problems
