"""The journal: every state change's log entries reach the exchange log exactly once, even when
a flush crashes half-way or two processes flush at the same time."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from broker.exchange_log import EventType, ExchangeLog, LogEntry, decode_entry
from broker.office_store import OfficeStore

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
HK = "CN-YN-BLO-HK"


def entry(n: int, event: EventType = EventType.RECEIVED) -> LogEntry:
    return LogEntry(
        event,
        T0 + timedelta(milliseconds=n),
        message_id=n.to_bytes(16, "big"),
        envelope_digest=bytes([n % 256]) * 32,
    )


def entries_of(path: Path) -> list[LogEntry]:
    with ExchangeLog.open_existing(path) as log:
        return [decode_entry(data) for _, data in log.iter_entries()]


class CrashingLog:
    """A log whose append lands, after which the flushing process dies."""

    def __init__(self, log: ExchangeLog) -> None:
        self._log = log

    def entry_count(self) -> int:
        return self._log.entry_count()

    def entry_range(self, start: int, end: int) -> list[tuple[int, bytes]]:
        return self._log.entry_range(start, end)

    def append_many(self, entries: Sequence[LogEntry]) -> range:
        self._log.append_many(entries)
        raise KeyboardInterrupt  # the process dies before the store commits


def test_a_flush_that_died_after_the_log_committed_is_not_repeated(tmp_path: Path) -> None:
    log_path = tmp_path / "exchange-log.db"
    with OfficeStore.open(tmp_path / "office.db", office_id=HK) as store:
        store.record([entry(1), entry(2)])
        with ExchangeLog.open(log_path, office_id=HK) as log, pytest.raises(KeyboardInterrupt):
            store.flush_journal(CrashingLog(log))
    assert [e.message_id[-1] for e in entries_of(log_path)] == [1, 2]
    with (
        OfficeStore.open(tmp_path / "office.db", office_id=HK) as store,
        ExchangeLog.open(log_path, office_id=HK) as log,
    ):
        assert store.pending_log_entries() == 2  # the store never committed the flush
        log.append(LogEntry(EventType.DAEMON_STARTED, T0, actor=HK))  # someone else appends
        store.record([entry(4)])
        assert store.flush_journal(log) == 1  # only entry 4 was still missing
        assert store.pending_log_entries() == 0
    events = [(e.event, e.message_id[-1:] or b"") for e in entries_of(log_path)]
    assert events == [
        (EventType.RECEIVED, b"\x01"),
        (EventType.RECEIVED, b"\x02"),
        (EventType.DAEMON_STARTED, b""),
        (EventType.RECEIVED, b"\x04"),
    ]


def test_identical_entries_keep_their_number(tmp_path: Path) -> None:
    log_path = tmp_path / "exchange-log.db"
    with (
        OfficeStore.open(tmp_path / "office.db", office_id=HK) as store,
        ExchangeLog.open(log_path, office_id=HK) as log,
    ):
        store.record([entry(1), entry(1), entry(1)])
        log.append(entry(1))  # as if a crashed flush had appended the first copy
        assert store.flush_journal(log) == 2
    assert len(entries_of(log_path)) == 3


def test_two_processes_flushing_at_once_append_each_entry_once(tmp_path: Path) -> None:
    log_path = tmp_path / "exchange-log.db"
    ExchangeLog.open(log_path, office_id=HK).close()
    OfficeStore.open(tmp_path / "office.db", office_id=HK).close()
    errors: list[BaseException] = []

    def writer(offset: int) -> None:
        try:
            with (
                OfficeStore.open(tmp_path / "office.db", office_id=HK) as store,
                ExchangeLog.open(log_path, office_id=HK) as log,
            ):
                for n in range(offset, offset + 40):
                    store.record([entry(n)])
                    store.flush_journal(log)
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k * 100,)) for k in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    numbers = sorted(int.from_bytes(e.message_id, "big") for e in entries_of(log_path))
    assert numbers == sorted(n for k in range(3) for n in range(k * 100, k * 100 + 40))
