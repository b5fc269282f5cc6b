"""Full verification of a range of entries: each decodes, and each envelope it names is stored,
hashes to its name, is signed by its sender (``verify_envelope``, the key judged at the
envelope's ``created_at``) and is the message the entry says it is.

Pure apart from ``read_envelope`` (a callable: the store's ``get``). An envelope is checked once
per range however many entries name it. Envelopes named only by REJECTED entries are checked for
their digest, not their signature: being refused is why they were logged. An envelope that is
not stored counts as purged when every entry of the range that names it lies below the log's
purge boundary (``purged_before``); otherwise it is missing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from broker.envelope import DirectoryView, Limits, verify_envelope
from broker.errors import IntegrityError, PeerError
from broker.exchange_log.entry import EventType, LogEntry, decode_entry
from broker.exchange_log.report import Problem, ProblemCode, merge_runs


@dataclass(frozen=True, slots=True)
class EnvelopeFindings:
    problems: tuple[Problem, ...]
    checked: int  # envelopes read and checked
    purged: int  # envelopes absent under a purge
    purge_entries: tuple[tuple[int, int], ...]  # (index, purged_before) of purge entries seen


@dataclass(slots=True)
class _References:
    first: int
    last: int
    accepted: bool  # named by an entry other than REJECTED
    entries: list[tuple[int, LogEntry]] = field(default_factory=list)


def _collect(
    rows: Sequence[tuple[int, bytes]],
) -> tuple[dict[bytes, _References], list[Problem], list[tuple[int, int]]]:
    references: dict[bytes, _References] = {}
    problems = []
    purges = []
    for index, data in rows:
        try:
            entry = decode_entry(data)
        except IntegrityError as exc:
            problems.append(Problem(ProblemCode.ENTRY_MALFORMED, exc.diagnosis, index))
            continue
        if entry.event is EventType.ENVELOPES_PURGED:
            purges.append((index, entry.purged_before))
        digest = entry.envelope_digest
        if not digest:
            continue
        refs = references.get(digest)
        if refs is None:
            refs = references[digest] = _References(index, index, accepted=False)
        refs.last = index
        refs.accepted |= entry.event is not EventType.REJECTED
        refs.entries.append((index, entry))
    return references, problems, purges


def _mismatch(entry: LogEntry, message_id: bytes, sender: str, kind: object) -> str:
    if entry.message_id and entry.message_id != message_id:
        return (
            f"the envelope's message id is {message_id.hex()}, the entry's {entry.message_id.hex()}"
        )
    if entry.sender and entry.sender != sender:
        return f"the envelope is from {sender}, the entry says {entry.sender}"
    if entry.kind is not None and entry.kind != kind:
        return "the envelope's kind is not the entry's"
    return ""


def check_envelopes(
    rows: Sequence[tuple[int, bytes]],
    *,
    read_envelope: Callable[[bytes], bytes | None],
    directory: DirectoryView,
    purged_before: int,
    limits: Limits,
) -> EnvelopeFindings:
    """Decode ``rows`` and check every envelope they name (see the module docstring)."""
    references, problems, purges = _collect(rows)
    checked = purged = 0
    for digest, refs in references.items():
        try:
            data = read_envelope(digest)
        except IntegrityError as exc:
            problems.append(
                _envelope_problem(ProblemCode.ENVELOPE_CORRUPT, exc.diagnosis, refs, digest)
            )
            continue
        if data is None:
            if refs.last < purged_before:
                purged += 1
            else:
                problems.append(
                    _envelope_problem(
                        ProblemCode.ENVELOPE_MISSING,
                        "the log names an envelope the store does not have, and no purge covers it",
                        refs,
                        digest,
                    )
                )
            continue
        checked += 1
        if hashlib.sha256(data).digest() != digest:
            problems.append(
                _envelope_problem(
                    ProblemCode.ENVELOPE_CORRUPT,
                    "the stored file does not hash to its name: it was replaced or damaged",
                    refs,
                    digest,
                )
            )
            continue
        if refs.accepted:
            problems += _check_signature(data, digest, refs, directory, limits)
    return EnvelopeFindings(merge_runs(problems), checked, purged, tuple(purges))


def _check_signature(
    data: bytes, digest: bytes, refs: _References, directory: DirectoryView, limits: Limits
) -> list[Problem]:
    try:
        header = verify_envelope(data, directory, limits=limits).header
    except PeerError as exc:
        return [_envelope_problem(ProblemCode.ENVELOPE_SIGNATURE, exc.explain(), refs, digest)]
    found = []
    for index, entry in refs.entries:
        mismatch = _mismatch(entry, header.message_id, header.sender, header.kind)
        if mismatch:
            found.append(
                Problem(ProblemCode.ENVELOPE_MISMATCH, mismatch, index, None, None, digest)
            )
    return found


def _envelope_problem(code: ProblemCode, message: str, refs: _References, digest: bytes) -> Problem:
    return Problem(code, message, entry=refs.first, envelope_digest=digest)
