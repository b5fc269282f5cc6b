"""CaseEnquiry: its own rules, and paths located through protobuf and JSON decoding."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from broker.errors import InvalidMessage
from broker.model import (
    Attachment,
    CaseEnquiry,
    EnquiryType,
    Handling,
    HandlingCode,
    Officer,
    Priority,
    limits,
    new_id,
)
from broker.pb import enquiry_pb2

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def alert() -> CaseEnquiry:
    return CaseEnquiry.from_json((EXAMPLES / "missing-child-alert.json").read_text("utf-8"))


def rejects(path: str, build: Callable[[], object]) -> InvalidMessage:
    with pytest.raises(InvalidMessage) as info:
        build()
    assert info.value.field == path, info.value.diagnosis
    return info.value


def test_new_ids_are_lower_case_uuids_drawn_from_rng() -> None:
    fixed = new_id(lambda n: bytes(range(n)))
    assert fixed == "00010203-0405-4607-8809-0a0b0c0d0e0f"
    assert dataclasses.replace(alert(), enquiry_id=new_id()).enquiry_id != alert().enquiry_id


@pytest.mark.parametrize(
    ("path", "changes"),
    [
        ("enquiry_id", {"enquiry_id": ""}),
        ("enquiry_id", {"enquiry_id": "5B1F2C3A-7D4E-4F60-9A8B-1C2D3E4F5A6B"}),
        ("enquiry_id", {"enquiry_id": "5b1f2c3a7d4e4f609a8b1c2d3e4f5a6b"}),
        ("case_reference", {"case_reference": ""}),
        ("case_reference", {"case_reference": "R" * 129}),
        ("requesting_office", {"requesting_office": "cn-yn-blo-hk"}),
        ("requesting_office", {"requesting_office": "CN"}),
        ("requesting_office", {"requesting_office": "CN-YN-BLO-HK-A1-B2"}),
        ("requesting_office", {"requesting_office": "CN-YN-BLO-HK\n"}),
        ("requesting_officer", {"requesting_officer": None}),
        ("recipient_offices", {"recipient_offices": ()}),
        ("recipient_offices[1]", {"recipient_offices": ("VN-BCA-C02", "LA_MOPS")}),
        ("recipient_offices[1]", {"recipient_offices": ("VN-BCA-C02", "VN-BCA-C02")}),
        ("recipient_offices[0]", {"recipient_offices": ("CN-YN-BLO-HK",)}),
        ("recipient_offices", {"recipient_offices": tuple(f"VN-P{i:02d}" for i in range(51))}),
        ("enquiry_type", {"enquiry_type": 4}),
        ("legal_basis", {"legal_basis": ""}),
        ("legal_basis", {"legal_basis": "Mekong 2014"}),
        ("priority", {"priority": "urgent"}),
        ("response_due", {"response_due": dt.datetime(2025, 3, 10)}),  # noqa: DTZ001
        ("response_due", {"response_due": "2025-03-10T00:00:00Z"}),
        ("handling", {"handling": Handling.H0}),
        ("language", {"language": "English"}),
        ("summary", {"summary": ""}),
        ("question", {"question": "?" * 20_001}),
        ("persons[0]", {"persons": ("陈小燕",)}),
        ("places", {"places": tuple(alert().places) * 51}),
        ("vehicles", {"vehicles": tuple(alert().vehicles) * 51}),
        ("organisations[0]", {"organisations": (None,)}),
        ("attachments", {"attachments": tuple(alert().attachments) * 17}),
    ],
)
def test_enquiry_rules(path: str, changes: dict[str, object]) -> None:
    rejects(path, lambda: dataclasses.replace(alert(), **changes))  # type: ignore[arg-type]


def test_attachments_together_have_a_size_limit() -> None:
    chunk = bytes(limits.MAX_ATTACHMENT_BYTES)
    fit = limits.MAX_ATTACHMENTS_TOTAL_BYTES // limits.MAX_ATTACHMENT_BYTES
    over = tuple(
        Attachment.of(f"part{i}.bin", "application/octet-stream", chunk) for i in range(fit + 1)
    )
    rejects("attachments", lambda: dataclasses.replace(alert(), attachments=over))
    within = dataclasses.replace(alert(), attachments=over[:fit])
    assert len(within.attachments) == fit


def test_response_due_is_kept_in_utc_and_lists_become_tuples() -> None:
    hekou = dt.timezone(dt.timedelta(hours=8))
    value = dataclasses.replace(
        alert(),
        response_due=dt.datetime(2025, 3, 10, 8, 0, tzinfo=hekou),
        recipient_offices=["VN-BCA-C02"],  # type: ignore[arg-type]
    )
    assert value.response_due == dt.datetime(2025, 3, 10, 0, 0, tzinfo=dt.UTC)
    assert value.response_due.tzinfo is dt.UTC
    assert value.recipient_offices == ("VN-BCA-C02",)
    rejects(
        "response_due",
        lambda: dataclasses.replace(alert(), response_due=dt.datetime.min.replace(tzinfo=hekou)),
    )


def test_repr_shows_codes_and_ids_but_no_case_content() -> None:
    shown = repr(alert())
    assert "CN-YN-BLO-HK" in shown
    assert "MISSING_CHILD_ALERT" in shown
    for secret in ("陈", "Chén", "Hekou North", "杨建华", "Toyota", "YN-HK-2025-0113"):
        assert secret not in shown


# ---------------------------------------------------------------- through protobuf


def decode_after(mutate: Callable[[enquiry_pb2.CaseEnquiry], None]) -> CaseEnquiry:
    msg = alert().to_proto()
    mutate(msg)
    return CaseEnquiry.from_proto(msg)


def _set(path: str, value: object) -> Callable[[enquiry_pb2.CaseEnquiry], None]:
    """A mutation setting a dotted attribute path with [i] indices."""

    def mutate(msg: enquiry_pb2.CaseEnquiry) -> None:
        target: object = msg
        *parents, last = path.replace("[", ".[").split(".")
        for part in parents:
            target = target[int(part[1:-1])] if part.startswith("[") else getattr(target, part)  # type: ignore[index]
        setattr(target, last, value)

    return mutate


@pytest.mark.parametrize(
    ("path", "mutate"),
    [
        ("persons[1].names[0].script", _set("persons[1].names[0].script", "latn")),
        (
            "persons[0].names[1].transliteration_of",
            _set("persons[0].names[1].transliteration_of", 5),
        ),
        ("persons[2].sex", _set("persons[2].sex", 0)),
        ("persons[2].role", _set("persons[2].role", 42)),
        ("persons[0].date_of_birth.day", _set("persons[0].date_of_birth.day", 31)),
        ("persons[0].date_of_birth.precision", _set("persons[0].date_of_birth.precision", 0)),
        ("persons[1].phone_numbers[0]", lambda m: m.persons[1].phone_numbers.__setitem__(0, "1")),
        ("persons[1].accounts[1].platform", _set("persons[1].accounts[1].platform", "WeChat")),
        ("places[1].coordinates.latitude", _set("places[1].coordinates.latitude", float("nan"))),
        ("places[0].country", _set("places[0].country", "CN")),
        ("vehicles[0].kind", _set("vehicles[0].kind", "")),
        ("attachments[0].sha256", _set("attachments[0].sha256", bytes(32))),
        ("requesting_officer.phone", _set("requesting_officer.phone", "12345")),
        ("requesting_officer", lambda m: m.ClearField("requesting_officer")),
        ("handling", lambda m: m.ClearField("handling")),
        ("handling.code", _set("handling.code", 0)),
        ("handling.conditions", _set("handling.conditions", "only with permission")),
        ("response_due", lambda m: m.ClearField("response_due")),
        ("response_due", _set("response_due.nanos", 1)),
        ("response_due", _set("response_due.seconds", 253_402_300_800)),
        ("enquiry_type", _set("enquiry_type", 0)),
        ("priority", _set("priority", 99)),
        ("persons", lambda m: m.persons.extend([m.persons[0]] * 100)),
    ],
)
def test_decoding_locates_the_fault(
    path: str, mutate: Callable[[enquiry_pb2.CaseEnquiry], None]
) -> None:
    error = rejects(path, lambda: decode_after(mutate))
    assert error.diagnosis.startswith(f"{path}: ")


def test_unspecified_and_unknown_enum_values_are_told_apart() -> None:
    unspecified = rejects("priority", lambda: decode_after(_set("priority", 0)))
    unknown = rejects("priority", lambda: decode_after(_set("priority", 7)))
    assert "UNSPECIFIED" in unspecified.diagnosis
    assert "unknown value 7" in unknown.diagnosis


def test_sub_microsecond_timestamps_are_refused_and_microseconds_kept() -> None:
    kept = decode_after(_set("response_due.nanos", 123_456_000))
    assert kept.response_due.microsecond == 123_456
    assert CaseEnquiry.from_bytes(kept.to_bytes()) == kept


# ---------------------------------------------------------------- through JSON


def from_json_after(mutate: Callable[[dict[str, object]], None]) -> CaseEnquiry:
    document = json.loads(alert().to_json())
    mutate(document)
    return CaseEnquiry.from_json(json.dumps(document, ensure_ascii=False))


@pytest.mark.parametrize(
    ("path", "mutate", "reason"),
    [
        ("colour", lambda d: d.__setitem__("colour", "red"), "unknown fields"),
        (
            "persons[1].names[0].nickname",
            lambda d: d["persons"][1]["names"][0].__setitem__("nickname", "Hai"),
            "unknown fields",
        ),
        (
            "persons[2]",
            lambda d: d["persons"][2].__setitem__("ສົມພອນ Keomany", "+8562055512345"),
            "not a field name",
        ),
        ("persons[0].sex", lambda d: d["persons"][0].__setitem__("sex", "SEX_GIRL"), "enum"),
        (
            "persons[0].sex",
            lambda d: d["persons"][0].__setitem__("sex", "SEX_UNSPECIFIED"),
            "UNSPECIFIED",
        ),
        ("persons[0].sex", lambda d: d["persons"][0].__setitem__("sex", 4), "unknown value 4"),
        ("response_due", lambda d: d.__setitem__("response_due", "tomorrow"), "wrong type"),
        ("persons", lambda d: d.__setitem__("persons", {"role": 1}), "JSON array"),
        (
            "places[0].coordinates.latitude",
            lambda d: d["places"][0]["coordinates"].__setitem__("latitude", "north"),
            "wrong type",
        ),
        ("summary", lambda d: d.__setitem__("summary", 5), "wrong type"),
        (
            "persons.names.transliteration_of",
            lambda d: d["persons"][0]["names"][1].__setitem__("transliteration_of", "first"),
            "wrong type",
        ),
        (
            "persons[0].names[1].full_name",
            lambda d: d["persons"][0]["names"][1].__setitem__("full_name", "Che\u0301n Xiǎoyàn"),
            "NFC",
        ),
    ],
)
def test_json_decoding_locates_the_fault_without_quoting_values(
    path: str, mutate: Callable[[dict[str, object]], None], reason: str
) -> None:
    error = rejects(path, lambda: from_json_after(mutate))
    assert reason in error.diagnosis
    for quoted in ("SEX_GIRL", "tomorrow", "north", "first", "Hai", "ສົມພອນ", "+856"):
        assert quoted not in error.diagnosis.removeprefix(path)


def test_json_accepts_the_camel_case_names_of_the_proto3_mapping() -> None:
    document = json.loads(alert().to_json())
    document["enquiryType"] = document.pop("enquiry_type")
    assert CaseEnquiry.from_json(json.dumps(document)) == alert()


def test_a_handling_code_with_h3_conditions_round_trips() -> None:
    value = dataclasses.replace(
        alert(),
        handling=HandlingCode(code=Handling.H3, conditions="Not for immigration authorities."),
        requesting_officer=Officer(officer_id="HK-0421", name="杨建华"),
        enquiry_type=EnquiryType.LOCATION_TRACE,
        priority=Priority.HIGH,
    )
    assert CaseEnquiry.from_json(value.to_json()) == value
    assert CaseEnquiry.from_bytes(value.to_bytes()) == value
