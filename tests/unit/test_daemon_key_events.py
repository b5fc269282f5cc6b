"""The office's own key events: generated on first use, rotated on a new key, revoked once."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from broker.daemon.key_events import KeysLogged, key_events
from broker.directory import (
    Directory,
    KeyUse,
    OfficeKey,
    Revocation,
    RevocationReason,
    encode_content,
)
from broker.errors import IntegrityError
from broker.exchange_log import EventType, LogEntry, decode_entry
from broker.keys.model import OfficeKeys
from tests.unit.test_directory_keys import office_keys
from tests.vectors import generate_directory as vec

HK, VN = vec.OFFICES
T0 = datetime(2026, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 6, 1, tzinfo=UTC)


OLD, NEW = office_keys("old"), office_keys("new")


def directory(revoke_old_signing: bool = False) -> Directory:
    """HK lists OLD and NEW; OLD's signing key is revoked when asked."""
    content = vec.content(1, vec.root(vec.ADMINS_A))
    hk, vn = content.offices
    far = T0 + timedelta(days=900)
    revoked = Revocation(T0 + timedelta(days=105), RevocationReason.KEY_COMPROMISE)
    switch, old_end = T0 + timedelta(days=100), T0 + timedelta(days=110)
    listed = [
        OfficeKey(
            KeyUse.SIGNING,
            OLD.public().signing,
            T0,
            old_end,
            revoked if revoke_old_signing else None,
        ),
        OfficeKey(KeyUse.ENCRYPTION, OLD.public().encryption, T0, old_end),
        OfficeKey(KeyUse.SIGNING, NEW.public().signing, switch, far),
        OfficeKey(KeyUse.ENCRYPTION, NEW.public().encryption, switch, far),
    ]
    return Directory.decode(
        encode_content(replace(content, offices=(replace(hk, keys=tuple(listed)), vn)))
    )


def summary(entries: list[LogEntry]) -> list[tuple[EventType, bytes, str]]:
    return [(e.event, e.key_id, e.reason) for e in entries]


def test_the_first_start_logs_each_key_as_generated_and_a_restart_nothing() -> None:
    entries, logged = key_events(OLD.public(), directory(), KeysLogged(), NOW)
    public = OLD.public()
    assert summary(entries) == [
        (EventType.KEY_GENERATED, public.signing_key_id, "signing"),
        (EventType.KEY_GENERATED, public.encryption_key_id, "encryption"),
    ]
    assert all(e.actor == HK and e.time == NOW for e in entries)
    for entry in entries:
        assert decode_entry(entry.encode()) == entry  # valid entries of the log format
    again, same = key_events(OLD.public(), directory(), KeysLogged.from_json(logged.to_json()), NOW)
    assert again == []
    assert same == logged


def test_new_keys_are_logged_as_rotated() -> None:
    _, logged = key_events(OLD.public(), directory(), KeysLogged(), NOW)
    entries, after = key_events(NEW.public(), directory(), logged, NOW)
    assert summary(entries) == [
        (EventType.KEY_ROTATED, NEW.public().signing_key_id, "signing"),
        (EventType.KEY_ROTATED, NEW.public().encryption_key_id, "encryption"),
    ]
    assert after.in_use == {
        "signing": NEW.public().signing_key_id,
        "encryption": NEW.public().encryption_key_id,
    }


def test_a_hybrid_key_is_a_role_of_its_own() -> None:
    pq = office_keys("pq", pq=True).public()
    entries, _ = key_events(pq, directory(), KeysLogged(), NOW)
    assert pq.hybrid_key_id is not None
    assert (EventType.KEY_GENERATED, pq.hybrid_key_id, "hybrid") in summary(entries)


def test_a_revocation_in_the_directory_is_logged_once_with_its_reason() -> None:
    _, logged = key_events(NEW.public(), directory(), KeysLogged(), NOW)
    entries, after = key_events(NEW.public(), directory(revoke_old_signing=True), logged, NOW)
    assert summary(entries) == [
        (EventType.KEY_REVOKED, OLD.public().signing_key_id, "key-compromise")
    ]
    again, _ = key_events(
        NEW.public(), directory(revoke_old_signing=True), KeysLogged.from_json(after.to_json()), NOW
    )
    assert again == []


@pytest.mark.parametrize(
    "note", ["", "{", "[]", '{"in_use": {}}', '{"in_use": {"s": "zz"}, "revoked": []}']
)
def test_a_damaged_note_is_an_integrity_error(note: str) -> None:
    with pytest.raises(IntegrityError, match="note of the keys logged is damaged"):
        KeysLogged.from_json(note)


def test_an_office_missing_from_the_directory_still_logs_its_keys() -> None:
    stranger = OfficeKeys.generate("XX-NOWHERE").public()
    entries, _ = key_events(stranger, directory(), KeysLogged(), NOW)
    assert [e.event for e in entries] == [EventType.KEY_GENERATED, EventType.KEY_GENERATED]
