"""Liaison's RabbitMQ topology as code (docs/topology.md). Pure: no broker, no files, no clock.

``names`` says what everything is called (exchange, queues, routing keys, users) and what each
office's user may do; ``passwords`` makes broker passwords and RabbitMQ's salted hashes;
``definitions`` builds the definitions document a broker imports; ``routes`` reads the
hand-written routes file; ``links`` adds what two sites need to exchange envelopes (outbound
queues, link users, shovels) and ``sites`` reads the sites file that says how sites reach each
other. ``broker.rabbitmq_admin`` applies a document to a real broker.
"""

from broker.topology.definitions import (
    OfficeRoute,
    build_definitions,
    dead_letter_arguments,
    inbox_arguments,
    publish_targets,
    remote_partners,
)
from broker.topology.links import (
    SiteLink,
    add_links,
    link_permissions,
    link_user,
    links_of,
    outbound_queue,
    shovel_name,
    shovel_parameters,
    site_links,
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
from broker.topology.sites import Site, parse_sites

__all__ = [
    "DEAD_LETTER_EXCHANGE",
    "DEAD_LETTER_PREFIX",
    "DEFAULT_DELIVERY_LIMIT",
    "ENVELOPE_EXCHANGE",
    "HASHING_ALGORITHM",
    "INBOX_PREFIX",
    "OfficePermissions",
    "OfficeRoute",
    "Site",
    "SiteLink",
    "add_links",
    "amqp_user",
    "build_definitions",
    "dead_letter_arguments",
    "dead_letter_queue",
    "dead_letter_routing_key",
    "inbox_arguments",
    "inbox_binding_key",
    "inbox_queue",
    "link_permissions",
    "link_user",
    "links_of",
    "new_password",
    "office_of_user",
    "office_permissions",
    "office_word",
    "outbound_queue",
    "parse_routes",
    "parse_routing_key",
    "parse_sites",
    "password_matches",
    "publish_targets",
    "rabbit_password_hash",
    "remote_partners",
    "routes_from_document",
    "routing_key",
    "shovel_name",
    "shovel_parameters",
    "site_links",
]
