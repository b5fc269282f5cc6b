"""Operating a daemon against the real RabbitMQ: its /metrics, /healthz and /readyz scraped
over real HTTP (an OfficeDaemon in this process, and a ``liaison daemon`` process configured
with ``[metrics] listen``), the dead-letter depth read by a passive declare, and an online
backup of a running office restored into a fresh folder and verified.

The site and offices are test_exchange_daemon's (the DEMO directory's offices on a fresh
vhost), imported as fixtures.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from broker.daemon import monitoring
from broker.daemon.http_probe import ProbeServer
from broker.daemon.submission import submit
from broker.exchange_log import ExchangeLog
from broker.office_store import DeliveryState
from tests.integration.broker_fixtures import LiaisonSite
from tests.integration.test_exchange_daemon import (  # noqa: F401 - fixtures, by name
    HK,
    ROOT,
    VN,
    WAIT,
    Node,
    _empty_queues,
    enquiry,
    key_folder,
    liaison_office,
    offices,
    publish_raw,
    site,
    wait_for,
)

pytestmark = pytest.mark.integration


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - http://127.0.0.1
            return int(response.status), response.read()
    except urllib.error.HTTPError as failed:
        return failed.code, failed.read()


def samples(base: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    code, body = get(f"{base}/metrics")
    assert code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def sample(base: str, name: str, **labels: str) -> float | None:
    return samples(base).get((name, frozenset({"office": HK, **labels}.items())))


def log_entries(path: Path) -> list[bytes]:
    with ExchangeLog.open_existing(path) as log:
        return [bytes(data) for _, data in log.iter_entries()]


def test_a_running_daemon_is_scraped_probed_and_backed_up_online(
    offices: Callable[..., Node],  # noqa: F811
    site: LiaisonSite,  # noqa: F811
    liaison_office: Callable[..., Any],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setattr(monitoring, "DEAD_LETTER_REFRESH", 0.2)  # not 30 s: the test waits
    hk = offices(HK)
    publish_raw(site, b"not an envelope", as_office=VN, to=HK)  # waiting for HK's daemon
    queued = submit(hk.office, enquiry(), now=datetime.now(UTC))
    daemon = hk.start()
    probe = ProbeServer("127.0.0.1:0", daemon, office_id=HK)
    probe.start()
    base = f"http://127.0.0.1:{probe.port}"
    try:
        wait_for(lambda: get(f"{base}/readyz")[0] == 200)
        code, body = get(f"{base}/healthz")
        assert (code, json.loads(body)["state"]) == (200, "running")
        wait_for(lambda: hk.state(queued.message_id, VN) is DeliveryState.PUBLISHED)
        wait_for(lambda: sample(base, "liaison_messages", direction="out", state="published") == 1)
        wait_for(
            lambda: (
                sample(base, "liaison_rejections_total", direction="in", reason="malformed") == 1
            )
        )
        wait_for(lambda: sample(base, "liaison_dead_letters") == 1)  # dead.<hk>, passively
        now = samples(base)
        office = ("office", HK)
        assert now[("liaison_link_connected", frozenset({office}))] == 1.0
        assert now[("liaison_daemon_state", frozenset({office, ("state", "running")}))] == 1.0
        assert now[("liaison_outbox_oldest_unconfirmed_age_seconds", frozenset({office}))] == 0.0
        assert now[("liaison_log_entries", frozenset({office}))] >= 4
        assert now[("liaison_processed_total", frozenset({office, ("event", "rejected")}))] == 1
        assert now[("liaison_fork_alarms_total", frozenset({office}))] == 0.0

        archive = tmp_path / "hk.tar"  # online: the daemon keeps running
        backed_up = liaison_office(
            "backup", "--config", str(hk.config_path), "--out", str(archive), "--json"
        )
        assert backed_up.code == 0, backed_up.err
        assert get(f"{base}/readyz")[0] == 200

        hk.stop()
        code, body = get(f"{base}/healthz")
        assert (code, json.loads(body)["problem"]) == (
            503, "the daemon's core thread is not running",
        )  # fmt: skip
        assert get(f"{base}/readyz")[0] == 503
        assert sample(base, "liaison_daemon_state", state="stopped") == 1.0
    finally:
        probe.stop()

    fresh = tmp_path / "restored"
    fresh.mkdir()
    config = fresh / "office.toml"
    config.write_text(hk.config_path.read_text(), encoding="utf-8")
    (fresh / "amqp-password").write_text("unused")  # the configuration names it
    restored = liaison_office(
        "restore", str(archive), "--config", str(config), "--workers", "1", "--json"
    )
    assert restored.code == 0, restored.err
    report = json.loads(restored.out)
    assert report["verify"]["ok"] is True
    copied = log_entries(fresh / "data" / "exchange-log.db")
    assert copied == log_entries(hk.office.paths.log)[: len(copied)]  # the log up to the copy
    assert len(copied) == json.loads(backed_up.out)["log"]["entries"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_liaison_daemon_serves_its_probes_where_the_configuration_says(
    offices: Callable[..., Node],  # noqa: F811
) -> None:
    hk = offices(HK)
    port = free_port()
    hk.config_path.write_text(
        hk.config_path.read_text() + f'[metrics]\nlisten = "127.0.0.1:{port}"\n', encoding="utf-8"
    )
    base = f"http://127.0.0.1:{port}"
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
        wait_for(lambda: _reachable(base) and get(f"{base}/readyz")[0] == 200)
        assert sample(base, "liaison_daemon_state", state="running") == 1.0
        assert sample(base, "liaison_link_connected") == 1.0
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=WAIT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr.decode()
    assert not _reachable(base)  # the endpoint closed with the daemon
    events = [json.loads(line) for line in stderr.decode().splitlines() if line.startswith("{")]
    assert {"event": "probe_listening", "port": port}.items() <= next(
        e for e in events if e["event"] == "probe_listening"
    ).items()


def _reachable(base: str) -> bool:
    try:
        get(f"{base}/healthz")
    except urllib.error.URLError:
        return False
    return True
