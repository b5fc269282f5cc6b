"""StaticDirectory: the minimal DirectoryView, and how key windows are judged."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from broker.envelope import DirectoryView, KeyWindow, StaticDirectory
from broker.errors import PeerError, RejectReason
from tests.vectors.generate_envelope import DIRECTORY, KEYS, NOW, ROGUE, SENDER, TH

KEY = KEYS[SENDER].public()
MS = timedelta(milliseconds=1)


def _directory(window: KeyWindow) -> DirectoryView:
    return StaticDirectory.of(3, [KEY], {KEY.signing_key_id: window})


def _reason(directory: DirectoryView, at: datetime = NOW) -> RejectReason:
    with pytest.raises(PeerError) as caught:
        directory.signing_key(SENDER, KEY.signing_key_id, at)
    return caught.value.reason


def test_listed_key_without_window_is_valid_at_any_time() -> None:
    assert DIRECTORY.signing_key(SENDER, KEY.signing_key_id, NOW) == KEY.signing
    assert (
        DIRECTORY.signing_key(SENDER, KEY.signing_key_id, NOW + timedelta(days=9999)) == KEY.signing
    )


def test_of_builds_the_mapping_and_keeps_the_version() -> None:
    directory = StaticDirectory.of(3, [KEY, KEYS[TH].public()])
    assert directory.version == 3
    assert set(directory.offices) == {SENDER, TH}
    assert directory.windows == {}


def test_window_is_half_open() -> None:
    directory = _directory(KeyWindow(not_before=NOW, not_after=NOW + MS * 10))
    assert directory.signing_key(SENDER, KEY.signing_key_id, NOW) == KEY.signing
    assert directory.signing_key(SENDER, KEY.signing_key_id, NOW + MS * 9) == KEY.signing
    assert _reason(directory, NOW - MS) is RejectReason.SENDER_KEY_NOT_YET_VALID
    assert _reason(directory, NOW + MS * 10) is RejectReason.SENDER_KEY_EXPIRED


def test_revocation_applies_from_its_moment_on() -> None:
    directory = _directory(KeyWindow(revoked_at=NOW))
    assert directory.signing_key(SENDER, KEY.signing_key_id, NOW - MS) == KEY.signing
    assert _reason(directory, NOW) is RejectReason.SENDER_KEY_REVOKED


def test_unknown_office_and_unknown_key_id() -> None:
    with pytest.raises(PeerError) as caught:
        DIRECTORY.signing_key(ROGUE, KEY.signing_key_id, NOW)
    assert caught.value.reason is RejectReason.UNKNOWN_SENDER
    with pytest.raises(PeerError) as caught:
        DIRECTORY.signing_key(SENDER, KEYS[TH].public().signing_key_id, NOW)
    assert caught.value.reason is RejectReason.UNKNOWN_SENDER
