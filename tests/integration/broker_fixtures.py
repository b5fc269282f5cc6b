"""A fresh Liaison site on the real broker for each test run: vhost and users made FROM THE
GENERATED DEFINITIONS (``build_definitions`` + ``apply_definitions``), removed at the end.

Needs ``rabbitmqctl`` able to manage the broker the ``amqp_url`` fixture found (as root, or
with ``LIAISON_RABBITMQCTL`` / ``LIAISON_RABBITMQ_NODE``); if it cannot, the tests fail and say
so rather than skip.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pika
import pika.exceptions
import pytest

from broker.errors import LiaisonError
from broker.rabbitmq_admin import Rabbitmqctl, apply_definitions, remove_site
from broker.topology import OfficeRoute, amqp_user, build_definitions, new_password

HK = "CN-YN-BLO-HK"
VN = "VN-BCA-C02"
LA = "LA-MPS-VTE"
KH = "KH-NPA-PP"  # a partner served by another site: no inbox on this broker
DELIVERY_LIMIT = 5

# HK may address VN (and the remote KH); VN may address LA; LA lists nobody. Receipts travel
# back, so VN may also publish to HK and LA to VN; HK and LA may never reach each other.
ROUTES = (
    OfficeRoute(HK, frozenset({VN, KH})),
    OfficeRoute(VN, frozenset({LA})),
    OfficeRoute(LA, frozenset()),
)


@dataclass(frozen=True)
class LiaisonSite:
    """One test run's vhost on the real broker, and how to connect as each office."""

    url: str
    vhost: str
    user_prefix: str
    ctl: Rabbitmqctl
    passwords: dict[str, str] = field(repr=False)

    def user(self, office_id: str) -> str:
        return amqp_user(office_id, user_prefix=self.user_prefix)

    def parameters(self, office_id: str) -> pika.ConnectionParameters:
        params = pika.URLParameters(self.url)
        params.credentials = pika.PlainCredentials(self.user(office_id), self.passwords[office_id])
        params.virtual_host = self.vhost
        params.heartbeat = 30
        params.blocked_connection_timeout = 30
        return params

    def connect(self, office_id: str) -> pika.BlockingConnection:
        return pika.BlockingConnection(self.parameters(office_id))


def rabbitmqctl() -> Rabbitmqctl:
    return Rabbitmqctl.from_env()


def _cannot_manage(url: str, why: str) -> str:
    host = pika.URLParameters(url).host
    return (
        f"the topology integration tests create a vhost and users with rabbitmqctl, which"
        f" cannot manage the broker at {host} ({why}). Run them as root on the broker's host,"
        " or set LIAISON_RABBITMQCTL / LIAISON_RABBITMQ_NODE to a rabbitmqctl that reaches it."
    )


def _planned(amqp_url: str, routes: tuple[OfficeRoute, ...]) -> tuple[LiaisonSite, dict[str, Any]]:
    """A new site's names and passwords for ``routes``, and its generated definitions."""
    token = secrets.token_hex(4)
    site = LiaisonSite(
        url=amqp_url,
        vhost=f"liaison-test-{token}",
        user_prefix=f"t{token}-",
        ctl=rabbitmqctl(),
        passwords={route.office_id: new_password() for route in routes},
    )
    definitions = build_definitions(
        routes,
        vhost=site.vhost,
        passwords=site.passwords,
        user_prefix=site.user_prefix,
        delivery_limit=DELIVERY_LIMIT,
    )
    return site, definitions


@contextlib.contextmanager
def site_with(amqp_url: str, routes: tuple[OfficeRoute, ...]) -> Iterator[LiaisonSite]:
    """A fresh vhost and users for ``routes`` (generated definitions, applied with
    rabbitmqctl), removed at the end: for modules whose offices differ from ROUTES."""
    made, definitions = _planned(amqp_url, routes)
    apply_definitions(definitions, ctl=made.ctl)
    try:
        yield made
    finally:
        remove_site(made.ctl, vhost=made.vhost, users_prefix=made.user_prefix)


@pytest.fixture(scope="session")
def liaison_site(amqp_url: str) -> Iterator[LiaisonSite]:
    """A vhost ``liaison-test-<hex>`` with users ``t<hex>-<office>``, made from the generated
    definitions and deleted (vhost and users) when the session ends."""
    site, definitions = _planned(amqp_url, ROUTES)
    try:
        apply_definitions(definitions, ctl=site.ctl)
    except LiaisonError as exc:
        with contextlib.suppress(LiaisonError):  # what was half made; rabbitmqctl may be absent
            remove_site(site.ctl, vhost=site.vhost, users_prefix=site.user_prefix)
        pytest.fail(_cannot_manage(amqp_url, str(exc)))
    try:
        try:
            site.connect(HK).close()
        except pika.exceptions.AMQPConnectionError as exc:
            pytest.fail(
                _cannot_manage(
                    amqp_url,
                    f"the vhost it made is not usable over AMQP: {type(exc).__name__};"
                    " rabbitmqctl probably manages another node",
                )
            )
        yield site
    finally:
        remove_site(site.ctl, vhost=site.vhost, users_prefix=site.user_prefix)


def effective_dead_letter_strategy(ctl: Rabbitmqctl, vhost: str, queue: str) -> str:
    """The dead-letter handler a quorum queue's state machine really runs (``at_least_once``
    or ``{at_most_once,...}``), read from the queue's Raft state (RabbitMQ 3.10's rabbit_fifo
    ``cfg`` record). This, not the arguments, shows a silent fall-back to at-most-once."""
    expression = (
        f'Q = rabbit_misc:r(list_to_binary("{vhost}"), queue, list_to_binary("{queue}")),'
        " {ok, Amqqueue} = rabbit_amqqueue:lookup(Q),"
        " {ok, {_, Cfg}, _} = ra:local_query(amqqueue:get_pid(Amqqueue),"
        " fun(State) -> element(2, State) end),"
        " [E || E <- tuple_to_list(Cfg), E =:= at_least_once orelse"
        " (is_tuple(E) andalso tuple_size(E) =:= 2 andalso element(1, E) =:= at_most_once)]."
    )
    return ctl.run(f"read the dead-letter strategy of {queue}", "eval", expression).strip()
