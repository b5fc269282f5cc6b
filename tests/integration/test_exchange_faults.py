"""Faults against the real RabbitMQ: daemons killed with SIGKILL at random moments, and the
broker closing the daemons' connections mid-stream. Whatever happens, every enquiry is handed
over at VN exactly once and every delivery at HK ends ``delivered`` (docs/daemon.md §5).

The kill moments come from a seeded ``random.Random``; the seed is printed (and named in every
assertion message). Set ``LIAISON_FAULT_SEED`` to replay a run.
"""

from __future__ import annotations

import collections
import os
import random
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

import tests.integration.test_exchange_daemon as exchange
from broker.daemon import OfficeDaemon
from broker.daemon.submission import submit
from broker.envelope import MessageKind
from broker.exchange_log import EventType
from broker.office_store import DeliveryState
from tests.integration.broker_fixtures import LiaisonSite

pytestmark = pytest.mark.integration

# The daemon tests' site, offices and helpers (one vhost per module, emptied before each test).
site = exchange.site
key_folder = exchange.key_folder
offices = exchange.offices
_empty_queues = exchange._empty_queues  # the autouse fixture, reused
Node = exchange.Node
HK, VN = exchange.HK, exchange.VN

LIAISON = Path(sys.executable).with_name("liaison")
KILLED_COUNT = 1000
CLOSED_COUNT = 300
DEADLINE = 150.0  # seconds for a whole exchange, kills included


def fault_seed() -> int:
    chosen = os.environ.get("LIAISON_FAULT_SEED")
    seed = int(chosen) if chosen else secrets.randbelow(2**32)
    print(f"fault seed: {seed} (replay with LIAISON_FAULT_SEED={seed})")
    return seed


def submit_enquiries(node: exchange.Node, count: int) -> set[bytes]:
    return {
        submit(node.office, exchange.enquiry(), now=datetime.now(UTC)).message_id
        for _ in range(count)
    }


def delivered(node: exchange.Node) -> int:
    with node.store() as store:
        rows = store.deliveries(
            states=[DeliveryState.DELIVERED], kinds=[MessageKind.ENQUIRY], limit=10_000
        )
    return len(rows)


def spooled(node: exchange.Node) -> int:
    folder = node.office.paths.data_dir / "spool" / "in"
    return sum(1 for _ in folder.iterdir()) if folder.is_dir() else 0


def spool_reaches(node: exchange.Node, count: int) -> Callable[[], bool]:
    return lambda: spooled(node) >= count


class DaemonProcess:
    """``liaison daemon --config`` as a child process, killed and restarted at will."""

    def __init__(self, node: exchange.Node, logs: Path) -> None:
        self.node, self.logs = node, logs
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = self.logs / f"{self.node.office_id}-{self.starts}.log"
        with log.open("wb") as stderr:
            self.process = subprocess.Popen(
                [str(LIAISON), "daemon", "--config", str(self.node.config_path)],
                cwd=self.node.config_path.parent,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=exchange.WAIT)
        assert self.process.returncode == -signal.SIGKILL

    def terminate(self) -> int:
        """Stop cleanly (SIGTERM) and return the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=exchange.WAIT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return -1

    def ensure_dead(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def assert_exactly_once(hk: exchange.Node, vn: exchange.Node, sent: set[bytes], why: str) -> None:
    """VN handed each message over once (spool and log); HK holds a receipt for each."""
    names = [path.name for path in vn.spool()]
    assert len(names) == len(set(names)) == len(sent), why
    assert {bytes.fromhex(name.removesuffix(".json")) for name in names} == sent, why
    entries = vn.entries()
    handed = collections.Counter(e.message_id for e in entries if e.event is EventType.HANDED_OVER)
    received = collections.Counter(e.message_id for e in entries if e.event is EventType.RECEIVED)
    assert set(handed) == sent, why
    assert {mid: n for mid, n in handed.items() if n != 1} == {}, why
    assert {mid: n for mid, n in received.items() if mid in sent and n != 1} == {}, why
    hk_entries = hk.entries()
    receipts = collections.Counter(
        e.related_message_id for e in hk_entries if e.event is EventType.RECEIPT_RECEIVED
    )
    assert set(receipts) == sent, why
    assert {mid: n for mid, n in receipts.items() if n != 1} == {}, why
    assert delivered(hk) == len(sent), why


def test_daemons_killed_at_random_moments_hand_everything_over_exactly_once(
    offices: Callable[..., exchange.Node], tmp_path: Path
) -> None:
    seed = fault_seed()
    rng = random.Random(seed)  # noqa: S311 - reproducible kill moments, not secrets
    why = f"seed {seed}"
    hk, vn = offices(HK), offices(VN)
    sent = submit_enquiries(hk, KILLED_COUNT)
    # The moments, as progress at VN (files in the spool): 3-5 kills of VN, 1-2 of HK.
    vn_kills = sorted(rng.sample(range(40, KILLED_COUNT - 60), rng.randint(3, 5)))
    hk_kills = sorted(rng.sample(range(40, KILLED_COUNT - 60), rng.randint(1, 2)))
    plan = sorted([(n, "vn") for n in vn_kills] + [(n, "hk") for n in hk_kills])
    print(f"kill plan (spool count, office): {plan}")
    daemons = {"vn": DaemonProcess(vn, tmp_path), "hk": DaemonProcess(hk, tmp_path)}
    started = time.monotonic()
    try:
        daemons["vn"].start()
        daemons["hk"].start()
        for threshold, office in plan:
            exchange.wait_for(spool_reaches(vn, threshold), DEADLINE)
            time.sleep(rng.uniform(0.0, 0.05))  # not always right at the poll
            daemons[office].kill()
            time.sleep(rng.uniform(0.0, 0.5))
            daemons[office].start()
        remaining = DEADLINE - (time.monotonic() - started)
        exchange.wait_for(lambda: delivered(hk) == KILLED_COUNT, max(remaining, 1.0))
        assert daemons["vn"].terminate() == 0, why
        assert daemons["hk"].terminate() == 0, why
    finally:
        for daemon in daemons.values():
            daemon.ensure_dead()
    print(f"{KILLED_COUNT} delivered in {time.monotonic() - started:.1f} s")
    assert daemons["vn"].starts == len(vn_kills) + 1
    assert_exactly_once(hk, vn, sent, why)
    for node in (hk, vn):
        exchange.assert_sound(node)


def close_connections(site: LiaisonSite, office: str) -> int:
    """Have the broker close every connection of ``office``'s user, once it has one again
    (it may still be reconnecting after the last close); how many it closed."""
    deadline = time.monotonic() + 30
    while True:
        listing = site.ctl.run("list connections", "list_connections", "pid", "user")
        rows = [line.split("\t") for line in listing.splitlines() if "\t" in line]
        pids = [pid for pid, user in rows if user == site.user(office)]
        if pids or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    for pid in pids:
        site.ctl.run("close a connection", "close_connection", pid, "test")
    return len(pids)


def test_connections_closed_by_the_broker_mid_stream_lose_nothing(
    offices: Callable[..., exchange.Node], site: LiaisonSite
) -> None:
    hk, vn = offices(HK), offices(VN)
    sent = submit_enquiries(hk, CLOSED_COUNT)
    vn.start()
    hk.start()
    closed = {HK: 0, VN: 0}
    started = time.monotonic()
    for threshold, office in ((40, VN), (90, HK), (150, VN), (200, HK), (240, VN)):
        exchange.wait_for(spool_reaches(vn, threshold), DEADLINE)
        closed[office] += close_connections(site, office)
    exchange.wait_for(lambda: delivered(hk) == CLOSED_COUNT, DEADLINE)
    print(f"{CLOSED_COUNT} delivered in {time.monotonic() - started:.1f} s")
    assert closed == {HK: 2, VN: 3}  # one connection per daemon, found each time
    for node in (hk, vn):
        daemon = node.daemon
        assert daemon is not None
        expected = closed[node.office_id]  # the status file is a moment old: wait for it

        def reconnected(d: OfficeDaemon = daemon, n: int = expected) -> bool:
            link = d.status["link"]
            return bool(link["reconnect_count"] >= n and link["state"] == "connected")

        exchange.wait_for(reconnected)
    hk.stop()
    vn.stop()
    assert_exactly_once(hk, vn, sent, "connections closed")
    for node in (hk, vn):
        exchange.assert_sound(node)
