"""Publishing the outbox: the sending side of the daemon (its core thread).

Each queued delivery is one publish: exchange ``liaison.envelopes``, routing key
``from.<us>.to.<recipient>``, ``message_id`` the envelope's id in hex, ``user_id`` our broker
user, the envelope as body; persistent, mandatory, confirmed (``AmqpLink``). Many are in
flight at once. Its first attempt is logged PUBLISHED *before* it is handed to the link (the
entry is durable before the broker can have it). Outcomes: CONFIRMED -> published (logged once);
RETURNED -> returned with the broker's reason (final; the operator decides); NACKED -> tried
again after an exponential backoff. Anything unconfirmed when the daemon stops stays queued and
is published again on the next start: the receiver dedupes by message id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from broker.amqp import Published, PublishOutcome
from broker.errors import InputError, TransportError
from broker.log import get_logger
from broker.office_store import OfficeStore
from broker.topology import ENVELOPE_EXCHANGE, routing_key


def _log() -> Any:
    # Looked up at each use: a logger bound at import time would keep structlog's defaults
    # (stdout, no redaction) if configure_logging runs later, as it does in the CLI.
    return get_logger("outbox")


class PublishLink(Protocol):
    """The part of ``broker.amqp.AmqpLink`` the publisher uses."""

    def publish(
        self,
        publish_id: str,
        *,
        exchange: str,
        routing_key: str,
        body: bytes,
        message_id: str,
        user_id: str | None,
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """After a nack, wait ``base * 2**(attempts-1)`` seconds, at most ``cap``."""

    base: timedelta = timedelta(seconds=1)
    cap: timedelta = timedelta(minutes=5)

    def delay(self, attempts: int) -> timedelta:
        factor: int = 2 ** min(max(attempts, 1) - 1, 20)
        return min(self.cap, self.base * factor)


@dataclass
class OutboundCounts:
    published: int = 0
    confirmed: int = 0
    returned: int = 0
    nacked: int = 0


@dataclass(frozen=True, slots=True)
class _InFlight:
    message_id: bytes
    recipient: str
    attempts: int


def publish_id(message_id: bytes, recipient: str) -> str:
    return f"{message_id.hex()}:{recipient}"


class Publisher:
    """Publishes due deliveries and records their outcomes."""

    def __init__(
        self,
        store: OfficeStore,
        link: PublishLink,
        *,
        office_id: str,
        user: str,
        max_in_flight: int = 1000,
        retry: RetryPolicy = RetryPolicy(),
    ) -> None:
        self._store = store
        self._link = link
        self._office_id = office_id
        self._user = user
        self._max_in_flight = max_in_flight
        self._retry = retry
        self._in_flight: dict[str, _InFlight] = {}
        self.counts = OutboundCounts()
        self.stopped = False

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def publish_due(self, now: datetime) -> int:
        """Hand every due delivery to the link (up to the in-flight bound); how many."""
        room = self._max_in_flight - len(self._in_flight)
        if room <= 0 or self.stopped:
            return 0
        busy = {(f.message_id, f.recipient) for f in self._in_flight.values()}
        items = self._store.publishable(now, limit=room, busy=busy)
        if not items:
            return 0
        self._store.note_attempts(items, now)  # PUBLISHED is durable before the broker has it
        sent = 0
        for item in items:
            key = publish_id(item.message_id, item.recipient)
            try:
                self._link.publish(
                    key,
                    exchange=ENVELOPE_EXCHANGE,
                    routing_key=routing_key(self._office_id, item.recipient),
                    body=item.envelope,
                    message_id=item.message_id.hex(),
                    user_id=self._user,
                )
            except TransportError:
                self.stopped = True  # the link is stopping: the rest waits for the next start
                break
            except InputError as exc:  # AMQP cannot carry it: it would never go
                _log().error("publish_refused", message_id=item.message_id, exc_info=exc)
                self._store.record_returned(item.message_id, item.recipient, "unpublishable", now)
                continue
            self._in_flight[key] = _InFlight(item.message_id, item.recipient, item.attempts + 1)
            sent += 1
        self.counts.published += sent
        return sent

    def settle(self, published: Published, now: datetime) -> None:
        """Record the broker's outcome of one publish."""
        flight = self._in_flight.pop(published.publish_id, None)
        if flight is None:
            return  # not ours, or already settled: the link reports each once
        mid, recipient = flight.message_id, flight.recipient
        if published.outcome is PublishOutcome.CONFIRMED:
            self._store.record_confirmed(mid, recipient, now)
            self.counts.confirmed += 1
            _log().debug("publish_confirmed", message_id=mid, recipient=recipient)
        elif published.outcome is PublishOutcome.RETURNED:
            self._store.record_returned(mid, recipient, published.detail, now)
            self.counts.returned += 1
            _log().warning(
                "publish_returned", message_id=mid, recipient=recipient, reason=published.detail
            )
        else:
            delay = self._retry.delay(flight.attempts)
            self._store.retry_later(mid, recipient, now + delay)
            self.counts.nacked += 1
            _log().warning(
                "publish_nacked",
                message_id=mid,
                recipient=recipient,
                reason=published.detail,
                delay=delay.total_seconds(),
            )
