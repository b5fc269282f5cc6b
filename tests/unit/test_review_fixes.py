"""Small edges a second reading found: each test fails without its fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.transports.http_in import PartnerApi
from adapters.transports.http_out import HttpTransport, retry_after_seconds
from adapters.transports.tls import is_loopback
from broker.certs import issue, make_ca, write_issued
from broker.cli.certs_cmd import _still_good
from broker.errors import ConfigError
from broker.rabbitmq_admin import _last_line


def test_a_shovel_password_never_reaches_an_error_message() -> None:
    stderr = (
        b"Error:\nValidation failed\n"
        b"src-uri: amqps://link.from.yunnan:s3cr3t-pw@hanoi:5671/liaison?verify=verify_peer\n"
    )
    text = _last_line(stderr)
    assert "s3cr3t-pw" not in text
    assert "amqps://link.from.yunnan:[redacted]@hanoi" in text


def test_only_localhost_itself_and_loopback_addresses_count_as_this_machine() -> None:
    assert is_loopback("localhost")
    assert is_loopback("127.0.0.1")
    assert is_loopback("[::1]")
    assert not is_loopback("case.localhost")  # resolved by DNS: could be anywhere
    with pytest.raises(ConfigError, match="in clear"):
        HttpTransport("http://case.localhost/liaison")


def test_tokens_are_printable_ascii(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="printable ASCII"):
        PartnerApi("127.0.0.1:0", pickup_dir=tmp_path, suffixes=(".json",), max_bytes=10,
                   token="jeton-\u00e9t\u00e9")  # fmt: skip
    with pytest.raises(ConfigError, match="printable ASCII"):
        HttpTransport("https://cases.example/liaison", token="t\u00f6ken")


def test_retry_after_takes_ascii_digits_only() -> None:
    assert retry_after_seconds("7", now=0.0) == 7.0
    assert retry_after_seconds("\u00b2", now=0.0) is None  # a digit to str.isdigit, not to float


def test_a_certificate_whose_key_file_does_not_match_is_not_kept(tmp_path: Path) -> None:
    ca = make_ca()
    cert_path, key_path = write_issued(issue(ca, "hanoi", hosts=("hanoi",)), tmp_path, "hanoi")
    assert _still_good(ca, cert_path, key_path, ("hanoi",))
    other = issue(ca, "hanoi", hosts=("hanoi",))
    key_path.write_bytes(other.key_pem())  # an interrupted run: new key, old certificate
    assert not _still_good(ca, cert_path, key_path, ("hanoi",))
    key_path.chmod(0o644)
    write_issued(other, tmp_path, "hanoi")
    assert key_path.stat().st_mode & 0o777 == 0o600
