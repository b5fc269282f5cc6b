"""The validated UMF-inspired element tree -> a canonical message, with losses and warnings.

The schema has already checked shapes and code lists; this module checks what XSD 1.0 cannot
(the body matches the message type, links join persons to what they hold and use, a country code
agrees with its office id) and builds the canonical values, turning each InvalidMessage into an
AdapterInputError at the element that caused it. Partner elements the canonical model has no
place for are reported as losses, never dropped silently.
"""

from __future__ import annotations

import datetime as dt
import re

from lxml import etree  # type: ignore[import-untyped]

from adapters.base import AdapterInputError, Loss
from adapters.codes import zawgyi_probability
from adapters.umf.linking import owned_by
from adapters.umf.safe_xml import element_path
from adapters.umf.values import base64_content, built, clean, parse_datetime, partial_date
from adapters.umf.writing import EMAIL_PLATFORM, NAME_ORDERS, XML_LANG, q
from broker.errors import RejectReason
from broker.messages import Message
from broker.model import (
    Account,
    Attachment,
    CaseEnquiry,
    CaseResponse,
    Coordinates,
    DocumentType,
    EnquiryType,
    Evaluation,
    Handling,
    HandlingCode,
    IdentityDocument,
    InformationAccuracy,
    Name,
    Officer,
    Organisation,
    Person,
    PersonRole,
    Place,
    Priority,
    Receipt,
    ReceiptStatus,
    ResponseStatus,
    Sex,
    SourceReliability,
    Vehicle,
)

ZAWGYI_WARNING_AT = 0.95  # myanmartools probability above which Burmese text is flagged
_ORDERS = {text: order for order, text in NAME_ORDERS.items()}
_SEXES = {str(sex.iso5218): sex for sex in Sex}  # ISO/IEC 5218 digits
_HEX16 = re.compile(r"[0-9a-f]{32}")
# Header children each message type uses; any other one is reported as a loss.
_HEADER_USES = {
    "REQUEST": {"MessageId", "MessageType", "SenderCaseReference", "Sender", "Recipient",
                "Priority", "ResponseDeadline", "LegalBasis", "Purpose", "Handling"},
    "RESPONSE": {"MessageId", "MessageType", "SenderCaseReference", "InReplyTo", "Sender",
                 "Handling", "Evaluation"},
    "ACK": {"MessageType", "InReplyTo", "Created", "Sender"},
}  # fmt: skip
_MEANS = q("CommunicationMeans")
_MYANMAR = re.compile("[\u1000-\u109f]")  # only Burmese-script text can be Zawgyi
_BODIES = {"REQUEST": "Request", "RESPONSE": "Response", "ACK": "Acknowledgement"}


class Reader:
    """One decoding: the losses and warnings it collects along the way."""

    def __init__(self) -> None:
        self.losses: list[Loss] = []
        self.warnings: list[str] = []

    def message(self, root: etree._Element) -> Message:
        header = _child(root, "Header")
        kind = self.text(header, "MessageType")
        body = root.find(q(_BODIES[kind]))
        if body is None:
            raise AdapterInputError(
                element_path(header) + "/MessageType", "does not match the body"
            )
        for element in header:
            if etree.QName(element).localname not in _HEADER_USES[kind]:
                self._lose(element, f"a {kind} has no place for it in the canonical message")
        for element in root.iterchildren(q("Extension")):
            self._lose(element, "an extension this version does not map")
        if kind == "ACK":
            for tag in ("Entities", "Links", "Attachments"):
                for element in root.iterchildren(q(tag)):
                    self._lose(element, "a receipt carries no entities or attachments")
            return self._receipt(root, header, body)
        if kind == "REQUEST":
            return self._enquiry(root, header, body)
        return self._response(root, header, body)

    # ------------------------------------------------------------ messages

    def _enquiry(
        self, root: etree._Element, header: etree._Element, body: etree._Element
    ) -> CaseEnquiry:
        sender = _child(header, "Sender")
        handling = _child(header, "Handling")
        persons, places, vehicles, organisations = self._entities(root)
        return built(
            root,
            CaseEnquiry,
            enquiry_id=self.required(header, "MessageId"),
            case_reference=self.required(header, "SenderCaseReference"),
            requesting_office=self._office(sender),
            requesting_officer=self._officer(sender),
            recipient_offices=tuple(
                self._office(unit) for unit in header.iterchildren(q("Recipient"))
            ),
            enquiry_type=EnquiryType[self.required(header, "Purpose")],
            legal_basis=self.required(header, "LegalBasis"),
            priority=Priority[self.required(header, "Priority")],
            response_due=self._datetime(header, "ResponseDeadline"),
            handling=self._handling(handling),
            language=str(body.get(XML_LANG)),
            summary=self.text(body, "Summary"),
            question=self.text(body, "Question"),
            persons=persons,
            places=places,
            vehicles=vehicles,
            organisations=organisations,
            attachments=self._attachments(root),
        )

    def _response(
        self, root: etree._Element, header: etree._Element, body: etree._Element
    ) -> CaseResponse:
        sender = _child(header, "Sender")
        evaluation = None
        graded = header.find(q("Evaluation"))
        if graded is not None:
            evaluation = Evaluation(
                source_reliability=SourceReliability[self.text(graded, "SourceReliability")],
                information_accuracy=InformationAccuracy(
                    int(self.text(graded, "InformationAccuracy"))
                ),
            )
        persons, places, vehicles, organisations = self._entities(root)
        return built(
            root,
            CaseResponse,
            response_id=self.required(header, "MessageId"),
            enquiry_id=self.required(header, "InReplyTo"),
            case_reference=self.text(header, "SenderCaseReference"),
            responding_office=self._office(sender),
            responding_officer=self._officer(sender),
            status=ResponseStatus[self.text(body, "Status")],
            refusal_reason=self.text(body, "RefusalReason"),
            evaluation=evaluation,
            handling=self._handling(_child(header, "Handling")),
            language=str(body.get(XML_LANG)),
            text=self.text(body, "Text"),
            persons=persons,
            places=places,
            vehicles=vehicles,
            organisations=organisations,
            attachments=self._attachments(root),
        )

    def _receipt(
        self, root: etree._Element, header: etree._Element, body: etree._Element
    ) -> Receipt:
        acknowledged = self.required(header, "InReplyTo")
        if not _HEX16.fullmatch(acknowledged):
            raise AdapterInputError(
                element_path(header) + "/InReplyTo", "an ACK names a 32-hex-digit envelope id"
            )
        reason = None
        code = self.text(body, "RejectReason")
        if code:
            try:
                reason = RejectReason(code)
            except ValueError:
                raise AdapterInputError(
                    element_path(body) + "/RejectReason", "is not a known reject code"
                ) from None
        return built(
            root,
            Receipt,
            message_id=bytes.fromhex(acknowledged),
            envelope_digest=bytes.fromhex(self.text(body, "EnvelopeDigest")),
            status=ReceiptStatus[self.text(body, "Status")],
            reject_reason=reason,
            receiving_office=self._office(_child(header, "Sender")),
            received_at=self._datetime(header, "Created"),
        )

    # ------------------------------------------------------------ header parts

    def _office(self, unit: etree._Element) -> str:
        office = self.text(unit, "OfficeId")
        if self.text(unit, "Country") != office[:2]:
            raise AdapterInputError(
                element_path(unit) + "/Country", "is not the country its OfficeId starts with"
            )
        return office

    def _officer(self, unit: etree._Element) -> Officer:
        element = unit.find(q("Officer"))
        if element is None:
            raise AdapterInputError(element_path(unit) + "/Officer", "is required")
        return built(
            element,
            Officer,
            officer_id=self.text(element, "OfficerId"),
            name=self.text(element, "Name"),
            rank=self.text(element, "Rank"),
            phone=self.text(element, "Phone"),
            email=self.text(element, "Email"),
        )

    def _handling(self, element: etree._Element) -> HandlingCode:
        return built(
            element,
            HandlingCode,
            code=Handling[self.text(element, "Code")],
            conditions=self.text(element, "RestrictionText"),
        )

    def _datetime(self, parent: etree._Element, tag: str) -> dt.datetime:
        return parse_datetime(self.required(parent, tag), f"{element_path(parent)}/{tag}")

    # ------------------------------------------------------------ entities

    def _entities(
        self, root: etree._Element
    ) -> tuple[
        tuple[Person, ...], tuple[Place, ...], tuple[Vehicle, ...], tuple[Organisation, ...]
    ]:
        entities = root.find(q("Entities"))
        if entities is None:
            if root.find(q("Links")) is not None:
                raise AdapterInputError("/Message/Links", "links need entities")
            return (), (), (), ()
        owned = owned_by(root, entities)
        persons = tuple(
            self._person(element, owned.get(str(element.get("id")), []))
            for element in entities.iterchildren(q("Person"))
        )
        places = tuple(self._place(e) for e in entities.iterchildren(q("Location")))
        vehicles = tuple(
            built(
                e,
                Vehicle,
                kind=self.text(e, "Type"),
                registration=self.text(e, "RegistrationNumber"),
                country=self.text(e, "RegistrationCountry"),
                make_model=self.text(e, "MakeModel"),
                colour=self.text(e, "Colour"),
            )
            for e in entities.iterchildren(q("Vehicle"))
        )
        organisations = tuple(
            built(
                e,
                Organisation,
                name=self.text(e, "Name"),
                kind=self.text(e, "Type"),
                country=self.text(e, "Country"),
                address=self.text(e, "Address"),
            )
            for e in entities.iterchildren(q("Organisation"))
        )
        return persons, places, vehicles, organisations

    def _person(self, element: etree._Element, owned: list[etree._Element]) -> Person:
        names: list[Name] = []
        aliases: list[Name] = []
        positions: dict[str, tuple[str, int]] = {}  # a transliteration may come before its original
        counts = {"NAME": 0, "ALIAS": 0}
        for name in element.iterchildren(q("Name")):
            kind = str(name.get("type"))
            positions[str(name.get("id"))] = (kind, counts[kind])
            counts[kind] += 1
        for name in element.iterchildren(q("Name")):
            group = names if name.get("type") == "NAME" else aliases
            group.append(self._name(name, positions))
        documents = [self._document(e) for e in owned if e.tag == q("Document")]
        phones: list[str] = []
        accounts: list[Account] = []
        parts = {f"documents[{i}]": e for i, e in enumerate(e for e in owned if e.tag != _MEANS)}
        for means in (e for e in owned if e.tag == _MEANS):
            kind, platform = self.text(means, "Type"), self.text(means, "Platform")
            if (kind == "SOCIAL") != bool(platform):
                raise AdapterInputError(
                    element_path(means) + "/Platform", "is required for SOCIAL and only there"
                )
            value = self.text(means, "Value")
            if kind == "PHONE":
                parts[f"phone_numbers[{len(phones)}]"] = means.find(q("Value"))
                phones.append(value)
            else:
                accounts.append(
                    built(means, Account, platform=platform or EMAIL_PLATFORM, handle=value)
                )
        for kind, field in (("NAME", "names"), ("ALIAS", "aliases")):
            found = (e for e in element.iterchildren(q("Name")) if e.get("type") == kind)
            parts.update({f"{field}[{i}]": e for i, e in enumerate(found)})
        born = element.find(q("DateOfBirth"))
        return built(
            element,
            Person,
            parts=parts,
            role=PersonRole[str(element.get("role"))],
            names=tuple(names),
            aliases=tuple(aliases),
            date_of_birth=None if born is None else partial_date(born),
            sex=_SEXES[self.text(element, "Sex")],
            nationalities=tuple(clean(e.text) for e in element.iterchildren(q("Nationality"))),
            documents=tuple(documents),
            phone_numbers=tuple(phones),
            accounts=tuple(accounts),
            dna_reference=self.text(element, "DnaReference"),
            description=self.text(element, "Description"),
        )

    def _name(self, element: etree._Element, positions: dict[str, tuple[str, int]]) -> Name:
        original = None
        target = element.get("transliterationOf")
        if target is not None:
            kind, index = positions.get(target, ("", -1))
            if kind != element.get("type"):
                raise AdapterInputError(
                    element_path(element) + "/@transliterationOf",
                    "must point at a name of the same kind (NAME or ALIAS) of the same person",
                )
            original = index
        full = self.text(element, "FullNameAsWritten")
        return built(
            element,
            Name,
            script=str(element.get("script")),
            language=str(element.get(XML_LANG)),
            order=_ORDERS[str(element.get("nameOrder"))],
            full_name=full,
            family_name=self.text(element, "FamilyName"),
            second_family_name=self.text(element, "SecondFamilyName"),
            given_names=self.text(element, "GivenName"),
            transliteration_of=original,
        )

    def _document(self, element: etree._Element) -> IdentityDocument:
        expiry = element.find(q("ExpiryDate"))
        return built(
            element,
            IdentityDocument,
            document_type=DocumentType[self.text(element, "Type")],
            number=self.text(element, "Number"),
            issuing_country=self.text(element, "IssuingCountry"),
            expiry=None if expiry is None else partial_date(expiry),
        )

    def _place(self, element: etree._Element) -> Place:
        province = self.text(element, "Province")
        subdivision = element.find(q("Subdivision"))
        if subdivision is not None and province:
            self._lose(subdivision, "the canonical place keeps the Province text, not the code")
        elif subdivision is not None:
            province = clean(subdivision.text)
        coordinates = None
        geo = element.find(q("Geo"))
        if geo is not None:
            coordinates = built(
                geo,
                Coordinates,
                latitude=float(self.text(geo, "Latitude")),
                longitude=float(self.text(geo, "Longitude")),
            )
        return built(
            element,
            Place,
            label=self.text(element, "Label"),
            country=self.text(element, "Country"),
            province=province,
            district=self.text(element, "District"),
            village=self.text(element, "Village"),
            address=self.text(element, "Address"),
            coordinates=coordinates,
        )

    def _attachments(self, root: etree._Element) -> tuple[Attachment, ...]:
        found: list[Attachment] = []
        for element in root.iterfind(f"{q('Attachments')}/{q('Attachment')}"):
            content = base64_content(element.find(q("Content")))
            found.append(
                built(
                    element,
                    Attachment,
                    name=self.text(element, "FileName"),
                    media_type=self.text(element, "MediaType"),
                    content=content,
                    sha256=bytes.fromhex(self.text(element, "Sha256")),
                )
            )
        return tuple(found)

    # ------------------------------------------------------------ text

    def text(self, parent: etree._Element, tag: str) -> str:
        """The NFC text of an optional child element; "" when it is absent."""
        child = parent.find(q(tag))
        return "" if child is None else self._normalised(child)

    def required(self, parent: etree._Element, tag: str) -> str:
        child = parent.find(q(tag))
        if child is None:
            raise AdapterInputError(f"{element_path(parent)}/{tag}", "is required here")
        return self._normalised(child)

    def _normalised(self, element: etree._Element) -> str:
        """The element's text in NFC (decomposed Vietnamese is composed), with a warning."""
        raw = element.text or ""
        text = clean(raw)
        if text != raw:
            self.warnings.append(f"{element_path(element)}: text normalised to Unicode NFC")
        if _MYANMAR.search(text) and zawgyi_probability(text) > ZAWGYI_WARNING_AT:
            self.warnings.append(f"{element_path(element)}: looks Zawgyi-encoded, not converted")
        return text

    def _lose(self, element: etree._Element, reason: str) -> None:
        self.losses.append(Loss(field=element_path(element), reason=reason))


def _child(parent: etree._Element, tag: str) -> etree._Element:
    child = parent.find(q(tag))
    if child is None:  # pragma: no cover - the schema requires it
        raise AdapterInputError(f"{element_path(parent)}/{tag}", "is required here")
    return child
