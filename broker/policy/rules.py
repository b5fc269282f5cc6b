"""May this enquiry go out under this agreement? One decision, naming the rule that refused it.

Pure (docs/directory.md, "Policy"). The rules are checked in this order, and the first that
fails decides:

==========================  ===============================================================
rule                        refuses when
==========================  ===============================================================
agreement-unknown           the legal basis names no agreement of the directory
agreement-not-in-force      the agreement is not in force at the time of the enquiry
sender-not-party            the sender is not a party to the agreement
recipient-not-party         a recipient is not a party (or not in the directory)
enquiry-type-not-allowed    the agreement does not allow the enquiry type
handling-code-not-allowed   the agreement does not allow the handling code
priority-above-maximum      the priority is more urgent than the agreement's maximum
attachments-not-allowed     the enquiry has attachments and the agreement allows none
data-category-not-allowed   a data category (stated, or implied by the type) is not allowed
==========================  ===============================================================
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from broker.directory.directory import Directory
from broker.directory.model import Agreement
from broker.directory.vocabulary import DataCategory, enquiry_type_name, priority_name
from broker.errors import PolicyRefused
from broker.model.codes import EnquiryType, Handling, Priority
from broker.model.enquiry import CaseEnquiry


class PolicyRule(enum.StrEnum):
    """The stable codes of the policy rules (PolicyRefused.rule, logs, docs)."""

    AGREEMENT_UNKNOWN = "agreement-unknown"
    AGREEMENT_NOT_IN_FORCE = "agreement-not-in-force"
    SENDER_NOT_PARTY = "sender-not-party"
    RECIPIENT_NOT_PARTY = "recipient-not-party"
    ENQUIRY_TYPE_NOT_ALLOWED = "enquiry-type-not-allowed"
    HANDLING_CODE_NOT_ALLOWED = "handling-code-not-allowed"
    PRIORITY_ABOVE_MAXIMUM = "priority-above-maximum"
    ATTACHMENTS_NOT_ALLOWED = "attachments-not-allowed"
    DATA_CATEGORY_NOT_ALLOWED = "data-category-not-allowed"


# What an enquiry type asks for by its nature; an agreement that does not list the category
# excludes the type even if it lists the type.
IMPLIED_CATEGORIES: Final = {
    EnquiryType.DNA_REFERENCE_MATCH: frozenset({DataCategory.DNA_REFERENCE}),
    EnquiryType.COMMUNICATIONS_DATA: frozenset({DataCategory.COMMUNICATIONS_DATA}),
    EnquiryType.FINANCIAL_CHECK: frozenset({DataCategory.FINANCIAL}),
}


def implied_categories(enquiry_type: EnquiryType) -> frozenset[DataCategory]:
    return IMPLIED_CATEGORIES.get(enquiry_type, frozenset())


@dataclass(frozen=True, slots=True)
class EnquiryRequest:
    """What the policy needs to know about an enquiry about to be sent."""

    sender: str
    recipients: tuple[str, ...]
    agreement_id: str  # the legal basis
    enquiry_type: EnquiryType
    handling: Handling
    priority: Priority
    at: datetime  # when it is sent (the agreement must be in force then)
    attachments: bool = False
    data_categories: frozenset[DataCategory] = field(default_factory=frozenset)  # beyond implied

    @classmethod
    def of(
        cls,
        enquiry: CaseEnquiry,
        at: datetime,
        data_categories: Iterable[DataCategory] = (),
    ) -> EnquiryRequest:
        """The request for a validated enquiry sent at ``at``."""
        return cls(
            sender=enquiry.requesting_office,
            recipients=enquiry.recipient_offices,
            agreement_id=enquiry.legal_basis,
            enquiry_type=enquiry.enquiry_type,
            handling=enquiry.handling.code,
            priority=enquiry.priority,
            at=at,
            attachments=bool(enquiry.attachments),
            data_categories=frozenset(data_categories),
        )

    @property
    def all_categories(self) -> frozenset[DataCategory]:
        return self.data_categories | implied_categories(self.enquiry_type)


@dataclass(frozen=True, slots=True)
class Decision:
    """Allowed, or refused by ``rule`` with a one-line ``diagnosis`` (no case content)."""

    allowed: bool
    rule: PolicyRule | None
    diagnosis: str

    def raise_if_refused(self) -> None:
        if not self.allowed and self.rule is not None:
            raise PolicyRefused(self.rule.value, self.diagnosis)


def _refuse(rule: PolicyRule, diagnosis: str) -> Decision:
    return Decision(allowed=False, rule=rule, diagnosis=diagnosis)


def decide(directory: Directory, request: EnquiryRequest) -> Decision:
    """Apply the rules of the module docstring, in order."""
    agreement = directory.agreement(request.agreement_id)
    if agreement is None:
        return _refuse(
            PolicyRule.AGREEMENT_UNKNOWN,
            f"no agreement {request.agreement_id[:64]!r} in directory version {directory.version}",
        )
    for check in (_in_force, _parties, _scope, _contents):
        refusal = check(agreement, request)
        if refusal is not None:
            return refusal
    return Decision(allowed=True, rule=None, diagnosis=f"allowed under agreement {agreement.id}")


def _in_force(agreement: Agreement, request: EnquiryRequest) -> Decision | None:
    if agreement.in_force(request.at):
        return None
    return _refuse(
        PolicyRule.AGREEMENT_NOT_IN_FORCE,
        f"agreement {agreement.id} is not in force at {request.at.isoformat()}",
    )


def _parties(agreement: Agreement, request: EnquiryRequest) -> Decision | None:
    if request.sender not in agreement.parties:
        return _refuse(
            PolicyRule.SENDER_NOT_PARTY,
            f"{request.sender} is not a party to agreement {agreement.id}",
        )
    for recipient in request.recipients:
        if recipient not in agreement.parties:
            return _refuse(
                PolicyRule.RECIPIENT_NOT_PARTY,
                f"{recipient} is not a party to agreement {agreement.id}",
            )
    return None


def _scope(agreement: Agreement, request: EnquiryRequest) -> Decision | None:
    """Enquiry type, handling code and priority."""
    if request.enquiry_type not in agreement.enquiry_types:
        return _refuse(
            PolicyRule.ENQUIRY_TYPE_NOT_ALLOWED,
            f"agreement {agreement.id} does not allow {enquiry_type_name(request.enquiry_type)}",
        )
    if request.handling not in agreement.handling_codes:
        return _refuse(
            PolicyRule.HANDLING_CODE_NOT_ALLOWED,
            f"agreement {agreement.id} does not allow handling code {request.handling.name}",
        )
    # Priority values grow as urgency falls: URGENT 1, HIGH 2, NORMAL 3.
    if request.priority.value < agreement.max_priority.value:
        return _refuse(
            PolicyRule.PRIORITY_ABOVE_MAXIMUM,
            f"agreement {agreement.id} allows priority {priority_name(agreement.max_priority)}"
            f" at most, not {priority_name(request.priority)}",
        )
    return None


def _contents(agreement: Agreement, request: EnquiryRequest) -> Decision | None:
    """Attachments and data categories."""
    if request.attachments and not agreement.attachments_allowed:
        return _refuse(
            PolicyRule.ATTACHMENTS_NOT_ALLOWED,
            f"agreement {agreement.id} does not allow attachments",
        )
    for category in sorted(request.all_categories):
        if category not in agreement.data_categories:
            return _refuse(
                PolicyRule.DATA_CATEGORY_NOT_ALLOWED,
                f"agreement {agreement.id} does not allow {category.value} data",
            )
    return None


def require_allowed(directory: Directory, request: EnquiryRequest) -> Decision:
    """``decide``, raising PolicyRefused(rule, diagnosis) when refused."""
    decision = decide(directory, request)
    decision.raise_if_refused()
    return decision
