"""A sealer's mistakes are the caller's: InputError (or KeyFileError), never ValueError."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from broker.envelope import Limits, MessageKind, Recipient, StaticDirectory, Suite, seal
from broker.errors import ConfigError, InputError, KeyFileError
from broker.keys.model import OfficeKeys
from tests.vectors.generate_envelope import KEYS, LA, MM, NOW, SENDER, TH


def _recipient(office: str, suite: Suite = Suite.V1) -> Recipient:
    return Recipient(office, suite, KEYS[office].public())


def _seal(**overrides: Any) -> bytes:
    arguments: dict[str, Any] = {
        "kind": MessageKind.ENQUIRY,
        "sender": KEYS[SENDER],
        "recipients": [_recipient(TH)],
        "directory_version": 1,
        "now": NOW,
    }
    arguments.update(overrides)
    payload = arguments.pop("payload", b"payload")
    return seal(payload, **arguments)


BAD_REQUESTS: dict[str, dict[str, Any]] = {
    "no recipients": {"recipients": []},
    "too many recipients": {
        "recipients": [_recipient(TH), _recipient(LA)],
        "limits": Limits(max_recipients=1),
    },
    "duplicate recipient": {"recipients": [_recipient(TH), _recipient(TH)]},
    "mixed suites": {"recipients": [_recipient(TH), _recipient(MM, Suite.V1_PQ)]},
    "zero lifetime": {"lifetime": timedelta(0)},
    "negative lifetime": {"lifetime": timedelta(seconds=-1)},
    "sub-millisecond lifetime": {"lifetime": timedelta(microseconds=500)},
    "lifetime over the maximum": {"lifetime": timedelta(days=30, milliseconds=1)},
    "naive now": {"now": datetime(2026, 3, 1, 9, 0)},  # noqa: DTZ001 - the point of the test
    "before 1970": {"now": datetime(1969, 12, 31, tzinfo=NOW.tzinfo)},
    "unknown kind": {"kind": 99},
    "unspecified kind": {"kind": 0},
    "negative directory version": {"directory_version": -1},
    "directory version over 64 bits": {"directory_version": 2**64},
    "payload over the limit": {"payload": bytes(2000), "limits": Limits(max_envelope_bytes=1000)},
    "envelope over the limit": {"payload": bytes(900), "limits": Limits(max_envelope_bytes=1000)},
    "short rng": {"rng": lambda n: bytes(n - 1)},
    "rng returning text": {"rng": lambda n: "x" * n},
}


@pytest.mark.parametrize("overrides", BAD_REQUESTS.values(), ids=BAD_REQUESTS.keys())
def test_bad_request_is_an_input_error(overrides: dict[str, Any]) -> None:
    with pytest.raises(InputError):
        _seal(**overrides)


def test_a_kind_given_as_its_number_is_accepted() -> None:
    assert _seal(kind=1)


def test_pq_recipient_without_a_hybrid_key_is_refused_on_construction() -> None:
    with pytest.raises(InputError, match="ML-KEM"):
        Recipient(TH, Suite.V1_PQ, KEYS[TH].public())


def test_recipient_with_another_offices_keys_is_refused() -> None:
    with pytest.raises(InputError):
        Recipient(TH, Suite.V1, KEYS[LA].public())


def test_recipient_key_id_follows_the_suite() -> None:
    assert _recipient(MM).key_id == KEYS[MM].public().encryption_key_id
    assert _recipient(MM, Suite.V1_PQ).key_id == KEYS[MM].public().hybrid_key_id


def test_office_ids_must_fit() -> None:
    long_id = "X" * 257
    long_office = OfficeKeys.generate(long_id)
    with pytest.raises(InputError):
        _seal(sender=long_office)
    with pytest.raises(InputError):
        _seal(recipients=[Recipient(long_id, Suite.V1, long_office.public())])


def test_sender_whose_directory_entry_differs_from_its_keys_is_a_key_file_error() -> None:
    stale = OfficeKeys.generate(SENDER).public()
    with pytest.raises(KeyFileError):
        _seal(recipients=[_recipient(TH), Recipient(SENDER, Suite.V1, stale)])


def test_invalid_recipient_key_is_an_input_error() -> None:
    low_order = dataclasses.replace(KEYS[TH].public(), encryption=bytes(32))
    with pytest.raises(InputError):
        _seal(recipients=[Recipient(TH, Suite.V1, low_order)])


def test_invalid_hybrid_key_is_an_input_error() -> None:
    public = KEYS[MM].public()
    assert public.hybrid is not None
    broken = dataclasses.replace(
        public, hybrid=dataclasses.replace(public.hybrid, mlkem=b"\x01" * 10)
    )
    with pytest.raises(InputError):
        _seal(recipients=[Recipient(MM, Suite.V1_PQ, broken)])


@pytest.mark.parametrize(
    "build",
    [
        lambda: Limits(max_envelope_bytes=0),
        lambda: Limits(max_recipients=0),
        lambda: Limits(max_clock_skew=timedelta(seconds=-1)),
        lambda: Limits(max_lifetime=timedelta(0)),
    ],
)
def test_nonsense_limits_are_a_config_error(build: Callable[[], Limits]) -> None:
    with pytest.raises(ConfigError):
        build()


def test_static_directory_refuses_an_entry_under_another_id() -> None:
    with pytest.raises(InputError):
        StaticDirectory(1, {TH: KEYS[LA].public()})
