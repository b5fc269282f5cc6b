"""Directory content as JSON-ready documents, for ``liaison directory show --json``. Pure."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from broker.directory.anchors import root_document
from broker.directory.model import Agreement, DirectoryContent, Office, OfficeKey
from broker.directory.vocabulary import enquiry_type_name, priority_name


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def content_document(content: DirectoryContent, *, at: datetime) -> dict[str, Any]:
    """Everything in ``content``; each key's status is given at ``at``."""
    return {
        "version": content.version,
        "issuer": content.issuer,
        "issued_at": iso(content.issued_at),
        "expires_at": iso(content.expires_at),
        "encryption_key_grace_seconds": int(content.encryption_key_grace.total_seconds()),
        "max_rotation_overlap_seconds": int(content.max_rotation_overlap.total_seconds()),
        "root": root_document(content.root),
        "offices": [office_document(office, at=at) for office in content.offices],
        "agreements": [agreement_document(agreement) for agreement in content.agreements],
    }


def office_document(office: Office, *, at: datetime) -> dict[str, Any]:
    return {
        "id": office.id,
        "names": dict(office.names),
        "country": office.country,
        "time_zone": office.time_zone,
        "languages": list(office.languages),
        "suite": office.suite.value,
        "adapter": {"name": office.adapter.name, "settings": dict(office.adapter.settings)},
        "routing": {"site": office.routing.site, "broker": office.routing.broker},
        "urgent_contact": office.urgent_contact,
        "keys": [key_document(key, at=at) for key in office.keys],
    }


def key_document(key: OfficeKey, *, at: datetime) -> dict[str, Any]:
    document: dict[str, Any] = {
        "use": key.use.label,
        "alg": key.use.alg.value,
        "key_id": key.key_id.hex(),
        "fingerprint": key.fingerprint,
        "not_before": iso(key.not_before),
        "not_after": iso(key.not_after),
        "status": key.status_at(at).value,
    }
    if key.revocation is not None:
        document["revoked_at"] = iso(key.revocation.revoked_at)
        document["revocation_reason"] = key.revocation.reason.value
    return document


def agreement_document(agreement: Agreement) -> dict[str, Any]:
    return {
        "id": agreement.id,
        "title": agreement.title,
        "parties": list(agreement.parties),
        "enquiry_types": [enquiry_type_name(t) for t in agreement.enquiry_types],
        "handling_codes": [h.name for h in agreement.handling_codes],
        "max_priority": priority_name(agreement.max_priority),
        "attachments_allowed": agreement.attachments_allowed,
        "data_categories": [c.value for c in agreement.data_categories],
        "valid_from": iso(agreement.valid_from),
        "valid_until": None if agreement.valid_until is None else iso(agreement.valid_until),
    }
