"""Figures for monitoring that the daemon's counts do not give: how old the oldest unconfirmed
delivery is, how many enquiries are overdue each way, rejections by reason, the dead-letter
queue's depth, the log's size and its latest checkpoint. They go into the status document
(``Core.figures``), which the Prometheus collector (:mod:`broker.daemon.metrics`) reads.

Runs on the core thread (the store's and the log's connections live there), every health
interval: each store query is one indexed read, the checkpoint one row, and rejections are
tallied from the log entries appended since the last look (a protobuf parse each, about a
microsecond), counted from the daemon's start like every Prometheus counter. Times are kept
as ISO strings, so a scrape computes ages with its own clock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final, Protocol

from broker.exchange_log import EventType, ExchangeLog
from broker.office_store import OfficeStore
from broker.pb import log_pb2
from broker.topology import dead_letter_queue

# Reason codes are short codes (the log enforces it); still, a label's values must stay few.
MAX_REASONS: Final = 64
OTHER_REASON: Final = "other"
DEAD_LETTER_REFRESH: Final = 30.0  # seconds between passive declares of dead.<office>
_READ_BATCH: Final = 4096


class QueueDepths(Protocol):
    def queue_depth(self, queue: str, *, max_age: float = ...) -> int | None: ...


class RejectionTally:
    """Rejections by direction and reason, from the log entries appended after ``start``:
    REJECTED entries are messages this office refused ("in"); RECEIPT_RECEIVED entries with a
    reason are partners' REJECTED receipts for ours ("out")."""

    def __init__(self, start: int) -> None:
        self.cursor = start
        self.counts: dict[str, Counter[str]] = {"in": Counter(), "out": Counter()}

    def read(self, log: ExchangeLog) -> None:
        end = log.size
        while self.cursor < end:
            rows = log.entry_range(self.cursor, min(self.cursor + _READ_BATCH, end))
            if not rows:
                break  # a gap is the auditor's business (audit verify), not the monitor's
            for _, data in rows:
                self._note(bytes(data))
            self.cursor = int(rows[-1][0]) + 1

    def _note(self, data: bytes) -> None:
        entry = log_pb2.LogEntry()
        try:
            entry.ParseFromString(data)
        except Exception:  # noqa: BLE001 - a damaged entry is audit verify's finding
            return
        event = int(entry.event)
        if event == EventType.REJECTED:
            self._count("in", entry.reason)
        elif event == EventType.RECEIPT_RECEIVED and entry.reason:
            self._count("out", entry.reason)

    def _count(self, direction: str, reason: str) -> None:
        counts = self.counts[direction]
        reason = reason or "unspecified"
        if reason not in counts and len(counts) >= MAX_REASONS:
            reason = OTHER_REASON
        counts[reason] += 1

    def as_json(self) -> dict[str, dict[str, int]]:
        return {direction: dict(sorted(c.items())) for direction, c in self.counts.items()}


class Monitoring:
    """The figures (see the module docstring); ``figures()`` on the core thread only."""

    def __init__(
        self,
        store: OfficeStore,
        log: ExchangeLog,
        link: QueueDepths,
        *,
        office_id: str,
        clock: Callable[[], datetime],
        dead_letter_refresh: float | None = None,
    ) -> None:
        self._store = store
        self._log = log
        self._link = link
        self._clock = clock
        self._dead_letters = dead_letter_queue(office_id)
        self._refresh = DEAD_LETTER_REFRESH if dead_letter_refresh is None else dead_letter_refresh
        self.rejections = RejectionTally(log.size)

    def figures(self) -> dict[str, Any]:
        now = self._clock()
        self.rejections.read(self._log)
        oldest = self._store.oldest_unconfirmed()
        checkpoint = self._log.latest_checkpoint()
        return {
            "outbox_oldest_unconfirmed_at": None if oldest is None else oldest.isoformat(),
            "overdue_enquiries": {
                "out": self._store.overdue_sent(now),
                "in": self._store.overdue_received(now),
            },
            "rejections": self.rejections.as_json(),
            "dead_letters": self._link.queue_depth(self._dead_letters, max_age=self._refresh),
            "log": {
                "size": self._log.size,
                "checkpoint_size": None if checkpoint is None else checkpoint.size,
                "checkpoint_at": None if checkpoint is None else checkpoint.created_at.isoformat(),
            },
        }


__all__ = ["MAX_REASONS", "Monitoring", "QueueDepths", "RejectionTally"]
