"""The raw pika baselines of the exchange benchmark, on the same broker and vhost.

* ``pipelined``: the honest ceiling. A SelectConnection publisher keeps ``window`` persistent
  publishes in flight with asynchronous publisher confirms, into a quorum queue; a consumer in
  another process (prefetch ``prefetch``, acks ``multiple=True`` every ``ack_every``) takes
  them. Timed from the first publish to the last message consumed.
* ``naive``: what the tutorials do: BlockingConnection, ``confirm_delivery``, one
  ``basic_publish`` (which waits for its confirm) after the other. Timed publishing only: the
  consumer is never the bottleneck at this rate.
* ``spread``: ``pipelined`` through an exchange into many existing queues (office inboxes),
  the routing keys taken in turn, one consumer taking from all of them.

Both sides run in separate processes, so the baseline gets the machine's two cores as the
two Liaison daemons do.
"""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

# The baseline is raw pika by definition; Liaison itself reaches AMQP only through broker/amqp.
import pika  # noqa: TID251
import pika.channel  # noqa: TID251
import pika.frame  # noqa: TID251
import pika.spec  # noqa: TID251

QUORUM = {"x-queue-type": "quorum"}
# Connecting and consuming from hundreds of queues, on a busy broker.
READY_TIMEOUT = 120.0


@dataclass(frozen=True)
class RawRun:
    messages: int
    seconds: float  # first publish to last consumed (pipelined) or last confirm (naive)
    confirmed_at: float  # seconds from the first publish to the last confirm

    @property
    def per_s(self) -> float:
        return self.messages / self.seconds


def declare(params: pika.ConnectionParameters, queue: str) -> None:
    with pika.BlockingConnection(params) as connection:
        channel = connection.channel()
        channel.queue_declare(queue, durable=True, arguments=QUORUM)
        channel.queue_purge(queue)


def delete(params: pika.ConnectionParameters, queue: str) -> None:
    with pika.BlockingConnection(params) as connection:
        connection.channel().queue_delete(queue)


def _consume(
    params: pika.ConnectionParameters,
    queues: list[str],
    *,
    count: int,
    prefetch: int,
    ack_every: int,
    out: Connection,
) -> None:
    try:
        _consume_all(params, queues, count=count, prefetch=prefetch, ack_every=ack_every, out=out)
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it
        out.send(f"consumer failed: {type(exc).__name__}: {exc}")


def _consume_all(
    params: pika.ConnectionParameters,
    queues: list[str],
    *,
    count: int,
    prefetch: int,
    ack_every: int,
    out: Connection,
) -> None:
    connection = pika.BlockingConnection(params)
    channel = connection.channel()
    channel.basic_qos(prefetch_count=prefetch)
    seen = 0

    def on_message(
        ch: Any, method: pika.spec.Basic.Deliver, _props: pika.spec.BasicProperties, _body: bytes
    ) -> None:
        nonlocal seen
        seen += 1
        if seen % ack_every == 0 or seen == count:
            ch.basic_ack(method.delivery_tag, multiple=True)
        if seen == count:
            out.send(time.monotonic())
            ch.stop_consuming()

    for queue in queues:
        channel.basic_consume(queue, on_message)
    out.send("ready")
    channel.start_consuming()
    connection.close()


class _Publisher:
    """Keeps ``window`` publishes unconfirmed at once (SelectConnection, async confirms),
    to ``exchange`` with the routing ``keys`` in turn."""

    def __init__(
        self,
        params: pika.ConnectionParameters,
        route: tuple[str, list[str]],
        body: bytes,
        count: int,
        window: int,
    ) -> None:
        self.exchange, self.keys = route
        self.body, self.count, self.window = body, count, window
        self.sent = self.confirmed = 0
        self.started = self.finished = 0.0
        self.properties = pika.BasicProperties(delivery_mode=2)
        self.channel: pika.channel.Channel | None = None
        self.connection = pika.SelectConnection(params, on_open_callback=self._opened)

    def run(self) -> None:
        self.connection.ioloop.start()

    def _opened(self, connection: pika.SelectConnection) -> None:
        connection.channel(on_open_callback=self._channel)

    def _channel(self, channel: pika.channel.Channel) -> None:
        self.channel = channel
        channel.confirm_delivery(self._confirm, callback=self._confirming)

    def _confirming(self, _frame: pika.frame.Method) -> None:
        self.started = time.monotonic()
        self._fill()

    def _fill(self) -> None:
        assert self.channel is not None
        while self.sent < self.count and self.sent - self.confirmed < self.window:
            key = self.keys[self.sent % len(self.keys)]
            self.channel.basic_publish(self.exchange, key, self.body, self.properties)
            self.sent += 1

    def _confirm(self, frame: pika.frame.Method) -> None:
        method = frame.method
        if isinstance(method, pika.spec.Basic.Nack):
            raise RuntimeError("the broker nacked a publish")  # noqa: TRY004 - not a type check
        # Delivery tags count publishes from 1; a multiple confirm covers all up to its tag.
        self.confirmed = (
            method.delivery_tag if method.multiple else max(self.confirmed, method.delivery_tag)
        )
        if self.confirmed >= self.count:
            self.finished = time.monotonic()
            self.connection.close()
            self.connection.ioloop.stop()
        else:
            self._fill()


def pipelined(
    params: pika.ConnectionParameters,
    queue: str,
    *,
    count: int,
    body: bytes,
    window: int = 1000,
    prefetch: int = 200,
    ack_every: int = 100,
) -> RawRun:
    declare(params, queue)
    return _timed(
        params,
        [queue],
        ("", [queue]),
        count=count,
        body=body,
        window=window,
        prefetch=prefetch,
        ack_every=ack_every,
    )


def spread(
    params: pika.ConnectionParameters,
    queues: list[str],
    route: tuple[str, list[str]],
    *,
    count: int,
    body: bytes,
    window: int = 1000,
    prefetch: int = 200,
    ack_every: int = 100,
) -> RawRun:
    """``pipelined`` over existing queues: publishes go to ``route`` (exchange, routing keys
    taken in turn), one consumer process takes them from all ``queues`` on one channel."""
    return _timed(
        params,
        queues,
        route,
        count=count,
        body=body,
        window=window,
        prefetch=prefetch,
        ack_every=ack_every,
    )


def _timed(
    params: pika.ConnectionParameters,
    queues: list[str],
    route: tuple[str, list[str]],
    *,
    count: int,
    body: bytes,
    window: int,
    prefetch: int,
    ack_every: int,
) -> RawRun:
    here, there = multiprocessing.Pipe()
    consumer = multiprocessing.get_context("fork").Process(
        target=_consume,
        args=(params, queues),
        kwargs={"count": count, "prefetch": prefetch, "ack_every": ack_every, "out": there},
        daemon=True,
    )
    consumer.start()
    try:
        started = here.recv() if here.poll(READY_TIMEOUT) else "no word within the timeout"
        if started != "ready":
            raise RuntimeError(f"the raw consumer did not start: {started}")
        publisher = _Publisher(params, route, body, count, window)
        publisher.run()
        if not here.poll(120):
            raise RuntimeError("the consumer did not receive every message")
        last = here.recv()
        if isinstance(last, str):
            raise RuntimeError(f"the raw consumer: {last}")  # noqa: TRY004 - its report
    finally:
        consumer.join(10)
        if consumer.is_alive():
            consumer.kill()
    return RawRun(count, last - publisher.started, publisher.finished - publisher.started)


def naive(params: pika.ConnectionParameters, queue: str, *, count: int, body: bytes) -> RawRun:
    declare(params, queue)
    properties = pika.BasicProperties(delivery_mode=2)
    with pika.BlockingConnection(params) as connection:
        channel = connection.channel()
        channel.confirm_delivery()
        start = time.monotonic()
        for _ in range(count):
            channel.basic_publish("", queue, body, properties)
        seconds = time.monotonic() - start
        channel.queue_purge(queue)
    return RawRun(count, seconds, seconds)
