"""The office store: outbox and deliveries move only forward, each change journals its log
entries once, the inbox keeps ciphertext only, duplicates change nothing, the replay memory."""

from __future__ import annotations

import sqlite3  # noqa: TID251 - the insider's look at what is stored, on purpose
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from broker.envelope import MessageKind
from broker.errors import ConfigError, IntegrityError
from broker.exchange_log import EventType, ExchangeLog, LogEntry, decode_entry
from broker.office_store import (
    DeliveryEvent,
    DeliveryState,
    InboxState,
    Incoming,
    OfficeStore,
    Outgoing,
    ReceiptEffect,
    RejectedRow,
    advance,
    reason_code,
)
from broker.office_store.db import Database

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
HK, VN, LA = "CN-YN-BLO-HK", "VN-BCA-C02", "LA-MOPS-ATD"


def mid(n: int) -> bytes:
    return n.to_bytes(16, "big")


def outgoing(
    n: int,
    recipients: tuple[str, ...] = (VN, LA),
    *,
    kind: MessageKind = MessageKind.ENQUIRY,
    due: datetime | None = T0 + timedelta(days=2),
    expires: datetime = T0 + timedelta(days=7),
    enquiry_id: str = "",
    related: bytes = b"",
) -> Outgoing:
    return Outgoing(
        message_id=mid(n),
        kind=kind,
        digest=bytes([n]) * 32,
        envelope=b"ciphertext-" + bytes([n]),
        recipients=recipients,
        created_at=T0,
        expires_at=expires,
        enquiry_id=enquiry_id or f"00000000-0000-4000-8000-{n:012d}",
        case_ref="HK-2026-0042",
        due_at=due,
        related_message_id=related,
    )


def incoming(n: int, *, sender: str = VN, kind: MessageKind = MessageKind.ENQUIRY) -> Incoming:
    return Incoming(
        message_id=mid(n),
        sender=sender,
        kind=kind,
        digest=bytes([n]) * 32,
        envelope=b"ciphertext-in-" + bytes([n]),
        created_at=T0,
        expires_at=T0 + timedelta(days=7),
        state=InboxState.RECEIVED if kind is not MessageKind.RECEIPT else InboxState.NOTED,
        enquiry_id=f"00000000-0000-4000-8000-{n:012d}",
        due_at=T0 + timedelta(days=1),
    )


def submitted(out: Outgoing) -> LogEntry:
    return LogEntry(
        EventType.SUBMITTED,
        T0,
        message_id=out.message_id,
        kind=out.kind,
        sender=HK,
        recipients=out.recipients,
        envelope_digest=out.digest,
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[OfficeStore]:
    opened = OfficeStore.open(tmp_path / "office.db", office_id=HK)
    yield opened
    opened.close()


@pytest.fixture
def log(tmp_path: Path) -> Iterator[ExchangeLog]:
    opened = ExchangeLog.open(tmp_path / "exchange-log.db", office_id=HK)
    yield opened
    opened.close()


def logged(log: ExchangeLog) -> list[LogEntry]:
    return [decode_entry(data) for _, data in log.iter_entries()]


def state(store: OfficeStore, n: int, recipient: str) -> DeliveryState:
    [row] = [d for d in store.deliveries_of(mid(n)) if d.recipient == recipient]
    return row.state


# ---------------------------------------------------------------- the file


def test_the_store_belongs_to_one_office(tmp_path: Path) -> None:
    OfficeStore.open(tmp_path / "office.db", office_id=HK).close()
    with pytest.raises(ConfigError, match=f"office store of {HK}, not of {VN}"):
        OfficeStore.open(tmp_path / "office.db", office_id=VN)
    assert (tmp_path / "office.db").stat().st_mode & 0o077 == 0


def test_a_file_that_is_not_a_store_is_refused(tmp_path: Path) -> None:
    (tmp_path / "junk.db").write_bytes(b"this is not SQLite" * 100)
    with pytest.raises(IntegrityError, match="not a Liaison office store"):
        OfficeStore.open(tmp_path / "junk.db", office_id=HK)
    other = sqlite3.connect(tmp_path / "other.db")
    other.execute("CREATE TABLE t (x)")
    other.close()
    with pytest.raises(IntegrityError, match="application id"):
        OfficeStore.open(tmp_path / "other.db", office_id=HK)


def test_the_inbox_holds_ciphertext_only(store: OfficeStore, tmp_path: Path) -> None:
    store.accept(incoming(1), [], now=T0)
    raw = sqlite3.connect(tmp_path / "office.db")
    [(envelope,)] = raw.execute("SELECT envelope FROM inbox").fetchall()
    raw.close()
    assert envelope == incoming(1).envelope


# ---------------------------------------------------------------- the outbox


def test_a_submitted_message_is_queued_once_per_recipient_with_its_entry(
    store: OfficeStore, log: ExchangeLog
) -> None:
    out = outgoing(1)
    store.queue(out, [submitted(out)], now=T0)
    assert {d.recipient: d.state for d in store.deliveries_of(mid(1))} == {
        VN: DeliveryState.QUEUED,
        LA: DeliveryState.QUEUED,
    }
    assert store.pending_log_entries() == 1
    assert store.flush_journal(log) == 1
    assert [e.event for e in logged(log)] == [EventType.SUBMITTED]
    assert store.flush_journal(log) == 0


def test_published_and_confirmed_are_logged_once_per_delivery(
    store: OfficeStore, log: ExchangeLog
) -> None:
    store.queue(outgoing(1), [], now=T0)
    items = store.publishable(T0, limit=10)
    assert [(i.recipient, i.first_attempt) for i in items] == [(LA, True), (VN, True)]
    store.note_attempts(items, T0)
    store.note_attempts(store.publishable(T0, limit=10), T0)  # a second attempt: not logged
    assert store.publishable(T0, limit=10, busy={(mid(1), LA)})[0].recipient == VN
    assert store.record_confirmed(mid(1), VN, T0) is True
    assert store.record_confirmed(mid(1), VN, T0) is False
    store.flush_journal(log)
    events = [(e.event, e.recipients) for e in logged(log)]
    assert events == [
        (EventType.PUBLISHED, (LA,)),
        (EventType.PUBLISHED, (VN,)),
        (EventType.CONFIRMED, (VN,)),
    ]
    assert state(store, 1, VN) is DeliveryState.PUBLISHED
    assert [i.recipient for i in store.publishable(T0, limit=10)] == [LA]
    assert store.deliveries_of(mid(1))[1].attempts == 2


def test_a_returned_publish_is_final_and_a_nacked_one_waits(
    store: OfficeStore, log: ExchangeLog
) -> None:
    store.queue(outgoing(1), [], now=T0)
    store.record_returned(mid(1), LA, "NO_ROUTE", T0)
    store.retry_later(mid(1), VN, T0 + timedelta(seconds=30))
    assert state(store, 1, LA) is DeliveryState.RETURNED
    assert store.publishable(T0 + timedelta(seconds=29), limit=10) == []
    assert [i.recipient for i in store.publishable(T0 + timedelta(seconds=30), limit=10)] == [VN]
    store.flush_journal(log)
    [returned] = logged(log)
    assert (returned.event, returned.reason) == (EventType.RETURNED, "NO_ROUTE")
    assert reason_code("404 NOT_FOUND - no exchange 'x'") == "404-NOT_FOUND-no-exchange-x"
    assert reason_code("   ") == "unspecified"


def test_receipts_and_answers_move_deliveries_forward_only(store: OfficeStore) -> None:
    store.queue(outgoing(1), [], now=T0)
    store.record_confirmed(mid(1), VN, T0)

    def receipt(n: int, recipient: str, reason: str = "", digest: bytes = bytes([1]) * 32) -> None:
        effect = ReceiptEffect(mid(1), recipient, digest, reason, mid(n))
        store.accept(incoming(n, sender=recipient, kind=MessageKind.RECEIPT), [], now=T0,
                     receipt=effect)  # fmt: skip

    receipt(50, VN, digest=bytes(32))  # about another envelope: ignored
    assert state(store, 1, VN) is DeliveryState.PUBLISHED
    receipt(51, VN)
    assert state(store, 1, VN) is DeliveryState.DELIVERED
    store.record_confirmed(mid(1), VN, T0)  # a late confirm does not move it back
    assert state(store, 1, VN) is DeliveryState.DELIVERED
    receipt(52, LA, reason="policy")
    [la] = [d for d in store.deliveries_of(mid(1)) if d.recipient == LA]
    assert (la.state, la.reason) == (DeliveryState.REJECTED, "policy")
    added, answered = store.accept(incoming(53), [], now=T0, answers=mid(1))
    assert (added, answered) == (True, DeliveryState.ANSWERED)
    assert state(store, 1, VN) is DeliveryState.ANSWERED
    assert set(store.deliveries_of(mid(1))[1].times) >= {"queued", "confirmed", "delivered",
                                                          "answered"}  # fmt: skip


@pytest.mark.parametrize(
    ("before", "event", "after"),
    [
        (DeliveryState.QUEUED, DeliveryEvent.CONFIRMED, DeliveryState.PUBLISHED),
        (DeliveryState.DELIVERED, DeliveryEvent.CONFIRMED, DeliveryState.DELIVERED),
        (DeliveryState.PUBLISHED, DeliveryEvent.RETURNED, DeliveryState.PUBLISHED),
        (DeliveryState.EXPIRED, DeliveryEvent.DELIVERED, DeliveryState.DELIVERED),
        (DeliveryState.DELIVERED, DeliveryEvent.REJECTED, DeliveryState.DELIVERED),
        (DeliveryState.REJECTED, DeliveryEvent.ANSWERED, DeliveryState.ANSWERED),
        (DeliveryState.ANSWERED, DeliveryEvent.OVERDUE, DeliveryState.ANSWERED),
        (DeliveryState.DELIVERED, DeliveryEvent.EXPIRED, DeliveryState.DELIVERED),
        (DeliveryState.OVERDUE, DeliveryEvent.DELIVERED, DeliveryState.OVERDUE),
    ],
)
def test_the_state_machine(
    before: DeliveryState, event: DeliveryEvent, after: DeliveryState
) -> None:
    assert advance(before, event) is after


def test_overdue_enquiries_are_marked_and_logged_once(store: OfficeStore, log: ExchangeLog) -> None:
    store.queue(outgoing(1, (VN,), due=T0 + timedelta(hours=1)), [], now=T0)
    store.queue(outgoing(2, (VN,), due=T0 + timedelta(days=3)), [], now=T0)
    store.queue(outgoing(3, (VN,), kind=MessageKind.RECEIPT, due=None), [], now=T0)
    assert store.mark_overdue(T0) == []
    later = T0 + timedelta(hours=2)
    assert [d.message_id for d in store.mark_overdue(later)] == [mid(1)]
    assert store.mark_overdue(later) == []
    store.flush_journal(log)
    [overdue] = logged(log)
    assert (overdue.event, overdue.message_id, overdue.due_at) == (
        EventType.OVERDUE, mid(1), T0 + timedelta(hours=1),
    )  # fmt: skip
    chase = store.deliveries(states={DeliveryState.OVERDUE})
    assert [d.message_id for d in chase] == [mid(1)]
    # Overdue before it ever left (the broker was down): it still goes out.
    assert [i.message_id for i in store.publishable(later, limit=10)] == [mid(1), mid(2), mid(3)]
    store.record_confirmed(mid(1), VN, later)
    assert state(store, 1, VN) is DeliveryState.OVERDUE
    assert mid(1) not in [i.message_id for i in store.publishable(later, limit=10)]


def test_deliveries_nobody_receipted_expire_with_their_envelope(store: OfficeStore) -> None:
    store.queue(outgoing(1, (VN, LA), expires=T0 + timedelta(days=1)), [], now=T0)
    store.accept(incoming(9, kind=MessageKind.RECEIPT), [], now=T0,
                 receipt=ReceiptEffect(mid(1), VN, bytes([1]) * 32, "", mid(9)))  # fmt: skip
    skew = timedelta(minutes=5)
    assert store.mark_expired(T0 + timedelta(days=1), skew=skew) == 0
    assert store.mark_expired(T0 + timedelta(days=1, minutes=5), skew=skew) == 1
    assert state(store, 1, LA) is DeliveryState.EXPIRED
    assert state(store, 1, VN) is DeliveryState.DELIVERED
    assert store.publishable(T0 + timedelta(days=2), limit=10) == []


def test_a_receipt_sent_before_is_published_again_once(
    store: OfficeStore, log: ExchangeLog
) -> None:
    store.queue(outgoing(1, (VN,), kind=MessageKind.RECEIPT, due=None), [], now=T0)
    assert store.resend(mid(1)) == 0  # still queued: it goes out anyway
    store.note_attempts(store.publishable(T0, limit=10), T0)
    store.record_confirmed(mid(1), VN, T0)
    assert store.publishable(T0, limit=10) == []
    assert store.resend(mid(1)) == 1
    assert store.resend(mid(1)) == 0  # already waiting to go
    assert [i.first_attempt for i in store.publishable(T0, limit=10)] == [False]
    assert state(store, 1, VN) is DeliveryState.PUBLISHED
    assert store.record_confirmed(mid(1), VN, T0) is False  # confirmed before: not logged
    assert store.publishable(T0, limit=10) == []
    store.flush_journal(log)
    assert [e.event for e in logged(log)] == [EventType.PUBLISHED, EventType.CONFIRMED]
    store.queue(outgoing(2, (VN,)), [], now=T0)
    store.record_confirmed(mid(2), VN, T0)
    assert store.resend(mid(2)) == 0  # only receipts are sent again this way


# ---------------------------------------------------------------- the inbox


def test_a_message_enters_the_inbox_once(store: OfficeStore, log: ExchangeLog) -> None:
    received = LogEntry(EventType.RECEIVED, T0, message_id=mid(1), sender=VN)
    assert store.accept(incoming(1), [received], now=T0) == (True, None)
    assert store.accept(incoming(1), [received], now=T0) == (False, None)
    store.flush_journal(log)
    assert [e.event for e in logged(log)] == [EventType.RECEIVED]
    assert [r.message_id for r in store.unfinished()] == [mid(1)]


def test_the_hand_over_and_its_receipt_are_recorded_once(store: OfficeStore) -> None:
    store.accept(incoming(1), [], now=T0)
    receipt = outgoing(2, (VN,), kind=MessageKind.RECEIPT, due=None, related=mid(1))
    assert store.finish_hand_over(mid(1), [], now=T0, receipt=receipt) is True
    assert store.finish_hand_over(mid(1), [], now=T0, receipt=receipt) is False
    row = store.received(mid(1))
    assert row is not None
    assert (row.state, row.receipt_message_id) == (InboxState.HANDED_OVER, mid(2))
    assert store.unfinished() == []
    assert [r.message_id for r in store.awaiting_answer()] == [mid(1)]


def test_a_response_marks_the_enquiry_answered(store: OfficeStore) -> None:
    store.accept(incoming(1), [], now=T0)
    [row] = store.enquiries_received(incoming(1).enquiry_id)
    response = outgoing(2, (VN,), kind=MessageKind.RESPONSE, due=None, related=mid(1))
    store.queue_response(response, [], enquiry_message_id=mid(1), now=T0)
    answered = store.received(mid(1))
    assert answered is not None
    assert (answered.state, answered.answered_by) == (InboxState.ANSWERED, mid(2))
    assert store.awaiting_answer() == []
    assert row.enquiry_id == incoming(1).enquiry_id


def test_our_enquiry_is_found_by_its_id_and_recipient(store: OfficeStore) -> None:
    asked = outgoing(1, (VN, LA), enquiry_id="11111111-1111-4111-8111-111111111111")
    store.queue(asked, [], now=T0)
    assert store.enquiry_sent_to(asked.enquiry_id, VN) == mid(1)
    assert store.enquiry_sent_to(asked.enquiry_id, "MM-MPF-ATTF") is None
    assert store.enquiry_sent_to("22222222-2222-4222-8222-222222222222", VN) is None


def test_the_replay_memory_holds_accepted_and_authentic_rejected_ids(store: OfficeStore) -> None:
    seen = store.seen()
    assert mid(1) not in seen
    store.accept(incoming(1), [], now=T0)
    rejection = LogEntry(EventType.REJECTED, T0, envelope_digest=bytes(32), reason="policy")
    store.record_rejection(
        [rejection],
        now=T0,
        authentic=RejectedRow(mid(2), bytes([2]) * 32, VN, "policy", b""),
        expires_at=T0 + timedelta(days=1),
    )
    store.record_rejection([rejection], now=T0)  # unproven: not remembered
    assert mid(1) in seen
    assert mid(2) in seen
    assert "not bytes" not in seen
    assert store.rejected(mid(2)) == RejectedRow(mid(2), bytes([2]) * 32, VN, "policy", b"")
    assert store.purge_rejected(T0 + timedelta(days=1)) == 0
    assert store.purge_rejected(T0 + timedelta(days=1, seconds=1)) == 1
    assert mid(2) not in seen
    assert store.pending_log_entries() == 2


def insert_then_fail(db: Database, value: int) -> None:
    with db.transaction():
        db.execute("INSERT INTO t VALUES (?)", (value,))
        raise RuntimeError("this transaction failed")


def test_a_batch_commits_once_and_a_failing_method_inside_is_undone_alone(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "office.db", office_id="CN-YN-BLO-HK")
    db.execute("CREATE TABLE t (x INTEGER PRIMARY KEY)")
    other = Database.open(tmp_path / "office.db", office_id="CN-YN-BLO-HK")
    with db.transaction():
        with db.transaction():
            db.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(RuntimeError):
            insert_then_fail(db, 2)
        with db.transaction():
            db.execute("INSERT INTO t VALUES (3)")
        assert other.rows("SELECT x FROM t") == []  # nothing is visible before the commit
    assert other.rows("SELECT x FROM t ORDER BY x") == [(1,), (3,)]
    with pytest.raises(RuntimeError):
        insert_then_fail(db, 4)
    assert other.rows("SELECT x FROM t ORDER BY x") == [(1,), (3,)]
    db.close()
    other.close()
