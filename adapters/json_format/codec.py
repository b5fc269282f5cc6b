"""The ``json`` codec: canonical messages <-> the partner JSON form (schema in ``schema/``)."""

from __future__ import annotations

import json
import re
import unicodedata
from functools import cache
from importlib.resources import files
from typing import Any

from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped]

from adapters.base import AdapterInputError, Decoded, Encoded
from adapters.codes import zawgyi_probability
from adapters.json_format.reading import parse, path_segment
from adapters.json_format.schema_source import SCHEMA_FILE
from adapters.json_format.shape import MESSAGE_TYPES, from_partner, to_partner
from broker.errors import InputError, InvalidMessage
from broker.messages import Message
from broker.model import CaseEnquiry, CaseResponse, Receipt

MEDIA_TYPE = "application/json"
MAX_INPUT_BYTES = 24 * 1024 * 1024  # 12 MiB of attachments is 16 MiB in base64, plus the text
MAX_REPORTED = 50  # schema problems listed in one error; the count says if there were more
ZAWGYI_WARNING_AT = 0.95  # myanmartools probability above which Burmese text is flagged
_CLASSES: dict[str, type[CaseEnquiry] | type[CaseResponse] | type[Receipt]] = {
    "enquiry": CaseEnquiry,
    "response": CaseResponse,
    "receipt": Receipt,
}
_INDEX = re.compile(r"\[\d+\]$")


class JsonCodec:
    """JSON for partners with an HTTP API: camelCase, schema-checked, nothing lost."""

    name = "json"
    description = "JSON for HTTP partners (camelCase, JSON Schema 2020-12, nothing lost)"
    suffixes = (".json",)
    max_input_bytes = MAX_INPUT_BYTES

    def encode(self, message: Message, *, variant: str | None = None) -> Encoded:
        """Pretty JSON (two-space indent, the default) or ``variant="compact"``."""
        if variant not in (None, "pretty", "compact"):
            raise InputError("the json adapter's variants are 'pretty' and 'compact'")
        kind = _kind_of(message)
        canonical = json.loads(message.to_json())
        document = {"type": kind, **to_partner(canonical, MESSAGE_TYPES[kind])}
        if variant == "compact":
            text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
        else:
            text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
        return Encoded(data=text.encode("utf-8"), media_type=MEDIA_TYPE, suffix=".json")

    def decode(self, data: bytes, *, suffix: str | None = None) -> Decoded:  # noqa: ARG002
        """The canonical message; AdapterInputError naming the JSON path of every fault.
        ``suffix`` is not needed: the format has one form."""
        document = parse(data, self.max_input_bytes)
        problems = schema_problems(document)
        if problems:
            raise _report(problems)
        warnings: list[str] = []
        document = _normalise_text(document, "$", warnings)
        kind = document.pop("type")
        canonical = from_partner(document, MESSAGE_TYPES[kind], "$")
        try:
            message = _CLASSES[kind].from_json(json.dumps(canonical, ensure_ascii=False))
        except InvalidMessage as exc:
            raise AdapterInputError(partner_path(exc.field), _reason(exc)) from None
        return Decoded(message=message, warnings=tuple(warnings))


CODEC = JsonCodec()


@cache
def validator() -> Draft202012Validator:
    """The validator for the packaged schema (loaded once)."""
    text = files("adapters.json_format").joinpath("schema", SCHEMA_FILE).read_text("utf-8")
    return Draft202012Validator(json.loads(text))


def schema_problems(document: Any) -> tuple[tuple[str, str], ...]:
    """Every schema violation as (JSON path, problem), in document order; never quotes values."""
    errors = sorted(validator().iter_errors(document), key=lambda e: [str(p) for p in e.path])
    return tuple((_json_path(error), _describe(error)) for error in errors)


def partner_path(field: str) -> str:
    """``$.persons[1].names[0].fullName`` for the canonical ``persons[1].names[0].full_name``."""
    if not field:
        return "$"
    parts = []
    for part in field.split("."):
        index = _INDEX.search(part)
        head = part[: index.start()] if index else part
        first, *rest = head.split("_")
        parts.append(first + "".join(word.capitalize() for word in rest))
        parts[-1] += index.group() if index else ""
    return "$." + ".".join(parts)


def _kind_of(message: Message) -> str:
    for kind, cls in _CLASSES.items():
        if isinstance(message, cls):
            return kind
    raise InputError(f"{type(message).__name__} is not a message the json adapter carries")


def _report(problems: tuple[tuple[str, str], ...]) -> AdapterInputError:
    listed = [f"{where}: {problem}" for where, problem in problems[:MAX_REPORTED]]
    more = len(problems) - len(listed)
    if more:
        listed.append(f"and {more} more")
    first_where, first_problem = problems[0]
    if len(problems) == 1:
        return AdapterInputError(first_where, first_problem)
    return AdapterInputError(first_where, f"{len(problems)} problems: " + "; ".join(listed))


def _json_path(error: ValidationError) -> str:
    path = "$"
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else path_segment(str(part))
    return path


def _describe(error: ValidationError) -> str:  # noqa: PLR0911 - one return per rule
    rule, expected, instance = error.validator, error.validator_value, error.instance
    if rule == "required" and isinstance(instance, dict):
        missing = [name for name in expected if name not in instance]
        return "lacks required field(s) " + ", ".join(missing)
    if rule == "additionalProperties" and isinstance(instance, dict):
        known = error.schema.get("properties", {})
        unknown = [path_segment(k).lstrip(".") for k in instance if k not in known]
        return "has unknown field(s) " + ", ".join(unknown) + " (unknown fields are refused)"
    if rule == "type":
        return f"must be of JSON type {expected}"
    if rule == "enum":
        return "must be one of " + ", ".join(str(value) for value in expected)
    if rule == "const":
        return f"must be {expected}"
    if rule == "pattern":
        return "does not have the required form"
    if rule in ("minimum", "maximum"):
        return "is out of range"
    return f"fails the schema's {rule} rule"


def _reason(exc: InvalidMessage) -> str:
    text = str(exc)
    return text.removeprefix(f"{exc.field}: ") if exc.field else text


def _normalise_text(value: Any, path: str, warnings: list[str]) -> Any:
    """Strings in NFC (Vietnamese often arrives decomposed), noting each change and any
    Burmese text that looks Zawgyi-encoded (flagged, never converted by guesswork)."""
    if isinstance(value, str):
        if zawgyi_probability(value) > ZAWGYI_WARNING_AT:
            warnings.append(f"{path}: Burmese text looks Zawgyi-encoded; ask the partner")
        if not unicodedata.is_normalized("NFC", value):
            warnings.append(f"{path}: text normalised to Unicode NFC")
            return unicodedata.normalize("NFC", value)
        return value
    if isinstance(value, dict):
        return {k: _normalise_text(v, path + path_segment(k), warnings) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise_text(v, f"{path}[{i}]", warnings) for i, v in enumerate(value)]
    return value
