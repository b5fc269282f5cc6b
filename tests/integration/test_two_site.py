"""Two sites, two private RabbitMQ nodes, linked by shovels over mutually verified TLS.

Site ``yunnan`` (DEMO office HK) and site ``hanoi`` (DEMO office VN) each get a node of their
own (``broker.rabbitmq_node``), both with an AMQP listener for their offices and an AMQPS
listener that demands a client certificate from the test CA (``broker.certs``): the link from
hanoi back to yunnan carries VN's receipts. Each site's definitions and shovels are made and
applied by the real ``liaison broker definitions|apply`` commands, from the signed DEMO
directory and one sites file. Then: the real office daemons exchange an enquiry and its
receipt across the link; an envelope keeps the ``user_id`` its own site validated; the link
user can do nothing else; hanoi's node stops mid-stream and nothing is lost; a client fails
over from a stopped node to the other.

The nodes start once for the module (about 10 s) and are stopped at the end, even on failure.
Without ``rabbitmq-server`` the tests fail, saying how to install it.
"""

from __future__ import annotations

import dataclasses
import secrets
import ssl
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pika
import pika.exceptions
import pytest
from click.testing import CliRunner

from broker.amqp import AmqpSettings, PublishOutcome
from broker.certs import issue, make_ca, write_issued
from broker.cli.broker_cmd import broker, secret_path
from broker.config import load_config
from broker.daemon import load_office
from broker.daemon.submission import submit
from broker.errors import NotAvailable
from broker.office_store import DeliveryState
from broker.rabbitmq_node import NodeTls, RabbitNode, free_port, rabbitmq_bin, start_nodes
from broker.topology import ENVELOPE_EXCHANGE, inbox_queue, outbound_queue, routing_key
from tests.demo import DIRECTORY_FILE, ROOT_FILE, make
from tests.integration.test_amqp_link import Recorder, running
from tests.integration.test_exchange_daemon import Clock, Node, enquiry, wait_for

pytestmark = pytest.mark.integration

HK, VN = "CN-YN-BLO-HK", "VN-BCA-C02"  # DEMO offices at sites yunnan and hanoi
MPS = "CN-MPS-OCT"  # at site beijing: no node here, so no link to it
WAIT = 60.0  # a shovel reconnects every reconnect_delay (1 s here); generous bound


@dataclasses.dataclass
class Site:
    name: str
    node: RabbitNode
    out: Path  # what 'liaison broker definitions' wrote for it

    def password(self, office: str) -> str:
        return secret_path(self.out, office).read_text()


@dataclasses.dataclass
class TwoSites:
    vhost: str
    prefix: str
    ca_file: Path
    links: Path
    yunnan: Site
    hanoi: Site

    def user(self, office: str) -> str:
        return self.prefix + office.lower()

    def connect(self, site: Site, office: str) -> pika.BlockingConnection:
        return pika.BlockingConnection(
            pika.URLParameters(site.node.url(self.user(office), site.password(office), self.vhost))
        )

    def guest(self, site: Site) -> pika.BlockingConnection:
        return pika.BlockingConnection(pika.URLParameters(site.node.url("guest", "guest")))

    def count(self, site: Site, queue: str) -> int:
        listing = site.node.ctl("list_queues", "-p", self.vhost, "name", "messages")
        counts = dict(line.split("\t") for line in listing.splitlines()[1:] if "\t" in line)
        return int(counts[queue])


def _require_rabbitmq() -> None:
    try:
        rabbitmq_bin()
    except NotAvailable as exc:
        pytest.fail(f"the two-site tests start private RabbitMQ nodes: {exc}")


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(broker, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _wait_running_shovels(node: RabbitNode, count: int) -> None:
    deadline = time.monotonic() + WAIT
    while True:
        status = node.ctl("shovel_status")
        if status.count("running") >= count:
            return
        assert time.monotonic() < deadline, f"shovels of {node.name} not running: {status}"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def two_sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoSites]:
    _require_rabbitmq()
    root = tmp_path_factory.mktemp("two-sites")
    ca = make_ca("Liaison two-site test CA")
    ca_file = write_issued(ca, root / "tls", "ca")[0]
    nodes = {}
    for name in ("yunnan", "hanoi"):
        cert, key = write_issued(issue(ca, "localhost", hosts=("localhost",)), root / "tls", name)
        tls = NodeTls(ca_file=ca_file, cert_file=cert, key_file=key)
        nodes[name] = RabbitNode(
            root / name, amqp_port=free_port(), amqps_port=free_port(), tls=tls
        )
    token = secrets.token_hex(4)
    vhost, prefix = f"liaison-2s-{token}", f"t{token}-"
    sites_file = root / "sites.toml"
    sites_file.write_text(
        "".join(
            f'[sites.{name}]\nhost = "localhost"\nport = {node.amqps_port}\nvhost = "{vhost}"\n'
            f'ca_file = "{ca_file}"\ncert_file = "{root / "tls" / name}.pem"\n'
            f'key_file = "{root / "tls" / name}-key.pem"\nreconnect_delay = 1\n\n'
            for name, node in nodes.items()
        )
    )
    start_nodes(list(nodes.values()))
    try:
        made = {}
        for name, node in nodes.items():
            out = root / f"{name}-site"
            _invoke("definitions", "--directory", str(DIRECTORY_FILE), "--root", str(ROOT_FILE),
                    "--site", name, "--sites", str(sites_file), "--link-secrets",
                    str(root / "links"), "--vhost", vhost, "--users-prefix", prefix,
                    "--out", str(out))  # fmt: skip
            made[name] = Site(name, node, out)
        for site in made.values():
            node = site.node
            _invoke("apply", str(site.out / "definitions.json"), "--vhost", vhost,
                    "--rabbitmqctl", str(node.ctl_script), "--node", node.name)  # fmt: skip
        for site in made.values():
            _wait_running_shovels(site.node, 1)
        yield TwoSites(vhost, prefix, ca_file, root / "links", made["yunnan"], made["hanoi"])
    finally:
        for node in nodes.values():
            node.stop()


@pytest.fixture(autouse=True)
def _empty_inboxes(two_sites: TwoSites) -> None:
    for site, office in ((two_sites.yunnan, HK), (two_sites.hanoi, VN)):
        if site.node.running:
            site.node.ctl("purge_queue", "-p", two_sites.vhost, inbox_queue(office))


def publish(sites: TwoSites, bodies: list[bytes], *, to: str = VN) -> list[str]:
    """Publish as HK on yunnan like its daemon does (user_id, mandatory, confirms)."""
    ids = []
    with sites.connect(sites.yunnan, HK) as connection:
        channel = connection.channel()
        channel.confirm_delivery()
        for body in bodies:
            ids.append(secrets.token_hex(16))
            channel.basic_publish(
                ENVELOPE_EXCHANGE,
                routing_key(HK, to),
                body,
                pika.BasicProperties(
                    delivery_mode=2,
                    user_id=sites.user(HK),
                    message_id=ids[-1],
                    headers={"x-test": "kept"},
                ),
                mandatory=True,
            )
    return ids


def take_all(sites: TwoSites, count: int) -> list[tuple[Any, Any, bytes]]:
    """``count`` deliveries from VN's inbox on hanoi, as VN (acked), waiting up to WAIT."""
    got: list[tuple[Any, Any, bytes]] = []
    deadline = time.monotonic() + WAIT
    with sites.connect(sites.hanoi, VN) as connection:
        channel = connection.channel()
        while len(got) < count:
            method, properties, body = channel.basic_get(inbox_queue(VN), auto_ack=True)
            if method is None:
                assert time.monotonic() < deadline, f"{len(got)} of {count} arrived"
                time.sleep(0.1)
                continue
            got.append((method, properties, bytes(body)))
    return got


# ---------------------------------------------------------------- the tests


def test_the_daemons_exchange_an_enquiry_and_its_receipt_across_the_link(
    two_sites: TwoSites, tmp_path: Path
) -> None:
    keys = make.private_copy(tmp_path / "keys")
    nodes: list[Node] = []

    def office(office_id: str, site: Site) -> Node:
        folder = tmp_path / office_id
        folder.mkdir()
        (folder / "amqp-password").write_text(site.password(office_id))
        (folder / "amqp-password").chmod(0o600)
        path = folder / "office.toml"
        path.write_text(
            f'[office]\nid = "{office_id}"\ndata_dir = "data"\n'
            f'[keys]\ndir = "{keys / "offices" / office_id}"\n'
            f'[directory]\nfile = "{DIRECTORY_FILE}"\npinned_root = "{ROOT_FILE}"\n'
            f'[amqp]\nurls = ["amqp://127.0.0.1:{site.node.amqp_port}/{two_sites.vhost}"]\n'
            f'password_file = "amqp-password"\nuser_prefix = "{two_sites.prefix}"\n'
            f'[log]\nformat = "json"\n',
            encoding="utf-8",
        )
        config = load_config(path)
        made = Node(path, config, load_office(config, passphrase=None, now=datetime.now(UTC)),
                    Clock())  # fmt: skip
        nodes.append(made)
        return made

    hk, vn = office(HK, two_sites.yunnan), office(VN, two_sites.hanoi)
    try:
        vn.start()
        hk.start()
        queued = submit(hk.office, enquiry((VN,)), now=datetime.now(UTC))
        # VN (hanoi) hands it over; its receipt travels back over the other link.
        wait_for(lambda: len(vn.spool()) == 1, WAIT)
        wait_for(lambda: hk.state(queued.message_id, VN) is DeliveryState.DELIVERED, WAIT)
    finally:
        for node in nodes:
            node.stop()
    assert two_sites.count(two_sites.yunnan, outbound_queue("hanoi")) == 0
    assert two_sites.count(two_sites.hanoi, outbound_queue("yunnan")) == 0


def test_an_envelope_arrives_as_sent_with_the_user_id_its_own_site_validated(
    two_sites: TwoSites,
) -> None:
    bodies = [b"envelope-1", b"envelope-2"]
    ids = publish(two_sites, bodies)
    got = take_all(two_sites, 2)
    assert [body for _, _, body in got] == bodies
    for (method, properties, _), message_id in zip(got, ids, strict=True):
        assert properties.user_id == two_sites.user(HK)
        assert properties.message_id == message_id
        assert properties.delivery_mode == 2
        # No shovel headers added; a quorum queue counts deliveries in x-delivery-count.
        headers = dict(properties.headers)
        assert headers.pop("x-delivery-count") == 0
        assert headers == {"x-test": "kept"}
        assert method.routing_key == routing_key(HK, VN)
        assert method.exchange == ENVELOPE_EXCHANGE


def test_the_link_user_may_only_forward_the_allowed_pairs(two_sites: TwoSites) -> None:
    """hanoi's ``link.from.yunnan`` is an impersonator, bounded by its topic permission: it
    cannot forward a pair the agreements do not give yunnan, nor read anything."""
    hanoi = two_sites.hanoi
    user = f"{two_sites.prefix}link.from.yunnan"
    password = (two_sites.links / "hanoi" / f"{user}.amqp-password").read_text()
    params = pika.URLParameters(hanoi.node.url(user, password, two_sites.vhost))

    def attempt(action: Callable[[Any], object]) -> None:
        with pika.BlockingConnection(params) as connection:
            channel = connection.channel()
            channel.confirm_delivery()
            action(channel)

    def publish_as(sender: str) -> Callable[[Any], object]:
        return lambda channel: channel.basic_publish(
            ENVELOPE_EXCHANGE, routing_key(sender, VN), b"x",
            pika.BasicProperties(user_id=two_sites.user(sender)), mandatory=True,
        )  # fmt: skip

    attempt(publish_as(HK))  # the shovel's own job: allowed
    assert take_all(two_sites, 1)[0][1].user_id == two_sites.user(HK)
    for refused in (
        publish_as(MPS),  # beijing's office: not yunnan's to forward
        lambda channel: channel.basic_get(inbox_queue(VN)),
        lambda channel: channel.queue_declare("mine", durable=True),
        lambda channel: channel.basic_publish("", inbox_queue(VN), b"x"),
    ):
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as refusal:
            attempt(refused)
        assert refusal.value.reply_code == 403


def test_the_amqps_listener_refuses_a_client_without_a_certificate(two_sites: TwoSites) -> None:
    hanoi = two_sites.hanoi
    context = ssl.create_default_context(cafile=str(two_sites.ca_file))  # verifies hanoi
    params = pika.URLParameters(hanoi.node.url("guest", "guest", tls=True))
    params.ssl_options = pika.SSLOptions(context, server_hostname="localhost")
    with pytest.raises(pika.exceptions.AMQPConnectionError):
        pika.BlockingConnection(params).close()
    tls = hanoi.node.tls
    assert tls is not None
    context.load_cert_chain(str(tls.cert_file), str(tls.key_file))
    pika.BlockingConnection(params).close()  # the same client with a certificate gets in


def test_envelopes_wait_in_the_outbound_queue_while_the_far_site_is_down(
    two_sites: TwoSites,
) -> None:
    yunnan, hanoi = two_sites.yunnan, two_sites.hanoi
    before = [b"before-%d" % n for n in range(3)]
    during = [b"during-%d" % n for n in range(20)]
    ids = publish(two_sites, before)
    hanoi.node.stop()
    try:
        ids += publish(two_sites, during)  # yunnan still confirms every one
        # (A quorum queue's count in list_queues lags a moment behind.)
        wait_for(lambda: two_sites.count(yunnan, outbound_queue("hanoi")) == len(during), WAIT)
        # The shovel keeps trying; nothing leaves the queue while hanoi is down.
        time.sleep(3)
        assert two_sites.count(yunnan, outbound_queue("hanoi")) == len(during)
    finally:
        hanoi.node.start()
    got = take_all(two_sites, len(before) + len(during))
    assert [body for _, _, body in got] == before + during
    assert [properties.message_id for _, properties, _ in got] == ids
    assert {properties.user_id for _, properties, _ in got} == {two_sites.user(HK)}
    wait_for(lambda: two_sites.count(yunnan, outbound_queue("hanoi")) == 0, WAIT)
    assert two_sites.count(hanoi, inbox_queue(VN)) == 0  # and nothing twice


def test_a_client_fails_over_from_a_stopped_node_to_the_other(two_sites: TwoSites) -> None:
    yunnan, hanoi = two_sites.yunnan, two_sites.hanoi
    queue = f"failover.{secrets.token_hex(4)}"
    for site in (yunnan, hanoi):
        with two_sites.guest(site) as connection:
            connection.channel().queue_declare(
                queue, durable=True, arguments={"x-queue-type": "quorum"}
            )
    settings = AmqpSettings(
        urls=(yunnan.node.url("guest", "guest"), hanoi.node.url("guest", "guest")),
        max_backoff=1.0,
        connection_name=f"liaison-test-failover-{queue}",
    )
    recorder = Recorder()
    try:
        with running(settings, recorder, inbox=None) as link:
            assert link.wait_connected(WAIT)
            assert f":{yunnan.node.amqp_port}/" in link.health().url
            yunnan.node.stop()
            assert recorder.wait(lambda: recorder.states.count("connected") >= 2, WAIT)
            health = link.health()
            link.publish("p1", exchange="", routing_key=queue, body=b"after failover",
                         message_id="m1", user_id="guest")  # fmt: skip
            assert recorder.wait(lambda: "p1" in recorder.outcomes, WAIT)
        assert f":{hanoi.node.amqp_port}/" in health.url
        assert recorder.outcomes["p1"].outcome is PublishOutcome.CONFIRMED
        with two_sites.guest(hanoi) as connection:
            method, _, body = connection.channel().basic_get(queue, auto_ack=True)
        assert method is not None
        assert body == b"after failover"
    finally:
        yunnan.node.start()
        for site in (yunnan, hanoi):
            with two_sites.guest(site) as connection:
                connection.channel().queue_delete(queue)
        _wait_running_shovels(yunnan.node, 1)
