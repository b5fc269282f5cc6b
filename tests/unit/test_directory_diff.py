"""``diff_contents``: what changed, in sentences a reviewer understands without protobuf."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from broker.directory import (
    Change,
    DataCategory,
    DirectoryContent,
    KeyUse,
    Revocation,
    RevocationReason,
    diff_contents,
)
from broker.model.codes import EnquiryType, Handling, Priority
from tests.vectors import generate_directory as vec

OLD = vec.content(1, vec.root(vec.ADMINS_A))
HK, VN = OLD.offices


def texts(new: DirectoryContent, old: DirectoryContent = OLD) -> list[str]:
    return [change.text for change in diff_contents(old, new)]


def test_no_change_says_nothing() -> None:
    assert diff_contents(OLD, OLD) == ()


def test_version_and_expiry() -> None:
    new = replace(OLD, version=2, expires_at=datetime(2028, 3, 1, tzinfo=UTC))
    assert texts(new) == [
        "Version 1 -> 2.",
        "Expires 2028-03-01 00:00 UTC (was 2027-03-01 00:00 UTC).",
    ]


def test_an_office_added_and_removed() -> None:
    changes = diff_contents(OLD, replace(OLD, offices=(HK,)))
    assert changes == (
        Change(
            "office-removed",
            "VN-BCA-C02",
            "Office VN-BCA-C02 (VN-BCA-C02 (test vector)) removed: it can no longer send or"
            " receive.",
        ),
    )
    added = texts(OLD, replace(OLD, offices=(HK,)))
    assert added == [
        (
            "Office VN-BCA-C02 added: VN-BCA-C02 (test vector) (VNM, Asia/Ho_Chi_Minh), suite"
            " liaison-v1, keys: 1 signing, 1 encryption."
        )
    ]


def test_a_revocation_is_spelled_out() -> None:
    key = HK.keys_of(KeyUse.SIGNING)[0]
    when = datetime(2026, 5, 1, 12, tzinfo=UTC)
    revoked = replace(key, revocation=Revocation(when, RevocationReason.KEY_COMPROMISE))
    new = replace(OLD, offices=(replace(HK, keys=(revoked, *HK.keys[1:])), VN))
    assert texts(new) == [
        (
            f"Office CN-YN-BLO-HK: signing key {key.fingerprint} REVOKED from 2026-05-01 12:00 UTC"
            " (key-compromise): messages it signs from then on are refused."
        )
    ]
    assert texts(OLD, new) == [
        f"Office CN-YN-BLO-HK: signing key {key.fingerprint}: its revocation is withdrawn."
    ]


def test_keys_added_removed_and_moved() -> None:
    old_key = HK.keys_of(KeyUse.SIGNING)[0]
    new_key = replace(VN.keys_of(KeyUse.ENCRYPTION)[0], use=KeyUse.ENCRYPTION)
    longer = replace(old_key, not_after=old_key.not_after + timedelta(days=366))
    hk = replace(HK, keys=(longer, *HK.keys_of(KeyUse.ENCRYPTION)))
    found = texts(replace(OLD, offices=(hk, VN)))
    assert found == [
        (
            f"Office CN-YN-BLO-HK: signing key {old_key.fingerprint} now valid from 2026-01-01"
            " 00:00 UTC until 2029-01-01 00:00 UTC (was from 2026-01-01 00:00 UTC until 2028-01-01"
            " 00:00 UTC)."
        )
    ]
    vn = replace(VN, keys=(*VN.keys_of(KeyUse.SIGNING),))
    hk = replace(HK, keys=(*HK.keys, new_key))
    found = texts(replace(OLD, offices=(hk, vn)))
    assert found == [
        (
            f"Office CN-YN-BLO-HK: encryption key {new_key.fingerprint} added, valid from"
            " 2026-01-01 00:00 UTC until 2028-01-01 00:00 UTC."
        ),
        f"Office VN-BCA-C02: encryption key {new_key.fingerprint} removed from the directory.",
    ]


def test_office_details() -> None:
    hk = replace(HK, country="VNM", languages=("vi",), urgent_contact="+84 0000 (DEMO)")
    assert texts(replace(OLD, offices=(hk, VN))) == [
        "Office CN-YN-BLO-HK: country now VNM (was CHN).",
        "Office CN-YN-BLO-HK: working languages now vi (was zh-Hans, en).",
        (
            "Office CN-YN-BLO-HK: urgent contact now +84 0000 (DEMO) (was +00 0000 0000 (test"
            " vector))."
        ),
    ]


def test_agreement_changes_read_as_sentences() -> None:
    agreement = OLD.agreements[0]
    wider = replace(
        agreement,
        enquiry_types=(EnquiryType.IDENTITY_CHECK, EnquiryType.DNA_REFERENCE_MATCH),
        handling_codes=(*agreement.handling_codes, Handling.H2),
        max_priority=Priority.HIGH,
        attachments_allowed=False,
        data_categories=(DataCategory.DNA_REFERENCE,),
    )
    assert texts(replace(OLD, agreements=(wider,))) == [
        "Agreement CN-VN-2009: enquiry type dna-reference-match now allowed.",
        "Agreement CN-VN-2009: enquiry type missing-child-alert no longer allowed.",
        "Agreement CN-VN-2009: handling code H2 now allowed.",
        "Agreement CN-VN-2009: data category dna-reference now allowed.",
        "Agreement CN-VN-2009: maximum priority now high (was urgent).",
        "Agreement CN-VN-2009: attachments no longer allowed.",
    ]
    assert texts(replace(OLD, agreements=())) == [
        "Agreement CN-VN-2009 (Test vector agreement) removed: enquiries under it are refused."
    ]
    added = texts(OLD, replace(OLD, agreements=()))
    assert added[0].startswith("Agreement CN-VN-2009 added: Test vector agreement; parties")
    assert "maximum priority urgent" in added[0]


def test_root_changes_warn_that_both_roots_must_sign() -> None:
    new = replace(OLD, root=vec.root(vec.ADMINS_B))
    found = diff_contents(OLD, new)
    kinds = [change.kind for change in found]
    assert kinds.count("root-key-added") == 3
    assert kinds.count("root-key-removed") == 3
    assert found[-1].text == (
        "The root changes: this directory must be signed by enough administrators of both the"
        " old and the new root."
    )
    stricter = replace(OLD, root=replace(OLD.root, threshold=3))
    assert texts(stricter) == [
        "Signatures needed for the next directory: 3 of 3 administrators (was 2 of 3).",
        (
            "The root changes: this directory must be signed by enough administrators of both the"
            " old and the new root."
        ),
    ]


def test_directory_wide_settings_and_agreement_terms() -> None:
    agreement = OLD.agreements[0]
    until = datetime(2030, 1, 1, tzinfo=UTC)
    new = replace(
        OLD,
        issuer="New administrators",
        encryption_key_grace=timedelta(days=1),
        max_rotation_overlap=timedelta(days=7.5),
        issued_at=datetime(2026, 3, 1, 12, 30, 15, tzinfo=UTC),
        agreements=(replace(agreement, title="Renamed", valid_until=until),),
    )
    assert texts(new) == [
        "Issuer is now 'New administrators' (was 'Liaison test vector administrators').",
        "Issued 2026-03-01 12:30:15 UTC.",
        "Grace period for old encryption keys: 1 day (was 14 days).",
        "Longest key rotation overlap: 7.5 days (was 30 days).",
        "Agreement CN-VN-2009: title now 'Renamed' (was 'Test vector agreement').",
        (
            "Agreement CN-VN-2009: in force from 2009-10-01 00:00 UTC until 2030-01-01 00:00 UTC"
            " (was from 2009-10-01 00:00 UTC, open-ended)."
        ),
    ]


def test_a_key_added_already_revoked_says_both() -> None:
    key = replace(
        VN.keys_of(KeyUse.SIGNING)[0],
        revocation=Revocation(datetime(2026, 2, 1, tzinfo=UTC), RevocationReason.SUPERSEDED),
    )
    hk = replace(HK, keys=(*HK.keys, key))
    kinds = [c.kind for c in diff_contents(OLD, replace(OLD, offices=(hk, VN)))]
    assert kinds == ["key-added", "key-revoked"]


def test_display_names_fall_back_sensibly() -> None:
    names = (("vi", "Văn phòng"), ("zh-Hans", "办公室"))
    office = replace(HK, names=names)
    assert office.display_name("zh-Hans") == "办公室"
    assert office.display_name() == "Văn phòng"  # no English: the first listed
    assert replace(HK, names=()).display_name() == "CN-YN-BLO-HK"


def test_revoking_an_encryption_key_says_what_that_means() -> None:
    key = HK.keys_of(KeyUse.ENCRYPTION)[0]
    revoked = replace(
        key, revocation=Revocation(datetime(2026, 5, 1, tzinfo=UTC), RevocationReason.SUPERSEDED)
    )
    new = replace(OLD, offices=(replace(HK, keys=(*HK.keys_of(KeyUse.SIGNING), revoked)), VN))
    assert texts(new) == [
        (
            f"Office CN-YN-BLO-HK: encryption key {key.fingerprint} REVOKED from 2026-05-01"
            " 00:00 UTC (superseded): nothing is sealed to it any more, nor opened with it from"
            " then on."
        )
    ]
