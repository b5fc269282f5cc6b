"""The daemon's life without a reachable broker: one per data folder, health says the link is
down, a clean stop still logs, checkpoints and releases the folder; loading refuses keys of
another office."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from broker.amqp import Delivery
from broker.config import parse_config
from broker.daemon import (
    DaemonSettings,
    Office,
    OfficeDaemon,
    amqp_settings,
    assess,
    load_office,
)
from broker.daemon.core import Core
from broker.daemon.outbound import RetryPolicy
from broker.errors import ConfigError, KeyFileError
from broker.exchange_log import DEFAULT_NETWORK, EventType, ExchangeLog, LogEntry, decode_entry
from tests.demo import DIRECTORY_FILE, ROOT_FILE, make

HK = "CN-YN-BLO-HK"
QUICK = DaemonSettings(tick=0.02, health_interval=0.05, drain_timeout=0.5, link_stop_timeout=2)


@pytest.fixture(scope="module")
def key_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make.private_copy(tmp_path_factory.mktemp("keys"))


def config_text(keys: Path) -> str:
    return (
        f'[office]\nid = "{HK}"\ndata_dir = "data"\n[keys]\ndir = "{keys}"\n'
        f'[directory]\nfile = "{DIRECTORY_FILE}"\npinned_root = "{ROOT_FILE}"\n'
        # Port 1 on the loopback: nothing listens, every attempt fails at once.
        '[amqp]\nurls = ["amqp://127.0.0.1:1/liaison"]\n'
    )


def test_a_daemon_without_its_broker_runs_reports_and_stops_cleanly(
    tmp_path: Path, key_folder: Path
) -> None:
    config = parse_config(config_text(key_folder / "offices" / HK), tmp_path / "office.toml")
    office = load_office(config, passphrase=None, now=datetime.now(UTC))
    daemon = OfficeDaemon(office, amqp_settings(config), settings=QUICK)
    daemon.start()
    try:
        assert daemon.wait_started(10)
        assert not daemon.wait_ready(0.3)  # never connected
        other = OfficeDaemon(office, amqp_settings(config), settings=QUICK)
        with pytest.raises(ConfigError, match="another liaison daemon is running"):
            other.start()
        status = office.paths.status
        assert json.loads(status.read_text())["state"] == "running"
        verdict = assess(json.loads(status.read_text()), now=datetime.now(UTC))
        assert not verdict.healthy
        assert "broker link is" in verdict.problem
    finally:
        daemon.stop()
    assert not daemon.alive
    assert daemon.error is None
    assert json.loads(office.paths.status.read_text())["state"] == "stopped"
    with ExchangeLog.open_existing(office.paths.log) as log:
        events = [decode_entry(data).event for _, data in log.iter_entries()]
        assert log.checkpoints()[-1].size == log.size
    assert events == [
        EventType.DAEMON_STARTED,
        EventType.DIRECTORY_LOADED,
        EventType.KEY_GENERATED,  # signing, then encryption: the first start with these keys
        EventType.KEY_GENERATED,
        EventType.DAEMON_STOPPED,
    ]
    again = OfficeDaemon(office, amqp_settings(config), settings=QUICK)
    again.start()  # the folder was released
    again.stop()


def test_a_starting_daemon_removes_what_a_crash_left_in_a_batch(
    tmp_path: Path, key_folder: Path
) -> None:
    config = parse_config(config_text(key_folder / "offices" / HK), tmp_path / "office.toml")
    office = load_office(config, passphrase=None, now=datetime.now(UTC))
    folder = office.paths.envelopes / "ab"
    folder.mkdir(parents=True)
    leftover, fresh = folder / ".ab12.0a0b0c.tmp", folder / ".ab34.0d0e0f.tmp"
    for path in (leftover, fresh):
        path.write_bytes(b"sealed, never named")
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).timestamp()
    os.utime(leftover, (an_hour_ago, an_hour_ago))
    daemon = OfficeDaemon(office, amqp_settings(config), settings=QUICK)
    daemon.start()
    try:
        assert daemon.wait_started(10)
    finally:
        daemon.stop()
    assert not leftover.exists()
    assert fresh.exists()  # it may be a submit's at work


def test_a_daemon_that_cannot_open_its_store_reports_the_failure(
    tmp_path: Path, key_folder: Path
) -> None:
    config = parse_config(config_text(key_folder / "offices" / HK), tmp_path / "office.toml")
    office = load_office(config, passphrase=None, now=datetime.now(UTC))
    office.paths.data_dir.mkdir(exist_ok=True)
    office.paths.store.write_bytes(b"not a database at all" * 50)
    daemon = OfficeDaemon(office, amqp_settings(config), settings=QUICK)
    daemon.start()
    assert daemon.join(10)
    assert not daemon.wait_ready(0.1)
    assert daemon.state == "failed"
    assert "not a Liaison office store" in str(daemon.error)


def test_keys_of_another_office_are_refused(tmp_path: Path, key_folder: Path) -> None:
    text = config_text(key_folder / "offices" / "VN-BCA-C02")
    config = parse_config(text, tmp_path / "office.toml")
    with pytest.raises(KeyFileError, match="VN-BCA-C02's, not CN-YN-BLO-HK's"):
        load_office(config, passphrase=None, now=datetime.now(UTC))


def core_of(office: Office, link: object) -> Core:
    """A daemon core on a stand-in link, driven by hand (no core thread)."""
    return Core(
        office,
        link,  # type: ignore[arg-type]
        network=DEFAULT_NETWORK,
        clock=lambda: datetime.now(UTC),
        max_in_flight=10,
        retry=RetryPolicy(),
        checkpoint_entries=1000,
        checkpoint_interval=600,
    )


def test_a_new_directory_edition_is_taken_up_while_running(
    tmp_path: Path, key_folder: Path
) -> None:
    directory_file = tmp_path / "directory.bin"
    directory_file.write_bytes(DIRECTORY_FILE.read_bytes())
    text = config_text(key_folder / "offices" / HK).replace(
        str(DIRECTORY_FILE), str(directory_file)
    )
    config = parse_config(text, tmp_path / "office.toml")
    office = load_office(config, passphrase=None, now=datetime.now(UTC))
    core = core_of(office, RecordingLink())
    try:
        core.check_directory()
        assert core.office().directory.version == 1
        current = make.Edition.load()
        renewed = make.Edition(2, current.issued_at + timedelta(days=1), current.expires_at)
        directory_file.write_bytes(make.build(renewed)["directory.bin"])
        core.check_directory()
        assert core.office().directory.version == 2
        core.flush()
        loaded = [e for e in core_entries(core) if e.event is EventType.DIRECTORY_LOADED]
        assert [e.directory_version for e in loaded] == [2]
        directory_file.write_bytes(b"a tampered directory")
        core.check_directory()  # refused: the accepted edition stays
        assert core.office().directory.version == 2
    finally:
        core.close()


class RecordingLink:
    def publish(self, *_args: object, **_kwargs: object) -> None:
        raise AssertionError("nothing is published here")


def core_entries(core: Core) -> list[LogEntry]:
    return [decode_entry(data) for _, data in core.log.iter_entries()]


class SettlingLink(RecordingLink):
    """Records how deliveries were settled."""

    def __init__(self) -> None:
        self.settled: list[tuple[int, str]] = []

    def ack(self, delivery: Delivery) -> None:
        self.settled.append((delivery.tag, "ack"))

    def reject(self, delivery: Delivery, *, requeue: bool) -> None:
        self.settled.append((delivery.tag, "requeue" if requeue else "dead-letter"))


def test_a_batch_that_cannot_commit_requeues_every_delivery_it_held(
    tmp_path: Path, key_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = parse_config(config_text(key_folder / "offices" / HK), tmp_path / "office.toml")
    office = load_office(config, passphrase=None, now=datetime.now(UTC))
    link = SettlingLink()
    daemon = OfficeDaemon(office, amqp_settings(config), settings=QUICK)
    core = core_of(office, link)
    daemon._core = core  # the core thread's state, driven by hand
    junk = [
        Delivery(
            tag=tag,
            generation=1,
            body=b"not an envelope",
            routing_key="from.vn-bca-c02.to.cn-yn-blo-hk",
            user_id=None,
            message_id=None,
            redelivered=False,
            delivery_count=None,
            headers={},
        )
        for tag in (1, 2, 3)
    ]
    try:
        daemon._process(list(junk))
        assert link.settled == [(1, "dead-letter"), (2, "dead-letter"), (3, "dead-letter")]
        link.settled.clear()

        @contextmanager
        def batch_that_cannot_commit() -> Iterator[None]:
            with core.store.db.transaction():
                yield
                raise ConfigError("the disk is full")  # the whole batch is rolled back

        monkeypatch.setattr(core.store, "batch", batch_that_cannot_commit)
        daemon._process(list(junk))
        # Nothing of the batch is durable: nothing is acked or dead-lettered, all is requeued.
        assert link.settled == [(1, "requeue"), (2, "requeue"), (3, "requeue")]
    finally:
        monkeypatch.undo()
        core.close()
