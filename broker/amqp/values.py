"""Values the AMQP link hands to its owner: deliveries, publish outcomes, state and health."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["Delivery", "LinkHealth", "LinkState", "PublishOutcome", "Published"]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message from the inbox, to be settled with ``AmqpLink.ack`` or ``reject``.

    ``tag`` is only meaningful on the channel that delivered it: ``generation`` counts channel
    incarnations, and a settlement for an older one is dropped (the broker has already requeued
    the message and would close the new channel with 406 "unknown delivery tag").
    """

    tag: int
    generation: int
    body: bytes = field(repr=False)
    routing_key: str
    # Validated by the broker: it equals the publisher's login name when set.
    user_id: str | None
    message_id: str | None
    redelivered: bool
    # x-delivery-count of quorum queues: earlier failed deliveries. None when the header is
    # absent: other queue types, and (RabbitMQ 3.10) a quorum queue's first delivery.
    delivery_count: int | None
    headers: Mapping[str, object] = field(repr=False)


class PublishOutcome(enum.Enum):
    """How the broker settled one publish."""

    CONFIRMED = "confirmed"  # routed to at least one queue and safely stored there
    RETURNED = "returned"  # no queue matched (basic.return, then confirmed): not stored anywhere
    NACKED = "nacked"  # refused: basic.nack, or the publish itself kept closing the channel


@dataclass(frozen=True, slots=True)
class Published:
    """The outcome of ``AmqpLink.publish(publish_id, ...)``, reported exactly once."""

    publish_id: str
    outcome: PublishOutcome
    # The broker's words: reply text of a basic.return (``NO_ROUTE``) or of a channel close.
    detail: str = ""


class LinkState(enum.StrEnum):
    """What ``on_state`` reports. Values are stable: status output and logs use them."""

    IDLE = "idle"  # constructed, not started
    CONNECTING = "connecting"  # an attempt is under way
    CONNECTED = "connected"  # channel open, confirms on, consuming (if there is an inbox)
    BLOCKED = "blocked"  # the broker raised a resource alarm; publishes wait
    DISCONNECTED = "disconnected"  # lost or failed; a retry is scheduled
    AUTH_FAILED = "auth_failed"  # the broker refused our credentials; retrying slowly
    STOPPING = "stopping"  # stop() called: draining confirms, then closing
    STOPPED = "stopped"  # the I/O thread has ended


@dataclass(frozen=True, slots=True)
class LinkHealth:
    """A snapshot for status output and metrics."""

    state: LinkState
    # Redacted URL of the broker in use, or of the last one tried.
    url: str
    # Why the last connection or channel ended or failed; "" when none has.
    last_error: str
    # Connection attempts after the first one.
    reconnect_count: int
    # Publishes handed to the link and not yet settled (sent or waiting to be sent).
    unconfirmed_publishes: int
    # ... of which are on the wire, waiting for their confirm.
    in_flight_publishes: int
    # Sends of a publish that had been sent before (after a lost connection or channel).
    republished_count: int
    # Deliveries handed to on_delivery on the current channel and not yet settled.
    unacked_deliveries: int
    # Acks and rejects dropped because their channel was gone (or settled twice).
    dropped_settlements: int
    # Incarnation of the current channel: fresh deliveries carry it as Delivery.generation.
    channel_generation: int
