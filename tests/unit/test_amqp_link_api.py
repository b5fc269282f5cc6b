"""AmqpLink's thread-side API without a broker: input checks, lifecycle, health, state names."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from broker.amqp import AmqpLink, AmqpSettings, Delivery, LinkState, Published
from broker.errors import InputError, TransportError

# Nothing listens on port 1 (tcpmux) here: connecting is refused at once.
UNREACHABLE = "amqp://127.0.0.1:1/"


def make_link(**overrides: object) -> tuple[AmqpLink, list[str], list[Published]]:
    states: list[str] = []
    outcomes: list[Published] = []
    settings = AmqpSettings(urls=(UNREACHABLE,), max_backoff=0.2)
    callbacks: dict[str, object] = {"on_state": states.append, **overrides}
    link = AmqpLink(
        settings,
        inbox="inbox",
        on_delivery=lambda _delivery: None,
        on_published=outcomes.append,
        **callbacks,  # type: ignore[arg-type]
    )
    return link, states, outcomes


def publish(link: AmqpLink, **changes: object) -> None:
    args: dict[str, object] = {
        "exchange": "liaison.exchange",
        "routing_key": "from.a.to.b",
        "body": b"envelope",
        "message_id": "m-1",
        "user_id": "office_a",
        "headers": None,
    }
    args.update(changes)
    publish_id = str(args.pop("publish_id", "p-1"))
    link.publish(publish_id, **args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"publish_id": ""}, "publish_id"),
        ({"body": "text, not bytes"}, "bytes"),
        ({"routing_key": "r" * 256}, "routing_key"),
        ({"exchange": "é" * 128}, "exchange"),
        ({"message_id": "m" * 256}, "message_id"),
        ({"user_id": "u" * 256}, "properties"),
        ({"headers": {"bad": object()}}, "properties"),
    ],
)
def test_publish_refuses_what_amqp_cannot_carry(changes: dict[str, object], problem: str) -> None:
    link, _states, _outcomes = make_link()
    with pytest.raises(InputError, match=problem):
        publish(link, **changes)
    assert link.health().unconfirmed_publishes == 0


def test_publishes_before_start_are_queued_and_counted() -> None:
    link, states, _outcomes = make_link()
    publish(link, publish_id="p-1")
    publish(link, publish_id="p-2", headers={"n": 1, "s": "x", "nested": {"k": [1, 2]}})
    health = link.health()
    assert health.state is LinkState.IDLE
    assert health.unconfirmed_publishes == 2
    assert (health.in_flight_publishes, health.reconnect_count) == (0, 0)
    assert states == []
    assert not link.connected


def test_an_unreachable_broker_is_retried_in_the_background_and_stop_is_prompt() -> None:
    link, states, outcomes = make_link(rng=lambda: 0.0)
    publish(link)
    link.start()
    link.start()  # idempotent
    assert not link.wait_connected(0.5)
    health = link.health()
    assert health.reconnect_count >= 2  # zero backoff with this rng: attempts follow each other
    assert "Connection refused" in health.last_error or "ConnectionRefused" in health.last_error
    assert health.unconfirmed_publishes == 1
    started = time.monotonic()
    link.stop(timeout=1.0)
    assert time.monotonic() - started < 1.0
    assert states[0] == "connecting"
    assert states[-2:] == ["stopping", "stopped"]
    assert outcomes == []
    with pytest.raises(TransportError, match="stopped"):
        publish(link)
    with pytest.raises(TransportError, match="cannot be started again"):
        link.start()
    link.stop()  # a second stop is harmless


def test_stop_before_start_refuses_later_use() -> None:
    link, _states, _outcomes = make_link()
    link.stop()
    with pytest.raises(TransportError):
        publish(link)
    delivery = Delivery(
        1, 1, b"", "rk", None, None, redelivered=False, delivery_count=None, headers={}
    )
    link.ack(delivery)  # dropped quietly: there is no channel it could belong to
    link.reject(delivery, requeue=True)


def test_state_names_are_the_documented_strings() -> None:
    assert [state.value for state in LinkState] == [
        "idle",
        "connecting",
        "connected",
        "blocked",
        "disconnected",
        "auth_failed",
        "stopping",
        "stopped",
    ]
    assert isinstance(LinkState.CONNECTED, str)  # on_state takes plain strings


def test_an_unreadable_tls_file_is_a_failed_attempt_not_a_crash(tmp_path: Path) -> None:
    settings = AmqpSettings(
        urls=("amqps://office@127.0.0.1:1/",),
        password="pw",
        tls_ca_file=tmp_path / "missing-ca.pem",
        max_backoff=0.2,
    )
    states: list[str] = []
    link = AmqpLink(
        settings,
        inbox=None,
        on_delivery=lambda _delivery: None,
        on_published=lambda _published: None,
        on_state=states.append,
    )
    link.start()
    try:
        deadline = time.monotonic() + 5
        while link.health().reconnect_count < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        health = link.health()
    finally:
        link.stop(timeout=1.0)
    assert health.reconnect_count >= 2
    assert health.last_error.startswith("FileNotFoundError")
    assert "disconnected" in states


def test_stop_returns_in_time_even_when_a_callback_holds_the_io_thread() -> None:
    release = threading.Event()
    link, _states, _outcomes = make_link(
        on_state=lambda state: release.wait(5) if state == "disconnected" else None
    )
    link.start()
    time.sleep(0.2)  # the I/O thread is now stuck in on_state("disconnected")
    started = time.monotonic()
    link.stop(timeout=0.5)
    assert time.monotonic() - started < 0.6
    release.set()  # the owner's callback returns; the pending stop then ends the thread
    deadline = time.monotonic() + 5
    while link.health().state is not LinkState.STOPPED and time.monotonic() < deadline:
        time.sleep(0.02)
    assert link.health().state is LinkState.STOPPED
