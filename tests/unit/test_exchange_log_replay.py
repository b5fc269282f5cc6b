"""Replay: timelines by case, message and period; decryption for an audit is logged first."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from broker.envelope import MessageKind
from broker.errors import ConfigError, InputError
from broker.exchange_log import EventType, ExchangeLog, LogEntry
from broker.exchange_log.replay import (
    ReplayFilter,
    decrypt_for_audit,
    entry_to_json,
    render_payload,
    select_entries,
)
from broker.model import CaseEnquiry
from tests.unit.test_exchange_log_world import ENQUIRY_JSON, HK, T0, TH, VN, World


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    made = World(tmp_path)
    yield made
    made.close()


def entries_of(log: ExchangeLog):  # type: ignore[no-untyped-def]
    return lambda: ((i, log.entry(i)) for i in range(log.size))


def test_a_case_brings_its_responses_and_receipts(world: World) -> None:
    enquiry = world.send(HK, VN, case_ref="HK-1")
    world.send(HK, TH, case_ref="HK-2")
    # The response's entries in HK's log carry no case reference: they join through the link.
    response = world.send(VN, HK, kind=MessageKind.RESPONSE, related=enquiry, case_ref="")
    selected = list(select_entries(entries_of(world[HK].log), ReplayFilter(case_ref="HK-1")))
    ids = {e.message_id for _, e in selected}
    assert enquiry in ids
    assert response in ids
    assert all(e.case_ref in ("HK-1", "") for _, e in selected)
    assert not any(e.recipients == (TH,) for _, e in selected)
    # Receipts for the enquiry and for the response are part of the case.
    links = {e.related_message_id for _, e in selected if e.event is EventType.RECEIPT_RECEIVED}
    assert enquiry in links
    assert any(e.event is EventType.RECEIPT_SENT for _, e in selected)


def test_a_message_and_a_period(world: World) -> None:
    first = world.send(HK, VN)
    world.tick(3600)
    middle = world.now
    second = world.send(HK, VN)
    one = list(select_entries(entries_of(world[HK].log), ReplayFilter(message_id=first)))
    assert {e.message_id for _, e in one} >= {first}
    assert all(first in (e.message_id, e.related_message_id) for _, e in one)
    later = list(select_entries(entries_of(world[HK].log), ReplayFilter(start=middle)))
    assert later[0][1].message_id == second
    earlier = list(
        select_entries(entries_of(world[HK].log), ReplayFilter(end=middle, message_id=second))
    )
    assert earlier == []


def test_entry_json_holds_only_what_is_set(world: World) -> None:
    world.send(HK, VN, due=T0 + timedelta(days=3))
    document = entry_to_json(0, world[HK].log.entry(0))
    assert document["event"] == "submitted"
    assert document["kind"] == "enquiry"
    assert document["due_at"].startswith("2026-03-05T08:00:00.000")
    assert "actor" not in document
    assert "tree_size" not in document


def test_decryption_is_logged_before_anything_is_returned(world: World) -> None:
    enquiry = world.send(HK, VN, case_ref="HK-9")
    log = world[VN].log
    size = log.size
    selected = list(select_entries(entries_of(log), ReplayFilter(case_ref="HK-9")))
    shown, refused = decrypt_for_audit(
        log,
        world[VN].store,
        selected,
        keys=world[VN].keys,
        directory=world.directory,
        purpose="oversight review 2026-07",
        now=world.tick(),
    )
    # VN can open the enquiry addressed to it, not the receipt it sent to HK.
    assert [d.message_id for d in shown] == [enquiry]
    assert [r.reason for r in refused] == ["not-a-recipient"]
    record = log.entry(shown[0].logged_as)
    assert shown[0].logged_as == size
    assert record.event is EventType.AUDIT_DECRYPTION
    assert (record.actor, record.purpose, record.message_id) == (
        VN,
        "oversight review 2026-07",
        enquiry,
    )
    assert record.envelope_digest == selected[0][1].envelope_digest
    assert CaseEnquiry.from_bytes(shown[0].payload) == CaseEnquiry.from_json(ENQUIRY_JSON)


def test_nothing_is_disclosed_when_the_log_cannot_record_it(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.send(HK, VN)
    log = world[VN].log

    def refuse(entries: object) -> range:
        raise ConfigError("disk full")

    monkeypatch.setattr(log, "append_many", refuse)
    selected = list(select_entries(entries_of(log), ReplayFilter()))
    with pytest.raises(ConfigError):
        decrypt_for_audit(
            log,
            world[VN].store,
            selected,
            keys=world[VN].keys,
            directory=world.directory,
            purpose="review",
            now=world.tick(),
        )


def test_decryption_needs_a_reason_and_reports_what_it_cannot_open(world: World) -> None:
    world.send(HK, VN)
    log = world[VN].log
    selected = list(select_entries(entries_of(log), ReplayFilter()))
    with pytest.raises(InputError, match="stated reason"):
        decrypt_for_audit(
            log, world[VN].store, selected, keys=world[VN].keys, directory=world.directory,
            purpose="  ", now=world.tick(),
        )  # fmt: skip
    first = selected[0][1].envelope_digest
    world[VN].store.delete(first)
    shown, refused = decrypt_for_audit(
        log, world[VN].store, selected, keys=world[VN].keys, directory=world.directory,
        purpose="review", now=world.tick(),
    )  # fmt: skip
    assert shown == []
    assert {r.reason for r in refused} == {"not-stored", "not-a-recipient"}
    assert log.entry(log.size - 1).event is EventType.PUBLISHED  # nothing was logged


def test_payloads_render_as_their_json_or_base64() -> None:
    enquiry = CaseEnquiry.from_json(ENQUIRY_JSON)
    assert '"case_reference": "MPS-OCT-2025-0457"' in render_payload(
        MessageKind.ENQUIRY, enquiry.to_bytes()
    )
    assert render_payload(MessageKind.ENQUIRY, b"\xff") == "base64:/w=="
    assert render_payload(MessageKind.ALERT, b"hi") == "base64:aGk="


def test_purge_and_key_events_replay_too(world: World) -> None:
    world.office_event(HK, EventType.KEY_ROTATED, key_id=b"\3" * 16)
    world.office_event(HK, EventType.DAEMON_STOPPED)
    rows = [
        entry_to_json(i, e) for i, e in select_entries(entries_of(world[HK].log), ReplayFilter())
    ]
    assert [r["event"] for r in rows] == ["key-rotated", "daemon-stopped"]
    assert rows[0]["key_id"] == "03" * 16
    assert LogEntry(EventType.DAEMON_STARTED, T0) != LogEntry(EventType.DAEMON_STOPPED, T0)
