"""Every rejection reason, the header checks, and the order in which the opener checks."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, cast

import pytest

from broker.envelope import (
    KeyWindow,
    Limits,
    MessageKind,
    Recipient,
    StaticDirectory,
    Suite,
    open_envelope,
    open_with_cek,
    peek_header,
    seal,
    verify_envelope,
)
from broker.envelope.header import MAX_TIME_MS, encode_envelope
from broker.errors import InputError, PeerError, RejectReason
from broker.keys.model import OfficeKeys
from broker.pb import envelope_pb2 as pb
from tests.vectors.generate_envelope import (
    DIRECTORY,
    KEYS,
    LA,
    LIFETIME,
    MM,
    NOW,
    OUTSIDER,
    PAYLOAD,
    ROGUE,
    SENDER,
    TH,
    CounterRng,
    tamper,
    wrap_other_cek,
)

SKEW = Limits().max_clock_skew


def _seal(recipients: list[str] = [TH], sender: str = SENDER) -> bytes:  # noqa: B006 - read only
    return seal(
        PAYLOAD,
        kind=MessageKind.ENQUIRY,
        sender=KEYS[sender],
        recipients=[Recipient(o, Suite.V1, KEYS[o].public()) for o in recipients],
        directory_version=1,
        now=NOW,
        lifetime=LIFETIME,
        rng=CounterRng(b"rejections"),
    )


BASE = _seal()


def _reason(call: Callable[[], object]) -> RejectReason:
    with pytest.raises(PeerError) as caught:
        call()
    assert str(caught.value) == PeerError.GENERIC
    return caught.value.reason


def _open(
    data: bytes,
    office: str = TH,
    *,
    directory: StaticDirectory = DIRECTORY,
    now: datetime = NOW,
    seen: frozenset[bytes] = frozenset(),
    limits: Limits | None = None,
) -> RejectReason:
    return _reason(
        lambda: open_envelope(
            data, KEYS[office], directory, now=now, seen=seen, limits=limits or Limits()
        )
    )


def _with_window(**window: Any) -> StaticDirectory:
    key_id = KEYS[SENDER].public().signing_key_id
    return dataclasses.replace(DIRECTORY, windows={key_id: KeyWindow(**window)})


def _outer(data: bytes) -> pb.Envelope:
    return pb.Envelope.FromString(data)


# ---------------------------------------------------------------- one test per reason


def test_oversize_is_refused_before_parsing() -> None:
    assert _open(b"\xff" * 300, limits=Limits(max_envelope_bytes=299)) is RejectReason.OVERSIZE
    assert _open(b"\xff" * 299, limits=Limits(max_envelope_bytes=299)) is RejectReason.MALFORMED


def test_too_many_recipients_is_oversize() -> None:
    data = _seal([TH, LA, MM])
    assert _open(data, limits=Limits(max_recipients=2)) is RejectReason.OVERSIZE
    assert (
        _reason(lambda: peek_header(data, limits=Limits(max_recipients=2))) is RejectReason.OVERSIZE
    )


@pytest.mark.parametrize(
    "data", [b"", b"\x00", b"\xff" * 40, b"liaison", BASE[:-1], BASE + b"\x00"]
)
def test_not_an_envelope_is_malformed(data: bytes) -> None:
    assert _open(data) is RejectReason.MALFORMED


def test_unsupported_version() -> None:
    data = tamper("v", [TH], header=lambda h: setattr(h, "version", 2))
    assert _open(data) is RejectReason.UNSUPPORTED_VERSION
    missing = tamper("v0", [TH], header=lambda h: setattr(h, "version", 0))
    assert _open(missing) is RejectReason.UNSUPPORTED_VERSION


def test_unsupported_suite() -> None:
    data = tamper("s", [TH], header=lambda h: setattr(h, "suite", "liaison-v9"))
    assert _open(data) is RejectReason.UNSUPPORTED_SUITE


def test_unknown_sender() -> None:
    assert _open(_seal(sender=ROGUE)) is RejectReason.UNKNOWN_SENDER


def test_unknown_sender_key_id() -> None:
    rotated = OfficeKeys.generate(SENDER)
    data = seal(
        PAYLOAD,
        kind=MessageKind.ENQUIRY,
        sender=rotated,
        recipients=[Recipient(TH, Suite.V1, KEYS[TH].public())],
        directory_version=1,
        now=NOW,
    )
    assert _open(data) is RejectReason.UNKNOWN_SENDER


@pytest.mark.parametrize(
    ("window", "reason"),
    [
        ({"not_after": NOW}, RejectReason.SENDER_KEY_EXPIRED),
        ({"not_before": NOW + timedelta(milliseconds=1)}, RejectReason.SENDER_KEY_NOT_YET_VALID),
        ({"revoked_at": NOW}, RejectReason.SENDER_KEY_REVOKED),
        ({"revoked_at": NOW, "not_after": NOW}, RejectReason.SENDER_KEY_REVOKED),
    ],
)
def test_sender_key_windows_are_judged_at_created_at(
    window: dict[str, datetime], reason: RejectReason
) -> None:
    directory = _with_window(**window)
    assert _open(BASE, directory=directory) is reason
    # Also by verify_envelope, which has no clock of its own.
    assert _reason(lambda: verify_envelope(BASE, directory)) is reason


def test_key_valid_at_created_at_is_accepted_even_if_revoked_later() -> None:
    directory = _with_window(revoked_at=NOW + timedelta(seconds=1), not_before=NOW)
    later = NOW + timedelta(days=1)
    assert open_envelope(BASE, KEYS[TH], directory, now=later).payload == PAYLOAD


def test_bad_signature_on_any_changed_part() -> None:
    outer = _outer(BASE)
    flipped_sig = bytes([outer.signature[0] ^ 1]) + outer.signature[1:]
    assert (
        _open(encode_envelope(outer.header, outer.ciphertext, flipped_sig))
        is RejectReason.BAD_SIGNATURE
    )
    flipped_ct = bytes([outer.ciphertext[0] ^ 1]) + outer.ciphertext[1:]
    assert (
        _open(encode_envelope(outer.header, flipped_ct, outer.signature))
        is RejectReason.BAD_SIGNATURE
    )
    other = tamper("other", [TH], header=lambda h: setattr(h, "directory_version", 99), signer=None)
    assert _open(other) is RejectReason.BAD_SIGNATURE


def test_signed_by_another_office_is_a_bad_signature() -> None:
    assert _open(tamper("forged", [TH], signer=OUTSIDER)) is RejectReason.BAD_SIGNATURE


def test_directory_handing_back_a_key_of_another_id_is_unknown_sender() -> None:
    class Confused:
        version = 1

        def signing_key(self, office_id: str, key_id: bytes, at: datetime) -> bytes:  # noqa: ARG002
            return KEYS[OUTSIDER].public().signing

    assert _reason(lambda: verify_envelope(BASE, Confused())) is RejectReason.UNKNOWN_SENDER


def test_not_a_recipient() -> None:
    assert _open(BASE, OUTSIDER) is RejectReason.NOT_A_RECIPIENT


def test_not_a_recipient_when_wrapped_to_a_key_we_do_not_hold() -> None:
    new_th = dataclasses.replace(KEYS[TH], encryption=OfficeKeys.generate(TH).encryption)
    reason = _reason(lambda: open_envelope(BASE, new_th, DIRECTORY, now=NOW))
    assert reason is RejectReason.NOT_A_RECIPIENT


def test_pq_envelope_to_an_office_without_a_hybrid_key_is_not_for_it() -> None:
    th_pq = OfficeKeys.generate(TH, pq=True)
    data = seal(
        PAYLOAD,
        kind=MessageKind.ENQUIRY,
        sender=KEYS[SENDER],
        recipients=[Recipient(TH, Suite.V1_PQ, th_pq.public())],
        directory_version=1,
        now=NOW,
    )
    assert _open(data, TH) is RejectReason.NOT_A_RECIPIENT


def test_commitment_mismatch_when_a_recipient_gets_another_key() -> None:
    assert _open(tamper("cm", [TH], header=wrap_other_cek)) is RejectReason.COMMITMENT_MISMATCH


def test_commitment_mismatch_for_a_wrong_disclosed_key() -> None:
    real = open_envelope(BASE, KEYS[TH], DIRECTORY, now=NOW).cek
    # real || 0x00 has the same HMAC as real (HMAC zero-pads keys): the length check stops it.
    for cek in (b"\x00" * 32, b"", b"\x01" * 31, real + b"\x00", real[:31]):
        assert (
            _reason(lambda c=cek: open_with_cek(BASE, c, DIRECTORY))
            is RejectReason.COMMITMENT_MISMATCH
        )


def test_decryption_failed_for_a_damaged_wrap_or_payload() -> None:
    def damage_wrap(h: pb.EnvelopeHeader) -> None:
        h.recipients[0].wrapped_cek = bytes(48)

    assert _open(tamper("dw", [TH], header=damage_wrap)) is RejectReason.DECRYPTION_FAILED
    damage_enc = tamper("de", [TH], header=lambda h: setattr(h.recipients[0], "enc", bytes(32)))
    assert _open(damage_enc) is RejectReason.DECRYPTION_FAILED
    payload = tamper("dp", [TH], ciphertext=lambda c: c[:-1] + bytes([c[-1] ^ 0x80]))
    assert _open(payload) is RejectReason.DECRYPTION_FAILED
    cek = open_envelope(tamper("dp", [TH]), KEYS[TH], DIRECTORY, now=NOW).cek
    assert _reason(lambda: open_with_cek(payload, cek, DIRECTORY)) is RejectReason.DECRYPTION_FAILED


def test_from_the_future_beyond_the_skew() -> None:
    assert _open(BASE, now=NOW - SKEW - timedelta(milliseconds=1)) is RejectReason.FROM_THE_FUTURE
    assert open_envelope(BASE, KEYS[TH], DIRECTORY, now=NOW - SKEW).payload == PAYLOAD


def test_expired_after_expiry_plus_skew() -> None:
    assert _open(BASE, now=NOW + LIFETIME + SKEW) is RejectReason.EXPIRED
    just_in_time = NOW + LIFETIME + SKEW - timedelta(milliseconds=1)
    assert open_envelope(BASE, KEYS[TH], DIRECTORY, now=just_in_time).payload == PAYLOAD


def test_replay() -> None:
    message_id = peek_header(BASE).message_id
    assert _open(BASE, seen=frozenset({message_id})) is RejectReason.REPLAY
    assert open_envelope(BASE, KEYS[TH], DIRECTORY, now=NOW, seen={b"\x00" * 16}).payload == PAYLOAD


# ---------------------------------------------------------------- header well-formedness


def _set(field: str, value: object) -> Callable[[pb.EnvelopeHeader], None]:
    return lambda h: setattr(h, field, value)


def _set_recipient(field: str, value: object) -> Callable[[pb.EnvelopeHeader], None]:
    return lambda h: setattr(h.recipients[0], field, value)


MALFORMED_HEADERS: dict[str, Callable[[pb.EnvelopeHeader], None]] = {
    "message id 15 bytes": _set("message_id", bytes(15)),
    "kind unspecified": _set("kind", 0),
    "kind unknown": _set("kind", 99),
    "created negative": _set("created_at_ms", -1),
    "expiry before creation": lambda h: setattr(h, "expires_at_ms", h.created_at_ms - 1),
    "expiry equal to creation": lambda h: setattr(h, "expires_at_ms", h.created_at_ms),
    "expiry beyond year 9999": _set("expires_at_ms", MAX_TIME_MS + 1),
    "lifetime over 30 days": lambda h: setattr(
        h, "expires_at_ms", h.created_at_ms + 30 * 86_400_000 + 1
    ),
    "sender empty": _set("sender", ""),
    "sender too long": _set("sender", "X" * 257),
    "sender key id short": _set("sender_key_id", bytes(15)),
    "no recipients": lambda h: h.ClearField("recipients"),
    "recipient office empty": _set_recipient("office_id", ""),
    "recipient key id long": _set_recipient("key_id", bytes(17)),
    "enc of the pq length": _set_recipient("enc", bytes(1120)),
    "wrapped cek short": _set_recipient("wrapped_cek", bytes(47)),
    "duplicate recipient": lambda h: h.recipients.add().CopyFrom(h.recipients[0]),
    "nonce 12 bytes": _set("nonce", bytes(12)),
    "commitment empty": _set("commitment", b""),
}


@pytest.mark.parametrize("change", MALFORMED_HEADERS.values(), ids=MALFORMED_HEADERS.keys())
def test_signed_but_malformed_header(change: Callable[[pb.EnvelopeHeader], None]) -> None:
    data = tamper("malformed", [TH], header=change)
    assert _open(data) is RejectReason.MALFORMED
    assert _reason(lambda: peek_header(data)) is RejectReason.MALFORMED


def test_lifetime_exactly_the_maximum_is_accepted() -> None:
    data = tamper(
        "max-life",
        [TH],
        header=lambda h: setattr(h, "expires_at_ms", h.created_at_ms + 30 * 86_400_000),
    )
    assert open_envelope(data, KEYS[TH], DIRECTORY, now=NOW).payload == PAYLOAD


NON_CANONICAL: dict[str, Callable[[pb.Envelope], bytes]] = {
    "fields reordered": lambda o: (
        pb.Envelope(signature=o.signature).SerializeToString()
        + pb.Envelope(header=o.header, ciphertext=o.ciphertext).SerializeToString()
    ),
    "unknown outer field": lambda o: o.SerializeToString() + b"\x22\x01x",
    "field repeated": lambda o: (
        o.SerializeToString() + pb.Envelope(signature=o.signature).SerializeToString()
    ),
    "empty header": lambda o: pb.Envelope(
        ciphertext=o.ciphertext, signature=o.signature
    ).SerializeToString(),
    "signature 63 bytes": lambda o: encode_envelope(o.header, o.ciphertext, o.signature[:63]),
    "ciphertext 15 bytes": lambda o: encode_envelope(o.header, o.ciphertext[:15], o.signature),
    "long-form length varint": lambda o: (
        pb.Envelope(header=o.header, ciphertext=o.ciphertext).SerializeToString()
        + b"\x1a\xc0\x00"
        + o.signature
    ),
    "header not protobuf": lambda o: encode_envelope(b"\xff\xff", o.ciphertext, o.signature),
    "header with bad utf-8": lambda o: encode_envelope(
        b"\x08\x01\x12\x01\xff", o.ciphertext, o.signature
    ),
}


@pytest.mark.parametrize("build", NON_CANONICAL.values(), ids=NON_CANONICAL.keys())
def test_non_canonical_or_broken_outer_message_is_malformed(
    build: Callable[[pb.Envelope], bytes],
) -> None:
    assert _open(build(_outer(BASE))) is RejectReason.MALFORMED


def test_non_canonical_header_is_malformed_even_when_signed() -> None:
    explicit_default = tamper("nc", [TH], header_bytes=lambda raw: raw + b"\x48\x00")  # field 9 = 0
    assert _open(explicit_default) is RejectReason.MALFORMED
    unknown = tamper("nc", [TH], header_bytes=lambda raw: raw + b"\x98\x06\x01")
    assert _open(unknown) is RejectReason.MALFORMED


# ---------------------------------------------------------------- the order of the checks


class _Untouchable:
    """Stands in for a private key; any use of it fails the test."""

    def __getattr__(self, name: str) -> object:
        pytest.fail(f"private key used ({name}) before the signature was checked")


def test_signature_is_checked_before_any_private_key_operation() -> None:
    outer = _outer(BASE)
    forged = encode_envelope(outer.header, outer.ciphertext, bytes(64))
    keys = cast(OfficeKeys, dataclasses.replace(KEYS[TH], encryption=cast(Any, _Untouchable())))
    with pytest.raises(PeerError) as caught:
        open_envelope(forged, keys, DIRECTORY, now=NOW)
    assert caught.value.reason is RejectReason.BAD_SIGNATURE


def test_order_size_before_parse_before_version_before_shape() -> None:
    v2_garbage = tamper(
        "o", [TH], header=lambda h: (setattr(h, "version", 2), setattr(h, "message_id", b""))
    )
    assert _open(v2_garbage) is RejectReason.UNSUPPORTED_VERSION
    assert _open(v2_garbage, limits=Limits(max_envelope_bytes=10)) is RejectReason.OVERSIZE
    suite_garbage = tamper(
        "o", [TH], header=lambda h: (setattr(h, "suite", "x"), setattr(h, "nonce", b""))
    )
    assert _open(suite_garbage) is RejectReason.UNSUPPORTED_SUITE


def test_order_shape_before_sender() -> None:
    data = tamper(
        "o", [TH], header=lambda h: (setattr(h, "sender", ROGUE), setattr(h, "nonce", b""))
    )
    assert _open(data) is RejectReason.MALFORMED


def test_order_signature_before_time_replay_and_recipient() -> None:
    outer = _outer(BASE)
    forged = encode_envelope(outer.header, outer.ciphertext, bytes(64))
    message_id = peek_header(BASE).message_id
    reason = _open(forged, OUTSIDER, now=NOW + timedelta(days=60), seen=frozenset({message_id}))
    assert reason is RejectReason.BAD_SIGNATURE


def test_order_sender_key_before_signature() -> None:
    outer = _outer(BASE)
    forged = encode_envelope(outer.header, outer.ciphertext, bytes(64))
    assert _open(forged, directory=_with_window(revoked_at=NOW)) is RejectReason.SENDER_KEY_REVOKED


def test_order_time_before_replay_before_recipient() -> None:
    message_id = peek_header(BASE).message_id
    late = NOW + timedelta(days=60)
    assert _open(BASE, OUTSIDER, now=late, seen=frozenset({message_id})) is RejectReason.EXPIRED
    assert _open(BASE, OUTSIDER, seen=frozenset({message_id})) is RejectReason.REPLAY


def test_order_commitment_before_payload() -> None:
    both = tamper("both", [TH], header=wrap_other_cek, ciphertext=lambda c: bytes(len(c)))
    assert _open(both) is RejectReason.COMMITMENT_MISMATCH


def test_verify_envelope_skips_time_and_recipient_checks() -> None:
    assert verify_envelope(BASE, DIRECTORY).header.message_id == peek_header(BASE).message_id


def test_peek_header_does_not_check_the_signature() -> None:
    outer = _outer(BASE)
    forged = encode_envelope(outer.header, outer.ciphertext, bytes(64))
    assert peek_header(forged) == peek_header(BASE)


def test_peer_error_explains_itself_to_the_operator_only() -> None:
    with pytest.raises(PeerError) as caught:
        open_envelope(BASE, KEYS[OUTSIDER], DIRECTORY, now=NOW)
    assert str(caught.value) == "message rejected"
    assert "not-a-recipient" in caught.value.explain()
    assert OUTSIDER in caught.value.detail


def test_opening_with_a_naive_now_is_the_callers_error() -> None:
    with pytest.raises(InputError):
        open_envelope(BASE, KEYS[TH], DIRECTORY, now=NOW.replace(tzinfo=None))
