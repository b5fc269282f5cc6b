"""docs/examples: each example validates, round-trips, and is in the canonical JSON form."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from broker.model import (
    CaseEnquiry,
    CaseResponse,
    EnquiryType,
    PersonRole,
    Priority,
    ResponseStatus,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
MESSAGES: dict[str, type[CaseEnquiry] | type[CaseResponse]] = {
    "missing-child-alert.json": CaseEnquiry,
    "identity-check.json": CaseEnquiry,
    "case-response.json": CaseResponse,
}


def test_every_example_file_is_listed() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.json")) == sorted(MESSAGES)


@pytest.mark.parametrize(("name", "kind"), MESSAGES.items())
def test_example_validates_and_is_canonical(
    name: str, kind: type[CaseEnquiry] | type[CaseResponse]
) -> None:
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    value = kind.from_json(text)
    assert value.to_json() + "\n" == text
    assert kind.from_bytes(value.to_bytes()) == value
    assert unicodedata.is_normalized("NFC", text)


def test_the_missing_child_alert_says_what_the_brief_says() -> None:
    alert = CaseEnquiry.from_json((EXAMPLES / "missing-child-alert.json").read_text("utf-8"))
    assert alert.requesting_office == "CN-YN-BLO-HK"
    assert alert.recipient_offices == ("VN-BCA-C02", "LA-MOPS-ATD")
    assert alert.legal_basis == "MEKONG-2014"
    assert alert.enquiry_type is EnquiryType.MISSING_CHILD_ALERT
    assert alert.priority is Priority.URGENT
    assert alert.persons[0].role is PersonRole.MISSING_CHILD
    assert {n.script for p in alert.persons for n in p.names} == {"Hans", "Latn", "Laoo"}


def test_the_identity_check_and_the_response_say_what_the_brief_says() -> None:
    check = CaseEnquiry.from_json((EXAMPLES / "identity-check.json").read_text("utf-8"))
    assert (check.requesting_office, check.recipient_offices) == ("CN-MPS-OCT", ("ES-PN-UCRIF",))
    assert check.legal_basis == "CN-ES-WG-2016"
    assert check.enquiry_type is EnquiryType.IDENTITY_CHECK
    answer = CaseResponse.from_json((EXAMPLES / "case-response.json").read_text("utf-8"))
    alert = CaseEnquiry.from_json((EXAMPLES / "missing-child-alert.json").read_text("utf-8"))
    assert answer.responding_office == "VN-BCA-C02"
    assert answer.enquiry_id == alert.enquiry_id
    assert answer.status is ResponseStatus.PARTIALLY_ANSWERED
    assert answer.evaluation is not None
    assert answer.evaluation.code == "B2"
