"""Links between sites: an outbound queue and a shovel per far site, a link user per near one.
Pure (docs/topology.md, "Two sites").

Offices connect only to their own site's broker. An envelope from HK (site yunnan) to VN (site
hanoi) is published on yunnan like any other, ``from.cn-yn-blo-hk.to.vn-bca-c02``; there it
lands in the quorum queue ``outbound.hanoi``, bound with exactly the keys of the pairs the
agreements allow. A dynamic shovel on yunnan moves that queue, with publisher confirms, over
AMQPS (both sides verify certificates) to hanoi's envelope exchange, logging in as hanoi's user
``link.from.yunnan``: tagged ``impersonator`` so that the envelope keeps the ``user_id`` HK's
broker validated, and limited by its topic permission to exactly those pairs.

``link.from.<site>`` can never be an office's user: an office word never holds a dot.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from broker.errors import InputError, InvalidMessage
from broker.topology.definitions import OfficeRoute, publish_targets
from broker.topology.names import (
    ENVELOPE_EXCHANGE,
    NOTHING,
    OfficePermissions,
    check_user_prefix,
    office_word,
    pcre_escape,
    routing_key,
)
from broker.topology.passwords import HASHING_ALGORITHM, Rng, rabbit_password_hash
from broker.topology.sites import Site, check_site_name

OUTBOUND_PREFIX = "outbound."
LINK_USER_PREFIX = "link.from."
SHOVEL_PREFIX = "to."
# A link user may set any user_id; its topic permission is what bounds it.
LINK_USER_TAGS = ("impersonator",)

Pair = tuple[str, str]  # (sender office id, recipient office id)


@dataclass(frozen=True, slots=True)
class SiteLink:
    """The envelopes one site sends another: the (sender, recipient) pairs allowed."""

    from_site: str
    to_site: str
    pairs: frozenset[Pair]

    @property
    def routing_keys(self) -> tuple[str, ...]:
        return tuple(sorted(routing_key(sender, recipient) for sender, recipient in self.pairs))


def outbound_queue(site: str) -> str:
    """The queue on a site holding envelopes for ``site`` until its shovel moves them."""
    return OUTBOUND_PREFIX + check_site_name(site)


def outbound_arguments() -> dict[str, Any]:
    """Quorum, no delivery limit: a shovel's failed publish requeues the message at the
    source, and an outage must not dead-letter anything; it waits."""
    return {"x-queue-type": "quorum"}


def link_user(from_site: str, *, user_prefix: str = "") -> str:
    """The user a site's shovel logs in as on the far site."""
    return check_user_prefix(user_prefix) + LINK_USER_PREFIX + check_site_name(from_site)


def shovel_name(to_site: str) -> str:
    return SHOVEL_PREFIX + check_site_name(to_site)


def site_links(routes: Sequence[OfficeRoute], site_of: Mapping[str, str]) -> tuple[SiteLink, ...]:
    """Every link between two sites that some allowed pair needs, from the routes of every
    office of every site (``site_of`` maps office id to site). A pair is allowed both ways
    when one office may address the other: receipts and responses travel back."""
    targets = publish_targets(routes)
    unplaced = sorted(set(targets) - set(site_of))
    if unplaced:
        raise InvalidMessage("site_of", f"no site for {', '.join(unplaced)}")
    grouped: dict[tuple[str, str], set[Pair]] = {}
    for sender, recipients in targets.items():
        for recipient in recipients:
            if recipient not in site_of:
                raise InvalidMessage("routes", f"{recipient} is at no known site")
            ends = (site_of[sender], site_of[recipient])
            if ends[0] != ends[1]:
                grouped.setdefault(ends, set()).add((sender, recipient))
    return tuple(
        SiteLink(from_site, to_site, frozenset(pairs))
        for (from_site, to_site), pairs in sorted(grouped.items())
    )


def link_permissions(pairs: frozenset[Pair]) -> OfficePermissions:
    """A link user's rights on the far site: publish to the envelope exchange only, only with
    the routing key of an allowed pair; read, declare, delete nothing."""
    keys = sorted(
        f"from\\.{pcre_escape(office_word(s))}\\.to\\.{pcre_escape(office_word(r))}"
        for s, r in pairs
    )
    return OfficePermissions(
        configure=NOTHING,
        write=f"^{pcre_escape(ENVELOPE_EXCHANGE)}$",
        read=NOTHING,
        topic_write=f"^({'|'.join(keys)})$" if keys else NOTHING,
        topic_read=NOTHING,
    )


def add_links(
    definitions: Mapping[str, Any],
    links: Sequence[SiteLink],
    *,
    site: str,
    passwords: Mapping[tuple[str, str], str],
    user_prefix: str = "",
    rng: Rng = os.urandom,
) -> dict[str, Any]:
    """``definitions`` (of ``site``) plus, for each link from it, its outbound queue and one
    binding per allowed pair; for each link to it, the far site's link user (``passwords``
    maps (from_site, to_site) to that user's password, hashed here). No shovel: its URI holds
    a password (see ``shovel_parameters``)."""
    document = copy.deepcopy(dict(definitions))
    vhost = document["vhosts"][0]["name"]
    for link in links:
        if link.from_site == site:
            queue = outbound_queue(link.to_site)
            document["queues"].append(
                {
                    "name": queue,
                    "vhost": vhost,
                    "durable": True,
                    "auto_delete": False,
                    "arguments": outbound_arguments(),
                }
            )
            document["bindings"] += [
                {
                    "source": ENVELOPE_EXCHANGE,
                    "vhost": vhost,
                    "destination": queue,
                    "destination_type": "queue",
                    "routing_key": key,
                    "arguments": {},
                }
                for key in link.routing_keys
            ]
        elif link.to_site == site:
            password = passwords.get((link.from_site, link.to_site))
            if not password:
                raise InvalidMessage("passwords", f"no password for the link from {link.from_site}")
            user = link_user(link.from_site, user_prefix=user_prefix)
            allowed = link_permissions(link.pairs)
            document["users"].append(
                {
                    "name": user,
                    "password_hash": rabbit_password_hash(password, rng=rng),
                    "hashing_algorithm": HASHING_ALGORITHM,
                    "tags": list(LINK_USER_TAGS),
                }
            )
            document["permissions"].append(
                {
                    "user": user,
                    "vhost": vhost,
                    "configure": allowed.configure,
                    "write": allowed.write,
                    "read": allowed.read,
                }
            )
            document["topic_permissions"].append(
                {
                    "user": user,
                    "vhost": vhost,
                    "exchange": ENVELOPE_EXCHANGE,
                    "write": allowed.topic_write,
                    "read": allowed.topic_read,
                }
            )
    return document


def shovel_uri(far: Site, local: Site, *, user: str, password: str) -> str:
    """The AMQPS URI a shovel of ``local`` connects to ``far`` with: the far broker's
    certificate must chain to ``local.ca_file`` and name ``far.tls_name``; ``local``'s client
    certificate is presented (the far listener refuses a client without one)."""
    query = "&".join(
        f"{key}={value}"
        for key, value in (
            ("cacertfile", local.ca_file),
            ("certfile", local.cert_file),
            ("keyfile", local.key_file),
            ("verify", "verify_peer"),
            ("server_name_indication", far.tls_name),
        )
    )
    credentials = f"{quote(user, safe='')}:{quote(password, safe='')}"
    return f"amqps://{credentials}@{far.host}:{far.port}/{quote(far.vhost, safe='')}?{query}"


def shovel_parameters(
    links: Sequence[SiteLink],
    *,
    site: str,
    vhost: str,
    sites: Mapping[str, Site],
    passwords: Mapping[tuple[str, str], str],
    user_prefix: str = "",
) -> list[dict[str, Any]]:
    """The runtime parameters (component ``shovel``) of ``site``'s shovels, one per link from
    it, in the shape of a definitions document's ``parameters``. They hold link passwords:
    keep them out of ``definitions.json``."""
    outgoing = [link for link in links if link.from_site == site]
    if outgoing and site not in sites:
        raise InputError(f"the sites file has no [sites.{site}]: its shovels need TLS files")
    parameters = []
    for link in outgoing:
        far = sites.get(link.to_site)
        if far is None:
            raise InputError(f"the sites file has no [sites.{link.to_site}]")
        password = passwords.get((link.from_site, link.to_site))
        if not password:
            raise InvalidMessage("passwords", f"no password for the link to {link.to_site}")
        user = link_user(site, user_prefix=user_prefix)
        value = {
            "src-protocol": "amqp091",
            "src-uri": f"amqp:///{quote(vhost, safe='')}",  # this node, no network
            "src-queue": outbound_queue(link.to_site),
            "dest-protocol": "amqp091",
            "dest-uri": shovel_uri(far, sites[site], user=user, password=password),
            "dest-exchange": ENVELOPE_EXCHANGE,
            # The source message is acked only after the far broker confirmed it.
            "ack-mode": "on-confirm",
            "reconnect-delay": sites[site].reconnect_delay,
            # Keep the envelope exactly as sent: no shovel headers added.
            "dest-add-forward-headers": False,
            "src-delete-after": "never",
        }
        name = shovel_name(link.to_site)
        parameters.append({"vhost": vhost, "component": "shovel", "name": name, "value": value})
    return parameters


def links_of(links: Sequence[SiteLink], site: str, sites: Mapping[str, Site]) -> list[SiteLink]:
    """The links that touch ``site`` and whose far site is in the sites file."""
    return [
        link
        for link in links
        if (link.from_site == site and link.to_site in sites)
        or (link.to_site == site and link.from_site in sites)
    ]
