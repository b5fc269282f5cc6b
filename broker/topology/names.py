"""Every name the broker knows Liaison by: exchanges, queues, routing keys, users, permissions.

One encoding everywhere: an office id (``CN-YN-BLO-HK``: upper-case letters, digits, dashes) is
written in lower case as one *word* (``cn-yn-blo-hk``). A topic-exchange word may hold dashes,
and an office id never holds the ``.``, ``*`` or ``#`` that topic routing gives meaning to, so the
word is unambiguous and turns back into the id by upper-casing it. Queue names, routing keys,
dead-letter routing keys and broker user names all use the word. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from broker.config import OFFICE_ID
from broker.errors import InvalidMessage

# The topic exchange every envelope (enquiry, response, alert, receipt) is published to.
ENVELOPE_EXCHANGE = "liaison.envelopes"
# Where an inbox's poison messages go (direct, keyed by office word); no office may publish to it.
DEAD_LETTER_EXCHANGE = "liaison.dead-letters"
INBOX_PREFIX = "inbox."
DEAD_LETTER_PREFIX = "dead."
# Deliveries of one message before it is dead-lettered (RabbitMQ 4.0+ would default to 20).
DEFAULT_DELIVERY_LIMIT = 5
# Grants nothing: an empty regex would too, but "^$" says so.
NOTHING = "^$"

USER_PREFIX = re.compile(r"^([a-z0-9][a-z0-9_.-]{0,31})?$")
_ROUTING_KEY = re.compile(r"^from\.([a-z0-9-]+)\.to\.([a-z0-9-]+)$")
_PCRE_SPECIALS = frozenset("\\^$.|?*+()[]{}")


def pcre_escape(text: str) -> str:
    """``text`` as a literal in a RabbitMQ (PCRE) permission regex; dashes stay readable."""
    return "".join("\\" + char if char in _PCRE_SPECIALS else char for char in text)


def office_word(office_id: str, *, field: str = "office_id") -> str:
    """The office id as one routing-key word: ``CN-YN-BLO-HK`` -> ``cn-yn-blo-hk``."""
    if not isinstance(office_id, str) or not OFFICE_ID.fullmatch(office_id):
        raise InvalidMessage(field, f"{office_id!r} is not an office id (like CN-YN-BLO-HK)")
    return office_id.lower()


def check_user_prefix(user_prefix: str) -> str:
    """``user_prefix`` if it is a valid prefix of broker user names (may be empty)."""
    if not isinstance(user_prefix, str) or not USER_PREFIX.fullmatch(user_prefix):
        raise InvalidMessage(
            "user_prefix",
            f"{user_prefix!r} is not a user-name prefix (lower-case letters, digits, . _ -;"
            " at most 32)",
        )
    return user_prefix


def routing_key(sender: str, recipient: str) -> str:
    """The routing key of an envelope from ``sender`` to ``recipient``: both ends named."""
    return f"from.{office_word(sender)}.to.{office_word(recipient)}"


def parse_routing_key(key: str) -> tuple[str, str] | None:
    """(sender, recipient) office ids named by a routing key, or None if it is not one of ours."""
    match = _ROUTING_KEY.fullmatch(key)
    if match is None:
        return None
    sender, recipient = (word.upper() for word in match.groups())
    if not (OFFICE_ID.fullmatch(sender) and OFFICE_ID.fullmatch(recipient)):
        return None
    return sender, recipient


def inbox_binding_key(office_id: str) -> str:
    """The binding of an office's inbox: envelopes to it, from anyone."""
    return f"from.*.to.{office_word(office_id)}"


def inbox_queue(office_id: str) -> str:
    return INBOX_PREFIX + office_word(office_id)


def dead_letter_queue(office_id: str) -> str:
    return DEAD_LETTER_PREFIX + office_word(office_id)


def dead_letter_routing_key(office_id: str) -> str:
    """The key an inbox dead-letters with, so each office's poison lands in its own queue."""
    return office_word(office_id)


def amqp_user(office_id: str, *, user_prefix: str = "") -> str:
    """The broker user an office connects and publishes as (its AMQP ``user_id``)."""
    return check_user_prefix(user_prefix) + office_word(office_id)


def office_of_user(user: str, *, user_prefix: str = "") -> str | None:
    """The office a broker user name (a validated ``user_id``) stands for, or None."""
    check_user_prefix(user_prefix)
    if not user.startswith(user_prefix):
        return None
    office_id = user[len(user_prefix) :].upper()
    if not OFFICE_ID.fullmatch(office_id) or office_id.lower() != user[len(user_prefix) :]:
        return None
    return office_id


@dataclass(frozen=True, slots=True)
class OfficePermissions:
    """The least a office's broker user needs (vhost regexes, then topic regexes on the
    envelope exchange). RabbitMQ 3.10 does not expand ``{username}`` in vhost permissions, so
    every regex names the office explicitly."""

    configure: str
    write: str
    read: str
    topic_write: str
    topic_read: str


def office_permissions(office_id: str, recipients: Collection[str]) -> OfficePermissions:
    """Declare nothing; publish only to the envelope exchange, only as itself and only to
    ``recipients``; consume only its own inbox and dead-letter queue."""
    word = pcre_escape(office_word(office_id))
    targets = sorted({pcre_escape(office_word(r)) for r in recipients} - {word})
    topic_write = f"^from\\.{word}\\.to\\.({'|'.join(targets)})$" if targets else NOTHING
    return OfficePermissions(
        configure=NOTHING,
        write=f"^{pcre_escape(ENVELOPE_EXCHANGE)}$",
        read=f"^({pcre_escape(INBOX_PREFIX)}|{pcre_escape(DEAD_LETTER_PREFIX)}){word}$",
        topic_write=topic_write,
        topic_read=NOTHING,
    )
