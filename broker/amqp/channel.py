"""One channel incarnation of the AMQP link: confirm mode, qos, the inbox consumer, publishing.

A :class:`ChannelSession` lives on the I/O thread from ``connection.channel()`` until the channel
closes; the next one gets a higher ``generation``. Deliveries carry the generation they came
from, and a settlement for another generation is dropped: the broker requeued those messages
when their channel closed, and acking their tags on a new channel would close it with 406.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol

import pika  # noqa: TID251 - this package owns pika
import pika.exceptions  # noqa: TID251
import pika.spec  # noqa: TID251

from broker.amqp.confirms import ConfirmTracker
from broker.amqp.values import Delivery, Published
from broker.log import get_logger

__all__ = ["ChannelEvents", "ChannelSession", "Settle", "describe"]

_log = get_logger("amqp")


def describe(exc: BaseException | None) -> str:
    """One line about why pika gave up: reply code and text when the peer sent them."""
    if exc is None:
        return "unknown"
    code, text = getattr(exc, "reply_code", None), getattr(exc, "reply_text", None)
    if code is not None:
        return f"{code} {text}"[:300]
    # pika wraps the cause (a socket error, a failed workflow) in layers; name the innermost.
    for _ in range(5):
        failures = getattr(exc, "exceptions", None)
        if failures:
            exc = failures[-1]
        elif len(exc.args) == 1 and isinstance(exc.args[0], BaseException):
            exc = exc.args[0]
        else:
            break
    name, said = type(exc).__name__, str(exc) or repr(exc)
    return (said if said.startswith(name) else f"{name}: {said}")[:300]


@dataclass(frozen=True, slots=True)
class Settle:
    """An ack (``ack``) or a reject (with ``requeue``) asked for by the owner."""

    delivery: Delivery
    ack: bool
    requeue: bool = False


class ChannelEvents(Protocol):
    """What a session tells the link engine (all on the I/O thread)."""

    def channel_ready(self, session: ChannelSession) -> None: ...
    def channel_closed(self, session: ChannelSession, reason: str, *, by_broker: bool) -> None: ...
    def consumer_cancelled(self, session: ChannelSession) -> None: ...
    def report(self, published: Published) -> None: ...


class ChannelSession:
    """One channel: set up, consume, publish from the tracker, settle deliveries."""

    def __init__(
        self,
        connection: Any,
        generation: int,
        *,
        inbox: str | None,
        prefetch: int,
        tracker: ConfirmTracker,
        on_delivery: Callable[[Delivery], None],
        events: ChannelEvents,
    ) -> None:
        self.generation = generation
        self.ready = False  # confirm mode on, qos set, consuming (when there is an inbox)
        self.paused = False  # blocked by a resource alarm, or stopping: do not publish
        self.unacked: set[int] = set()
        self._inbox = inbox
        self._prefetch = prefetch
        self._tracker = tracker
        self._on_delivery = on_delivery
        self._events = events
        self._channel: Any = None
        self._consumer_tag: str | None = None
        self._may_consume = True
        self._gone = False
        connection.channel(on_open_callback=self._on_open)

    @property
    def is_open(self) -> bool:
        return not self._gone and self._channel is not None and self._channel.is_open

    def _on_open(self, channel: Any) -> None:
        self._channel = channel
        channel.add_on_close_callback(self._on_closed)
        channel.add_on_return_callback(self._on_return)
        channel.add_on_cancel_callback(self._on_cancelled)
        channel.confirm_delivery(self._on_confirm, callback=self._on_confirm_selected)

    def _on_confirm_selected(self, _frame: Any) -> None:
        if self.is_open:
            self._channel.basic_qos(prefetch_count=self._prefetch, callback=self._on_qos_set)

    def _on_qos_set(self, _frame: Any) -> None:
        if self._inbox is None:
            self._became_ready()
        else:
            self.consume()

    def consume(self) -> None:
        """Start (or, after the broker cancelled it, restart) the inbox consumer."""
        inbox = self._inbox
        if inbox is None or not self._may_consume or not self.is_open or self._consumer_tag:
            return
        self._consumer_tag = self._channel.basic_consume(
            inbox, self._on_message, callback=lambda _frame: self._became_ready()
        )

    def _became_ready(self) -> None:
        if self.is_open:
            self.ready = True
            self._events.channel_ready(self)

    def cancel_consumer(self) -> None:
        """Stop deliveries for good (stop() does this first); pika rejects, with requeue, any
        still on their way."""
        self._may_consume = False
        if self._consumer_tag is not None and self.is_open:
            try:
                self._channel.basic_cancel(self._consumer_tag)
            except Exception as exc:  # noqa: BLE001 - closing follows anyway
                _log.warning("amqp_cancel_failed", reason=describe(exc))

    def close(self) -> None:
        if self.is_open:
            self._channel.close()

    def _on_cancelled(self, _frame: Any) -> None:
        self._consumer_tag = None
        self._events.consumer_cancelled(self)

    def _on_closed(self, _channel: Any, reason: BaseException) -> None:
        if self._gone:
            return
        self._gone = True
        self.ready = False
        self.unacked.clear()
        by_broker = isinstance(reason, pika.exceptions.ChannelClosedByBroker)
        self._events.channel_closed(self, describe(reason), by_broker=by_broker)

    # ------------------------------------------------------------------ consuming

    def _on_message(self, _channel: Any, method: Any, properties: Any, body: bytes) -> None:
        headers = dict(properties.headers or {})
        count = headers.get("x-delivery-count")  # a pika ``long``: an int subclass
        delivery = Delivery(
            tag=method.delivery_tag,
            generation=self.generation,
            body=body,
            routing_key=method.routing_key,
            user_id=properties.user_id,
            message_id=properties.message_id,
            redelivered=bool(method.redelivered),
            delivery_count=None
            if isinstance(count, bool) or not isinstance(count, int)
            else int(count),
            headers=MappingProxyType(headers),
        )
        self.unacked.add(delivery.tag)
        try:
            self._on_delivery(delivery)
        except Exception as exc:  # noqa: BLE001 - requeue: the queue's delivery limit ends a loop
            _log.error("amqp_on_delivery_failed", delivery_tag=delivery.tag, exc_info=exc)
            self.settle(Settle(delivery, ack=False, requeue=True))

    def settle(self, command: Settle) -> bool:
        """Ack or reject on this channel; False if it is not this channel's pending delivery."""
        tag = command.delivery.tag
        if command.delivery.generation != self.generation or tag not in self.unacked:
            return False
        if not self.is_open:
            return False
        self.unacked.discard(tag)
        try:
            if command.ack:
                self._channel.basic_ack(tag)
            else:
                self._channel.basic_reject(tag, requeue=command.requeue)
        except Exception as exc:  # noqa: BLE001 - the channel is closing; the broker requeues
            _log.warning("amqp_settle_failed", delivery_tag=tag, reason=describe(exc))
        return True

    # ------------------------------------------------------------------ publishing

    def pump(self) -> None:
        """Send pending publishes while the confirm window has room."""
        if not self.ready or self.paused or not self.is_open:
            return
        while (outgoing := self._tracker.next_to_send()) is not None:
            properties = pika.BasicProperties(
                delivery_mode=pika.spec.PERSISTENT_DELIVERY_MODE,
                message_id=outgoing.message_id,
                user_id=outgoing.user_id,
                headers=dict(outgoing.headers) if outgoing.headers else None,
            )
            try:
                self._channel.basic_publish(
                    outgoing.exchange,
                    outgoing.routing_key,
                    outgoing.body,
                    properties,
                    mandatory=True,
                )
            except Exception as exc:  # noqa: BLE001 - resync on a fresh channel
                _log.error("amqp_publish_failed", publish_id=outgoing.publish_id, exc_info=exc)
                self.close()
                return
            self._tracker.sent(outgoing)

    def _on_return(self, _channel: Any, method: Any, properties: Any, _body: bytes) -> None:
        publish_id = self._tracker.returned(
            properties.message_id, method.exchange, method.routing_key, method.reply_text
        )
        _log.info(
            "amqp_publish_returned",
            publish_id=publish_id or "",
            reason=method.reply_text,
            exchange=method.exchange,
            routing_key=method.routing_key,
        )

    def _on_confirm(self, frame: Any) -> None:
        if self._gone:
            return
        method = frame.method
        ack = isinstance(method, pika.spec.Basic.Ack)
        multiple = bool(method.multiple)
        for published in self._tracker.confirmed(method.delivery_tag, multiple=multiple, ack=ack):
            self._events.report(published)
        self.pump()
