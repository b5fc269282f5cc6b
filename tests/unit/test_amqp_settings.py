"""AMQP settings, broker URLs, the backoff schedule and pika connection parameters (no broker)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from broker.amqp.parameters import connection_parameters
from broker.amqp.settings import (
    BACKOFF_BASE,
    AmqpSettings,
    BrokerAddress,
    auth_retry_delay,
    backoff_delay,
    parse_broker_url,
)
from broker.config import AmqpSection
from broker.errors import ConfigError


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("amqp://127.0.0.1", BrokerAddress(tls=False, host="127.0.0.1", port=5672, vhost="/")),
        ("amqp://h:5673/", BrokerAddress(tls=False, host="h", port=5673, vhost="/")),
        (
            "amqps://broker.example/liaison",
            BrokerAddress(tls=True, host="broker.example", port=5671, vhost="liaison"),
        ),
        ("amqp://u@h/%2F", BrokerAddress(tls=False, host="h", port=5672, vhost="/", username="u")),
        (
            "amqp://u%40x:p%3Aw@h/v%2Fw",
            BrokerAddress(
                tls=False, host="h", port=5672, vhost="v/w", username="u@x", password="p:w"
            ),
        ),
        ("amqp://[::1]:5680/x", BrokerAddress(tls=False, host="::1", port=5680, vhost="x")),
    ],
)
def test_broker_urls_parse(url: str, expected: BrokerAddress) -> None:
    assert parse_broker_url(url) == expected
    assert parse_broker_url(url).password == expected.password


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://h/", "scheme"),
        ("amqp:///vhost", "no host"),
        ("amqp://h:99999/", "malformed"),
        ("amqp://h/?heartbeat=5", "query options"),
        ("amqp://h/a/b", "%2F"),
    ],
)
def test_unusable_broker_urls_are_config_errors(url: str, problem: str) -> None:
    with pytest.raises(ConfigError, match="broker URL") as caught:
        parse_broker_url(url)
    assert problem in caught.value.diagnosis


def test_a_refused_url_does_not_show_its_password() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_broker_url("http://office:s3cret@h/")
    assert "s3cret" not in caught.value.diagnosis
    assert "office@h" in caught.value.diagnosis


def test_redacted_urls_keep_user_and_drop_password() -> None:
    address = parse_broker_url("amqps://office:s3cret@[::1]/a%2Fb")
    assert address.redacted() == "amqps://office@[::1]:5671/a%2Fb"
    assert "s3cret" not in repr(address)
    assert parse_broker_url("amqp://h").redacted() == "amqp://h:5672/%2F"


def test_settings_defaults_and_password_kept_out_of_repr() -> None:
    settings = AmqpSettings(urls=("amqp://a@h1", "amqp://a@h2"), password="s3cret")
    assert (settings.heartbeat, settings.prefetch, settings.max_backoff) == (30, 64, 30.0)
    assert settings.blocked_connection_timeout == 60.0
    assert "s3cret" not in repr(settings)
    assert [a.host for a in settings.addresses] == ["h1", "h2"]


def test_every_bad_setting_is_listed() -> None:
    with pytest.raises(ConfigError) as caught:
        AmqpSettings(
            urls=("ftp://h",),
            heartbeat=0,
            prefetch=70000,
            max_backoff=-1,
            tls_cert_file=Path("client.pem"),
            connection_name="",
        )
    keys = [problem.key_path for problem in caught.value.problems]
    assert keys == [
        "amqp.urls",
        "amqp.heartbeat",
        "amqp.max_backoff",
        "amqp.prefetch",
        "amqp.tls_cert_file",
        "amqp.connection_name",
    ]
    with pytest.raises(ConfigError, match="1 problem"):
        AmqpSettings(urls=())


def test_settings_from_an_office_configuration() -> None:
    section = AmqpSection(
        urls=("amqp://cn-office@10.0.0.1/liaison", "amqp://cn-office@10.0.0.2/liaison"),
        password_file=Path("secret"),
        heartbeat=15,
        prefetch=128,
        blocked_connection_timeout=20.0,
    )
    settings = AmqpSettings.from_config(section, "pw")
    assert settings.urls == section.urls
    assert (settings.password, settings.heartbeat, settings.prefetch) == ("pw", 15, 128)
    assert settings.blocked_connection_timeout == 20.0
    assert settings.username is None


def test_backoff_grows_exponentially_under_full_jitter_and_is_capped() -> None:
    top = [backoff_delay(n, cap=30.0, rng=lambda: 1.0) for n in range(1, 10)]
    assert top == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert backoff_delay(3, cap=30.0, rng=lambda: 0.0) == 0.0
    assert backoff_delay(3, cap=30.0, rng=lambda: 0.25) == 0.5
    assert backoff_delay(10_000, cap=7.0, rng=lambda: 0.5) == 3.5  # no overflow
    assert backoff_delay(0, cap=30.0, rng=lambda: 1.0) == BACKOFF_BASE


def test_backoff_clamps_a_misbehaving_rng() -> None:
    assert backoff_delay(2, cap=30.0, rng=lambda: 7.0) == 1.0
    assert backoff_delay(2, cap=30.0, rng=lambda: -1.0) == 0.0


def test_backoff_samples_spread_over_the_whole_interval() -> None:
    values = itertools.cycle([0.1, 0.5, 0.9])
    delays = [backoff_delay(4, cap=30.0, rng=lambda: next(values)) for _ in range(3)]
    assert delays == pytest.approx([0.4, 2.0, 3.6])


def test_a_refused_login_waits_between_half_the_cap_and_the_cap() -> None:
    assert auth_retry_delay(cap=30.0, rng=lambda: 0.0) == 15.0
    assert auth_retry_delay(cap=30.0, rng=lambda: 1.0) == 30.0


def test_connection_parameters_carry_our_settings() -> None:
    settings = AmqpSettings(
        urls=("amqp://office:urlpw@h:5680/liaison",),
        heartbeat=7,
        blocked_connection_timeout=9.0,
        connection_attempt_timeout=4.0,
        connection_name="office-a",
    )
    params = connection_parameters(settings, settings.addresses[0])
    assert (params.host, params.port, params.virtual_host) == ("h", 5680, "liaison")
    assert (params.credentials.username, params.credentials.password) == ("office", "urlpw")
    assert params.heartbeat == 7
    assert params.blocked_connection_timeout == 9.0
    assert (params.socket_timeout, params.stack_timeout) == (4.0, 4.0)
    assert params.connection_attempts == 1
    assert params.ssl_options is None
    assert params.client_properties["connection_name"] == "office-a"


def test_username_and_password_settings_override_the_url() -> None:
    settings = AmqpSettings(urls=("amqp://office@h",), username="other", password="pw")
    params = connection_parameters(settings, settings.addresses[0])
    assert (params.credentials.username, params.credentials.password) == ("other", "pw")
    anonymous = AmqpSettings(urls=("amqp://h",))
    params = connection_parameters(anonymous, anonymous.addresses[0])
    assert (params.credentials.username, params.credentials.password) == ("guest", "guest")


def test_amqps_verifies_the_broker_and_its_hostname() -> None:
    settings = AmqpSettings(urls=("amqps://office@broker.example/liaison",), password="pw")
    params = connection_parameters(settings, settings.addresses[0])
    context = params.ssl_options.context
    assert context.verify_mode.name == "CERT_REQUIRED"
    assert context.check_hostname is True
    assert params.ssl_options.server_hostname == "broker.example"
    assert params.port == 5671


def test_a_client_certificate_without_password_means_external_auth(tmp_path: Path) -> None:
    settings = AmqpSettings(
        urls=("amqps://broker.example",),
        tls_cert_file=tmp_path / "missing.pem",
        tls_key_file=tmp_path / "missing.key",
    )
    # The files do not exist: the link would count this as a failed attempt and retry.
    with pytest.raises(OSError):  # noqa: PT011 - FileNotFoundError or ssl.SSLError
        connection_parameters(settings, settings.addresses[0])
    plain = AmqpSettings(
        urls=("amqp://broker.example",), tls_cert_file=Path("c"), tls_key_file=Path("k")
    )
    params = connection_parameters(plain, plain.addresses[0])
    assert params.credentials.TYPE == "EXTERNAL"
