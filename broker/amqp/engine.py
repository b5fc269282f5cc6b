"""The I/O-thread half of the AMQP link: connection attempts, failover, backoff and stopping.

Everything here runs on the link's I/O thread, inside pika's IOLoop. One connection at a time;
on it, one :class:`~broker.amqp.channel.ChannelSession` at a time. Whatever ends either (network
loss, the broker closing it, a refused login, ``blocked_connection_timeout`` during a resource
alarm) schedules the next step after a jittered backoff: a new channel on the same connection,
or a new connection to the next URL. The backoff restarts from zero once a channel has been up
for :data:`STABLE_AFTER` seconds.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from typing import Any

import pika  # noqa: TID251 - this package owns pika
import pika.exceptions  # noqa: TID251

from broker.amqp.channel import ChannelSession, Settle, describe
from broker.amqp.confirms import ConfirmTracker, Outgoing
from broker.amqp.parameters import connection_parameters
from broker.amqp.settings import AmqpSettings, auth_retry_delay, backoff_delay
from broker.amqp.values import Delivery, LinkState, Published
from broker.log import get_logger

__all__ = ["CLOSE_GRACE", "STABLE_AFTER", "LinkEngine"]

_log = get_logger("amqp")

STABLE_AFTER = 5.0  # seconds a channel must stay up before the backoff starts from scratch
CLOSE_GRACE = 2.0  # seconds stop() allows the close handshake, at most
_REFUSED_LOGIN = (
    pika.exceptions.ProbableAuthenticationError,
    pika.exceptions.AuthenticationError,
    pika.exceptions.ProbableAccessDeniedError,
)


class LinkEngine:
    """Owns the connection and its channel session; every method runs on the I/O thread."""

    def __init__(
        self,
        settings: AmqpSettings,
        *,
        inbox: str | None,
        tracker: ConfirmTracker,
        on_delivery: Callable[[Delivery], None],
        on_published: Callable[[Published], None],
        on_state: Callable[[str], None],
        rng: Callable[[], float],
    ) -> None:
        self._settings = settings
        self._addresses = settings.addresses
        self._inbox = inbox
        self._tracker = tracker
        self._on_delivery = on_delivery
        self._on_published = on_published
        self._on_state = on_state
        self._rng = rng
        self._ioloop: Any = None
        self._connection: Any = None
        self._timers: dict[str, Any] = {}
        self._failures = 0
        self._blocked = False
        self._stopping = False
        self._closing = False
        # Read by other threads for health(): plain values, replaced atomically.
        self.ready = threading.Event()
        self.session: ChannelSession | None = None
        self.state = LinkState.IDLE
        self.url_index = 0
        self.generation = 0
        self.last_error = ""
        self.attempts = 0
        self.dropped = 0

    # ------------------------------------------------------------------ driven by the link

    def run(self, ioloop: Any) -> None:
        """Connect and serve until stopped; returns on the I/O thread once the loop has ended."""
        self._ioloop = ioloop
        ioloop.call_later(0, self._connect)
        while not self._stopping:
            try:
                ioloop.start()
            except Exception as exc:  # noqa: BLE001 - a bug in a callback must not end the link
                _log.error("amqp_io_loop_error", reason=describe(exc), exc_info=exc)
        for handle in self._timers.values():
            ioloop.remove_timeout(handle)
        self._timers.clear()
        self._connection = self.session = None
        self.ready.clear()

    def stopped(self) -> None:
        self._set_state(LinkState.STOPPED)

    def submit(self, outgoing: Outgoing) -> None:
        if not self._tracker.submit(outgoing):
            _log.warning("amqp_duplicate_publish_ignored", publish_id=outgoing.publish_id)

    def settle(self, command: Settle) -> None:
        session = self.session
        if session is not None and session.settle(command):
            return
        self.dropped += 1
        stale = session is None or command.delivery.generation != session.generation
        _log.warning(
            "amqp_settlement_dropped",
            delivery_tag=command.delivery.tag,
            generation_index=command.delivery.generation,
            reason="its channel is gone; the broker requeued it" if stale else "not pending",
        )

    def pump(self) -> None:
        if self.session is not None:
            self.session.pump()

    def begin_stop(self, drain: float) -> None:
        """Stop consuming, wait up to ``drain`` seconds for in-flight confirms, then close."""
        if self._stopping:
            return
        self._stopping = True
        self._set_state(LinkState.STOPPING)
        for name in ("connect", "channel", "consume", "stable"):
            self._cancel(name)
        if self._connection is None:
            self._ioloop.stop()
            return
        if self.session is not None:
            self.session.paused = True
            self.session.cancel_consumer()
        self._later("drain", drain, self._close_now)
        self._close_when_drained()

    def force_stop(self) -> None:
        self._stopping = True
        self._ioloop.stop()

    def probe_queue(self, queue: str, on_count: Callable[[str, int], None]) -> None:
        """Ask the broker how many messages ``queue`` holds, with a passive declare on a
        short-lived channel of its own: a refusal (404 no such queue, 403) closes that channel
        only, never the session's, whose publishes in flight would be sent again. Skipped while
        disconnected, blocked (the broker reads nothing then) or stopping."""
        connection = self._connection
        if connection is None or not connection.is_open or self._stopping or self._blocked:
            return

        def declared(channel: Any, frame: Any) -> None:
            on_count(queue, int(frame.method.message_count))
            if channel.is_open:
                channel.close()

        def closed(_channel: Any, exc: BaseException) -> None:
            if isinstance(exc, pika.exceptions.ChannelClosedByBroker):
                _log.warning("amqp_probe_refused", queue=queue, reason=describe(exc))

        def opened(channel: Any) -> None:
            channel.add_on_close_callback(closed)
            channel.queue_declare(queue, passive=True, callback=partial(declared, channel))

        try:
            connection.channel(on_open_callback=opened)
        except Exception as exc:  # noqa: BLE001 - a probe must never disturb the link
            _log.warning("amqp_probe_failed", queue=queue, reason=describe(exc))

    # ------------------------------------------------------------------ timers and state

    def _later(self, name: str, delay: float, callback: Callable[[], None]) -> None:
        self._cancel(name)

        def fire() -> None:
            self._timers.pop(name, None)
            callback()

        self._timers[name] = self._ioloop.call_later(delay, fire)

    def _cancel(self, name: str) -> None:
        handle = self._timers.pop(name, None)
        if handle is not None:
            self._ioloop.remove_timeout(handle)

    def _set_state(self, state: LinkState) -> None:
        if state is self.state:
            return
        self.state = state
        try:
            self._on_state(state)
        except Exception as exc:  # noqa: BLE001 - the owner's bug must not break the link
            _log.error("amqp_on_state_failed", state=state.value, exc_info=exc)

    def _backoff(self) -> float:
        self._failures += 1
        return backoff_delay(self._failures, cap=self._settings.max_backoff, rng=self._rng)

    # ------------------------------------------------------------------ connection

    def _connect(self) -> None:
        address = self._addresses[self.url_index]
        self.attempts += 1
        self._set_state(LinkState.CONNECTING)
        _log.info("amqp_connecting", url=address.redacted(), attempt=self.attempts)
        try:
            self._connection = pika.SelectConnection(
                connection_parameters(self._settings, address),
                on_open_callback=self._on_connection_open,
                on_open_error_callback=self._on_connection_open_error,
                on_close_callback=self._on_connection_closed,
                custom_ioloop=self._ioloop,
            )
        except Exception as exc:  # noqa: BLE001 - e.g. an unreadable TLS file: retry later
            self._connection = None
            self._retry_connection(describe(exc), refused_login=False)

    def _on_connection_open(self, connection: Any) -> None:
        if connection is not self._connection:
            return
        _log.info("amqp_connected", url=self._addresses[self.url_index].redacted())
        connection.add_on_connection_blocked_callback(self._on_blocked)
        connection.add_on_connection_unblocked_callback(self._on_unblocked)
        if self._stopping:
            self._close_now()
        else:
            self._open_channel()

    def _on_connection_open_error(self, connection: Any, exc: BaseException) -> None:
        if connection is not self._connection:
            return
        self._connection = None
        if self._stopping:
            self._ioloop.stop()
            return
        refused = isinstance(exc, _REFUSED_LOGIN) or (
            isinstance(exc, pika.exceptions.ConnectionClosedByBroker) and exc.reply_code == 403
        )
        self._retry_connection(describe(exc), refused_login=refused)

    def _on_connection_closed(self, connection: Any, exc: BaseException) -> None:
        if connection is not self._connection:
            return
        self._connection = None
        self._blocked = False
        reason = describe(exc)
        if self.session is not None:  # pika normally closed it first; this is a safety net
            self.channel_closed(self.session, reason, by_broker=False)
        if self._stopping:
            self._ioloop.stop()
            return
        self._retry_connection(reason, refused_login=False)

    def _retry_connection(self, reason: str, *, refused_login: bool) -> None:
        """After a failed attempt or a lost connection: back off, then try the next URL."""
        url = self._addresses[self.url_index].redacted()
        self.last_error = reason
        self._cancel("stable")
        if refused_login:
            self._failures += 1
            delay = auth_retry_delay(cap=self._settings.max_backoff, rng=self._rng)
            _log.error("amqp_login_refused", url=url, reason=reason, delay=round(delay, 3))
            self._set_state(LinkState.AUTH_FAILED)
        else:
            delay = self._backoff()
            _log.warning("amqp_disconnected", url=url, reason=reason, delay=round(delay, 3))
            self._set_state(LinkState.DISCONNECTED)
        self.url_index = (self.url_index + 1) % len(self._addresses)
        self._later("connect", delay, self._connect)

    def _on_blocked(self, _connection: Any, frame: Any) -> None:
        self._blocked = True
        _log.warning("amqp_blocked", reason=str(getattr(frame.method, "reason", ""))[:200])
        if self.session is not None:
            self.session.paused = True
        self._set_state(LinkState.BLOCKED)

    def _on_unblocked(self, _connection: Any, _frame: Any) -> None:
        self._blocked = False
        _log.info("amqp_unblocked")
        session = self.session
        if session is not None and not self._stopping:
            session.paused = False
            if session.ready:
                self._set_state(LinkState.CONNECTED)
            session.pump()

    # ------------------------------------------------------------------ channel events

    def _open_channel(self) -> None:
        connection = self._connection
        if connection is None or not connection.is_open or self._stopping:
            return
        self.generation += 1
        self.session = ChannelSession(
            connection,
            self.generation,
            inbox=self._inbox,
            prefetch=self._settings.prefetch,
            tracker=self._tracker,
            on_delivery=self._on_delivery,
            events=self,
        )

    def channel_ready(self, session: ChannelSession) -> None:
        if session is not self.session or self._stopping:
            return
        _log.info("amqp_ready", queue=self._inbox or "", generation_index=session.generation)
        session.paused = self._blocked or self._stopping
        self.ready.set()
        self._set_state(LinkState.BLOCKED if self._blocked else LinkState.CONNECTED)
        self._later("stable", STABLE_AFTER, self._on_stable)
        session.pump()

    def _on_stable(self) -> None:
        self._failures = 0

    def channel_closed(self, session: ChannelSession, reason: str, *, by_broker: bool) -> None:
        """The channel is gone: its unconfirmed publishes go back in line for the next one."""
        if session is not self.session:
            return
        self.session = None
        self.ready.clear()
        for name in ("stable", "channel", "consume"):
            self._cancel(name)
        for refused in self._tracker.channel_lost(closed_by_broker=by_broker, reason=reason):
            _log.error("amqp_publish_refused", publish_id=refused.publish_id, reason=reason)
            self.report(refused)
        connection = self._connection
        if connection is None or not connection.is_open:
            return  # the connection is going down too; _on_connection_closed takes over
        if self._stopping:
            self._close_now()
            return
        self.last_error = reason
        delay = self._backoff()
        _log.warning("amqp_channel_closed", reason=reason, delay=round(delay, 3))
        self._set_state(LinkState.DISCONNECTED)
        self._later("channel", delay, self._open_channel)

    def consumer_cancelled(self, session: ChannelSession) -> None:
        # The broker cancelled our consumer (queue deleted, leader moved): consume again.
        if session is not self.session or self._stopping:
            return
        delay = self._backoff()
        _log.warning("amqp_consumer_cancelled", queue=self._inbox or "", delay=round(delay, 3))
        self._later("consume", delay, session.consume)

    def report(self, published: Published) -> None:
        try:
            self._on_published(published)
        except Exception as exc:  # noqa: BLE001 - the owner's bug must not break the link
            _log.error("amqp_on_published_failed", publish_id=published.publish_id, exc_info=exc)
        if self._stopping:
            self._close_when_drained()

    # ------------------------------------------------------------------ stopping

    def _close_when_drained(self) -> None:
        if self._tracker.in_flight_count == 0:
            self._close_now()

    def _close_now(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._cancel("drain")
        connection = self._connection
        if connection is None or connection.is_closed:
            self._ioloop.stop()
            return
        self._later("close", CLOSE_GRACE, self.force_stop)
        try:
            if not connection.is_closing:
                connection.close(reply_text="liaison stopping")
        except Exception as exc:  # noqa: BLE001 - stop regardless
            _log.warning("amqp_close_failed", reason=describe(exc))
            self._ioloop.stop()
