"""tlog-cosignature v1 (Ed25519, type 0x04): message bytes, key IDs, keys, sign and verify."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from broker.errors import InputError, IntegrityError
from broker.ledger import (
    Cosignature,
    CosignatureVerifier,
    Cosigner,
    Ed25519Signer,
    NoteSignature,
    cosigned_message,
    parse_cosigner_key,
    parse_verifier_key,
)
from broker.ledger.cosignature import split_cosignature

KEY = ed25519.Ed25519PrivateKey.from_private_bytes(b"W" * 32)
NAME = "liaison.example/witness/TH-CMI-LO-01"
COSIGNER = Cosigner(NAME, KEY)
TEXT = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
NOW = datetime(2023, 3, 20, 12, 25, 47, tzinfo=UTC)  # 1679315147, the spec's example time


def test_signed_message_is_the_specs() -> None:
    assert cosigned_message(TEXT, 1679315147) == (
        b"cosignature/v1\ntime 1679315147\n"
        b"example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    )
    with pytest.raises(IntegrityError, match="out of range"):
        cosigned_message(TEXT, -1)


def test_key_id_uses_type_0x04_and_differs_from_the_note_key_id() -> None:
    public = KEY.public_key().public_bytes_raw()
    verifier = COSIGNER.verifier()
    assert verifier.key_id == hashlib.sha256(NAME.encode() + b"\n\x04" + public).digest()[:4]
    assert verifier.key_id != Ed25519Signer(NAME, KEY).verifier().key_id


def test_sign_and_verify() -> None:
    line = COSIGNER.sign_at(TEXT, NOW)
    assert line.key_id == COSIGNER.verifier().key_id
    timestamp, signature = split_cosignature(line.signature)
    assert timestamp == 1679315147
    KEY.public_key().verify(signature, cosigned_message(TEXT, timestamp))
    verifier = COSIGNER.verifier()
    assert verifier.verify(TEXT.encode(), line.signature)
    assert verifier.read(line).time == NOW
    assert not verifier.verify(TEXT.replace("20852163", "20852164").encode(), line.signature)
    redated = (timestamp + 1).to_bytes(8, "big") + signature
    assert not verifier.verify(TEXT.encode(), redated)
    assert not verifier.verify(TEXT.encode(), line.signature[:-1])
    assert not verifier.verify(TEXT.encode(), b"\xff" * 8 + signature)


def test_the_specs_example_line_has_the_example_timestamp() -> None:
    """C2SP's example cosignature decodes to key ID, timestamp 1679315147 and 64 signature bytes."""
    raw = base64.b64decode(
        "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA=="
    )
    timestamp, signature = split_cosignature(raw[4:])
    assert timestamp == 1679315147
    assert len(signature) == 64


def test_time_handling() -> None:
    offset = datetime(2023, 3, 20, 20, 25, 47, 999999, tzinfo=timezone(timedelta(hours=8)))
    assert split_cosignature(COSIGNER.sign_at(TEXT, offset).signature)[0] == 1679315147
    with pytest.raises(InputError, match="aware"):
        COSIGNER.sign_at(TEXT, datetime(2023, 3, 20))  # noqa: DTZ001 - the point of the test
    with pytest.raises(InputError, match="1970"):
        COSIGNER.sign_at(TEXT, datetime(1969, 12, 31, tzinfo=UTC))


def test_split_cosignature_checks_size_and_range() -> None:
    with pytest.raises(IntegrityError, match="72 bytes, not 71"):
        split_cosignature(b"x" * 71)
    with pytest.raises(IntegrityError, match="2\\^63"):
        split_cosignature(b"\xff" * 72)


def test_read_refuses_another_keys_line() -> None:
    line = NoteSignature("someone.else", b"abcd", b"x" * 72)
    with pytest.raises(IntegrityError, match="not by cosigner"):
        COSIGNER.verifier().read(line)


def test_cosigner_keys_round_trip_and_types_are_kept_apart() -> None:
    verifier = COSIGNER.verifier()
    vkey = verifier.vkey
    assert vkey.startswith(f"{NAME}+{verifier.key_id.hex()}+B")  # 0x04 encodes to a leading "B"
    assert parse_cosigner_key(vkey) == verifier
    with pytest.raises(IntegrityError, match="not Ed25519"):
        parse_verifier_key(vkey)
    note_vkey = Ed25519Signer(NAME, KEY).verifier().vkey
    with pytest.raises(IntegrityError, match="not a cosignature key"):
        parse_cosigner_key(note_vkey)


def test_values_check_names_and_keys() -> None:
    with pytest.raises(IntegrityError, match="32 bytes"):
        CosignatureVerifier(NAME, b"k")
    with pytest.raises(IntegrityError, match="space, a plus"):
        Cosigner("a b", KEY)
    assert "private_key" not in repr(COSIGNER)


def test_a_far_future_timestamp_is_readable_but_has_no_datetime() -> None:
    far = Cosignature(NAME, COSIGNER.verifier().key_id, 2**62)
    with pytest.raises(IntegrityError, match="past year 9999"):
        _ = far.time
