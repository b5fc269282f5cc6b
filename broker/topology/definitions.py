"""The RabbitMQ definitions document of one Liaison site: vhost, exchanges, queues, users. Pure.

``build_definitions`` returns what ``rabbitmqctl import_definitions`` (or the management API)
loads: one vhost; the topic exchange for envelopes; per office a quorum inbox with a delivery
limit and at-least-once dead-lettering into its own quorum dead-letter queue; per office one user
with the least privilege (``names.office_permissions``). Passwords appear only as salted hashes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from broker.errors import InvalidMessage
from broker.topology.names import (
    DEAD_LETTER_EXCHANGE,
    DEFAULT_DELIVERY_LIMIT,
    ENVELOPE_EXCHANGE,
    amqp_user,
    check_user_prefix,
    dead_letter_queue,
    dead_letter_routing_key,
    inbox_binding_key,
    inbox_queue,
    office_permissions,
    office_word,
)
from broker.topology.passwords import HASHING_ALGORITHM, Rng, rabbit_password_hash

MAX_VHOST_CHARS = 255


@dataclass(frozen=True, slots=True)
class OfficeRoute:
    """An office this broker serves, and the offices its agreements let it address."""

    office_id: str
    partners: frozenset[str]

    def __post_init__(self) -> None:
        office_word(self.office_id)
        if not isinstance(self.partners, frozenset):
            raise InvalidMessage("partners", "must be a frozenset of office ids")
        for partner in self.partners:
            office_word(partner, field="partners")
        if self.office_id in self.partners:
            raise InvalidMessage("partners", f"{self.office_id} cannot be its own partner")


def publish_targets(routes: Sequence[OfficeRoute]) -> dict[str, frozenset[str]]:
    """For each office served, every office it may publish to: its partners, and every office
    that may address it (receipts and responses travel back as envelopes)."""
    _check_unique(routes)
    targets = {route.office_id: set(route.partners) for route in routes}
    for route in routes:
        for partner in route.partners:
            if partner in targets:
                targets[partner].add(route.office_id)
    return {office: frozenset(found) for office, found in targets.items()}


def remote_partners(routes: Sequence[OfficeRoute]) -> frozenset[str]:
    """Partners that have no inbox on this broker (served by another site, or misspelt)."""
    served = {route.office_id for route in routes}
    return frozenset(p for route in routes for p in route.partners) - served


def inbox_arguments(
    office_id: str, *, delivery_limit: int = DEFAULT_DELIVERY_LIMIT
) -> dict[str, Any]:
    """A quorum inbox that dead-letters a message after ``delivery_limit`` failed deliveries.

    At-least-once dead-lettering needs ``reject-publish`` overflow: with the default
    ``drop-head`` RabbitMQ silently falls back to at-most-once (and only logs a warning).
    """
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": delivery_limit,
        "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
        "x-dead-letter-routing-key": dead_letter_routing_key(office_id),
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


def dead_letter_arguments() -> dict[str, Any]:
    """A dead-letter queue: quorum, kept until an operator inspects it."""
    return {"x-queue-type": "quorum"}


def build_definitions(
    routes: Sequence[OfficeRoute],
    *,
    vhost: str,
    passwords: Mapping[str, str],
    user_prefix: str = "",
    delivery_limit: int = DEFAULT_DELIVERY_LIMIT,
    rng: Rng = os.urandom,
) -> dict[str, Any]:
    """The definitions document for ``routes`` in ``vhost``; ``passwords`` maps office id to
    its broker password (hashed here with salts from ``rng``)."""
    _check_vhost(vhost)
    check_user_prefix(user_prefix)
    if isinstance(delivery_limit, bool) or not isinstance(delivery_limit, int):
        raise InvalidMessage("delivery_limit", "must be an integer")
    if not 1 <= delivery_limit <= 1000:
        raise InvalidMessage("delivery_limit", "must be between 1 and 1000")
    targets = publish_targets(routes)
    offices = sorted(targets)
    missing = [office for office in offices if not passwords.get(office)]
    if missing:
        raise InvalidMessage("passwords", f"no password for {', '.join(missing)}")

    users, permissions, topic_permissions = [], [], []
    queues, bindings = [], []
    for office in offices:
        user = amqp_user(office, user_prefix=user_prefix)
        allowed = office_permissions(office, targets[office])
        users.append(
            {
                "name": user,
                "password_hash": rabbit_password_hash(passwords[office], rng=rng),
                "hashing_algorithm": HASHING_ALGORITHM,
                "tags": [],
            }
        )
        permissions.append(
            {
                "user": user,
                "vhost": vhost,
                "configure": allowed.configure,
                "write": allowed.write,
                "read": allowed.read,
            }
        )
        topic_permissions.append(
            {
                "user": user,
                "vhost": vhost,
                "exchange": ENVELOPE_EXCHANGE,
                "write": allowed.topic_write,
                "read": allowed.topic_read,
            }
        )
        arguments = inbox_arguments(office, delivery_limit=delivery_limit)
        queues.append(_queue(inbox_queue(office), vhost, arguments))
        queues.append(_queue(dead_letter_queue(office), vhost, dead_letter_arguments()))
        bindings.append(
            _binding(ENVELOPE_EXCHANGE, vhost, inbox_queue(office), inbox_binding_key(office))
        )
        bindings.append(
            _binding(
                DEAD_LETTER_EXCHANGE,
                vhost,
                dead_letter_queue(office),
                dead_letter_routing_key(office),
            )
        )
    return {
        "users": users,
        "vhosts": [{"name": vhost}],
        "permissions": permissions,
        "topic_permissions": topic_permissions,
        "parameters": [],
        "global_parameters": [],
        "policies": [],
        "queues": queues,
        "exchanges": [
            _exchange(ENVELOPE_EXCHANGE, vhost, "topic"),
            # Not internal: RabbitMQ 3.10 leaves internal exchanges out of exported definitions,
            # so a backup would silently lose it. No office may write to it anyway.
            _exchange(DEAD_LETTER_EXCHANGE, vhost, "direct"),
        ],
        "bindings": bindings,
    }


def _check_unique(routes: Sequence[OfficeRoute]) -> None:
    seen: set[str] = set()
    for route in routes:
        if not isinstance(route, OfficeRoute):
            raise InvalidMessage("routes", "must hold OfficeRoute values")
        if route.office_id in seen:
            raise InvalidMessage("routes", f"{route.office_id} is listed twice")
        seen.add(route.office_id)


def _check_vhost(vhost: str) -> None:
    if not isinstance(vhost, str) or not vhost:
        raise InvalidMessage("vhost", "must be a non-empty name")
    if len(vhost) > MAX_VHOST_CHARS or not vhost.isprintable():
        raise InvalidMessage("vhost", f"must be at most {MAX_VHOST_CHARS} printable characters")


def _queue(name: str, vhost: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "vhost": vhost,
        "durable": True,
        "auto_delete": False,
        "arguments": arguments,
    }


def _exchange(name: str, vhost: str, kind: str) -> dict[str, Any]:
    return {
        "name": name,
        "vhost": vhost,
        "type": kind,
        "durable": True,
        "auto_delete": False,
        "internal": False,
        "arguments": {},
    }


def _binding(source: str, vhost: str, queue: str, key: str) -> dict[str, Any]:
    return {
        "source": source,
        "vhost": vhost,
        "destination": queue,
        "destination_type": "queue",
        "routing_key": key,
        "arguments": {},
    }
