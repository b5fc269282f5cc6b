"""Where the demo finds a RabbitMQ it may manage (an edge: environment, sockets, processes).

In this order, as the tests do:

1. ``LIAISON_AMQP_URL`` (with ``LIAISON_RABBITMQCTL`` / ``LIAISON_RABBITMQ_NODE`` telling
   how to manage it, if not the local ``rabbitmqctl``);
2. a broker on 127.0.0.1:5672 that the local ``rabbitmqctl`` can manage;
3. where RabbitMQ is installed but no such broker runs, a private node in the demo's
   folder on a free loopback port, stopped at the end (broker/rabbitmq_node.py);
4. where Docker works, a throw-away container (testcontainers);
5. otherwise NotAvailable, saying exactly how to get one.

The demo needs to create a vhost and users, hence "may manage": it uses ``rabbitmqctl``.
"""

from __future__ import annotations

import contextlib
import os
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import unquote, urlsplit

from broker.errors import LiaisonError, NotAvailable
from broker.rabbitmq_admin import Rabbitmqctl
from broker.rabbitmq_node import listening as _listening

LOCAL_HOST: Final = "127.0.0.1"
LOCAL_PORT: Final = 5672
HOW_TO: Final = (
    "the demo needs a RabbitMQ it can manage and found none. Either: install RabbitMQ"
    " (Debian/Ubuntu: 'apt-get install rabbitmq-server'; the demo then starts a private node by"
    " itself), or run a broker on 127.0.0.1:5672 with rabbitmqctl usable by you (e.g. as"
    " root), or set LIAISON_AMQP_URL=amqp://USER:PASSWORD@HOST:5672/%2F plus"
    " LIAISON_RABBITMQCTL (and LIAISON_RABBITMQ_NODE) for a broker elsewhere, or install"
    " Docker so that a throw-away container can be started."
)


@dataclass(frozen=True, slots=True)
class DemoBroker:
    """A broker the demo may manage: where offices connect, and how to manage it."""

    host: str
    port: int
    ctl: Rabbitmqctl
    origin: str  # for the person: where it came from


def _manageable(ctl: Rabbitmqctl) -> bool:
    try:
        ctl.run("probe", "list_vhosts")
    except LiaisonError:
        return False
    return True


@contextlib.contextmanager
def find_broker(work: Path, *, say: Callable[[str], None]) -> Iterator[DemoBroker]:
    """A manageable broker for the demo (see the module docstring); torn down at the end
    when the demo started it."""
    env = os.environ.get("LIAISON_AMQP_URL")
    if env:
        parts = urlsplit(env)
        ctl = Rabbitmqctl.from_env()
        if not _manageable(ctl):
            raise NotAvailable(
                f"LIAISON_AMQP_URL is set, but {ctl.executable} cannot manage that broker;"
                " set LIAISON_RABBITMQCTL (and LIAISON_RABBITMQ_NODE) to one that can"
            )
        yield DemoBroker(
            unquote(parts.hostname or LOCAL_HOST), parts.port or LOCAL_PORT, ctl, "LIAISON_AMQP_URL"
        )
        return
    if _listening(LOCAL_HOST, LOCAL_PORT):
        ctl = Rabbitmqctl.from_env()
        if _manageable(ctl):
            yield DemoBroker(LOCAL_HOST, LOCAL_PORT, ctl, f"the local broker ({LOCAL_HOST}:5672)")
            return
        say("a broker listens on 127.0.0.1:5672, but rabbitmqctl cannot manage it")
    with _private_node(work, say=say) as found:
        if found is not None:
            yield found
            return
    with _container(work, say=say) as found:
        if found is not None:
            yield found
            return
    raise NotAvailable(HOW_TO)


@contextlib.contextmanager
def _private_node(work: Path, *, say: Callable[[str], None]) -> Iterator[DemoBroker | None]:
    from broker import rabbitmq_node  # noqa: PLC0415 - only when no broker runs

    try:
        rabbitmq_node.rabbitmq_bin()
    except NotAvailable:
        yield None
        return
    node = rabbitmq_node.RabbitNode(work / "rabbitmq", amqp_port=rabbitmq_node.free_port())
    say(f"starting a private RabbitMQ node on {LOCAL_HOST}:{node.amqp_port} (about 10 s)")
    with node:
        yield DemoBroker(
            LOCAL_HOST, node.amqp_port, node.rabbitmqctl(), f"a private node ({node.folder})"
        )


@contextlib.contextmanager
def _container(work: Path, *, say: Callable[[str], None]) -> Iterator[DemoBroker | None]:
    try:
        from testcontainers.rabbitmq import RabbitMqContainer  # noqa: PLC0415
    except ImportError:
        yield None
        return
    try:
        container = RabbitMqContainer("rabbitmq:3.13-management").start()
    except Exception:  # noqa: BLE001 - any Docker failure means: no container here
        yield None
        return
    try:
        say("started a RabbitMQ container (testcontainers)")
        wrapped = container.get_wrapped_container()
        # rabbitmqctl runs inside the container; a two-line script makes it look local.
        script = work / "rabbitmqctl-in-container"
        script.write_text(
            f'#!/bin/sh\nexec docker exec -i {shlex.quote(wrapped.id)} rabbitmqctl "$@"\n',
            encoding="utf-8",
        )
        script.chmod(0o700)
        host = container.get_container_host_ip()
        port = int(container.get_exposed_port(container.port))
        yield DemoBroker(host, port, Rabbitmqctl(str(script), None, 60.0), "a Docker container")
    finally:
        container.stop()
