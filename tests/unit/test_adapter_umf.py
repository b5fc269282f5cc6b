"""The umf adapter: golden files, the XSD, links, losses, and errors that name the element."""

from __future__ import annotations

import datetime as dt
import hashlib
import unicodedata
from dataclasses import replace
from pathlib import Path

import pytest
from lxml import etree  # type: ignore[import-untyped]

from adapters.base import AdapterInputError, Codec
from adapters.umf import CODEC, NS
from adapters.umf.safe_xml import schema
from broker.errors import InputError, RejectReason
from broker.messages import message_from_json
from broker.model import (
    Attachment,
    CaseEnquiry,
    CaseResponse,
    Coordinates,
    DatePrecision,
    Place,
    Receipt,
    ReceiptStatus,
    Sex,
)

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "adapters" / "umf"
EXAMPLES = sorted((ROOT / "docs" / "examples").glob("*.json"))


def example(name: str) -> CaseEnquiry | CaseResponse:
    message = message_from_json((ROOT / "docs" / "examples" / name).read_text(encoding="utf-8"))
    assert isinstance(message, CaseEnquiry | CaseResponse)
    return message


def golden(name: str) -> bytes:
    return (PACKAGE / "examples" / name).read_bytes()


def refused(data: bytes) -> AdapterInputError:
    with pytest.raises(AdapterInputError) as caught:
        CODEC.decode(data)
    return caught.value


def identity_check() -> CaseEnquiry:
    message = example("identity-check.json")
    assert isinstance(message, CaseEnquiry)
    return message


# ---------------------------------------------------------------- golden files


@pytest.mark.parametrize("source", EXAMPLES, ids=lambda p: p.stem)
def test_golden_files_are_what_the_encoder_writes(source: Path) -> None:
    message = message_from_json(source.read_text(encoding="utf-8"))
    encoded = CODEC.encode(message)
    assert encoded.data == golden(f"{source.stem}.xml")
    assert (encoded.media_type, encoded.suffix, encoded.losses) == ("application/xml", ".xml", ())


@pytest.mark.parametrize("source", EXAMPLES, ids=lambda p: p.stem)
def test_golden_files_are_schema_valid_and_decode_to_the_example(source: Path) -> None:
    data = golden(f"{source.stem}.xml")
    assert schema().validate(etree.fromstring(data))
    decoded = CODEC.decode(data)
    assert decoded.message == message_from_json(source.read_text(encoding="utf-8"))
    assert (decoded.losses, decoded.warnings) == ((), ())


def test_the_yunnan_enquiry_reaches_a_spanish_office_as_umf_xml() -> None:
    tree = etree.fromstring(golden("identity-check.xml"))
    ns = {"u": NS}
    assert tree.findtext("u:Header/u:Sender/u:OfficeId", namespaces=ns) == "CN-MPS-OCT"
    assert tree.findtext("u:Header/u:Recipient/u:OfficeId", namespaces=ns) == "ES-PN-UCRIF"
    assert tree.findtext("u:Header/u:Recipient/u:Country", namespaces=ns) == "ES"
    assert tree.findtext("u:Header/u:MessageType", namespaces=ns) == "REQUEST"
    links = tree.findall("u:Links/u:Link", namespaces=ns)
    assert {(link.get("from"), link.get("role")) for link in links} == {
        ("P1", "HOLDER"),
        ("P1", "USER"),
    }


def test_the_missing_child_alert_keeps_name_order_and_transliteration_links() -> None:
    tree = etree.fromstring(golden("missing-child-alert.xml"))
    names = tree.findall(f".//{{{NS}}}Person/{{{NS}}}Name")
    assert names, "the alert names persons"
    assert all(name.get("nameOrder") in {"FAMILY_FIRST", "GIVEN_FIRST", "SINGLE"} for name in names)
    ids = {name.get("id") for name in names}
    assert all(n.get("transliterationOf") in ids for n in names if n.get("transliterationOf"))


def test_the_codec_satisfies_the_protocol_and_has_one_form() -> None:
    assert isinstance(CODEC, Codec)
    assert (CODEC.name, CODEC.suffixes) == ("umf", (".xml",))
    with pytest.raises(InputError):
        CODEC.encode(identity_check(), variant="compact")


# ---------------------------------------------------------------- values that need care


def test_receipts_round_trip_as_ack() -> None:
    receipt = Receipt(
        message_id=bytes(range(16)),
        envelope_digest=hashlib.sha256(b"envelope").digest(),
        status=ReceiptStatus.REJECTED,
        reject_reason=RejectReason.REPLAY,
        receiving_office="ES-PN-UCRIF",
        received_at=dt.datetime(2025, 3, 9, 18, 5, 7, 120, tzinfo=dt.UTC),
    )
    data = CODEC.encode(receipt).data
    assert b"<MessageType>ACK</MessageType>" in data
    assert b"<Created>2025-03-09T18:05:07.000120Z</Created>" in data
    assert CODEC.decode(data).message == receipt


def test_attachments_are_embedded_in_parts_and_come_back_whole() -> None:
    content = bytes(range(256)) * 4_000  # 1,024,000 bytes: two parts
    attachment = Attachment.of("passport page.jpg", "image/jpeg", content)
    message = replace(identity_check(), attachments=(attachment,))
    data = CODEC.encode(message).data
    assert data.count(b"<Part>") == 2
    assert CODEC.decode(data).message == message


def test_an_attachment_whose_digest_does_not_match_is_refused_at_its_element() -> None:
    attachment = Attachment.of("note.txt", "text/plain", b"hello")
    data = CODEC.encode(replace(identity_check(), attachments=(attachment,))).data
    data = data.replace(attachment.sha256.hex().encode(), b"0" * 64)
    error = refused(data)
    assert error.where == "/Message/Attachments/Attachment (sha256)"


def test_carriage_returns_tabs_and_coordinates_survive() -> None:
    place = Place(
        label="pier",
        country="LAO",
        address="line one\r\nline two\rthree\tend ",
        coordinates=Coordinates(latitude=21.1234567890123, longitude=-0.0),
    )
    message = replace(identity_check(), places=(place,), summary="a\r\nb\r c")
    data = CODEC.encode(message).data
    assert b"&#13;" in data
    assert CODEC.decode(data).message == message


@pytest.mark.parametrize(
    ("text", "precision"),
    [("1990", DatePrecision.YEAR), ("1990-05", DatePrecision.YEAR_MONTH),
     ("1990-05-17", DatePrecision.DAY)],
)  # fmt: skip
def test_partial_dates_of_birth_use_the_xsd_union(text: str, precision: DatePrecision) -> None:
    data = golden("identity-check.xml").replace(b"1979-06", text.encode())
    person = CODEC.decode(data).message.persons[0]  # type: ignore[union-attr]
    assert person.date_of_birth is not None
    assert (str(person.date_of_birth), person.date_of_birth.precision) == (text, precision)


@pytest.mark.parametrize("text", ["1990-13", "90", "1990-02-30", "1990-05-17T00:00:00"])
def test_impossible_dates_of_birth_are_refused_by_the_schema(text: str) -> None:
    error = refused(golden("identity-check.xml").replace(b"1979-06", text.encode()))
    assert error.where == "/Message/Entities/Person/DateOfBirth"
    assert text not in str(error)  # messages never quote content


def test_a_date_with_a_time_zone_is_refused_by_the_reader() -> None:
    error = refused(golden("identity-check.xml").replace(b"1979-06", b"1979-06Z"))
    assert error.where == "/Message/Entities/Person/DateOfBirth"
    assert "time zone" in str(error)


def test_sex_is_iso_5218() -> None:
    data = golden("identity-check.xml").replace(b"<Sex>1</Sex>", b"<Sex>9</Sex>")
    assert CODEC.decode(data).message.persons[0].sex is Sex.NOT_APPLICABLE  # type: ignore[union-attr]


def test_a_character_xml_cannot_carry_is_refused_when_encoding() -> None:
    with pytest.raises(InputError, match="summary"):
        CODEC.encode(replace(identity_check(), summary="bad \uffff char"))


# ---------------------------------------------------------------- errors name the place


def test_a_schema_error_names_the_element_and_the_attribute() -> None:
    data = golden("identity-check.xml")
    assert refused(data.replace(b'role="SUSPECT"', b'role="BOSS"')).where == (
        "/Message/Entities/Person/@role"
    )
    error = refused(data.replace(b'role="SUSPECT"', b'role="SUSPECT" secret="x"'))
    assert error.where == "/Message/Entities/Person/@secret"
    assert "not allowed" in str(error)
    error = refused(
        data.replace(b"<Number>E73829164</Number>", b"<Number>" + b"9" * 70 + b"</Number>")
    )
    assert error.where == "/Message/Entities/Document[1]/Number"
    assert "999" not in str(error)


def test_an_office_and_its_country_must_agree() -> None:
    error = refused(
        golden("identity-check.xml").replace(b"<Country>ES</Country>", b"<Country>FR</Country>")
    )
    assert error.where == "/Message/Header/Recipient/Country"


def test_the_body_must_match_the_message_type() -> None:
    data = golden("identity-check.xml").replace(b">REQUEST<", b">RESPONSE<")
    assert refused(data).where == "/Message/Header/MessageType"


def test_a_canonical_invariant_is_reported_at_its_element() -> None:
    data = golden("identity-check.xml").replace(b"+34612345678", b"+0000")
    error = refused(data)
    assert error.where == "/Message/Entities/CommunicationMeans[1]/Value"
    assert "E.164" in str(error)


def test_every_document_needs_one_holder() -> None:
    data = golden("identity-check.xml")
    unlinked = data.replace(b'<Link from="P1" to="P1.D2" role="HOLDER"/>', b"")
    assert refused(unlinked).where == "/Message/Entities/Document[2]"
    wrong = data.replace(b'to="P1.D2" role="HOLDER"', b'to="P1.D2" role="USER"')
    assert refused(wrong).where == "/Message/Links/Link[2]/@to"
    twice = data.replace(b'to="P1.D2"', b'to="P1.D1"')
    assert "already" in str(refused(twice))
    stranger = data.replace(b'<Link from="P1" to="P1.D2"', b'<Link from="P1.N1" to="P1.D2"')
    assert refused(stranger).where == "/Message/Links/Link[2]/@from"


def test_a_transliteration_must_point_at_a_name_of_the_same_kind() -> None:
    data = golden("identity-check.xml").replace(
        b'transliterationOf="P1.N1">\n        <FamilyName>ZHENG',
        b'transliterationOf="P1.A1">\n        <FamilyName>ZHENG',
    )
    assert refused(data).where == "/Message/Entities/Person/Name[3]/@transliterationOf"


def test_required_header_fields_are_named() -> None:
    data = golden("identity-check.xml").replace(b"<LegalBasis>CN-ES-WG-2016</LegalBasis>", b"")
    assert refused(data).where == "/Message/Header/LegalBasis"


# ---------------------------------------------------------------- losses


def test_partner_fields_without_a_canonical_place_are_reported_as_losses() -> None:
    data = (
        golden("identity-check.xml")
        .replace(
            b"<Sender>",
            b"<RecipientCaseReference>UCRIF-1</RecipientCaseReference>"
            b"<Created>2025-03-01T10:00:00+01:00</Created><Sender>",
        )
        .replace(b"</Message>", b'<Extension key="crime-area">THB</Extension></Message>')
    )
    decoded = CODEC.decode(data)
    assert decoded.message == identity_check()
    assert {loss.field for loss in decoded.losses} == {
        "/Message/Header/RecipientCaseReference",
        "/Message/Header/Created",
        "/Message/Extension",
    }
    assert not any(loss.essential for loss in decoded.losses)


def test_a_subdivision_code_fills_an_empty_province_and_is_a_loss_beside_one() -> None:
    data = golden("identity-check.xml")
    alone = data.replace(b"<Province>Zhejiang</Province>", b"<Subdivision>CN-ZJ</Subdivision>")
    decoded = CODEC.decode(alone)
    assert decoded.message.places[0].province == "CN-ZJ"  # type: ignore[union-attr]
    assert decoded.losses == ()
    both = data.replace(
        b"<Province>Zhejiang</Province>",
        b"<Subdivision>CN-ZJ</Subdivision><Province>Zhejiang</Province>",
    )
    decoded = CODEC.decode(both)
    assert decoded.message == identity_check()
    assert [loss.field for loss in decoded.losses] == ["/Message/Entities/Location[1]/Subdivision"]


def test_decomposed_text_is_normalised_to_nfc_with_a_warning() -> None:
    decomposed = unicodedata.normalize("NFD", "Nguyễn").encode()
    data = golden("case-response.xml").replace("Nguyễn".encode(), decomposed)
    decoded = CODEC.decode(data)
    assert decoded.message == example("case-response.json")
    assert "/Message/Entities/Person[1]/Name[1]/FamilyName: text normalised to Unicode NFC" in (
        decoded.warnings
    )


def test_zawgyi_text_is_flagged_not_converted() -> None:
    data = golden("case-response.xml").replace(
        b"<Description>Found unharmed", "<Description>ေက်ာင္း Found unharmed".encode()
    )
    decoded = CODEC.decode(data)
    assert decoded.message.persons[1].description.startswith("ေက်ာင္း")  # type: ignore[union-attr]
    assert any(
        "Zawgyi" in w and w.startswith("/Message/Entities/Person[2]/Description")
        for w in decoded.warnings
    )
