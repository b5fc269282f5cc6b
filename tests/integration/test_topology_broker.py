"""The generated definitions on the real broker: quorum inboxes with at-least-once
dead-lettering really in effect, and ``liaison broker definitions|apply|remove`` end to end."""

from __future__ import annotations

import json
import secrets
import stat
import time
from collections.abc import Callable
from pathlib import Path

import pika
import pika.exceptions
import pytest

from broker.cli.broker_cmd import broker
from broker.cli.main import cli
from broker.rabbitmq_admin import Rabbitmqctl, export_definitions, remove_site
from broker.topology import (
    DEAD_LETTER_EXCHANGE,
    ENVELOPE_EXCHANGE,
    dead_letter_queue,
    inbox_arguments,
    inbox_queue,
    routing_key,
)
from tests.conftest import CliResult
from tests.integration.broker_fixtures import (
    DELIVERY_LIMIT,
    HK,
    LA,
    ROUTES,
    VN,
    LiaisonSite,
    effective_dead_letter_strategy,
    rabbitmqctl,
)

pytestmark = pytest.mark.integration


def queues_of(ctl: Rabbitmqctl, vhost: str) -> dict[str, dict[str, object]]:
    rows = ctl.run_json("list queues", "list_queues", "-p", vhost, "name", "type", "arguments")
    return {row["name"]: row for row in rows}


def test_inboxes_are_quorum_queues_with_at_least_once_dead_lettering(
    liaison_site: LiaisonSite,
) -> None:
    ctl, vhost = liaison_site.ctl, liaison_site.vhost
    queues = queues_of(ctl, vhost)
    assert set(queues) == {inbox_queue(r.office_id) for r in ROUTES} | {
        dead_letter_queue(r.office_id) for r in ROUTES
    }
    for route in ROUTES:
        inbox = queues[inbox_queue(route.office_id)]
        assert inbox["type"] == "quorum"
        arguments = {name: value for name, _type, value in inbox["arguments"]}  # type: ignore[attr-defined]
        assert arguments == inbox_arguments(route.office_id, delivery_limit=DELIVERY_LIMIT)
        assert queues[dead_letter_queue(route.office_id)]["type"] == "quorum"
        # The arguments ask for at-least-once; the queue's state machine must really run it.
        strategy = effective_dead_letter_strategy(ctl, vhost, inbox_queue(route.office_id))
        assert strategy == "[at_least_once]"


def test_without_reject_publish_the_broker_silently_falls_back_to_at_most_once(
    liaison_site: LiaisonSite,
) -> None:
    """The control for the test above: the same inbox arguments minus ``x-overflow`` are
    accepted without a word, yet the queue runs at-most-once dead-lettering."""
    ctl, vhost = liaison_site.ctl, liaison_site.vhost
    arguments = inbox_arguments(HK)
    del arguments["x-overflow"]
    control = {"name": "control.drop-head", "vhost": vhost, "durable": True,
               "auto_delete": False, "arguments": arguments}  # fmt: skip
    body = json.dumps({"vhosts": [{"name": vhost}], "queues": [control]}).encode()
    ctl.run("import the control queue", "import_definitions", "--format", "json", stdin=body)
    try:
        deadline = time.monotonic() + 10
        while "control.drop-head" not in queues_of(ctl, vhost):
            assert time.monotonic() < deadline, "the control queue never appeared"
            time.sleep(0.1)
        strategy = effective_dead_letter_strategy(ctl, vhost, "control.drop-head")
        assert strategy.startswith("[{at_most_once,")
    finally:
        ctl.run("delete the control queue", "delete_queue", "-p", vhost, "control.drop-head")


def test_exchanges_and_bindings_are_as_documented(liaison_site: LiaisonSite) -> None:
    exported = export_definitions(liaison_site.ctl)
    vhost = liaison_site.vhost
    exchanges = {e["name"]: e["type"] for e in exported["exchanges"] if e["vhost"] == vhost}
    assert exchanges == {ENVELOPE_EXCHANGE: "topic", DEAD_LETTER_EXCHANGE: "direct"}
    bindings = {
        (b["source"], b["routing_key"], b["destination"])
        for b in exported["bindings"]
        if b["vhost"] == vhost
    }
    assert (ENVELOPE_EXCHANGE, "from.*.to.cn-yn-blo-hk", "inbox.cn-yn-blo-hk") in bindings
    assert (DEAD_LETTER_EXCHANGE, "cn-yn-blo-hk", "dead.cn-yn-blo-hk") in bindings
    assert len(bindings) == 2 * len(ROUTES)


# ---------------------------------------------------------------- the CLI, end to end


def _connect(url: str, vhost: str, user: str, password: str) -> pika.BlockingConnection:
    params = pika.URLParameters(url)
    params.credentials = pika.PlainCredentials(user, password)
    params.virtual_host = vhost
    return pika.BlockingConnection(params)


Liaison = Callable[..., CliResult]


@pytest.fixture
def liaison_broker(liaison: Liaison, monkeypatch: pytest.MonkeyPatch) -> Liaison:
    """The real ``liaison`` entry point with this group registered as ``liaison broker``."""
    monkeypatch.setitem(cli.commands, "broker", broker)
    return lambda *args: liaison("broker", *args)


def test_definitions_apply_replace_and_remove_from_the_command_line(
    amqp_url: str, tmp_path: Path, liaison_broker: Liaison
) -> None:
    token = secrets.token_hex(4)
    vhost, prefix = f"liaison-cli-{token}", f"c{token}-"
    hk_user = prefix + "cn-yn-blo-hk"
    ctl = rabbitmqctl()
    ctl_args = ["--rabbitmqctl", ctl.executable] + (["--node", ctl.node] if ctl.node else [])
    routes = tmp_path / "routes.toml"
    routes.write_text(f'[offices.{HK}]\npartners = ["{VN}"]\n\n[offices.{VN}]\npartners = []\n')
    out = tmp_path / "site"
    definitions = str(out / "definitions.json")
    secret = out / "secrets" / f"{HK}.amqp-password"

    def generate(*extra: str) -> None:
        made = liaison_broker("definitions", "--routes", str(routes), "--vhost", vhost,
                              "--out", str(out), "--users-prefix", prefix, *extra)  # fmt: skip
        assert made.code == 0, made.err

    def apply(*extra: str) -> CliResult:
        return liaison_broker("apply", definitions, "--vhost", vhost, *ctl_args, *extra)

    def publish_as_hk(recipient: str) -> None:
        with _connect(amqp_url, vhost, hk_user, secret.read_text()) as connection:
            channel = connection.channel()
            channel.confirm_delivery()
            props = pika.BasicProperties(user_id=hk_user)
            channel.basic_publish(
                ENVELOPE_EXCHANGE, routing_key(HK, recipient), b"x", props, mandatory=True
            )

    try:
        generate()
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        assert stat.S_IMODE((out / "definitions.json").stat().st_mode) == 0o600
        applied = apply()
        assert applied.code == 0, applied.err
        assert f"Created vhost {vhost}: 2 users, 4 queues" in applied.out
        publish_as_hk(VN)
        with pytest.raises(pika.exceptions.ChannelClosedByBroker):
            publish_as_hk(LA)

        again = apply()
        assert again.code == 5
        assert "already exists" in again.err
        assert "--replace" in again.err

        # An agreement with LA: regenerate (passwords kept) and apply over the vhost.
        password = secret.read_text()
        routes.write_text(
            f'[offices.{HK}]\npartners = ["{VN}", "{LA}"]\n\n[offices.{VN}]\npartners = []\n'
            f"\n[offices.{LA}]\npartners = []\n"
        )
        generate()
        assert secret.read_text() == password
        replaced = apply("--replace", "--json")
        assert replaced.code == 0, replaced.err
        assert json.loads(replaced.out)["replaced"] is True
        publish_as_hk(LA)  # the new permission is in force

        # A new delivery limit cannot change a declared queue: said, not silently ignored.
        generate("--delivery-limit", "9")
        kept = apply("--replace")
        assert kept.code == 3
        assert "x-delivery-limit 5 (wanted 9)" in kept.err

        removed = liaison_broker("remove", "--vhost", vhost, "--users-prefix", prefix,
                                 "--yes", "--json", *ctl_args)  # fmt: skip
        assert removed.code == 0, removed.err
        report = json.loads(removed.out)
        assert report["vhost_deleted"] is True
        assert sorted(report["users"]) == sorted(prefix + o.lower() for o in (HK, VN, LA))
        with pytest.raises(pika.exceptions.ProbableAuthenticationError):
            publish_as_hk(VN)  # the user is gone
    finally:
        remove_site(ctl, vhost=vhost, users_prefix=prefix)


def test_a_failing_rabbitmqctl_is_a_transport_error_naming_the_step(
    tmp_path: Path, liaison_broker: Liaison
) -> None:
    definitions = tmp_path / "definitions.json"
    document = {"vhosts": [{"name": "v"}]} | {
        key: [] for key in ("users", "permissions", "topic_permissions", "queues", "exchanges",
                            "bindings")
    }  # fmt: skip
    definitions.write_text(json.dumps(document))
    nobody = f"nobody-{secrets.token_hex(3)}@localhost"
    executable = rabbitmqctl().executable
    result = liaison_broker("apply", str(definitions), "--vhost", "v",
                            "--rabbitmqctl", executable, "--node", nobody)  # fmt: skip
    assert result.code == 20
    assert "list virtual hosts: rabbitmqctl list_vhosts failed" in result.err
