"""Properties of the envelope: round trips, and nothing but PeerError for bad bytes."""

from __future__ import annotations

import contextlib
import os
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from broker.envelope import (
    MessageKind,
    Recipient,
    Suite,
    open_envelope,
    open_with_cek,
    peek_header,
    seal,
    verify_envelope,
)
from broker.errors import PeerError, RejectReason
from tests.vectors.generate_envelope import (
    DIRECTORY,
    KEYS,
    LA,
    MM,
    NOW,
    OUTSIDER,
    SENDER,
    TH,
    CounterRng,
)

ADDRESSABLE = [TH, LA, MM, OUTSIDER, SENDER]
FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _seal(
    payload: bytes, recipients: list[str], suite: Suite = Suite.V1, seed: bytes = b"p"
) -> bytes:
    return seal(
        payload,
        kind=MessageKind.RESPONSE,
        sender=KEYS[SENDER],
        recipients=[Recipient(o, suite, KEYS[o].public()) for o in recipients],
        directory_version=5,
        now=NOW,
        rng=CounterRng(seed),
    )


ENVELOPE = _seal(b"a small enquiry payload", [TH, LA])
CEK = open_envelope(ENVELOPE, KEYS[TH], DIRECTORY, now=NOW).cek


@FAST
@given(
    payload=st.binary(max_size=4096),
    recipients=st.lists(st.sampled_from(ADDRESSABLE), min_size=1, max_size=5, unique=True),
    seed=st.binary(min_size=1, max_size=8),
    skew=st.integers(min_value=-299_000, max_value=299_000),
)
def test_every_addressee_opens_what_was_sealed(
    payload: bytes, recipients: list[str], seed: bytes, skew: int
) -> None:
    data = _seal(payload, recipients, seed=seed)
    now = NOW + timedelta(milliseconds=skew)
    for office in ADDRESSABLE:
        if office in recipients:
            opened = open_envelope(data, KEYS[office], DIRECTORY, now=now)
            assert opened.payload == payload
            assert [r.office_id for r in opened.header.recipients] == recipients
        else:
            with pytest.raises(PeerError) as rejected:
                open_envelope(data, KEYS[office], DIRECTORY, now=now)
            assert rejected.value.reason is RejectReason.NOT_A_RECIPIENT


@settings(max_examples=5, deadline=None)
@given(payload=st.binary(max_size=2048))
def test_pq_round_trip(payload: bytes) -> None:
    assert (
        open_envelope(_seal(payload, [MM], Suite.V1_PQ), KEYS[MM], DIRECTORY, now=NOW).payload
        == payload
    )


def _only_peer_errors(data: bytes) -> None:
    """Every entry point either accepts ``data`` or raises PeerError; nothing else escapes."""
    for call in (
        lambda: open_envelope(data, KEYS[TH], DIRECTORY, now=NOW),
        lambda: verify_envelope(data, DIRECTORY),
        lambda: open_with_cek(data, CEK, DIRECTORY),
        lambda: peek_header(data),
    ):
        with contextlib.suppress(PeerError):
            call()


@FAST
@given(bit=st.integers(min_value=0, max_value=len(ENVELOPE) * 8 - 1))
def test_flipping_any_bit_is_rejected(bit: int) -> None:
    flipped = bytearray(ENVELOPE)
    flipped[bit // 8] ^= 1 << (bit % 8)
    for call in (
        lambda: open_envelope(bytes(flipped), KEYS[TH], DIRECTORY, now=NOW),
        lambda: verify_envelope(bytes(flipped), DIRECTORY),
        lambda: open_with_cek(bytes(flipped), CEK, DIRECTORY),
    ):
        try:
            call()
        except PeerError:
            continue
        raise AssertionError(f"bit {bit} flipped and the envelope was still accepted")


def test_flipping_each_bit_of_a_small_envelope_is_rejected() -> None:
    """Exhaustive twin of the property above: every one of the bits."""
    accepted = []
    for bit in range(len(ENVELOPE) * 8):
        flipped = bytearray(ENVELOPE)
        flipped[bit // 8] ^= 1 << (bit % 8)
        try:
            verify_envelope(bytes(flipped), DIRECTORY)
        except PeerError:
            continue
        accepted.append(bit)
    assert accepted == []


@FAST
@given(data=st.binary(max_size=2048))
def test_random_bytes_raise_only_peer_error(data: bytes) -> None:
    _only_peer_errors(data)


@FAST
@given(cut=st.integers(min_value=0, max_value=len(ENVELOPE) - 1))
def test_truncated_envelopes_are_rejected(cut: int) -> None:
    _only_peer_errors(ENVELOPE[:cut])
    try:
        verify_envelope(ENVELOPE[:cut], DIRECTORY)
    except PeerError:
        return
    raise AssertionError(f"truncated to {cut} bytes and still verified")


@FAST
@given(
    start=st.integers(min_value=0, max_value=len(ENVELOPE)),
    junk=st.binary(min_size=1, max_size=64),
)
def test_spliced_junk_raises_only_peer_error(start: int, junk: bytes) -> None:
    _only_peer_errors(ENVELOPE[:start] + junk + ENVELOPE[start + len(junk) :])


def test_random_bytes_of_envelope_size_are_rejected() -> None:
    for _ in range(200):
        _only_peer_errors(os.urandom(len(ENVELOPE)))
