"""Typed, validated, frozen values for the liaison.v1 case messages.

CaseEnquiry, CaseResponse and Receipt wrap the generated protobuf classes (broker.pb): each checks
its invariants on construction and raises :class:`~broker.errors.InvalidMessage` with a dotted
field path (``persons[1].names[0].script``). Each converts to and from protobuf messages,
deterministic protobuf bytes and the proto3 JSON mapping (docs/messages.md). Pure: no I/O.
"""

from __future__ import annotations

from broker.model.codes import (
    DatePrecision,
    DocumentType,
    EnquiryType,
    Handling,
    InformationAccuracy,
    NameOrder,
    PersonRole,
    Priority,
    ReceiptStatus,
    ResponseStatus,
    Sex,
    SourceReliability,
)
from broker.model.enquiry import CaseEnquiry
from broker.model.entities import (
    Attachment,
    Coordinates,
    HandlingCode,
    Officer,
    Organisation,
    Place,
    Vehicle,
)
from broker.model.ids import new_id
from broker.model.people import Account, IdentityDocument, Name, PartialDate, Person
from broker.model.receipt import Receipt
from broker.model.response import CaseResponse, Evaluation

__all__ = [
    "Account",
    "Attachment",
    "CaseEnquiry",
    "CaseResponse",
    "Coordinates",
    "DatePrecision",
    "DocumentType",
    "EnquiryType",
    "Evaluation",
    "Handling",
    "HandlingCode",
    "IdentityDocument",
    "InformationAccuracy",
    "Name",
    "NameOrder",
    "Officer",
    "Organisation",
    "PartialDate",
    "Person",
    "PersonRole",
    "Place",
    "Priority",
    "Receipt",
    "ReceiptStatus",
    "ResponseStatus",
    "Sex",
    "SourceReliability",
    "Vehicle",
    "new_id",
]
