"""Retention: delete old envelopes without making the log unverifiable.

The log keeps every entry forever (entries are metadata; removing one would break the tree).
Envelopes are deleted after the retention period, and the deletion is itself logged first: an
ENVELOPES_PURGED entry with ``purged_before = N`` says that envelopes named only by entries
below index N may be gone. Full verification then counts such an envelope as purged, not
missing; an envelope named by any entry at or above N must still be there. The entry is written
(durably, with a matching row in the ``purges`` table) before any file is deleted, so a crash
in between leaves envelopes that are allowed to be absent but are not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from broker.exchange_log.entry import decode_entry, to_ms
from broker.exchange_log.envelope_store import EnvelopeStore
from broker.exchange_log.sqlite_store import ExchangeLog


@dataclass(frozen=True, slots=True)
class PurgeResult:
    boundary: int  # envelopes named only by entries below this index were deleted
    entry_index: int | None  # the ENVELOPES_PURGED entry; None when there was nothing to do
    deleted: int


def purge_envelopes(
    log: ExchangeLog, store: EnvelopeStore, *, before: datetime, now: datetime
) -> PurgeResult:
    """Delete the envelopes named only by entries logged before ``before``.

    The boundary is the first entry whose time is not before ``before`` (entries are in time
    order; a clock that stepped back only makes the boundary earlier). Run it from the process
    that appends (the daemon), so that no entry naming a deleted envelope is added meanwhile.
    """
    cutoff = to_ms(before)
    boundary = None
    old: set[bytes] = set()
    kept: set[bytes] = set()
    for index, data in log.iter_entries():
        entry = decode_entry(data)
        if boundary is None and entry.time_ms >= cutoff:
            boundary = index
        if entry.envelope_digest:
            (old if boundary is None else kept).add(entry.envelope_digest)
    if boundary is None:
        boundary = log.entry_count()
    doomed = [digest for digest in old - kept if digest in store]
    if not boundary or not doomed:
        return PurgeResult(boundary, None, 0)
    entry_index = log.record_purge(boundary, now)
    deleted = sum(1 for digest in doomed if store.delete(digest))
    return PurgeResult(boundary, entry_index, deleted)
