"""``liaison broker definitions|apply|remove`` through the real entry point (no broker: the
apply and remove paths run against the stand-in rabbitmqctl of test_topology_admin)."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from broker.cli.broker_cmd import broker, secret_path
from broker.cli.main import cli
from broker.topology import password_matches
from tests.conftest import CliResult
from tests.demo import DIRECTORY_FILE, ROOT_FILE
from tests.unit.test_topology_admin import FakeNode

HK, VN, LA, KH = "CN-YN-BLO-HK", "VN-BCA-C02", "LA-MPS-VTE", "KH-NPA-PP"
ROUTES = f"""
[offices.{HK}]
partners = ["{VN}", "{KH}"]

[offices.{VN}]
partners = []
"""

Liaison = Callable[..., CliResult]


@pytest.fixture
def run(liaison: Liaison, monkeypatch: pytest.MonkeyPatch) -> Liaison:
    monkeypatch.setitem(cli.commands, "broker", broker)
    return lambda *args: liaison("broker", *args)


@pytest.fixture
def node(tmp_path: Path) -> FakeNode:
    folder = tmp_path / "node"
    folder.mkdir()
    return FakeNode(folder)


@pytest.fixture
def routes(tmp_path: Path) -> Path:
    path = tmp_path / "routes.toml"
    path.write_text(ROUTES)
    return path


def generate(run: Liaison, routes: Path, out: Path, *extra: str) -> CliResult:
    return run("definitions", "--routes", str(routes), "--out", str(out), *extra)


def test_the_group_teaches_its_commands(run: Liaison) -> None:
    result = run("--help")
    assert result.code == 0
    for command in ("definitions", "apply", "remove"):
        assert command in result.out


def test_definitions_writes_the_document_and_private_passwords(
    run: Liaison, routes: Path, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    result = generate(run, routes, out, "--vhost", "liaison-x", "--users-prefix", "t1-", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["vhost"] == "liaison-x"
    assert report["envelope_exchange"] == "liaison.envelopes"
    assert report["remote_partners"] == [KH]
    assert f"no inbox on this broker for {KH}" in result.err
    hk = report["offices"][0]
    assert hk == {
        "office": HK,
        "user": "t1-cn-yn-blo-hk",
        "inbox": "inbox.cn-yn-blo-hk",
        "dead_letters": "dead.cn-yn-blo-hk",
        "may_address": [KH, VN],
        "password_file": str(out / "secrets" / f"{HK}.amqp-password"),
        "password": "new",
    }
    definitions_file = out / "definitions.json"
    assert stat.S_IMODE(definitions_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((out / "secrets").stat().st_mode) == 0o700
    document = json.loads(definitions_file.read_text())
    for office in (HK, VN):
        secret = secret_path(out, office)
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        password = secret.read_text()
        assert len(password) == 43
        assert password not in definitions_file.read_text()
        assert password not in result.out + result.err
        (user,) = [u for u in document["users"] if u["name"] == "t1-" + office.lower()]
        assert password_matches(password, user["password_hash"])


def test_definitions_keeps_existing_passwords(run: Liaison, routes: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    assert generate(run, routes, out).code == 0
    password = secret_path(out, HK).read_text()
    secret_path(out, VN).unlink()
    result = generate(run, routes, out, "--json")
    assert result.code == 0, result.err
    states = {o["office"]: o["password"] for o in json.loads(result.out)["offices"]}
    assert states == {HK: "kept", VN: "new"}
    assert secret_path(out, HK).read_text() == password


def test_definitions_refuses_a_password_file_others_can_read(
    run: Liaison, routes: Path, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    assert generate(run, routes, out).code == 0
    secret_path(out, HK).chmod(0o644)
    result = generate(run, routes, out)
    assert result.code == 4
    assert "chmod 600" in result.err


@pytest.mark.parametrize("content", ["", "two words\n\x01"])
def test_definitions_refuses_a_password_file_without_a_password(
    run: Liaison, routes: Path, tmp_path: Path, content: str
) -> None:
    out = tmp_path / "site"
    assert generate(run, routes, out).code == 0
    secret_path(out, HK).write_text(content)
    result = generate(run, routes, out)
    assert result.code == 4
    assert "does not hold a password" in result.err


@pytest.mark.parametrize(
    ("extra", "text"),
    [
        (("--users-prefix", "UPPER-"), "user_prefix"),
        (("--vhost", "a\tb"), "vhost"),
        (("--delivery-limit", "0"), "0 is not in the range"),
    ],
)
def test_bad_settings_write_no_secret(
    run: Liaison, routes: Path, tmp_path: Path, extra: tuple[str, ...], text: str
) -> None:
    result = generate(run, routes, tmp_path / "site", *extra)
    assert result.code in (2, 5)
    assert text in result.err
    assert not (tmp_path / "site").exists()


def test_a_bad_or_missing_routes_file_is_an_input_error(run: Liaison, tmp_path: Path) -> None:
    missing = generate(run, tmp_path / "nope.toml", tmp_path / "site")
    assert missing.code == 5
    assert "cannot read" in missing.err
    bad = tmp_path / "routes.toml"
    bad.write_text("[offices.hk]\npartners = []\n")
    result = generate(run, bad, tmp_path / "site")
    assert result.code == 5
    assert "offices.hk" in result.err


def test_apply_and_remove_through_rabbitmqctl(
    run: Liaison, routes: Path, tmp_path: Path, node: FakeNode
) -> None:
    out = tmp_path / "site"
    assert generate(run, routes, out, "--vhost", "v1", "--users-prefix", "t1-").code == 0
    ctl = ["--rabbitmqctl", str(node.script)]
    definitions = str(out / "definitions.json")
    applied = run("apply", definitions, "--vhost", "v1", *ctl)
    assert applied.code == 0, applied.err
    assert "Created vhost v1: 2 users, 4 queues" in applied.out
    again = run("apply", definitions, "--vhost", "v1", *ctl)
    assert again.code == 5
    replaced = run("apply", definitions, "--vhost", "v1", "--replace", "--json", *ctl)
    assert replaced.code == 0, replaced.err
    assert json.loads(replaced.out)["replaced"] is True
    refused = run("remove", "--vhost", "v1", "--users-prefix", "t1-", *ctl)
    assert refused.code == 1  # no --yes and no one to confirm: aborted, nothing deleted
    assert "v1" in [v["name"] for v in node.definitions["vhosts"]]
    removed = run("remove", "--vhost", "v1", "--users-prefix", "t1-", "--yes", *ctl)
    assert removed.code == 0, removed.err
    assert "vhost v1: deleted; users deleted: t1-cn-yn-blo-hk, t1-vn-bca-c02" in removed.out


def test_apply_checks_the_vhost_and_the_document(
    run: Liaison, routes: Path, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    assert generate(run, routes, out, "--vhost", "v1").code == 0
    definitions = str(out / "definitions.json")
    wrong = run("apply", definitions, "--vhost", "v2", "--rabbitmqctl", "/nonexistent")
    assert wrong.code == 5
    assert "is for vhost 'v1', not 'v2'" in wrong.err
    garbage = tmp_path / "garbage.json"
    garbage.write_text("[1, 2")
    assert run("apply", str(garbage), "--vhost", "v1").code == 5
    garbage.write_text("[]")
    assert run("apply", str(garbage), "--vhost", "v1").code == 5
    assert run("apply", str(tmp_path / "missing.json"), "--vhost", "v1").code == 5


def test_apply_without_rabbitmqctl_is_exit_20_naming_the_step(
    run: Liaison, routes: Path, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    assert generate(run, routes, out, "--vhost", "v1").code == 0
    result = run("apply", str(out / "definitions.json"), "--vhost", "v1",
                 "--rabbitmqctl", str(tmp_path / "no-rabbitmqctl"))  # fmt: skip
    assert result.code == 20
    assert "list virtual hosts:" in result.err
    assert "not found" in result.err


def test_definitions_from_the_signed_directory(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "site"
    args = ["definitions", "--directory", str(DIRECTORY_FILE), "--root", str(ROOT_FILE)]
    result = runner.invoke(broker, [*args, "--site", "yunnan", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    offices = {o["office"]: o for o in report["offices"]}
    assert "CN-YN-BLO-HK" in offices
    assert "ES-PN-UCRIF" not in offices
    assert "VN-BCA-C02" in offices["CN-YN-BLO-HK"]["may_address"]
    assert "ES-PN-UCRIF" not in offices["CN-YN-BLO-HK"]["may_address"]
    nowhere = runner.invoke(broker, [*args, "--site", "atlantis", "--out", str(out)])
    assert nowhere.exit_code != 0
    neither = runner.invoke(broker, ["definitions", "--out", str(out)])
    assert neither.exit_code == 2
