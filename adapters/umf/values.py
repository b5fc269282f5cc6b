"""Partner values that need more than a text copy: partial dates, date-times, base64 content, and
building a canonical value with its invariant failures reported at the partner's element."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import unicodedata
from collections.abc import Callable
from typing import TypeVar

from lxml import etree  # type: ignore[import-untyped]

from adapters.base import AdapterInputError
from adapters.umf.safe_xml import element_path
from adapters.umf.writing import q
from broker.errors import InvalidMessage
from broker.model import PartialDate

T = TypeVar("T")
_PARTIAL_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")
_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})"
)


def clean(text: str | None) -> str:
    """An element's text in Unicode NFC; "" for none."""
    return unicodedata.normalize("NFC", text or "")


def parse_datetime(text: str, where: str) -> dt.datetime:
    """An xs:dateTime that has a time zone, in UTC; digits past microseconds are dropped."""
    found = _DATETIME.fullmatch(text)
    if found is None:
        raise AdapterInputError(where, "must be a date and time with a time zone")
    year, month, day, hour, minute, second, fraction, zone = found.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        offset = dt.timedelta(0)
        if zone != "Z":
            sign = -1 if zone[0] == "-" else 1
            offset = sign * dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
        moment = dt.datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro,
            tzinfo=dt.timezone(offset),
        )  # fmt: skip
        return moment.astimezone(dt.UTC)
    except (ValueError, OverflowError):  # hour 24, an offset past the year 9999 ...
        raise AdapterInputError(where, "is not a representable date and time") from None


def partial_date(element: etree._Element) -> PartialDate:
    """A DateOfBirth or ExpiryDate; the schema's union still allows a time zone, we do not."""
    found = _PARTIAL_DATE.fullmatch(element.text or "")
    if found is None:
        raise AdapterInputError(
            element_path(element), "must be YYYY, YYYY-MM or YYYY-MM-DD, without a time zone"
        )
    year, month, day = (int(part) if part else 0 for part in found.groups())
    if day:
        return built(element, PartialDate.of_day, year, month, day)
    if month:
        return built(element, PartialDate.of_month, year, month)
    return built(element, PartialDate.of_year, year)


def base64_content(content: etree._Element) -> bytes:
    """The bytes of an attachment's ``Content`` parts (whitespace inside base64 is allowed)."""
    try:
        return b"".join(
            base64.b64decode("".join((part.text or "").split()), validate=True)
            for part in content.iterchildren(q("Part"))
        )
    except (binascii.Error, ValueError):
        raise AdapterInputError(element_path(content), "is not valid base64") from None


def built(
    element: etree._Element,
    factory: Callable[..., T],
    *args: object,
    parts: dict[str, etree._Element] | None = None,
    **kwargs: object,
) -> T:
    """``factory(...)``, with a failed invariant reported at ``element``, or at the element in
    ``parts`` that the failing field's first step (``phone_numbers[0]``) came from."""
    try:
        return factory(*args, **kwargs)
    except InvalidMessage as exc:
        head, _, rest = exc.field.partition(".")
        if parts and head in parts:
            element, field = parts[head], rest
        else:
            field = exc.field
        where = element_path(element) + (f" ({field})" if field else "")
        reason = exc.diagnosis[len(exc.field) + 2 :] if exc.field else exc.diagnosis
        raise AdapterInputError(where, reason) from None
