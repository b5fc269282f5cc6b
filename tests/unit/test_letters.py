"""Sealing and opening under the real (DEMO example) directory: key windows, revocation and the
agreements are enforced when sealing and again when opening."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from broker.directory import (
    Directory,
    KeyUse,
    Revocation,
    RevocationReason,
    TrustState,
    accept_directory,
    decode_root,
    encode_content,
)
from broker.envelope import MessageKind, open_envelope, seal, verify_envelope
from broker.errors import InputError, PeerError, PolicyRefused, RejectReason
from broker.keys.model import OfficeKeys
from broker.letters import open_message, seal_message
from broker.model import (
    CaseEnquiry,
    CaseResponse,
    EnquiryType,
    Handling,
    HandlingCode,
    Priority,
)
from tests.demo import DIRECTORY_FILE, ROOT_FILE, make

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
DIRECTORY = accept_directory(
    DIRECTORY_FILE.read_bytes(), TrustState.pinned(decode_root(ROOT_FILE.read_bytes())), now=NOW
).directory
OFFICES = ("CN-YN-BLO-HK", "VN-BCA-C02", "LA-MOPS-ATD", "ES-PN-UCRIF", "CN-MPS-OCT")
HK, VN, LA, ES, MPS = (make.demo_keys(office) for office in OFFICES)


def alert() -> CaseEnquiry:
    return CaseEnquiry.from_json((EXAMPLES / "missing-child-alert.json").read_text("utf-8"))


def identity_check() -> CaseEnquiry:
    return CaseEnquiry.from_json((EXAMPLES / "identity-check.json").read_text("utf-8"))


def test_round_trip_to_every_recipient() -> None:
    envelope = seal_message(alert(), sender=HK, directory=DIRECTORY, now=NOW)
    for keys in (VN, LA):
        letter = open_message(envelope, keys=keys, directory=DIRECTORY, now=NOW)
        assert letter.message == alert()
        assert letter.opened.header.directory_version == DIRECTORY.version


def test_the_working_group_allows_the_identity_check_but_not_a_dna_match() -> None:
    envelope = seal_message(identity_check(), sender=MPS, directory=DIRECTORY, now=NOW)
    assert open_message(envelope, keys=ES, directory=DIRECTORY, now=NOW).message.legal_basis == (
        "CN-ES-WG-2016"
    )
    dna = dataclasses.replace(identity_check(), enquiry_type=EnquiryType.DNA_REFERENCE_MATCH)
    with pytest.raises(PolicyRefused) as caught:
        seal_message(dna, sender=MPS, directory=DIRECTORY, now=NOW)
    assert caught.value.rule == "enquiry-type-not-allowed"
    urgent = dataclasses.replace(identity_check(), priority=Priority.URGENT)
    with pytest.raises(PolicyRefused, match="priority-above-maximum"):
        seal_message(urgent, sender=MPS, directory=DIRECTORY, now=NOW)


def test_a_recipient_outside_any_agreement_is_refused_before_sealing() -> None:
    to_spain = dataclasses.replace(alert(), recipient_offices=("ES-PN-UCRIF",))
    with pytest.raises(PolicyRefused) as caught:
        seal_message(to_spain, sender=HK, directory=DIRECTORY, now=NOW)
    assert caught.value.rule == "recipient-not-party"
    assert caught.value.exit_code == 6


def test_the_receiver_enforces_the_agreements_again() -> None:
    # Another implementation skips the check and seals an out-of-agreement enquiry directly.
    to_spain = dataclasses.replace(alert(), recipient_offices=("ES-PN-UCRIF",))
    envelope = seal(
        to_spain.to_bytes(),
        kind=MessageKind.ENQUIRY,
        sender=HK,
        recipients=[DIRECTORY.recipient("ES-PN-UCRIF", NOW)],
        directory_version=DIRECTORY.version,
        now=NOW,
    )
    with pytest.raises(PeerError) as caught:
        open_message(envelope, keys=ES, directory=DIRECTORY, now=NOW)
    assert caught.value.reason is RejectReason.POLICY
    assert caught.value.detail.startswith("recipient-not-party:")
    assert str(caught.value) == "message rejected"


def test_responses_need_an_agreement_between_the_two_offices() -> None:
    response = CaseResponse.from_json((EXAMPLES / "case-response.json").read_text("utf-8"))
    envelope = seal_message(response, sender=VN, directory=DIRECTORY, now=NOW, to=["CN-YN-BLO-HK"])
    assert open_message(envelope, keys=HK, directory=DIRECTORY, now=NOW).message == response
    with pytest.raises(PolicyRefused, match="recipient-not-party"):
        seal_message(response, sender=VN, directory=DIRECTORY, now=NOW, to=["ES-PN-UCRIF"])
    with pytest.raises(InputError, match="keys are CN-YN-BLO-HK's"):
        seal_message(response, sender=HK, directory=DIRECTORY, now=NOW, to=["VN-BCA-C02"])


def test_a_message_that_disagrees_with_its_envelope_is_malformed() -> None:
    # LA seals an enquiry that claims to come from HK.
    envelope = seal(
        alert().to_bytes(),
        kind=MessageKind.ENQUIRY,
        sender=LA,
        recipients=[DIRECTORY.recipient("VN-BCA-C02", NOW)],
        directory_version=DIRECTORY.version,
        now=NOW,
    )
    with pytest.raises(PeerError) as caught:
        open_message(envelope, keys=VN, directory=DIRECTORY, now=NOW)
    assert caught.value.reason is RejectReason.MALFORMED


def _old_hk_keys() -> OfficeKeys:
    """HK's retired signing key: valid 2024-11-01 to 2026-11-15 in the example directory."""
    old = ed25519.Ed25519PrivateKey.from_private_bytes(make.seed("CN-YN-BLO-HK", "signing-2024"))
    return dataclasses.replace(HK, signing=old)


def test_a_key_outside_its_window_is_refused_but_old_messages_still_verify() -> None:
    old = _old_hk_keys()
    before = datetime(2026, 11, 10, tzinfo=UTC)
    within = seal(alert().to_bytes(), kind=MessageKind.ENQUIRY, sender=old,
                  recipients=[DIRECTORY.recipient("VN-BCA-C02", before)],
                  directory_version=DIRECTORY.version, now=before)  # fmt: skip
    assert verify_envelope(within, DIRECTORY).header.sender == "CN-YN-BLO-HK"  # an audit, later
    late = seal(alert().to_bytes(), kind=MessageKind.ENQUIRY, sender=old,
                recipients=[DIRECTORY.recipient("VN-BCA-C02", NOW)],
                directory_version=DIRECTORY.version, now=NOW)  # fmt: skip
    with pytest.raises(PeerError) as caught:
        open_envelope(late, VN, DIRECTORY, now=NOW)
    assert caught.value.reason is RejectReason.SENDER_KEY_EXPIRED


def test_a_revoked_key_is_refused_from_its_revocation_on() -> None:
    revoked_at = datetime(2026, 11, 20, tzinfo=UTC)
    content = DIRECTORY.content
    compromise = Revocation(revoked_at, RevocationReason.KEY_COMPROMISE)
    offices = []
    for office in content.offices:
        keys = tuple(
            dataclasses.replace(k, revocation=compromise)
            if k.use is KeyUse.SIGNING and k.public_key == HK.public().signing
            else k
            for k in office.keys
        )
        offices.append(dataclasses.replace(office, keys=keys))
    revoked = Directory.decode(encode_content(dataclasses.replace(content, offices=tuple(offices))))
    before = datetime(2026, 11, 19, tzinfo=UTC)
    early = seal_message(alert(), sender=HK, directory=DIRECTORY, now=before)
    assert verify_envelope(early, revoked).header.created_at == before
    envelope = seal_message(alert(), sender=HK, directory=DIRECTORY, now=NOW)
    with pytest.raises(PeerError) as caught:
        open_message(envelope, keys=VN, directory=revoked, now=NOW)
    assert caught.value.reason is RejectReason.SENDER_KEY_REVOKED


def test_handling_codes_are_checked_per_agreement() -> None:
    h3 = dataclasses.replace(
        identity_check(), handling=HandlingCode(code=Handling.H3, conditions="Not for courts.")
    )
    with pytest.raises(PolicyRefused, match="handling-code-not-allowed"):
        seal_message(h3, sender=MPS, directory=DIRECTORY, now=NOW + timedelta(days=1))
