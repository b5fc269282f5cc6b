"""The AMQP link: one I/O thread that owns a pika SelectConnection and never lets go.

Threading model (docs/transport.md): every pika object lives on the link's I/O thread. Other
threads only append to a command queue (publish, ack, reject) and wake the loop with
``add_callback_threadsafe``, the one pika call that is safe from anywhere. ``on_delivery``,
``on_published`` and ``on_state`` run ON THE I/O THREAD and must return at once: slow work there
would starve heartbeats and every other callback. Nothing from pika reaches the caller's thread.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import pika  # noqa: TID251 - this package owns pika
from pika.adapters.select_connection import IOLoop  # noqa: TID251

from broker.amqp.channel import Settle
from broker.amqp.confirms import ConfirmTracker, Outgoing
from broker.amqp.engine import LinkEngine
from broker.amqp.settings import AmqpSettings
from broker.amqp.values import Delivery, LinkHealth, Published
from broker.errors import InputError, TransportError
from broker.log import get_logger

__all__ = ["AmqpLink"]

_log = get_logger("amqp")

MAX_SHORTSTR = 255
DRAIN_SHARE = 0.6  # of stop()'s timeout, spent waiting for in-flight confirms
FORCE_SHARE = 0.1  # of stop()'s timeout, kept to stop the loop without the close handshake


def _check_publish(
    publish_id: str, exchange: str, routing_key: str, body: bytes, message_id: str
) -> None:
    if not publish_id:
        raise InputError("publish: publish_id must not be empty")
    if not isinstance(body, bytes):
        raise InputError("publish: body must be bytes")
    names = {"exchange": exchange, "routing_key": routing_key, "message_id": message_id}
    for name, value in names.items():
        if len(value.encode()) > MAX_SHORTSTR:
            raise InputError(f"publish: {name} is longer than {MAX_SHORTSTR} bytes")


class AmqpLink:
    """A reconnecting AMQP link: confirmed publishing and consumption of one inbox."""

    def __init__(
        self,
        settings: AmqpSettings,
        *,
        inbox: str | None,
        on_delivery: Callable[[Delivery], None],
        on_published: Callable[[Published], None],
        on_state: Callable[[str], None] = lambda _state: None,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._addresses = settings.addresses
        self._thread_name = f"liaison-amqp:{settings.connection_name}"
        self._tracker = ConfirmTracker(settings.max_in_flight)
        self._engine = LinkEngine(
            settings,
            inbox=inbox,
            tracker=self._tracker,
            on_delivery=on_delivery,
            on_published=on_published,
            on_state=on_state,
            rng=rng,
        )
        # Shared with the callers' threads, guarded by _lock.
        self._lock = threading.Lock()
        self._commands: deque[Outgoing | Settle] = deque()
        self._wake_pending = False
        self._accepting = True
        self._ioloop: Any = None
        self._thread: threading.Thread | None = None
        # queue_depth(): queue -> (message count, monotonic time it was read); when last asked.
        self._depths: dict[str, tuple[int, float]] = {}
        self._asked: dict[str, float] = {}

    def start(self) -> None:
        """Start the I/O thread; it connects, and keeps reconnecting, in the background."""
        with self._lock:
            if not self._accepting:
                raise TransportError("a stopped AMQP link cannot be started again")
            if self._thread is not None:
                return
            self._ioloop = IOLoop()
            self._wake_pending = True  # _run drains what was queued before start()
            self._thread = threading.Thread(target=self._run, name=self._thread_name, daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel the consumer, wait for in-flight confirms (part of ``timeout``), close the
        connection and end the I/O thread, all within ``timeout`` seconds.

        Publishes not confirmed by then are not reported: they stay in the owner's outbox.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            thread = self._thread
            if thread is None:
                self._accepting = False
                return
            if self._accepting:
                stop = partial(self._engine.begin_stop, timeout * DRAIN_SHARE)
                self._ioloop.add_callback_threadsafe(stop)
        if thread is threading.current_thread():
            return  # called from a callback: the stop proceeds once the callback returns
        thread.join(max(0.0, deadline - time.monotonic() - timeout * FORCE_SHARE))
        if thread.is_alive():
            with self._lock:
                if self._accepting:
                    self._ioloop.add_callback_threadsafe(self._engine.force_stop)
            thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            _log.error("amqp_stop_timed_out", elapsed=timeout)

    def publish(
        self,
        publish_id: str,
        *,
        exchange: str,
        routing_key: str,
        body: bytes,
        message_id: str,
        user_id: str | None,
        headers: Mapping[str, object] | None = None,
    ) -> None:
        """Queue a persistent, mandatory publish; its outcome comes once via ``on_published``.

        Thread-safe and never blocks. Raises InputError for values AMQP cannot carry, and
        TransportError once the link is stopped.
        """
        _check_publish(publish_id, exchange, routing_key, body, message_id)
        frozen = dict(headers) if headers else None
        try:  # encode once here, so that a bad header fails in the caller's thread
            pika.BasicProperties(message_id=message_id, user_id=user_id, headers=frozen).encode()
        except Exception as exc:  # noqa: BLE001 - any encoding failure is the caller's input
            kind = type(exc).__name__
            raise InputError(f"publish: properties cannot be encoded ({kind})") from None
        outgoing = Outgoing(publish_id, exchange, routing_key, body, message_id, user_id, frozen)
        if not self._post(outgoing):
            raise TransportError("the AMQP link is stopped; publish refused")

    def ack(self, delivery: Delivery) -> None:
        """Acknowledge a delivery. Thread-safe; dropped (and logged) if its channel is gone."""
        self._post(Settle(delivery, ack=True))

    def reject(self, delivery: Delivery, *, requeue: bool) -> None:
        """Reject a delivery: requeue it, or let the queue dead-letter (or drop) it."""
        self._post(Settle(delivery, ack=False, requeue=requeue))

    @property
    def connected(self) -> bool:
        """True while a channel is open, in confirm mode and consuming (if there is an inbox)."""
        return self._engine.ready.is_set()

    def wait_connected(self, timeout: float) -> bool:
        """Wait until ``connected``; False if ``timeout`` seconds passed first."""
        return self._engine.ready.wait(timeout)

    def queue_depth(self, queue: str, *, max_age: float = 30.0) -> int | None:
        """How many messages ``queue`` held when the broker last said (a passive declare: an
        office may declare its own queues, docs/topology.md), or None when it has not said in
        the last ``2 * max_age`` seconds. Asks again in the background, while connected, at
        most every ``max_age`` seconds. Thread-safe; never blocks."""
        now = time.monotonic()
        with self._lock:
            known = self._depths.get(queue)
            asked = self._asked.get(queue)
            fresh = known is not None and now - known[1] < max_age
            due = not fresh and (asked is None or now - asked >= max_age)
            if due and self.connected and self._accepting and self._ioloop is not None:
                self._asked[queue] = now
                probe = partial(self._engine.probe_queue, queue, self._note_depth)
                self._ioloop.add_callback_threadsafe(probe)
        if known is None or now - known[1] >= 2 * max_age:
            return None
        return known[0]

    def _note_depth(self, queue: str, count: int) -> None:
        with self._lock:  # on the I/O thread: just note it
            self._depths[queue] = (count, time.monotonic())

    def health(self) -> LinkHealth:
        """A snapshot for status output (values may be a moment old)."""
        with self._lock:
            queued = sum(isinstance(command, Outgoing) for command in self._commands)
        engine, session = self._engine, self._engine.session
        return LinkHealth(
            state=engine.state,
            url=self._addresses[engine.url_index].redacted(),
            last_error=engine.last_error,
            reconnect_count=max(0, engine.attempts - 1),
            unconfirmed_publishes=self._tracker.unconfirmed_count + queued,
            in_flight_publishes=self._tracker.in_flight_count,
            republished_count=self._tracker.republished_count,
            unacked_deliveries=len(session.unacked) if session is not None else 0,
            dropped_settlements=engine.dropped,
            channel_generation=engine.generation,
        )

    def _post(self, command: Outgoing | Settle) -> bool:
        with self._lock:
            if not self._accepting:
                if isinstance(command, Settle):
                    _log.warning("amqp_settlement_dropped", reason="the link is stopped")
                return False
            self._commands.append(command)
            if self._ioloop is not None and not self._wake_pending:
                self._wake_pending = True
                self._ioloop.add_callback_threadsafe(self._drain_commands)
        return True

    # ------------------------------------------------------------------ I/O thread

    def _run(self) -> None:
        loop = self._ioloop
        loop.call_later(0, self._drain_commands)
        try:
            self._engine.run(loop)
        finally:
            with self._lock:
                self._accepting = False
                self._commands.clear()
            loop.close()
            self._engine.stopped()

    def _drain_commands(self) -> None:
        with self._lock:
            commands = list(self._commands)
            self._commands.clear()
            self._wake_pending = False
        for command in commands:
            if isinstance(command, Settle):
                self._engine.settle(command)
            else:
                self._engine.submit(command)
        self._engine.pump()
