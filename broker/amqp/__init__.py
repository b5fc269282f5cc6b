"""Liaison's AMQP transport: the only package that talks to pika (see docs/transport.md).

``AmqpLink`` keeps one connection to the site's brokers alive, publishes with pipelined
publisher confirms (at-least-once: unconfirmed publishes are sent again after a reconnect) and
consumes one inbox, with acks that any thread may send.
"""

from broker.amqp.link import AmqpLink
from broker.amqp.settings import AmqpSettings, BrokerAddress, parse_broker_url
from broker.amqp.values import Delivery, LinkHealth, LinkState, Published, PublishOutcome

__all__ = [
    "AmqpLink",
    "AmqpSettings",
    "BrokerAddress",
    "Delivery",
    "LinkHealth",
    "LinkState",
    "PublishOutcome",
    "Published",
    "parse_broker_url",
]
