"""RabbitMQ itself refuses what an office may not do (users made from the generated definitions).

Each test connects as an office's own broker user with pika BlockingConnection and publisher
confirms, and checks the broker's answer: confirmed, 403 ACCESS_REFUSED or 406
PRECONDITION_FAILED. See docs/topology.md for the matrix.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pika
import pika.exceptions
import pytest
from pika.adapters.blocking_connection import BlockingChannel

from broker.topology import (
    DEAD_LETTER_EXCHANGE,
    ENVELOPE_EXCHANGE,
    dead_letter_queue,
    inbox_queue,
    parse_routing_key,
    routing_key,
)
from tests.integration.broker_fixtures import HK, KH, LA, VN, LiaisonSite

pytestmark = pytest.mark.integration

ACCESS_REFUSED = 403
PRECONDITION_FAILED = 406


@contextmanager
def channel_of(site: LiaisonSite, office: str) -> Iterator[BlockingChannel]:
    connection = site.connect(office)
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        yield channel
    finally:
        if connection.is_open:
            connection.close()


def properties(site: LiaisonSite, sender: str, **extra: Any) -> pika.BasicProperties:
    return pika.BasicProperties(
        user_id=site.user(sender),
        delivery_mode=pika.DeliveryMode.Persistent,
        message_id=str(uuid.uuid4()),
        **extra,
    )


def send(
    channel: BlockingChannel,
    site: LiaisonSite,
    sender: str,
    recipient: str,
    body: bytes,
    **extra: Any,
) -> pika.BasicProperties:
    props = properties(site, sender, **extra)
    channel.basic_publish(
        ENVELOPE_EXCHANGE, routing_key(sender, recipient), body, props, mandatory=True
    )
    return props


def take(
    site: LiaisonSite, office: str, queue: str, message_id: str, *, seconds: float = 5.0
) -> tuple[Any, pika.BasicProperties, bytes]:
    """Drain ``queue`` as ``office`` until the message ``message_id`` comes (acking all)."""
    deadline = time.monotonic() + seconds
    with channel_of(site, office) as channel:
        while time.monotonic() < deadline:
            method, props, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                time.sleep(0.05)
            elif props.message_id == message_id:
                return method, props, body
    pytest.fail(f"message {message_id} never reached {queue}")


def refused(site: LiaisonSite, office: str, action: Callable[[BlockingChannel], object]) -> int:
    """Run ``action`` on a fresh channel of ``office``; the broker's reply code closing it."""
    with channel_of(site, office) as channel:
        # With confirms on, even a refused publish fails right here, not on a later call.
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as closed:
            action(channel)
        return int(closed.value.reply_code)


# ---------------------------------------------------------------- what is allowed


def test_an_office_reaches_a_partner_confirmed_and_signed_by_its_user(
    liaison_site: LiaisonSite,
) -> None:
    with channel_of(liaison_site, HK) as channel:
        props = send(channel, liaison_site, HK, VN, b"enquiry")  # confirm_delivery: acked
    method, got, body = take(liaison_site, VN, inbox_queue(VN), props.message_id)
    assert body == b"enquiry"
    assert got.user_id == liaison_site.user(HK)  # validated by the broker
    assert method.routing_key == "from.cn-yn-blo-hk.to.vn-bca-c02"
    assert parse_routing_key(method.routing_key) == (HK, VN)
    assert got.delivery_mode == 2


def test_a_receipt_travels_back_to_an_office_that_may_address_it(
    liaison_site: LiaisonSite,
) -> None:
    # VN does not list HK as a partner, but HK may address VN: VN's receipt must get through.
    with channel_of(liaison_site, VN) as channel:
        props = send(channel, liaison_site, VN, HK, b"receipt", type="RECEIPT")
    _method, got, _body = take(liaison_site, HK, inbox_queue(HK), props.message_id)
    assert got.user_id == liaison_site.user(VN)


def test_an_office_reads_its_own_dead_letters(liaison_site: LiaisonSite) -> None:
    with channel_of(liaison_site, VN) as channel:
        method, _props, _body = channel.basic_get(dead_letter_queue(VN), auto_ack=False)
        if method is not None:
            channel.basic_nack(method.delivery_tag, requeue=True)


# ---------------------------------------------------------------- what is refused


def test_an_office_cannot_read_another_inbox(liaison_site: LiaisonSite) -> None:
    other = inbox_queue(VN)
    assert refused(liaison_site, HK, lambda ch: ch.basic_get(other)) == ACCESS_REFUSED
    assert refused(liaison_site, HK, lambda ch: ch.basic_consume(other, print)) == ACCESS_REFUSED
    assert refused(liaison_site, HK, lambda ch: ch.queue_purge(other)) == ACCESS_REFUSED
    dead = dead_letter_queue(VN)
    assert refused(liaison_site, HK, lambda ch: ch.basic_get(dead)) == ACCESS_REFUSED


def test_an_office_cannot_claim_another_sender_in_the_routing_key(
    liaison_site: LiaisonSite,
) -> None:
    def claim_to_be_vn(channel: BlockingChannel) -> None:
        channel.basic_publish(
            ENVELOPE_EXCHANGE, routing_key(VN, LA), b"x", properties(liaison_site, HK)
        )

    assert refused(liaison_site, HK, claim_to_be_vn) == ACCESS_REFUSED


def test_an_office_cannot_claim_another_user_id(liaison_site: LiaisonSite) -> None:
    def forge_user_id(channel: BlockingChannel) -> None:
        props = properties(liaison_site, HK)
        props.user_id = liaison_site.user(VN)
        channel.basic_publish(ENVELOPE_EXCHANGE, routing_key(HK, VN), b"x", props)

    assert refused(liaison_site, HK, forge_user_id) == PRECONDITION_FAILED


@pytest.mark.parametrize(
    ("sender", "recipient"),
    [(HK, LA), (LA, HK), (LA, KH), (HK, "TH-RTP-CR")],
    ids=["hk-to-la", "la-to-hk", "la-to-remote-kh", "hk-to-unknown"],
)
def test_an_office_cannot_address_an_office_outside_its_agreements(
    liaison_site: LiaisonSite, sender: str, recipient: str
) -> None:
    def publish(channel: BlockingChannel) -> None:
        send(channel, liaison_site, sender, recipient, b"x")

    assert refused(liaison_site, sender, publish) == ACCESS_REFUSED


@pytest.mark.parametrize(
    "action",
    [
        lambda ch: ch.queue_declare("evil", durable=True),
        lambda ch: ch.queue_declare("inbox.cn-yn-blo-hk", durable=True),  # even its own
        lambda ch: ch.queue_delete("inbox.cn-yn-blo-hk"),
        lambda ch: ch.queue_delete("inbox.vn-bca-c02"),
        lambda ch: ch.exchange_declare("evil", "fanout"),
        lambda ch: ch.exchange_delete(ENVELOPE_EXCHANGE),
        # Binding its own inbox to another's key would let it read another's mail.
        lambda ch: ch.queue_bind("inbox.cn-yn-blo-hk", ENVELOPE_EXCHANGE, "from.*.to.#"),
        lambda ch: ch.queue_unbind("inbox.vn-bca-c02", ENVELOPE_EXCHANGE, "from.*.to.vn-bca-c02"),
    ],
    ids=["declare-queue", "redeclare-own-inbox", "delete-own-inbox", "delete-other-inbox",
         "declare-exchange", "delete-envelope-exchange", "bind", "unbind"],
)  # fmt: skip
def test_an_office_cannot_declare_delete_or_bind(
    liaison_site: LiaisonSite, action: Callable[[BlockingChannel], object]
) -> None:
    assert refused(liaison_site, HK, action) == ACCESS_REFUSED


@pytest.mark.parametrize(
    ("exchange", "key"),
    [
        ("", "inbox.vn-bca-c02"),  # the default exchange: straight into a queue
        ("amq.topic", "from.cn-yn-blo-hk.to.vn-bca-c02"),
        (DEAD_LETTER_EXCHANGE, "vn-bca-c02"),
    ],
    ids=["default-exchange", "amq-topic", "dead-letter-exchange"],
)
def test_an_office_publishes_only_to_the_envelope_exchange(
    liaison_site: LiaisonSite, exchange: str, key: str
) -> None:
    def publish(channel: BlockingChannel) -> None:
        channel.basic_publish(exchange, key, b"x", properties(liaison_site, HK))

    assert refused(liaison_site, HK, publish) == ACCESS_REFUSED


# ---------------------------------------------------------------- routing and dead letters


def test_an_unroutable_mandatory_publish_raises(liaison_site: LiaisonSite) -> None:
    # KH is HK's partner but is served by another site: allowed, yet no queue here takes it.
    with channel_of(liaison_site, HK) as channel:
        with pytest.raises(pika.exceptions.UnroutableError):
            send(channel, liaison_site, HK, KH, b"to another site")
        # Without mandatory the broker drops it and still confirms: why the daemon sets it.
        channel.basic_publish(
            ENVELOPE_EXCHANGE, routing_key(HK, KH), b"lost", properties(liaison_site, HK)
        )


def test_a_passive_declare_of_another_inbox_leaks_its_count_on_this_broker(
    liaison_site: LiaisonSite,
) -> None:
    """A known 3.10.8 weakness (RabbitMQ 4.3.1 refuses it): counts only, never content. If this
    fails on a newer broker, update docs/topology.md."""
    with channel_of(liaison_site, HK) as channel:
        declared = channel.queue_declare(inbox_queue(VN), passive=True)
    assert declared.method.queue == inbox_queue(VN)


def test_a_poison_message_is_dead_lettered_after_the_delivery_limit(
    liaison_site: LiaisonSite,
) -> None:
    with channel_of(liaison_site, HK) as channel:
        props = send(channel, liaison_site, HK, VN, b"poison")
    deliveries = []
    with channel_of(liaison_site, VN) as channel:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            method, got, _body = channel.basic_get(inbox_queue(VN))
            if method is None:
                if deliveries:
                    break
                time.sleep(0.05)
                continue
            if got.message_id != props.message_id:
                channel.basic_ack(method.delivery_tag)  # another test's leftover
                continue
            deliveries.append(got.headers.get("x-delivery-count"))
            # reject, not nack: from RabbitMQ 4.3 only reject counts towards the limit.
            channel.basic_reject(method.delivery_tag, requeue=True)
    assert deliveries == [0, 1, 2, 3, 4, 5]  # delivery limit 5: six deliveries, then DLX
    method, dead, body = take(liaison_site, VN, dead_letter_queue(VN), props.message_id)
    assert body == b"poison"
    assert method.routing_key == "vn-bca-c02"  # x-dead-letter-routing-key: the office word
    assert dead.user_id == liaison_site.user(HK)
    assert dead.headers["x-first-death-reason"] == "delivery_limit"
    (death,) = dead.headers["x-death"]
    assert death["reason"] == "delivery_limit"
    assert death["queue"] == inbox_queue(VN)
    assert death["routing-keys"] == [routing_key(HK, VN)]


# ---------------------------------------------------------------- CC: why one publish per recipient


@pytest.mark.parametrize("header", ["CC", "BCC"])
def test_cc_routing_keys_escape_topic_authorisation_on_this_broker(
    liaison_site: LiaisonSite, header: str
) -> None:
    """RabbitMQ 3.10.8 checks only the routing key against topic permissions, not the CC/BCC
    keys: HK (no agreement with LA) reaches LA's inbox. So Liaison never uses CC; an alert
    goes out as one publish per recipient, each checked. rabbitmq-server PR #12553 (4.0.x)
    adds the check; if this test fails on a newer broker, update docs/topology.md."""
    with channel_of(liaison_site, HK) as channel:
        props = send(
            channel, liaison_site, HK, VN, b"alert", headers={header: [routing_key(HK, LA)]}
        )
    method, got, _body = take(liaison_site, LA, inbox_queue(LA), props.message_id)
    assert got.user_id == liaison_site.user(HK)
    # The copy still names VN as recipient: a consumer that checks the routing key names
    # itself (and the sender its user_id) rejects it.
    assert parse_routing_key(method.routing_key) == (HK, VN)
    take(liaison_site, VN, inbox_queue(VN), props.message_id)
