"""Sheet records back into a canonical message; every fault names its row and column.

Rules (README): exactly one MESSAGE row; PERSON rows numbered 1, 2, 3 ... in row order; NAME,
ALIAS, DOCUMENT and ACCOUNT rows name their person by number and keep their row order; a NAME's
``transliteration_of`` is the number (1 = first) of that person's NAME row it transliterates.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from typing import TypeVar

from adapters.base import AdapterInputError
from adapters.sheet import columns as col
from broker.errors import InvalidMessage
from broker.model import (
    Account,
    CaseEnquiry,
    CaseResponse,
    DocumentType,
    EnquiryType,
    Evaluation,
    Handling,
    HandlingCode,
    IdentityDocument,
    InformationAccuracy,
    Name,
    NameOrder,
    Officer,
    Organisation,
    PartialDate,
    Person,
    PersonRole,
    Place,
    Priority,
    ResponseStatus,
    Sex,
    SourceReliability,
    Vehicle,
)

E = TypeVar("E", bound=Enum)
T = TypeVar("T")

_NUMBER = re.compile(r"[1-9][0-9]{0,3}")
_DATE = re.compile(r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?")
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?Z")
_E164 = re.compile(r"\+[1-9][0-9]{7,14}")
_EVALUATION = re.compile(r"([ABCX])([1-4])")

# Canonical field names that are spelled differently in the sheet, per record type.
_NAME_FIELDS = {"script": "name_script", "language": "name_language", "order": "name_order"}
_DOCUMENT_FIELDS = {
    "number": "document_number",
    "issuing_country": "document_country",
    "expiry": "document_expiry",
}
_OFFICER_FIELDS = {"name": "officer_name", "rank": "officer_rank", "phone": "officer_phone",
                   "email": "officer_email"}  # fmt: skip
_MESSAGE_FIELDS = {
    "requesting_office": "from_office",
    "responding_office": "from_office",
    "recipient_offices": "to_offices",
}


@dataclass(frozen=True, slots=True)
class Row:
    """One data row: its number in the file, its record type and its cells by key."""

    number: int
    record: str
    cells: Mapping[str, str] = field(repr=False)

    def get(self, key: str) -> str:
        return self.cells.get(key, "")

    def fail(self, key: str, problem: str) -> AdapterInputError:
        return AdapterInputError(f"row {self.number}, column {key}", problem)


@contextmanager
def _building(row: Row, spelled: Mapping[str, str]) -> Iterator[None]:
    """Turn a model InvalidMessage into an AdapterInputError naming this row's column."""
    try:
        yield
    except InvalidMessage as exc:
        head = re.split(r"[.\[]", exc.field, maxsplit=1)[0] if exc.field else ""
        key = spelled.get(head, head)
        if key in col.KEYS:
            raise row.fail(key, _reason(exc)) from None
        raise AdapterInputError(f"row {row.number}", exc.diagnosis) from None


def _reason(exc: InvalidMessage) -> str:
    head = f"{exc.field}: "
    return exc.diagnosis[len(head) :] if exc.diagnosis.startswith(head) else exc.diagnosis


# ---------------------------------------------------------------- cell parsers


def _code(row: Row, key: str, kind: type[E], *, required: bool = True) -> E | None:
    value = row.get(key).strip().upper()
    if not value:
        if required:
            raise row.fail(key, "is empty")
        return None
    member = kind.__members__.get(value)
    if member is None:
        raise row.fail(key, "is not one of " + ", ".join(kind.__members__))
    return member


def _required_code(row: Row, key: str, kind: type[E]) -> E:
    member = _code(row, key, kind)
    assert member is not None  # noqa: S101 - _code raises when a required code is empty
    return member


def _date(row: Row, key: str) -> PartialDate | None:
    value = row.get(key).strip()
    if not value:
        return None
    match = _DATE.fullmatch(value)
    if match is None:
        raise row.fail(key, "is not a date written YYYY, YYYY-MM or YYYY-MM-DD")
    year, month, day = (int(part) if part else 0 for part in match.groups())
    try:
        if not month:
            return PartialDate.of_year(year)
        if not day:
            return PartialDate.of_month(year, month)
        return PartialDate.of_day(year, month, day)
    except InvalidMessage as exc:
        raise row.fail(key, _reason(exc)) from None


def _time(row: Row, key: str) -> dt.datetime:
    value = row.get(key).strip()
    if _TIME.fullmatch(value) is None:
        raise row.fail(key, "is not a UTC time written YYYY-MM-DDTHH:MM:SSZ")
    try:
        return dt.datetime.fromisoformat(value[:-1]).replace(tzinfo=dt.UTC)
    except ValueError:
        raise row.fail(key, "is not a real date and time") from None


def _number(row: Row, key: str, *, required: bool) -> int | None:
    value = row.get(key).strip()
    if not value and not required:
        return None
    if _NUMBER.fullmatch(value) is None:
        raise row.fail(key, "is not a number 1, 2, 3 ...")
    return int(value)


def _phones(row: Row, key: str) -> tuple[str, ...]:
    numbers = tuple(row.get(key).split())
    if not all(_E164.fullmatch(number) for number in numbers):
        raise row.fail(key, "is not E.164 (+ then 8 to 15 digits, numbers separated by spaces)")
    return numbers


def _evaluation(row: Row) -> Evaluation | None:
    value = row.get("evaluation").strip().upper()
    if not value:
        return None
    match = _EVALUATION.fullmatch(value)
    if match is None:
        raise row.fail("evaluation", "is not a 4x4 grading such as B2")
    return Evaluation(
        source_reliability=SourceReliability[match.group(1)],
        information_accuracy=InformationAccuracy(int(match.group(2))),
    )


# ---------------------------------------------------------------- records


def _name(row: Row) -> Name:
    of = _number(row, "transliteration_of", required=False)
    order = _required_code(row, "name_order", NameOrder)
    with _building(row, _NAME_FIELDS):
        return Name(
            script=row.get("name_script").strip(),
            language=row.get("name_language").strip(),
            order=order,
            family_name=row.get("family_name"),
            second_family_name=row.get("second_family_name"),
            given_names=row.get("given_names"),
            full_name=row.get("full_name"),
            transliteration_of=None if of is None else of - 1,
        )


def _document(row: Row) -> IdentityDocument:
    kind = _required_code(row, "document_type", DocumentType)
    expiry = _date(row, "document_expiry")
    with _building(row, _DOCUMENT_FIELDS):
        return IdentityDocument(
            document_type=kind,
            number=row.get("document_number"),
            issuing_country=row.get("document_country").strip(),
            expiry=expiry,
        )


def _account(row: Row) -> Account:
    with _building(row, {}):
        return Account(platform=row.get("platform").strip(), handle=row.get("handle"))


@dataclass(slots=True)
class _PersonRows:
    row: Row
    names: list[Row] = field(default_factory=list)
    aliases: list[Row] = field(default_factory=list)
    documents: list[Row] = field(default_factory=list)
    accounts: list[Row] = field(default_factory=list)


def _person(group: _PersonRows) -> Person:
    row = group.row
    role = _required_code(row, "role", PersonRole)
    sex = _required_code(row, "sex", Sex)
    birth = _date(row, "date_of_birth")
    phones = _phones(row, "phone_numbers")
    names = tuple(_name(name_row) for name_row in group.names)
    aliases = tuple(_name(alias_row) for alias_row in group.aliases)
    documents = tuple(_document(doc_row) for doc_row in group.documents)
    accounts = tuple(_account(account_row) for account_row in group.accounts)
    sub_rows = {"names": group.names, "aliases": group.aliases, "documents": group.documents,
                "accounts": group.accounts}  # fmt: skip
    try:
        return Person(
            role=role,
            names=names,
            aliases=aliases,
            date_of_birth=birth,
            sex=sex,
            nationalities=tuple(row.get("nationalities").split()),
            documents=documents,
            phone_numbers=phones,
            accounts=accounts,
            dna_reference=row.get("dna_reference").strip(),
            description=row.get("description"),
        )
    except InvalidMessage as exc:
        # "names[1].transliteration_of" is about that person's second NAME row.
        match = re.fullmatch(r"(names|aliases|documents|accounts)\[(\d+)\]\.?(\w*)", exc.field)
        if match and int(match.group(2)) < len(sub_rows[match.group(1)]):
            sub = sub_rows[match.group(1)][int(match.group(2))]
            key = {**_NAME_FIELDS, **_DOCUMENT_FIELDS}.get(match.group(3), match.group(3))
            raise sub.fail(key or "record", _reason(exc)) from None
        if not exc.field:
            raise AdapterInputError(f"row {row.number}", exc.diagnosis) from None
        raise row.fail(re.split(r"[.\[]", exc.field, maxsplit=1)[0], _reason(exc)) from None


def _persons(rows: list[Row]) -> tuple[Person, ...]:
    groups: list[_PersonRows] = []
    for row in rows:
        if row.record == col.PERSON:
            if _number(row, "person", required=True) != len(groups) + 1:
                raise row.fail("person", "PERSON rows must be numbered 1, 2, 3 ... in row order")
            groups.append(_PersonRows(row))
    for row in rows:
        if row.record in (col.NAME, col.ALIAS, col.DOCUMENT, col.ACCOUNT):
            number = _number(row, "person", required=True)
            if number is None or number > len(groups):
                raise row.fail("person", "names no PERSON row")
            group = groups[number - 1]
            {col.NAME: group.names, col.ALIAS: group.aliases, col.DOCUMENT: group.documents,
             col.ACCOUNT: group.accounts}[row.record].append(row)  # fmt: skip
    return tuple(_person(group) for group in groups)


def _entities(rows: list[Row], record: str, build: Callable[[Row], T]) -> tuple[T, ...]:
    return tuple(build(row) for row in rows if row.record == record)


def _place(row: Row) -> Place:
    with _building(row, {}):
        return Place(
            label=row.get("label"),
            country=row.get("country").strip(),
            province=row.get("province"),
            district=row.get("district"),
            village=row.get("village"),
            address=row.get("address"),
        )


def _vehicle(row: Row) -> Vehicle:
    with _building(row, {}):
        return Vehicle(
            kind=row.get("kind"),
            registration=row.get("registration"),
            country=row.get("country").strip(),
            make_model=row.get("make_model"),
            colour=row.get("colour"),
        )


def _organisation(row: Row) -> Organisation:
    with _building(row, {"name": "organisation_name"}):
        return Organisation(
            name=row.get("organisation_name"),
            kind=row.get("kind"),
            country=row.get("country").strip(),
            address=row.get("address"),
        )


# ---------------------------------------------------------------- the message

_ENQUIRY_ONLY = ("to_offices", "enquiry_type", "legal_basis", "priority", "response_due",
                 "summary", "question")  # fmt: skip
_RESPONSE_ONLY = ("response_id", "status", "evaluation", "text", "refusal_reason")


def _officer(row: Row) -> Officer:
    with _building(row, {"officer_id": "officer_id", **_OFFICER_FIELDS}):
        if row.get("officer_phone"):
            _phones(row, "officer_phone")
        return Officer(
            officer_id=row.get("officer_id"),
            name=row.get("officer_name"),
            rank=row.get("officer_rank"),
            phone=row.get("officer_phone").strip(),
            email=row.get("officer_email").strip(),
        )


def _handling(row: Row) -> HandlingCode:
    code = _required_code(row, "handling", Handling)
    with _building(row, {"code": "handling", "conditions": "handling_conditions"}):
        return HandlingCode(code=code, conditions=row.get("handling_conditions"))


def to_message(rows: list[Row]) -> CaseEnquiry | CaseResponse:
    """The message the records describe."""
    heads = [row for row in rows if row.record == col.MESSAGE]
    if len(heads) != 1:
        where = f"row {heads[1].number}" if heads else "sheet"
        raise AdapterInputError(where, "a sheet holds exactly one MESSAGE row")
    head = heads[0]
    kind = head.get("message_type").strip().upper()
    if kind not in ("ENQUIRY", "RESPONSE"):
        raise head.fail("message_type", "is not ENQUIRY or RESPONSE")
    for key in _RESPONSE_ONLY if kind == "ENQUIRY" else _ENQUIRY_ONLY:
        if head.get(key):
            raise head.fail(key, f"is not used in an {kind.lower()} sheet")
    persons = _persons(rows)
    places = _entities(rows, col.PLACE, _place)
    vehicles = _entities(rows, col.VEHICLE, _vehicle)
    organisations = _entities(rows, col.ORGANISATION, _organisation)
    officer = _officer(head)
    handling = _handling(head)
    with _building(head, _MESSAGE_FIELDS):
        if kind == "ENQUIRY":
            return CaseEnquiry(
                enquiry_id=head.get("enquiry_id").strip(),
                case_reference=head.get("case_reference"),
                requesting_office=head.get("from_office").strip(),
                requesting_officer=officer,
                recipient_offices=tuple(head.get("to_offices").split()),
                enquiry_type=_required_code(head, "enquiry_type", EnquiryType),
                legal_basis=head.get("legal_basis").strip(),
                priority=_required_code(head, "priority", Priority),
                response_due=_time(head, "response_due"),
                handling=handling,
                language=head.get("language").strip(),
                summary=head.get("summary"),
                question=head.get("question"),
                persons=persons,
                places=places,
                vehicles=vehicles,
                organisations=organisations,
            )
        return CaseResponse(
            response_id=head.get("response_id").strip(),
            enquiry_id=head.get("enquiry_id").strip(),
            case_reference=head.get("case_reference"),
            responding_office=head.get("from_office").strip(),
            responding_officer=officer,
            status=_required_code(head, "status", ResponseStatus),
            refusal_reason=head.get("refusal_reason"),
            evaluation=_evaluation(head),
            handling=handling,
            language=head.get("language").strip(),
            text=head.get("text"),
            persons=persons,
            places=places,
            vehicles=vehicles,
            organisations=organisations,
        )
