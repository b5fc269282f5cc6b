"""Liaison's RabbitMQ topology as code (docs/topology.md). Pure: no broker, no files, no clock.

``names`` says what everything is called (exchange, queues, routing keys, users) and what each
office's user may do; ``passwords`` makes broker passwords and RabbitMQ's salted hashes;
``definitions`` builds the definitions document a broker imports; ``routes`` reads the
hand-written routes file. ``broker.rabbitmq_admin`` applies a document to a real broker.
"""

from broker.topology.definitions import (
    OfficeRoute,
    build_definitions,
    dead_letter_arguments,
    inbox_arguments,
    publish_targets,
    remote_partners,
)
from broker.topology.names import (
    DEAD_LETTER_EXCHANGE,
    DEAD_LETTER_PREFIX,
    DEFAULT_DELIVERY_LIMIT,
    ENVELOPE_EXCHANGE,
    INBOX_PREFIX,
    OfficePermissions,
    amqp_user,
    dead_letter_queue,
    dead_letter_routing_key,
    inbox_binding_key,
    inbox_queue,
    office_of_user,
    office_permissions,
    office_word,
    parse_routing_key,
    routing_key,
)
from broker.topology.passwords import (
    HASHING_ALGORITHM,
    new_password,
    password_matches,
    rabbit_password_hash,
)
from broker.topology.routes import parse_routes, routes_from_document

__all__ = [
    "DEAD_LETTER_EXCHANGE",
    "DEAD_LETTER_PREFIX",
    "DEFAULT_DELIVERY_LIMIT",
    "ENVELOPE_EXCHANGE",
    "HASHING_ALGORITHM",
    "INBOX_PREFIX",
    "OfficePermissions",
    "OfficeRoute",
    "amqp_user",
    "build_definitions",
    "dead_letter_arguments",
    "dead_letter_queue",
    "dead_letter_routing_key",
    "inbox_arguments",
    "inbox_binding_key",
    "inbox_queue",
    "new_password",
    "office_of_user",
    "office_permissions",
    "office_word",
    "parse_routes",
    "parse_routing_key",
    "password_matches",
    "publish_targets",
    "rabbit_password_hash",
    "remote_partners",
    "routes_from_document",
    "routing_key",
]
