"""What ``audit verify`` found: problems located by entry index, checkpoint size or envelope.

Each problem has a stable ``code`` (documented in docs/exchange-log.md, "Verification") and a
one-line message holding indices, sizes, hashes and reason codes only. Problems of one code on
consecutive entries are merged into a run (``entry`` .. ``last_entry``), so a log whose tail
was shifted by one deleted entry gives one line, not a million.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any


class ProblemCode(enum.StrEnum):
    """Stable codes for what verification can find."""

    ENTRY_MISSING = "entry-missing"  # a gap in the entry indices
    ENTRY_INDEX = "entry-index"  # an entry stored under a negative index
    ENTRY_MALFORMED = "entry-malformed"  # (full) the bytes are not a valid, canonical entry
    LEAF_MISMATCH = "leaf-mismatch"  # the entry does not hash to the stored leaf
    TREE_MISSING = "tree-missing"  # the stored tree lacks the leaf or node for entries
    NODE_MISMATCH = "node-mismatch"  # a stored interior node is not the hash of its entries
    TREE_EXTRA = "tree-extra"  # the stored tree has nodes for entries the log lacks
    CHECKPOINT_MALFORMED = "checkpoint-malformed"
    CHECKPOINT_KEY = "checkpoint-key"  # no valid log key for it (directory, key id, time)
    CHECKPOINT_SIGNATURE = "checkpoint-signature"  # bad or foreign signature, wrong origin
    CHECKPOINT_BEYOND_LOG = "checkpoint-beyond-log"  # it covers entries the log no longer has
    CHECKPOINT_ROOT = "checkpoint-root"  # its root is not the root of the stored entries
    CHECKPOINT_INCONSISTENT = "checkpoint-inconsistent"  # no consistency with the next one
    FORK = "fork"  # two signed checkpoints of one size with different roots
    ENVELOPE_MISSING = "envelope-missing"  # (full) logged, not stored, not purged
    ENVELOPE_CORRUPT = "envelope-corrupt"  # (full) the file does not hash to its name
    ENVELOPE_SIGNATURE = "envelope-signature"  # (full) verify_envelope refused it
    ENVELOPE_MISMATCH = "envelope-mismatch"  # (full) its header is not the entry's message
    PURGE_RECORD = "purge-record"  # the purge records and the log's purge entries disagree


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding and where it is."""

    code: ProblemCode
    message: str
    entry: int | None = None
    last_entry: int | None = None  # the end of a run of entries, inclusive
    checkpoint_size: int | None = None
    envelope_digest: bytes | None = None

    def location(self) -> str:
        """Where, for people: ``entries 5..9``, ``checkpoint at size 300``, ``envelope ab12..``."""
        parts = []
        if self.entry is not None:
            last = self.last_entry
            parts.append(
                f"entry {self.entry}"
                if last is None or last == self.entry
                else f"entries {self.entry}..{last}"
            )
        if self.checkpoint_size is not None:
            parts.append(f"checkpoint at size {self.checkpoint_size}")
        if self.envelope_digest is not None:
            parts.append(f"envelope {self.envelope_digest.hex()}")
        return ", ".join(parts) or "log"

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code.value,
            "message": self.message,
            "entry": self.entry,
            "last_entry": self.last_entry if self.last_entry is not None else self.entry,
            "checkpoint_size": self.checkpoint_size,
            "envelope_digest": None if self.envelope_digest is None else self.envelope_digest.hex(),
        }


def _sort_key(problem: Problem) -> tuple[int, int, str]:
    """Log-wide problems first, then by entry, then by checkpoint size."""
    return (
        -1 if problem.entry is None else problem.entry,
        -1 if problem.checkpoint_size is None else problem.checkpoint_size,
        problem.code.value,
    )


def merge_runs(problems: Iterable[Problem]) -> tuple[Problem, ...]:
    """Sort by place and merge consecutive entry problems of one code into runs."""
    merged: list[Problem] = []
    for problem in sorted(problems, key=_sort_key):
        last = merged[-1] if merged else None
        if (
            last is not None
            and last.code is problem.code
            and last.entry is not None
            and problem.entry is not None
            and last.checkpoint_size is None
            and problem.checkpoint_size is None
            and last.envelope_digest is None
            and problem.envelope_digest is None
            and problem.entry == (last.last_entry or last.entry) + 1
        ):
            merged[-1] = replace(last, last_entry=problem.last_entry or problem.entry)
            continue
        merged.append(problem)
    return tuple(merged)


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The outcome of verifying one log."""

    path: str
    office_id: str
    origin: str
    entries: int
    tree_size: int
    checkpoints: int
    full: bool
    envelopes_checked: int
    envelopes_purged: int
    problems: tuple[Problem, ...]
    seconds: float

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        mode = "full" if self.full else "structural"
        found = "no problems" if self.ok else f"{len(self.problems)} problem(s)"
        envelopes = (
            f", {self.envelopes_checked} envelopes checked ({self.envelopes_purged} purged)"
            if self.full
            else ""
        )
        return (
            f"{mode} verification of {self.origin}: {self.entries} entries, "
            f"{self.checkpoints} checkpoints{envelopes}: {found}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "log": self.path,
            "office": self.office_id,
            "origin": self.origin,
            "mode": "full" if self.full else "structural",
            "entries": self.entries,
            "tree_size": self.tree_size,
            "checkpoints": self.checkpoints,
            "envelopes_checked": self.envelopes_checked,
            "envelopes_purged": self.envelopes_purged,
            "ok": self.ok,
            "problems": [p.to_json() for p in self.problems],
            "seconds": round(self.seconds, 3),
            "summary": self.summary(),
        }
