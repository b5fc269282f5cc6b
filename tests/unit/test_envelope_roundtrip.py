"""Sealing and opening: round trips for one and several recipients, in both suites."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from broker.envelope import (
    Header,
    MessageKind,
    Opened,
    Recipient,
    StaticDirectory,
    Suite,
    open_envelope,
    open_with_cek,
    peek_header,
    seal,
    verify_envelope,
)
from broker.envelope.hpke import derive_key_pair
from broker.envelope.labels import CEK_LEN, MESSAGE_ID_LEN, NONCE_LEN
from broker.keys.model import OfficeKeys
from broker.pb import envelope_pb2 as pb
from tests.vectors.generate_envelope import (
    DIRECTORY,
    KEYS,
    LA,
    MM,
    NOW,
    SENDER,
    TH,
    CounterRng,
)

PAYLOAD = b"enquiry: vehicle DEMO-0001" * 10


def _seal(
    recipients: list[str],
    *,
    suite: Suite = Suite.V1,
    payload: bytes = PAYLOAD,
    seed: bytes = b"seed",
    kind: MessageKind = MessageKind.ENQUIRY,
) -> bytes:
    return seal(
        payload,
        kind=kind,
        sender=KEYS[SENDER],
        recipients=[Recipient(o, suite, KEYS[o].public()) for o in recipients],
        directory_version=7,
        now=NOW,
        rng=CounterRng(seed),
    )


def _open(data: bytes, office: str) -> Opened:
    return open_envelope(data, KEYS[office], DIRECTORY, now=NOW)


def test_single_recipient_round_trip() -> None:
    data = _seal([TH])
    opened = _open(data, TH)
    assert opened.payload == PAYLOAD
    assert opened.digest == hashlib.sha256(data).digest()
    header = opened.header
    assert header.version == 1
    assert header.suite is Suite.V1
    assert header.kind is MessageKind.ENQUIRY
    assert header.sender == SENDER
    assert header.sender_key_id == KEYS[SENDER].public().signing_key_id
    assert header.directory_version == 7
    assert header.created_at == NOW
    assert header.expires_at == NOW + timedelta(days=7)
    assert [r.office_id for r in header.recipients] == [TH]
    assert header.recipients[0].key_id == KEYS[TH].public().encryption_key_id
    assert len(header.message_id) == MESSAGE_ID_LEN
    assert len(header.nonce) == NONCE_LEN
    assert len(opened.cek) == CEK_LEN


def test_three_recipients_each_open_the_same_payload_and_key() -> None:
    data = _seal([TH, LA, MM])
    opened = [_open(data, office) for office in (TH, LA, MM)]
    assert {o.payload for o in opened} == {PAYLOAD}
    assert len({o.cek for o in opened}) == 1
    assert [r.office_id for r in opened[0].header.recipients] == [TH, LA, MM]
    # Each recipient's wrap is its own: distinct ephemeral keys.
    assert len({r.enc for r in opened[0].header.recipients}) == 3


def test_pq_suite_round_trip() -> None:
    data = _seal([MM], suite=Suite.V1_PQ)
    opened = _open(data, MM)
    assert opened.payload == PAYLOAD
    assert opened.header.suite is Suite.V1_PQ
    assert opened.header.recipients[0].key_id == KEYS[MM].public().hybrid_key_id
    assert len(opened.header.recipients[0].enc) == 1120


def test_pq_suite_with_several_recipients() -> None:
    extra = OfficeKeys.generate("KH-PNH-LO-01", pq=True)
    directory = StaticDirectory.of(1, [*DIRECTORY.offices.values(), extra.public()])
    data = seal(
        PAYLOAD,
        kind=MessageKind.RESPONSE,
        sender=KEYS[SENDER],
        recipients=[
            Recipient(MM, Suite.V1_PQ, KEYS[MM].public()),
            Recipient(extra.office_id, Suite.V1_PQ, extra.public()),
        ],
        directory_version=1,
        now=NOW,
    )
    for keys in (KEYS[MM], extra):
        assert open_envelope(data, keys, directory, now=NOW).payload == PAYLOAD


@pytest.mark.parametrize("kind", list(MessageKind))
def test_every_kind_round_trips(kind: MessageKind) -> None:
    assert _open(_seal([TH], kind=kind), TH).header.kind is kind


@pytest.mark.parametrize("payload", [b"", b"\x00", bytes(range(256)) * 64])
def test_payload_sizes_round_trip(payload: bytes) -> None:
    assert _open(_seal([TH], payload=payload), TH).payload == payload


def test_a_sender_may_address_itself_for_its_own_archive() -> None:
    data = _seal([TH, SENDER])
    assert _open(data, SENDER).payload == PAYLOAD


def test_fixed_rng_gives_identical_bytes_and_another_rng_does_not() -> None:
    assert _seal([TH, LA]) == _seal([TH, LA])
    assert _seal([TH, LA]) != _seal([TH, LA], seed=b"other")


def test_rng_draw_order_is_message_id_cek_nonce_then_one_ikm_per_recipient() -> None:
    rng = CounterRng(b"seed")
    message_id, cek, nonce = rng(16), rng(32), rng(24)
    opened = _open(_seal([TH]), TH)
    assert (opened.header.message_id, opened.cek, opened.header.nonce) == (message_id, cek, nonce)
    ephemeral = derive_key_pair(rng(32)).public_key().public_bytes_raw()
    assert opened.header.recipients[0].enc == ephemeral


def test_verify_envelope_needs_no_private_key_and_no_clock() -> None:
    data = _seal([TH])
    verified = verify_envelope(data, DIRECTORY)
    assert verified.header == _open(data, TH).header
    assert verified.digest == hashlib.sha256(data).digest()


def test_open_with_cek_gives_an_auditor_the_plaintext() -> None:
    data = _seal([TH, LA])
    disclosed = _open(data, LA).cek
    audited = open_with_cek(data, disclosed, DIRECTORY)
    assert audited.payload == PAYLOAD
    assert audited.cek == disclosed


def test_peek_header_reads_without_any_key() -> None:
    data = _seal([TH])
    header = peek_header(data)
    assert isinstance(header, Header)
    assert header == _open(data, TH).header


def test_header_raw_is_the_exact_signed_bytes() -> None:
    data = _seal([TH])
    assert peek_header(data).raw == pb.Envelope.FromString(data).header


def test_header_recipient_lookup() -> None:
    header = peek_header(_seal([TH, LA]))
    entry = header.recipient(LA)
    assert entry is not None
    assert entry.office_id == LA
    assert header.recipient(MM) is None


def test_reprs_hold_no_plaintext_or_key() -> None:
    opened = _open(_seal([TH]), TH)
    text = repr(opened)
    assert "DEMO-0001" not in text
    assert repr(opened.cek) not in text
    assert opened.cek.hex() not in text
    assert "enc=" not in repr(opened.header.recipients[0])
