"""The daemon's two sides without a broker: the publisher over a recording link, the inbox side
fed the publishes, and the crash windows between the inbox side's steps."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.transports.spool import SpoolTransport
from broker.amqp import Published, PublishOutcome
from broker.config import parse_config
from broker.daemon import Arrival, Office, submit
from broker.daemon.handover import Handover, handover_from_config
from broker.daemon.inbound import Inbound, Settle
from broker.daemon.office import read_secret
from broker.daemon.outbound import Publisher, RetryPolicy, publish_id
from broker.daemon.submission import Submitter
from broker.directory import TrustState, accept_directory, decode_root
from broker.envelope import Limits, MessageKind
from broker.errors import ConfigError, TransportError
from broker.exchange_log import EnvelopeStore, EventType, ExchangeLog, LogEntry, decode_entry
from broker.model import CaseEnquiry, new_id
from broker.office_store import DeliveryState, InboxState, OfficeStore
from broker.topology import ENVELOPE_EXCHANGE
from tests.demo import DIRECTORY_FILE, ROOT_FILE, make

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
DIRECTORY = accept_directory(
    DIRECTORY_FILE.read_bytes(), TrustState.pinned(decode_root(ROOT_FILE.read_bytes())), now=NOW
).directory
HK, VN = "CN-YN-BLO-HK", "VN-BCA-C02"


@dataclass
class Sent:
    publish_id: str
    routing_key: str
    body: bytes = field(repr=False)
    message_id: str
    user_id: str | None


class RecordingLink:
    """The publishing half of AmqpLink: records publishes; may refuse once stopped."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.stopped = False

    def publish(
        self,
        publish_id: str,
        *,
        exchange: str,
        routing_key: str,
        body: bytes,
        message_id: str,
        user_id: str | None,
    ) -> None:
        if self.stopped:
            raise TransportError("the AMQP link is stopped; publish refused")
        assert exchange == ENVELOPE_EXCHANGE
        self.sent.append(Sent(publish_id, routing_key, body, message_id, user_id))


@dataclass
class Side:
    """One office's daemon parts, opened on the test's thread."""

    office: Office
    store: OfficeStore
    log: ExchangeLog
    handover: Handover
    inbound: Inbound
    link: RecordingLink
    publisher: Publisher

    def entries(self) -> list[LogEntry]:
        self.store.flush_journal(self.log)
        return [decode_entry(data) for _, data in self.log.iter_entries()]

    def events(self, message_id: bytes) -> list[EventType]:
        return [e.event for e in self.entries() if message_id in (e.message_id,
                e.related_message_id)]  # fmt: skip

    def state(self, message_id: bytes, recipient: str) -> DeliveryState:
        [row] = [d for d in self.store.deliveries_of(message_id) if d.recipient == recipient]
        return row.state

    def confirm_all(self, now: datetime = NOW) -> list[Sent]:
        sent, self.link.sent = self.link.sent, []
        for each in sent:
            self.publisher.settle(Published(each.publish_id, PublishOutcome.CONFIRMED), now)
        return sent


def spooled(office: Side) -> list[Path]:
    return sorted((office.office.paths.data_dir / "spool" / "in").glob("*.json"))


def side(tmp_path: Path, office_id: str, extra: str = "") -> Side:
    """``extra``: more configuration (e.g. a [handover] section)."""
    folder = tmp_path / office_id
    text = (
        f'[office]\nid = "{office_id}"\ndata_dir = "data"\n[keys]\ndir = "keys"\n'
        f'[directory]\nfile = "directory.bin"\n[amqp]\nurls = ["amqp://127.0.0.1/x"]\n'
        'user_prefix = "t1-"\n' + extra
    )
    config = parse_config(text, folder / "office.toml")
    office = Office(config, make.demo_keys(office_id), DIRECTORY, Limits())
    paths = office.paths
    store = OfficeStore.open(paths.store, office_id=office_id)
    log = ExchangeLog.open(paths.log, office_id=office_id)
    handover = handover_from_config(config, read_secret=read_secret)
    inbound = Inbound(lambda: office, store, EnvelopeStore(paths.envelopes), handover)
    link = RecordingLink()
    publisher = Publisher(
        store, link, office_id=office_id, user="t1-" + office_id.lower(), max_in_flight=10
    )
    return Side(office, store, log, handover, inbound, link, publisher)


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Side, Side]]:
    sides = side(tmp_path, HK), side(tmp_path, VN)
    yield sides
    for each in sides:
        each.store.close()
        each.log.close()


def enquiry() -> CaseEnquiry:
    alert = CaseEnquiry.from_json((EXAMPLES / "missing-child-alert.json").read_text("utf-8"))
    return dataclasses.replace(
        alert, enquiry_id=new_id(), recipient_offices=(VN,), response_due=NOW + timedelta(days=2)
    )


def arrival(sent: Sent) -> Arrival:
    return Arrival(sent.body, sent.routing_key, sent.user_id)


def test_an_enquiry_goes_out_comes_in_and_its_receipt_comes_back(
    pair: tuple[Side, Side],
) -> None:
    hk, vn = pair
    asked = enquiry()
    queued = submit(hk.office, asked, now=NOW)
    assert hk.publisher.publish_due(NOW) == 1
    assert hk.publisher.publish_due(NOW) == 0  # in flight: not twice
    [out] = hk.confirm_all()
    assert (out.routing_key, out.user_id) == ("from.cn-yn-blo-hk.to.vn-bca-c02", "t1-cn-yn-blo-hk")
    assert out.message_id == queued.message_id.hex()
    assert hk.state(queued.message_id, VN) is DeliveryState.PUBLISHED

    assert vn.inbound.handle(arrival(out), now=NOW) is Settle.ACK
    [handed] = spooled(vn)
    assert json.loads(handed.read_text("utf-8")) == json.loads(asked.to_json())
    assert vn.publisher.publish_due(NOW) == 1
    [receipt] = vn.confirm_all()
    assert hk.inbound.handle(arrival(receipt), now=NOW) is Settle.ACK
    assert hk.state(queued.message_id, VN) is DeliveryState.DELIVERED
    assert hk.events(queued.message_id) == [
        EventType.SUBMITTED, EventType.PUBLISHED, EventType.CONFIRMED,
        EventType.RECEIPT_RECEIVED,
    ]  # fmt: skip
    assert vn.events(queued.message_id) == [
        EventType.RECEIVED, EventType.HANDED_OVER, EventType.RECEIPT_SENT,
    ]  # fmt: skip
    # Every envelope either log names is in that office's envelope store.
    for each in (hk, vn):
        store = EnvelopeStore(each.office.paths.envelopes)
        assert all(e.envelope_digest in store for e in each.entries() if e.envelope_digest)


def test_a_crash_before_the_hand_over_is_finished_by_the_redelivery(
    pair: tuple[Side, Side], monkeypatch: pytest.MonkeyPatch
) -> None:
    hk, vn = pair
    queued = submit(hk.office, enquiry(), now=NOW)
    hk.publisher.publish_due(NOW)
    [out] = hk.confirm_all()
    real = SpoolTransport.deliver

    def full_disk(self: SpoolTransport, handover: object) -> str:
        raise ConfigError("cannot write: No space left on device")

    monkeypatch.setattr(SpoolTransport, "deliver", full_disk)
    # Durable in the inbox: acked, not handed over, no receipt yet.
    assert vn.inbound.handle(arrival(out), now=NOW) is Settle.ACK
    row = vn.store.received(queued.message_id)
    assert row is not None
    assert row.state is InboxState.RECEIVED
    assert (vn.inbound.counts.hand_over_failures, vn.inbound.counts.handed_over) == (1, 0)
    assert vn.events(queued.message_id) == [EventType.RECEIVED]
    monkeypatch.setattr(SpoolTransport, "deliver", real)
    assert vn.inbound.resume(now=NOW) == 1  # the next chase finishes it
    assert len(spooled(vn)) == 1
    assert vn.events(queued.message_id) == [
        EventType.RECEIVED, EventType.HANDED_OVER, EventType.RECEIPT_SENT,
    ]  # fmt: skip


def test_a_crash_after_the_hand_over_does_not_hand_over_twice(
    pair: tuple[Side, Side], monkeypatch: pytest.MonkeyPatch
) -> None:
    hk, vn = pair
    queued = submit(hk.office, enquiry(), now=NOW)
    hk.publisher.publish_due(NOW)
    [out] = hk.confirm_all()
    real = OfficeStore.finish_hand_over

    def crash(self: OfficeStore, *args: object, **kwargs: object) -> bool:
        raise KeyboardInterrupt  # the process dies after the spool file, before the commit

    monkeypatch.setattr(OfficeStore, "finish_hand_over", crash)
    with pytest.raises(KeyboardInterrupt):
        vn.inbound.handle(arrival(out), now=NOW)
    monkeypatch.setattr(OfficeStore, "finish_hand_over", real)
    assert vn.inbound.resume(now=NOW) == 1  # what the next start does first
    assert vn.inbound.counts.handed_over == 1  # the file was there: not written again
    assert vn.inbound.handle(arrival(out), now=NOW) is Settle.ACK  # then the redelivery
    assert vn.inbound.counts.duplicates == 1
    assert len(spooled(vn)) == 1
    assert vn.events(queued.message_id).count(EventType.HANDED_OVER) == 1


def test_a_duplicate_sends_the_original_receipt_again(pair: tuple[Side, Side]) -> None:
    hk, vn = pair
    submit(hk.office, enquiry(), now=NOW)
    hk.publisher.publish_due(NOW)
    [out] = hk.confirm_all()
    vn.inbound.handle(arrival(out), now=NOW)
    vn.publisher.publish_due(NOW)
    [first] = vn.confirm_all()
    assert vn.inbound.handle(arrival(out), now=NOW) is Settle.ACK
    vn.publisher.publish_due(NOW)
    [again] = vn.confirm_all()
    assert again.body == first.body  # the same signed receipt, not a new one


def test_an_authentic_rejection_is_answered_with_a_stored_receipt(
    pair: tuple[Side, Side],
) -> None:
    hk, vn = pair
    queued = submit(hk.office, enquiry(), now=NOW - timedelta(days=9))
    hk.publisher.publish_due(NOW - timedelta(days=9))
    [out] = hk.confirm_all()
    assert vn.inbound.handle(arrival(out), now=NOW) is Settle.DEAD_LETTER
    assert vn.inbound.handle(arrival(out), now=NOW) is Settle.DEAD_LETTER  # logged once
    rejected = [e for e in vn.entries() if e.event is EventType.REJECTED]
    assert [(e.reason, e.message_id) for e in rejected] == [("expired", queued.message_id)]
    [receipt] = vn.store.deliveries(kinds=[MessageKind.RECEIPT])
    [sent] = [e for e in vn.entries() if e.event is EventType.RECEIPT_SENT]
    assert sent.related_message_id == queued.message_id
    assert sent.envelope_digest in EnvelopeStore(vn.office.paths.envelopes)
    assert receipt.related_message_id == queued.message_id
    vn.publisher.publish_due(NOW)
    [back] = vn.confirm_all()
    hk.inbound.handle(arrival(back), now=NOW)
    [delivery] = hk.store.deliveries_of(queued.message_id)
    assert (delivery.state, delivery.reason) == (DeliveryState.REJECTED, "expired")


def test_publish_outcomes(pair: tuple[Side, Side]) -> None:
    hk, _ = pair
    queued = submit(hk.office, enquiry(), now=NOW)
    key = publish_id(queued.message_id, VN)
    hk.publisher.publish_due(NOW)
    hk.link.sent.clear()
    hk.publisher.settle(Published(key, PublishOutcome.NACKED, "nacked"), NOW)
    assert hk.publisher.publish_due(NOW) == 0  # waits out the backoff
    assert hk.publisher.publish_due(NOW + timedelta(seconds=1)) == 1
    hk.publisher.settle(Published(key, PublishOutcome.RETURNED, "NO_ROUTE"), NOW)
    hk.publisher.settle(Published(key, PublishOutcome.CONFIRMED), NOW)  # already settled
    [delivery] = hk.store.deliveries_of(queued.message_id)
    assert (delivery.state, delivery.reason, delivery.attempts) == (
        DeliveryState.RETURNED, "NO_ROUTE", 2,
    )  # fmt: skip
    assert hk.publisher.counts.nacked == 1
    assert RetryPolicy().delay(1) == timedelta(seconds=1)
    assert RetryPolicy().delay(4) == timedelta(seconds=8)
    assert RetryPolicy().delay(99) == timedelta(minutes=5)


def test_a_stopped_link_leaves_the_outbox_queued(pair: tuple[Side, Side]) -> None:
    hk, _ = pair
    queued = submit(hk.office, enquiry(), now=NOW)
    hk.link.stopped = True
    assert hk.publisher.publish_due(NOW) == 0
    assert hk.state(queued.message_id, VN) is DeliveryState.QUEUED
    assert hk.events(queued.message_id) == [EventType.SUBMITTED, EventType.PUBLISHED]
    digest = hashlib.sha256(hk.store.outbox_envelope(queued.message_id) or b"").digest()
    assert digest in EnvelopeStore(hk.office.paths.envelopes)


def test_a_bulk_submitter_queues_durably_and_leaves_the_log_to_the_daemon(
    pair: tuple[Side, Side],
) -> None:
    hk, vn = pair
    with Submitter(hk.office) as submitter:
        queued = [submitter.submit(enquiry(), now=NOW) for _ in range(3)]
    assert [q.logged for q in queued] == [False, False, False]
    assert hk.publisher.publish_due(NOW) == 3  # in the outbox, durable
    # The journal holds the SUBMITTED entries until the daemon's next flush.
    assert [e.event for e in hk.entries() if e.event is EventType.SUBMITTED] == [
        EventType.SUBMITTED
    ] * 3
    for sent in hk.confirm_all():
        assert vn.inbound.handle(arrival(sent), now=NOW) is Settle.ACK
    assert len(spooled(vn)) == 3
