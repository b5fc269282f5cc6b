"""The agreements policy: each rule refuses by its code, and the example's agreements hold."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from broker.directory import DataCategory, Directory, TrustState, accept_directory, decode_root
from broker.errors import PolicyRefused
from broker.model import CaseEnquiry
from broker.model.codes import EnquiryType, Handling, Priority
from broker.policy import (
    Decision,
    EnquiryRequest,
    PolicyRule,
    allowed_recipients,
    decide,
    implied_categories,
    partner_map,
    require_allowed,
)
from tests.unit.test_directory_example import EXAMPLE

NOW = datetime(2027, 6, 1, tzinfo=UTC)
DIRECTORY: Directory = accept_directory(
    (EXAMPLE / "directory.bin").read_bytes(),
    TrustState.pinned(decode_root((EXAMPLE / "root.json").read_bytes())),
    now=NOW,
).directory

# Allowed as it stands: Hekou asks Viet Nam for an identity check under CN-VN-2009.
BASE = EnquiryRequest(
    sender="CN-YN-BLO-HK",
    recipients=("VN-BCA-C02",),
    agreement_id="CN-VN-2009",
    enquiry_type=EnquiryType.IDENTITY_CHECK,
    handling=Handling.H0,
    priority=Priority.NORMAL,
    at=NOW,
)
SPAIN = replace(
    BASE, sender="CN-MPS-OCT", recipients=("ES-PN-UCRIF",), agreement_id="CN-ES-WG-2016"
)


def test_an_enquiry_within_its_agreement_is_allowed() -> None:
    decision = decide(DIRECTORY, BASE)
    assert decision == Decision(
        allowed=True, rule=None, diagnosis="allowed under agreement CN-VN-2009"
    )
    assert require_allowed(DIRECTORY, BASE) == decision


@pytest.mark.parametrize(
    ("request_", "rule", "phrase"),
    [
        (replace(BASE, agreement_id="CN-TH-2030"), PolicyRule.AGREEMENT_UNKNOWN,
         "no agreement 'CN-TH-2030' in directory version 1"),
        (replace(BASE, at=datetime(2009, 9, 30, tzinfo=UTC)), PolicyRule.AGREEMENT_NOT_IN_FORCE,
         "agreement CN-VN-2009 is not in force at 2009-09-30T00:00:00+00:00"),
        (replace(BASE, sender="CN-YN-BLO-MH"), PolicyRule.SENDER_NOT_PARTY,
         "CN-YN-BLO-MH is not a party to agreement CN-VN-2009"),
        (replace(BASE, recipients=("VN-BCA-C02", "LA-MOPS-ATD")), PolicyRule.RECIPIENT_NOT_PARTY,
         "LA-MOPS-ATD is not a party to agreement CN-VN-2009"),
        (replace(BASE, recipients=("XX-NOWHERE",)), PolicyRule.RECIPIENT_NOT_PARTY,
         "XX-NOWHERE is not a party"),
        (replace(SPAIN, enquiry_type=EnquiryType.LOCATION_TRACE),
         PolicyRule.ENQUIRY_TYPE_NOT_ALLOWED,
         "agreement CN-ES-WG-2016 does not allow location-trace"),
        (replace(SPAIN, handling=Handling.H3), PolicyRule.HANDLING_CODE_NOT_ALLOWED,
         "agreement CN-ES-WG-2016 does not allow handling code H3"),
        (replace(SPAIN, priority=Priority.URGENT), PolicyRule.PRIORITY_ABOVE_MAXIMUM,
         "agreement CN-ES-WG-2016 allows priority high at most, not urgent"),
        (replace(SPAIN, data_categories=frozenset({DataCategory.FINANCIAL})),
         PolicyRule.DATA_CATEGORY_NOT_ALLOWED,
         "agreement CN-ES-WG-2016 does not allow financial data"),
        (replace(BASE, agreement_id="MEKONG-2014", enquiry_type=EnquiryType.VICTIM_IDENTIFICATION,
                 data_categories=frozenset({DataCategory.HEALTH})),
         PolicyRule.DATA_CATEGORY_NOT_ALLOWED, "agreement MEKONG-2014 does not allow health data"),
    ],
)  # fmt: skip
def test_each_rule_refuses_with_its_code(
    request_: EnquiryRequest, rule: PolicyRule, phrase: str
) -> None:
    decision = decide(DIRECTORY, request_)
    assert not decision.allowed
    assert decision.rule is rule
    assert phrase in decision.diagnosis
    with pytest.raises(PolicyRefused) as caught:
        require_allowed(DIRECTORY, request_)
    assert caught.value.rule == rule.value
    assert caught.value.exit_code == 6
    assert phrase in caught.value.diagnosis


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("missing-child-alert.json", None),
        ("identity-check.json", None),
    ],
)
def test_the_documented_example_enquiries_against_the_example_directory(
    name: str, rule: PolicyRule | None
) -> None:
    text = (EXAMPLE.parents[1] / "docs" / "examples" / name).read_text(encoding="utf-8")
    enquiry = CaseEnquiry.from_json(text)
    request = EnquiryRequest.of(enquiry, NOW)
    assert request.sender == enquiry.requesting_office
    assert request.recipients == enquiry.recipient_offices
    assert request.agreement_id == enquiry.legal_basis
    assert request.handling is enquiry.handling.code
    assert request.attachments == bool(enquiry.attachments)
    assert decide(DIRECTORY, request).rule is rule
    with_health = EnquiryRequest.of(enquiry, NOW, [DataCategory.HEALTH])
    assert with_health.data_categories == {DataCategory.HEALTH}


def test_attachments_need_an_agreement_that_allows_them() -> None:
    content = DIRECTORY.content
    closed = tuple(
        replace(a, attachments_allowed=False) if a.id == "CN-VN-2009" else a
        for a in content.agreements
    )
    directory = Directory(replace(content, agreements=closed), DIRECTORY.content_bytes)
    assert decide(directory, BASE).allowed
    decision = decide(directory, replace(BASE, attachments=True))
    assert decision.rule is PolicyRule.ATTACHMENTS_NOT_ALLOWED
    assert decide(DIRECTORY, replace(BASE, attachments=True)).allowed


@pytest.mark.parametrize(
    ("enquiry_type", "category"),
    [
        (EnquiryType.DNA_REFERENCE_MATCH, DataCategory.DNA_REFERENCE),
        (EnquiryType.COMMUNICATIONS_DATA, DataCategory.COMMUNICATIONS_DATA),
        (EnquiryType.FINANCIAL_CHECK, DataCategory.FINANCIAL),
    ],
)
def test_an_enquiry_type_implies_its_data_category(
    enquiry_type: EnquiryType, category: DataCategory
) -> None:
    assert implied_categories(enquiry_type) == {category}
    # CN-VN-2009 allows the types and the categories; an agreement without the category does not.
    assert decide(DIRECTORY, replace(BASE, enquiry_type=enquiry_type)).allowed
    content = DIRECTORY.content
    narrowed = tuple(
        replace(a, data_categories=tuple(c for c in a.data_categories if c is not category))
        if a.id == "CN-VN-2009"
        else a
        for a in content.agreements
    )
    directory = Directory(replace(content, agreements=narrowed), DIRECTORY.content_bytes)
    decision = decide(directory, replace(BASE, enquiry_type=enquiry_type))
    assert decision.rule is PolicyRule.DATA_CATEGORY_NOT_ALLOWED
    assert category.value in decision.diagnosis


def test_other_types_imply_no_category() -> None:
    assert implied_categories(EnquiryType.MISSING_CHILD_ALERT) == frozenset()


def test_the_spanish_working_group_is_narrower() -> None:
    assert decide(DIRECTORY, replace(SPAIN, enquiry_type=EnquiryType.VICTIM_IDENTIFICATION)).allowed
    for refused_type in (EnquiryType.DNA_REFERENCE_MATCH, EnquiryType.COMMUNICATIONS_DATA):
        decision = decide(DIRECTORY, replace(SPAIN, enquiry_type=refused_type))
        assert decision.rule is PolicyRule.ENQUIRY_TYPE_NOT_ALLOWED


def test_rules_apply_in_order() -> None:
    everything_wrong = replace(
        SPAIN,
        sender="DE-BKA",
        enquiry_type=EnquiryType.DNA_REFERENCE_MATCH,
        priority=Priority.URGENT,
    )
    assert decide(DIRECTORY, everything_wrong).rule is PolicyRule.SENDER_NOT_PARTY


def test_allowed_recipients_follow_the_agreements_in_force() -> None:
    assert allowed_recipients(DIRECTORY, "CN-YN-BLO-HK", NOW) == {
        "CN-MPS-OCT", "VN-BCA-C02", "CN-YN-BLO-MH", "LA-MOPS-ATD", "MM-MPF-ATTF",
    }  # fmt: skip
    assert allowed_recipients(DIRECTORY, "ES-PN-UCRIF", NOW) == {
        "CN-MPS-OCT", "DE-BKA", "EU-EUROPOL",
    }  # fmt: skip
    # Before the Mekong MoU and the Laos agreement, Hekou had only the 2009 agreement.
    assert allowed_recipients(DIRECTORY, "CN-YN-BLO-HK", datetime(2012, 1, 1, tzinfo=UTC)) == {
        "CN-MPS-OCT", "VN-BCA-C02",
    }  # fmt: skip
    assert allowed_recipients(DIRECTORY, "XX-NOWHERE", NOW) == frozenset()


def test_the_partner_map_covers_every_office() -> None:
    partners = partner_map(DIRECTORY, NOW)
    assert set(partners) == {office.id for office in DIRECTORY.offices}
    assert "ES-PN-UCRIF" in partners["CN-MPS-OCT"]
    for office, others in partners.items():
        assert office not in others
        for other in others:
            assert office in partners[other]  # agreements are symmetric


def test_the_rule_codes_are_stable() -> None:
    assert [rule.value for rule in PolicyRule] == [
        "agreement-unknown", "agreement-not-in-force", "sender-not-party", "recipient-not-party",
        "enquiry-type-not-allowed", "handling-code-not-allowed", "priority-above-maximum",
        "attachments-not-allowed", "data-category-not-allowed",
    ]  # fmt: skip
