"""Bytes and JSON decoding: every failure is an InvalidMessage, unknown fields are refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from broker.errors import InvalidMessage
from broker.model import CaseEnquiry, CaseResponse, Receipt
from broker.pb import enquiry_pb2, entities_pb2

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
DECODERS: list[Callable[[bytes], object]] = [
    CaseEnquiry.from_bytes,
    CaseResponse.from_bytes,
    Receipt.from_bytes,
]


def alert() -> CaseEnquiry:
    return CaseEnquiry.from_json((EXAMPLES / "missing-child-alert.json").read_text("utf-8"))


@pytest.mark.parametrize("decode", DECODERS)
@pytest.mark.parametrize(
    "garbage",
    [
        b"\xff",  # a truncated varint
        b"\x0a\x05ab",  # a length-delimited field running past the end
        b"\x0a\x02\xc3\x28",  # a string field that is not UTF-8
        b"\x07",  # wire type 7 does not exist
        b"PK\x03\x04 a zip file, not a message",
        b"\x0a" + b"\x80" * 11,  # an overlong varint
    ],
)
def test_garbage_bytes_raise_invalid_message_only(
    decode: Callable[[bytes], object], garbage: bytes
) -> None:
    with pytest.raises(InvalidMessage) as info:
        decode(garbage)
    assert info.value.diagnosis


def test_undecodable_bytes_say_so_without_a_field() -> None:
    with pytest.raises(InvalidMessage) as info:
        CaseEnquiry.from_bytes(b"\x0a\x05ab")
    assert info.value.field == ""
    assert str(info.value) == "not a valid CaseEnquiry encoding"


def test_empty_bytes_decode_to_an_empty_message_which_is_invalid() -> None:
    with pytest.raises(InvalidMessage) as info:
        CaseEnquiry.from_bytes(b"")
    assert info.value.field == "requesting_officer"


def test_non_bytes_input_is_refused() -> None:
    with pytest.raises(InvalidMessage):
        CaseEnquiry.from_bytes("not bytes")  # type: ignore[arg-type]
    with pytest.raises(InvalidMessage):
        CaseEnquiry.from_json(b"{}")  # type: ignore[arg-type]


def test_unknown_fields_are_refused_at_any_depth() -> None:
    valid = alert().to_bytes()
    top = valid + b"\xa8\x06\x01"  # field 101, varint 1
    with pytest.raises(InvalidMessage, match=r"unknown to liaison\.v1"):
        CaseEnquiry.from_bytes(top)
    msg = alert().to_proto()
    person = entities_pb2.Person()
    person.MergeFromString(msg.persons[0].SerializeToString() + b"\xa8\x06\x01")
    msg.persons[0].CopyFrom(person)
    with pytest.raises(InvalidMessage, match=r"unknown to liaison\.v1"):
        CaseEnquiry.from_bytes(msg.SerializeToString())
    assert CaseEnquiry.from_bytes(bytearray(valid)) == alert()  # type: ignore[arg-type]
    assert CaseEnquiry.from_bytes(memoryview(valid)) == alert()  # type: ignore[arg-type]


def test_encoding_is_deterministic_and_readable_by_any_protobuf_reader() -> None:
    value = alert()
    assert value.to_bytes() == alert().to_bytes()
    plain = enquiry_pb2.CaseEnquiry.FromString(value.to_bytes())
    assert plain.persons[2].names[0].full_name == "ສົມພອນ ແກ້ວມະນີ"
    assert plain.SerializeToString(deterministic=True) == value.to_bytes()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "must be a JSON object"),
        ("{", "not valid JSON"),
        ('{"summary": "a", "summary": "b"}', "duplicate key"),
        ("[]", "must be a JSON object"),
        ("  null", "must be a JSON object"),
        ('{"enquiry_id": 5}', "enquiry_id: has the wrong type"),
        ('{"persons": [{"names": [{"order": "first"}]}]}', "persons[0].names[0].order:"),
        ('{"persons": ' + "[" * 5000 + "]" * 5000 + "}", "not valid JSON"),
        ('{"persons": [' + '{"names": [' * 150 + "]}" * 150 + "]}", "persons[0]"),
    ],
)
def test_bad_json_raises_invalid_message_only(text: str, reason: str) -> None:
    with pytest.raises(InvalidMessage) as info:
        CaseEnquiry.from_json(text)
    assert reason in info.value.diagnosis
