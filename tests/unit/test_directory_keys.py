"""Key validity at a time, rotation grace, recipients for sealing, the DirectoryView contract."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519

from broker.directory import (
    Directory,
    KeyStatus,
    KeyUse,
    OfficeKey,
    Revocation,
    RevocationReason,
    encode_content,
)
from broker.envelope import DirectoryView, MessageKind, Suite, open_envelope, seal, verify_envelope
from broker.errors import InputError, PeerError, RejectReason
from broker.keys.model import OfficeKeys
from tests.vectors import generate_directory as vec

HK, VN = vec.OFFICES
T0 = datetime(2026, 1, 1, tzinfo=UTC)
ROTATION = datetime(2027, 1, 1, tzinfo=UTC)  # the new keys start here
OLD_END = ROTATION + timedelta(days=10)  # the old keys end here: a 10-day overlap
COMPROMISE = datetime(2026, 9, 1, tzinfo=UTC)
GRACE = timedelta(days=14)


def office_keys(name: str, *, pq: bool = False) -> OfficeKeys:
    def seed(role: str, n: int = 32) -> bytes:
        return hashlib.shake_256(f"{name}/{role}".encode()).digest(n)

    return OfficeKeys.from_seeds(
        HK,
        signing=seed("signing"),
        encryption=seed("encryption"),
        hybrid_mlkem=seed("mlkem", 64) if pq else None,
        hybrid_x25519=seed("x25519") if pq else None,
    )


OLD, NEW = office_keys("old", pq=True), office_keys("new", pq=True)
STOLEN = office_keys("stolen")  # VN's key, compromised and revoked


def rotated_directory() -> Directory:
    """HK rotates all its keys on 2027-01-01 with a 10-day overlap; VN's signing key was
    compromised on 2026-09-01 and replaced then."""
    content = vec.content(1, vec.root(vec.ADMINS_A))
    hk, vn = content.offices
    far = datetime(2029, 1, 1, tzinfo=UTC)
    hk_keys = []
    for keys, start, end in ((OLD, T0, OLD_END), (NEW, ROTATION, far)):
        public = keys.public()
        assert public.hybrid is not None
        hk_keys += [
            OfficeKey(KeyUse.SIGNING, public.signing, start, end),
            OfficeKey(KeyUse.ENCRYPTION, public.encryption, start, end),
            OfficeKey(KeyUse.HYBRID, public.hybrid.raw(), start, end),
        ]
    revoked = Revocation(COMPROMISE, RevocationReason.KEY_COMPROMISE)
    vn_keys = [
        OfficeKey(KeyUse.SIGNING, STOLEN.public().signing, T0, far, revoked),
        replace(vn.keys_of(KeyUse.SIGNING)[0], not_before=COMPROMISE, not_after=far),
        *vn.keys_of(KeyUse.ENCRYPTION),
    ]
    content = replace(
        content,
        encryption_key_grace=GRACE,
        offices=(
            replace(hk, suite=Suite.V1_PQ, keys=tuple(hk_keys)),
            replace(vn, keys=tuple(vn_keys)),
        ),
    )
    return Directory.decode(encode_content(content))


D = rotated_directory()


def days(n: float) -> timedelta:
    return timedelta(days=n)


@pytest.mark.parametrize(
    ("at", "status"),
    [
        (T0 - timedelta(microseconds=1), KeyStatus.NOT_YET_VALID),
        (T0, KeyStatus.VALID),
        (OLD_END - timedelta(microseconds=1), KeyStatus.VALID),
        (OLD_END, KeyStatus.EXPIRED),
    ],
)
def test_a_key_is_valid_from_not_before_until_just_before_not_after(
    at: datetime, status: KeyStatus
) -> None:
    key = D.office(HK).keys_of(KeyUse.SIGNING)[0]  # type: ignore[union-attr]
    assert key.status_at(at) is status


@pytest.mark.parametrize(
    ("at", "reason"),
    [
        (T0 - days(1), RejectReason.SENDER_KEY_NOT_YET_VALID),
        (OLD_END, RejectReason.SENDER_KEY_EXPIRED),
        (OLD_END + days(400), RejectReason.SENDER_KEY_EXPIRED),
    ],
)
def test_signing_key_refuses_outside_the_window(at: datetime, reason: RejectReason) -> None:
    with pytest.raises(PeerError) as caught:
        D.signing_key(HK, OLD.public().signing_key_id, at)
    assert caught.value.reason is reason


def test_both_keys_verify_during_the_rotation_overlap() -> None:
    during = ROTATION + days(5)
    assert D.signing_key(HK, OLD.public().signing_key_id, during) == OLD.public().signing
    assert D.signing_key(HK, NEW.public().signing_key_id, during) == NEW.public().signing


def test_a_revoked_key_verifies_what_it_signed_before_and_nothing_after() -> None:
    stolen = STOLEN.public().signing_key_id
    assert D.signing_key(VN, stolen, COMPROMISE - timedelta(seconds=1)) == STOLEN.public().signing
    for at in (COMPROMISE, COMPROMISE + days(1)):
        with pytest.raises(PeerError) as caught:
            D.signing_key(VN, stolen, at)
        assert caught.value.reason is RejectReason.SENDER_KEY_REVOKED
        assert "revoked" in caught.value.detail


@pytest.mark.parametrize(
    ("office", "key_id", "phrase"),
    [
        ("TH-RTP-ATHD", OLD.public().signing_key_id, "is not listed"),
        (VN, OLD.public().signing_key_id, "is not listed for VN-BCA-C02"),
        (HK, OLD.public().encryption_key_id, "is not a signing key"),
    ],
)
def test_unknown_senders_and_keys_of_another_kind(office: str, key_id: bytes, phrase: str) -> None:
    with pytest.raises(PeerError) as caught:
        D.signing_key(office, key_id, ROTATION)
    assert caught.value.reason is RejectReason.UNKNOWN_SENDER
    assert phrase in caught.value.detail


def test_key_for_answers_for_every_kind_of_key() -> None:
    key = D.key_for(HK, OLD.public().encryption_key_id, T0)
    assert key.use is KeyUse.ENCRYPTION
    assert key.public_key == OLD.public().encryption


def test_the_current_key_is_the_newest_valid_one() -> None:
    assert (
        D.current_key(HK, KeyUse.ENCRYPTION, ROTATION - days(1)).public_key
        == OLD.public().encryption
    )  # type: ignore[union-attr]
    assert D.current_key(HK, KeyUse.ENCRYPTION, ROTATION).public_key == NEW.public().encryption  # type: ignore[union-attr]
    assert D.current_key(HK, KeyUse.ENCRYPTION, T0 - days(1)) is None
    assert D.current_key("TH-RTP-ATHD", KeyUse.ENCRYPTION, T0) is None


def test_a_recipient_gets_the_suite_and_the_current_keys() -> None:
    before, after = D.recipient(HK, ROTATION - days(1)), D.recipient(HK, ROTATION + days(1))
    assert before.suite is Suite.V1_PQ
    assert before.public_key == OLD.public()
    assert after.public_key == NEW.public()
    assert D.recipient(VN, COMPROMISE).public_key.signing != STOLEN.public().signing


def test_a_recipient_without_a_valid_key_cannot_be_sealed_to() -> None:
    with pytest.raises(InputError, match="no valid encryption key"):
        D.recipient(HK, T0 - days(1))
    with pytest.raises(InputError, match="not in directory version 1"):
        D.recipient("TH-RTP-ATHD", T0)


def test_an_old_encryption_key_still_opens_mail_for_the_grace_period() -> None:
    old_id = OLD.public().encryption_key_id
    hybrid_id = OLD.public().hybrid_key_id
    assert hybrid_id is not None
    for key in (old_id, hybrid_id):
        assert D.decryption_key_acceptable(HK, key, OLD_END - days(1))
        assert D.decryption_key_acceptable(HK, key, OLD_END + GRACE - timedelta(seconds=1))
        assert not D.decryption_key_acceptable(HK, key, OLD_END + GRACE)
        assert not D.decryption_key_acceptable(HK, key, T0 - days(1))


def test_signing_keys_and_unknown_keys_open_nothing() -> None:
    assert not D.decryption_key_acceptable(HK, OLD.public().signing_key_id, T0)
    assert not D.decryption_key_acceptable(HK, b"\x00" * 16, T0)
    assert not D.decryption_key_acceptable(VN, OLD.public().encryption_key_id, T0)


def test_a_revoked_encryption_key_gets_no_grace() -> None:
    content = D.content
    vn = content.offices[1]
    key = vn.keys_of(KeyUse.ENCRYPTION)[0]
    revoked = replace(key, revocation=Revocation(COMPROMISE, RevocationReason.KEY_COMPROMISE))
    changed = replace(vn, keys=(*vn.keys_of(KeyUse.SIGNING), revoked))
    directory = Directory.decode(
        encode_content(replace(content, offices=(content.offices[0], changed)))
    )
    assert directory.decryption_key_acceptable(VN, key.key_id, COMPROMISE - timedelta(seconds=1))
    assert not directory.decryption_key_acceptable(VN, key.key_id, COMPROMISE)


def test_the_directory_is_a_directory_view_for_the_envelope() -> None:
    view: DirectoryView = D
    assert view.version == 1
    sent_at = ROTATION + days(1)
    vn_private = OfficeKeys.from_seeds(
        VN, signing=vec.seed(VN, "signing"), encryption=vec.seed(VN, "encryption")
    )
    payload = b"DEMO enquiry: not a real case"
    # HK (new keys) to VN over liaison-v1; VN to HK over liaison-v1-pq.
    for sender, recipient, private in ((NEW, VN, vn_private), (vn_private, HK, NEW)):
        envelope = seal(
            payload,
            kind=MessageKind.ENQUIRY,
            sender=sender,
            recipients=[D.recipient(recipient, sent_at)],
            directory_version=D.version,
            now=sent_at,
        )
        opened = open_envelope(envelope, private, D, now=sent_at + timedelta(hours=1))
        assert opened.payload == payload
        assert verify_envelope(envelope, D).header.sender == sender.office_id


def test_directory_facts() -> None:
    assert D.version == 1
    assert D.issued_at == vec.ISSUED
    assert D.expires_at == vec.EXPIRES
    assert D.root == vec.root(vec.ADMINS_A)
    assert D.digest == hashlib.sha256(D.content_bytes).digest()
    assert [o.id for o in D.offices] == [HK, VN]
    assert D.agreement("CN-VN-2009") is D.agreements[0]
    assert D.agreement("NOPE") is None
    assert D.office("NOPE") is None
    assert "content_bytes" not in repr(D)


def test_the_vector_office_keys_match_their_seeds() -> None:
    # The vector offices' keys are derived from seeds other tests rebuild.
    signing = ed25519.Ed25519PrivateKey.from_private_bytes(vec.seed(HK, "signing"))
    encryption = x25519.X25519PrivateKey.from_private_bytes(vec.seed(HK, "encryption"))
    hk = vec.office(HK)
    assert hk.keys_of(KeyUse.SIGNING)[0].public_key == signing.public_key().public_bytes_raw()
    assert hk.keys_of(KeyUse.ENCRYPTION)[0].public_key == encryption.public_key().public_bytes_raw()


def test_a_directory_is_a_value() -> None:
    assert Directory.decode(D.content_bytes) == D
