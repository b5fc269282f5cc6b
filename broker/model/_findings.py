"""The entity lists an enquiry and a response share: checks and protobuf conversion."""

from __future__ import annotations

from typing import NamedTuple, Protocol

from google.protobuf.internal.containers import RepeatedCompositeFieldContainer

from broker.model import _checks as check
from broker.model import _convert as convert
from broker.model import limits
from broker.model.entities import Attachment, Organisation, Place, Vehicle, check_attachments
from broker.model.people import Person
from broker.pb import entities_pb2 as pb


class Findings(NamedTuple):
    """Persons, places, vehicles, organisations and attachments of one message."""

    persons: tuple[Person, ...]
    places: tuple[Place, ...]
    vehicles: tuple[Vehicle, ...]
    organisations: tuple[Organisation, ...]
    attachments: tuple[Attachment, ...]


class _WithFindings(Protocol):
    """A generated message with the five entity lists (CaseEnquiry, CaseResponse)."""

    @property
    def persons(self) -> RepeatedCompositeFieldContainer[pb.Person]: ...
    @property
    def places(self) -> RepeatedCompositeFieldContainer[pb.Place]: ...
    @property
    def vehicles(self) -> RepeatedCompositeFieldContainer[pb.Vehicle]: ...
    @property
    def organisations(self) -> RepeatedCompositeFieldContainer[pb.Organisation]: ...
    @property
    def attachments(self) -> RepeatedCompositeFieldContainer[pb.Attachment]: ...


FIELDS = ("persons", "places", "vehicles", "organisations", "attachments")


def check_findings(findings: Findings) -> None:
    """Counts, element types and the attachments' total size (lists already made tuples)."""
    check.items("persons", findings.persons, Person, limit=limits.MAX_PERSONS)
    check.items("places", findings.places, Place, limit=limits.MAX_PLACES)
    check.items("vehicles", findings.vehicles, Vehicle, limit=limits.MAX_VEHICLES)
    check.items(
        "organisations", findings.organisations, Organisation, limit=limits.MAX_ORGANISATIONS
    )
    check_attachments("attachments", findings.attachments)


def findings_from_pb(msg: _WithFindings) -> Findings:
    return Findings(
        persons=convert.each("persons", msg.persons, convert.person_from_pb, limits.MAX_PERSONS),
        places=convert.each("places", msg.places, convert.place_from_pb, limits.MAX_PLACES),
        vehicles=convert.each(
            "vehicles", msg.vehicles, convert.vehicle_from_pb, limits.MAX_VEHICLES
        ),
        organisations=convert.each(
            "organisations",
            msg.organisations,
            convert.organisation_from_pb,
            limits.MAX_ORGANISATIONS,
        ),
        attachments=convert.each(
            "attachments", msg.attachments, convert.attachment_from_pb, limits.MAX_ATTACHMENTS
        ),
    )


def findings_into_pb(findings: Findings, msg: _WithFindings) -> None:
    """Fill a generated message's five entity lists."""
    msg.persons.extend(convert.person_to_pb(p) for p in findings.persons)
    msg.places.extend(convert.place_to_pb(p) for p in findings.places)
    msg.vehicles.extend(convert.vehicle_to_pb(v) for v in findings.vehicles)
    msg.organisations.extend(convert.organisation_to_pb(o) for o in findings.organisations)
    msg.attachments.extend(convert.attachment_to_pb(a) for a in findings.attachments)
