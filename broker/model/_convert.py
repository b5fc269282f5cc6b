"""Conversions between the value objects' entities and the generated protobuf classes.

``*_from_pb`` raise InvalidMessage with paths relative to the message they decode; callers put
the container's path in front with ``_checks.within``.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Sequence
from typing import TypeVar

from google.protobuf import timestamp_pb2

from broker.errors import InvalidMessage
from broker.model import limits
from broker.model._checks import within
from broker.model.codes import DatePrecision, DocumentType, Handling, NameOrder, PersonRole, Sex
from broker.model.entities import (
    Attachment,
    Coordinates,
    HandlingCode,
    Officer,
    Organisation,
    Place,
    Vehicle,
)
from broker.model.people import Account, IdentityDocument, Name, PartialDate, Person
from broker.pb import entities_pb2 as pb

E = TypeVar("E", bound=enum.Enum)
P = TypeVar("P")
V = TypeVar("V")

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MIN_SECONDS = -62_135_596_800  # 0001-01-01T00:00:00Z, the Timestamp and datetime minimum
_MAX_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z


def enum_from_pb(path: str, number: int, kind: type[E]) -> E:
    """A proto enum number as our enum; 0 (UNSPECIFIED) and unknown numbers are invalid."""
    if number == 0:
        raise InvalidMessage(path, "is not set (UNSPECIFIED)")
    try:
        return kind(number)
    except ValueError:
        raise InvalidMessage(path, f"has the unknown value {number}") from None


def each(path: str, items: Sequence[P], convert: Callable[[P], V], limit: int) -> tuple[V, ...]:
    """Convert every item of a repeated field, locating errors as ``path[i]...``."""
    if len(items) > limit:
        raise InvalidMessage(path, f"has more than {limit} entries")
    converted = []
    for index, item in enumerate(items):
        with within(f"{path}[{index}]"):
            converted.append(convert(item))
    return tuple(converted)


def nested(path: str, item: P, convert: Callable[[P], V]) -> V:
    with within(path):
        return convert(item)


def timestamp_to_pb(when: dt.datetime) -> timestamp_pb2.Timestamp:
    delta = when - _EPOCH
    return timestamp_pb2.Timestamp(
        seconds=delta.days * 86_400 + delta.seconds, nanos=delta.microseconds * 1_000
    )


def timestamp_from_pb(path: str, stamp: timestamp_pb2.Timestamp) -> dt.datetime:
    """Exact conversion; sub-microsecond times are refused (a datetime could not hold them)."""
    if not _MIN_SECONDS <= stamp.seconds <= _MAX_SECONDS or not 0 <= stamp.nanos < 10**9:
        raise InvalidMessage(path, "is out of the range 0001-01-01 to 9999-12-31")
    if stamp.nanos % 1_000:
        raise InvalidMessage(path, "has sub-microsecond precision")
    return _EPOCH + dt.timedelta(seconds=stamp.seconds, microseconds=stamp.nanos // 1_000)


# ---------------------------------------------------------------- to protobuf


def partial_date_to_pb(value: PartialDate) -> pb.PartialDate:
    return pb.PartialDate(
        precision=pb.DatePrecision.ValueType(value.precision.value),
        year=value.year,
        month=value.month,
        day=value.day,
    )


def name_to_pb(value: Name) -> pb.Name:
    return pb.Name(
        script=value.script,
        language=value.language,
        order=pb.NameOrder.ValueType(value.order.value),
        family_name=value.family_name,
        second_family_name=value.second_family_name,
        given_names=value.given_names,
        full_name=value.full_name,
        transliteration_of=value.transliteration_of,
    )


def person_to_pb(value: Person) -> pb.Person:
    return pb.Person(
        role=pb.PersonRole.ValueType(value.role.value),
        names=[name_to_pb(n) for n in value.names],
        aliases=[name_to_pb(n) for n in value.aliases],
        date_of_birth=None
        if value.date_of_birth is None
        else partial_date_to_pb(value.date_of_birth),
        sex=pb.Sex.ValueType(value.sex.value),
        nationalities=value.nationalities,
        documents=[
            pb.IdentityDocument(
                document_type=pb.DocumentType.ValueType(d.document_type.value),
                number=d.number,
                issuing_country=d.issuing_country,
                expiry=None if d.expiry is None else partial_date_to_pb(d.expiry),
            )
            for d in value.documents
        ],
        phone_numbers=value.phone_numbers,
        accounts=[pb.Account(platform=a.platform, handle=a.handle) for a in value.accounts],
        dna_reference=value.dna_reference,
        description=value.description,
    )


def place_to_pb(value: Place) -> pb.Place:
    coordinates = value.coordinates
    return pb.Place(
        label=value.label,
        country=value.country,
        province=value.province,
        district=value.district,
        village=value.village,
        address=value.address,
        coordinates=None
        if coordinates is None
        else pb.Coordinates(latitude=coordinates.latitude, longitude=coordinates.longitude),
    )


def vehicle_to_pb(value: Vehicle) -> pb.Vehicle:
    return pb.Vehicle(
        kind=value.kind,
        registration=value.registration,
        country=value.country,
        make_model=value.make_model,
        colour=value.colour,
    )


def organisation_to_pb(value: Organisation) -> pb.Organisation:
    return pb.Organisation(
        name=value.name, kind=value.kind, country=value.country, address=value.address
    )


def attachment_to_pb(value: Attachment) -> pb.Attachment:
    return pb.Attachment(
        name=value.name, media_type=value.media_type, content=value.content, sha256=value.sha256
    )


def officer_to_pb(value: Officer) -> pb.Officer:
    return pb.Officer(
        officer_id=value.officer_id,
        name=value.name,
        rank=value.rank,
        phone=value.phone,
        email=value.email,
    )


def handling_to_pb(value: HandlingCode) -> pb.HandlingCode:
    return pb.HandlingCode(
        code=pb.Handling.ValueType(value.code.value), conditions=value.conditions
    )


# ---------------------------------------------------------------- from protobuf


def partial_date_from_pb(msg: pb.PartialDate) -> PartialDate:
    return PartialDate(
        precision=enum_from_pb("precision", msg.precision, DatePrecision),
        year=msg.year,
        month=msg.month,
        day=msg.day,
    )


def name_from_pb(msg: pb.Name) -> Name:
    return Name(
        script=msg.script,
        language=msg.language,
        order=enum_from_pb("order", msg.order, NameOrder),
        family_name=msg.family_name,
        second_family_name=msg.second_family_name,
        given_names=msg.given_names,
        full_name=msg.full_name,
        transliteration_of=msg.transliteration_of if msg.HasField("transliteration_of") else None,
    )


def _document_from_pb(msg: pb.IdentityDocument) -> IdentityDocument:
    expiry = nested("expiry", msg.expiry, partial_date_from_pb) if msg.HasField("expiry") else None
    return IdentityDocument(
        document_type=enum_from_pb("document_type", msg.document_type, DocumentType),
        number=msg.number,
        issuing_country=msg.issuing_country,
        expiry=expiry,
    )


def _account_from_pb(msg: pb.Account) -> Account:
    return Account(platform=msg.platform, handle=msg.handle)


def person_from_pb(msg: pb.Person) -> Person:
    birth = None
    if msg.HasField("date_of_birth"):
        birth = nested("date_of_birth", msg.date_of_birth, partial_date_from_pb)
    return Person(
        role=enum_from_pb("role", msg.role, PersonRole),
        names=each("names", msg.names, name_from_pb, limits.MAX_NAMES),
        aliases=each("aliases", msg.aliases, name_from_pb, limits.MAX_NAMES),
        date_of_birth=birth,
        sex=enum_from_pb("sex", msg.sex, Sex),
        nationalities=tuple(msg.nationalities),
        documents=each("documents", msg.documents, _document_from_pb, limits.MAX_DOCUMENTS),
        phone_numbers=tuple(msg.phone_numbers),
        accounts=each("accounts", msg.accounts, _account_from_pb, limits.MAX_ACCOUNTS),
        dna_reference=msg.dna_reference,
        description=msg.description,
    )


def place_from_pb(msg: pb.Place) -> Place:
    coordinates = None
    if msg.HasField("coordinates"):
        point = msg.coordinates
        coordinates = nested(
            "coordinates",
            point,
            lambda p: Coordinates(latitude=p.latitude, longitude=p.longitude),
        )
    return Place(
        label=msg.label,
        country=msg.country,
        province=msg.province,
        district=msg.district,
        village=msg.village,
        address=msg.address,
        coordinates=coordinates,
    )


def vehicle_from_pb(msg: pb.Vehicle) -> Vehicle:
    return Vehicle(
        kind=msg.kind,
        registration=msg.registration,
        country=msg.country,
        make_model=msg.make_model,
        colour=msg.colour,
    )


def organisation_from_pb(msg: pb.Organisation) -> Organisation:
    return Organisation(name=msg.name, kind=msg.kind, country=msg.country, address=msg.address)


def attachment_from_pb(msg: pb.Attachment) -> Attachment:
    return Attachment(
        name=msg.name, media_type=msg.media_type, content=msg.content, sha256=msg.sha256
    )


def officer_from_pb(msg: pb.Officer) -> Officer:
    return Officer(
        officer_id=msg.officer_id, name=msg.name, rank=msg.rank, phone=msg.phone, email=msg.email
    )


def handling_from_pb(msg: pb.HandlingCode) -> HandlingCode:
    return HandlingCode(code=enum_from_pb("code", msg.code, Handling), conditions=msg.conditions)
