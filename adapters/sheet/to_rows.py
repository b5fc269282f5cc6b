"""A canonical message as sheet records: one MESSAGE row, then each person with its names,
aliases, documents and accounts, then places, vehicles and organisations.

Values are the plain texts the sheet shows (codes as their English names: ``MISSING_CHILD``,
``H0``, ``B2``); neutralising formula-like text is the writer's business, not this module's.
"""

from __future__ import annotations

import datetime as dt

from adapters.base import Loss
from adapters.sheet import columns as col
from broker.model import (
    CaseEnquiry,
    CaseResponse,
    HandlingCode,
    Name,
    Officer,
    PartialDate,
    Person,
)

Record = dict[str, str]


def format_time(value: dt.datetime) -> str:
    """RFC 3339 in UTC with a Z: ``2025-03-10T00:00:00Z`` (microseconds only when set)."""
    utc = value.astimezone(dt.UTC)
    # Built by hand: strftime pads years below 1000 on some platforms only.
    text = (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}"
        f"T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}"
    )
    if utc.microsecond:
        text += f".{utc.microsecond:06d}"
    return text + "Z"


def _officer(officer: Officer) -> Record:
    return {
        "officer_id": officer.officer_id,
        "officer_name": officer.name,
        "officer_rank": officer.rank,
        "officer_phone": officer.phone,
        "officer_email": officer.email,
    }


def _handling(handling: HandlingCode) -> Record:
    return {"handling": handling.code.name, "handling_conditions": handling.conditions}


def message_record(message: CaseEnquiry | CaseResponse) -> Record:
    """The MESSAGE row."""
    if isinstance(message, CaseEnquiry):
        return {
            "record": col.MESSAGE,
            "message_type": "ENQUIRY",
            "enquiry_id": message.enquiry_id,
            "case_reference": message.case_reference,
            "from_office": message.requesting_office,
            "to_offices": " ".join(message.recipient_offices),
            **_officer(message.requesting_officer),
            "enquiry_type": message.enquiry_type.name,
            "legal_basis": message.legal_basis,
            "priority": message.priority.name,
            "response_due": format_time(message.response_due),
            **_handling(message.handling),
            "language": message.language,
            "summary": message.summary,
            "question": message.question,
        }
    evaluation = message.evaluation
    return {
        "record": col.MESSAGE,
        "message_type": "RESPONSE",
        "response_id": message.response_id,
        "enquiry_id": message.enquiry_id,
        "case_reference": message.case_reference,
        "from_office": message.responding_office,
        **_officer(message.responding_officer),
        "status": message.status.name,
        "evaluation": evaluation.code if evaluation is not None else "",
        **_handling(message.handling),
        "language": message.language,
        "text": message.text,
        "refusal_reason": message.refusal_reason,
    }


def _date(value: PartialDate | None) -> str:
    return "" if value is None else str(value)


def _name(kind: str, number: int, name: Name) -> Record:
    of = name.transliteration_of
    return {
        "record": kind,
        "person": str(number),
        "name_script": name.script,
        "name_language": name.language,
        "name_order": name.order.name,
        "family_name": name.family_name,
        "second_family_name": name.second_family_name,
        "given_names": name.given_names,
        "full_name": name.full_name,
        # 1-based, like the rows a person reads: "transliteration of name 1".
        "transliteration_of": "" if of is None else str(of + 1),
    }


def person_records(number: int, person: Person) -> list[Record]:
    """The PERSON row and the rows that belong to it."""
    records: list[Record] = [
        {
            "record": col.PERSON,
            "person": str(number),
            "role": person.role.name,
            "sex": person.sex.name,
            "date_of_birth": _date(person.date_of_birth),
            "nationalities": " ".join(person.nationalities),
            "phone_numbers": " ".join(person.phone_numbers),
            "dna_reference": person.dna_reference,
            "description": person.description,
        }
    ]
    records += [_name(col.NAME, number, name) for name in person.names]
    records += [_name(col.ALIAS, number, name) for name in person.aliases]
    records += [
        {
            "record": col.DOCUMENT,
            "person": str(number),
            "document_type": doc.document_type.name,
            "document_number": doc.number,
            "document_country": doc.issuing_country,
            "document_expiry": _date(doc.expiry),
        }
        for doc in person.documents
    ]
    records += [
        {
            "record": col.ACCOUNT,
            "person": str(number),
            "platform": account.platform,
            "handle": account.handle,
        }
        for account in person.accounts
    ]
    return records


def to_records(message: CaseEnquiry | CaseResponse) -> tuple[list[Record], tuple[Loss, ...]]:
    """Every row of the sheet for ``message``, and what the sheet cannot carry."""
    records = [message_record(message)]
    for number, person in enumerate(message.persons, start=1):
        records += person_records(number, person)
    losses: list[Loss] = []
    for index, place in enumerate(message.places):
        records.append(
            {
                "record": col.PLACE,
                "label": place.label,
                "country": place.country,
                "province": place.province,
                "district": place.district,
                "village": place.village,
                "address": place.address,
            }
        )
        if place.coordinates is not None:
            losses.append(
                Loss(f"places[{index}].coordinates", "the sheet has no column for coordinates")
            )
    for vehicle in message.vehicles:
        records.append(
            {
                "record": col.VEHICLE,
                "kind": vehicle.kind,
                "registration": vehicle.registration,
                "country": vehicle.country,
                "make_model": vehicle.make_model,
                "colour": vehicle.colour,
            }
        )
    for organisation in message.organisations:
        records.append(
            {
                "record": col.ORGANISATION,
                "organisation_name": organisation.name,
                "kind": organisation.kind,
                "country": organisation.country,
                "address": organisation.address,
            }
        )
    for index, _attachment in enumerate(message.attachments):
        losses.append(Loss(f"attachments[{index}]", "the sheet carries no files"))
    return records, tuple(losses)
