"""The fixture hands out a real broker: a persistent message goes through it and back, confirmed."""

import uuid

import pika
import pytest

pytestmark = pytest.mark.integration


def test_a_confirmed_persistent_message_round_trips(amqp_url: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        queue = channel.queue_declare("", exclusive=True).method.queue
        body = uuid.uuid4().bytes
        channel.basic_publish(
            "", queue, body, pika.BasicProperties(delivery_mode=2), mandatory=True
        )
        method, _props, got = channel.basic_get(queue, auto_ack=True)
        assert method is not None
        assert got == body
    finally:
        connection.close()
