"""Directory content on the wire: deterministic encoding, strict decoding, our errors only."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from broker.directory import (
    Directory,
    decode_content,
    decode_signed,
    encode_content,
    encode_signed,
)
from broker.directory.model import normalized
from broker.errors import InputError
from broker.pb import directory_pb2 as pb
from tests.vectors import generate_directory as vec

CONTENT = vec.content(1, vec.root(vec.ADMINS_A))
BYTES = encode_content(CONTENT)


def mutated(change: Callable[[pb.DirectoryContent], object]) -> bytes:
    message = pb.DirectoryContent()
    message.ParseFromString(BYTES)
    change(message)
    return message.SerializeToString()


def test_encoding_round_trips_and_is_deterministic() -> None:
    assert decode_content(BYTES) == normalized(CONTENT)
    assert encode_content(decode_content(BYTES)) == BYTES
    shuffled = replace(CONTENT, offices=CONTENT.offices[::-1], root=replace(
        CONTENT.root, keys=CONTENT.root.keys[::-1]))  # fmt: skip
    assert encode_content(shuffled) == BYTES


def test_a_signed_directory_carries_the_content_bytes_untouched() -> None:
    # The same content encoded differently (version moved to the end) is a different directory
    # to sign: its bytes are kept as they are, never re-encoded.
    message = pb.DirectoryContent()
    message.ParseFromString(BYTES)
    message.ClearField("version")
    reordered = message.SerializeToString(deterministic=True) + b"\x10\x01"
    assert reordered != BYTES
    parts = decode_signed(encode_signed(reordered))
    assert parts.content == reordered
    directory = Directory.decode(parts.content)
    assert directory.content == decode_content(BYTES)
    assert directory.content_bytes == reordered


def _set_revocation_reason(m: pb.DirectoryContent) -> None:
    key = m.offices[0].keys[0]
    key.revocation.revoked_at.seconds = 1_780_000_000
    key.revocation.reason = "lost-it"


@pytest.mark.parametrize(
    ("change", "phrase"),
    [
        (lambda m: setattr(m, "format_version", 2), "format_version 2 is not supported"),
        (lambda m: m.ClearField("root"), "root is missing"),
        (lambda m: m.ClearField("issued_at"), "issued_at is missing"),
        (lambda m: m.offices[0].keys[0].ClearField("not_after"),
         "offices[0].keys[0].not_after is missing"),
        (lambda m: setattr(m.offices[0], "suite", "liaison-v9"), "offices[0].suite: unknown suite"),
        (lambda m: setattr(m.offices[0].keys[0], "use", 0),
         "offices[0].keys[0].use: 0 is not a known value"),
        (lambda m: setattr(m.offices[0].keys[0], "key_id", bytes(16)),
         "offices[0].keys[0].key_id is not the id"),
        (lambda m: setattr(m.root.keys[0], "key_id", bytes(16)),
         "root.keys[0].key_id is not the id"),
        (lambda m: m.agreements[0].enquiry_types.append(0),
         "agreements[0].enquiry_types: 0 is not a known value"),
        (lambda m: m.agreements[0].handling_codes.append(9),
         "agreements[0].handling_codes: 9 is not"),
        (lambda m: setattr(m.agreements[0], "max_priority", 0),
         "agreements[0].max_priority: 0 is not"),
        (lambda m: m.agreements[0].data_categories.append("gossip"),
         "data_categories: 'gossip' is not"),
        (_set_revocation_reason, "revocation.reason: 'lost-it' is not a known value"),
        (lambda m: setattr(m.expires_at, "seconds", 10**12), "expires_at: not a time between"),
        (lambda m: setattr(m.expires_at, "nanos", 1), "expires_at: finer than a microsecond"),
        (lambda m: setattr(m, "version", 0), "breaks a rule: version: must be between 1"),
        (lambda m: setattr(m.offices[1], "id", m.offices[0].id),
         "offices[1].id: CN-YN-BLO-HK is already listed"),
        (lambda m: setattr(m.root, "threshold", 7), "root.threshold"),
    ],
)  # fmt: skip
def test_decoding_refuses_what_is_not_a_valid_directory(
    change: Callable[[pb.DirectoryContent], object], phrase: str
) -> None:
    with pytest.raises(InputError) as caught:
        decode_content(mutated(change))
    assert phrase in caught.value.diagnosis


def test_several_broken_rules_are_counted() -> None:
    def two(m: pb.DirectoryContent) -> None:
        m.version = 0
        m.issuer = ""

    with pytest.raises(InputError, match=r"\(and 1 more\)"):
        decode_content(mutated(two))


@pytest.mark.parametrize(
    ("data", "phrase"),
    [
        (b"\xff", "not a valid directory content encoding"),
        (BYTES + b"\xa0\x06\x01", "fields unknown to this version"),
        (b"\x2a\x02\xff\xfe", "not a valid directory content encoding"),  # invalid UTF-8 issuer
    ],
)
def test_bytes_that_are_not_content_are_refused(data: bytes, phrase: str) -> None:
    with pytest.raises(InputError, match=phrase):
        decode_content(data)


def test_content_that_breaks_a_rule_is_not_encoded() -> None:
    with pytest.raises(InputError, match="breaks a rule: version"):
        encode_content(replace(CONTENT, version=-1))
    with pytest.raises(InputError, match="wrong type"):
        encode_content(replace(CONTENT, issued_at=datetime(2026, 1, 1)))  # noqa: DTZ001
    with pytest.raises(InputError, match="whole number of seconds"):
        encode_content(replace(CONTENT, encryption_key_grace=timedelta(milliseconds=1)))
