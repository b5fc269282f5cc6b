"""``broker.rabbitmq_admin`` without a broker: how it runs rabbitmqctl, wraps its failures, and
compares what a node exports with what it was asked to hold. (The real node: tests/integration.)

``fake_ctl`` is a stand-in rabbitmqctl (a small Python script) that keeps a node's definitions
in a JSON file and can be told to fail, hang, print garbage or lose an import.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from broker.errors import ConfigError, InputError, TransportError
from broker.rabbitmq_admin import (
    Rabbitmqctl,
    apply_definitions,
    definitions_vhost,
    missing_from,
    remove_site,
)
from broker.topology import OfficeRoute, build_definitions

HK, VN = "CN-YN-BLO-HK", "VN-BCA-C02"

FAKE = r"""
import json, pathlib, sys, time
state = pathlib.Path(__file__).with_name("state")
args = sys.argv[1:]
if args[:1] == ["--node"]:
    args = args[2:]
assert args[0] == "--quiet", args
args = args[1:]
with (state / "calls").open("a") as log:
    log.write(json.dumps(args) + "\n")
mode = (state / "mode").read_text() if (state / "mode").exists() else ""
node = json.loads((state / "node.json").read_text())
if mode == "fail":
    sys.stderr.write("Error:\nsomething broke on the node\n")
    sys.exit(69)
if mode == "hang":
    time.sleep(30)
if mode == "garbage":
    print("this is not json")
    sys.exit(0)
command = args[0]
if command == "list_vhosts":
    print(json.dumps([{"name": v["name"]} for v in node.get("vhosts", [])]))
elif command == "list_users":
    print(json.dumps([{"user": u["name"], "tags": u["tags"]} for u in node.get("users", [])]))
elif command == "export_definitions":
    print(json.dumps(node))
elif command == "import_definitions":
    document = json.load(sys.stdin)
    if mode != "lose-imports":
        for key, rows in document.items():
            node[key] = [r for r in node.get(key, []) if r not in rows] + rows
elif command == "delete_vhost":
    node["vhosts"] = [v for v in node["vhosts"] if v["name"] != args[1]]
elif command == "delete_user":
    node["users"] = [u for u in node["users"] if u["name"] != args[1]]
(state / "node.json").write_text(json.dumps(node))
"""


class FakeNode:
    def __init__(self, folder: Path) -> None:
        self.state = folder / "state"
        self.state.mkdir()
        self.script = folder / "rabbitmqctl"
        self.script.write_text(f"#!{sys.executable}\n{FAKE}")
        self.script.chmod(0o700)
        self.definitions = {"users": [{"name": "guest", "tags": ["administrator"]}]}

    @property
    def definitions(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads((self.state / "node.json").read_text())
        return result

    @definitions.setter
    def definitions(self, value: dict[str, Any]) -> None:
        (self.state / "node.json").write_text(json.dumps(value))

    def mode(self, mode: str) -> None:
        (self.state / "mode").write_text(mode)

    def calls(self) -> list[list[str]]:
        path = self.state / "calls"
        lines = path.read_text().splitlines() if path.exists() else []
        return [json.loads(line) for line in lines]

    def ctl(self, **overrides: Any) -> Rabbitmqctl:
        return Rabbitmqctl(executable=str(self.script), **overrides)


@pytest.fixture
def fake_node(tmp_path: Path) -> FakeNode:
    return FakeNode(tmp_path)


def document(vhost: str = "liaison", prefix: str = "t1-", limit: int = 5) -> dict[str, Any]:
    routes = [OfficeRoute(HK, frozenset({VN})), OfficeRoute(VN, frozenset())]
    return build_definitions(
        routes, vhost=vhost, passwords={HK: "a", VN: "b"}, user_prefix=prefix,
        delivery_limit=limit,
    )  # fmt: skip


# ---------------------------------------------------------------- running rabbitmqctl


def test_a_missing_rabbitmqctl_is_a_transport_error_naming_the_step(tmp_path: Path) -> None:
    ctl = Rabbitmqctl(executable=str(tmp_path / "nowhere"))
    with pytest.raises(TransportError) as caught:
        ctl.run("list virtual hosts", "list_vhosts")
    assert str(caught.value).startswith("list virtual hosts: ")
    assert "not found" in str(caught.value)
    assert "--rabbitmqctl" in str(caught.value)


def test_a_file_that_cannot_run_is_a_transport_error(tmp_path: Path) -> None:
    script = tmp_path / "rabbitmqctl"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o600)
    with pytest.raises(TransportError, match="not executable"):
        Rabbitmqctl(executable=str(script)).run("list users", "list_users")


def test_a_failing_command_reports_its_exit_and_last_error_line(fake_node: FakeNode) -> None:
    fake_node.mode("fail")
    with pytest.raises(TransportError) as caught:
        fake_node.ctl().run("delete vhost v", "delete_vhost", "v")
    assert str(caught.value) == (
        "delete vhost v: rabbitmqctl delete_vhost failed (exit 69): something broke on the node"
    )


def test_a_hanging_command_times_out(fake_node: FakeNode) -> None:
    fake_node.mode("hang")
    with pytest.raises(TransportError, match=r"did not finish within 0.5 s"):
        fake_node.ctl(timeout=0.5).run("list users", "list_users")


def test_output_that_is_not_json_is_a_transport_error(fake_node: FakeNode) -> None:
    fake_node.mode("garbage")
    with pytest.raises(TransportError, match="list_vhosts did not print JSON"):
        fake_node.ctl().run_json("list virtual hosts", "list_vhosts", "name")


def test_the_node_and_quiet_options_are_passed(fake_node: FakeNode) -> None:
    fake_node.ctl(node="rabbit@elsewhere").run_json("list users", "list_users")
    assert fake_node.calls() == [["list_users", "--formatter", "json"]]


# ---------------------------------------------------------------- apply


def test_apply_imports_and_checks_the_node_holds_everything(fake_node: FakeNode) -> None:
    wanted = document()
    applied = apply_definitions(wanted, ctl=fake_node.ctl())
    assert applied.vhost == "liaison"
    assert applied.users == ("t1-cn-yn-blo-hk", "t1-vn-bca-c02")
    assert applied.replaced is False
    commands = [call[0] for call in fake_node.calls()]
    assert commands == ["list_vhosts", "import_definitions", "export_definitions"]
    assert missing_from(fake_node.definitions, wanted) == ([], [])


def test_apply_refuses_an_existing_vhost_unless_replacing(fake_node: FakeNode) -> None:
    apply_definitions(document(), ctl=fake_node.ctl())
    with pytest.raises(InputError, match=r"already exists.*--replace"):
        apply_definitions(document(), ctl=fake_node.ctl())
    assert apply_definitions(document(), ctl=fake_node.ctl(), replace=True).replaced is True


def test_apply_reports_a_queue_the_broker_kept_with_other_arguments(fake_node: FakeNode) -> None:
    apply_definitions(document(limit=5), ctl=fake_node.ctl())
    fake_node.mode("lose-imports")  # like RabbitMQ: a declared queue keeps its arguments
    with pytest.raises(ConfigError) as caught:
        apply_definitions(document(limit=9), ctl=fake_node.ctl(), replace=True)
    assert "queue inbox.cn-yn-blo-hk kept x-delivery-limit 5 (wanted 9)" in str(caught.value)


def test_apply_gives_up_when_the_import_never_shows(fake_node: FakeNode) -> None:
    fake_node.mode("lose-imports")
    with pytest.raises(TransportError) as caught:
        apply_definitions(document(), ctl=fake_node.ctl(), wait=0.3)
    text = str(caught.value)
    assert text.startswith("wait for the import: after 0.3 s the broker still lacks user ")
    assert "more" in text
    assert "password_hash" not in text


def test_missing_from_sees_a_changed_password_and_permission() -> None:
    wanted = document()
    node = copy.deepcopy(wanted)
    assert missing_from(node, wanted) == ([], [])
    node["users"][0]["password_hash"] = "other"
    node["topic_permissions"][1]["write"] = ".*"
    node["bindings"].pop()
    node["users"][1]["tags"] = ["administrator"]
    missing, different = missing_from(node, wanted)
    assert missing == [
        "user t1-cn-yn-blo-hk",
        "tags of user t1-vn-bca-c02",
        "topic permissions of t1-vn-bca-c02",
        "binding liaison.dead-letters -> dead.vn-bca-c02",
    ]
    assert different == []
    node["exchanges"][0]["type"] = "fanout"
    assert missing_from(node, wanted)[1] == ["exchange liaison.envelopes is of type fanout"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(vhosts=[]), "exactly one vhost"),
        (lambda d: d.update(vhosts=[{"name": "a"}, {"name": "b"}]), "exactly one vhost"),
        (lambda d: d.pop("queues"), "no 'queues' list"),
        (lambda d: d["users"].append("x"), "users[2] is not an object"),
        (lambda d: d["users"][0].pop("password_hash"), "users[0] has no valid 'password_hash'"),
        (lambda d: d["queues"][0].update(vhost="other"), "queues[0] is for another vhost"),
        (lambda d: d["bindings"][0].update(destination_type="exchange"), "does not bind a queue"),
    ],
)
def test_a_document_that_is_not_a_liaison_site_is_refused(change: Any, message: str) -> None:
    wanted = document()
    change(wanted)
    with pytest.raises(InputError) as caught:
        definitions_vhost(wanted)
    assert message in str(caught.value)


# ---------------------------------------------------------------- remove


def test_remove_deletes_the_vhost_and_the_prefix_users_but_never_an_administrator(
    fake_node: FakeNode,
) -> None:
    apply_definitions(document(), ctl=fake_node.ctl())
    node = fake_node.definitions
    node["users"].append({"name": "t1-admin", "tags": ["administrator"]})
    node["users"].append({"name": "t2-cn-yn-blo-hk", "tags": []})
    fake_node.definitions = node
    removed = remove_site(fake_node.ctl(), vhost="liaison", users_prefix="t1-")
    assert removed.vhost_deleted is True
    assert removed.users == ("t1-cn-yn-blo-hk", "t1-vn-bca-c02")
    left = {u["name"] for u in fake_node.definitions["users"]}
    assert left == {"guest", "t1-admin", "t2-cn-yn-blo-hk"}
    again = remove_site(fake_node.ctl(), vhost="liaison", users_prefix="t1-")
    assert (again.vhost_deleted, again.users) == (False, ())


@pytest.mark.parametrize(("vhost", "prefix"), [("/", "t1-"), ("", "t1-"), ("liaison", "")])
def test_remove_refuses_the_default_vhost_and_an_empty_prefix(
    fake_node: FakeNode, vhost: str, prefix: str
) -> None:
    with pytest.raises(InputError):
        remove_site(fake_node.ctl(), vhost=vhost, users_prefix=prefix)
    assert fake_node.calls() == []
