"""CaseEnquiry: one office asks one or more partner offices for help on a case."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from broker.errors import InvalidMessage
from broker.model import _checks as check
from broker.model import _convert as convert
from broker.model import _findings, _wire, limits
from broker.model.codes import EnquiryType, Priority
from broker.model.entities import Attachment, HandlingCode, Officer, Organisation, Place, Vehicle
from broker.model.people import Person
from broker.pb import enquiry_pb2


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseEnquiry:
    """A validated ``liaison.v1.CaseEnquiry`` (field reference: docs/messages.md).

    The repr shows ids and codes only; the summary, question, officer and entities are case
    content and stay out of it.
    """

    enquiry_id: str  # lower-case UUID chosen by the submitter (see broker.model.new_id)
    case_reference: str = field(repr=False)
    requesting_office: str
    requesting_officer: Officer = field(repr=False)
    recipient_offices: tuple[str, ...]
    enquiry_type: EnquiryType
    legal_basis: str  # agreement id, e.g. "MEKONG-2014"
    priority: Priority
    response_due: dt.datetime  # aware; stored in UTC
    handling: HandlingCode
    language: str  # BCP 47 tag of summary and question
    summary: str = field(repr=False)
    question: str = field(repr=False)
    persons: tuple[Person, ...] = field(default=(), repr=False)
    places: tuple[Place, ...] = field(default=(), repr=False)
    vehicles: tuple[Vehicle, ...] = field(default=(), repr=False)
    organisations: tuple[Organisation, ...] = field(default=(), repr=False)
    attachments: tuple[Attachment, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        for name in ("recipient_offices", *_findings.FIELDS):
            check.set_tuple(self, name)
        check.uuid_id("enquiry_id", self.enquiry_id)
        check.text(
            "case_reference", self.case_reference, limit=limits.MAX_REFERENCE_CHARS, required=True
        )
        check.office_id("requesting_office", self.requesting_office)
        check.instance("requesting_officer", self.requesting_officer, Officer)
        check.items(
            "recipient_offices", self.recipient_offices, str, limit=limits.MAX_RECIPIENTS, minimum=1
        )
        for index, office in enumerate(self.recipient_offices):
            where = f"recipient_offices[{index}]"
            check.office_id(where, office)
            if office == self.requesting_office:
                raise InvalidMessage(where, "is the requesting office itself")
        check.unique("recipient_offices", self.recipient_offices)
        check.enum_member("enquiry_type", self.enquiry_type, EnquiryType)
        check.pattern(
            "legal_basis",
            self.legal_basis,
            check.AGREEMENT_ID,
            "an agreement id",
            limits.MAX_ID_CHARS,
        )
        check.enum_member("priority", self.priority, Priority)
        object.__setattr__(self, "response_due", check.aware_utc("response_due", self.response_due))
        check.instance("handling", self.handling, HandlingCode)
        check.language_tag("language", self.language)
        for name in ("summary", "question"):
            text = getattr(self, name)
            check.text(name, text, limit=limits.MAX_FREE_TEXT_CHARS, required=True, multiline=True)
        _findings.check_findings(self.findings)

    @property
    def findings(self) -> _findings.Findings:
        """The entity lists (persons, places, vehicles, organisations, attachments)."""
        return _findings.Findings(
            self.persons, self.places, self.vehicles, self.organisations, self.attachments
        )

    def to_proto(self) -> enquiry_pb2.CaseEnquiry:
        msg = enquiry_pb2.CaseEnquiry(
            enquiry_id=self.enquiry_id,
            case_reference=self.case_reference,
            requesting_office=self.requesting_office,
            requesting_officer=convert.officer_to_pb(self.requesting_officer),
            recipient_offices=self.recipient_offices,
            enquiry_type=enquiry_pb2.EnquiryType.ValueType(self.enquiry_type.value),
            legal_basis=self.legal_basis,
            priority=enquiry_pb2.Priority.ValueType(self.priority.value),
            response_due=convert.timestamp_to_pb(self.response_due),
            handling=convert.handling_to_pb(self.handling),
            language=self.language,
            summary=self.summary,
            question=self.question,
        )
        _findings.findings_into_pb(self.findings, msg)
        return msg

    @classmethod
    def from_proto(cls, msg: enquiry_pb2.CaseEnquiry) -> CaseEnquiry:
        for required in ("requesting_officer", "response_due", "handling"):
            if not msg.HasField(required):
                raise InvalidMessage(required, "is required")
        found = _findings.findings_from_pb(msg)
        return cls(
            enquiry_id=msg.enquiry_id,
            case_reference=msg.case_reference,
            requesting_office=msg.requesting_office,
            requesting_officer=convert.nested(
                "requesting_officer", msg.requesting_officer, convert.officer_from_pb
            ),
            recipient_offices=tuple(msg.recipient_offices),
            enquiry_type=convert.enum_from_pb("enquiry_type", msg.enquiry_type, EnquiryType),
            legal_basis=msg.legal_basis,
            priority=convert.enum_from_pb("priority", msg.priority, Priority),
            response_due=convert.timestamp_from_pb("response_due", msg.response_due),
            handling=convert.nested("handling", msg.handling, convert.handling_from_pb),
            language=msg.language,
            summary=msg.summary,
            question=msg.question,
            persons=found.persons,
            places=found.places,
            vehicles=found.vehicles,
            organisations=found.organisations,
            attachments=found.attachments,
        )

    def to_bytes(self) -> bytes:
        """Deterministic protobuf encoding."""
        return _wire.to_bytes(self.to_proto())

    @classmethod
    def from_bytes(cls, data: bytes) -> CaseEnquiry:
        return cls.from_proto(_wire.from_bytes(enquiry_pb2.CaseEnquiry, data))

    def to_json(self) -> str:
        """The proto3 JSON mapping with proto field names, indented, non-ASCII kept as is."""
        return _wire.to_json(self.to_proto())

    @classmethod
    def from_json(cls, text: str) -> CaseEnquiry:
        return cls.from_proto(_wire.from_json(enquiry_pb2.CaseEnquiry, text))
