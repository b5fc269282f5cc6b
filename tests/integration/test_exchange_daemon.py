"""The office daemon end to end against the real RabbitMQ: submit -> outbox -> broker ->
partner daemon -> hand-over -> signed receipt -> response; duplicates, dead letters, replays,
overdue enquiries, and a ``liaison daemon`` process stopped by SIGTERM.

The site is made like ``liaison_site`` (generated definitions, a fresh vhost and users per
run, removed at the end), but with the DEMO directory's offices, which the daemons' keys and
agreements need: HK may address VN and LA; they answer HK.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pika
import pytest

from broker.cli.main import cli
from broker.cli.office_cmd import COMMANDS
from broker.config import OfficeConfig, load_config
from broker.daemon import DaemonSettings, Office, OfficeDaemon, amqp_settings, load_office
from broker.daemon.decisions import Arrival
from broker.daemon.inbound import Inbound, Settle
from broker.daemon.key_events import own_keys
from broker.daemon.submission import submit
from broker.envelope import MessageKind, seal
from broker.exchange_log import (
    DirectoryLogKeys,
    EventType,
    ExchangeLog,
    LogEntry,
    decode_entry,
)
from broker.exchange_log.reconcile import reconcile
from broker.exchange_log.verify import verify_log
from broker.letters import seal_message
from broker.model import CaseEnquiry, CaseResponse, EnquiryType, new_id
from broker.office_store import DeliveryState, OfficeStore
from broker.topology import (
    ENVELOPE_EXCHANGE,
    OfficeRoute,
    dead_letter_queue,
    inbox_queue,
    routing_key,
)
from tests.demo import DIRECTORY_FILE, ROOT_FILE, make
from tests.integration.broker_fixtures import DELIVERY_LIMIT, LiaisonSite, site_with

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"
HK, VN, LA = "CN-YN-BLO-HK", "VN-BCA-C02", "LA-MOPS-ATD"
ROUTES = (
    OfficeRoute(HK, frozenset({VN, LA})),
    OfficeRoute(VN, frozenset({HK})),
    OfficeRoute(LA, frozenset({HK})),
)
WAIT = 20.0
FAST = DaemonSettings(
    tick=0.05,
    outbox_poll=0.2,
    chase_interval=0.3,
    health_interval=0.3,
    directory_check=3600,
    drain_timeout=2.0,
    link_stop_timeout=5.0,
)
SMALL_LIMIT = 32 * 1024  # VN's max_envelope_bytes: an enquiry fits, 40 KiB of junk does not


# ---------------------------------------------------------------- the site and the offices


@pytest.fixture(scope="module")
def site(amqp_url: str) -> Iterator[LiaisonSite]:
    with site_with(amqp_url, ROUTES) as made:
        yield made


@pytest.fixture(autouse=True)
def _empty_queues(site: LiaisonSite) -> None:
    """Each test starts with empty inboxes and dead-letter queues."""
    for office in (HK, VN, LA):
        with site.connect(office) as connection:
            channel = connection.channel()
            channel.queue_purge(inbox_queue(office))
            channel.queue_purge(dead_letter_queue(office))


@pytest.fixture(scope="module")
def key_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make.private_copy(tmp_path_factory.mktemp("keys"))


class Clock:
    """The time a daemon lives in: now, plus an offset a test may move."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@dataclasses.dataclass
class Node:
    """One office: its configuration file, loaded office and (when running) daemon."""

    config_path: Path
    config: OfficeConfig
    office: Office
    clock: Clock
    daemon: OfficeDaemon | None = None

    @property
    def office_id(self) -> str:
        return self.office.office_id

    def start(self, settings: DaemonSettings = FAST) -> OfficeDaemon:
        self.daemon = OfficeDaemon(
            self.office, amqp_settings(self.config), settings=settings, clock=self.clock
        )
        self.daemon.start()
        assert self.daemon.wait_ready(WAIT), self.daemon.error
        return self.daemon

    def stop(self) -> None:
        if self.daemon is not None:
            self.daemon.stop()
            assert not self.daemon.alive
            assert self.daemon.error is None
            self.daemon = None

    def store(self) -> OfficeStore:
        return OfficeStore.open(self.office.paths.store, office_id=self.office_id)

    def state(self, message_id: bytes, recipient: str) -> DeliveryState | None:
        with self.store() as store:
            rows = [d for d in store.deliveries_of(message_id) if d.recipient == recipient]
        return rows[0].state if rows else None

    def entries(self) -> list[LogEntry]:
        path = self.office.paths.log
        if not path.is_file():
            return []
        with ExchangeLog.open_existing(path) as log:
            return [decode_entry(data) for _, data in log.iter_entries()]

    def events(self, message_id: bytes) -> list[EventType]:
        return [
            e.event for e in self.entries() if message_id in (e.message_id, e.related_message_id)
        ]

    def spool(self) -> list[Path]:
        folder = self.office.paths.data_dir / "spool" / "in"
        return sorted(folder.glob("*.json")) if folder.is_dir() else []


def make_node(
    site: LiaisonSite,
    key_folder: Path,
    folder: Path,
    office_id: str,
    *,
    max_envelope_bytes: int | None = None,
    extra: str = "",
) -> Node:
    """An office of ``site`` configured in ``folder``; ``extra`` adds configuration (a
    [handover] section, say)."""
    folder.mkdir()
    secret = folder / "amqp-password"
    secret.write_text(site.passwords[office_id])
    secret.chmod(0o600)
    params = pika.URLParameters(site.url)
    limits = f"[limits]\nmax_envelope_bytes = {max_envelope_bytes}\n" if max_envelope_bytes else ""
    path = folder / "office.toml"
    path.write_text(
        f'[office]\nid = "{office_id}"\ndata_dir = "data"\n'
        f'[keys]\ndir = "{key_folder / "offices" / office_id}"\n'
        f'[directory]\nfile = "{DIRECTORY_FILE}"\npinned_root = "{ROOT_FILE}"\n'
        f'[amqp]\nurls = ["amqp://{params.host}:{params.port}/{site.vhost}"]\n'
        f'password_file = "amqp-password"\nuser_prefix = "{site.user_prefix}"\n'
        f'[log]\nformat = "json"\n' + limits + extra,
        encoding="utf-8",
    )
    config = load_config(path)
    office = load_office(config, passphrase=None, now=datetime.now(UTC))
    return Node(path, config, office, Clock())


@pytest.fixture
def offices(site: LiaisonSite, key_folder: Path, tmp_path: Path) -> Iterator[Callable[..., Node]]:
    made: list[Node] = []

    def node(office_id: str, *, max_envelope_bytes: int | None = None) -> Node:
        folder = tmp_path / office_id
        made.append(
            make_node(site, key_folder, folder, office_id, max_envelope_bytes=max_envelope_bytes)
        )
        return made[-1]

    yield node
    for each in made:
        each.stop()


@pytest.fixture
def liaison_office(
    liaison: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Any]:
    """The real CLI with the office commands registered."""
    for name, command in COMMANDS.items():
        monkeypatch.setitem(cli.commands, name, command)
    return liaison


def wait_for(predicate: Callable[[], object], timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s: {predicate}")


# ---------------------------------------------------------------- messages


def enquiry(
    recipients: tuple[str, ...] = (VN,), *, due: timedelta = timedelta(days=3)
) -> CaseEnquiry:
    alert = CaseEnquiry.from_json((EXAMPLES / "missing-child-alert.json").read_text("utf-8"))
    return dataclasses.replace(
        alert,
        enquiry_id=new_id(),
        recipient_offices=recipients,
        response_due=datetime.now(UTC).replace(microsecond=0) + due,
    )


def response_to(asked: CaseEnquiry) -> CaseResponse:
    answer = CaseResponse.from_json((EXAMPLES / "case-response.json").read_text("utf-8"))
    return dataclasses.replace(answer, response_id=new_id(), enquiry_id=asked.enquiry_id)


def publish_raw(
    site: LiaisonSite,
    body: bytes,
    *,
    as_office: str = HK,
    to: str = VN,
    user_id: str | None = "",
    headers: dict[str, object] | None = None,
) -> None:
    """Publish like a (possibly hostile) partner would, with confirms."""
    with site.connect(as_office) as connection:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish(
            ENVELOPE_EXCHANGE,
            routing_key(as_office, to),
            body,
            pika.BasicProperties(
                delivery_mode=2,
                user_id=site.user(as_office) if user_id == "" else user_id,
                message_id=secrets.token_hex(16),
                headers=headers,
            ),
            mandatory=True,
        )


def dead_letters(site: LiaisonSite, office: str) -> list[tuple[bytes, dict[str, Any]]]:
    found = []
    with site.connect(office) as connection:
        channel = connection.channel()
        while True:
            method, properties, body = channel.basic_get(dead_letter_queue(office), auto_ack=True)
            if method is None:
                return found
            found.append((bytes(body), dict(properties.headers or {})))


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def assert_sound(node: Node) -> None:
    """Full audit of a stopped office's log: tree, checkpoints, every envelope it names."""
    report = verify_log(
        node.office.paths.log,
        log_keys=DirectoryLogKeys(node.office.directory),
        directory=node.office.directory,
        envelopes=node.office.paths.envelopes,
        full=True,
        workers=1,
    )
    assert report.ok, report.problems
    assert report.checkpoints >= 1


def sealed_by_hk(hk: Node, message: CaseEnquiry) -> bytes:
    office = hk.office
    return seal_message(
        message, sender=office.keys, directory=office.directory, now=datetime.now(UTC)
    )


def outbox_envelope(node: Node, message_id: bytes) -> bytes:
    with node.store() as store:
        envelope = store.outbox_envelope(message_id)
    assert envelope is not None
    return envelope


# ---------------------------------------------------------------- the exchange


def test_an_enquiry_is_handed_over_receipted_and_answered(
    offices: Callable[..., Node], liaison_office: Callable[..., Any], tmp_path: Path
) -> None:
    hk, vn = offices(HK), offices(VN)
    vn.start()
    hk.start()
    asked = enquiry()
    (tmp_path / "enquiry.json").write_text(asked.to_json(), encoding="utf-8")

    result = liaison_office(
        "submit", str(tmp_path / "enquiry.json"), "--config", str(hk.config_path), "--json"
    )
    assert result.code == 0, result.err
    mid = bytes.fromhex(json.loads(result.out)["message_id"])

    # VN hands it over: its spool file is the enquiry, exactly.
    wait_for(lambda: len(vn.spool()) == 1)
    handed = vn.spool()[0]
    assert handed.name == f"{mid.hex()}.json"
    assert json.loads(handed.read_text("utf-8")) == json.loads(asked.to_json())
    assert handed.stat().st_mode & 0o777 == 0o600
    assert handed.parent.stat().st_mode & 0o777 == 0o700
    # HK gets VN's signed receipt.
    wait_for(lambda: hk.state(mid, VN) is DeliveryState.DELIVERED)
    status = liaison_office("status", mid.hex(), "--config", str(hk.config_path), "--json")
    assert status.code == 0, status.err
    report = json.loads(status.out)
    [delivery] = report["deliveries"]
    assert delivery["state"] == "delivered"
    assert {"queued", "published", "confirmed", "delivered"} <= set(delivery["times"])
    events = [entry["event"] for entry in report["log"]]
    assert events[:3] == ["submitted", "published", "confirmed"]
    assert "receipt-received" in events

    # VN answers.
    inbox = liaison_office("inbox", "--config", str(vn.config_path), "--json")
    assert [e["enquiry_id"] for e in json.loads(inbox.out)["enquiries"]] == [asked.enquiry_id]
    answer = response_to(asked)
    (tmp_path / "response.json").write_text(answer.to_json(), encoding="utf-8")
    responded = liaison_office(
        "respond", asked.enquiry_id, str(tmp_path / "response.json"),
        "--config", str(vn.config_path), "--json",
    )  # fmt: skip
    assert responded.code == 0, responded.err
    response_id = bytes.fromhex(json.loads(responded.out)["message_id"])

    wait_for(lambda: hk.state(mid, VN) is DeliveryState.ANSWERED)
    wait_for(lambda: len(hk.spool()) == 1)
    assert json.loads(hk.spool()[0].read_text("utf-8")) == json.loads(answer.to_json())
    wait_for(lambda: vn.state(response_id, HK) is DeliveryState.DELIVERED)
    assert json.loads(liaison_office("inbox", "--config", str(vn.config_path), "--json").out) == {
        "enquiries": []
    }
    # Both logs tell the same story.
    assert EventType.RESPONSE_RECEIVED in hk.events(mid)
    assert EventType.RESPONSE_SENT in vn.events(mid)
    assert vn.events(mid)[:3] == [EventType.RECEIVED, EventType.HANDED_OVER, EventType.RECEIPT_SENT]
    wait_for(lambda: vn.state(response_id, HK) is DeliveryState.DELIVERED)
    hk.stop()
    vn.stop()
    # An auditor with public keys finds both logs sound, every envelope they name stored and
    # signed, and the two logs in agreement on every message between the offices.
    for node in (hk, vn):
        assert_sound(node)
    agreed = reconcile(
        HK, enumerate(hk.entries()), VN, enumerate(vn.entries()), now=datetime.now(UTC)
    )
    assert agreed.agree, agreed.findings
    assert len(agreed.deliveries) == 4  # enquiry, its receipt, response, its receipt


def test_an_alert_reaches_both_offices_and_both_receipts_come_back(
    offices: Callable[..., Node],
) -> None:
    hk, vn, la = offices(HK), offices(VN), offices(LA)
    for node in (vn, la, hk):
        node.start()
    queued = submit(hk.office, enquiry((VN, LA)), now=datetime.now(UTC))
    for node in (vn, la):
        wait_for(lambda n=node: len(n.spool()) == 1)
        wait_for(lambda n=node: hk.state(queued.message_id, n.office_id) is DeliveryState.DELIVERED)
    published = [
        e for e in hk.entries()
        if e.event is EventType.PUBLISHED and e.message_id == queued.message_id
    ]  # fmt: skip
    assert sorted(e.recipients for e in published) == [(LA,), (VN,)]  # one publish each


def test_a_duplicate_delivery_is_handed_over_once_and_its_receipt_sent_again(
    offices: Callable[..., Node], site: LiaisonSite
) -> None:
    hk, vn = offices(HK), offices(VN)
    queued = submit(hk.office, enquiry(), now=datetime.now(UTC))  # HK's daemon is not running
    envelope = outbox_envelope(hk, queued.message_id)
    vn.start()
    publish_raw(site, envelope)
    wait_for(lambda: len(vn.spool()) == 1)
    with vn.store() as store:
        row = store.received(queued.message_id)
    assert row is not None
    receipt_id = row.receipt_message_id
    wait_for(lambda: vn.state(receipt_id, HK) is DeliveryState.PUBLISHED)

    publish_raw(site, envelope)  # the same envelope again
    wait_for(lambda: vn.daemon is not None and vn.daemon.status["counts"]["duplicates"] == 1)
    with vn.store() as store:
        wait_for(lambda: store.deliveries_of(receipt_id)[0].attempts == 2)
    assert len(vn.spool()) == 1
    assert vn.events(queued.message_id).count(EventType.RECEIVED) == 1
    assert vn.events(queued.message_id).count(EventType.HANDED_OVER) == 1

    hk.start()  # two copies of the receipt wait in HK's inbox: applied once
    wait_for(lambda: hk.state(queued.message_id, VN) is DeliveryState.DELIVERED)
    wait_for(lambda: hk.daemon is not None and hk.daemon.status["counts"]["duplicates"] == 1)
    assert hk.events(queued.message_id).count(EventType.RECEIPT_RECEIVED) == 1


def test_bad_input_is_logged_dead_lettered_and_the_daemon_carries_on(
    offices: Callable[..., Node], site: LiaisonSite
) -> None:
    hk, vn = offices(HK), offices(VN, max_envelope_bytes=SMALL_LIMIT)
    la_keys, now = make.demo_keys(LA), datetime.now(UTC)
    directory = hk.office.directory
    vn.start()

    def sealed(message: CaseEnquiry, **kwargs: Any) -> bytes:
        return seal_message(message, sender=hk.office.keys, directory=directory, **kwargs)

    dna = dataclasses.replace(enquiry(), enquiry_type=EnquiryType.DNA_REFERENCE_MATCH)
    bad: list[tuple[str, bytes, dict[str, Any]]] = [
        ("malformed", b"not an envelope at all", {}),
        ("oversize", os.urandom(40 * 1024), {}),
        ("not-a-recipient", sealed(enquiry((LA,)), now=now), {}),
        (
            "sender-mismatch",  # signed by LA, published by HK's user
            seal_message(
                dataclasses.replace(enquiry(), requesting_office=LA),
                sender=la_keys,
                directory=directory,
                now=now,
            ),
            {},
        ),
        (
            "policy",  # sealed without asking the agreements
            seal(
                dna.to_bytes(),
                kind=MessageKind.ENQUIRY,
                sender=hk.office.keys,
                recipients=[directory.recipient(VN, now)],
                directory_version=directory.version,
                now=now,
            ),
            {},
        ),
        ("expired", sealed(enquiry(), now=now - timedelta(days=9)), {}),
        ("no-user-id", sealed(enquiry(), now=now), {"user_id": None}),
        (  # HK may write to LA; a CC copy lands in VN's inbox under LA's routing key
            "wrong-route",
            sealed(enquiry((LA,)), now=now),
            {"to": LA, "headers": {"CC": [routing_key(HK, VN)]}},
        ),
    ]
    for _, body, options in bad:
        publish_raw(site, body, **options)
    good = enquiry()
    publish_raw(site, sealed(good, now=now))

    wait_for(lambda: len(vn.spool()) == 1)  # the good one, after all the bad ones
    assert json.loads(vn.spool()[0].read_text("utf-8"))["enquiry_id"] == good.enquiry_id
    wait_for(lambda: sum(e.event is EventType.REJECTED for e in vn.entries()) == len(bad))
    rejected = [e for e in vn.entries() if e.event is EventType.REJECTED]
    assert sorted(e.reason for e in rejected) == sorted(reason for reason, _, _ in bad)
    assert all(len(e.envelope_digest) == 32 for e in rejected)
    # Each went to VN's dead-letter queue (rejected, not requeued).
    letters: list[tuple[bytes, dict[str, Any]]] = []
    wait_for(lambda: letters.extend(dead_letters(site, VN)) or len(letters) == len(bad))
    assert sorted(body for body, _ in letters) == sorted(body for _, body, _ in bad)
    reasons = {_text(h["x-first-death-reason"]) for _, h in letters}
    assert reasons == {"rejected"}
    # A proven sender hears why: REJECTED receipts to HK for what HK really signed.
    with vn.store() as store:
        receipts = store.deliveries(kinds=[MessageKind.RECEIPT])
    assert len(receipts) == 4  # not-a-recipient, policy, expired, and the good one's DELIVERED
    vn.stop()
    assert_sound(vn)  # every rejected body is kept for the auditor, by its digest


def test_a_message_that_keeps_failing_is_dead_lettered_by_the_delivery_limit(
    offices: Callable[..., Node], site: LiaisonSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    hk, vn = offices(HK), offices(VN)
    poison = sealed_by_hk(hk, enquiry())
    real = Inbound.handle
    attempts: list[int] = []

    def handle(self: Inbound, arrival: Arrival, *, now: datetime) -> Settle:
        if arrival.body == poison:
            attempts.append(1)
            raise RuntimeError("a bug the message triggers")
        return real(self, arrival, now=now)

    monkeypatch.setattr(Inbound, "handle", handle)
    vn.start()
    publish_raw(site, poison)
    letters: list[tuple[bytes, dict[str, Any]]] = []
    wait_for(lambda: letters.extend(dead_letters(site, VN)) or letters)
    [(body, headers)] = letters
    assert body == poison
    assert _text(headers["x-first-death-reason"]) == "delivery_limit"
    assert len(attempts) == DELIVERY_LIMIT + 1  # first delivery and five redeliveries
    good = enquiry()
    publish_raw(site, sealed_by_hk(hk, good))  # the daemon carries on
    wait_for(lambda: len(vn.spool()) == 1)
    daemon = vn.daemon
    assert daemon is not None
    wait_for(lambda: daemon.status["errors"] == len(attempts))  # each failure noted, then
    assert daemon.status["last_error"]["error_type"] == "RuntimeError"  # without content
    assert daemon.status["last_error"]["error"] == ""


def test_publishes_not_confirmed_before_a_stop_go_out_on_the_next_start(
    offices: Callable[..., Node],
) -> None:
    hk, vn = offices(HK), offices(VN)
    queued = submit(hk.office, enquiry(), now=datetime.now(UTC))
    with hk.store() as store:  # as if the daemon had handed it to the link, then died
        store.note_attempts(store.publishable(datetime.now(UTC), limit=10), datetime.now(UTC))
    vn.start()
    hk.start()
    wait_for(lambda: hk.state(queued.message_id, VN) is DeliveryState.DELIVERED)
    assert hk.events(queued.message_id).count(EventType.PUBLISHED) == 1
    with hk.store() as store:
        assert store.deliveries_of(queued.message_id)[0].attempts == 2


def test_a_running_daemon_publishes_what_another_process_queued_at_once(
    offices: Callable[..., Node],
) -> None:
    # With the outbox poll an hour away, only noticing the other connection's commit
    # (SQLite's data_version, looked at every tick) can publish it.
    hk, vn = offices(HK), offices(VN)
    vn.start()
    hk.start(dataclasses.replace(FAST, outbox_poll=3600.0))
    time.sleep(0.5)  # past the start's first outbox read
    queued = submit(hk.office, enquiry(), now=datetime.now(UTC))
    wait_for(lambda: hk.state(queued.message_id, VN) is DeliveryState.DELIVERED, timeout=5.0)


def test_the_daemon_logs_the_keys_it_holds_once(offices: Callable[..., Node]) -> None:
    hk = offices(HK)
    for _ in range(2):
        hk.start()
        hk.stop()
    events = [e.event for e in hk.entries()]
    assert events.count(EventType.DAEMON_STARTED) == 2
    generated = [(e.reason, e.key_id) for e in hk.entries() if e.event is EventType.KEY_GENERATED]
    assert generated == list(own_keys(hk.office.keys.public()).items())  # once, not per start
    assert EventType.KEY_ROTATED not in events


def test_a_captured_envelope_replayed_after_its_validity_is_rejected_as_expired(
    offices: Callable[..., Node], site: LiaisonSite
) -> None:
    hk, vn = offices(HK), offices(VN)
    queued = submit(hk.office, enquiry(), now=datetime.now(UTC))
    envelope = outbox_envelope(hk, queued.message_id)
    vn.start()
    publish_raw(site, envelope)
    wait_for(lambda: len(vn.spool()) == 1)

    vn.clock.offset = timedelta(days=8)  # a week later: the envelope expired a day ago
    publish_raw(site, envelope)
    wait_for(lambda: EventType.REJECTED in vn.events(queued.message_id))
    [rejected] = [e for e in vn.entries() if e.event is EventType.REJECTED]
    assert rejected.reason == "expired"
    assert len(vn.spool()) == 1
    wait_for(lambda: len(dead_letters(site, VN)) == 1)
    with vn.store() as store:  # its DELIVERED receipt stands: no REJECTED one
        assert len(store.deliveries(kinds=[MessageKind.RECEIPT])) == 1


def test_an_unanswered_enquiry_past_its_due_time_is_overdue(
    offices: Callable[..., Node], liaison_office: Callable[..., Any]
) -> None:
    hk = offices(HK)
    late = submit(hk.office, enquiry(due=timedelta(hours=-1)), now=datetime.now(UTC))
    timely = submit(hk.office, enquiry(), now=datetime.now(UTC))
    hk.start()
    wait_for(lambda: hk.state(late.message_id, VN) is DeliveryState.OVERDUE)
    wait_for(lambda: hk.state(timely.message_id, VN) is DeliveryState.PUBLISHED)
    with hk.store() as store:  # overdue before it left: it was sent all the same
        wait_for(lambda: "confirmed" in store.deliveries_of(late.message_id)[0].times)
    result = liaison_office("status", "--overdue", "--config", str(hk.config_path), "--json")
    chase = json.loads(result.out)["deliveries"]
    assert [(d["message_id"], d["state"]) for d in chase] == [(late.message_id.hex(), "overdue")]
    overdue = [e for e in hk.entries() if e.event is EventType.OVERDUE]
    assert [e.message_id for e in overdue] == [late.message_id]
    assert overdue[0].due_at is not None


def test_the_daemon_process_stops_cleanly_on_sigterm(
    offices: Callable[..., Node], liaison_office: Callable[..., Any]
) -> None:
    hk = offices(HK)
    queued = submit(hk.office, enquiry(), now=datetime.now(UTC))
    program = (
        "import sys; from broker.cli.main import cli, run;"
        " from broker.cli.office_cmd import COMMANDS; cli.commands.update(COMMANDS); run()"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", program, "daemon", "--config", str(hk.config_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(lambda: hk.state(queued.message_id, VN) is DeliveryState.PUBLISHED)
        wait_for(
            lambda: liaison_office(
                "status", "--health", "--config", str(hk.config_path)
            ).code == 0
        )  # fmt: skip
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=WAIT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr.decode()
    lines = [json.loads(line) for line in stderr.decode().splitlines() if line.startswith("{")]
    events = [line["event"] for line in lines]
    assert "daemon_started" in events, stderr.decode()
    assert events[-1] == "daemon_stopped"
    ours = [line for line in lines if line.get("component") in ("daemon", "inbox", "outbox")]
    assert not any(line.get("level") == "error" for line in ours)
    health = liaison_office("status", "--health", "--config", str(hk.config_path), "--json")
    assert health.code == 20
    assert json.loads(health.out)["status"]["state"] == "stopped"
    assert [e.event for e in hk.entries()][-1] is EventType.DAEMON_STOPPED
    assert_sound(hk)  # and a checkpoint covers everything, up to DAEMON_STOPPED
    with ExchangeLog.open_existing(hk.office.paths.log) as log:
        assert log.checkpoints()[-1].size == log.size
