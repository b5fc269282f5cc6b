"""How integration tests find a real RabbitMQ (never a mock), in this order:

1. ``LIAISON_AMQP_URL`` if set (e.g. ``amqp://guest:guest@127.0.0.1:5672/%2F``);
2. a broker listening on 127.0.0.1:5672 (guest/guest);
3. a throw-away RabbitMQ container via testcontainers, where Docker works;
4. otherwise the tests fail, saying how to provide one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from broker.rabbitmq_node import listening

LOCAL_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
HOW_TO = (
    "integration tests need a real RabbitMQ and found none. Either set LIAISON_AMQP_URL="
    "amqp://USER:PASSWORD@HOST:5672/%2F, start a local broker on 127.0.0.1:5672 "
    "(e.g. 'rabbitmq-server -detached' or 'apt-get install rabbitmq-server'), or install Docker so "
    "that testcontainers can start one."
)


def _container_url() -> Iterator[str]:
    try:
        from testcontainers.rabbitmq import RabbitMqContainer  # noqa: PLC0415 - only without a broker
    except ImportError as exc:
        pytest.fail(f"{HOW_TO} (testcontainers is not importable: {exc})")
    try:
        container = RabbitMqContainer("rabbitmq:3.13-management").start()
    except Exception as exc:  # noqa: BLE001 - any Docker failure means: no container broker here
        pytest.fail(f"{HOW_TO} (Docker did not start one: {type(exc).__name__}: {exc})")
    try:
        host = container.get_container_host_ip()
        port = container.get_exposed_port(container.port)
        yield f"amqp://{container.username}:{container.password}@{host}:{port}/%2F"
    finally:
        container.stop()


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    """An AMQP URL of a real, reachable RabbitMQ (see the module docstring for the order)."""
    env = os.environ.get("LIAISON_AMQP_URL")
    if env:
        yield env
    elif listening("127.0.0.1", 5672):
        yield LOCAL_URL
    else:
        yield from _container_url()


# The Liaison topology on the real broker (a fresh vhost and users per run): see broker_fixtures.
from tests.integration.broker_fixtures import liaison_site  # noqa: E402, F401
