"""Notes, checkpoints and proof files: round trips, tamper rejection, and only our error."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.errors import IntegrityError
from broker.ledger import (
    Checkpoint,
    Cosigner,
    Ed25519Signer,
    add_cosignatures,
    cosign_checkpoint,
    open_checkpoint,
    open_note,
    parse_checkpoint,
    parse_consistency_proof,
    parse_inclusion_proof,
    parse_note,
    parse_verifier_key,
    sign_checkpoint,
    sign_note,
)

ORIGIN = "liaison.example/log/CN-YN-BLO-HK"
LOG = Ed25519Signer(ORIGIN, ed25519.Ed25519PrivateKey.from_private_bytes(b"p" * 32))
WITNESS = Cosigner(
    "liaison.example/witness/TH-CMI-LO-01", ed25519.Ed25519PrivateKey.from_private_bytes(b"w" * 32)
)
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)

line_text = st.text(
    st.characters(min_codepoint=0x20, exclude_categories=["Cs"]), min_size=1, max_size=40
)
checkpoints = st.builds(
    Checkpoint,
    origin=line_text,
    size=st.integers(0, 2**63 - 1),
    root_hash=st.binary(min_size=32, max_size=32),
    extensions=st.lists(line_text, max_size=3).map(tuple),
)


@settings(max_examples=100, deadline=None)
@given(checkpoints)
def test_checkpoint_text_round_trips(checkpoint: Checkpoint) -> None:
    assert parse_checkpoint(checkpoint.text()) == checkpoint


@settings(max_examples=50, deadline=None)
@given(checkpoints, st.integers(0, 10**7))
def test_signed_and_cosigned_checkpoints_open(checkpoint: Checkpoint, seconds: int) -> None:
    cp = Checkpoint(ORIGIN, checkpoint.size, checkpoint.root_hash, checkpoint.extensions)
    signed = sign_checkpoint(cp, LOG)
    verified = open_checkpoint(signed, origin=ORIGIN, log_key=LOG.verifier())
    when = EPOCH + timedelta(seconds=seconds)
    cosigned = add_cosignatures(signed, [cosign_checkpoint(verified, WITNESS, when)])
    again = open_checkpoint(
        cosigned,
        origin=ORIGIN,
        log_key=LOG.verifier(),
        cosigners=[WITNESS.verifier()],
        min_cosignatures=1,
    )
    assert again.checkpoint == cp
    assert again.cosignatures[0].time == when


SIGNED = add_cosignatures(
    sign_checkpoint(Checkpoint(ORIGIN, 300, bytes(range(32))), LOG),
    [WITNESS.sign_at(Checkpoint(ORIGIN, 300, bytes(range(32))).text(), EPOCH)],
)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(SIGNED) * 8 - 1))
def test_any_bit_flip_in_a_cosigned_checkpoint_is_rejected(bit: int) -> None:
    changed = bytearray(SIGNED)
    changed[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(IntegrityError):
        open_checkpoint(
            bytes(changed),
            origin=ORIGIN,
            log_key=LOG.verifier(),
            cosigners=[WITNESS.verifier()],
            min_cosignatures=1,
        )


@settings(max_examples=100, deadline=None)
@given(st.lists(line_text, min_size=1, max_size=4))
def test_note_round_trip(lines: list[str]) -> None:
    text = "".join(line + "\n" for line in lines)
    signed = sign_note(text, [LOG])
    assert parse_note(signed).encode() == signed
    assert open_note(signed, [LOG.verifier()]).text == text


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=400)
    | st.text(max_size=200).map(lambda s: s.encode("utf-8", "surrogatepass"))
)
def test_random_bytes_only_ever_raise_integrity_error(data: bytes) -> None:
    for parse in (parse_note, parse_inclusion_proof, parse_consistency_proof):
        with contextlib.suppress(IntegrityError):
            parse(data)
    with contextlib.suppress(IntegrityError):
        parse_checkpoint(data.decode("utf-8", "replace"))
    with contextlib.suppress(IntegrityError):
        parse_verifier_key(data.decode("utf-8", "replace"))


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(SIGNED) - 1), st.binary(min_size=1, max_size=3))
def test_spliced_bytes_only_ever_raise_integrity_error(at: int, junk: bytes) -> None:
    data = SIGNED[:at] + junk + SIGNED[at + 1 :]
    with contextlib.suppress(IntegrityError):
        open_checkpoint(data, origin=ORIGIN, log_key=LOG.verifier(), cosigners=[WITNESS.verifier()])
