"""AmqpLink against a real RabbitMQ: pipelined confirms, returns, prefetch, acks from another
thread, dead-lettering, stale acks, broker-closed channels and connections, stop, failover and
refused logins. Each test declares its own quorum queue and exchanges and deletes them after."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pika
import pytest
from structlog.testing import capture_logs

from broker.amqp import (
    AmqpLink,
    AmqpSettings,
    Delivery,
    Published,
    PublishOutcome,
    parse_broker_url,
)
from broker.errors import TransportError

pytestmark = pytest.mark.integration

RABBITMQCTL = "/usr/sbin/rabbitmqctl"
RABBITMQ_BIN = "/usr/lib/rabbitmq/bin"  # as root, call these directly for a private node
WAIT = 30.0  # generous upper bound for anything that normally takes well under a second
PAYLOAD = b"." * 1024


class Recorder:
    """Collects what the link reports, from its I/O thread, for the test thread to wait on."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self.deliveries: list[Delivery] = []
        self.outcomes: dict[str, Published] = {}
        self.reported_twice: list[str] = []
        self.states: list[str] = []
        self.work: queue.Queue[Delivery] = queue.Queue()

    def on_delivery(self, delivery: Delivery) -> None:
        with self._changed:
            self.deliveries.append(delivery)
            self._changed.notify_all()
        self.work.put(delivery)

    def on_published(self, published: Published) -> None:
        with self._changed:
            if published.publish_id in self.outcomes:
                self.reported_twice.append(published.publish_id)
            self.outcomes[published.publish_id] = published
            self._changed.notify_all()

    def on_state(self, state: str) -> None:
        with self._changed:
            self.states.append(str(state))
            self._changed.notify_all()

    def wait(self, predicate: Callable[[], bool], timeout: float = WAIT) -> bool:
        with self._changed:
            return self._changed.wait_for(predicate, timeout)

    def bodies(self) -> Counter[bytes]:
        with self._changed:
            return Counter(d.body for d in self.deliveries)

    def outcome_counts(self) -> Counter[PublishOutcome]:
        with self._changed:
            return Counter(p.outcome for p in self.outcomes.values())


class AckWorker(threading.Thread):
    """The daemon's shape: slow work off the I/O thread, then an ack from this thread."""

    def __init__(self, link: AmqpLink, recorder: Recorder, work_seconds: float = 0.0) -> None:
        super().__init__(name="ack-worker", daemon=True)
        self._link, self._recorder, self._work_seconds = link, recorder, work_seconds
        self.done = threading.Event()
        self.acked = 0

    def run(self) -> None:
        while not self.done.is_set():
            try:
                delivery = self._recorder.work.get(timeout=0.05)
            except queue.Empty:
                continue
            time.sleep(self._work_seconds)
            self._link.ack(delivery)
            self.acked += 1


@dataclass
class Scratch:
    admin: Any  # a pika BlockingChannel
    exchange: str
    queue: str
    dead_letters: str
    routing_key: str = "inbox"

    def message_count(self, name: str) -> int:
        return int(self.admin.queue_declare(name, passive=True).method.message_count)

    def get_body(self, name: str) -> bytes | None:
        method, _properties, body = self.admin.basic_get(name, auto_ack=True)
        return bytes(body) if method is not None else None

    def declare_inbox(self) -> None:
        self.admin.queue_declare(
            self.queue,
            durable=True,
            arguments={"x-queue-type": "quorum", "x-dead-letter-exchange": self.exchange + ".dlx"},
        )
        self.admin.queue_bind(self.queue, self.exchange, routing_key=self.routing_key)


@pytest.fixture
def scratch(amqp_url: str) -> Iterator[Scratch]:
    params = pika.URLParameters(amqp_url)
    params.heartbeat = 0  # the admin connection idles while the test runs
    connection = pika.BlockingConnection(params)
    channel = connection.channel()
    tag = uuid.uuid4().hex[:12]
    names = Scratch(channel, f"test.amqp.{tag}", f"test.amqp.{tag}.inbox", f"test.amqp.{tag}.dead")
    dlx = names.exchange + ".dlx"
    channel.exchange_declare(names.exchange, "direct", durable=True)
    channel.exchange_declare(dlx, "fanout", durable=True)
    channel.queue_declare(names.dead_letters, durable=True, arguments={"x-queue-type": "quorum"})
    channel.queue_bind(names.dead_letters, dlx)
    names.declare_inbox()
    try:
        yield names
    finally:
        for name in (names.queue, names.dead_letters):
            channel.queue_delete(name)
        for name in (names.exchange, dlx):
            channel.exchange_delete(name)
        connection.close()


def settings_for(*urls: str, **overrides: Any) -> AmqpSettings:
    overrides.setdefault("connection_name", f"liaison-test-{uuid.uuid4().hex[:12]}")
    overrides.setdefault("max_backoff", 2.0)
    return AmqpSettings(urls=urls, **overrides)


@contextmanager
def running(
    settings: AmqpSettings,
    recorder: Recorder,
    *,
    inbox: str | None,
    on_delivery: Callable[[Delivery], None] | None = None,
) -> Iterator[AmqpLink]:
    link = AmqpLink(
        settings,
        inbox=inbox,
        on_delivery=on_delivery or recorder.on_delivery,
        on_published=recorder.on_published,
        on_state=recorder.on_state,
        rng=lambda: 0.2,
    )
    link.start()
    try:
        yield link
    finally:
        link.stop(timeout=5.0)


def publish_n(
    link: AmqpLink, scratch: Scratch, user: str | None, count: int, prefix: str, **kw: Any
) -> None:
    for n in range(count):
        link.publish(
            f"{prefix}{n}",
            exchange=kw.get("exchange", scratch.exchange),
            routing_key=kw.get("routing_key", scratch.routing_key),
            body=f"{prefix}{n}:".encode() + PAYLOAD,
            message_id=f"msg-{prefix}{n}",
            user_id=user,
        )


def user_of(amqp_url: str) -> str:
    return parse_broker_url(amqp_url).username or "guest"


def wait_until(predicate: Callable[[], bool], timeout: float = WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def broker_connection_pids(connection_name: str) -> list[str]:
    listing = subprocess.run(
        [RABBITMQCTL, "-q", "list_connections", "pid", "client_properties"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    marker = f'{{"connection_name","{connection_name}"}}'
    return [line.split("\t", 1)[0] for line in listing.splitlines() if marker in line]


# ---------------------------------------------------------------------- publishing


def test_2000_pipelined_publishes_are_all_confirmed(scratch: Scratch, amqp_url: str) -> None:
    recorder, user, count = Recorder(), user_of(amqp_url), 2000
    with running(settings_for(amqp_url), recorder, inbox=None) as link:
        assert link.wait_connected(WAIT)
        started = time.monotonic()
        publish_n(link, scratch, user, count, "p")
        assert recorder.wait(lambda: len(recorder.outcomes) == count)
        pipelined = count / (time.monotonic() - started)
        assert link.health().unconfirmed_publishes == 0
    assert recorder.outcome_counts() == {PublishOutcome.CONFIRMED: count}
    assert recorder.reported_twice == []
    assert wait_until(lambda: scratch.message_count(scratch.queue) == count)

    # The naive baseline, same broker, same queue, same message: one confirm per publish.
    scratch.admin.queue_purge(scratch.queue)
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        persistent = pika.BasicProperties(delivery_mode=2, message_id="baseline")
        started = time.monotonic()
        for n in range(count):
            body = f"b{n}:".encode() + PAYLOAD
            channel.basic_publish(
                scratch.exchange, scratch.routing_key, body, persistent, mandatory=True
            )
        naive = count / (time.monotonic() - started)
    finally:
        connection.close()
    # The measurement is the point: printed, never asserted.
    print(
        f"\n{count} x 1 KiB persistent to a quorum queue: AmqpLink {pipelined:,.0f} msg/s,"
        f" BlockingChannel confirm-per-publish {naive:,.0f} msg/s, ratio {pipelined / naive:.1f}x"
    )


def test_an_unroutable_publish_is_returned_with_no_route(scratch: Scratch, amqp_url: str) -> None:
    recorder, user = Recorder(), user_of(amqp_url)
    with running(settings_for(amqp_url), recorder, inbox=None) as link:
        publish_n(link, scratch, user, 1, "lost", routing_key="no.such.binding")
        publish_n(link, scratch, user, 1, "kept")
        assert recorder.wait(lambda: len(recorder.outcomes) == 2)
    assert recorder.outcomes["lost0"] == Published("lost0", PublishOutcome.RETURNED, "NO_ROUTE")
    assert recorder.outcomes["kept0"] == Published("kept0", PublishOutcome.CONFIRMED)
    assert scratch.message_count(scratch.queue) == 1


# ---------------------------------------------------------------------- consuming


def test_prefetch_bounds_unacked_deliveries_and_acks_come_from_another_thread(
    scratch: Scratch, amqp_url: str
) -> None:
    recorder, user = Recorder(), user_of(amqp_url)
    settings = settings_for(amqp_url, prefetch=5)
    with running(settings, recorder, inbox=scratch.queue) as link:
        assert link.wait_connected(WAIT)
        link.publish(
            "first",
            exchange=scratch.exchange,
            routing_key=scratch.routing_key,
            body=b"secret-case-text",
            message_id="msg-first",
            user_id=user,
            headers={"case": "c-1", "n": 7},
        )
        publish_n(link, scratch, user, 19, "p")
        assert recorder.wait(lambda: len(recorder.deliveries) == 5)
        time.sleep(0.5)  # room for a sixth delivery, which must not come
        assert len(recorder.deliveries) == 5
        assert link.health().unacked_deliveries == 5

        first = recorder.deliveries[0]
        assert (first.body, first.message_id, first.user_id) == (
            b"secret-case-text",
            "msg-first",
            user,
        )
        # RabbitMQ 3.10 adds x-delivery-count to consumed messages only once they come back.
        assert (first.routing_key, first.redelivered, first.delivery_count) == (
            "inbox",
            False,
            None,
        )
        assert (first.headers["case"], first.headers["n"]) == ("c-1", 7)
        assert "secret" not in repr(first)  # bodies stay out of reprs

        worker = AckWorker(link, recorder)
        worker.start()
        try:
            assert recorder.wait(lambda: len(recorder.deliveries) == 20)
            assert wait_until(lambda: worker.acked == 20 and link.health().unacked_deliveries == 0)
        finally:
            worker.done.set()
            worker.join()
    assert sorted(recorder.bodies()) == sorted(
        [b"secret-case-text", *(f"p{n}:".encode() + PAYLOAD for n in range(19))]
    )
    assert scratch.message_count(scratch.queue) == 0  # acked, so nothing was requeued on close


def test_reject_requeues_or_dead_letters(scratch: Scratch, amqp_url: str) -> None:
    recorder = Recorder()
    with running(settings_for(amqp_url), recorder, inbox=scratch.queue) as link:
        publish_n(link, scratch, user_of(amqp_url), 1, "r")
        assert recorder.wait(lambda: len(recorder.deliveries) == 1)
        link.reject(recorder.deliveries[0], requeue=True)
        assert recorder.wait(lambda: len(recorder.deliveries) == 2)
        again = recorder.deliveries[1]
        assert (again.redelivered, again.delivery_count) == (True, 1)
        link.reject(again, requeue=False)
        assert wait_until(lambda: scratch.message_count(scratch.dead_letters) == 1)
    assert scratch.get_body(scratch.dead_letters) == b"r0:" + PAYLOAD
    assert scratch.message_count(scratch.queue) == 0


def test_a_failing_delivery_handler_gets_the_message_requeued(
    scratch: Scratch, amqp_url: str
) -> None:
    recorder = Recorder()

    def fail_first(delivery: Delivery) -> None:
        recorder.on_delivery(delivery)
        if len(recorder.deliveries) == 1:
            raise RuntimeError("a bug in the handler")

    with running(
        settings_for(amqp_url), recorder, inbox=scratch.queue, on_delivery=fail_first
    ) as link:
        publish_n(link, scratch, user_of(amqp_url), 1, "h")
        assert recorder.wait(lambda: len(recorder.deliveries) == 2)
        again = recorder.deliveries[1]
        assert (again.body, again.redelivered, again.delivery_count) == (b"h0:" + PAYLOAD, True, 1)
        link.ack(again)
        assert wait_until(lambda: link.health().unacked_deliveries == 0)
    assert scratch.message_count(scratch.queue) == 0


# ---------------------------------------------------------------------- broker-side trouble


def test_a_consumer_cancelled_by_the_broker_consumes_again(scratch: Scratch, amqp_url: str) -> None:
    recorder = Recorder()
    with running(settings_for(amqp_url), recorder, inbox=scratch.queue) as link:
        assert link.wait_connected(WAIT)
        scratch.admin.queue_delete(scratch.queue)  # basic.cancel; consuming again gets a 404
        assert recorder.wait(lambda: "disconnected" in recorder.states)
        scratch.declare_inbox()
        assert recorder.wait(lambda: recorder.states[-1] == "connected")
        publish_n(link, scratch, user_of(amqp_url), 1, "back")
        assert recorder.wait(lambda: len(recorder.deliveries) == 1)
        link.ack(recorder.deliveries[0])
        health = link.health()
    assert "404 NOT_FOUND" in health.last_error
    assert recorder.outcomes["back0"].outcome is PublishOutcome.CONFIRMED


def test_a_publish_to_a_missing_exchange_is_nacked_and_everything_else_carries_on(
    scratch: Scratch, amqp_url: str
) -> None:
    recorder, user = Recorder(), user_of(amqp_url)
    with running(settings_for(amqp_url), recorder, inbox=scratch.queue) as link:
        worker = AckWorker(link, recorder)
        worker.start()
        try:
            assert link.wait_connected(WAIT)
            publish_n(link, scratch, user, 50, "a")
            publish_n(link, scratch, user, 1, "poison", exchange=f"missing.{uuid.uuid4().hex}")
            publish_n(link, scratch, user, 50, "b")
            assert recorder.wait(lambda: len(recorder.outcomes) == 101)
            # The channel was reopened and consumption goes on: publish and receive more.
            publish_n(link, scratch, user, 5, "c")
            assert recorder.wait(lambda: len(recorder.outcomes) == 106)
            expected = {
                f"{p}{n}:".encode() + PAYLOAD
                for p, k in (("a", 50), ("b", 50), ("c", 5))
                for n in range(k)
            }
            assert recorder.wait(lambda: set(recorder.bodies()) == expected)
            health = link.health()
        finally:
            worker.done.set()
            worker.join()
    poison = recorder.outcomes.pop("poison0")
    assert poison.outcome is PublishOutcome.NACKED
    assert "404 NOT_FOUND" in poison.detail
    assert recorder.outcome_counts() == {PublishOutcome.CONFIRMED: 105}
    assert recorder.reported_twice == []
    assert "NOT_FOUND" in health.last_error
    assert health.channel_generation >= 3  # the poison closed at least two channels
    assert health.republished_count >= 1  # the poison, at least, was sent again alone


def test_an_ack_for_a_closed_channel_is_dropped_and_the_new_channel_stays_open(
    scratch: Scratch, amqp_url: str
) -> None:
    recorder, user = Recorder(), user_of(amqp_url)
    with running(settings_for(amqp_url), recorder, inbox=scratch.queue) as link:
        publish_n(link, scratch, user, 1, "held")
        assert recorder.wait(lambda: len(recorder.deliveries) == 1)
        held = recorder.deliveries[0]
        # A broker channel error replaces the channel; the held delivery is requeued.
        publish_n(link, scratch, user, 1, "poison", exchange=f"missing.{uuid.uuid4().hex}")
        assert recorder.wait(lambda: "poison0" in recorder.outcomes)
        assert link.wait_connected(WAIT)
        generation = link.health().channel_generation
        assert generation > held.generation
        assert recorder.wait(lambda: recorder.deliveries[-1].generation == generation)
        fresh = recorder.deliveries[-1]
        assert (fresh.body, fresh.redelivered) == (held.body, True)

        states_before = list(recorder.states)
        for stale in recorder.deliveries[:-1]:
            link.ack(stale)
        assert wait_until(lambda: link.health().dropped_settlements == len(recorder.deliveries) - 1)
        link.ack(fresh)
        assert wait_until(lambda: link.health().unacked_deliveries == 0)
        time.sleep(0.3)
        assert recorder.states == states_before  # no channel was closed by the stale acks
        assert link.health().channel_generation == generation
    assert scratch.message_count(scratch.queue) == 0


def test_the_broker_closing_the_connection_mid_stream_loses_nothing(
    scratch: Scratch, amqp_url: str
) -> None:
    recorder, user, count = Recorder(), user_of(amqp_url), 1000
    settings = settings_for(amqp_url, prefetch=50)
    with running(settings, recorder, inbox=scratch.queue) as link:
        worker = AckWorker(link, recorder, work_seconds=0.001)
        worker.start()
        try:
            assert link.wait_connected(WAIT)
            [pid] = broker_connection_pids(settings.connection_name)

            def publish_steadily() -> None:
                for n in range(count):
                    publish_n(link, scratch, user, 1, f"s{n}-")
                    if n % 20 == 19:
                        time.sleep(0.05)  # ~2.5 s in bursts of 20: the kill lands mid-stream

            publisher = threading.Thread(target=publish_steadily, daemon=True)
            publisher.start()
            assert recorder.wait(lambda: len(recorder.outcomes) >= 200)
            subprocess.run(
                [RABBITMQCTL, "-q", "close_connection", pid, "test"], check=True, timeout=60
            )
            publisher.join(WAIT)
            assert recorder.wait(lambda: len(recorder.outcomes) == count)
            expected = {f"s{n}-0:".encode() + PAYLOAD for n in range(count)}
            assert recorder.wait(lambda: set(recorder.bodies()) >= expected)
            assert wait_until(lambda: link.health().unacked_deliveries == 0)
            health = link.health()
            [new_pid] = broker_connection_pids(settings.connection_name)
        finally:
            worker.done.set()
            worker.join()
    assert new_pid != pid
    assert recorder.outcome_counts() == {PublishOutcome.CONFIRMED: count}
    assert recorder.reported_twice == []
    assert health.reconnect_count >= 1
    assert "CONNECTION_FORCED" in health.last_error
    duplicates = sum(recorder.bodies().values()) - count
    print(
        f"\nconnection closed by the broker after >=200 of {count} confirms: "
        f"{health.republished_count} publishes sent again, {duplicates} deliveries received twice"
    )
    assert scratch.message_count(scratch.queue) == 0


# ---------------------------------------------------------------------- lifecycle


def test_stop_with_work_in_flight_returns_within_its_timeout(
    scratch: Scratch, amqp_url: str
) -> None:
    recorder, user = Recorder(), user_of(amqp_url)
    settings = settings_for(amqp_url)
    link = AmqpLink(
        settings,
        inbox=scratch.queue,
        on_delivery=recorder.on_delivery,
        on_published=recorder.on_published,
        on_state=recorder.on_state,
    )
    link.start()
    assert link.wait_connected(WAIT)
    publish_n(link, scratch, user, 3000, "x")
    assert recorder.wait(lambda: len(recorder.deliveries) > 0)  # unacked deliveries held too
    started = time.monotonic()
    link.stop(timeout=2.0)
    elapsed = time.monotonic() - started
    assert elapsed <= 2.1
    assert all(
        thread.name != f"liaison-amqp:{settings.connection_name}"
        for thread in threading.enumerate()
    )
    assert recorder.states[-2:] == ["stopping", "stopped"]
    assert not link.connected
    assert recorder.reported_twice == []
    with pytest.raises(TransportError, match="stopped"):
        publish_n(link, scratch, user, 1, "late")
    link.ack(recorder.deliveries[0])  # after stop: dropped, never raised
    assert not broker_connection_pids(settings.connection_name)


def test_stop_while_the_broker_is_unreachable_returns_within_its_timeout() -> None:
    recorder = Recorder()
    with running(settings_for(f"amqp://127.0.0.1:{free_port()}/"), recorder, inbox=None) as link:
        link.publish(
            "queued", exchange="", routing_key="x", body=b"x", message_id="m", user_id=None
        )
        assert recorder.wait(lambda: "disconnected" in recorder.states)
        assert link.health().unconfirmed_publishes == 1
        started = time.monotonic()
        link.stop(timeout=1.0)
        assert time.monotonic() - started <= 1.1
        assert recorder.states[-1] == "stopped"
    assert recorder.outcomes == {}


def test_failover_to_the_next_url_when_the_first_is_down(scratch: Scratch, amqp_url: str) -> None:
    recorder = Recorder()
    settings = settings_for(f"amqp://127.0.0.1:{free_port()}/", amqp_url)
    with running(settings, recorder, inbox=scratch.queue) as link:
        assert link.wait_connected(WAIT)
        health = link.health()
        publish_n(link, scratch, user_of(amqp_url), 1, "f")
        assert recorder.wait(lambda: len(recorder.deliveries) == 1)
        link.ack(recorder.deliveries[0])
    assert health.url == parse_broker_url(amqp_url).redacted()
    assert health.reconnect_count == 1
    assert "ConnectionRefused" in health.last_error
    assert recorder.states[:4] == ["connecting", "disconnected", "connecting", "connected"]
    assert recorder.outcomes["f0"].outcome is PublishOutcome.CONFIRMED


def test_a_wrong_password_is_reported_and_retried_slowly(amqp_url: str) -> None:
    address = parse_broker_url(amqp_url)
    recorder = Recorder()
    wrong = f"wrong-{uuid.uuid4().hex}"
    settings = settings_for(amqp_url, password=wrong, max_backoff=0.4)
    assert address.username is not None  # the fixture's URL names its user
    with capture_logs() as logs, running(settings, recorder, inbox=None) as link:
        assert recorder.wait(lambda: recorder.states.count("auth_failed") >= 2)
        health = link.health()
        assert not link.connected
    assert "ACCESS_REFUSED" in health.last_error
    assert health.reconnect_count >= 1
    refused = [entry for entry in logs if entry["event"] == "amqp_login_refused"]
    assert refused
    assert refused[0]["log_level"] == "error"
    assert wrong not in str(logs)


# ---------------------------------------------------------------------- resource alarm


@dataclass
class PrivateBroker:
    """A RabbitMQ node of our own (an alarm on the shared one would disturb other tests)."""

    url: str
    node: str
    env: dict[str, str]

    def ctl(self, *args: str) -> None:
        command = [f"{RABBITMQ_BIN}/rabbitmqctl", "-q", "-n", self.node, *args]
        subprocess.run(command, env=self.env, check=True, capture_output=True, timeout=60)


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[PrivateBroker]:
    port, dist_port = free_port(), free_port()
    node = f"liaison_test_{uuid.uuid4().hex[:8]}@localhost"
    base = tmp_path / "node"
    (tmp_path / "home").mkdir()
    base.mkdir()
    (base / "rabbitmq.conf").write_text(f"listeners.tcp.1 = 127.0.0.1:{port}\n")
    (base / "enabled_plugins").write_text("[].\n")
    env = {
        **os.environ,
        "HOME": str(tmp_path / "home"),  # the Erlang cookie, for the node and rabbitmqctl
        "RABBITMQ_NODENAME": node,
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(dist_port),
        "RABBITMQ_BASE": str(base),
        "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
        "RABBITMQ_LOG_BASE": str(base / "log"),
        "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
        "RABBITMQ_PID_FILE": str(base / "pid"),
        "ERL_EPMD_ADDRESS": "127.0.0.1",
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
    }
    broker = PrivateBroker(f"amqp://guest:guest@127.0.0.1:{port}/%2F", node, env)
    with (base / "server.log").open("wb") as log:
        server = subprocess.Popen(
            [f"{RABBITMQ_BIN}/rabbitmq-server"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so that we can end exactly it
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                broker.ctl("await_startup", "--timeout", "10")
                with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                    break
            except (subprocess.CalledProcessError, OSError):
                assert server.poll() is None, (base / "server.log").read_text()[-2000:]
                assert time.monotonic() < deadline, "the private RabbitMQ node did not start"
                time.sleep(0.5)
        yield broker
    finally:
        try:
            broker.ctl("stop")
            server.wait(timeout=30)
        except (subprocess.SubprocessError, OSError):
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)


def test_a_resource_alarm_never_hangs_publish_and_the_queued_publishes_go_out_after_it(
    private_broker: PrivateBroker,
) -> None:
    recorder = Recorder()
    settings = settings_for(private_broker.url, blocked_connection_timeout=1.5, max_backoff=1.0)
    params = pika.URLParameters(private_broker.url)
    admin = pika.BlockingConnection(params)
    admin.channel().queue_declare("alarm.inbox", durable=True, arguments={"x-queue-type": "quorum"})
    admin.close()
    with running(settings, recorder, inbox=None) as link:
        assert link.wait_connected(WAIT)
        private_broker.ctl("set_vm_memory_high_watermark", "0.000001")  # a memory alarm, now
        started = time.monotonic()
        for n in range(20):
            link.publish(
                f"a{n}",
                exchange="",
                routing_key="alarm.inbox",
                body=b"x",
                message_id=f"m{n}",
                user_id="guest",
            )
        assert time.monotonic() - started < 0.5  # publish() queues; it never waits for the broker
        assert recorder.wait(lambda: "blocked" in recorder.states)
        # blocked_connection_timeout drops the connection; the link reconnects (and is blocked
        # again) while the publishes wait, unconfirmed.
        assert recorder.wait(lambda: "disconnected" in recorder.states)
        assert link.health().unconfirmed_publishes == 20
        assert recorder.outcomes == {}
        private_broker.ctl("set_vm_memory_high_watermark", "0.4")
        assert recorder.wait(lambda: len(recorder.outcomes) == 20)
        health = link.health()
    assert recorder.outcome_counts() == {PublishOutcome.CONFIRMED: 20}
    assert health.reconnect_count >= 1
    assert "ConnectionBlockedTimeout" in health.last_error
    admin = pika.BlockingConnection(params)
    stored = admin.channel().queue_declare("alarm.inbox", passive=True).method.message_count
    admin.close()
    # At least once: a publish the broker stored before blocking, but never confirmed before the
    # connection was dropped, is stored again by the resend.
    assert stored >= 20
