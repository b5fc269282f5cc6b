"""Build the partner JSON Schema (draft 2020-12) from the liaison.v1 descriptors.

The committed ``schema/liaison-partner-v1.schema.json`` is this function's output; a test
rebuilds it and fails on any difference, so schema and codec cannot drift apart. The schema
checks shape (names, types, enum values, hex and base64, required fields); the canonical model
then checks meaning (limits, NFC, codes), and both report the JSON path of a fault.
"""

from __future__ import annotations

import json
from types import MappingProxyType
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from adapters.json_format.shape import (
    BASE64_FIELDS,
    MESSAGE_TYPES,
    enum_of,
    enum_prefix,
    is_nested,
    message_of,
)

SCHEMA_ID = "urn:liaison:partner:json:1"
SCHEMA_FILE = "liaison-partner-v1.schema.json"

# Fields a partner must always send (the canonical model refuses a message without them).
REQUIRED: MappingProxyType[str, tuple[str, ...]] = MappingProxyType(
    {
        "liaison.v1.CaseEnquiry": (
            "enquiryId", "caseReference", "requestingOffice", "requestingOfficer",
            "recipientOffices", "enquiryType", "legalBasis", "priority", "responseDue",
            "handling", "language", "summary", "question",
        ),
        "liaison.v1.CaseResponse": (
            "responseId", "enquiryId", "respondingOffice", "respondingOfficer", "status",
            "handling", "language", "text",
        ),
        "liaison.v1.Receipt": (
            "messageId", "envelopeDigest", "status", "receivingOffice", "receivedAt",
        ),
        "liaison.v1.Person": ("role", "names", "sex"),
        "liaison.v1.Name": ("fullName",),
        "liaison.v1.Attachment": ("name", "mediaType", "content", "sha256"),
        "liaison.v1.HandlingCode": ("code",),
        "liaison.v1.PartialDate": ("precision", "year"),
        "liaison.v1.IdentityDocument": ("documentType", "number"),
    }
)  # fmt: skip

_INT32 = {"type": "integer", "minimum": -(2**31), "maximum": 2**31 - 1}
_UINT32 = {"type": "integer", "minimum": 0, "maximum": 2**32 - 1}
_RFC3339 = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})$"
)
_HEX = r"^([0-9a-f]{2})*$"
_BASE64 = r"^[A-Za-z0-9+/]*={0,2}$"


def build_schema() -> dict[str, Any]:
    """The whole schema: a ``type`` discriminator picking one of the three messages."""
    defs: dict[str, Any] = {}
    for descriptor in MESSAGE_TYPES.values():
        _define(descriptor, defs)
    for kind, descriptor in MESSAGE_TYPES.items():
        top = defs[descriptor.name]
        top["properties"] = {"type": {"const": kind}, **top["properties"]}
        top["required"] = ["type", *top.get("required", [])]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Liaison partner JSON message (v1)",
        "type": "object",
        "required": ["type"],
        "properties": {"type": {"enum": list(MESSAGE_TYPES)}},
        "allOf": [
            {
                "if": {"properties": {"type": {"const": kind}}, "required": ["type"]},
                "then": {"$ref": f"#/$defs/{descriptor.name}"},
            }
            for kind, descriptor in MESSAGE_TYPES.items()
        ],
        "$defs": dict(sorted(defs.items())),
    }


def schema_text() -> str:
    """The schema file's exact text."""
    return json.dumps(build_schema(), indent=2, ensure_ascii=False) + "\n"


def _define(descriptor: Descriptor, defs: dict[str, Any]) -> None:
    if descriptor.name in defs:
        return
    definition: dict[str, Any] = {"type": "object", "additionalProperties": False}
    defs[descriptor.name] = definition  # before the fields: messages may nest
    properties = {}
    for field in descriptor.fields:
        one = _field_schema(field, defs)
        if field.is_repeated:
            one = {"type": "array", "items": one}
        properties[field.json_name] = one
    definition["properties"] = properties
    required = REQUIRED.get(descriptor.full_name)
    if required:
        definition["required"] = list(required)


def _field_schema(  # noqa: PLR0911 - one return per proto type reads best
    field: FieldDescriptor, defs: dict[str, Any]
) -> dict[str, Any]:
    kind = field.type
    if kind == FieldDescriptor.TYPE_STRING:
        return {"type": "string"}
    if kind == FieldDescriptor.TYPE_BOOL:
        return {"type": "boolean"}
    if kind in (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_SINT32):
        return dict(_INT32)
    if kind == FieldDescriptor.TYPE_UINT32:
        return dict(_UINT32)
    if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return {"type": "number"}
    if kind == FieldDescriptor.TYPE_ENUM:
        enum = enum_of(field)
        names = [v.name.removeprefix(enum_prefix(enum)) for v in enum.values if v.number != 0]
        return {"enum": names}
    if kind == FieldDescriptor.TYPE_BYTES and field.name in BASE64_FIELDS:
        return {"type": "string", "contentEncoding": "base64", "pattern": _BASE64}
    if kind == FieldDescriptor.TYPE_BYTES:
        return {"type": "string", "pattern": _HEX}
    if is_nested(field):
        _define(message_of(field), defs)
        return {"$ref": f"#/$defs/{message_of(field).name}"}
    if kind == FieldDescriptor.TYPE_MESSAGE:  # a Timestamp
        return {"type": "string", "format": "date-time", "pattern": _RFC3339}
    raise NotImplementedError(f"no partner JSON form for proto field type {kind}")
