"""Configuration files: every problem reported with its key path, secrets only by reference."""

import json
from pathlib import Path

import pytest

from broker.amqp.settings import AmqpSettings
from broker.config import OfficeConfig, check_files, load_config, parse_config
from broker.errors import ConfigError

GOOD = """
[office]
id = "CN-YN-BLO-HK"

[keys]
dir = "keys/hk"

[directory]
file = "directory.bin"

[amqp]
urls = ["amqp://cn-yn-blo-hk@127.0.0.1:5672/liaison", "amqps://hub.example:5671/liaison"]
password_file = "secret"
"""

BROKEN = """
[office]
id = "cn yunnan"
colour = "blue"

[keys]
passphrase_env = "not a name"

[amqp]
urls = ["amqp://office:hunter2@127.0.0.1/liaison"]
prefetch = "many"
heartbeat = -1

[limits]
max_recipients = true

[logs]
level = "info"
"""


def test_a_good_file_loads_with_defaults_and_resolved_paths(tmp_path: Path) -> None:
    cfg = parse_config(GOOD, tmp_path / "office.toml")
    assert isinstance(cfg, OfficeConfig)
    assert cfg.office.id == "CN-YN-BLO-HK"
    assert cfg.office.data_dir == tmp_path / "data"
    assert cfg.keys.dir == tmp_path / "keys/hk"
    assert cfg.amqp.urls[1] == "amqps://hub.example:5671/liaison"
    assert cfg.amqp.prefetch == 64
    assert cfg.limits.max_envelope_bytes == 16 * 1024 * 1024
    assert cfg.log.format == "auto"


def test_every_problem_is_named_by_its_key_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(BROKEN, tmp_path / "office.toml")
    found = {p.key_path: p.message for p in caught.value.problems}
    assert set(found) == {
        "logs",
        "office.colour",
        "office.id",
        "keys.dir",
        "keys.passphrase_env",
        "directory",
        "amqp.urls",
        "amqp.prefetch",
        "amqp.heartbeat",
        "limits.max_recipients",
    }
    assert "password_file" in found["amqp.urls"]
    assert found["amqp.prefetch"] == "must be an integer"
    assert found["limits.max_recipients"] == "must be an integer"
    assert "unknown" in found["office.colour"]
    assert "hunter2" not in str(caught.value) + " ".join(found.values())
    assert caught.value.exit_code == 3


def test_not_toml_and_unreadable_files_are_config_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[office\nid=", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(binary)


def test_cli_config_check_reports_each_problem_and_exits_3(tmp_path: Path, liaison) -> None:
    path = tmp_path / "office.toml"
    path.write_text(BROKEN, encoding="utf-8")
    result = liaison("config", "check", str(path))
    assert result.code == 3
    for key in ("office.id", "amqp.urls", "amqp.prefetch", "limits.max_recipients", "logs"):
        assert f"  - {key}: " in result.err
    as_json = liaison("config", "check", "--json", str(path))
    assert as_json.code == 3
    report = json.loads(as_json.out)
    assert report["valid"] is False
    assert len(report["problems"]) == 10


def test_cli_config_check_checks_the_files_named(tmp_path: Path, liaison) -> None:
    path = tmp_path / "office.toml"
    path.write_text(GOOD, encoding="utf-8")
    assert liaison("config", "check", "--no-files", str(path)).code == 0
    missing = liaison("config", "check", str(path))
    assert missing.code == 3
    assert "keys.dir: no such folder" in missing.err
    (tmp_path / "keys/hk").mkdir(parents=True)
    (tmp_path / "keys/hk/public.json").write_text("{}", encoding="utf-8")
    (tmp_path / "directory.bin").write_bytes(b"")
    secret = tmp_path / "secret"
    secret.write_text("pw", encoding="utf-8")
    secret.chmod(0o644)
    loose = liaison("config", "check", str(path))
    assert loose.code == 3
    assert "amqp.password_file: readable by others (mode 644)" in loose.err
    secret.chmod(0o600)
    ok = liaison("config", "check", "--json", str(path))
    assert ok.code == 0, ok.err
    assert json.loads(ok.out) == {
        "error": None, "file": str(path), "office": "CN-YN-BLO-HK", "problems": [], "valid": True,
    }  # fmt: skip


def test_the_shipped_example_is_valid(tmp_path: Path, liaison) -> None:
    example = liaison("config", "example")
    assert example.code == 0
    path = tmp_path / "office.toml"
    path.write_text(example.out, encoding="utf-8")
    assert liaison("config", "check", "--no-files", str(path)).code == 0


def test_the_hand_over_and_partner_endpoint_settings_are_checked(tmp_path: Path) -> None:
    (tmp_path / "keys/hk").mkdir(parents=True)
    (tmp_path / "keys/hk/public.json").write_text("{}", encoding="utf-8")
    (tmp_path / "directory.bin").write_bytes(b"")
    (tmp_path / "secret").write_text("pw", encoding="utf-8")
    (tmp_path / "secret").chmod(0o600)
    token = tmp_path / "token"
    token.write_text("t", encoding="utf-8")
    token.chmod(0o640)
    text = GOOD + (
        '[handover]\nadapter = "telex"\ntransport = "http"\ntoken_file = "token"\n'
        'cert_file = "client.pem"\n[partner_api]\nlisten = "127.0.0.1:8080"\n'
    )
    config = parse_config(text, tmp_path / "office.toml")
    found = check_files(config)
    problems = {p.key_path: p.message for p in found}
    assert problems["handover.adapter"].startswith("no adapter 'telex' (canonical, json, sheet")
    assert problems["handover.url"] == "required when handover.transport is http"
    assert problems["handover.token_file"].startswith("readable by others (mode 640)")
    assert [p.message for p in found if p.key_path == "handover.cert_file"] == [
        f"no such file: {tmp_path / 'client.pem'}",
        "give both cert_file and key_file",
    ]
    assert [p.message for p in found if p.key_path == "partner_api.listen"] == [
        "needs token_file or client_ca_file: no open endpoint",
        "needs handover.pickup_dir, where it puts the files",
    ]
    with pytest.raises(ConfigError) as bad:
        parse_config(GOOD + '[handover]\ntransport = "ftp"\nurl = "ftp://x"\n', tmp_path / "o")
    assert {p.key_path for p in bad.value.problems} == {"handover.transport", "handover.url"}


def test_amqps_trust_and_client_certificate_reach_the_link_settings(tmp_path: Path) -> None:
    text = GOOD.replace(
        'password_file = "secret"',
        'password_file = "secret"\nca_file = "tls/ca.pem"\ncert_file = "tls/office.pem"\n'
        'key_file = "tls/office-key.pem"',
    )
    config = parse_config(text, tmp_path / "office.toml")
    settings = AmqpSettings.from_config(config.amqp, "pw")
    assert settings.tls_ca_file == tmp_path / "tls" / "ca.pem"
    assert (settings.tls_cert_file, settings.tls_key_file) == (
        tmp_path / "tls" / "office.pem",
        tmp_path / "tls" / "office-key.pem",
    )
    problems = {p.key_path for p in check_files(config)}
    assert {"amqp.ca_file", "amqp.cert_file", "amqp.key_file"} <= problems
