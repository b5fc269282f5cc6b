"""``liaison submit | respond | status | inbox`` without a broker: durable queuing, policy
refusals that queue nothing, answers to received enquiries, status and health; and the
configuration's ``amqp.user_prefix``."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from broker.cli.main import cli
from broker.cli.office_cmd import COMMANDS
from broker.config import parse_config
from broker.daemon import amqp_settings, load_office, write_status
from broker.daemon.decisions import Arrival
from broker.daemon.handover import handover_from_config
from broker.daemon.inbound import Inbound, Settle
from broker.daemon.office import read_secret
from broker.errors import ConfigError
from broker.exchange_log import EnvelopeStore, EventType, ExchangeLog, decode_entry
from broker.keys.files import save_office_keys
from broker.keys.passphrase import Kdf
from broker.model import CaseEnquiry, CaseResponse, EnquiryType, new_id
from broker.office_store import DeliveryState, InboxState, OfficeStore
from broker.topology import routing_key
from tests.demo import DIRECTORY_FILE, ROOT_FILE, make

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
HK, VN = "CN-YN-BLO-HK", "VN-BCA-C02"


@pytest.fixture(scope="module")
def key_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make.private_copy(tmp_path_factory.mktemp("keys"))


@pytest.fixture
def office_cli(liaison: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    for name, command in COMMANDS.items():
        monkeypatch.setitem(cli.commands, name, command)
    return liaison


def write_config(folder: Path, office_id: str, keys: Path, *, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "office.toml"
    path.write_text(
        f'[office]\nid = "{office_id}"\ndata_dir = "data"\n[keys]\ndir = "{keys}"\n'
        f'[directory]\nfile = "{DIRECTORY_FILE}"\npinned_root = "{ROOT_FILE}"\n'
        '[amqp]\nurls = ["amqp://127.0.0.1:5672/liaison"]\nuser_prefix = "t1-"\n' + extra,
        encoding="utf-8",
    )
    return path


@pytest.fixture
def hk_config(tmp_path: Path, key_folder: Path) -> Path:
    return write_config(tmp_path / "hk", HK, key_folder / "offices" / HK)


@pytest.fixture
def vn_config(tmp_path: Path, key_folder: Path) -> Path:
    return write_config(tmp_path / "vn", VN, key_folder / "offices" / VN)


def enquiry(**changes: Any) -> CaseEnquiry:
    alert = CaseEnquiry.from_json((EXAMPLES / "missing-child-alert.json").read_text("utf-8"))
    base = dataclasses.replace(
        alert,
        enquiry_id=new_id(),
        recipient_offices=(VN,),
        response_due=datetime.now(UTC).replace(microsecond=0) + timedelta(days=2),
    )
    return dataclasses.replace(base, **changes)


def data_dir(config: Path) -> Path:
    return config.parent / "data"


def log_events(config: Path) -> list[EventType]:
    with ExchangeLog.open_existing(data_dir(config) / "exchange-log.db") as log:
        return [decode_entry(data).event for _, data in log.iter_entries()]


def test_user_prefix_is_an_optional_amqp_setting(tmp_path: Path) -> None:
    base = '[office]\nid = "CN-YN-BLO-HK"\n[keys]\ndir = "k"\n[directory]\nfile = "d"\n'
    plain = parse_config(base + '[amqp]\nurls = ["amqp://h/v"]\n', tmp_path / "a.toml")
    assert plain.amqp.user_prefix == ""
    prefixed = parse_config(
        base + '[amqp]\nurls = ["amqp://h/v"]\nuser_prefix = "t1a2-"\n', tmp_path / "b.toml"
    )
    assert prefixed.amqp.user_prefix == "t1a2-"
    with pytest.raises(ConfigError) as caught:
        parse_config(base + '[amqp]\nurls = ["amqp://h/v"]\nuser_prefix = "Bad!"\n', tmp_path)
    assert [p.key_path for p in caught.value.problems] == ["amqp.user_prefix"]


def test_the_link_logs_in_as_the_office_s_user(tmp_path: Path, hk_config: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    secret.chmod(0o600)
    config = parse_config(hk_config.read_text() + f'password_file = "{secret}"\n', hk_config)
    settings = amqp_settings(config)
    assert (settings.username, settings.password) == ("t1-cn-yn-blo-hk", "s3cret")
    wrong = parse_config(
        hk_config.read_text().replace("amqp://127", "amqp://vn-bca-c02@127"), hk_config
    )
    with pytest.raises(ConfigError, match="names user 'vn-bca-c02'"):
        amqp_settings(wrong)
    secret.chmod(0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        amqp_settings(config)


def test_submit_queues_durably_and_prints_the_message_id(
    office_cli: Callable[..., Any], hk_config: Path, tmp_path: Path
) -> None:
    (tmp_path / "enquiry.json").write_text(enquiry().to_json(), encoding="utf-8")
    result = office_cli("submit", str(tmp_path / "enquiry.json"), "--config", str(hk_config))
    assert result.code == 0, result.err
    message_id = bytes.fromhex(result.out.strip())
    assert "queued for VN-BCA-C02" in result.err
    with OfficeStore.open(data_dir(hk_config) / "office.db", office_id=HK) as store:
        [delivery] = store.deliveries_of(message_id)
        envelope = store.outbox_envelope(message_id)
    assert delivery.state is DeliveryState.QUEUED
    assert log_events(hk_config) == [EventType.SUBMITTED]
    assert envelope is not None
    status = office_cli("status", message_id.hex(), "--config", str(hk_config), "--json")
    assert json.loads(status.out)["deliveries"][0]["state"] == "queued"
    listing = office_cli("status", "--config", str(hk_config), "--json")
    assert [d["message_id"] for d in json.loads(listing.out)["deliveries"]] == [message_id.hex()]
    assert json.loads(
        office_cli("status", "--overdue", "--config", str(hk_config), "--json").out
    ) == {"deliveries": []}
    human = office_cli("status", message_id.hex(), "--config", str(hk_config))
    assert "to VN-BCA-C02: queued" in human.out
    assert "submitted" in human.out
    listed = office_cli("status", "--config", str(hk_config))
    assert f"{message_id.hex()}  enquiry to VN-BCA-C02: queued  due " in listed.out


def test_an_enquiry_the_agreements_refuse_queues_nothing(
    office_cli: Callable[..., Any], hk_config: Path, tmp_path: Path
) -> None:
    dna = enquiry(enquiry_type=EnquiryType.DNA_REFERENCE_MATCH)
    (tmp_path / "dna.json").write_text(dna.to_json(), encoding="utf-8")
    result = office_cli("submit", str(tmp_path / "dna.json"), "--config", str(hk_config))
    assert result.code == 6
    assert "enquiry-type-not-allowed" in result.err
    assert not (data_dir(hk_config) / "office.db").exists()
    assert not any((data_dir(hk_config) / "envelopes").glob("*/*"))


def test_submit_takes_enquiries_only(
    office_cli: Callable[..., Any], hk_config: Path, tmp_path: Path
) -> None:
    response = CaseResponse.from_json((EXAMPLES / "case-response.json").read_text("utf-8"))
    (tmp_path / "response.json").write_text(response.to_json(), encoding="utf-8")
    result = office_cli("submit", str(tmp_path / "response.json"), "--config", str(hk_config))
    assert result.code == 5
    assert "liaison respond" in result.err
    (tmp_path / "bad.json").write_bytes(b"\xff\xfe")
    assert office_cli("submit", str(tmp_path / "bad.json"), "--config", str(hk_config)).code == 5


def test_a_received_enquiry_is_listed_and_answered(
    office_cli: Callable[..., Any], hk_config: Path, vn_config: Path, tmp_path: Path
) -> None:
    asked = enquiry()
    (tmp_path / "enquiry.json").write_text(asked.to_json(), encoding="utf-8")
    sent = office_cli("submit", str(tmp_path / "enquiry.json"), "--config", str(hk_config))
    message_id = bytes.fromhex(sent.out.strip())
    with OfficeStore.open(data_dir(hk_config) / "office.db", office_id=HK) as store:
        envelope = store.outbox_envelope(message_id)
    assert envelope is not None
    # VN's daemon would do this: accept and hand over.
    vn = load_office(parse_config(vn_config.read_text(), vn_config), passphrase=None,
                     now=datetime.now(UTC))  # fmt: skip
    with OfficeStore.open(vn.paths.store, office_id=VN) as store:
        handover = handover_from_config(vn.config, read_secret=read_secret)
        inbound = Inbound(lambda: vn, store, EnvelopeStore(vn.paths.envelopes), handover)
        arrival = Arrival(envelope, routing_key(HK, VN), "t1-cn-yn-blo-hk")
        assert inbound.handle(arrival, now=datetime.now(UTC)) is Settle.ACK

    inbox = office_cli("inbox", "--config", str(vn_config), "--json")
    [listed] = json.loads(inbox.out)["enquiries"]
    assert (listed["enquiry_id"], listed["sender"], listed["overdue"]) == (
        asked.enquiry_id, HK, False,
    )  # fmt: skip
    assert asked.enquiry_id in office_cli("inbox", "--config", str(vn_config)).out

    answer = CaseResponse.from_json((EXAMPLES / "case-response.json").read_text("utf-8"))
    (tmp_path / "wrong.json").write_text(answer.to_json(), encoding="utf-8")  # another enquiry
    wrong = office_cli("respond", asked.enquiry_id, str(tmp_path / "wrong.json"),
                       "--config", str(vn_config))  # fmt: skip
    assert wrong.code == 5
    assert "answers enquiry" in wrong.err
    unknown = office_cli("respond", new_id(), str(tmp_path / "wrong.json"),
                         "--config", str(vn_config))  # fmt: skip
    assert unknown.code == 5
    assert "no enquiry" in unknown.err

    right = dataclasses.replace(answer, enquiry_id=asked.enquiry_id)
    (tmp_path / "right.json").write_text(right.to_json(), encoding="utf-8")
    done = office_cli("respond", message_id.hex(), str(tmp_path / "right.json"),
                      "--config", str(vn_config), "--json")  # fmt: skip
    assert done.code == 0, done.err
    response_id = bytes.fromhex(json.loads(done.out)["message_id"])
    with OfficeStore.open(vn.paths.store, office_id=VN) as store:
        row = store.received(message_id)
        [delivery] = store.deliveries_of(response_id)
    assert row is not None
    assert (row.state, row.answered_by) == (InboxState.ANSWERED, response_id)
    assert (delivery.recipient, delivery.related_message_id) == (HK, message_id)
    assert log_events(vn_config)[-2:] == [EventType.SUBMITTED, EventType.RESPONSE_SENT]
    assert json.loads(office_cli("inbox", "--config", str(vn_config), "--json").out) == {
        "enquiries": []
    }


def test_status_refuses_what_it_cannot_find(
    office_cli: Callable[..., Any], hk_config: Path
) -> None:
    assert office_cli("status", "xyz", "--config", str(hk_config)).code == 5
    missing = office_cli("status", "00" * 16, "--config", str(hk_config))
    assert missing.code == 5
    assert "no message" in missing.err


def test_health_says_why_the_daemon_is_not_well(
    office_cli: Callable[..., Any], hk_config: Path
) -> None:
    never = office_cli("status", "--health", "--config", str(hk_config))
    assert never.code == 20
    assert "never run" in never.err
    now = datetime.now(UTC)
    status = data_dir(hk_config) / "daemon-status.json"
    data_dir(hk_config).mkdir(exist_ok=True)
    document = {"state": "running", "updated_at": now.isoformat(), "interval_s": 2.0,
                "link": {"state": "connected"}, "counts": {}}  # fmt: skip
    write_status(status, document)
    assert office_cli("status", "--health", "--config", str(hk_config)).code == 0
    for change, problem in [
        ({"link": {"state": "auth_failed"}}, "broker link is auth_failed"),
        ({"state": "stopped"}, "daemon is stopped"),
        ({"updated_at": (now - timedelta(minutes=1)).isoformat()}, "has not written"),
        ({"updated_at": "yesterday"}, "not one the daemon wrote"),
    ]:
        write_status(status, document | change)
        result = office_cli("status", "--health", "--config", str(hk_config), "--json")
        assert result.code == 20
        assert problem in json.loads(result.out)["problem"]
    status.write_text("{torn")
    assert "never run" in office_cli("status", "--health", "--config", str(hk_config)).err


def test_protected_keys_take_the_passphrase_named_in_the_configuration(
    office_cli: Callable[..., Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keys = tmp_path / "protected"
    save_office_keys(make.demo_keys(HK), keys, passphrase=b"correct horse", kdf=Kdf.minimum())
    config = write_config(
        tmp_path / "office", HK, keys, extra='[log]\nformat = "json"\n'
    ).read_text()
    path = tmp_path / "office" / "office.toml"
    path.write_text(config.replace(f'dir = "{keys}"', f'dir = "{keys}"\npassphrase_env = "PW"'))
    (tmp_path / "enquiry.json").write_text(enquiry().to_json(), encoding="utf-8")
    monkeypatch.setenv("PW", "wrong")
    denied = office_cli("submit", str(tmp_path / "enquiry.json"), "--config", str(path))
    assert denied.code == 4
    monkeypatch.setenv("PW", "correct horse")
    assert office_cli("submit", str(tmp_path / "enquiry.json"), "--config", str(path)).code == 0


@pytest.fixture(autouse=True)
def _no_daemon_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIAISON_CONFIG", raising=False)
