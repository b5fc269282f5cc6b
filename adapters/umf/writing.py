"""Canonical messages -> the UMF-inspired element tree (schema/liaison-umf-1.xsd).

Documents and communication means are entities of their own, tied to their person by a ``Link``
(HOLDER, USER), as in UMF's entity/link model; a person's role in the case is its ``role``
attribute, since a canonical person has exactly one. Empty canonical strings are left out.
"""

from __future__ import annotations

import base64
import datetime as dt

from lxml import etree  # type: ignore[import-untyped]

from broker.errors import InputError
from broker.messages import Message
from broker.model import (
    Account,
    CaseEnquiry,
    CaseResponse,
    HandlingCode,
    IdentityDocument,
    Name,
    NameOrder,
    Officer,
    Person,
    Place,
    Receipt,
)

NS = "urn:liaison:partner:umf:1"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
SCHEMA_VERSION = "1"
# An attachment's content is cut into parts of this many bytes (1 MiB of base64 each), so no text
# node comes near libxml2's 10 MB limit for documents parsed without huge_tree.
CONTENT_PART_BYTES = 786_432
EMAIL_PLATFORM = "email"  # a canonical Account on this platform is UMF's EMAIL means
NAME_ORDERS = {NameOrder.FAMILY_FIRST: "FAMILY_FIRST", NameOrder.GIVEN_FIRST: "GIVEN_FIRST",
               NameOrder.SINGLE_NAME: "SINGLE"}  # fmt: skip


def q(tag: str) -> str:
    """The qualified name of one of our elements."""
    return f"{{{NS}}}{tag}"


def to_tree(message: Message) -> etree._Element:
    """The ``Message`` element for ``message``; InputError if a text holds a character XML 1.0
    cannot carry (U+FFFE, U+FFFF)."""
    root = etree.Element(q("Message"), nsmap={None: NS})
    root.set("version", SCHEMA_VERSION)
    if isinstance(message, CaseEnquiry):
        _enquiry(root, message)
    elif isinstance(message, CaseResponse):
        _response(root, message)
    elif isinstance(message, Receipt):
        _receipt(root, message)
    else:
        raise InputError(f"{type(message).__name__} is not a message the umf adapter writes")
    return root


def format_datetime(moment: dt.datetime) -> str:
    """xs:dateTime in UTC with ``Z``; the year always has four digits (strftime may not)."""
    utc = moment.astimezone(dt.UTC)
    text = (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}"
        f"T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}"
    )
    return text + (f".{utc.microsecond:06d}" if utc.microsecond else "") + "Z"


# ---------------------------------------------------------------- messages


def _enquiry(root: etree._Element, message: CaseEnquiry) -> None:
    header = _sub(root, "Header")
    _add(header, "MessageId", message.enquiry_id)
    _add(header, "MessageType", "REQUEST")
    _add(header, "SenderCaseReference", message.case_reference, "case_reference")
    _unit(header, "Sender", message.requesting_office, message.requesting_officer, "requesting")
    for office in message.recipient_offices:
        _unit(header, "Recipient", office, None, "")
    _add(header, "Priority", message.priority.name)
    _add(header, "ResponseDeadline", format_datetime(message.response_due))
    _add(header, "LegalBasis", message.legal_basis)
    _add(header, "Purpose", message.enquiry_type.name)
    _handling(header, message.handling)
    body = _sub(root, "Request")
    body.set(XML_LANG, message.language)
    _add(body, "Summary", message.summary, "summary", required=True)
    _add(body, "Question", message.question, "question", required=True)
    _findings(root, message)


def _response(root: etree._Element, message: CaseResponse) -> None:
    header = _sub(root, "Header")
    _add(header, "MessageId", message.response_id)
    _add(header, "MessageType", "RESPONSE")
    _add(header, "SenderCaseReference", message.case_reference, "case_reference")
    _add(header, "InReplyTo", message.enquiry_id)
    _unit(header, "Sender", message.responding_office, message.responding_officer, "responding")
    _handling(header, message.handling)
    if message.evaluation is not None:
        evaluation = _sub(header, "Evaluation")
        _add(evaluation, "SourceReliability", message.evaluation.source_reliability.name)
        _add(evaluation, "InformationAccuracy", str(message.evaluation.information_accuracy.value))
    body = _sub(root, "Response")
    body.set(XML_LANG, message.language)
    _add(body, "Status", message.status.name)
    _add(body, "RefusalReason", message.refusal_reason, "refusal_reason")
    _add(body, "Text", message.text, "text", required=True)
    _findings(root, message)


def _receipt(root: etree._Element, message: Receipt) -> None:
    header = _sub(root, "Header")
    _add(header, "MessageType", "ACK")
    _add(header, "InReplyTo", message.message_id.hex())
    _add(header, "Created", format_datetime(message.received_at))
    _unit(header, "Sender", message.receiving_office, None, "")
    body = _sub(root, "Acknowledgement")
    _add(body, "EnvelopeDigest", message.envelope_digest.hex())
    _add(body, "Status", message.status.name)
    if message.reject_reason is not None:
        _add(body, "RejectReason", message.reject_reason.value)


def _unit(
    header: etree._Element, tag: str, office: str, officer: Officer | None, side: str
) -> None:
    unit = _sub(header, tag)
    _add(unit, "OfficeId", office)
    _add(unit, "Country", office[:2])  # an office id starts with its country's alpha-2 code
    if officer is None:
        return
    where = f"{side}_officer"
    element = _sub(unit, "Officer")
    _add(element, "OfficerId", officer.officer_id, f"{where}.officer_id")
    _add(element, "Name", officer.name, f"{where}.name")
    _add(element, "Rank", officer.rank, f"{where}.rank")
    _add(element, "Phone", officer.phone)
    _add(element, "Email", officer.email, f"{where}.email")


def _handling(header: etree._Element, handling: HandlingCode) -> None:
    element = _sub(header, "Handling")
    _add(element, "Code", handling.code.name)
    _add(element, "RestrictionText", handling.conditions, "handling.conditions")


# ---------------------------------------------------------------- entities


def _findings(root: etree._Element, message: CaseEnquiry | CaseResponse) -> None:
    entities = etree.Element(q("Entities"))
    links: list[tuple[str, str, str]] = []
    documents: list[etree._Element] = []
    means: list[etree._Element] = []
    for index, person in enumerate(message.persons, 1):
        pid = f"P{index}"
        entities.append(_person(pid, person, f"persons[{index - 1}]"))
        for number, document in enumerate(person.documents, 1):
            documents.append(_document(f"{pid}.D{number}", document, f"persons[{index - 1}]"))
            links.append((pid, f"{pid}.D{number}", "HOLDER"))
        contacts: list[tuple[str, str, str]] = [
            ("PHONE", "", phone) for phone in person.phone_numbers
        ]
        contacts += [_account(account) for account in person.accounts]
        for number, (kind, platform, value) in enumerate(contacts, 1):
            element = etree.Element(q("CommunicationMeans"), id=f"{pid}.C{number}")
            _add(element, "Type", kind)
            _add(element, "Platform", platform)
            _add(element, "Value", value, f"persons[{index - 1}].accounts")
            means.append(element)
            links.append((pid, f"{pid}.C{number}", "USER"))
    entities.extend(documents)
    entities.extend(means)
    for index, place in enumerate(message.places, 1):
        entities.append(_location(f"L{index}", place, f"places[{index - 1}]"))
    for index, organisation in enumerate(message.organisations, 1):
        element = etree.SubElement(entities, q("Organisation"), id=f"O{index}")
        where = f"organisations[{index - 1}]"
        _add(element, "Name", organisation.name, f"{where}.name")
        _add(element, "Type", organisation.kind, f"{where}.kind")
        _add(element, "Country", organisation.country)
        _add(element, "Address", organisation.address, f"{where}.address")
    for index, vehicle in enumerate(message.vehicles, 1):
        element = etree.SubElement(entities, q("Vehicle"), id=f"V{index}")
        where = f"vehicles[{index - 1}]"
        _add(element, "Type", vehicle.kind, f"{where}.kind")
        _add(element, "RegistrationNumber", vehicle.registration, f"{where}.registration")
        _add(element, "RegistrationCountry", vehicle.country)
        _add(element, "MakeModel", vehicle.make_model, f"{where}.make_model")
        _add(element, "Colour", vehicle.colour, f"{where}.colour")
    if len(entities):
        root.append(entities)
    if links:
        element = _sub(root, "Links")
        for source, target, role in links:
            etree.SubElement(element, q("Link"), {"from": source, "to": target, "role": role})
    if message.attachments:
        element = _sub(root, "Attachments")
        for attachment in message.attachments:
            item = _sub(element, "Attachment")
            _add(item, "FileName", attachment.name, "attachments.name")
            _add(item, "MediaType", attachment.media_type)
            _add(item, "Sha256", attachment.sha256.hex())
            content = _sub(item, "Content")
            data = attachment.content
            for start in range(0, len(data), CONTENT_PART_BYTES):
                chunk = data[start : start + CONTENT_PART_BYTES]
                _add(content, "Part", base64.b64encode(chunk).decode("ascii"))


def _person(pid: str, person: Person, where: str) -> etree._Element:
    element = etree.Element(q("Person"), id=pid, role=person.role.name)
    for kind, letter, names in (("NAME", "N", person.names), ("ALIAS", "A", person.aliases)):
        for number, name in enumerate(names, 1):
            _name(element, f"{pid}.{letter}{number}", kind, name, f"{where}.names")
    if person.date_of_birth is not None:
        _add(element, "DateOfBirth", str(person.date_of_birth))
    _add(element, "Sex", str(person.sex.iso5218))
    for code in person.nationalities:
        _add(element, "Nationality", code)
    _add(element, "DnaReference", person.dna_reference)
    _add(element, "Description", person.description, f"{where}.description")
    return element


def _name(parent: etree._Element, nid: str, kind: str, name: Name, where: str) -> None:
    prefix = nid.rstrip("0123456789")  # "P1.N" of "P1.N2": the sibling ids share it
    element = _sub(parent, "Name")
    element.set("id", nid)
    element.set("type", kind)
    element.set("script", name.script)
    element.set(XML_LANG, name.language)
    element.set("nameOrder", NAME_ORDERS[name.order])
    if name.transliteration_of is not None:
        element.set("transliterationOf", f"{prefix}{name.transliteration_of + 1}")
    _add(element, "FamilyName", name.family_name, where)
    _add(element, "SecondFamilyName", name.second_family_name, where)
    _add(element, "GivenName", name.given_names, where)
    _add(element, "FullNameAsWritten", name.full_name, where, required=True)


def _document(did: str, document: IdentityDocument, where: str) -> etree._Element:
    element = etree.Element(q("Document"), id=did)
    _add(element, "Type", document.document_type.name)
    _add(element, "Number", document.number, f"{where}.documents")
    _add(element, "IssuingCountry", document.issuing_country)
    if document.expiry is not None:
        _add(element, "ExpiryDate", str(document.expiry))
    return element


def _account(account: Account) -> tuple[str, str, str]:
    if account.platform == EMAIL_PLATFORM:
        return ("EMAIL", "", account.handle)
    return ("SOCIAL", account.platform, account.handle)


def _location(lid: str, place: Place, where: str) -> etree._Element:
    element = etree.Element(q("Location"), id=lid)
    _add(element, "Label", place.label, f"{where}.label")
    _add(element, "Country", place.country)
    _add(element, "Province", place.province, f"{where}.province")
    _add(element, "District", place.district, f"{where}.district")
    _add(element, "Village", place.village, f"{where}.village")
    _add(element, "Address", place.address, f"{where}.address")
    if place.coordinates is not None:
        geo = _sub(element, "Geo")
        # repr() is the shortest text that reads back as the same float, and valid xs:double
        _add(geo, "Latitude", repr(float(place.coordinates.latitude)))
        _add(geo, "Longitude", repr(float(place.coordinates.longitude)))
    return element


# ---------------------------------------------------------------- elements


def _sub(parent: etree._Element, tag: str) -> etree._Element:
    return etree.SubElement(parent, q(tag))


def _add(
    parent: etree._Element, tag: str, value: str, where: str = "", *, required: bool = False
) -> None:
    """A child element holding ``value``; nothing when the value is empty and not required."""
    if not value and not required:
        return
    element = _sub(parent, tag)
    try:
        element.text = value
    except ValueError:  # lxml refuses characters XML 1.0 has no place for
        parent.remove(element)
        raise InputError(
            f"{where or tag}: holds a character that XML 1.0 cannot carry (U+FFFE, U+FFFF)"
        ) from None
