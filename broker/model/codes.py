"""Python enums mirroring the liaison.v1 proto enums; a member's value is its proto number.

The proto zero values (``*_UNSPECIFIED``) have no member here: a value object cannot hold one,
and decoding a message that carries one (or a number this version does not know) is an
:class:`~broker.errors.InvalidMessage`.
"""

from __future__ import annotations

import enum


class PersonRole(enum.Enum):
    """The part a person plays in the case (``liaison.v1.PersonRole``)."""

    VICTIM = 1
    SUSPECT = 2
    WITNESS = 3
    MISSING_CHILD = 4
    BUYER = 5
    FACILITATOR = 6


class NameOrder(enum.Enum):
    """How the parts of a name are ordered in its full form (``liaison.v1.NameOrder``)."""

    FAMILY_FIRST = 1
    GIVEN_FIRST = 2
    SINGLE_NAME = 3


class DatePrecision(enum.Enum):
    """How much of a :class:`~broker.model.PartialDate` is known."""

    YEAR = 1
    YEAR_MONTH = 2
    DAY = 3


class Sex(enum.Enum):
    """Sex; ``iso5218`` gives the ISO/IEC 5218 code (``NOT_KNOWN`` is 0 there, 3 on the wire)."""

    MALE = 1
    FEMALE = 2
    NOT_KNOWN = 3
    NOT_APPLICABLE = 9

    @property
    def iso5218(self) -> int:
        return 0 if self is Sex.NOT_KNOWN else self.value


class DocumentType(enum.Enum):
    """The kind of an identity document (``liaison.v1.DocumentType``)."""

    PASSPORT = 1
    NATIONAL_ID = 2
    RESIDENCE_PERMIT = 3
    VISA = 4
    OTHER = 5


class Handling(enum.Enum):
    """Europol-style handling codes (``liaison.v1.Handling``)."""

    H0 = 1  # law-enforcement use only
    H1 = 2  # not for judicial proceedings without the owner's permission
    H2 = 3  # no onward dissemination without the owner's permission
    H3 = 4  # other restrictions, stated as free text


class EnquiryType(enum.Enum):
    """What an enquiry asks for (``liaison.v1.EnquiryType``)."""

    IDENTITY_CHECK = 1
    CRIMINAL_RECORD = 2
    LOCATION_TRACE = 3
    MISSING_CHILD_ALERT = 4
    VICTIM_IDENTIFICATION = 5
    DNA_REFERENCE_MATCH = 6
    COMMUNICATIONS_DATA = 7
    FINANCIAL_CHECK = 8
    TRAVEL_DOCUMENT_CHECK = 9
    JOINT_INVESTIGATION = 10


class Priority(enum.Enum):
    """How fast an answer is needed (``liaison.v1.Priority``)."""

    URGENT = 1  # a life or a child is at risk
    HIGH = 2
    NORMAL = 3


class ResponseStatus(enum.Enum):
    """The outcome of an enquiry (``liaison.v1.ResponseStatus``)."""

    ANSWERED = 1
    PARTIALLY_ANSWERED = 2
    NO_RECORD = 3
    REFUSED = 4
    NEEDS_CLARIFICATION = 5

    @property
    def gives_information(self) -> bool:
        """True for the statuses that carry findings and need an evaluation."""
        return self in (ResponseStatus.ANSWERED, ResponseStatus.PARTIALLY_ANSWERED)


class SourceReliability(enum.Enum):
    """4x4 evaluation: reliability of the source (``liaison.v1.SourceReliability``)."""

    A = 1  # no doubt of authenticity, trustworthiness and competence
    B = 2  # has in most instances proved reliable
    C = 3  # has in most instances proved unreliable
    X = 4  # cannot be assessed


class InformationAccuracy(enum.Enum):
    """4x4 evaluation: accuracy of the information (``liaison.v1.InformationAccuracy``)."""

    ONE = 1  # accuracy not in doubt
    TWO = 2  # known personally to the source, not to the officer passing it on
    THREE = 3  # not known personally to the source, corroborated
    FOUR = 4  # not known personally to the source, cannot be corroborated


class ReceiptStatus(enum.Enum):
    """What happened to an acknowledged envelope (``liaison.v1.ReceiptStatus``)."""

    DELIVERED = 1
    ACCEPTED = 2
    REJECTED = 3
