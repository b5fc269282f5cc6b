"""Validation primitives shared by the value objects. Each raises InvalidMessage(path, why).

Messages name the rule that failed and never echo the offending value: values are case content.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from broker.errors import InvalidMessage
from broker.model import limits

T = TypeVar("T")

# A single line may hold no control character at all (nor the Unicode line and paragraph
# separators); multi-line text may also hold tab, line feed and carriage return.
_CONTROL_SINGLE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_MULTI_LINE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

OFFICE_ID = re.compile(r"[A-Z]{2}(-[A-Z0-9]{2,10}){1,4}")
AGREEMENT_ID = re.compile(r"[A-Z0-9]+(-[A-Z0-9]+)*")
UUID_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
COUNTRY = re.compile(r"[A-Z]{3}")
# ICAO Doc 9303 codes that are not three letters; the three-letter ICAO specials (XXA, XXB,
# XXC, XXX, UNO, UNA, UNK, EUE, GBD, ...) already pass the shape check above.
ICAO_SHORT_CODES = frozenset({"D"})
E164 = re.compile(r"\+[1-9][0-9]{7,14}")
SCRIPT = re.compile(r"[A-Z][a-z]{3}")
LANGUAGE_TAG = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{1,8})*")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")
DNA_REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9/._-]*")
PLATFORM = re.compile(r"[a-z0-9][a-z0-9._-]{0,31}")


def join(prefix: str, field: str) -> str:
    """``persons[1]`` + ``names[0].script`` -> ``persons[1].names[0].script``."""
    if not field:
        return prefix
    if not prefix:
        return field
    return f"{prefix}{field}" if field.startswith("[") else f"{prefix}.{field}"


def reason_of(error: InvalidMessage) -> str:
    """The message part of an InvalidMessage, without its field path."""
    head = f"{error.field}: "
    return error.diagnosis[len(head) :] if error.field else error.diagnosis


@contextmanager
def within(prefix: str) -> Iterator[None]:
    """Re-raise an InvalidMessage from the block with ``prefix`` put in front of its path."""
    try:
        yield
    except InvalidMessage as error:
        raise InvalidMessage(join(prefix, error.field), reason_of(error)) from None


def text(
    path: str, value: object, *, limit: int, required: bool = False, multiline: bool = False
) -> None:
    """Text: a str, NFC, within ``limit`` code points, no control characters; non-blank if
    ``required``. Text that is not NFC is rejected rather than normalised, so that what was
    sent is what is signed, stored and shown (docs/messages.md, "Text")."""
    if not isinstance(value, str):
        raise InvalidMessage(path, "must be text")
    if required and not value.strip():
        raise InvalidMessage(path, "is required")
    if len(value) > limit:
        raise InvalidMessage(path, f"is longer than {limit} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidMessage(path, "is not valid Unicode (lone surrogate)") from None
    if not unicodedata.is_normalized("NFC", value):
        raise InvalidMessage(
            path, "is not in Unicode NFC; normalise it (unicodedata.normalize('NFC', ...))"
        )
    control = (_CONTROL_MULTI_LINE if multiline else _CONTROL_SINGLE_LINE).search(value)
    if control is not None:
        raise InvalidMessage(path, f"contains the control character U+{ord(control[0]):04X}")


def pattern(path: str, value: object, regex: re.Pattern[str], what: str, limit: int) -> None:
    """A required str that matches ``regex`` entirely; ``what`` names the expected form."""
    if not isinstance(value, str):
        raise InvalidMessage(path, "must be text")
    if not value:
        raise InvalidMessage(path, "is required")
    if len(value) > limit or regex.fullmatch(value) is None:
        raise InvalidMessage(path, f"is not {what}")


def office_id(path: str, value: object) -> None:
    pattern(path, value, OFFICE_ID, "an office id such as CN-YN-BLO-HK", 64)


def uuid_id(path: str, value: object) -> None:
    pattern(
        path, value, UUID_ID, "a lower-case UUID such as 3f0c2b9e-8d1a-4c57-9e2f-6a4b1d0c7e55", 36
    )


def language_tag(path: str, value: object) -> None:
    pattern(path, value, LANGUAGE_TAG, "a BCP 47 language tag", limits.MAX_LANGUAGE_TAG_CHARS)


def country(path: str, value: object, *, required: bool = True) -> None:
    """ISO 3166-1 alpha-3 shape, or an ICAO short code; empty allowed unless ``required``."""
    if value == "" and not required:
        return
    if isinstance(value, str) and value in ICAO_SHORT_CODES:
        return
    pattern(path, value, COUNTRY, "an ISO 3166-1 alpha-3 country code", 3)


def e164(path: str, value: object) -> None:
    pattern(path, value, E164, "an E.164 phone number ('+' then 8 to 15 digits)", 16)


def enum_member(path: str, value: object, kind: type[Any]) -> None:
    if not isinstance(value, kind):
        raise InvalidMessage(path, f"must be a {kind.__name__}")


def instance(path: str, value: object, kind: type[Any]) -> None:
    if not isinstance(value, kind):
        raise InvalidMessage(
            path, f"must be a {kind.__name__}" if value is not None else "is required"
        )


def items(path: str, values: Sequence[T], kind: type[Any], *, limit: int, minimum: int = 0) -> None:
    """A tuple of at most ``limit`` (and at least ``minimum``) instances of ``kind``."""
    if not isinstance(values, tuple):
        raise InvalidMessage(path, "must be a tuple")
    if len(values) < minimum:
        raise InvalidMessage(path, f"needs at least {minimum} entr{'y' if minimum == 1 else 'ies'}")
    if len(values) > limit:
        raise InvalidMessage(path, f"has more than {limit} entries")
    for index, value in enumerate(values):
        if not isinstance(value, kind):
            raise InvalidMessage(f"{path}[{index}]", f"must be a {kind.__name__}")


def unique(path: str, values: Sequence[object]) -> None:
    seen: set[object] = set()
    for index, value in enumerate(values):
        if value in seen:
            raise InvalidMessage(f"{path}[{index}]", "is a duplicate")
        seen.add(value)


def integer(path: str, value: object, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidMessage(path, "must be an integer")
    if not low <= value <= high:
        raise InvalidMessage(path, f"must be between {low} and {high}")


def aware_utc(path: str, value: object) -> dt.datetime:
    """An aware datetime, returned in UTC; naive datetimes are refused (their zone is a guess)."""
    if not isinstance(value, dt.datetime):
        raise InvalidMessage(path, "must be a datetime" if value is not None else "is required")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidMessage(path, "must be timezone-aware")
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise InvalidMessage(path, "is out of the representable range") from None


def set_tuple(obj: object, name: str) -> None:
    """Let callers pass a list for a repeated field: store it as a tuple (frozen, hashable)."""
    value = getattr(obj, name)
    if isinstance(value, list):
        object.__setattr__(obj, name, tuple(value))
