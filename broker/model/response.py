"""CaseResponse: a partner office answers a case enquiry; Evaluation: its 4x4 grading."""

from __future__ import annotations

from dataclasses import dataclass, field

from broker.errors import InvalidMessage
from broker.model import _checks as check
from broker.model import _convert as convert
from broker.model import _findings, _wire, limits
from broker.model.codes import InformationAccuracy, ResponseStatus, SourceReliability
from broker.model.entities import Attachment, HandlingCode, Officer, Organisation, Place, Vehicle
from broker.model.people import Person
from broker.pb import response_pb2


@dataclass(frozen=True, slots=True, kw_only=True)
class Evaluation:
    """The 4x4 evaluation of the information in a response."""

    source_reliability: SourceReliability
    information_accuracy: InformationAccuracy

    def __post_init__(self) -> None:
        check.enum_member("source_reliability", self.source_reliability, SourceReliability)
        check.enum_member("information_accuracy", self.information_accuracy, InformationAccuracy)

    @property
    def code(self) -> str:
        """The grading as officers write it: ``"B2"``."""
        return f"{self.source_reliability.name}{self.information_accuracy.value}"


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseResponse:
    """A validated ``liaison.v1.CaseResponse`` (field reference: docs/messages.md).

    Rules between fields: ``refusal_reason`` is set exactly for REFUSED; ``evaluation`` is set
    exactly for ANSWERED and PARTIALLY_ANSWERED, and only those carry persons, places, vehicles
    or organisations. Attachments may come with any status.
    """

    response_id: str  # lower-case UUID chosen by the responder
    enquiry_id: str  # the CaseEnquiry answered
    case_reference: str = field(default="", repr=False)  # the responder's own file reference
    responding_office: str
    responding_officer: Officer = field(repr=False)
    status: ResponseStatus
    refusal_reason: str = field(default="", repr=False)
    evaluation: Evaluation | None = None
    handling: HandlingCode
    language: str  # BCP 47 tag of text and refusal_reason
    text: str = field(repr=False)
    persons: tuple[Person, ...] = field(default=(), repr=False)
    places: tuple[Place, ...] = field(default=(), repr=False)
    vehicles: tuple[Vehicle, ...] = field(default=(), repr=False)
    organisations: tuple[Organisation, ...] = field(default=(), repr=False)
    attachments: tuple[Attachment, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        for name in _findings.FIELDS:
            check.set_tuple(self, name)
        check.uuid_id("response_id", self.response_id)
        check.uuid_id("enquiry_id", self.enquiry_id)
        check.text("case_reference", self.case_reference, limit=limits.MAX_REFERENCE_CHARS)
        check.office_id("responding_office", self.responding_office)
        check.instance("responding_officer", self.responding_officer, Officer)
        check.enum_member("status", self.status, ResponseStatus)
        refused = self.status is ResponseStatus.REFUSED
        check.text(
            "refusal_reason",
            self.refusal_reason,
            limit=limits.MAX_CONDITIONS_CHARS,
            required=refused,
            multiline=True,
        )
        if self.refusal_reason and not refused:
            raise InvalidMessage("refusal_reason", f"must be empty with status {self.status.name}")
        informs = self.status.gives_information
        if informs:
            check.instance("evaluation", self.evaluation, Evaluation)
        elif self.evaluation is not None:
            raise InvalidMessage("evaluation", f"must be absent with status {self.status.name}")
        check.instance("handling", self.handling, HandlingCode)
        check.language_tag("language", self.language)
        check.text(
            "text", self.text, limit=limits.MAX_FREE_TEXT_CHARS, required=True, multiline=True
        )
        _findings.check_findings(self.findings)
        if not informs:
            for name in ("persons", "places", "vehicles", "organisations"):
                if getattr(self, name):
                    raise InvalidMessage(name, f"must be empty with status {self.status.name}")

    @property
    def findings(self) -> _findings.Findings:
        """The entity lists (persons, places, vehicles, organisations, attachments)."""
        return _findings.Findings(
            self.persons, self.places, self.vehicles, self.organisations, self.attachments
        )

    def to_proto(self) -> response_pb2.CaseResponse:
        evaluation = self.evaluation
        msg = response_pb2.CaseResponse(
            response_id=self.response_id,
            enquiry_id=self.enquiry_id,
            case_reference=self.case_reference,
            responding_office=self.responding_office,
            responding_officer=convert.officer_to_pb(self.responding_officer),
            status=response_pb2.ResponseStatus.ValueType(self.status.value),
            refusal_reason=self.refusal_reason,
            evaluation=None
            if evaluation is None
            else response_pb2.Evaluation(
                source_reliability=response_pb2.SourceReliability.ValueType(
                    evaluation.source_reliability.value
                ),
                information_accuracy=response_pb2.InformationAccuracy.ValueType(
                    evaluation.information_accuracy.value
                ),
            ),
            handling=convert.handling_to_pb(self.handling),
            language=self.language,
            text=self.text,
        )
        _findings.findings_into_pb(self.findings, msg)
        return msg

    @classmethod
    def from_proto(cls, msg: response_pb2.CaseResponse) -> CaseResponse:
        for required in ("responding_officer", "handling"):
            if not msg.HasField(required):
                raise InvalidMessage(required, "is required")
        evaluation = None
        if msg.HasField("evaluation"):
            evaluation = convert.nested("evaluation", msg.evaluation, _evaluation_from_pb)
        found = _findings.findings_from_pb(msg)
        return cls(
            response_id=msg.response_id,
            enquiry_id=msg.enquiry_id,
            case_reference=msg.case_reference,
            responding_office=msg.responding_office,
            responding_officer=convert.nested(
                "responding_officer", msg.responding_officer, convert.officer_from_pb
            ),
            status=convert.enum_from_pb("status", msg.status, ResponseStatus),
            refusal_reason=msg.refusal_reason,
            evaluation=evaluation,
            handling=convert.nested("handling", msg.handling, convert.handling_from_pb),
            language=msg.language,
            text=msg.text,
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
    def from_bytes(cls, data: bytes) -> CaseResponse:
        return cls.from_proto(_wire.from_bytes(response_pb2.CaseResponse, data))

    def to_json(self) -> str:
        """The proto3 JSON mapping with proto field names, indented, non-ASCII kept as is."""
        return _wire.to_json(self.to_proto())

    @classmethod
    def from_json(cls, text: str) -> CaseResponse:
        return cls.from_proto(_wire.from_json(response_pb2.CaseResponse, text))


def _evaluation_from_pb(msg: response_pb2.Evaluation) -> Evaluation:
    return Evaluation(
        source_reliability=convert.enum_from_pb(
            "source_reliability", msg.source_reliability, SourceReliability
        ),
        information_accuracy=convert.enum_from_pb(
            "information_accuracy", msg.information_accuracy, InformationAccuracy
        ),
    )
