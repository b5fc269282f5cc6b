"""What the store hands to verifiers: stored checkpoints and a consistent snapshot. Pure values."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    """A checkpoint as stored: ``note`` is the signed note; ``key_id`` (the 16-byte id of the
    signing key) and ``created_at`` are unsigned hints for finding the key in the directory."""

    seq: int
    size: int
    created_at: datetime
    key_id: bytes
    note: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a verifier reads first, in one read transaction: a consistent view of the file."""

    entry_count: int  # max(index) + 1
    lowest_index: int  # min(index), or 0; below 0 is tampering
    tile_widths: dict[tuple[int, int], int]
    checkpoints: tuple[StoredCheckpoint, ...]
    purges: tuple[tuple[int, int], ...]  # (entry index, purged_before)
