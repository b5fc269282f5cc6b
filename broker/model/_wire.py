"""Bytes and JSON for the top-level messages, with every decoding failure as InvalidMessage.

Binary: deterministic protobuf serialisation; unknown fields are refused on decoding (a v1
message carries only v1 fields, so what a receiver shows is everything that was signed).
JSON: the proto3 JSON mapping with proto field names; unknown fields are refused too.
Diagnoses never quote the offending value (it may be case content).
"""

from __future__ import annotations

import re
from typing import TypeVar

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message

from broker.errors import InvalidMessage
from broker.model._checks import join

M = TypeVar("M", bound=Message)

_UNKNOWN_FIELD = re.compile(r'has no field named "([^"]*)"')
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_NOT_A_LIST = re.compile(r"repeated field (\w{1,64}) must be in \[\]")
_CHAIN = re.compile(r"(?:Failed to parse \w{1,64} field: )+")
_CHAIN_LINK = re.compile(r"Failed to parse (\w{1,64}) field: ")


def to_bytes(message: Message) -> bytes:
    return message.SerializeToString(deterministic=True)


def from_bytes(kind: type[M], data: bytes) -> M:
    name = kind.DESCRIPTOR.name
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidMessage("", f"a {name} encoding must be bytes")
    message = kind()
    try:
        message.ParseFromString(data)
    except DecodeError:
        raise InvalidMessage("", f"not a valid {name} encoding") from None
    size = message.ByteSize()
    message.DiscardUnknownFields()
    if message.ByteSize() != size:
        raise InvalidMessage("", f"the {name} carries fields unknown to liaison.v1")
    return message


def to_json(message: Message) -> str:
    return json_format.MessageToJson(
        message, preserving_proto_field_name=True, indent=2, ensure_ascii=False
    )


def from_json(kind: type[M], text: str) -> M:
    name = kind.DESCRIPTOR.name
    if not isinstance(text, str):
        raise InvalidMessage("", f"{name} JSON must be text")
    if not text.lstrip().startswith("{"):
        raise InvalidMessage("", f"{name} JSON must be a JSON object")
    message = kind()
    try:
        json_format.Parse(text, message, ignore_unknown_fields=False)
    except json_format.ParseError as error:
        raise InvalidMessage(*_explain(str(error), name)) from None
    except (ValueError, RecursionError):  # the JSON itself: a huge integer, deep nesting
        raise InvalidMessage("", f"{name} JSON cannot be read") from None
    return message


def _explain(error: str, root: str) -> tuple[str, str]:
    """Field path and a value-free reason from json_format's diagnosis (whose text may quote
    values, and is therefore not passed on)."""
    if error.startswith("Failed to load JSON"):
        duplicate = "duplicate key" in error
        return "", "a JSON object has a duplicate key" if duplicate else "not valid JSON"
    path = _path_of(error, root)
    reason = "has the wrong type or form for this field"
    if (named := _UNKNOWN_FIELD.search(error)) is not None:
        reason = "is not a field of this message (unknown fields are refused)"
        if _FIELD_NAME.fullmatch(named[1]) is None:  # not a name a schema could have: no echo
            reason = "has a key that is not a field name (unknown fields are refused)"
        else:
            path = join(path, named[1])
    elif (named := _NOT_A_LIST.search(error)) is not None:
        path, reason = join(path, named[1]), "must be a JSON array"
    elif "Invalid enum value" in error:
        reason = "is not a value of this enum"
    return path, reason


def _path_of(error: str, root: str) -> str:
    """json_format writes paths as ``at CaseEnquiry.persons[0].sex``; the last one locates the
    fault. Some errors carry none, only a chain of "Failed to parse persons field: Failed to
    parse names field: ..."; then the path is that chain, without indices."""
    paths = re.findall(rf'\bat "?{root}((?:\.\w+|\[\d+\])*)"?', error)
    if paths:
        return str(paths[-1]).lstrip(".")
    chain = _CHAIN.match(error)
    return ".".join(_CHAIN_LINK.findall(chain[0])) if chain else ""
