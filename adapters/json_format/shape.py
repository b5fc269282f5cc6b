"""The partner JSON shape, derived from the liaison.v1 descriptors.

The partner form is the canonical proto3 JSON mapping with three changes, applied the same way
to every message so nothing is lost: field names are lowerCamelCase (the proto ``json_name``),
enum values drop their type prefix (``PRIORITY_URGENT`` -> ``URGENT``), and binary ids and
digests are lower-case hex (file content stays base64). A top-level ``type`` names the message.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor

from adapters.base import AdapterInputError
from broker.pb import enquiry_pb2, receipt_pb2, response_pb2

# The message named by the top-level "type", and its descriptor.
MESSAGE_TYPES: MappingProxyType[str, Descriptor] = MappingProxyType(
    {
        "enquiry": enquiry_pb2.CaseEnquiry.DESCRIPTOR,
        "response": response_pb2.CaseResponse.DESCRIPTOR,
        "receipt": receipt_pb2.Receipt.DESCRIPTOR,
    }
)
TIMESTAMP = "google.protobuf.Timestamp"
BASE64_FIELDS = frozenset({"content"})  # file content; every other bytes field is an id or digest


def enum_prefix(enum: EnumDescriptor) -> str:
    """``PRIORITY_`` for Priority: the part every value name shares before its own name."""
    return enum.values_by_number[0].name.removesuffix("UNSPECIFIED")


def to_partner(canonical: Mapping[str, Any], descriptor: Descriptor) -> dict[str, Any]:
    """The partner form of one canonical proto-JSON object (snake_case keys)."""
    out: dict[str, Any] = {}
    for key, value in canonical.items():
        field = descriptor.fields_by_name[key]
        if _is_repeated(field):
            out[field.json_name] = [_value_to_partner(item, field) for item in value]
        else:
            out[field.json_name] = _value_to_partner(value, field)
    return out


def from_partner(partner: Mapping[str, Any], descriptor: Descriptor, path: str) -> dict[str, Any]:
    """The canonical proto-JSON object for a schema-valid partner object; ``path`` locates it."""
    by_json_name = {f.json_name: f for f in descriptor.fields}
    out: dict[str, Any] = {}
    for key, value in partner.items():
        field = by_json_name.get(key)
        if field is None:  # the schema refuses unknown keys; this guards direct callers
            raise AdapterInputError(path, "has a field this message does not have")
        where = f"{path}.{key}"
        if _is_repeated(field):
            out[field.name] = [
                _value_from_partner(item, field, f"{where}[{index}]")
                for index, item in enumerate(value)
            ]
        else:
            out[field.name] = _value_from_partner(value, field, where)
    return out


def enum_of(field: FieldDescriptor) -> EnumDescriptor:
    """The enum type of an enum field."""
    if field.enum_type is None:  # pragma: no cover - only called for TYPE_ENUM fields
        raise TypeError(f"{field.full_name} is not an enum field")
    return field.enum_type


def message_of(field: FieldDescriptor) -> Descriptor:
    """The message type of a message field."""
    if field.message_type is None:  # pragma: no cover - only called for TYPE_MESSAGE fields
        raise TypeError(f"{field.full_name} is not a message field")
    return field.message_type


def is_nested(field: FieldDescriptor) -> bool:
    """True for a message field other than a Timestamp (which is a string in JSON)."""
    return field.type == FieldDescriptor.TYPE_MESSAGE and message_of(field).full_name != TIMESTAMP


def _is_repeated(field: FieldDescriptor) -> bool:
    return bool(field.is_repeated)


def _value_to_partner(value: Any, field: FieldDescriptor) -> Any:
    if field.type == FieldDescriptor.TYPE_ENUM:
        return str(value).removeprefix(enum_prefix(enum_of(field)))
    if field.type == FieldDescriptor.TYPE_BYTES and field.name not in BASE64_FIELDS:
        return base64.b64decode(value).hex()
    if is_nested(field):
        return to_partner(value, message_of(field))
    return value


def _value_from_partner(value: Any, field: FieldDescriptor, where: str) -> Any:
    if field.type == FieldDescriptor.TYPE_ENUM:
        return enum_prefix(enum_of(field)) + str(value)
    if field.type == FieldDescriptor.TYPE_BYTES and field.name not in BASE64_FIELDS:
        try:
            return base64.b64encode(bytes.fromhex(value)).decode("ascii")
        except ValueError:
            raise AdapterInputError(where, "is not lower-case hex") from None
    if field.type == FieldDescriptor.TYPE_BYTES:
        try:
            base64.b64decode(value, validate=True)
        except binascii.Error:
            raise AdapterInputError(where, "is not base64") from None
        return value
    if is_nested(field):
        return from_partner(value, message_of(field), where)
    return value
