"""The daemon's monitoring without a broker: the Prometheus collector read from a status
document (names, labels, values, units), the monitoring figures computed from a real office
store and exchange log, the liveness and readiness verdicts, and the HTTP endpoint serving
them over a real socket."""

from __future__ import annotations

import dataclasses
import json
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from broker.config import parse_config
from broker.daemon import load_office, submit
from broker.daemon.decisions import Arrival
from broker.daemon.handover import handover_from_config
from broker.daemon.http_probe import ProbeServer, liveness, parse_listen, readiness
from broker.daemon.inbound import Inbound, Settle
from broker.daemon.metrics import daemon_registry
from broker.daemon.monitoring import MAX_REASONS, Monitoring, RejectionTally
from broker.daemon.office import Office, read_secret
from broker.envelope import MessageKind
from broker.errors import ConfigError
from broker.exchange_log import EnvelopeStore, EventType, ExchangeLog, LogEntry, log_signer
from broker.model import CaseEnquiry, new_id
from broker.office_store import OfficeStore
from broker.topology import dead_letter_queue, routing_key
from tests.demo import DIRECTORY_FILE, ROOT_FILE, make

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
HK, VN = "CN-YN-BLO-HK", "VN-BCA-C02"
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def status_document(**changes: Any) -> dict[str, Any]:
    """What OfficeDaemon._write_health writes, with Core.figures() and Monitoring's part."""
    document = {
        "office": HK,
        "pid": 4242,
        "state": "running",
        "started_at": (NOW - timedelta(hours=1)).isoformat(),
        "updated_at": (NOW - timedelta(seconds=1)).isoformat(),
        "interval_s": 2.0,
        "directory_version": 1,
        "link": {
            "state": "connected",
            "url": "amqp://127.0.0.1:5672/liaison",
            "last_error": "",
            "reconnect_count": 2,
            "unconfirmed_publishes": 3,
            "unacked_deliveries": 1,
        },
        "errors": 1,
        "last_error": {"at": NOW.isoformat(), "where": "delivery", "error_type": "X", "error": ""},
        "counts": {"received": 10, "rejected": 2, "published": 7, "confirmed": 6, "nacked": 0},
        "in_flight": 1,
        "outbox": {"queued": 1, "published": 4, "overdue": 2},
        "inbox": {"handed_over": 5, "noted": 3},
        "log_pending": 0,
        "outbox_oldest_unconfirmed_at": (NOW - timedelta(seconds=90)).isoformat(),
        "overdue_enquiries": {"out": 2, "in": 1},
        "rejections": {"in": {"bad-signature": 1, "malformed": 1}, "out": {"policy": 4}},
        "dead_letters": 3,
        "log": {
            "size": 120,
            "checkpoint_size": 100,
            "checkpoint_at": (NOW - timedelta(minutes=5)).isoformat(),
        },
    }
    return document | changes


def scrape(document: dict[str, Any], now: datetime = NOW) -> Any:
    return daemon_registry(HK, lambda: document, lambda: now)


def test_the_collector_turns_the_status_into_labelled_metrics() -> None:
    registry = scrape(status_document())

    def value(name: str, **labels: str) -> float | None:
        result: float | None = registry.get_sample_value(name, {"office": HK, **labels})
        return result

    assert value("liaison_daemon_state", state="running") == 1.0
    assert value("liaison_daemon_state", state="stopped") == 0.0
    assert value("liaison_status_age_seconds") == 1.0
    assert value("liaison_link_connected") == 1.0
    assert value("liaison_link_reconnects_total") == 2.0
    assert value("liaison_link_unconfirmed_publishes") == 3.0
    assert value("liaison_messages", direction="out", state="published") == 4.0
    assert value("liaison_messages", direction="out", state="delivered") == 0.0  # every state
    assert value("liaison_messages", direction="in", state="handed_over") == 5.0
    assert value("liaison_messages", direction="in", state="received") == 0.0
    assert value("liaison_processed_total", event="rejected") == 2.0
    assert value("liaison_rejections_total", direction="in", reason="bad-signature") == 1.0
    assert value("liaison_rejections_total", direction="out", reason="policy") == 4.0
    assert value("liaison_outbox_oldest_unconfirmed_age_seconds") == 90.0
    assert value("liaison_overdue_enquiries", direction="out") == 2.0
    assert value("liaison_overdue_enquiries", direction="in") == 1.0
    assert value("liaison_dead_letters") == 3.0
    assert value("liaison_log_entries") == 120.0
    assert value("liaison_log_pending_entries") == 0.0
    assert value("liaison_checkpoint_entries") == 100.0
    assert value("liaison_checkpoint_age_seconds") == 300.0
    assert value("liaison_fork_alarms_total") == 0.0  # before checkpoint witnessing reports any
    assert value("liaison_daemon_errors_total") == 1.0
    assert value("liaison_publishes_in_flight") == 1.0

    text = generate_latest(registry).decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["liaison_rejections"].type == "counter"
    assert families["liaison_messages"].type == "gauge"
    assert all(name.startswith("liaison_") for name in families)
    # Labels hold office ids, states, directions, events and reason codes: nothing else.
    allowed = {"office", "state", "direction", "event", "reason"}
    for family in families.values():
        for sample in family.samples:
            assert set(sample.labels) <= allowed
            assert sample.labels["office"] == HK


def test_the_witness_s_fork_alarms_and_a_quiet_outbox() -> None:
    document = status_document(
        witness={"fork_alarms": 1, "checked": 12}, outbox_oldest_unconfirmed_at=None
    )
    registry = scrape(document)
    assert registry.get_sample_value("liaison_fork_alarms_total", {"office": HK}) == 1.0
    age = registry.get_sample_value("liaison_outbox_oldest_unconfirmed_age_seconds", {"office": HK})
    assert age == 0.0


def test_what_the_status_does_not_say_is_absent_not_invented() -> None:
    registry = scrape({})  # the daemon has not written its first status yet
    assert registry.get_sample_value("liaison_daemon_state", {"office": HK, "state": "idle"}) == 1
    assert registry.get_sample_value("liaison_link_connected", {"office": HK}) == 0.0
    for absent in ("liaison_dead_letters", "liaison_checkpoint_age_seconds",
                   "liaison_status_age_seconds", "liaison_log_entries"):  # fmt: skip
        assert registry.get_sample_value(absent, {"office": HK}) is None
    torn = status_document(
        dead_letters=None,
        updated_at="yesterday",
        log={"size": "many", "checkpoint_at": "2026-01-01T00:00:00"},  # naive: not ours
        counts={"received": "x", "published": True},
    )
    registry = scrape(torn)
    for absent in ("liaison_dead_letters", "liaison_status_age_seconds",
                   "liaison_log_entries", "liaison_checkpoint_age_seconds"):  # fmt: skip
        assert registry.get_sample_value(absent, {"office": HK}) is None
    assert registry.get_sample_value(
        "liaison_processed_total", {"office": HK, "event": "received"}
    ) is None  # fmt: skip


# ---------------------------------------------------------------- the figures themselves


def test_rejections_are_tallied_from_the_log_since_the_start_by_direction_and_reason(
    tmp_path: Path,
) -> None:
    with ExchangeLog.open(tmp_path / "log.db", office_id=HK) as log:

        def rejected(reason: str) -> LogEntry:
            return LogEntry(
                EventType.REJECTED, NOW, reason=reason, envelope_digest=bytes(32), sender=VN
            )

        def receipt(reason: str) -> LogEntry:
            return LogEntry(
                EventType.RECEIPT_RECEIVED,
                NOW,
                message_id=new_id_bytes(),
                kind=MessageKind.RECEIPT,
                sender=VN,
                reason=reason,
                related_message_id=new_id_bytes(),
            )

        log.append_many([rejected("replay"), receipt("policy")])  # before the daemon started
        tally = RejectionTally(log.size)
        log.append_many([rejected("bad-signature"), rejected("bad-signature"), receipt("")])
        tally.read(log)
        log.append_many([rejected("wrong-route"), receipt("not-a-recipient")])
        tally.read(log)
        tally.read(log)  # nothing new: nothing counted twice
        assert tally.as_json() == {
            "in": {"bad-signature": 2, "wrong-route": 1},
            "out": {"not-a-recipient": 1},  # a DELIVERED receipt has no reason: not counted
        }
        log.append_many([rejected(f"code-{n}") for n in range(MAX_REASONS + 5)])
        tally.read(log)
        counts = tally.as_json()["in"]
        assert len(counts) == MAX_REASONS + 1
        assert counts["other"] == 7  # the label's values stay few, the total stays right


def new_id_bytes() -> bytes:
    return bytes.fromhex(new_id().replace("-", ""))


class DepthLink:
    def __init__(self, depth: int | None) -> None:
        self.depth = depth
        self.asked: list[tuple[str, float]] = []

    def queue_depth(self, queue: str, *, max_age: float = 30.0) -> int | None:
        self.asked.append((queue, max_age))
        return self.depth


@pytest.fixture(scope="module")
def key_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make.private_copy(tmp_path_factory.mktemp("keys"))


def office(tmp_path: Path, key_folder: Path, office_id: str) -> Office:
    folder = tmp_path / office_id
    folder.mkdir()
    text = (
        f'[office]\nid = "{office_id}"\ndata_dir = "data"\n'
        f'[keys]\ndir = "{key_folder / "offices" / office_id}"\n'
        f'[directory]\nfile = "{DIRECTORY_FILE}"\npinned_root = "{ROOT_FILE}"\n'
        '[amqp]\nurls = ["amqp://127.0.0.1:5672/liaison"]\nuser_prefix = "t1-"\n'
    )
    config = parse_config(text, folder / "office.toml")
    return load_office(config, passphrase=None, now=datetime.now(UTC))


def enquiry(due: datetime) -> CaseEnquiry:
    alert = CaseEnquiry.from_json((EXAMPLES / "missing-child-alert.json").read_text("utf-8"))
    return dataclasses.replace(
        alert, enquiry_id=new_id(), recipient_offices=(VN,), response_due=due
    )


def test_monitoring_reads_ages_overdue_dead_letters_and_checkpoints_from_the_office(
    tmp_path: Path, key_folder: Path
) -> None:
    hk, vn = office(tmp_path, key_folder, HK), office(tmp_path, key_folder, VN)
    sent_at = datetime.now(UTC).replace(microsecond=0)
    due = sent_at + timedelta(days=2)
    queued = submit(hk, enquiry(due), now=sent_at)
    clock = [sent_at + timedelta(minutes=1)]
    with (
        OfficeStore.open(hk.paths.store, office_id=HK) as hk_store,
        ExchangeLog.open(hk.paths.log, office_id=HK) as hk_log,
    ):
        link = DepthLink(None)
        monitoring = Monitoring(hk_store, hk_log, link, office_id=HK, clock=lambda: clock[0])
        figures = monitoring.figures()
        assert figures["outbox_oldest_unconfirmed_at"] == sent_at.isoformat()
        assert figures["overdue_enquiries"] == {"out": 0, "in": 0}
        assert figures["dead_letters"] is None  # the link has not said yet
        assert link.asked == [(dead_letter_queue(HK), 30.0)]
        assert figures["log"] == {"size": 1, "checkpoint_size": None, "checkpoint_at": None}
        hk_store.record_confirmed(queued.message_id, VN, sent_at)
        hk_log.checkpoint(log_signer(hk.keys), sent_at)
        link.depth = 2
        clock[0] = due + timedelta(hours=1)  # past due, unanswered, not yet marked overdue
        figures = monitoring.figures()
        assert figures["outbox_oldest_unconfirmed_at"] is None
        assert figures["overdue_enquiries"] == {"out": 1, "in": 0}
        assert figures["dead_letters"] == 2
        assert figures["log"] == {
            "size": 1, "checkpoint_size": 1, "checkpoint_at": sent_at.isoformat(),
        }  # fmt: skip
        envelope = hk_store.outbox_envelope(queued.message_id)
    assert envelope is not None

    with (
        OfficeStore.open(vn.paths.store, office_id=VN) as store,
        ExchangeLog.open(vn.paths.log, office_id=VN) as log,
    ):
        monitoring = Monitoring(store, log, DepthLink(0), office_id=VN, clock=lambda: clock[0])
        handover = handover_from_config(vn.config, read_secret=read_secret)
        inbound = Inbound(lambda: vn, store, EnvelopeStore(vn.paths.envelopes), handover)
        arrival = Arrival(envelope, routing_key(HK, VN), "t1-cn-yn-blo-hk")
        assert inbound.handle(arrival, now=sent_at) is Settle.ACK
        junk = Arrival(b"\x00junk", routing_key(HK, VN), "t1-cn-yn-blo-hk")
        assert inbound.handle(junk, now=sent_at) is Settle.DEAD_LETTER
        forged = Arrival(envelope, routing_key(VN, VN), "t1-cn-yn-blo-hk")
        assert inbound.handle(forged, now=sent_at) is Settle.DEAD_LETTER
        store.flush_journal(log)
        figures = monitoring.figures()
        assert figures["overdue_enquiries"] == {"out": 0, "in": 1}  # we owe HK an answer
        assert figures["outbox_oldest_unconfirmed_at"] == sent_at.isoformat()  # the receipt
        assert figures["rejections"] == {"in": {"malformed": 1, "wrong-route": 1}, "out": {}}


# ---------------------------------------------------------------- liveness and readiness


def test_liveness_wants_a_running_core_thread_and_a_fresh_status() -> None:
    fresh = status_document()
    assert liveness(fresh, NOW, alive=True) == (
        True, {"state": "running", "status_age_s": 1.0, "problem": None},
    )  # fmt: skip
    assert liveness({}, NOW, alive=True)[0]  # starting: no status yet
    dead, body = liveness(fresh, NOW, alive=False)
    assert not dead
    assert body["problem"] == "the daemon's core thread is not running"
    stale = status_document(updated_at=(NOW - timedelta(seconds=7)).isoformat())
    assert liveness(stale, NOW, alive=True)[1]["problem"].startswith("the status is stale")
    assert not liveness(status_document(updated_at="never"), NOW, alive=True)[0]
    # Cut off from the broker: alive, but not ready.
    cut_off = status_document(link={"state": "disconnected"})
    assert liveness(cut_off, NOW, alive=True)[0]
    ready, body = readiness(cut_off, NOW, alive=True)
    assert not ready
    assert (body["link"], body["problem"]) == ("disconnected", "the broker link is disconnected")
    assert readiness(fresh, NOW, alive=True) == (
        True, {"state": "running", "status_age_s": 1.0, "problem": None, "link": "connected"},
    )  # fmt: skip
    assert not readiness({}, NOW, alive=True)[0]
    assert not readiness(status_document(state="stopping"), NOW, alive=True)[0]


# ---------------------------------------------------------------- the HTTP endpoint


@dataclasses.dataclass
class FakeDaemon:
    alive: bool
    status: dict[str, Any]


def get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - http://127.0.0.1
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as failed:
        return failed.code, failed.headers["Content-Type"], failed.read()


def test_the_endpoint_serves_metrics_health_and_readiness_over_http() -> None:
    clock_now = [NOW]
    daemon = FakeDaemon(alive=True, status=status_document())
    probe = ProbeServer("127.0.0.1:0", daemon, office_id=HK, clock=lambda: clock_now[0])
    probe.start()
    base = f"http://127.0.0.1:{probe.port}"
    try:
        code, content_type, body = get(f"{base}/metrics")
        assert code == 200
        assert content_type.startswith("text/plain")
        assert f'liaison_dead_letters{{office="{HK}"}} 3.0' in body.decode()
        assert get(f"{base}/healthz")[0] == 200
        code, content_type, body = get(f"{base}/readyz")
        assert (code, content_type) == (200, "application/json")
        assert json.loads(body)["link"] == "connected"
        daemon.status = status_document(link={"state": "auth_failed"})
        assert get(f"{base}/healthz")[0] == 200
        code, _, body = get(f"{base}/readyz")
        assert code == 503
        assert json.loads(body)["problem"] == "the broker link is auth_failed"
        clock_now[0] = NOW + timedelta(minutes=1)  # the core thread stopped writing: hung
        assert get(f"{base}/healthz")[0] == 503
        daemon.alive = False
        assert json.loads(get(f"{base}/healthz")[2])["problem"].startswith("the daemon's core")
        assert get(f"{base}/nothing-here")[0] == 404
        with pytest.raises(ConfigError, match="cannot listen on"):
            ProbeServer(f"127.0.0.1:{probe.port}", daemon, office_id=HK)
    finally:
        probe.stop()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{base}/healthz", timeout=2)  # noqa: S310 - closed now


def test_listen_addresses() -> None:
    assert parse_listen("127.0.0.1:9464") == ("127.0.0.1", 9464)
    assert parse_listen("[::1]:9464") == ("::1", 9464)
    with pytest.raises(ConfigError):
        parse_listen("9464")
