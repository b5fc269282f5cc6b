"""Reconcile two offices' logs: lost, unexplained, altered, unacknowledged and overdue messages."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from broker.envelope import MessageKind
from broker.exchange_log import EventType, entry_for_envelope
from broker.exchange_log.reconcile import FindingCode, ReconcileReport, reconcile
from tests.unit.test_exchange_log_world import HK, T0, TH, VN, World


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    made = World(tmp_path)
    yield made
    made.close()


def run(
    world: World, *, now_offset: timedelta = timedelta(days=30), grace: int = 0
) -> ReconcileReport:
    def entries(office: str):  # type: ignore[no-untyped-def]
        log = world[office].log
        return ((i, log.entry(i)) for i in range(log.size))

    return reconcile(
        HK, entries(HK), VN, entries(VN), now=T0 + now_offset, grace=timedelta(seconds=grace)
    )


def by_code(report: ReconcileReport) -> dict[FindingCode, list[bytes]]:
    found: dict[FindingCode, list[bytes]] = {}
    for finding in report.findings:
        found.setdefault(finding.code, []).append(finding.message_id)
    return found


def test_a_clean_exchange_agrees_with_latencies(world: World) -> None:
    enquiry = world.send(HK, VN, due=T0 + timedelta(days=2))
    world.send(VN, HK, kind=MessageKind.RESPONSE, related=enquiry)
    world.send(HK, TH)  # another partner: not part of this reconciliation
    report = run(world)
    assert report.agree
    assert report.findings == ()
    # Enquiry, its receipt, the response, its receipt: four messages delivered.
    assert len(report.deliveries) == 4
    summary = report.latency_summary()
    assert summary["count"] == 4
    assert summary["min_ms"] is not None
    assert summary["min_ms"] > 0
    enquiry_delivery = next(d for d in report.deliveries if d.message_id == enquiry)
    assert enquiry_delivery.receipt_ms is not None
    assert (
        enquiry_delivery.to_json()["latency_ms"] == 2500
    )  # published, confirmed, +0.5 s, received
    document = report.to_json()
    assert document["agree"] is True
    assert document["counts"]["sent-not-received"] == 0


def test_a_lost_message_and_one_still_in_flight(world: World) -> None:
    lost = world.send(HK, VN, deliver=False)
    report = run(world)
    assert by_code(report) == {FindingCode.SENT_NOT_RECEIVED: [lost]}
    assert not report.agree
    fresh = run(world, now_offset=timedelta(seconds=10), grace=300)
    assert by_code(fresh) == {FindingCode.IN_FLIGHT: [lost]}
    assert fresh.agree


def test_received_but_never_sent_and_a_digest_mismatch(world: World) -> None:
    envelope, header = world.seal(HK, (VN,), MessageKind.ENQUIRY, b"x")
    digest = world[VN].store.put(envelope)
    world.log(VN, EventType.RECEIVED, header, digest)  # HK's log knows nothing of it
    altered = world.send(HK, VN, receipt=False)
    vn = world[VN].log
    received = [vn.entry(i) for i in range(vn.size)][-2]
    assert received.event is EventType.RECEIVED
    world.log(
        VN,
        EventType.RECEIVED,
        world.seal(HK, (VN,), MessageKind.ENQUIRY, b"y")[1],
        b"\5" * 32,
    )
    report = run(world)
    found = by_code(report)
    assert header.message_id in found[FindingCode.RECEIVED_NOT_SENT]
    assert altered in found[FindingCode.RECEIPT_MISSING]


def test_digest_mismatch(world: World) -> None:
    # A checkpoint envelope: no receipt is expected for it.
    envelope, header = world.seal(HK, (VN,), MessageKind.CHECKPOINT, b"checkpoint")
    digest = world[HK].store.put(envelope)
    world.log(HK, EventType.PUBLISHED, header, digest)
    world.log(VN, EventType.RECEIVED, header, b"\x09" * 32)
    [finding] = run(world).findings
    assert finding.code is FindingCode.DIGEST_MISMATCH
    assert finding.entry_sender_log == 0
    assert finding.entry_recipient_log == 0


def test_receipts_missing_on_either_side(world: World) -> None:
    never_sent = world.send(HK, VN, receipt=False)
    lost_receipt = world.send(HK, VN, receipt_arrives=False)
    report = run(world)
    details = {f.message_id: f.detail for f in report.findings}
    assert "logged no receipt" in details[never_sent]
    assert "logged a receipt sent at" in details[lost_receipt]
    # The receipt that never arrived is itself a message sent but not received.
    assert set(by_code(report)) == {FindingCode.RECEIPT_MISSING, FindingCode.SENT_NOT_RECEIVED}


def test_overdue_answers(world: World) -> None:
    unanswered = world.send(HK, VN, due=T0 + timedelta(days=1))
    answered = world.send(HK, VN, due=T0 + timedelta(days=1))
    world.send(VN, HK, kind=MessageKind.RESPONSE, related=answered)
    stuck = world.send(HK, VN, due=T0 + timedelta(days=1))
    world.send(VN, HK, kind=MessageKind.RESPONSE, related=stuck, deliver=False)
    not_yet = run(world, now_offset=timedelta(hours=12))
    assert FindingCode.OVERDUE not in by_code(not_yet)
    report = run(world)
    overdue = {f.message_id: f.detail for f in report.findings if f.code is FindingCode.OVERDUE}
    assert set(overdue) == {unanswered, stuck}
    assert "logged no response" in overdue[unanswered]
    assert "logged a response sent at" in overdue[stuck]
    # Overdue answers are information: the logs' records of the messages still agree, apart
    # from the undelivered response.
    assert by_code(report)[FindingCode.SENT_NOT_RECEIVED] != []


def test_an_entry_for_a_message_to_no_one_we_know_is_ignored(world: World) -> None:
    envelope, header = world.seal(TH, (HK,), MessageKind.ALERT, b"a")
    digest = world[HK].store.put(envelope)
    world[HK].log.append(entry_for_envelope(EventType.RECEIVED, header, digest, time=world.tick()))
    assert run(world).findings == ()
