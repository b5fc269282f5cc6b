"""Log entries: values that check their invariants, one canonical encoding, committed vectors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from broker.envelope import MessageKind
from broker.errors import InputError, IntegrityError
from broker.exchange_log import EventType, LogEntry, decode_entry, entry_for_envelope
from broker.exchange_log.entry import MAX_ENTRY_BYTES, from_ms, to_ms
from broker.ledger import leaf_hash
from broker.pb import log_pb2
from tests.vectors import generate_log

AT = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
MID = bytes(range(16))
DIGEST = bytes(range(32))
VECTORS = json.loads((generate_log.OUT / "entries.json").read_text(encoding="utf-8"))


def published(**fields: object) -> LogEntry:
    values: dict[str, object] = {"time": AT, "message_id": MID, "envelope_digest": DIGEST}
    return LogEntry(EventType.PUBLISHED, **(values | fields))  # type: ignore[arg-type]


def test_vectors_cover_every_event_and_decode_to_what_the_generator_built() -> None:
    built = generate_log.demo_entries()
    assert {e.event for e in built} == set(EventType)
    assert len(VECTORS["entries"]) == len(built)
    for vector, entry in zip(VECTORS["entries"], built, strict=True):
        data = bytes.fromhex(vector["bytes_hex"])
        assert entry.encode() == data
        assert decode_entry(data) == entry
        assert leaf_hash(data).hex() == vector["leaf_hash_hex"]
        assert vector["fields"]["event"] == entry.event.label


def test_the_first_vector_byte_for_byte() -> None:
    # Field 1 version=1, field 2 event=SUBMITTED(1), field 3 time_ms as a varint ...
    data = bytes.fromhex(VECTORS["entries"][0]["bytes_hex"])
    assert data[:4] == bytes([0x08, 0x01, 0x10, 0x01])
    message = log_pb2.LogEntry.FromString(data)
    assert message.time_ms == to_ms(AT)
    assert message.due_at_ms == to_ms(datetime(2026, 3, 9, tzinfo=UTC))
    assert list(message.recipients) == ["VN-BCA-C02", "TH-CMI-LO-01"]


def test_roundtrip_and_times_in_milliseconds() -> None:
    entry = published(time=AT + timedelta(microseconds=1500))
    decoded = decode_entry(entry.encode())
    assert decoded.time == AT + timedelta(milliseconds=1)  # stored as whole milliseconds
    assert from_ms(to_ms(AT)) == AT
    other_zone = AT.astimezone(timezone(timedelta(hours=7)))
    assert published(time=other_zone).encode() == published().encode()


def test_entry_for_envelope_copies_the_header() -> None:
    class FakeRecipient:
        def __init__(self, office_id: str) -> None:
            self.office_id = office_id

    class FakeHeader:
        message_id = MID
        kind = MessageKind.RESPONSE
        sender = "VN-BCA-C02"
        recipients = (FakeRecipient("CN-YN-BLO-HK"),)

    entry = entry_for_envelope(
        EventType.RECEIVED,
        FakeHeader(),  # type: ignore[arg-type]
        DIGEST,
        time=AT,
        case_ref="HK-1",
    )
    assert (entry.kind, entry.sender, entry.recipients) == (
        MessageKind.RESPONSE,
        "VN-BCA-C02",
        ("CN-YN-BLO-HK",),
    )
    assert entry.case_ref == "HK-1"


@pytest.mark.parametrize(
    ("event", "fields", "needs"),
    [
        (EventType.PUBLISHED, {}, "needs message_id"),
        (EventType.REJECTED, {"envelope_digest": DIGEST}, "needs reason"),
        (EventType.RETURNED, {"message_id": MID}, "needs reason"),
        (EventType.RECEIPT_SENT, {"message_id": MID}, "needs related_message_id"),
        (EventType.AUDIT_DECRYPTION, {"message_id": MID, "actor": "CN-YN-BLO-HK"}, "needs actor"),
        (EventType.DIRECTORY_LOADED, {"directory_version": 3}, "needs directory_version"),
        (EventType.KEY_ROTATED, {}, "needs key_id"),
        (EventType.CHECKPOINT_PUBLISHED, {"log_origin": "x/log/CN-AB"}, "needs log_origin"),
        (EventType.FORK_ALARM, {"log_origin": "o", "root_hash": DIGEST}, "other_root_hash"),
        (EventType.ENVELOPES_PURGED, {}, "needs purged_before"),
    ],
)
def test_each_event_requires_its_fields(
    event: EventType, fields: dict[str, object], needs: str
) -> None:
    with pytest.raises(InputError, match=needs):
        LogEntry(event, AT, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "what"),
    [
        ({"message_id": b"short"}, "message_id is 16 bytes"),
        ({"envelope_digest": b"x" * 31}, "envelope_digest is 32 bytes"),
        ({"sender": ""}, ""),  # empty is allowed
        ({"sender": "A" * 65}, "sender is an office id"),
        ({"recipients": ("VN-BCA-C02", "VN-BCA-C02")}, "recipients are unique"),
        ({"recipients": ("bad\nid",)}, "recipients are office ids"),
        ({"reason": "not a code!"}, "reason is a code"),
        ({"case_ref": "two\nlines"}, "case_ref is one line"),
        ({"case_ref": "x" * 129}, "case_ref is one line"),
        ({"tree_size": -1}, "sizes are not negative"),
        ({"due_at": datetime(2026, 1, 1)}, "due_at is not an aware datetime"),  # noqa: DTZ001
        ({"time": datetime(1969, 12, 31, tzinfo=UTC)}, "time is before 1970"),
        ({"due_at": datetime(1970, 1, 1, tzinfo=UTC)}, "due_at is the epoch"),
    ],
)
def test_malformed_fields_are_the_callers_mistake(fields: dict[str, object], what: str) -> None:
    if not what:
        published(**fields)
        return
    with pytest.raises(InputError, match=what):
        published(**fields)


def test_a_plain_number_is_accepted_as_the_event() -> None:
    entry = LogEntry(2, AT, message_id=MID)  # type: ignore[arg-type]
    assert entry.event is EventType.PUBLISHED
    with pytest.raises(InputError, match="not a log event"):
        LogEntry(99, AT)  # type: ignore[arg-type]


def test_labels_roundtrip() -> None:
    for event in EventType:
        assert EventType.from_label(event.label) is event
    with pytest.raises(InputError):
        EventType.from_label("teleported")


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"\xff\xff\xff", "not a valid protobuf"),
        (log_pb2.LogEntry(version=2, event=2).SerializeToString(), "format version 2"),
        (log_pb2.LogEntry(version=1, event=0).SerializeToString(), "event 0 is not known"),
        (log_pb2.LogEntry(version=1, event=77).SerializeToString(), "event 77 is not known"),
        (
            log_pb2.LogEntry(version=1, event=17, kind=9).SerializeToString(),  # type: ignore[arg-type]
            "kind 9 is not known",
        ),
        (log_pb2.LogEntry(version=1, event=17, time_ms=-5).SerializeToString(), "out of range"),
        (log_pb2.LogEntry(version=1, event=2).SerializeToString(), "needs message_id"),
        (b"\x00" * (MAX_ENTRY_BYTES + 1), "more than"),
    ],
)
def test_stored_bytes_that_are_no_entry_are_an_integrity_error(data: bytes, why: str) -> None:
    with pytest.raises(IntegrityError, match=why):
        decode_entry(data)


def test_non_canonical_bytes_are_refused() -> None:
    canonical = published().encode()
    unknown_field = canonical + bytes([0xB8, 0x06, 0x01])  # field 103, varint 1
    with pytest.raises(IntegrityError, match="canonical"):
        decode_entry(unknown_field)
    # The same fields in another order parse to the same message but are other bytes.
    message = log_pb2.LogEntry.FromString(canonical)
    swapped = log_pb2.LogEntry(event=message.event).SerializeToString() + canonical.replace(
        bytes([0x10, 0x02]), b"", 1
    )
    assert log_pb2.LogEntry.FromString(swapped) == message
    with pytest.raises(IntegrityError, match="canonical"):
        decode_entry(swapped)
